//! `subPath`: a volume mounted with `subPath` shows the one file it names, not the volume's
//! root or another file. The volume is a downwardAPI one, so no object is needed: its file
//! `podname` holds the pod's name. Catches a kubelet or runtime that resolves subPaths wrongly.

use k8s_openapi::api::core::v1::{
    DownwardAPIVolumeFile, DownwardAPIVolumeSource, ObjectFieldSelector, PodSpec, Volume,
    VolumeMount,
};

use super::{Kind, ProbeKind, log_text, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal, finished_pod, log_missing};

pub const MOUNT: &str = "/etc/proctor-subpath";

pub const KIND: Kind = Kind {
    name: "subPath",
    resolve,
    entry: Entry {
        kind: "subPath",
        checks: "a volume mounted with subPath shows exactly the file it names",
        parameters: "-",
        runs: "`cat` of a downwardAPI volume's file `podname` mounted alone by subPath",
        catches: "a subPath resolved to the wrong file or to the volume's root",
        faults: "volumes",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe.sub_path.as_ref().map(|_| ProbeKind::SubPath)
}

pub fn shape(spec: &mut PodSpec) {
    spec.volumes = Some(vec![Volume {
        name: "podinfo".into(),
        downward_api: Some(DownwardAPIVolumeSource {
            items: Some(vec![DownwardAPIVolumeFile {
                path: "podname".into(),
                field_ref: Some(ObjectFieldSelector {
                    field_path: "metadata.name".into(),
                    ..ObjectFieldSelector::default()
                }),
                ..DownwardAPIVolumeFile::default()
            }]),
            default_mode: None,
        }),
        ..Volume::default()
    }]);
    if let Some(container) = spec.containers.first_mut() {
        container.volume_mounts = Some(vec![VolumeMount {
            name: "podinfo".into(),
            mount_path: MOUNT.into(),
            sub_path: Some("podname".into()),
            read_only: Some(true),
            ..VolumeMount::default()
        }]);
        script(container, r#"cat "$1""#, &[MOUNT]);
    }
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |pod, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("subPath");
        };
        Outcome::from_checks(
            vec![
                equal("exitCode", 0, t.exit_code),
                equal("content", pod.name.as_str(), log.trim_end_matches('\n')),
            ],
            "the subPath mount shows the file it names".into(),
        )
    })
}
