//! `deadlineExceeded`: a pod past its `activeDeadlineSeconds` fails with `DeadlineExceeded`,
//! its container ended soon after the kubelet acted on the deadline (timed from the kubelet's
//! own `Killing` Event). Catches a runtime that cannot stop the container when told.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, PodObservation, check, equal, untold_if_late};

/// Grace period of the probe's pod, which exits on TERM at once: a runtime that drops the TERM
/// still ends it this soon after the deadline, one that cannot kill it does not.
pub const GRACE_SECONDS: i64 = 5;
/// How long after its active deadline the pod may end when Proctor cannot see when the kubelet
/// acted: its grace period ([`GRACE_SECONDS`]; the pod exits on TERM at once) and five seconds
/// for the kubelet to notice.
pub const SLACK_SECONDS: i64 = GRACE_SECONDS + 5;
/// How long after the kubelet began stopping a container the runtime may take to end it, beyond
/// the grace period: one second for timestamps of one-second resolution, one for the runtime
/// to report the end.
pub const KILL_SLACK_SECONDS: i64 = 2;

pub const KIND: Kind = Kind {
    name: "deadlineExceeded",
    resolve,
    entry: Entry {
        kind: "deadlineExceeded",
        checks: "a pod past activeDeadlineSeconds fails with DeadlineExceeded within 10 s",
        parameters: "seconds (default 5)",
        runs: "sleeps past `activeDeadlineSeconds`, exits on TERM",
        catches: "deadlines not enforced, or enforced by a kill that lands late",
        faults: "latekill",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.deadline_exceeded.as_ref()?;
    Some(ProbeKind::DeadlineExceeded {
        seconds: p.seconds.unwrap_or(5),
    })
}

pub fn shape(seconds: i32, spec: &mut PodSpec) {
    spec.active_deadline_seconds = Some(i64::from(seconds));
    spec.termination_grace_period_seconds = Some(GRACE_SECONDS);
    if let Some(container) = spec.containers.first_mut() {
        // A TERM handler, so the pod ends promptly once the deadline passes.
        script(
            container,
            "trap 'exit 143' TERM; while :; do sleep 0.2; done",
            &[],
        );
    }
}

pub fn judge(seconds: i32, evidence: &Evidence) -> Option<Outcome> {
    let pod = evidence.pods.first()?;
    // The pod may show Failed at the deadline before the kill has ended its container (its
    // status still running, or not yet reported): judged once the container has ended (one
    // that never ends runs into the probe's timeout), so the time from the kill to the end
    // is measured, not guessed.
    if !pod.is_finished() || pod.terminated().is_none() {
        return None;
    }
    Some(outcome(seconds, pod, evidence.kill_started_at))
}

/// The pod failed for its deadline, and its container really ended soon after the kubelet acted
/// on the deadline. Judged from the pod (the container ends with reason Error and exit 143 or
/// 137) and the kubelet's `Killing` Event: the runtime's part (from the kubelet's kill to the
/// container's end) is checked; the kubelet's part (from the deadline to its kill) is reported.
/// Without the Event, the whole time past the deadline is checked, and a deadline enforced too
/// late is an `Error` that says the two cannot be told apart, never a plain `Failed`.
fn outcome(
    seconds: i32,
    pod: &PodObservation,
    kill: Option<k8s_openapi::jiff::Timestamp>,
) -> Outcome {
    let phase = pod.phase.clone().unwrap_or_default();
    let finished = pod.terminated().and_then(|t| t.finished_at);
    let deadline = pod.started_at.map(|s| s.as_second() + i64::from(seconds));
    let mut checks = vec![
        equal("phase", "Failed", phase.as_str()),
        equal(
            "podReason",
            "DeadlineExceeded",
            pod.reason.as_deref().unwrap_or(""),
        ),
    ];
    let past = match (deadline, finished) {
        (Some(deadline), Some(end)) => Some(end.as_second() - deadline),
        _ => None,
    };
    match (kill, finished) {
        (Some(kill), Some(end)) => {
            let allowed = GRACE_SECONDS + KILL_SLACK_SECONDS;
            let used = end.as_second() - kill.as_second();
            checks.push(check(
                "secondsFromKillToEnd",
                format!("<= {allowed}"),
                used,
                used <= allowed,
            ));
            let lag = deadline.map(|d| kill.as_second() - d).unwrap_or_default();
            Outcome::from_checks(
                checks,
                format!(
                    "the pod failed with DeadlineExceeded {}s after its {seconds}s deadline (the kubelet acted {lag}s after it, the runtime ended the container {used}s later)",
                    past.unwrap_or_default()
                ),
            )
        }
        _ => {
            let observed = match (past, finished) {
                (Some(past), _) => past.to_string(),
                (None, None) => "container not terminated".to_owned(),
                (None, Some(_)) => "unknown (no pod start time)".to_owned(),
            };
            let within = past.is_some_and(|p| p <= SLACK_SECONDS);
            checks.push(check(
                "secondsPastDeadline",
                format!("<= {SLACK_SECONDS}"),
                observed,
                within,
            ));
            let outcome = Outcome::from_checks(
                checks,
                format!(
                    "the pod failed with DeadlineExceeded {}s after its {seconds}s deadline",
                    past.unwrap_or_default()
                ),
            );
            untold_if_late(outcome, within, "the deadline", past)
        }
    }
}
