//! `sysctls`: the pod's safe sysctls are set in its own namespaces (IPC for `kernel.*`, network
//! for `net.*`), as the process reads them under /proc/sys. Catches a runtime or kubelet that
//! drops them: the defaults of a new namespace are read instead.

use k8s_openapi::api::core::v1::{PodSpec, Sysctl};

use super::{Kind, ProbeKind, log_text, script};
use crate::api::{Probe, SafeSysctl, SysctlValue};
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal, finished_pod, log_missing};

pub const KIND: Kind = Kind {
    name: "sysctls",
    resolve,
    entry: Entry {
        kind: "sysctls",
        checks: "the pod's safe sysctls are set in its namespaces (read back from /proc/sys)",
        parameters: "values: [{name, value}] of the safe sysctls (default kernel.shm_rmid_forced=1, net.ipv4.ip_local_port_range=\"40000 50000\")",
        runs: "reads each sysctl back from /proc/sys",
        catches: "pod sysctls dropped, so the new namespace's defaults apply",
        faults: "security, isolation",
    },
};

pub fn defaults() -> Vec<SysctlValue> {
    vec![
        SysctlValue {
            name: SafeSysctl::KernelShmRmidForced,
            value: "1".into(),
        },
        SysctlValue {
            name: SafeSysctl::IpLocalPortRange,
            value: "40000 50000".into(),
        },
    ]
}

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.sysctls.as_ref()?;
    Some(ProbeKind::Sysctls {
        values: p.values.clone().unwrap_or_else(defaults),
    })
}

pub fn shape(values: &[SysctlValue], spec: &mut PodSpec) {
    if let Some(context) = spec.security_context.as_mut() {
        context.sysctls = Some(
            values
                .iter()
                .map(|v| Sysctl {
                    name: v.name.name().to_owned(),
                    value: v.value.clone(),
                })
                .collect(),
        );
    }
    if let Some(container) = spec.containers.first_mut() {
        let names: Vec<&str> = values.iter().map(|v| v.name.name()).collect();
        script(
            container,
            r#"for n; do printf '%s: ' "$n"; tr '\t\n' '  ' < "/proc/sys/$(echo "$n" | tr . /)"; echo; done"#,
            &names,
        );
    }
}

/// Whitespace-separated numbers compare as numbers do: `40000\t50000` is `40000 50000`.
fn normal(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn judge(values: &[SysctlValue], evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("sysctls");
        };
        let mut checks = vec![equal("exitCode", 0, t.exit_code)];
        for v in values {
            let observed = log
                .lines()
                .find_map(|l| l.strip_prefix(v.name.name())?.strip_prefix(": "))
                .map_or_else(|| "not read".to_owned(), normal);
            let name = v.name.name();
            checks.push(equal(
                "sysctl",
                format!("{name}={}", normal(&v.value)),
                format!("{name}={observed}"),
            ));
        }
        Outcome::from_checks(
            checks,
            format!(
                "{} set in the pod's namespaces",
                values
                    .iter()
                    .map(|v| format!("{}={}", v.name.name(), normal(&v.value)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })
}
