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
    /// Add the ephemeral containers to the running pod (`ephemeralContainers`): the first, then
    /// the second by a later update; recorded as an action done.
    AddEphemeral,
    /// Exec into the pod's ephemeral containers, then let the pod end; each exec's check
    /// recorded as an action done.
    ExecEphemeral,
    /// Talk to the running pod's containers (`streaming`): an exec into each, an exec with a
    /// terminal, attach; each conversation's check recorded as an action done.
    Stream,
    /// Change the running pod's sources (`liveUpdates`): update, delete and create its
    /// ConfigMaps and Secrets, patch its labels and annotations; recorded as an action done.
    LiveUpdate,
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
        ProbePhase::Pending if kind.needs_privilege() && !view.allow_privileged => {
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
                message: format!(
                    "{} needs {}; {why}",
                    kind.name(),
                    kind.privilege_needed_for()
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
        // What the probe's actions showed before it ran out of time stays in the verdict (see
        // `record`).
        return Step::Finish(timed_out(view));
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

/// The nodes an attempt's pods were seen on: those recorded so far, then new ones of `pods` in
/// the order seen, each once, at most [`MAX_NODES`] (a node once recorded stays).
pub fn nodes_of(recorded: &[String], pods: &[(String, Option<PodObservation>)]) -> Vec<String> {
    let mut nodes: Vec<String> = recorded.to_vec();
    for node in pods.iter().filter_map(|(_, p)| p.as_ref()?.node.clone()) {
        if nodes.len() < MAX_NODES && !nodes.contains(&node) {
            nodes.push(node);
        }
    }
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
#[path = "drive_tests.rs"]
mod tests;
