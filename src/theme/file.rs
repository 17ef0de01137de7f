//! Theme files: parsing, `inherits` chains, palette references and colour names.

use std::collections::BTreeMap;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

use super::{Slot, Theme, ThemeError};

/// A theme file as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ThemeFile {
    name: Option<String>,
    inherits: Option<String>,
    #[serde(default)]
    palette: BTreeMap<String, String>,
    #[serde(default)]
    slots: BTreeMap<String, SlotSpec>,
}

/// A slot's style: `"fg"` or `{ fg, bg, modifiers }`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum SlotSpec {
    Fg(String),
    Full(FullSpec),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FullSpec {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    modifiers: Vec<String>,
}

/// Parses one file; `label` names it in errors.
pub(super) fn parse(label: &str, text: &str) -> Result<ThemeFile, ThemeError> {
    toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((0, 0), |s| {
            let before = &text[..s.start.min(text.len())];
            (
                before.matches('\n').count() + 1,
                before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
            )
        });
        ThemeError::Syntax {
            theme: label.to_string(),
            line,
            column,
            message: e.message().to_string(),
        }
    })
}

/// Colour names to colour values.
type Palette = BTreeMap<String, String>;

/// Flattens the inherits chain of `name`: palette and slots, parents first.
fn flatten(
    name: &str,
    files: &BTreeMap<String, ThemeFile>,
) -> Result<(Palette, BTreeMap<String, SlotSpec>), ThemeError> {
    let mut chain = vec![name.to_string()];
    let mut current = name.to_string();
    while let Some(parent) = files.get(&current).and_then(|f| f.inherits.clone()) {
        if chain.contains(&parent) {
            return Err(ThemeError::Inherit {
                theme: name.to_string(),
                message: format!("inheritance cycle: {} -> {parent}", chain.join(" -> ")),
            });
        }
        if !files.contains_key(&parent) {
            return Err(ThemeError::Inherit {
                theme: name.to_string(),
                message: format!("inherits unknown theme {parent:?}"),
            });
        }
        chain.push(parent.clone());
        current = parent;
    }
    let mut palette = BTreeMap::new();
    let mut slots = BTreeMap::new();
    for n in chain.iter().rev() {
        let f = &files[n];
        palette.extend(f.palette.clone());
        slots.extend(f.slots.clone());
    }
    Ok((palette, slots))
}

/// Resolves theme `name` into a style per slot.
pub(super) fn resolve(
    name: &str,
    files: &BTreeMap<String, ThemeFile>,
) -> Result<Theme, ThemeError> {
    if let Some(declared) = files.get(name).and_then(|f| f.name.as_deref())
        && declared != name
    {
        return Err(ThemeError::Inherit {
            theme: name.to_string(),
            message: format!("declares name {declared:?}; it must match the file name"),
        });
    }
    let (palette, slots) = flatten(name, files)?;
    let err = |slot: &str, message: String| ThemeError::Slot {
        theme: name.to_string(),
        slot: slot.to_string(),
        message,
    };
    for key in slots.keys() {
        if !Slot::ALL.iter().any(|s| s.name() == key) {
            return Err(err(key, "no such slot".into()));
        }
    }
    let mut styles = Vec::with_capacity(Slot::ALL.len());
    for slot in Slot::ALL {
        let spec = slots
            .get(slot.name())
            .ok_or_else(|| err(slot.name(), "not defined".into()))?;
        let colour = |v: &str| {
            colour(v, &palette).ok_or_else(|| err(slot.name(), format!("unknown colour {v:?}")))
        };
        let style = match spec {
            SlotSpec::Fg(fg) => Style::default().fg(colour(fg)?),
            SlotSpec::Full(f) => {
                let mut s = Style::default();
                if let Some(fg) = &f.fg {
                    s = s.fg(colour(fg)?);
                }
                if let Some(bg) = &f.bg {
                    s = s.bg(colour(bg)?);
                }
                for m in &f.modifiers {
                    s = s.add_modifier(
                        modifier(m)
                            .ok_or_else(|| err(slot.name(), format!("unknown modifier {m:?}")))?,
                    );
                }
                s
            }
        };
        styles.push(style);
    }
    Ok(Theme {
        name: name.to_string(),
        styles,
    })
}

fn modifier(m: &str) -> Option<Modifier> {
    Some(match m {
        "bold" => Modifier::BOLD,
        "dim" => Modifier::DIM,
        "italic" => Modifier::ITALIC,
        "underlined" => Modifier::UNDERLINED,
        "reversed" => Modifier::REVERSED,
        "crossed_out" => Modifier::CROSSED_OUT,
        _ => return None,
    })
}

/// A colour by palette name, `#rrggbb`, ANSI name, `reset` or `indexed:N`.
fn colour(v: &str, palette: &BTreeMap<String, String>) -> Option<Color> {
    if let Some(p) = palette.get(v) {
        // Palette entries may not refer to each other: one level keeps files readable.
        return literal(p);
    }
    literal(v)
}

fn literal(v: &str) -> Option<Color> {
    if let Some(hex) = v.strip_prefix('#') {
        if hex.len() != 6 {
            return None;
        }
        let n = u32::from_str_radix(hex, 16).ok()?;
        return Some(Color::Rgb((n >> 16) as u8, (n >> 8) as u8, n as u8));
    }
    if let Some(i) = v.strip_prefix("indexed:") {
        return i.parse().ok().map(Color::Indexed);
    }
    Some(match v {
        "reset" => Color::Reset,
        "black" => Color::Black,
        "red" => Color::Red,
        "green" => Color::Green,
        "yellow" => Color::Yellow,
        "blue" => Color::Blue,
        "magenta" => Color::Magenta,
        "cyan" => Color::Cyan,
        "gray" => Color::Gray,
        "darkgray" => Color::DarkGray,
        "lightred" => Color::LightRed,
        "lightgreen" => Color::LightGreen,
        "lightyellow" => Color::LightYellow,
        "lightblue" => Color::LightBlue,
        "lightmagenta" => Color::LightMagenta,
        "lightcyan" => Color::LightCyan,
        "white" => Color::White,
        _ => return None,
    })
}
