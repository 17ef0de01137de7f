//! The deploys pane: targets with each node's version and live step, the last deploy and its
//! age; the detail with the history and the journal; and the plan awaiting confirmation.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::pane_block;
use super::text::{clean, fit, pad};
use crate::app::backlog::age;
use crate::app::deploys::{DeployConfirm, node_step};
use crate::app::{Action, State};
use crate::domain::{PaneId, Timestamp};
use crate::engine::deploy::runner::format_entry;
use crate::engine::deploy::view::TargetSnapshot;
use crate::theme::{Slot, Theme};

/// Glyph, word and slot of a deploy state, readable without colour.
pub fn state_label(s: &str) -> (&'static str, Slot) {
    match s {
        "running" => ("● running", Slot::StatusRunning),
        "succeeded" => ("✓ succeeded", Slot::StatusSuccess),
        "rolled_back" => ("↺ rolled back", Slot::StatusCancelled),
        "failed" => ("✗ failed", Slot::StatusFailure),
        "failed_rollback" => ("✗ ROLLBACK FAILED", Slot::StatusFailure),
        _ => ("○ idle", Slot::TextDim),
    }
}

fn node_slot(state: &str) -> Slot {
    match state {
        "in_rotation" => Slot::StatusSuccess,
        "down" | "failed" => Slot::StatusFailure,
        "unknown" | "stopped" => Slot::TextDim,
        _ => Slot::StatusRunning,
    }
}

/// The environment column: the longest environment (`production` whole), 8 to 12 wide.
fn env_width(targets: &[TargetSnapshot]) -> usize {
    targets
        .iter()
        .map(|t| unicode_width::UnicodeWidthStr::width(t.view.environment.as_str()))
        .max()
        .unwrap_or(0)
        .clamp(8, 12)
}

/// One line about the target: name, environment, version, last deploy and its age, lock.
fn target_line(t: &TargetSnapshot, width: usize, env_w: usize, now: Timestamp) -> (String, Slot) {
    let v = &t.view;
    let (label, slot) = state_label(&v.state);
    let last = match &v.last {
        // What was refused, and where the nodes are: the arrow would read the wrong way.
        Some(d) if d.state == "rolled_back" => format!(
            "{label} #{} {}, back on {} {} ago",
            d.id,
            d.to,
            d.from.as_deref().unwrap_or("·"),
            age(now, d.finished.unwrap_or(d.started))
        ),
        Some(d) => format!(
            "{label} {}#{} {}→{} {} ago",
            if d.kind == "rollback" {
                "rollback "
            } else {
                ""
            },
            d.id,
            d.from.as_deref().unwrap_or("·"),
            d.to,
            age(now, d.finished.unwrap_or(d.started))
        ),
        None => label.to_string(),
    };
    let lock = match &v.lock {
        Some(l) if l.reason.is_some() => " · LOCKED".to_string(),
        _ => String::new(),
    };
    let text = format!(
        "{} {} {} {}{lock}",
        pad(&clean(&v.target), 14),
        pad(&clean(&v.environment), env_w),
        pad(&clean(v.version.as_deref().unwrap_or("—")), 8),
        clean(&last)
    );
    (fit(&text, width).into_owned(), slot)
}

/// The nodes of a target, one line each, with the step the last deploy is at.
fn node_lines<'a>(t: &TargetSnapshot, width: usize, theme: &Theme, now_ms: i64) -> Vec<Line<'a>> {
    let running = t.view.state == "running";
    t.view
        .nodes
        .iter()
        .map(|n| {
            let step = node_step(&t.journal, &n.name)
                .filter(|_| running)
                .map(|e| {
                    let secs = ((now_ms - e.ts_ms).max(0) / 1000) as u64;
                    format!("{} {} {} {secs}s", e.phase, e.step, e.status)
                })
                .unwrap_or_default();
            let text = format!(
                "  {} {} {} {}",
                pad(&clean(&n.name), 14),
                pad(&clean(n.version.as_deref().unwrap_or("—")), 8),
                pad(&clean(&n.state), 12),
                clean(&step)
            );
            Line::from(Span::styled(
                fit(&text, width).into_owned(),
                theme.style(node_slot(&n.state)),
            ))
        })
        .collect()
}

/// GitHub's latest deployments of a `github-actions` target's environment, one a line.
fn github_lines<'a>(
    g: &crate::providers::github::deployments::GithubEnv,
    width: usize,
    theme: &Theme,
    now: Timestamp,
) -> Vec<Line<'a>> {
    let line = |text: String, slot: Slot| {
        Line::from(Span::styled(
            fit(&clean(&text), width).into_owned(),
            theme.style(slot),
        ))
    };
    if let Some(e) = &g.error {
        return vec![line(
            format!("  GitHub {}: {e}", g.environment),
            Slot::Warning,
        )];
    }
    if g.deployments.is_empty() {
        return vec![line(
            format!("  GitHub {}: no deployments yet", g.environment),
            Slot::TextDim,
        )];
    }
    let mut out = vec![line(
        format!("  GitHub deployments to {}:", g.environment),
        Slot::TextDim,
    )];
    for d in &g.deployments {
        let (mark, slot) = match d.state.as_str() {
            "success" => ("✓", Slot::StatusSuccess),
            "failure" | "error" => ("✗", Slot::StatusFailure),
            "inactive" => ("·", Slot::TextDim),
            _ => ("●", Slot::StatusRunning),
        };
        let what = if d.description.is_empty() {
            String::new()
        } else {
            format!(" · {}", d.description)
        };
        out.push(line(
            format!(
                "    {mark} {} {}@{}{what} · {} · {} ago",
                d.state,
                d.git_ref,
                d.sha,
                d.creator,
                age(now, d.created)
            ),
            slot,
        ));
    }
    out
}

/// Draws the deploys pane into `area`.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    theme: &Theme,
    focused: bool,
    now: Timestamp,
) {
    let d = &state.deploys;
    let Some(feed) = &d.feed else {
        super::panes::not_configured(frame, area, PaneId::Deploys, theme, focused);
        return;
    };
    let badge = super::feed::badge(feed, theme, now);
    let running = d
        .targets
        .iter()
        .filter(|t| t.view.state == "running")
        .count();
    let title = super::count_title(d.targets.len(), "target", running, "deploying");
    let block = pane_block(PaneId::Deploys, title, badge, theme, focused, area.width);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width as usize;
    if inner.height == 0 || width < 10 {
        return;
    }
    let rows = inner.height as usize;
    let now_ms = now * 1000;
    let mut lines: Vec<Line> = Vec::new();
    if d.targets.is_empty() {
        let msg = super::feed::empty_text(feed, || "no targets".into());
        lines.push(Line::from(Span::styled(msg, theme.style(Slot::TextDim))));
    }
    if d.detail
        && let Some(t) = d.selected_target()
    {
        detail(&mut lines, t, width, rows, d.scroll, theme, now, now_ms);
    } else {
        // Every target, the selected one with its nodes below it.
        let env_w = env_width(&d.targets);
        for (i, t) in d.targets.iter().enumerate() {
            let (text, slot) = target_line(t, width, env_w, now);
            let style = if i == d.selected && focused {
                theme.style(Slot::Selection)
            } else {
                theme.style(slot)
            };
            lines.push(Line::from(Span::styled(pad(&text, width), style)));
            if i == d.selected {
                lines.extend(node_lines(t, width, theme, now_ms));
                let nothing_runs = t.view.nodes.iter().all(|n| n.version.is_none());
                if nothing_runs && t.view.state != "running" {
                    let text = format!(
                        "  nothing runs on {} yet: {} deploys a version{}",
                        clean(&t.view.target),
                        state.keymap.label(Action::Deploy),
                        t.versions
                            .first()
                            .map(|v| format!(" ({} to start)", clean(v)))
                            .unwrap_or_default()
                    );
                    lines.push(Line::from(Span::styled(
                        fit(&text, width).into_owned(),
                        theme.style(Slot::Info),
                    )));
                }
                if let Some(l) = &t.view.lock
                    && l.reason.is_some()
                {
                    let text = format!(
                        "  locked for a human: flightdeck unlock {} {}",
                        clean(&t.view.target),
                        clean(&l.lock_id)
                    );
                    lines.push(Line::from(Span::styled(
                        fit(&text, width).into_owned(),
                        theme.style(Slot::Warning),
                    )));
                }
                if let Some(last) = &t.view.last
                    && let Some(r) = &last.reason
                {
                    // Why it ended so, wrapped (three lines here; the detail has it all).
                    for l in super::text::wrap(&clean(r), width, "  ", 3) {
                        lines.push(Line::from(Span::styled(l, theme.style(Slot::TextDim))));
                    }
                }
                if let Some(g) = &t.github {
                    lines.extend(github_lines(g, width, theme, now));
                }
            }
        }
        if d.targets.len() == 1 && rows > lines.len() + 2 {
            lines.push(Line::default());
            lines.push(Line::from(Span::styled(
                fit(
                    &format!(
                        "{} deploy · {} roll back · {} abort · {} resume · enter history and journal",
                        state.keymap.label(Action::Deploy),
                        state.keymap.label(Action::RollbackTarget),
                        state.keymap.label(Action::AbortDeploy),
                        state.keymap.label(Action::ResumeDeploy),
                    ),
                    width,
                )
                .into_owned(),
                theme.style(Slot::TextDim),
            )));
        }
        // Keep the selected target on screen.
        let skip = d
            .selected
            .saturating_sub(rows / 2)
            .min(lines.len().saturating_sub(rows));
        lines.drain(..skip.min(lines.len()));
    }
    lines.truncate(rows);
    frame.render_widget(
        super::feed::wrapped_when_empty(lines, d.targets.is_empty()),
        inner,
    );
}

/// The selected target's history and the last deploy's journal (newest at the bottom).
#[allow(clippy::too_many_arguments)]
fn detail<'a>(
    lines: &mut Vec<Line<'a>>,
    t: &TargetSnapshot,
    width: usize,
    rows: usize,
    scroll: usize,
    theme: &Theme,
    now: Timestamp,
    now_ms: i64,
) {
    let (text, slot) = target_line(t, width, env_width(std::slice::from_ref(t)), now);
    lines.push(Line::from(Span::styled(text, theme.style(slot))));
    lines.extend(node_lines(t, width, theme, now_ms));
    // Why the last deploy ended as it did, whole.
    if let Some(last) = &t.view.last
        && let Some(r) = &last.reason
    {
        lines.push(Line::from(Span::styled(
            format!("Why #{} {}", last.id, last.state.replace('_', " ")),
            theme.style(Slot::HelpSection),
        )));
        for l in super::text::wrap(&clean(r), width, "  ", 12) {
            lines.push(Line::from(Span::styled(l, theme.style(Slot::Text))));
        }
    }
    lines.push(Line::from(Span::styled(
        "History",
        theme.style(Slot::HelpSection),
    )));
    let room = rows.saturating_sub(lines.len() + 2);
    for h in t.history.iter().take((room / 2).clamp(1, 8)) {
        let (label, slot) = state_label(&h.state);
        let text = format!(
            "  #{:<4} {:<8} {}→{} {} {} by {}",
            h.id,
            h.kind,
            clean(h.from.as_deref().unwrap_or("·")),
            clean(&h.to),
            label,
            age(now, h.finished.unwrap_or(h.started)),
            clean(&h.actor)
        );
        lines.push(Line::from(Span::styled(
            fit(&text, width).into_owned(),
            theme.style(slot),
        )));
    }
    let head = match (&t.view.last, &t.log) {
        (Some(d), Some(log)) => format!("Journal of #{} (j/k scroll) · log {}", d.id, clean(log)),
        (Some(d), None) => format!("Journal of #{} (j/k scroll)", d.id),
        (None, _) => "Journal: no deploy yet".into(),
    };
    lines.push(Line::from(Span::styled(
        head,
        theme.style(Slot::HelpSection),
    )));
    let room = rows.saturating_sub(lines.len());
    let end = t.journal.len().saturating_sub(scroll);
    let start = end.saturating_sub(room);
    for e in &t.journal[start..end] {
        let slot = match e.status.as_str() {
            "ok" => Slot::Text,
            // Ansible: a skipped task, an ignored or a rescued error.
            "start" | "skip" | "ignored" | "rescued" => Slot::TextDim,
            _ => Slot::StatusFailure,
        };
        lines.push(Line::from(Span::styled(
            fit(&clean(&format_entry(e)), width).into_owned(),
            theme.style(slot),
        )));
    }
}

/// The plan overlay: what will happen, the rollback policy, and the confirmation.
pub fn plan(frame: &mut Frame, area: Rect, c: &DeployConfirm, theme: &Theme, now: Timestamp) {
    let h = c.lines.len() as u16 + 7;
    let rect = super::overlay::popup(area, 90, h);
    frame.render_widget(Clear, rect);
    let title = format!(
        " {} {} → {} — expires in {}s ",
        if c.kind == crate::engine::deploy::DeployKind::Rollback {
            "Roll back"
        } else {
            "Deploy"
        },
        clean(&c.target),
        clean(&c.version),
        c.left(now)
    );
    let block = super::overlay::frame_block(title, theme);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let mut lines: Vec<Line> = c
        .lines
        .iter()
        .map(|l| Line::from(Span::styled(clean(l).into_owned(), theme.style(Slot::Text))))
        .collect();
    lines.push(Line::default());
    if c.protected {
        lines.push(Line::from(Span::styled(
            format!(
                "{} is protected: type its name and press enter to go on.",
                clean(&c.target)
            ),
            theme.style(Slot::Warning),
        )));
        lines.push(Line::from(vec![
            Span::styled("> ", theme.style(Slot::HelpKey)),
            Span::styled(clean(&c.typed.text).into_owned(), theme.style(Slot::Text)),
            Span::styled("▏", theme.style(Slot::HelpKey)),
        ]));
    } else {
        lines.push(Line::from(vec![
            Span::styled("y", theme.style(Slot::HelpKey)),
            Span::styled("/", theme.style(Slot::TextDim)),
            Span::styled("enter", theme.style(Slot::HelpKey)),
            Span::styled(" starts it · esc cancels", theme.style(Slot::TextDim)),
        ]));
    }
    if let Some(e) = &c.error {
        lines.push(Line::from(Span::styled(
            clean(e).into_owned(),
            theme.style(Slot::StatusFailure),
        )));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}
