//! Making untrusted text safe and readable: control and bidi characters removed, widths
//! measured, and Markdown turned into styled lines.

use std::borrow::Cow;

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::theme::{Slot, Theme};

/// The longest line the detail view lays out; longer ones are cut (B4: 1 MB lines).
const MAX_LINE_CHARS: usize = 4096;

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

/// Splits a line into spans for `code` and **bold**.
fn inline(text: &str, base: Style, theme: &Theme) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let next = [rest.find('`'), rest.find("**")]
            .into_iter()
            .flatten()
            .min();
        let Some(at) = next else {
            spans.push(Span::styled(rest.to_string(), base));
            break;
        };
        let (marker, style) = if rest[at..].starts_with('`') {
            ("`", theme.style(Slot::MarkdownCode))
        } else {
            ("**", base.add_modifier(Modifier::BOLD))
        };
        let after = &rest[at + marker.len()..];
        match after.find(marker) {
            Some(end) => {
                if at > 0 {
                    spans.push(Span::styled(rest[..at].to_string(), base));
                }
                spans.push(Span::styled(after[..end].to_string(), style));
                rest = &after[end + marker.len()..];
            }
            None => {
                spans.push(Span::styled(rest.to_string(), base));
                break;
            }
        }
    }
    spans
}

/// The text without HTML comments (`<!-- … -->`), which Markdown renderers hide.
fn without_comments(body: &str) -> Cow<'_, str> {
    if !body.contains("<!--") {
        return Cow::Borrowed(body);
    }
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(i) = rest.find("<!--") {
        out.push_str(&rest[..i]);
        match rest[i + 4..].find("-->") {
            Some(j) => rest = &rest[i + 4 + j + 3..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out.trim_end().to_string())
}

/// Renders Markdown into lines: headings, lists, quotes, fenced code, `code` and **bold**.
pub fn markdown(body: &str, theme: &Theme) -> Vec<Line<'static>> {
    let text = theme.style(Slot::Text);
    let mut lines = Vec::new();
    let mut in_code = false;
    let body = without_comments(body);
    for raw in body.lines() {
        let cut: String = raw.chars().take(MAX_LINE_CHARS).collect();
        let line = clean(&cut).into_owned();
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            let style = theme.style(Slot::MarkdownCode);
            lines.push(Line::from(Span::styled(format!("  {line}"), style)));
            continue;
        }
        if let Some(h) = trimmed.strip_prefix('#') {
            let h = h.trim_start_matches('#').trim();
            lines.push(Line::from(Span::styled(
                h.to_string(),
                theme.style(Slot::MarkdownHeading),
            )));
        } else if let Some(q) = trimmed.strip_prefix('>') {
            let style = theme.style(Slot::MarkdownQuote);
            let mut spans = vec![Span::styled("│ ", style)];
            spans.extend(inline(q.trim_start(), style, theme));
            lines.push(Line::from(spans));
        } else if let Some(item) = trimmed
            .strip_prefix("- ")
            .or_else(|| trimmed.strip_prefix("* "))
        {
            let indent = " ".repeat(line.len() - trimmed.len());
            let (mark, item) = if let Some(rest) = item.strip_prefix("[ ] ") {
                ("☐ ", rest)
            } else if let Some(rest) = item.strip_prefix("[x] ") {
                ("☑ ", rest)
            } else {
                ("• ", item)
            };
            let mut spans = vec![Span::styled(format!("{indent}{mark}"), text)];
            spans.extend(inline(item, text, theme));
            lines.push(Line::from(spans));
        } else {
            lines.push(Line::from(inline(&line, text, theme)));
        }
    }
    lines
}

#[cfg(test)]
mod tests {

    #[test]
    fn html_comments_are_hidden() {
        assert_eq!(
            without_comments("a\n\n<!-- flightdeck-key: x -->\nb <!-- y --> c"),
            "a\n\n\nb  c"
        );
        assert_eq!(without_comments("open <!-- never closed"), "open");
        assert_eq!(without_comments("plain"), "plain");
    }

    use super::*;

    #[test]
    fn clean_removes_escapes_controls_and_bidi() {
        let hostile = "a\x1b]52;c;ZXZpbA==\x07b\x1b[2J\u{9b}31m\u{202E}cba\u{2066}\tz\u{85}";
        let c = clean(hostile);
        assert!(!c.chars().any(|c| c.is_control()), "{c:?}");
        assert!(!c.contains('\u{202E}') && !c.contains('\u{2066}'));
        assert_eq!(c, "a]52;c;ZXZpbA==b[2J31mcba z");
        assert!(matches!(clean("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn keep_sgr_keeps_colour_only() {
        let s = "\x1b[1;31merror\x1b[0m \x1b]52;c;ZXZpbA==\x07\x1b]0;title\x1b\\\x1b[2J\x1b[?1049h\u{9b}2Jdone\u{202E}";
        assert_eq!(keep_sgr(s), "\x1b[1;31merror\x1b[0m 2Jdone");
        assert_eq!(keep_sgr("plain\ttab"), "plain    tab");
    }

    #[test]
    fn fit_counts_wide_characters() {
        assert_eq!(fit("日本語テキスト", 5), "日本…");
        assert_eq!(fit("abc", 3), "abc");
        assert_eq!(fit("abcd", 3), "ab…");
        assert_eq!(pad("ab", 4), "ab  ");
        assert_eq!(fit("x", 0), "");
    }
}
