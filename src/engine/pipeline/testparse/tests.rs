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
