//! `exitCode`: a container exiting with code N ends `Failed` (or `Succeeded` for 0) with exit
//! code N. Catches a runtime or shim that rewrites or loses the exit status.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal, finished_pod};

pub const KIND: Kind = Kind {
    name: "exitCode",
    resolve,
    entry: Entry {
        kind: "exitCode",
        checks: "a container exiting with code N ends Failed with exit code N and the terminated reason Error (Succeeded and Completed for 0)",
        parameters: "code (default 42)",
        runs: "`sh -c 'exit N'`",
        catches: "exit codes lost or rewritten on the way to the pod status (job controllers and CI depend on them)",
        faults: "exit",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.exit_code.as_ref()?;
    Some(ProbeKind::ExitCode { code: p.code })
}

pub fn shape(code: i32, spec: &mut PodSpec) {
    if let Some(container) = spec.containers.first_mut() {
        script(container, r#"exit "$1""#, &[&code.to_string()]);
    }
}

pub fn judge(code: i32, evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |pod, t| {
        let expected_phase = if code == 0 { "Succeeded" } else { "Failed" };
        let expected_reason = if code == 0 { "Completed" } else { "Error" };
        Outcome::from_checks(
            vec![
                equal("exitCode", code, t.exit_code),
                equal(
                    "phase",
                    expected_phase,
                    pod.phase.as_deref().unwrap_or_default(),
                ),
                equal(
                    "terminatedReason",
                    expected_reason,
                    t.reason.as_deref().unwrap_or("none"),
                ),
            ],
            format!("exit code {code} propagated"),
        )
    })
}
