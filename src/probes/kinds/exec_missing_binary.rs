//! `execMissingBinary`: an exec of a binary that does not exist fails, and the pod keeps
//! running. Catches a runtime whose failed exec takes the container down.

use super::{Kind, ProbeKind};
use crate::api::Probe;
use crate::controller::drive::{At, Step};
use crate::probes::catalog::Entry;
use crate::verdict::{ContainerState, Evidence, Outcome, check};

pub const KIND: Kind = Kind {
    name: "execMissingBinary",
    resolve,
    entry: Entry {
        kind: "execMissingBinary",
        checks: "exec of a missing binary fails and the pod keeps running",
        parameters: "-",
        runs: "a long-running pod; Proctor execs a binary that does not exist",
        catches: "the exec spawn-failure path: a hang, an exit 0, or a pod killed by it",
        faults: "exec",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe
        .exec_missing_binary
        .as_ref()
        .map(|_| ProbeKind::ExecMissingBinary)
}

/// Judged from the exec's status and the pod after it.
pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    let pod = evidence.pods.first()?;
    let exec = evidence.exec.as_ref()?;
    let failed = exec.error.is_some() || exec.exit_code.is_some_and(|c| c != 0);
    let observed = match (exec.exit_code, &exec.error) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(error)) => format!("error: {error}"),
        (None, None) => "no status".into(),
    };
    let running = matches!(pod.container, ContainerState::Running { .. });
    let checks = vec![
        check("execResult", "failure", &observed, failed),
        check("podRunning", true, running, running),
    ];
    Some(Outcome::from_checks(
        checks,
        format!("exec failed as expected ({observed})"),
    ))
}

pub fn step(at: &At) -> Step {
    super::exec_exit_code::exec_step(vec![super::MISSING_BINARY.into()], at)
}
