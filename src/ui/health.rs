//! The health pane: checks grouped by service with a status glyph, value and unit, a
//! sparkline, since, and a forecast badge; the detail is a chart of the series with the
//! threshold and the forecast line.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph, Wrap};

use super::pane_block;
use super::text::{clean, fit, pad};
use crate::app::State;
use crate::app::backlog::age;
use crate::domain::{Check, CheckStatus, PaneId, Timestamp};
use crate::engine::health::forecast;
use crate::engine::health::monitor::fmt_value;
use crate::theme::{Slot, Theme};

/// Glyph, word and slot of a status, readable without colour.
pub fn status_label(s: CheckStatus) -> (&'static str, Slot) {
    match s {
        CheckStatus::Ok => ("✓ ok", Slot::HealthOk),
        CheckStatus::Warn => ("! warn", Slot::HealthWarn),
        CheckStatus::Crit => ("✗ CRIT", Slot::HealthCrit),
        CheckStatus::Unknown => ("? unknown", Slot::HealthUnknown),
    }
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The last `width` samples as block characters, scaled between their min and max.
pub fn sparkline(series: &[(Timestamp, f64)], width: usize) -> String {
    let tail = &series[series.len().saturating_sub(width)..];
    let (lo, hi) = tail
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), (_, v)| {
            (l.min(*v), h.max(*v))
        });
    tail.iter()
        .map(|(_, v)| {
            if hi > lo {
                BARS[(((v - lo) / (hi - lo)) * 7.0).round().clamp(0.0, 7.0) as usize]
            } else {
                BARS[0]
            }
        })
        .collect()
}

/// The value with its unit (`12 ms`, `43.1 %`), or `—`.
pub fn value_text(c: &Check) -> String {
    match c.value {
        Some(v) => {
            let unit = c.unit.as_deref().unwrap_or("");
            let sep = if unit == "%" || unit.is_empty() {
                ""
            } else {
                " "
            };
            format!("{}{sep}{unit}", fmt_value(v))
        }
        None => "—".into(),
    }
}

/// The forecast badge: `→ 900 jobs in ~45 min`.
pub fn forecast_text(c: &Check) -> Option<String> {
    let f = c.forecast.as_ref()?;
    Some(format!(
        "→ {}{} in {}",
        fmt_value(f.threshold),
        c.unit
            .as_deref()
            .map(|u| format!(" {u}"))
            .unwrap_or_default(),
        forecast::human(f.seconds)
    ))
}

fn check_line(c: &Check, width: usize, name_w: usize, now: Timestamp) -> String {
    let (label, _) = status_label(c.status);
    let spark_w = if width >= 110 { 12 } else { 6 };
    let spark = sparkline(&c.series, spark_w);
    let since = c.since.map(|s| age(now, s)).unwrap_or_default();
    let tail = forecast_text(c)
        .filter(|_| c.status != CheckStatus::Crit)
        .unwrap_or_else(|| c.detail.clone());
    let firing = match (c.firing, c.status) {
        (false, _) => "",
        (true, CheckStatus::Ok | CheckStatus::Warn) => "recovering ",
        (true, _) => "FIRING ",
    };
    let insecure = if c.insecure { "TLS UNVERIFIED " } else { "" };
    format!(
        " {:<9} {} {:>10} {} {:>4}  {firing}{insecure}{}",
        label,
        pad(&clean(&c.check), name_w),
        fit(&value_text(c), 10),
        pad(&spark, spark_w),
        since,
        clean(&tail)
    )
}

/// Draws the pane.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    theme: &Theme,
    focused: bool,
    now: Timestamp,
) {
    let h = &state.health;
    if !h.enabled {
        super::panes::not_configured(frame, area, PaneId::Health, theme, focused);
        return;
    }
    let badge = h.outbox_error.as_ref().map(|e| {
        Span::styled(
            format!(" incident loop waiting: {} ", fit(&clean(e), 48)),
            theme.style(Slot::BadgeError),
        )
    });
    let mut title = super::count_title(h.checks.len(), "check", h.failing(), "not ok");
    let idle = h.not_deployed();
    if idle > 0 {
        title.push_str(&format!(" · {idle} not deployed yet"));
    }
    let block = pane_block(PaneId::Health, title, badge, theme, focused, area.width);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width as usize;
    if inner.height == 0 || width < 10 {
        return;
    }
    if h.detail
        && let Some(c) = h.selected_check()
    {
        detail(frame, inner, c, theme, now);
        return;
    }
    if h.checks.is_empty() {
        let msg = Line::from(Span::styled("checking…", theme.style(Slot::TextDim)));
        frame.render_widget(Paragraph::new(msg), inner);
        return;
    }
    // Names get the room the longest needs, up to 45 % of the width.
    let name_w = h
        .checks
        .iter()
        .map(|c| unicode_width::UnicodeWidthStr::width(c.check.as_str()))
        .max()
        .unwrap_or(12)
        .clamp(12, (width * 45 / 100).max(12));
    // Rows: a heading per service, then its checks; keep the selection on screen.
    let mut rows: Vec<(Option<usize>, Line)> = Vec::new();
    let mut service = None;
    for (i, c) in h.checks.iter().enumerate() {
        if service != Some(&c.service) {
            service = Some(&c.service);
            let n = h.checks.iter().filter(|x| x.service == c.service).count();
            let mine = || h.checks.iter().filter(|x| x.service == c.service);
            let bad = mine()
                .filter(|x| x.status != CheckStatus::Ok && !x.not_deployed())
                .count();
            let idle = mine().filter(|x| x.not_deployed()).count();
            let mut text = format!("{} · {n}", clean(&c.service));
            if bad > 0 {
                text.push_str(&format!(" · {bad} not ok"));
            }
            if idle > 0 {
                text.push_str(&format!(" · {idle} not deployed yet"));
            }
            rows.push((
                None,
                Line::from(Span::styled(text, theme.style(Slot::Title))),
            ));
        }
        let (_, slot) = status_label(c.status);
        let style = if i == h.selected && focused {
            theme.style(Slot::Selection)
        } else {
            theme.style(slot)
        };
        rows.push((
            Some(i),
            Line::from(Span::styled(
                pad(&check_line(c, width, name_w, now), width),
                style,
            )),
        ));
    }
    let height = inner.height as usize;
    let at = rows
        .iter()
        .position(|(i, _)| *i == Some(h.selected))
        .unwrap_or(0);
    let first = (at + 1).saturating_sub(height);
    let lines: Vec<Line> = rows
        .into_iter()
        .skip(first)
        .take(height)
        .map(|(_, l)| l)
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The chart of one check: samples, the threshold and the forecast line, with the facts below.
fn detail(frame: &mut Frame, area: Rect, c: &Check, theme: &Theme, now: Timestamp) {
    let (label, slot) = status_label(c.status);
    let mut facts = vec![Line::from(vec![
        Span::styled(format!("{label} "), theme.style(slot)),
        Span::styled(clean(&c.check).into_owned(), theme.style(Slot::Text)),
        Span::styled(
            format!(
                "  {} · since {} ago{}",
                value_text(c),
                c.since.map(|s| age(now, s)).unwrap_or_else(|| "?".into()),
                match (c.firing, c.status) {
                    (false, _) => "",
                    (true, CheckStatus::Ok | CheckStatus::Warn) => " · recovering",
                    (true, _) => " · FIRING",
                }
            ),
            theme.style(Slot::TextDim),
        ),
    ])];
    if c.forecast.is_none() || !c.detail.starts_with("forecast:") {
        facts.push(Line::from(Span::styled(
            clean(&c.detail).into_owned(),
            theme.style(Slot::Text),
        )));
    }
    if let Some(f) = forecast_text(c) {
        let method = c.forecast.as_ref().map(|f| f.method.as_str()).unwrap_or("");
        facts.push(Line::from(Span::styled(
            format!("forecast ({method}): {f}"),
            theme.style(Slot::HealthWarn),
        )));
    }
    if let Some(r) = &c.remedy {
        let hint = if r.starts_with("proposed: ") || r.starts_with("auto: ") {
            " · X runs it (asks first)"
        } else {
            ""
        };
        facts.push(Line::from(Span::styled(
            format!("remediation {}{hint}", clean(r)),
            theme.style(Slot::Info),
        )));
    }
    let thresholds = match (c.warn, c.crit) {
        (Some(w), Some(k)) => format!("warn at {} · crit at {}", fmt_value(w), fmt_value(k)),
        (Some(w), None) => format!("warn at {}", fmt_value(w)),
        (None, Some(k)) => format!("crit at {}", fmt_value(k)),
        (None, None) => "no thresholds".into(),
    };
    facts.push(Line::from(Span::styled(
        format!("{thresholds} · {} samples · esc backs out", c.series.len()),
        theme.style(Slot::TextDim),
    )));
    let [chart_area, facts_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(facts.len() as u16)]).areas(area);
    frame.render_widget(Paragraph::new(facts).wrap(Wrap { trim: true }), facts_area);
    if c.series.len() < 2 || chart_area.height < 3 {
        let msg = Span::styled(
            "not enough samples for a chart yet",
            theme.style(Slot::TextDim),
        );
        frame.render_widget(Paragraph::new(Line::from(msg)), chart_area);
        return;
    }
    // x: seconds relative to now (negative is the past).
    let pts: Vec<(f64, f64)> = c
        .series
        .iter()
        .map(|(t, v)| ((t - now) as f64, *v))
        .collect();
    let x_min = pts.first().map_or(-60.0, |p| p.0);
    let mut x_max = 0.0f64;
    let mut fc_line = Vec::new();
    // Where the forecast meets its threshold, when that is on the chart; else how far off.
    let mut breach: Vec<(f64, f64)> = Vec::new();
    let mut beyond: Option<f64> = None;
    if let (Some(f), Some(last)) = (&c.forecast, pts.last()) {
        // The axis reaches the breach when it is within four times the history's width;
        // further off, the line runs to twice that width and the axis says when it arrives.
        let hit = last.0 + f.seconds;
        let room = 4.0 * (last.0 - x_min).max(60.0);
        let end = if f.seconds <= room {
            breach.push((hit, f.threshold));
            hit
        } else {
            beyond = Some(hit);
            last.0 + room / 2.0
        };
        fc_line = vec![*last, (end, last.1 + f.slope * (end - last.0))];
        x_max = x_max.max(end);
    }
    let mut y_min = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let mut y_max = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    for t in [c.warn, c.crit].into_iter().flatten() {
        y_min = y_min.min(t);
        y_max = y_max.max(t);
    }
    for p in &fc_line {
        y_min = y_min.min(p.1);
        y_max = y_max.max(p.1);
    }
    if y_max <= y_min {
        y_max = y_min + 1.0;
    }
    let pad_y = (y_max - y_min) * 0.05;
    let warn_line: Vec<(f64, f64)> = c
        .warn
        .map(|t| vec![(x_min, t), (x_max, t)])
        .unwrap_or_default();
    let crit_line: Vec<(f64, f64)> = c
        .crit
        .map(|t| vec![(x_min, t), (x_max, t)])
        .unwrap_or_default();
    let mut sets = vec![
        Dataset::default()
            .name("samples")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.style(slot))
            .data(&pts),
    ];
    for (name, line, slot) in [
        ("warn", &warn_line, Slot::HealthWarn),
        ("crit", &crit_line, Slot::HealthCrit),
    ] {
        if !line.is_empty() {
            sets.push(
                Dataset::default()
                    .name(name)
                    .marker(Marker::Dot)
                    .graph_type(GraphType::Line)
                    .style(theme.style(slot))
                    .data(line),
            );
        }
    }
    if !breach.is_empty() {
        sets.push(
            Dataset::default()
                .name("breach")
                .marker(Marker::Block)
                .graph_type(GraphType::Scatter)
                .style(theme.style(Slot::HealthCrit))
                .data(&breach),
        );
    }
    if !fc_line.is_empty() {
        sets.push(
            Dataset::default()
                .name("forecast")
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(theme.style(Slot::HealthWarn))
                .data(&fc_line),
        );
    }
    let span = |s: f64| {
        if s.abs() < 1.0 {
            "now".to_string()
        } else if s < 0.0 {
            format!("-{}", forecast::human(-s).trim_start_matches('~'))
        } else {
            format!("+{}", forecast::human(s).trim_start_matches('~'))
        }
    };
    let dim = theme.style(Slot::TextDim);
    let chart = Chart::new(sets)
        .legend_position(None)
        .x_axis(
            Axis::default()
                .style(dim)
                .bounds([x_min, x_max.max(x_min + 1.0)])
                .labels([
                    span(x_min),
                    match beyond {
                        Some(hit) => format!("{} · breach {} →", span(x_max), span(hit)),
                        None => span(x_max),
                    },
                ]),
        )
        .y_axis(
            Axis::default()
                .style(dim)
                .bounds([y_min - pad_y, y_max + pad_y])
                .labels([fmt_value(y_min), fmt_value(y_max)]),
        )
        .style(Style::default());
    frame.render_widget(chart, chart_area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_and_clip() {
        let s: Vec<(Timestamp, f64)> = (0..20).map(|i| (i, i as f64)).collect();
        let line = sparkline(&s, 8);
        assert_eq!(line.chars().count(), 8);
        assert!(line.starts_with('▁') && line.ends_with('█'), "{line}");
        assert_eq!(sparkline(&[(0, 5.0), (1, 5.0)], 8), "▁▁");
        assert_eq!(sparkline(&[], 8), "");
    }
}
