//! `sidecarOrder`: a native sidecar (an init container with `restartPolicy: Always`) is up
//! before the app container starts, and is stopped only after the app container ended. The
//! kubelet starts the app container once the sidecar runs (it has no startup probe) and stops
//! sidecars after the pod's app containers exited; catches a runtime that reports a container
//! running before its process runs (the app then starts beside a sidecar that is not there yet),
//! and a kubelet that stops sidecars first.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, empty_dir, field, log_text, mount, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal, finished_pod, log_missing};

/// The sidecar's name.
pub const SIDECAR: &str = "sidecar";

pub const KIND: Kind = Kind {
    name: "sidecarOrder",
    resolve,
    entry: Entry {
        kind: "sidecarOrder",
        checks: "a sidecar (restartable init container, no startup probe) has run its first command when the app container starts, and is stopped only after the app container ended (its termination message, kept current while it runs, says the app had finished)",
        parameters: "-",
        runs: "the sidecar marks its start in an emptyDir and keeps its termination message saying whether the app has finished; the app container checks the mark, works 1 s and marks its end",
        catches: "a container reported running before its process runs (the app starts beside a sidecar not yet up), sidecars stopped before the app containers",
        faults: "slowfirst",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe.sidecar_order.as_ref()?;
    Some(ProbeKind::SidecarOrder)
}

/// The sidecar: marks its start, then keeps its termination message true (rewritten only when
/// the app's end appears, so that a kill mid-write is unlikely to leave it empty).
const SIDECAR_SCRIPT: &str = r#"touch /shared/sidecar-started
trap 'exit 0' TERM
echo "app ended when the sidecar stopped: no" > /dev/termination-log
while [ ! -f /shared/app-ended ]; do sleep 0.1; done
echo "app ended when the sidecar stopped: yes" > /dev/termination-log
while :; do sleep 0.2; done"#;
/// The app container.
const APP_SCRIPT: &str = r#"if [ -f /shared/sidecar-started ]; then echo "sidecar up at the app's start: yes"; else echo "sidecar up at the app's start: no"; fi
sleep 1
touch /shared/app-ended"#;

pub fn shape(spec: &mut PodSpec) {
    spec.volumes = Some(vec![empty_dir("shared")]);
    let Some(app) = spec.containers.first_mut() else {
        return;
    };
    app.volume_mounts = Some(vec![mount("shared", "/shared", false)]);
    let mut sidecar = app.clone();
    sidecar.name = SIDECAR.into();
    sidecar.restart_policy = Some("Always".into());
    script(&mut sidecar, SIDECAR_SCRIPT, &[]);
    script(app, APP_SCRIPT, &[]);
    spec.init_containers = Some(vec![sidecar]);
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    let pod = evidence.pods.first()?;
    // The sidecar is stopped after the app ended: its record is final once it ended too.
    let sidecar = pod.containers.iter().find(|c| c.name == SIDECAR);
    if pod.is_finished() && sidecar.is_some_and(|s| s.exit_code.is_none() && s.running) {
        return None;
    }
    finished_pod(evidence, |_, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("sidecarOrder");
        };
        let stopped = sidecar
            .and_then(|s| s.message.as_deref())
            .and_then(|m| {
                m.trim()
                    .strip_prefix("app ended when the sidecar stopped: ")
            })
            .unwrap_or("not told");
        Outcome::from_checks(
            vec![
                equal("exitCode", 0, t.exit_code),
                equal(
                    "sidecarUpFirst",
                    "yes",
                    field(log, "sidecar up at the app's start").unwrap_or("not reported"),
                ),
                equal("sidecarStoppedAfterApp", "yes", stopped),
            ],
            "the sidecar was up before the app container started and stopped after it ended".into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Verdict;
    use crate::verdict::LogObservation;

    fn judged(fixture: &str, log: &str) -> Outcome {
        judge(&Evidence {
            log: Some(LogObservation::of(log.as_bytes())),
            ..super::super::recorded(&[fixture])
        })
        .unwrap()
    }

    #[test]
    fn a_sidecar_up_first_and_stopped_last_passes() {
        let runc = include_str!("../../../tests/fixtures/pods/sidecar-order-runc.json");
        let outcome = judged(runc, "sidecar up at the app's start: yes\n");
        assert_eq!(outcome.verdict, Verdict::Passed, "{outcome:?}");
    }

    #[test]
    fn an_app_started_beside_a_sidecar_not_yet_up_fails() {
        let slow = include_str!("../../../tests/fixtures/pods/sidecar-order-faulty-slowfirst.json");
        let outcome = judged(slow, "sidecar up at the app's start: no\n");
        assert_eq!(outcome.reason, "SidecarUpFirstMismatch", "{outcome:?}");
    }
}
