//! The log viewer's costs on big logs (PERFORMANCE.md: open a 1 GB log without reading it
//! whole and scroll instantly; search 100 MB in ≤ 1 s).

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

use flightdeck::engine::pipeline::logfile::{Anchor, find, window};

/// Writes a log of about `mb` megabytes of realistic lines, with one needle at the very end.
fn make(mb: usize) -> PathBuf {
    let dir = std::env::temp_dir().join("flightdeck-bench-logs");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{mb}mb.log"));
    if std::fs::metadata(&path).is_ok_and(|m| m.len() >= (mb as u64) << 20) {
        return path;
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let line = "2026-11-28T06:00:00Z INFO compiling crate foo v1.2.3 (/src/foo) with \x1b[32mgreen\x1b[0m output\n";
    for _ in 0..((mb << 20) / line.len()) {
        f.write_all(line.as_bytes()).unwrap();
    }
    f.write_all(b"thread 'main' panicked at the end: needle\n")
        .unwrap();
    f.flush().unwrap();
    path
}

fn gb() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| make(1024))
}

fn hundred_mb() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| make(100))
}

#[divan::bench]
fn open_1gb_at_end() {
    let w = window(gb(), Anchor::End, 48).unwrap();
    assert_eq!(w.lines.len(), 48);
}

#[divan::bench]
fn scroll_1gb_middle_page_up() {
    let mid = std::fs::metadata(gb()).unwrap().len() / 2;
    let w = window(gb(), Anchor::Above(mid, 48), 48).unwrap();
    assert_eq!(w.lines.len(), 48);
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn search_100mb_needle_at_end() {
    assert!(find(hundred_mb(), "needle", 0, false).unwrap().is_some());
}

fn main() {
    divan::main();
}
