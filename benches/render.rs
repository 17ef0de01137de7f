//! Render and filter costs with 10,000 backlog items (PERFORMANCE.md targets: ≤ 2 ms a
//! 160×48 frame, ≤ 5 ms a filter keystroke).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use divan::Bencher;
use flightdeck::app::{Event, Init, State, update};
use flightdeck::domain::{ItemKind, ItemState, Severity, WorkItem};
use flightdeck::theme::ThemeSet;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const NOW: i64 = 1_800_000_000;
const WORDS: &[&str] = &[
    "deploy", "latency", "disk", "queue", "api", "web", "db", "cache", "auth", "billing",
];

fn items(n: u32) -> Vec<WorkItem> {
    (1..=n)
        .map(|i| WorkItem {
            id: i.to_string(),
            provider: "local".into(),
            title: format!(
                "{} {} regression in {} #{i}",
                WORDS[i as usize % 10],
                WORDS[(i as usize / 10) % 10],
                WORDS[(i as usize / 100) % 10]
            ),
            body: String::new(),
            state: if i % 4 == 0 {
                ItemState::Closed
            } else {
                ItemState::Open
            },
            kind: if i % 7 == 0 {
                ItemKind::Incident
            } else {
                ItemKind::Issue
            },
            severity: (i % 7 == 0).then_some(Severity::High),
            labels: vec![WORDS[i as usize % 10].to_string()],
            author: "ana".into(),
            created: NOW - i64::from(i) * 60,
            updated: NOW - i64::from(i) * 30,
            comments: 0,
            assignee: None,
            auto: false,
            sections: Vec::new(),
        })
        .collect()
}

fn state(n: u32) -> State {
    let mut s = State::new(Init::local("bench", (160, 48)));
    update(&mut s, Event::Tick, NOW);
    update(
        &mut s,
        Event::BacklogListed {
            request: 1,
            result: Ok(Some(items(n))),
        },
        NOW,
    );
    s
}

fn key(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

#[divan::bench]
fn frame_160x48_10k_items(bencher: Bencher) {
    let themes = ThemeSet::load(None).unwrap();
    let theme = themes.get("default").unwrap().clone();
    let mut s = state(10_000);
    update(&mut s, key('j'), NOW);
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    bencher.bench_local(|| {
        term.draw(|f| flightdeck::ui::render(f, &s, &theme, NOW))
            .unwrap();
    });
}

#[divan::bench]
fn filter_keystroke_10k_items(bencher: Bencher) {
    let mut s = state(10_000);
    update(&mut s, key('/'), NOW);
    for c in "late".chars() {
        update(&mut s, key(c), NOW);
    }
    // Alternate typing and deleting one character: each is one keystroke of filtering.
    let backspace = Event::Key(KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE));
    let mut typed = false;
    bencher.bench_local(|| {
        let ev = if typed { backspace.clone() } else { key('n') };
        typed = !typed;
        update(&mut s, ev, NOW);
    });
}

#[divan::bench]
fn load_10k_items(bencher: Bencher) {
    let list = items(10_000);
    let mut s = state(0);
    let mut req = 1;
    bencher.bench_local(|| {
        req += 1;
        update(&mut s, Event::Tick, NOW + req as i64 * 10);
        update(
            &mut s,
            Event::BacklogListed {
                request: req,
                result: Ok(Some(list.clone())),
            },
            NOW,
        );
    });
}

fn main() {
    divan::main();
}
