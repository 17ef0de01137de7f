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
    assert!(
        e.starts_with("/etc/fd.toml:5:1: key `providers.id`"),
        "the second entry: {e}"
    );
    let e = err("[backlog]\nprovider = \"gh\"\n");
    assert!(
        e.contains("/etc/fd.toml:2:1: key `backlog.provider`"),
        "{e}"
    );
}

/// Errors point at the entry at fault by toml's spans, with the key's whole path, and
/// contradictory keys are refused.
#[test]
fn errors_point_at_the_entry_and_contradictions_are_refused() {
    let target = |name: &str, extra: &str| {
        format!(
            "[[targets]]\nname = \"{name}\"\nenvironment = \"test\"\nnodes = [\"n\"]\nengine = \"script\"\nscript = {{ deploy = [\"true\"] }}\n{extra}"
        )
    };
    let e = err(&format!(
        "{}{}",
        target("a", ""),
        target("b", "strategy = { batch_size = 0 }\n")
    ));
    assert!(
        e.starts_with("/etc/fd.toml:13:14: key `targets.strategy.batch_size`: must be at least 1"),
        "{e}"
    );
    let e = err(&format!(
        "{}{}",
        target("a", ""),
        target(
            "b",
            "strategy = { batch_size = 2, batch_percentage = 50 }\n"
        )
    ));
    assert!(
        e.contains(":13:") && e.contains("sets both `batch_size` and `batch_percentage`; keep one"),
        "{e}"
    );
    let e = err(&format!("{}{}", target("a", ""), target("a", "")));
    assert!(
        e.starts_with("/etc/fd.toml:8:1: key `targets.name`: duplicate target"),
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

#[test]
fn the_example_config_sets_every_http_key_somewhere() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let c = parse(&path, &std::fs::read_to_string(&path).unwrap()).unwrap();
    let prom = c.providers.iter().find(|p| p.id == "prom").unwrap();
    assert!(prom.url.as_deref().unwrap().starts_with("https://"));
    assert_eq!(
        prom.auth.as_ref().unwrap().basic_user.as_deref(),
        Some("flightdeck")
    );
    let am = c.providers.iter().find(|p| p.id == "am").unwrap();
    assert!(am.tls.as_ref().unwrap().cert_file.is_some());
    assert!(am.auth.as_ref().unwrap().bearer_cmd.is_some());
    let api = c.targets.iter().find(|t| t.name == "api").unwrap();
    assert_eq!(api.node_base("api-1"), "https://api-1:8443");
    assert!(api.smoke.iter().any(|g| g.auth.is_some()));
    assert!(c.checks.iter().any(|k| !k.headers.is_empty()));
}

#[test]
fn http_keys_fold_from_http_to_target_to_check() {
    let c = parse(
        Path::new("/etc/flightdeck/fd.toml"),
        r#"
[http]
tls = { ca_file = "ca.pem" }
headers = { "X-Scope-OrgID" = "acme" }
proxy = "http://proxy:3128"
[[targets]]
name = "api"
nodes = ["a"]
engine = "script"
script = { deploy = ["true"] }
node_url = "https://{node}:8443"
tls = { server_name = "api.internal" }
auth = { bearer_file = "/run/secrets/api" }
[[checks]]
name = "ready"
kind = "http"
target = "api"
path = "/ready"
headers = { "X-Team" = { env = "TEAM" } }
keep_alive = true
"#,
    )
    .unwrap();
    let s =
        crate::engine::health::spec::http_settings(&c.checks[0], &c.http, &c.providers, &c.targets);
    // Relative files are from the config file's directory.
    assert_eq!(
        s.tls.ca_file.as_deref(),
        Some(Path::new("/etc/flightdeck/ca.pem"))
    );
    assert_eq!(s.tls.server_name.as_deref(), Some("api.internal"));
    assert!(s.auth.is_some() && s.keep_alive);
    assert_eq!(s.headers.len(), 2);
    assert_eq!(s.proxy.as_deref(), Some("http://proxy:3128"));
}

#[test]
fn bad_http_keys_name_the_line_and_say_what_to_do() {
    let cases: [(&str, usize, &str); 12] = [
        (
            "[[checks]]\nname = \"a\"\nkind = \"http\"\nurl = \"https://x/\"\ntls = { insecure_skip_verify = true }\nauth = { bearer_env = \"T\" }\n",
            4,
            "sends the secret to whoever answers",
        ),
        (
            "[[checks]]\nname = \"a\"\nkind = \"http\"\nurl = \"https://x/\"\nheaders = { X-Api-Key = \"abc\" }\n",
            5,
            "carries a credential",
        ),
        (
            "[[providers]]\nid = \"p\"\nkind = \"prometheus\"\nurl = \"http://prom.internal:9090\"\n[[checks]]\nname = \"q\"\nkind = \"prometheus\"\nprovider = \"p\"\nquery = \"up\"\nauth = { bearer_env = \"T\" }\n",
            10,
            "would send the secret unencrypted",
        ),
        (
            "[[checks]]\nname = \"a\"\nkind = \"http\"\nurl = \"http://x/\"\n[[checks]]\nname = \"b\"\nkind = \"http\"\nurl = \"ftp://x/\"\n",
            8,
            "scheme ftp:// is not supported; use http:// or https://",
        ),
        (
            "[[checks]]\nname = \"a\"\nkind = \"http\"\nurl = \"http://db.internal/\"\nauth = { bearer_env = \"T\" }\n",
            4,
            "would send the secret unencrypted",
        ),
        (
            "[[checks]]\nname = \"a\"\nkind = \"http\"\nurl = \"https://x/\"\ntls = { cert_file = \"c.pem\" }\n",
            5,
            "`cert_file` and `key_file` go together",
        ),
        (
            "[[checks]]\nname = \"a\"\nkind = \"http\"\nurl = \"https://x/\"\nauth = { bearer_env = \"T\", basic_user = \"u\" }\n",
            5,
            "use one of",
        ),
        (
            "[[checks]]\nname = \"a\"\nkind = \"http\"\nurl = \"https://x/\"\nheaders = { Authorization = \"Bearer abc\" }\n",
            5,
            "carries a credential",
        ),
        (
            "[[checks]]\nname = \"a\"\nkind = \"http\"\nurl = \"https://u:p@x/\"\n",
            4,
            "put credentials in `auth`",
        ),
        (
            "[[targets]]\nname = \"t\"\nnodes = [\"a\"]\nengine = \"local-fleet\"\nnode_url = \"https://{node}\"\n",
            5,
            "node_url does not apply to a local-fleet target",
        ),
        (
            "[[providers]]\nid = \"gh\"\nkind = \"github\"\nrepos = [\"a/b\"]\ntls = { insecure_skip_verify = true }\n",
            5,
            "only prometheus and alertmanager providers take",
        ),
        (
            "[http]\nproxy = \"socks5://p:1080\"\n",
            2,
            "scheme socks5:// is not supported",
        ),
    ];
    for (text, line, want) in cases {
        let e = err(text);
        assert!(
            e.starts_with(&format!("/etc/fd.toml:{line}:")),
            "{e}\n---\n{text}"
        );
        assert!(e.contains(want), "{e}\n---\n{text}");
    }
    let e = err(
        "[[checks]]\nname = \"a\"\nkind = \"http\"\nurl = \"https://x/\"\ntls = { cafile = \"x\" }\n",
    );
    assert!(e.contains(":5:") && e.contains("cafile"), "{e}");
    // Credentials to this machine over http are fine (a local Prometheus, a test).
    parse(
        Path::new("x"),
        "[[checks]]\nname = \"a\"\nkind = \"http\"\nurl = \"http://127.0.0.1:9090/\"\nauth = { bearer_env = \"T\" }\n",
    )
    .unwrap();
}

#[test]
fn a_check_on_a_plain_http_target_cannot_carry_credentials() {
    let e = err(
        "[[targets]]\nname = \"t\"\nnodes = [\"a\"]\nengine = \"script\"\nscript = { deploy = [\"true\"] }\n[[checks]]\nname = \"c\"\nkind = \"http\"\ntarget = \"t\"\npath = \"/\"\nauth = { bearer_env = \"T\" }\n",
    );
    assert!(e.contains("would send the secret unencrypted"), "{e}");
    assert!(e.contains("/etc/fd.toml:11:"), "{e}");
}

#[test]
fn errors_never_show_a_password_and_bad_secret_sources_are_named() {
    let e = err("[[checks]]\nname = \"a\"\nkind = \"http\"\nurl = \"https://admin:hunter2@x/\"\n");
    assert!(e.contains("admin:***@x") && !e.contains("hunter2"), "{e}");
    // A proxy may carry its own credentials; they are never shown.
    let e = err("[http]\nproxy = \"ftp://u:s3cret@proxy:21\"\n");
    assert!(
        e.contains("/etc/fd.toml:2:") && !e.contains("s3cret"),
        "{e}"
    );
    parse(
        Path::new("x"),
        "[http]\nproxy = \"http://u:p@proxy:3128\"\n",
    )
    .unwrap();
    for (auth, want) in [
        ("bearer_env = \"\"", "is not an environment variable's name"),
        (
            "bearer_env = \"A B\"",
            "is not an environment variable's name",
        ),
        ("bearer_file = \"\"", "bearer_file is empty"),
        ("basic_user = \"a:b\", password_env = \"P\"", "without `:`"),
    ] {
        let e = err(&format!(
            "[[checks]]\nname = \"a\"\nkind = \"http\"\nurl = \"https://x/\"\nauth = {{ {auth} }}\n"
        ));
        assert!(e.contains("/etc/fd.toml:5:") && e.contains(want), "{e}");
    }
    let e = err(
        "[[checks]]\nname = \"a\"\nkind = \"http\"\nurl = \"https://x/\"\ntls = { ca_file = \"\" }\n",
    );
    assert!(e.contains("ca_file is empty"), "{e}");
    let e = err(
        "[[checks]]\nname = \"a\"\nkind = \"http\"\nurl = \"http://127.0.0.1/\"\ntls = { insecure_skip_verify = true }\n",
    );
    assert!(e.contains("applies to https:// URLs only"), "{e}");
    let e = err(
        "[[checks]]\nname = \"a\"\nkind = \"http\"\nurl = \"https://x/\"\nheaders = { Host = \"evil\" }\n",
    );
    assert!(e.contains("Host is set by flightdeck itself"), "{e}");
    // A credential header, even from the environment, never goes over plain http.
    let e = err(
        "[[checks]]\nname = \"a\"\nkind = \"http\"\nurl = \"http://x.internal/\"\nheaders = { X-Api-Key = { env = \"K\" } }\n",
    );
    assert!(e.contains("would send the secret unencrypted"), "{e}");
}
