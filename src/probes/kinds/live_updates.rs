//! `liveUpdates`: what the kubelet mounts follows its sources while the pod runs. Proctor
//! creates a ConfigMap and a Secret to update and one of each to delete, mounts them (and one
//! of each that does not exist yet) as optional configMap and secret volumes and as optional
//! projected sources, with the pod's labels and annotations in downwardAPI and projected
//! volumes. Once the container runs, Proctor updates the first pair, deletes the second,
//! creates the third, and patches the pod's labels and annotations; the container reads every
//! file until all show the change (at most [`WAIT_SECONDS`]). Catches a kubelet that mounts its
//! sources once and never again, or drops optional sources that appear later.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapProjection, ConfigMapVolumeSource, DownwardAPIProjection,
    DownwardAPIVolumeFile, DownwardAPIVolumeSource, KeyToPath, ObjectFieldSelector, Pod, PodSpec,
    ProjectedVolumeSource, Secret, SecretProjection, SecretVolumeSource, Volume, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Kind, ProbeKind, field_or, log_text, mount, script};
use crate::api::Probe;
use crate::controller::drive::{At, Step};
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal, finished_pod, log_missing};

/// The key of every object, its first value, the updated one, and the created object's.
pub const KEY: &str = "data";
pub const FIRST: &str = "value-1";
pub const UPDATED: &str = "value-2";
pub const CREATED: &str = "value-new";
/// The label and annotation Proctor sets on the running pod.
pub const LIVE_KEY: &str = "proctor.dev/live";
pub const LIVE_VALUE: &str = "updated";
/// How long the container waits for the changes.
pub const WAIT_SECONDS: u32 = 100;
const ROOT: &str = "/mnt/proctor-live";
/// Printed once the container read the first state.
pub const READY: &str = "proctor-live-ready";

pub const KIND: Kind = Kind {
    name: "liveUpdates",
    resolve,
    entry: Entry {
        kind: "liveUpdates",
        checks: "while the pod runs, an updated ConfigMap and Secret are rewritten into their volumes and projected volumes, deleted optional ones vanish from them, optional ones created later appear, and changed labels and annotations are rewritten into downwardAPI and projected files",
        parameters: "-",
        runs: "reads the files of optional configMap, secret, projected and downwardAPI volumes once it runs and every second after, until all show what Proctor changed (at most 100 s); Proctor updates, deletes and creates the objects and patches the pod once it runs",
        catches: "a kubelet that mounts its sources once and never again, or ignores optional sources created or deleted after the pod started",
        faults: "identity",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe.live_updates.as_ref().map(|_| ProbeKind::LiveUpdates)
}

/// The object names of pod `pod_name`: updated, deleted, created.
pub fn object_name(pod_name: &str, which: &str) -> String {
    format!("{pod_name}-{which}")
}

const WHICH: [&str; 3] = ["upd", "del", "new"];

fn meta(pod: &Pod, which: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(object_name(
            pod.metadata.name.as_deref().unwrap_or_default(),
            which,
        )),
        namespace: pod.metadata.namespace.clone(),
        labels: pod.metadata.labels.clone(),
        owner_references: pod.metadata.owner_references.clone(),
        ..ObjectMeta::default()
    }
}

fn config_map(pod: &Pod, which: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: meta(pod, which),
        data: Some(BTreeMap::from([(KEY.to_owned(), value.to_owned())])),
        ..ConfigMap::default()
    }
}

fn secret(pod: &Pod, which: &str, value: &str) -> Secret {
    Secret {
        metadata: meta(pod, which),
        data: Some(BTreeMap::from([(
            KEY.to_owned(),
            ByteString(value.as_bytes().to_vec()),
        )])),
        ..Secret::default()
    }
}

/// The objects that exist when the pod starts: the one to update and the one to delete.
pub fn config_maps(pod: &Pod) -> Vec<ConfigMap> {
    vec![config_map(pod, "upd", FIRST), config_map(pod, "del", FIRST)]
}

pub fn secrets(pod: &Pod) -> Vec<Secret> {
    vec![secret(pod, "upd", FIRST), secret(pod, "del", FIRST)]
}

/// What Proctor changes once the pod runs.
pub struct Changes {
    /// Written whole (the updated ones and the created ones).
    pub config_maps: Vec<ConfigMap>,
    pub secrets: Vec<Secret>,
    /// Deleted.
    pub deleted: String,
}

pub fn changes(pod: &Pod) -> Changes {
    Changes {
        config_maps: vec![
            config_map(pod, "upd", UPDATED),
            config_map(pod, "new", CREATED),
        ],
        secrets: vec![secret(pod, "upd", UPDATED), secret(pod, "new", CREATED)],
        deleted: object_name(pod.metadata.name.as_deref().unwrap_or_default(), "del"),
    }
}

/// Each file the container reads: its key in the log (and its check's name), its path under
/// [`ROOT`], its value before and after.
fn files() -> Vec<(String, String, &'static str, &'static str)> {
    let mut out = Vec::new();
    for (kind, short) in [("configMap", "cm"), ("secret", "secret")] {
        for (which, what, before, after) in [
            ("upd", "Updated", FIRST, UPDATED),
            ("del", "Deleted", FIRST, "absent"),
            ("new", "Created", "absent", CREATED),
        ] {
            let projected = format!("projected{}{}", &kind[..1].to_uppercase(), &kind[1..]);
            out.push((
                format!("{kind}{what}"),
                format!("{short}-{which}/{KEY}"),
                before,
                after,
            ));
            out.push((
                format!("{projected}{what}"),
                format!("projected-{short}/{which}"),
                before,
                after,
            ));
        }
    }
    for (volume, prefix) in [
        ("downward", "downward"),
        ("projected-downward", "projected"),
    ] {
        for (file, what) in [("labels", "Labels"), ("annotations", "Annotations")] {
            out.push((
                format!("{prefix}{what}"),
                format!("{volume}/{file}"),
                "absent",
                LIVE_VALUE,
            ));
        }
    }
    out
}

/// The state the container waits for, as it prints it.
fn wanted() -> String {
    files()
        .iter()
        .map(|(key, _, _, after)| format!("{key}: {after}"))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn shape(spec: &mut PodSpec, pod_name: &str) {
    spec.termination_grace_period_seconds = Some(1);
    let optional = Some(true);
    let mut volumes = Vec::new();
    for which in WHICH {
        let name = object_name(pod_name, which);
        volumes.push(Volume {
            name: format!("cm-{which}"),
            config_map: Some(ConfigMapVolumeSource {
                name: name.clone(),
                optional,
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        });
        volumes.push(Volume {
            name: format!("secret-{which}"),
            secret: Some(SecretVolumeSource {
                secret_name: Some(name),
                optional,
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
    }
    let item = |which: &str| {
        Some(vec![KeyToPath {
            key: KEY.into(),
            path: which.into(),
            mode: None,
        }])
    };
    let projected = |sources: Vec<VolumeProjection>| ProjectedVolumeSource {
        sources: Some(sources),
        ..ProjectedVolumeSource::default()
    };
    volumes.push(Volume {
        name: "projected-cm".into(),
        projected: Some(projected(
            WHICH
                .iter()
                .map(|which| VolumeProjection {
                    config_map: Some(ConfigMapProjection {
                        name: object_name(pod_name, which),
                        items: item(which),
                        optional,
                    }),
                    ..VolumeProjection::default()
                })
                .collect(),
        )),
        ..Volume::default()
    });
    volumes.push(Volume {
        name: "projected-secret".into(),
        projected: Some(projected(
            WHICH
                .iter()
                .map(|which| VolumeProjection {
                    secret: Some(SecretProjection {
                        name: object_name(pod_name, which),
                        items: item(which),
                        optional,
                    }),
                    ..VolumeProjection::default()
                })
                .collect(),
        )),
        ..Volume::default()
    });
    let field = |path: &str, of: &str| DownwardAPIVolumeFile {
        path: path.into(),
        field_ref: Some(ObjectFieldSelector {
            field_path: of.into(),
            ..ObjectFieldSelector::default()
        }),
        ..DownwardAPIVolumeFile::default()
    };
    let fields = || {
        vec![
            field("labels", "metadata.labels"),
            field("annotations", "metadata.annotations"),
        ]
    };
    volumes.push(Volume {
        name: "downward".into(),
        downward_api: Some(DownwardAPIVolumeSource {
            items: Some(fields()),
            ..DownwardAPIVolumeSource::default()
        }),
        ..Volume::default()
    });
    volumes.push(Volume {
        name: "projected-downward".into(),
        projected: Some(projected(vec![VolumeProjection {
            downward_api: Some(DownwardAPIProjection {
                items: Some(fields()),
            }),
            ..VolumeProjection::default()
        }])),
        ..Volume::default()
    });
    let mounts = volumes
        .iter()
        .map(|v| mount(&v.name, &format!("{ROOT}/{}", v.name), true))
        .collect();
    spec.volumes = Some(volumes);
    let Some(container) = spec.containers.first_mut() else {
        return;
    };
    container.volume_mounts = Some(mounts);
    // `state` prints every file as `KEY: VALUE`: a file's content, `absent`, or for the
    // downward files the value of the live label or annotation (or `absent`).
    let reads: Vec<String> = files()
        .iter()
        .map(|(key, path, _, _)| {
            if path.ends_with("/labels") || path.ends_with("/annotations") {
                format!(r#"echo "{key}: $(live "$root/{path}")""#)
            } else {
                format!(r#"echo "{key}: $(get "$root/{path}")""#)
            }
        })
        .collect();
    let source = format!(
        r#"root=$1 wanted=$2 key=$3 max=$5
get() {{ if [ -f "$1" ]; then cat "$1"; else echo absent; fi; }}
live() {{ v=$(grep "^$key=" "$1" 2>/dev/null | cut -d= -f2- | tr -d '"'); echo "${{v:-absent}}"; }}
state() {{ {}; }}
state | sed 's/^/initial /'
echo "$4"
n=0
while [ "$(state)" != "$wanted" ] && [ "$n" -lt "$max" ]; do sleep 1; n=$((n+1)); done
state | sed 's/^/final /'
echo "waited: $n""#,
        reads.join("; ")
    );
    let wait = WAIT_SECONDS.to_string();
    let wanted = wanted();
    script(container, &source, &[ROOT, &wanted, LIVE_KEY, READY, &wait]);
}

/// Proctor changes the sources once the container runs (once: recorded as the probe's action),
/// and judges the pod once it ended.
pub fn step(at: &At) -> Step {
    if at.finished {
        return Step::Judge { read_log: true };
    }
    if at.running && at.view.status.actions_done == 0 {
        return Step::LiveUpdate;
    }
    Step::Wait
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("liveUpdates");
        };
        let mut checks = vec![equal("exitCode", 0, t.exit_code)];
        let waited = field_or(log, "not reported", "waited");
        for (key, _, before, _) in files() {
            checks.push(equal(
                &format!("{key}Before"),
                before,
                field_or(log, "not reported", &format!("initial {key}")),
            ));
        }
        for (key, _, _, after) in files() {
            let observed = field_or(log, "not reported", &format!("final {key}"));
            let mut c = equal(&key, after, observed);
            if !c.passed {
                c.observed = format!("{observed} after {waited} s");
            }
            checks.push(c);
        }
        Outcome::from_checks(
            checks,
            format!(
                "every update, deletion and creation reached the volumes, and the new labels and annotations the downward files, within {waited} s"
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Verdict;
    use crate::verdict::{LogObservation, PodObservation};

    fn evidence(log: &str) -> Evidence {
        // A finished pod whose container exited 0 (recorded on the test cluster).
        let pod = PodObservation::of(
            &serde_json::from_str(include_str!("../../../tests/fixtures/pods/exit-0.json"))
                .unwrap(),
        );
        Evidence {
            pods: vec![pod],
            log: Some(LogObservation::of(log.as_bytes())),
            ..Evidence::default()
        }
    }

    fn log(initial: impl Fn(&str, &str) -> String, last: impl Fn(&str, &str) -> String) -> String {
        let mut out = String::new();
        for (key, _, before, _) in files() {
            out.push_str(&format!("initial {key}: {}\n", initial(&key, before)));
        }
        out.push_str(READY);
        out.push('\n');
        for (key, _, _, after) in files() {
            out.push_str(&format!("final {key}: {}\n", last(&key, after)));
        }
        out.push_str("waited: 7\n");
        out
    }

    #[test]
    fn every_source_followed_passes_and_one_left_behind_fails() {
        let good = log(|_, b| b.to_owned(), |_, a| a.to_owned());
        let outcome = judge(&evidence(&good)).unwrap();
        assert_eq!(outcome.verdict, Verdict::Passed, "{outcome:?}");
        assert!(
            outcome.message.ends_with("within 7 s"),
            "{}",
            outcome.message
        );
        assert_eq!(outcome.checks.len(), 1 + 2 * files().len());
        // A kubelet that never rewrites the projected downward files, and keeps a deleted
        // Secret's file.
        let stale = log(
            |_, b| b.to_owned(),
            |k, a| match k {
                "projectedLabels" => "absent".to_owned(),
                "secretDeleted" => FIRST.to_owned(),
                _ => a.to_owned(),
            },
        );
        let outcome = judge(&evidence(&stale)).unwrap();
        assert_eq!(
            (outcome.verdict, outcome.reason.as_str()),
            (Verdict::Failed, "SecretDeletedMismatch")
        );
        let failed: Vec<(&str, &str)> = outcome
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| (c.name.as_str(), c.observed.as_str()))
            .collect();
        assert_eq!(
            failed,
            [
                ("secretDeleted", "value-1 after 7 s"),
                ("projectedLabels", "absent after 7 s")
            ]
        );
        // Content cut by the runtime (faulty-content) shows in the first state already.
        let cut = log(
            |_, b| b.trim_end_matches('1').to_owned(),
            |_, a| a.to_owned(),
        );
        let outcome = judge(&evidence(&cut)).unwrap();
        assert_eq!(outcome.reason, "ConfigMapUpdatedBeforeMismatch");
    }

    #[test]
    fn the_wanted_state_is_what_the_script_prints_and_names_are_per_pod() {
        let wanted = wanted();
        assert_eq!(wanted.lines().count(), files().len());
        assert!(wanted.starts_with("configMapUpdated: value-2\nprojectedConfigMapUpdated: value-2\nconfigMapDeleted: absent"));
        assert_eq!(object_name("run-1-live-0", "new"), "run-1-live-0-new");
        let keys: std::collections::BTreeSet<String> =
            files().into_iter().map(|(k, ..)| k).collect();
        assert_eq!(keys.len(), 16);
    }

    /// Logs recorded on the test cluster: under runc every change arrived (the pod's patch
    /// makes the kubelet remount at once); under faulty-identity the configMap and secret
    /// volumes' files lose their last byte from the start.
    #[test]
    fn recorded_logs_pass_under_runc_and_fail_under_faulty_identity() {
        let runc = judge(&evidence(include_str!(
            "../../../tests/fixtures/logs/live-updates-runc.txt"
        )))
        .unwrap();
        assert_eq!(runc.verdict, Verdict::Passed, "{runc:?}");
        let faulty = judge(&evidence(include_str!(
            "../../../tests/fixtures/logs/live-updates-faulty-identity.txt"
        )))
        .unwrap();
        assert_eq!(
            (faulty.verdict, faulty.reason.as_str()),
            (Verdict::Failed, "ConfigMapUpdatedBeforeMismatch")
        );
    }
}
