//! `oomKill`: a container over its memory limit ends `OOMKilled` with exit code 137. Catches a
//! runtime that misreports OOM kills (reason Error) or does not enforce the limit.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, limit_holder, script, set_memory};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal, finished_pod};

pub const KIND: Kind = Kind {
    name: "oomKill",
    resolve,
    entry: Entry {
        kind: "oomKill",
        checks: "a container over its memory limit ends OOMKilled with exit code 137",
        parameters: "limitMiB (default 16)",
        runs: "allocates beyond a small memory limit",
        catches: "an OOM kill not reported as OOMKilled (exit 137)",
        faults: "exit, isolation",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.oom_kill.as_ref()?;
    Some(ProbeKind::OomKill {
        limit_mib: p.limit_mi_b.unwrap_or(16),
    })
}

pub fn shape(limit_mib: i32, spec: &mut PodSpec) {
    let Some(container) = spec.containers.first_mut() else {
        return;
    };
    set_memory(container, limit_mib);
    // dd allocates its whole block before reading: four times the limit. It starts a second
    // after the container, and the shell outlives it by a second: the runtime watches a
    // container's cgroup for OOM events only once the container has started, and an OOM in the
    // first milliseconds, or an exit processed before the OOM event, is reported as reason Error
    // (both races seen here with containerd on cgroup v1; this probe is about OOM reporting, not
    // about those windows).
    script(
        container,
        r#"sleep 1; dd if=/dev/zero of=/dev/null bs="$1" count=1; code=$?; sleep 1; exit "$code""#,
        &[&format!("{}M", limit_mib * 4)],
    );
    // On cgroup v1 the pod's cgroup gets the same limit as this container when every container
    // has one, and the pod's (with the pause process in it) is reached first: the runtime then
    // often sees no OOM in the container's own cgroup and reports reason Error. A sidecar
    // without a limit leaves the pod's cgroup unlimited, so the kill happens where it is being
    // checked.
    let holder = limit_holder(container);
    spec.init_containers = Some(vec![holder]);
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        Outcome::from_checks(
            vec![
                equal("reason", "OOMKilled", t.reason.as_deref().unwrap_or("")),
                equal("exitCode", 137, t.exit_code),
            ],
            "the container was OOMKilled with exit code 137".into(),
        )
    })
}
