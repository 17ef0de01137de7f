//! The status bar: workspace, read-only badge, a message or key hints, config source, providers.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::text::{clean, fit};
use crate::app::overlay::Overlay;
use crate::app::{Action, Level, State};
use crate::domain::{PaneId, Timestamp};
use crate::theme::{Slot, Theme};

/// Key hints for what has the keyboard, as (action, word) pairs.
fn hints(state: &State) -> Vec<(Action, &'static str)> {
    use Action::*;
    if state.overlay.is_some() || state.backlog.filtering {
        return Vec::new();
    }
    match state.focus {
        PaneId::Backlog if state.backlog.detail.is_some() => vec![
            (MoveDown, "scroll"),
            (EditItem, "edit"),
            (CommentItem, "comment"),
            (ToggleState, "close/reopen"),
            (EditLabels, "labels"),
            (Back, "back"),
        ],
        PaneId::Backlog => vec![
            (MoveDown, "move"),
            (Open, "open"),
            (NewItem, "new"),
            (Filter, "filter"),
            (CycleStateFilter, "open/closed/all"),
            (CycleSort, "sort"),
            (Help, "help"),
        ],
        PaneId::Builds if state.builds.feed.is_some() && state.builds.detail.is_some() => vec![
            (MoveDown, "scroll"),
            (MoveBottom, "follow"),
            (Rerun, "rerun"),
            (CancelRun, "cancel"),
            (Back, "back"),
        ],
        PaneId::Builds if state.builds.feed.is_some() => vec![
            (MoveDown, "move"),
            (Open, "open"),
            (RunPipeline, "run"),
            (Rerun, "rerun"),
            (CancelRun, "cancel"),
            (Help, "help"),
        ],
        _ => vec![
            (FocusNext, "next pane"),
            (Palette, "commands"),
            (Help, "help"),
            (Quit, "quit"),
        ],
    }
}

/// What the overlay or filter expects, as plain text.
fn mode_hint(state: &State) -> Option<&'static str> {
    match &state.overlay {
        Some(Overlay::Form(_)) => Some("ctrl-s save · tab next field · esc close (draft kept)"),
        Some(Overlay::Comment { .. }) => Some("ctrl-s post · esc close (draft kept)"),
        Some(Overlay::Labels { .. }) => Some("enter save · esc cancel"),
        Some(Overlay::Palette(_)) => Some("type to search · ↑/↓ choose · enter run · esc close"),
        Some(Overlay::Help { .. }) => Some("j/k scroll · esc close"),
        Some(Overlay::Choose { .. }) => Some("j/k choose · enter run · esc close"),
        Some(Overlay::Confirm { .. }) => Some("y confirms · any other key cancels"),
        None if state.backlog.filtering => Some("type to filter · enter keep · esc clear"),
        None => None,
    }
}

/// Draws the status bar.
pub fn render(frame: &mut Frame, area: Rect, state: &State, theme: &Theme, now: Timestamp) {
    let bar = theme.style(Slot::Statusbar);
    let mut left = vec![Span::styled(
        format!(" {} ", clean(&state.workspace)),
        theme.style(Slot::StatusbarWorkspace),
    )];
    if state.read_only {
        left.push(Span::styled(
            " READ-ONLY ",
            theme.style(Slot::BadgeReadonly),
        ));
    }
    left.push(Span::styled(" ", bar));
    match (&state.flash, mode_hint(state)) {
        (Some(f), _) if now < f.until => {
            let (slot, mark) = match f.level {
                Level::Info => (Slot::Info, "✓ "),
                Level::Error => (Slot::Error, "✗ "),
            };
            left.push(Span::styled(
                format!("{mark}{}", clean(&f.text)),
                theme.style(slot),
            ));
        }
        (_, Some(hint)) => left.push(Span::styled(hint, theme.style(Slot::StatusbarHint))),
        _ => {
            for (action, word) in hints(state) {
                let keys = state.keymap.keys_for(action);
                let Some(first) = keys.first() else { continue };
                let key = if action == Action::MoveDown && keys.len() > 1 {
                    // j/k is clearer than j/↓ for a pair of moves.
                    format!(
                        "{first}/{}",
                        state
                            .keymap
                            .keys_for(Action::MoveUp)
                            .first()
                            .map_or(String::new(), ToString::to_string)
                    )
                } else {
                    first.to_string()
                };
                left.push(Span::styled(key, theme.style(Slot::StatusbarKey)));
                left.push(Span::styled(
                    format!(" {word}  "),
                    theme.style(Slot::StatusbarHint),
                ));
            }
        }
    }
    let used: usize = left.iter().map(|s| s.content.width()).sum();
    let mut right_text = format!("{} │ ", state.config_source);
    let mut right = Vec::new();
    for p in &state.providers {
        let (glyph, slot) = match (&p.unavailable, &state.backlog.feed) {
            (Some(_), _) => ("✗", Slot::BadgeError),
            (None, Some(f)) if f.provider == p.id && f.error.is_some() => ("⚠", Slot::BadgeStale),
            _ => ("✓", Slot::BadgeOk),
        };
        right.push((format!("{} ", p.id), glyph, slot));
        right_text.push_str(&format!("{} {glyph} ", p.id));
    }
    let width = area.width as usize;
    let room = width.saturating_sub(used);
    let mut spans = left;
    if room > right_text.width() + 2 {
        let pad = room - right_text.width();
        spans.push(Span::styled(" ".repeat(pad), bar));
        spans.push(Span::styled(
            format!("{} │ ", clean(&state.config_source)),
            theme.style(Slot::StatusbarHint),
        ));
        for (id, glyph, slot) in right {
            spans.push(Span::styled(clean(&id).into_owned(), bar));
            spans.push(Span::styled(format!("{glyph} "), theme.style(slot)));
        }
    } else if room > 12 {
        spans.push(Span::styled(
            fit(&format!("  {}", state.config_source), room).into_owned(),
            theme.style(Slot::StatusbarHint),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(bar), area);
}
