//! Theme files: parsing, `inherits` chains and resolving slots to styles.

use std::collections::BTreeMap;
use std::fmt;

use ratatui::style::Style;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::colour::{self, Palette};
use super::{SLOT_COUNT, Slot, Theme, ThemeError};

/// A theme file as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ThemeFile {
    /// Optional; when present it must equal the file stem.
    name: Option<String>,
    /// The theme this one starts from.
    inherits: Option<String>,
    /// Colour names.
    #[serde(default)]
    palette: Palette,
    /// Slot key to style.
    #[serde(default)]
    slots: BTreeMap<String, SlotSpec>,
}

/// A slot's style as written: `"fg"` or `{ fg, bg, modifiers }`.
#[derive(Clone, Debug, Default)]
struct SlotSpec {
    fg: Option<String>,
    bg: Option<String>,
    modifiers: Vec<String>,
}

/// The table form of a slot, strict about its keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SlotTable {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    modifiers: Vec<String>,
}

impl<'de> Deserialize<'de> for SlotSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Accepts either form, keeping the table's own error messages.
        struct SpecVisitor;
        impl<'de> Visitor<'de> for SpecVisitor {
            type Value = SlotSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a colour string or a table { fg, bg, modifiers }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SlotSpec, E> {
                Ok(SlotSpec {
                    fg: Some(v.to_string()),
                    ..SlotSpec::default()
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SlotSpec, A::Error> {
                let t = SlotTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(SlotSpec {
                    fg: t.fg,
                    bg: t.bg,
                    modifiers: t.modifiers,
                })
            }
        }
        d.deserialize_any(SpecVisitor)
    }
}

/// A parsed theme and where it came from.
#[derive(Clone, Debug)]
pub(super) struct Source {
    /// `bundled` or the file's path.
    pub(super) origin: String,
    /// The parsed file.
    pub(super) file: ThemeFile,
}

/// Every parsed theme by name.
pub(super) type Sources = BTreeMap<String, Source>;

/// Parses theme `name` from `text`; `origin` names it in errors.
pub(super) fn parse(name: &str, origin: &str, text: &str) -> Result<Source, ThemeError> {
    let file: ThemeFile = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((0, 0), |s| line_column(text, s.start));
        ThemeError::Syntax {
            theme: name.to_string(),
            origin: origin.to_string(),
            line,
            column,
            message: e.message().trim().to_string(),
        }
    })?;
    if let Some(declared) = file.name.as_deref()
        && declared != name
    {
        return Err(ThemeError::NameMismatch {
            theme: name.to_string(),
            origin: origin.to_string(),
            declared: declared.to_string(),
        });
    }
    Ok(Source {
        origin: origin.to_string(),
        file,
    })
}

/// 1-based line and column (in characters) of byte offset `at`.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The `inherits` chain of `name`: itself first, then its parent, and so on.
pub(super) fn chain<'a>(name: &'a str, sources: &'a Sources) -> Result<Vec<&'a str>, ThemeError> {
    let origin = |n: &str| sources.get(n).map(|s| s.origin.clone()).unwrap_or_default();
    let mut chain = vec![name];
    let mut current = name;
    while let Some(parent) = sources
        .get(current)
        .and_then(|s| s.file.inherits.as_deref())
    {
        if chain.contains(&parent) {
            chain.push(parent);
            return Err(ThemeError::Cycle {
                theme: name.to_string(),
                origin: origin(name),
                chain: chain.join(" -> "),
            });
        }
        if !sources.contains_key(parent) {
            return Err(ThemeError::UnknownParent {
                theme: current.to_string(),
                origin: origin(current),
                parent: parent.to_string(),
            });
        }
        chain.push(parent);
        current = parent;
    }
    Ok(chain)
}

/// Resolves `chain[0]`, whose inherits chain (from [`chain`]) is `chain`, to a style per slot.
pub(super) fn resolve(chain: &[&str], sources: &Sources) -> Result<Theme, ThemeError> {
    let name = chain.first().copied().unwrap_or_default();
    let origin = sources
        .get(name)
        .map(|s| s.origin.clone())
        .unwrap_or_default();
    let mut palette = Palette::new();
    let mut specs: BTreeMap<&str, &SlotSpec> = BTreeMap::new();
    for source in chain.iter().rev().filter_map(|n| sources.get(*n)) {
        palette.extend(source.file.palette.clone());
        specs.extend(source.file.slots.iter().map(|(k, v)| (k.as_str(), v)));
    }
    let theme = name.to_string();

    for (key, value) in &palette {
        if colour::colour(key, &palette).is_none() {
            return Err(ThemeError::BadPalette {
                theme,
                origin,
                key: key.clone(),
                value: value.clone(),
            });
        }
    }
    if let Some(key) = specs
        .keys()
        .find(|k| !Slot::ALL.iter().any(|s| s.name() == **k))
    {
        return Err(ThemeError::UnknownSlot {
            theme,
            origin,
            slot: key.to_string(),
        });
    }

    let mut styles = [Style::default(); SLOT_COUNT];
    for slot in Slot::ALL {
        let Some(spec) = specs.get(slot.name()) else {
            return Err(ThemeError::MissingSlot {
                theme,
                origin,
                slot: slot.name().to_string(),
            });
        };
        let colour = |value: &str| {
            colour::colour(value, &palette).ok_or_else(|| ThemeError::BadColour {
                theme: theme.clone(),
                origin: origin.clone(),
                slot: slot.name().to_string(),
                value: value.to_string(),
            })
        };
        let mut style = Style::default();
        if let Some(fg) = &spec.fg {
            style = style.fg(colour(fg)?);
        }
        if let Some(bg) = &spec.bg {
            style = style.bg(colour(bg)?);
        }
        for m in &spec.modifiers {
            let Some(modifier) = colour::modifier(m) else {
                return Err(ThemeError::BadModifier {
                    theme,
                    origin,
                    slot: slot.name().to_string(),
                    value: m.clone(),
                });
            };
            style = style.add_modifier(modifier);
        }
        styles[*slot as usize] = style;
    }
    Ok(Theme {
        name: theme,
        styles,
    })
}
