use super::*;

fn parse(text: &str) -> (Option<TestCounts>, Vec<String>) {
    let mut p = TestParser::default();
    for l in text.lines() {
        p.line(l);
    }
    p.finish()
}

fn c(passed: u32, failed: u32, skipped: u32) -> Option<TestCounts> {
    Some(TestCounts {
        passed,
        failed,
        skipped,
    })
}

#[test]
fn libtest_sums_every_binary_and_names_failures() {
    let out = "running 3 tests
test a::one ... ok
test a::two ... FAILED
test a::three ... ignored

failures:
    a::two

test result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s

running 2 tests
test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
";
    assert_eq!(parse(out), (c(3, 1, 1), vec!["a::two".into()]));
}

#[test]
fn coloured_libtest_output_still_parses() {
    let out =
        "test result: \x1b[32mok\x1b[0m. 4 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out";
    assert_eq!(parse(out).0, c(4, 0, 0));
}

#[test]
fn nextest_summary_and_failures() {
    let out = "        PASS [   0.017s] (42/60) flightdeck engine::gate::tests::read_only
        FAIL [   0.150s] (41/60) flightdeck app::update::tests::filter
  Cancelling due to test failure: 1 test still running
────────────
     Summary [   0.218s] 60 tests run: 58 passed, 1 failed, 1 skipped
        FAIL [   0.150s] (41/60) flightdeck app::update::tests::filter
";
    assert_eq!(
        parse(out),
        (
            c(58, 1, 1),
            vec!["flightdeck app::update::tests::filter".into()]
        )
    );
}

#[test]
fn pytest_summaries() {
    let out = "tests/test_api.py ..F.s
FAILED tests/test_api.py::test_version - AssertionError: assert 'v1' == 'v2'
=========== 1 failed, 3 passed, 1 skipped, 2 warnings in 0.12s ===========";
    assert_eq!(
        parse(out),
        (c(3, 1, 1), vec!["tests/test_api.py::test_version".into()])
    );
    assert_eq!(
        parse("============================== 5 passed in 0.01s ===============================").0,
        c(5, 0, 0)
    );
    assert_eq!(parse("==== 2 errors in 0.50s ====").0, c(0, 2, 0));
}

#[test]
fn junit_reports() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites><testsuite name="api" tests="4" failures="1">
  <testcase classname="api.Health" name="ok"/>
  <testcase classname="api.Health" name="version &amp; build"><failure message="boom">trace</failure></testcase>
  <testcase classname="api.Health" name='slow'><skipped/></testcase>
  <testcase name="plain"></testcase>
</testsuite></testsuites>"#;
    let r = parse_junit(xml).unwrap();
    assert_eq!(
        r.counts,
        TestCounts {
            passed: 2,
            failed: 1,
            skipped: 1
        }
    );
    assert_eq!(r.failed, vec!["api.Health.version & build"]);
    let mut p = TestParser::default();
    p.junit(r);
    assert_eq!(p.finish().0, c(2, 1, 1));
}

#[test]
fn malformed_input_is_an_error_or_nothing_never_a_panic() {
    assert!(parse_junit("<html>504 Gateway Timeout</html>").is_err());
    assert!(parse_junit("<testsuite><testcase name=\"x\"><failure>").is_err());
    assert!(parse_junit("<testsuite><testcase name=\"x").is_err());
    // A close tag inside the open tag must not be taken for the end of the case.
    let _ = parse_junit("<testsuite><testcase name=\"a\"</testcase>");
    for junk in [
        "test result: ok. lots passed; ??? failed",
        "test result: ",
        "Summary [ tests run:",
        "=== in ===",
        "FAIL [",
        "FAILED ",
        "test  ... FAILED",
        "\x1b[",
        "==== 99999999999999999999 passed in 1s ====",
    ] {
        let _ = parse(junk);
    }
    assert_eq!(
        parse("test result: ok. lots passed; ??? failed").0,
        c(0, 0, 0)
    );
    assert_eq!(parse("nothing to see here").0, None);
}

fn counts_of(xml: &str) -> (TestCounts, Vec<String>) {
    let r = parse_junit(xml).unwrap();
    (r.counts, r.failed)
}

fn t(passed: u32, failed: u32, skipped: u32) -> TestCounts {
    c(passed, failed, skipped).unwrap()
}

#[test]
fn junit_suites_nest_and_a_bare_testsuite_is_a_report() {
    let nested = r#"<testsuites name="all">
  <testsuite name="outer">
    <testcase classname="a" name="one"/>
    <testsuite name="inner"><testcase classname="a.b" name="two"><error type="Panic"/></testcase></testsuite>
  </testsuite>
  <testsuite name="other"><testcase classname="c" name="three"><skipped /></testcase></testsuite>
</testsuites>"#;
    assert_eq!(counts_of(nested), (t(1, 1, 1), vec!["a.b.two".into()]));
    let bare = r#"<?xml version="1.0"?>
<testsuite name="go" tests="2"><testcase classname="" name="TestA"><failure/></testcase><testcase name="TestB"/></testsuite>"#;
    assert_eq!(counts_of(bare), (t(1, 1, 0), vec!["TestA".into()]));
}

#[test]
fn junit_markup_is_read_as_xml_not_as_text() {
    let xml = r#"<testsuite name="s">
  <!-- <testcase name="commented out"><failure/></testcase> -->
  <testcase classname="q" name="it&apos;s &#8220;quoted&#8221; &amp; a>b"><failure message="x"><![CDATA[
    expected </testcase> and <testcase name="ghost"> in the output
  ]]></failure></testcase>
  <testcase classname="q" name="logs"><system-out><![CDATA[<failure> <skipped/>]]></system-out></testcase>
  <testcase classname="q" name="skipped"><skipped message="later"></skipped></testcase>
</testsuite>"#;
    assert_eq!(
        counts_of(xml),
        (
            t(1, 1, 1),
            vec!["q.it's \u{201c}quoted\u{201d} & a>b".into()]
        )
    );
}

#[test]
fn malformed_junit_says_what_is_wrong() {
    // A report cut short (the tool was killed while writing it).
    assert_eq!(
        parse_junit("<testsuite><testcase name=\"x\"/>").unwrap_err(),
        "not valid XML: the root node was opened but never closed"
    );
    let err = parse_junit("<testsuite>\n<testcase></testsuite>").unwrap_err();
    assert!(
        err.starts_with("not valid XML: ") && err.contains("testcase") && err.contains("2:"),
        "what and where: {err}"
    );
    let err = parse_junit("<html><body>504 Gateway Timeout</body></html>").unwrap_err();
    assert_eq!(
        err,
        "not a JUnit report: the root element is <html>, not <testsuites> or <testsuite>"
    );
    assert!(parse_junit("").unwrap_err().starts_with("not valid XML"));
}

const PYTEST_REPORT: &str = r#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="5">
<testcase classname="tests.test_api" name="test_ok"/>
<testcase classname="tests.test_api" name="test_ok2"/>
<testcase classname="tests.test_api.TestVersion" name="test_version[v1]"><failure message="AssertionError">assert 'v1' == 'v2'</failure></testcase>
<testcase classname="tests.test_api" name="test_db"><error message="fixture 'db' not found"/></testcase>
<testcase classname="tests.test_api" name="test_later"><skipped/></testcase>
</testsuite></testsuites>"#;

#[test]
fn pytest_with_its_own_junitxml_counts_once() {
    let mut p = TestParser::default();
    for l in [
        "FAILED tests/test_api.py::TestVersion::test_version[v1] - AssertionError",
        "ERROR tests/test_api.py::test_db - fixture 'db' not found",
        "==== 1 failed, 2 passed, 1 skipped, 1 error in 0.12s ====",
    ] {
        p.line(l);
    }
    p.junit(parse_junit(PYTEST_REPORT).unwrap());
    assert_eq!(
        p.finish(),
        (
            c(2, 2, 1),
            vec![
                // pytest's own name; the report's spelling of it is the same test.
                "tests/test_api.py::TestVersion::test_version[v1]".into(),
                // Only the report named this one.
                "tests.test_api.test_db".into(),
            ]
        )
    );
}

#[test]
fn junit_from_other_tools_counts_beside_rust_summaries() {
    let java = r#"<testsuite name="com.acme.AppTest"><testcase classname="com.acme.AppTest" name="boots"/><testcase classname="com.acme.AppTest" name="fails"><failure/></testcase></testsuite>"#;
    let go = r#"<testsuites><testsuite name="pkg"><testcase classname="pkg" name="TestX"/></testsuite></testsuites>"#;
    let mut p = TestParser::default();
    p.line("test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured");
    p.junit(parse_junit(java).unwrap());
    p.junit(parse_junit(go).unwrap());
    assert_eq!(
        p.finish(),
        (c(5, 1, 1), vec!["com.acme.AppTest.fails".into()])
    );
    let mut p = TestParser::default();
    p.junit(parse_junit(java).unwrap());
    assert_eq!(p.finish().0, c(1, 1, 0));
}

fn write(path: &std::path::Path, xml: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, xml).unwrap();
}

fn case(name: &str) -> String {
    format!(r#"<testsuite><testcase classname="k" name="{name}"/></testsuite>"#)
}

#[test]
fn junit_paths_are_globs_each_file_read_once() {
    let dir = tempfile::tempdir().unwrap();
    // A directory whose name looks like a pattern is still taken literally.
    let d = dir.path().join("ws[1]");
    write(&d.join("target/a/b/TEST-one.xml"), &case("one"));
    write(&d.join("target/TEST-two.xml"), &case("two"));
    write(&d.join("target/other.xml"), &case("other"));
    write(&d.join("reports/r.xml"), &case("r"));
    let since = std::time::SystemTime::now();
    let mut p = TestParser::default();
    let patterns = [
        "target/**/TEST-*.xml",
        "reports/*.xml",
        "reports/r.xml",
        "./reports/r.xml",
        "none/*.xml",
        "[",
    ]
    .map(PathBuf::from);
    let notes = read_junit(&d, &patterns, since, &mut p);
    assert_eq!(p.finish().0, c(3, 0, 0));
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert_eq!(
        notes[0],
        "flightdeck: JUnit report none/*.xml: no file matches"
    );
    assert!(
        notes[1].starts_with("flightdeck: JUnit report [: bad pattern: "),
        "{notes:?}"
    );
}

#[test]
fn junit_files_older_than_the_step_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("old.xml"), &case("old"));
    write(&dir.path().join("bad.xml"), "<testsuite>");
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(dir.path().join("old.xml"))
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    let since = std::time::SystemTime::now();
    write(&dir.path().join("new.xml"), &case("new"));
    let mut p = TestParser::default();
    let notes = read_junit(dir.path(), &[PathBuf::from("*.xml")], since, &mut p);
    assert_eq!(p.finish().0, c(1, 0, 0));
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(
        notes[0].starts_with("flightdeck: JUnit report bad.xml: not valid XML: "),
        "{notes:?}"
    );
    assert_eq!(
        notes[1],
        "flightdeck: JUnit report old.xml: older than this step, ignored"
    );
}
