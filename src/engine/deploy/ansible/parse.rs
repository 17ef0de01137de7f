//! Reading the events of flightdeck's callback plugin (`flightdeck_events.py`): task and
//! handler results per inventory host as they come, and the recap that decides which hosts
//! failed. A delegated task belongs to the inventory host it ran for; an ignored error is not
//! a failure; a rescued one, a skipped task and an unreachable host are recorded as such.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::Journal;

/// The callback plugin, written beside each run's log and enabled for it.
pub(super) const PLUGIN: &str = include_str!("flightdeck_events.py");
/// The plugin's name (its file is `NAME.py`).
pub(super) const PLUGIN_NAME: &str = "flightdeck_events";

/// What one host did in a playbook run, from the recap.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct HostResult {
    pub(super) failed: bool,
    pub(super) reason: String,
}

/// One line the plugin writes.
#[derive(Debug, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
enum Event {
    Ok(TaskResult),
    Failed(TaskResult),
    Skipped(TaskResult),
    Unreachable(TaskResult),
    Recap { hosts: BTreeMap<String, Stats> },
}

#[derive(Debug, Deserialize)]
struct TaskResult {
    host: String,
    task: String,
    #[serde(default)]
    handler: bool,
    #[serde(default)]
    changed: bool,
    #[serde(default)]
    delegated_to: Option<String>,
    #[serde(default)]
    msg: String,
    #[serde(default)]
    ignored: bool,
    #[serde(default)]
    rescued: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Stats {
    failures: u32,
    unreachable: u32,
    rescued: u32,
    ignored: u32,
}

/// Turns events into journal records and per-host results.
pub(super) struct Parser<'a> {
    pub(super) phase: &'a str,
    pub(super) journal: &'a dyn Journal,
    pub(super) failures: BTreeMap<String, String>,
    pub(super) hosts: BTreeMap<String, HostResult>,
    /// Inventory hosts named by any result (a killed run writes no recap).
    pub(super) seen: BTreeSet<String>,
    /// The recap arrived.
    pub(super) recap: bool,
}

impl<'a> Parser<'a> {
    /// A parser journaling `phase` to `journal`.
    pub(super) fn new(phase: &'a str, journal: &'a dyn Journal) -> Parser<'a> {
        Parser {
            phase,
            journal,
            failures: BTreeMap::new(),
            hosts: BTreeMap::new(),
            seen: BTreeSet::new(),
            recap: false,
        }
    }

    /// Takes one line of the events file; a line that is not an event is skipped.
    pub(super) fn line(&mut self, line: &str) {
        let Ok(event) = serde_json::from_str::<Event>(line) else {
            return;
        };
        let r = match event {
            Event::Recap { hosts } => {
                self.recap = true;
                for (host, s) in hosts {
                    let failed = s.failures > 0 || s.unreachable > 0;
                    let reason = match self.failures.get(&host) {
                        Some(r) => r.clone(),
                        None if failed => "failed (see the deploy log)".into(),
                        None => String::new(),
                    };
                    if s.rescued + s.ignored > 0 {
                        let detail = format!("{} rescued, {} ignored", s.rescued, s.ignored);
                        self.journal
                            .record(self.phase, &host, "errors handled", "ok", &detail);
                    }
                    self.hosts.insert(host, HostResult { failed, reason });
                }
                return;
            }
            Event::Ok(r) => {
                let what = if r.changed { "changed" } else { "ok" };
                self.record(&r, "ok", &format!("{what}{}", via(&r)));
                r
            }
            Event::Skipped(r) => {
                self.record(&r, "skip", "skipped");
                r
            }
            Event::Failed(r) if r.ignored => {
                self.record(&r, "ignored", &format!("failed, ignored: {}", r.msg));
                r
            }
            Event::Failed(r) if r.rescued => {
                self.record(&r, "rescued", &format!("failed, rescued: {}", r.msg));
                r
            }
            Event::Failed(r) => {
                self.record(&r, "fail", &format!("{}{}", r.msg, via(&r)));
                self.failures
                    .insert(r.host.clone(), format!("{}: {}", r.task, r.msg));
                r
            }
            Event::Unreachable(r) => {
                let msg = format!("unreachable: {}", r.msg);
                self.record(&r, "fail", &msg);
                self.failures.insert(r.host.clone(), msg);
                r
            }
        };
        self.seen.insert(r.host);
    }

    fn record(&self, r: &TaskResult, status: &str, detail: &str) {
        let kind = if r.handler { "handler" } else { "task" };
        let detail: String = detail.chars().take(200).collect();
        self.journal.record(
            self.phase,
            &r.host,
            &format!("{kind}:{}", r.task),
            status,
            &detail,
        );
    }
}

fn via(r: &TaskResult) -> String {
    match &r.delegated_to {
        Some(d) if *d != r.host => format!(" via {d}"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Rec(std::sync::Mutex<Vec<String>>);

    impl Journal for Rec {
        fn record(&self, phase: &str, node: &str, step: &str, status: &str, detail: &str) {
            self.0
                .lock()
                .unwrap()
                .push(format!("{phase} {node} {step} {status} {detail}"));
        }
        fn outcome(&self, _: &str, _: &str, _: &str) -> Option<Result<(), String>> {
            None
        }
        fn began(&self, _: &str, _: &str, _: &str) -> bool {
            false
        }
        fn set_node(&self, _: &str, _: Option<&str>, _: &str) {}
        fn abort_requested(&self) -> bool {
            false
        }
    }

    #[test]
    fn events_become_journal_records_per_inventory_host_and_the_recap_decides() {
        let j = Rec::default();
        let mut p = Parser::new("forward", &j);
        for l in [
            r#"{"event":"ok","host":"h1","task":"out of the pool","changed":true,"delegated_to":"lb1"}"#,
            r#"{"event":"failed","host":"h1","task":"probe","msg":"503","ignored":true}"#,
            r#"{"event":"skipped","host":"h1","task":"only on h2"}"#,
            r#"{"event":"failed","host":"h1","task":"risky","msg":"boom","rescued":true}"#,
            r#"{"event":"ok","host":"h1","task":"restart","changed":true,"handler":true}"#,
            r#"{"event":"failed","host":"h2","task":"health","msg":"h2 does not start bad"}"#,
            r#"{"event":"unreachable","host":"h3","task":"install","msg":"ssh: connect refused"}"#,
            "not json: a stray line",
            r#"{"event":"recap","hosts":{"h1":{"ok":3,"failures":0,"rescued":1,"ignored":1},"h2":{"failures":1},"h3":{"unreachable":1}}}"#,
        ] {
            p.line(l);
        }
        let recs = j.0.lock().unwrap().clone();
        assert_eq!(
            recs,
            [
                "forward h1 task:out of the pool ok changed via lb1",
                "forward h1 task:probe ignored failed, ignored: 503",
                "forward h1 task:only on h2 skip skipped",
                "forward h1 task:risky rescued failed, rescued: boom",
                "forward h1 handler:restart ok changed",
                "forward h2 task:health fail h2 does not start bad",
                "forward h3 task:install fail unreachable: ssh: connect refused",
                "forward h1 errors handled ok 1 rescued, 1 ignored",
            ]
        );
        assert!(!p.hosts["h1"].failed);
        assert_eq!(p.hosts["h2"].reason, "health: h2 does not start bad");
        assert_eq!(p.hosts["h3"].reason, "unreachable: ssh: connect refused");
        assert!(p.hosts["h3"].failed);
        assert_eq!(p.seen.len(), 3, "lb1 is not a host of the run");
    }
}
