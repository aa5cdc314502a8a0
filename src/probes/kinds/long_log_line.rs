//! `longLogLine`: a line longer than the runtime's log buffer reaches the log whole. containerd
//! splits lines over 16 KiB into partial CRI log entries, which the kubelet must join again.
//! Catches a runtime that writes the pieces as lines of their own, or cuts the line.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, check, equal, finished_pod, log_missing};

pub const KIND: Kind = Kind {
    name: "longLogLine",
    resolve,
    entry: Entry {
        kind: "longLogLine",
        checks: "one line longer than the runtime's 16 KiB log buffer (default 40000 bytes) reaches the log as one line, byte for byte",
        parameters: "bytes (default 40000; 16385 to 60000)",
        runs: "prints the numbers from 1 up, comma separated, as one line of the asked length, then `end`",
        catches: "partial log entries not joined again (the line arrives in pieces), or cut",
        faults: "volumes",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.long_log_line.as_ref()?;
    Some(ProbeKind::LongLogLine {
        bytes: p.bytes.unwrap_or(40_000),
    })
}

/// The line: `1,2,3,...` cut to `bytes`.
pub fn line(bytes: i32) -> String {
    let mut out = String::new();
    let mut n = 1;
    while out.len() < bytes as usize {
        out.push_str(&n.to_string());
        out.push(',');
        n += 1;
    }
    out.truncate(bytes as usize);
    out
}

pub fn shape(bytes: i32, spec: &mut PodSpec) {
    if let Some(container) = spec.containers.first_mut() {
        // `seq -s ,` writes the numbers in one line; `head -c` cuts it to length.
        script(
            container,
            r#"seq -s , 1 "$2" | head -c "$1"; echo; echo end"#,
            &[&bytes.to_string(), &(bytes / 2 + 10).to_string()],
        );
    }
}

pub fn judge(bytes: i32, evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let Some(log) = evidence.log.as_ref() else {
            return log_missing("longLogLine");
        };
        let Some(text) = log.text.as_deref() else {
            return log_missing("longLogLine (more than 64 KiB)");
        };
        let expected = format!("{}\nend\n", line(bytes));
        let lines: Vec<&str> = text.lines().collect();
        let first = lines.first().copied().unwrap_or_default();
        Outcome::from_checks(
            vec![
                equal("exitCode", 0, t.exit_code),
                equal("lineCount", 2, lines.len()),
                check(
                    "line",
                    format!("{bytes} bytes"),
                    if first == line(bytes) {
                        format!("{} bytes, byte for byte", first.len())
                    } else {
                        format!("{} bytes, not the line written", first.len())
                    },
                    text == expected,
                ),
            ],
            format!("the {bytes}-byte line reached the log whole"),
        )
    })
}
