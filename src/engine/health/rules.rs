//! Rules: a reading becomes `ok | warn | crit | unknown` against thresholds; a critical status
//! fires only after its `for` duration and recovers only after staying healthy for a while, so
//! a blip files nothing and a flapping check stays one incident.

use std::collections::VecDeque;

use crate::domain::{CheckStatus, Timestamp};

/// What one run of a check found.
#[derive(Clone, Debug, PartialEq)]
pub enum Reading {
    /// A number to compare with the thresholds.
    Value(f64),
    /// The thing checked is down (refused, wrong status, body mismatch): critical.
    Down(String),
    /// The query answered nothing.
    NoData,
    /// The check itself could not run (the metrics backend is down, a bad answer): unknown,
    /// never healthy.
    Error(String),
}

/// A check's thresholds and timing.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// Warns at this value.
    pub warn: Option<f64>,
    /// Critical at this value.
    pub crit: Option<f64>,
    /// Lower values are worse.
    pub below: bool,
    /// Seconds critical before it fires.
    pub for_secs: i64,
    /// Seconds healthy before a fired check recovers.
    pub recover_secs: i64,
    /// An empty answer is healthy instead of unknown.
    pub empty_is_healthy: bool,
}

impl Default for Rule {
    fn default() -> Self {
        Rule {
            warn: None,
            crit: None,
            below: false,
            for_secs: 30,
            recover_secs: 120,
            empty_is_healthy: false,
        }
    }
}

impl Rule {
    /// The raw status of one reading, before any timing.
    pub fn classify(&self, reading: &Reading) -> CheckStatus {
        match reading {
            Reading::Value(v) if !v.is_finite() => CheckStatus::Unknown,
            Reading::Value(v) => {
                let past =
                    |t: Option<f64>| t.is_some_and(|t| if self.below { *v <= t } else { *v >= t });
                if past(self.crit) {
                    CheckStatus::Crit
                } else if past(self.warn) {
                    CheckStatus::Warn
                } else {
                    CheckStatus::Ok
                }
            }
            Reading::Down(_) => CheckStatus::Crit,
            Reading::NoData if self.empty_is_healthy => CheckStatus::Ok,
            Reading::NoData | Reading::Error(_) => CheckStatus::Unknown,
        }
    }
}

/// What changed with a reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    /// Nothing worth filing.
    None,
    /// Critical for longer than `for`: open (or add to) an incident.
    Fired,
    /// Healthy for longer than the recovery time after firing: resolve.
    Recovered,
}

/// Status changes remembered to tell a flapping check.
const FLAP_WINDOW: i64 = 600;
/// Status changes within [`FLAP_WINDOW`] that make a check "flapping".
const FLAP_CHANGES: usize = 4;

/// One check's memory between readings.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleState {
    /// The status shown.
    pub status: CheckStatus,
    /// Since when.
    pub since: Timestamp,
    /// Fired and not yet recovered.
    pub firing: bool,
    bad_since: Option<Timestamp>,
    good_since: Option<Timestamp>,
    changes: VecDeque<Timestamp>,
    /// The last status that said something (not `Unknown`): a node restarting during a
    /// deploy reads unknown for a moment, and that is not a flap.
    last_known: Option<CheckStatus>,
}

impl RuleState {
    /// A check not yet run.
    pub fn new(now: Timestamp) -> RuleState {
        RuleState {
            status: CheckStatus::Unknown,
            since: now,
            firing: false,
            bad_since: None,
            good_since: None,
            changes: VecDeque::new(),
            last_known: None,
        }
    }

    /// A state resumed from the store (another process's verdict, or ours before a restart).
    pub fn resume(status: CheckStatus, since: Timestamp, firing: bool) -> RuleState {
        RuleState {
            status,
            since,
            firing,
            bad_since: (status == CheckStatus::Crit).then_some(since),
            good_since: None,
            changes: VecDeque::new(),
            last_known: (status != CheckStatus::Unknown).then_some(status),
        }
    }

    /// Whether the status changed often lately.
    pub fn flapping(&self) -> bool {
        self.changes.len() >= FLAP_CHANGES
    }

    /// Seconds the check has been critical, if it is.
    pub fn bad_for(&self, now: Timestamp) -> Option<i64> {
        self.bad_since.map(|s| now - s)
    }

    /// Takes one reading at `now`; `status` is the reading's status (see [`Rule::classify`]),
    /// possibly raised to `Warn` by a forecast.
    pub fn observe(&mut self, rule: &Rule, status: CheckStatus, now: Timestamp) -> Edge {
        if status != self.status {
            self.status = status;
            self.since = now;
        }
        if status != CheckStatus::Unknown {
            if self.last_known.is_some_and(|k| k != status) {
                self.changes.push_back(now);
            }
            self.last_known = Some(status);
        }
        while self.changes.front().is_some_and(|t| now - t > FLAP_WINDOW) {
            self.changes.pop_front();
        }
        match status {
            CheckStatus::Crit => {
                self.good_since = None;
                let bad = *self.bad_since.get_or_insert(now);
                if !self.firing && now - bad >= rule.for_secs {
                    self.firing = true;
                    return Edge::Fired;
                }
            }
            CheckStatus::Ok | CheckStatus::Warn => {
                self.bad_since = None;
                let good = *self.good_since.get_or_insert(now);
                if self.firing && now - good >= rule.recover_secs {
                    self.firing = false;
                    return Edge::Recovered;
                }
            }
            // Missing data proves nothing: it neither fires nor counts toward recovery, and
            // the `for` window starts again after it.
            CheckStatus::Unknown => {
                self.good_since = None;
                self.bad_since = None;
            }
        }
        Edge::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> Rule {
        Rule {
            warn: Some(80.0),
            crit: Some(90.0),
            for_secs: 30,
            recover_secs: 120,
            ..Rule::default()
        }
    }

    /// Feeds `status` every `step` seconds for `secs`, from `*t`; returns the edges seen.
    fn feed(
        st: &mut RuleState,
        r: &Rule,
        t: &mut Timestamp,
        status: CheckStatus,
        secs: i64,
        step: i64,
    ) -> Vec<Edge> {
        let mut edges = Vec::new();
        let end = *t + secs;
        while *t < end {
            let e = st.observe(r, status, *t);
            if e != Edge::None {
                edges.push(e);
            }
            *t += step;
        }
        edges
    }

    #[test]
    fn thresholds_classify_both_directions_and_missing_data_is_never_ok() {
        let r = rule();
        assert_eq!(r.classify(&Reading::Value(10.0)), CheckStatus::Ok);
        assert_eq!(r.classify(&Reading::Value(85.0)), CheckStatus::Warn);
        assert_eq!(r.classify(&Reading::Value(90.0)), CheckStatus::Crit);
        assert_eq!(r.classify(&Reading::Value(f64::NAN)), CheckStatus::Unknown);
        assert_eq!(r.classify(&Reading::NoData), CheckStatus::Unknown);
        assert_eq!(
            r.classify(&Reading::Error("x".into())),
            CheckStatus::Unknown
        );
        assert_eq!(r.classify(&Reading::Down("503".into())), CheckStatus::Crit);
        let below = Rule {
            warn: Some(20.0),
            crit: Some(10.0),
            below: true,
            empty_is_healthy: true,
            ..Rule::default()
        };
        assert_eq!(below.classify(&Reading::Value(5.0)), CheckStatus::Crit);
        assert_eq!(below.classify(&Reading::Value(15.0)), CheckStatus::Warn);
        assert_eq!(below.classify(&Reading::Value(50.0)), CheckStatus::Ok);
        assert_eq!(below.classify(&Reading::NoData), CheckStatus::Ok);
    }

    /// F15: a 20 s blip files nothing; crit past `for` fires once; recovery after the
    /// recovery time, not at the first good reading.
    #[test]
    fn a_blip_files_nothing_and_for_is_honoured() {
        let r = rule();
        let mut st = RuleState::new(0);
        let mut t = 0;
        assert!(feed(&mut st, &r, &mut t, CheckStatus::Ok, 60, 5).is_empty());
        assert!(feed(&mut st, &r, &mut t, CheckStatus::Crit, 20, 5).is_empty());
        assert!(feed(&mut st, &r, &mut t, CheckStatus::Ok, 60, 5).is_empty());
        let fired_at = t + 30;
        assert_eq!(
            feed(&mut st, &r, &mut t, CheckStatus::Crit, 60, 5),
            vec![Edge::Fired]
        );
        assert!(st.firing && st.since == fired_at - 30);
        assert!(feed(&mut st, &r, &mut t, CheckStatus::Ok, 100, 5).is_empty());
        assert_eq!(
            feed(&mut st, &r, &mut t, CheckStatus::Ok, 60, 5),
            vec![Edge::Recovered]
        );
    }

    /// Readings that go missing while a node restarts (a redeploy) are not flaps.
    #[test]
    fn unknown_between_good_readings_is_not_flapping() {
        let r = rule();
        let mut st = RuleState::new(0);
        let mut t = 0;
        for _ in 0..5 {
            feed(&mut st, &r, &mut t, CheckStatus::Ok, 20, 5);
            feed(&mut st, &r, &mut t, CheckStatus::Unknown, 5, 5);
        }
        feed(&mut st, &r, &mut t, CheckStatus::Ok, 20, 5);
        assert!(!st.flapping());
        // A real change hidden behind a gap still counts.
        for _ in 0..3 {
            feed(&mut st, &r, &mut t, CheckStatus::Crit, 5, 5);
            feed(&mut st, &r, &mut t, CheckStatus::Unknown, 5, 5);
            feed(&mut st, &r, &mut t, CheckStatus::Ok, 5, 5);
        }
        assert!(st.flapping());
    }

    /// F15: flapping for 30 minutes (40 s bad, 20 s good) fires once and is seen as flapping.
    #[test]
    fn flapping_for_half_an_hour_fires_once() {
        let r = rule();
        let mut st = RuleState::new(0);
        let mut t = 0;
        let mut edges = Vec::new();
        while t < 1800 {
            edges.extend(feed(&mut st, &r, &mut t, CheckStatus::Crit, 40, 5));
            edges.extend(feed(&mut st, &r, &mut t, CheckStatus::Ok, 20, 5));
            assert!(t < 180 || st.flapping() || st.status == CheckStatus::Crit);
        }
        assert_eq!(edges, vec![Edge::Fired]);
        assert!(st.flapping());
        edges = feed(&mut st, &r, &mut t, CheckStatus::Ok, 300, 5);
        assert_eq!(edges, vec![Edge::Recovered]);
    }

    #[test]
    fn unknown_neither_fires_nor_recovers() {
        let r = rule();
        let mut st = RuleState::new(0);
        let mut t = 0;
        assert!(feed(&mut st, &r, &mut t, CheckStatus::Unknown, 600, 5).is_empty());
        assert_eq!(
            feed(&mut st, &r, &mut t, CheckStatus::Crit, 60, 5),
            vec![Edge::Fired]
        );
        assert!(feed(&mut st, &r, &mut t, CheckStatus::Unknown, 600, 5).is_empty());
        assert!(st.firing, "missing data is not a recovery");
        // crit 5 s, unknown 30 s, crit again: the `for` window starts over.
        let mut st = RuleState::new(0);
        let mut t = 0;
        assert!(feed(&mut st, &r, &mut t, CheckStatus::Crit, 5, 5).is_empty());
        assert!(feed(&mut st, &r, &mut t, CheckStatus::Unknown, 30, 5).is_empty());
        assert!(feed(&mut st, &r, &mut t, CheckStatus::Crit, 25, 5).is_empty());
        assert_eq!(
            feed(&mut st, &r, &mut t, CheckStatus::Crit, 10, 5),
            vec![Edge::Fired]
        );
    }
}
