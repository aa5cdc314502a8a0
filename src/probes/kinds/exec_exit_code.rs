//! `execExitCode`: an exec of `exit N` in a running container reports N. Catches a runtime or
//! kubelet that loses the exec's exit status.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, READY_MARKER, script};
use crate::api::Probe;
use crate::controller::drive::{At, Step};
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal};

pub const KIND: Kind = Kind {
    name: "execExitCode",
    resolve,
    entry: Entry {
        kind: "execExitCode",
        checks: "exec of `exit N` in a running container reports N",
        parameters: "code (default 7)",
        runs: "a long-running pod; Proctor execs `sh -c 'exit N'`",
        catches: "exec exit codes swallowed",
        faults: "exec",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.exec_exit_code.as_ref()?;
    Some(ProbeKind::ExecExitCode { code: p.code })
}

/// A container that waits for execs (shared by the exec kinds).
pub fn shape(spec: &mut PodSpec) {
    if let Some(container) = spec.containers.first_mut() {
        script(
            container,
            &format!("echo {READY_MARKER}; exec sleep 3600"),
            &[],
        );
    }
    spec.termination_grace_period_seconds = Some(1);
}

/// The command the probe execs: the code as an argument, never shell source.
pub fn command(code: i32) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        r#"exit "$1""#.into(),
        "probe".into(),
        code.to_string(),
    ]
}

/// Judged from the exec's status.
pub fn judge(code: i32, evidence: &Evidence) -> Option<Outcome> {
    let exec = evidence.exec.as_ref()?;
    Some(match (exec.exit_code, &exec.error) {
        (Some(observed), _) => Outcome::from_checks(
            vec![equal("execExitCode", code, observed)],
            format!("exec reported exit code {observed}"),
        ),
        (None, error) => Outcome::error(
            "ExecFailed",
            format!(
                "exec could not run: {}",
                error.as_deref().unwrap_or("no status")
            ),
        ),
    })
}

/// The exec kinds' step: exec `command` once the container runs; a pod that ended first had
/// no exec.
pub fn exec_step(command: Vec<String>, at: &At) -> Step {
    if at.running {
        Step::Exec { command }
    } else if at.finished {
        Step::Finish(Outcome::error(
            "PodEnded",
            format!("pod {} ended before the exec", at.first.name),
        ))
    } else {
        Step::Wait
    }
}

pub fn step(code: i32, at: &At) -> Step {
    exec_step(command(code), at)
}
