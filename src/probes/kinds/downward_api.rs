//! `downwardApi`: the downward API tells the container about its pod: name, namespace, UID,
//! node, pod and host IPs and its resource limits in env vars, and its name, labels,
//! annotations and CPU limit in the files of a downwardAPI volume, each equal to what the API
//! server reports. Catches a kubelet that resolves the fields of another (or a stale) pod, and
//! volume files that are missing or wrong.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    DownwardAPIVolumeFile, DownwardAPIVolumeSource, EnvVar, EnvVarSource, ObjectFieldSelector,
    PodSpec, ResourceFieldSelector, ResourceRequirements, Volume,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::{Kind, ProbeKind, field_or, log_text, mount, script};
use crate::api::{LABEL_MANAGED_BY, MANAGER, Probe};
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, check, equal, finished_pod, log_missing};

/// Where the downwardAPI volume is mounted.
pub const MOUNT: &str = "/etc/proctor-podinfo";
/// The annotation the probe gives its pod, to find in the annotations file.
pub const ANNOTATION: (&str, &str) = ("proctor.dev/downward-api", "told by the kubelet");
/// Limits and requests, distinct so that a field resolved to the other shows.
pub const MEMORY_MIB: i64 = 64;
pub const CPU_MILLIS: i64 = 250;
pub const MEMORY_REQUEST_MIB: i64 = 48;
pub const CPU_REQUEST_MILLIS: i64 = 125;
/// The volume's defaultMode, and the `name` item's own mode; with the fsGroup's group read they
/// are seen as 0440 and 0640 (0644 when ignored).
pub const DEFAULT_MODE: i32 = 0o400;
pub const ITEM_MODE: i32 = 0o600;
const FS_GROUP_BITS: i32 = 0o440;

/// Env var, field path.
const FIELDS: [(&str, &str); 7] = [
    ("PROCTOR_POD_NAME", "metadata.name"),
    ("PROCTOR_POD_NAMESPACE", "metadata.namespace"),
    ("PROCTOR_POD_UID", "metadata.uid"),
    ("PROCTOR_NODE_NAME", "spec.nodeName"),
    ("PROCTOR_POD_IP", "status.podIP"),
    ("PROCTOR_HOST_IP", "status.hostIP"),
    ("PROCTOR_HOST_IPS", "status.hostIPs"),
];
/// Env var (and volume file), resource, divisor, expected value.
const RESOURCES: [(&str, &str, &str, i64); 4] = [
    (
        "PROCTOR_MEMORY_LIMIT_MIB",
        "limits.memory",
        "1Mi",
        MEMORY_MIB,
    ),
    ("PROCTOR_CPU_LIMIT_MILLIS", "limits.cpu", "1m", CPU_MILLIS),
    (
        "PROCTOR_MEMORY_REQUEST_MIB",
        "requests.memory",
        "1Mi",
        MEMORY_REQUEST_MIB,
    ),
    (
        "PROCTOR_CPU_REQUEST_MILLIS",
        "requests.cpu",
        "1m",
        CPU_REQUEST_MILLIS,
    ),
];

/// The volume file of a resource: `limits.cpu` → `limits_cpu`.
fn resource_file(resource: &str) -> String {
    resource.replace('.', "_")
}

pub const KIND: Kind = Kind {
    name: "downwardApi",
    resolve,
    entry: Entry {
        kind: "downwardApi",
        checks: "downward API env vars (name, namespace, uid, node, pod IP, host IP and IPs, memory and CPU limits and requests) equal what the API server reports and the spec asks, and so do the volume files (name, limits, requests); the labels and annotations files hold the pod's managed-by label and the probe's annotation; the files have the volume's defaultMode (0400) and the name item its own mode (0600), plus the group read the fsGroup adds",
        parameters: "-",
        runs: "prints the downward API env vars and the files of a downwardAPI volume",
        catches: "fields resolved against another or a stale pod, resource limits in the wrong unit, volume files missing or wrong",
        faults: "identity, volumes",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe.downward_api.as_ref().map(|_| ProbeKind::DownwardApi)
}

fn field(path: &str) -> ObjectFieldSelector {
    ObjectFieldSelector {
        field_path: path.into(),
        ..ObjectFieldSelector::default()
    }
}

fn resource(resource: &str, divisor: &str) -> ResourceFieldSelector {
    ResourceFieldSelector {
        container_name: Some(crate::probes::CONTAINER.into()),
        resource: resource.into(),
        divisor: Some(Quantity(divisor.into())),
    }
}

pub fn shape_pod(pod: &mut k8s_openapi::api::core::v1::Pod) {
    pod.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(ANNOTATION.0.into(), ANNOTATION.1.into());
    if let Some(spec) = pod.spec.as_mut() {
        shape(spec);
    }
}

fn shape(spec: &mut PodSpec) {
    let file =
        |path: &str, field_path: Option<&str>, res: Option<(&str, &str)>| DownwardAPIVolumeFile {
            path: path.into(),
            field_ref: field_path.map(field),
            resource_field_ref: res.map(|(r, d)| resource(r, d)),
            mode: None,
        };
    let mut items = vec![
        DownwardAPIVolumeFile {
            mode: Some(ITEM_MODE),
            ..file("name", Some("metadata.name"), None)
        },
        file("labels", Some("metadata.labels"), None),
        file("annotations", Some("metadata.annotations"), None),
    ];
    items.extend(
        RESOURCES
            .iter()
            .map(|(_, res, divisor, _)| file(&resource_file(res), None, Some((res, divisor)))),
    );
    spec.volumes = Some(vec![Volume {
        name: "podinfo".into(),
        downward_api: Some(DownwardAPIVolumeSource {
            items: Some(items),
            default_mode: Some(DEFAULT_MODE),
        }),
        ..Volume::default()
    }]);
    let Some(container) = spec.containers.first_mut() else {
        return;
    };
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
    let mut env: Vec<EnvVar> = FIELDS
        .iter()
        .map(|(name, path)| EnvVar {
            name: (*name).into(),
            value_from: Some(EnvVarSource {
                field_ref: Some(field(path)),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        })
        .collect();
    env.extend(RESOURCES.iter().map(|(name, res, divisor, _)| EnvVar {
        name: (*name).into(),
        value_from: Some(EnvVarSource {
            resource_field_ref: Some(resource(res, divisor)),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }));
    container.env = Some(env);
    container.volume_mounts = Some(vec![mount("podinfo", MOUNT, true)]);
    let mut args: Vec<&str> = vec![MOUNT];
    args.extend(FIELDS.iter().map(|(n, _)| *n));
    args.extend(RESOURCES.iter().map(|(n, _, _, _)| *n));
    // Env vars by name through awk's ENVIRON; each file's lines prefixed by its name, then
    // the modes.
    script(
        container,
        r#"d="$1"; shift; awk 'BEGIN { for (i = 1; i < ARGC; i++) printf "%s: %s\n", ARGV[i], ENVIRON[ARGV[i]] }' "$@"; for f in name labels annotations limits_memory limits_cpu requests_memory requests_cpu; do sed "s|^|$f> |" "$d/$f"; echo; done; echo "mode name: $(stat -L -c %a "$d/name")"; echo "mode labels: $(stat -L -c %a "$d/labels")""#,
        &args,
    );
}

fn file_lines<'a>(log: &'a str, file: &str) -> Vec<&'a str> {
    let prefix = format!("{file}> ");
    log.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .collect()
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |pod, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("downwardApi");
        };
        let reported = |v: &Option<String>| v.clone().unwrap_or_else(|| "not reported".into());
        let expected = [
            pod.name.clone(),
            reported(&pod.namespace),
            reported(&pod.uid),
            reported(&pod.node),
            reported(&pod.pod_ip),
            reported(&pod.host_ip),
            // Single-stack: the one host IP.
            reported(&pod.host_ip),
        ];
        let mut checks = vec![equal("exitCode", 0, t.exit_code)];
        for ((name, path), expected) in FIELDS.iter().zip(expected) {
            checks.push(check(
                "envField",
                format!("{path}={expected}"),
                format!("{path}={}", field_or(log, "not set", name)),
                field_or(log, "not set", name) == expected,
            ));
        }
        for (name, res, _, expected) in RESOURCES {
            checks.push(equal(
                "envResource",
                format!("{res}={expected}"),
                format!("{res}={}", field_or(log, "not set", name)),
            ));
        }
        checks.push(equal(
            "fileName",
            pod.name.clone(),
            file_lines(log, "name").join("\n"),
        ));
        let label = format!("{LABEL_MANAGED_BY}=\"{MANAGER}\"");
        checks.push(check(
            "fileLabels",
            format!("include {label}"),
            format!("{} lines", file_lines(log, "labels").len()),
            file_lines(log, "labels").contains(&label.as_str()),
        ));
        let annotation = format!("{}=\"{}\"", ANNOTATION.0, ANNOTATION.1);
        checks.push(check(
            "fileAnnotations",
            format!("include {annotation}"),
            format!("{} lines", file_lines(log, "annotations").len()),
            file_lines(log, "annotations").contains(&annotation.as_str()),
        ));
        for (_, res, _, expected) in RESOURCES {
            checks.push(equal(
                "fileResource",
                format!("{res}={expected}"),
                format!("{res}={}", file_lines(log, &resource_file(res)).join(" ")),
            ));
        }
        checks.push(equal(
            "fileDefaultMode",
            format!("{:o}", DEFAULT_MODE | FS_GROUP_BITS).as_str(),
            field_or(log, "not read", "mode labels"),
        ));
        checks.push(equal(
            "fileItemMode",
            format!("{:o}", ITEM_MODE | FS_GROUP_BITS).as_str(),
            field_or(log, "not read", "mode name"),
        ));
        Outcome::from_checks(
            checks,
            "the downward API env vars and files tell the pod's own fields".into(),
        )
    })
}
