use super::*;
use crate::api::TestRun;

/// A finished run of examples/conformance.yaml under runc, captured from the test cluster.
fn passed_run() -> TestRun {
    serde_yaml::from_str(include_str!(
        "../../tests/fixtures/testruns/conformance-runc.yaml"
    ))
    .unwrap()
}

/// The same run with one probe failed and one errored, as a broken runtime would leave it.
fn failed_run() -> TestRun {
    let mut run = passed_run();
    let status = run.status.as_mut().unwrap();
    let exit = status
        .probes
        .iter_mut()
        .find(|p| p.name == "exit-code")
        .unwrap();
    exit.verdict = Some(Verdict::Failed);
    exit.reason = Some("ExitCodeMismatch".into());
    exit.message = Some("expected exit code 42, observed 0".into());
    exit.checks[0].observed = "0".into();
    exit.checks[0].passed = false;
    let env = status.probes.iter_mut().find(|p| p.name == "env").unwrap();
    env.verdict = Some(Verdict::Error);
    env.reason = Some("PodCannotStart".into());
    env.message = Some("a probe pod cannot start: ErrImagePull: <no such image> & co".into());
    status.phase = Some(RunPhase::Failed);
    let summary = status.summary.as_mut().unwrap();
    summary.passed -= 2;
    summary.failed = 1;
    summary.errored = 1;
    run
}

#[test]
fn the_table_lists_every_probe_with_its_verdict_and_the_failing_check() {
    let text = render(&failed_run(), Format::Table);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("PROBE"), "{text}");
    assert_eq!(lines.len(), 1 + 21 + 2, "{text}");
    let exit = lines.iter().find(|l| l.starts_with("exit-code ")).unwrap();
    assert!(exit.contains("Failed"), "{exit}");
    assert!(exit.contains("exitCode: expected 42, observed 0"), "{exit}");
    assert!(text.ends_with("Failed: 18 passed, 1 failed, 1 errors, 1 skipped of 21\n"));
}

#[test]
fn json_is_a_stable_document_of_the_verdicts() {
    let value: serde_json::Value =
        serde_json::from_str(&render(&passed_run(), Format::Json)).unwrap();
    assert_eq!(value["name"], "conformance");
    assert_eq!(value["phase"], "Succeeded");
    assert_eq!(value["summary"]["total"], 21);
    let exit = &value["probes"][0];
    assert_eq!(exit["name"], "exit-code");
    assert_eq!(exit["verdict"], "Passed");
    assert_eq!(exit["checks"][0]["observed"], "42");
    assert!(exit["durationSeconds"].as_f64().unwrap() > 0.0);
}

#[test]
fn junit_marks_failures_errors_and_skips_apart() {
    let text = render(&failed_run(), Format::Junit);
    assert!(text.starts_with("<?xml"));
    assert!(
        text.contains("<testsuites name=\"proctor\" tests=\"21\" failures=\"1\" errors=\"1\""),
        "{text}"
    );
    // quick-junit counts skipped test cases as `disabled` on the suite.
    assert!(
        text.contains("tests=\"21\" disabled=\"1\" errors=\"1\" failures=\"1\""),
        "{text}"
    );
    assert_eq!(text.matches("<testcase ").count(), 21);
    assert_eq!(text.matches("<failure ").count(), 1);
    assert_eq!(text.matches("<error ").count(), 1);
    assert_eq!(text.matches("<skipped ").count(), 1);
    assert!(text.contains(
        "<failure message=\"expected exit code 42, observed 0\" type=\"ExitCodeMismatch\">FAIL exitCode: expected 42, observed 0"
    ), "{text}");
    assert!(
        text.contains(
            "<testcase name=\"exit-code\" classname=\"proctor.exitCode\" time=\"3.000\">"
        )
    );
    // Escaped, never raw markup.
    assert!(text.contains("&lt;no such image&gt; &amp; co"), "{text}");
}

#[test]
fn html_is_self_contained_with_the_matrix_and_the_timeline() {
    let text = render(&failed_run(), Format::Html);
    assert!(text.starts_with("<!DOCTYPE html>"));
    assert!(
        !text.contains("<script") && !text.contains("http"),
        "no external or active content"
    );
    assert_eq!(text.matches("<tr class=").count(), 21);
    assert!(text.contains("<tr class=\"failed\"><td>exit-code</td>"));
    assert_eq!(text.matches("class=\"lane\"").count(), 21);
    assert!(text.contains("&lt;no such image&gt;"));
}
