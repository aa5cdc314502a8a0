//! Pure verdicts: from what was observed of a probe's pods, log and exec to checks — expected
//! against observed — and a verdict. No `kube::Client` here and no clock: times come in with
//! the observations.
//!
//! The vocabulary (PROBES.md): `Passed` — every check held; `Failed` — the system under test
//! misbehaved; `Error` — the probe could not be carried out (image missing, pod deleted by
//! someone else, nothing observed); never `Passed` without having observed what is checked.

mod observe;

pub use observe::{
    ContainerState, ExecObservation, LogCounter, LogObservation, PodObservation, Terminated,
    bounded,
};

use crate::api::{Check, ExpectedPhase, Verdict};
use crate::probes::ProbeKind;

/// The longest expected or observed value written into a check.
pub const MAX_VALUE_CHARS: usize = 256;

/// Everything observed of one attempt of a probe.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    pub pods: Vec<PodObservation>,
    /// The log of the (first) pod's container, once it finished.
    pub log: Option<LogObservation>,
    /// The exec the probe made, for exec kinds.
    pub exec: Option<ExecObservation>,
    /// When Proctor asked for the pod's deletion, for kinds that delete it.
    pub deleted_at: Option<k8s_openapi::jiff::Timestamp>,
    /// When the kubelet began stopping the probe container (its `Killing` Event), for the kinds
    /// whose timing is judged: what the runtime does is measured from there, so that a kubelet
    /// slow to act on a delete or a deadline does not count against the runtime.
    pub kill_started_at: Option<k8s_openapi::jiff::Timestamp>,
}

/// A verdict with its reason, one-sentence message and checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub verdict: Verdict,
    pub reason: String,
    pub message: String,
    pub checks: Vec<Check>,
}

impl Outcome {
    /// An `Error`: the probe could not be carried out.
    pub fn error(reason: &str, message: impl Into<String>) -> Outcome {
        Outcome {
            verdict: Verdict::Error,
            reason: reason.into(),
            message: bounded(&message.into(), 512),
            checks: Vec::new(),
        }
    }

    /// `Passed` when every check held, else `Failed` with the first failing check as reason and
    /// message.
    pub fn from_checks(checks: Vec<Check>, passed_message: String) -> Outcome {
        match checks.iter().find(|c| !c.passed) {
            None => Outcome {
                verdict: Verdict::Passed,
                reason: "AsExpected".into(),
                message: passed_message,
                checks,
            },
            Some(failed) => Outcome {
                verdict: Verdict::Failed,
                reason: format!("{}Mismatch", upper_first(&failed.name)),
                message: format!(
                    "expected {} {}, observed {}",
                    words(&failed.name),
                    failed.expected,
                    failed.observed
                ),
                checks,
            },
        }
    }
}

fn check(name: &str, expected: impl ToString, observed: impl ToString, passed: bool) -> Check {
    Check {
        name: name.into(),
        expected: bounded(&expected.to_string(), MAX_VALUE_CHARS),
        observed: bounded(&observed.to_string(), MAX_VALUE_CHARS),
        passed,
    }
}

fn equal<T: PartialEq + std::fmt::Display>(name: &str, expected: T, observed: T) -> Check {
    let passed = expected == observed;
    check(name, expected, observed, passed)
}

/// Text shown quoted and escaped, so whitespace and newlines are visible.
fn quoted(text: &str) -> String {
    format!("{text:?}")
}

fn upper_first(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `exitCode` → `exit code`, for messages.
fn words(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_uppercase() {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The verdict of one attempt of a probe whose pods are finished (or, for exec kinds, whose
/// exec returned). `None` when the evidence is not complete yet.
pub fn evaluate(kind: &ProbeKind, evidence: &Evidence) -> Option<Outcome> {
    let pod = evidence.pods.first()?;
    if let Some((reason, message)) = pod.blocked() {
        return Some(Outcome::error(
            "PodCannotStart",
            format!("pod {} cannot start: {reason}: {message}", pod.name),
        ));
    }
    match kind {
        ProbeKind::ExecExitCode { code } => {
            let exec = evidence.exec.as_ref()?;
            Some(match (exec.exit_code, &exec.error) {
                (Some(observed), _) => Outcome::from_checks(
                    vec![equal("execExitCode", *code, observed)],
                    format!("exec reported exit code {observed}"),
                ),
                (None, error) => Outcome::error(
                    "ExecFailed",
                    format!(
                        "exec could not run: {}",
                        error.as_deref().unwrap_or("no status")
                    ),
                ),
            })
        }
        ProbeKind::ExecMissingBinary => {
            let exec = evidence.exec.as_ref()?;
            let failed = exec.error.is_some() || exec.exit_code.is_some_and(|c| c != 0);
            let observed = match (exec.exit_code, &exec.error) {
                (Some(code), _) => format!("exit code {code}"),
                (None, Some(error)) => format!("error: {error}"),
                (None, None) => "no status".into(),
            };
            let running = matches!(pod.container, ContainerState::Running { .. });
            let checks = vec![
                check("execResult", "failure", &observed, failed),
                check("podRunning", true, running, running),
            ];
            Some(Outcome::from_checks(
                checks,
                format!("exec failed as expected ({observed})"),
            ))
        }
        ProbeKind::ConcurrentStart { pods } => {
            if evidence.pods.len() < *pods as usize
                || !evidence.pods.iter().all(|p| p.is_finished())
            {
                return None;
            }
            let succeeded = evidence
                .pods
                .iter()
                .filter(|p| p.phase.as_deref() == Some("Succeeded"))
                .count();
            let starts: Vec<_> = evidence
                .pods
                .iter()
                .filter_map(|p| p.terminated().and_then(|t| t.started_at))
                .collect();
            let spread = match (starts.iter().min(), starts.iter().max()) {
                (Some(first), Some(last)) => {
                    format!("{} ms", last.as_millisecond() - first.as_millisecond())
                }
                _ => "unknown".into(),
            };
            let checks = vec![equal("podsSucceeded", *pods as usize, succeeded)];
            Some(Outcome::from_checks(
                checks,
                format!("all {pods} pods succeeded; starts spread over {spread}"),
            ))
        }
        ProbeKind::DeadlineExceeded { seconds } => {
            if !pod.is_finished() {
                return None;
            }
            Some(deadline_outcome(*seconds, pod, evidence.kill_started_at))
        }
        _ => {
            if !pod.is_finished() {
                return None;
            }
            Some(with_start_failure(
                evaluate_finished(kind, pod, evidence),
                pod,
            ))
        }
    }
}

/// Terminated reasons of a container that never ran: its `message` is the runtime's own
/// account of why (e.g. `exec: "x": executable file not found in $PATH`).
const NEVER_RAN: &[&str] = &["StartError", "ContainerCannotRun"];

/// A verdict that is not `Passed` on a container that never ran carries the runtime's words:
/// otherwise "expected exit code 0, observed 128" is all a user sees, and the cause is only in
/// an Event.
fn with_start_failure(mut outcome: Outcome, pod: &PodObservation) -> Outcome {
    let Some(t) = pod.terminated() else {
        return outcome;
    };
    let cause = t.message.as_deref().map(str::trim).unwrap_or_default();
    let never_ran = t.reason.as_deref().is_some_and(|r| NEVER_RAN.contains(&r));
    if outcome.verdict != Verdict::Passed && never_ran && !cause.is_empty() {
        outcome.message = bounded(
            &format!(
                "{}; the container never ran: {}: {cause}",
                outcome.message,
                t.reason.as_deref().unwrap_or_default()
            ),
            1000,
        );
    }
    outcome
}

/// How long after its active deadline the deadline probe's pod may end when Proctor cannot see
/// when the kubelet acted: its grace period ([`crate::probes::DEADLINE_GRACE_SECONDS`]; the pod
/// exits on TERM at once) and five seconds for the kubelet to notice.
pub const DEADLINE_SLACK_SECONDS: i64 = crate::probes::DEADLINE_GRACE_SECONDS + 5;
/// How long after the kubelet began stopping a container the runtime may take to end it, beyond
/// what the probe allows itself (a grace period): one second for timestamps of one-second
/// resolution, one for the runtime to report the end.
pub const KILL_SLACK_SECONDS: i64 = 2;

/// The pod failed for its deadline, and its container really ended soon after the kubelet acted
/// on the deadline. Judged from the pod (the container ends with reason Error and exit 143 or
/// 137) and the kubelet's `Killing` Event: the runtime's part (from the kubelet's kill to the
/// container's end) is checked; the kubelet's part (from the deadline to its kill) is reported.
/// Without the Event, the whole time past the deadline is checked, and a deadline enforced too
/// late is an `Error` that says the two cannot be told apart, never a plain `Failed`.
fn deadline_outcome(
    seconds: i32,
    pod: &PodObservation,
    kill: Option<k8s_openapi::jiff::Timestamp>,
) -> Outcome {
    let phase = pod.phase.clone().unwrap_or_default();
    let finished = pod.terminated().and_then(|t| t.finished_at);
    let deadline = pod.started_at.map(|s| s.as_second() + i64::from(seconds));
    let mut checks = vec![
        equal("phase", "Failed", phase.as_str()),
        equal(
            "podReason",
            "DeadlineExceeded",
            pod.reason.as_deref().unwrap_or(""),
        ),
    ];
    let past = match (deadline, finished) {
        (Some(deadline), Some(end)) => Some(end.as_second() - deadline),
        _ => None,
    };
    match (kill, finished) {
        (Some(kill), Some(end)) => {
            let allowed = crate::probes::DEADLINE_GRACE_SECONDS + KILL_SLACK_SECONDS;
            let used = end.as_second() - kill.as_second();
            checks.push(check(
                "secondsFromKillToEnd",
                format!("<= {allowed}"),
                used,
                used <= allowed,
            ));
            let lag = deadline.map(|d| kill.as_second() - d).unwrap_or_default();
            Outcome::from_checks(
                checks,
                format!(
                    "the pod failed with DeadlineExceeded {}s after its {seconds}s deadline (the kubelet acted {lag}s after it, the runtime ended the container {used}s later)",
                    past.unwrap_or_default()
                ),
            )
        }
        _ => {
            let observed = match (past, finished) {
                (Some(past), _) => past.to_string(),
                (None, None) => "container not terminated".to_owned(),
                (None, Some(_)) => "unknown (no pod start time)".to_owned(),
            };
            let within = past.is_some_and(|p| p <= DEADLINE_SLACK_SECONDS);
            checks.push(check(
                "secondsPastDeadline",
                format!("<= {DEADLINE_SLACK_SECONDS}"),
                observed,
                within,
            ));
            let outcome = Outcome::from_checks(
                checks,
                format!(
                    "the pod failed with DeadlineExceeded {}s after its {seconds}s deadline",
                    past.unwrap_or_default()
                ),
            );
            untold_if_late(outcome, within, "the deadline", past)
        }
    }
}

/// A timing check that failed while Proctor could not see when the kubelet acted: a slow node
/// and a broken runtime look the same, so the verdict says so as an `Error` with the figures.
fn untold_if_late(outcome: Outcome, within: bool, from: &str, seconds: Option<i64>) -> Outcome {
    let only_timing = outcome
        .checks
        .iter()
        .filter(|c| !c.passed)
        .all(|c| c.name == "secondsPastDeadline" || c.name == "shutdownSeconds");
    if within || outcome.verdict != Verdict::Failed || !only_timing {
        return outcome;
    }
    Outcome {
        verdict: Verdict::Error,
        reason: "TimingUnattributed".into(),
        message: format!(
            "the container ended {}s after {from}, later than allowed, and the kubelet's Killing Event was not found: a slow kubelet cannot be told from a slow runtime",
            seconds.unwrap_or_default()
        ),
        checks: outcome.checks,
    }
}

fn evaluate_finished(kind: &ProbeKind, pod: &PodObservation, evidence: &Evidence) -> Outcome {
    let Some(t) = pod.terminated() else {
        return Outcome::error(
            "NoContainerState",
            format!(
                "pod {} finished without a terminated container state",
                pod.name
            ),
        );
    };
    let phase = pod.phase.clone().unwrap_or_default();
    let log_text = || evidence.log.as_ref().and_then(|l| l.text.clone());
    let needs_log = |what: &str| {
        Outcome::error(
            "LogUnavailable",
            format!("the container's log could not be read for the {what} check"),
        )
    };
    match kind {
        ProbeKind::ExitCode { code } => {
            let expected_phase = if *code == 0 { "Succeeded" } else { "Failed" };
            Outcome::from_checks(
                vec![
                    equal("exitCode", *code, t.exit_code),
                    equal("phase", expected_phase, phase.as_str()),
                ],
                format!("exit code {code} propagated"),
            )
        }
        ProbeKind::CommandNotFound => {
            let reason = t.reason.clone().unwrap_or_default();
            Outcome::from_checks(
                vec![
                    equal("phase", "Failed", phase.as_str()),
                    check("exitCode", "non-zero", t.exit_code, t.exit_code != 0),
                ],
                format!("pod failed with {reason} (exit code {})", t.exit_code),
            )
        }
        ProbeKind::Env { value, .. } => {
            let Some(log) = log_text() else {
                return needs_log("env");
            };
            Outcome::from_checks(
                vec![
                    equal("exitCode", 0, t.exit_code),
                    equal(
                        "value",
                        quoted(value),
                        quoted(log.strip_suffix('\n').unwrap_or(&log)),
                    ),
                ],
                "the variable reached the process byte for byte".into(),
            )
        }
        ProbeKind::Stderr { text } | ProbeKind::UnicodeOutput { text } => {
            let Some(log) = log_text() else {
                return needs_log("log");
            };
            let name = if matches!(kind, ProbeKind::Stderr { .. }) {
                "stderr"
            } else {
                "log"
            };
            Outcome::from_checks(
                vec![equal(name, quoted(&format!("{text}\n")), quoted(&log))],
                format!("the {name} reached the pod log byte for byte"),
            )
        }
        ProbeKind::WorkingDir { path } => {
            let Some(log) = log_text() else {
                return needs_log("workingDir");
            };
            Outcome::from_checks(
                vec![equal(
                    "workingDir",
                    path.as_str(),
                    log.trim_end_matches('\n'),
                )],
                format!("the process ran in {path}"),
            )
        }
        ProbeKind::LargeOutput { lines } => {
            let Some(log) = &evidence.log else {
                return needs_log("largeOutput");
            };
            let n = *lines as u64;
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
        }
        ProbeKind::ReadOnlyVolume => {
            // The kernel's answer is the evidence; the exit code is another probe's business.
            let log = log_text().unwrap_or_default();
            let refused = log.contains("Read-only file system");
            if !refused && t.exit_code != 0 {
                return Outcome::error(
                    "WriteFailedOtherwise",
                    format!(
                        "the write failed for another reason than a read-only mount: {}",
                        bounded(log.trim(), 200)
                    ),
                );
            }
            let observed = if refused {
                "refused (Read-only file system)"
            } else {
                "succeeded"
            };
            Outcome::from_checks(
                vec![check(
                    "write",
                    "refused (Read-only file system)",
                    observed,
                    refused,
                )],
                "the write to the read-only volume was refused".into(),
            )
        }
        ProbeKind::OomKill { .. } => Outcome::from_checks(
            vec![
                equal("reason", "OOMKilled", t.reason.as_deref().unwrap_or("")),
                equal("exitCode", 137, t.exit_code),
            ],
            "the container was OOMKilled with exit code 137".into(),
        ),
        ProbeKind::DeadlineExceeded { seconds } => {
            deadline_outcome(*seconds, pod, evidence.kill_started_at)
        }
        ProbeKind::TerminationMessage {
            text,
            fallback_to_logs,
        } => {
            let expected = if *fallback_to_logs {
                format!("{text}\n")
            } else {
                text.clone()
            };
            Outcome::from_checks(
                vec![equal(
                    "terminationMessage",
                    quoted(&expected),
                    quoted(t.message.as_deref().unwrap_or("")),
                )],
                "the termination message reached the container status".into(),
            )
        }
        ProbeKind::RestartCount { failures } => Outcome::from_checks(
            vec![
                equal("restartCount", *failures, pod.restart_count),
                equal("phase", "Succeeded", phase.as_str()),
            ],
            format!("{failures} restarts counted"),
        ),
        ProbeKind::GracefulShutdown {
            grace_period_seconds,
        } => {
            let seen_term = t
                .message
                .as_deref()
                .is_some_and(|m| m.contains(crate::probes::TERM_MARKER));
            let mut checks = vec![
                equal("exitCode", 0, t.exit_code),
                check("sigtermHandled", true, seen_term, seen_term),
            ];
            // The runtime's part is measured from when the kubelet began stopping the
            // container (its Killing Event), not from the delete request: a kubelet slow to act
            // on the delete is not the runtime's fault. Timestamps have one-second resolution.
            let (from, from_what) = match evidence.kill_started_at {
                Some(kill) => (Some(kill), "the kubelet began stopping it"),
                None => (evidence.deleted_at, "the delete"),
            };
            let mut used = None;
            let mut within = true;
            if let (Some(from), Some(finished)) = (from, t.finished_at) {
                let seconds = finished.as_second() - from.as_second();
                within = seconds <= i64::from(*grace_period_seconds) + 1;
                used = Some(seconds);
                checks.push(check(
                    "shutdownSeconds",
                    format!("<= {grace_period_seconds}"),
                    seconds,
                    within,
                ));
            }
            let lag = match (evidence.kill_started_at, evidence.deleted_at) {
                (Some(kill), Some(deleted)) => format!(
                    " (the kubelet began stopping it {}s after the delete)",
                    kill.as_second() - deleted.as_second()
                ),
                _ => String::new(),
            };
            let outcome = Outcome::from_checks(
                checks,
                format!("SIGTERM was delivered and the process shut down in time{lag}"),
            );
            if evidence.kill_started_at.is_some() {
                outcome
            } else {
                untold_if_late(outcome, within, from_what, used)
            }
        }
        ProbeKind::Custom(custom) => {
            evaluate_custom(&custom.expect, pod, t, &phase, evidence.log.as_ref())
        }
        ProbeKind::ProcessGroupKill { .. }
        | ProbeKind::RapidCreateDelete { .. }
        | ProbeKind::ExecExitCode { .. }
        | ProbeKind::ExecMissingBinary
        | ProbeKind::ConcurrentStart { .. } => Outcome::error(
            "NotEvaluated",
            format!("{} is not judged from a finished pod alone", kind.name()),
        ),
    }
}

/// The process-group-kill verdict from the node's processes still carrying the marker of the
/// killed pod (`leftovers`, listed by the inspector) and the pod as observed. `None`: nothing is
/// left on the node, yet the container has not ended: look again.
pub fn process_group_kill(pod: Option<&PodObservation>, leftovers: &[String]) -> Option<Outcome> {
    let terminated = pod.and_then(|p| p.terminated());
    if leftovers.is_empty() && terminated.is_none() {
        return None;
    }
    let check = check(
        "leftoverProcesses",
        0,
        leftovers.len(),
        leftovers.is_empty(),
    );
    Some(if leftovers.is_empty() {
        Outcome {
            verdict: Verdict::Passed,
            reason: "AsExpected".into(),
            message: format!(
                "no process of the pod's group was left on the node (container exit code {})",
                terminated
                    .map(|t| t.exit_code.to_string())
                    .unwrap_or_else(|| "unknown".into())
            ),
            checks: vec![check],
        }
    } else {
        Outcome {
            verdict: Verdict::Failed,
            reason: "LeftoverProcessesMismatch".into(),
            message: bounded(
                &format!(
                    "expected leftover processes 0, observed {}: {}",
                    leftovers.len(),
                    leftovers.join("; ")
                ),
                512,
            ),
            checks: vec![check],
        }
    })
}

/// A verdict on an exec probe that did not pass, with what the exec printed (bounded).
pub fn with_exec_output(mut outcome: Outcome, output: &str) -> Outcome {
    if outcome.verdict != Verdict::Passed && !output.trim().is_empty() {
        outcome.message = bounded(
            &format!("{} (exec output: {})", outcome.message, output.trim()),
            512,
        );
    }
    outcome
}

/// The outcome of a probe whose container log the kubelet does not have (the API server
/// answered 400 or 404, e.g. the finished container was removed): retrying cannot help.
pub fn log_unavailable(pod: &str, server_message: &str) -> Outcome {
    Outcome::error(
        "LogUnavailable",
        format!("the log of pod {pod} could not be read: {server_message}"),
    )
}

/// A custom probe's outcome with the checks of its actions (execs) in front: an action whose
/// check failed fails the probe even when the final expectations held.
pub fn with_action_checks(actions: &[Check], outcome: Outcome) -> Outcome {
    if actions.is_empty() || outcome.verdict != Verdict::Passed {
        let mut checks = actions.to_vec();
        checks.extend(outcome.checks.iter().cloned());
        return Outcome { checks, ..outcome };
    }
    let mut checks = actions.to_vec();
    checks.extend(outcome.checks);
    Outcome::from_checks(checks, outcome.message)
}

/// The check of one exec action of a custom probe.
pub fn exec_action_check(index: usize, expected: Option<i32>, exec: &ExecObservation) -> Check {
    let observed = match (exec.exit_code, &exec.error) {
        (Some(code), _) => code.to_string(),
        (None, Some(error)) => format!("error: {error}"),
        (None, None) => "no status".into(),
    };
    let name = format!("action{}ExitCode", index + 1);
    match expected {
        Some(code) => check(&name, code, &observed, exec.exit_code == Some(code)),
        None => check(&name, "any", &observed, true),
    }
}

fn evaluate_custom(
    expect: &crate::api::Expectations,
    pod: &PodObservation,
    t: &Terminated,
    phase: &str,
    log: Option<&LogObservation>,
) -> Outcome {
    let mut checks = Vec::new();
    if let Some(p) = expect.phase {
        let wanted = match p {
            ExpectedPhase::Succeeded => "Succeeded",
            ExpectedPhase::Failed => "Failed",
        };
        checks.push(equal("phase", wanted, phase));
    }
    if let Some(code) = expect.exit_code {
        checks.push(equal("exitCode", code, t.exit_code));
    }
    if let Some(reason) = &expect.reason {
        checks.push(equal(
            "reason",
            reason.as_str(),
            t.reason.as_deref().unwrap_or(""),
        ));
    }
    if let Some(message) = &expect.termination_message {
        checks.push(equal(
            "terminationMessage",
            quoted(message),
            quoted(t.message.as_deref().unwrap_or("")),
        ));
    }
    if let Some(count) = expect.restart_count {
        checks.push(equal("restartCount", count, pod.restart_count));
    }
    if expect.log_equals.is_some() || expect.log_contains.is_some() {
        let Some(log) = log else {
            return Outcome::error("LogUnavailable", "the container's log could not be read");
        };
        if let Some(whole) = &expect.log_equals {
            match &log.text {
                Some(text) => checks.push(equal("log", quoted(whole), quoted(text))),
                // Longer than any expected log can be (4096 characters): not equal.
                None => checks.push(check(
                    "log",
                    quoted(whole),
                    format!("a log of {} bytes", log.bytes),
                    false,
                )),
            }
        }
        let parts = expect.log_contains.as_deref().unwrap_or_default();
        for (i, part) in parts.iter().enumerate() {
            // Searched while the log streamed (any size); a small log given whole in tests is
            // searched here.
            let found = match (&log.text, log.found.get(i)) {
                (_, Some(found)) if log.found.len() == parts.len() => *found,
                (Some(text), _) => text.contains(part.as_str()),
                (None, _) => false,
            };
            let observed = match (found, log.cut) {
                (true, _) => "present".to_owned(),
                (false, false) => "absent".to_owned(),
                (false, true) => format!("absent from the first {} bytes read", log.bytes),
            };
            checks.push(check("logContains", quoted(part), observed, found));
        }
    }
    let count = checks.len();
    Outcome::from_checks(checks, format!("all {count} expectations held"))
}

#[cfg(test)]
mod tests;
