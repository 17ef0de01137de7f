//! Colour and modifier names as written in theme files.

use std::collections::BTreeMap;

use ratatui::style::{Color, Modifier};

/// Palette names to the colour values written for them.
pub(super) type Palette = BTreeMap<String, String>;

/// The modifier names a slot may list, for error messages.
pub(super) const MODIFIER_NAMES: &str = "bold, dim, italic, underlined, reversed, crossed_out";

/// A modifier by name.
pub(super) fn modifier(name: &str) -> Option<Modifier> {
    Some(match name {
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
///
/// A palette name wins over a literal of the same spelling, and a palette value may name
/// another palette entry. A name already being followed is read as a literal instead, so
/// `red = "red"` means ANSI red and a loop of names ends in an error rather than hanging.
pub(super) fn colour(value: &str, palette: &Palette) -> Option<Color> {
    let mut seen: Vec<&str> = Vec::new();
    let mut current = value;
    loop {
        match palette.get(current) {
            Some(next) if !seen.contains(&current) => {
                seen.push(current);
                current = next;
            }
            _ => return literal(current),
        }
    }
}

/// A colour written directly: `#rrggbb`, an ANSI name, `reset` or `indexed:N`.
pub(super) fn literal(value: &str) -> Option<Color> {
    if let Some(hex) = value.strip_prefix('#') {
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        return Some(Color::Rgb(byte(0)?, byte(2)?, byte(4)?));
    }
    if let Some(index) = value.strip_prefix("indexed:") {
        return index.trim().parse().ok().map(Color::Indexed);
    }
    Some(match value {
        "reset" => Color::Reset,
        "black" => Color::Black,
        "red" => Color::Red,
        "green" => Color::Green,
        "yellow" => Color::Yellow,
        "blue" => Color::Blue,
        "magenta" => Color::Magenta,
        "cyan" => Color::Cyan,
        "gray" | "grey" => Color::Gray,
        "darkgray" | "darkgrey" => Color::DarkGray,
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

/// True for the terminal default and the 16 ANSI colours, which every terminal has.
pub(super) fn is_ansi16(colour: Color) -> bool {
    !matches!(colour, Color::Rgb(..) | Color::Indexed(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(literal("#0a0B0c"), Some(Color::Rgb(10, 11, 12)));
        assert_eq!(literal("#+12345"), None);
        assert_eq!(literal("#12345"), None);
        assert_eq!(literal("#ééé"), None);
        assert_eq!(literal("indexed:208"), Some(Color::Indexed(208)));
        assert_eq!(literal("indexed:256"), None);
        assert_eq!(literal("lightcyan"), Some(Color::LightCyan));
        assert_eq!(literal("reset"), Some(Color::Reset));
        assert_eq!(literal("purple"), None);
    }

    #[test]
    fn palette_names_chain_and_loops_fail() {
        let palette: Palette = [("red", "red"), ("alert", "red"), ("a", "b"), ("b", "a")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(colour("red", &palette), Some(Color::Red));
        assert_eq!(colour("alert", &palette), Some(Color::Red));
        assert_eq!(colour("a", &palette), None);
        assert_eq!(colour("blue", &palette), Some(Color::Blue));
    }
}
