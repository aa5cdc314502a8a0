//! `postStart`: a container's postStart exec hook runs (the container sees what it wrote).
//! Catches a kubelet or runtime that skips the hook, or whose exec does not run it.

use k8s_openapi::api::core::v1::{Lifecycle, LifecycleHandler, PodSpec};

use super::{Kind, ProbeKind, field, log_text, marker_hook, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal, finished_pod, log_missing};

pub const MARKER: &str = "/tmp/proctor-post-start";

pub const KIND: Kind = Kind {
    name: "postStart",
    resolve,
    entry: Entry {
        kind: "postStart",
        checks: "the postStart exec hook runs: the container sees the file it wrote within 10 s",
        parameters: "-",
        runs: "a postStart hook writes a file; the container waits for it and prints it",
        catches: "postStart hooks skipped, or exec'd commands that do not run",
        faults: "exec",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe.post_start.as_ref().map(|_| ProbeKind::PostStart)
}

pub fn shape(spec: &mut PodSpec) {
    let Some(container) = spec.containers.first_mut() else {
        return;
    };
    container.lifecycle = Some(Lifecycle {
        post_start: Some(LifecycleHandler {
            exec: Some(marker_hook(MARKER)),
            ..LifecycleHandler::default()
        }),
        ..Lifecycle::default()
    });
    script(
        container,
        r#"for i in $(seq 1 50); do [ -f "$1" ] && break; sleep 0.2; done; echo "hook: $(cat "$1" 2>/dev/null || echo 'did not run')""#,
        &[MARKER],
    );
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("postStart");
        };
        Outcome::from_checks(
            vec![
                equal("exitCode", 0, t.exit_code),
                equal("hook", "ran", field(log, "hook").unwrap_or("not reported")),
            ],
            "the postStart hook ran".into(),
        )
    })
}
