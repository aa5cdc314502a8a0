//! `workingDir`: the process runs in the container's `workingDir`. Catches a runtime that
//! ignores it or resolves it wrongly.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal, finished_pod, log_missing};

pub const KIND: Kind = Kind {
    name: "workingDir",
    resolve,
    entry: Entry {
        kind: "workingDir",
        checks: "the process runs in the container's workingDir",
        parameters: "path (default /tmp)",
        runs: "`pwd` with `workingDir` set",
        catches: "workingDir ignored or resolved wrongly",
        faults: "spec",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.working_dir.as_ref()?;
    Some(ProbeKind::WorkingDir {
        path: p.path.clone().unwrap_or_else(|| "/tmp".into()),
    })
}

pub fn shape(path: &str, spec: &mut PodSpec) {
    if let Some(container) = spec.containers.first_mut() {
        container.working_dir = Some(path.to_owned());
        container.command = Some(vec!["pwd".into()]);
    }
}

pub fn judge(path: &str, evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, _| {
        let Some(log) = evidence.log.as_ref().and_then(|l| l.text.clone()) else {
            return log_missing("workingDir");
        };
        Outcome::from_checks(
            vec![equal("workingDir", path, log.trim_end_matches('\n'))],
            format!("the process ran in {path}"),
        )
    })
}
