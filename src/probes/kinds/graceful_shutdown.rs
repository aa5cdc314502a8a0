//! `gracefulShutdown`: a deleted pod gets SIGTERM and exits 0 within its grace period; the
//! termination timeline is recorded. The runtime's part is timed from the kubelet's own
//! `Killing` Event. Catches a runtime that sends SIGKILL at once or never.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, READY_MARKER, TERM_MARKER, script};
use crate::api::Probe;
use crate::controller::drive::{At, Step};
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, check, equal, finished_pod, untold_if_late};

pub const KIND: Kind = Kind {
    name: "gracefulShutdown",
    resolve,
    entry: Entry {
        kind: "gracefulShutdown",
        checks: "a deleted pod gets SIGTERM, exits 0 within its grace period; timeline recorded",
        parameters: "gracePeriodSeconds (default 10)",
        runs: "traps TERM, writes a marker to stdout and the termination log, exits 0; Proctor deletes the pod with the grace period",
        catches: "SIGKILL sent instead of SIGTERM, or the grace period cut short",
        faults: "lifecycle, latekill",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.graceful_shutdown.as_ref()?;
    Some(ProbeKind::GracefulShutdown {
        grace_period_seconds: p.grace_period_seconds.unwrap_or(10),
    })
}

pub fn shape(grace_period_seconds: i32, spec: &mut PodSpec) {
    if let Some(container) = spec.containers.first_mut() {
        script(
            container,
            &format!(
                "trap 'echo {TERM_MARKER}; echo {TERM_MARKER} > /dev/termination-log; exit 0' TERM; echo {READY_MARKER}; while :; do sleep 0.2; done"
            ),
            &[],
        );
    }
    spec.termination_grace_period_seconds = Some(i64::from(grace_period_seconds));
}

pub fn judge(grace_period_seconds: i32, evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let seen_term = t
            .message
            .as_deref()
            .is_some_and(|m| m.contains(TERM_MARKER));
        let mut checks = vec![
            equal("exitCode", 0, t.exit_code),
            check("sigtermHandled", true, seen_term, seen_term),
        ];
        // The runtime's part is measured from when the kubelet began stopping the container
        // (its Killing Event), not from the delete request: a kubelet slow to act on the delete
        // is not the runtime's fault. Timestamps have one-second resolution.
        let (from, from_what) = match evidence.kill_started_at {
            Some(kill) => (Some(kill), "the kubelet began stopping it"),
            None => (evidence.deleted_at, "the delete"),
        };
        let mut used = None;
        let mut within = true;
        if let (Some(from), Some(finished)) = (from, t.finished_at) {
            let seconds = finished.as_second() - from.as_second();
            within = seconds <= i64::from(grace_period_seconds) + 1;
            used = Some(seconds);
            checks.push(check(
                "shutdownSeconds",
                format!("<= {grace_period_seconds}"),
                seconds,
                within,
            ));
        }
        let lag = match (evidence.kill_started_at, evidence.deleted_at) {
            (Some(kill), Some(deleted)) => format!(
                " (the kubelet began stopping it {}s after the delete)",
                kill.as_second() - deleted.as_second()
            ),
            _ => String::new(),
        };
        let outcome = Outcome::from_checks(
            checks,
            format!("SIGTERM was delivered and the process shut down in time{lag}"),
        );
        if evidence.kill_started_at.is_some() {
            outcome
        } else {
            untold_if_late(outcome, within, from_what, used)
        }
    })
}

/// Before the delete (shared with the process-group kill): delete the pod with this grace
/// period once it runs (its log then shows it ready); a pod that ended first was not deleted.
pub fn delete_when_ready(grace_period_seconds: i64, at: &At) -> Step {
    if at.running {
        Step::DeleteWhenReady {
            grace_period_seconds,
        }
    } else if at.finished {
        Step::Finish(Outcome::error(
            "PodEnded",
            format!("pod {} ended before it was deleted", at.first.name),
        ))
    } else {
        Step::Wait
    }
}

/// Delete the pod once it is ready, judge once its container ended.
pub fn step(grace_period_seconds: i32, at: &At) -> Step {
    if !at.view.deletion_requested() {
        delete_when_ready(i64::from(grace_period_seconds), at)
    } else if at.first.terminated().is_some() {
        Step::Judge { read_log: false }
    } else {
        Step::Wait
    }
}
