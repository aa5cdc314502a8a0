//! `noNewPrivileges`: `allowPrivilegeEscalation: false` sets no_new_privs on the process, so no
//! setuid binary or file capability can raise its privileges. Catches a runtime that ignores
//! the flag.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, field, log_text, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal, finished_pod, log_missing};

pub const KIND: Kind = Kind {
    name: "noNewPrivileges",
    resolve,
    entry: Entry {
        kind: "noNewPrivileges",
        checks: "allowPrivilegeEscalation: false sets no_new_privs on the process (NoNewPrivs: 1)",
        parameters: "-",
        runs: "reads NoNewPrivs in /proc/self/status",
        catches: "allowPrivilegeEscalation: false ignored, so setuid binaries can raise privileges",
        faults: "security",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe
        .no_new_privileges
        .as_ref()
        .map(|_| ProbeKind::NoNewPrivileges)
}

pub fn shape(spec: &mut PodSpec) {
    // Every probe pod sets allowPrivilegeEscalation: false (the restricted standard).
    if let Some(container) = spec.containers.first_mut() {
        script(container, "grep '^NoNewPrivs:' /proc/self/status", &[]);
    }
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("noNewPrivileges");
        };
        Outcome::from_checks(
            vec![
                equal("exitCode", 0, t.exit_code),
                equal(
                    "noNewPrivs",
                    "1",
                    field(log, "NoNewPrivs").unwrap_or("not reported"),
                ),
            ],
            "no_new_privs is set on the process".into(),
        )
    })
}
