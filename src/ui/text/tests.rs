use super::*;
use crate::theme::ThemeSet;
use crate::theme::{Slot, Theme};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;

#[test]
fn html_comments_are_hidden() {
    assert_eq!(
        without_comments("a\n\n<!-- flightdeck-key: x -->\nb <!-- y --> c"),
        "a\n\n\nb  c"
    );
    assert_eq!(without_comments("open <!-- never closed"), "open");
    assert_eq!(without_comments("plain"), "plain");
}

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

fn theme() -> Theme {
    ThemeSet::load(None)
        .expect("bundled themes load")
        .get("default")
        .expect("default theme")
        .clone()
}

/// The rendered lines as plain text.
fn plain(lines: &[Line<'_>]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
        .collect()
}

/// The rendered text of `body`, one string a line.
fn md(body: &str) -> Vec<String> {
    plain(&markdown(body, &theme()))
}

/// The style of the first span whose text contains `needle`.
fn style_of(lines: &[Line<'_>], needle: &str) -> Style {
    lines
        .iter()
        .flat_map(|l| &l.spans)
        .find(|s| s.content.contains(needle))
        .map(|s| s.style)
        .unwrap_or_else(|| panic!("no span with {needle:?} in {:?}", plain(lines)))
}

#[test]
fn heading_needs_a_space_after_its_hashes() {
    let t = theme();
    let lines = markdown("#123 fixed\n\n## Seen\n\n#hashtag", &t);
    assert_eq!(plain(&lines), ["#123 fixed", "", "Seen", "", "#hashtag"]);
    assert_eq!(style_of(&lines, "#123"), t.style(Slot::Text));
    assert_eq!(style_of(&lines, "Seen"), t.style(Slot::MarkdownHeading));
}

#[test]
fn tables_align_their_columns() {
    let t = theme();
    let body = "| name | n |\n|------|--:|\n| a | 1 |\n| longer `x` | 200 |\n| short |";
    let lines = markdown(body, &t);
    assert_eq!(
        plain(&lines),
        [
            "name     │   n",
            "─────────┼────",
            "a        │   1",
            "longer x │ 200",
            "short    │",
        ]
    );
    assert!(
        style_of(&lines, "name")
            .add_modifier
            .contains(Modifier::BOLD)
    );
    assert_eq!(style_of(&lines, " │ "), t.style(Slot::TextDim));
    assert_eq!(style_of(&lines, "x"), t.style(Slot::MarkdownCode));
    // Text around a table stays apart from it.
    assert_eq!(
        md("before\n\n| a |\n|:-:|\n| bbb |\n\nafter"),
        ["before", "", " a", "───", "bbb", "", "after"]
    );
}

#[test]
fn links_show_their_text_and_address() {
    let t = theme();
    let lines = markdown(
        "see [the docs](https://x.example/a_b) now, <https://a.example> or <me@x.example>",
        &t,
    );
    assert_eq!(
        plain(&lines),
        ["see the docs <https://x.example/a_b> now, https://a.example or me@x.example"]
    );
    assert_eq!(
        style_of(&lines, "<https://x.example/a_b>"),
        t.style(Slot::TextDim)
    );
    assert_eq!(
        style_of(&lines, "the docs"),
        t.style(Slot::Text).patch(t.style(Slot::MarkdownLink))
    );
    assert_eq!(
        md("[ref] and ![chart](c.png) and [x][r]\n\n[r]: https://r.example"),
        ["[ref] and chart <c.png> and x <https://r.example>"]
    );
    assert_eq!(
        md("**[bold](u)**"),
        ["bold <u>"],
        "the link syntax never shows"
    );
}

#[test]
fn blocks_keep_their_look() {
    let t = theme();
    let body =
        "## Seen\n- p99 **340 ms**\n> on *demo-api-2* and `x`\n```sh\nrate(x[5m])\n\tend\n```";
    let lines = markdown(body, &t);
    assert_eq!(
        plain(&lines),
        [
            "Seen",
            "",
            "• p99 340 ms",
            "",
            "│ on demo-api-2 and x",
            "",
            "  rate(x[5m])",
            "   end",
        ]
    );
    assert_eq!(style_of(&lines, "Seen"), t.style(Slot::MarkdownHeading));
    assert_eq!(
        style_of(&lines, "340"),
        t.style(Slot::Text).add_modifier(Modifier::BOLD)
    );
    let quote = t.style(Slot::MarkdownQuote);
    assert_eq!(style_of(&lines, "│ on"), quote);
    assert_eq!(
        style_of(&lines, "demo-api-2"),
        quote.add_modifier(Modifier::ITALIC)
    );
    assert_eq!(style_of(&lines, "rate"), t.style(Slot::MarkdownCode));
    let lines = markdown("a ~~gone~~ `c`\n\n    indented", &t);
    assert_eq!(plain(&lines), ["a gone c", "", "  indented"]);
    assert_eq!(
        style_of(&lines, "gone"),
        t.style(Slot::Text).add_modifier(Modifier::CROSSED_OUT)
    );
    assert_eq!(style_of(&lines, "c"), t.style(Slot::MarkdownCode));
    assert_eq!(style_of(&lines, "indented"), t.style(Slot::MarkdownCode));
}

#[test]
fn lists_nest_number_and_tick() {
    assert_eq!(
        md(
            "- a\n  - b\n    * c\n- d\n\n1. one\n2. two\n   more\n   - sub\n\n- [ ] todo\n- [x] done\n-"
        ),
        [
            "• a",
            "  • b",
            "    • c",
            "• d",
            "",
            "1. one",
            "2. two",
            "   more",
            "   • sub",
            "",
            "☐ todo",
            "☑ done",
            "•",
        ]
    );
    assert_eq!(
        md("3. three\n\n   again\n4. four"),
        ["3. three", "", "   again", "", "4. four"],
        "a loose list keeps its blank lines"
    );
    assert_eq!(
        md("> q1\n>\n> q2\n> - in"),
        ["│ q1", "│", "│ q2", "│", "│ • in"]
    );
    assert_eq!(
        md("1. [x] shipped\n2. [ ] next"),
        ["1. ☑ shipped", "2. ☐ next"]
    );
}

#[test]
fn paragraphs_and_line_breaks_are_kept() {
    assert_eq!(
        md("one\ntwo  \nthree\\\nfour\n\n\n\nnext\n\n---\nend"),
        [
            "one",
            "two",
            "three",
            "four",
            "",
            "next",
            "",
            &"─".repeat(40),
            "",
            "end"
        ]
    );
    assert!(md("").is_empty());
}

#[test]
fn markdown_stays_safe() {
    let t = theme();
    let lines = markdown(
        "a\x1b]52;c;ZXZpbA==\x07 &#27;[2J &#x202E;x\tz\n\n<!-- key: v -->\n<script>alert(1)</script>\n\ninline <b>bold</b>",
        &t,
    );
    assert_eq!(
        plain(&lines),
        [
            "a]52;c;ZXZpbA== [2J x z",
            "",
            "<script>alert(1)</script>",
            "",
            "inline <b>bold</b>"
        ]
    );
    for s in lines.iter().flat_map(|l| &l.spans) {
        assert!(!s.content.chars().any(unsafe_char), "{s:?}");
    }
    assert_eq!(style_of(&lines, "<b>"), t.style(Slot::Text));
    let long = format!(
        "{}\n\n```\n{}\n```",
        "x".repeat(1_000_000),
        "y".repeat(10_000)
    );
    let lines = md(&long);
    assert_eq!(lines[0].chars().count(), MAX_LINE_CHARS);
    assert_eq!(lines[2].chars().count(), MAX_LINE_CHARS + 2);
}
