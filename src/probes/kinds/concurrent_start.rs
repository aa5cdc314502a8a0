//! `concurrentStart`: N pods created in one burst all reach `Succeeded`; the spread of their
//! starts is recorded. Catches a runtime that loses or serialises concurrent creates.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, script};
use crate::api::Probe;
use crate::controller::drive::{At, Step};
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal};

pub const KIND: Kind = Kind {
    name: "concurrentStart",
    resolve,
    entry: Entry {
        kind: "concurrentStart",
        checks: "N pods created in one burst all reach Succeeded; start spread recorded",
        parameters: "pods (default 10)",
        runs: "N pods created in one burst",
        catches: "lock contention and races in sandbox, network or overlay setup",
        faults: "lifecycle",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.concurrent_start.as_ref()?;
    Some(ProbeKind::ConcurrentStart {
        pods: p.pods.unwrap_or(10),
    })
}

pub fn shape(spec: &mut PodSpec) {
    if let Some(container) = spec.containers.first_mut() {
        script(container, "echo started", &[]);
    }
}

/// Judged once every pod of the burst finished.
pub fn judge(pods: i32, evidence: &Evidence) -> Option<Outcome> {
    if evidence.pods.len() < pods as usize || !evidence.pods.iter().all(|p| p.is_finished()) {
        return None;
    }
    let succeeded = evidence
        .pods
        .iter()
        .filter(|p| p.phase.as_deref() == Some("Succeeded"))
        .count();
    let starts: Vec<_> = evidence
        .pods
        .iter()
        .filter_map(|p| p.terminated().and_then(|t| t.started_at))
        .collect();
    let spread = match (starts.iter().min(), starts.iter().max()) {
        (Some(first), Some(last)) => {
            format!("{} ms", last.as_millisecond() - first.as_millisecond())
        }
        _ => "unknown".into(),
    };
    let checks = vec![equal("podsSucceeded", pods as usize, succeeded)];
    Some(Outcome::from_checks(
        checks,
        format!("all {pods} pods succeeded; starts spread over {spread}"),
    ))
}

/// Judge once every pod of the burst finished.
pub fn step(at: &At) -> Step {
    if at.observed.len() == at.view.pods.len() && at.observed.iter().all(|p| p.is_finished()) {
        Step::Judge { read_log: false }
    } else {
        Step::Wait
    }
}
