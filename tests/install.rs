//! Installing Proctor into the real test cluster the way a user does: `kubectl apply -k` of
//! `deploy/` (through the `tests/install` overlay: the locally built operator image and probe
//! image) and `helm install` of `charts/proctor`. The operator runs in its own pod under the
//! restricted Pod Security Standard, runs the sample TestRun, reports metrics and Events, hands
//! over to its standby when the leader's pod is deleted, and uninstalls without a trace.
//!
//! Needs the operator image in the cluster's containerd (`tests/run-all.sh` builds it with
//! `deploy/image/build-oci.sh` and imports it as `proctor.local/proctor:e2e`) and, for the chart,
//! `PROCTOR_TEST_HELM` (from `tests/tools/helm.sh`).

// A test that cannot get what it needs fails: panicking is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event;
use kube::runtime::wait::await_condition;
use kube::{Api, Client};
use proctor::api::{RunPhase, TestRun};
use support::*;

const CRD: &str = "testruns.proctor.dev";

fn kubectl(args: &[&str]) -> String {
    let kubectl = std::env::var("PROCTOR_TEST_KUBECTL")
        .unwrap_or_else(|_| "/var/lib/proctor-test-cluster/bin/kubectl".into());
    run(Command::new(kubectl).args(args))
}

fn helm(args: &[&str]) -> String {
    let helm = std::env::var("PROCTOR_TEST_HELM")
        .expect("PROCTOR_TEST_HELM: the helm binary (tests/tools/helm.sh prints it)");
    run(Command::new(helm).args(args))
}

fn run(command: &mut Command) -> String {
    let kubeconfig = std::env::var("PROCTOR_TEST_KUBECONFIG").expect("PROCTOR_TEST_KUBECONFIG");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = command
        .env("KUBECONFIG", kubeconfig)
        .current_dir(repo)
        .output()
        .unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The CRD may be there from other tests (applied with another field manager): an install
/// starts from a cluster without it, as a user's would.
fn remove_crd() {
    kubectl(&["delete", "crd", CRD, "--ignore-not-found", "--wait=true"]);
}

async fn lease_holder(client: &Client, namespace: &str, name: &str) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), namespace);
    leases
        .get_opt(name)
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
        .filter(|h| !h.is_empty())
}

async fn wait_for_holder(client: &Client, namespace: &str, lease: &str, not: &str) -> String {
    tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            if let Some(holder) = lease_holder(client, namespace, lease).await
                && holder != not
            {
                return holder;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no new holder of lease {namespace}/{lease}"))
}

async fn wait_for_run(client: &Client, namespace: &str, name: &str) -> TestRun {
    let runs: Api<TestRun> = Api::namespaced(client.clone(), namespace);
    let done = |r: Option<&TestRun>| {
        matches!(
            r.and_then(|r| r.status.as_ref()).and_then(|s| s.phase),
            Some(RunPhase::Succeeded | RunPhase::Failed | RunPhase::Error)
        )
    };
    // A watch the API server ends is started again: only the run's end, or the timeout, ends
    // the wait.
    let watched = async {
        loop {
            match await_condition(runs.clone(), name, done).await {
                Ok(run) => return run,
                Err(e) => {
                    eprintln!("watching TestRun {namespace}/{name}: {e}; watching again");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(300), watched)
        .await
        .unwrap_or_else(|_| panic!("TestRun {namespace}/{name} did not finish"))
        .unwrap()
}

async fn event_reasons(client: &Client, namespace: &str, run: &str) -> Vec<String> {
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    let mut reasons: Vec<String> = events
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(run))
        .filter_map(|e| e.reason)
        .collect();
    reasons.sort();
    reasons
}

/// Metrics of an operator replica, through the API server's pod proxy.
fn replica_metrics(namespace: &str, pod: &str) -> String {
    kubectl(&[
        "get",
        "--raw",
        &format!("/api/v1/namespaces/{namespace}/pods/{pod}:8080/proxy/metrics"),
    ])
}

/// A replica's API writes (all verbs and resources) and reconciles, from its metrics.
fn activity(metrics: &str) -> (f64, f64) {
    let sum = |name: &str| -> f64 {
        metrics
            .lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    (
        sum("proctor_api_writes_total"),
        sum("proctor_reconcile_duration_seconds_count"),
    )
}

fn assert_nothing_left(namespace: &str) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let left = [
            kubectl(&[
                "get",
                "namespace",
                namespace,
                "--ignore-not-found",
                "-o",
                "name",
            ]),
            kubectl(&["get", "crd", CRD, "--ignore-not-found", "-o", "name"]),
            kubectl(&[
                "get",
                "clusterroles,clusterrolebindings",
                "-l",
                "app.kubernetes.io/name=proctor",
                "-o",
                "name",
            ]),
            kubectl(&[
                "get",
                "pods",
                "-A",
                "-l",
                "app.kubernetes.io/managed-by=proctor",
                "-o",
                "name",
            ]),
        ]
        .concat();
        if left.trim().is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "left after uninstall:\n{left}");
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The runs whose reconciles began but never once ended, from a controller's log with
/// `PROCTOR_TRACE` set (`… proctor::trace: <namespace>/<name> +<ms>: <stage>`).
fn unfinished_reconciles(log: &str) -> Vec<String> {
    let mut began = std::collections::BTreeSet::new();
    let mut ended = std::collections::BTreeSet::new();
    for line in log.lines() {
        let Some((run, stage)) = line
            .split_once("proctor::trace: ")
            .and_then(|(_, rest)| rest.split_once(" +"))
        else {
            continue;
        };
        began.insert(run.to_owned());
        if stage.contains(": ended: ") {
            ended.insert(run.to_owned());
        }
    }
    assert!(
        !began.is_empty(),
        "no trace in the log (PROCTOR_TRACE unset?):\n{log}"
    );
    began.difference(&ended).cloned().collect()
}

/// Runs the sample in a fresh restricted namespace, checks its verdicts, metrics and Events, and
/// then (when `failover`) deletes the leader's pod in the middle of a second run: the standby
/// takes the lease and the run completes with every verdict recorded once.
async fn exercise(operator_ns: &str, lease: &str, failover: bool) {
    with_namespace("install-run", |client, ns| async move {
        let leader = wait_for_holder(&client, operator_ns, lease, "").await;
        let runs: Api<TestRun> = Api::namespaced(client.clone(), &ns);
        runs.create(&Default::default(), &sample_run("sample", |_| {}))
            .await
            .unwrap();
        let run = wait_for_run(&client, &ns, "sample").await;
        assert_verdicts(&run, &[], &["process-group-kill"]);
        assert_each_ran_once(&run);

        let metrics = replica_metrics(operator_ns, &leader);
        for line in [
            "proctor_runs_total{phase=\"Succeeded\"} 1",
            "proctor_probes_total{kind=\"exitCode\",verdict=\"Passed\"} 1",
            "proctor_probes_total{kind=\"processGroupKill\",verdict=\"Skipped\"} 1",
            "proctor_verdict_latency_seconds_count{kind=\"exitCode\"} 1",
        ] {
            assert!(metrics.contains(line), "{line} not in:\n{metrics}");
        }
        // Exactly one replica reconciles and writes: the standby did neither.
        let (writes, reconciles) = activity(&metrics);
        assert!(
            writes > 0.0 && reconciles > 0.0,
            "the leader neither wrote nor reconciled:\n{metrics}"
        );
        let pods = kubectl(&[
            "get",
            "pods",
            "-n",
            operator_ns,
            "--field-selector=status.phase=Running",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ]);
        let standbys: Vec<&str> = pods.split_whitespace().filter(|p| *p != leader).collect();
        assert_eq!(standbys.len(), 1, "two replicas: {pods}");
        let standby = replica_metrics(operator_ns, standbys[0]);
        assert_eq!(
            activity(&standby),
            (0.0, 0.0),
            "the standby acted:\n{standby}"
        );
        let reasons = event_reasons(&client, &ns, "sample").await;
        assert_eq!(
            reasons,
            ["ProbeSkipped", "Started", "Succeeded"],
            "one Event per transition"
        );
        if !failover {
            return;
        }

        // Under faulty-exit, so that the run's failures (and their Events) are recorded across
        // the handover too.
        runs.create(
            &Default::default(),
            &sample_run("failover", |spec| {
                spec.runtime_class_name = Some("faulty-exit".into())
            }),
        )
        .await
        .unwrap();
        // In the middle of the run: some verdicts written, others not.
        tokio::time::timeout(Duration::from_secs(120), async {
            loop {
                let run = runs.get("failover").await.unwrap();
                let status = run.status.unwrap_or_default();
                assert!(
                    status.completion_time.is_none(),
                    "the run ended before the leader could be deleted"
                );
                let judged = status.summary.map(|s| s.passed + s.failed).unwrap_or(0);
                if judged >= 3 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
        .await
        .expect("the run got under way");
        let deleted = Instant::now();
        kubectl(&["delete", "pod", "-n", operator_ns, &leader, "--wait=false"]);
        let successor = wait_for_holder(&client, operator_ns, lease, &leader).await;
        let gap = deleted.elapsed();
        eprintln!("failover: {leader} -> {successor} in {gap:?}");
        let run = wait_for_run(&client, &ns, "failover").await;
        // Every run the successor took up, it reconciled to an end: no reconcile hung (a
        // cache wait that woke only one of several reconciles once did).
        let log = kubectl(&["logs", "-n", operator_ns, &successor]);
        assert_eq!(
            unfinished_reconciles(&log),
            Vec::<String>::new(),
            "reconciles that never ended after the handover:\n{log}"
        );
        assert!(
            !log.contains("no answer within"),
            "a call of the successor got no answer:\n{log}"
        );
        assert_verdicts(&run, FAULTY_EXIT_FAILS, &["process-group-kill"]);
        assert_each_ran_once(&run);
        // One Event per transition, each failed probe its own, none twice across the handover.
        let reasons = event_reasons(&client, &ns, "failover").await;
        let mut wanted = vec!["Failed", "ProbeSkipped", "Started"];
        wanted.extend(vec!["ProbeFailed"; FAULTY_EXIT_FAILS.len()]);
        wanted.sort_unstable();
        assert_eq!(reasons, wanted);
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the test cluster and the operator image; run by .ci/run"]
async fn kubectl_apply_k_installs_a_working_operator_that_fails_over_and_uninstalls_cleanly() {
    remove_crd();
    kubectl(&["apply", "--server-side", "-k", "tests/install"]);
    let labels = kubectl(&[
        "get",
        "namespace",
        "proctor-system",
        "-o",
        "jsonpath={.metadata.labels.pod-security\\.kubernetes\\.io/enforce}",
    ]);
    assert_eq!(labels, "restricted");
    kubectl(&[
        "rollout",
        "status",
        "-n",
        "proctor-system",
        "deployment/proctor-controller",
        "--timeout=180s",
    ]);
    exercise("proctor-system", "proctor-controller", true).await;
    kubectl(&[
        "delete",
        "-k",
        "tests/install",
        "--wait=true",
        "--timeout=180s",
    ]);
    assert_nothing_left("proctor-system");
}

#[tokio::test]
#[ignore = "needs the test cluster, the operator image and helm; run by .ci/run"]
async fn helm_installs_a_working_operator_and_uninstalls_cleanly() {
    remove_crd();
    helm(&["lint", "--strict", "charts/proctor"]);
    // Whatever an earlier, failed run left behind.
    helm(&[
        "uninstall",
        "proctor",
        "-n",
        "proctor-helm",
        "--ignore-not-found",
        "--wait",
    ]);
    kubectl(&[
        "delete",
        "namespace",
        "proctor-helm",
        "--ignore-not-found",
        "--wait=true",
    ]);
    kubectl(&["create", "namespace", "proctor-helm"]);
    kubectl(&[
        "label",
        "namespace",
        "proctor-helm",
        "pod-security.kubernetes.io/enforce=restricted",
    ]);
    let values = [
        "--set",
        "image.tag=e2e",
        "--set",
        "defaultProbeImage=proctor.local/probe:v1",
    ];
    // What the chart renders, the API server accepts.
    let rendered = helm(
        &[
            &[
                "template",
                "proctor",
                "charts/proctor",
                "-n",
                "proctor-helm",
            ][..],
            &values[..],
        ]
        .concat(),
    );
    let manifest = std::env::temp_dir().join("proctor-helm-template.yaml");
    std::fs::write(&manifest, rendered).unwrap();
    kubectl(&[
        "apply",
        "--dry-run=server",
        "-f",
        manifest.to_str().unwrap(),
    ]);
    helm(
        &[
            &[
                "install",
                "proctor",
                "charts/proctor",
                "-n",
                "proctor-helm",
                "--wait",
                "--timeout",
                "3m",
            ][..],
            &values[..],
        ]
        .concat(),
    );
    exercise("proctor-helm", "proctor-proctor", false).await;
    helm(&["uninstall", "proctor", "-n", "proctor-helm", "--wait"]);
    kubectl(&["delete", "namespace", "proctor-helm", "--wait=true"]);
    assert_nothing_left("proctor-helm");
}
