//! `podNetwork`: the pod gets an IP that its status reports, and that IP is on an interface of
//! the container's own network namespace (the pod's). Catches a runtime that puts the
//! container in a network namespace other than its sandbox's (no interface but loopback, or
//! another pod's). When the pod's node has a podCIDR, the IP is in it: catches a CNI or a
//! runtime handing out addresses from a range the node was not given.

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
        checks: "the pod's status reports an IP, that IP is on an interface (not loopback) of the container's network namespace, and it is in the node's podCIDR when the node has one",
        parameters: "-",
        runs: "`ip -4 -o addr`",
        catches: "a container outside its sandbox's network namespace, a status IP that is not the pod's, or an IP outside the node's podCIDR",
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
        let mut checks = vec![
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
        ];
        // The node's range, when it has one and can be read: a node without a podCIDR (its CNI
        // allocates on its own) or out of the controller's sight has no range to be in.
        let mut passed = format!("the pod's IP {ip} is the container's");
        match &evidence.node {
            Some(Ok(node)) if !node.pod_cidrs.is_empty() => {
                let inside = node.pod_cidrs.iter().any(|c| in_cidr(ip, c));
                checks.push(check(
                    "podIpInPodCidr",
                    format!("an IP in {}", node.pod_cidrs.join(", ")),
                    ip,
                    inside,
                ));
                passed.push_str(&format!(", in node {}'s podCIDR", node.name));
            }
            Some(Ok(node)) => {
                passed.push_str(&format!(
                    " (node {} has no podCIDR to check it against)",
                    node.name
                ));
            }
            Some(Err(why)) => passed.push_str(&format!(" (its podCIDR not checked: {why})")),
            None => {}
        }
        Outcome::from_checks(checks, passed)
    })
}

/// Whether `ip` is in `cidr` (`10.0.0.0/24`, `fd00::/64`); false for anything unparsable.
pub fn in_cidr(ip: &str, cidr: &str) -> bool {
    use std::net::IpAddr;
    let Some((net, bits)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(ip), Ok(net), Ok(bits)) = (
        ip.parse::<IpAddr>(),
        net.parse::<IpAddr>(),
        bits.parse::<u32>(),
    ) else {
        return false;
    };
    let (ip, net, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return false,
    };
    if bits > width {
        return false;
    }
    let shift = width - bits;
    shift >= 128 || (ip >> shift) == (net >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Verdict;
    use crate::verdict::{LogObservation, NodeObservation, NodeUnread};

    #[test]
    fn cidr_containment() {
        assert!(in_cidr("10.123.0.7", "10.123.0.0/24"));
        assert!(!in_cidr("10.123.1.7", "10.123.0.0/24"));
        assert!(in_cidr("10.9.9.9", "0.0.0.0/0"));
        assert!(in_cidr("fd00::5", "fd00::/64"));
        assert!(!in_cidr("10.123.0.7", "fd00::/64"));
        assert!(!in_cidr("10.123.0.7", "10.123.0.0/33"));
    }

    fn judged(node: Option<Result<NodeObservation, NodeUnread>>) -> Outcome {
        let evidence = Evidence {
            node,
            ..super::super::recorded(&[include_str!(
                "../../../tests/fixtures/pods/pod-network.json"
            )])
        };
        let ip = evidence.pods[0].pod_ip.clone().unwrap();
        let log = format!(
            "1: lo    inet 127.0.0.1/8 scope host lo\n2: eth0    inet {ip}/24 brd 10.123.0.255 scope global eth0\n"
        );
        judge(&Evidence {
            log: Some(LogObservation::of(log.as_bytes())),
            ..evidence
        })
        .unwrap()
    }

    #[test]
    fn the_pod_ip_must_be_in_the_nodes_pod_cidr() {
        let node = |cidr: &str| NodeObservation {
            name: "n".into(),
            pod_cidrs: vec![cidr.into()],
            ..NodeObservation::default()
        };
        assert_eq!(
            judged(Some(Ok(node("10.123.0.0/24")))).verdict,
            Verdict::Passed
        );
        let outside = judged(Some(Ok(node("10.200.0.0/24"))));
        assert_eq!(outside.reason, "PodIpInPodCidrMismatch", "{outside:?}");
        let unread = judged(Some(Err(NodeUnread {
            forbidden: true,
            message: "forbidden".into(),
        })));
        assert_eq!(unread.verdict, Verdict::Passed);
        assert!(
            unread.message.contains("not checked: forbidden"),
            "{}",
            unread.message
        );
    }
}
