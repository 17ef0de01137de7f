//! Where a GitHub token comes from: a configured command, the configured variable, `GH_TOKEN`,
//! `GITHUB_TOKEN`, or `gh auth token`, in that order. The token is never logged or shown.

use crate::secret::run;

/// A token and where it came from; `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct Token {
    secret: String,
    /// Where it came from (`GH_TOKEN`, `gh auth token`, `token_cmd pass`).
    pub source: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token({}, {})", self.source, self.redacted())
    }
}

impl Token {
    /// A token from `source`.
    pub fn new(secret: &str, source: &str) -> Token {
        Token {
            secret: secret.trim().to_string(),
            source: source.to_string(),
        }
    }

    /// The token itself, for the client's `Authorization` header only.
    pub(super) fn secret(&self) -> &str {
        &self.secret
    }

    /// Its kind prefix and length (`ghp_… (40 chars)`), never the secret part.
    pub fn redacted(&self) -> String {
        let prefix = match self.secret.find('_') {
            Some(i) if i <= 10 && self.secret[..i].chars().all(|c| c.is_ascii_alphabetic()) => {
                &self.secret[..=i]
            }
            _ => "",
        };
        format!("{prefix}… ({} chars)", self.secret.chars().count())
    }
}

/// The hostname `gh` knows an API host by (`api.github.com` → `github.com`).
fn gh_hostname(api_host: &str) -> &str {
    match api_host {
        "api.github.com" => "github.com",
        h => h.split(':').next().unwrap_or(h),
    }
}

/// Finds the token for a provider; `Ok(None)` means anonymous (no source had one).
pub fn resolve(
    token_cmd: Option<&[String]>,
    token_env: Option<&str>,
    api_host: &str,
) -> Result<Option<Token>, String> {
    if let Some(argv) = token_cmd.filter(|a| !a.is_empty()) {
        let out = run(argv)?;
        if out.is_empty() {
            return Err(format!("token_cmd `{}` printed no token", argv[0]));
        }
        return Ok(Some(Token::new(&out, &format!("token_cmd `{}`", argv[0]))));
    }
    let mut names: Vec<&str> = Vec::new();
    if let Some(n) = token_env {
        names.push(n);
    }
    names.extend(["GH_TOKEN", "GITHUB_TOKEN"]);
    for n in names {
        if let Ok(v) = std::env::var(n)
            && !v.trim().is_empty()
        {
            return Ok(Some(Token::new(&v, &format!("${n}"))));
        }
    }
    let argv = [
        "gh".to_string(),
        "auth".into(),
        "token".into(),
        "--hostname".into(),
        gh_hostname(api_host).into(),
    ];
    match run(&argv) {
        Ok(out) if !out.is_empty() => Ok(Some(Token::new(&out, "gh auth token"))),
        // No gh, or not logged in: anonymous.
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_only_the_kind() {
        let t = Token::new("ghp_SECRETSECRETSECRET", "$GH_TOKEN");
        assert_eq!(t.redacted(), "ghp_… (22 chars)");
        assert!(!format!("{t:?}").contains("SECRET"));
        assert_eq!(Token::new("abcdef", "x").redacted(), "… (6 chars)");
    }

    use std::time::{Duration, Instant};

    #[test]
    fn a_command_comes_first_and_a_slow_one_times_out() {
        let argv = vec!["sh".to_string(), "-c".into(), "echo tok123".into()];
        let t = resolve(Some(&argv), None, "api.github.com")
            .unwrap()
            .unwrap();
        assert_eq!(t.secret(), "tok123");
        assert_eq!(t.source, "token_cmd `sh`");
        let slow = vec!["sleep".to_string(), "30".into()];
        let start = Instant::now();
        let err = resolve(Some(&slow), None, "api.github.com").unwrap_err();
        assert!(err.contains("within 5s"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(7));
        let failing = vec!["false".to_string()];
        assert!(resolve(Some(&failing), None, "h").is_err());
    }

    #[test]
    fn hostnames_for_gh() {
        assert_eq!(gh_hostname("api.github.com"), "github.com");
        assert_eq!(gh_hostname("ghe.corp:8443"), "ghe.corp");
    }
}
