//! User theme directories: inheritance, replacement and clear errors.

use ratatui::style::{Color, Modifier};

use super::*;

/// A temporary directory holding `name.toml` for each (name, text).
fn user_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(format!("{name}.toml")), text).expect("write theme");
    }
    dir
}

/// The error message from loading `files` as a user directory.
fn load_err(files: &[(&str, &str)]) -> String {
    let dir = user_dir(files);
    match ThemeSet::load(Some(dir.path())) {
        Ok(set) => panic!("loaded {:?}", set.names()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn user_theme_inherits_default_and_overrides_one_slot() {
    let dir = user_dir(&[(
        "mine",
        "name = \"mine\"\ninherits = \"default\"\n[slots]\n\"text\" = \"#010203\"\n",
    )]);
    let set = ThemeSet::load(Some(dir.path())).expect("loads");
    assert_eq!(
        set.names(),
        ["default", "light", "high-contrast", "ansi16", "mine"]
    );
    let mine = set.get("mine").expect("mine");
    let default = set.get("default").expect("default");
    assert_eq!(mine.style(Slot::Text).fg, Some(Color::Rgb(1, 2, 3)));
    for slot in Slot::ALL.iter().filter(|s| **s != Slot::Text) {
        assert_eq!(mine.style(*slot), default.style(*slot), "{}", slot.name());
    }
}

#[test]
fn user_themes_come_after_bundled_sorted_by_name() {
    let child = "inherits = \"default\"\n";
    let dir = user_dir(&[("zeta", child), ("a-b", child), ("a", child)]);
    std::fs::write(dir.path().join("notes.txt"), "not a theme").expect("write");
    std::fs::write(dir.path().join(".#lock.toml"), "junk").expect("write");
    let set = ThemeSet::load(Some(dir.path())).expect("loads");
    assert_eq!(set.names()[4..], ["a", "a-b", "zeta"]);
    assert_eq!(set.by_index(set.len()).name(), "default");
}

#[test]
fn palette_overrides_flow_into_inherited_slots_and_may_chain() {
    let dir = user_dir(&[(
        "green",
        "inherits = \"default\"\n[palette]\naccent = \"lightgreen\"\nblue = \"accent\"\n\
         [slots]\n\"info\" = { fg = \"indexed:42\", bg = \"reset\", modifiers = [\"italic\"] }\n",
    )]);
    let set = ThemeSet::load(Some(dir.path())).expect("loads");
    let green = set.get("green").expect("green");
    // default's `border.focused = "blue"` now reads this theme's `blue`.
    assert_eq!(green.style(Slot::BorderFocused).fg, Some(Color::LightGreen));
    let info = green.style(Slot::Info);
    assert_eq!(
        (info.fg, info.bg),
        (Some(Color::Indexed(42)), Some(Color::Reset))
    );
    assert!(info.add_modifier.contains(Modifier::ITALIC));
    assert!(!green.is_ansi16());
}

#[test]
fn undefined_palette_name_names_theme_slot_and_value() {
    let e = load_err(&[(
        "bad",
        "inherits = \"default\"\n[slots]\n\"label\" = { fg = \"nosuch\" }\n",
    )]);
    assert!(
        e.contains("\"bad\"") && e.contains("\"label\"") && e.contains("nosuch"),
        "{e}"
    );
    assert!(e.contains("bad.toml"), "names the file: {e}");
}

#[test]
fn bad_palette_entry_modifier_and_slot_name_fail_clearly() {
    let e = load_err(&[(
        "p",
        "inherits = \"default\"\n[palette]\nred = \"#12345g\"\n",
    )]);
    assert!(
        e.contains("palette entry \"red\"") && e.contains("#12345g"),
        "{e}"
    );
    let e = load_err(&[(
        "m",
        "inherits = \"default\"\n[slots]\n\"error\" = { fg = \"red\", modifiers = [\"blink\"] }\n",
    )]);
    assert!(e.contains("\"error\"") && e.contains("blink"), "{e}");
    let e = load_err(&[("s", "inherits = \"default\"\n[slots]\n\"txet\" = \"red\"\n")]);
    assert!(e.contains("unknown slot \"txet\""), "{e}");
}

#[test]
fn incomplete_theme_names_the_missing_slot() {
    let e = load_err(&[("bare", "[slots]\n\"text\" = \"reset\"\n")]);
    assert!(e.contains("\"bare\"") && e.contains("\"text.dim\""), "{e}");
}

#[test]
fn inheritance_cycles_and_unknown_parents_fail() {
    let e = load_err(&[("a", "inherits = \"b\"\n"), ("b", "inherits = \"a\"\n")]);
    assert!(e.contains("cycle") && e.contains("a -> b -> a"), "{e}");
    let e = load_err(&[("me", "inherits = \"me\"\n")]);
    assert!(e.contains("cycle"), "{e}");
    let e = load_err(&[("orphan", "inherits = \"nowhere\"\n")]);
    assert!(e.contains("\"orphan\"") && e.contains("nowhere"), "{e}");
}

#[test]
fn toml_errors_give_line_and_column() {
    let e = load_err(&[("syntax", "inherits = \"default\"\n[slots\n")]);
    assert!(
        e.contains("\"syntax\"") && e.contains("line 2, column"),
        "{e}"
    );
    let e = load_err(&[("extra", "inherits = \"default\"\ncolour = \"red\"\n")]);
    assert!(
        e.contains("line 2, column 1") && e.contains("colour"),
        "{e}"
    );
    let e = load_err(&[(
        "slotkey",
        "inherits = \"default\"\n[slots]\n\"text\" = { fg = \"red\", fgg = \"blue\" }\n",
    )]);
    assert!(e.contains("line 3") && e.contains("fgg"), "{e}");
    let e = load_err(&[("typed", "inherits = \"default\"\n[slots]\n\"text\" = 3\n")]);
    assert!(e.contains("line 3"), "{e}");
}

#[test]
fn declared_name_must_match_the_file() {
    let e = load_err(&[("mine", "name = \"yours\"\ninherits = \"default\"\n")]);
    assert!(e.contains("\"mine\"") && e.contains("yours"), "{e}");
}

#[test]
fn user_light_replaces_bundled_light_in_place() {
    let dir = user_dir(&[(
        "light",
        "name = \"light\"\ninherits = \"default\"\n[slots]\n\"text\" = \"#ff0000\"\n",
    )]);
    let set = ThemeSet::load(Some(dir.path())).expect("loads");
    assert_eq!(set.len(), 4);
    assert_eq!(
        set.index_of("light"),
        Some(1),
        "replacement keeps its place"
    );
    let light = set.get("light").expect("light");
    assert_eq!(light.style(Slot::Text).fg, Some(Color::Rgb(255, 0, 0)));
    // Nothing of the bundled light survives: the rest is default's.
    let default = set.get("default").expect("default");
    assert_eq!(light.style(Slot::Selection), default.style(Slot::Selection));
}

#[test]
fn a_broken_parent_is_blamed_not_its_child() {
    let e = load_err(&[
        ("a-child", "inherits = \"z-parent\"\n"),
        (
            "z-parent",
            "inherits = \"default\"\n[slots]\n\"info\" = \"nope\"\n",
        ),
    ]);
    assert!(e.contains("\"z-parent\"") && !e.contains("a-child"), "{e}");
}

#[test]
fn missing_user_dir_is_fine_and_a_file_is_not() {
    let dir = user_dir(&[]);
    let missing = dir.path().join("absent");
    let set = ThemeSet::load(Some(&missing)).expect("missing dir is ignored");
    assert_eq!(set.len(), 4);
    let file = dir.path().join("file");
    std::fs::write(&file, "").expect("write");
    let e = ThemeSet::load(Some(&file)).map(|_| ()).unwrap_err();
    assert!(e.to_string().contains("not a directory"), "{e}");
}
