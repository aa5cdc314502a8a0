//! One reconcile's pass over a run's probes: which may start (the run's parallelism, the
//! global pod cap), each driven ([`super::execute`]), and the release and clean-up of pods.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use crate::api::{CleanupPolicy, ProbePhase, ProbeStatus, RunPhase, TestRun, TestRunStatus};
use crate::probes::{self, ResolvedProbe, RunContext};
use crate::verdict::{Outcome, PodObservation};

use super::{Context, Error, act};
use super::{admit, drive};

use super::reconcile::duration_until;

/// One reconcile's work on one run.
pub(super) struct RunWork<'a> {
    pub(super) ctx: &'a Context,
    pub(super) run: &'a TestRun,
    pub(super) rc: &'a RunContext,
    pub(super) pods: &'a HashMap<String, Arc<Pod>>,
    pub(super) now: Timestamp,
    pub(super) requeue: Option<Duration>,
    pub(super) stalled: Option<String>,
    /// Whether the global pod cap leaves room for the probe being driven to create pods.
    pub(super) room: bool,
    /// Background exec actions whose outcomes this reconcile recorded: forgotten once the
    /// status that holds them is written (until then a retry records them again).
    pub(super) taken: Vec<String>,
}

impl RunWork<'_> {
    /// Whether this run's probes may use the hostPID inspector: the run asks for it, and the
    /// controller's operator granted it in the run's namespace. A namespace's users cannot
    /// grant it themselves (the operator never gives them what Pod Security and RBAC deny).
    pub(super) fn privileged(&self) -> bool {
        self.run.spec.allow_privileged.unwrap_or(false) && self.granted()
    }

    pub(super) fn privilege_withheld(&self) -> bool {
        self.run.spec.allow_privileged.unwrap_or(false) && !self.granted()
    }

    pub(super) fn granted(&self) -> bool {
        self.ctx
            .config
            .privileged_namespaces
            .contains(&self.rc.namespace)
    }

    pub(super) fn requeue_within(&mut self, d: Duration) {
        self.requeue = Some(self.requeue.map_or(d, |r| r.min(d)));
    }

    /// The new status of every probe, in spec order.
    pub(super) async fn probes(&mut self, old: &TestRunStatus) -> Result<Vec<ProbeStatus>, Error> {
        let spec = &self.run.spec;
        let parallelism = spec
            .parallelism
            .unwrap_or(probes::DEFAULT_PARALLELISM)
            .max(1) as usize;
        let running = old
            .probes
            .iter()
            .filter(|p| p.phase == ProbePhase::Running)
            .count();
        let unseen = admit::unseen(&old.probes, |name| self.pods.contains_key(name));
        let served: std::collections::HashSet<String> = self
            .ctx
            .runs
            .state()
            .iter()
            .filter_map(|r| r.uid())
            .collect();
        let busy = admit::busy_pods(&self.ctx.pods.state(), &served, unseen);
        let max_pods = self.ctx.config.max_running_pods;
        let mut slots = admit::Slots {
            parallelism,
            running,
            free_pods: max_pods.saturating_sub(busy),
            max_pods,
        };

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
                        super::record::finish(
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
            let needed = resolved.kind.pod_count() as usize;
            let before = ps.clone();
            self.room = slots.room(needed);
            let span = tracing::info_span!("probe", probe = %resolved.name);
            let can_start = slots.can_start(needed);
            tracing::Instrument::instrument(self.drive(&resolved, &mut ps, can_start), span)
                .await?;
            slots.account(&before, &ps, needed);
            if let Some(d) = admit::look_again(&resolved, &ps, self.now) {
                self.requeue_within(d);
            }
            out.push(ps);
        }
        if out.iter().any(|p| p.phase == ProbePhase::Pending) {
            self.requeue_within(Duration::from_secs(2));
        }
        Ok(out)
    }

    /// How long an exec of this probe may run: until the probe's deadline, at least a second.
    pub(super) fn time_left(&self, probe: &ResolvedProbe, ps: &ProbeStatus) -> Duration {
        let seconds = u64::try_from(probe.timeout_seconds).unwrap_or(0);
        drive::deadline(probe, ps)
            .map(|d| duration_until(self.now, d))
            .unwrap_or(Duration::from_secs(seconds))
            .max(Duration::from_secs(1))
    }

    pub(super) fn observe(&self, names: &[String]) -> Vec<(String, Option<PodObservation>)> {
        names
            .iter()
            .map(|n| (n.clone(), self.pods.get(n).map(|p| PodObservation::of(p))))
            .collect()
    }

    /// Removes Proctor's finalizer from the probe's pods once what they showed is recorded.
    /// Releases the pods of every finished probe — only ever after the status that records the
    /// verdict was written, so that a pod never goes before what it showed is recorded. Failures
    /// (e.g. a conflict with the kubelet's own updates) are retried at the next reconcile.
    pub(super) async fn release_finished(&mut self, status: &TestRunStatus) {
        for probe in status
            .probes
            .iter()
            .filter(|p| p.phase == ProbePhase::Finished)
        {
            if let Err(e) = self.release(probe).await {
                tracing::warn!(probe = %probe.name, "{e}; retrying");
                self.requeue_within(Duration::from_secs(1));
            }
        }
    }

    pub(super) async fn release(&self, ps: &ProbeStatus) -> Result<(), Error> {
        for name in &ps.pods {
            if let Some(pod) = self.pods.get(name) {
                act::release_pod(&self.ctx.client, pod).await?;
            }
        }
        Ok(())
    }

    /// Deletes the run's pods per the cleanup policy, once every verdict is recorded.
    pub(super) async fn clean_up(&self, status: &TestRunStatus) -> Result<(), Error> {
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
                tracing::warn!(pod = %pod.name_any(), "{e}; retrying");
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
