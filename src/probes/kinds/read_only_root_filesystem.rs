//! `readOnlyRootFilesystem`: with `readOnlyRootFilesystem: true` the container's root
//! filesystem is mounted read-only and refuses a write where the image would allow one
//! (`/tmp`, mode 1777 in the image); without it (an init container with
//! `readOnlyRootFilesystem: false`) the same write succeeds. Catches a runtime that mounts it
//! writable, or read-only when not asked.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, empty_dir, field, log_text, mount, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, bounded, check, finished_pod, log_missing};

pub const KIND: Kind = Kind {
    name: "readOnlyRootFilesystem",
    resolve,
    entry: Entry {
        kind: "readOnlyRootFilesystem",
        checks: "readOnlyRootFilesystem: true mounts / read-only, and a write to /tmp (world-writable in the image) is refused with EROFS; with false (an init container) the same write succeeds",
        parameters: "-",
        runs: "reads the / mount options; `touch /tmp/...`, in the container and in an init container whose root is writable",
        catches: "readOnlyRootFilesystem ignored",
        faults: "security",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe
        .read_only_root_filesystem
        .as_ref()
        .map(|_| ProbeKind::ReadOnlyRootFilesystem)
}

/// Where the init container leaves the result of its write.
pub const SHARED: &str = "/mnt/proctor-writable";

pub fn shape(spec: &mut PodSpec) {
    spec.volumes = Some(vec![empty_dir("shared")]);
    if let Some(container) = spec.containers.first_mut() {
        let mut writable = container.clone();
        writable.name = "writable-root".into();
        if let Some(context) = writable.security_context.as_mut() {
            context.read_only_root_filesystem = Some(false);
        }
        writable.volume_mounts = Some(vec![mount("shared", SHARED, false)]);
        script(
            &mut writable,
            r#"if out=$(touch /tmp/proctor-root-write 2>&1); then echo succeeded > "$1/result"; else echo "refused: $out" > "$1/result"; fi"#,
            &[SHARED],
        );
        spec.init_containers = Some(vec![writable]);
        if let Some(context) = container.security_context.as_mut() {
            context.read_only_root_filesystem = Some(true);
        }
        container.volume_mounts = Some(vec![mount("shared", SHARED, false)]);
        script(
            container,
            "awk '$5 == \"/\" { print \"root: \" $6 }' /proc/self/mountinfo; touch /tmp/proctor-root-write 2>&1; echo \"write-exit: $?\"; echo \"writable-write: $(cat \"$1/result\")\"",
            &[SHARED],
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
                check(
                    "writableRootWrite",
                    "succeeded",
                    field(log, "writable-write").unwrap_or("not reported"),
                    field(log, "writable-write") == Some("succeeded"),
                ),
            ],
            "the root filesystem is read-only and refused the write; a writable one took it".into(),
        )
    })
}
