//! Pure: what each thing the executor did or observed does to a probe's status. The executor
//! ([`super::execute`]) performs the steps [`super::drive::next`] asks for and hands back what
//! happened as an [`Observed`]; [`record`] alone changes the status, and decides (with the
//! verdict code) what the probe's attempt comes to.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::drive::{self, Step};
use crate::api::{Check, ProbePhase, ProbeStatus, TerminationTimeline, Verdict};
use crate::probes::ResolvedProbe;
use crate::verdict::{self, Evidence, Outcome};

/// What happened to a probe in this reconcile, as the executor saw it.
#[derive(Clone, Debug, PartialEq)]
pub enum Observed {
    /// The probe starts: its first attempt is about to be created.
    Started,
    /// The attempt's pods were created (`pods`, in order); `refused`: the API server refused
    /// one for good, with this outcome.
    Created {
        pods: Vec<String>,
        refused: Option<Outcome>,
    },
    /// The attempt's pods as seen, before a look at the node: their shutdown's timeline.
    Seen(Evidence),
    /// The nodes the attempt's pods were seen on.
    Placed { nodes: Vec<String> },
    /// Everything observed for a verdict: judged by the probe's kind (no verdict yet when the
    /// evidence is not complete).
    Evidence(Evidence),
    /// An exec of an exec kind returned, with what it printed.
    Exec { evidence: Evidence, output: String },
    /// An outcome decided without the kind's judgement (a timeout, a churn that passed, an
    /// action whose outcome was lost, a log the kubelet does not have, a refused inspector).
    Outcome(Outcome),
    /// Proctor asked for the probe's pod to be deleted, with this grace period (the kind's own
    /// delete or a custom action's).
    DeleteRequested {
        grace_period_seconds: i64,
        at: Timestamp,
    },
    /// Proctor deleted churn pods: the first delete starts the clock of "gone within".
    ChurnDeleted { at: Timestamp },
    /// Custom action `index` (an exec) is recorded as started before it runs.
    ActionStarted { index: usize },
    /// Custom action `index` is done; an exec action's check.
    ActionDone { check: Option<Check> },
    /// An exec action was cut off as its probe ran out of time: its check, the action not done.
    ActionCutOff { check: Check },
}

/// What the probe needs from the executor next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Then {
    /// Nothing: carry on (the next step comes from [`drive::next`]).
    Continue,
    /// The attempt passed and another one is due: release its pods, create the next.
    NextAttempt,
    /// The probe has its verdict.
    Finished,
}

/// Applies what was observed to the probe's status `ps`, at `now`.
pub fn record(
    probe: &ResolvedProbe,
    ps: &mut ProbeStatus,
    observed: Observed,
    now: Timestamp,
) -> Then {
    match observed {
        Observed::Started => {
            ps.started_at = Some(Time(now));
            ps.phase = ProbePhase::Running;
            Then::Continue
        }
        Observed::Created { pods, refused } => {
            ps.attempts += 1;
            ps.pods = pods;
            ps.actions_done = 0;
            ps.actions_started = 0;
            ps.attempt_started_at = Some(Time(now));
            ps.checks.clear();
            ps.termination = None;
            ps.nodes.clear();
            match refused {
                Some(outcome) => {
                    finish(ps, outcome, now);
                    Then::Finished
                }
                None => Then::Continue,
            }
        }
        Observed::Seen(evidence) => {
            drive::record_timeline(ps, &evidence);
            Then::Continue
        }
        Observed::Placed { nodes } => {
            ps.nodes = nodes;
            Then::Continue
        }
        Observed::Evidence(evidence) => {
            let Some(outcome) = verdict::evaluate(&probe.kind, &evidence) else {
                return Then::Continue;
            };
            drive::record_timeline(ps, &evidence);
            let outcome = verdict::with_action_checks(&ps.checks, outcome);
            attempt_ended(probe, ps, outcome, now)
        }
        Observed::Exec { evidence, output } => {
            let Some(outcome) = verdict::evaluate(&probe.kind, &evidence) else {
                return Then::Continue;
            };
            attempt_ended(probe, ps, verdict::with_exec_output(outcome, &output), now)
        }
        Observed::Outcome(outcome) => {
            if ps.phase == ProbePhase::Running {
                // What the probe's actions showed stays in the verdict.
                let outcome = verdict::with_action_checks(&ps.checks, outcome);
                attempt_ended(probe, ps, outcome, now)
            } else {
                finish(ps, outcome, now);
                Then::Finished
            }
        }
        Observed::DeleteRequested {
            grace_period_seconds,
            at,
        } => {
            ps.termination = Some(TerminationTimeline {
                grace_period_seconds,
                delete_requested_at: Some(Time(at)),
                ..TerminationTimeline::default()
            });
            Then::Continue
        }
        Observed::ChurnDeleted { at } => {
            if ps.delete_requested_at().is_none() {
                ps.termination = Some(TerminationTimeline {
                    delete_requested_at: Some(Time(at)),
                    ..TerminationTimeline::default()
                });
            }
            Then::Continue
        }
        Observed::ActionStarted { index } => {
            ps.actions_started = i32::try_from(index + 1).unwrap_or(i32::MAX);
            Then::Continue
        }
        Observed::ActionCutOff { check } => {
            ps.checks.push(check);
            Then::Continue
        }
        Observed::ActionDone { check } => {
            ps.checks.extend(check);
            ps.actions_done += 1;
            ps.actions_started = ps.actions_started.max(ps.actions_done);
            Then::Continue
        }
    }
}

/// An attempt ended with `outcome`: the next attempt while every attempt so far passed and
/// repetitions remain, else the probe's verdict.
fn attempt_ended(
    probe: &ResolvedProbe,
    ps: &mut ProbeStatus,
    outcome: Outcome,
    now: Timestamp,
) -> Then {
    if outcome.verdict == Verdict::Passed {
        ps.passed_attempts += 1;
    }
    match drive::after_attempt(probe, ps, outcome) {
        Step::NextAttempt => Then::NextAttempt,
        Step::Finish(outcome) => {
            finish(ps, outcome, now);
            Then::Finished
        }
        _ => Then::Continue,
    }
}

/// The probe's verdict, recorded.
pub fn finish(ps: &mut ProbeStatus, outcome: Outcome, now: Timestamp) {
    ps.phase = ProbePhase::Finished;
    ps.verdict = Some(outcome.verdict);
    ps.reason = Some(outcome.reason);
    ps.message = Some(outcome.message);
    ps.checks = outcome.checks;
    ps.finished_at = Some(Time(now));
    if ps.started_at.is_none() {
        ps.started_at = Some(Time(now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::ProbeKind;

    fn probe(kind: ProbeKind, repeat: i32) -> ResolvedProbe {
        ResolvedProbe {
            name: "p".into(),
            kind,
            image: "i".into(),
            runtime_class_name: None,
            timeout_seconds: 60,
            repeat,
        }
    }

    fn t(second: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + second).unwrap()
    }

    fn passed() -> Outcome {
        Outcome::from_checks(Vec::new(), "fine".into())
    }

    #[test]
    fn a_refused_create_counts_the_attempt_and_ends_the_probe_with_the_servers_words() {
        let exit = probe(ProbeKind::ExitCode { code: 1 }, 1);
        let mut ps = ProbeStatus::default();
        assert_eq!(
            record(&exit, &mut ps, Observed::Started, t(0)),
            Then::Continue
        );
        let refused = Outcome::error("PodRejected", "RuntimeClass \"x\" not found");
        let then = record(
            &exit,
            &mut ps,
            Observed::Created {
                pods: vec!["a".into()],
                refused: Some(refused),
            },
            t(1),
        );
        assert_eq!(then, Then::Finished);
        assert_eq!(ps.attempts, 1);
        assert_eq!(ps.phase, ProbePhase::Finished);
        assert_eq!(ps.verdict, Some(Verdict::Error));
        assert_eq!(ps.reason.as_deref(), Some("PodRejected"));
        assert_eq!(ps.started_at, Some(Time(t(0))));
    }

    #[test]
    fn a_passed_attempt_of_a_repeated_probe_asks_for_the_next_and_a_new_attempt_starts_clean() {
        let exit = probe(ProbeKind::ExitCode { code: 1 }, 2);
        let mut ps = ProbeStatus::default();
        record(&exit, &mut ps, Observed::Started, t(0));
        record(
            &exit,
            &mut ps,
            Observed::Created {
                pods: vec!["a".into()],
                refused: None,
            },
            t(0),
        );
        record(&exit, &mut ps, Observed::ActionDone { check: None }, t(1));
        assert_eq!(
            record(&exit, &mut ps, Observed::Outcome(passed()), t(2)),
            Then::NextAttempt
        );
        assert_eq!((ps.passed_attempts, ps.phase), (1, ProbePhase::Running));
        record(
            &exit,
            &mut ps,
            Observed::Created {
                pods: vec!["b".into()],
                refused: None,
            },
            t(3),
        );
        assert_eq!((ps.attempts, ps.actions_done), (2, 0));
        assert_eq!(ps.attempt_started_at, Some(Time(t(3))));
        let failed = Outcome::error("Timeout", "no verdict");
        assert_eq!(
            record(&exit, &mut ps, Observed::Outcome(failed), t(4)),
            Then::Finished
        );
        assert_eq!(ps.verdict, Some(Verdict::Error));
        assert!(
            ps.message
                .as_deref()
                .unwrap_or_default()
                .starts_with("attempt 2 of 2"),
            "{ps:?}"
        );
    }

    #[test]
    fn actions_are_counted_and_their_checks_kept_for_the_verdict() {
        let custom: crate::api::CustomProbe = serde_json::from_value(serde_json::json!({
            "command": ["true"], "expect": {},
        }))
        .unwrap();
        let probe = probe(ProbeKind::Custom(Box::new(custom)), 1);
        let mut ps = ProbeStatus {
            phase: ProbePhase::Running,
            ..ProbeStatus::default()
        };
        record(&probe, &mut ps, Observed::ActionStarted { index: 0 }, t(0));
        assert_eq!((ps.actions_started, ps.actions_done), (1, 0));
        let check = Check {
            name: "action1ExitCode".into(),
            expected: "5".into(),
            observed: "0".into(),
            passed: false,
        };
        record(
            &probe,
            &mut ps,
            Observed::ActionDone {
                check: Some(check.clone()),
            },
            t(1),
        );
        assert_eq!((ps.actions_started, ps.actions_done), (1, 1));
        // A lost outcome ends the probe with the failed action's check in front.
        let lost = Outcome::error("ActionOutcomeLost", "not run again");
        record(&probe, &mut ps, Observed::Outcome(lost), t(2));
        assert_eq!(ps.reason.as_deref(), Some("ActionOutcomeLost"));
        assert_eq!(ps.checks, vec![check]);
    }

    #[test]
    fn the_first_churn_delete_starts_the_clock_and_later_ones_do_not_move_it() {
        let churn = probe(ProbeKind::RapidCreateDelete { pods: 2 }, 1);
        let mut ps = ProbeStatus::default();
        record(&churn, &mut ps, Observed::ChurnDeleted { at: t(5) }, t(5));
        record(&churn, &mut ps, Observed::ChurnDeleted { at: t(7) }, t(7));
        assert_eq!(ps.delete_requested_at(), Some(t(5)));
        record(
            &churn,
            &mut ps,
            Observed::DeleteRequested {
                grace_period_seconds: 3,
                at: t(9),
            },
            t(9),
        );
        assert_eq!(ps.delete_requested_at(), Some(t(9)));
        assert_eq!(ps.termination.unwrap().grace_period_seconds, 3);
    }

    #[test]
    fn incomplete_evidence_changes_nothing() {
        let exit = probe(ProbeKind::ExitCode { code: 1 }, 1);
        let mut ps = ProbeStatus {
            phase: ProbePhase::Running,
            ..ProbeStatus::default()
        };
        let before = ps.clone();
        let then = record(
            &exit,
            &mut ps,
            Observed::Evidence(Evidence::default()),
            t(0),
        );
        assert_eq!((then, &ps), (Then::Continue, &before));
    }
}
