//! Finalizers never outlive their run: the orphan sweep, and the release of a run's pods by a
//! controller that goes away before the run is done.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::Store;
use kube::{Api, Client, ResourceExt};

use crate::api::{LABEL_RUN_UID, POD_FINALIZER, TestRun};

use super::{Error, act, ready};

/// Releases Proctor's finalizer from pods whose run no longer exists (deleted runs never reach
/// `reconcile`), so that the garbage collector can remove them.
///
/// A held pod whose run is not in the controller's cache is confirmed gone by a GET of its
/// owner before it is released: the cache may not be filled yet, and its readiness is not ours
/// to wait for (see [`ready`]).
pub(super) async fn sweep_orphans(
    client: Client,
    runs: Store<TestRun>,
    pods: Store<Pod>,
    ready: ready::Ready,
) {
    if !ready.wait().await {
        return;
    }
    loop {
        let live: std::collections::HashSet<String> =
            runs.state().iter().filter_map(|r| r.uid()).collect();
        for pod in pods.state() {
            let held = pod.finalizers().iter().any(|f| f == POD_FINALIZER);
            let owner = pod.labels().get(LABEL_RUN_UID).cloned().unwrap_or_default();
            if !held || live.contains(&owner) || run_exists(&client, &pod, &owner).await {
                continue;
            }
            match act::release_pod(&client, &pod).await {
                Ok(()) => tracing::info!(
                    namespace = %pod.namespace().unwrap_or_default(),
                    pod = %pod.name_any(),
                    "released the pod: its run is gone"
                ),
                Err(e) => tracing::warn!(pod = %pod.name_any(), "releasing an orphaned pod: {e}"),
            }
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
}

/// Whether the run that owns `pod` (by UID) still exists; `true` when that cannot be told.
async fn run_exists(client: &Client, pod: &Pod, uid: &str) -> bool {
    let Some(owner) = pod
        .owner_references()
        .iter()
        .find(|o| o.kind == "TestRun" && o.uid == uid)
    else {
        // Not owned by a run as Proctor creates them: not Proctor's to release.
        return true;
    };
    let ns = pod.namespace().unwrap_or_default();
    let runs: Api<TestRun> = Api::namespaced(client.clone(), &ns);
    match runs.get_opt(&owner.name).await {
        Ok(Some(run)) => run.uid().as_deref() == Some(uid),
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(pod = %pod.name_any(), "looking up the run of the pod: {e}");
            true
        }
    }
}

/// Releases Proctor's finalizer from every pod of the run with UID `uid` in `namespace`: for a
/// controller that goes away before its run is done (`proctor run` interrupted, or past its
/// `--timeout`), so that nothing it held stays held. Returns how many it released.
pub async fn release_pods_of(client: &Client, namespace: &str, uid: &str) -> Result<usize, Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let params = kube::api::ListParams::default().labels(&format!("{LABEL_RUN_UID}={uid}"));
    let list = act::bounded(
        act::CALL_TIMEOUT,
        || "listing the run's pods".into(),
        async {
            pods.list(&params)
                .await
                .map_err(|source| Error::ListPods { source })
        },
    )
    .await?;
    let mut released = 0;
    for pod in list
        .items
        .iter()
        .filter(|p| p.finalizers().iter().any(|f| f == POD_FINALIZER))
    {
        act::release_pod(client, pod).await?;
        released += 1;
    }
    Ok(released)
}
