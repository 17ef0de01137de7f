//! Themes: semantic style slots resolved from bundled and user TOML files.
//!
//! Widgets never build colours themselves; they ask a [`Theme`] for the style of a [`Slot`]
//! (`status.failure`, `border.focused`, …). Themes are TOML files: the bundled ones in
//! `themes/` are compiled in, and users may add more (or replace bundled ones by name) in a
//! directory given to [`ThemeSet::load`]. A file looks like this:
//!
//! ```toml
//! name = "light"             # optional; must equal the file stem
//! inherits = "default"       # optional; start from that theme's palette and slots
//! [palette]
//! fg = "#343b58"
//! [slots]
//! "text" = "fg"                                          # fg only
//! "selection" = { fg = "bg", bg = "blue", modifiers = ["bold"] }
//! ```
//!
//! A colour is a palette name, `#rrggbb`, one of the 16 ANSI names (`black` … `white`,
//! `gray`, `darkgray`, `light*`), `reset` or `indexed:N`. Modifiers are `bold`, `dim`,
//! `italic`, `underlined`, `reversed` and `crossed_out`.

mod colour;
mod error;
mod file;
mod set;
mod slot;

pub use error::ThemeError;
pub use set::ThemeSet;
pub use slot::Slot;

use ratatui::style::{Modifier, Style};

/// How many slots there are; a theme holds one style for each.
const SLOT_COUNT: usize = Slot::ALL.len();

/// The bundled theme sources in cycling order.
const BUNDLED: &[(&str, &str)] = &[
    ("default", include_str!("../../themes/default.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("ansi16", include_str!("../../themes/ansi16.toml")),
];

/// The theme to start with when none is chosen: `ansi16` on a console that has only the 16
/// ANSI colours (the Linux console, VT terminals), else `default`.
pub fn default_for_term(term: Option<&str>, colorterm: Option<&str>) -> &'static str {
    let truecolor = colorterm.is_some_and(|c| c == "truecolor" || c == "24bit");
    let base = term.unwrap_or("").split('-').next().unwrap_or("");
    let sixteen = matches!(base, "linux" | "ansi" | "cons25") || base.starts_with("vt");
    if sixteen && !truecolor && !term.unwrap_or("").contains("256color") {
        "ansi16"
    } else {
        "default"
    }
}

/// The bundled theme sources: (name, toml text), in cycling order: default, light, high-contrast, ansi16.
pub fn bundled() -> &'static [(&'static str, &'static str)] {
    BUNDLED
}

/// A resolved theme: its name and one style per slot.
#[derive(Clone, Debug, PartialEq)]
pub struct Theme {
    name: String,
    /// Indexed by `Slot as usize`, which follows `Slot::ALL`.
    styles: [Style; SLOT_COUNT],
}

impl Theme {
    /// The theme's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The style for a slot.
    pub fn style(&self, slot: Slot) -> Style {
        self.styles[slot as usize]
    }

    /// The same modifiers with every colour removed; selection and focus stay visible.
    ///
    /// `selection` and `tab.active` (and the status bar's `statusbar.workspace` and
    /// `badge.readonly` blocks, which otherwise vanish into the bar) get REVERSED;
    /// `title.focused` and `border.focused` (and the `statusbar.key` / `help.key` key names)
    /// get BOLD.
    pub fn monochrome(&self) -> Theme {
        let mut styles = self.styles;
        for slot in Slot::ALL {
            let s = self.style(*slot);
            // Rebuilt from the default, so fg, bg and underline colour are all unset.
            let mut m = Style::default()
                .add_modifier(s.add_modifier)
                .remove_modifier(s.sub_modifier);
            match slot {
                Slot::Selection
                | Slot::TabActive
                | Slot::StatusbarWorkspace
                | Slot::BadgeReadonly => m = m.add_modifier(Modifier::REVERSED),
                Slot::TitleFocused | Slot::BorderFocused | Slot::StatusbarKey | Slot::HelpKey => {
                    m = m.add_modifier(Modifier::BOLD)
                }
                _ => {}
            }
            styles[*slot as usize] = m;
        }
        Theme {
            name: self.name.clone(),
            styles,
        }
    }

    /// True when every colour used is one of the 16 ANSI colours (or Reset / none).
    pub fn is_ansi16(&self) -> bool {
        // Theme files cannot set an underline colour, so fg and bg are every colour there is.
        self.styles
            .iter()
            .flat_map(|s| [s.fg, s.bg])
            .flatten()
            .all(colour::is_ansi16)
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_user;
