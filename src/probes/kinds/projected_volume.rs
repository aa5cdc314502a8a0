//! `projectedVolume`: a projected volume (here from the downward API) has the content it
//! projects and the file modes asked for: an item's `mode`, else the volume's `defaultMode`.
//! Catches a kubelet or runtime that ignores the modes (world-readable files) or projects the
//! wrong content.

use k8s_openapi::api::core::v1::{
    DownwardAPIProjection, DownwardAPIVolumeFile, ObjectFieldSelector, PodSpec,
    ProjectedVolumeSource, Volume, VolumeProjection,
};

use super::{Kind, ProbeKind, field_or, log_text, mount, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal, finished_pod, log_missing};

pub const MOUNT: &str = "/etc/proctor-projected";
/// The volume's defaultMode and the one item's own mode.
pub const DEFAULT_MODE: i32 = 0o404;
pub const ITEM_MODE: i32 = 0o600;
/// What the kubelet adds to the files of a read-only volume of a pod with an fsGroup (as probe
/// pods have): group read, so that the group can read them.
const FS_GROUP_BITS: i32 = 0o440;

pub const KIND: Kind = Kind {
    name: "projectedVolume",
    resolve,
    entry: Entry {
        kind: "projectedVolume",
        checks: "a projected volume's files hold what they project, with the item's mode (0600) or else the defaultMode (0404), plus the group read the fsGroup adds",
        parameters: "-",
        runs: "`stat` and `cat` of the files of a projected downwardAPI volume",
        catches: "file modes ignored (world-readable secrets), wrong content projected",
        faults: "volumes",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe
        .projected_volume
        .as_ref()
        .map(|_| ProbeKind::ProjectedVolume)
}

fn item(path: &str, field_path: &str, mode: Option<i32>) -> DownwardAPIVolumeFile {
    DownwardAPIVolumeFile {
        path: path.into(),
        field_ref: Some(ObjectFieldSelector {
            field_path: field_path.into(),
            ..ObjectFieldSelector::default()
        }),
        mode,
        ..DownwardAPIVolumeFile::default()
    }
}

pub fn shape(spec: &mut PodSpec) {
    spec.volumes = Some(vec![Volume {
        name: "projected".into(),
        projected: Some(ProjectedVolumeSource {
            default_mode: Some(DEFAULT_MODE),
            sources: Some(vec![VolumeProjection {
                downward_api: Some(DownwardAPIProjection {
                    items: Some(vec![
                        item("name", "metadata.name", Some(ITEM_MODE)),
                        item("namespace", "metadata.namespace", None),
                    ]),
                }),
                ..VolumeProjection::default()
            }]),
        }),
        ..Volume::default()
    }]);
    if let Some(container) = spec.containers.first_mut() {
        container.volume_mounts = Some(vec![mount("projected", MOUNT, true)]);
        script(
            container,
            r#"for f in name namespace; do echo "$f mode: $(stat -L -c %a "$1/$f")"; echo "$f content: $(cat "$1/$f")"; done"#,
            &[MOUNT],
        );
    }
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |pod, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("projectedVolume");
        };
        let namespace = pod.namespace.clone().unwrap_or_default();
        Outcome::from_checks(
            vec![
                equal("exitCode", 0, t.exit_code),
                equal(
                    "itemMode",
                    format!("{:o}", ITEM_MODE | FS_GROUP_BITS).as_str(),
                    field_or(log, "not read", "name mode"),
                ),
                equal(
                    "defaultMode",
                    format!("{:o}", DEFAULT_MODE | FS_GROUP_BITS).as_str(),
                    field_or(log, "not read", "namespace mode"),
                ),
                equal(
                    "content",
                    pod.name.as_str(),
                    field_or(log, "not read", "name content"),
                ),
                equal(
                    "namespaceContent",
                    namespace.as_str(),
                    field_or(log, "not read", "namespace content"),
                ),
            ],
            format!(
                "the files are {:o} and {:o}, with the projected content",
                ITEM_MODE | FS_GROUP_BITS,
                DEFAULT_MODE | FS_GROUP_BITS
            ),
        )
    })
}
