//! The monitor: runs each check on its interval (all due checks concurrently), keeps a bounded
//! series per check, applies its rule and forecast, saves the verdicts to the store, and turns
//! fires and recoveries into incidents (held while the check's target deploys).

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::time::{Duration, Instant};

use super::forecast;
use super::rules::{Edge, Reading, RuleState};
use super::sources::{self, Outcome};
use super::spec::{NodeEndpoint, Spec};
use crate::domain::{Check, CheckStatus, Forecast, Timestamp};
use crate::engine::incident::evidence;
use crate::store::{FireRequest, Store, StoreError};

/// Samples kept per check: enough for a day at 2 minutes, or 12 minutes at 1 s.
pub const SERIES_CAP: usize = 720;
/// Samples of each series written to the store (for `status` and a restart).
const STORED_SAMPLES: usize = 120;
/// A dynamic check (one alert group) that stays healthy this long is dropped.
const DROP_AFTER: i64 = 600;

/// A node check's URL; `Ok(None)` when a local-fleet node runs nothing (never deployed, or
/// stopped).
pub fn node_url(store: &Store, e: &NodeEndpoint) -> Result<Option<String>, String> {
    if let Some(base) = &e.base {
        return Ok(Some(format!("{base}{}", e.path)));
    }
    let nodes = store.nodes(&e.target).map_err(|x| x.to_string())?;
    let data = nodes
        .iter()
        .find(|n| n.node == e.node)
        .and_then(|n| {
            serde_json::from_str::<crate::engine::deploy::local_fleet::NodeData>(&n.data).ok()
        })
        .and_then(|d| d.current);
    Ok(data.map(|inst| format!("http://127.0.0.1:{}{}", inst.port, e.path)))
}

/// One check's memory.
#[derive(Clone, Debug)]
struct Run {
    rule: RuleState,
    series: VecDeque<(Timestamp, f64)>,
    last: Option<Check>,
    due: Instant,
    /// Fired while its target deployed: filed once the deploy ends, if still firing.
    held: bool,
    /// A counter's previous reading, for a rate.
    counter: Option<(Instant, f64)>,
}

impl Run {
    fn new(now: Timestamp) -> Run {
        Run {
            rule: RuleState::new(now),
            series: VecDeque::new(),
            last: None,
            due: Instant::now(),
            held: false,
            counter: None,
        }
    }
}

/// Runs checks and files what they find.
pub struct Monitor {
    specs: Vec<Spec>,
    runs: Vec<Run>,
    /// Alert groups by check name (`spec: group`), with the index of the spec that found them.
    dynamic: BTreeMap<String, (usize, Run)>,
    store: Store,
    file: bool,
    close_on_recovery: bool,
    saved: Option<Instant>,
}

impl Monitor {
    /// A monitor of `specs` over the store at `store_path`; `file` turns the incident loop on.
    pub fn new(
        specs: Vec<Spec>,
        store_path: &Path,
        file: bool,
        close_on_recovery: bool,
    ) -> Result<Monitor, StoreError> {
        let store = Store::open(store_path)?;
        let now = crate::domain::now();
        let saved: BTreeMap<String, Check> = store
            .checks()?
            .into_iter()
            .map(|c| (c.check.clone(), c))
            .collect();
        // First runs spread over a second, so a thousand probes never arrive at once.
        let n = specs.len().max(1) as u64;
        let start = Instant::now();
        let runs = specs
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut r = Run::new(now);
                r.due = start + Duration::from_millis(i as u64 * 1000 / n);
                // Resume what this or another process knew: "since" and firing survive.
                if let Some(c) = saved.get(&s.name) {
                    r.rule = RuleState::resume(c.status, c.since.unwrap_or(now), c.firing);
                    r.series = c.series.iter().copied().collect();
                }
                r
            })
            .collect();
        // Alert groups known before a restart come back, so one that cleared meanwhile is
        // resolved at the first answer instead of staying open for ever.
        let mut dynamic = BTreeMap::new();
        for (i, s) in specs.iter().enumerate() {
            if !matches!(s.source, sources::Source::Alerts { .. }) {
                continue;
            }
            let prefix = format!("{}: ", s.name);
            for c in saved.values().filter(|c| c.check.starts_with(&prefix)) {
                let mut r = Run::new(now);
                r.rule = RuleState::resume(c.status, c.since.unwrap_or(now), c.firing);
                r.series = c.series.iter().copied().collect();
                r.last = Some(c.clone());
                dynamic.insert(c.check.clone(), (i, r));
            }
        }
        Ok(Monitor {
            specs,
            runs,
            dynamic,
            store,
            file,
            close_on_recovery,
            saved: None,
        })
    }

    /// The remediation of the check named `name`, if it has one.
    pub fn remediation(&self, name: &str) -> Option<&crate::config::check::RemediationConfig> {
        self.specs
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.remediate.as_ref())
    }

    /// Makes every check due now (`watch --once`).
    pub fn all_due(&mut self) {
        let now = Instant::now();
        for r in &mut self.runs {
            r.due = now;
        }
    }

    /// How many checks are configured.
    pub fn len(&self) -> usize {
        self.specs.len()
    }

    /// Whether no check is configured.
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// When the next check is due.
    pub fn next_due(&self) -> Instant {
        self.runs
            .iter()
            .map(|r| r.due)
            .min()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(60))
    }

    /// Each check's status and whether it fires: what a frame or the store must see at once.
    pub fn status_summary(&self) -> Vec<(CheckStatus, bool)> {
        self.runs
            .iter()
            .chain(self.dynamic.values().map(|(_, r)| r))
            .map(|r| (r.rule.status, r.rule.firing))
            .collect()
    }

    /// The latest verdict of every check, grouped by service.
    pub fn checks(&self) -> Vec<Check> {
        // A check not run yet shows as unknown, so the list is whole from the first frame.
        let mut out: Vec<Check> = self
            .runs
            .iter()
            .zip(&self.specs)
            .map(|(r, s)| r.last.clone().unwrap_or_else(|| waiting(s, &r.rule)))
            .chain(self.dynamic.values().filter_map(|(_, r)| r.last.clone()))
            .collect();
        out.sort_by(|a, b| a.service.cmp(&b.service).then(a.check.cmp(&b.check)));
        out
    }

    fn url(&self, e: &NodeEndpoint) -> Result<Option<String>, String> {
        node_url(&self.store, e)
    }

    /// Runs every due check once; returns whether any verdict changed.
    pub async fn round(&mut self) -> Result<bool, StoreError> {
        let start = Instant::now();
        // Checks due within the next 50 ms run now too: fewer, fuller rounds.
        let horizon = start + Duration::from_millis(50);
        let due: Vec<usize> = (0..self.specs.len())
            .filter(|&i| self.runs[i].due <= horizon)
            .collect();
        if due.is_empty() {
            return Ok(false);
        }
        let mut jobs = Vec::with_capacity(due.len());
        for &i in &due {
            let spec = &self.specs[i];
            let url = spec.endpoint.as_ref().map(|e| self.url(e));
            jobs.push(async move {
                let outs = match url {
                    Some(Err(e)) => vec![(None, Outcome::error(e))],
                    // Nothing deployed there: nothing to judge, not an outage.
                    Some(Ok(None)) => vec![(None, Outcome::nothing(crate::domain::NOT_DEPLOYED))],
                    Some(Ok(Some(url))) => {
                        vec![(
                            None,
                            sources::run_at(&spec.source, &url, spec.timeout).await,
                        )]
                    }
                    None => sources::run(&spec.source, spec.timeout).await,
                };
                (i, outs)
            });
        }
        let results = futures::future::join_all(jobs).await;
        let now = crate::domain::now();
        let mut changed = false;
        let before = self.status_summary();
        for (i, outs) in results {
            self.runs[i].due = start + self.specs[i].interval;
            let answered = outs
                .iter()
                .any(|(k, o)| k.is_none() && !matches!(o.reading, Reading::Error(_)));
            let mut seen = Vec::new();
            for (sub, out) in outs {
                match sub {
                    None => changed |= self.apply(i, None, out, now)?,
                    Some(name) => {
                        seen.push(name.clone());
                        changed |= self.apply(i, Some(name), out, now)?;
                    }
                }
            }
            if matches!(self.specs[i].source, sources::Source::Alerts { .. }) && answered {
                // An alert source that answered: whatever it no longer lists is healthy.
                let prefix = format!("{}: ", self.specs[i].name);
                let gone: Vec<String> = self
                    .dynamic
                    .iter()
                    .filter(|(_, (s, _))| *s == i)
                    .filter_map(|(k, _)| k.strip_prefix(&prefix).map(str::to_string))
                    .filter(|g| !seen.contains(g))
                    .collect();
                for name in gone {
                    let out = Outcome::ok("no longer active");
                    changed |= self.apply(i, Some(name), out, now)?;
                }
                self.dynamic.retain(|_, (_, r)| {
                    r.rule.firing
                        || r.rule.status != CheckStatus::Ok
                        || now - r.rule.since < DROP_AFTER
                });
            }
        }
        let status_moved = self.status_summary() != before;
        // Verdicts reach the store at once when a status moved, else every 5 s.
        let since = self.saved.map_or(Duration::MAX, |t| t.elapsed());
        if status_moved || since >= Duration::from_secs(5) {
            let mut checks = self.checks();
            // The store keeps an excerpt of each series; the full one lives here.
            for c in &mut checks {
                let cut = c.series.len().saturating_sub(STORED_SAMPLES);
                c.series.drain(..cut);
            }
            self.store.save_checks(&checks)?;
            // Checks gone from the config, and alert groups not seen for a day, are dropped.
            let names: Vec<String> = checks.iter().map(|c| c.check.clone()).collect();
            self.store.prune_checks(&names, now - 86_400)?;
            self.saved = Some(Instant::now());
        }
        Ok(changed)
    }

    /// Applies one outcome to a check (or to the alert group `sub` found by spec `i`).
    fn apply(
        &mut self,
        i: usize,
        sub: Option<String>,
        out: Outcome,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let spec = &self.specs[i];
        let name = match &sub {
            Some(s) => format!("{}: {s}", spec.name),
            None => spec.name.clone(),
        };
        let mut run = match &sub {
            Some(_) => self
                .dynamic
                .remove(&name)
                .map(|(_, r)| r)
                .unwrap_or_else(|| Run::new(now)),
            None => std::mem::replace(&mut self.runs[i], Run::new(now)),
        };
        let mut out = out;
        if spec.rate {
            out = rate(&mut run, out);
        }
        if let Reading::Value(v) = out.reading
            && v.is_finite()
        {
            run.series.push_back((now, v));
        }
        if let Some(range) = &out.range {
            run.series = range
                .iter()
                .copied()
                .filter(|(_, v)| v.is_finite())
                .collect();
        }
        while run.series.len() > SERIES_CAP {
            run.series.pop_front();
        }
        let mut status = out
            .status
            .unwrap_or_else(|| spec.rule.classify(&out.reading));
        let mut detail = out.detail.clone();
        let fc = self.forecast(spec, &run.series, now);
        if let Some(f) = &fc
            && status == CheckStatus::Ok
        {
            status = CheckStatus::Warn;
            detail = format!(
                "forecast: {} {} in {}",
                fmt_value(f.threshold),
                spec.unit.as_deref().unwrap_or(""),
                forecast::human(f.seconds)
            );
        }
        let edge = run.rule.observe(&spec.rule, status, now);
        if run.rule.flapping() {
            detail = if detail.is_empty() {
                "flapping".into()
            } else {
                format!("flapping · {detail}")
            };
        }
        let check = Check {
            check: name.clone(),
            service: spec.service.clone(),
            status,
            value: match out.reading {
                Reading::Value(v) if v.is_finite() => Some(v),
                _ => None,
            },
            unit: spec.unit.clone(),
            forecast: fc,
            since: Some(run.rule.since),
            firing: run.rule.firing,
            detail,
            warn: spec.rule.warn,
            crit: spec.rule.crit,
            series: run.series.iter().copied().collect(),
            updated: now,
            alert: out
                .alert
                .clone()
                .map(|m| (spec.provider.clone().unwrap_or_default(), m)),
            remedy: None,
            insecure: spec.insecure,
        };
        let mut check = check;
        if status != CheckStatus::Ok
            && let Some(r) = &spec.remediate
        {
            let t = super::remedy::Target::from(&check);
            check.remedy = Some(super::remedy::describe(r, &self.store, &t, now));
        }
        let changed = run.last.as_ref().is_none_or(|l| {
            l.status != check.status || l.value != check.value || l.detail != check.detail
        });
        // A store error must not cost the check its memory (series, firing): log and go on.
        if let Err(e) = self.incident(i, &name, &check, edge, &mut run, now) {
            tracing::warn!(check = %name, error = %e, "incident not recorded");
            run.held = run.rule.firing;
        }
        run.last = Some(check);
        match sub {
            Some(_) => {
                self.dynamic.insert(name, (i, run));
            }
            None => self.runs[i] = run,
        }
        Ok(changed)
    }

    fn forecast(
        &self,
        spec: &Spec,
        series: &VecDeque<(Timestamp, f64)>,
        now: Timestamp,
    ) -> Option<Forecast> {
        let method = spec.forecast?;
        let threshold = spec.rule.crit.or(spec.rule.warn)?;
        let points: Vec<forecast::Point> = series
            .iter()
            .filter(|(t, _)| now - t <= spec.window)
            .map(|&(t, v)| forecast::Point { t: t as f64, v })
            .collect();
        // A trend needs a few minutes of points to be worth showing.
        if points.len() < 10 {
            return None;
        }
        let b = forecast::breach(
            method,
            &points,
            threshold,
            spec.rule.below,
            spec.horizon as f64,
        )?;
        let trend = forecast::fit(method, &points)?;
        Some(Forecast {
            method: match method {
                forecast::Method::Linear => "linear".into(),
                forecast::Method::Holt => "holt".into(),
            },
            threshold,
            seconds: b.seconds,
            slope: trend.slope,
        })
    }

    fn incident(
        &mut self,
        i: usize,
        name: &str,
        check: &Check,
        edge: Edge,
        run: &mut Run,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let spec = &self.specs[i];
        if !self.file || !spec.incident {
            return Ok(());
        }
        let key = format!("check:{name}");
        let busy = match &spec.target {
            Some(t) => self.store.lock(t)?.is_some(),
            None => false,
        };
        let fire = match edge {
            Edge::Fired => true,
            Edge::Recovered => {
                // Whatever was held is moot; resolving a key with nothing open does nothing.
                run.held = false;
                let body = format!(
                    "Recovered at {}: {} ({}).",
                    evidence::time(now),
                    evidence::value(check),
                    check.detail
                );
                self.store
                    .incident_recover(&key, &body, self.close_on_recovery, now)?;
                return Ok(());
            }
            Edge::None => run.held && run.rule.firing,
        };
        if !fire {
            return Ok(());
        }
        if busy {
            // Inhibition: the target is deploying; its own gates judge it.
            run.held = true;
            return Ok(());
        }
        run.held = false;
        let body = evidence::for_check(
            &self.store,
            check,
            spec.target.as_deref(),
            spec.rule.for_secs,
        );
        let req = FireRequest {
            key,
            title: format!("{name}: {}", check.detail),
            severity: spec.severity.as_str().to_string(),
            body,
            labels: vec!["incident".into(), spec.service.clone()],
            one_shot: false,
        };
        // Muted: keep trying each round, so a failure still going on is filed when the
        // mute ends.
        run.held = self.store.incident_fire(&req, now)? == crate::store::Fired::Muted;
        Ok(())
    }
}

/// Turns a counter reading into its increase per second since the previous one.
fn rate(run: &mut Run, out: Outcome) -> Outcome {
    let Reading::Value(v) = out.reading else {
        run.counter = None;
        return out;
    };
    let now = Instant::now();
    match run.counter.replace((now, v)) {
        Some((t, prev)) if v >= prev && now > t => {
            let mut o = out;
            o.reading = Reading::Value((v - prev) / (now - t).as_secs_f64());
            o
        }
        // First reading, or the counter restarted (the process did): wait for the next one.
        _ => Outcome::nothing("counting: a rate needs two readings"),
    }
}

/// The verdict of a check that has not run yet.
fn waiting(s: &Spec, rule: &RuleState) -> Check {
    Check {
        check: s.name.clone(),
        service: s.service.clone(),
        status: CheckStatus::Unknown,
        value: None,
        unit: s.unit.clone(),
        forecast: None,
        since: Some(rule.since),
        firing: rule.firing,
        detail: "waiting for the first run".into(),
        warn: s.rule.warn,
        crit: s.rule.crit,
        series: Vec::new(),
        updated: rule.since,
        alert: None,
        remedy: None,
        insecure: s.insecure,
    }
}

/// A value without needless decimals.
pub fn fmt_value(v: f64) -> String {
    if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}
