//! What a namespace's user can do to others through Proctor, on the real test cluster: pods
//! they label as Proctor's do not stall anyone's runs, long exec actions do not stall anyone
//! else's runs, and a run cannot grant itself the privileged checks that only the cluster's
//! operator may allow.
//!
//! Run by `.ci/run`; by hand: `PROCTOR_TEST_KUBECONFIG=$(tests/cluster/up.sh) cargo test --test
//! isolation -- --ignored`.

// A test that cannot get what it needs fails: panicking is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use proctor::api::{ProbePhase, TestRun, Verdict};
use serde_json::json;
use support::*;

const RUN_TIMEOUT: Duration = Duration::from_secs(120);

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

/// Two runs whose custom probes exec a minute-long command, beside a controller that reconciles
/// two runs at once (`--concurrency 2`): a third run still runs to its end while both execs
/// are running (they hold no reconcile slot), and the slow runs then end with their actions'
/// outcomes.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn long_exec_actions_do_not_stall_other_runs() {
    with_namespace("long-execs", |client, ns| async move {
        install_crd(&client).await;
        let _controller = ControllerProcess::start_with(&ns, &["--concurrency", "2"]);
        let runs: Api<TestRun> = Api::namespaced(client.clone(), &ns);
        let slow = |name: &str| {
            testrun(
                name,
                json!({"probes": [{
                    "name": "long-exec",
                    "timeoutSeconds": 180,
                    "custom": {
                        "command": ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"],
                        "actions": [
                            {"exec": {"command": ["sleep", "60"], "expectExitCode": 0}},
                            {"delete": {"gracePeriodSeconds": 5}},
                        ],
                        "expect": {"exitCode": 0},
                    },
                }]}),
            )
        };
        for name in ["slow-a", "slow-b"] {
            runs.create(&Default::default(), &slow(name)).await.unwrap();
        }
        // Both execs under way: each run recorded its action as started.
        for name in ["slow-a", "slow-b"] {
            wait_for(&runs, name, |r| {
                r.status
                    .as_ref()
                    .and_then(|s| s.probes.first())
                    .is_some_and(|p| p.actions_started == 1)
            })
            .await;
        }
        let quick = testrun(
            "quick",
            json!({"probes": [{"name": "exit", "exitCode": {"code": 4}}]}),
        );
        let quick = run_to_end(&client, &ns, quick, RUN_TIMEOUT).await;
        assert_eq!(
            quick.status.as_ref().unwrap().probes[0].verdict,
            Some(Verdict::Passed),
            "{quick:#?}"
        );
        // The slow runs' execs were still running when the quick run ended.
        for name in ["slow-a", "slow-b"] {
            let run = runs.get(name).await.unwrap();
            let probe = &run.status.as_ref().unwrap().probes[0];
            assert_eq!(
                (probe.phase, probe.actions_done),
                (ProbePhase::Running, 0),
                "{name} was not still in its exec when the quick run ended: {probe:#?}"
            );
        }
        for name in ["slow-a", "slow-b"] {
            let run = wait_for_end(&client, &ns, name, Duration::from_secs(240)).await;
            let probe = &run.status.as_ref().unwrap().probes[0];
            assert_eq!(probe.verdict, Some(Verdict::Passed), "{probe:#?}");
            assert!(
                probe
                    .checks
                    .iter()
                    .any(|c| c.name.contains("action") && c.passed),
                "{probe:#?}"
            );
        }
    })
    .await;
}

/// Waits (up to two minutes) until the run `name` satisfies `ok`.
async fn wait_for(runs: &Api<TestRun>, name: &str, ok: impl Fn(&TestRun) -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(run) = runs.get(name).await
            && ok(&run)
        {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{name}: not reached");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
