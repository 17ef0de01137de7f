//! The tab strip, and the panes whose capability is not configured.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::pane_block;
use crate::app::{State, not_configured as why};
use crate::domain::PaneId;
use crate::theme::{Slot, Theme};

/// The one-line tab strip shown when only one pane fits.
pub fn tabs(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let mut spans = Vec::new();
    for pane in PaneId::ALL {
        let style = if pane == state.focus {
            theme.style(Slot::TabActive)
        } else {
            theme.style(Slot::TabInactive)
        };
        let marker = if pane == state.focus { "▸" } else { " " };
        spans.push(Span::styled(
            format!("{marker}{} {} ", pane.index() + 1, pane.title()),
            style,
        ));
        spans.push(Span::styled("│", theme.style(Slot::Border)));
    }
    spans.pop();
    frame.render_widget(
        Paragraph::new(Line::from(spans)).style(theme.style(Slot::Text)),
        area,
    );
}

/// A pane that says plainly it has nothing configured.
pub fn not_configured(frame: &mut Frame, area: Rect, pane: PaneId, theme: &Theme, focused: bool) {
    let block = pane_block(pane, String::new(), None, theme, focused, area.width);
    let mut lines = Vec::new();
    for (i, l) in why(pane).lines().enumerate() {
        let slot = if i == 0 { Slot::Text } else { Slot::TextDim };
        lines.push(Line::from(Span::styled(l.to_string(), theme.style(slot))));
    }
    frame.render_widget(
        Paragraph::new(lines).block(block).wrap(Wrap { trim: true }),
        area,
    );
}
