//! Pure verdicts: from what was observed of a probe's pods, log and exec to checks — expected
//! against observed — and a verdict. No `kube::Client` here and no clock: times come in with
//! the observations.
//!
//! The vocabulary (docs/catalog.md): `Passed` — every check held; `Failed` — the system under test
//! misbehaved; `Error` — the probe could not be carried out (image missing, pod deleted by
//! someone else, nothing observed); never `Passed` without having observed what is checked.

mod observe;

pub use observe::{
    ContainerObservation, ContainerState, ExecObservation, LogCounter, LogObservation,
    NodeObservation, NodeUnread, PodObservation, Terminated, bounded, quantity,
};

use crate::api::{Check, Verdict};
use crate::probes::ProbeKind;

/// The longest expected or observed value written into a check.
pub const MAX_VALUE_CHARS: usize = 256;

/// Everything observed of one attempt of a probe.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    pub pods: Vec<PodObservation>,
    /// The log of the (first) pod's container, once it finished.
    pub log: Option<LogObservation>,
    /// The log of the same container's previous run (`previous=true`), for the kinds that
    /// restart it and judge what it left; the API server's message when it has none.
    pub previous_log: Option<Result<LogObservation, String>>,
    /// The logs of the (first) pod's other containers, by name, for the kinds that read them.
    pub container_logs: std::collections::BTreeMap<String, LogObservation>,
    /// The (first) pod's node, for the kinds that judge against it; why it could not be read.
    pub node: Option<Result<NodeObservation, NodeUnread>>,
    /// The exec the probe made, for exec kinds.
    pub exec: Option<ExecObservation>,
    /// What that exec wrote to stdout (its last bytes, bounded as the exec stream keeps them),
    /// for the kinds that judge it.
    pub exec_output: Option<String>,
    /// When Proctor asked for the pod's deletion, for kinds that delete it.
    pub deleted_at: Option<k8s_openapi::jiff::Timestamp>,
    /// When the kubelet began stopping the probe container (its `Killing` Event), for the kinds
    /// whose timing is judged: what the runtime does is measured from there, so that a kubelet
    /// slow to act on a delete or a deadline does not count against the runtime.
    pub kill_started_at: Option<k8s_openapi::jiff::Timestamp>,
}

/// A verdict with its reason, one-sentence message and checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub verdict: Verdict,
    pub reason: String,
    pub message: String,
    pub checks: Vec<Check>,
}

impl Outcome {
    /// An `Error`: the probe could not be carried out.
    pub fn error(reason: &str, message: impl Into<String>) -> Outcome {
        Outcome {
            verdict: Verdict::Error,
            reason: reason.into(),
            message: bounded(&message.into(), 512),
            checks: Vec::new(),
        }
    }

    /// `Passed` when every check held, else `Failed` with the first failing check as reason and
    /// message.
    pub fn from_checks(checks: Vec<Check>, passed_message: String) -> Outcome {
        match checks.iter().find(|c| !c.passed) {
            None => Outcome {
                verdict: Verdict::Passed,
                reason: "AsExpected".into(),
                message: passed_message,
                checks,
            },
            Some(failed) => Outcome {
                verdict: Verdict::Failed,
                reason: format!("{}Mismatch", upper_first(&failed.name)),
                message: format!(
                    "expected {} {}, observed {}",
                    words(&failed.name),
                    failed.expected,
                    failed.observed
                ),
                checks,
            },
        }
    }
}

pub(crate) fn check(
    name: &str,
    expected: impl ToString,
    observed: impl ToString,
    passed: bool,
) -> Check {
    Check {
        name: name.into(),
        expected: bounded(&expected.to_string(), MAX_VALUE_CHARS),
        observed: bounded(&observed.to_string(), MAX_VALUE_CHARS),
        passed,
    }
}

pub(crate) fn equal<T: PartialEq + std::fmt::Display>(
    name: &str,
    expected: T,
    observed: T,
) -> Check {
    let passed = expected == observed;
    check(name, expected, observed, passed)
}

/// Text shown quoted and escaped, so whitespace and newlines are visible.
pub(crate) fn quoted(text: &str) -> String {
    format!("{text:?}")
}

fn upper_first(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `exitCode` → `exit code`, for messages.
fn words(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_uppercase() {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The verdict of one attempt of a probe from what was observed (its pods finished, or for
/// exec kinds its exec returned), judged by its kind's file ([`crate::probes::kinds`]). `None`
/// when the evidence is not complete yet.
pub fn evaluate(kind: &ProbeKind, evidence: &Evidence) -> Option<Outcome> {
    let pod = evidence.pods.first()?;
    if let Some((reason, message)) = pod.blocked() {
        return Some(Outcome::error(
            "PodCannotStart",
            format!("pod {} cannot start: {reason}: {message}", pod.name),
        ));
    }
    kind.judge(evidence)
}

/// The outcome of a kind judged from its (first) finished pod: `None` until it finished; an
/// `Error` when it finished without a terminated container state; else `judge`'s, with the
/// runtime's words when the container never ran.
pub(crate) fn finished_pod(
    evidence: &Evidence,
    judge: impl FnOnce(&PodObservation, &Terminated) -> Outcome,
) -> Option<Outcome> {
    let pod = evidence.pods.first()?;
    if !pod.is_finished() {
        return None;
    }
    let Some(t) = pod.terminated() else {
        return Some(Outcome::error(
            "NoContainerState",
            format!(
                "pod {} finished without a terminated container state",
                pod.name
            ),
        ));
    };
    Some(with_start_failure(judge(pod, t), pod))
}

/// For kinds judged from more than their finished pod (the node's processes): a finished pod
/// alone is no verdict.
pub(crate) fn not_from_the_pod(kind: &str, evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, _| {
        Outcome::error(
            "NotEvaluated",
            format!("{kind} is not judged from a finished pod alone"),
        )
    })
}

/// The `Error` of a kind whose check needs the container's log, when it could not be read.
pub(crate) fn log_missing(what: &str) -> Outcome {
    Outcome::error(
        "LogUnavailable",
        format!("the container's log could not be read for the {what} check"),
    )
}

/// Terminated reasons of a container that never ran: its `message` is the runtime's own
/// account of why (e.g. `exec: "x": executable file not found in $PATH`).
const NEVER_RAN: &[&str] = &["StartError", "ContainerCannotRun"];

/// A verdict that is not `Passed` on a container that never ran carries the runtime's words:
/// otherwise "expected exit code 0, observed 128" is all a user sees, and the cause is only in
/// an Event.
fn with_start_failure(mut outcome: Outcome, pod: &PodObservation) -> Outcome {
    let Some(t) = pod.terminated() else {
        return outcome;
    };
    let cause = t.message.as_deref().map(str::trim).unwrap_or_default();
    let never_ran = t.reason.as_deref().is_some_and(|r| NEVER_RAN.contains(&r));
    if outcome.verdict != Verdict::Passed && never_ran && !cause.is_empty() {
        outcome.message = bounded(
            &format!(
                "{}; the container never ran: {}: {cause}",
                outcome.message,
                t.reason.as_deref().unwrap_or_default()
            ),
            1000,
        );
    }
    outcome
}

/// A timing check that failed while Proctor could not see when the kubelet acted: a slow node
/// and a broken runtime look the same, so the verdict says so as an `Error` with the figures.
pub(crate) fn untold_if_late(
    outcome: Outcome,
    within: bool,
    from: &str,
    seconds: Option<i64>,
) -> Outcome {
    let only_timing = outcome
        .checks
        .iter()
        .filter(|c| !c.passed)
        .all(|c| c.name == "secondsPastDeadline" || c.name == "shutdownSeconds");
    if within || outcome.verdict != Verdict::Failed || !only_timing {
        return outcome;
    }
    Outcome {
        verdict: Verdict::Error,
        reason: "TimingUnattributed".into(),
        message: format!(
            "the container ended {}s after {from}, later than allowed, and the kubelet's Killing Event was not found: a slow kubelet cannot be told from a slow runtime",
            seconds.unwrap_or_default()
        ),
        checks: outcome.checks,
    }
}

/// A verdict on an exec probe that did not pass, with what the exec printed (bounded).
pub fn with_exec_output(mut outcome: Outcome, output: &str) -> Outcome {
    if outcome.verdict != Verdict::Passed && !output.trim().is_empty() {
        outcome.message = bounded(
            &format!("{} (exec output: {})", outcome.message, output.trim()),
            512,
        );
    }
    outcome
}

/// The outcome of a probe whose container log the kubelet does not have (the API server
/// answered 400 or 404, e.g. the finished container was removed): retrying cannot help.
pub fn log_unavailable(pod: &str, server_message: &str) -> Outcome {
    Outcome::error(
        "LogUnavailable",
        format!("the log of pod {pod} could not be read: {server_message}"),
    )
}

/// A custom probe's outcome with the checks of its actions (execs) in front: an action whose
/// check failed fails the probe even when the final expectations held.
pub fn with_action_checks(actions: &[Check], outcome: Outcome) -> Outcome {
    if actions.is_empty() || outcome.verdict != Verdict::Passed {
        let mut checks = actions.to_vec();
        checks.extend(outcome.checks.iter().cloned());
        return Outcome { checks, ..outcome };
    }
    let mut checks = actions.to_vec();
    checks.extend(outcome.checks);
    Outcome::from_checks(checks, outcome.message)
}

#[cfg(test)]
mod tests;
