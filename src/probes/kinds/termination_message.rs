//! `terminationMessage`: what the container writes to `/dev/termination-log` (or, with
//! `FallbackToLogsOnError`, its log's tail) reaches the container status byte for byte.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal, finished_pod, quoted};

const DEFAULT_TERMINATION_TEXT: &str = "proctor termination message";

pub const KIND: Kind = Kind {
    name: "terminationMessage",
    resolve,
    entry: Entry {
        kind: "terminationMessage",
        checks: "/dev/termination-log (or the log tail, with FallbackToLogsOnError) reaches the status",
        parameters: "text, fallbackToLogsOnError",
        runs: "writes to /dev/termination-log (or, with fallback, only to the log) and fails",
        catches: "termination message plumbing, and the log-tail fallback",
        faults: "exit",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.termination_message.as_ref()?;
    Some(ProbeKind::TerminationMessage {
        text: p
            .text
            .clone()
            .unwrap_or_else(|| DEFAULT_TERMINATION_TEXT.into()),
        fallback_to_logs: p.fallback_to_logs_on_error.unwrap_or(false),
    })
}

pub fn shape(text: &str, fallback_to_logs: bool, spec: &mut PodSpec) {
    let Some(container) = spec.containers.first_mut() else {
        return;
    };
    if fallback_to_logs {
        container.termination_message_policy = Some("FallbackToLogsOnError".into());
        script(container, r#"printf '%s\n' "$1"; exit 1"#, &[text]);
    } else {
        script(
            container,
            r#"printf '%s' "$1" > /dev/termination-log"#,
            &[text],
        );
    }
}

pub fn judge(text: &str, fallback_to_logs: bool, evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let expected = if fallback_to_logs {
            format!("{text}\n")
        } else {
            text.to_owned()
        };
        Outcome::from_checks(
            vec![equal(
                "terminationMessage",
                quoted(&expected),
                quoted(t.message.as_deref().unwrap_or("")),
            )],
            "the termination message reached the container status".into(),
        )
    })
}
