//! One reconcile of a run: observe (the run, its pods from the cache), decide and act
//! ([`super::schedule`]), record (the status, only when it changed), then release, clean up
//! and requeue.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;
use kube::runtime::controller::Action;

use crate::api::{LABEL_RUN_UID, TestRun};
use crate::probes::RunContext;

use super::{Context, Error, act, claim, stage, status};

use super::events::report_transitions;
use super::schedule::RunWork;

/// How long a reconcile waits for the cache to show the status this process wrote before it
/// goes ahead anyway (someone else may have changed the status since).
const STALE_CACHE_PATIENCE: Duration = Duration::from_secs(10);

/// One reconcile, measured: its duration, and its errors by category.
pub(super) async fn reconcile(run: Arc<TestRun>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let name = format!(
        "{}/{}",
        run.metadata.namespace.as_deref().unwrap_or_default(),
        run.metadata.name.as_deref().unwrap_or_default()
    );
    let stage = stage::Stage::new(&name);
    // No deadline here: each call the reconcile waits for is bounded where it is made (an API
    // call by `act::CALL_TIMEOUT`, an exec by the time its probe has left).
    let span = tracing::info_span!("reconcile", run = %name);
    let ctx_metrics = ctx.config.metrics.clone();
    let result = tracing::Instrument::instrument(stage.scope(reconcile_run(run, ctx)), span).await;
    stage.end(&result);
    let metrics = &ctx_metrics;
    crate::metrics::Metrics::observe(&metrics.reconcile_duration, &[], started.elapsed());
    if let Err(e) = &result {
        metrics
            .reconcile_errors
            .with_label_values(&[e.category()])
            .inc();
    }
    result
}

async fn reconcile_run(run: Arc<TestRun>, ctx: Arc<Context>) -> Result<Action, Error> {
    stage::enter(|| "waiting for the pod cache".into());
    if !ctx.pods_ready.wait().await {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    match claim::decide(&run, &ctx.config.claim, ctx.config.claims_unclaimed) {
        claim::Claim::Ours => {}
        // Served by another controller: this one writes nothing (the claim changes only by
        // someone's hand, which is a change of the run).
        claim::Claim::NotOurs => return Ok(Action::await_change()),
        claim::Claim::Unclaimed => {
            stage::enter(|| "claiming the run".into());
            // Claimed or not, the run changed: its watch event brings the next reconcile.
            act::claim_run(&ctx.client, &run, &ctx.config.claim).await?;
            return Ok(Action::requeue(Duration::from_secs(2)));
        }
    }
    stage::enter(|| "deciding".into());
    let Some(rc) = RunContext::of(&run, &ctx.config.default_image) else {
        return Ok(Action::await_change());
    };
    if cache_is_behind(&ctx, &run, &rc.run_uid) {
        return Ok(Action::requeue(Duration::from_millis(200)));
    }
    let now = Timestamp::now();
    let pods: HashMap<String, Arc<Pod>> = ctx
        .pods
        .state()
        .into_iter()
        .filter(|p| p.namespace() == run.namespace() && is_owned_by(p, &rc.run_uid))
        .map(|p| (p.name_any(), p))
        .collect();

    // A run being deleted runs nothing more: its pods are released so that the garbage
    // collector can take them (and, with foreground deletion, the run after them).
    if run.metadata.deletion_timestamp.is_some() {
        for pod in pods.values() {
            act::release_pod(&ctx.client, pod).await?;
        }
        return Ok(Action::await_change());
    }

    let old_status = run.status.clone().unwrap_or_default();
    let mut status = old_status.clone();
    if status.start_time.is_none() {
        status.start_time = Some(Time(now));
    }
    status.observed_generation = run.metadata.generation;

    let mut work = RunWork {
        ctx: &ctx,
        run: &run,
        rc: &rc,
        pods: &pods,
        now,
        requeue: None,
        stalled: None,
        room: false,
        taken: Vec::new(),
    };
    status.probes = work.probes(&old_status).await?;

    let summary = status::summary(&status.probes);
    let phase = status::phase(&summary);
    let finished = phase.is_terminal();
    if finished && status.completion_time.is_none() {
        status.completion_time = Some(Time(now));
    }
    status::set_conditions(
        &mut status.conditions,
        phase,
        &summary,
        work.stalled.clone(),
        run.metadata.generation,
        now,
    );
    status.phase = Some(phase);
    status.summary = Some(summary);

    if status != old_status {
        let written =
            act::apply_status(&ctx.client, &run, &status, &ctx.config.field_manager).await?;
        report_transitions(&ctx, &run, &old_status, &written, &pods).await;
        if let Ok(mut map) = ctx.written.lock() {
            map.retain(|_, (_, at)| at.elapsed() < STALE_CACHE_PATIENCE);
            map.insert(rc.run_uid.clone(), (written, std::time::Instant::now()));
        }
    }
    // The outcomes of background execs are recorded now (or there was nothing to write).
    for key in std::mem::take(&mut work.taken) {
        ctx.actions.forget(&key);
    }
    work.release_finished(&status).await;

    if finished {
        work.clean_up(&status).await?;
        if let Some(ttl) = run.spec.ttl_seconds_after_finished {
            let done = status.completion_time.as_ref().map(|t| t.0).unwrap_or(now);
            let due = done + SignedDuration::from_secs(i64::from(ttl));
            if now >= due {
                act::delete_run(&ctx.client, &run).await?;
                return Ok(Action::await_change());
            }
            return Ok(Action::requeue(duration_until(now, due)));
        }
        return Ok(Action::await_change());
    }
    Ok(Action::requeue(
        work.requeue.unwrap_or(Duration::from_secs(30)),
    ))
}

/// Whether the cached run still shows an older status than the one this process last wrote.
pub(super) fn cache_is_behind(ctx: &Context, run: &TestRun, uid: &str) -> bool {
    let Ok(mut map) = ctx.written.lock() else {
        return false;
    };
    let Some((written, at)) = map.get(uid) else {
        return false;
    };
    let cached = run.status.clone().unwrap_or_default();
    if &cached == written || at.elapsed() > STALE_CACHE_PATIENCE {
        map.remove(uid);
        return false;
    }
    true
}

/// Whether `pod` is a pod of the run with UID `uid`: labelled so, and owned by it (the label
/// alone is anyone's to set).
pub(super) fn is_owned_by(pod: &Pod, uid: &str) -> bool {
    pod.labels().get(LABEL_RUN_UID).map(String::as_str) == Some(uid)
        && pod
            .owner_references()
            .iter()
            .any(|o| o.kind == "TestRun" && o.uid == uid)
}

pub(super) fn duration_until(now: Timestamp, then: Timestamp) -> Duration {
    let millis = then.as_millisecond() - now.as_millisecond();
    Duration::from_millis(millis.clamp(100, 3_600_000) as u64)
}
