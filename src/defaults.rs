//! The cluster's defaults for Proctor: the probe image of runs that name none.
//!
//! A cluster tells Proctor its probe image in the ConfigMap `kube-public/proctor-defaults`
//! (key `probeImage`), which both `proctor controller` and `proctor run` read when they are
//! given no `--default-image`. A cluster that pulls nothing (the local test cluster) says so
//! there once, instead of every user needing a flag. May touch: one GET of that ConfigMap.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::{Api, Client};

/// The probe image when neither a flag nor the cluster names one.
pub const BUILTIN_PROBE_IMAGE: &str = "busybox:1.36.1";
pub const NAMESPACE: &str = "kube-public";
pub const CONFIGMAP: &str = "proctor-defaults";
pub const PROBE_IMAGE_KEY: &str = "probeImage";

/// The probe image to use, and where it came from (for the log line that says so).
pub async fn probe_image(client: &Client, explicit: Option<String>) -> (String, String) {
    if let Some(image) = explicit.filter(|i| !i.is_empty()) {
        return (image, "--default-image".into());
    }
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), maps.get_opt(CONFIGMAP));
    let from_cluster = match read.await {
        Ok(Ok(Some(map))) => map
            .data
            .and_then(|mut d| d.remove(PROBE_IMAGE_KEY))
            .filter(|i| !i.is_empty()),
        // Absent, not readable, or no answer: the built-in default.
        _ => None,
    };
    match from_cluster {
        Some(image) => (image, format!("{NAMESPACE}/{CONFIGMAP}")),
        None => (BUILTIN_PROBE_IMAGE.into(), "the built-in default".into()),
    }
}
