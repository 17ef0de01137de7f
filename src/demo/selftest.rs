//! `flightdeck demo-selftest`: real checks of flightdeck's own building blocks, printed in
//! libtest's format. The demo pipeline's test step runs it, so its counts are parsed like any
//! `cargo test` output.

use std::path::Path;

use crate::domain::{ItemState, NewItem};
use crate::store::Store;
use crate::theme::{Slot, ThemeSet};

type Check = fn(&Path) -> Result<(), String>;

fn store_round_trip(dir: &Path) -> Result<(), String> {
    let store = Store::open(&dir.join("a/store.db")).map_err(|e| e.to_string())?;
    let item = NewItem {
        title: "round trip".into(),
        labels: vec!["x".into()],
        ..NewItem::default()
    };
    let id = store
        .create_item(&item, "selftest", 1)
        .map_err(|e| e.to_string())?;
    store
        .set_state(&id, ItemState::Closed, 2)
        .map_err(|e| e.to_string())?;
    let back = store.get_item("local", &id).map_err(|e| e.to_string())?;
    (back.title == "round trip" && back.state == ItemState::Closed && back.labels == ["x"])
        .then_some(())
        .ok_or_else(|| format!("read back {back:?}"))
}

fn audit_chain_detects_tampering(dir: &Path) -> Result<(), String> {
    let path = dir.join("b/store.db");
    let mut store = Store::open(&path).map_err(|e| e.to_string())?;
    for i in 0..3 {
        store
            .audit_append(i, "selftest", "check", "t", "intent", "d")
            .map_err(|e| e.to_string())?;
    }
    store
        .audit_verify()
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let conn = rusqlite::Connection::open(&path).map_err(|e| e.to_string())?;
    conn.execute("UPDATE audit SET detail = 'forged' WHERE seq = 2", [])
        .map_err(|e| e.to_string())?;
    match store.audit_verify().map_err(|e| e.to_string())? {
        Err(e) if e.seq == 2 => Ok(()),
        other => Err(format!("tampering not detected: {other:?}")),
    }
}

fn example_config_parses(_: &Path) -> Result<(), String> {
    let text = include_str!("../../config.example.toml");
    crate::config::parse(Path::new("config.example.toml"), text)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn bundled_themes_resolve(_: &Path) -> Result<(), String> {
    let set = ThemeSet::load(None).map_err(|e| e.to_string())?;
    let ansi = set.get("ansi16").ok_or("no ansi16 theme")?;
    if !ansi.is_ansi16() {
        return Err("ansi16 uses colours beyond the 16".into());
    }
    let mono = ansi.monochrome();
    (mono.style(Slot::StatusFailure).fg.is_none())
        .then_some(())
        .ok_or_else(|| "monochrome kept a colour".into())
}

fn hostile_text_is_inert(_: &Path) -> Result<(), String> {
    let shown = crate::ui::text::clean("\x1b]52;c;ZXZpbA==\x07\x1b[2J\u{202E}x");
    (!shown.chars().any(char::is_control) && !shown.contains('\u{202E}'))
        .then_some(())
        .ok_or_else(|| format!("{shown:?}"))
}

const CHECKS: &[(&str, Check)] = &[
    ("store::round_trip", store_round_trip),
    (
        "audit::chain_detects_tampering",
        audit_chain_detects_tampering,
    ),
    ("config::example_parses", example_config_parses),
    ("theme::bundled_themes_resolve", bundled_themes_resolve),
    ("ui::hostile_text_is_inert", hostile_text_is_inert),
];

/// Runs every check in a temp dir and prints libtest-style results; the process exit code.
pub fn run() -> i32 {
    let Ok(dir) = tempdir() else {
        println!("test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out");
        return 101;
    };
    println!("\nrunning {} tests", CHECKS.len());
    let mut failed = Vec::new();
    for (name, check) in CHECKS {
        match check(&dir) {
            Ok(()) => println!("test {name} ... ok"),
            Err(e) => {
                println!("test {name} ... FAILED");
                failed.push((name, e));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    if !failed.is_empty() {
        println!("\nfailures:");
        for (name, e) in &failed {
            println!("    {name}: {e}");
        }
    }
    let verdict = if failed.is_empty() { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {verdict}. {} passed; {} failed; 0 ignored; 0 measured; 0 filtered out\n",
        CHECKS.len() - failed.len(),
        failed.len()
    );
    if failed.is_empty() { 0 } else { 101 }
}

fn tempdir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("flightdeck-selftest-{}", std::process::id()));
    crate::paths::private_dir(&dir)?;
    Ok(dir)
}
