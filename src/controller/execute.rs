//! Carrying out one probe's next steps: the side effects [`drive::next`] asks for, and what
//! they showed, handed back to the verdict code.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::api::{ProbePhase, ProbeStatus, TerminationTimeline, Verdict};
use crate::probes::{self, READY_MARKER, ResolvedProbe};
use crate::verdict::{self, Evidence, Outcome, PodObservation};

use super::drive::{self, ProbeView, Step};
use super::{Error, act, actions, errors};

use super::schedule::{RunWork, finish};

/// How often a run with an exec action in the background looks for its outcome.
const ACTION_POLL: Duration = Duration::from_secs(1);

impl RunWork<'_> {
    /// Advances one probe as far as it can go in this reconcile.
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
            // A probe that looks at the node gets an inspector on each node its pods reached.
            if drive::uses_inspector(&probe.kind, self.privileged())
                && ps.phase == ProbePhase::Running
            {
                let nodes = drive::nodes_of(&ps.nodes, &self.observe(&ps.pods));
                if let Some(outcome) = self.place_inspectors(&nodes).await? {
                    finish(ps, outcome, self.now);
                    return Ok(());
                }
                ps.nodes = nodes;
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
                                let outcome = verdict::log_unavailable(&first, &status.message);
                                self.judged(probe, ps, outcome).await?;
                                continue;
                            }
                            Err(e) => return Err(e),
                        }
                    } else {
                        None
                    };
                    let deleted_at = ps.delete_requested_at();
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
                    drive::record_timeline(ps, &evidence);
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
                    let Some(outcome) = verdict::evaluate(&probe.kind, &evidence) else {
                        return Ok(());
                    };
                    let outcome = verdict::with_exec_output(outcome, &output);
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
                    if ps.delete_requested_at().is_none() {
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
                    // is recorded as started (that status written) before it runs. It runs in
                    // the background, holding no reconcile slot; a later reconcile takes its
                    // outcome.
                    let key = format!("{}/{}/{}/{index}", self.rc.run_uid, ps.name, ps.attempts);
                    let started = usize::try_from(ps.actions_started).unwrap_or(0) > index;
                    if let Some(exec) = &action.exec {
                        if !started {
                            ps.actions_started = i32::try_from(index + 1).unwrap_or(i32::MAX);
                            self.ctx.actions.claim(&key);
                            self.requeue_within(Duration::from_millis(100));
                            return Ok(());
                        }
                        let observed = match self.ctx.actions.poll(&key) {
                            None => {
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
                            Some(actions::Poll::Claimed) => {
                                let client = self.ctx.client.clone();
                                let namespace = self.rc.namespace.clone();
                                let command = exec.command.clone();
                                let limit = self.time_left(probe, ps);
                                self.ctx.actions.start(&key, async move {
                                    act::exec(
                                        &client,
                                        &namespace,
                                        &first,
                                        probes::CONTAINER,
                                        command,
                                        limit,
                                    )
                                    .await
                                    .map(|(observed, _, _)| observed)
                                });
                                self.requeue_within(ACTION_POLL);
                                return Ok(());
                            }
                            Some(actions::Poll::Running) => {
                                self.requeue_within(ACTION_POLL);
                                return Ok(());
                            }
                            // Not carried out (e.g. the API server did not answer): claimed
                            // again, retried with the reconcile.
                            Some(actions::Poll::Done(outcome)) => outcome?,
                        };
                        ps.checks.push(probes::kinds::custom::exec_action_check(
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
                    self.ctx.actions.forget(&key);
                    ps.actions_done += 1;
                    ps.actions_started = ps.actions_started.max(ps.actions_done);
                    self.requeue_within(Duration::from_millis(500));
                }
                Step::Inspect => {
                    let deleted_at = ps.delete_requested_at();
                    let evidence = Evidence {
                        pods: evidence_pods.clone(),
                        log: None,
                        exec: None,
                        deleted_at,
                        kill_started_at: None,
                    };
                    drive::record_timeline(ps, &evidence);
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

    pub(super) async fn judged(
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
        ps.nodes.clear();
        match refused {
            Some(outcome) => finish(ps, outcome, self.now),
            None => self.requeue_within(Duration::from_secs(1)),
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
        act::create_pods(&self.ctx.client, pods).await
    }
}
