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
use crate::probes::{ProbeKind, ResolvedProbe};
use crate::verdict::{ContainerState, Outcome, PodObservation};

/// How long a pod that was created may be missing from the cache before it counts as deleted
/// by someone else (the watch normally delivers it within milliseconds).
pub const MISSING_POD_GRACE_SECONDS: i64 = 15;
/// Grace period of the process-group-kill probe's delete: its shell handles no signal, so the
/// kill comes after this.
pub const PROCESS_GROUP_KILL_GRACE_SECONDS: i64 = 2;

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
    /// Delete every pod of the attempt now, without waiting (churn).
    DeleteAll,
    /// Look for the probe's marker in the node's process table (from the inspector pod), then
    /// judge: the process-group-kill probe after its pod was killed.
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
    pub allow_privileged: bool,
    pub now: Timestamp,
}

impl ProbeView<'_> {
    fn started_at(&self) -> Option<Timestamp> {
        self.status.started_at.as_ref().map(|t| t.0)
    }

    fn deadline(&self) -> Option<Timestamp> {
        let seconds = i64::from(self.probe.timeout_seconds) * i64::from(self.probe.repeat);
        self.started_at().and_then(|s| {
            s.checked_add(k8s_openapi::jiff::SignedDuration::from_secs(seconds))
                .ok()
        })
    }

    /// Whether Proctor asked for the probe's pod to be deleted: recorded in the status, or —
    /// when the controller stopped between the delete and the status write — visible on the pod.
    fn deletion_requested(&self) -> bool {
        let recorded = self
            .status
            .termination
            .as_ref()
            .is_some_and(|t| t.delete_requested_at.is_some());
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

/// Kinds whose verdict reads the container's log.
pub fn needs_log(kind: &ProbeKind) -> bool {
    match kind {
        ProbeKind::Env { .. }
        | ProbeKind::Stderr { .. }
        | ProbeKind::LargeOutput { .. }
        | ProbeKind::WorkingDir { .. }
        | ProbeKind::ReadOnlyVolume
        | ProbeKind::UnicodeOutput { .. } => true,
        ProbeKind::Custom(c) => c.expect.log_equals.is_some() || c.expect.log_contains.is_some(),
        _ => false,
    }
}

pub fn next(view: &ProbeView) -> Step {
    let kind = &view.probe.kind;
    match view.status.phase {
        ProbePhase::Finished => return Step::Done,
        ProbePhase::Pending if needs_privilege(kind) && !view.allow_privileged => {
            return Step::Finish(Outcome {
                verdict: Verdict::Skipped,
                reason: "PrivilegedNotAllowed".into(),
                message: format!(
                    "{} needs a hostPID inspector pod; set spec.allowPrivileged: true to run it",
                    kind.name()
                ),
                checks: Vec::new(),
            });
        }
        ProbePhase::Pending => return Step::Start,
        ProbePhase::Running => {}
    }

    if let Some(deadline) = view.deadline()
        && view.now >= deadline
    {
        return Step::Finish(timed_out(view));
    }

    let churn = matches!(kind, ProbeKind::RapidCreateDelete { .. });
    let mut observed = Vec::new();
    for (name, pod) in &view.pods {
        match pod {
            Some(pod) => observed.push(pod),
            // Churn pods are only ever deleted by Proctor: one that is gone was deleted, perhaps
            // by a controller that stopped before it could record the delete.
            None if churn => {}
            None => {
                let since_start = view
                    .started_at()
                    .map(|s| view.now.as_second() - s.as_second())
                    .unwrap_or_default();
                if since_start < MISSING_POD_GRACE_SECONDS {
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
        // Every pod of a churn probe is gone after the delete: that is the success.
        return match kind {
            ProbeKind::RapidCreateDelete { pods } => Step::Finish(churn_passed(view, *pods)),
            _ => Step::Wait,
        };
    };
    let running = matches!(first.container, ContainerState::Running { .. });
    let finished = first.is_finished();

    match kind {
        ProbeKind::ExecExitCode { code } if running => Step::Exec {
            command: vec![
                "sh".into(),
                "-c".into(),
                r#"exit "$1""#.into(),
                "probe".into(),
                code.to_string(),
            ],
        },
        ProbeKind::ExecMissingBinary if running => Step::Exec {
            command: vec![crate::probes::MISSING_BINARY.into()],
        },
        ProbeKind::ExecExitCode { .. } | ProbeKind::ExecMissingBinary if finished => {
            Step::Finish(Outcome::error(
                "PodEnded",
                format!("pod {} ended before the exec", first.name),
            ))
        }
        ProbeKind::GracefulShutdown { .. } | ProbeKind::ProcessGroupKill { .. }
            if !view.deletion_requested() =>
        {
            let grace = match kind {
                ProbeKind::GracefulShutdown {
                    grace_period_seconds,
                } => i64::from(*grace_period_seconds),
                _ => PROCESS_GROUP_KILL_GRACE_SECONDS,
            };
            if running {
                Step::DeleteWhenReady {
                    grace_period_seconds: grace,
                }
            } else if finished {
                Step::Finish(Outcome::error(
                    "PodEnded",
                    format!("pod {} ended before it was deleted", first.name),
                ))
            } else {
                Step::Wait
            }
        }
        ProbeKind::ProcessGroupKill { .. } => {
            if first.terminated().is_some() {
                Step::Inspect
            } else {
                Step::Wait
            }
        }
        ProbeKind::GracefulShutdown { .. } => {
            if first.terminated().is_some() {
                Step::Judge { read_log: false }
            } else {
                Step::Wait
            }
        }
        ProbeKind::RapidCreateDelete { .. } if !view.deletion_requested() => Step::DeleteAll,
        ProbeKind::RapidCreateDelete { .. } => Step::Wait,
        ProbeKind::ConcurrentStart { .. } => {
            if observed.len() == view.pods.len() && observed.iter().all(|p| p.is_finished()) {
                Step::Judge { read_log: false }
            } else {
                Step::Wait
            }
        }
        _ if finished => Step::Judge {
            read_log: needs_log(kind),
        },
        _ => Step::Wait,
    }
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

fn churn_passed(view: &ProbeView, pods: i32) -> Outcome {
    let seconds = view
        .status
        .termination
        .as_ref()
        .and_then(|t| t.delete_requested_at.as_ref())
        .map(|d| view.now.as_second() - d.0.as_second())
        .unwrap_or_default();
    Outcome {
        verdict: Verdict::Passed,
        reason: "AsExpected".into(),
        message: format!("all {pods} pods were created and deleted; gone within {seconds}s"),
        checks: vec![crate::api::Check {
            name: "podsRemaining".into(),
            expected: "0".into(),
            observed: "0".into(),
            passed: true,
        }],
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
        ProbeKind::RapidCreateDelete { .. } => fail(
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
