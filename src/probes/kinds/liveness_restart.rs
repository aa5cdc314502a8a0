//! `livenessRestart`: a failing liveness probe restarts the container. The container is healthy
//! for two seconds, then not; the restarted container finds the marker its first run left in
//! an emptyDir and exits 0. Catches a kubelet that does not act on a failing probe, and exec
//! probes whose failure is swallowed.

use k8s_openapi::api::core::v1::{ExecAction, PodSpec, Probe as ContainerProbe};

use super::{Kind, ProbeKind, empty_dir, log_text, mount, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal, finished_pod, log_missing};

pub const STATE: &str = "/mnt/proctor-liveness";

pub const KIND: Kind = Kind {
    name: "livenessRestart",
    resolve,
    entry: Entry {
        kind: "livenessRestart",
        checks: "a passing exec liveness probe leaves the container running, a failing one restarts it (restart count 1), and the restarted container runs to success",
        parameters: "-",
        runs: "healthy (a file the liveness probe tests) for 3 s, then not, for 20 s at most; the restarted run reports whether the first was healthy, and exits 0",
        catches: "liveness failures not acted on, exec probes whose failure is swallowed",
        faults: "exec",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe
        .liveness_restart
        .as_ref()
        .map(|_| ProbeKind::LivenessRestart)
}

pub fn shape(spec: &mut PodSpec) {
    spec.restart_policy = Some("OnFailure".into());
    spec.volumes = Some(vec![empty_dir("state")]);
    let Some(container) = spec.containers.first_mut() else {
        return;
    };
    container.volume_mounts = Some(vec![mount("state", STATE, false)]);
    container.liveness_probe = Some(ContainerProbe {
        exec: Some(ExecAction {
            command: Some(
                ["test", "-f", "/tmp/proctor-healthy"]
                    .map(str::to_owned)
                    .to_vec(),
            ),
        }),
        initial_delay_seconds: Some(1),
        period_seconds: Some(1),
        // Time to answer on a busy node, and three failures in a row: a slow or failed exec
        // would count as the failure this probe waits for, even from a runtime whose exec
        // probes never fail (the unhealthy container stays so for 20 s).
        timeout_seconds: Some(5),
        failure_threshold: Some(3),
        ..ContainerProbe::default()
    });
    script(
        container,
        r#"if [ -f "$1/first-run" ]; then if [ -f "$1/was-healthy" ]; then echo "restarted after being healthy"; else echo "restarted before it was unhealthy"; fi; exit 0; fi; touch "$1/first-run" /tmp/proctor-healthy; sleep 3; touch "$1/was-healthy"; rm /tmp/proctor-healthy; sleep 20; echo "not restarted"; exit 0"#,
        &[STATE],
    );
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |pod, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("livenessRestart");
        };
        Outcome::from_checks(
            vec![
                equal("restartCount", 1, pod.restart_count),
                equal("exitCode", 0, t.exit_code),
                equal("run", "restarted after being healthy", log.trim_end()),
            ],
            "the failing liveness probe restarted the container once".into(),
        )
    })
}
