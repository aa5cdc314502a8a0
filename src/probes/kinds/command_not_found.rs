//! `commandNotFound`: a container whose command does not exist ends the pod `Failed`
//! (StartError, 128/127), never stuck. Catches a runtime that leaves such a pod waiting.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, MISSING_BINARY, ProbeKind};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, check, equal, finished_pod};

pub const KIND: Kind = Kind {
    name: "commandNotFound",
    resolve,
    entry: Entry {
        kind: "commandNotFound",
        checks: "a missing command ends the pod Failed (StartError, 128/127), never stuck",
        parameters: "-",
        runs: "a command that is not in the image",
        catches: "a spawn failure inside the runtime that leaves the pod Pending or Running for ever",
        faults: "exit",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe
        .command_not_found
        .as_ref()
        .map(|_| ProbeKind::CommandNotFound)
}

pub fn shape(spec: &mut PodSpec) {
    if let Some(container) = spec.containers.first_mut() {
        container.command = Some(vec![MISSING_BINARY.into()]);
    }
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |pod, t| {
        let reason = t.reason.clone().unwrap_or_default();
        Outcome::from_checks(
            vec![
                equal("phase", "Failed", pod.phase.as_deref().unwrap_or_default()),
                check("exitCode", "non-zero", t.exit_code, t.exit_code != 0),
            ],
            format!("pod failed with {reason} (exit code {})", t.exit_code),
        )
    })
}
