//! The look at the node: the hostPID inspector pods (one per node a probe's pods reached) and
//! the listing of the node's processes that still carry a probe pod's marker.

use super::drive;
use super::schedule::RunWork;
use super::{Error, act, errors};
use crate::api::ProbeStatus;
use crate::probes::{self, ResolvedProbe};
use crate::verdict::{self, Outcome, PodObservation};

impl RunWork<'_> {
    /// Creates the run's inspector on each of `nodes` that has none in the cache yet (the
    /// inspector reads its own node's process table). `Some`: the API server refused one for
    /// good ([`errors::refusal`]), the probe's outcome.
    pub(super) async fn place_inspectors(
        &self,
        nodes: &[String],
    ) -> Result<Option<Outcome>, Error> {
        for node in nodes {
            let name = self.rc.names().inspector(node);
            if self.pods.contains_key(&name) {
                continue;
            }
            let pod = probes::inspector_pod(self.rc, node);
            if let Err(e) = act::create_pod(&self.ctx.client, &pod).await {
                return Ok(Some(errors::refusal(&e).ok_or(e)?));
            }
        }
        Ok(None)
    }

    /// The node's processes still carrying the marker of the probe's pods, listed by the
    /// inspector on each node they ran on: the process-group-kill check after the kill, the
    /// churn's leftover check once its pods are gone. `None`: not yet (an inspector not running
    /// yet, or look again).
    pub(super) async fn inspect(
        &mut self,
        probe: &ResolvedProbe,
        ps: &ProbeStatus,
        pods: &[PodObservation],
    ) -> Result<Option<Outcome>, Error> {
        let inspectors: Vec<String> = ps
            .nodes
            .iter()
            .map(|node| self.rc.names().inspector(node))
            .collect();
        let running = |name: &String| {
            self.pods.get(name).is_some_and(|p| {
                matches!(
                    PodObservation::of(p).container,
                    verdict::ContainerState::Running { .. }
                )
            })
        };
        // An inspector that cannot start (its image, the node) says so, not a timeout later.
        if let Some((name, (reason, message))) = inspectors.iter().find_map(|name| {
            let pod = PodObservation::of(self.pods.get(name)?);
            pod.blocked().map(|b| (name.clone(), b))
        }) {
            return Ok(Some(Outcome::error(
                "InspectorCannotStart",
                format!(
                    "the inspector {name} cannot start: {reason}: {}",
                    verdict::bounded(&message, 300)
                ),
            )));
        }
        // A killed pod that was never seen on a node cannot be looked for yet; churn pods that
        // never reached one left nothing behind.
        let churn = matches!(probe.kind, probes::ProbeKind::RapidCreateDelete { .. });
        if (inspectors.is_empty() && !churn) || !inspectors.iter().all(running) {
            return Ok(None);
        }
        // The churn's leftovers are any of its pods'; the kill's, its one pod's.
        let names = match probe.kind {
            probes::ProbeKind::RapidCreateDelete { .. } => ps.pods.clone(),
            _ => ps.pods.iter().take(1).cloned().collect(),
        };
        let mut listing = String::new();
        let mut result = verdict::ExecObservation {
            exit_code: Some(0),
            error: None,
        };
        let mut errors = String::new();
        for inspector in &inspectors {
            let (exec, output, stderr) = act::exec(
                &self.ctx.client,
                &self.rc.namespace,
                inspector,
                probes::CONTAINER,
                probes::inspect_command(&names),
                act::CALL_TIMEOUT,
            )
            .await?;
            listing.push_str(&output);
            if exec.exit_code != Some(0) {
                result = exec;
                errors = stderr;
                break;
            }
        }
        Ok(drive::judge_inspection(
            probe, ps, pods, self.now, &result, &listing, &errors,
        ))
    }
}
