//! Screen geometry: grid, tabs or "too small", computed from the size alone so `update`
//! (scrolling) and `render` agree.

use ratatui::layout::Rect;

use crate::app::State;
use crate::domain::PaneId;

/// Below this the cockpit shows only "terminal too small".
pub const MIN_SIZE: (u16, u16) = (50, 12);
/// From this size up the four panes sit side by side.
pub const GRID_SIZE: (u16, u16) = (120, 32);

/// How the screen is arranged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Below [`MIN_SIZE`].
    TooSmall,
    /// 2×2 panes.
    Grid,
    /// A tab strip and one pane.
    Tabs,
}

/// The arrangement for a terminal size.
pub fn mode(size: (u16, u16)) -> Mode {
    if size.0 < MIN_SIZE.0 || size.1 < MIN_SIZE.1 {
        Mode::TooSmall
    } else if size.0 >= GRID_SIZE.0 && size.1 >= GRID_SIZE.1 {
        Mode::Grid
    } else {
        Mode::Tabs
    }
}

/// Where each part of the screen goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Areas {
    /// The tab strip, in tab mode.
    pub tabs: Option<Rect>,
    /// The visible panes.
    pub panes: Vec<(PaneId, Rect)>,
    /// The status bar.
    pub status: Rect,
}

/// Whether one pane fills the body: zoomed, or the backlog showing a detail view.
pub fn single(state: &State) -> bool {
    state.zoom
        || (state.focus == PaneId::Backlog && state.backlog.detail.is_some())
        || (state.focus == PaneId::Builds && state.builds.detail.is_some())
}

/// Lays out the screen for `size`, with `focus` shown when only one pane fits.
pub fn areas(size: (u16, u16), focus: PaneId, single: bool) -> Areas {
    let (w, h) = size;
    let status = Rect::new(0, h.saturating_sub(1), w, 1.min(h));
    let body_h = h.saturating_sub(1);
    match mode(size) {
        Mode::Grid if !single => {
            let (lw, rw) = (w / 2, w - w / 2);
            let (th, bh) = (body_h / 2, body_h - body_h / 2);
            Areas {
                tabs: None,
                panes: vec![
                    (PaneId::Backlog, Rect::new(0, 0, lw, th)),
                    (PaneId::Builds, Rect::new(lw, 0, rw, th)),
                    (PaneId::Deploys, Rect::new(0, th, lw, bh)),
                    (PaneId::Health, Rect::new(lw, th, rw, bh)),
                ],
                status,
            }
        }
        Mode::Grid => Areas {
            tabs: None,
            panes: vec![(focus, Rect::new(0, 0, w, body_h))],
            status,
        },
        Mode::Tabs | Mode::TooSmall => Areas {
            tabs: Some(Rect::new(0, 0, w, 1.min(h))),
            panes: vec![(focus, Rect::new(0, 1, w, body_h.saturating_sub(1)))],
            status,
        },
    }
}

/// Rows of items the backlog list shows (borders, header and filter line excluded).
pub fn backlog_rows(state: &State) -> usize {
    let a = areas(state.size, PaneId::Backlog, state.zoom);
    let rect = a
        .panes
        .iter()
        .find(|(p, _)| *p == PaneId::Backlog)
        .map_or(Rect::default(), |(_, r)| *r);
    let filter = usize::from(state.backlog.filtering || !state.backlog.filter.text.is_empty());
    (rect.height as usize).saturating_sub(3 + filter)
}

/// Rows of runs the builds list shows (borders and header excluded).
pub fn builds_rows(state: &State) -> usize {
    let a = areas(state.size, PaneId::Builds, state.zoom);
    a.panes
        .iter()
        .find(|(p, _)| *p == PaneId::Builds)
        .map_or(0, |(_, r)| (r.height as usize).saturating_sub(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_by_size() {
        assert_eq!(mode((0, 0)), Mode::TooSmall);
        assert_eq!(mode((80, 24)), Mode::Tabs);
        assert_eq!(mode((119, 40)), Mode::Tabs);
        assert_eq!(mode((120, 32)), Mode::Grid);
    }

    #[test]
    fn grid_covers_the_body_exactly() {
        let a = areas((121, 33), PaneId::Builds, false);
        let area: u32 = a.panes.iter().map(|(_, r)| r.area()).sum();
        assert_eq!(area, 121 * 32);
        let a = areas((80, 24), PaneId::Health, false);
        assert_eq!(a.panes, vec![(PaneId::Health, Rect::new(0, 1, 80, 22))]);
    }
}
