//! What a namespace's user can do to others through Proctor, on the real test cluster: pods
//! they label as Proctor's do not stall anyone's runs, and a run cannot grant itself the
//! privileged checks that only the cluster's operator may allow.
//!
//! Run by `.ci/run`; by hand: `PROCTOR_TEST_KUBECONFIG=$(tests/cluster/up.sh) cargo test --test
//! isolation -- --ignored`.

// A test that cannot get what it needs fails: panicking is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use proctor::api::{TestRun, Verdict};
use serde_json::json;
use support::*;

const RUN_TIMEOUT: Duration = Duration::from_secs(120);

fn testrun(name: &str, spec: serde_json::Value) -> TestRun {
    serde_json::from_value(json!({
        "apiVersion": "proctor.dev/v1alpha1",
        "kind": "TestRun",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .unwrap()
}

/// Three running pods anyone could make, labelled `app.kubernetes.io/managed-by=proctor`, beside
/// a controller whose global cap is two pods: the run still runs, as they are not Proctor's.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn pods_labelled_as_proctors_by_someone_else_do_not_count_against_the_pod_cap() {
    with_namespace("impostors", |client, ns| async move {
        install_crd(&client).await;
        for i in 0..3 {
            let mut pod = script_pod(&format!("impostor-{i}"), "runc", "sleep 300");
            pod["metadata"]["labels"] = json!({
                "app.kubernetes.io/managed-by": "proctor",
                "proctor.dev/run-uid": "not-a-run",
            });
            create_pod(&client, &ns, pod).await;
        }
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        for i in 0..3 {
            wait_for_pod(&client, &ns, &format!("impostor-{i}"), "running", |p| {
                phase(p) == Some("Running")
            })
            .await;
        }
        let _controller = ControllerProcess::start_with(&ns, &["--max-running-pods", "2"]);
        let run = testrun(
            "capped",
            json!({"probes": [{"name": "exit", "exitCode": {"code": 5}}]}),
        );
        let run = run_to_end(&client, &ns, run, RUN_TIMEOUT).await;
        let probe = &run.status.as_ref().unwrap().probes[0];
        assert_eq!(probe.verdict, Some(Verdict::Passed), "{probe:#?}");
        // The impostors were left alone.
        for i in 0..3 {
            let pod = pods.get(&format!("impostor-{i}")).await.unwrap();
            assert_eq!(phase(Some(&pod)), Some("Running"));
        }
    })
    .await;
}

/// In a namespace whose Pod Security level would admit a hostPID pod, a run that sets
/// `allowPrivileged` still gets no inspector unless the controller's operator granted that
/// namespace: the privileged check is Skipped and says who may grant it.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn a_run_cannot_grant_itself_privileged_checks() {
    with_namespace_at("ungranted", "privileged", |client, ns| async move {
        install_crd(&client).await;
        // Granted elsewhere only.
        let _controller =
            ControllerProcess::start_with(&ns, &["--privileged-namespaces", "some-other"]);
        let run = testrun(
            "self-granted",
            json!({
                "allowPrivileged": true,
                "probes": [
                    {"name": "pgk", "processGroupKill": {}},
                    {"name": "churn", "rapidCreateDelete": {"pods": 2}, "timeoutSeconds": 60},
                ],
            }),
        );
        let run = run_to_end(&client, &ns, run, RUN_TIMEOUT).await;
        let status = run.status.as_ref().unwrap();
        let pgk = status.probes.iter().find(|p| p.name == "pgk").unwrap();
        assert_eq!(
            (pgk.verdict, pgk.reason.as_deref()),
            (Some(Verdict::Skipped), Some("PrivilegedNotGranted")),
            "{pgk:#?}"
        );
        assert!(
            pgk.message
                .as_deref()
                .unwrap_or_default()
                .contains("--privileged-namespaces"),
            "{pgk:#?}"
        );
        let churn = status.probes.iter().find(|p| p.name == "churn").unwrap();
        assert_eq!(churn.verdict, Some(Verdict::Passed), "{churn:#?}");
        assert!(
            churn
                .message
                .as_deref()
                .unwrap_or_default()
                .contains("not inspected"),
            "{churn:#?}"
        );
        assert!(
            !churn.checks.iter().any(|c| c.name == "leftoverProcesses"),
            "{churn:#?}"
        );
        // No hostPID pod was ever created in the namespace (one would still be listed: the
        // run keeps its pods' records until cleanup deletes them, and cleanup is at the end).
        let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), &ns);
        let created_inspector = events
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .iter()
            .any(|e| {
                e.involved_object
                    .name
                    .as_deref()
                    .unwrap_or_default()
                    .ends_with("-inspector")
            });
        assert!(!created_inspector, "an inspector pod was created");
    })
    .await;
}
