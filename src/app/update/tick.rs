//! The tick: feeds due for a refresh, branch checks, messages that expire, and how soon the
//! loop needs the next tick; and what a write to the store sets going.

use super::{builds, deploys};
use crate::app::overlay::Overlay;
use crate::app::{Command, State};
use crate::domain::Timestamp;

/// The local store was written: feeds read from it refresh at once; remote ones keep their
/// pace.
pub(super) fn store_changed(state: &mut State, now: Timestamp, cmds: &mut Vec<Command>) {
    let local = |f: &Option<crate::app::feed::Feed>| {
        f.as_ref().is_some_and(|f| {
            !state
                .providers
                .iter()
                .any(|p| p.id == f.provider && p.kind == "github")
        })
    };
    let (b, r, d) = (
        local(&state.backlog.feed),
        local(&state.builds.feed) && !state.builds.remote,
        true,
    );
    for (feed, yes) in [
        (state.backlog.feed.as_mut(), b),
        (state.builds.feed.as_mut(), r),
        (state.deploys.feed.as_mut(), d),
    ] {
        if let (Some(f), true) = (feed, yes) {
            f.next_due = f.next_due.min(now);
        }
    }
    tick(state, now, cmds);
}

pub(super) fn tick(state: &mut State, now: Timestamp, cmds: &mut Vec<Command>) {
    refresh_if_due(state, now, cmds);
    builds::refresh_if_due(state, now, cmds);
    deploys::refresh_if_due(state, now, cmds);
    deploys::tick(state, now);
    // A read-only cockpit must not claim commits it is not allowed to build.
    if state.watches && !state.read_only && now >= state.next_trigger_check {
        state.next_trigger_check = now + builds::WATCH_SECS;
        cmds.push(Command::CheckTriggers);
    }
    if state.flash.as_ref().is_some_and(|f| now >= f.until) {
        state.flash = None;
        state.dirty = true;
    }
    let showing_error = [&state.backlog.feed, &state.builds.feed, &state.deploys.feed]
        .iter()
        .any(|f| f.as_ref().is_some_and(|f| f.error.is_some()));
    // Running runs show their elapsed time.
    if now / 60 != state.minute
        || showing_error
        || state.builds.any_running()
        || state.deploys.any_running()
    {
        state.minute = now / 60;
        state.dirty = true;
    }
}

/// Seconds until the loop needs its next tick: every second while something on screen moves
/// (a run or deploy going, a message to expire, a stale badge, a plan's countdown), else at
/// most two, sooner when a feed or a branch check is due.
pub fn tick_secs(state: &State, now: Timestamp) -> u64 {
    let feeds = [&state.backlog.feed, &state.builds.feed, &state.deploys.feed];
    let moving = state.builds.any_running()
        || state.deploys.any_running()
        || state.flash.is_some()
        || matches!(state.overlay, Some(Overlay::DeployPlan(_)))
        || feeds
            .iter()
            .any(|f| f.as_ref().is_some_and(|f| f.error.is_some()));
    if moving {
        return 1;
    }
    let mut next = 2;
    for f in feeds.into_iter().flatten() {
        if f.in_flight.is_none() {
            next = next.min(f.next_due - now);
        }
    }
    if state.watches {
        next = next.min(state.next_trigger_check - now);
    }
    next.clamp(1, 2) as u64
}

pub(super) fn refresh_if_due(state: &mut State, now: Timestamp, cmds: &mut Vec<Command>) {
    let due = state.backlog.feed.as_ref().is_some_and(|f| f.due(now));
    if due {
        let request = state.request_id();
        let force = state
            .backlog
            .feed
            .as_mut()
            .is_some_and(|f| f.start(request, now));
        cmds.push(Command::ListBacklog { request, force });
    }
}
