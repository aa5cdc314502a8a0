//! `previousLog`: after a container restarts, the log of its previous run is still readable
//! (`kubectl logs --previous`) and holds that run's output only, while the current log holds the
//! new run's. The kubelet keeps one log file per run and finds the previous one through the
//! runtime's record of the dead container; catches a runtime or kubelet that reuses, empties or
//! removes the previous run's log at the restart, or serves the current one in its place.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, empty_dir, mount, script};
use crate::api::Probe;
use crate::controller::drive::{At, Step};
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, check, equal, log_missing, quoted};

/// What the first run prints, line by line, before it fails.
const FIRST_RUN_LINES: usize = 5;
/// How long the second run stays: the kubelet keeps one dead run per container, so the first
/// run's log is there only while the second one runs; Proctor reads both meanwhile.
const SECOND_RUN_SECONDS: u32 = 90;

pub const KIND: Kind = Kind {
    name: "previousLog",
    resolve,
    entry: Entry {
        kind: "previousLog",
        checks: "after a restart the previous run's log (`previous=true`) holds exactly that run's output, and the current log only the new run's",
        parameters: "-",
        runs: "restartPolicy OnFailure; the first run prints five numbered lines and exits 7, the second prints `run 2` and waits; Proctor reads both logs while the second runs (the kubelet keeps one dead run per container)",
        catches: "the previous run's log emptied, removed or reused at the restart, or the current log served in its place",
        faults: "exit, volumes",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe.previous_log.as_ref()?;
    Some(ProbeKind::PreviousLog)
}

pub fn shape(spec: &mut PodSpec) {
    spec.restart_policy = Some("OnFailure".into());
    spec.volumes = Some(vec![empty_dir("state")]);
    if let Some(container) = spec.containers.first_mut() {
        container.volume_mounts = Some(vec![mount("state", "/state", false)]);
        script(
            container,
            r#"if [ -e /state/ran ]; then echo "run 2"; sleep "$2"; exit 0; fi
touch /state/ran
i=1; while [ "$i" -le "$1" ]; do echo "run 1: line $i"; i=$((i+1)); done
exit 7"#,
            &[
                &FIRST_RUN_LINES.to_string(),
                &SECOND_RUN_SECONDS.to_string(),
            ],
        );
    }
}

fn first_run() -> String {
    (1..=FIRST_RUN_LINES)
        .map(|i| format!("run 1: line {i}\n"))
        .collect()
}

/// Judge once the second run runs (both logs are there then), or once the pod ended (no
/// restart: the first run did not fail).
pub fn step(at: &At) -> Step {
    if at.finished || (at.running && at.first.restart_count >= 1) {
        Step::Judge { read_log: true }
    } else {
        Step::Wait
    }
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    let pod = evidence.pods.first()?;
    if !pod.is_finished() && pod.restart_count == 0 {
        return None;
    }
    let current = evidence.log.as_ref().and_then(|l| l.text.as_deref());
    // The second run just started: its line is not in its log yet.
    if !pod.is_finished() && !current.is_some_and(|c| c.contains('\n')) {
        return None;
    }
    {
        let Some(current) = current else {
            return Some(log_missing("previousLog"));
        };
        let previous = match &evidence.previous_log {
            Some(Ok(log)) => match &log.text {
                Some(text) => quoted(text),
                None => "more than 64 KiB".to_owned(),
            },
            Some(Err(message)) => format!("none: {message}"),
            None => return Some(log_missing("previousLog (its previous run)")),
        };
        let expected_previous = quoted(&first_run());
        Some(Outcome::from_checks(
            vec![
                equal("restartCount", 1, pod.restart_count),
                check(
                    "previousLog",
                    &expected_previous,
                    &previous,
                    previous == expected_previous,
                ),
                equal("currentLog", quoted("run 2\n"), quoted(current)),
            ],
            "the previous run's log was readable after the restart, with that run's output only"
                .to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Verdict;
    use crate::verdict::LogObservation;

    fn evidence(previous: Result<&str, &str>, current: &str) -> Evidence {
        Evidence {
            log: Some(LogObservation::of(current.as_bytes())),
            previous_log: Some(
                previous
                    .map(|p| LogObservation::of(p.as_bytes()))
                    .map_err(str::to_owned),
            ),
            ..super::super::recorded(&[include_str!(
                "../../../tests/fixtures/pods/previous-log-restarted.json"
            )])
        }
    }

    #[test]
    fn the_first_runs_lines_in_the_previous_log_pass() {
        let outcome = judge(&evidence(Ok(&first_run()), "run 2\n")).unwrap();
        assert_eq!(outcome.verdict, Verdict::Passed, "{outcome:?}");
    }

    #[test]
    fn an_emptied_missing_or_current_previous_log_fails() {
        let emptied = judge(&evidence(Ok(""), "run 2\n")).unwrap();
        assert_eq!(emptied.reason, "PreviousLogMismatch");
        assert!(
            emptied.message.contains("observed \"\""),
            "{}",
            emptied.message
        );
        let missing = judge(&evidence(
            Err("previous terminated container \"probe\" in pod \"p\" not found"),
            "run 2\n",
        ))
        .unwrap();
        assert_eq!(missing.verdict, Verdict::Failed);
        assert!(missing.message.contains("not found"), "{}", missing.message);
        let current = judge(&evidence(Ok("run 2\n"), "run 2\n")).unwrap();
        assert_eq!(current.reason, "PreviousLogMismatch");
        let both = judge(&evidence(
            Ok(&first_run()),
            &format!("{}run 2\n", first_run()),
        ))
        .unwrap();
        assert_eq!(both.reason, "CurrentLogMismatch");
    }
}
