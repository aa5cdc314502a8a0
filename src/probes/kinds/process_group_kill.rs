//! `processGroupKill`: deleting a pod leaves none of its container's children on the node.
//! Judged from the node's process table, read by the hostPID inspector (a privileged check).
//! Catches a runtime that kills only the container's main process.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, READY_MARKER, script};
use crate::api::{Probe, Verdict};
use crate::controller::drive::{At, Step};
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, PodObservation, bounded, check, not_from_the_pod};

/// Grace period of the probe's delete: its shell handles no signal, so the kill comes after
/// this.
pub const GRACE_SECONDS: i64 = 2;

pub const KIND: Kind = Kind {
    name: "processGroupKill",
    resolve,
    entry: Entry {
        kind: "processGroupKill",
        checks: "deleting the pod leaves none of its children on the node (hostPID inspector)",
        parameters: "children (default 2); needs spec.allowPrivileged",
        runs: "`sleep & sleep & wait`, each child carrying a marker; Proctor deletes the pod",
        catches: "children orphaned because the kill reached the main process only",
        faults: "pgk",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.process_group_kill.as_ref()?;
    Some(ProbeKind::ProcessGroupKill {
        children: p.children.unwrap_or(2),
    })
}

pub fn shape(children: i32, spec: &mut PodSpec, pod_name: &str) {
    let Some(container) = spec.containers.first_mut() else {
        return;
    };
    // Each child's argv[0] is the marker, so it can be found in the node's process table after
    // the pod is gone.
    let marker = crate::probes::process_marker(pod_name);
    script(
        container,
        &format!(
            r#"i=0; while [ "$i" -lt "$2" ]; do sh -c 'while :; do sleep 1; done' "$1" & i=$((i+1)); done; echo {READY_MARKER}; wait"#
        ),
        &[&marker, &children.to_string()],
    );
    spec.termination_grace_period_seconds = Some(GRACE_SECONDS);
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    not_from_the_pod(KIND.name, evidence)
}

/// The verdict from the node's processes still carrying the marker of the killed pod
/// (`leftovers`, listed by the inspector) and the pod as observed. `None`: nothing is left on
/// the node, yet the container has not ended: look again.
pub fn judge_leftovers(pod: Option<&PodObservation>, leftovers: &[String]) -> Option<Outcome> {
    let terminated = pod.and_then(|p| p.terminated());
    if leftovers.is_empty() && terminated.is_none() {
        return None;
    }
    let check = check(
        "leftoverProcesses",
        0,
        leftovers.len(),
        leftovers.is_empty(),
    );
    Some(if leftovers.is_empty() {
        Outcome {
            verdict: Verdict::Passed,
            reason: "AsExpected".into(),
            message: format!(
                "no process of the pod's group was left on the node (container exit code {})",
                terminated
                    .map(|t| t.exit_code.to_string())
                    .unwrap_or_else(|| "unknown".into())
            ),
            checks: vec![check],
        }
    } else {
        Outcome {
            verdict: Verdict::Failed,
            reason: "LeftoverProcessesMismatch".into(),
            message: bounded(
                &format!(
                    "expected leftover processes 0, observed {}: {}",
                    leftovers.len(),
                    leftovers.join("; ")
                ),
                512,
            ),
            checks: vec![check],
        }
    })
}

/// Delete the pod once it is ready; then look at the node. Children that survive the kill may
/// keep the container from ever terminating (they hold its stdio): the node is looked at once
/// the grace period is over, whatever the container's state.
pub fn step(at: &At) -> Step {
    let view = at.view;
    if !view.deletion_requested() {
        return super::graceful_shutdown::delete_when_ready(GRACE_SECONDS, at);
    }
    let grace_over = view
        .status
        .delete_requested_at()
        .is_some_and(|d| view.now.as_second() - d.as_second() >= GRACE_SECONDS + 5);
    if at.first.terminated().is_some() || grace_over {
        Step::Inspect
    } else {
        Step::Wait
    }
}
