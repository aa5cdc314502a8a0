//! `stderr`: text written to stderr reaches the pod log. Catches a shim that drops or
//! misroutes the stderr stream.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal, finished_pod, log_missing, quoted};

const DEFAULT_STDERR_TEXT: &str = "proctor stderr marker";

pub const KIND: Kind = Kind {
    name: "stderr",
    resolve,
    entry: Entry {
        kind: "stderr",
        checks: "text written to stderr reaches the pod log",
        parameters: "text",
        runs: "writes the text to stderr only",
        catches: "a broken stderr relay, invisible to tests that read stdout only",
        faults: "streams",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.stderr.as_ref()?;
    Some(ProbeKind::Stderr {
        text: p.text.clone().unwrap_or_else(|| DEFAULT_STDERR_TEXT.into()),
    })
}

pub fn shape(text: &str, spec: &mut PodSpec) {
    if let Some(container) = spec.containers.first_mut() {
        script(container, r#"printf '%s\n' "$1" >&2"#, &[text]);
    }
}

/// The log equals `text` and a newline, byte for byte (`name`: the check's name).
pub fn judge_text(name: &str, text: &str, evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, _| {
        let Some(log) = evidence.log.as_ref().and_then(|l| l.text.clone()) else {
            return log_missing("log");
        };
        Outcome::from_checks(
            vec![equal(name, quoted(&format!("{text}\n")), quoted(&log))],
            format!("the {name} reached the pod log byte for byte"),
        )
    })
}

pub fn judge(text: &str, evidence: &Evidence) -> Option<Outcome> {
    judge_text("stderr", text, evidence)
}
