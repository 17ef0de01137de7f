//! Opening a web page: in the local desktop's browser, or, over SSH or without a display, by
//! showing the URL so it can be copied.

use std::process::{Command, Stdio};

/// Opens `url` (or says where it is); the message for the status bar and whether it failed.
pub fn open(url: &str) -> (String, bool) {
    let var = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    let remote = var("SSH_CONNECTION") || var("SSH_TTY");
    let display = var("DISPLAY") || var("WAYLAND_DISPLAY") || cfg!(target_os = "macos");
    if remote || !display || !(url.starts_with("https://") || url.starts_with("http://")) {
        return (url.to_string(), false);
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
            (format!("opened {url}"), false)
        }
        Err(e) => (format!("cannot run {program} ({e}): {url}"), true),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_web_urls_are_opened() {
        let (msg, err) = super::open("file:///etc/passwd");
        assert_eq!((msg.as_str(), err), ("file:///etc/passwd", false));
    }
}
