//! The backlog pane: the virtualised item list, its filter line, and the item detail view.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use unicode_width::UnicodeWidthStr;

use super::pane_block;
use super::text::{clean, markdown, pad};
use crate::app::State;
use crate::app::backlog::{BacklogPane, Detail, age};
use crate::domain::backlog::short_id;
use crate::domain::{ItemKind, ItemState, PaneId, Severity, Timestamp, WorkItem};
use crate::theme::{Slot, Theme};

/// Draws the backlog pane into `area`.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    theme: &Theme,
    focused: bool,
    now: Timestamp,
) {
    let b = &state.backlog;
    let badge = b
        .feed
        .as_ref()
        .and_then(|f| super::feed::badge(f, theme, now));
    if let Some(d) = &b.detail {
        let block = pane_block(
            PaneId::Backlog,
            " · detail".into(),
            badge,
            theme,
            focused,
            area.width,
        );
        detail(frame, area, b, d, block, theme, now);
        return;
    }
    let (open, closed) = b.counts();
    let section = b
        .section_name()
        .map(|s| format!(" · [{}]", clean(s)))
        .unwrap_or_default();
    let title = format!(
        "{section} · {} {}/{} · sort {}",
        b.states_label(),
        b.view.len(),
        open + closed,
        b.sort.label()
    );
    let block = pane_block(PaneId::Backlog, title, badge, theme, focused, area.width);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width < 10 {
        return;
    }
    let Some(feed) = &b.feed else {
        let msg = format!("No backlog provider. {}", b.missing);
        let p = Paragraph::new(msg)
            .style(theme.style(Slot::TextDim))
            .wrap(Wrap { trim: true });
        frame.render_widget(p, inner);
        return;
    };
    let width = inner.width as usize;
    // Local ids are short numbers; GitHub's carry their repo (`api#12`).
    let id_w = b
        .items
        .iter()
        .map(|i| short_id(&i.id).width() + 1)
        .max()
        .unwrap_or(6)
        .clamp(6, 14);
    let mut lines = vec![Line::from(Span::styled(
        row_text(width, id_w, "ID", "STATE", "KIND", "TITLE", "LABELS", "AGE"),
        theme.style(Slot::TextDim),
    ))];
    let filter_line = b.filtering || !b.filter.text.is_empty();
    let rows = (inner.height as usize).saturating_sub(1 + usize::from(filter_line));
    if b.view.is_empty() {
        let msg = if b.items.is_empty() {
            super::feed::empty_text(feed, || {
                format!(
                    "No items yet. Press {} to create one.",
                    state.keymap.label(crate::app::Action::NewItem)
                )
            })
        } else {
            format!(
                "No {} items match. Esc clears the filter; a shows open/closed/all.",
                b.states_label()
            )
        };
        lines.push(Line::from(Span::styled(msg, theme.style(Slot::TextDim))));
    }
    let start = b.offset.min(b.view.len());
    for (pos, &idx) in b.view.iter().enumerate().skip(start).take(rows) {
        lines.push(item_row(
            &b.items[idx],
            width,
            id_w,
            pos == b.selected,
            focused,
            theme,
            now,
        ));
    }
    frame.render_widget(
        super::feed::wrapped_when_empty(lines, b.view.is_empty()),
        inner,
    );
    if filter_line {
        let y = inner.y + inner.height - 1;
        // The same input line as the forms: the cursor shows where ←/→ put it.
        let line = super::overlay::input_line(&b.filter, "/", b.filtering, width, theme);
        frame.render_widget(Paragraph::new(line), Rect::new(inner.x, y, inner.width, 1));
    }
}

#[allow(clippy::too_many_arguments)]
fn row_text(
    width: usize,
    id_w: usize,
    id: &str,
    state: &str,
    kind: &str,
    title: &str,
    labels: &str,
    age: &str,
) -> String {
    let fixed = id_w + 9 + 10 + 5;
    let labels_w = if width >= 100 {
        24
    } else if width >= 70 {
        14
    } else {
        0
    };
    let title_w = width.saturating_sub(fixed + labels_w + 1).max(4);
    let mut s = format!(
        "{}{}{}{} ",
        pad(id, id_w),
        pad(state, 9),
        pad(kind, 10),
        pad(title, title_w)
    );
    if labels_w > 0 {
        s.push_str(&pad(labels, labels_w));
    }
    s.push_str(&format!("{age:>4}"));
    pad(&s, width)
}

fn state_glyph(state: ItemState) -> &'static str {
    match state {
        ItemState::Open => "○ open",
        ItemState::Closed => "✓ closed",
    }
}

fn kind_text(item: &WorkItem) -> String {
    match (item.kind, item.severity) {
        (ItemKind::Incident, Some(s)) => format!("▲ {}", sev_short(s)),
        (ItemKind::Incident, None) => "▲ inc".into(),
        (ItemKind::Issue, _) => "issue".into(),
    }
}

fn sev_short(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "crit",
        Severity::High => "high",
        Severity::Medium => "med",
        Severity::Low => "low",
    }
}

fn sev_slot(s: Severity) -> Slot {
    match s {
        Severity::Critical => Slot::SeverityCritical,
        Severity::High => Slot::SeverityHigh,
        Severity::Medium => Slot::SeverityMedium,
        Severity::Low => Slot::SeverityLow,
    }
}

fn item_row(
    item: &WorkItem,
    width: usize,
    id_w: usize,
    selected: bool,
    focused: bool,
    theme: &Theme,
    now: Timestamp,
) -> Line<'static> {
    // `↯` marks what the incident loop filed by itself.
    let title = if item.auto {
        format!("↯ {}", clean(&item.title))
    } else {
        clean(&item.title).into_owned()
    };
    let joined = item.labels.join(",");
    let labels = clean(&joined);
    let text = row_text(
        width,
        id_w,
        &clean(&short_id(&item.id)),
        state_glyph(item.state),
        &kind_text(item),
        &title,
        &labels,
        &age(now, item.created),
    );
    if selected {
        let style = if focused {
            theme.style(Slot::Selection)
        } else {
            theme
                .style(Slot::TextDim)
                .patch(theme.style(Slot::Selection))
        };
        return Line::from(Span::styled(text, style));
    }
    // Split the row at the column boundaries to colour state and kind.
    let (id, rest) = split_cols(&text, id_w);
    let (st, rest) = split_cols(rest, 9);
    let (kind, rest) = split_cols(rest, 10);
    let state_style = match item.state {
        ItemState::Open => theme.style(Slot::ItemOpen),
        ItemState::Closed => theme.style(Slot::ItemClosed),
    };
    let kind_style = match (item.kind, item.severity) {
        (ItemKind::Incident, Some(s)) => theme.style(sev_slot(s)),
        (ItemKind::Incident, None) => theme.style(Slot::KindIncident),
        _ => theme.style(Slot::KindIssue),
    };
    let body = if item.state == ItemState::Closed {
        theme.style(Slot::TextDim)
    } else {
        theme.style(Slot::Text)
    };
    Line::from(vec![
        Span::styled(id.to_string(), theme.style(Slot::TextDim)),
        Span::styled(st.to_string(), state_style),
        Span::styled(kind.to_string(), kind_style),
        Span::styled(rest.to_string(), body),
    ])
}

/// Splits `s` after `cols` display columns.
fn split_cols(s: &str, cols: usize) -> (&str, &str) {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > cols {
            return s.split_at(i);
        }
        used += w;
    }
    (s, "")
}

fn detail(
    frame: &mut Frame,
    area: Rect,
    b: &BacklogPane,
    d: &Detail,
    block: ratatui::widgets::Block,
    theme: &Theme,
    now: Timestamp,
) {
    let Some(item) = b.item(&d.item_id) else {
        let p = Paragraph::new(format!("Item #{} is no longer in the backlog.", d.item_id))
            .block(block)
            .style(theme.style(Slot::TextDim));
        frame.render_widget(p, area);
        return;
    };
    let dim = theme.style(Slot::TextDim);
    let mut lines = vec![Line::from(vec![
        Span::styled(
            if item.id.contains('#') {
                format!("{} ", clean(&item.id))
            } else {
                format!("#{} ", item.id)
            },
            dim,
        ),
        Span::styled(
            clean(&item.title).into_owned(),
            theme.style(Slot::MarkdownHeading),
        ),
    ])];
    let state_style = if item.state == ItemState::Open {
        theme.style(Slot::ItemOpen)
    } else {
        theme.style(Slot::ItemClosed)
    };
    let mut meta = vec![
        Span::styled(state_glyph(item.state).to_string(), state_style),
        Span::styled(" · ", dim),
    ];
    match item.kind {
        ItemKind::Incident => {
            let sev = item.severity.unwrap_or(Severity::Medium);
            meta.push(Span::styled(
                format!("▲ incident, severity {}", sev.as_str()),
                theme.style(sev_slot(sev)),
            ));
        }
        ItemKind::Issue => meta.push(Span::styled("issue", theme.style(Slot::KindIssue))),
    }
    if item.auto {
        meta.push(Span::styled(" · ↯ filed by the incident loop", dim));
    }
    if let Some(a) = &item.assignee {
        meta.push(Span::styled(
            format!(" · assigned to {}", clean(a)),
            theme.style(Slot::Info),
        ));
    }
    meta.push(Span::styled(
        format!(
            " · by {} · opened {} ago · updated {} ago · {}",
            clean(&item.author),
            age(now, item.created),
            age(now, item.updated),
            item.provider
        ),
        dim,
    ));
    lines.push(Line::from(meta));
    let mut label_line = vec![Span::styled("labels: ", dim)];
    if item.labels.is_empty() {
        label_line.push(Span::styled("none", dim));
    }
    for l in &item.labels {
        label_line.push(Span::styled(
            format!("[{}]", clean(l)),
            theme.style(Slot::Label),
        ));
        label_line.push(Span::raw(" "));
    }
    lines.push(Line::from(label_line));
    lines.push(Line::default());
    if item.body.trim().is_empty() {
        lines.push(Line::from(Span::styled("(no description)", dim)));
    } else {
        lines.extend(markdown(&item.body, theme));
    }
    lines.push(Line::default());
    let rule_w = (area.width as usize).saturating_sub(4).min(60);
    match &d.comments {
        None => lines.push(Line::from(Span::styled("comments: loading…", dim))),
        Some(Err(e)) => lines.push(Line::from(Span::styled(
            format!("comments unavailable: {}", clean(e)),
            theme.style(Slot::Error),
        ))),
        Some(Ok(comments)) => {
            let head = format!("── Comments ({}) ", comments.len());
            let fill = "─".repeat(rule_w.saturating_sub(head.width()));
            lines.push(Line::from(Span::styled(
                format!("{head}{fill}"),
                theme.style(Slot::HelpSection),
            )));
            for c in comments {
                lines.push(Line::from(vec![
                    Span::styled(clean(&c.author).into_owned(), theme.style(Slot::Info)),
                    Span::styled(format!(" · {} ago", age(now, c.created)), dim),
                ]));
                for l in markdown(&c.body, theme) {
                    let mut spans = vec![Span::styled("  ", Style::default())];
                    spans.extend(l.spans);
                    lines.push(Line::from(spans));
                }
                lines.push(Line::default());
            }
        }
    }
    let p = Paragraph::new(lines)
        .block(block)
        .wrap(Wrap { trim: false })
        .scroll((d.scroll, 0));
    frame.render_widget(p, area);
}
