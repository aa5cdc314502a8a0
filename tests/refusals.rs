//! The controller where runs meet their first failures, on the real test cluster: pods the API
//! server refuses, a namespace deleted under a run, probe names that look like each other's
//! pods, and a container that can never start. Each ends with a status that says what happened
//! and why; none leaves a run without a status or a pod held.
//!
//! Run by `.ci/run`; by hand: `PROCTOR_TEST_KUBECONFIG=$(tests/cluster/up.sh) cargo test --test
//! refusals -- --ignored`.

// A test that cannot get what it needs fails: panicking is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::events::v1::Event;
use kube::{Api, Client};
use proctor::api::{ProbeStatus, RunPhase, TestRun, Verdict};
use serde_json::json;
use support::*;

/// Long enough for any of these runs on a loaded node; a run that never gets a status (the
/// defect these tests guard against) fails here instead of hanging.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

fn probe<'a>(run: &'a TestRun, name: &str) -> &'a ProbeStatus {
    run.status
        .as_ref()
        .and_then(|s| s.probes.iter().find(|p| p.name == name))
        .unwrap_or_else(|| panic!("no status for probe {name}: {:#?}", run.status))
}

async fn events(client: &Client, namespace: &str, run: &str) -> Vec<Event> {
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    events
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(run))
        .collect()
}

/// A RuntimeClass that does not exist (the commonest typo) and a hostPID inspector that the
/// namespace's Pod Security level forbids: each refused probe is an `Error` carrying the API
/// server's own words, with a Warning Event; the probe beside them passes; the run ends.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn pods_the_api_server_refuses_make_their_probes_errors_and_the_run_ends() {
    with_namespace("refused", |client, ns| async move {
        install_crd(&client).await;
        let _controller = ControllerProcess::start(&ns);
        let run = testrun(
            "refused",
            json!({
                "allowPrivileged": true,
                "probes": [
                    {"name": "typo", "runtimeClassName": "does-not-exist", "exitCode": {"code": 3}},
                    {"name": "inspected", "processGroupKill": {}},
                    {"name": "fine", "exitCode": {"code": 42}},
                ],
            }),
        );
        let run = run_to_end(&client, &ns, run, RUN_TIMEOUT).await;
        let status = run.status.as_ref().unwrap();
        assert_eq!(status.phase, Some(RunPhase::Error), "{status:#?}");

        let typo = probe(&run, "typo");
        assert_eq!(
            (typo.verdict, typo.reason.as_deref()),
            (Some(Verdict::Error), Some("PodRejected")),
            "{typo:#?}"
        );
        let message = typo.message.as_deref().unwrap_or_default();
        assert!(
            message.starts_with("the API server refused to create pod ")
                && message.contains(r#"RuntimeClass "does-not-exist" not found"#),
            "{message}"
        );

        let inspected = probe(&run, "inspected");
        assert_eq!(
            (inspected.verdict, inspected.reason.as_deref()),
            (Some(Verdict::Error), Some("PodRejected")),
            "{inspected:#?}"
        );
        let message = inspected.message.as_deref().unwrap_or_default();
        assert!(
            message.contains("-inspector") && message.contains("violates PodSecurity"),
            "{message}"
        );

        let fine = probe(&run, "fine");
        assert_eq!(fine.verdict, Some(Verdict::Passed), "{fine:#?}");

        let warnings: Vec<String> = events(&client, &ns, "refused")
            .await
            .into_iter()
            .filter(|e| e.type_.as_deref() == Some("Warning"))
            .filter_map(|e| e.note)
            .collect();
        for name in ["typo", "inspected"] {
            assert!(
                warnings
                    .iter()
                    .any(|n| n.starts_with(&format!("{name}: PodRejected: the API server refused"))),
                "no Warning Event for {name}: {warnings:#?}"
            );
        }
    })
    .await;
}

/// A namespace deleted while one probe's pod holds Proctor's finalizer and other probes are
/// still to start: the terminating namespace refuses their pods, and the namespace still goes.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn a_namespace_deleted_mid_run_goes_away() {
    with_namespace("ns-deleted", |client, ns| async move {
        install_crd(&client).await;
        let _controller = ControllerProcess::start(&ns);
        let run = testrun(
            "doomed",
            json!({
                "parallelism": 1,
                "probes": [
                    {"name": "held", "gracefulShutdown": {"gracePeriodSeconds": 30}},
                    {"name": "later-1", "exitCode": {"code": 1}},
                    {"name": "later-2", "exitCode": {"code": 2}},
                ],
            }),
        );
        let runs: Api<TestRun> = Api::namespaced(client.clone(), &ns);
        runs.create(&Default::default(), &run).await.unwrap();
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let held = |p: Option<&Pod>| {
            p.and_then(|p| p.metadata.finalizers.as_ref())
                .is_some_and(|f| !f.is_empty())
        };
        let name = wait_for_any_pod(&pods, held, POD_TIMEOUT).await;
        eprintln!("pod {name} holds the finalizer; deleting namespace {ns}");

        let namespaces: Api<Namespace> = Api::all(client.clone());
        let uid = namespaces.get(&ns).await.unwrap().metadata.uid.unwrap();
        namespaces.delete(&ns, &Default::default()).await.unwrap();
        // Polled: a watch error must never count as the namespace being gone.
        let gone = async {
            loop {
                match namespaces.get_opt(&ns).await {
                    Ok(None) => return,
                    Ok(Some(n)) if n.metadata.uid.as_deref() != Some(uid.as_str()) => return,
                    _ => tokio::time::sleep(Duration::from_millis(500)).await,
                }
            }
        };
        // The namespace controller's own work takes seconds; a held pod holds it for good.
        if tokio::time::timeout(Duration::from_secs(90), gone)
            .await
            .is_err()
        {
            let left: Vec<(String, Option<Vec<String>>)> = pods
                .list(&Default::default())
                .await
                .map(|l| {
                    l.items
                        .into_iter()
                        .map(|p| (p.metadata.name.unwrap_or_default(), p.metadata.finalizers))
                        .collect()
                })
                .unwrap_or_default();
            panic!("namespace {ns} still there 90s after its deletion; pods left: {left:?}");
        }
    })
    .await;
}

/// Waits until some pod in `pods` satisfies `condition`; returns its name.
async fn wait_for_any_pod(
    pods: &Api<Pod>,
    condition: impl Fn(Option<&Pod>) -> bool,
    timeout: Duration,
) -> String {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(pod) = pods
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|p| condition(Some(p)))
        {
            return pod.metadata.name.unwrap_or_default();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no pod matched within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Probe `x` has two pods, probe `x-0` one: the names of their pods never meet, so neither is
/// judged on the other's pod.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn probes_whose_names_look_like_each_others_pods_get_pods_of_their_own() {
    with_namespace("names", |client, ns| async move {
        install_crd(&client).await;
        let _controller = ControllerProcess::start(&ns);
        let run = testrun(
            "names",
            json!({"probes": [
                {"name": "x", "concurrentStart": {"pods": 2}},
                {"name": "x-0", "exitCode": {"code": 42}},
                {"name": "x-0-p1", "exitCode": {"code": 7}},
            ]}),
        );
        let run = run_to_end(&client, &ns, run, RUN_TIMEOUT).await;
        let mut all = std::collections::BTreeSet::new();
        for name in ["x", "x-0", "x-0-p1"] {
            let p = probe(&run, name);
            assert_eq!(p.verdict, Some(Verdict::Passed), "{p:#?}");
            for pod in &p.pods {
                assert!(
                    all.insert(pod.clone()),
                    "pod {pod} is shared: {:#?}",
                    run.status
                );
            }
        }
        assert_eq!(all.len(), 4, "{all:?}");
        let observed = |name: &str| {
            probe(&run, name)
                .checks
                .iter()
                .find(|c| c.name == "exitCode")
                .map(|c| c.observed.clone())
        };
        assert_eq!(observed("x-0").as_deref(), Some("42"));
        assert_eq!(observed("x-0-p1").as_deref(), Some("7"));
    })
    .await;
}

/// A custom probe whose command is not in the image: the verdict carries the runtime's own
/// words, not only the exit code 128 they lead to.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn a_container_that_cannot_start_says_why_in_its_verdict() {
    with_namespace("no-binary", |client, ns| async move {
        install_crd(&client).await;
        let _controller = ControllerProcess::start(&ns);
        let run = testrun(
            "no-binary",
            json!({"probes": [{
                "name": "missing",
                "custom": {"command": ["printenv-is-not-here"], "expect": {"exitCode": 0}},
            }]}),
        );
        let run = run_to_end(&client, &ns, run, RUN_TIMEOUT).await;
        let p = probe(&run, "missing");
        assert_eq!(p.verdict, Some(Verdict::Failed), "{p:#?}");
        let message = p.message.as_deref().unwrap_or_default();
        assert!(
            message.starts_with(
                "expected exit code 0, observed 128; the container never ran: StartError: "
            ) && message
                .contains(r#"exec: "printenv-is-not-here": executable file not found in $PATH"#),
            "{message}"
        );
    })
    .await;
}
