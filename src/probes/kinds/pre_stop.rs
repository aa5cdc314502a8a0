//! `preStop`: deleting a pod runs its container's preStop exec hook before the SIGTERM, and the
//! container still shuts down within its grace period. Catches a kubelet or runtime that skips
//! the hook, runs it after the signal, or whose exec does not run it.

use k8s_openapi::api::core::v1::{Lifecycle, LifecycleHandler, PodSpec};

use super::{Kind, ProbeKind, READY_MARKER, marker_hook, script};
use crate::api::Probe;
use crate::controller::drive::{At, Step};
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, check, equal, finished_pod, untold_if_late};

pub const MARKER: &str = "/tmp/proctor-pre-stop";
pub const GRACE_SECONDS: i32 = 10;
const BEFORE: &str = "pre-stop ran before TERM";

pub const KIND: Kind = Kind {
    name: "preStop",
    resolve,
    entry: Entry {
        kind: "preStop",
        checks: "deleting the pod runs the preStop exec hook before SIGTERM, and the container exits 0 within the grace period",
        parameters: "-",
        runs: "a preStop hook writes a file; the TERM trap reports whether it exists; Proctor deletes the pod (grace 10 s)",
        catches: "preStop hooks skipped or run after the signal, exec'd commands that do not run, SIGKILL instead of TERM",
        faults: "exec, lifecycle, latekill",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe.pre_stop.as_ref().map(|_| ProbeKind::PreStop)
}

pub fn shape(spec: &mut PodSpec) {
    spec.termination_grace_period_seconds = Some(i64::from(GRACE_SECONDS));
    let Some(container) = spec.containers.first_mut() else {
        return;
    };
    container.lifecycle = Some(Lifecycle {
        pre_stop: Some(LifecycleHandler {
            exec: Some(marker_hook(MARKER)),
            ..LifecycleHandler::default()
        }),
        ..Lifecycle::default()
    });
    script(
        container,
        &format!(
            r#"trap 'if [ -f "$1" ]; then echo "{BEFORE}" > /dev/termination-log; else echo "TERM without pre-stop" > /dev/termination-log; fi; exit 0' TERM; echo {READY_MARKER}; while :; do sleep 0.2; done"#
        ),
        &[MARKER],
    );
}

/// Delete the pod once it is ready, judge once its container ended.
pub fn step(at: &At) -> Step {
    super::graceful_shutdown::step(GRACE_SECONDS, at)
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let told = t.message.as_deref().map(str::trim).unwrap_or("nothing");
        let mut checks = vec![
            equal("exitCode", 0, t.exit_code),
            equal("hookBeforeTerm", BEFORE, told),
        ];
        // Timed from the kubelet's Killing Event, as gracefulShutdown is (one-second
        // timestamps: one second of slack); without it, a late end is not the runtime's alone.
        let (from, from_what) = match evidence.kill_started_at {
            Some(kill) => (Some(kill), "the kubelet began stopping it"),
            None => (evidence.deleted_at, "the delete"),
        };
        let mut within = true;
        let mut used = None;
        if let (Some(from), Some(finished)) = (from, t.finished_at) {
            let seconds = finished.as_second() - from.as_second();
            within = seconds <= i64::from(GRACE_SECONDS) + 1;
            used = Some(seconds);
            checks.push(check(
                "shutdownSeconds",
                format!("<= {GRACE_SECONDS}"),
                seconds,
                within,
            ));
        }
        let outcome = Outcome::from_checks(
            checks,
            "the preStop hook ran before SIGTERM, within the grace period".into(),
        );
        if evidence.kill_started_at.is_some() {
            outcome
        } else {
            untold_if_late(outcome, within, from_what, used)
        }
    })
}
