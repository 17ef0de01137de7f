use super::*;

fn err(text: &str) -> String {
    parse(Path::new("/etc/fd.toml"), text)
        .unwrap_err()
        .to_string()
}

#[test]
fn empty_file_is_the_defaults() {
    assert_eq!(parse(Path::new("x"), "").unwrap(), Config::default());
}

#[test]
fn unknown_key_names_file_line_column_and_key() {
    let e = err("workspace = \"a\"\n[ui]\ntheme = \"light\"\ncolour = 3\n");
    assert!(e.starts_with("/etc/fd.toml:4:1: key `colour`"), "{e}");
    assert!(e.contains("unknown field"), "{e}");
}

#[test]
fn wrong_type_names_the_key() {
    let e = err("[ui]\nmouse = \"yes\"\n");
    assert!(e.starts_with("/etc/fd.toml:2:"), "{e}");
    assert!(e.contains("key `mouse`"), "{e}");
}

#[test]
fn syntax_error_has_a_location() {
    let e = err("workspace = \n");
    assert!(e.starts_with("/etc/fd.toml:1:"), "{e}");
}

#[test]
fn unknown_provider_kind_is_refused() {
    let e = err("[[providers]]\nid = \"x\"\nkind = \"jira\"\n");
    assert!(e.contains(":3:") && e.contains("jira"), "{e}");
}

#[test]
fn duplicate_ids_and_dangling_backlog_provider_are_refused() {
    let e = err(
        "[[providers]]\nid = \"a\"\nkind = \"local\"\n[[providers]]\nid = \"a\"\nkind = \"local\"\n",
    );
    assert!(e.contains("duplicate provider id"), "{e}");
    let e = err("[backlog]\nprovider = \"gh\"\n");
    assert!(
        e.contains("/etc/fd.toml:2:1: key `backlog.provider`"),
        "{e}"
    );
}

#[test]
fn keys_accept_one_or_many() {
    let c = parse(
        Path::new("x"),
        "[keys]\nquit = \"Q\"\nhelp = [\"?\", \"f1\"]\n",
    )
    .unwrap();
    assert_eq!(c.keys["quit"].keys(), vec!["Q"]);
    assert_eq!(c.keys["help"].keys(), vec!["?", "f1"]);
}

#[test]
fn resolution_prefers_the_flag_and_reports_a_missing_file() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("c.toml");
    std::fs::write(&file, "workspace = \"acme\"\n").unwrap();
    let loaded = resolve(Some(&file)).unwrap();
    assert_eq!(loaded.config.workspace, "acme");
    assert_eq!(loaded.source, ConfigSource::Flag(file.clone()));
    let missing = resolve(Some(&tmp.path().join("nope.toml"))).unwrap_err();
    assert!(missing.to_string().contains("nope.toml"), "{missing}");
}

#[test]
fn the_example_config_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let c = parse(&path, &text).unwrap();
    assert_eq!(c.workspace, "acme");
    assert!(!c.providers.is_empty());
}

#[test]
fn two_smoke_gates_of_one_name_are_refused() {
    let e = err(
        "[[targets]]\nname = \"t\"\nnodes = [\"a\"]\nengine = \"local-fleet\"\nsmoke = [{ name = \"g\", http = \"/a\" }, { name = \"g\", http = \"/b\" }]\n",
    );
    assert!(e.contains("two smoke gates named"), "{e}");
}
