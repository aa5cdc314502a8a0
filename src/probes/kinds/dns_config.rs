//! `dnsConfig`: a pod with `dnsPolicy: None` and a `dnsConfig` gets exactly that resolv.conf:
//! its nameservers in order, its search list, its options. Catches a runtime that mounts its
//! own (or the node's) resolv.conf, and options or searches dropped on the way.

use k8s_openapi::api::core::v1::{PodDNSConfig, PodDNSConfigOption, PodSpec};

use super::{Kind, ProbeKind, log_text, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal, finished_pod, log_missing};

pub const NAMESERVERS: [&str; 2] = ["10.123.0.53", "10.123.0.54"];
pub const SEARCHES: [&str; 2] = ["proctor.example", "svc.proctor.example"];
/// As resolv.conf spells them, sorted.
pub const OPTIONS: [&str; 2] = ["edns0", "ndots:2"];

pub const KIND: Kind = Kind {
    name: "dnsConfig",
    resolve,
    entry: Entry {
        kind: "dnsConfig",
        checks: "dnsPolicy None with a dnsConfig gives exactly its nameservers (in order), searches and options in /etc/resolv.conf",
        parameters: "-",
        runs: "`cat /etc/resolv.conf` in a pod with dnsPolicy None",
        catches: "the node's or the runtime's resolv.conf mounted instead, nameservers reordered, options dropped",
        faults: "identity",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe.dns_config.as_ref().map(|_| ProbeKind::DnsConfig)
}

pub fn shape(spec: &mut PodSpec) {
    spec.dns_policy = Some("None".into());
    spec.dns_config = Some(PodDNSConfig {
        nameservers: Some(NAMESERVERS.map(str::to_owned).to_vec()),
        searches: Some(SEARCHES.map(str::to_owned).to_vec()),
        options: Some(vec![
            PodDNSConfigOption {
                name: Some("ndots".into()),
                value: Some("2".into()),
            },
            PodDNSConfigOption {
                name: Some("edns0".into()),
                value: None,
            },
        ]),
    });
    if let Some(container) = spec.containers.first_mut() {
        script(container, "cat /etc/resolv.conf", &[]);
    }
}

/// Every value of the lines starting with `keyword`, in order.
fn values<'a>(log: &'a str, keyword: &str) -> Vec<&'a str> {
    log.lines()
        .filter_map(|l| {
            let mut fields = l.split_whitespace();
            (fields.next() == Some(keyword)).then_some(fields)
        })
        .flatten()
        .collect()
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("dnsConfig");
        };
        let mut options = values(log, "options");
        options.sort_unstable();
        Outcome::from_checks(
            vec![
                equal("exitCode", 0, t.exit_code),
                equal(
                    "nameservers",
                    NAMESERVERS.join(" "),
                    values(log, "nameserver").join(" "),
                ),
                equal(
                    "searches",
                    SEARCHES.join(" "),
                    values(log, "search").join(" "),
                ),
                equal("options", OPTIONS.join(" "), options.join(" ")),
            ],
            "resolv.conf holds exactly the pod's dnsConfig".into(),
        )
    })
}
