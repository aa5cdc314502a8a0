//! `seccompDefault`: the pod's `RuntimeDefault` seccomp profile is in force: the process runs
//! under a seccomp filter, and a syscall the default profile blocks for an unprivileged
//! process (`unshare(CLONE_NEWUSER)`, refused without CAP_SYS_ADMIN) fails with EPERM. Catches
//! a runtime that runs the container unconfined. The second check relies on the default
//! profile's refusal of `unshare`, which containerd's, moby's and CRI-O's (1.24 and later) have;
//! profiles derived from containers/common allow it, and there this check fails although a
//! filter is in force (the first check tells).

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, field, log_text, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, check, equal, finished_pod, log_missing};

pub const KIND: Kind = Kind {
    name: "seccompDefault",
    resolve,
    entry: Entry {
        kind: "seccompDefault",
        checks: "the RuntimeDefault seccomp profile filters the process (Seccomp: 2) and refuses a syscall it blocks (unshare of a user namespace: EPERM)",
        parameters: "-",
        runs: "reads Seccomp in /proc/self/status; `unshare -U true`",
        catches: "a container run unconfined despite seccompProfile RuntimeDefault",
        faults: "security",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe
        .seccomp_default
        .as_ref()
        .map(|_| ProbeKind::SeccompDefault)
}

pub fn shape(spec: &mut PodSpec) {
    // Every probe pod asks for RuntimeDefault (the restricted standard).
    if let Some(container) = spec.containers.first_mut() {
        script(
            container,
            "grep '^Seccomp:' /proc/self/status; unshare -U true 2>&1; echo \"userns-exit: $?\"",
            &[],
        );
    }
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("seccompDefault");
        };
        let mode = match field(log, "Seccomp") {
            Some("2") => "filter (2)".to_owned(),
            Some("0") => "disabled (0)".to_owned(),
            Some(other) => format!("mode {other}"),
            None => "not reported".to_owned(),
        };
        let refused = field(log, "userns-exit").is_some_and(|c| c != "0");
        let eperm = log.contains("Operation not permitted");
        let userns = match (refused, eperm) {
            (false, _) => "created".to_owned(),
            (true, true) => "refused (Operation not permitted)".to_owned(),
            (true, false) => format!(
                "refused otherwise: {}",
                log.lines()
                    .find(|l| l.starts_with("unshare"))
                    .unwrap_or("?")
            ),
        };
        Outcome::from_checks(
            vec![
                equal("exitCode", 0, t.exit_code),
                equal("seccompMode", "filter (2)", mode.as_str()),
                check(
                    "userNamespace",
                    "refused (Operation not permitted)",
                    userns,
                    refused && eperm,
                ),
            ],
            "the process runs under the seccomp filter, which refused unshare(CLONE_NEWUSER)"
                .into(),
        )
    })
}
