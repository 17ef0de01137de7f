//! Reading `ansible-playbook`'s default output: task results per host as they come, and
//! the recap that decides which hosts failed.

use std::collections::BTreeMap;

use super::Journal;

/// What one host did in a playbook run, from the recap.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct HostResult {
    pub(super) failed: bool,
    pub(super) reason: String,
}

/// Parses output lines, journaling per-host task results as they come.
pub(super) struct Parser<'a> {
    pub(super) phase: &'a str,
    pub(super) journal: &'a dyn Journal,
    pub(super) task: String,
    pub(super) in_recap: bool,
    pub(super) failures: BTreeMap<String, String>,
    pub(super) hosts: BTreeMap<String, HostResult>,
    /// Hosts named by any task result (a killed run prints no recap).
    pub(super) seen: std::collections::BTreeSet<String>,
}

fn host_of(rest: &str) -> Option<(&str, &str)> {
    let rest = rest.strip_prefix('[')?;
    let end = rest.find(']')?;
    Some((&rest[..end], &rest[end + 1..]))
}

impl Parser<'_> {
    /// Takes one line of output.
    pub(super) fn line(&mut self, line: &str) {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("TASK [") {
            self.task = rest.split(']').next().unwrap_or("").to_string();
            return;
        }
        if line.starts_with("PLAY RECAP") {
            self.in_recap = true;
            return;
        }
        if self.in_recap {
            // `h1   : ok=1 changed=1 unreachable=0 failed=0 ...`
            if let Some((host, stats)) = line.split_once(" : ") {
                let count = |k: &str| {
                    stats
                        .split_whitespace()
                        .find_map(|kv| kv.strip_prefix(k))
                        .and_then(|v| v.parse::<u32>().ok())
                        .unwrap_or(0)
                };
                let failed = count("failed=") > 0 || count("unreachable=") > 0;
                let host = host.trim().to_string();
                let reason = self.failures.get(&host).cloned().unwrap_or_default();
                self.hosts.insert(host, HostResult { failed, reason });
            }
            return;
        }
        let step = format!("task:{}", self.task);
        for (prefix, ok) in [
            ("ok: ", true),
            ("changed: ", true),
            ("fatal: ", false),
            ("failed: ", false),
        ] {
            if let Some((host, rest)) = line.strip_prefix(prefix).and_then(host_of) {
                self.seen.insert(host.to_string());
                if ok {
                    self.journal.record(
                        self.phase,
                        host,
                        &step,
                        "ok",
                        prefix.trim_end_matches(": "),
                    );
                } else {
                    let msg = rest
                        .split("\"msg\": \"")
                        .nth(1)
                        .and_then(|m| m.split('"').next())
                        .unwrap_or(rest.trim())
                        .chars()
                        .take(200)
                        .collect::<String>();
                    self.journal.record(self.phase, host, &step, "fail", &msg);
                    self.failures
                        .insert(host.to_string(), format!("{}: {msg}", self.task));
                }
                return;
            }
        }
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
        fn touched(&self, _: &str, _: &str) -> bool {
            false
        }
        fn set_node(&self, _: &str, _: Option<&str>, _: &str) {}
        fn abort_requested(&self) -> bool {
            false
        }
    }

    #[test]
    fn output_lines_become_journal_records_and_the_recap_decides() {
        let j = Rec::default();
        let mut p = Parser {
            phase: "forward",
            journal: &j,
            task: String::new(),
            in_recap: false,
            failures: BTreeMap::new(),
            hosts: BTreeMap::new(),
            seen: Default::default(),
        };
        for l in [
            "TASK [install] *****",
            "changed: [h1]",
            "TASK [health] *****",
            "skipping: [h1]",
            r#"fatal: [h2]: FAILED! => {"changed": false, "msg": "h2 does not start bad"}"#,
            "PLAY RECAP *****",
            "h1                         : ok=1    changed=1    unreachable=0    failed=0    skipped=1",
            "h2                         : ok=1    changed=1    unreachable=0    failed=1    skipped=0",
        ] {
            p.line(l);
        }
        let recs = j.0.lock().unwrap().clone();
        assert_eq!(
            recs,
            [
                "forward h1 task:install ok changed",
                "forward h2 task:health fail h2 does not start bad"
            ]
        );
        assert!(!p.hosts["h1"].failed);
        assert!(p.hosts["h2"].failed);
        assert_eq!(p.hosts["h2"].reason, "health: h2 does not start bad");
    }
}
