//! `allocatableLimits`: a container without resource limits is told, through the downward API
//! (env, a downwardAPI volume and a projected volume), the node's allocatable CPU and memory as
//! its limits. The kubelet stands the node's allocatable in for a missing limit; catches one that
//! reports zero, the request, the node's capacity or another node's figures.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    DownwardAPIProjection, DownwardAPIVolumeFile, DownwardAPIVolumeSource, EnvVar, EnvVarSource,
    PodSpec, ProjectedVolumeSource, ResourceFieldSelector, Volume, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::{Kind, ProbeKind, field_or, log_text, mount, script};
use crate::api::Probe;
use crate::probes::CONTAINER;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal, finished_pod, log_missing};

/// Resource, divisor, env var and file name.
const RESOURCES: [(&str, &str, &str); 2] = [
    ("limits.cpu", "1m", "cpu_millis"),
    ("limits.memory", "1", "memory_bytes"),
];
const DOWNWARD_MOUNT: &str = "/etc/proctor-limits";
const PROJECTED_MOUNT: &str = "/etc/proctor-projected-limits";

pub const KIND: Kind = Kind {
    name: "allocatableLimits",
    resolve,
    entry: Entry {
        kind: "allocatableLimits",
        checks: "a container without limits is told the node's allocatable CPU (in millicores) and memory (in bytes) as its limits.cpu and limits.memory, in env vars, in a downwardAPI volume's files and in a projected volume's (in a namespace whose LimitRange sets no default limit)",
        parameters: "-",
        runs: "prints the two env vars and the four files",
        catches: "a missing limit reported as zero, as the request, as the node's capacity, or from another node",
        faults: "identity",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe.allocatable_limits.as_ref()?;
    Some(ProbeKind::AllocatableLimits)
}

fn selector(resource: &str, divisor: &str) -> ResourceFieldSelector {
    ResourceFieldSelector {
        container_name: Some(CONTAINER.into()),
        resource: resource.into(),
        divisor: Some(Quantity(divisor.into())),
    }
}

fn files() -> Vec<DownwardAPIVolumeFile> {
    RESOURCES
        .iter()
        .map(|(resource, divisor, file)| DownwardAPIVolumeFile {
            path: (*file).into(),
            resource_field_ref: Some(selector(resource, divisor)),
            ..DownwardAPIVolumeFile::default()
        })
        .collect()
}

pub fn shape(spec: &mut PodSpec) {
    spec.volumes = Some(vec![
        Volume {
            name: "limits".into(),
            downward_api: Some(DownwardAPIVolumeSource {
                items: Some(files()),
                ..DownwardAPIVolumeSource::default()
            }),
            ..Volume::default()
        },
        Volume {
            name: "projected-limits".into(),
            projected: Some(ProjectedVolumeSource {
                sources: Some(vec![VolumeProjection {
                    downward_api: Some(DownwardAPIProjection {
                        items: Some(files()),
                    }),
                    ..VolumeProjection::default()
                }]),
                ..ProjectedVolumeSource::default()
            }),
            ..Volume::default()
        },
    ]);
    if let Some(container) = spec.containers.first_mut() {
        container.resources = None;
        container.env = Some(
            RESOURCES
                .iter()
                .map(|(resource, divisor, name)| EnvVar {
                    name: format!("PROCTOR_{}", name.to_uppercase()),
                    value_from: Some(EnvVarSource {
                        resource_field_ref: Some(selector(resource, divisor)),
                        ..EnvVarSource::default()
                    }),
                    ..EnvVar::default()
                })
                .collect(),
        );
        container.volume_mounts = Some(vec![
            mount("limits", DOWNWARD_MOUNT, true),
            mount("projected-limits", PROJECTED_MOUNT, true),
        ]);
        script(
            container,
            r#"echo "env.cpu_millis: $PROCTOR_CPU_MILLIS"
echo "env.memory_bytes: $PROCTOR_MEMORY_BYTES"
for r in cpu_millis memory_bytes; do
  echo "file.$r: $(cat "$1/$r")"
  echo "projected.$r: $(cat "$2/$r")"
done"#,
            &[DOWNWARD_MOUNT, PROJECTED_MOUNT],
        );
    }
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let node = match &evidence.node {
            Some(Ok(node)) => node,
            // An identity without `get` on nodes (a pipeline's namespace rights): not
            // applicable here, as a privileged kind without the opt-in.
            Some(Err(why)) if why.forbidden => {
                return Outcome {
                    verdict: crate::api::Verdict::Skipped,
                    reason: "NodeNotReadable".into(),
                    message: format!(
                        "allocatableLimits compares with the node's allocatable, and this identity may not read nodes (grant get on nodes, as the operator's ClusterRole does): {why}"
                    ),
                    checks: Vec::new(),
                };
            }
            Some(Err(why)) => {
                return Outcome::error(
                    "NodeUnavailable",
                    format!("allocatableLimits compares with the node's allocatable: {why}"),
                );
            }
            None => {
                return Outcome::error(
                    "NodeUnavailable",
                    "allocatableLimits compares with the node's allocatable, and the pod has no node",
                );
            }
        };
        let Some(log) = log_text(evidence) else {
            return log_missing("allocatableLimits");
        };
        let expected: BTreeMap<&str, String> = [
            ("cpu_millis", node.allocatable_cpu_millis),
            ("memory_bytes", node.allocatable_memory_bytes),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.map_or_else(|| "unknown".to_owned(), |v| v.to_string())))
        .collect();
        let mut checks = vec![equal("exitCode", 0, t.exit_code)];
        for (_, _, name) in RESOURCES {
            for source in ["env", "file", "projected"] {
                let key = format!("{source}.{name}");
                checks.push(equal(
                    &format!("{source}{}", camel(name)),
                    expected[name].as_str(),
                    field_or(log, "missing", &key),
                ));
            }
        }
        Outcome::from_checks(
            checks,
            format!(
                "without limits the container was told node {}'s allocatable {}m CPU and {} bytes of memory, in env and in both volumes",
                node.name, expected["cpu_millis"], expected["memory_bytes"]
            ),
        )
    })
}

/// `cpu_millis` → `CpuMillis`, for check names.
fn camel(name: &str) -> String {
    name.split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Verdict;
    use crate::verdict::{LogObservation, NodeObservation, NodeUnread};

    fn judged(log: &str, node: Option<Result<NodeObservation, NodeUnread>>) -> Outcome {
        judge(&Evidence {
            log: Some(LogObservation::of(log.as_bytes())),
            node,
            ..super::super::recorded(&[include_str!("../../../tests/fixtures/pods/exit-0.json")])
        })
        .unwrap()
    }

    fn node() -> Option<Result<NodeObservation, NodeUnread>> {
        Some(Ok(NodeObservation {
            name: "proctor-node".into(),
            allocatable_cpu_millis: Some(2000),
            allocatable_memory_bytes: Some(25_099_825_152),
            ..NodeObservation::default()
        }))
    }

    const TOLD: &str = "env.cpu_millis: 2000\nfile.cpu_millis: 2000\nprojected.cpu_millis: 2000\nenv.memory_bytes: 25099825152\nfile.memory_bytes: 25099825152\nprojected.memory_bytes: 25099825152\n";

    #[test]
    fn the_nodes_allocatable_everywhere_passes() {
        let outcome = judged(TOLD, node());
        assert_eq!(outcome.verdict, Verdict::Passed, "{outcome:?}");
    }

    #[test]
    fn another_figure_anywhere_fails_and_an_unread_node_is_an_error() {
        let capacity = TOLD.replace(
            "projected.memory_bytes: 25099825152",
            "projected.memory_bytes: 25204682752",
        );
        assert_eq!(
            judged(&capacity, node()).reason,
            "ProjectedMemoryBytesMismatch"
        );
        let stale = TOLD.replace("env.cpu_millis: 2000", "env.cpu_millis: stale-2000");
        let outcome = judged(&stale, node());
        assert_eq!(outcome.reason, "EnvCpuMillisMismatch");
        assert!(
            outcome.message.contains("stale-2000"),
            "{}",
            outcome.message
        );
        let unread = |forbidden| {
            judged(
                TOLD,
                Some(Err(NodeUnread {
                    forbidden,
                    message: "nodes \"n\" is forbidden".into(),
                })),
            )
        };
        assert_eq!(unread(false).verdict, Verdict::Error);
        let skipped = unread(true);
        assert_eq!(skipped.verdict, Verdict::Skipped);
        assert!(skipped.message.contains("forbidden"), "{}", skipped.message);
    }

    #[test]
    fn quantities_as_nodes_report_them() {
        use crate::verdict::quantity;
        assert_eq!(quantity("2", 0.001), Some(2000));
        assert_eq!(quantity("1950m", 0.001), Some(1950));
        assert_eq!(quantity("24511548Ki", 1.0), Some(25_099_825_152));
        assert_eq!(quantity("1.5Gi", 1.0), Some(1_610_612_736));
        assert_eq!(quantity("1e3", 1.0), Some(1000));
        assert_eq!(quantity("lots", 1.0), None);
    }
}
