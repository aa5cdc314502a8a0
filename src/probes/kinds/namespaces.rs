//! `namespaces`: the containers of a pod share its IPC and UTS namespaces but (by default)
//! not a PID namespace; with `shareProcessNamespace` they share one, rooted at the sandbox;
//! no pod shares the node's PID, IPC or UTS namespace or another pod's IPC namespace; the user
//! namespace is the node's (the identity uid map). Two pods of two containers each: every
//! container reads its own namespaces (`/proc/self/ns/*`), the probe container also looks for
//! its peer's process and reads PID 1, and each reports in its termination message. Catches a
//! runtime that puts containers in the node's namespaces, or a pod's containers apart.

use k8s_openapi::api::core::v1::{Container, PodSpec};

use super::{Kind, ProbeKind, empty_dir, field, mount};
use crate::api::Probe;
use crate::controller::drive::{At, Step};
use crate::probes::catalog::Entry;
use crate::verdict::{ContainerObservation, Evidence, Outcome, PodObservation, check};

/// Where a pod's peer reports its namespaces, and the probe container says it is done.
pub const STATE: &str = "/mnt/proctor-ns";
/// In the command line of each peer's process: what the probe container looks for.
pub const PEER_MARKER: &str = "proctor-ns-peer";
/// `$0` of each probe container's script.
pub const PROBE_MARKER: &str = "proctor-ns-probe";
/// The inode numbers of the node's initial namespaces: fixed by the kernel
/// (`PROC_{IPC,UTS,PID}_INIT_INO`), the same on every Linux node.
pub const NODE_IPC: &str = "ipc:[4026531839]";
pub const NODE_UTS: &str = "uts:[4026531838]";
pub const NODE_PID: &str = "pid:[4026531836]";
/// `/proc/self/uid_map` in the node's user namespace (spaces squeezed).
pub const IDENTITY_MAP: &str = "0 0 4294967295";

pub const PODS: i32 = 2;

pub const KIND: Kind = Kind {
    name: "namespaces",
    resolve,
    entry: Entry {
        kind: "namespaces",
        checks: "each container of a pod has a PID namespace of its own (it sees none of its peer's processes); with shareProcessNamespace the containers share one and see each other; the containers of a pod share its IPC and UTS namespaces; no pod is in the node's PID, IPC or UTS namespace, and two pods have distinct IPC namespaces; the uid map is the identity",
        parameters: "-",
        runs: "two pods (the second with shareProcessNamespace) of a probe and a peer container, each reading /proc/self/ns/* and uid_map; the probe also searches /proc for the peer's process and reads PID 1's command line; each reports in its termination message",
        catches: "containers put in the node's namespaces, or in namespaces apart from their pod's",
        faults: "isolation",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe.namespaces.as_ref().map(|_| ProbeKind::Namespaces)
}

/// The probe container's name in pod `index` (unique to each pod, for faulty-race).
fn probe_name(index: usize) -> String {
    if index == 0 {
        crate::probes::CONTAINER.to_owned()
    } else {
        format!("ns-{index}")
    }
}

fn peer_name(index: usize) -> String {
    format!("peer-{index}")
}

/// What each container reports: its namespaces, one `KEY: VALUE` line each.
const OWN: &str = r#"for n in pid ipc uts net; do echo "$n: $(readlink /proc/self/ns/$n)"; done; echo "uidMap: $(tr -s ' ' < /proc/self/uid_map | sed 's/^ //')""#;

pub fn shape(spec: &mut PodSpec, index: usize) {
    spec.termination_grace_period_seconds = Some(1);
    spec.share_process_namespace = (index == 1).then_some(true);
    spec.volumes = Some(vec![empty_dir("state")]);
    let Some(base) = spec.containers.first().cloned() else {
        return;
    };
    let with = |name: String, marker: &str, source: String| {
        let mut c: Container = base.clone();
        c.name = name;
        c.volume_mounts = Some(vec![mount("state", STATE, false)]);
        c.command = Some(
            ["sh", "-c", &source, marker, STATE]
                .map(str::to_owned)
                .to_vec(),
        );
        c
    };
    // The peer reports, then lives until the probe container has looked for it.
    let peer = with(
        peer_name(index),
        PEER_MARKER,
        format!(
            r#"{{ {OWN}; }} > /dev/termination-log; cp /dev/termination-log "$1/peer.tmp"; mv "$1/peer.tmp" "$1/peer"; while [ ! -e "$1/done" ]; do sleep 0.2; done"#
        ),
    );
    // The probe container: its own namespaces, its peer's, whether it sees the peer's
    // process (the pattern's brackets keep it from matching its own grep), its own PID (`$$`,
    // written `$$$$`: the kubelet's expansion turns `$$` in a command into `$`), PID 1's command.
    let probe = with(
        probe_name(index),
        PROBE_MARKER,
        format!(
            r#"while [ ! -e "$1/peer" ]; do sleep 0.2; done
seen=no
for f in /proc/[0-9]*/cmdline; do tr '\0' ' ' < "$f" 2>/dev/null | grep -q 'proctor-ns-pee[r]' && seen=yes; done
{{ {OWN}; sed 's/^/peer-/' "$1/peer"; echo "seesPeer: $seen"; echo "selfPid: $$$$"; echo "pid1: $(tr '\0' ' ' < /proc/1/cmdline | cut -d' ' -f1-2)"; }} | tee /dev/termination-log
touch "$1/done""#
        ),
    );
    spec.containers = vec![probe, peer];
}

/// Judged once both pods ended.
pub fn step(at: &At) -> Step {
    match at.observed {
        [p0, p1] if p0.is_finished() && p1.is_finished() => Step::Judge { read_log: false },
        _ => Step::Wait,
    }
}

fn report<'a>(pod: &'a PodObservation, name: &str) -> Option<&'a str> {
    pod.containers
        .iter()
        .find(|c: &&ContainerObservation| c.name == name)
        .and_then(|c| c.message.as_deref())
}

/// What one pod's probe container reported, and its peer.
struct Seen<'a> {
    report: &'a str,
}

impl Seen<'_> {
    fn get(&self, key: &str) -> &str {
        field(self.report, key).unwrap_or("not reported")
    }
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    let [p0, p1] = evidence.pods.as_slice() else {
        return None;
    };
    let (Some(r0), Some(r1)) = (report(p0, &probe_name(0)), report(p1, &probe_name(1))) else {
        return Some(Outcome::error(
            "NotReported",
            "a probe container of the namespaces probe ended without its report (termination message)".to_owned(),
        ));
    };
    let (a, b) = (Seen { report: r0 }, Seen { report: r1 });
    // Whether the script is PID 1 is not checked: a runtime may start the command under an
    // init of its own (as faulty-exit's wrapper shell does).
    let own_pid = a.get("seesPeer") == "no" && a.get("pid") != a.get("peer-pid");
    let shared_pid =
        b.get("seesPeer") == "yes" && b.get("pid") == b.get("peer-pid") && b.get("selfPid") != "1";
    let pod_ipc_uts = [&a, &b].iter().all(|s| {
        s.get("ipc") == s.get("peer-ipc")
            && s.get("uts") == s.get("peer-uts")
            && s.get("net") == s.get("peer-net")
    });
    let mut on_node = Vec::new();
    for (i, s) in [(0, &a), (1, &b)] {
        for (key, node) in [("pid", NODE_PID), ("ipc", NODE_IPC), ("uts", NODE_UTS)] {
            for k in [key.to_owned(), format!("peer-{key}")] {
                if s.get(&k) == node {
                    on_node.push(format!("pod {i} {k}"));
                }
            }
        }
    }
    let maps_ok = [&a, &b]
        .iter()
        .all(|s| s.get("uidMap") == IDENTITY_MAP && s.get("peer-uidMap") == IDENTITY_MAP);
    let checks = vec![
        check(
            "containerPidNamespace",
            "its own (the peer's process unseen)",
            format!(
                "peer seen: {}, pid {} (peer {}), the script's PID {}",
                a.get("seesPeer"),
                a.get("pid"),
                a.get("peer-pid"),
                a.get("selfPid")
            ),
            own_pid,
        ),
        check(
            "sharedPidNamespace",
            "shared with the peer, whose process it sees, under the sandbox's PID 1",
            format!(
                "peer seen: {}, pid {} (peer {}), the script's PID {}, PID 1 {:?}",
                b.get("seesPeer"),
                b.get("pid"),
                b.get("peer-pid"),
                b.get("selfPid"),
                b.get("pid1")
            ),
            shared_pid,
        ),
        check(
            "podNamespaces",
            "IPC, UTS and network shared by the containers of each pod",
            format!(
                "ipc {} / {}, uts {} / {}",
                a.get("ipc"),
                a.get("peer-ipc"),
                a.get("uts"),
                a.get("peer-uts")
            ),
            pod_ipc_uts,
        ),
        check(
            "nodeNamespaces",
            "none of the node's PID, IPC or UTS namespaces",
            if on_node.is_empty() {
                "none".to_owned()
            } else {
                format!("the node's in {}", on_node.join(", "))
            },
            on_node.is_empty(),
        ),
        check(
            "podIpcIsolated",
            "two pods, two IPC namespaces",
            format!("{} and {}", a.get("ipc"), b.get("ipc")),
            a.get("ipc") != b.get("ipc"),
        ),
        check(
            "uidMap",
            IDENTITY_MAP,
            format!("{} (pod 1: {})", a.get("uidMap"), b.get("uidMap")),
            maps_ok,
        ),
    ];
    Some(Outcome::from_checks(
        checks,
        "each container has its own PID namespace (one shared with shareProcessNamespace), each pod its own IPC and UTS, none the node's; the uid map is the identity".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Verdict;

    fn pods(texts: [&str; 2]) -> Evidence {
        super::super::recorded(&texts)
    }

    /// Pods recorded on the test cluster: under runc every check holds; under faulty-podns
    /// (each container its own IPC and PID namespaces) the pods' containers are apart.
    #[test]
    fn namespaces_are_judged_from_the_containers_reports() {
        let runc = pods([
            include_str!("../../../tests/fixtures/pods/namespaces-runc-0.json"),
            include_str!("../../../tests/fixtures/pods/namespaces-runc-1.json"),
        ]);
        let outcome = judge(&runc).unwrap();
        assert_eq!(outcome.verdict, Verdict::Passed, "{outcome:?}");
        let faulty = pods([
            include_str!("../../../tests/fixtures/pods/namespaces-faulty-podns-0.json"),
            include_str!("../../../tests/fixtures/pods/namespaces-faulty-podns-1.json"),
        ]);
        let outcome = judge(&faulty).unwrap();
        assert_eq!(
            (outcome.verdict, outcome.reason.as_str()),
            (Verdict::Failed, "SharedPidNamespaceMismatch"),
            "{outcome:?}"
        );
        let failed: Vec<&str> = outcome
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(failed, ["sharedPidNamespace", "podNamespaces"]);
    }

    /// A runtime that starts the command under an init of its own (faulty-exit's wrapper
    /// shell: the script is PID 7) still gives each container its own PID namespace.
    #[test]
    fn the_script_need_not_be_pid_1() {
        let mut evidence = pods([
            include_str!("../../../tests/fixtures/pods/namespaces-runc-0.json"),
            include_str!("../../../tests/fixtures/pods/namespaces-runc-1.json"),
        ]);
        for c in &mut evidence.pods[0].containers {
            c.message = c
                .message
                .as_ref()
                .map(|m| m.replace("selfPid: 1\n", "selfPid: 7\n"));
        }
        assert!(
            evidence.pods[0].containers.iter().any(|c| c
                .message
                .as_deref()
                .is_some_and(|m| m.contains("selfPid: 7"))),
            "the fixture reports selfPid"
        );
        let outcome = judge(&evidence).unwrap();
        assert_eq!(outcome.verdict, Verdict::Passed, "{outcome:?}");
    }

    /// A container in the node's namespaces (the kernel's fixed inode numbers) fails, and so
    /// does one that sees its peer without a shared PID namespace.
    #[test]
    fn the_nodes_namespaces_fail() {
        let mut evidence = pods([
            include_str!("../../../tests/fixtures/pods/namespaces-runc-0.json"),
            include_str!("../../../tests/fixtures/pods/namespaces-runc-1.json"),
        ]);
        let probe = evidence.pods[0]
            .containers
            .iter_mut()
            .find(|c| c.name == crate::probes::CONTAINER)
            .unwrap();
        let report = probe.message.clone().unwrap();
        let ipc = field(&report, "ipc").unwrap().to_owned();
        probe.message = Some(
            report
                .replace(&ipc, NODE_IPC)
                .replace("seesPeer: no", "seesPeer: yes"),
        );
        let outcome = judge(&evidence).unwrap();
        let failed: Vec<(&str, &str)> = outcome
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| (c.name.as_str(), c.observed.as_str()))
            .collect();
        assert_eq!(
            failed,
            [
                ("containerPidNamespace", failed[0].1),
                ("nodeNamespaces", "the node's in pod 0 ipc, pod 0 peer-ipc"),
            ]
        );
    }
}
