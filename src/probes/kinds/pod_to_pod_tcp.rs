//! `podToPodTcp`: one pod reaches another over TCP at the IP the other's status reports, and
//! the two have network namespaces (and IPs) of their own. Proctor starts a server pod and a
//! client pod, then execs the client's connect with the server's IP as an argument. Catches a
//! broken pod network: containers outside their sandbox's namespace, missing routes.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, READY_MARKER, script};
use crate::api::Probe;
use crate::controller::drive::{At, Step};
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, check, equal};

pub const PORT: &str = "8080";
pub const BANNER: &str = "proctor-tcp-banner";

pub const KIND: Kind = Kind {
    name: "podToPodTcp",
    resolve,
    entry: Entry {
        kind: "podToPodTcp",
        checks: "a client pod reads a server pod's banner over TCP at the server's IP; the two pods have distinct IPs",
        parameters: "-",
        runs: "a server pod (`nc -ll -p 8080`) and a client pod; Proctor execs `nc SERVER_IP 8080` in the client",
        catches: "pods that cannot reach each other, or containers outside their pod's network namespace",
        faults: "exec, isolation",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe
        .pod_to_pod_tcp
        .as_ref()
        .map(|_| ProbeKind::PodToPodTcp)
}

/// Pod 0 is the client (the exec's target), pod 1 the server. A container that fails to start
/// is started again (`OnFailure`): this probe is about the network, not about starts that
/// overlap (`concurrentStart`'s business), and its two pods start at the same moment.
pub fn shape(spec: &mut PodSpec, index: usize) {
    spec.termination_grace_period_seconds = Some(1);
    spec.restart_policy = Some("OnFailure".into());
    if let Some(container) = spec.containers.first_mut() {
        if index == 0 {
            script(
                container,
                &format!("echo {READY_MARKER}; exec sleep 3600"),
                &[],
            );
        } else {
            script(
                container,
                r#"echo ready; exec nc -ll -p "$1" -e echo "$2""#,
                &[PORT, BANNER],
            );
        }
    }
}

/// The connect, with the server's IP as an argument: retried for a few seconds, in case the
/// server listens a moment after its container started.
pub fn command(server_ip: &str) -> Vec<String> {
    let script = r#"for i in 1 2 3 4 5 6 7 8 9 10; do r=$(nc -w 2 "$1" "$2" </dev/null 2>&1); [ "$r" = "$3" ] && { echo "$r"; exit 0; }; sleep 0.5; done; echo "read: ${r:-nothing}"; exit 1"#;
    ["sh", "-c", script, "probe", server_ip, PORT, BANNER]
        .map(str::to_owned)
        .to_vec()
}

pub fn step(at: &At) -> Step {
    let server = at.observed.get(1);
    let server_ip = server
        .filter(|s| matches!(s.container, crate::verdict::ContainerState::Running { .. }))
        .and_then(|s| s.pod_ip.clone());
    match server_ip {
        Some(ip) if at.running => Step::Exec {
            command: command(&ip),
        },
        _ if at.finished || server.is_some_and(|s| s.is_finished()) => {
            Step::Finish(Outcome::error(
                "PodEnded",
                "a pod of the probe ended before the client connected",
            ))
        }
        _ => Step::Wait,
    }
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    let exec = evidence.exec.as_ref()?;
    let client_ip = evidence.pods.first().and_then(|p| p.pod_ip.clone());
    let server_ip = evidence.pods.get(1).and_then(|p| p.pod_ip.clone());
    let distinct = client_ip.is_some() && client_ip != server_ip;
    // What the client printed, not only its exit code: an exec that never ran exits 0 too.
    let read = evidence
        .exec_output
        .as_deref()
        .is_some_and(|out| out.lines().any(|l| l.trim() == BANNER));
    Some(match exec.exit_code {
        Some(code) => Outcome::from_checks(
            vec![
                check(
                    "banner",
                    format!("{BANNER} from {}", server_ip.as_deref().unwrap_or("?")),
                    if read { "read" } else { "not read" },
                    read && code == 0,
                ),
                equal("distinctIps", "yes", if distinct { "yes" } else { "no" }),
            ],
            format!(
                "the client ({}) read the server's banner at {}",
                client_ip.as_deref().unwrap_or("?"),
                server_ip.as_deref().unwrap_or("?")
            ),
        ),
        None => Outcome::error(
            "ExecFailed",
            format!(
                "exec could not run: {}",
                exec.error.as_deref().unwrap_or("no status")
            ),
        ),
    })
}
