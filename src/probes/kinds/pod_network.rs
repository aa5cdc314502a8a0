//! `podNetwork`: the pod gets an IP that its status reports, and that IP is on an interface of
//! the container's own network namespace (the pod's). Catches a runtime that puts the
//! container in a network namespace other than its sandbox's (no interface but loopback, or
//! another pod's).

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, log_text, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, check, equal, finished_pod, log_missing};

pub const KIND: Kind = Kind {
    name: "podNetwork",
    resolve,
    entry: Entry {
        kind: "podNetwork",
        checks: "the pod's status reports an IP, and that IP is on an interface (not loopback) of the container's network namespace",
        parameters: "-",
        runs: "`ip -4 -o addr`",
        catches: "a container outside its sandbox's network namespace, or a status IP that is not the pod's",
        faults: "isolation",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe.pod_network.as_ref().map(|_| ProbeKind::PodNetwork)
}

pub fn shape(spec: &mut PodSpec) {
    if let Some(container) = spec.containers.first_mut() {
        script(container, "ip -4 -o addr", &[]);
    }
}

/// The IPv4 addresses of the interfaces other than loopback, from `ip -4 -o addr`.
fn addresses(log: &str) -> Vec<&str> {
    log.lines()
        .filter_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let at = fields.iter().position(|f| *f == "inet")?;
            let interface = fields.get(1)?;
            (*interface != "lo").then(|| fields.get(at + 1)?.split('/').next())?
        })
        .collect()
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |pod, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("podNetwork");
        };
        let Some(ip) = pod.pod_ip.as_deref() else {
            return Outcome::from_checks(
                vec![check("podIp", "an IP in the pod's status", "none", false)],
                String::new(),
            );
        };
        let found = addresses(log);
        Outcome::from_checks(
            vec![
                equal("exitCode", 0, t.exit_code),
                check(
                    "podIpOnInterface",
                    ip,
                    if found.is_empty() {
                        "no address but loopback".to_owned()
                    } else {
                        found.join(" ")
                    },
                    found.contains(&ip),
                ),
            ],
            format!("the pod's IP {ip} is the container's"),
        )
    })
}
