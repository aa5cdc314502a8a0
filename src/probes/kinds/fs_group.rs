//! `fsGroup`: the volumes of a pod with `fsGroup` belong to that group, setgid, so files
//! created in them do too, and the process has the group. Catches a kubelet or runtime that
//! skips the ownership change (the process then cannot share files with its pod's others).

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, empty_dir, field, log_text, mount, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, check, equal, finished_pod, log_missing};

pub const DEFAULT_GROUP: i64 = 2005;
/// Where the probe mounts its volume.
pub const MOUNT: &str = "/mnt/proctor-fs-group";

pub const KIND: Kind = Kind {
    name: "fsGroup",
    resolve,
    entry: Entry {
        kind: "fsGroup",
        checks: "an emptyDir of a pod with fsGroup is owned by that group with the setgid bit, a new file in it gets the group, and the process has it",
        parameters: "group (default 2005)",
        runs: "`stat` of an emptyDir of a pod with fsGroup, and of a file created in it",
        catches: "a volume left to root, so the pod's containers cannot share files as their group",
        faults: "security",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.fs_group.as_ref()?;
    Some(ProbeKind::FsGroup {
        group: p.group.unwrap_or(DEFAULT_GROUP),
    })
}

pub fn shape(group: i64, spec: &mut PodSpec) {
    if let Some(context) = spec.security_context.as_mut() {
        context.fs_group = Some(group);
    }
    spec.volumes = Some(vec![empty_dir("fs-group")]);
    if let Some(container) = spec.containers.first_mut() {
        container.volume_mounts = Some(vec![mount("fs-group", MOUNT, false)]);
        script(
            container,
            r#"stat -c 'volume: %g %a' "$1"; touch "$1/new-file" 2>&1 && stat -c 'file: %g' "$1/new-file"; grep '^Groups:' /proc/self/status"#,
            &[MOUNT],
        );
    }
}

pub fn judge(group: i64, evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("fsGroup");
        };
        let mut volume = field(log, "volume").unwrap_or_default().split_whitespace();
        let volume_group = volume.next().unwrap_or("unknown");
        let mode = volume.next().unwrap_or("unknown");
        let setgid = u32::from_str_radix(mode, 8).is_ok_and(|m| m & 0o2000 != 0);
        let file_group = field(log, "file").unwrap_or("no file created");
        let has_group = field(log, "Groups")
            .unwrap_or_default()
            .split_whitespace()
            .any(|g| g == group.to_string());
        Outcome::from_checks(
            vec![
                equal("exitCode", 0, t.exit_code),
                equal("volumeGroup", group.to_string().as_str(), volume_group),
                check("volumeMode", "setgid (2xxx)", mode, setgid),
                equal("newFileGroup", group.to_string().as_str(), file_group),
                check(
                    "processGroups",
                    format!("include {group}"),
                    field(log, "Groups").unwrap_or("unknown"),
                    has_group,
                ),
            ],
            format!("the volume belongs to group {group} (mode {mode}), and so does a new file"),
        )
    })
}
