//! Pure: what to do next for one probe, from its recorded status, its observed pods and the
//! time. Each probe is a small state machine:
//!
//! ```text
//! Pending ──start──▶ Running ──(kind-specific steps)──▶ Finished(verdict)
//! ```
//!
//! Running steps are decided from observations only (pods in the cache, the status recorded so
//! far), so a restarted controller picks up exactly where the last one was: the status says
//! which attempt runs and whether a delete was already requested, the pods say the rest.

use k8s_openapi::jiff::Timestamp;

use crate::api::{ProbePhase, ProbeStatus, Verdict};
use crate::probes::kinds::{process_group_kill, rapid_create_delete};
use crate::probes::{ProbeKind, ResolvedProbe};
use crate::verdict::{ContainerState, Outcome, PodObservation};

/// How long a pod that was created may be missing from the cache before it counts as deleted
/// by someone else (the watch normally delivers it within milliseconds).
pub const MISSING_POD_GRACE_SECONDS: i64 = 15;

/// The next thing to do for a probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Finished already: nothing to do.
    Done,
    /// Not started: start it when the run's parallelism allows.
    Start,
    /// Wait for the pods to move on.
    Wait,
    /// Create the pods of the next attempt (after a passed attempt of a repeated probe).
    NextAttempt,
    /// Judge the finished pods; read the first pod's log first when `read_log`.
    Judge { read_log: bool },
    /// Exec this command in the running container, then judge.
    Exec { command: Vec<String> },
    /// Read the running container's log; once it shows the ready marker, delete the pod with
    /// this grace period.
    DeleteWhenReady { grace_period_seconds: i64 },
    /// Delete these pods of the attempt now, without waiting (churn).
    Delete { pods: Vec<String> },
    /// Carry out action `index` of a custom probe (exec or delete) on its running pod.
    CustomAction { index: usize },
    /// Look for the probe's marker in the node's process table (from the inspector pod), then
    /// judge: the process-group-kill probe after its pod was killed, the churn probe after its
    /// pods are gone (when the run allows the inspector).
    Inspect,
    /// Finish with this outcome.
    Finish(Outcome),
}

/// What `next` needs to know about one probe.
#[derive(Clone, Debug)]
pub struct ProbeView<'a> {
    pub probe: &'a ResolvedProbe,
    pub status: &'a ProbeStatus,
    /// Pods of the current attempt, as observed; `None` for those not in the cache.
    pub pods: Vec<(String, Option<PodObservation>)>,
    /// Whether the probe may use a privileged look at the node: the run asks for it and the
    /// controller grants it in the run's namespace.
    pub allow_privileged: bool,
    /// The run asks for privilege (`spec.allowPrivileged`) and the controller does not grant it
    /// in the run's namespace (its `--privileged-namespaces`).
    pub privilege_withheld: bool,
    pub now: Timestamp,
}

impl ProbeView<'_> {
    fn started_at(&self) -> Option<Timestamp> {
        self.status.started_at.as_ref().map(|t| t.0)
    }

    fn deadline(&self) -> Option<Timestamp> {
        deadline(self.probe, self.status)
    }

    /// Whether Proctor asked for the probe's pod to be deleted: recorded in the status, or —
    /// when the controller stopped between the delete and the status write — visible on the pod.
    pub fn deletion_requested(&self) -> bool {
        let recorded = self.status.delete_requested_at().is_some();
        recorded
            || self
                .pods
                .iter()
                .any(|(_, p)| p.as_ref().is_some_and(|p| p.deletion_requested))
    }
}

/// Kinds that need a privileged look at the node, and so the run's `allowPrivileged`.
pub fn needs_privilege(kind: &ProbeKind) -> bool {
    matches!(kind, ProbeKind::ProcessGroupKill { .. })
}

/// Kinds that look at the node through the inspector pod: those that need it, and the churn
/// probe's leftover check when the run allows it.
pub fn uses_inspector(kind: &ProbeKind, allow_privileged: bool) -> bool {
    allow_privileged
        && (needs_privilege(kind) || matches!(kind, ProbeKind::RapidCreateDelete { .. }))
}

/// When a running probe runs out of time: its start plus its timeout for every attempt.
pub fn deadline(probe: &ResolvedProbe, status: &ProbeStatus) -> Option<Timestamp> {
    let seconds = i64::from(probe.timeout_seconds) * i64::from(probe.repeat);
    let started = status.started_at.as_ref()?.0;
    started
        .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(seconds))
        .ok()
}

pub fn next(view: &ProbeView) -> Step {
    let kind = &view.probe.kind;
    match view.status.phase {
        ProbePhase::Finished => return Step::Done,
        ProbePhase::Pending if needs_privilege(kind) && !view.allow_privileged => {
            let (reason, why) = if view.privilege_withheld {
                (
                    "PrivilegedNotGranted",
                    "the run asks for it, but the controller grants it only in the namespaces its operator lists (--privileged-namespaces), and this run's is not one of them",
                )
            } else {
                (
                    "PrivilegedNotAllowed",
                    "set spec.allowPrivileged: true to run it (in a namespace the controller grants it)",
                )
            };
            return Step::Finish(Outcome {
                verdict: Verdict::Skipped,
                reason: reason.into(),
                message: format!("{} needs a hostPID inspector pod; {why}", kind.name()),
                checks: Vec::new(),
            });
        }
        ProbePhase::Pending => return Step::Start,
        ProbePhase::Running => {}
    }

    if let Some(deadline) = view.deadline()
        && view.now >= deadline
    {
        // What the probe's actions showed before it ran out of time stays in the verdict.
        return Step::Finish(crate::verdict::with_action_checks(
            &view.status.checks,
            timed_out(view),
        ));
    }

    // Between two attempts of a repeated probe (the last one judged, waiting for room under the
    // global pod cap): create the next one.
    if view.pods.is_empty() && view.status.attempts > 0 {
        return Step::NextAttempt;
    }

    let churn = matches!(kind, ProbeKind::RapidCreateDelete { .. });
    let mut observed = Vec::new();
    for (name, pod) in &view.pods {
        match pod {
            Some(pod) => observed.push(pod),
            // Churn pods are only ever deleted by Proctor: one that is gone after the delete (or,
            // when a controller stopped before it could record its delete, long after the start)
            // was deleted. Right after the start it is merely not in the cache yet.
            None if churn
                && (view.deletion_requested()
                    || since_start(view) >= MISSING_POD_GRACE_SECONDS) => {}
            None => {
                if since_start(view) < MISSING_POD_GRACE_SECONDS {
                    return Step::Wait;
                }
                return Step::Finish(Outcome::error(
                    "PodDisappeared",
                    format!("pod {name} was deleted before the probe could observe it"),
                ));
            }
        }
    }
    if let Some((reason, message)) = observed.iter().find_map(|p| p.blocked()) {
        return Step::Finish(Outcome::error(
            "PodCannotStart",
            format!(
                "a probe pod cannot start: {reason}: {}",
                crate::verdict::bounded(&message, 300)
            ),
        ));
    }

    let Some(first) = observed.first() else {
        // Every pod of a churn probe is gone after the delete: that is the success, once the
        // node shows nothing left behind (when the run lets Proctor look).
        return match kind {
            ProbeKind::RapidCreateDelete { .. } if view.allow_privileged => Step::Inspect,
            ProbeKind::RapidCreateDelete { pods } => Step::Finish(rapid_create_delete::outcome(
                *pods,
                seconds_since_delete(view),
                None,
            )),
            _ => Step::Wait,
        };
    };
    let at = At {
        view,
        first,
        observed: &observed,
        running: matches!(first.container, ContainerState::Running { .. }),
        finished: first.is_finished(),
    };
    kind.step(&at)
}

/// A running probe whose first pod is observed, as its kind's step sees it
/// ([`ProbeKind::step`]).
pub struct At<'a> {
    pub view: &'a ProbeView<'a>,
    /// The attempt's first pod.
    pub first: &'a PodObservation,
    /// Every pod of the attempt that the cache shows.
    pub observed: &'a [&'a PodObservation],
    /// Whether the first pod's container runs.
    pub running: bool,
    /// Whether the first pod finished.
    pub finished: bool,
}

/// After a judged attempt: the next attempt while every attempt so far passed and repetitions
/// remain, else the final outcome (the first failing attempt's, or the last passing one's).
pub fn after_attempt(probe: &ResolvedProbe, status: &ProbeStatus, outcome: Outcome) -> Step {
    if outcome.verdict == Verdict::Passed && status.attempts < probe.repeat {
        return Step::NextAttempt;
    }
    if probe.repeat > 1 && outcome.verdict != Verdict::Passed {
        let mut outcome = outcome;
        outcome.message = format!(
            "attempt {} of {}: {}",
            status.attempts, probe.repeat, outcome.message
        );
        return Step::Finish(outcome);
    }
    Step::Finish(outcome)
}

/// Most nodes recorded for one attempt.
pub const MAX_NODES: usize = 16;

/// The nodes an attempt's pods were seen on: those recorded so far and those of `pods`, sorted,
/// at most [`MAX_NODES`].
pub fn nodes_of(recorded: &[String], pods: &[(String, Option<PodObservation>)]) -> Vec<String> {
    let mut nodes: Vec<String> = recorded
        .iter()
        .cloned()
        .chain(pods.iter().filter_map(|(_, p)| p.as_ref()?.node.clone()))
        .collect();
    nodes.sort();
    nodes.dedup();
    nodes.truncate(MAX_NODES);
    nodes
}

/// For kinds that delete their pod: the measured shutdown, from the terminated container.
pub fn record_timeline(ps: &mut ProbeStatus, evidence: &crate::verdict::Evidence) {
    let Some(timeline) = ps.termination.as_mut() else {
        return;
    };
    let Some(t) = evidence.pods.first().and_then(|p| p.terminated()) else {
        return;
    };
    timeline.terminated_at = t
        .finished_at
        .map(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time);
    timeline.exit_code = Some(t.exit_code);
    timeline.ended_by = Some(match t.exit_code {
        137 => "SIGKILL".into(),
        _ => "SIGTERM".into(),
    });
    if let (Some(deleted), Some(finished)) = (&timeline.delete_requested_at, t.finished_at) {
        timeline.grace_used_millis = Some(finished.as_millisecond() - deleted.0.as_millisecond());
    }
}

/// Seconds since the current attempt's pods were created (the probe's start for its first).
fn since_start(view: &ProbeView) -> i64 {
    view.status
        .attempt_started_at
        .as_ref()
        .map(|t| t.0)
        .or_else(|| view.started_at())
        .map(|s| view.now.as_second() - s.as_second())
        .unwrap_or_default()
}

/// Seconds from the first delete request to `view.now`.
pub fn seconds_since_delete(view: &ProbeView) -> i64 {
    seconds_since(view.status, view.now)
}

fn seconds_since(status: &ProbeStatus, now: Timestamp) -> i64 {
    status
        .delete_requested_at()
        .map(|d| now.as_second() - d.as_second())
        .unwrap_or_default()
}

/// The verdict from the inspector's listing of the node's processes that still carry the
/// marker of the probe's pods (`stdout`, one per line): the churn's, timed from its first delete
/// request to `now`; the process-group kill's, from its pod (`None`: look again).
pub fn judge_inspection(
    probe: &ResolvedProbe,
    status: &ProbeStatus,
    pods: &[PodObservation],
    now: Timestamp,
    exec: &crate::verdict::ExecObservation,
    stdout: &str,
    stderr: &str,
) -> Option<Outcome> {
    if exec.exit_code != Some(0) {
        return Some(Outcome::error(
            "InspectorFailed",
            format!(
                "the inspector could not list the node's processes: {}",
                exec.error.as_deref().unwrap_or(stderr)
            ),
        ));
    }
    let leftovers: Vec<String> = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    match probe.kind {
        ProbeKind::RapidCreateDelete { pods } => Some(rapid_create_delete::outcome(
            pods,
            seconds_since(status, now),
            Some(&leftovers),
        )),
        _ => process_group_kill::judge_leftovers(pods.first(), &leftovers),
    }
}

/// The outcome when the probe's time ran out. For kinds whose very check is that something
/// ends in time, running out of time is the runtime's failure; for the others it means the
/// behaviour could not be observed.
fn timed_out(view: &ProbeView) -> Outcome {
    let seconds = i64::from(view.probe.timeout_seconds) * i64::from(view.probe.repeat);
    let states: Vec<String> = view
        .pods
        .iter()
        .map(|(name, pod)| match pod {
            None => format!("{name}: gone"),
            Some(p) => format!("{name}: {}", describe(p)),
        })
        .collect();
    let shown = crate::verdict::bounded(&states.join("; "), 300);
    let remaining = view.pods.iter().filter(|(_, p)| p.is_some()).count();
    let fail = |reason: &str, expected: &str, observed: String| Outcome {
        verdict: Verdict::Failed,
        reason: reason.into(),
        message: format!("expected {expected} within {seconds}s, observed {observed}"),
        checks: vec![crate::api::Check {
            name: "endedInTime".into(),
            expected: format!("{expected} within {seconds}s"),
            observed: crate::verdict::bounded(&observed, 256),
            passed: false,
        }],
    };
    match &view.probe.kind {
        ProbeKind::CommandNotFound => fail("StuckNotFailed", "the pod to fail", shown),
        ProbeKind::DeadlineExceeded { .. } => fail("DeadlineNotEnforced", "the pod to fail", shown),
        ProbeKind::RapidCreateDelete { .. } if remaining > 0 => fail(
            "PodsStuck",
            "every pod gone",
            format!("{remaining} still present ({shown})"),
        ),
        ProbeKind::GracefulShutdown { .. } | ProbeKind::ProcessGroupKill { .. }
            if view.deletion_requested() =>
        {
            fail("StuckTerminating", "the deleted pod to terminate", shown)
        }
        _ => Outcome::error(
            "Timeout",
            format!("no verdict within {seconds}s; pods: {shown}"),
        ),
    }
}

fn describe(pod: &PodObservation) -> String {
    match &pod.container {
        ContainerState::Waiting { reason, .. } => {
            format!(
                "waiting ({})",
                reason.as_deref().unwrap_or("no container status")
            )
        }
        ContainerState::Running { .. } if pod.deletion_requested => {
            "running, deletion requested".into()
        }
        ContainerState::Running { .. } => "running".into(),
        ContainerState::Terminated(t) => format!("terminated, exit code {}", t.exit_code),
    }
}

#[cfg(test)]
mod tests {
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
        let Step::Finish(outcome) = step(ProbeKind::ExitCode { code: 1 }, &s, None, 30, false)
        else {
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
        let Step::Finish(outcome) =
            next(&churn_view(&probe, &deleting, vec![None, None], 6, false))
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
    fn the_nodes_of_an_attempt_are_kept_sorted_once_each_and_bounded() {
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
        assert_eq!(nodes_of(&["b".into()], &pods), vec!["a", "b"]);
        let many: Vec<_> = (0..40).map(|i| on(Some(&format!("n{i:02}")))).collect();
        assert_eq!(nodes_of(&[], &many).len(), MAX_NODES);
    }
}
