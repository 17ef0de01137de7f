//! Overlays: help generated from the keymap, the command palette, and the editing forms.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};

use super::text::{clean, fit, pad};
use crate::app::input::TextBox;
use crate::app::overlay::{Choice, Field, ItemForm, Overlay, PaletteState};
use crate::app::picker::Picker;
use crate::app::{ACTIONS, Context, State};
use crate::domain::ItemKind;
use crate::theme::{Slot, Theme};

/// Draws `overlay` centred over `area`.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    overlay: &Overlay,
    theme: &Theme,
    now: crate::domain::Timestamp,
) {
    match overlay {
        Overlay::Help { scroll } => help(frame, area, state, *scroll, theme),
        Overlay::Palette(p) => palette(frame, area, state, p, theme),
        Overlay::Form(f) => form(frame, area, state, f, theme),
        Overlay::Dispatch(f) => super::dispatch::render(frame, area, state, f, theme),
        Overlay::Url(url) => {
            // `popup` keeps it inside the screen (a clamp here would panic below 32 columns).
            let w = (url.chars().count() as u16).saturating_add(4).max(30);
            let footer = Line::from(Span::styled("any key closes", theme.style(Slot::TextDim)));
            let title = " Web page (no browser here: copy it) ";
            message(frame, area, title, w, url, Slot::Text, footer, theme)
        }
        Overlay::Message(text) => {
            let footer = Line::from(Span::styled("any key closes", theme.style(Slot::TextDim)));
            message(
                frame,
                area,
                " Last message ",
                72,
                text,
                Slot::Text,
                footer,
                theme,
            )
        }
        Overlay::Comment { item, text, error } => {
            let title = format!(" Comment on {} ", crate::domain::backlog::item_ref(item));
            editor(
                frame,
                area,
                state,
                &title,
                text,
                error.as_deref(),
                "ctrl-s post · esc close (draft kept)",
                theme,
            )
        }
        Overlay::Choose(p) => choose(frame, area, p, theme),
        Overlay::DeployPlan(c) => super::deploys::plan(frame, area, c, theme, now),
        Overlay::Confirm { prompt, .. } => confirm(frame, area, prompt, theme),
        Overlay::Triage {
            item,
            what,
            text,
            error,
        } => {
            let (title, hint) = what.text(item);
            editor(
                frame,
                area,
                state,
                &title,
                text,
                error.as_deref(),
                hint,
                theme,
            )
        }
        Overlay::Labels { item, text, error } => {
            let title = format!(" Labels of {} ", crate::domain::backlog::item_ref(item));
            editor(
                frame,
                area,
                state,
                &title,
                text,
                error.as_deref(),
                "comma-separated · enter save · esc cancel",
                theme,
            )
        }
    }
}

/// A centred rectangle of at most `w`×`h` inside `area`.
pub(super) fn popup(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width.saturating_sub(2)).max(1);
    let h = h.min(area.height.saturating_sub(2)).max(1);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// The bordered block every overlay is drawn in.
pub(super) fn frame_block<'a>(title: String, theme: &Theme) -> Block<'a> {
    Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(theme.style(Slot::OverlayBorder))
        .style(theme.style(Slot::Overlay))
        .title(Span::styled(title, theme.style(Slot::TitleFocused)))
}

fn help(frame: &mut Frame, area: Rect, state: &State, scroll: u16, theme: &Theme) {
    let mut lines = Vec::new();
    // The action's name (what `[keys]` and the palette take) comes before the description,
    // so a narrow terminal cuts the description, never the name.
    let name_w = ACTIONS.iter().map(|i| i.name.len()).max().unwrap_or(12) + 3;
    for ctx in [
        Context::Global,
        Context::List,
        Context::Backlog,
        Context::Builds,
        Context::Deploys,
        Context::Health,
    ] {
        lines.push(Line::from(Span::styled(
            ctx.title(),
            theme.style(Slot::HelpSection),
        )));
        for info in ACTIONS.iter().filter(|i| i.context == ctx) {
            let mut desc = info.description.to_string();
            if info.mutates && state.read_only {
                desc.push_str(" (read-only: disabled)");
            }
            lines.push(Line::from(vec![
                Span::styled(
                    pad(&state.keymap.label(info.action), 14),
                    theme.style(Slot::HelpKey),
                ),
                Span::styled(
                    pad(&format!(":{}", info.name), name_w),
                    theme.style(Slot::TextDim),
                ),
                Span::styled(desc, theme.style(Slot::Text)),
            ]));
        }
        lines.push(Line::default());
    }
    lines.push(Line::from(Span::styled(
        "Forms: tab moves between fields, ctrl-s saves, esc keeps a draft.",
        theme.style(Slot::TextDim),
    )));
    let rect = popup(area, 96, lines.len() as u16 + 2);
    frame.render_widget(Clear, rect);
    let p = Paragraph::new(lines)
        .block(frame_block(" Keys — esc closes ".into(), theme))
        .scroll((scroll, 0));
    frame.render_widget(p, rect);
}

fn palette(frame: &mut Frame, area: Rect, state: &State, p: &PaletteState, theme: &Theme) {
    let matches = p.matches();
    let rect = popup(area, 70, 16);
    frame.render_widget(Clear, rect);
    let block = frame_block(" Command ".into(), theme);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let width = inner.width as usize;
    let mut lines = vec![
        input_line(&p.input, ":", true, width, theme),
        Line::default(),
    ];
    let rows = (inner.height as usize).saturating_sub(2);
    let start = p.selected.saturating_sub(rows.saturating_sub(1));
    for (i, action) in matches.iter().enumerate().skip(start).take(rows) {
        let info = action.info();
        let text = format!(
            "{} {} {}",
            pad(info.name, 16),
            pad(&state.keymap.label(*action), 12),
            info.description
        );
        let style = if i == p.selected {
            theme.style(Slot::Selection)
        } else {
            theme.style(Slot::Text)
        };
        lines.push(Line::from(Span::styled(pad(&text, width), style)));
    }
    if matches.is_empty() {
        lines.push(Line::from(Span::styled(
            "no matching command",
            theme.style(Slot::TextDim),
        )));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// A one-line input with a visible cursor (a reversed cell, so it shows without colour too).
pub(super) fn input_line(
    t: &TextBox,
    prefix: &str,
    active: bool,
    width: usize,
    theme: &Theme,
) -> Line<'static> {
    let style = if active {
        theme.style(Slot::InputActive)
    } else {
        theme.style(Slot::Input)
    };
    use unicode_segmentation::UnicodeSegmentation;
    use unicode_width::UnicodeWidthStr;
    let text = clean(&t.text).into_owned();
    // By grapheme, so the cursor cell is a whole character as drawn (an accent, an emoji).
    let cells: Vec<&str> = text.graphemes(true).collect();
    let cur = clean(&t.text[..t.cursor]).graphemes(true).count();
    // Keep the cursor in view on long lines, counting columns (CJK is two wide).
    let avail = width.saturating_sub(prefix.width() + 1).max(1);
    let mut first = cur.min(cells.len());
    let mut used = 0;
    while first > 0 && used + cells[first - 1].width() < avail {
        used += cells[first - 1].width();
        first -= 1;
    }
    let before: String = cells[first..cur.min(cells.len())].concat();
    let at: String = cells.get(cur).map_or(" ".into(), |c| c.to_string());
    let after: String = cells.iter().skip(cur + 1).copied().collect();
    let mut spans = vec![
        Span::styled(prefix.to_string(), style),
        Span::styled(before, style),
    ];
    if active {
        spans.push(Span::styled(at, style.add_modifier(Modifier::REVERSED)));
        spans.push(Span::styled(fit(&after, avail).into_owned(), style));
    } else {
        let rest = format!("{at}{after}");
        spans.push(Span::styled(
            fit(rest.trim_end(), avail).into_owned(),
            style,
        ));
    }
    let used: usize = spans.iter().map(|s| s.width()).sum();
    spans.push(Span::styled(" ".repeat(width.saturating_sub(used)), style));
    Line::from(spans)
}

/// A multi-line text area with a visible cursor, scrolled to keep the cursor line in view.
fn area_lines(t: &TextBox, active: bool, rows: usize, theme: &Theme) -> Vec<Line<'static>> {
    let style = if active {
        theme.style(Slot::InputActive)
    } else {
        theme.style(Slot::Input)
    };
    let cursor_line = t.cursor_line();
    let first = cursor_line.saturating_sub(rows.saturating_sub(1));
    let mut offset = 0;
    let mut out = Vec::new();
    for (i, line) in t.text.split('\n').enumerate() {
        let start = offset;
        offset += line.len() + 1;
        if i < first || out.len() >= rows {
            continue;
        }
        if active && i == cursor_line {
            let col = t.cursor - start;
            let (before, rest) = line.split_at(col);
            let at = unicode_segmentation::UnicodeSegmentation::graphemes(rest, true)
                .next()
                .unwrap_or(" ");
            out.push(Line::from(vec![
                Span::styled(clean(before).into_owned(), style),
                Span::styled(
                    clean(at).into_owned(),
                    style.add_modifier(Modifier::REVERSED),
                ),
                Span::styled(clean(&rest[at.len().min(rest.len())..]).into_owned(), style),
            ]));
        } else {
            out.push(Line::from(Span::styled(clean(line).into_owned(), style)));
        }
    }
    out
}

pub(super) fn label(text: &str, focused: bool, theme: &Theme) -> Span<'static> {
    label_w(text, focused, 10, theme)
}

/// A field label padded to `width` columns, marked `▸` when focused.
pub(super) fn label_w(text: &str, focused: bool, width: usize, theme: &Theme) -> Span<'static> {
    let style = if focused {
        theme.style(Slot::HelpKey).add_modifier(Modifier::BOLD)
    } else {
        theme.style(Slot::TextDim)
    };
    Span::styled(
        format!("{}{}", if focused { "▸ " } else { "  " }, pad(text, width)),
        style,
    )
}

fn form(frame: &mut Frame, area: Rect, state: &State, f: &ItemForm, theme: &Theme) {
    let title = match &f.editing {
        Some(id) => format!(" Edit #{id} "),
        None => " New item ".into(),
    };
    let rect = popup(area, 84, 22);
    frame.render_widget(Clear, rect);
    let block = frame_block(title, theme);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let w = (inner.width as usize).saturating_sub(12);
    let choice = |value: &str, focused: bool| {
        let style = if focused {
            theme.style(Slot::InputActive)
        } else {
            theme.style(Slot::Input)
        };
        Span::styled(format!("‹ {value} ›"), style)
    };
    let mut lines = vec![
        Line::from(
            vec![label("Title", f.focus == Field::Title, theme)]
                .into_iter()
                .chain(input_line(&f.title, "", f.focus == Field::Title, w, theme).spans)
                .collect::<Vec<_>>(),
        ),
        Line::from(vec![
            label("Kind", f.focus == Field::Kind, theme),
            choice(f.kind.as_str(), f.focus == Field::Kind),
            Span::styled("  ←/→ to change", theme.style(Slot::TextDim)),
        ]),
    ];
    if f.kind == ItemKind::Incident {
        lines.push(Line::from(vec![
            label("Severity", f.focus == Field::Severity, theme),
            choice(f.severity.as_str(), f.focus == Field::Severity),
        ]));
    }
    lines.push(Line::from(
        vec![label("Labels", f.focus == Field::Labels, theme)]
            .into_iter()
            .chain(input_line(&f.labels, "", f.focus == Field::Labels, w, theme).spans)
            .collect::<Vec<_>>(),
    ));
    lines.push(Line::from(vec![
        label("Body", f.focus == Field::Body, theme),
        Span::styled("Markdown", theme.style(Slot::TextDim)),
    ]));
    let footer = 2;
    let body_rows = (inner.height as usize).saturating_sub(lines.len() + footer);
    let mut body = area_lines(&f.body, f.focus == Field::Body, body_rows, theme);
    body.resize(body_rows, Line::default());
    lines.extend(body.into_iter().map(|l| {
        let mut spans = vec![Span::raw("  ")];
        spans.extend(l.spans);
        Line::from(spans)
    }));
    lines.push(status_line(state, f.error.as_deref(), theme));
    lines.push(Line::from(Span::styled(
        "ctrl-s save · tab next field · esc close (draft kept)",
        theme.style(Slot::TextDim),
    )));
    frame.render_widget(Paragraph::new(lines), inner);
}

pub(super) fn status_line(state: &State, error: Option<&str>, theme: &Theme) -> Line<'static> {
    if state.pending.is_some() {
        Line::from(Span::styled("saving…", theme.style(Slot::Info)))
    } else if let Some(e) = error {
        Line::from(Span::styled(
            format!("✗ {}", clean(e)),
            theme.style(Slot::Error),
        ))
    } else {
        Line::default()
    }
}

#[allow(clippy::too_many_arguments)]
fn editor(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    title: &str,
    text: &TextBox,
    error: Option<&str>,
    hint: &str,
    theme: &Theme,
) {
    let h = if text.multiline { 14 } else { 6 };
    let rect = popup(area, 72, h);
    frame.render_widget(Clear, rect);
    let block = frame_block(title.to_string(), theme);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let rows = (inner.height as usize).saturating_sub(2);
    let mut lines = if text.multiline {
        let mut l = area_lines(text, true, rows, theme);
        l.resize(rows, Line::default());
        l
    } else {
        let mut l = vec![input_line(text, "", true, inner.width as usize, theme)];
        l.resize(rows, Line::default());
        l
    };
    lines.push(status_line(state, error, theme));
    lines.push(Line::from(Span::styled(
        hint.to_string(),
        theme.style(Slot::TextDim),
    )));
    frame.render_widget(
        Paragraph::new(lines)
            .style(Style::default())
            .wrap(Wrap { trim: false }),
        inner,
    );
}

/// A pick list; `text` is its title and what Enter does.
/// The picker: the options the filter lets through (scrolled to keep the selection in view),
/// each with its note in words, the filter line, and the keys.
fn choose(frame: &mut Frame, area: Rect, p: &Picker, theme: &Theme) {
    let enter = match p.then {
        Choice::Pipeline => "enter runs",
        Choice::Version(_) => "enter shows the plan",
        Choice::Workflow(_) => "enter opens its inputs",
    };
    let visible = p.visible();
    // Room for the options, a blank line, the filter line and the keys, within the screen.
    let rows = (area.height.saturating_sub(8) as usize).max(1);
    let shown = visible.len().clamp(1, rows);
    let rect = popup(area, 56, shown as u16 + 4);
    frame.render_widget(Clear, rect);
    let block = frame_block(format!(" {} ", p.title), theme);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let width = inner.width as usize;
    let at = visible.iter().position(|&i| i == p.selected).unwrap_or(0);
    let first = at.saturating_sub(shown.saturating_sub(1));
    let mut lines: Vec<Line> = visible
        .iter()
        .skip(first)
        .take(shown)
        .map(|&i| {
            let style = if i == p.selected {
                theme.style(Slot::Selection)
            } else {
                theme.style(Slot::Text)
            };
            let note = &p.notes[i];
            let mut spans = vec![Span::styled(format!(" {}", clean(&p.options[i])), style)];
            if !note.is_empty() {
                let slot = if note == "downgrade" {
                    Slot::Warning
                } else {
                    Slot::TextDim
                };
                spans.push(Span::styled(format!("  ({note})"), theme.style(slot)));
            }
            let used: usize = spans.iter().map(|s| s.width()).sum();
            spans.push(Span::styled(" ".repeat(width.saturating_sub(used)), style));
            Line::from(spans)
        })
        .collect();
    if visible.is_empty() {
        lines.push(Line::from(Span::styled(
            " nothing matches",
            theme.style(Slot::TextDim),
        )));
    }
    let more = visible.len().saturating_sub(shown);
    lines.push(Line::from(Span::styled(
        match (&p.filter, more) {
            (Some(f), _) => format!(
                "filter: {}▏ ({} of {})",
                clean(f),
                visible.len(),
                p.options.len()
            ),
            (None, 0) => String::new(),
            (None, n) => format!("{n} more: j/k scroll, type to filter"),
        },
        theme.style(Slot::TextDim),
    )));
    let keys = format!("{enter} · type to filter · esc closes");
    lines.push(Line::from(Span::styled(
        fit(&keys, width).to_string(),
        theme.style(Slot::TextDim),
    )));
    frame.render_widget(Paragraph::new(lines), inner);
}

fn confirm(frame: &mut Frame, area: Rect, prompt: &str, theme: &Theme) {
    let footer = Line::from(vec![
        Span::styled("y", theme.style(Slot::HelpKey)),
        Span::styled(
            " confirms · any other key cancels",
            theme.style(Slot::TextDim),
        ),
    ]);
    message(
        frame,
        area,
        " Confirm ",
        60,
        prompt,
        Slot::Warning,
        footer,
        theme,
    );
}

/// A small box with one (wrapped) message and a footer line.
#[allow(clippy::too_many_arguments)]
fn message(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    width: u16,
    text: &str,
    slot: Slot,
    footer: Line<'static>,
    theme: &Theme,
) {
    // Tall enough for the wrapped text, the blank line and the footer.
    let inner_w = width.min(area.width).saturating_sub(2).max(8) as usize;
    let text_rows = super::text::wrap(&clean(text), inner_w, "", usize::MAX).len();
    let rect = popup(area, width, (text_rows as u16).saturating_add(4).max(6));
    frame.render_widget(Clear, rect);
    let block = frame_block(title.to_string(), theme);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let lines = vec![
        Line::from(Span::styled(clean(text).into_owned(), theme.style(slot))),
        Line::default(),
        footer,
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
}
