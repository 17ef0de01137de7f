//! The builds pane: the runs list, and a run's detail with its steps, tests and log tail.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::pane_block;
use super::text::{clean, keep_sgr, pad};
use crate::app::Action;
use crate::app::State;
use crate::app::backlog::age;
use crate::app::builds::{BuildsPane, RunDetail, duration, status_label};
use crate::domain::{PaneId, Run, RunStatus, Timestamp};
use crate::theme::{Slot, Theme};

fn status_slot(s: RunStatus) -> Slot {
    match s {
        RunStatus::Queued => Slot::StatusQueued,
        RunStatus::Running => Slot::StatusRunning,
        RunStatus::Success => Slot::StatusSuccess,
        RunStatus::Failure => Slot::StatusFailure,
        RunStatus::Cancelled => Slot::StatusCancelled,
    }
}

/// Elapsed for a running run; for an ended one the steps' own (millisecond) durations.
fn elapsed_ms(r: &Run, now: Timestamp) -> u64 {
    if !r.status.is_final() {
        return (now - r.started).max(0) as u64 * 1000;
    }
    // Steps give the milliseconds; the wall clock (whole seconds) bounds them, since nested
    // steps (a GitHub job and its steps) would count twice, and stands in when none report.
    let steps: u64 = r.steps.iter().filter_map(|s| s.duration_ms).sum();
    match r.finished {
        Some(f) if f >= r.started => {
            let wall = (f - r.started) as u64 * 1000;
            if steps == 0 {
                wall
            } else {
                steps.min(wall + 999)
            }
        }
        _ => steps,
    }
}

/// `● test 2/3` for a running run, else the status label.
fn status_text(r: &Run) -> String {
    if r.status == RunStatus::Running
        && let Some((i, s)) = r
            .steps
            .iter()
            .enumerate()
            .find(|(_, s)| s.status == RunStatus::Running)
    {
        return format!("● {} {}/{}", s.name, i + 1, r.steps.len());
    }
    status_label(r.status).to_string()
}

fn tests_text(r: &Run) -> String {
    match r.tests {
        Some(t) if t.failed > 0 => format!("{}✓ {}✗", t.passed, t.failed),
        Some(t) => format!("{}✓", t.passed),
        None => "—".into(),
    }
}

/// Draws the builds pane into `area`.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    theme: &Theme,
    focused: bool,
    now: Timestamp,
) {
    let b = &state.builds;
    let Some(feed) = &b.feed else {
        super::panes::not_configured(frame, area, PaneId::Builds, theme, focused);
        return;
    };
    let badge = super::feed::badge(feed, theme, now);
    if let Some(d) = &b.detail {
        let block = pane_block(
            PaneId::Builds,
            " · run".into(),
            badge,
            theme,
            focused,
            area.width,
        );
        detail(frame, area, b, d, block, theme, now);
        return;
    }
    let running = b.runs.iter().filter(|r| !r.status.is_final()).count();
    let title = super::count_title(b.runs.len(), "run", running, "running");
    let block = pane_block(PaneId::Builds, title, badge, theme, focused, area.width);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width as usize;
    if inner.height == 0 || width < 10 {
        return;
    }
    // Remote CIs report no test counts: their column gives its room to the pipeline.
    let tests = !b.remote;
    let header = row(
        width, tests, "RUN", "PIPELINE", "STATUS", "COMMIT", "TIME", "AGE", "TESTS",
    );
    let mut lines = vec![Line::from(Span::styled(header, theme.style(Slot::TextDim)))];
    if b.runs.is_empty() {
        let msg = super::feed::empty_text(feed, || {
            format!(
                "No runs yet. Press {} to run a pipeline ({}).",
                state.keymap.label(Action::RunPipeline),
                b.pipelines.join(", ")
            )
        });
        lines.push(Line::from(Span::styled(msg, theme.style(Slot::TextDim))));
    }
    let rows = (inner.height as usize).saturating_sub(1);
    for (i, r) in b.runs.iter().enumerate().skip(b.offset).take(rows) {
        let commit: String = r.commit.as_deref().unwrap_or("—").chars().take(7).collect();
        let text = row(
            width,
            tests,
            &format!("#{}", r.number),
            &clean(&r.pipeline),
            &status_text(r),
            &commit,
            &duration(elapsed_ms(r, now)),
            &age(now, r.started),
            &tests_text(r),
        );
        let style = if i == b.selected && focused {
            theme.style(Slot::Selection)
        } else if i == b.selected {
            theme
                .style(Slot::TextDim)
                .patch(theme.style(Slot::Selection))
        } else {
            theme.style(status_slot(r.status))
        };
        lines.push(Line::from(Span::styled(text, style)));
    }
    frame.render_widget(
        super::feed::wrapped_when_empty(lines, b.runs.is_empty()),
        inner,
    );
}

#[allow(clippy::too_many_arguments)]
fn row(
    width: usize,
    tests_col: bool,
    run: &str,
    pipeline: &str,
    status: &str,
    commit: &str,
    time: &str,
    age: &str,
    tests: &str,
) -> String {
    let fixed = 7 + 16 + 8 + 8 + 5 + if tests_col { 10 } else { 0 };
    let pipe_w = width.saturating_sub(fixed).clamp(9, 32);
    let s = format!(
        "{}{}{}{}{:>7} {:>4} {}",
        pad(run, 7),
        pad(pipeline, pipe_w - 1) + " ",
        pad(status, 15) + " ",
        pad(commit, 8),
        time,
        age,
        if tests_col { tests } else { "" }
    );
    pad(&s, width)
}

fn detail(
    frame: &mut Frame,
    area: Rect,
    b: &BuildsPane,
    d: &RunDetail,
    block: Block,
    theme: &Theme,
    now: Timestamp,
) {
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(r) = b.run(&d.run_id) else {
        let p = Paragraph::new(format!("Run {} is no longer listed.", d.run_id))
            .style(theme.style(Slot::TextDim));
        frame.render_widget(p, inner);
        return;
    };
    let dim = theme.style(Slot::TextDim);
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!("{} #{} ", clean(&r.pipeline), r.number),
            theme.style(Slot::MarkdownHeading),
        ),
        Span::styled(status_text(r), theme.style(status_slot(r.status))),
        Span::styled(
            format!(
                " · {} by {} · {} · {} ago",
                r.trigger,
                clean(&r.actor),
                duration(elapsed_ms(r, now)),
                age(now, r.started)
            ),
            dim,
        ),
    ])];
    if let Some(c) = &r.commit {
        let branch = r
            .branch
            .as_deref()
            .map(|b| format!(" ({})", clean(b)))
            .unwrap_or_default();
        lines.push(Line::from(Span::styled(
            format!("commit {}{branch}", c.chars().take(12).collect::<String>()),
            dim,
        )));
    }
    if let Some(t) = r.tests {
        let style = if t.failed > 0 {
            theme.style(Slot::StatusFailure)
        } else {
            theme.style(Slot::StatusSuccess)
        };
        lines.push(Line::from(Span::styled(
            format!(
                "tests: {} passed, {} failed, {} skipped",
                t.passed, t.failed, t.skipped
            ),
            style,
        )));
    }
    for f in &r.failed_tests {
        lines.push(Line::from(Span::styled(
            format!("  ✗ {}", clean(f)),
            theme.style(Slot::StatusFailure),
        )));
    }
    for f in &r.flaky_tests {
        lines.push(Line::from(Span::styled(
            format!("  ~ flaky: {}", clean(f)),
            theme.style(Slot::Warning),
        )));
    }
    for (i, s) in r.steps.iter().enumerate() {
        let exit = s.exit_code.map_or(String::new(), |c| format!("exit {c}"));
        let took = s.duration_ms.map_or(String::new(), duration);
        lines.push(Line::from(vec![
            Span::styled(
                format!(
                    " {} ",
                    status_label(s.status).split(' ').next().unwrap_or("")
                ),
                theme.style(status_slot(s.status)),
            ),
            Span::styled(
                pad(&format!("{}. {}", i + 1, clean(&s.name)), 24),
                theme.style(Slot::Text),
            ),
            Span::styled(format!("{:>8} {:>8}", exit, took), dim),
        ]));
    }
    let rule_w = (inner.width as usize).saturating_sub(2).min(40);
    let mut rule = vec![Span::styled(
        format!("{} log", "─".repeat(rule_w)),
        theme.style(Slot::HelpSection),
    )];
    let where_ = if d.follow {
        " · following".to_string()
    } else {
        " · G follows".to_string()
    };
    rule.push(Span::styled(where_, dim));
    if d.wrap {
        rule.push(Span::styled(" · wrap", dim));
    }
    if d.searching || !d.search.text.is_empty() {
        let cursor = if d.searching { "▏" } else { "" };
        let style = if d.searching {
            theme.style(Slot::InputActive)
        } else {
            theme.style(Slot::Input)
        };
        rule.push(Span::styled(" ", dim));
        rule.push(Span::styled(
            format!("/{}{cursor}", clean(&d.search.text)),
            style,
        ));
    }
    if let Some(n) = &d.notice {
        rule.push(Span::styled(
            format!(" · {}", clean(n)),
            theme.style(Slot::Warning),
        ));
    }
    lines.push(Line::from(rule));
    let header = Paragraph::new(lines);
    let header_h = crate::app::builds::header_rows(r) as u16;
    frame.render_widget(
        header,
        Rect {
            height: header_h.min(inner.height),
            ..inner
        },
    );
    let body = Rect {
        y: inner.y + header_h.min(inner.height),
        height: inner.height.saturating_sub(header_h),
        ..inner
    };
    let mut log_lines = Vec::new();
    match &d.window {
        None => log_lines.push(Line::from(Span::styled("loading…", dim))),
        Some(Err(e)) => log_lines.push(Line::from(Span::styled(
            format!("log unavailable: {}", clean(e)),
            theme.style(Slot::Error),
        ))),
        Some(Ok(w)) if w.lines.is_empty() => {
            log_lines.push(Line::from(Span::styled("(no output yet)", dim)))
        }
        Some(Ok(w)) => {
            let colour = theme.style(Slot::Text).fg.is_some()
                || theme.style(Slot::StatusFailure).fg.is_some();
            let query = (!d.search.text.is_empty()).then_some(d.search.text.as_str());
            for (i, l) in w.lines.iter().enumerate() {
                let safe = keep_sgr(l);
                let is_match = d.found.is_some_and(|f| {
                    w.offsets.get(i).is_some_and(|&o| o <= f)
                        && w.offsets.get(i + 1).is_none_or(|&n| f < n)
                });
                let line = match query {
                    Some(q) if contains(&safe, q) => highlight(&safe, q, theme, is_match),
                    _ if b.remote => super::ghlog::line(&safe, colour, theme),
                    _ => sgr_line(&safe, colour, theme.style(Slot::Text)),
                };
                log_lines.push(line);
            }
        }
    }
    let mut p = Paragraph::new(log_lines);
    if d.wrap {
        p = p.wrap(ratatui::widgets::Wrap { trim: false });
    }
    frame.render_widget(p, body);
}

/// Smart case: a query without capitals matches any case.
fn contains(line: &str, q: &str) -> bool {
    if q.chars().any(char::is_uppercase) {
        line.contains(q)
    } else {
        line.to_ascii_lowercase().contains(q)
    }
}

/// A line with every occurrence of `q` marked; colours from the log are dropped on it.
fn highlight(line: &str, q: &str, theme: &Theme, current: bool) -> Line<'static> {
    let plain = crate::engine::pipeline::testparse::strip_escapes(line);
    let fold = !q.chars().any(char::is_uppercase);
    // ASCII folding changes no byte offsets, so positions in `hay` are positions in `plain`.
    let hay = if fold {
        plain.to_ascii_lowercase()
    } else {
        plain.clone()
    };
    let base = theme.style(Slot::Text);
    let mut mark = theme.style(Slot::Match);
    if current {
        mark = mark.add_modifier(Modifier::REVERSED);
    }
    let mut spans = Vec::new();
    let mut at = 0;
    while let Some(i) = hay[at..].find(q) {
        let s = at + i;
        spans.push(Span::styled(plain[at..s].to_string(), base));
        spans.push(Span::styled(plain[s..s + q.len()].to_string(), mark));
        at = s + q.len();
    }
    spans.push(Span::styled(plain[at..].to_string(), base));
    Line::from(spans)
}

fn ansi(n: u8) -> Color {
    [
        Color::Black,
        Color::Red,
        Color::Green,
        Color::Yellow,
        Color::Blue,
        Color::Magenta,
        Color::Cyan,
        Color::Gray,
        Color::DarkGray,
        Color::LightRed,
        Color::LightGreen,
        Color::LightYellow,
        Color::LightBlue,
        Color::LightMagenta,
        Color::LightCyan,
        Color::White,
    ][(n & 15) as usize]
}

/// Applies SGR parameters to a style; colours only when `colour` is on.
fn apply_sgr(mut style: Style, params: &str, base: Style, colour: bool) -> Style {
    let nums: Vec<u16> = params.split(';').map(|p| p.parse().unwrap_or(0)).collect();
    let mut i = 0;
    while i < nums.len() {
        let n = nums[i];
        match n {
            0 => style = base,
            1 => style = style.add_modifier(Modifier::BOLD),
            2 => style = style.add_modifier(Modifier::DIM),
            3 => style = style.add_modifier(Modifier::ITALIC),
            4 => style = style.add_modifier(Modifier::UNDERLINED),
            7 => style = style.add_modifier(Modifier::REVERSED),
            22 => style = style.remove_modifier(Modifier::BOLD | Modifier::DIM),
            30..=37 if colour => style = style.fg(ansi((n - 30) as u8)),
            90..=97 if colour => style = style.fg(ansi((n - 90 + 8) as u8)),
            40..=47 if colour => style = style.bg(ansi((n - 40) as u8)),
            39 => style = style.fg(base.fg.unwrap_or(Color::Reset)),
            49 => style = style.bg(base.bg.unwrap_or(Color::Reset)),
            38 | 48 => {
                let c = match nums.get(i + 1) {
                    Some(5) => nums.get(i + 2).map(|v| (Color::Indexed(*v as u8), 3)),
                    Some(2) => match (nums.get(i + 2), nums.get(i + 3), nums.get(i + 4)) {
                        (Some(r), Some(g), Some(b)) => {
                            Some((Color::Rgb(*r as u8, *g as u8, *b as u8), 5))
                        }
                        _ => None,
                    },
                    _ => None,
                };
                if let Some((c, used)) = c {
                    if colour {
                        style = if n == 38 { style.fg(c) } else { style.bg(c) };
                    }
                    i += used - 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    style
}

/// A log line with its SGR colours turned into styles.
pub fn sgr_line(line: &str, colour: bool, base: Style) -> Line<'static> {
    let mut spans = Vec::new();
    let mut style = base;
    let mut rest = line;
    while let Some(i) = rest.find("\x1b[") {
        if i > 0 {
            spans.push(Span::styled(rest[..i].to_string(), style));
        }
        let after = &rest[i + 2..];
        let Some(m) = after.find('m') else {
            rest = "";
            break;
        };
        style = apply_sgr(style, &after[..m], base, colour);
        rest = &after[m + 1..];
    }
    if !rest.is_empty() {
        spans.push(Span::styled(rest.to_string(), style));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_run_takes_its_steps_bounded_by_its_wall_clock() {
        let step = |ms| crate::domain::Step {
            name: "s".into(),
            status: RunStatus::Success,
            exit_code: None,
            started: Some(100),
            duration_ms: Some(ms),
            log_range: None,
        };
        let mut r = Run {
            id: "1".into(),
            provider: "gh".into(),
            pipeline: "CI".into(),
            number: 1,
            status: RunStatus::Success,
            commit: None,
            branch: None,
            trigger: String::new(),
            actor: String::new(),
            started: 100,
            finished: Some(190),
            // A job of 90 s and its two steps: summed, they would say 180 s.
            steps: vec![step(90_000), step(2_000), step(88_000)],
            tests: None,
            failed_tests: vec![],
            flaky_tests: vec![],
            log_path: None,
        };
        assert_eq!(elapsed_ms(&r, 500), 90_999);
        r.steps.clear();
        assert_eq!(elapsed_ms(&r, 500), 90_000, "no steps: the wall clock");
        r.steps = vec![step(142)];
        r.finished = Some(100);
        assert_eq!(
            elapsed_ms(&r, 500),
            142,
            "a quick local run keeps its milliseconds"
        );
    }

    #[test]
    fn highlight_survives_case_folding_that_changes_byte_lengths() {
        let theme = crate::theme::ThemeSet::load(None).unwrap();
        let theme = theme.get("default").unwrap();
        for line in ["İİİ error here", "\u{212A}elvin error", "ß error"] {
            let l = highlight(line, "error", theme, false);
            let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            assert_eq!(text, line);
        }
    }

    #[test]
    fn sgr_becomes_style_and_colour_can_be_off() {
        let base = Style::default();
        let l = sgr_line(
            "\x1b[1;31merror\x1b[0m: \x1b[38;5;208mx\x1b[38;2;1;2;3my",
            true,
            base,
        );
        assert_eq!(l.spans[0].content, "error");
        assert_eq!(l.spans[0].style.fg, Some(Color::Red));
        assert!(l.spans[0].style.add_modifier.contains(Modifier::BOLD));
        assert_eq!(l.spans[1].style, base);
        assert_eq!(l.spans[2].style.fg, Some(Color::Indexed(208)));
        assert_eq!(l.spans[3].style.fg, Some(Color::Rgb(1, 2, 3)));
        let mono = sgr_line("\x1b[31mred\x1b[38;5;", false, base);
        assert_eq!(mono.spans[0].style.fg, None);
        assert_eq!(mono.spans.len(), 1);
    }
}
