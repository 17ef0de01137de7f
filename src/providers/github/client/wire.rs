//! What goes over the wire: capped bodies, `Link` headers, and one-line summaries of answers.

use http::HeaderMap;
use http_body_util::BodyExt;

use crate::providers::ProviderError;

/// Reads a body up to `cap` bytes: past it, an error, or (`truncate`) the first `cap` bytes.
pub(super) async fn read_capped<B>(
    mut body: B,
    cap: usize,
    truncate: bool,
) -> Result<bytes::Bytes, ProviderError>
where
    B: http_body::Body<Data = bytes::Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ProviderError::Unreachable(one_line(&e.to_string())))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if out.len() + data.len() > cap {
            if !truncate {
                return Err(ProviderError::BadResponse(format!(
                    "answer larger than {} MiB",
                    cap >> 20
                )));
            }
            out.extend_from_slice(&data[..cap - out.len()]);
            break;
        }
        out.extend_from_slice(&data);
    }
    Ok(out.into())
}

/// The path and query of the `rel="next"` link, relative to the API's base path.
pub(super) fn link_next(h: &HeaderMap, base_path: &str) -> Option<String> {
    let link = h.get(http::header::LINK)?.to_str().ok()?;
    for part in link.split(',') {
        let (url, rel) = part.split_once(';')?;
        if !rel.contains("rel=\"next\"") {
            continue;
        }
        let url = url.trim().trim_start_matches('<').trim_end_matches('>');
        let uri: http::Uri = url.parse().ok()?;
        let pq = uri.path_and_query()?.as_str();
        return Some(pq.strip_prefix(base_path).unwrap_or(pq).to_string());
    }
    None
}

/// One line saying what an error body says: GitHub's `message`, an HTML page's title, or the
/// start of the text.
pub fn summarize(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(64 << 10)]);
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(m) = v.get("message").and_then(|m| m.as_str())
    {
        return one_line(m);
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("<html") || lower.contains("<!doctype") {
        if let (Some(a), Some(b)) = (lower.find("<title>"), lower.find("</title>"))
            && a + 7 <= b
        {
            return format!("HTML page: {}", one_line(&text[a + 7..b]));
        }
        return "an HTML page".into();
    }
    if text.trim().is_empty() {
        return "empty answer".into();
    }
    one_line(&text)
}

/// Collapses whitespace and controls to single spaces and keeps at most 160 characters.
pub fn one_line(s: &str) -> String {
    let mut out = String::new();
    for w in s.split(|c: char| c.is_whitespace() || c.is_control()) {
        if w.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
        if out.chars().count() > 160 {
            let cut: String = out.chars().take(159).collect();
            return format!("{cut}…");
        }
    }
    out
}

/// `HH:MM:SS` UTC of a Unix time.
pub fn clock(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%H:%M:%S UTC").to_string())
        .unwrap_or_else(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_are_one_line() {
        assert_eq!(
            summarize(br#"{"message":"Bad\ncredentials","documentation_url":"x"}"#),
            "Bad credentials"
        );
        assert_eq!(
            summarize(b"<!DOCTYPE html><html><head><title>504 Gateway\n Time-out</title></head><body>...</body></html>"),
            "HTML page: 504 Gateway Time-out"
        );
        assert_eq!(summarize(b"  "), "empty answer");
        assert_eq!(summarize(b"{\"trunc"), "{\"trunc");
        assert!(one_line(&"x".repeat(500)).chars().count() <= 160);
    }

    #[test]
    fn next_link_is_relative_to_the_base() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::LINK,
            r#"<https://ghe.example/api/v3/repos/a/b/issues?page=2>; rel="next", <https://ghe.example/api/v3/repos/a/b/issues?page=5>; rel="last""#
                .parse()
                .unwrap(),
        );
        assert_eq!(
            link_next(&h, "/api/v3").as_deref(),
            Some("/repos/a/b/issues?page=2")
        );
        h.insert(
            http::header::LINK,
            r#"<https://x/y?page=1>; rel="prev""#.parse().unwrap(),
        );
        assert_eq!(link_next(&h, ""), None);
    }
}
