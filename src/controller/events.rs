//! The Events and metrics of a run's transitions.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::events::{Event, EventType};

use crate::api::{ProbePhase, RunPhase, TestRun, TestRunStatus, Verdict};
use crate::verdict::{self, PodObservation};

use super::{Context, act, stage};

/// Events and metrics for what changed between the status before and the one just written:
/// the run's start, each verdict that is not `Passed`, the run's end. Only on these
/// transitions, so a repeated reconcile reports nothing twice (a status write that failed
/// reports nothing, and its retry reports the transition then).
pub(super) async fn report_transitions(
    ctx: &Context,
    run: &TestRun,
    old: &TestRunStatus,
    new: &TestRunStatus,
    pods: &HashMap<String, Arc<Pod>>,
) {
    let metrics = &ctx.config.metrics;
    let mut events = Vec::new();
    if old.start_time.is_none() && new.start_time.is_some() {
        events.push(Event {
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
        metrics
            .probes
            .with_label_values(&[probe.kind.as_str(), verdict.as_str()])
            .inc();
        if let (Some(start), Some(end)) = (&probe.started_at, &probe.finished_at) {
            let seconds = (end.0.as_millisecond() - start.0.as_millisecond()).max(0);
            crate::metrics::Metrics::observe(
                &metrics.probe_duration,
                &[probe.kind.as_str()],
                Duration::from_millis(seconds as u64),
            );
        }
        let ended = probe
            .pods
            .first()
            .and_then(|name| pods.get(name))
            .and_then(|pod| {
                PodObservation::of(pod)
                    .terminated()
                    .and_then(|t| t.finished_at)
            });
        if let Some(ended) = ended {
            let millis = (Timestamp::now().as_millisecond() - ended.as_millisecond()).max(0);
            crate::metrics::Metrics::observe(
                &metrics.verdict_latency,
                &[probe.kind.as_str()],
                Duration::from_millis(millis as u64),
            );
        }
        if probe.verdict == Some(Verdict::Passed) {
            continue;
        }
        events.push(Event {
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
            // The recorder folds events with the same reason and action into one series:
            // each probe's verdict is an action of its own.
            action: verdict::bounded(&format!("Judge {}", probe.name), 128),
            secondary: None,
        });
    }
    if new.is_finished() && !old.is_finished() {
        let phase = new.phase.map(|p| format!("{p:?}")).unwrap_or_default();
        metrics.runs.with_label_values(&[phase.as_str()]).inc();
        let summary = new.summary.clone().unwrap_or_default();
        events.push(Event {
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
    let reference = kube::Resource::object_ref(run, &());
    for event in events {
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
