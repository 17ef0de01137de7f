//! The rate limit, back-off and auth state of a client: what the host said, and whether the
//! next request may go.

use http::{HeaderMap, StatusCode};

use super::wire::{clock, summarize};
use super::{Conn, GhClient, MAX_BACKOFF, MAX_WAIT};
use crate::providers::ProviderError;

impl GhClient {
    /// Refuses at once when this host failed auth or asked us to wait (the search API has a
    /// budget of its own).
    pub(super) fn ready(&self, search: bool) -> Result<(), ProviderError> {
        let b = self.budget();
        if let Some(why) = b.auth_failed {
            return Err(ProviderError::Auth(why));
        }
        let (until, why) = if search {
            (b.search_wait_until, b.search_waiting)
        } else {
            (b.wait_until, b.waiting)
        };
        if let (Some(until), Some(why)) = (until, why)
            && crate::domain::now() < until
        {
            let msg = format!("{why}; next request after {}", clock(until));
            // A back-off after failures is the host being unwell, not a rate limit.
            return Err(if why.starts_with("backing off") {
                ProviderError::Unreachable(msg)
            } else {
                ProviderError::RateLimited(msg)
            });
        }
        Ok(())
    }

    /// Records the rate-limit headers of an answer (the core budget, or the search API's).
    pub(super) fn note_budget(&self, h: &HeaderMap) {
        let num = |k: &str| {
            h.get(k)
                .and_then(|v| v.to_str().ok()?.trim().parse::<i64>().ok())
        };
        let now = crate::domain::now();
        let search = h
            .get("x-ratelimit-resource")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|r| r == "search");
        self.with_budget(|b| {
            if let Some(s) = h.get("x-oauth-scopes").and_then(|v| v.to_str().ok()) {
                b.scopes = Some(s.to_string());
            }
            let spent = num("x-ratelimit-remaining") == Some(0);
            let reset = num("x-ratelimit-reset").map(|t| t.clamp(now, now + MAX_WAIT));
            if search {
                // A spent search budget pauses searches only.
                if spent && let Some(t) = reset.filter(|&t| t > now) {
                    b.search_waiting = Some("search rate limit spent".into());
                    b.search_wait_until = Some(t);
                }
                return;
            }
            if let Some(r) = num("x-ratelimit-remaining") {
                b.remaining = Some(r.max(0) as u64);
            }
            if let Some(l) = num("x-ratelimit-limit") {
                b.limit = Some(l.max(0) as u64);
            }
            if let Some(t) = reset {
                b.reset = Some(t);
            }
            // A spent budget: wait for the reset rather than spend a request to learn it.
            if spent && let Some(t) = reset.filter(|&t| t > now) {
                b.waiting = Some("rate limit spent".into());
                b.wait_until = Some(t);
            }
        });
    }

    /// Turns a failed answer into an error, and into a wait when the host asked for one.
    pub(super) fn failure(
        &self,
        conn: &mut Conn,
        status: StatusCode,
        h: &HeaderMap,
        body: &[u8],
        search: bool,
    ) -> Option<ProviderError> {
        if status.is_success() || status.is_redirection() {
            return None;
        }
        let what = summarize(body);
        let now = crate::domain::now();
        let num = |k: &str| {
            h.get(k)
                .and_then(|v| v.to_str().ok()?.trim().parse::<i64>().ok())
        };
        let retry_after = num(http::header::RETRY_AFTER.as_str());
        let remaining = num("x-ratelimit-remaining");
        let reset = num("x-ratelimit-reset");
        let limited = status == StatusCode::TOO_MANY_REQUESTS
            || (status == StatusCode::FORBIDDEN
                && (retry_after.is_some()
                    || remaining == Some(0)
                    || what.to_ascii_lowercase().contains("rate limit")));
        if status == StatusCode::UNAUTHORIZED {
            let why = format!("{} answered 401: {what}", self.host);
            self.with_budget(|b| b.auth_failed = Some(why.clone()));
            return Some(ProviderError::Auth(why));
        }
        if limited {
            // retry-after wins; else the reset; else a minute (secondary limits say neither);
            // never more than an hour, whatever a header says.
            let until = retry_after
                .map(|s| now.saturating_add(s.clamp(1, MAX_WAIT)))
                .or(reset.filter(|&t| t > now).map(|t| t.min(now + MAX_WAIT)))
                .unwrap_or(now + 60);
            self.with_budget(|b| {
                if search {
                    b.search_waiting = Some(format!("search rate limited ({status})"));
                    b.search_wait_until = Some(until);
                } else {
                    b.waiting = Some(format!("rate limited ({status})"));
                    b.wait_until = Some(until);
                }
            });
            return Some(ProviderError::RateLimited(format!(
                "{status}: {what}; next request after {}",
                clock(until)
            )));
        }
        if status.is_server_error() {
            self.back_off(conn, status.as_str());
            return Some(ProviderError::BadResponse(format!("{status}: {what}")));
        }
        Some(match status {
            StatusCode::NOT_FOUND => ProviderError::NotFound(what),
            StatusCode::FORBIDDEN => ProviderError::Auth(format!("forbidden: {what}")),
            StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => {
                ProviderError::Invalid(what)
            }
            _ => ProviderError::BadResponse(format!("{status}: {what}")),
        })
    }

    /// Waits 2 s, 4 s, … up to 30 s, plus up to a quarter more at random, after consecutive
    /// failures (server errors, timeouts, unreachable).
    pub(super) fn back_off(&self, conn: &mut Conn, why: &str) {
        use std::hash::{BuildHasher, Hasher};
        conn.failures = conn.failures.saturating_add(1);
        let base = 1u64 << conn.failures.min(8);
        // A randomly keyed hasher is a random number without another dependency.
        let mut r = std::collections::hash_map::RandomState::new().build_hasher();
        r.write_u32(conn.failures);
        let jitter = r.finish() % (base / 4 + 1);
        let secs = (base + jitter).min(MAX_BACKOFF.as_secs());
        let until = crate::domain::now() + secs as i64;
        self.with_budget(|b| {
            b.waiting = Some(format!("backing off after {why}"));
            b.wait_until = Some(until);
        });
    }
}
