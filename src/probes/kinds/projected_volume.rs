//! `projectedVolume`: a projected volume (here from the downward API) has the content it
//! projects and the file modes asked for: an item's `mode`, else the volume's `defaultMode`.
//! Catches a kubelet or runtime that ignores the modes (world-readable files) or projects the
//! wrong content.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    DownwardAPIProjection, DownwardAPIVolumeFile, ObjectFieldSelector, PodSpec,
    ProjectedVolumeSource, ResourceFieldSelector, ResourceRequirements, Volume, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::downward_api::{CPU_MILLIS, CPU_REQUEST_MILLIS, MEMORY_MIB, MEMORY_REQUEST_MIB};

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
        checks: "a projected volume's files hold what they project (name, namespace, the container's CPU and memory limits and requests), with the item's mode (0600) or else the defaultMode (0404), plus the group read the fsGroup adds",
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

/// File, resource, divisor, expected value.
const RESOURCES: [(&str, &str, &str, i64); 4] = [
    ("limits_memory", "limits.memory", "1Mi", MEMORY_MIB),
    ("limits_cpu", "limits.cpu", "1m", CPU_MILLIS),
    (
        "requests_memory",
        "requests.memory",
        "1Mi",
        MEMORY_REQUEST_MIB,
    ),
    ("requests_cpu", "requests.cpu", "1m", CPU_REQUEST_MILLIS),
];

pub fn shape(spec: &mut PodSpec) {
    let mut items = vec![
        item("name", "metadata.name", Some(ITEM_MODE)),
        item("namespace", "metadata.namespace", None),
    ];
    items.extend(
        RESOURCES
            .iter()
            .map(|(file, res, divisor, _)| DownwardAPIVolumeFile {
                path: (*file).into(),
                resource_field_ref: Some(ResourceFieldSelector {
                    container_name: Some(crate::probes::CONTAINER.into()),
                    resource: (*res).into(),
                    divisor: Some(Quantity((*divisor).into())),
                }),
                ..DownwardAPIVolumeFile::default()
            }),
    );
    spec.volumes = Some(vec![Volume {
        name: "projected".into(),
        projected: Some(ProjectedVolumeSource {
            default_mode: Some(DEFAULT_MODE),
            sources: Some(vec![VolumeProjection {
                downward_api: Some(DownwardAPIProjection { items: Some(items) }),
                ..VolumeProjection::default()
            }]),
        }),
        ..Volume::default()
    }]);
    if let Some(container) = spec.containers.first_mut() {
        container.volume_mounts = Some(vec![mount("projected", MOUNT, true)]);
        container.resources = Some(ResourceRequirements {
            limits: Some(BTreeMap::from([
                ("memory".to_owned(), Quantity(format!("{MEMORY_MIB}Mi"))),
                ("cpu".to_owned(), Quantity(format!("{CPU_MILLIS}m"))),
            ])),
            requests: Some(BTreeMap::from([
                (
                    "memory".to_owned(),
                    Quantity(format!("{MEMORY_REQUEST_MIB}Mi")),
                ),
                ("cpu".to_owned(), Quantity(format!("{CPU_REQUEST_MILLIS}m"))),
            ])),
            ..ResourceRequirements::default()
        });
        script(
            container,
            r#"for f in name namespace limits_memory limits_cpu requests_memory requests_cpu; do echo "$f mode: $(stat -L -c %a "$1/$f")"; echo "$f content: $(cat "$1/$f")"; done"#,
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
        let mut checks = vec![
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
        ];
        for (file, res, _, expected) in RESOURCES {
            checks.push(equal(
                "resourceContent",
                format!("{res}={expected}"),
                format!(
                    "{res}={}",
                    field_or(log, "not read", &format!("{file} content"))
                ),
            ));
        }
        Outcome::from_checks(
            checks,
            format!(
                "the files are {:o} and {:o}, with the projected content",
                ITEM_MODE | FS_GROUP_BITS,
                DEFAULT_MODE | FS_GROUP_BITS
            ),
        )
    })
}
