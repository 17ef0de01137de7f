//! Opening a web page: in the local desktop's browser, or, over SSH or without a display, by
//! showing the URL so it can be copied.

use std::process::{Command, Stdio};

/// What became of a URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opened {
    /// A browser was started with it.
    Browser(String),
    /// No browser here (SSH, no display): the URL to show so it can be copied.
    Show(String),
    /// The browser could not be started.
    Failed(String),
}

/// Opens `url` in a browser, or says it should be shown.
pub fn open(url: &str) -> Opened {
    let var = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    let remote = var("SSH_CONNECTION") || var("SSH_TTY");
    let display = var("DISPLAY") || var("WAYLAND_DISPLAY") || cfg!(target_os = "macos");
    if remote || !display || !(url.starts_with("https://") || url.starts_with("http://")) {
        return Opened::Show(url.to_string());
    }
    let opener = std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty());
    let program = opener.unwrap_or_else(|| {
        if cfg!(target_os = "macos") {
            "open".into()
        } else {
            "xdg-open".into()
        }
    });
    // No shell: the URL is one argument; the browser's chatter must not reach the screen.
    match Command::new(&program)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
            Opened::Browser(format!("opened {url}"))
        }
        Err(e) => Opened::Failed(format!("cannot run {program} ({e}): {url}")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_web_urls_are_opened() {
        assert_eq!(
            super::open("file:///etc/passwd"),
            super::Opened::Show("file:///etc/passwd".into())
        );
    }
}
