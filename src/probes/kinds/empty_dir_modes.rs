//! `emptyDirModes`: an emptyDir, on disk and on tmpfs, is a world-writable directory (mode 0777)
//! when the pod has no fsGroup, and a non-root process creates files in it with the modes it
//! asks (0644, 0666, 0777) and reads back what it wrote. Catches a kubelet or runtime that
//! creates the volume owned by root and closed (non-root containers cannot write to it), or
//! mounts it with options that change what is written.

use k8s_openapi::api::core::v1::{EmptyDirVolumeSource, PodSpec, Volume};

use super::{Kind, ProbeKind, field_or, log_text, mount, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal, finished_pod, log_missing};

pub const DISK: &str = "/mnt/proctor-disk";
pub const MEMORY: &str = "/mnt/proctor-tmpfs";
/// The modes of the files the probe creates.
pub const MODES: [&str; 3] = ["644", "666", "777"];
const CONTENT: &str = "proctor wrote this";
/// Reports the tmpfs volume's type, both directories' modes, and a file per mode in each
/// (`$1` the content, `$2` and `$3` the volumes, the modes after them).
pub const SCRIPT: &str = r#"c="$1"; d="$2"; t="$3"; shift 3; awk -v m="$t" '$5 == m { sub(/.* - /, ""); print "tmpfs type: " $1 }' /proc/self/mountinfo; for v in "$d" "$t"; do echo "$v dir: $(stat -c %a "$v")"; for m; do f="$v/file-$m"; echo "$c" > "$f" && chmod "$m" "$f" && echo "$v $m: $(stat -c %a "$f") $(cat "$f")"; done; done; true"#;

pub const KIND: Kind = Kind {
    name: "emptyDirModes",
    resolve,
    entry: Entry {
        kind: "emptyDirModes",
        checks: "an emptyDir on disk and one with medium Memory (a tmpfs) are mode 0777 without an fsGroup, and a non-root process creates files in each with modes 0644, 0666 and 0777 and reads them back",
        parameters: "-",
        runs: "`stat` of two emptyDirs (default medium and Memory); creates, `chmod`s, `stat`s and reads a file per mode in each",
        catches: "emptyDirs created closed to non-root containers, or file modes and content not kept",
        faults: "security, volumes",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe
        .empty_dir_modes
        .as_ref()
        .map(|_| ProbeKind::EmptyDirModes)
}

/// The two emptyDirs, `disk` (default medium) and `memory` (a tmpfs), mounted at [`DISK`] and
/// [`MEMORY`].
pub fn volumes() -> Vec<Volume> {
    let volume = |name: &str, medium: Option<&str>| Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource {
            medium: medium.map(str::to_owned),
            size_limit: None,
        }),
        ..Volume::default()
    };
    vec![volume("disk", None), volume("memory", Some("Memory"))]
}

pub fn shape(spec: &mut PodSpec) {
    // No fsGroup: the kubelet would give the volumes to its group, setgid.
    if let Some(context) = spec.security_context.as_mut() {
        context.fs_group = None;
    }
    spec.volumes = Some(volumes());
    if let Some(container) = spec.containers.first_mut() {
        container.volume_mounts = Some(vec![
            mount("disk", DISK, false),
            mount("memory", MEMORY, false),
        ]);
        let mut args = vec![CONTENT, DISK, MEMORY];
        args.extend(MODES);
        script(container, SCRIPT, &args);
    }
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("emptyDirModes");
        };
        let mut checks = vec![
            equal("exitCode", 0, t.exit_code),
            equal(
                "memoryMedium",
                "tmpfs",
                field_or(log, "not created", "tmpfs type"),
            ),
        ];
        for (dir, medium) in [(DISK, "disk"), (MEMORY, "tmpfs")] {
            // The permission bits: a tmpfs emptyDir is sticky too (1777), as /tmp is.
            let mode: Vec<char> = field_or(log, "not created", &format!("{dir} dir"))
                .chars()
                .collect();
            let permissions: String = mode[mode.len().saturating_sub(3)..].iter().collect();
            checks.push(equal(
                "dirMode",
                format!("{medium} 777"),
                format!("{medium} {permissions}"),
            ));
        }
        for (dir, medium) in [(DISK, "disk"), (MEMORY, "tmpfs")] {
            for mode in MODES {
                checks.push(equal(
                    "file",
                    format!("{medium} {mode} {CONTENT}"),
                    format!(
                        "{medium} {}",
                        field_or(log, "not created", &format!("{dir} {mode}"))
                    ),
                ));
            }
        }
        Outcome::from_checks(
            checks,
            "both emptyDirs are 0777, and files were created in them with modes 644, 666 and 777"
                .into(),
        )
    })
}
