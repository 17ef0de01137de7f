//! Rendering: a pure function of `&State`, the theme and the time.

pub mod layout;
pub mod text;

mod backlog;
mod builds;
mod deploys;
mod dispatch;
mod feed;
mod ghlog;
mod health;
mod overlay;
mod panes;
mod status;

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph, Wrap};

use crate::app::State;
use crate::domain::{PaneId, Timestamp};
use crate::theme::{Slot, Theme};
use layout::Mode;

/// Draws the whole screen.
pub fn render(frame: &mut Frame, state: &State, theme: &Theme, now: Timestamp) {
    let area = frame.area();
    let size = (area.width, area.height);
    if layout::mode(size) == Mode::TooSmall {
        too_small(frame, area, theme);
        return;
    }
    let areas = layout::areas(size, state.focus, layout::single(state));
    if let Some(tabs) = areas.tabs {
        panes::tabs(frame, tabs, state, theme);
    }
    for (pane, rect) in &areas.panes {
        let focused = *pane == state.focus;
        match pane {
            PaneId::Backlog => backlog::render(frame, *rect, state, theme, focused, now),
            PaneId::Builds => builds::render(frame, *rect, state, theme, focused, now),
            PaneId::Deploys => deploys::render(frame, *rect, state, theme, focused, now),
            PaneId::Health => health::render(frame, *rect, state, theme, focused, now),
        }
    }
    status::render(frame, areas.status, state, theme, now);
    if let Some(o) = &state.overlay {
        overlay::render(frame, area, state, o, theme, now);
    }
}

/// A pane title's counts: ` · 3 runs · 1 running` (the second part only when non-zero).
fn count_title(n: usize, noun: &str, active: usize, doing: &str) -> String {
    format!(
        " · {}{}",
        crate::domain::count(n, noun),
        if active > 0 {
            format!(" · {active} {doing}")
        } else {
            String::new()
        }
    )
}

fn too_small(frame: &mut Frame, area: Rect, theme: &Theme) {
    let (w, h) = layout::MIN_SIZE;
    let msg = format!(
        "terminal too small: need {w}×{h} (have {}×{})",
        area.width, area.height
    );
    let p = Paragraph::new(msg)
        .style(theme.style(Slot::Warning))
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: true });
    let y = area.height / 2;
    let rect = Rect::new(
        area.x,
        area.y + y.saturating_sub(1),
        area.width,
        area.height - y.saturating_sub(1),
    );
    frame.render_widget(p, rect);
}

/// A pane's frame: number, title, extra title text and a right-aligned badge.
fn pane_block<'a>(
    pane: PaneId,
    title: String,
    badge: Option<Span<'a>>,
    theme: &Theme,
    focused: bool,
    width: u16,
) -> Block<'a> {
    let (border, title_style) = if focused {
        (
            theme.style(Slot::BorderFocused),
            theme.style(Slot::TitleFocused),
        )
    } else {
        (theme.style(Slot::Border), theme.style(Slot::Title))
    };
    let mut block = Block::bordered()
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(border)
        .title(Line::from(Span::styled(
            format!(" {} {}{title} ", pane.index() + 1, pane.title()),
            title_style,
        )));
    if let Some(b) = badge {
        // The badge gets what the title leaves of the top border, never the title itself.
        let used = unicode_width::UnicodeWidthStr::width(
            format!(" {} {}{title} ", pane.index() + 1, pane.title()).as_str(),
        ) + 3;
        let room = (width as usize).saturating_sub(used);
        if room >= 6 {
            let text = text::fit(&b.content, room).into_owned();
            block = block.title(Line::from(Span::styled(text, b.style)).right_aligned());
        }
    }
    block
}
