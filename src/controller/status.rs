//! Pure: the run-level status — summary, phase and conditions — from the probes' statuses.
//!
//! Conditions follow kstatus, so Flux, Argo CD and `kstatus` read a finished run as finished
//! whatever its outcome: `Reconciling` is True while probes run; `Ready` is True once every probe
//! has a verdict; `Stalled` is True when the run cannot proceed (an invalid probe). The outcome is
//! a condition of its own, `Passed`: True when every probe passed or was skipped, False when any
//! failed or errored, Unknown until then; `kubectl wait --for=condition=Passed` gates on it.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use crate::api::{ProbePhase, ProbeStatus, RunPhase, Summary, Verdict};

pub const READY: &str = "Ready";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";
pub const PASSED: &str = "Passed";

pub fn summary(probes: &[ProbeStatus]) -> Summary {
    let mut s = Summary {
        total: probes.len() as i32,
        ..Summary::default()
    };
    for p in probes {
        match (p.phase, p.verdict) {
            (_, Some(Verdict::Passed)) => s.passed += 1,
            (_, Some(Verdict::Failed)) => s.failed += 1,
            (_, Some(Verdict::Error)) => s.errored += 1,
            (_, Some(Verdict::Skipped)) => s.skipped += 1,
            (ProbePhase::Running, None) => s.running += 1,
            (_, None) => s.pending += 1,
        }
    }
    s.passed_of_total = format!("{}/{}", s.passed, s.total);
    s
}

/// The run's phase: `Failed` wins over `Error`, which wins over `Succeeded`.
pub fn phase(s: &Summary) -> RunPhase {
    if s.running + s.pending > 0 {
        if s.running > 0 || s.passed + s.failed + s.errored + s.skipped > 0 {
            RunPhase::Running
        } else {
            RunPhase::Pending
        }
    } else if s.failed > 0 {
        RunPhase::Failed
    } else if s.errored > 0 {
        RunPhase::Error
    } else {
        RunPhase::Succeeded
    }
}

/// Sets a condition, keeping `lastTransitionTime` unless the status flips.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    generation: Option<i64>,
    now: Timestamp,
) {
    let last_transition_time = conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    let condition = Condition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.into(),
        message,
        observed_generation: generation,
        last_transition_time,
    };
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(existing) => *existing = condition,
        None => conditions.push(condition),
    }
}

/// All four conditions for a run in `phase` with `summary`; `stalled` names an invalid probe.
pub fn set_conditions(
    conditions: &mut Vec<Condition>,
    phase: RunPhase,
    s: &Summary,
    stalled: Option<String>,
    generation: Option<i64>,
    now: Timestamp,
) {
    let finished = phase.is_terminal();
    let counts = format!(
        "{} of {} probes passed, {} failed, {} errors, {} skipped",
        s.passed, s.total, s.failed, s.errored, s.skipped
    );
    if finished {
        set_condition(
            conditions,
            READY,
            "True",
            "RunFinished",
            counts.clone(),
            generation,
            now,
        );
        set_condition(
            conditions,
            RECONCILING,
            "False",
            "RunFinished",
            "every probe has a verdict".into(),
            generation,
            now,
        );
    } else {
        let progress = format!("{} probes running, {} pending", s.running, s.pending);
        set_condition(
            conditions,
            READY,
            "False",
            "ProbesRunning",
            progress.clone(),
            generation,
            now,
        );
        set_condition(
            conditions,
            RECONCILING,
            "True",
            "ProbesRunning",
            progress,
            generation,
            now,
        );
    }
    match stalled {
        Some(why) => set_condition(
            conditions,
            STALLED,
            "True",
            "InvalidProbe",
            why,
            generation,
            now,
        ),
        None => set_condition(
            conditions,
            STALLED,
            "False",
            "Progressing",
            "the run can proceed".into(),
            generation,
            now,
        ),
    }
    let (status, reason) = match phase {
        RunPhase::Succeeded => ("True", "AllProbesPassed"),
        RunPhase::Failed => ("False", "ProbesFailed"),
        RunPhase::Error => ("False", "ProbesErrored"),
        RunPhase::Pending | RunPhase::Running => ("Unknown", "ProbesRunning"),
    };
    set_condition(conditions, PASSED, status, reason, counts, generation, now);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(phase: ProbePhase, verdict: Option<Verdict>) -> ProbeStatus {
        ProbeStatus {
            phase,
            verdict,
            ..ProbeStatus::default()
        }
    }

    #[test]
    fn summary_and_phase_follow_the_verdicts() {
        let mut probes = vec![
            probe(ProbePhase::Finished, Some(Verdict::Passed)),
            probe(ProbePhase::Running, None),
            probe(ProbePhase::Pending, None),
        ];
        let s = summary(&probes);
        assert_eq!(
            (s.passed, s.running, s.pending, s.passed_of_total.as_str()),
            (1, 1, 1, "1/3")
        );
        assert_eq!(phase(&s), RunPhase::Running);
        probes[1] = probe(ProbePhase::Finished, Some(Verdict::Error));
        probes[2] = probe(ProbePhase::Finished, Some(Verdict::Skipped));
        assert_eq!(phase(&summary(&probes)), RunPhase::Error);
        probes[2] = probe(ProbePhase::Finished, Some(Verdict::Failed));
        assert_eq!(
            phase(&summary(&probes)),
            RunPhase::Failed,
            "Failed wins over Error"
        );
        let all_pending = vec![probe(ProbePhase::Pending, None)];
        assert_eq!(phase(&summary(&all_pending)), RunPhase::Pending);
    }

    #[test]
    fn a_finished_failing_run_is_ready_and_not_reconciling_but_not_passed() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let mut conditions = Vec::new();
        let s = summary(&[probe(ProbePhase::Finished, Some(Verdict::Failed))]);
        set_conditions(&mut conditions, RunPhase::Failed, &s, None, Some(1), now);
        let get = |t: &str| {
            conditions
                .iter()
                .find(|c| c.type_ == t)
                .unwrap()
                .status
                .clone()
        };
        assert_eq!(
            (get(READY), get(RECONCILING), get(STALLED), get(PASSED)),
            (
                "True".into(),
                "False".into(),
                "False".into(),
                "False".into()
            )
        );
    }

    #[test]
    fn transition_time_is_kept_unless_the_status_flips() {
        let t0 = Timestamp::from_second(1_700_000_000).unwrap();
        let t1 = Timestamp::from_second(1_700_000_100).unwrap();
        let mut conditions = Vec::new();
        set_condition(&mut conditions, READY, "False", "A", "a".into(), None, t0);
        set_condition(&mut conditions, READY, "False", "B", "b".into(), None, t1);
        assert_eq!(conditions[0].last_transition_time.0, t0);
        assert_eq!(conditions[0].reason, "B");
        set_condition(&mut conditions, READY, "True", "C", "c".into(), None, t1);
        assert_eq!(conditions[0].last_transition_time.0, t1);
        assert_eq!(conditions.len(), 1);
    }
}
