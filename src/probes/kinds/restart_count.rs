//! `restartCount`: a container failing k times under `restartPolicy: OnFailure` shows
//! `restartCount` k, then ends `Succeeded`. Catches a kubelet or runtime that miscounts or
//! loses restarts.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, empty_dir, mount, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal, finished_pod};

pub const KIND: Kind = Kind {
    name: "restartCount",
    resolve,
    entry: Entry {
        kind: "restartCount",
        checks: "a container failing k times under OnFailure shows restartCount k, then Succeeded",
        parameters: "failures (default 2)",
        runs: "restartPolicy OnFailure; fails k times, then succeeds",
        catches: "restart accounting",
        faults: "exit",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.restart_count.as_ref()?;
    Some(ProbeKind::RestartCount {
        failures: p.failures.unwrap_or(2),
    })
}

pub fn shape(failures: i32, spec: &mut PodSpec) {
    spec.restart_policy = Some("OnFailure".into());
    spec.volumes = Some(vec![empty_dir("state")]);
    if let Some(container) = spec.containers.first_mut() {
        container.volume_mounts = Some(vec![mount("state", "/state", false)]);
        script(
            container,
            r#"n=$(cat /state/runs 2>/dev/null || echo 0); n=$((n+1)); echo "$n" > /state/runs; echo "run $n"; [ "$n" -gt "$1" ] || exit 1"#,
            &[&failures.to_string()],
        );
    }
}

pub fn judge(failures: i32, evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |pod, _| {
        Outcome::from_checks(
            vec![
                equal("restartCount", failures, pod.restart_count),
                equal(
                    "phase",
                    "Succeeded",
                    pod.phase.as_deref().unwrap_or_default(),
                ),
            ],
            format!("{failures} restarts counted"),
        )
    })
}
