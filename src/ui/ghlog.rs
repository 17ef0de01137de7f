//! GitHub Actions job logs as people read them: the timestamp GitHub puts on every line
//! shortened and dimmed, `##[group]` headers marked, `##[endgroup]` hidden, and errors and
//! warnings in their colours.

use ratatui::text::{Line, Span};

use super::builds::sgr_line;
use crate::theme::{Slot, Theme};

/// Splits GitHub's `2026-12-04T05:00:00.1234567Z ` prefix off a line: (`05:00:00`, the rest).
fn timestamp(line: &str) -> Option<(&str, &str)> {
    let (stamp, rest) = line.split_once(' ')?;
    let ok = stamp.len() >= 20
        && stamp.is_ascii()
        && stamp.ends_with('Z')
        && stamp.as_bytes().get(10) == Some(&b'T')
        && stamp[..4].bytes().all(|b| b.is_ascii_digit());
    ok.then(|| (&stamp[11..19], rest))
}

/// One line of a GitHub job log, styled.
pub fn line(text: &str, colour: bool, theme: &Theme) -> Line<'static> {
    let (time, rest) = timestamp(text).unwrap_or(("", text));
    let mut spans = Vec::new();
    if !time.is_empty() {
        spans.push(Span::styled(format!("{time} "), theme.style(Slot::TextDim)));
    }
    let marked = |mark: &str, body: &str, slot: Slot| {
        Span::styled(format!("{mark}{body}"), theme.style(slot))
    };
    if let Some(name) = rest.strip_prefix("##[group]") {
        spans.push(marked("▸ ", name, Slot::MarkdownHeading));
    } else if rest.starts_with("##[endgroup]") {
        // The end of a group says nothing a reader needs.
    } else if let Some(msg) = rest.strip_prefix("##[error]") {
        spans.push(marked("✗ ", msg, Slot::Error));
    } else if let Some(msg) = rest.strip_prefix("##[warning]") {
        spans.push(marked("! ", msg, Slot::Warning));
    } else if let Some(msg) = rest.strip_prefix("##[notice]") {
        spans.push(marked("i ", msg, Slot::Info));
    } else if let Some(msg) = rest.strip_prefix("##[debug]") {
        spans.push(marked("", msg, Slot::TextDim));
    } else {
        spans.extend(sgr_line(rest, colour, theme.style(Slot::Text)).spans);
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::theme::ThemeSet;

    fn text(l: &Line) -> String {
        l.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn github_lines_read_short() {
        let themes = ThemeSet::load(None).unwrap();
        let t = themes.by_index(0);
        let l = |s: &str| text(&line(s, true, t));
        assert_eq!(
            l("2026-12-04T05:00:01.1234567Z ##[group]Run actions/checkout@v4"),
            "05:00:01 ▸ Run actions/checkout@v4"
        );
        assert_eq!(l("2026-12-04T05:00:02.0000000Z ##[endgroup]"), "05:00:02 ");
        assert_eq!(
            l("2026-12-04T05:00:03.0000000Z ##[error]Process completed with exit code 1."),
            "05:00:03 ✗ Process completed with exit code 1."
        );
        assert_eq!(
            l("2026-12-04T05:00:04.5Z cargo test"),
            "05:00:04 cargo test"
        );
        assert_eq!(l("no stamp here"), "no stamp here");
        let dim = line("2026-12-04T05:00:04.5Z x", true, t).spans[0].style;
        assert_eq!(dim, t.style(Slot::TextDim));
    }
}
