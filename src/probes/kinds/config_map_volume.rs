//! `configMapVolume` and, sharing this file's shape, `secretVolume`: the keys of a ConfigMap
//! (or Secret) the probe creates for its pod reach the container, as a non-root process, in two
//! volumes of the one object: the whole object, every key a file with the volume's
//! `defaultMode`, binary data byte for byte; and one key mapped by `items` to a nested path
//! with the item's own `mode`. Catches a kubelet that writes the wrong content or modes, drops
//! binary bytes, or mishandles item mappings.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapEnvSource, ConfigMapKeySelector, ConfigMapProjection,
    ConfigMapVolumeSource, DownwardAPIProjection, DownwardAPIVolumeFile, EnvFromSource, EnvVar,
    EnvVarSource, KeyToPath, ObjectFieldSelector, Pod, PodSpec, ProjectedVolumeSource, Secret,
    SecretEnvSource, SecretKeySelector, SecretProjection, SecretVolumeSource, Volume,
    VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Kind, ProbeKind, field_or, log_text, mount, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, check, equal, finished_pod, log_missing};

/// Where the whole object and the mapped key are mounted.
pub const WHOLE: &str = "/etc/proctor-object";
pub const MAPPED: &str = "/etc/proctor-object-mapped";
/// Where the same two volumes are mounted as projected volumes (the object their one source).
pub const PROJECTED_WHOLE: &str = "/etc/proctor-projected";
pub const PROJECTED_MAPPED: &str = "/etc/proctor-projected-mapped";
/// A key whose value only whitespace-preserving env handling keeps: read into env by
/// `configMapKeyRef`/`secretKeyRef` and (ConfigMap) by `envFrom` with [`ENV_FROM_PREFIX`].
pub const SPACED: (&str, &str) = ("spaced", "  spaced value  ");
pub const ENV_FROM_PREFIX: &str = "PROCTOR_FROM_";
/// Where `configMapVolume` mounts one projected volume of three sources: a key of its ConfigMap,
/// a key of a Secret of the same name, and the pod's name from the downward API.
pub const COMBINED: &str = "/etc/proctor-combined";
/// The combined volume's Secret key and value.
pub const COMBINED_SECRET: (&str, &str) = ("secret-1", "secret value 1");
/// The suffix of the Secret of text keys only that `secretVolume` reads with envFrom (its main
/// Secret's binary key, NUL bytes and all, cannot be an env value).
const ENV_SECRET_SUFFIX: &str = ".env";
/// The mapped key's path in its volume.
pub const MAPPED_PATH: &str = "sub/dir/data-2-mapped";
/// The volumes' defaultMode and the mapped item's own mode. With the fsGroup's group read they
/// are seen as 0440 and 0640: neither is what the kubelet writes when it ignores them (0644).
pub const DEFAULT_MODE: i32 = 0o400;
pub const ITEM_MODE: i32 = 0o600;
/// The group read the kubelet adds to the files of a read-only volume of a pod with an fsGroup.
const FS_GROUP_BITS: i32 = 0o440;

pub const KIND: Kind = Kind {
    name: "configMapVolume",
    resolve: resolve_config_map,
    entry: Entry {
        kind: "configMapVolume",
        checks: "a ConfigMap's keys reach a non-root container in two volumes and in two projected volumes of it: every key a file with its content (binaryData byte for byte) and the defaultMode (0400), and one key mapped to a nested path with the item's mode (0600), plus the group read the fsGroup adds; one projected volume of three sources (a key of the ConfigMap, a key of a Secret of the same name, the pod's name) with each file's content and the defaultMode; and in env, by configMapKeyRef and by envFrom with a prefix, whitespace kept",
        parameters: "-",
        runs: "`cat`, `od` and `stat` of the files of four volumes of a ConfigMap the probe creates, and `printf` of the env it gave",
        catches: "wrong or cut content, binary bytes mangled, modes ignored, item mappings not applied",
        faults: "spec, identity, volumes",
    },
};

pub const SECRET_KIND: Kind = Kind {
    name: "secretVolume",
    resolve: resolve_secret,
    entry: Entry {
        kind: "secretVolume",
        checks: "a Secret's keys reach a non-root container in two volumes and in two projected volumes of it: every key a file with its content (binary byte for byte) and the defaultMode (0400), and one key mapped to a nested path with the item's mode (0600), plus the group read the fsGroup adds; and in env, by secretKeyRef and by envFrom with a prefix (a second Secret, of text keys only), whitespace kept",
        parameters: "-",
        runs: "`cat`, `od` and `stat` of the files of four volumes of a Secret the probe creates, and `printf` of the env it gave",
        catches: "wrong or cut content, binary bytes mangled, modes ignored (world-readable secrets), item mappings not applied",
        faults: "spec, identity, volumes",
    },
};

fn resolve_config_map(probe: &Probe) -> Option<ProbeKind> {
    probe
        .config_map_volume
        .as_ref()
        .map(|_| ProbeKind::ConfigMapVolume)
}

fn resolve_secret(probe: &Probe) -> Option<ProbeKind> {
    probe
        .secret_volume
        .as_ref()
        .map(|_| ProbeKind::SecretVolume)
}

/// The text keys and their values.
pub const TEXT: [(&str, &str); 2] = [("data-1", "value-1"), ("data-2", "value-2")];

/// The binary key's bytes: every byte value once.
pub fn binary() -> Vec<u8> {
    (0..=255).collect()
}

/// The name of the object the probe creates for `pod_name`.
pub fn object_name(pod_name: &str) -> String {
    format!("{pod_name}.data")
}

fn meta(pod: &Pod) -> ObjectMeta {
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    ObjectMeta {
        name: Some(object_name(&pod_name)),
        namespace: pod.metadata.namespace.clone(),
        labels: pod.metadata.labels.clone(),
        owner_references: pod.metadata.owner_references.clone(),
        ..ObjectMeta::default()
    }
}

/// The ConfigMap of a `configMapVolume` pod.
pub fn config_map(pod: &Pod) -> ConfigMap {
    ConfigMap {
        metadata: meta(pod),
        data: Some(
            TEXT.iter()
                .chain([&SPACED])
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
        binary_data: Some(BTreeMap::from([(
            "binary".to_owned(),
            ByteString(binary()),
        )])),
        ..ConfigMap::default()
    }
}

/// The Secrets of a `secretVolume` pod: the one of its volumes, and the one of text keys it
/// reads with envFrom.
pub fn secrets(pod: &Pod) -> Vec<Secret> {
    let mut env = secret(pod);
    if let Some(name) = env.metadata.name.as_mut() {
        name.push_str(ENV_SECRET_SUFFIX);
    }
    if let Some(data) = env.data.as_mut() {
        data.remove("binary");
    }
    vec![secret(pod), env]
}

/// The Secret beside a `configMapVolume` pod's ConfigMap, of the same name: one source of its
/// combined projected volume.
pub fn combined_secret(pod: &Pod) -> Secret {
    Secret {
        metadata: meta(pod),
        string_data: Some(BTreeMap::from([(
            COMBINED_SECRET.0.to_owned(),
            COMBINED_SECRET.1.to_owned(),
        )])),
        ..Secret::default()
    }
}

/// The Secret of a `secretVolume` pod's volumes.
fn secret(pod: &Pod) -> Secret {
    let mut data: BTreeMap<String, ByteString> = TEXT
        .iter()
        .chain([&SPACED])
        .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
        .collect();
    data.insert("binary".into(), ByteString(binary()));
    Secret {
        metadata: meta(pod),
        data: Some(data),
        ..Secret::default()
    }
}

fn mapped() -> Vec<KeyToPath> {
    vec![KeyToPath {
        key: "data-2".into(),
        path: MAPPED_PATH.into(),
        mode: Some(ITEM_MODE),
    }]
}

/// One projected volume of three sources: the ConfigMap's first key, the Secret of the same
/// name's key, and the pod's name.
fn combined(name: &str) -> Volume {
    let item = |key: &str, path: &str| {
        Some(vec![KeyToPath {
            key: key.into(),
            path: path.into(),
            mode: None,
        }])
    };
    Volume {
        name: "combined".into(),
        projected: Some(ProjectedVolumeSource {
            default_mode: Some(DEFAULT_MODE),
            sources: Some(vec![
                VolumeProjection {
                    config_map: Some(ConfigMapProjection {
                        name: name.into(),
                        items: item(TEXT[0].0, "configmap-data-1"),
                        optional: None,
                    }),
                    ..VolumeProjection::default()
                },
                VolumeProjection {
                    secret: Some(SecretProjection {
                        name: name.into(),
                        items: item(COMBINED_SECRET.0, COMBINED_SECRET.0),
                        optional: None,
                    }),
                    ..VolumeProjection::default()
                },
                VolumeProjection {
                    downward_api: Some(DownwardAPIProjection {
                        items: Some(vec![DownwardAPIVolumeFile {
                            path: "podname".into(),
                            field_ref: Some(ObjectFieldSelector {
                                field_path: "metadata.name".into(),
                                api_version: None,
                            }),
                            ..DownwardAPIVolumeFile::default()
                        }]),
                    }),
                    ..VolumeProjection::default()
                },
            ]),
        }),
        ..Volume::default()
    }
}

pub fn shape(secret: bool, spec: &mut PodSpec, pod_name: &str) {
    let name = object_name(pod_name);
    let volume = |volume: &str, items: Option<Vec<KeyToPath>>| {
        if secret {
            Volume {
                name: volume.into(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(name.clone()),
                    default_mode: Some(DEFAULT_MODE),
                    items,
                    optional: None,
                }),
                ..Volume::default()
            }
        } else {
            Volume {
                name: volume.into(),
                config_map: Some(ConfigMapVolumeSource {
                    name: name.clone(),
                    default_mode: Some(DEFAULT_MODE),
                    items,
                    optional: None,
                }),
                ..Volume::default()
            }
        }
    };
    let projected = |volume: &str, items: Option<Vec<KeyToPath>>| {
        let source = if secret {
            VolumeProjection {
                secret: Some(SecretProjection {
                    name: name.clone(),
                    items,
                    optional: None,
                }),
                ..VolumeProjection::default()
            }
        } else {
            VolumeProjection {
                config_map: Some(ConfigMapProjection {
                    name: name.clone(),
                    items,
                    optional: None,
                }),
                ..VolumeProjection::default()
            }
        };
        Volume {
            name: volume.into(),
            projected: Some(ProjectedVolumeSource {
                default_mode: Some(DEFAULT_MODE),
                sources: Some(vec![source]),
            }),
            ..Volume::default()
        }
    };
    let mut volumes = vec![
        volume("whole", None),
        volume("mapped", Some(mapped())),
        projected("projected-whole", None),
        projected("projected-mapped", Some(mapped())),
    ];
    if !secret {
        volumes.push(combined(&name));
    }
    spec.volumes = Some(volumes);
    let key_env = |env: &str, key: &str| {
        let value_from = if secret {
            EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: name.clone(),
                    key: key.into(),
                    optional: None,
                }),
                ..EnvVarSource::default()
            }
        } else {
            EnvVarSource {
                config_map_key_ref: Some(ConfigMapKeySelector {
                    name: name.clone(),
                    key: key.into(),
                    optional: None,
                }),
                ..EnvVarSource::default()
            }
        };
        EnvVar {
            name: env.into(),
            value_from: Some(value_from),
            ..EnvVar::default()
        }
    };
    if let Some(container) = spec.containers.first_mut() {
        let mut mounts = vec![
            mount("whole", WHOLE, true),
            mount("mapped", MAPPED, true),
            mount("projected-whole", PROJECTED_WHOLE, true),
            mount("projected-mapped", PROJECTED_MAPPED, true),
        ];
        if !secret {
            mounts.push(mount("combined", COMBINED, true));
        }
        container.volume_mounts = Some(mounts);
        container.env = Some(vec![
            key_env("PROCTOR_KEY", TEXT[0].0),
            key_env("PROCTOR_SPACED", SPACED.0),
        ]);
        container.env_from = Some(vec![if secret {
            EnvFromSource {
                secret_ref: Some(SecretEnvSource {
                    name: format!("{name}{ENV_SECRET_SUFFIX}"),
                    optional: None,
                }),
                prefix: Some(ENV_FROM_PREFIX.into()),
                ..EnvFromSource::default()
            }
        } else {
            EnvFromSource {
                config_map_ref: Some(ConfigMapEnvSource {
                    name: name.clone(),
                    optional: None,
                }),
                prefix: Some(ENV_FROM_PREFIX.into()),
                ..EnvFromSource::default()
            }
        }]);
        script(
            container,
            r#"for k in data-1 data-2; do echo "$k: $(cat "$1/$k")"; done; echo "binary: $(od -An -tx1 -v "$1/binary" | tr -d ' \n')"; echo "mapped: $(cat "$2/$3")"; echo "mode data-1: $(stat -L -c %a "$1/data-1")"; echo "mode mapped: $(stat -L -c %a "$2/$3")"; echo "projected: $(cat "$4/data-1")"; echo "projected mapped: $(cat "$5/$3")"; echo "mode projected: $(stat -L -c %a "$4/data-1")"; echo "mode projected mapped: $(stat -L -c %a "$5/$3")"; printf 'env key: [%s]\n' "$PROCTOR_KEY"; printf 'env spaced: [%s]\n' "$PROCTOR_SPACED"; printf 'env from: [%s]\n' "${PROCTOR_FROM_spaced-unset}"; if [ -d "$6" ]; then echo "combined: $(cat "$6/configmap-data-1")|$(cat "$6/secret-1")|$(cat "$6/podname")"; echo "mode combined: $(stat -L -c %a "$6/secret-1")"; fi"#,
            &[
                WHOLE,
                MAPPED,
                MAPPED_PATH,
                PROJECTED_WHOLE,
                PROJECTED_MAPPED,
                COMBINED,
            ],
        );
    }
}

pub fn judge(secret: bool, evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("the object's volumes");
        };
        let hex: String = binary().iter().map(|b| format!("{b:02x}")).collect();
        let observed_hex = field_or(log, "not read", "binary");
        let mut checks = vec![equal("exitCode", 0, t.exit_code)];
        for (key, expected) in TEXT {
            checks.push(equal(
                "content",
                format!("{key}={expected}"),
                format!("{key}={}", field_or(log, "not read", key)),
            ));
        }
        checks.push(check(
            "binaryContent",
            "the 256 byte values in order",
            if observed_hex == hex {
                "the 256 byte values in order".to_owned()
            } else {
                format!("{} bytes, not those written", observed_hex.len() / 2)
            },
            observed_hex == hex,
        ));
        checks.push(equal(
            "mappedContent",
            TEXT[1].1,
            field_or(log, "not read", "mapped"),
        ));
        checks.push(equal(
            "defaultMode",
            format!("{:o}", DEFAULT_MODE | FS_GROUP_BITS).as_str(),
            field_or(log, "not read", "mode data-1"),
        ));
        checks.push(equal(
            "itemMode",
            format!("{:o}", ITEM_MODE | FS_GROUP_BITS).as_str(),
            field_or(log, "not read", "mode mapped"),
        ));
        checks.push(equal(
            "projectedContent",
            TEXT[0].1,
            field_or(log, "not read", "projected"),
        ));
        checks.push(equal(
            "projectedMappedContent",
            TEXT[1].1,
            field_or(log, "not read", "projected mapped"),
        ));
        checks.push(equal(
            "projectedDefaultMode",
            format!("{:o}", DEFAULT_MODE | FS_GROUP_BITS).as_str(),
            field_or(log, "not read", "mode projected"),
        ));
        checks.push(equal(
            "projectedItemMode",
            format!("{:o}", ITEM_MODE | FS_GROUP_BITS).as_str(),
            field_or(log, "not read", "mode projected mapped"),
        ));
        checks.push(equal(
            "envKey",
            format!("[{}]", TEXT[0].1).as_str(),
            field_or(log, "not read", "env key"),
        ));
        let spaced = format!("[{}]", SPACED.1);
        checks.push(equal(
            "envSpaced",
            spaced.as_str(),
            field_or(log, "not read", "env spaced"),
        ));
        checks.push(equal(
            "envFrom",
            spaced.as_str(),
            field_or(log, "not read", "env from"),
        ));
        if !secret {
            let pod = evidence
                .pods
                .first()
                .map(|p| p.name.as_str())
                .unwrap_or_default();
            checks.push(equal(
                "combinedContent",
                format!("{}|{}|{pod}", TEXT[0].1, COMBINED_SECRET.1).as_str(),
                field_or(log, "not read", "combined"),
            ));
            checks.push(equal(
                "combinedDefaultMode",
                format!("{:o}", DEFAULT_MODE | FS_GROUP_BITS).as_str(),
                field_or(log, "not read", "mode combined"),
            ));
        }
        Outcome::from_checks(
            checks,
            format!(
                "every key arrived, binary data byte for byte, with modes {:o} and {:o}, in plain and projected volumes and in env",
                DEFAULT_MODE | FS_GROUP_BITS,
                ITEM_MODE | FS_GROUP_BITS
            ),
        )
    })
}
