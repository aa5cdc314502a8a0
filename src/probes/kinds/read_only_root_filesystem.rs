//! `readOnlyRootFilesystem`: with `readOnlyRootFilesystem: true` the container's root
//! filesystem is mounted read-only and refuses a write where the image would allow one
//! (`/tmp`, mode 1777 in the image). Catches a runtime that mounts it writable.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, field, log_text, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, bounded, check, finished_pod, log_missing};

pub const KIND: Kind = Kind {
    name: "readOnlyRootFilesystem",
    resolve,
    entry: Entry {
        kind: "readOnlyRootFilesystem",
        checks: "readOnlyRootFilesystem: true mounts / read-only, and a write to /tmp (world-writable in the image) is refused with EROFS",
        parameters: "-",
        runs: "reads the / mount options; `touch /tmp/...`",
        catches: "readOnlyRootFilesystem ignored",
        faults: "unconfined",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe
        .read_only_root_filesystem
        .as_ref()
        .map(|_| ProbeKind::ReadOnlyRootFilesystem)
}

pub fn shape(spec: &mut PodSpec) {
    if let Some(container) = spec.containers.first_mut() {
        if let Some(context) = container.security_context.as_mut() {
            context.read_only_root_filesystem = Some(true);
        }
        script(
            container,
            "awk '$5 == \"/\" { print \"root: \" $6 }' /proc/self/mountinfo; touch /tmp/proctor-root-write 2>&1; echo \"write-exit: $?\"",
            &[],
        );
    }
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, _| {
        let Some(log) = log_text(evidence) else {
            return log_missing("readOnlyRootFilesystem");
        };
        let options = field(log, "root").unwrap_or("not found in mountinfo");
        let read_only = options.split(',').any(|o| o == "ro");
        let refused = log.contains("Read-only file system");
        let wrote = field(log, "write-exit") == Some("0");
        if !refused && !wrote {
            return Outcome::error(
                "WriteFailedOtherwise",
                format!(
                    "the write to /tmp failed for another reason than a read-only root: {}",
                    bounded(log.trim(), 200)
                ),
            );
        }
        Outcome::from_checks(
            vec![
                check("rootMount", "ro", options, read_only),
                check(
                    "write",
                    "refused (Read-only file system)",
                    if refused {
                        "refused (Read-only file system)"
                    } else {
                        "succeeded"
                    },
                    refused,
                ),
            ],
            "the root filesystem is read-only and refused the write".into(),
        )
    })
}
