//! Carrying out a custom probe's actions: an exec runs at most once per attempt, in the
//! background (see [`super::actions`]); its outcome is recorded before the next step; then the
//! action's delete, and the action counted as done.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::record::{self, Observed};
use super::schedule::RunWork;
use super::{Error, act, actions, drive};
use crate::api::{ProbePhase, ProbeStatus};
use crate::probes::{self, ResolvedProbe};
use crate::verdict::Outcome;

/// How often a run with an exec action in the background looks for its outcome.
pub(super) const ACTION_POLL: Duration = Duration::from_secs(1);

impl RunWork<'_> {
    /// The key of custom action `index` of the probe's current attempt (see [`actions`]).
    pub(super) fn action_key(&self, ps: &ProbeStatus, index: usize) -> String {
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
    pub(super) fn exec_running(&self, probe: &ResolvedProbe, ps: &ProbeStatus) -> bool {
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
    pub(super) async fn take_ended_action(
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
    pub(super) async fn custom_action(
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
}
