//! Unit tests of [`super`]: the next step of a probe from its status and observed pods.
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::*;
use crate::api::TerminationTimeline;

fn observed(fixture: &str) -> PodObservation {
    let text = match fixture {
        "running" => include_str!("../../tests/fixtures/pods/running.json"),
        "exit-42" => include_str!("../../tests/fixtures/pods/exit-42.json"),
        "image-pull-error" => include_str!("../../tests/fixtures/pods/image-pull-error.json"),
        "graceful-shutdown-runc" => {
            include_str!("../../tests/fixtures/pods/graceful-shutdown-runc.json")
        }
        other => panic!("no fixture {other}"),
    };
    PodObservation::of(&serde_json::from_str::<Pod>(text).unwrap())
}

fn probe(kind: ProbeKind) -> ResolvedProbe {
    ResolvedProbe {
        name: "p".into(),
        kind,
        image: "i".into(),
        runtime_class_name: None,
        timeout_seconds: 60,
        repeat: 1,
    }
}

fn t(second: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + second).unwrap()
}

fn running_status() -> ProbeStatus {
    ProbeStatus {
        phase: ProbePhase::Running,
        started_at: Some(Time(t(0))),
        pods: vec!["pod".into()],
        attempts: 1,
        ..ProbeStatus::default()
    }
}

fn step(
    kind: ProbeKind,
    status: &ProbeStatus,
    pod: Option<&str>,
    now: i64,
    privileged: bool,
) -> Step {
    let probe = probe(kind);
    let view = ProbeView {
        probe: &probe,
        status,
        pods: vec![("pod".into(), pod.map(observed))],
        allow_privileged: privileged,
        privilege_withheld: false,
        now: t(now),
    };
    next(&view)
}

#[test]
fn a_privilege_the_run_asks_for_but_the_controller_withholds_is_a_skip_that_says_so() {
    let probe = probe(ProbeKind::ProcessGroupKill { children: 2 });
    let status = ProbeStatus::default();
    let view = ProbeView {
        probe: &probe,
        status: &status,
        pods: Vec::new(),
        allow_privileged: false,
        privilege_withheld: true,
        now: t(0),
    };
    let Step::Finish(outcome) = next(&view) else {
        panic!("not skipped");
    };
    assert_eq!(outcome.verdict, Verdict::Skipped);
    assert_eq!(outcome.reason, "PrivilegedNotGranted");
    assert!(
        outcome.message.contains("--privileged-namespaces"),
        "{}",
        outcome.message
    );
}

#[test]
fn a_pending_probe_starts_unless_it_needs_privileges_it_was_not_given() {
    let pending = ProbeStatus::default();
    assert_eq!(
        step(ProbeKind::ExitCode { code: 1 }, &pending, None, 0, false),
        Step::Start
    );
    let Step::Finish(outcome) = step(
        ProbeKind::ProcessGroupKill { children: 2 },
        &pending,
        None,
        0,
        false,
    ) else {
        panic!("expected Skipped");
    };
    assert_eq!(
        (outcome.verdict, outcome.reason.as_str()),
        (Verdict::Skipped, "PrivilegedNotAllowed")
    );
    assert_eq!(
        step(
            ProbeKind::ProcessGroupKill { children: 2 },
            &pending,
            None,
            0,
            true
        ),
        Step::Start
    );
}

#[test]
fn finished_pods_are_judged_and_running_ones_waited_for() {
    let s = running_status();
    assert_eq!(
        step(
            ProbeKind::ExitCode { code: 42 },
            &s,
            Some("exit-42"),
            5,
            false
        ),
        Step::Judge { read_log: false }
    );
    assert_eq!(
        step(
            ProbeKind::Env {
                name: "X".into(),
                value: "v".into()
            },
            &s,
            Some("exit-42"),
            5,
            false
        ),
        Step::Judge { read_log: true }
    );
    assert_eq!(
        step(
            ProbeKind::ExitCode { code: 42 },
            &s,
            Some("running"),
            5,
            false
        ),
        Step::Wait
    );
}

#[test]
fn a_pod_that_cannot_start_is_an_error_at_once() {
    let Step::Finish(outcome) = step(
        ProbeKind::ExitCode { code: 1 },
        &running_status(),
        Some("image-pull-error"),
        2,
        false,
    ) else {
        panic!("expected Finish");
    };
    assert_eq!(
        (outcome.verdict, outcome.reason.as_str()),
        (Verdict::Error, "PodCannotStart")
    );
}

#[test]
fn a_missing_pod_is_waited_for_briefly_then_an_error() {
    let s = running_status();
    assert_eq!(
        step(ProbeKind::ExitCode { code: 1 }, &s, None, 2, false),
        Step::Wait
    );
    let Step::Finish(outcome) = step(ProbeKind::ExitCode { code: 1 }, &s, None, 30, false) else {
        panic!()
    };
    assert_eq!(outcome.reason, "PodDisappeared");
    // Churn pods that are gone were deleted by Proctor: success.
    let Step::Finish(churn) = step(
        ProbeKind::RapidCreateDelete { pods: 1 },
        &s,
        None,
        30,
        false,
    ) else {
        panic!()
    };
    assert_eq!(churn.verdict, Verdict::Passed);
}

#[test]
fn running_out_of_time_fails_the_probes_about_ending_in_time_and_errors_the_others() {
    let s = running_status();
    let Step::Finish(stuck) = step(ProbeKind::CommandNotFound, &s, Some("running"), 61, false)
    else {
        panic!()
    };
    assert_eq!(
        (stuck.verdict, stuck.reason.as_str()),
        (Verdict::Failed, "StuckNotFailed")
    );
    let Step::Finish(deadline) = step(
        ProbeKind::DeadlineExceeded { seconds: 5 },
        &s,
        Some("running"),
        61,
        false,
    ) else {
        panic!()
    };
    assert_eq!(deadline.reason, "DeadlineNotEnforced");
    let Step::Finish(other) = step(
        ProbeKind::ExitCode { code: 1 },
        &s,
        Some("running"),
        61,
        false,
    ) else {
        panic!()
    };
    assert_eq!(
        (other.verdict, other.reason.as_str()),
        (Verdict::Error, "Timeout")
    );
    assert!(other.message.contains("pod: running"), "{}", other.message);
}

#[test]
fn graceful_shutdown_deletes_a_running_pod_then_judges_its_end() {
    let s = running_status();
    let kind = ProbeKind::GracefulShutdown {
        grace_period_seconds: 10,
    };
    assert_eq!(
        step(kind.clone(), &s, Some("running"), 3, false),
        Step::DeleteWhenReady {
            grace_period_seconds: 10
        }
    );
    let deleted = ProbeStatus {
        termination: Some(TerminationTimeline {
            delete_requested_at: Some(Time(t(4))),
            ..TerminationTimeline::default()
        }),
        ..running_status()
    };
    assert_eq!(
        step(kind.clone(), &deleted, Some("running"), 5, false),
        Step::Wait
    );
    assert_eq!(
        step(kind, &deleted, Some("graceful-shutdown-runc"), 6, false),
        Step::Judge { read_log: false }
    );
}

#[test]
fn exec_probes_exec_into_a_running_pod() {
    let s = running_status();
    let Step::Exec { command } = step(
        ProbeKind::ExecExitCode { code: 7 },
        &s,
        Some("running"),
        2,
        false,
    ) else {
        panic!()
    };
    assert_eq!(command.last().map(String::as_str), Some("7"));
    assert_eq!(
        step(ProbeKind::ExecMissingBinary, &s, Some("running"), 2, false),
        Step::Exec {
            command: vec![crate::probes::MISSING_BINARY.to_owned()]
        }
    );
}

#[test]
fn custom_actions_run_in_order_before_the_judgement() {
    let custom: crate::api::CustomProbe = serde_yaml::from_str(
        "command: [sleep, '60']\nactions: [{exec: {command: ['true']}}, {delete: {gracePeriodSeconds: 1}}]\nexpect: {exitCode: 0}",
    )
    .unwrap();
    let kind = ProbeKind::Custom(Box::new(custom));
    let mut s = running_status();
    assert_eq!(
        step(kind.clone(), &s, Some("running"), 1, false),
        Step::CustomAction { index: 0 }
    );
    s.actions_done = 1;
    assert_eq!(
        step(kind.clone(), &s, Some("running"), 1, false),
        Step::CustomAction { index: 1 }
    );
    s.actions_done = 2;
    assert_eq!(
        step(kind.clone(), &s, Some("running"), 1, false),
        Step::Wait
    );
    assert_eq!(
        step(kind, &s, Some("exit-42"), 2, false),
        Step::Judge { read_log: false }
    );
}

#[test]
fn a_repeated_probe_runs_again_after_a_pass_and_stops_at_the_first_failure() {
    let mut p = probe(ProbeKind::ExitCode { code: 1 });
    p.repeat = 3;
    let passed = Outcome {
        verdict: Verdict::Passed,
        reason: "AsExpected".into(),
        message: "ok".into(),
        checks: vec![],
    };
    let s = running_status();
    assert_eq!(after_attempt(&p, &s, passed.clone()), Step::NextAttempt);
    let last = ProbeStatus {
        attempts: 3,
        ..running_status()
    };
    assert_eq!(
        after_attempt(&p, &last, passed.clone()),
        Step::Finish(passed)
    );
    let failed = Outcome {
        verdict: Verdict::Failed,
        reason: "X".into(),
        message: "expected a, observed b".into(),
        checks: vec![],
    };
    let Step::Finish(outcome) = after_attempt(&p, &s, failed) else {
        panic!()
    };
    assert_eq!(outcome.message, "attempt 1 of 3: expected a, observed b");
}

fn churn_view<'a>(
    probe: &'a ResolvedProbe,
    status: &'a ProbeStatus,
    pods: Vec<Option<PodObservation>>,
    now: i64,
    privileged: bool,
) -> ProbeView<'a> {
    ProbeView {
        probe,
        status,
        pods: pods
            .into_iter()
            .enumerate()
            .map(|(i, p)| (format!("pod-{i}"), p))
            .collect(),
        allow_privileged: privileged,
        privilege_withheld: false,
        now: t(now),
    }
}

fn started(at: i64, deleting: bool) -> Option<PodObservation> {
    let mut pod = observed("running");
    pod.container = ContainerState::Running {
        started_at: Some(t(at)),
    };
    pod.deletion_requested = deleting;
    Some(pod)
}

#[test]
fn churn_deletes_half_its_pods_in_setup_and_the_rest_once_they_ran() {
    let probe = probe(ProbeKind::RapidCreateDelete { pods: 4 });
    let fresh = running_status();
    let all_up = vec![started(2, false); 4];
    assert_eq!(
        next(&churn_view(&probe, &fresh, all_up, 2, false)),
        Step::Delete {
            pods: vec!["pod-0".into(), "pod-2".into()]
        }
    );
    let deleting = ProbeStatus {
        termination: Some(TerminationTimeline {
            delete_requested_at: Some(Time(t(2))),
            ..TerminationTimeline::default()
        }),
        ..running_status()
    };
    // The first half is being deleted (or already gone); the second waits for a second of run.
    let half = vec![started(2, true), started(2, false), None, started(2, false)];
    assert_eq!(
        next(&churn_view(&probe, &deleting, half.clone(), 2, false)),
        Step::Wait
    );
    assert_eq!(
        next(&churn_view(&probe, &deleting, half, 3, false)),
        Step::Delete {
            pods: vec!["pod-1".into(), "pod-3".into()]
        }
    );
    // A pod of the second half that ended on its own is deleted too.
    let ended = vec![None, Some(observed("exit-42")), None, None];
    assert_eq!(
        next(&churn_view(&probe, &deleting, ended, 2, false)),
        Step::Delete {
            pods: vec!["pod-1".into()]
        }
    );
}

#[test]
fn churn_passes_when_every_pod_is_gone_and_inspects_the_node_when_allowed() {
    let probe = probe(ProbeKind::RapidCreateDelete { pods: 2 });
    let deleting = ProbeStatus {
        termination: Some(TerminationTimeline {
            delete_requested_at: Some(Time(t(2))),
            ..TerminationTimeline::default()
        }),
        ..running_status()
    };
    assert_eq!(
        next(&churn_view(&probe, &deleting, vec![None, None], 6, true)),
        Step::Inspect
    );
    let Step::Finish(outcome) = next(&churn_view(&probe, &deleting, vec![None, None], 6, false))
    else {
        panic!()
    };
    assert_eq!(outcome.verdict, Verdict::Passed);
    assert!(outcome.message.contains("within 4s"), "{}", outcome.message);
    assert!(
        outcome.message.contains("not inspected"),
        "{}",
        outcome.message
    );

    let clean = rapid_create_delete::outcome(2, 4, Some(&[]));
    assert_eq!(clean.verdict, Verdict::Passed);
    assert_eq!(clean.checks[1].name, "leftoverProcesses");
    let leaked =
        rapid_create_delete::outcome(2, 4, Some(&["123 sh -c x proctor-marker-pod-1".into()]));
    assert_eq!(
        (leaked.verdict, leaked.reason.as_str()),
        (Verdict::Failed, "LeftoverProcessesMismatch")
    );
    assert!(
        leaked.message.contains("observed 1: 123 sh"),
        "{}",
        leaked.message
    );
}

#[test]
fn churn_pods_still_present_at_the_timeout_are_stuck() {
    let probe = probe(ProbeKind::RapidCreateDelete { pods: 2 });
    let deleting = ProbeStatus {
        termination: Some(TerminationTimeline {
            delete_requested_at: Some(Time(t(2))),
            ..TerminationTimeline::default()
        }),
        ..running_status()
    };
    let Step::Finish(stuck) = next(&churn_view(
        &probe,
        &deleting,
        vec![None, started(2, true)],
        61,
        false,
    )) else {
        panic!()
    };
    assert_eq!(
        (stuck.verdict, stuck.reason.as_str()),
        (Verdict::Failed, "PodsStuck")
    );
    assert!(
        stuck.message.contains("1 still present"),
        "{}",
        stuck.message
    );
    // Gone, but the inspector never answered: the probe could not be carried out.
    let Step::Finish(unseen) = next(&churn_view(&probe, &deleting, vec![None, None], 61, true))
    else {
        panic!()
    };
    assert_eq!(unseen.verdict, Verdict::Error);
}

#[test]
fn a_repeated_probe_waiting_between_attempts_asks_for_the_next_one() {
    let probe = probe(ProbeKind::ExitCode { code: 1 });
    let between = ProbeStatus {
        pods: Vec::new(),
        ..running_status()
    };
    let view = ProbeView {
        probe: &probe,
        status: &between,
        pods: Vec::new(),
        allow_privileged: false,
        privilege_withheld: false,
        now: t(5),
    };
    assert_eq!(next(&view), Step::NextAttempt);
}

#[test]
fn an_inspection_is_judged_from_the_listing_and_the_inspectors_own_failure() {
    let ok = crate::verdict::ExecObservation {
        exit_code: Some(0),
        error: None,
    };
    let mut status = running_status();
    status.termination = Some(TerminationTimeline {
        delete_requested_at: Some(Time(t(10))),
        ..TerminationTimeline::default()
    });
    let churn = probe(ProbeKind::RapidCreateDelete { pods: 4 });
    let passed = judge_inspection(&churn, &status, &[], t(13), &ok, "\n", "").unwrap();
    assert_eq!(passed.verdict, Verdict::Passed, "{passed:?}");
    assert!(passed.message.contains("gone within 3s"), "{passed:?}");
    let left = judge_inspection(&churn, &status, &[], t(13), &ok, "77 sleep 9\n", "").unwrap();
    assert_eq!(left.verdict, Verdict::Failed, "{left:?}");
    assert!(left.message.contains("77 sleep 9"), "{left:?}");

    let kill = probe(ProbeKind::ProcessGroupKill { children: 2 });
    let ended = [observed("graceful-shutdown-runc")];
    let judged = judge_inspection(&kill, &status, &ended, t(13), &ok, "", "").unwrap();
    assert_eq!(judged.verdict, Verdict::Passed, "{judged:?}");
    let still = [observed("running")];
    assert!(judge_inspection(&kill, &status, &still, t(13), &ok, "", "").is_none());

    let broken = crate::verdict::ExecObservation {
        exit_code: Some(1),
        error: None,
    };
    let failed =
        judge_inspection(&kill, &status, &ended, t(13), &broken, "", "ps: no /proc").unwrap();
    assert_eq!(failed.verdict, Verdict::Error);
    assert_eq!(failed.reason, "InspectorFailed");
    assert!(failed.message.contains("ps: no /proc"), "{failed:?}");
}

#[test]
fn the_nodes_of_an_attempt_are_kept_in_order_once_each_and_bounded() {
    let on = |node: Option<&str>| {
        let mut pod = observed("running");
        pod.node = node.map(str::to_owned);
        ("p".to_owned(), Some(pod))
    };
    let pods = vec![
        on(Some("b")),
        on(None),
        on(Some("a")),
        ("gone".into(), None),
    ];
    assert_eq!(nodes_of(&["b".into()], &pods), vec!["b", "a"]);
    // A node once recorded stays, however many others come.
    let mut recorded: Vec<String> = (0..MAX_NODES).map(|i| format!("m{i:02}")).collect();
    recorded[0] = "z".into();
    assert_eq!(nodes_of(&recorded, &pods), recorded);
    let many: Vec<_> = (0..40).map(|i| on(Some(&format!("n{i:02}")))).collect();
    assert_eq!(nodes_of(&[], &many).len(), MAX_NODES);
}
