//! The operator: a kube-runtime `Controller` on `TestRun`, owning its probe pods.
//!
//! reconcile = observe → decide → act → record:
//! - observe: the run, and its pods from the pod reflector's cache (no GETs in steady state;
//!   logs and execs are read only when a verdict needs them);
//! - decide: per probe, [`drive::next`] (pure) from the recorded status and the observed pods,
//!   and the verdict from what was observed ([`crate::verdict`], pure);
//! - act: idempotent calls (`act`): deterministic pod names make a repeated create a no-op;
//! - record: the whole status by server-side apply, only when it changed; requeue at the
//!   nearest probe deadline.
//!
//! Nothing lives only in memory: a restarted controller rebuilds everything from the status and
//! the pods. A pod Proctor deletes itself carries a finalizer until its final state is recorded;
//! finalizers of pods whose run is gone are released by a sweep.
//!
//! The files, by job: this one wires the watches and the controller; `reconcile` is one
//! reconcile of a run; `schedule` drives the probes and releases pods; `execute` carries out a
//! probe's steps (`custom_actions` a custom probe's, `inspect` the look at the node); `act` and
//! `stream` hold the API calls; `actions` the background execs; `events` reports transitions;
//! `sweep` releases orphaned pods; `errors` classifies failures. Pure: [`drive`] (the next
//! step), `record` (what an observation does to the status), `admit` (who may start),
//! [`claim`] (which controller serves a run), [`status`] (the run's phase and conditions).

mod act;
mod actions;
mod admit;
pub mod claim;
mod custom_actions;
pub mod drive;
mod errors;
mod events;
mod execute;
#[cfg(test)]
mod executor_tests;
mod inspect;
mod ready;
mod reconcile;
mod record;
mod schedule;
mod stage;
pub mod status;
mod stream;
mod sweep;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};

use crate::api::{LABEL_MANAGED_BY, MANAGER, TestRun, TestRunStatus};
pub use act::claim_run;
pub use errors::Error;
pub use sweep::release_pods_of;

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
    /// Where the reconciles, verdicts and runs are counted (the registry `/metrics` serves).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Namespaces whose runs may use privileged checks (`spec.allowPrivileged`: the hostPID
    /// inspector). Empty by default: only the cluster's operator, who sets this, grants it.
    pub privileged_namespaces: Vec<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            default_image: crate::defaults::BUILTIN_PROBE_IMAGE.into(),
            max_running_pods: 100,
            field_manager: crate::api::CONTROLLER_NAME.into(),
            concurrency: 8,
            namespace: None,
            instance: None,
            privileged_namespaces: Vec::new(),
            claim: crate::api::DEPLOYED_CLAIM.into(),
            claims_unclaimed: true,
            caches_synced: Arc::default(),
            metrics: Arc::default(),
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
    /// Exec actions this process recorded as started (run UID, probe, attempt, index), run in
    /// the background: one recorded as started by another process is not run again.
    actions: Arc<actions::Actions>,
}

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
        actions: Arc::default(),
    });

    let sweeper = tokio::spawn(sweep::sweep_orphans(
        client,
        run_store,
        pod_store,
        ctx.pods_ready.clone(),
    ));
    controller
        .run(reconcile::reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                // The error policy logged it, with its run.
                tracing::debug!("reconcile: {e}");
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

fn error_policy(run: Arc<TestRun>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(
        run = %format!("{}/{}", run.namespace().unwrap_or_default(), run.name_any()),
        category = error.category(),
        "{error}; retrying in 5s"
    );
    Action::requeue(Duration::from_secs(5))
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
