//! `largeOutput`: every line of `seq 1 N` (beyond 64 KiB) reaches the log, in order. Catches
//! a log path that drops, reorders or truncates output under volume.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal, finished_pod, log_missing};

pub const KIND: Kind = Kind {
    name: "largeOutput",
    resolve,
    entry: Entry {
        kind: "largeOutput",
        checks: "every line of `seq 1 N` (> 64 KiB) reaches the log, in order",
        parameters: "lines (default 20000)",
        runs: "`seq 1 N`",
        catches: "pipe and FIFO buffer limits, log truncation or duplication",
        faults: "streams",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.large_output.as_ref()?;
    Some(ProbeKind::LargeOutput {
        lines: p.lines.unwrap_or(20000),
    })
}

pub fn shape(lines: i32, spec: &mut PodSpec) {
    if let Some(container) = spec.containers.first_mut() {
        container.command = Some(vec!["seq".into(), "1".into(), lines.to_string()]);
    }
}

pub fn judge(lines: i32, evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, _| {
        let Some(log) = &evidence.log else {
            return log_missing("largeOutput");
        };
        let n = lines as u64;
        Outcome::from_checks(
            vec![
                equal("lineCount", n, log.lines),
                equal("firstLine", "1", log.first_line.as_deref().unwrap_or("")),
                equal(
                    "lastLine",
                    n.to_string().as_str(),
                    log.last_line.as_deref().unwrap_or(""),
                ),
                equal("linesOutOfSequence", 0, log.out_of_sequence),
            ],
            format!(
                "all {n} lines ({} bytes) reached the log in order",
                log.bytes
            ),
        )
    })
}
