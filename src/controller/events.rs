//! The Events and metrics of a run's transitions: decided in pure code ([`transitions`]) from
//! the status before and the one just written, then counted and published.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::events::{Event, EventType};

use crate::api::{ProbePhase, RunPhase, TestRun, TestRunStatus, Verdict};
use crate::verdict::{self, PodObservation};

use super::{Context, act, stage};

/// What changed between two statuses of a run, to report.
#[derive(Default)]
pub(super) struct Transitions {
    /// The Events to publish on the run, in order.
    pub events: Vec<Event>,
    /// Each probe that got its verdict: kind, verdict, time from its start to the verdict, and
    /// from its pod's container ending to now (the verdict latency), when known.
    pub judged: Vec<Judged>,
    /// The run's final phase, when it just ended.
    pub ended: Option<RunPhase>,
}

#[derive(Debug, PartialEq)]
pub(super) struct Judged {
    pub kind: String,
    pub verdict: String,
    pub duration: Option<Duration>,
    pub latency: Option<Duration>,
}

/// The run's start, each verdict that is not `Passed`, the run's end: only on these
/// transitions, so a repeated reconcile reports nothing twice (a status write that failed
/// reports nothing, and its retry reports the transition then).
pub(super) fn transitions(
    run: &TestRun,
    old: &TestRunStatus,
    new: &TestRunStatus,
    pods: &HashMap<String, Arc<Pod>>,
    now: Timestamp,
) -> Transitions {
    let mut out = Transitions::default();
    if old.start_time.is_none() && new.start_time.is_some() {
        out.events.push(Event {
            type_: EventType::Normal,
            reason: "Started".into(),
            note: Some(format!("running {} probes", run.spec.probes.len())),
            action: "Start".into(),
            secondary: None,
        });
    }
    for probe in &new.probes {
        let was_finished = old
            .probes
            .iter()
            .any(|p| p.name == probe.name && p.phase == ProbePhase::Finished);
        if probe.phase != ProbePhase::Finished || was_finished {
            continue;
        }
        let verdict = probe.verdict.map(|v| format!("{v:?}")).unwrap_or_default();
        let millis_between = |from: Timestamp, to: Timestamp| {
            Duration::from_millis((to.as_millisecond() - from.as_millisecond()).max(0) as u64)
        };
        let duration = match (&probe.started_at, &probe.finished_at) {
            (Some(start), Some(end)) => Some(millis_between(start.0, end.0)),
            _ => None,
        };
        let latency = probe
            .pods
            .first()
            .and_then(|name| pods.get(name))
            .and_then(|pod| {
                PodObservation::of(pod)
                    .terminated()
                    .and_then(|t| t.finished_at)
            })
            .map(|ended| millis_between(ended, now));
        out.judged.push(Judged {
            kind: probe.kind.clone(),
            verdict: verdict.clone(),
            duration,
            latency,
        });
        if probe.verdict == Some(Verdict::Passed) {
            continue;
        }
        out.events.push(Event {
            type_: if probe.verdict == Some(Verdict::Skipped) {
                EventType::Normal
            } else {
                EventType::Warning
            },
            reason: format!("Probe{verdict}"),
            note: Some(verdict::bounded(
                &format!(
                    "{}: {}: {}",
                    probe.name,
                    probe.reason.as_deref().unwrap_or(""),
                    probe.message.as_deref().unwrap_or("")
                ),
                1000,
            )),
            // The recorder folds events with the same reason and action into one series: each
            // probe's verdict is an action of its own.
            action: verdict::bounded(&format!("Judge {}", probe.name), 128),
            secondary: None,
        });
    }
    if new.is_finished() && !old.is_finished() {
        let phase = new.phase.map(|p| format!("{p:?}")).unwrap_or_default();
        let summary = new.summary.clone().unwrap_or_default();
        out.ended = new.phase;
        out.events.push(Event {
            type_: if new.phase == Some(RunPhase::Succeeded) {
                EventType::Normal
            } else {
                EventType::Warning
            },
            reason: phase.clone(),
            note: Some(format!(
                "{phase}: {} passed, {} failed, {} errors, {} skipped of {}",
                summary.passed, summary.failed, summary.errored, summary.skipped, summary.total
            )),
            action: "Finish".into(),
            secondary: None,
        });
    }
    out
}

/// Counts and publishes what changed between the status before and the one just written
/// ([`transitions`]). A publish that fails is logged, never retried: the verdicts are in the
/// status.
pub(super) async fn report_transitions(
    ctx: &Context,
    run: &TestRun,
    old: &TestRunStatus,
    new: &TestRunStatus,
    pods: &HashMap<String, Arc<Pod>>,
) {
    let metrics = &ctx.config.metrics;
    let changes = transitions(run, old, new, pods, Timestamp::now());
    for judged in &changes.judged {
        metrics
            .probes
            .with_label_values(&[judged.kind.as_str(), judged.verdict.as_str()])
            .inc();
        if let Some(d) = judged.duration {
            crate::metrics::Metrics::observe(&metrics.probe_duration, &[judged.kind.as_str()], d);
        }
        if let Some(d) = judged.latency {
            crate::metrics::Metrics::observe(&metrics.verdict_latency, &[judged.kind.as_str()], d);
        }
    }
    if let Some(phase) = changes.ended {
        metrics
            .runs
            .with_label_values(&[format!("{phase:?}").as_str()])
            .inc();
    }
    let reference = kube::Resource::object_ref(run, &());
    for event in changes.events {
        stage::enter(|| format!("publishing the event {}", event.reason));
        let published =
            tokio::time::timeout(act::CALL_TIMEOUT, ctx.recorder.publish(&event, &reference)).await;
        match published {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(reason = %event.reason, "publishing an Event: {e}"),
            Err(_) => tracing::warn!(reason = %event.reason, "publishing an Event: no answer"),
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;
    use crate::api::ProbeStatus;

    fn run() -> TestRun {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "proctor.dev/v1alpha1", "kind": "TestRun",
            "metadata": {"name": "r", "namespace": "ns", "uid": "u"},
            "spec": {"probes": [
                {"name": "a", "exitCode": {"code": 1}},
                {"name": "b", "exitCode": {"code": 1}},
            ]},
        }))
        .unwrap()
    }

    fn t(second: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + second).unwrap()
    }

    fn finished(name: &str, verdict: Verdict) -> ProbeStatus {
        ProbeStatus {
            name: name.into(),
            kind: "exitCode".into(),
            phase: ProbePhase::Finished,
            verdict: Some(verdict),
            reason: Some("ExitCodeMismatch".into()),
            message: Some("expected exit code 1, observed 0".into()),
            started_at: Some(Time(t(0))),
            finished_at: Some(Time(t(3))),
            ..ProbeStatus::default()
        }
    }

    #[test]
    fn each_transition_is_reported_once() {
        let run = run();
        let none = HashMap::new();
        let fresh = TestRunStatus::default();
        let started = TestRunStatus {
            start_time: Some(Time(t(0))),
            phase: Some(RunPhase::Running),
            ..TestRunStatus::default()
        };
        let first = transitions(&run, &fresh, &started, &none, t(1));
        let reasons = |t: &Transitions| {
            t.events
                .iter()
                .map(|e| e.reason.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(reasons(&first), ["Started"]);
        assert!(first.judged.is_empty() && first.ended.is_none());

        let mut one = started.clone();
        one.probes = vec![finished("a", Verdict::Failed)];
        let judged = transitions(&run, &started, &one, &none, t(4));
        assert_eq!(reasons(&judged), ["ProbeFailed"]);
        assert!(matches!(judged.events[0].type_, EventType::Warning));
        assert!(
            judged.events[0]
                .note
                .as_deref()
                .unwrap_or_default()
                .contains("a: ExitCodeMismatch: expected exit code 1, observed 0")
        );
        assert_eq!(
            judged.judged,
            [Judged {
                kind: "exitCode".into(),
                verdict: "Failed".into(),
                duration: Some(Duration::from_secs(3)),
                latency: None,
            }]
        );

        let mut done = one.clone();
        done.probes.push(finished("b", Verdict::Passed));
        done.phase = Some(RunPhase::Failed);
        let ended = transitions(&run, &one, &done, &none, t(5));
        // b passed: counted, no Event; a was reported already; the run's end once.
        assert_eq!(reasons(&ended), ["Failed"]);
        assert_eq!(ended.judged.len(), 1);
        assert_eq!(ended.ended, Some(RunPhase::Failed));
        let again = transitions(&run, &done, &done, &none, t(6));
        assert!(again.events.is_empty() && again.judged.is_empty() && again.ended.is_none());
    }
}
