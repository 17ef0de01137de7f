use super::*;

#[test]
fn every_bundled_theme_resolves_every_slot() {
    let set = ThemeSet::load(None).unwrap();
    assert_eq!(set.names(), ["default", "light", "high-contrast", "ansi16"]);
    let mut names: Vec<_> = Slot::ALL.iter().map(|s| s.name()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), Slot::ALL.len(), "slot names are unique");
    for (name, text) in bundled() {
        let file = file::parse(name, text).unwrap();
        let _ = file;
        let theme = set.get(name).unwrap();
        assert_eq!(theme.styles.len(), Slot::ALL.len());
    }
    assert!(set.get("ansi16").unwrap().is_ansi16());
    assert!(!set.get("default").unwrap().is_ansi16());
    assert_ne!(
        set.get("light").unwrap().style(Slot::Text),
        set.get("default").unwrap().style(Slot::Text)
    );
}

#[test]
fn monochrome_has_no_colour_and_keeps_selection_visible() {
    let set = ThemeSet::load(None).unwrap();
    for name in set.names() {
        let m = set.get(name).unwrap().monochrome();
        for slot in Slot::ALL {
            let s = m.style(*slot);
            assert_eq!((s.fg, s.bg), (None, None), "{name} {}", slot.name());
        }
        assert!(
            m.style(Slot::Selection)
                .add_modifier
                .contains(Modifier::REVERSED)
        );
    }
}

fn user_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(format!("{name}.toml")), text).unwrap();
    }
    dir
}

#[test]
fn user_themes_inherit_override_and_fail_clearly() {
    let dir = user_dir(&[(
        "mine",
        "inherits = \"default\"\n[slots]\n\"text\" = \"#010203\"\n",
    )]);
    let set = ThemeSet::load(Some(dir.path())).unwrap();
    assert_eq!(set.names().last(), Some(&"mine"));
    let mine = set.get("mine").unwrap();
    assert_eq!(mine.style(Slot::Text).fg, Some(Color::Rgb(1, 2, 3)));
    assert_eq!(
        mine.style(Slot::Label),
        set.get("default").unwrap().style(Slot::Label)
    );

    let dir = user_dir(&[(
        "bad",
        "inherits = \"default\"\n[slots]\n\"label\" = \"nosuch\"\n",
    )]);
    let e = ThemeSet::load(Some(dir.path())).unwrap_err().to_string();
    assert!(e.contains("label") && e.contains("nosuch"), "{e}");

    let dir = user_dir(&[("a", "inherits = \"b\"\n"), ("b", "inherits = \"a\"\n")]);
    let e = ThemeSet::load(Some(dir.path())).unwrap_err().to_string();
    assert!(e.contains("cycle"), "{e}");

    let dir = user_dir(&[("syntax", "inherits = \"default\"\n[slots\n")]);
    let e = ThemeSet::load(Some(dir.path())).unwrap_err().to_string();
    assert!(e.contains("line 2"), "{e}");

    let dir = user_dir(&[(
        "light",
        "inherits = \"default\"\n[slots]\n\"text\" = \"#ff0000\"\n",
    )]);
    let set = ThemeSet::load(Some(dir.path())).unwrap();
    assert_eq!(
        set.get("light").unwrap().style(Slot::Text).fg,
        Some(Color::Rgb(255, 0, 0))
    );
    assert_eq!(
        set.index_of("light"),
        Some(1),
        "replacement keeps its place"
    );
}

#[test]
fn zz_dump_tmp() {
    let set = ThemeSet::load(None).unwrap();
    let mut out = String::new();
    for n in set.names() {
        let t = set.get(n).unwrap();
        for s in Slot::ALL {
            out.push_str(&format!("{n} {} {:?}\n", s.name(), t.style(*s)));
        }
    }
    std::fs::write("/tmp/theme_dump_before.txt", out).unwrap();
}
