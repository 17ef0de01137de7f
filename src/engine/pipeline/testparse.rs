//! Test results from step output (libtest / cargo test, cargo nextest, pytest) and JUnit XML.

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
        self.pytest.get_or_insert_default().add(report.counts);
        for f in report.failed {
            self.fail(&f);
        }
    }

    /// The counts seen (nextest's summary wins over the libtest lines it may echo) and the
    /// failing test names.
    pub fn finish(self) -> (Option<TestCounts>, Vec<String>) {
        let rust = self.nextest.or(self.libtest);
        let total = match (rust, self.pytest) {
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

fn attr(tag: &str, name: &str) -> Option<String> {
    let pat = format!("{name}=");
    let mut from = 0;
    while let Some(i) = tag[from..].find(&pat) {
        let at = from + i;
        let before_ok = at == 0 || tag[..at].ends_with(char::is_whitespace);
        let rest = &tag[at + pat.len()..];
        if before_ok && let Some(q) = rest.chars().next().filter(|q| *q == '"' || *q == '\'') {
            let end = rest[1..].find(q)?;
            return Some(
                rest[1..=end]
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\"")
                    .replace("&apos;", "'")
                    .replace("&amp;", "&"),
            );
        }
        from = at + pat.len();
    }
    None
}

/// Parses a JUnit XML report (the `<testcase>` elements of any number of suites).
pub fn parse_junit(xml: &str) -> Result<JunitReport, String> {
    if !xml.contains("<testsuite") {
        return Err("not a JUnit report: no <testsuite> element".into());
    }
    let mut report = JunitReport::default();
    let mut rest = xml;
    while let Some(i) = rest.find("<testcase") {
        rest = &rest[i..];
        let tag_end = rest.find('>').ok_or("truncated <testcase> tag")?;
        let tag = &rest[..tag_end];
        let self_closing = tag.ends_with('/');
        let body = if self_closing {
            ""
        } else {
            // Look for the end after this tag's `>`, never before it.
            let close = rest[tag_end + 1..]
                .find("</testcase>")
                .map(|i| tag_end + 1 + i)
                .ok_or("<testcase> without </testcase>")?;
            &rest[tag_end + 1..close]
        };
        let name = attr(tag, "name").unwrap_or_else(|| "?".into());
        let full = match attr(tag, "classname") {
            Some(c) if !c.is_empty() => format!("{c}.{name}"),
            _ => name,
        };
        if body.contains("<failure") || body.contains("<error") {
            report.counts.failed += 1;
            report.failed.push(full);
        } else if body.contains("<skipped") {
            report.counts.skipped += 1;
        } else {
            report.counts.passed += 1;
        }
        rest = &rest[tag_end..];
    }
    Ok(report)
}

#[cfg(test)]
mod tests;
