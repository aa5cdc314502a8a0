//! The probe catalog as pure functions: a probe of the spec becomes a [`ProbeKind`] with every
//! default resolved, and the pods it runs. No `kube::Client` here; everything is a function of
//! its arguments, so it is tested as tables.
//!
//! Rules every pod obeys:
//! - the restricted Pod Security Standard (non-root, no privilege escalation, all capabilities
//!   dropped, RuntimeDefault seccomp), so probes run in namespaces that enforce it;
//! - user-supplied strings never become shell source: scripts are constants, and values reach
//!   them as positional arguments (`sh -c SCRIPT probe ARG...`) or as the pod fields they are
//!   about (env, workingDir);
//! - deterministic names (see [`PodNames`]), so a restarted controller never runs a probe twice;
//! - labels that tie the pod to its run and probe, and an owner reference to the run.

pub mod catalog;
pub mod kinds;
mod names;

pub use kinds::custom::secret_name as custom_secret_name;
pub use kinds::{
    DEADLINE_GRACE_SECONDS, DEFAULT_ENV_NAME, DEFAULT_ENV_VALUE, DEFAULT_UNICODE_TEXT,
    MISSING_BINARY, ProbeKind, READ_ONLY_MOUNT, READY_MARKER, TERM_MARKER,
};
pub use names::{PodNames, fnv1a64};

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, Pod, PodSecurityContext, PodSpec, SeccompProfile, SecurityContext,
    Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::api::{LABEL_MANAGED_BY, LABEL_PROBE, LABEL_RUN_UID, MANAGER, Probe, TestRun};

/// The user probe pods run as (present in the probe image's /etc/passwd).
pub const PROBE_UID: i64 = 1000;
/// Per-probe timeout when neither the probe nor the run sets one.
pub const DEFAULT_TIMEOUT_SECONDS: i32 = 120;
/// Probes running at once when the run does not say.
pub const DEFAULT_PARALLELISM: i32 = 4;
/// Name of the single container of a probe pod.
pub const CONTAINER: &str = "probe";

/// Everything about the run that shapes its probe pods.
#[derive(Clone, Debug, PartialEq)]
pub struct RunContext {
    pub run_name: String,
    pub run_uid: String,
    pub namespace: String,
    pub image: String,
    pub runtime_class_name: Option<String>,
    pub node_selector: Option<BTreeMap<String, String>>,
    pub tolerations: Option<Vec<Toleration>>,
    pub service_account_name: Option<String>,
    pub pod_labels: BTreeMap<String, String>,
    pub pod_annotations: BTreeMap<String, String>,
}

impl RunContext {
    /// The context of `run`; `default_image` is the controller's when the run names none.
    /// `None` when the run has no name, namespace or UID yet (not from the API server).
    pub fn of(run: &TestRun, default_image: &str) -> Option<RunContext> {
        let spec = &run.spec;
        Some(RunContext {
            run_name: run.metadata.name.clone()?,
            run_uid: run.metadata.uid.clone()?,
            namespace: run.metadata.namespace.clone()?,
            image: spec
                .image
                .clone()
                .unwrap_or_else(|| default_image.to_owned()),
            runtime_class_name: spec.runtime_class_name.clone(),
            node_selector: spec.node_selector.clone(),
            tolerations: spec.tolerations.clone(),
            service_account_name: spec.service_account_name.clone(),
            pod_labels: spec.pod_labels.clone().unwrap_or_default(),
            pod_annotations: spec.pod_annotations.clone().unwrap_or_default(),
        })
    }

    pub fn names(&self) -> PodNames {
        PodNames::new(&self.run_name, &self.run_uid)
    }
}

/// A probe of the spec with its kind resolved and every override applied.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedProbe {
    pub name: String,
    pub kind: ProbeKind,
    pub image: String,
    pub runtime_class_name: Option<String>,
    pub timeout_seconds: i32,
    pub repeat: i32,
}

/// Why a probe of the spec cannot be run. The CRD schema refuses these at apply time; this is
/// the same rule enforced again for objects that reached the controller some other way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidProbe {
    #[error("probe {probe:?} sets no kind; it needs exactly one")]
    NoKind { probe: String },
    #[error("probe {probe:?} sets {count} kinds ({kinds}); it needs exactly one")]
    SeveralKinds {
        probe: String,
        count: usize,
        kinds: String,
    },
}

/// Applies the run's defaults and the probe's overrides.
pub fn resolve(
    probe: &Probe,
    run: &RunContext,
    run_timeout: Option<i32>,
) -> Result<ResolvedProbe, InvalidProbe> {
    Ok(ResolvedProbe {
        name: probe.name.clone(),
        kind: ProbeKind::of(probe)?,
        image: probe.image.clone().unwrap_or_else(|| run.image.clone()),
        runtime_class_name: probe
            .runtime_class_name
            .clone()
            .or_else(|| run.runtime_class_name.clone()),
        timeout_seconds: probe
            .timeout_seconds
            .or(run_timeout)
            .unwrap_or(DEFAULT_TIMEOUT_SECONDS),
        repeat: probe.repeat.unwrap_or(1).max(1),
    })
}

/// The pods of one attempt of a probe, in creation order.
pub fn pods(probe: &ResolvedProbe, run: &RunContext, attempt: i32) -> Vec<Pod> {
    let names = run.names();
    let count = probe.kind.pod_count();
    (0..count)
        .map(|index| {
            let name = names.pod(&probe.name, attempt, (count > 1).then_some(index));
            let mut pod = base_pod(name, probe, run);
            probe.kind.shape_pod(&mut pod, index as usize);
            pod
        })
        .collect()
}

/// The Secrets the pods of an attempt mount (a custom probe's `secretData` volumes, the
/// `secretVolume`, `configMapVolume` and `liveUpdates` probes'), each owned
/// and labelled as its pod is.
pub fn secrets(probe: &ResolvedProbe, pods: &[Pod]) -> Vec<k8s_openapi::api::core::v1::Secret> {
    if probe.kind == ProbeKind::SecretVolume {
        return pods
            .iter()
            .flat_map(kinds::config_map_volume::secrets)
            .collect();
    }
    if probe.kind == ProbeKind::ConfigMapVolume {
        return pods
            .iter()
            .map(kinds::config_map_volume::combined_secret)
            .collect();
    }
    if probe.kind == ProbeKind::LiveUpdates {
        return pods.iter().flat_map(kinds::live_updates::secrets).collect();
    }
    let ProbeKind::Custom(custom) = &probe.kind else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for pod in pods {
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        for volume in custom.volumes.iter().flatten() {
            let Some(data) = &volume.secret_data else {
                continue;
            };
            out.push(k8s_openapi::api::core::v1::Secret {
                metadata: ObjectMeta {
                    name: Some(custom_secret_name(&pod_name, &volume.name)),
                    namespace: pod.metadata.namespace.clone(),
                    labels: pod.metadata.labels.clone(),
                    owner_references: pod.metadata.owner_references.clone(),
                    ..ObjectMeta::default()
                },
                string_data: Some(data.clone().into_iter().collect::<BTreeMap<_, _>>()),
                ..Default::default()
            });
        }
    }
    out
}

/// The ConfigMaps the pods of an attempt mount (the `configMapVolume` and `liveUpdates` probes'), each owned and
/// labelled as its pod is.
pub fn config_maps(
    probe: &ResolvedProbe,
    pods: &[Pod],
) -> Vec<k8s_openapi::api::core::v1::ConfigMap> {
    if probe.kind == ProbeKind::LiveUpdates {
        return pods
            .iter()
            .flat_map(kinds::live_updates::config_maps)
            .collect();
    }
    if probe.kind != ProbeKind::ConfigMapVolume {
        return Vec::new();
    }
    pods.iter()
        .map(kinds::config_map_volume::config_map)
        .collect()
}

fn base_pod(name: String, probe: &ResolvedProbe, run: &RunContext) -> Pod {
    let mut labels = run.pod_labels.clone();
    labels.insert(LABEL_MANAGED_BY.into(), MANAGER.into());
    labels.insert(LABEL_RUN_UID.into(), run.run_uid.clone());
    labels.insert(LABEL_PROBE.into(), probe.name.clone());
    Pod {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(run.namespace.clone()),
            labels: Some(labels),
            annotations: (!run.pod_annotations.is_empty()).then(|| run.pod_annotations.clone()),
            owner_references: Some(vec![OwnerReference {
                api_version: "proctor.dev/v1alpha1".into(),
                kind: "TestRun".into(),
                name: run.run_name.clone(),
                uid: run.run_uid.clone(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            restart_policy: Some("Never".into()),
            runtime_class_name: probe.runtime_class_name.clone(),
            node_selector: run.node_selector.clone(),
            tolerations: run.tolerations.clone(),
            service_account_name: run.service_account_name.clone(),
            // Probes never talk to the API server.
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            termination_grace_period_seconds: Some(5),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(PROBE_UID),
                run_as_group: Some(PROBE_UID),
                fs_group: Some(PROBE_UID),
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".into(),
                    ..SeccompProfile::default()
                }),
                ..PodSecurityContext::default()
            }),
            containers: vec![Container {
                name: CONTAINER.into(),
                image: Some(probe.image.clone()),
                image_pull_policy: Some("IfNotPresent".into()),
                security_context: Some(SecurityContext {
                    allow_privilege_escalation: Some(false),
                    capabilities: Some(Capabilities {
                        drop: Some(vec!["ALL".into()]),
                        ..Capabilities::default()
                    }),
                    ..SecurityContext::default()
                }),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: None,
    }
}

#[cfg(test)]
mod tests;

/// Label telling the inspector pod from probe pods.
pub const LABEL_ROLE: &str = "proctor.dev/role";

/// The first half of [`process_marker`]: the inspector gets it and the pod names as separate
/// arguments, so that its own command line never matches.
const MARKER_PREFIX: &str = "proctor-marker-";

/// Prints `PID CMDLINE` of every process on the node whose command line holds an argument
/// `$1<name>` for one of the names after `$1`.
const INSPECT_SCRIPT: &str = r#"p="$1"; shift; for d in /proc/[0-9]*; do c=$(tr '\0' ' ' 2>/dev/null <"$d/cmdline") 2>/dev/null || continue; for n; do case " $c" in *" $p$n "*) echo "${d#/proc/} $c"; break;; esac; done; done"#;

/// The marker the processes of pod `pod_name` carry as an argument (process-group kill, churn),
/// so that the inspector finds them after the pod is gone.
pub fn process_marker(pod_name: &str) -> String {
    format!("{MARKER_PREFIX}{pod_name}")
}

/// The command, run in the inspector pod, that lists the node's processes still carrying the
/// marker of any of `pod_names`.
pub fn inspect_command(pod_names: &[String]) -> Vec<String> {
    let mut command: Vec<String> = ["sh", "-c", INSPECT_SCRIPT, "inspect", MARKER_PREFIX]
        .map(str::to_owned)
        .to_vec();
    command.extend(pod_names.iter().cloned());
    command
}

/// Required node affinity to the node named `node`.
fn on_node(node: &str) -> k8s_openapi::api::core::v1::Affinity {
    use k8s_openapi::api::core::v1::{
        Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    };
    Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_fields: Some(vec![NodeSelectorRequirement {
                        key: "metadata.name".into(),
                        operator: "In".into(),
                        values: Some(vec![node.to_owned()]),
                    }]),
                    ..NodeSelectorTerm::default()
                }],
            }),
            ..NodeAffinity::default()
        }),
        ..Affinity::default()
    }
}

/// A pod in the node's PID namespace (`hostPID`) that Proctor execs into to look at the node's
/// process table. Created only when the run sets `allowPrivileged`: host namespaces are outside
/// the restricted and baseline Pod Security Standards. It still runs as non-root with every
/// capability dropped: reading `/proc/*/cmdline` needs neither.
pub fn inspector_pod(run: &RunContext, node: &str) -> Pod {
    let probe = ResolvedProbe {
        name: "inspector".into(),
        kind: ProbeKind::ExecMissingBinary,
        image: run.image.clone(),
        runtime_class_name: None,
        timeout_seconds: DEFAULT_TIMEOUT_SECONDS,
        repeat: 1,
    };
    let mut pod = base_pod(run.names().inspector(node), &probe, run);
    if let Some(labels) = pod.metadata.labels.as_mut() {
        labels.remove(LABEL_PROBE);
        labels.insert(LABEL_ROLE.into(), "inspector".into());
    }
    if let Some(spec) = pod.spec.as_mut() {
        spec.host_pid = Some(true);
        spec.termination_grace_period_seconds = Some(1);
        // The run's runtimeClass may be a faulty one; the inspector must not be.
        spec.runtime_class_name = None;
        // On the node of the pods it looks at (the process table it reads is that node's), by
        // required affinity. It tolerates every taint, as a DaemonSet's pods do: the probe's
        // pods already got onto that node (perhaps by their RuntimeClass's tolerations, which
        // the inspector, running without it, lacks).
        spec.affinity = Some(on_node(node));
        spec.tolerations = Some(vec![k8s_openapi::api::core::v1::Toleration {
            operator: Some("Exists".into()),
            ..Default::default()
        }]);
        if let Some(container) = spec.containers.first_mut() {
            container.command = Some(
                ["sh", "-c", "echo ready; exec sleep 86400"]
                    .map(str::to_owned)
                    .to_vec(),
            );
        }
    }
    pod
}
