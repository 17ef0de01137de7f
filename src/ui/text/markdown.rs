//! Markdown into styled, safe lines (pulldown-cmark: CommonMark, GitHub tables, task lists,
//! strikethrough).

use std::borrow::Cow;

use pulldown_cmark::{Alignment, Event, Options, Parser, Tag, TagEnd};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use super::clean;
use crate::theme::{Slot, Theme};

/// The longest line the detail view lays out; longer ones are cut (B4: 1 MB lines).
pub(super) const MAX_LINE_CHARS: usize = 4096;

/// How many columns a thematic break (`---`) is drawn across.
const RULE_WIDTH: usize = 40;

/// The text without HTML comments (`<!-- … -->`), which Markdown renderers hide.
pub(super) fn without_comments(body: &str) -> Cow<'_, str> {
    if !body.contains("<!--") {
        return Cow::Borrowed(body);
    }
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(i) = rest.find("<!--") {
        out.push_str(&rest[..i]);
        match rest[i + 4..].find("-->") {
            Some(j) => rest = &rest[i + 4 + j + 3..],
            None => rest = "",
        }
    }
    out.push_str(rest);
    Cow::Owned(out.trim_end().to_string())
}

/// The text with every line cut to [`MAX_LINE_CHARS`] characters.
fn capped(body: &str) -> Cow<'_, str> {
    if body.lines().all(|l| l.len() <= MAX_LINE_CHARS) {
        return Cow::Borrowed(body);
    }
    let mut out = String::with_capacity(body.len().min(1 << 20));
    for line in body.lines() {
        out.extend(line.chars().take(MAX_LINE_CHARS));
        out.push('\n');
    }
    Cow::Owned(out)
}

/// Appends `text` to `spans`, joining it to the last span when that has the same style.
fn push_span(spans: &mut Vec<Span<'static>>, text: Cow<'_, str>, style: Style) {
    match spans.last_mut() {
        Some(last) if last.style == style => last.content.to_mut().push_str(&text),
        _ => spans.push(Span::styled(text.into_owned(), style)),
    }
}

/// Removes the white space a run of spans ends with.
fn trim_end(spans: &mut Vec<Span<'static>>) {
    while let Some(last) = spans.last_mut() {
        let kept = last.content.trim_end().len();
        if kept > 0 {
            last.content.to_mut().truncate(kept);
            break;
        }
        spans.pop();
    }
}

/// How many columns a run of spans takes.
fn spans_width(spans: &[Span<'_>]) -> usize {
    spans.iter().map(|s| s.content.width()).sum()
}

/// A block that the lines inside it are drawn within.
enum Block {
    /// A block quote: `│ ` before each line.
    Quote,
    /// A list item: its marker before the first line, as many spaces before the others.
    Item { marker: String, shown: bool },
}

/// A table being read: its rows of cells, each cell a run of spans.
#[derive(Default)]
struct Table {
    align: Vec<Alignment>,
    rows: Vec<Vec<Vec<Span<'static>>>>,
    head: bool,
    row: Vec<Vec<Span<'static>>>,
    cell: Option<Vec<Span<'static>>>,
}

/// The state of turning Markdown events into lines.
struct Render<'t> {
    theme: &'t Theme,
    lines: Vec<Line<'static>>,
    line: Option<Vec<Span<'static>>>,
    blocks: Vec<Block>,
    /// The next number of each open list; `None` for bullet lists.
    lists: Vec<Option<u64>>,
    mods: Vec<Modifier>,
    heading: bool,
    /// A block ended: the next one starts after a blank line.
    blank: bool,
    /// The open links and images: their address and the text shown so far.
    links: Vec<(String, String)>,
    code: Option<String>,
    table: Option<Table>,
}

impl<'t> Render<'t> {
    /// Nothing rendered yet.
    fn new(theme: &'t Theme) -> Self {
        Render {
            theme,
            lines: Vec::new(),
            line: None,
            blocks: Vec::new(),
            lists: Vec::new(),
            mods: Vec::new(),
            heading: false,
            blank: false,
            links: Vec::new(),
            code: None,
            table: None,
        }
    }

    /// The style of the block the text is in.
    fn base(&self) -> Style {
        if self.heading {
            self.theme.style(Slot::MarkdownHeading)
        } else if self.blocks.iter().any(|b| matches!(b, Block::Quote)) {
            self.theme.style(Slot::MarkdownQuote)
        } else {
            self.theme.style(Slot::Text)
        }
    }

    /// The style of text here: the block's, with emphasis and links on top.
    fn style(&self) -> Style {
        let style = self
            .mods
            .iter()
            .fold(self.base(), |s, m| s.add_modifier(*m));
        if self.links.is_empty() {
            style
        } else {
            style.patch(self.theme.style(Slot::MarkdownLink))
        }
    }

    /// What a new line starts with: quote bars, and list markers or the indent under them.
    fn prefix(&mut self, blank: bool) -> Vec<Span<'static>> {
        let quote = self.theme.style(Slot::MarkdownQuote);
        let base = self.base();
        let mut spans = Vec::new();
        for block in &mut self.blocks {
            match block {
                Block::Quote => push_span(&mut spans, Cow::Borrowed("│ "), quote),
                Block::Item { marker, shown } if !*shown && !blank => {
                    *shown = true;
                    push_span(&mut spans, Cow::Borrowed(marker.as_str()), base);
                }
                Block::Item { marker, .. } => {
                    push_span(&mut spans, Cow::Owned(" ".repeat(marker.width())), base);
                }
            }
        }
        spans
    }

    /// The line being written, started with its prefix when none is open.
    fn open(&mut self) -> &mut Vec<Span<'static>> {
        if self.line.is_none() {
            self.line = Some(self.prefix(false));
        }
        self.line.get_or_insert_with(Vec::new)
    }

    /// Ends the line being written, if any.
    fn close(&mut self) {
        if let Some(spans) = self.line.take() {
            self.lines.push(Line::from(spans));
        }
    }

    /// An empty line, still showing the quote bars it is inside.
    fn blank_line(&mut self) {
        let mut spans = self.prefix(true);
        trim_end(&mut spans);
        self.lines.push(Line::from(spans));
    }

    /// A block starts: the line before it ends, and a blank line follows an earlier block.
    fn block(&mut self) {
        self.close();
        if std::mem::take(&mut self.blank) && !self.lines.is_empty() {
            self.blank_line();
        }
    }

    /// Text in `style`, cleaned; into the table cell being read if there is one.
    fn text(&mut self, text: &str, style: Style) {
        let text = clean(text);
        if text.is_empty() {
            return;
        }
        if let Some((_, shown)) = self.links.last_mut() {
            shown.push_str(&text);
        }
        if let Some(cell) = self.table.as_mut().and_then(|t| t.cell.as_mut()) {
            push_span(cell, text, style);
        } else {
            push_span(self.open(), text, style);
        }
    }

    /// A soft or hard line break: a new line, or a space inside a table cell.
    fn line_break(&mut self) {
        if self.table.as_ref().is_some_and(|t| t.cell.is_some()) {
            self.text(" ", self.style());
        } else {
            self.close();
        }
    }

    /// Raw HTML, shown as the text it is, line by line.
    fn html(&mut self, html: &str) {
        for (i, part) in html.split('\n').enumerate() {
            if i > 0 {
                self.open();
                self.close();
            }
            self.text(part, self.base());
        }
    }

    /// A task list marker: the item's bullet becomes a box.
    fn task(&mut self, done: bool) {
        let mark = if done { "☑ " } else { "☐ " };
        match self.blocks.last_mut() {
            Some(Block::Item { marker, shown }) if !*shown => {
                if marker == "• " {
                    marker.clear();
                }
                marker.push_str(mark);
            }
            _ => self.text(mark, self.base()),
        }
    }

    /// A block or span opens; `loose` when an item's content starts with a paragraph.
    fn start(&mut self, tag: Tag<'_>, loose: bool) {
        match tag {
            Tag::Heading { .. } => {
                self.block();
                self.heading = true;
            }
            Tag::BlockQuote(_) => {
                self.block();
                self.blocks.push(Block::Quote);
            }
            Tag::CodeBlock(_) => {
                self.block();
                self.code = Some(String::new());
            }
            Tag::List(first) => {
                self.block();
                self.lists.push(first);
            }
            Tag::Item => {
                self.close();
                if std::mem::take(&mut self.blank) && loose && !self.lines.is_empty() {
                    self.blank_line();
                }
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let m = format!("{n}. ");
                        *n = n.saturating_add(1);
                        m
                    }
                    _ => "• ".to_string(),
                };
                self.blocks.push(Block::Item {
                    marker,
                    shown: false,
                });
            }
            Tag::Table(align) => {
                self.block();
                self.table = Some(Table {
                    align,
                    ..Table::default()
                });
            }
            Tag::TableHead => self.mods.push(Modifier::BOLD),
            Tag::TableCell => {
                if let Some(t) = self.table.as_mut() {
                    t.cell = Some(Vec::new());
                }
            }
            Tag::TableRow => {}
            Tag::Emphasis => self.mods.push(Modifier::ITALIC),
            Tag::Strong => self.mods.push(Modifier::BOLD),
            Tag::Strikethrough => self.mods.push(Modifier::CROSSED_OUT),
            Tag::Superscript | Tag::Subscript => self.mods.push(Modifier::empty()),
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.links.push((dest_url.into_string(), String::new()));
            }
            _ => self.block(),
        }
    }

    /// A block or span closes.
    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Heading(_) => {
                self.close();
                self.heading = false;
                self.blank = true;
            }
            TagEnd::BlockQuote(_) => {
                self.close();
                self.blocks.pop();
                self.blank = true;
            }
            TagEnd::CodeBlock => {
                let code = self.code.take().unwrap_or_default();
                let style = self.theme.style(Slot::MarkdownCode);
                for line in code.lines() {
                    self.text(&format!("  {line}"), style);
                    self.close();
                }
                self.blank = true;
            }
            TagEnd::List(_) => {
                self.close();
                self.lists.pop();
                self.blank = true;
            }
            TagEnd::Item => {
                self.close();
                if matches!(self.blocks.last(), Some(Block::Item { shown: false, .. })) {
                    let mut marker = self.prefix(false);
                    trim_end(&mut marker);
                    self.lines.push(Line::from(marker));
                }
                self.blocks.pop();
            }
            TagEnd::Table => {
                if let Some(table) = self.table.take() {
                    self.table(table);
                }
                self.blank = true;
            }
            TagEnd::TableHead | TagEnd::TableRow => {
                if tag == TagEnd::TableHead {
                    self.mods.pop();
                }
                if let Some(t) = self.table.as_mut() {
                    t.head |= tag == TagEnd::TableHead && t.rows.is_empty();
                    let row = std::mem::take(&mut t.row);
                    t.rows.push(row);
                }
            }
            TagEnd::TableCell => {
                if let Some(t) = self.table.as_mut() {
                    let cell = t.cell.take().unwrap_or_default();
                    t.row.push(cell);
                }
            }
            TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Superscript
            | TagEnd::Subscript => {
                self.mods.pop();
            }
            TagEnd::Link | TagEnd::Image => {
                if let Some((dest, shown)) = self.links.pop() {
                    if shown.is_empty() && tag == TagEnd::Image {
                        self.text("image", self.style());
                    }
                    let dest = clean(&dest);
                    let same = shown == dest || dest.strip_prefix("mailto:") == Some(&shown);
                    if !dest.is_empty() && !same {
                        self.text(&format!(" <{dest}>"), self.theme.style(Slot::TextDim));
                    }
                }
            }
            _ => {
                self.close();
                self.blank = true;
            }
        }
    }

    /// Draws a table read whole: cells padded to their column's widest, ` │ ` between
    /// columns, and a rule under the header.
    fn table(&mut self, table: Table) {
        let cols = table.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0; cols];
        for row in &table.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(spans_width(cell));
            }
        }
        let dim = self.theme.style(Slot::TextDim);
        let base = self.base();
        for (r, row) in table.rows.into_iter().enumerate() {
            let mut spans = Vec::new();
            let mut cells = row.into_iter();
            for (i, &width) in widths.iter().enumerate() {
                let cell = cells.next().unwrap_or_default();
                if i > 0 {
                    spans.push(Span::styled(" │ ", dim));
                }
                let room = width - spans_width(&cell);
                let (left, right) = match table.align.get(i) {
                    Some(Alignment::Right) => (room, 0),
                    Some(Alignment::Center) => (room / 2, room - room / 2),
                    _ => (0, room),
                };
                let right = if i + 1 == cols { 0 } else { right };
                if left > 0 {
                    spans.push(Span::styled(" ".repeat(left), base));
                }
                spans.extend(cell);
                if right > 0 {
                    spans.push(Span::styled(" ".repeat(right), base));
                }
            }
            trim_end(&mut spans);
            self.open().extend(spans);
            self.close();
            if r == 0 && table.head {
                let rule: Vec<String> = widths.iter().map(|&w| "─".repeat(w)).collect();
                self.text(&rule.join("─┼─"), dim);
                self.close();
            }
        }
    }
}

/// Renders Markdown (CommonMark, GitHub tables, task lists, strikethrough) into clean lines.
pub fn markdown(body: &str, theme: &Theme) -> Vec<Line<'static>> {
    let body = without_comments(body);
    let source = capped(&body);
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS | Options::ENABLE_STRIKETHROUGH;
    let mut events = Parser::new_ext(&source, options).peekable();
    let mut r = Render::new(theme);
    while let Some(event) = events.next() {
        match event {
            Event::Start(tag) => {
                let loose = matches!(events.peek(), Some(Event::Start(Tag::Paragraph)));
                if tag == Tag::Paragraph {
                    r.block();
                } else {
                    r.start(tag, loose);
                }
            }
            Event::End(TagEnd::Paragraph) => {
                r.close();
                r.blank = true;
            }
            Event::End(tag) => r.end(tag),
            Event::Text(t) => match r.code.as_mut() {
                Some(code) => code.push_str(&t),
                None => r.text(&t, r.style()),
            },
            Event::Code(t) => r.text(&t, theme.style(Slot::MarkdownCode)),
            Event::Html(t) => r.html(&t),
            Event::InlineHtml(t)
            | Event::InlineMath(t)
            | Event::DisplayMath(t)
            | Event::FootnoteReference(t) => r.text(&t, r.style()),
            Event::SoftBreak | Event::HardBreak => r.line_break(),
            Event::Rule => {
                r.block();
                r.text(&"─".repeat(RULE_WIDTH), theme.style(Slot::TextDim));
                r.close();
                r.blank = true;
            }
            Event::TaskListMarker(done) => r.task(done),
        }
    }
    r.close();
    r.lines
}
