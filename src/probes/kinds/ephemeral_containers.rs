//! `ephemeralContainers`: containers added to a running pod through its `ephemeralcontainers`
//! subresource start in it: one added, then a second added by a later update that keeps the
//! first; an exec into each runs there, and each logs its own line. Catches a kubelet or runtime
//! that does not start ephemeral containers, loses one at an update, or routes exec and logs to
//! another container.

use k8s_openapi::api::core::v1::{Container, EnvVar, EphemeralContainer, PodSpec};

use super::{Kind, ProbeKind, empty_dir, log_text, mount, script};
use crate::api::Probe;
use crate::controller::drive::{At, Step};
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, check, equal, finished_pod, log_missing, quoted};

/// The ephemeral containers, in the order they are added.
pub const EPHEMERAL: [&str; 2] = ["debugger-1", "debugger-2"];
/// How long the probe container waits for Proctor (it ends when told).
const WAIT_SECONDS: i32 = 60;

pub const KIND: Kind = Kind {
    name: "ephemeralContainers",
    resolve,
    entry: Entry {
        kind: "ephemeralContainers",
        checks: "an ephemeral container added to a running pod through the ephemeralcontainers subresource runs, and so does a second one added by a later update, which keeps the first; an exec into each prints that container's own env var; each logs its own line",
        parameters: "-",
        runs: "a pod that waits; Proctor adds `debugger-1`, then `debugger-2` (each logs its name and waits), execs into each, then lets the pod end",
        catches: "ephemeral containers not started or lost at an update, exec and logs of the wrong container",
        faults: "exec",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe.ephemeral_containers.as_ref()?;
    Some(ProbeKind::EphemeralContainers)
}

/// The probe container: waits until Proctor is done (`/shared/done`) or a minute passed.
const PROBE_SCRIPT: &str = r#"echo waiting
i=0
while [ ! -f /shared/done ] && [ "$i" -lt "$1" ]; do sleep 0.2; i=$((i + 1)); done"#;
/// Each ephemeral container: logs its name, then waits as long.
const EPHEMERAL_SCRIPT: &str = r#"echo "ephemeral: $PROCTOR_CONTAINER"
i=0
while [ ! -f /shared/done ] && [ "$i" -lt "$1" ]; do sleep 0.2; i=$((i + 1)); done"#;

pub fn shape(spec: &mut PodSpec) {
    spec.volumes = Some(vec![empty_dir("shared")]);
    if let Some(probe) = spec.containers.first_mut() {
        probe.volume_mounts = Some(vec![mount("shared", "/shared", false)]);
        script(probe, PROBE_SCRIPT, &[&(WAIT_SECONDS * 5).to_string()]);
    }
}

/// Ephemeral container `name` as Proctor adds it: the probe container's image and security
/// context (so the pod stays at its Pod Security level), its script, the shared volume.
pub fn ephemeral(probe: &Container, name: &str) -> EphemeralContainer {
    let mut runs = probe.clone();
    script(
        &mut runs,
        EPHEMERAL_SCRIPT,
        &[&(WAIT_SECONDS * 5).to_string()],
    );
    EphemeralContainer {
        name: name.into(),
        image: runs.image,
        image_pull_policy: runs.image_pull_policy,
        command: runs.command,
        env: Some(vec![EnvVar {
            name: "PROCTOR_CONTAINER".into(),
            value: Some(name.into()),
            ..EnvVar::default()
        }]),
        security_context: runs.security_context,
        volume_mounts: runs.volume_mounts,
        termination_message_policy: runs.termination_message_policy,
        ..EphemeralContainer::default()
    }
}

/// Add the ephemeral containers once the pod runs; exec into them once both run; judge once the
/// pod ended.
pub fn step(at: &At) -> Step {
    let running = |name: &str| {
        at.first
            .containers
            .iter()
            .any(|c| c.name == name && c.running)
    };
    let done = at.view.status.actions_done;
    if at.finished {
        Step::Judge { read_log: true }
    } else if done == 0 && at.running {
        Step::AddEphemeral
    } else if done == 1 && EPHEMERAL.iter().all(|n| running(n)) {
        Step::ExecEphemeral
    } else {
        Step::Wait
    }
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |pod, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("ephemeralContainers");
        };
        let mut checks = vec![
            equal("exitCode", 0, t.exit_code),
            equal("probeLog", quoted("waiting\n"), quoted(log)),
        ];
        for name in EPHEMERAL {
            let ran = pod.containers.iter().any(|c| {
                c.name == name && (c.running || c.exit_code.is_some() || c.started_at.is_some())
            });
            checks.push(check(
                &format!("{}Started", camel(name)),
                "started",
                if ran { "started" } else { "never started" },
                ran,
            ));
            let own = evidence
                .container_logs
                .get(name)
                .and_then(|l| l.text.as_deref());
            checks.push(equal(
                &format!("{}Log", camel(name)),
                quoted(&format!("ephemeral: {name}\n")),
                own.map_or_else(|| "no log".to_owned(), quoted),
            ));
        }
        Outcome::from_checks(
            checks,
            "both ephemeral containers started in the running pod, each exec and log its own"
                .into(),
        )
    })
}

/// `debugger-1` → `debugger1`, for check names.
fn camel(name: &str) -> String {
    name.replace('-', "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Verdict;
    use crate::verdict::LogObservation;

    fn judged(fixture: &str, logs: [&str; 2]) -> Outcome {
        let mut evidence = Evidence {
            log: Some(LogObservation::of(b"waiting\n")),
            ..super::super::recorded(&[fixture])
        };
        for (name, log) in EPHEMERAL.iter().zip(logs) {
            evidence
                .container_logs
                .insert((*name).into(), LogObservation::of(log.as_bytes()));
        }
        judge(&evidence).unwrap()
    }

    #[test]
    fn both_ephemeral_containers_with_their_own_logs_pass() {
        let runc = include_str!("../../../tests/fixtures/pods/ephemeral-containers-runc.json");
        let outcome = judged(runc, ["ephemeral: debugger-1\n", "ephemeral: debugger-2\n"]);
        assert_eq!(outcome.verdict, Verdict::Passed, "{outcome:?}");
        let swapped = judged(runc, ["ephemeral: debugger-2\n", "ephemeral: debugger-2\n"]);
        assert_eq!(swapped.reason, "Debugger1LogMismatch");
    }

    #[test]
    fn an_ephemeral_container_that_never_started_fails() {
        let plain = include_str!("../../../tests/fixtures/pods/exit-0.json");
        let outcome = judged(plain, ["", ""]);
        assert_eq!(outcome.reason, "Debugger1StartedMismatch", "{outcome:?}");
    }

    #[test]
    fn an_ephemeral_container_keeps_the_probe_containers_security_context() {
        let probe = Container {
            name: "probe".into(),
            image: Some("busybox".into()),
            security_context: Some(Default::default()),
            ..Container::default()
        };
        let e = ephemeral(&probe, "debugger-1");
        assert_eq!(e.security_context, probe.security_context);
        assert_eq!(e.image.as_deref(), Some("busybox"));
        assert_eq!(e.command.as_ref().map(|c| c[0].as_str()), Some("sh"));
    }
}
