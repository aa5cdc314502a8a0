//! The operator: a kube-runtime `Controller` on `TestRun`, owning its probe pods.
//!
//! reconcile = observe → decide → act → record:
//! - observe: the run, and its pods from the pod reflector's cache (no GETs in steady state;
//!   logs and execs are read only when a verdict needs them);
//! - decide: per probe, [`drive::next`] (pure) from the recorded status and the observed pods;
//! - act: idempotent calls ([`act`]): deterministic pod names make a repeated create a no-op;
//! - record: the whole status by server-side apply, only when it changed; requeue at the
//!   nearest probe deadline.
//!
//! Nothing lives only in memory: a restarted controller rebuilds everything from the status and
//! the pods. A pod Proctor deletes itself carries a finalizer until its final state is recorded;
//! finalizers of pods whose run is gone are released by a sweep.

mod act;
pub mod claim;
pub mod drive;
mod errors;
mod ready;
mod stage;
pub mod status;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};

use crate::api::{
    CleanupPolicy, LABEL_MANAGED_BY, LABEL_RUN_UID, MANAGER, POD_FINALIZER, ProbePhase,
    ProbeStatus, RunPhase, TerminationTimeline, TestRun, TestRunStatus, Verdict,
};
use crate::probes::{self, READY_MARKER, ResolvedProbe, RunContext};
use crate::verdict::{self, Evidence, Outcome, PodObservation};
pub use act::claim_run;
use drive::{ProbeView, Step};
pub use errors::Error;

/// How the controller runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// Image of probe pods when a run names none.
    pub default_image: String,
    /// Most probe pods running at once across all runs.
    pub max_running_pods: usize,
    /// Field manager of the status.
    pub field_manager: String,
    /// Runs reconciled at once.
    pub concurrency: u16,
    /// Watch only this namespace (all namespaces when `None`).
    pub namespace: Option<String>,
    /// This replica's name in the Events it reports (e.g. its pod name).
    pub instance: Option<String>,
    /// This controller's name in the claims of the runs it serves (see [`claim`]).
    pub claim: String,
    /// Whether it claims runs nobody serves yet (a deployed controller) or serves only the run
    /// claimed for it (`proctor run`'s in-process one).
    pub claims_unclaimed: bool,
    /// Set once both caches (runs and pods) hold their first complete list: the leader's
    /// `/readyz` reports it.
    pub caches_synced: Arc<std::sync::atomic::AtomicBool>,
    /// Namespaces whose runs may use privileged checks (`spec.allowPrivileged`: the hostPID
    /// inspector). Empty by default: only the cluster's operator, who sets this, grants it.
    pub privileged_namespaces: Vec<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            default_image: crate::defaults::BUILTIN_PROBE_IMAGE.into(),
            max_running_pods: 100,
            field_manager: "proctor-controller".into(),
            concurrency: 8,
            namespace: None,
            instance: None,
            privileged_namespaces: Vec::new(),
            claim: crate::api::DEPLOYED_CLAIM.into(),
            claims_unclaimed: true,
            caches_synced: Arc::default(),
        }
    }
}

struct Context {
    client: Client,
    config: Config,
    pods: Store<Pod>,
    /// The runs this controller serves: only their pods count against the global pod cap.
    runs: Store<TestRun>,
    /// When `pods` holds a complete list (awaitable by every reconcile at once).
    pods_ready: ready::Ready,
    recorder: Recorder,
    /// The status this process last wrote per run UID, and when: a reconcile that sees an
    /// older one in the cache waits for the watch to catch up instead of acting on stale state
    /// (which could repeat an exec or double-count an attempt).
    written: std::sync::Mutex<HashMap<String, (TestRunStatus, std::time::Instant)>>,
    /// Exec actions this process recorded as started (run UID, probe, attempt, index) and is
    /// about to run: one recorded as started by another process is not run again.
    exec_claims: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// How long a reconcile waits for the cache to show the status this process wrote before it
/// goes ahead anyway (someone else may have changed the status since).
const STALE_CACHE_PATIENCE: Duration = Duration::from_secs(10);

/// Runs the operator until SIGTERM/SIGINT.
pub async fn run(client: Client, config: Config) -> Result<(), Error> {
    let (runs, pods): (Api<TestRun>, Api<Pod>) = match &config.namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    runs.list(&kube::api::ListParams::default().limit(1))
        .await
        .map_err(Error::CrdMissing)?;

    // Each cache says when it first holds a complete list (its watcher's InitDone), without
    // waiting on kube's store readiness, which wakes one waiter only (see `ready`).
    let synced = Synced::new(config.caches_synced.clone());
    let (pod_store, writer) = reflector::store();
    let pods_synced = synced.clone();
    let pod_events = watcher(
        pods,
        watcher::Config::default().labels(&format!("{LABEL_MANAGED_BY}={MANAGER}")),
    )
    .backoff(watch_backoff())
    .inspect(move |event| {
        if matches!(event, Ok(watcher::Event::InitDone)) {
            pods_synced.pods();
        }
    })
    .reflect(writer)
    .touched_objects();

    // The runs' reflector as `Controller::new` builds it, with the same InitDone signal.
    let (run_store, run_writer) = reflector::store();
    let runs_synced = synced.clone();
    let run_events = reflector::reflector(
        run_writer,
        watcher(runs, watcher::Config::default())
            .backoff(watch_backoff())
            .inspect(move |event| {
                if matches!(event, Ok(watcher::Event::InitDone)) {
                    runs_synced.runs();
                }
            }),
    )
    .applied_objects();

    let controller = Controller::for_stream(run_events, run_store)
        .owns_stream(pod_events)
        .trigger_backoff(watch_backoff())
        .with_config(kube::runtime::controller::Config::default().concurrency(config.concurrency))
        .shutdown_on_signal();
    let run_store = controller.store();
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: config.field_manager.clone(),
            instance: config.instance.clone(),
        },
    );
    let ctx = Arc::new(Context {
        client: client.clone(),
        recorder,
        config,
        pods: pod_store.clone(),
        runs: run_store.clone(),
        pods_ready: ready::Ready::of(pod_store.clone()),
        written: std::sync::Mutex::default(),
        exec_claims: std::sync::Mutex::default(),
    });

    let sweeper = tokio::spawn(sweep_orphans(
        client,
        run_store,
        pod_store,
        ctx.pods_ready.clone(),
    ));
    controller
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                eprintln!("proctor: reconcile: {e}");
            }
        })
        .await;
    sweeper.abort();
    Ok(())
}

/// How the watches retry when the API server does not answer: from 250 ms, doubling, never more
/// than 2 s apart, so that work resumes within about 2 s of the API server's return. (kube's
/// default grows to 30 s between attempts: after a 10 s restart, runs stood still for another
/// 26 s, and a churn probe ran out of time meanwhile.) The attempts restart from 250 ms after a
/// minute without errors.
fn watch_backoff() -> kube::runtime::utils::ResetTimerBackoff<watcher::ExponentialBackoff> {
    let retries = backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(250))
        .with_max_delay(Duration::from_secs(2))
        .with_factor(2.0)
        .with_jitter()
        .without_max_times();
    kube::runtime::utils::ResetTimerBackoff::new(retries.into(), Duration::from_secs(60))
}

/// The two caches' first complete lists, and the flag that says both are there.
#[derive(Clone)]
struct Synced {
    pods: Arc<std::sync::atomic::AtomicBool>,
    runs: Arc<std::sync::atomic::AtomicBool>,
    both: Arc<std::sync::atomic::AtomicBool>,
}

impl Synced {
    fn new(both: Arc<std::sync::atomic::AtomicBool>) -> Synced {
        Synced {
            pods: Arc::default(),
            runs: Arc::default(),
            both,
        }
    }

    fn pods(&self) {
        self.pods.store(true, std::sync::atomic::Ordering::Relaxed);
        self.update();
    }

    fn runs(&self) {
        self.runs.store(true, std::sync::atomic::Ordering::Relaxed);
        self.update();
    }

    fn update(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        if self.pods.load(Relaxed) && self.runs.load(Relaxed) {
            self.both.store(true, Relaxed);
        }
    }
}

fn error_policy(_run: Arc<TestRun>, error: &Error, _ctx: Arc<Context>) -> Action {
    eprintln!(
        "proctor: {error} (category {}); retrying in 5s",
        error.category()
    );
    Action::requeue(Duration::from_secs(5))
}

/// Releases Proctor's finalizer from pods whose run no longer exists (deleted runs never reach
/// `reconcile`), so that the garbage collector can remove them.
///
/// A held pod whose run is not in the controller's cache is confirmed gone by a GET of its
/// owner before it is released: the cache may not be filled yet, and its readiness is not ours
/// to wait for (see [`ready`]).
async fn sweep_orphans(
    client: Client,
    runs: Store<TestRun>,
    pods: Store<Pod>,
    ready: ready::Ready,
) {
    if !ready.wait().await {
        return;
    }
    loop {
        let live: std::collections::HashSet<String> =
            runs.state().iter().filter_map(|r| r.uid()).collect();
        for pod in pods.state() {
            let held = pod.finalizers().iter().any(|f| f == POD_FINALIZER);
            let owner = pod.labels().get(LABEL_RUN_UID).cloned().unwrap_or_default();
            if !held || live.contains(&owner) || run_exists(&client, &pod, &owner).await {
                continue;
            }
            match act::release_pod(&client, &pod).await {
                Ok(()) => eprintln!(
                    "proctor: released pod {}/{}: its run is gone",
                    pod.namespace().unwrap_or_default(),
                    pod.name_any()
                ),
                Err(e) => eprintln!("proctor: releasing orphaned pod: {e}"),
            }
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
}

/// Whether the run that owns `pod` (by UID) still exists; `true` when that cannot be told.
async fn run_exists(client: &Client, pod: &Pod, uid: &str) -> bool {
    let Some(owner) = pod
        .owner_references()
        .iter()
        .find(|o| o.kind == "TestRun" && o.uid == uid)
    else {
        // Not owned by a run as Proctor creates them: not Proctor's to release.
        return true;
    };
    let ns = pod.namespace().unwrap_or_default();
    let runs: Api<TestRun> = Api::namespaced(client.clone(), &ns);
    match runs.get_opt(&owner.name).await {
        Ok(Some(run)) => run.uid().as_deref() == Some(uid),
        Ok(None) => false,
        Err(e) => {
            eprintln!("proctor: looking up the run of pod {}: {e}", pod.name_any());
            true
        }
    }
}

/// One reconcile, measured: its duration, and its errors by category.
async fn reconcile(run: Arc<TestRun>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let name = format!(
        "{}/{}",
        run.metadata.namespace.as_deref().unwrap_or_default(),
        run.metadata.name.as_deref().unwrap_or_default()
    );
    let stage = stage::Stage::new(&name);
    // No deadline here: each call the reconcile waits for is bounded where it is made (an API
    // call by `act::CALL_TIMEOUT`, an exec by the time its probe has left).
    let result = stage.scope(reconcile_run(run, ctx)).await;
    stage.end(&result);
    let metrics = &crate::metrics::METRICS;
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
    };
    status.probes = work.probes(&old_status).await?;

    let summary = status::summary(&status.probes);
    let phase = status::phase(&summary);
    let finished = matches!(
        phase,
        RunPhase::Succeeded | RunPhase::Failed | RunPhase::Error
    );
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

/// Events and metrics for what changed between the status before and the one just written:
/// the run's start, each verdict that is not `Passed`, the run's end. Only on these
/// transitions, so a repeated reconcile reports nothing twice (a status write that failed
/// reports nothing, and its retry reports the transition then).
async fn report_transitions(
    ctx: &Context,
    run: &TestRun,
    old: &TestRunStatus,
    new: &TestRunStatus,
    pods: &HashMap<String, Arc<Pod>>,
) {
    let metrics = &crate::metrics::METRICS;
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
    let terminal = |s: &TestRunStatus| {
        matches!(
            s.phase,
            Some(RunPhase::Succeeded | RunPhase::Failed | RunPhase::Error)
        )
    };
    if terminal(new) && !terminal(old) {
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
        crate::metrics::METRICS.write("create", "events");
        stage::enter(|| format!("publishing the event {}", event.reason));
        let published =
            tokio::time::timeout(act::CALL_TIMEOUT, ctx.recorder.publish(&event, &reference)).await;
        match published {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("proctor: publishing event {}: {e}", event.reason),
            Err(_) => eprintln!("proctor: publishing event {}: no answer", event.reason),
        }
    }
}

/// Whether the cached run still shows an older status than the one this process last wrote.
fn cache_is_behind(ctx: &Context, run: &TestRun, uid: &str) -> bool {
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
fn is_owned_by(pod: &Pod, uid: &str) -> bool {
    pod.labels().get(LABEL_RUN_UID).map(String::as_str) == Some(uid)
        && pod
            .owner_references()
            .iter()
            .any(|o| o.kind == "TestRun" && o.uid == uid)
}

fn duration_until(now: Timestamp, then: Timestamp) -> Duration {
    let millis = then.as_millisecond() - now.as_millisecond();
    Duration::from_millis(millis.clamp(100, 3_600_000) as u64)
}

/// One reconcile's work on one run.
struct RunWork<'a> {
    ctx: &'a Context,
    run: &'a TestRun,
    rc: &'a RunContext,
    pods: &'a HashMap<String, Arc<Pod>>,
    now: Timestamp,
    requeue: Option<Duration>,
    stalled: Option<String>,
    /// Whether the global pod cap leaves room for the probe being driven to create pods.
    room: bool,
}

impl RunWork<'_> {
    /// Whether this run's probes may use the hostPID inspector: the run asks for it, and the
    /// controller's operator granted it in the run's namespace. A namespace's users cannot
    /// grant it themselves (the operator never gives them what Pod Security and RBAC deny).
    fn privileged(&self) -> bool {
        self.run.spec.allow_privileged.unwrap_or(false) && self.granted()
    }

    fn privilege_withheld(&self) -> bool {
        self.run.spec.allow_privileged.unwrap_or(false) && !self.granted()
    }

    fn granted(&self) -> bool {
        self.ctx
            .config
            .privileged_namespaces
            .contains(&self.rc.namespace)
    }

    fn requeue_within(&mut self, d: Duration) {
        self.requeue = Some(self.requeue.map_or(d, |r| r.min(d)));
    }

    /// The new status of every probe, in spec order.
    async fn probes(&mut self, old: &TestRunStatus) -> Result<Vec<ProbeStatus>, Error> {
        let spec = &self.run.spec;
        let parallelism = spec
            .parallelism
            .unwrap_or(probes::DEFAULT_PARALLELISM)
            .max(1) as usize;
        let mut running = old
            .probes
            .iter()
            .filter(|p| p.phase == ProbePhase::Running)
            .count();
        // Unfinished pods in the cache, and this run's pods that are not in the cache yet (just
        // created: the watch has not delivered them).
        let cached = self.ctx.pods.state();
        let unseen = old
            .probes
            .iter()
            .filter(|p| p.phase == ProbePhase::Running)
            .filter(|p| {
                p.termination
                    .as_ref()
                    .is_none_or(|t| t.delete_requested_at.is_none())
            })
            .flat_map(|p| p.pods.iter())
            .filter(|name| !self.pods.contains_key(*name))
            .count();
        // Only pods of the runs this controller serves count: anyone may label a pod as
        // Proctor's, and such pods must not stall every run.
        let served: std::collections::HashSet<String> = self
            .ctx
            .runs
            .state()
            .iter()
            .filter_map(|r| r.uid())
            .collect();
        let busy_pods = cached
            .iter()
            .filter(|p| {
                p.labels()
                    .get(LABEL_RUN_UID)
                    .is_some_and(|uid| served.contains(uid) && is_owned_by(p, uid))
            })
            .filter(|p| !PodObservation::of(p).is_finished())
            .count()
            + unseen;
        let mut free_pods = self.ctx.config.max_running_pods.saturating_sub(busy_pods);

        let mut out = Vec::with_capacity(spec.probes.len());
        for probe in &spec.probes {
            let previous = old.probes.iter().find(|p| p.name == probe.name).cloned();
            let mut ps = previous.unwrap_or_else(|| ProbeStatus {
                name: probe.name.clone(),
                ..ProbeStatus::default()
            });
            let resolved = match probes::resolve(probe, self.rc, spec.timeout_seconds) {
                Ok(r) => r,
                Err(invalid) => {
                    self.stalled = Some(invalid.to_string());
                    if ps.phase != ProbePhase::Finished {
                        finish(
                            &mut ps,
                            Outcome::error("InvalidProbe", invalid.to_string()),
                            self.now,
                        );
                    }
                    out.push(ps);
                    continue;
                }
            };
            ps.kind = resolved.kind.name().into();
            // A probe needing more pods than the global cap may start once nothing else runs, or it
            // would never start at all.
            let needed = resolved.kind.pod_count() as usize;
            let room = free_pods >= needed || free_pods == self.ctx.config.max_running_pods;
            let can_start = running < parallelism && room;
            let was_running = ps.phase == ProbePhase::Running;
            let attempts = ps.attempts;
            self.room = room;
            self.drive(&resolved, &mut ps, can_start).await?;
            if !was_running && ps.phase == ProbePhase::Running {
                running += 1;
            }
            if ps.attempts > attempts {
                free_pods = free_pods.saturating_sub(needed);
            }
            if was_running && ps.phase == ProbePhase::Finished {
                running = running.saturating_sub(1);
            }
            // A deleted pod's end shows in pod events, but one that never ends (or leaves
            // processes behind) only shows when someone looks: look every two seconds.
            if ps.phase == ProbePhase::Running
                && ps
                    .termination
                    .as_ref()
                    .is_some_and(|t| t.delete_requested_at.is_some())
            {
                self.requeue_within(Duration::from_secs(2));
            }
            if ps.phase == ProbePhase::Running
                && let Some(deadline) = drive::deadline(&resolved, &ps)
            {
                self.requeue_within(duration_until(self.now, deadline));
            }
            out.push(ps);
        }
        if out.iter().any(|p| p.phase == ProbePhase::Pending) {
            self.requeue_within(Duration::from_secs(2));
        }
        Ok(out)
    }

    /// How long an exec of this probe may run: until the probe's deadline, at least a second.
    fn time_left(&self, probe: &ResolvedProbe, ps: &ProbeStatus) -> Duration {
        let seconds = u64::try_from(probe.timeout_seconds).unwrap_or(0);
        drive::deadline(probe, ps)
            .map(|d| duration_until(self.now, d))
            .unwrap_or(Duration::from_secs(seconds))
            .max(Duration::from_secs(1))
    }

    fn observe(&self, names: &[String]) -> Vec<(String, Option<PodObservation>)> {
        names
            .iter()
            .map(|n| (n.clone(), self.pods.get(n).map(|p| PodObservation::of(p))))
            .collect()
    }

    /// Advances one probe as far as it can go in this reconcile.
    async fn drive(
        &mut self,
        probe: &ResolvedProbe,
        ps: &mut ProbeStatus,
        can_start: bool,
    ) -> Result<(), Error> {
        // A few steps may follow each other at once (start, then wait; judge, then next attempt).
        // Not past a new attempt: this reconcile's snapshot of the pods predates its pods.
        let attempts_at_entry = ps.attempts;
        for _ in 0..4 {
            if ps.attempts != attempts_at_entry && ps.phase == ProbePhase::Running {
                return Ok(());
            }
            let view = ProbeView {
                probe,
                status: ps,
                pods: self.observe(&ps.pods),
                allow_privileged: self.privileged(),
                privilege_withheld: self.privilege_withheld(),
                now: self.now,
            };
            let step = drive::next(&view);
            let evidence_pods: Vec<PodObservation> =
                view.pods.iter().filter_map(|(_, p)| p.clone()).collect();
            match step {
                Step::Done | Step::Wait => return Ok(()),
                Step::Start if !can_start => return Ok(()),
                // A repeated probe's next attempt waits for room under the global pod cap too.
                Step::NextAttempt if !self.room => {
                    self.requeue_within(Duration::from_secs(1));
                    return Ok(());
                }
                Step::Start | Step::NextAttempt => {
                    if step == Step::Start {
                        ps.started_at = Some(Time(self.now));
                        ps.phase = ProbePhase::Running;
                    }
                    self.start_attempt(probe, ps).await?;
                    return Ok(());
                }
                Step::Judge { read_log } => {
                    let first = ps.pods.first().cloned().unwrap_or_default();
                    let log = if read_log {
                        let needles = match &probe.kind {
                            probes::ProbeKind::Custom(c) => {
                                c.expect.log_contains.clone().unwrap_or_default()
                            }
                            _ => Vec::new(),
                        };
                        match act::read_log(
                            &self.ctx.client,
                            &self.rc.namespace,
                            &first,
                            None,
                            &needles,
                        )
                        .await
                        {
                            Ok(log) => Some(log),
                            // The API server answers, but the kubelet has no log for the
                            // finished container (e.g. it was removed): retrying cannot help.
                            Err(Error::ReadLog {
                                source: kube::Error::Api(status),
                                ..
                            }) if status.code == 400 || status.code == 404 => {
                                let outcome = Outcome::error(
                                    "LogUnavailable",
                                    format!(
                                        "the log of pod {first} could not be read: {}",
                                        status.message
                                    ),
                                );
                                self.judged(probe, ps, outcome).await?;
                                continue;
                            }
                            Err(e) => return Err(e),
                        }
                    } else {
                        None
                    };
                    let deleted_at = ps
                        .termination
                        .as_ref()
                        .and_then(|t| t.delete_requested_at.as_ref())
                        .map(|t| t.0);
                    let timed = matches!(
                        probe.kind,
                        probes::ProbeKind::GracefulShutdown { .. }
                            | probes::ProbeKind::DeadlineExceeded { .. }
                    );
                    let kill_started_at = if timed {
                        act::kill_started_at(&self.ctx.client, &self.rc.namespace, &first).await
                    } else {
                        None
                    };
                    let evidence = Evidence {
                        pods: evidence_pods,
                        log,
                        exec: None,
                        deleted_at,
                        kill_started_at,
                    };
                    let Some(outcome) = verdict::evaluate(&probe.kind, &evidence) else {
                        return Ok(());
                    };
                    self.record_timeline(ps, &evidence);
                    let outcome = verdict::with_action_checks(&ps.checks, outcome);
                    self.judged(probe, ps, outcome).await?;
                }
                Step::Exec { command } => {
                    let first = ps.pods.first().cloned().unwrap_or_default();
                    let (exec, stdout, stderr) = act::exec(
                        &self.ctx.client,
                        &self.rc.namespace,
                        &first,
                        probes::CONTAINER,
                        command,
                        self.time_left(probe, ps),
                    )
                    .await?;
                    let output = format!("{stdout}{stderr}");
                    let evidence = Evidence {
                        pods: evidence_pods,
                        log: None,
                        exec: Some(exec),
                        deleted_at: None,
                        kill_started_at: None,
                    };
                    let Some(mut outcome) = verdict::evaluate(&probe.kind, &evidence) else {
                        return Ok(());
                    };
                    if outcome.verdict != Verdict::Passed && !output.trim().is_empty() {
                        outcome.message = verdict::bounded(
                            &format!("{} (exec output: {})", outcome.message, output.trim()),
                            512,
                        );
                    }
                    self.judged(probe, ps, outcome).await?;
                }
                Step::DeleteWhenReady {
                    grace_period_seconds,
                } => {
                    let first = ps.pods.first().cloned().unwrap_or_default();
                    let log = act::read_log(
                        &self.ctx.client,
                        &self.rc.namespace,
                        &first,
                        Some(4096),
                        &[],
                    )
                    .await?;
                    if !log
                        .text
                        .as_deref()
                        .unwrap_or_default()
                        .contains(READY_MARKER)
                    {
                        self.requeue_within(Duration::from_millis(500));
                        return Ok(());
                    }
                    act::delete_pod(
                        &self.ctx.client,
                        &self.rc.namespace,
                        &first,
                        Some(grace_period_seconds),
                    )
                    .await?;
                    ps.termination = Some(TerminationTimeline {
                        grace_period_seconds,
                        delete_requested_at: Some(Time(self.now)),
                        ..TerminationTimeline::default()
                    });
                    // Pod events follow the shutdown; this covers a pod that never ends.
                    let after_grace = u64::try_from(grace_period_seconds).unwrap_or_default() + 6;
                    self.requeue_within(Duration::from_secs(after_grace));
                    return Ok(());
                }
                Step::Delete { pods } => {
                    for name in &pods {
                        act::delete_pod(&self.ctx.client, &self.rc.namespace, name, None).await?;
                    }
                    // The first delete starts the clock of the churn's "gone within".
                    if ps
                        .termination
                        .as_ref()
                        .is_none_or(|t| t.delete_requested_at.is_none())
                    {
                        ps.termination = Some(TerminationTimeline {
                            delete_requested_at: Some(Time(self.now)),
                            ..TerminationTimeline::default()
                        });
                    }
                    self.requeue_within(Duration::from_secs(1));
                    return Ok(());
                }
                Step::CustomAction { index } => {
                    let probes::ProbeKind::Custom(custom) = &probe.kind else {
                        return Ok(());
                    };
                    let Some(action) = custom.actions.as_deref().unwrap_or_default().get(index)
                    else {
                        return Ok(());
                    };
                    let first = ps.pods.first().cloned().unwrap_or_default();
                    // An exec runs at most once per attempt, across restarts and handovers: it
                    // is recorded as started (that status written) before it runs.
                    let key = format!("{}/{}/{}/{index}", self.rc.run_uid, ps.name, ps.attempts);
                    let started = usize::try_from(ps.actions_started).unwrap_or(0) > index;
                    let claimed_here = self
                        .ctx
                        .exec_claims
                        .lock()
                        .is_ok_and(|claims| claims.contains(&key));
                    if action.exec.is_some() && started && !claimed_here {
                        let outcome = Outcome::error(
                            "ActionOutcomeLost",
                            format!(
                                "action {} (exec) was started by a controller that stopped before it recorded the outcome; it is not run again",
                                index + 1
                            ),
                        );
                        let outcome = verdict::with_action_checks(&ps.checks, outcome);
                        self.judged(probe, ps, outcome).await?;
                        return Ok(());
                    }
                    if action.exec.is_some() && !started {
                        ps.actions_started = i32::try_from(index + 1).unwrap_or(i32::MAX);
                        if let Ok(mut claims) = self.ctx.exec_claims.lock() {
                            claims.insert(key);
                        }
                        self.requeue_within(Duration::from_millis(100));
                        return Ok(());
                    }
                    if let Some(exec) = &action.exec {
                        let (observed, _, _) = act::exec(
                            &self.ctx.client,
                            &self.rc.namespace,
                            &first,
                            probes::CONTAINER,
                            exec.command.clone(),
                            self.time_left(probe, ps),
                        )
                        .await?;
                        ps.checks.push(verdict::exec_action_check(
                            index,
                            exec.expect_exit_code,
                            &observed,
                        ));
                    }
                    if let Some(delete) = &action.delete {
                        let grace = i64::from(delete.grace_period_seconds);
                        act::delete_pod(&self.ctx.client, &self.rc.namespace, &first, Some(grace))
                            .await?;
                        ps.termination = Some(TerminationTimeline {
                            grace_period_seconds: grace,
                            // Now, not the reconcile's start: an exec action may have run long.
                            delete_requested_at: Some(Time(Timestamp::now())),
                            ..TerminationTimeline::default()
                        });
                    }
                    if let Ok(mut claims) = self.ctx.exec_claims.lock() {
                        claims.remove(&key);
                    }
                    ps.actions_done += 1;
                    ps.actions_started = ps.actions_started.max(ps.actions_done);
                    self.requeue_within(Duration::from_millis(500));
                }
                Step::Inspect => {
                    let deleted_at = ps
                        .termination
                        .as_ref()
                        .and_then(|t| t.delete_requested_at.as_ref())
                        .map(|t| t.0);
                    let evidence = Evidence {
                        pods: evidence_pods.clone(),
                        log: None,
                        exec: None,
                        deleted_at,
                        kill_started_at: None,
                    };
                    self.record_timeline(ps, &evidence);
                    let outcome = self.inspect(probe, ps, &evidence_pods).await?;
                    match outcome {
                        Some(outcome) => self.judged(probe, ps, outcome).await?,
                        None => {
                            self.requeue_within(Duration::from_secs(1));
                            return Ok(());
                        }
                    }
                }
                Step::Finish(outcome) => {
                    // An attempt's outcome (a running probe's: a churn that passed, a timeout)
                    // counts like a judged one: a passed attempt of a repeated probe goes on to
                    // the next. Its pods are released once the verdict is written (reconcile).
                    if ps.phase == ProbePhase::Running {
                        self.judged(probe, ps, outcome).await?;
                    } else {
                        finish(ps, outcome, self.now);
                    }
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    async fn judged(
        &mut self,
        probe: &ResolvedProbe,
        ps: &mut ProbeStatus,
        outcome: Outcome,
    ) -> Result<(), Error> {
        if outcome.verdict == Verdict::Passed {
            ps.passed_attempts += 1;
        }
        match drive::after_attempt(probe, ps, outcome) {
            Step::NextAttempt => {
                self.release(ps).await?;
                if self.room {
                    self.start_attempt(probe, ps).await
                } else {
                    // Between attempts: judged, no pods yet (see `drive::next`).
                    ps.pods.clear();
                    self.requeue_within(Duration::from_secs(1));
                    Ok(())
                }
            }
            Step::Finish(outcome) => {
                finish(ps, outcome, self.now);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Creates the pods (and Secrets, and the inspector) of the probe's next attempt. When the
    /// API server refuses one of them for good ([`errors::refusal`]), the attempt still counts
    /// and the probe ends as an `Error` with the server's words; other probes go on.
    async fn start_attempt(
        &mut self,
        probe: &ResolvedProbe,
        ps: &mut ProbeStatus,
    ) -> Result<(), Error> {
        let pods = probes::pods(probe, self.rc, ps.attempts);
        let refused = match self.create_attempt(probe, &pods).await {
            Ok(()) => None,
            Err(e) => Some(errors::refusal(&e).ok_or(e)?),
        };
        ps.attempts += 1;
        ps.pods = pods
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        ps.actions_done = 0;
        ps.actions_started = 0;
        ps.attempt_started_at = Some(Time(self.now));
        ps.checks.clear();
        ps.termination = None;
        match refused {
            Some(outcome) => finish(ps, outcome, self.now),
            None => self.requeue_within(Duration::from_secs(1)),
        }
        Ok(())
    }

    async fn create_attempt(&self, probe: &ResolvedProbe, pods: &[Pod]) -> Result<(), Error> {
        if let probes::ProbeKind::Custom(custom) = &probe.kind {
            for pod in pods {
                let pod_name = pod.metadata.name.clone().unwrap_or_default();
                for volume in custom.volumes.iter().flatten() {
                    if let Some(data) = &volume.secret_data {
                        let secret = Secret {
                            metadata: ObjectMeta {
                                name: Some(probes::custom_secret_name(&pod_name, &volume.name)),
                                namespace: Some(self.rc.namespace.clone()),
                                labels: pod.metadata.labels.clone(),
                                owner_references: pod.metadata.owner_references.clone(),
                                ..ObjectMeta::default()
                            },
                            string_data: Some(data.clone().into_iter().collect::<BTreeMap<_, _>>()),
                            ..Secret::default()
                        };
                        act::create_secret(&self.ctx.client, &secret).await?;
                    }
                }
            }
        }
        if drive::uses_inspector(&probe.kind, self.privileged()) {
            act::create_pod(&self.ctx.client, &probes::inspector_pod(self.rc)).await?;
        }
        act::create_pods(&self.ctx.client, pods).await
    }

    /// For kinds that delete their pod: the measured shutdown.
    fn record_timeline(&self, ps: &mut ProbeStatus, evidence: &Evidence) {
        let Some(timeline) = ps.termination.as_mut() else {
            return;
        };
        let Some(t) = evidence.pods.first().and_then(|p| p.terminated()) else {
            return;
        };
        timeline.terminated_at = t.finished_at.map(Time);
        timeline.exit_code = Some(t.exit_code);
        timeline.ended_by = Some(match t.exit_code {
            137 => "SIGKILL".into(),
            _ => "SIGTERM".into(),
        });
        if let (Some(deleted), Some(finished)) = (&timeline.delete_requested_at, t.finished_at) {
            timeline.grace_used_millis =
                Some(finished.as_millisecond() - deleted.0.as_millisecond());
        }
    }

    /// The node's processes still carrying the marker of the probe's pods, listed from the
    /// inspector pod: the process-group-kill check after the kill, the churn's leftover check
    /// once its pods are gone. `None`: not yet (inspector not running, or look again).
    async fn inspect(
        &mut self,
        probe: &ResolvedProbe,
        ps: &ProbeStatus,
        pods: &[PodObservation],
    ) -> Result<Option<Outcome>, Error> {
        let inspector = self.rc.names().inspector();
        let ready = self
            .pods
            .get(&inspector)
            .map(|p| {
                matches!(
                    PodObservation::of(p).container,
                    verdict::ContainerState::Running { .. }
                )
            })
            .unwrap_or(false);
        if !ready {
            return Ok(None);
        }
        let churn = match probe.kind {
            probes::ProbeKind::RapidCreateDelete { pods } => Some(pods),
            _ => None,
        };
        let names = match churn {
            Some(_) => ps.pods.clone(),
            None => ps.pods.iter().take(1).cloned().collect(),
        };
        let (exec, output, stderr) = act::exec(
            &self.ctx.client,
            &self.rc.namespace,
            &inspector,
            probes::CONTAINER,
            probes::inspect_command(&names),
            act::CALL_TIMEOUT,
        )
        .await?;
        if exec.exit_code != Some(0) {
            return Ok(Some(Outcome::error(
                "InspectorFailed",
                format!(
                    "the inspector could not list the node's processes: {}",
                    exec.error.unwrap_or(stderr)
                ),
            )));
        }
        let leftovers: Vec<String> = output
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(count) = churn {
            let seconds = ps
                .termination
                .as_ref()
                .and_then(|t| t.delete_requested_at.as_ref())
                .map(|d| self.now.as_second() - d.0.as_second())
                .unwrap_or_default();
            return Ok(Some(drive::churn_outcome(count, seconds, Some(&leftovers))));
        }
        let terminated = pods.first().and_then(|p| p.terminated()).is_some();
        if leftovers.is_empty() && !terminated {
            // Nothing left on the node yet the container has not ended: look again.
            return Ok(None);
        }
        let exited = pods
            .first()
            .and_then(|p| p.terminated())
            .map(|t| t.exit_code);
        let check = crate::api::Check {
            name: "leftoverProcesses".into(),
            expected: "0".into(),
            observed: leftovers.len().to_string(),
            passed: leftovers.is_empty(),
        };
        Ok(Some(if leftovers.is_empty() {
            Outcome {
                verdict: Verdict::Passed,
                reason: "AsExpected".into(),
                message: format!(
                    "no process of the pod's group was left on the node (container exit code {})",
                    exited
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "unknown".into())
                ),
                checks: vec![check],
            }
        } else {
            Outcome {
                verdict: Verdict::Failed,
                reason: "LeftoverProcessesMismatch".into(),
                message: verdict::bounded(
                    &format!(
                        "expected leftover processes 0, observed {}: {}",
                        leftovers.len(),
                        leftovers.join("; ")
                    ),
                    512,
                ),
                checks: vec![check],
            }
        }))
    }

    /// Removes Proctor's finalizer from the probe's pods once what they showed is recorded.
    /// Releases the pods of every finished probe — only ever after the status that records the
    /// verdict was written, so that a pod never goes before what it showed is recorded. Failures
    /// (e.g. a conflict with the kubelet's own updates) are retried at the next reconcile.
    async fn release_finished(&mut self, status: &TestRunStatus) {
        for probe in status
            .probes
            .iter()
            .filter(|p| p.phase == ProbePhase::Finished)
        {
            if let Err(e) = self.release(probe).await {
                eprintln!("proctor: {e}; retrying");
                self.requeue_within(Duration::from_secs(1));
            }
        }
    }

    async fn release(&self, ps: &ProbeStatus) -> Result<(), Error> {
        for name in &ps.pods {
            if let Some(pod) = self.pods.get(name) {
                act::release_pod(&self.ctx.client, pod).await?;
            }
        }
        Ok(())
    }

    /// Deletes the run's pods per the cleanup policy, once every verdict is recorded.
    async fn clean_up(&self, status: &TestRunStatus) -> Result<(), Error> {
        let policy = self.run.spec.cleanup.unwrap_or_default();
        let all_passed = status.phase == Some(RunPhase::Succeeded);
        let delete = match policy {
            CleanupPolicy::Always => true,
            CleanupPolicy::OnSuccess => all_passed,
            CleanupPolicy::Never => false,
        };
        for pod in self.pods.values() {
            if let Err(e) = act::release_pod(&self.ctx.client, pod).await {
                // Retried at the next reconcile; the delete below still marks the pod.
                eprintln!("proctor: {e}; retrying");
            }
            let is_inspector = pod.labels().get(probes::LABEL_ROLE).is_some();
            if (delete || is_inspector) && pod.metadata.deletion_timestamp.is_none() {
                act::delete_pod(
                    &self.ctx.client,
                    &self.rc.namespace,
                    &pod.name_any(),
                    Some(0),
                )
                .await?;
            }
        }
        Ok(())
    }
}

fn finish(ps: &mut ProbeStatus, outcome: Outcome, now: Timestamp) {
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

/// Releases Proctor's finalizer from every pod of the run with UID `uid` in `namespace`: for a
/// controller that goes away before its run is done (`proctor run` interrupted, or past its
/// `--timeout`), so that nothing it held stays held. Returns how many it released.
pub async fn release_pods_of(client: &Client, namespace: &str, uid: &str) -> Result<usize, Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let params = kube::api::ListParams::default().labels(&format!("{LABEL_RUN_UID}={uid}"));
    let list = act::bounded(
        act::CALL_TIMEOUT,
        || "listing the run's pods".into(),
        async {
            pods.list(&params)
                .await
                .map_err(|source| Error::ListPods { source })
        },
    )
    .await?;
    let mut released = 0;
    for pod in list
        .items
        .iter()
        .filter(|p| p.finalizers().iter().any(|f| f == POD_FINALIZER))
    {
        act::release_pod(client, pod).await?;
        released += 1;
    }
    Ok(released)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watches_retry_at_most_a_few_seconds_apart_however_long_the_outage() {
        let delays: Vec<Duration> = watch_backoff().take(50).collect();
        assert_eq!(delays.len(), 50, "never gives up");
        assert!(delays[0] <= Duration::from_millis(500), "{delays:?}");
        // Jitter adds up to one more delay: never 4 s or more between two attempts.
        assert!(
            delays.iter().all(|d| *d < Duration::from_secs(4)),
            "{delays:?}"
        );
    }
}
