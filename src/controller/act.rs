//! The controller's side effects, each idempotent: creating a pod that exists is success,
//! deleting one that is gone is success, removing a finalizer that is not there is a no-op.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

use super::Error;
use super::stage::enter;
pub use super::stream::{
    Lines, Reach, converse, exec, read_container_log, read_log, read_previous_log,
};
use crate::api::{LABEL_PROBE, LABEL_RUN_UID, POD_FINALIZER, TestRun, TestRunStatus};
use crate::probes::{CONTAINER, LABEL_ROLE};

/// The longest one API call may take (the client itself has no read timeout): a call that
/// never answers fails with [`Error::Timeout`] and is retried, instead of holding its run.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// `call`, abandoned after `limit`.
pub async fn bounded<T>(
    limit: Duration,
    what: impl FnOnce() -> String,
    call: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result,
        Err(_) => Err(Error::Timeout {
            what: what(),
            seconds: limit.as_secs(),
        }),
    }
}

/// Creates a probe pod. A pod of that name that exists already is success only when it is the
/// same run's and probe's (its labels say so: a restarted controller finds its own pods this
/// way); any other is [`Error::NameTaken`], never judged as this probe's pod.
pub async fn create_pod(client: &Client, pod: &Pod) -> Result<(), Error> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let what = || format!("creating pod {name}");
    bounded(CALL_TIMEOUT, what, async {
        let existed = create(client, pod)
            .await
            .map_err(|(name, source)| Error::CreatePod { name, source })?;
        if !existed {
            return Ok(());
        }
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(client.clone(), ns);
        enter(|| format!("checking the existing pod {name}"));
        let existing = api.get(&name).await.map_err(|source| Error::CheckPod {
            name: name.clone(),
            source,
        })?;
        match foreign(pod, &existing) {
            None => Ok(()),
            Some(owner) => Err(Error::NameTaken {
                name: name.clone(),
                owner,
            }),
        }
    })
    .await
}

/// Labels that say whose a probe pod is.
const OWNER_LABELS: &[&str] = &[LABEL_RUN_UID, LABEL_PROBE, LABEL_ROLE];

/// How `existing` differs in ownership from the `wanted` pod of the same name, if it does.
pub fn foreign(wanted: &Pod, existing: &Pod) -> Option<String> {
    let empty = std::collections::BTreeMap::new();
    let wanted_labels = wanted.metadata.labels.as_ref().unwrap_or(&empty);
    let existing_labels = existing.metadata.labels.as_ref().unwrap_or(&empty);
    let differing: Vec<String> = OWNER_LABELS
        .iter()
        .filter(|key| wanted_labels.get(**key) != existing_labels.get(**key))
        .map(|key| match existing_labels.get(*key) {
            Some(value) => format!("{key}={value}"),
            None => format!("no {key} label"),
        })
        .collect();
    (!differing.is_empty()).then(|| format!("it has {}", differing.join(", ")))
}

pub async fn create_secret(client: &Client, secret: &Secret) -> Result<(), Error> {
    let name = secret.metadata.name.as_deref().unwrap_or_default();
    bounded(CALL_TIMEOUT, || format!("creating secret {name}"), async {
        create(client, secret)
            .await
            .map(|_| ())
            .map_err(|(name, source)| Error::CreateSecret { name, source })
    })
    .await
}

pub async fn create_config_map(client: &Client, config_map: &ConfigMap) -> Result<(), Error> {
    let name = config_map.metadata.name.as_deref().unwrap_or_default();
    bounded(
        CALL_TIMEOUT,
        || format!("creating configmap {name}"),
        async {
            create(client, config_map)
                .await
                .map(|_| ())
                .map_err(|(name, source)| Error::CreateConfigMap { name, source })
        },
    )
    .await
}

/// The changes a `liveUpdates` probe makes to its running pod's sources: its ConfigMaps and
/// Secrets updated, deleted and created, then its labels and annotations patched (last: the pod
/// update makes the kubelet remount the volumes at once). Idempotent, so a retry after a
/// controller restart does no harm; it touches only objects this run owns (an object of that
/// name that is not the run's is refused, never overwritten or deleted).
pub async fn live_update(client: &Client, pod: &Pod, run_uid: &str) -> Result<(), Error> {
    use crate::probes::kinds::live_updates::{LIVE_KEY, LIVE_VALUE, changes};
    let changes = changes(pod);
    for config_map in &changes.config_maps {
        write_owned(client, config_map, run_uid).await?;
    }
    for secret in &changes.secrets {
        write_owned(client, secret, run_uid).await?;
    }
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    delete_owned::<ConfigMap>(client, ns, &changes.deleted, run_uid).await?;
    delete_owned::<Secret>(client, ns, &changes.deleted, run_uid).await?;
    let name = pod.metadata.name.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let patch = json!({"metadata": {
        "labels": {LIVE_KEY: LIVE_VALUE},
        "annotations": {LIVE_KEY: LIVE_VALUE},
    }});
    enter(|| format!("patching the labels of pod {name}"));
    bounded(CALL_TIMEOUT, || format!("patching pod {name}"), async {
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(|source| Error::UpdateObject {
                what: "pod".into(),
                name: name.clone(),
                source,
            })
    })
    .await
}

/// Whether `meta` is owned by the run `run_uid`.
fn owned_by(meta: &kube::api::ObjectMeta, run_uid: &str) -> bool {
    meta.owner_references
        .iter()
        .flatten()
        .any(|o| o.uid == run_uid)
}

/// Writes `object` whole: created when absent, replaced when the run owns the one there.
async fn write_owned<K>(client: &Client, object: &K, run_uid: &str) -> Result<(), Error>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let meta = object.meta();
    let name = meta.name.clone().unwrap_or_default();
    let what = K::kind(&()).to_lowercase();
    let api: Api<K> = Api::namespaced(
        client.clone(),
        meta.namespace.as_deref().unwrap_or_default(),
    );
    let failed = |source| Error::UpdateObject {
        what: what.clone(),
        name: name.clone(),
        source,
    };
    enter(|| format!("writing {what} {name}"));
    bounded(CALL_TIMEOUT, || format!("writing {what} {name}"), async {
        match api.get_opt(&name).await.map_err(failed)? {
            None => api
                .create(&PostParams::default(), object)
                .await
                .map(|_| ())
                .map_err(failed),
            Some(existing) if !owned_by(existing.meta(), run_uid) => Err(Error::ObjectTaken {
                what: what.clone(),
                name: name.clone(),
            }),
            Some(existing) => {
                let mut replaced = object.clone();
                replaced.meta_mut().resource_version = existing.meta().resource_version.clone();
                api.replace(&name, &PostParams::default(), &replaced)
                    .await
                    .map(|_| ())
                    .map_err(failed)
            }
        }
    })
    .await
}

/// Deletes object `name` when the run owns it; gone already is done.
async fn delete_owned<K>(client: &Client, ns: &str, name: &str, run_uid: &str) -> Result<(), Error>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let what = K::kind(&()).to_lowercase();
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let failed = |source| Error::UpdateObject {
        what: what.clone(),
        name: name.to_owned(),
        source,
    };
    enter(|| format!("deleting {what} {name}"));
    bounded(CALL_TIMEOUT, || format!("deleting {what} {name}"), async {
        let Some(existing) = api.get_opt(name).await.map_err(failed)? else {
            return Ok(());
        };
        if !owned_by(existing.meta(), run_uid) {
            return Err(Error::ObjectTaken {
                what: what.clone(),
                name: name.to_owned(),
            });
        }
        let params = DeleteParams {
            preconditions: existing
                .meta()
                .uid
                .clone()
                .map(|uid| kube::api::Preconditions {
                    uid: Some(uid),
                    resource_version: None,
                }),
            ..DeleteParams::default()
        };
        match api.delete(name, &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
            Err(source) => Err(failed(source)),
        }
    })
    .await
}

/// Creates a namespaced object; `true` when one of that name exists already (a controller that
/// restarted mid-run created it: names are deterministic).
async fn create<K>(client: &Client, object: &K) -> Result<bool, (String, kube::Error)>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let meta = object.meta();
    let name = meta.name.clone().unwrap_or_default();
    let api: Api<K> = Api::namespaced(
        client.clone(),
        meta.namespace.as_deref().unwrap_or_default(),
    );
    enter(|| format!("creating {} {name}", K::plural(&())));
    match api.create(&PostParams::default(), object).await {
        Ok(_) => Ok(false),
        Err(kube::Error::Api(s)) if s.is_already_exists() => Ok(true),
        Err(source) => Err((name, source)),
    }
}

pub async fn delete_pod(
    client: &Client,
    ns: &str,
    name: &str,
    grace: Option<i64>,
) -> Result<(), Error> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let params = DeleteParams {
        grace_period_seconds: grace.map(|g| g.max(0) as u32),
        ..DeleteParams::default()
    };
    enter(|| format!("deleting pod {name}"));
    let deleted = bounded(CALL_TIMEOUT, || format!("deleting pod {name}"), async {
        Ok(api.delete(name, &params).await)
    })
    .await?;
    match deleted {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
        Err(source) => Err(Error::DeletePod {
            name: name.into(),
            source,
        }),
    }
}

/// Removes Proctor's finalizer from a pod that has it, keeping any other finalizer.
pub async fn release_pod(client: &Client, pod: &Pod) -> Result<(), Error> {
    let finalizers = pod.metadata.finalizers.clone().unwrap_or_default();
    if !finalizers.iter().any(|f| f == POD_FINALIZER) {
        return Ok(());
    }
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let rest: Vec<&String> = finalizers.iter().filter(|f| *f != POD_FINALIZER).collect();
    // Test-and-replace of the finalizers alone: a concurrent change of the finalizers fails the
    // patch (retried from fresh state) instead of being overwritten, while the kubelet's many
    // status updates do not get in the way as a resourceVersion check would.
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/finalizers", "value": finalizers},
        {"op": "replace", "path": "/metadata/finalizers", "value": rest},
    ]))
    .map_err(|e| Error::ReleasePodPatch {
        name: name.clone(),
        message: e.to_string(),
    })?;
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    enter(|| format!("releasing pod {name}"));
    let patched = bounded(CALL_TIMEOUT, || format!("releasing pod {name}"), async {
        Ok(api
            .patch(&name, &PatchParams::default(), &Patch::<()>::Json(patch))
            .await)
    })
    .await?;
    match patched {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
        // The test failed: the cached pod is behind (perhaps already released); the next
        // reconcile sees the current finalizers and tries again if still needed.
        Err(kube::Error::Api(s)) if s.code == 422 => Ok(()),
        Err(source) => Err(Error::ReleasePod { name, source }),
    }
}

/// An exec into each of `containers` of pod `pod` that prints the container's name from its
/// env, and its check (`streaming` and `ephemeralContainers`).
async fn exec_in_each(
    client: &Client,
    ns: &str,
    pod: &str,
    containers: &[&str],
    limit: std::time::Duration,
) -> Result<Vec<crate::api::Check>, Error> {
    use crate::probes::kinds::streaming;
    let mut checks = Vec::new();
    for container in containers {
        let (exec, stdout, _) =
            super::stream::exec(client, ns, pod, container, streaming::exec_command(), limit)
                .await?;
        let error = match (exec.exit_code, exec.error) {
            (Some(0), _) => None,
            (Some(code), _) => Some(format!("exit {code}")),
            (None, error) => Some(error.unwrap_or_else(|| "no exit status".into())),
        };
        checks.push(streaming::exec_check(container, &stdout, error.as_deref()));
    }
    Ok(checks)
}

/// The `streaming` probe's conversations with its pod's two containers, one after another: an
/// exec into each, `cat` with a terminal in the probe container, attach to it. Each gives the
/// check its kind makes of it; each waits `limit` at most.
pub async fn stream_conversations(
    client: &Client,
    ns: &str,
    pod: &str,
    limit: std::time::Duration,
) -> Result<Vec<crate::api::Check>, Error> {
    use crate::probes::kinds::streaming;
    let mut checks = exec_in_each(
        client,
        ns,
        pod,
        &[crate::probes::CONTAINER, streaming::SECOND],
        limit,
    )
    .await?;
    let tty = converse(
        client,
        ns,
        pod,
        crate::probes::CONTAINER,
        Reach::ExecWithTty(vec![streaming::TTY_COMMAND.into()]),
        Lines {
            say: format!("{}\n", streaming::TTY_LINE).as_bytes(),
            until: &streaming::tty_heard(),
            then: b"\x04",
        },
        limit,
    )
    .await?;
    let exit = match &tty.exit {
        Some(e) if e.exit_code == Some(0) => None,
        Some(e) => Some(e.error.clone().unwrap_or_else(|| "no exit status".into())),
        None => Some("no exit status".into()),
    };
    checks.push(streaming::tty_check(
        &tty.output,
        tty.heard,
        exit.as_deref(),
    ));
    let attach = converse(
        client,
        ns,
        pod,
        crate::probes::CONTAINER,
        Reach::Attach,
        Lines {
            say: format!("{}\n", streaming::ATTACH_LINE).as_bytes(),
            until: &streaming::attach_heard(),
            then: format!("{}\n", streaming::ATTACH_END).as_bytes(),
        },
        limit,
    )
    .await?;
    let refused = attach.exit.and_then(|e| e.error);
    checks.push(streaming::attach_check(
        &attach.output,
        attach.heard,
        refused.as_deref(),
    ));
    Ok(checks)
}

/// Adds `container` to pod `name`'s ephemeral containers (a strategic merge on the
/// `ephemeralcontainers` subresource: the ones already there stay). Adding one that is already
/// there (a retry) changes nothing.
pub async fn add_ephemeral_container(
    client: &Client,
    ns: &str,
    name: &str,
    container: k8s_openapi::api::core::v1::EphemeralContainer,
) -> Result<(), Error> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let patch = serde_json::json!({"spec": {"ephemeralContainers": [container]}});
    enter(|| format!("adding an ephemeral container to pod {name}"));
    bounded(
        CALL_TIMEOUT,
        || format!("adding an ephemeral container to pod {name}"),
        async {
            api.patch_subresource(
                "ephemeralcontainers",
                name,
                &PatchParams::default(),
                &Patch::Strategic(patch),
            )
            .await
            .map(|_| ())
            .map_err(|source| Error::AddEphemeral {
                name: name.into(),
                source,
            })
        },
    )
    .await
}

/// The `ephemeralContainers` probe's execs: into each ephemeral container (its check), then
/// the probe container told to end.
pub async fn exec_ephemeral_containers(
    client: &Client,
    ns: &str,
    pod: &str,
    limit: std::time::Duration,
) -> Result<Vec<crate::api::Check>, Error> {
    use crate::probes::kinds::ephemeral_containers;
    let checks = exec_in_each(client, ns, pod, &ephemeral_containers::EPHEMERAL, limit).await?;
    let done = ["touch", "/shared/done"].map(str::to_owned).to_vec();
    super::stream::exec(client, ns, pod, crate::probes::CONTAINER, done, limit).await?;
    Ok(checks)
}

/// The node a probe's pod runs on, for the kinds judged against it; the API server's words
/// when it cannot be read (e.g. the controller's RBAC lacks `get` on nodes).
pub async fn read_node(
    client: &Client,
    name: &str,
) -> Result<crate::verdict::NodeObservation, crate::verdict::NodeUnread> {
    let api: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    enter(|| format!("reading node {name}"));
    let read = bounded(CALL_TIMEOUT, || format!("reading node {name}"), async {
        Ok(api.get(name).await)
    })
    .await;
    match read {
        Ok(Ok(node)) => Ok(crate::verdict::NodeObservation::of(&node)),
        Ok(Err(e)) => Err(crate::verdict::NodeUnread {
            forbidden: matches!(&e, kube::Error::Api(s) if s.code == 403),
            message: format!("node {name} could not be read: {e}"),
        }),
        Err(e) => Err(crate::verdict::NodeUnread {
            forbidden: false,
            message: e.to_string(),
        }),
    }
}

/// When the kubelet began stopping the probe container of pod `name`: the first of its
/// `Killing` Events for it. `None` when there is none, or it cannot be read (the verdict then
/// says that the kubelet's part cannot be told from the runtime's).
pub async fn kill_started_at(
    client: &Client,
    ns: &str,
    name: &str,
) -> Option<k8s_openapi::jiff::Timestamp> {
    let api: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), ns);
    let params = kube::api::ListParams::default()
        .fields(&format!("involvedObject.name={name},reason=Killing"));
    enter(|| format!("reading the kubelet's Killing Event of pod {name}"));
    let listed = bounded(
        CALL_TIMEOUT,
        || format!("listing the Events of pod {name}"),
        async { Ok(api.list(&params).await) },
    )
    .await;
    match listed {
        Ok(Ok(list)) => list
            .items
            .iter()
            .filter(|e| {
                e.involved_object
                    .field_path
                    .as_deref()
                    .is_none_or(|f| f.contains(CONTAINER))
            })
            .filter_map(|e| {
                e.event_time
                    .as_ref()
                    .map(|t| t.0)
                    .or_else(|| e.first_timestamp.as_ref().map(|t| t.0))
            })
            .min(),
        Ok(Err(e)) => {
            tracing::warn!(pod = %name, "listing the Events of the pod: {e}");
            None
        }
        Err(e) => {
            tracing::warn!("{e}");
            None
        }
    }
}

/// Writes the whole status with server-side apply, as the controller's single field manager.
pub async fn apply_status(
    client: &Client,
    run: &TestRun,
    status: &TestRunStatus,
    manager: &str,
) -> Result<TestRunStatus, Error> {
    let ns = run.metadata.namespace.as_deref().unwrap_or_default();
    let name = run.metadata.name.clone().unwrap_or_default();
    let api: Api<TestRun> = Api::namespaced(client.clone(), ns);
    let patch = json!({
        "apiVersion": "proctor.dev/v1alpha1",
        "kind": "TestRun",
        "status": status,
    });
    enter(|| format!("writing the status of {name}"));
    let what = || format!("writing the status of {name}");
    let written = bounded(CALL_TIMEOUT, what, async {
        Ok(api
            .patch_status(
                &name,
                &PatchParams::apply(manager).force(),
                &Patch::Apply(&patch),
            )
            .await)
    })
    .await?;
    written
        .map(|written| written.status.unwrap_or_default())
        .map_err(|source| Error::ApplyStatus { name, source })
}

/// Claims `run` for the controller named `claim` (see [`super::claim`]): a merge patch of the
/// annotation that carries the run's `resourceVersion`, so that of two controllers claiming at
/// once one wins and the other gets a conflict. `false`: someone changed the run first (look
/// again); a run that is gone is not claimed either.
pub async fn claim_run(client: &Client, run: &TestRun, claim: &str) -> Result<bool, Error> {
    let ns = run.metadata.namespace.as_deref().unwrap_or_default();
    let name = run.metadata.name.clone().unwrap_or_default();
    let api: Api<TestRun> = Api::namespaced(client.clone(), ns);
    let patch = json!({"metadata": {
        "resourceVersion": run.metadata.resource_version,
        "annotations": {crate::api::ANNOTATION_CONTROLLER: claim},
    }});
    enter(|| format!("claiming TestRun {name}"));
    let patched = bounded(CALL_TIMEOUT, || format!("claiming TestRun {name}"), async {
        Ok(api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await)
    })
    .await?;
    match patched {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 409 || s.is_not_found() => Ok(false),
        Err(source) => Err(Error::ClaimRun { name, source }),
    }
}

pub async fn delete_run(client: &Client, run: &TestRun) -> Result<(), Error> {
    let ns = run.metadata.namespace.as_deref().unwrap_or_default();
    let name = run.metadata.name.clone().unwrap_or_default();
    let api: Api<TestRun> = Api::namespaced(client.clone(), ns);
    enter(|| format!("deleting TestRun {name}"));
    let deleted = bounded(CALL_TIMEOUT, || format!("deleting TestRun {name}"), async {
        Ok(api.delete(&name, &DeleteParams::background()).await)
    })
    .await?;
    match deleted {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
        Err(source) => Err(Error::DeleteRun { name, source }),
    }
}

/// Creates pods concurrently (a concurrent-start burst must really be a burst).
pub async fn create_pods(client: &Client, pods: &[Pod]) -> Result<(), Error> {
    // Owned futures: borrowing closures here defeat the Send inference of the controller future.
    let creates = pods.iter().cloned().map(|pod| {
        let client = client.clone();
        async move { create_pod(&client, &pod).await }
    });
    enter(|| format!("creating {} pods", pods.len()));
    let results: Vec<Result<(), Error>> = futures::stream::iter(creates)
        .buffer_unordered(64)
        .collect()
        .await;
    results.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// liveUpdates changes only the objects its run owns: an object of the same name without
    /// the run among its owners is someone else's.
    #[test]
    fn only_objects_the_run_owns_are_its_own() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
        let owner = |uid: &str| OwnerReference {
            uid: uid.into(),
            ..OwnerReference::default()
        };
        let meta = kube::api::ObjectMeta {
            owner_references: Some(vec![owner("other"), owner("run-uid")]),
            ..kube::api::ObjectMeta::default()
        };
        assert!(owned_by(&meta, "run-uid"));
        assert!(!owned_by(&meta, "another-run"));
        assert!(!owned_by(&kube::api::ObjectMeta::default(), "run-uid"));
    }

    fn pod(labels: &[(&str, &str)]) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        pod
    }

    #[test]
    fn an_existing_pod_is_the_probes_only_when_run_and_probe_labels_match() {
        let wanted = pod(&[
            (LABEL_RUN_UID, "uid-1"),
            (LABEL_PROBE, "x-0"),
            ("team", "a"),
        ]);
        // The same run and probe (other labels may differ): a restarted controller's own pod.
        let own = pod(&[(LABEL_RUN_UID, "uid-1"), (LABEL_PROBE, "x-0")]);
        assert_eq!(foreign(&wanted, &own), None);

        let other_probe = pod(&[(LABEL_RUN_UID, "uid-1"), (LABEL_PROBE, "x")]);
        assert_eq!(
            foreign(&wanted, &other_probe).as_deref(),
            Some("it has proctor.dev/probe=x")
        );
        let someone_elses = pod(&[("app", "web")]);
        assert_eq!(
            foreign(&wanted, &someone_elses).as_deref(),
            Some("it has no proctor.dev/run-uid label, no proctor.dev/probe label")
        );
        let inspector = pod(&[(LABEL_RUN_UID, "uid-1"), (LABEL_ROLE, "inspector")]);
        assert!(foreign(&wanted, &inspector).is_some());
    }
}
