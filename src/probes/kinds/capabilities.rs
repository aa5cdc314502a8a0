//! `capabilities`: the process's capability sets are exactly what the container's
//! securityContext asks: `drop: [ALL]` plus `add` in the bounding set, and in the permitted
//! and effective sets only for a root process (a non-root process keeps none across its
//! `execve`: Kubernetes sets no ambient capabilities). Catches a runtime that ignores the drop
//! (its default set, or every capability) or drops an added one.

use k8s_openapi::api::core::v1::{Capabilities, PodSpec};

use super::{Kind, ProbeKind, field, log_text, script};
use crate::api::{Capability, Probe};
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, check, equal, finished_pod, log_missing};

pub const KIND: Kind = Kind {
    name: "capabilities",
    resolve,
    entry: Entry {
        kind: "capabilities",
        checks: "after drop ALL and add, the bounding set is exactly the added capabilities; permitted and effective hold them only for uid 0; inheritable and ambient are empty",
        parameters: "add (default [NET_BIND_SERVICE]; [] checks that drop ALL leaves none; any other capability makes the pod privileged: spec.allowPrivileged, granted by the controller's operator)",
        runs: "reads the Cap* sets in /proc/self/status",
        catches: "a runtime that ignores `drop: [ALL]` (its default set, or every capability) or drops an added one",
        faults: "security",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.capabilities.as_ref()?;
    let mut add = p
        .add
        .clone()
        .unwrap_or_else(|| vec![Capability::NetBindService]);
    add.sort_unstable();
    add.dedup();
    Some(ProbeKind::Capabilities { add })
}

pub fn shape(add: &[Capability], spec: &mut PodSpec) {
    if let Some(container) = spec.containers.first_mut() {
        if let Some(context) = container.security_context.as_mut() {
            context.capabilities = Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                add: (!add.is_empty()).then(|| add.iter().map(|c| c.name().to_owned()).collect()),
            });
        }
        script(
            container,
            "grep -E '^(Uid|Cap[A-Za-z]+):' /proc/self/status",
            &[],
        );
    }
}

/// The set of capabilities `mask` holds, by name; bits the table does not know by number.
pub(super) fn names(mask: u64) -> String {
    let mut out: Vec<String> = Capability::ALL
        .iter()
        .filter(|c| mask & (1 << c.bit()) != 0)
        .map(|c| c.name().to_owned())
        .collect();
    let known = Capability::ALL.iter().fold(0u64, |m, c| m | (1 << c.bit()));
    out.extend(
        (0..64)
            .filter(|bit| mask & !known & (1 << bit) != 0)
            .map(|bit| format!("bit {bit}")),
    );
    if out.is_empty() {
        return "none".into();
    }
    out.join(" ")
}

pub fn judge(add: &[Capability], evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("capabilities");
        };
        let asked = add.iter().fold(0u64, |m, c| m | (1 << c.bit()));
        // The process's own uid decides what permitted and effective should hold; whether
        // it is the one the spec asks is runAsIdentity's check.
        let root = field(log, "Uid")
            .and_then(|u| u.split_whitespace().nth(1))
            .is_some_and(|euid| euid == "0");
        let held = if root { asked } else { 0 };
        let mut checks = vec![equal("exitCode", 0, t.exit_code)];
        for (set, name, expected) in [
            ("CapBnd", "boundingSet", asked),
            ("CapPrm", "permittedSet", held),
            ("CapEff", "effectiveSet", held),
            ("CapInh", "inheritableSet", 0),
            ("CapAmb", "ambientSet", 0),
        ] {
            match field(log, set).map(|hex| u64::from_str_radix(hex, 16)) {
                Some(Ok(observed)) => checks.push(check(
                    name,
                    names(expected),
                    names(observed),
                    observed == expected,
                )),
                _ => checks.push(check(name, names(expected), "not reported", false)),
            }
        }
        Outcome::from_checks(
            checks,
            format!(
                "the bounding set is exactly {} and the {} process holds {}",
                names(asked),
                if root { "root" } else { "non-root" },
                names(held)
            ),
        )
    })
}
