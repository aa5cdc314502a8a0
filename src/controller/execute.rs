//! Carrying out one probe's next steps: the side effects [`drive::next`] asks for, and what
//! they showed, handed back to the verdict code.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;

use crate::api::{ProbePhase, ProbeStatus};
use crate::probes::{self, READY_MARKER, ResolvedProbe};
use crate::verdict::{self, Evidence, PodObservation};

use super::drive::{self, ProbeView, Step};
use super::{Error, act, errors};

use super::record::{self, Observed, Then};
use super::schedule::RunWork;

use super::custom_actions::ACTION_POLL;

impl RunWork<'_> {
    /// Records what was observed of the probe ([`record::record`]), and carries out what that
    /// asks for: the next attempt of a repeated probe.
    pub(super) async fn observed(
        &mut self,
        probe: &ResolvedProbe,
        ps: &mut ProbeStatus,
        observed: Observed,
    ) -> Result<Then, Error> {
        let then = record::record(probe, ps, observed, self.now);
        if then != Then::NextAttempt {
            return Ok(then);
        }
        self.release(ps).await?;
        if self.room {
            self.start_attempt(probe, ps).await?;
        } else {
            // Between attempts: judged, no pods yet (see `drive::next`).
            ps.pods.clear();
            self.requeue_within(Duration::from_secs(1));
        }
        Ok(then)
    }

    /// Advances one probe as far as it can go in this reconcile: performs the steps
    /// [`drive::next`] decides, and hands what they showed to [`record::record`].
    pub(super) async fn drive(
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
            self.take_ended_action(probe, ps).await?;
            // A probe that looks at the node gets an inspector on each node its pods reached.
            if probe.kind.uses_inspector(self.privileged()) && ps.phase == ProbePhase::Running {
                let nodes = drive::nodes_of(&ps.nodes, &self.observe(&ps.pods));
                if let Some(refused) = self.place_inspectors(&nodes).await? {
                    self.observed(probe, ps, Observed::Outcome(refused)).await?;
                    return Ok(());
                }
                record::record(probe, ps, Observed::Placed { nodes }, self.now);
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
            let pods: Vec<PodObservation> =
                view.pods.iter().filter_map(|(_, p)| p.clone()).collect();
            let first = ps.pods.first().cloned().unwrap_or_default();
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
                        record::record(probe, ps, Observed::Started, self.now);
                    }
                    return self.start_attempt(probe, ps).await;
                }
                Step::Judge { read_log } => {
                    let log = if read_log {
                        let needles = match &probe.kind {
                            probes::ProbeKind::Custom(c) => {
                                c.expect.log_contains.clone().unwrap_or_default()
                            }
                            _ => Vec::new(),
                        };
                        let read = act::read_log(
                            &self.ctx.client,
                            &self.rc.namespace,
                            &first,
                            None,
                            &needles,
                        )
                        .await;
                        match read {
                            Ok(log) => Some(log),
                            // The API server answers, but the kubelet has no log for the
                            // finished container (e.g. it was removed): retrying cannot help.
                            Err(Error::ReadLog {
                                source: kube::Error::Api(status),
                                ..
                            }) if status.code == 400 || status.code == 404 => {
                                let outcome = verdict::log_unavailable(&first, &status.message);
                                self.observed(probe, ps, Observed::Outcome(outcome)).await?;
                                continue;
                            }
                            Err(e) => return Err(e),
                        }
                    } else {
                        None
                    };
                    let kill_started_at = if probe.kind.timed() {
                        act::kill_started_at(&self.ctx.client, &self.rc.namespace, &first).await
                    } else {
                        None
                    };
                    let previous_log = if probe.kind.reads_previous_log() {
                        let read =
                            act::read_previous_log(&self.ctx.client, &self.rc.namespace, &first)
                                .await;
                        match read {
                            Ok(log) => Some(Ok(log)),
                            // No previous run to read is what the kind judges, not an error.
                            Err(Error::ReadLog {
                                source: kube::Error::Api(status),
                                ..
                            }) if status.code == 400 || status.code == 404 => {
                                Some(Err(status.message))
                            }
                            Err(e) => return Err(e),
                        }
                    } else {
                        None
                    };
                    let mut container_logs = std::collections::BTreeMap::new();
                    for container in probe.kind.other_logs() {
                        let log = act::read_container_log(
                            &self.ctx.client,
                            &self.rc.namespace,
                            &first,
                            container,
                        )
                        .await;
                        match log {
                            Ok(log) => {
                                container_logs.insert((*container).to_owned(), log);
                            }
                            Err(Error::ReadLog {
                                source: kube::Error::Api(status),
                                ..
                            }) if status.code == 400 || status.code == 404 => {
                                let outcome = verdict::log_unavailable(&first, &status.message);
                                self.observed(probe, ps, Observed::Outcome(outcome)).await?;
                                return Ok(());
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    let node = match pods.first().and_then(|p| p.node.clone()) {
                        Some(node) if probe.kind.reads_node() => {
                            Some(act::read_node(&self.ctx.client, &node).await)
                        }
                        _ => None,
                    };
                    let evidence = Evidence {
                        pods,
                        log,
                        previous_log,
                        container_logs,
                        node,
                        exec: None,
                        deleted_at: ps.delete_requested_at(),
                        kill_started_at,
                        exec_output: None,
                    };
                    if self
                        .observed(probe, ps, Observed::Evidence(evidence))
                        .await?
                        == Then::Continue
                    {
                        // Not judged yet (the evidence is not complete): look again soon, as
                        // its pods may not change again.
                        self.requeue_within(Duration::from_secs(1));
                        return Ok(());
                    }
                }
                Step::Exec { command } => {
                    let (exec, stdout, stderr) = act::exec(
                        &self.ctx.client,
                        &self.rc.namespace,
                        &first,
                        probes::CONTAINER,
                        command,
                        self.time_left(probe, ps),
                    )
                    .await?;
                    let evidence = Evidence {
                        pods,
                        exec: Some(exec),
                        exec_output: Some(stdout.clone()),
                        ..Evidence::default()
                    };
                    let output = format!("{stdout}{stderr}");
                    let exec = Observed::Exec { evidence, output };
                    if self.observed(probe, ps, exec).await? == Then::Continue {
                        return Ok(());
                    }
                }
                Step::DeleteWhenReady {
                    grace_period_seconds,
                } => {
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
                    let deleted = Observed::DeleteRequested {
                        grace_period_seconds,
                        at: self.now,
                    };
                    record::record(probe, ps, deleted, self.now);
                    // Pod events follow the shutdown; this covers a pod that never ends.
                    let after_grace = u64::try_from(grace_period_seconds).unwrap_or_default() + 6;
                    self.requeue_within(Duration::from_secs(after_grace));
                    return Ok(());
                }
                Step::Delete { pods } => {
                    for name in &pods {
                        act::delete_pod(&self.ctx.client, &self.rc.namespace, name, None).await?;
                    }
                    record::record(probe, ps, Observed::ChurnDeleted { at: self.now }, self.now);
                    self.requeue_within(Duration::from_secs(1));
                    return Ok(());
                }
                Step::AddEphemeral => {
                    let Some(probe_container) = self
                        .pods
                        .get(&first)
                        .and_then(|p| p.spec.as_ref())
                        .and_then(|s| s.containers.iter().find(|c| c.name == probes::CONTAINER))
                        .cloned()
                    else {
                        return Ok(());
                    };
                    for name in probes::kinds::ephemeral_containers::EPHEMERAL {
                        let container =
                            probes::kinds::ephemeral_containers::ephemeral(&probe_container, name);
                        let added = act::add_ephemeral_container(
                            &self.ctx.client,
                            &self.rc.namespace,
                            &first,
                            container,
                        )
                        .await;
                        match added {
                            Ok(()) => {}
                            // Refused for good (RBAC, Pod Security, validation): the server's words.
                            Err(Error::AddEphemeral {
                                source: kube::Error::Api(status),
                                ..
                            }) if (400..500).contains(&status.code) && status.code != 409 => {
                                let outcome = verdict::Outcome::error(
                                    "EphemeralContainerRefused",
                                    format!(
                                        "adding ephemeral container {name} to pod {first}: {}",
                                        status.message
                                    ),
                                );
                                self.observed(probe, ps, Observed::Outcome(outcome)).await?;
                                return Ok(());
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    record::record(probe, ps, Observed::ActionDone { check: None }, self.now);
                    self.requeue_within(Duration::from_secs(1));
                    return Ok(());
                }
                Step::ExecEphemeral | Step::Stream => {
                    let limit = self.time_left(probe, ps).min(Duration::from_secs(10));
                    let (client, ns) = (&self.ctx.client, &self.rc.namespace);
                    let checks = if step == Step::Stream {
                        act::stream_conversations(client, ns, &first, limit).await?
                    } else {
                        act::exec_ephemeral_containers(client, ns, &first, limit).await?
                    };
                    for check in checks {
                        let done = Observed::ActionDone { check: Some(check) };
                        record::record(probe, ps, done, self.now);
                    }
                    self.requeue_within(Duration::from_secs(1));
                    return Ok(());
                }
                Step::LiveUpdate => {
                    if let Some(pod) = self.pods.get(&first) {
                        act::live_update(&self.ctx.client, pod, &self.rc.run_uid).await?;
                        record::record(probe, ps, Observed::ActionDone { check: None }, self.now);
                    }
                    return Ok(());
                }
                Step::CustomAction { index } => {
                    if !self.custom_action(probe, ps, index, first).await? {
                        return Ok(());
                    }
                }
                Step::Inspect => {
                    let evidence = Evidence {
                        pods: pods.clone(),
                        deleted_at: ps.delete_requested_at(),
                        ..Evidence::default()
                    };
                    record::record(probe, ps, Observed::Seen(evidence), self.now);
                    match self.inspect(probe, ps, &pods).await? {
                        Some(outcome) => {
                            self.observed(probe, ps, Observed::Outcome(outcome)).await?;
                        }
                        None => {
                            self.requeue_within(Duration::from_secs(1));
                            return Ok(());
                        }
                    }
                }
                Step::Finish(outcome) => {
                    // An exec action this process runs in the background ends by the probe's
                    // deadline too: its outcome goes into the verdict.
                    if self.exec_running(probe, ps) {
                        self.requeue_within(ACTION_POLL);
                        return Ok(());
                    }
                    // An attempt's outcome (a running probe's: a churn that passed, a timeout)
                    // counts like a judged one: a passed attempt of a repeated probe goes on to
                    // the next. Its pods are released once the verdict is written (reconcile).
                    self.observed(probe, ps, Observed::Outcome(outcome)).await?;
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Creates the pods (and Secrets) of the probe's next attempt. When the API server refuses
    /// one of them for good ([`errors::refusal`]), the attempt still counts and the probe ends
    /// as an `Error` with the server's words; other probes go on.
    pub(super) async fn start_attempt(
        &mut self,
        probe: &ResolvedProbe,
        ps: &mut ProbeStatus,
    ) -> Result<(), Error> {
        let pods = probes::pods(probe, self.rc, ps.attempts);
        let refused = match self.create_attempt(probe, &pods).await {
            Ok(()) => None,
            Err(e) => Some(errors::refusal(&e).ok_or(e)?),
        };
        let created = Observed::Created {
            pods: pods
                .iter()
                .filter_map(|p| p.metadata.name.clone())
                .collect(),
            refused,
        };
        if record::record(probe, ps, created, self.now) == Then::Continue {
            self.requeue_within(Duration::from_secs(1));
        }
        Ok(())
    }

    pub(super) async fn create_attempt(
        &self,
        probe: &ResolvedProbe,
        pods: &[Pod],
    ) -> Result<(), Error> {
        for secret in probes::secrets(probe, pods) {
            act::create_secret(&self.ctx.client, &secret).await?;
        }
        for config_map in probes::config_maps(probe, pods) {
            act::create_config_map(&self.ctx.client, &config_map).await?;
        }
        act::create_pods(&self.ctx.client, pods).await
    }
}
