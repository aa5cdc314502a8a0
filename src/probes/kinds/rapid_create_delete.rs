//! `rapidCreateDelete` (churn): N pods created and deleted at once, half while they are still
//! being set up and half once they run, are all gone in time; with `allowPrivileged`, none of
//! their processes is left on the node. Catches a runtime whose setup or teardown paths leak
//! or hang under churn.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, READY_MARKER, script};
use crate::api::{Check, Probe};
use crate::controller::drive::{At, ProbeView, Step};
use crate::probes::catalog::Entry;
use crate::verdict::ContainerState;
use crate::verdict::{Evidence, Outcome, bounded, not_from_the_pod};

/// How long a pod of the second half runs before Proctor deletes it, so that its container
/// (and the child carrying its marker) is really up.
pub const RUN_SECONDS: i64 = 1;

pub const KIND: Kind = Kind {
    name: "rapidCreateDelete",
    resolve,
    entry: Entry {
        kind: "rapidCreateDelete",
        checks: "N pods created and deleted at once are all gone in time; no leftovers on the node (with allowPrivileged)",
        parameters: "pods (default 10)",
        runs: "N pods, half deleted while they are set up and half once they run",
        catches: "cleanup paths under churn: pods stuck Terminating, leaked shims and processes",
        faults: "latekill",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.rapid_create_delete.as_ref()?;
    Some(ProbeKind::RapidCreateDelete {
        pods: p.pods.unwrap_or(10),
    })
}

pub fn shape(spec: &mut PodSpec, pod_name: &str) {
    if let Some(container) = spec.containers.first_mut() {
        // A child carrying the pod's marker, detached from the container's stdio (so it cannot
        // hold the container open): a leftover on the node after the churn shows a cleanup path
        // that missed it.
        script(
            container,
            &format!(
                r#"sh -c 'while :; do sleep 1; done' "$1" </dev/null >/dev/null 2>&1 & echo {READY_MARKER}; wait"#
            ),
            &[&crate::probes::process_marker(pod_name)],
        );
    }
    spec.termination_grace_period_seconds = Some(1);
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    not_from_the_pod(KIND.name, evidence)
}

/// The verdict once every pod is gone, `seconds` after the first delete; `leftovers` are the
/// node's processes still carrying a churn pod's marker, `None` when the node was not
/// inspected.
pub fn outcome(pods: i32, seconds: i64, leftovers: Option<&[String]>) -> Outcome {
    let mut checks = vec![Check {
        name: "podsRemaining".into(),
        expected: "0".into(),
        observed: "0".into(),
        passed: true,
    }];
    let gone = format!("all {pods} pods were created and deleted; gone within {seconds}s");
    let Some(leftovers) = leftovers else {
        return Outcome::from_checks(
            checks,
            format!(
                "{gone}; the node was not inspected for leftovers (that needs spec.allowPrivileged: true, in a namespace the controller grants it)"
            ),
        );
    };
    checks.push(Check {
        name: "leftoverProcesses".into(),
        expected: "0".into(),
        observed: leftovers.len().to_string(),
        passed: leftovers.is_empty(),
    });
    if leftovers.is_empty() {
        Outcome::from_checks(
            checks,
            format!("{gone}; no process of theirs left on the node"),
        )
    } else {
        let mut outcome = Outcome::from_checks(checks, String::new());
        outcome.message = bounded(
            &format!(
                "expected leftover processes 0, observed {}: {}",
                leftovers.len(),
                leftovers.join("; ")
            ),
            512,
        );
        outcome
    }
}

/// Delete the pods as they become due (`deletions`).
pub fn step(at: &At) -> Step {
    let pods = deletions(at.view);
    if pods.is_empty() {
        Step::Wait
    } else {
        Step::Delete { pods }
    }
}

/// The churn pods to delete now. Half of them (even indexes) go at once, still being set up;
/// the others once their container has run for [`RUN_SECONDS`] (or ended), so that both
/// the setup and the teardown paths are exercised. A pod already being deleted is left alone.
fn deletions(view: &ProbeView) -> Vec<String> {
    let recorded = view.status.delete_requested_at().is_some();
    view.pods
        .iter()
        .enumerate()
        .filter_map(|(i, (name, pod))| {
            let pod = pod.as_ref()?;
            if pod.deletion_requested {
                return None;
            }
            let due = if i % 2 == 0 {
                !recorded
            } else {
                match &pod.container {
                    ContainerState::Running { started_at } => started_at
                        .is_none_or(|s| view.now.as_second() - s.as_second() >= RUN_SECONDS),
                    _ => pod.is_finished(),
                }
            };
            due.then(|| name.clone())
        })
        .collect()
}
