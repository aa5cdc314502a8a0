//! `unicodeOutput`: multi-byte UTF-8 (CJK, emoji, combining marks, right-to-left script)
//! reaches the log byte for byte. Catches a log path that re-encodes or splits characters.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome};

/// CJK, emoji, a combining mark (e + U+0301) and right-to-left script.
pub const DEFAULT_UNICODE_TEXT: &str = "héllo 世界 🚀 e\u{301} مرحبا";

pub const KIND: Kind = Kind {
    name: "unicodeOutput",
    resolve,
    entry: Entry {
        kind: "unicodeOutput",
        checks: "multi-byte UTF-8 (CJK, emoji, combining marks, RTL) reaches the log byte for byte",
        parameters: "text",
        runs: "prints multi-byte UTF-8 (CJK, emoji, combining marks)",
        catches: "encoding damage in the log relay",
        faults: "streams",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.unicode_output.as_ref()?;
    Some(ProbeKind::UnicodeOutput {
        text: p
            .text
            .clone()
            .unwrap_or_else(|| DEFAULT_UNICODE_TEXT.into()),
    })
}

pub fn shape(text: &str, spec: &mut PodSpec) {
    if let Some(container) = spec.containers.first_mut() {
        script(container, r#"printf '%s\n' "$1""#, &[text]);
    }
}

pub fn judge(text: &str, evidence: &Evidence) -> Option<Outcome> {
    super::stderr::judge_text("log", text, evidence)
}
