//! The status bar: workspace, read-only badge, a message or key hints, config source, providers.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::text::{clean, fit};
use crate::app::overlay::{Choice, Overlay};
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
            (Help, "help"),
            (CycleStateFilter, "open/closed/all"),
            (CycleSort, "sort"),
        ],
        PaneId::Builds if state.builds.remote && state.builds.detail.is_some() => vec![
            (MoveDown, "scroll"),
            (FirstError, "first error"),
            (Rerun, "rerun"),
            (RerunFailed, "rerun failed"),
            (CancelRun, "cancel"),
            (Back, "back"),
        ],
        PaneId::Builds if state.builds.feed.is_some() && state.builds.detail.is_some() => vec![
            (MoveDown, "scroll"),
            (MoveBottom, "follow"),
            (Rerun, "rerun"),
            (CancelRun, "cancel"),
            (Back, "back"),
        ],
        PaneId::Builds if state.builds.feed.is_some() && state.builds.remote => vec![
            (MoveDown, "move"),
            (Open, "log"),
            (RunPipeline, "dispatch"),
            (Rerun, "rerun"),
            (RerunFailed, "rerun failed"),
            (CancelRun, "cancel"),
        ],
        PaneId::Builds if state.builds.feed.is_some() => vec![
            (MoveDown, "move"),
            (Open, "open"),
            (RunPipeline, "run"),
            (Help, "help"),
            (Rerun, "rerun"),
            (CancelRun, "cancel"),
        ],
        PaneId::Deploys if state.deploys.feed.is_some() => vec![
            (Deploy, "deploy"),
            (RollbackTarget, "roll back"),
            (AbortDeploy, "abort"),
            (ResumeDeploy, "resume"),
            (Open, "history"),
            (Help, "help"),
        ],
        PaneId::Health if state.health.enabled => vec![
            (MoveDown, "move"),
            (Open, "chart"),
            (SilenceAlert, "silence"),
            (RemediateCheck, "remediate"),
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
        Some(Overlay::Form(_)) => {
            Some("ctrl-s save · tab next field · esc close (draft kept) · ctrl-x discard")
        }
        Some(Overlay::Comment { .. }) => {
            Some("ctrl-s post · esc close (draft kept) · ctrl-x discard")
        }
        Some(Overlay::Url(_) | Overlay::Message(_)) => Some("any key closes"),
        Some(Overlay::Dispatch(_)) => {
            Some("enter dispatches · tab next input · ←/→ change a choice · esc close")
        }
        Some(Overlay::Labels { .. } | Overlay::Triage { .. }) => Some("enter save · esc cancel"),
        Some(Overlay::Palette(_)) => Some("type to search · ↑/↓ choose · enter run · esc close"),
        Some(Overlay::Help { .. }) => Some("j/k scroll · esc close"),
        Some(Overlay::Choose(p)) if p.filter.is_some() => {
            Some("type to filter · ↑/↓ choose · enter choose · esc clears the filter")
        }
        Some(Overlay::Choose(p)) if matches!(p.then, Choice::Version(_)) => {
            Some("j/k g/G move · type to filter · enter plans · esc close")
        }
        Some(Overlay::Choose(_)) => Some("j/k g/G move · type to filter · enter run · esc close"),
        Some(Overlay::DeployPlan(c)) if c.protected => {
            Some("type the target's name · enter deploys · esc cancels")
        }
        Some(Overlay::DeployPlan(_)) => Some("y/enter deploys · esc cancels"),
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
    let mut flash_at = None;
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
            flash_at = Some(left.len() - 1);
        }
        (_, Some(hint)) => left.push(Span::styled(hint, theme.style(Slot::StatusbarHint))),
        _ => {
            for (action, word) in hints(state) {
                // Read-only: advertise only what works.
                if state.read_only && action.info().mutates {
                    continue;
                }
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
    // Provider health always shows; the config source when there is room; the hints give way.
    let mut right = Vec::new();
    for p in &state.providers {
        let failing = [&state.backlog.feed, &state.builds.feed].iter().any(|f| {
            f.as_ref()
                .is_some_and(|f| f.provider == p.id && f.error.is_some())
        });
        let (glyph, slot) = match (&p.unavailable, failing) {
            (Some(_), _) => ("✗", Slot::BadgeError),
            (None, true) => ("⚠", Slot::BadgeStale),
            (None, false) => ("✓", Slot::BadgeOk),
        };
        // With several providers, each says which panes it feeds.
        let feeds = if state.providers.len() > 1 && !p.feeds.is_empty() {
            format!("→{}", p.feeds.join(","))
        } else {
            String::new()
        };
        right.push(Span::styled(format!(" {}{feeds}", clean(&p.id)), bar));
        right.push(Span::styled(format!(" {glyph} "), theme.style(slot)));
        if let Some((_, b)) = state.budgets.iter().find(|(id, _)| *id == p.id)
            && let Some((text, slot)) = budget(b, now)
        {
            right.push(Span::styled(text, theme.style(slot)));
        }
    }
    let width = area.width as usize;
    let providers_w: usize = right.iter().map(|s| s.content.width()).sum();
    let left_w: usize = left.iter().map(|s| s.content.width()).sum();
    let source = format!(" {} │", clean(&state.config_source));
    if left_w + providers_w + source.width() + 2 <= width {
        right.insert(0, Span::styled(source, theme.style(Slot::StatusbarHint)));
    }
    let right_w: usize = right.iter().map(|s| s.content.width()).sum();
    // A message longer than the bar says where to read it whole.
    const MORE: &str = " ! shows all";
    let room = width.saturating_sub(right_w);
    if let Some(i) = flash_at
        && left.iter().map(|s| s.content.width()).sum::<usize>() > room
    {
        let before: usize = left[..i].iter().map(|s| s.content.width()).sum();
        let keep = room.saturating_sub(before + MORE.width());
        let style = left[i].style;
        left[i] = Span::styled(format!("{}{MORE}", fit(&left[i].content, keep)), style);
    }
    let mut spans = cut(left, room);
    let used: usize = spans.iter().map(|s| s.content.width()).sum();
    spans.push(Span::styled(
        " ".repeat(width.saturating_sub(used + right_w)),
        bar,
    ));
    spans.extend(right);
    frame.render_widget(Paragraph::new(Line::from(spans)).style(bar), area);
}

/// A GitHub provider's API budget: what is left of it, or until when nothing is sent.
fn budget(b: &crate::providers::github::Budget, now: Timestamp) -> Option<(String, Slot)> {
    if b.auth_failed.is_some() {
        return Some(("auth expired ".into(), Slot::BadgeError));
    }
    if let Some(until) = b.wait_until.filter(|&u| u > now) {
        let at = chrono::DateTime::from_timestamp(until, 0)
            .map(|d| {
                d.with_timezone(&chrono::Local)
                    .format("%H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default();
        let word = if b
            .waiting
            .as_deref()
            .is_some_and(|w| w.starts_with("backing off"))
        {
            "retry"
        } else {
            "paused"
        };
        return Some((format!("{word} → {at} "), Slot::BadgeStale));
    }
    let (left, limit) = (b.remaining?, b.limit?);
    let slot = if left.saturating_mul(10) < limit {
        Slot::BadgeStale
    } else {
        Slot::StatusbarHint
    };
    let reset = b
        .reset
        .filter(|&t| t > now)
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|d| format!(" ↻{}", d.with_timezone(&chrono::Local).format("%H:%M")))
        .unwrap_or_default();
    Some((format!("{left}/{limit}{reset} "), slot))
}

/// The spans that fit in `width` columns, the last one cut with `…`.
fn cut(spans: Vec<Span<'static>>, width: usize) -> Vec<Span<'static>> {
    let mut out = Vec::new();
    let mut used = 0;
    for s in spans {
        let w = s.content.width();
        if used + w <= width {
            used += w;
            out.push(s);
        } else {
            let room = width - used;
            if room > 0 {
                out.push(Span::styled(fit(&s.content, room).into_owned(), s.style));
            }
            break;
        }
    }
    out
}
