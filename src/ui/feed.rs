//! What every pane fed by a provider shows about its feed: the title's staleness badge, and
//! what an empty list says (loading, or why nothing loaded).

use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::text::{clean, fit};
use crate::app::backlog::age;
use crate::app::feed::{AUTH_ADVICE, Feed};
use crate::domain::Timestamp;
use crate::theme::{Slot, Theme};

/// What an empty list says: loading, why nothing has loaded (in full, with what to do), or
/// `empty` once data has arrived.
pub(super) fn empty_text(feed: &Feed, empty: impl FnOnce() -> String) -> String {
    match (feed.loaded_at, &feed.error) {
        (None, None) => "loading…".into(),
        (None, Some(e)) if e.auth => {
            format!("Nothing loaded: {}. {}", clean(&e.message), AUTH_ADVICE)
        }
        (None, Some(e)) => format!(
            "Nothing loaded yet: {}. Retrying on its own.",
            clean(&e.message)
        ),
        (Some(_), _) => empty(),
    }
}

/// A list's lines; when it is empty its one message wraps instead of being cut.
pub(super) fn wrapped_when_empty(lines: Vec<Line<'_>>, empty: bool) -> Paragraph<'_> {
    let p = Paragraph::new(lines);
    if empty {
        p.wrap(Wrap { trim: true })
    } else {
        p
    }
}

/// The pane title's badge: how stale and why, or still loading; none when fresh.
pub(super) fn badge<'a>(feed: &Feed, theme: &Theme, now: Timestamp) -> Option<Span<'a>> {
    if let Some(e) = &feed.error {
        let since = match feed.loaded_at {
            Some(t) => format!("stale {}", age(now, t)),
            None => "no data".into(),
        };
        let msg = format!(" ⚠ {since}: {} ", fit(&clean(&e.message), 48));
        return Some(Span::styled(msg, theme.style(Slot::BadgeStale)));
    }
    if feed.loaded_at.is_none() {
        return Some(Span::styled(" loading… ", theme.style(Slot::TextDim)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::feed::FeedError;

    fn feed(loaded_at: Option<Timestamp>, error: Option<(&str, bool)>) -> Feed {
        let mut f = Feed::new("gh", 2);
        f.loaded_at = loaded_at;
        f.error = error.map(|(m, auth)| FeedError {
            message: m.into(),
            at: 5,
            auth,
        });
        f
    }

    #[test]
    fn an_empty_list_says_why() {
        let empty = || "No items yet.".to_string();
        assert_eq!(empty_text(&feed(None, None), empty), "loading…");
        assert_eq!(
            empty_text(&feed(None, Some(("timed out after 10s", false))), empty),
            "Nothing loaded yet: timed out after 10s. Retrying on its own."
        );
        let refused = empty_text(
            &feed(None, Some(("auth expired: Bad credentials", true))),
            empty,
        );
        assert_eq!(
            refused,
            format!("Nothing loaded: auth expired: Bad credentials. {AUTH_ADVICE}")
        );
        // Once data has arrived, an empty list is just empty, failing or not.
        assert_eq!(
            empty_text(&feed(Some(1), Some(("timed out", false))), empty),
            "No items yet."
        );
    }
}
