//! Verdicts from pod objects captured on the real test cluster (tests/fixtures/pods).

use k8s_openapi::api::core::v1::Pod;

use super::*;
use crate::api::Verdict;
use crate::probes::ProbeKind;

fn fixture(name: &str) -> PodObservation {
    let text = match name {
        "exit-0" => include_str!("../../tests/fixtures/pods/exit-0.json"),
        "exit-42" => include_str!("../../tests/fixtures/pods/exit-42.json"),
        "exit-42-faulty-exit" => include_str!("../../tests/fixtures/pods/exit-42-faulty-exit.json"),
        "command-not-found" => include_str!("../../tests/fixtures/pods/command-not-found.json"),
        "oom-kill" => include_str!("../../tests/fixtures/pods/oom-kill.json"),
        "deadline-exceeded" => include_str!("../../tests/fixtures/pods/deadline-exceeded.json"),
        "deadline-exceeded-trap" => {
            include_str!("../../tests/fixtures/pods/deadline-exceeded-trap.json")
        }
        "deadline-exceeded-latekill" => {
            include_str!("../../tests/fixtures/pods/deadline-exceeded-latekill.json")
        }
        "termination-message" => include_str!("../../tests/fixtures/pods/termination-message.json"),
        "termination-message-fallback" => {
            include_str!("../../tests/fixtures/pods/termination-message-fallback.json")
        }
        "restart-count" => include_str!("../../tests/fixtures/pods/restart-count.json"),
        "graceful-shutdown-runc" => {
            include_str!("../../tests/fixtures/pods/graceful-shutdown-runc.json")
        }
        "graceful-shutdown-faulty-sigterm" => {
            include_str!("../../tests/fixtures/pods/graceful-shutdown-faulty-sigterm.json")
        }
        "image-pull-error" => include_str!("../../tests/fixtures/pods/image-pull-error.json"),
        "image-pull-backoff" => include_str!("../../tests/fixtures/pods/image-pull-backoff.json"),
        "running" => include_str!("../../tests/fixtures/pods/running.json"),
        "large-output" => include_str!("../../tests/fixtures/pods/large-output.json"),
        other => panic!("no fixture {other}"),
    };
    let pod: Pod = serde_json::from_str(text).unwrap();
    PodObservation::of(&pod)
}

fn judge(kind: ProbeKind, pod: &str, log: Option<&[u8]>) -> Outcome {
    let evidence = Evidence {
        pods: vec![fixture(pod)],
        log: log.map(LogObservation::of),
        ..Evidence::default()
    };
    evaluate(&kind, &evidence).expect("evidence complete")
}

#[test]
fn exit_code_propagated_passes() {
    let outcome = judge(ProbeKind::ExitCode { code: 42 }, "exit-42", None);
    assert_eq!(outcome.verdict, Verdict::Passed, "{outcome:?}");
    assert_eq!(outcome.checks[0].observed, "42");
}

#[test]
fn exit_code_probe_fails_when_runtime_rewrites_the_code() {
    let outcome = judge(
        ProbeKind::ExitCode { code: 42 },
        "exit-42-faulty-exit",
        None,
    );
    assert_eq!(outcome.verdict, Verdict::Failed);
    assert_eq!(outcome.reason, "ExitCodeMismatch");
    assert_eq!(outcome.message, "expected exit code 42, observed 0");
}

#[test]
fn command_not_found_reaching_failed_passes_and_records_the_reason() {
    let outcome = judge(ProbeKind::CommandNotFound, "command-not-found", None);
    assert_eq!(outcome.verdict, Verdict::Passed, "{outcome:?}");
    assert!(
        outcome.message.contains("StartError") && outcome.message.contains("128"),
        "{}",
        outcome.message
    );
    let failed = judge(ProbeKind::CommandNotFound, "exit-0", None);
    assert_eq!(failed.verdict, Verdict::Failed);
}

/// A custom probe whose command is not in the image: the verdict names the runtime's cause,
/// not only the exit code 128 it leads to.
#[test]
fn a_container_that_never_ran_says_why_in_the_verdict() {
    let custom = crate::api::CustomProbe {
        command: vec!["/nonexistent/binary".into()],
        expect: crate::api::Expectations {
            exit_code: Some(0),
            ..Default::default()
        },
        ..Default::default()
    };
    let outcome = judge(
        ProbeKind::Custom(Box::new(custom)),
        "command-not-found",
        None,
    );
    assert_eq!(outcome.verdict, Verdict::Failed, "{outcome:?}");
    assert!(
        outcome.message.starts_with(
            "expected exit code 0, observed 128; the container never ran: StartError: "
        ) && outcome.message.contains(
            r#"exec: "/nonexistent/binary": stat /nonexistent/binary: no such file or directory"#
        ),
        "{}",
        outcome.message
    );
    // A container that ran and failed has no such cause: the message is the comparison alone.
    let ran = judge(
        ProbeKind::ExitCode { code: 42 },
        "exit-42-faulty-exit",
        None,
    );
    assert_eq!(ran.message, "expected exit code 42, observed 0");
}

#[test]
fn oom_kill_is_judged_from_reason_and_exit_code() {
    assert_eq!(
        judge(ProbeKind::OomKill { limit_mib: 16 }, "oom-kill", None).verdict,
        Verdict::Passed
    );
    let missed = judge(ProbeKind::OomKill { limit_mib: 16 }, "exit-42", None);
    assert_eq!(
        (missed.verdict, missed.reason.as_str()),
        (Verdict::Failed, "ReasonMismatch")
    );
}

#[test]
fn deadline_is_judged_from_the_pod_reason_not_the_container_reason() {
    // The container itself ends with reason Error and exit 143; only the pod says why.
    let outcome = judge(
        ProbeKind::DeadlineExceeded { seconds: 3 },
        "deadline-exceeded-trap",
        None,
    );
    assert_eq!(outcome.verdict, Verdict::Passed, "{outcome:?}");
    assert_eq!(
        outcome.message,
        "the pod failed with DeadlineExceeded 0s after its 3s deadline"
    );
    assert_eq!(
        judge(ProbeKind::DeadlineExceeded { seconds: 3 }, "exit-42", None).verdict,
        Verdict::Failed
    );
}

/// `kind` judged on the pod of `fixture`, the kubelet having begun its kill `kill_after`
/// seconds after the pod's start (its `Killing` Event).
fn judge_killed(kind: ProbeKind, fixture_name: &str, kill_after: i64) -> Outcome {
    let pod = fixture(fixture_name);
    let kill = pod.started_at.unwrap() + k8s_openapi::jiff::SignedDuration::from_secs(kill_after);
    let evidence = Evidence {
        pods: vec![pod],
        kill_started_at: Some(kill),
        ..Evidence::default()
    };
    evaluate(&kind, &evidence).unwrap()
}

#[test]
fn a_deadline_enforced_long_after_the_kubelets_kill_is_not_enforced() {
    // Under faulty-latekill the kill lands 50 s after the kubelet gave it (at the 3 s deadline).
    let kind = ProbeKind::DeadlineExceeded { seconds: 3 };
    let late = judge_killed(kind.clone(), "deadline-exceeded-latekill", 3);
    assert_eq!(
        (late.verdict, late.reason.as_str()),
        (Verdict::Failed, "SecondsFromKillToEndMismatch"),
        "{late:?}"
    );
    assert_eq!(
        late.message,
        "expected seconds from kill to end <= 7, observed 50"
    );
    // A pod that ignores TERM ends only after its grace period (30 s here): too late as well.
    let ignored = judge_killed(kind.clone(), "deadline-exceeded", 3);
    assert_eq!(ignored.checks[2].observed, "31");
    assert_eq!(ignored.verdict, Verdict::Failed);
}

/// The same late end, when the kubelet itself acted late (a loaded node): the runtime ended the
/// container at once after the kubelet's kill, so the runtime passes, and the kubelet's lag is
/// in the message.
#[test]
fn a_deadline_the_kubelet_enforced_late_does_not_fail_the_runtime() {
    let kind = ProbeKind::DeadlineExceeded { seconds: 3 };
    let outcome = judge_killed(kind, "deadline-exceeded-latekill", 52);
    assert_eq!(outcome.verdict, Verdict::Passed, "{outcome:?}");
    assert!(
        outcome
            .message
            .contains("the kubelet acted 49s after it, the runtime ended the container 1s later"),
        "{}",
        outcome.message
    );
}

/// The kubelet marks the pod Failed at the deadline while its kill is still under way (under
/// faulty-latekill for 50 s): no verdict until the container has ended.
#[test]
fn a_deadline_pod_is_judged_once_its_container_has_ended() {
    let kind = ProbeKind::DeadlineExceeded { seconds: 3 };
    for state in [
        ContainerState::Running { started_at: None },
        ContainerState::Waiting {
            reason: None,
            message: None,
        },
    ] {
        let mut pod = fixture("deadline-exceeded-latekill");
        pod.container = state;
        let evidence = Evidence {
            pods: vec![pod],
            ..Evidence::default()
        };
        assert_eq!(evaluate(&kind, &evidence), None);
    }
}

/// Without the kubelet's Event a late end cannot be attributed: an Error with the figures,
/// never a plain Failed.
#[test]
fn a_late_end_without_the_kubelets_event_is_an_error_not_a_failure() {
    let late = judge(
        ProbeKind::DeadlineExceeded { seconds: 3 },
        "deadline-exceeded-latekill",
        None,
    );
    assert_eq!(
        (late.verdict, late.reason.as_str()),
        (Verdict::Error, "TimingUnattributed"),
        "{late:?}"
    );
    assert!(
        late.message.contains("ended 50s after the deadline"),
        "{}",
        late.message
    );
    // The pod reason still fails plainly: that is no timing question.
    assert_eq!(
        judge(ProbeKind::DeadlineExceeded { seconds: 3 }, "exit-42", None).verdict,
        Verdict::Failed
    );
}

#[test]
fn termination_messages_compare_byte_for_byte() {
    let file = ProbeKind::TerminationMessage {
        text: "hello-term".into(),
        fallback_to_logs: false,
    };
    assert_eq!(
        judge(file, "termination-message", None).verdict,
        Verdict::Passed
    );
    let fallback = ProbeKind::TerminationMessage {
        text: "line1\nlast-line".into(),
        fallback_to_logs: true,
    };
    assert_eq!(
        judge(fallback, "termination-message-fallback", None).verdict,
        Verdict::Passed
    );
    let wrong = ProbeKind::TerminationMessage {
        text: "other".into(),
        fallback_to_logs: false,
    };
    let outcome = judge(wrong, "termination-message", None);
    assert_eq!(
        outcome.message,
        r#"expected termination message "other", observed "hello-term""#
    );
}

#[test]
fn restart_count_must_match_exactly() {
    assert_eq!(
        judge(
            ProbeKind::RestartCount { failures: 2 },
            "restart-count",
            None
        )
        .verdict,
        Verdict::Passed
    );
    let outcome = judge(
        ProbeKind::RestartCount { failures: 3 },
        "restart-count",
        None,
    );
    assert_eq!(outcome.message, "expected restart count 3, observed 2");
}

#[test]
fn graceful_shutdown_passes_under_runc_and_fails_when_sigterm_becomes_sigkill() {
    let kind = ProbeKind::GracefulShutdown {
        grace_period_seconds: 10,
    };
    let runc = judge(kind.clone(), "graceful-shutdown-runc", None);
    assert_eq!(runc.verdict, Verdict::Passed, "{runc:?}");
    let faulty = judge(kind, "graceful-shutdown-faulty-sigterm", None);
    assert_eq!(faulty.verdict, Verdict::Failed);
    assert_eq!(faulty.message, "expected exit code 0, observed 137");
}

#[test]
fn shutdown_slower_than_the_grace_period_fails() {
    let kind = ProbeKind::GracefulShutdown {
        grace_period_seconds: 1,
    };
    let pod = fixture("graceful-shutdown-runc");
    let finished = pod.terminated().unwrap().finished_at.unwrap();
    let five_before = finished - k8s_openapi::jiff::SignedDuration::from_secs(5);
    // The kubelet stopped the container at once after the delete: 5 s are the runtime's.
    let evidence = Evidence {
        deleted_at: Some(five_before),
        kill_started_at: Some(five_before),
        pods: vec![pod.clone()],
        ..Evidence::default()
    };
    let outcome = evaluate(&kind, &evidence).unwrap();
    assert_eq!(
        (outcome.verdict, outcome.reason.as_str()),
        (Verdict::Failed, "ShutdownSecondsMismatch")
    );
    // The kubelet acted 5 s late and the process ended at once: the runtime passes.
    let evidence = Evidence {
        deleted_at: Some(five_before),
        kill_started_at: Some(finished),
        pods: vec![pod.clone()],
        ..Evidence::default()
    };
    let outcome = evaluate(&kind, &evidence).unwrap();
    assert_eq!(outcome.verdict, Verdict::Passed, "{outcome:?}");
    assert!(
        outcome
            .message
            .ends_with("(the kubelet began stopping it 5s after the delete)"),
        "{}",
        outcome.message
    );
    // Without the kubelet's Event: cannot be attributed.
    let evidence = Evidence {
        deleted_at: Some(five_before),
        pods: vec![pod],
        ..Evidence::default()
    };
    let outcome = evaluate(&kind, &evidence).unwrap();
    assert_eq!(
        (outcome.verdict, outcome.reason.as_str()),
        (Verdict::Error, "TimingUnattributed")
    );
}

#[test]
fn a_pod_that_cannot_pull_its_image_is_an_error_not_a_failure() {
    for fixture_name in ["image-pull-error", "image-pull-backoff"] {
        let outcome = judge(ProbeKind::ExitCode { code: 1 }, fixture_name, None);
        assert_eq!(outcome.verdict, Verdict::Error, "{fixture_name}");
        assert_eq!(outcome.reason, "PodCannotStart");
        assert!(outcome.message.contains("ImagePull") || outcome.message.contains("ErrImagePull"));
    }
}

#[test]
fn an_unfinished_pod_has_no_verdict_yet() {
    let evidence = Evidence {
        pods: vec![fixture("running")],
        ..Evidence::default()
    };
    assert_eq!(evaluate(&ProbeKind::ExitCode { code: 1 }, &evidence), None);
}

#[test]
fn exec_probes_read_the_exec_status() {
    let running = || vec![fixture("running")];
    let exec = |exit_code, error: Option<&str>| Evidence {
        pods: running(),
        exec: Some(ExecObservation {
            exit_code,
            error: error.map(str::to_owned),
        }),
        exec_output: Some("proctor-exec-output 7\n".into()),
        ..Evidence::default()
    };
    let passed = evaluate(&ProbeKind::ExecExitCode { code: 7 }, &exec(Some(7), None)).unwrap();
    assert_eq!(passed.verdict, Verdict::Passed);
    let silent = Evidence {
        exec_output: Some(String::new()),
        ..exec(Some(7), None)
    };
    let lost = evaluate(&ProbeKind::ExecExitCode { code: 7 }, &silent).unwrap();
    assert_eq!(
        lost.message,
        "expected exec output proctor-exec-output 7, observed not streamed back"
    );
    let swallowed = evaluate(&ProbeKind::ExecExitCode { code: 7 }, &exec(Some(0), None)).unwrap();
    assert_eq!(swallowed.message, "expected exec exit code 7, observed 0");
    let missing = evaluate(
        &ProbeKind::ExecMissingBinary,
        &exec(None, Some("exec: stat: no such file")),
    )
    .unwrap();
    assert_eq!(missing.verdict, Verdict::Passed, "{missing:?}");
    let silent = evaluate(&ProbeKind::ExecMissingBinary, &exec(Some(0), None)).unwrap();
    assert_eq!(silent.verdict, Verdict::Failed);
    assert_eq!(
        evaluate(
            &ProbeKind::ExecExitCode { code: 7 },
            &Evidence {
                pods: running(),
                ..Evidence::default()
            }
        ),
        None
    );
}

fn seq(n: u64) -> Vec<u8> {
    (1..=n)
        .map(|i| format!("{i}\n"))
        .collect::<String>()
        .into_bytes()
}

#[test]
fn large_output_counts_every_line_in_order() {
    let whole = seq(20000);
    let outcome = judge(
        ProbeKind::LargeOutput { lines: 20000 },
        "large-output",
        Some(&whole),
    );
    assert_eq!(outcome.verdict, Verdict::Passed, "{outcome:?}");
    // What this cluster's containerd 1.6.20 produced in one run: the tail is lost.
    let truncated = seq(7594);
    let outcome = judge(
        ProbeKind::LargeOutput { lines: 20000 },
        "large-output",
        Some(&truncated),
    );
    assert_eq!(outcome.message, "expected line count 20000, observed 7594");
    let mut doubled = seq(10);
    doubled.extend_from_slice(b"10\n");
    let log = LogObservation::of(&doubled);
    assert_eq!((log.lines, log.out_of_sequence), (11, 1));
}

/// The body this cluster's kubelet answered for the `httpHooks` pod's log once the deleted pod's
/// containers were removed (seen in the matrix, read for the log until then).
#[test]
fn the_kubelets_notice_of_a_removed_container_is_not_taken_for_its_log() {
    let notice = "unable to retrieve container logs for containerd://1d66c66557bff1c75515fd72f13a14a4675bdeb6aa9b41c8d52269afb54dbc5b";
    let log = LogObservation::of(notice.as_bytes());
    assert_eq!(log.kubelet_notice(), Some(notice));
    let log = LogObservation::of(format!("{notice}\n").as_bytes());
    assert_eq!(log.kubelet_notice(), Some(notice));
    for written in [
        "",
        "unable to retrieve container logs for",
        "unable to retrieve container logs for containerd://",
        "unable to retrieve container logs for my container",
        "poststart: seen\nunable to retrieve container logs for containerd://1d66",
        "unable to retrieve container logs for containerd://1d66 and more",
    ] {
        let log = LogObservation::of(written.as_bytes());
        assert_eq!(log.kubelet_notice(), None, "{written:?}");
    }
}

#[test]
fn streaming_a_log_in_chunks_observes_the_same_as_reading_it_whole() {
    let bytes = seq(30000);
    let mut counter = LogCounter::default();
    for chunk in bytes.chunks(4093) {
        counter.feed(chunk);
    }
    let streamed = counter.finish();
    assert_eq!(streamed, LogObservation::of(&bytes));
    assert_eq!(streamed.text, None, "a large log is counted, not kept");
    assert_eq!(
        (streamed.lines, streamed.last_line.as_deref()),
        (30000, Some("30000"))
    );
}

/// One line of 20 MB, fed as the API server streams it: counted as one line, held no more
/// than [`LogObservation::KEEP_LINE`] at a time, and searched whole, also where a string is split
/// between chunks.
#[test]
fn a_line_of_any_length_is_counted_and_searched_without_being_held() {
    let needles = vec![
        "marker-at-the-end".to_owned(),
        "split-here".to_owned(),
        "never".to_owned(),
    ];
    let mut counter = LogCounter::looking_for(&needles);
    let block = vec![b'x'; 1 << 20];
    for _ in 0..20 {
        counter.feed(&block);
    }
    counter.feed(b"spl");
    counter.feed(b"it-");
    counter.feed(b"here");
    counter.feed(b"... marker-at-the-end\n");
    assert!(
        counter.held() <= LogObservation::KEEP_LINE + 64,
        "{}",
        counter.held()
    );
    let log = counter.finish();
    assert_eq!((log.lines, log.bytes), (1, 20 * (1 << 20) + 32));
    assert_eq!(log.found, vec![true, true, false]);
    assert_eq!(log.text, None);
    assert_eq!(
        log.last_line.as_deref().map(str::len),
        Some(256 + 2),
        "bounded, with an ellipsis"
    );
}

#[test]
fn strings_are_found_when_fed_a_byte_at_a_time() {
    let needles = vec!["abc".to_owned(), "zz".to_owned()];
    let mut counter = LogCounter::looking_for(&needles);
    for byte in b"xxabxabcx\nz" {
        counter.feed(&[*byte]);
    }
    counter.feed(b"z");
    assert_eq!(counter.finish().found, vec![true, true]);
}

/// A custom probe's `logContains` judged from a log far larger than Proctor keeps as text.
#[test]
fn a_custom_probe_finds_its_strings_in_a_log_larger_than_kept_text() {
    let custom = crate::api::CustomProbe {
        command: vec!["true".into()],
        expect: crate::api::Expectations {
            log_contains: Some(vec!["done".into(), "missing".into()]),
            ..Default::default()
        },
        ..Default::default()
    };
    let needles = custom.expect.log_contains.clone().unwrap();
    let mut counter = LogCounter::looking_for(&needles);
    counter.feed(&vec![b'y'; 200_000]);
    counter.feed(b"\ndone\n");
    let evidence = Evidence {
        pods: vec![fixture("exit-0")],
        log: Some(counter.finish()),
        ..Evidence::default()
    };
    let outcome = evaluate(&ProbeKind::Custom(Box::new(custom)), &evidence).unwrap();
    assert_eq!(outcome.verdict, Verdict::Failed, "{outcome:?}");
    let observed: Vec<_> = outcome.checks.iter().map(|c| c.observed.as_str()).collect();
    assert_eq!(observed, ["present", "absent"]);
}

#[test]
fn text_probes_compare_byte_for_byte_and_show_the_difference_escaped() {
    let value = "a=b c ü";
    let kind = ProbeKind::Env {
        name: "X".into(),
        value: value.into(),
    };
    let framed = |v: &str| {
        format!(
            "X\u{1f}={v}\u{1e}\nPROCTOR_PROBE_EMPTY\u{1f}=\u{1e}\nPROCTOR_PROBE_LONG\u{1f}={}\u{1e}\n",
            crate::probes::kinds::env::long_value()
        )
    };
    let ok = judge(kind.clone(), "exit-0", Some(framed(value).as_bytes()));
    assert_eq!(ok.verdict, Verdict::Passed, "{ok:?}");
    let trimmed = judge(kind.clone(), "exit-0", Some(framed(" x ").as_bytes()));
    assert_eq!(
        trimmed.message,
        r#"expected value "a=b c ü", observed " x ""#
    );
    let dropped = judge(kind, "exit-0", Some(b"X\x1f!\x1e\n"));
    assert_eq!(
        dropped.message,
        r#"expected value "a=b c ü", observed not set"#
    );
    let unicode = ProbeKind::UnicodeOutput {
        text: "世界 🚀".into(),
    };
    let mangled = judge(unicode, "exit-0", Some("?? ?\n".as_bytes()));
    assert_eq!(mangled.verdict, Verdict::Failed);
}

#[test]
fn checks_and_messages_stay_bounded() {
    let huge = "x".repeat(10_000);
    let kind = ProbeKind::UnicodeOutput { text: huge.clone() };
    let outcome = judge(kind, "exit-0", Some(b"short\n"));
    for c in &outcome.checks {
        assert!(
            c.expected.chars().count() <= MAX_VALUE_CHARS
                && c.observed.chars().count() <= MAX_VALUE_CHARS
        );
    }
    assert!(outcome.message.chars().count() < 2 * MAX_VALUE_CHARS + 64);
}

#[test]
fn read_only_volume_is_judged_by_the_kernels_answer() {
    let refused = b"touch: /mnt/proctor-read-only/proctor-write-attempt: Read-only file system\n";
    assert_eq!(
        judge(ProbeKind::ReadOnlyVolume, "exit-42", Some(refused)).verdict,
        Verdict::Passed
    );
    // Under a runtime that rewrites exit codes the write is still refused: not this probe's fault.
    assert_eq!(
        judge(ProbeKind::ReadOnlyVolume, "exit-0", Some(refused)).verdict,
        Verdict::Passed
    );
    let written = judge(ProbeKind::ReadOnlyVolume, "exit-0", Some(b""));
    assert_eq!(
        (written.verdict, written.message.as_str()),
        (
            Verdict::Failed,
            "expected write refused (Read-only file system), observed succeeded"
        )
    );
    let denied = judge(
        ProbeKind::ReadOnlyVolume,
        "exit-42",
        Some(b"touch: Permission denied\n"),
    );
    assert_eq!(
        (denied.verdict, denied.reason.as_str()),
        (Verdict::Error, "WriteFailedOtherwise")
    );
}

#[test]
fn an_empty_log_is_observed_as_empty_text() {
    let log = LogObservation::of(b"");
    assert_eq!((log.text.as_deref(), log.lines), (Some(""), 0));
    let lost = judge(
        ProbeKind::Stderr {
            text: "marker".into(),
        },
        "exit-0",
        Some(b""),
    );
    assert_eq!(
        (lost.verdict, lost.message.as_str()),
        (
            Verdict::Failed,
            r#"expected stderr "marker\n", observed """#
        )
    );
}

#[test]
fn a_failed_action_fails_a_custom_probe_whose_expectations_held() {
    let passed = judge(ProbeKind::ExitCode { code: 42 }, "exit-42", None);
    let exec = ExecObservation {
        exit_code: Some(0),
        error: None,
    };
    let action = crate::probes::kinds::custom::exec_action_check(0, Some(5), &exec);
    let outcome = with_action_checks(std::slice::from_ref(&action), passed.clone());
    assert_eq!(outcome.verdict, Verdict::Failed);
    assert_eq!(outcome.message, "expected action1 exit code 5, observed 0");
    assert_eq!(outcome.checks.len(), passed.checks.len() + 1);
    let fine = crate::probes::kinds::custom::exec_action_check(0, Some(0), &exec);
    assert_eq!(with_action_checks(&[fine], passed).verdict, Verdict::Passed);
}

#[test]
fn concurrent_start_fails_when_any_pod_of_the_burst_did_not_succeed() {
    let kind = ProbeKind::ConcurrentStart { pods: 2 };
    let all = Evidence {
        pods: vec![fixture("exit-0"), fixture("exit-0")],
        ..Evidence::default()
    };
    let passed = evaluate(&kind, &all).unwrap();
    assert_eq!(passed.verdict, Verdict::Passed, "{passed:?}");
    assert!(
        passed.checks.iter().all(|c| c.name == "podsSucceeded"),
        "only real checks: {:?}",
        passed.checks
    );
    let one_failed = Evidence {
        pods: vec![fixture("exit-0"), fixture("exit-42")],
        ..Evidence::default()
    };
    let failed = evaluate(&kind, &one_failed).unwrap();
    assert_eq!(failed.message, "expected pods succeeded 2, observed 1");
}

#[test]
fn process_group_kill_is_judged_from_the_processes_left_on_the_node() {
    let killed = fixture("graceful-shutdown-faulty-sigterm");
    let passed =
        crate::probes::kinds::process_group_kill::judge_leftovers(Some(&killed), &[]).unwrap();
    assert_eq!(passed.verdict, Verdict::Passed, "{passed:?}");
    let left = ["4242 sleep 300 proctor-marker-x".to_owned()];
    let failed =
        crate::probes::kinds::process_group_kill::judge_leftovers(Some(&killed), &left).unwrap();
    assert_eq!(failed.verdict, Verdict::Failed);
    assert!(failed.message.contains("4242 sleep 300"), "{failed:?}");
    assert_eq!(failed.checks[0].observed, "1");
    // Nothing left yet the container still runs: no verdict yet.
    let running = fixture("running");
    assert!(
        crate::probes::kinds::process_group_kill::judge_leftovers(Some(&running), &[]).is_none()
    );
    // A process left behind fails the probe even while the container has not ended.
    assert_eq!(
        crate::probes::kinds::process_group_kill::judge_leftovers(Some(&running), &left)
            .unwrap()
            .verdict,
        Verdict::Failed
    );
}

#[test]
fn an_exec_verdict_that_did_not_pass_shows_the_exec_output() {
    let failed = Outcome {
        verdict: Verdict::Failed,
        reason: "ExitCodeMismatch".into(),
        message: "expected exit code 3, observed 0".into(),
        checks: Vec::new(),
    };
    let shown = with_exec_output(failed.clone(), "  sh: oops\n");
    assert_eq!(
        shown.message,
        "expected exit code 3, observed 0 (exec output: sh: oops)"
    );
    assert_eq!(
        with_exec_output(failed.clone(), " \n").message,
        failed.message
    );
    let passed = Outcome::from_checks(Vec::new(), "fine".into());
    assert_eq!(with_exec_output(passed, "noise").message, "fine");
    assert!(with_exec_output(failed, &"x".repeat(10_000)).message.len() <= 520);
}

/// The security-context kinds judge the real output of their pods on the test cluster (under
/// runc and under the two fault classes that break them, captured in tests/fixtures/logs):
/// each passes under runc and fails, with the reason of its own check, exactly under the class
/// that breaks it.
#[test]
fn security_kinds_judge_real_output_under_runc_and_their_faults() {
    let sample: serde_yaml::Value =
        serde_yaml::from_str(include_str!("../../examples/conformance.yaml")).unwrap();
    let probes: Vec<crate::api::Probe> =
        serde_yaml::from_value(sample["spec"]["probes"].clone()).unwrap();
    let cases = [
        ("run-as-identity", "insecure", "UidsMismatch"),
        ("capabilities", "insecure", "BoundingSetMismatch"),
        ("no-new-privileges", "insecure", "NoNewPrivsMismatch"),
        ("seccomp-default", "insecure", "SeccompModeMismatch"),
        (
            "read-only-root-filesystem",
            "unconfined",
            "RootMountMismatch",
        ),
        ("masked-paths", "unconfined", "MaskedPathsMismatch"),
        ("host-devices", "unconfined", "DevicesMismatch"),
        ("sysctls", "unconfined", "SysctlMismatch"),
        ("fs-group", "unconfined", "VolumeGroupMismatch"),
    ];
    for (name, breaking, reason) in cases {
        let probe = probes.iter().find(|p| p.name == name).unwrap();
        let kind = ProbeKind::of(probe).unwrap();
        for class in ["runc", "insecure", "unconfined"] {
            let path = format!(
                "{}/tests/fixtures/logs/{name}-{class}.txt",
                env!("CARGO_MANIFEST_DIR")
            );
            let log = std::fs::read(&path).unwrap();
            let outcome = judge(kind.clone(), "exit-0", Some(&log));
            if class == breaking {
                assert_eq!(
                    (outcome.verdict, outcome.reason.as_str()),
                    (Verdict::Failed, reason),
                    "{name} under {class}: {outcome:?}"
                );
            } else {
                assert_eq!(
                    outcome.verdict,
                    Verdict::Passed,
                    "{name} under {class}: {outcome:?}"
                );
            }
        }
    }
}
