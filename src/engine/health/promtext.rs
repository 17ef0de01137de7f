//! The Prometheus text exposition format (version 0.0.4): parsing, selectors and aggregation.

use serde::{Deserialize, Serialize};

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Metric name, e.g. `http_requests_total`.
    pub name: String,
    /// Label pairs in the order they appeared, values unescaped.
    pub labels: Vec<(String, String)>,
    /// Sample value (may be NaN or infinite).
    pub value: f64,
}

/// Parses an exposition body, skipping comments, blank lines and malformed lines.
///
/// Errs only when the body has content but not a single line parses; the message names the
/// first bad line (truncated to 80 chars, control characters replaced by `?`).
pub fn parse(body: &str) -> Result<Vec<Sample>, String> {
    let mut out = Vec::new();
    let mut first_bad: Option<(usize, Bad, &str)> = None;
    for (i, raw) in body.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Ok(sample) => out.push(sample),
            Err(bad) if first_bad.is_none() => first_bad = Some((i + 1, bad, line)),
            Err(_) => {}
        }
    }
    match first_bad {
        Some((no, bad, line)) if out.is_empty() => Err(format!(
            "not Prometheus text format: line {no}: {} at column {}: {}",
            bad.what,
            bad.at + 1,
            clean(line)
        )),
        _ => Ok(out),
    }
}

/// A selector like `name` or `name{a="b",c="d"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    /// Metric name that must match exactly.
    pub name: String,
    /// Labels that must all be present with these exact values.
    pub labels: Vec<(String, String)>,
}

impl Selector {
    /// Parses a selector; Err with a clear message on bad syntax.
    pub fn parse(s: &str) -> Result<Selector, String> {
        let text = s.trim();
        if text.is_empty() {
            return Err("empty selector: expected a metric name like `up{job=\"api\"}`".into());
        }
        let fail = |b: Bad| {
            format!(
                "bad selector `{}`: {} at column {}",
                clean(text),
                b.what,
                b.at + 1
            )
        };
        let mut c = Cursor { s: text, i: 0 };
        let (name, labels, _) = series(&mut c).map_err(fail)?;
        c.skip_ws();
        if !c.at_end() {
            return Err(fail(c.bad("unexpected text after the selector")));
        }
        Ok(Selector {
            name: name.to_string(),
            labels,
        })
    }

    /// Whether a sample matches (name equal; every selector label present with equal value).
    pub fn matches(&self, s: &Sample) -> bool {
        s.name == self.name
            && self
                .labels
                .iter()
                .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
    }
}

/// How several matching samples become one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// Sum of the values.
    #[default]
    Sum,
    /// Largest value (NaN values ignored unless all are NaN).
    Max,
    /// Smallest value (NaN values ignored unless all are NaN).
    Min,
    /// Arithmetic mean.
    Avg,
}

/// Aggregates the matching samples' values; None when nothing matches.
pub fn select(samples: &[Sample], sel: &Selector, agg: Aggregate) -> Option<f64> {
    let mut n = 0usize;
    let mut acc = 0.0f64;
    for v in samples.iter().filter(|s| sel.matches(s)).map(|s| s.value) {
        acc = if n == 0 {
            v
        } else {
            match agg {
                Aggregate::Sum | Aggregate::Avg => acc + v,
                Aggregate::Max => acc.max(v),
                Aggregate::Min => acc.min(v),
            }
        };
        n += 1;
    }
    match (n, agg) {
        (0, _) => None,
        (_, Aggregate::Avg) => Some(acc / n as f64),
        _ => Some(acc),
    }
}

/// Why a line or selector did not parse: byte offset and what was expected.
#[derive(Clone, Copy, Debug)]
struct Bad {
    at: usize,
    what: &'static str,
}

/// A byte cursor over one line; it only stops at ASCII bytes, so slices stay on char boundaries.
struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        if hit {
            self.i += 1;
        }
        hit
    }

    fn skip_ws(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        self.i - start
    }

    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn bad(&self, what: &'static str) -> Bad {
        Bad { at: self.i, what }
    }

    /// A metric name (`colon` allowed) or label name.
    fn ident(&mut self, colon: bool) -> Option<&'a str> {
        let s = self.s;
        let start = self.i;
        while let Some(b) = self.peek() {
            let ok = b.is_ascii_alphabetic()
                || b == b'_'
                || (colon && b == b':')
                || (self.i > start && b.is_ascii_digit());
            if !ok {
                break;
            }
            self.i += 1;
        }
        (self.i > start).then(|| &s[start..self.i])
    }

    /// Everything up to the next space, tab or end of line.
    fn token(&mut self) -> &'a str {
        let s = self.s;
        let start = self.i;
        while !matches!(self.peek(), None | Some(b' ' | b'\t')) {
            self.i += 1;
        }
        &s[start..self.i]
    }

    /// The rest of a label value after its opening quote, unescaped; consumes the closing quote.
    fn quoted(&mut self) -> Result<String, Bad> {
        let s = self.s;
        let bytes = s.as_bytes();
        let mut out = String::new();
        let mut run = self.i;
        while let Some(&b) = bytes.get(self.i) {
            match b {
                b'"' => {
                    out.push_str(&s[run..self.i]);
                    self.i += 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(&s[run..self.i]);
                    let unescaped = match bytes.get(self.i + 1) {
                        Some(b'n') => '\n',
                        Some(b'\\') => '\\',
                        Some(b'"') => '"',
                        // Unknown escape: keep the backslash, read what follows as usual.
                        Some(_) => {
                            out.push('\\');
                            self.i += 1;
                            run = self.i;
                            continue;
                        }
                        None => break,
                    };
                    out.push(unescaped);
                    self.i += 2;
                    run = self.i;
                }
                _ => self.i += 1,
            }
        }
        Err(self.bad("unterminated label value"))
    }
}

/// A series: its name, its labels, and whether braces were present.
type Series<'a> = (&'a str, Vec<(String, String)>, bool);

/// `name` or `name{label="value",...}`.
fn series<'a>(c: &mut Cursor<'a>) -> Result<Series<'a>, Bad> {
    let name = c
        .ident(true)
        .ok_or_else(|| c.bad("expected a metric name"))?;
    let after_name = c.i;
    c.skip_ws();
    if !c.eat(b'{') {
        c.i = after_name;
        return Ok((name, Vec::new(), false));
    }
    let mut labels = Vec::new();
    loop {
        c.skip_ws();
        if c.eat(b'}') {
            break;
        }
        let key = c
            .ident(false)
            .ok_or_else(|| c.bad("expected a label name"))?;
        c.skip_ws();
        if !c.eat(b'=') {
            return Err(c.bad("expected '=' after the label name"));
        }
        c.skip_ws();
        if !c.eat(b'"') {
            return Err(c.bad("expected '\"' to open the label value"));
        }
        let value = c.quoted()?;
        labels.push((key.to_string(), value));
        c.skip_ws();
        if c.eat(b'}') {
            break;
        }
        if !c.eat(b',') {
            return Err(c.bad("expected ',' or '}' after the label value"));
        }
    }
    Ok((name, labels, true))
}

fn parse_line(line: &str) -> Result<Sample, Bad> {
    let mut c = Cursor { s: line, i: 0 };
    let (name, labels, braced) = series(&mut c)?;
    let gap = c.skip_ws();
    if c.at_end() {
        return Err(c.bad("missing value"));
    }
    if gap == 0 && !braced {
        return Err(c.bad("expected whitespace after the metric name"));
    }
    let at = c.i;
    let value = parse_value(c.token()).ok_or(Bad {
        at,
        what: "bad value",
    })?;
    c.skip_ws();
    let at = c.i;
    let stamp = c.token();
    if !stamp.is_empty() && stamp.parse::<f64>().is_err() {
        return Err(Bad {
            at,
            what: "bad timestamp",
        });
    }
    c.skip_ws();
    if !c.at_end() {
        return Err(c.bad("unexpected text after the value"));
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

fn parse_value(token: &str) -> Option<f64> {
    match token {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => token.parse().ok(),
    }
}

/// At most 80 characters of `s`, control characters replaced by `?`.
fn clean(s: &str) -> String {
    s.chars()
        .take(80)
        .map(|ch| if ch.is_control() { '?' } else { ch })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Sample {
        let mut samples = parse(line).unwrap();
        assert_eq!(samples.len(), 1, "{line}");
        samples.remove(0)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn escaped_label_values() {
        let s = one(r#"m{path="C:\\dir",msg="say \"hi\"\nbye",odd="a\tb"} 1"#);
        assert_eq!(
            s.labels,
            pairs(&[
                ("path", r"C:\dir"),
                ("msg", "say \"hi\"\nbye"),
                ("odd", r"a\tb")
            ])
        );
        assert_eq!(one(r#"m{u="é\"ü"} 2"#).labels, pairs(&[("u", "é\"ü")]));
    }

    #[test]
    fn special_and_scientific_values() {
        assert!(one("a NaN").value.is_nan());
        assert_eq!(one("a +Inf").value, f64::INFINITY);
        assert_eq!(one("a -Inf").value, f64::NEG_INFINITY);
        assert_eq!(one("a 1.5e3").value, 1500.0);
        assert_eq!(one("a -2E-2").value, -0.02);
        assert!(parse("a 12abc").is_err());
    }

    #[test]
    fn timestamps_empty_braces_and_whitespace() {
        assert_eq!(one("a 3 1395066363000").value, 3.0);
        assert_eq!(
            one("a{} 4"),
            Sample {
                name: "a".into(),
                labels: vec![],
                value: 4.0
            }
        );
        let s = one("ns:a_b \t  5\t1700000000000  \r");
        assert_eq!((s.name.as_str(), s.value), ("ns:a_b", 5.0));
        assert_eq!(one(r#"a { x = "1" , } 6"#).labels, pairs(&[("x", "1")]));
        assert!(parse("a 1 2 3").is_err());
        assert!(parse("a-1").is_err());
    }

    const BODY: &str = r#"# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="0.1"} 33444
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320

# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000
http_requests_total{method="get",code="200"} 10
this line is broken {
"#;

    #[test]
    fn realistic_body_and_select() {
        let samples = parse(BODY).unwrap();
        assert_eq!(samples.len(), 8);
        let bucket = Selector::parse(r#"http_request_duration_seconds_bucket{le="0.1"}"#).unwrap();
        assert_eq!(select(&samples, &bucket, Aggregate::Sum), Some(33444.0));
        let post = Selector::parse(r#"http_requests_total{method="post"}"#).unwrap();
        assert_eq!(select(&samples, &post, Aggregate::Sum), Some(1030.0));
        assert_eq!(select(&samples, &post, Aggregate::Max), Some(1027.0));
        assert_eq!(select(&samples, &post, Aggregate::Min), Some(3.0));
        assert_eq!(select(&samples, &post, Aggregate::Avg), Some(515.0));
        let all = Selector::parse("http_requests_total").unwrap();
        assert_eq!(select(&samples, &all, Aggregate::Sum), Some(1040.0));
        let none = Selector::parse(r#"http_requests_total{method="put"}"#).unwrap();
        assert_eq!(select(&samples, &none, Aggregate::Sum), None);
    }

    #[test]
    fn garbage_is_an_error_but_comments_are_not() {
        let html = "<!DOCTYPE html>\n<html><body>\u{7}Not Found</body></html>\n";
        let err = parse(html).unwrap_err();
        assert!(
            err.contains("line 1") && err.contains("<!DOCTYPE html>"),
            "{err}"
        );
        assert!(!err.contains('\n'));
        let long = format!("\u{1b}{}", "x".repeat(200));
        let err = parse(&long).unwrap_err();
        assert!(err.contains(&format!("?{}", "x".repeat(79))) && !err.contains(&"x".repeat(80)));
        assert!(parse("").unwrap().is_empty());
        assert!(parse("# HELP a b\n# TYPE a gauge\n\n").unwrap().is_empty());
    }

    #[test]
    fn selector_syntax() {
        let sel = Selector::parse(r#" up{job="api", env="prod"} "#).unwrap();
        assert_eq!(sel.name, "up");
        assert_eq!(sel.labels, pairs(&[("job", "api"), ("env", "prod")]));
        for bad in [
            "",
            "up{",
            "up{job}",
            r#"up{job="api""#,
            "up extra",
            "{a=\"b\"}",
            "9up",
        ] {
            let err = Selector::parse(bad).unwrap_err();
            assert!(!err.is_empty(), "{bad}");
        }
        let s = one(r#"up{job="api",env="prod",zone="a"} 1"#);
        assert!(sel.matches(&s));
        assert!(!Selector::parse(r#"up{job="web"}"#).unwrap().matches(&s));
        assert!(!Selector::parse("down").unwrap().matches(&s));
    }
}
