//! One provider feeding one pane: at most one request in flight, stale answers dropped,
//! the last good data kept with its age when a refresh fails.

use crate::domain::Timestamp;
use crate::providers::ProviderError;

/// A failed refresh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedError {
    /// What went wrong, one line.
    pub message: String,
    /// When.
    pub at: Timestamp,
    /// The provider refused the credentials (it is not asked again until a restart).
    pub auth: bool,
}

/// What to do once a provider refuses the credentials.
pub const AUTH_ADVICE: &str =
    "Fix the token (`flightdeck check` says where it comes from), then restart flightdeck.";

/// What an answer means for the pane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer<T> {
    /// New data to show.
    Data(T),
    /// Nothing new, but the error badge appeared or went away.
    Redraw,
    /// Stale or unchanged: nothing to do.
    Nothing,
}

/// The refresh state of one (pane, provider).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feed {
    /// Provider id.
    pub provider: String,
    /// Request id of the call in flight.
    pub in_flight: Option<u64>,
    /// When data last arrived.
    pub loaded_at: Option<Timestamp>,
    /// The last failure, cleared by the next success.
    pub error: Option<FeedError>,
    /// Seconds between refreshes.
    pub interval: i64,
    /// When the next refresh is due.
    pub next_due: Timestamp,
    /// Said once when the provider starts refusing the credentials (F16); the app shows it.
    pub alert: Option<String>,
    /// Whether the next request must ask for the full list: after a failure (its answer may
    /// have been lost on the way) or when the user refreshes by hand.
    pub force: bool,
}

impl Feed {
    /// A feed due now.
    pub fn new(provider: &str, interval: i64) -> Feed {
        Feed {
            provider: provider.to_string(),
            in_flight: None,
            loaded_at: None,
            error: None,
            interval: interval.max(1),
            next_due: 0,
            alert: None,
            force: false,
        }
    }

    /// Changes the pace; a shorter interval counts from the last refresh, so the next one
    /// comes sooner rather than after the old, longer wait.
    pub fn set_interval(&mut self, interval: i64) {
        let last = self.next_due - self.interval;
        self.interval = interval.max(1);
        self.next_due = self.next_due.min(last + self.interval);
    }

    /// Whether a refresh should start now: due and nothing in flight.
    pub fn due(&self, now: Timestamp) -> bool {
        self.in_flight.is_none() && now >= self.next_due
    }

    /// Marks request `id` as in flight; returns whether it must ask for the full list.
    pub fn start(&mut self, id: u64, now: Timestamp) -> bool {
        self.in_flight = Some(id);
        self.next_due = now + self.interval;
        std::mem::take(&mut self.force)
    }

    /// Takes a list answer (`Ok(None)` meaning unchanged) and says what the pane should do.
    pub fn answer<T>(
        &mut self,
        id: u64,
        now: Timestamp,
        result: Result<Option<T>, ProviderError>,
    ) -> Answer<T> {
        let had_error = self.error.is_some();
        if !self.finish(id, now, result.as_ref().err()) {
            return Answer::Nothing;
        }
        match result {
            Ok(Some(data)) => Answer::Data(data),
            Ok(None) if !had_error => Answer::Nothing,
            Ok(None) | Err(_) => Answer::Redraw,
        }
    }

    /// Accepts the answer to request `id`; false (drop it) when it is stale.
    pub fn finish(&mut self, id: u64, now: Timestamp, error: Option<&ProviderError>) -> bool {
        if self.in_flight != Some(id) {
            return false;
        }
        self.in_flight = None;
        match error {
            None => {
                self.loaded_at = Some(now);
                self.error = None;
            }
            Some(e) => {
                let message = e.to_string();
                let auth = matches!(e, ProviderError::Auth(_));
                let was_auth = self.error.as_ref().is_some_and(|e| e.auth);
                if auth && !was_auth {
                    self.alert = Some(format!(
                        "{}: {message} — fix the token, then restart flightdeck",
                        self.provider
                    ));
                }
                self.error = Some(FeedError {
                    message,
                    at: now,
                    auth,
                });
                self.force = true;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_in_flight_and_stale_answers_dropped() {
        let mut f = Feed::new("local", 2);
        assert!(f.due(0));
        f.start(1, 0);
        assert!(!f.due(5), "in flight");
        assert!(!f.finish(7, 1, None), "unknown request is stale");
        let timeout = ProviderError::Timeout(std::time::Duration::from_secs(10));
        assert!(f.finish(1, 1, Some(&timeout)));
        assert!(f.error.is_some() && f.loaded_at.is_none());
        assert!(!f.finish(1, 1, None), "answered twice");
        assert!(!f.due(1) && f.due(2));
        f.start(2, 2);
        assert!(f.finish(2, 3, None));
        assert_eq!((f.loaded_at, f.error.clone()), (Some(3), None));
        // Refused credentials are said once, however many failures follow.
        f.start(3, 4);
        let refused = ProviderError::Auth("Bad credentials".into());
        assert!(f.finish(3, 4, Some(&refused)));
        let alert = f.alert.take().expect("said");
        assert_eq!(
            alert,
            "local: auth expired: Bad credentials — fix the token, then restart flightdeck"
        );
        f.start(4, 6);
        assert!(f.finish(4, 6, Some(&refused)));
        assert_eq!(f.alert, None, "said once");
    }
}
