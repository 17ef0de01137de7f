//! Mouse support (off unless `[ui] mouse = true`): click to focus a pane, a tab or a row;
//! the wheel scrolls the pane under the pointer.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::State;
use super::update::move_or_scroll;
use crate::domain::PaneId;
use crate::ui::layout;

/// Rows the wheel moves per notch.
const WHEEL_ROWS: isize = 3;

/// Applies a mouse event; true when something changed.
pub(super) fn handle(state: &mut State, m: MouseEvent) -> bool {
    let at = Position::new(m.column, m.row);
    let areas = layout::areas(state.size, state.focus, layout::single(state));
    if let Some(tabs) = areas.tabs
        && tabs.contains(at)
        && m.kind == MouseEventKind::Down(MouseButton::Left)
    {
        // Tabs are drawn as "▸1 Backlog │…": each label plus its separator, left to right.
        let mut x = tabs.x;
        for pane in PaneId::ALL {
            let w = pane.title().chars().count() as u16 + 4;
            if m.column < x + w {
                state.focus = pane;
                return true;
            }
            x += w + 1;
        }
        return false;
    }
    let Some(&(pane, rect)) = areas.panes.iter().find(|(_, r)| r.contains(at)) else {
        return false;
    };
    match m.kind {
        MouseEventKind::Down(MouseButton::Left) => {
            state.focus = pane;
            if pane == PaneId::Backlog {
                select_row(state, rect, m.row);
            }
            true
        }
        MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
            state.focus = pane;
            let d = if m.kind == MouseEventKind::ScrollDown {
                WHEEL_ROWS
            } else {
                -WHEEL_ROWS
            };
            move_or_scroll(state, d, &mut Vec::new());
            true
        }
        _ => false,
    }
}

/// Selects the backlog row drawn at screen row `y` (below the border and the header).
fn select_row(state: &mut State, rect: Rect, y: u16) {
    let b = &mut state.backlog;
    if b.detail.is_some() || y < rect.y + 2 {
        return;
    }
    let pos = b.offset + (y - rect.y - 2) as usize;
    if pos < b.view.len() {
        b.selected = pos;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{Event, Init, update};
    use crossterm::event::KeyModifiers;

    fn mouse(kind: MouseEventKind, column: u16, row: u16) -> Event {
        Event::Mouse(MouseEvent {
            kind,
            column,
            row,
            modifiers: KeyModifiers::NONE,
        })
    }

    #[test]
    fn clicks_focus_and_select_and_the_wheel_scrolls() {
        let mut s = State::new(Init::local("w", (160, 48)));
        update(&mut s, Event::Tick, 0);
        let items = (1..=40)
            .map(|n| crate::domain::WorkItem::new(&n.to_string(), "t", n))
            .collect();
        update(
            &mut s,
            Event::BacklogListed {
                request: 1,
                result: Ok(Some(items)),
            },
            0,
        );
        update(
            &mut s,
            mouse(MouseEventKind::Down(MouseButton::Left), 100, 30),
            0,
        );
        assert_eq!(s.focus, PaneId::Health);
        update(
            &mut s,
            mouse(MouseEventKind::Down(MouseButton::Left), 10, 4),
            0,
        );
        assert_eq!((s.focus, s.backlog.selected), (PaneId::Backlog, 2));
        update(&mut s, mouse(MouseEventKind::ScrollDown, 10, 4), 0);
        assert_eq!(s.backlog.selected, 5);
        s.size = (80, 24);
        update(
            &mut s,
            mouse(MouseEventKind::Down(MouseButton::Left), 14, 0),
            0,
        );
        assert_eq!(s.focus, PaneId::Builds);
    }
}
