//! `etcHosts`: the kubelet-managed /etc/hosts maps the pod's IP (as its status reports it) to
//! its hostname, and lists the pod's `hostAliases`. Catches a runtime that mounts its own (or
//! the image's) hosts file, and a kubelet that writes a stale IP.

use k8s_openapi::api::core::v1::{HostAlias, PodSpec};

use super::{Kind, ProbeKind, log_text, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, check, equal, finished_pod, log_missing};

/// The host alias the probe asks for.
pub const ALIAS_IP: &str = "10.123.45.67";
pub const ALIAS_NAMES: [&str; 2] = ["proctor-alias-one", "proctor-alias-two"];

pub const KIND: Kind = Kind {
    name: "etcHosts",
    resolve,
    entry: Entry {
        kind: "etcHosts",
        checks: "/etc/hosts is the kubelet's: the pod's IP maps to its hostname, and the hostAliases are listed",
        parameters: "-",
        runs: "`cat /etc/hosts` in a pod with a hostAlias",
        catches: "the image's or the runtime's own hosts file mounted instead, a stale pod IP, hostAliases dropped",
        faults: "identity",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe.etc_hosts.as_ref().map(|_| ProbeKind::EtcHosts)
}

pub fn shape(spec: &mut PodSpec) {
    spec.host_aliases = Some(vec![HostAlias {
        ip: ALIAS_IP.into(),
        hostnames: Some(ALIAS_NAMES.map(str::to_owned).to_vec()),
    }]);
    if let Some(container) = spec.containers.first_mut() {
        script(container, "cat /etc/hosts", &[]);
    }
}

/// The entry of `ip`, with its whitespace made single spaces.
fn entry(log: &str, ip: &str) -> Option<String> {
    log.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&ip))
        .map(|fields| fields.join(" "))
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |pod, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("etcHosts");
        };
        let Some(ip) = pod.pod_ip.as_deref() else {
            return Outcome::error(
                "NoPodIp",
                format!("pod {} has no IP in its status", pod.name),
            );
        };
        let own = entry(log, ip);
        let names_pod = own
            .as_deref()
            .is_some_and(|e| e.split(' ').skip(1).any(|n| n == pod.name));
        let alias = format!("{ALIAS_IP} {}", ALIAS_NAMES.join(" "));
        let observed_alias = entry(log, ALIAS_IP);
        Outcome::from_checks(
            vec![
                equal("exitCode", 0, t.exit_code),
                check(
                    "podEntry",
                    format!("{ip} ... {}", pod.name),
                    own.clone().unwrap_or_else(|| format!("no entry for {ip}")),
                    names_pod,
                ),
                check(
                    "hostAliases",
                    &alias,
                    observed_alias.clone().unwrap_or_else(|| "none".into()),
                    observed_alias.as_deref() == Some(alias.as_str()),
                ),
                check(
                    "managedBy",
                    "the kubelet",
                    if log.starts_with("# Kubernetes-managed hosts file") {
                        "the kubelet"
                    } else {
                        "not the kubelet"
                    },
                    log.starts_with("# Kubernetes-managed hosts file"),
                ),
            ],
            format!(
                "/etc/hosts maps {ip} to {} and lists the host aliases",
                pod.name
            ),
        )
    })
}
