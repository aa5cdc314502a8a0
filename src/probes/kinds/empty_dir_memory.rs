//! `emptyDirMemory`: an emptyDir with `medium: Memory` is a tmpfs, and its `sizeLimit` is the
//! tmpfs's size. Catches a kubelet or runtime that backs it with disk (secrets written to it
//! then reach the disk) or ignores the size.

use k8s_openapi::api::core::v1::{EmptyDirVolumeSource, PodSpec, Volume};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::{Kind, ProbeKind, log_text, mount, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal, finished_pod, log_missing};

pub const MOUNT: &str = "/mnt/proctor-memory";

pub const KIND: Kind = Kind {
    name: "emptyDirMemory",
    resolve,
    entry: Entry {
        kind: "emptyDirMemory",
        checks: "an emptyDir with medium Memory is a tmpfs whose size is its sizeLimit",
        parameters: "sizeLimitMiB (default 8)",
        runs: "prints the mount table's line for the volume",
        catches: "a memory-backed volume backed by disk, or its size limit ignored",
        faults: "volumes",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.empty_dir_memory.as_ref()?;
    Some(ProbeKind::EmptyDirMemory {
        size_limit_mib: p.size_limit_mib.unwrap_or(8),
    })
}

pub fn shape(size_limit_mib: i32, spec: &mut PodSpec) {
    spec.volumes = Some(vec![Volume {
        name: "memory".into(),
        empty_dir: Some(EmptyDirVolumeSource {
            medium: Some("Memory".into()),
            size_limit: Some(Quantity(format!("{size_limit_mib}Mi"))),
        }),
        ..Volume::default()
    }]);
    if let Some(container) = spec.containers.first_mut() {
        container.volume_mounts = Some(vec![mount("memory", MOUNT, false)]);
        script(
            container,
            r#"awk -v m="$1" '$5 == m { print "mount: " $0 }' /proc/self/mountinfo"#,
            &[MOUNT],
        );
    }
}

pub fn judge(size_limit_mib: i32, evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("emptyDirMemory");
        };
        // After the " - " separator: the filesystem type, the source, the super options.
        let line = log.lines().find_map(|l| l.strip_prefix("mount: "));
        let after = line.and_then(|l| l.split_once(" - ")).map(|(_, a)| a);
        let mut fields = after.unwrap_or_default().split_whitespace();
        let fs_type = fields.next().unwrap_or("not mounted");
        let size = fields
            .nth(1)
            .unwrap_or_default()
            .split(',')
            .find_map(|o| o.strip_prefix("size="))
            .unwrap_or("unset");
        Outcome::from_checks(
            vec![
                equal("exitCode", 0, t.exit_code),
                equal("filesystem", "tmpfs", fs_type),
                equal("size", format!("{}k", size_limit_mib * 1024).as_str(), size),
            ],
            format!("the volume is a tmpfs of {size_limit_mib} MiB"),
        )
    })
}
