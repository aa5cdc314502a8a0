//! `streamOrder`: lines written alternately to stdout and stderr all reach the log, each
//! stream's in the order written. The kubelet's log holds both streams in one file, each line
//! tagged with its stream; catches a relay that loses or reorders the lines of one stream while
//! the other is busy, or drops one stream.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, check, equal, finished_pod, log_missing};

/// Lines written to each stream: enough for both relays to be busy at once, and the whole log
/// (about 10 KiB) kept for the comparison.
pub const LINES: usize = 500;

pub const KIND: Kind = Kind {
    name: "streamOrder",
    resolve,
    entry: Entry {
        kind: "streamOrder",
        checks: "500 numbered lines on stdout and 500 on stderr, written alternately, all reach the log once, each stream's in the order written",
        parameters: "-",
        runs: "`echo out N` and `echo err N >&2` for N from 1 to 500, one after the other",
        catches: "a log relay that loses, repeats or reorders the lines of one stream while the other is busy, or drops a stream",
        faults: "streams",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe.stream_order.as_ref()?;
    Some(ProbeKind::StreamOrder)
}

pub fn shape(spec: &mut PodSpec) {
    if let Some(container) = spec.containers.first_mut() {
        // busybox's echo is a builtin: each line is one write to its stream.
        script(
            container,
            r#"i=1; while [ "$i" -le "$1" ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done"#,
            &[&LINES.to_string()],
        );
    }
}

/// How one stream's lines came out: the numbers seen, in log order.
fn numbers<'a>(lines: impl Iterator<Item = &'a str>, prefix: &str) -> Vec<usize> {
    lines
        .filter_map(|l| l.strip_prefix(prefix)?.parse().ok())
        .collect()
}

/// `LINES lines, in order`, or what differs first: a missing, repeated or misplaced number.
fn describe(seen: &[usize]) -> String {
    if let Some((at, n)) = seen.iter().enumerate().find(|(i, n)| **n != i + 1) {
        return format!(
            "{} lines; line {} of the stream is number {n}, not {}",
            seen.len(),
            at + 1,
            at + 1
        );
    }
    if seen.len() == LINES {
        format!("{LINES} lines, in order")
    } else {
        format!("{} lines, in order, the rest missing", seen.len())
    }
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let Some(text) = evidence.log.as_ref().and_then(|l| l.text.as_deref()) else {
            return log_missing("streamOrder");
        };
        let expected = format!("{LINES} lines, in order");
        let out = numbers(text.lines(), "out ");
        let err = numbers(text.lines(), "err ");
        let other = text
            .lines()
            .filter(|l| !(l.starts_with("out ") || l.starts_with("err ")))
            .count();
        Outcome::from_checks(
            vec![
                equal("exitCode", 0, t.exit_code),
                check(
                    "stdout",
                    &expected,
                    describe(&out),
                    describe(&out) == expected,
                ),
                check(
                    "stderr",
                    &expected,
                    describe(&err),
                    describe(&err) == expected,
                ),
                equal("otherLines", 0, other),
            ],
            format!("{LINES} lines of each stream reached the log, each stream in order"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Verdict;
    use crate::verdict::LogObservation;

    fn evidence(log: &str) -> Evidence {
        Evidence {
            log: Some(LogObservation::of(log.as_bytes())),
            ..super::super::recorded(&[include_str!("../../../tests/fixtures/pods/exit-0.json")])
        }
    }

    fn written(order: impl Fn(usize) -> bool) -> String {
        let mut log = String::new();
        for i in 1..=LINES {
            // The kubelet interleaves the two streams as the lines arrived: any interleaving
            // is right as long as each stream keeps its order.
            if order(i) {
                log.push_str(&format!("err {i}\nout {i}\n"));
            } else {
                log.push_str(&format!("out {i}\nerr {i}\n"));
            }
        }
        log
    }

    #[test]
    fn each_stream_in_order_passes_whatever_the_interleaving() {
        let outcome = judge(&evidence(&written(|i| i % 3 == 0))).unwrap();
        assert_eq!(outcome.verdict, Verdict::Passed, "{outcome:?}");
    }

    #[test]
    fn a_stream_reordered_or_dropped_fails() {
        let swapped = written(|_| false)
            .replace("err 7\n", "swap\n")
            .replace("err 8\n", "err 7\n")
            .replace("swap\n", "err 8\n");
        let outcome = judge(&evidence(&swapped)).unwrap();
        assert_eq!(outcome.verdict, Verdict::Failed, "{outcome:?}");
        assert_eq!(outcome.reason, "StderrMismatch");
        assert!(
            outcome.message.contains("number 8, not 7"),
            "{}",
            outcome.message
        );

        let no_stderr: String = written(|_| false)
            .lines()
            .filter(|l| l.starts_with("out"))
            .map(|l| format!("{l}\n"))
            .collect();
        let outcome = judge(&evidence(&no_stderr)).unwrap();
        assert_eq!(outcome.reason, "StderrMismatch");
        assert!(outcome.message.contains("0 lines"), "{}", outcome.message);
    }
}
