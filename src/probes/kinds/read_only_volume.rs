//! `readOnlyVolume`: a write into a read-only mount is refused by the kernel. Catches a
//! runtime that mounts read-only volumes writable.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, READ_ONLY_MOUNT, empty_dir, mount, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, bounded, check, finished_pod};

pub const KIND: Kind = Kind {
    name: "readOnlyVolume",
    resolve,
    entry: Entry {
        kind: "readOnlyVolume",
        checks: "a write into a read-only mount is refused",
        parameters: "-",
        runs: "`touch` into an emptyDir mounted readOnly",
        catches: "read-only volume mounts that are writable",
        faults: "spec",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe
        .read_only_volume
        .as_ref()
        .map(|_| ProbeKind::ReadOnlyVolume)
}

pub fn shape(spec: &mut PodSpec) {
    spec.volumes = Some(vec![empty_dir("read-only")]);
    if let Some(container) = spec.containers.first_mut() {
        container.volume_mounts = Some(vec![mount("read-only", READ_ONLY_MOUNT, true)]);
        // The error goes to stdout: this probe is about the mount, not the stderr relay.
        script(
            container,
            &format!("touch {READ_ONLY_MOUNT}/proctor-write-attempt 2>&1"),
            &[],
        );
    }
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        // The kernel's answer is the evidence; the exit code is another probe's business.
        let log = evidence
            .log
            .as_ref()
            .and_then(|l| l.text.clone())
            .unwrap_or_default();
        let refused = log.contains("Read-only file system");
        if !refused && t.exit_code != 0 {
            return Outcome::error(
                "WriteFailedOtherwise",
                format!(
                    "the write failed for another reason than a read-only mount: {}",
                    bounded(log.trim(), 200)
                ),
            );
        }
        let observed = if refused {
            "refused (Read-only file system)"
        } else {
            "succeeded"
        };
        Outcome::from_checks(
            vec![check(
                "write",
                "refused (Read-only file system)",
                observed,
                refused,
            )],
            "the write to the read-only volume was refused".into(),
        )
    })
}
