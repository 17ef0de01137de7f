//! Making untrusted text safe and readable: control and bidi characters removed, widths
//! measured, and Markdown turned into styled lines.

use std::borrow::Cow;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}')
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// One display line: tabs become spaces, every control, C1 and bidi-override character is
/// dropped (escape sequences lose their ESC and print inert), newlines become spaces.
pub fn clean(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| unsafe_char(c) || c == '\t') {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .filter_map(|c| match c {
                '\t' | '\n' => Some(' '),
                c if unsafe_char(c) => None,
                c => Some(c),
            })
            .collect(),
    )
}

/// A log line made safe to print: SGR colour sequences are kept, every other escape sequence
/// and control character is removed (B4: no OSC 52, no title changes, no screen clears).
pub fn keep_sgr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            match chars.peek() {
                Some('[') => {
                    chars.next();
                    let mut seq = String::new();
                    let mut fin = None;
                    for f in chars.by_ref() {
                        if ('@'..='~').contains(&f) {
                            fin = Some(f);
                            break;
                        }
                        seq.push(f);
                    }
                    let sgr =
                        fin == Some('m') && seq.chars().all(|c| c.is_ascii_digit() || c == ';');
                    if sgr {
                        out.push_str("\x1b[");
                        out.push_str(&seq);
                        out.push('m');
                    }
                }
                Some(']') => {
                    // OSC: skip to BEL or ST.
                    chars.next();
                    while let Some(f) = chars.next() {
                        if f == '\x07' || (f == '\x1b' && chars.peek() == Some(&'\\')) {
                            if f == '\x1b' {
                                chars.next();
                            }
                            break;
                        }
                    }
                }
                _ => {
                    chars.next();
                }
            }
        } else if c == '\t' {
            out.push_str("    ");
        } else if !unsafe_char(c) {
            out.push(c);
        }
    }
    out
}

/// Cuts `s` to at most `width` columns, ending with `…` when it was cut.
pub fn fit(s: &str, width: usize) -> Cow<'_, str> {
    if s.width() <= width {
        return Cow::Borrowed(s);
    }
    if width == 0 {
        return Cow::Borrowed("");
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > width - 1 {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    Cow::Owned(out)
}

/// Wraps `s` (already clean) to `width` columns, each line starting with `indent`; at most
/// `max` lines, the last ending with `…` when more was cut.
pub fn wrap(s: &str, width: usize, indent: &str, max: usize) -> Vec<String> {
    let opts = textwrap::Options::new(width.max(indent.width() + 8))
        .initial_indent(indent)
        .subsequent_indent(indent);
    let mut lines: Vec<String> = textwrap::wrap(s, opts)
        .into_iter()
        .map(|l| l.into_owned())
        .collect();
    if lines.len() > max && max > 0 {
        lines.truncate(max);
        let last = lines.pop().unwrap_or_default();
        lines.push(format!(
            "{}…",
            fit(&last, width.saturating_sub(1)).trim_end_matches('…')
        ));
    }
    lines
}

/// Pads or cuts `s` to exactly `width` columns.
pub fn pad(s: &str, width: usize) -> String {
    let f = fit(s, width);
    let w = f.width();
    format!("{f}{}", " ".repeat(width.saturating_sub(w)))
}

mod markdown;

pub use markdown::markdown;
#[cfg(test)]
use markdown::{MAX_LINE_CHARS, without_comments};

#[cfg(test)]
mod tests;
