//! Bundled themes, slots and monochrome.

use ratatui::style::{Color, Modifier};

use super::*;

fn bundled_set() -> ThemeSet {
    ThemeSet::load(None).expect("bundled themes load")
}

#[test]
fn slots_are_unique_and_indexed_in_order() {
    let mut names: Vec<_> = Slot::ALL.iter().map(|s| s.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Slot::ALL.len(), "slot names are unique");
    for (i, slot) in Slot::ALL.iter().enumerate() {
        assert_eq!(*slot as usize, i, "{} is out of order", slot.name());
    }
    assert_eq!(Slot::StatusSuccess.name(), "status.success");
    assert_eq!(Slot::Match.name(), "match");
}

#[test]
fn every_bundled_theme_resolves_every_slot() {
    let set = bundled_set();
    let names: Vec<_> = bundled().iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["default", "light", "high-contrast", "ansi16"]);
    assert_eq!(set.names(), names, "bundled themes keep their order");
    assert_eq!((set.len(), set.is_empty()), (4, false));
    for (name, text) in bundled() {
        // Each bundled file is complete or inherits, and declares its own name.
        assert!(text.contains(&format!("name = \"{name}\"")), "{name}");
        let theme = set.get(name).expect("bundled theme present");
        assert_eq!(theme.name(), *name);
        for slot in Slot::ALL {
            // Every slot was written by some file: none is left completely empty.
            let s = theme.style(*slot);
            let empty = s.fg.is_none() && s.bg.is_none() && s.add_modifier.is_empty();
            assert!(!empty, "{name}: {} has no style", slot.name());
        }
    }
}

#[test]
fn index_and_cycling() {
    let set = bundled_set();
    assert_eq!(set.index_of("high-contrast"), Some(2));
    assert_eq!(set.index_of("nope"), None);
    assert_eq!(set.by_index(5).name(), "light");
    assert!(set.get("nope").is_none());
}

#[test]
fn ansi16_is_ansi16_and_default_is_truecolour() {
    let set = bundled_set();
    assert!(set.get("ansi16").is_some_and(Theme::is_ansi16));
    assert!(!set.get("default").is_some_and(Theme::is_ansi16));
}

#[test]
fn statuses_and_health_use_distinct_colours() {
    let set = bundled_set();
    for theme in set.names().into_iter().filter_map(|n| set.get(n)) {
        for group in [
            &[
                Slot::StatusSuccess,
                Slot::StatusFailure,
                Slot::StatusRunning,
                Slot::StatusQueued,
                Slot::StatusCancelled,
            ][..],
            &[
                Slot::HealthOk,
                Slot::HealthWarn,
                Slot::HealthCrit,
                Slot::HealthUnknown,
            ][..],
        ] {
            let fgs: Vec<_> = group.iter().map(|s| theme.style(*s).fg).collect();
            for (i, a) in fgs.iter().enumerate() {
                assert!(
                    a.is_some(),
                    "{}: {:?} has no colour",
                    theme.name(),
                    group[i]
                );
                for (j, b) in fgs.iter().enumerate().skip(i + 1) {
                    let pair = (group[i], group[j]);
                    assert_ne!(a, b, "{}: {pair:?} share a colour", theme.name());
                }
            }
        }
    }
}

#[test]
fn selection_is_visible_in_every_theme() {
    let set = bundled_set();
    for theme in set.names().into_iter().filter_map(|n| set.get(n)) {
        let sel = theme.style(Slot::Selection);
        let text = theme.style(Slot::Text);
        let reversed = sel.add_modifier.contains(Modifier::REVERSED);
        assert!(
            reversed || (sel.bg.is_some() && sel.bg != text.bg),
            "{}: selection has no background of its own",
            theme.name()
        );
    }
}

#[test]
fn main_text_keeps_the_terminal_background() {
    let set = bundled_set();
    for theme in set.names().into_iter().filter_map(|n| set.get(n)) {
        assert_eq!(theme.style(Slot::Text).bg, None, "{}", theme.name());
    }
}

#[test]
fn monochrome_has_no_colour_and_keeps_selection_and_focus_visible() {
    let set = bundled_set();
    for theme in set.names().into_iter().filter_map(|n| set.get(n)) {
        let m = theme.monochrome();
        assert_eq!(m.name(), theme.name());
        assert!(m.is_ansi16());
        for slot in Slot::ALL {
            let (s, orig) = (m.style(*slot), theme.style(*slot));
            assert_eq!((s.fg, s.bg), (None, None), "{} {}", m.name(), slot.name());
            assert_eq!(
                s,
                ratatui::style::Style::default().add_modifier(s.add_modifier)
            );
            assert!(
                s.add_modifier.contains(orig.add_modifier),
                "{} {}: modifiers kept",
                m.name(),
                slot.name()
            );
        }
        for slot in [Slot::Selection, Slot::TabActive] {
            assert!(m.style(slot).add_modifier.contains(Modifier::REVERSED));
        }
        for slot in [Slot::TitleFocused, Slot::BorderFocused] {
            assert!(m.style(slot).add_modifier.contains(Modifier::BOLD));
        }
        assert!(
            !m.style(Slot::Text)
                .add_modifier
                .contains(Modifier::REVERSED)
        );
    }
}

#[test]
fn light_overrides_differ_from_default() {
    let set = bundled_set();
    let (light, default) = match (set.get("light"), set.get("default")) {
        (Some(l), Some(d)) => (l, d),
        _ => panic!("light and default are bundled"),
    };
    assert_ne!(light.style(Slot::Text), default.style(Slot::Text));
    assert_ne!(light.style(Slot::Selection), default.style(Slot::Selection));
    // Light inherits default's shape: same modifiers on a slot it does not override.
    assert_eq!(
        light.style(Slot::StatusFailure).add_modifier,
        default.style(Slot::StatusFailure).add_modifier
    );
    assert!(matches!(light.style(Slot::Text).fg, Some(Color::Rgb(..))));
}

#[test]
fn sixteen_colour_consoles_start_on_ansi16() {
    use super::default_for_term as d;
    assert_eq!(d(Some("linux"), None), "ansi16");
    assert_eq!(d(Some("vt100"), None), "ansi16");
    assert_eq!(d(Some("vt220-am"), None), "ansi16");
    assert_eq!(d(Some("linux"), Some("truecolor")), "default");
    assert_eq!(d(Some("xterm-256color"), None), "default");
    assert_eq!(d(Some("tmux-256color"), None), "default");
    assert_eq!(d(Some("screen"), None), "default");
    assert_eq!(d(None, None), "default");
}
