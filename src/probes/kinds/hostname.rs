//! `hostname`: the container's hostname (its UTS namespace, and /etc/hostname) is the pod's
//! name, or the pod's `hostname` when it sets one (a `subdomain` leaves it the short name).
//! Catches a runtime or kubelet that names the sandbox otherwise (its ID, the node's name).

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, field, log_text, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal, finished_pod, log_missing};

pub const KIND: Kind = Kind {
    name: "hostname",
    resolve,
    entry: Entry {
        kind: "hostname",
        checks: "the hostname (uname and /etc/hostname) is the pod's name, or its spec.hostname when set",
        parameters: "hostname, subdomain (default: neither)",
        runs: "`hostname`; `cat /etc/hostname`",
        catches: "a sandbox named after its ID or the node, or a spec.hostname ignored",
        faults: "identity",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.hostname.as_ref()?;
    Some(ProbeKind::Hostname {
        hostname: p.hostname.clone(),
        subdomain: p.subdomain.clone(),
    })
}

pub fn shape(hostname: Option<&str>, subdomain: Option<&str>, spec: &mut PodSpec) {
    spec.hostname = hostname.map(str::to_owned);
    spec.subdomain = subdomain.map(str::to_owned);
    if let Some(container) = spec.containers.first_mut() {
        script(
            container,
            r#"echo "uname: $(hostname)"; echo "file: $(cat /etc/hostname)""#,
            &[],
        );
    }
}

pub fn judge(hostname: Option<&str>, evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |pod, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("hostname");
        };
        // The kubelet cuts a pod name longer than a hostname may be to 63 characters.
        let expected = hostname.unwrap_or(&pod.name[..pod.name.len().min(63)]);
        Outcome::from_checks(
            vec![
                equal("exitCode", 0, t.exit_code),
                equal(
                    "hostname",
                    expected,
                    field(log, "uname").unwrap_or("not read"),
                ),
                equal(
                    "etcHostname",
                    expected,
                    field(log, "file").unwrap_or("not read"),
                ),
            ],
            format!("the hostname is {expected}"),
        )
    })
}
