//! `execExitCode`: an exec in a running container that prints a line and exits N reports N and
//! streams the line back. Catches a runtime or kubelet that loses the exec's exit status or its
//! output.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, READY_MARKER, script};
use crate::api::Probe;
use crate::controller::drive::{At, Step};
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, check, equal};

pub const KIND: Kind = Kind {
    name: "execExitCode",
    resolve,
    entry: Entry {
        kind: "execExitCode",
        checks: "an exec in a running container (through the API server's exec subresource, a websocket, without tty or stdin) reports the exit code N of its command, and streams back the line it printed",
        parameters: "code (default 7)",
        runs: "a long-running pod; Proctor execs `sh -c 'echo proctor-exec-output N; exit N'`",
        catches: "exec exit codes swallowed, exec output lost",
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
        r#"echo "proctor-exec-output $1"; exit "$1""#.into(),
        "probe".into(),
        code.to_string(),
    ]
}

/// Judged from the exec's status.
pub fn judge(code: i32, evidence: &Evidence) -> Option<Outcome> {
    let exec = evidence.exec.as_ref()?;
    Some(match (exec.exit_code, &exec.error) {
        (Some(observed), _) => {
            let line = format!("proctor-exec-output {code}");
            let printed = evidence
                .exec_output
                .as_deref()
                .is_some_and(|out| out.lines().any(|l| l == line));
            Outcome::from_checks(
                vec![
                    equal("execExitCode", code, observed),
                    check(
                        "execOutput",
                        &line,
                        if printed {
                            line.as_str()
                        } else {
                            "not streamed back"
                        },
                        printed,
                    ),
                ],
                format!("exec reported exit code {observed} and streamed back what it printed"),
            )
        }
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
