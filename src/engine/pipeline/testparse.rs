//! Test results from step output (libtest / cargo test, cargo nextest, pytest) and JUnit XML.

use std::collections::HashSet;
use std::fmt::Display;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::domain::TestCounts;

/// Removes escape sequences so summaries match whatever colours the tool used.
pub fn strip_escapes(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            for f in chars.by_ref() {
                if ('@'..='~').contains(&f) {
                    break;
                }
            }
        }
    }
    out
}

/// Reads step output line by line and remembers the test summaries it sees.
#[derive(Clone, Debug, Default)]
pub struct TestParser {
    libtest: Option<TestCounts>,
    nextest: Option<TestCounts>,
    pytest: Option<TestCounts>,
    failed: Vec<String>,
    /// JUnit reports, kept apart: pytest's `--junitxml` repeats its own summary.
    junit: Option<JunitReport>,
}

/// `N word` pairs from a summary like `3 passed; 1 failed` or `3 passed, 1 failed`.
fn counts(text: &str) -> Vec<(u32, String)> {
    text.split([',', ';'])
        .filter_map(|part| {
            let mut words = part.split_whitespace();
            let n = words.next()?.parse().ok()?;
            Some((n, words.next()?.trim_end_matches('.').to_string()))
        })
        .collect()
}

fn tally(pairs: &[(u32, String)]) -> TestCounts {
    let mut t = TestCounts::default();
    for (n, word) in pairs {
        match word.as_str() {
            "passed" => t.passed += n,
            "failed" | "error" | "errors" | "timed" => t.failed += n,
            "ignored" | "skipped" | "xfailed" | "deselected" => t.skipped += n,
            _ => {}
        }
    }
    t
}

/// A test name as JUnit spells it: pytest's `tests/test_x.py::TestY::test_z` is
/// `tests.test_x.TestY.test_z` in its `--junitxml` report.
fn dotted(name: &str) -> String {
    name.replace(".py::", ".")
        .replace("::", ".")
        .replace('/', ".")
}

impl TestParser {
    /// Feeds one line of output.
    pub fn line(&mut self, raw: &str) {
        // Most lines are none of these: skip them before any allocation.
        if !["test", "passed", "FAIL", "failed", "error"]
            .iter()
            .any(|w| raw.contains(w))
        {
            return;
        }
        let line = strip_escapes(raw);
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("test result: ") {
            // libtest: "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; ..."
            let rest = rest.split_once(". ").map_or(rest, |(_, r)| r);
            self.libtest
                .get_or_insert_default()
                .add(tally(&counts(rest)));
        } else if let Some(name) = t
            .strip_prefix("test ")
            .and_then(|r| r.strip_suffix(" ... FAILED"))
        {
            self.fail(name);
        } else if t.starts_with("Summary [") && t.contains("tests run:") {
            // nextest: "Summary [ 0.2s] 60 tests run: 59 passed, 1 failed, 0 skipped"
            if let Some((_, rest)) = t.split_once("tests run:") {
                self.nextest = Some(tally(&counts(rest)));
            }
        } else if let Some(rest) = t
            .strip_prefix("FAIL [")
            .or_else(|| t.strip_prefix("TIMEOUT ["))
        {
            // nextest: "FAIL [   0.150s] (41/60) crate path::to::test"
            let name = rest.rsplit_once(") ").map_or_else(
                || rest.split_once("] ").map_or(rest, |(_, n)| n),
                |(_, n)| n,
            );
            self.fail(name.trim());
        } else if t.starts_with('=')
            && t.ends_with('=')
            && (t.contains(" passed") || t.contains(" failed") || t.contains(" error"))
            && t.contains(" in ")
        {
            // pytest: "==== 2 failed, 10 passed, 1 skipped in 0.12s ===="
            let inner = t.trim_matches('=').trim();
            let inner = inner.rsplit_once(" in ").map_or(inner, |(c, _)| c);
            self.pytest = Some(tally(&counts(inner)));
        } else if let Some(rest) = t.strip_prefix("FAILED ") {
            // pytest: "FAILED tests/test_x.py::test_y - AssertionError"
            self.fail(rest.split(" - ").next().unwrap_or(rest).trim());
        }
    }

    fn fail(&mut self, name: &str) {
        if !name.is_empty() && !self.failed.iter().any(|f| f == name) {
            self.failed.push(name.to_string());
        }
    }

    /// Adds a JUnit report's results.
    pub fn junit(&mut self, report: JunitReport) {
        let all = self.junit.get_or_insert_default();
        all.counts.add(report.counts);
        all.failed.extend(report.failed);
    }

    /// The counts seen (nextest's summary wins over the libtest lines it may echo, pytest's
    /// over JUnit reports, which `--junitxml` makes of the same tests) and the failing test
    /// names.
    pub fn finish(mut self) -> (Option<TestCounts>, Vec<String>) {
        let rust = self.nextest.or(self.libtest);
        let mut other = self.pytest;
        if let Some(junit) = self.junit.take() {
            other = other.or(Some(junit.counts));
            for f in junit.failed {
                if !self.failed.iter().any(|seen| dotted(seen) == dotted(&f)) {
                    self.failed.push(f);
                }
            }
        }
        let total = match (rust, other) {
            (None, None) => None,
            (a, b) => {
                let mut t = a.unwrap_or_default();
                t.add(b.unwrap_or_default());
                Some(t)
            }
        };
        (total, self.failed)
    }
}

/// What a JUnit XML file says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JunitReport {
    /// Counts.
    pub counts: TestCounts,
    /// `classname.name` of failed or errored cases.
    pub failed: Vec<String>,
}

/// Parses a JUnit XML report: the `<testcase>` elements of every suite, however nested.
pub fn parse_junit(xml: &str) -> Result<JunitReport, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("not valid XML: {e}"))?;
    let root = doc.root_element().tag_name().name();
    if root != "testsuites" && root != "testsuite" {
        return Err(format!(
            "not a JUnit report: the root element is <{root}>, not <testsuites> or <testsuite>"
        ));
    }
    let mut report = JunitReport::default();
    for case in doc.descendants().filter(|n| n.has_tag_name("testcase")) {
        let has = |tag: &str| case.children().any(|c| c.has_tag_name(tag));
        if has("failure") || has("error") {
            let name = case
                .attribute("name")
                .filter(|n| !n.is_empty())
                .unwrap_or("?");
            report.failed.push(match case.attribute("classname") {
                Some(c) if !c.is_empty() => format!("{c}.{name}"),
                _ => name.to_string(),
            });
            report.counts.failed += 1;
        } else if has("skipped") {
            report.counts.skipped += 1;
        } else {
            report.counts.passed += 1;
        }
    }
    Ok(report)
}

/// File systems stamp files with a coarse clock (a tick behind, or whole seconds): a report
/// written right after the step started may look a little older than the start.
const MTIME_SLACK: Duration = Duration::from_secs(1);

/// Feeds `parser` the JUnit reports matching `patterns` (globs, relative to `dir`) that were
/// written since `since`, each file once; returns the lines to write into the run log.
pub fn read_junit(
    dir: &Path,
    patterns: &[PathBuf],
    since: SystemTime,
    parser: &mut TestParser,
) -> Vec<String> {
    let note = |what: &Path, why: &dyn Display| {
        format!("flightdeck: JUnit report {}: {why}", what.display())
    };
    let mut notes = Vec::new();
    let mut seen = HashSet::new();
    for pattern in patterns {
        let full = if pattern.is_absolute() {
            pattern.to_string_lossy().into_owned()
        } else {
            let dir = glob::Pattern::escape(&dir.to_string_lossy());
            format!("{dir}/{}", pattern.to_string_lossy())
        };
        let paths = match glob::glob(&full) {
            Ok(paths) => paths,
            Err(e) => {
                notes.push(note(pattern, &format!("bad pattern: {e}")));
                continue;
            }
        };
        let mut matched = false;
        for path in paths {
            matched = true;
            let path = match path {
                Ok(p) => p,
                Err(e) => {
                    notes.push(note(pattern, &e));
                    continue;
                }
            };
            if !seen.insert(fs::canonicalize(&path).unwrap_or_else(|_| path.clone())) {
                continue;
            }
            match read_report(&path, since) {
                Ok(r) => parser.junit(r),
                Err(e) => notes.push(note(path.strip_prefix(dir).unwrap_or(&path), &e)),
            }
        }
        if !matched {
            notes.push(note(pattern, &"no file matches"));
        }
    }
    notes
}

fn read_report(path: &Path, since: SystemTime) -> Result<JunitReport, String> {
    let modified = fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(|e| e.to_string())?;
    if modified + MTIME_SLACK < since {
        return Err("older than this step, ignored".into());
    }
    parse_junit(&fs::read_to_string(path).map_err(|e| e.to_string())?)
}

#[cfg(test)]
mod tests;
