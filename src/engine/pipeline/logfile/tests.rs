use super::*;

fn log(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("run.log");
    std::fs::write(&p, text).unwrap();
    (dir, p)
}

fn numbered(n: usize) -> String {
    (0..n).map(|i| format!("line {i}\n")).collect()
}

#[test]
fn end_window_is_the_last_lines() {
    let (_d, p) = log(&numbered(100));
    let w = window(&p, Anchor::End, 3).unwrap();
    assert_eq!(w.lines, ["line 97", "line 98", "line 99"]);
    assert_eq!(w.end, w.len);
    let (_d, p) = log("a\nb");
    assert_eq!(window(&p, Anchor::End, 5).unwrap().lines, ["a", "b"]);
    let (_d, p) = log("");
    assert!(window(&p, Anchor::End, 5).unwrap().lines.is_empty());
}

#[test]
fn at_and_above_walk_by_lines() {
    let text = numbered(50);
    let (_d, p) = log(&text);
    let at = text.find("line 20").unwrap() as u64;
    let w = window(&p, Anchor::At(at + 3), 2).unwrap();
    assert_eq!(
        (w.start, w.lines.clone()),
        (at, vec!["line 20".to_string(), "line 21".to_string()])
    );
    assert_eq!(w.offsets, [at, at + 8]);
    let next = window(&p, Anchor::At(w.end), 1).unwrap();
    let near_end = window(&p, Anchor::At(text.find("line 48").unwrap() as u64), 5).unwrap();
    assert_eq!(
        near_end.lines.first().map(String::as_str),
        Some("line 45"),
        "a full window"
    );
    assert_eq!(next.lines, ["line 22"]);
    let up = window(&p, Anchor::Above(at, 5), 1).unwrap();
    assert_eq!(up.lines, ["line 15"]);
    let top = window(&p, Anchor::Above(at, 500), 1).unwrap();
    assert_eq!(
        (top.start, top.lines.clone()),
        (0, vec!["line 0".to_string()])
    );
    assert_eq!(window(&p, Anchor::At(0), 1).unwrap().lines, ["line 0"]);
}

#[test]
fn long_lines_are_cut_and_chunks_do_not_split_lines() {
    let mut text = "x".repeat(3 * CHUNK);
    text.push_str("\nafter\n");
    let (_d, p) = log(&text);
    let w = window(&p, Anchor::At(0), 2).unwrap();
    assert_eq!(w.lines[0].len(), MAX_LINE);
    assert_eq!(w.lines[1], "after");
    assert_eq!(window(&p, Anchor::End, 1).unwrap().lines, ["after"]);
}

#[test]
fn search_forward_backward_across_chunks_with_smart_case() {
    let mut text = numbered(10);
    text.push_str(&"y".repeat(CHUNK - 3));
    text.push_str("NEEDLE here\n");
    text.push_str(&numbered(5));
    let (_d, p) = log(&text);
    let at = text.find("NEEDLE").unwrap() as u64;
    assert_eq!(
        find(&p, "needle", 0, false).unwrap(),
        Some(at),
        "lowercase matches any case"
    );
    assert_eq!(
        find(&p, "Needle", 0, false).unwrap(),
        None,
        "a capital makes it exact"
    );
    assert_eq!(find(&p, "NEEDLE", at + 1, false).unwrap(), None);
    assert_eq!(
        find(&p, "NEEDLE", text.len() as u64, true).unwrap(),
        Some(at)
    );
    assert_eq!(
        find(&p, "line 3", at, true).unwrap(),
        Some(text.find("line 3").unwrap() as u64)
    );
    assert_eq!(find(&p, "", 0, false).unwrap(), None);
}

#[test]
fn first_error_finds_the_earliest_marker() {
    let (_d, p) = log("ok\nwarning\nerror: boom\nthread 'x' panicked\n");
    assert_eq!(first_error(&p).unwrap(), Some(11), "the line `error: boom`");
    let (_d, p) = log("all good\n");
    assert_eq!(first_error(&p).unwrap(), None);
}

#[test]
fn rank_counts_every_match_once_across_chunks() {
    // A match straddling a chunk boundary counts once, in the chunk it starts in.
    let mut text = "x".repeat(CHUNK - 3);
    text.push_str("needle ");
    text.push_str(&"y".repeat(CHUNK));
    text.push_str("NEEDLE and needle\n");
    let (_d, p) = log(&text);
    let second = text.find("NEEDLE").unwrap() as u64;
    assert_eq!(rank(&p, "needle", 0).unwrap(), (0, 3));
    assert_eq!(rank(&p, "needle", (CHUNK - 3) as u64).unwrap(), (1, 3));
    assert_eq!(rank(&p, "needle", second).unwrap(), (2, 3));
    assert_eq!(
        rank(&p, "NEEDLE", second).unwrap(),
        (1, 1),
        "capitals match exactly"
    );
    // The first error across a chunk boundary, in one pass.
    let mut text = "x".repeat(CHUNK - 2);
    text.push_str("FAILED here\nerror: later\n");
    let (_d, p) = log(&text);
    assert_eq!(first_error(&p).unwrap(), Some((CHUNK - 2) as u64));
}
