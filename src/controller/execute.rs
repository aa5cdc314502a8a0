//! Carrying out one probe's next steps: the side effects [`drive::next`] asks for, and what
//! they showed, handed back to the verdict code.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

use crate::api::{ProbePhase, ProbeStatus};
use crate::probes::{self, READY_MARKER, ResolvedProbe};
use crate::verdict::{self, Evidence, Outcome, PodObservation};

use super::drive::{self, ProbeView, Step};
use super::{Error, act, actions, errors};

use super::record::{self, Observed, Then};
use super::schedule::RunWork;

/// How often a run with an exec action in the background looks for its outcome.
const ACTION_POLL: Duration = Duration::from_secs(1);

impl RunWork<'_> {
    /// Records what was observed of the probe ([`record::record`]), and carries out what that
    /// asks for: the next attempt of a repeated probe.
    async fn observed(
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
                        pods,
                        log,
                        exec: None,
                        deleted_at: ps.delete_requested_at(),
                        kill_started_at,
                    };
                    if self
                        .observed(probe, ps, Observed::Evidence(evidence))
                        .await?
                        == Then::Continue
                    {
                        // Not judged yet (the evidence is not complete): look again later.
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

    /// The key of custom action `index` of the probe's current attempt (see [`actions`]).
    fn action_key(&self, ps: &ProbeStatus, index: usize) -> String {
        format!("{}/{}/{}/{index}", self.rc.run_uid, ps.name, ps.attempts)
    }

    /// The exec action of the probe's current attempt that is recorded as started and not as
    /// done: its index and the action.
    fn exec_in_flight<'p>(
        probe: &'p ResolvedProbe,
        ps: &ProbeStatus,
    ) -> Option<(usize, &'p crate::api::Action)> {
        let probes::ProbeKind::Custom(custom) = &probe.kind else {
            return None;
        };
        if ps.phase != ProbePhase::Running || ps.actions_started <= ps.actions_done {
            return None;
        }
        let index = usize::try_from(ps.actions_done).ok()?;
        let action = custom.actions.as_deref().unwrap_or_default().get(index)?;
        action.exec.as_ref().map(|_| (index, action))
    }

    /// Whether an exec action of the probe runs in this process's background now.
    fn exec_running(&self, probe: &ResolvedProbe, ps: &ProbeStatus) -> bool {
        Self::exec_in_flight(probe, ps).is_some_and(|(index, _)| {
            matches!(
                self.ctx.actions.poll(&self.action_key(ps, index)),
                Some(actions::Poll::Running)
            )
        })
    }

    /// Before the next step is decided: an exec action this process ran in the background that
    /// has ended is recorded, whatever its pod did meanwhile (an exec may end the container).
    /// Past the probe's deadline it is recorded as cut off, and the action goes no further.
    async fn take_ended_action(
        &mut self,
        probe: &ResolvedProbe,
        ps: &mut ProbeStatus,
    ) -> Result<(), Error> {
        let Some((index, action)) = Self::exec_in_flight(probe, ps) else {
            return Ok(());
        };
        let key = self.action_key(ps, index);
        let Some(actions::Poll::Done(outcome)) = self.ctx.actions.poll(&key) else {
            return Ok(());
        };
        // Not carried out (e.g. the API server did not answer): claimed again, retried with the
        // reconcile.
        let observed = outcome?;
        let expected = action.exec.as_ref().and_then(|e| e.expect_exit_code);
        let check = probes::kinds::custom::exec_action_check(index, expected, &observed);
        self.taken.push(key);
        let late = drive::deadline(probe, ps).is_some_and(|d| self.now >= d);
        if late {
            record::record(probe, ps, Observed::ActionCutOff { check }, self.now);
            return Ok(());
        }
        self.complete_action(probe, ps, action, Some(check)).await
    }

    /// The rest of a custom action once its exec (if any) is recorded: its delete, then the
    /// action counted as done.
    async fn complete_action(
        &mut self,
        probe: &ResolvedProbe,
        ps: &mut ProbeStatus,
        action: &crate::api::Action,
        check: Option<crate::api::Check>,
    ) -> Result<(), Error> {
        if let Some(delete) = &action.delete {
            let first = ps.pods.first().cloned().unwrap_or_default();
            let grace = i64::from(delete.grace_period_seconds);
            act::delete_pod(&self.ctx.client, &self.rc.namespace, &first, Some(grace)).await?;
            let deleted = Observed::DeleteRequested {
                grace_period_seconds: grace,
                // Now, not the reconcile's start: an exec action may have run long.
                at: Timestamp::now(),
            };
            record::record(probe, ps, deleted, self.now);
        }
        record::record(probe, ps, Observed::ActionDone { check }, self.now);
        self.requeue_within(Duration::from_millis(500));
        Ok(())
    }

    /// Carries out custom action `index` on the probe's pod `first`. An exec runs at most once
    /// per attempt, across restarts and handovers: it is recorded as started (that status
    /// written) before it runs, then runs in the background, holding no reconcile slot; a later
    /// reconcile takes its outcome. `false`: not done in this reconcile (look again later).
    async fn custom_action(
        &mut self,
        probe: &ResolvedProbe,
        ps: &mut ProbeStatus,
        index: usize,
        first: String,
    ) -> Result<bool, Error> {
        let probes::ProbeKind::Custom(custom) = &probe.kind else {
            return Ok(false);
        };
        let Some(action) = custom.actions.as_deref().unwrap_or_default().get(index) else {
            return Ok(false);
        };
        let key = self.action_key(ps, index);
        let started = usize::try_from(ps.actions_started).unwrap_or(0) > index;
        let check = None;
        if let Some(exec) = &action.exec {
            if !started {
                record::record(probe, ps, Observed::ActionStarted { index }, self.now);
                self.ctx.actions.claim(&key);
                self.requeue_within(Duration::from_millis(100));
                return Ok(false);
            }
            match self.ctx.actions.poll(&key) {
                None => {
                    let lost = Outcome::error(
                        "ActionOutcomeLost",
                        format!(
                            "action {} (exec) was started by a controller that stopped before it recorded the outcome; it is not run again",
                            index + 1
                        ),
                    );
                    self.observed(probe, ps, Observed::Outcome(lost)).await?;
                    return Ok(false);
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
                    return Ok(false);
                }
                Some(actions::Poll::Running) => {
                    self.requeue_within(ACTION_POLL);
                    return Ok(false);
                }
                // Ended: recorded before any step (`take_ended_action`).
                Some(actions::Poll::Done(_)) => {
                    self.requeue_within(Duration::from_millis(100));
                    return Ok(false);
                }
            };
        }
        self.complete_action(probe, ps, action, check).await?;
        Ok(true)
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
        act::create_pods(&self.ctx.client, pods).await
    }
}
