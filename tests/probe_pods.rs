//! The pods `proctor::probes` builds, run for real on the test cluster under plain runc: each is
//! admitted in a namespace that enforces the restricted Pod Security Standard, runs, and shows
//! the behaviour its probe checks. This pins the pod shapes to real kubelet/containerd/runc
//! behaviour before any verdict logic reads them.
//!
//! Run by `.ci/run`; by hand: `PROCTOR_TEST_KUBECONFIG=$(tests/cluster/up.sh) cargo test --test
//! probe_pods -- --ignored`.

// A test that cannot get what it needs fails: panicking is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::PostParams;
use proctor::api::{Probe, TestRun};
use proctor::probes::{self, DEFAULT_ENV_VALUE, DEFAULT_UNICODE_TEXT, RunContext};
use support::*;

/// Creates the sample TestRun (so the pods have a real owner) and returns the pods of `probe`.
async fn sample_run(client: &kube::Client, ns: &str) -> (TestRun, Vec<Probe>) {
    install_crd(client).await;
    let mut run: TestRun =
        serde_yaml::from_str(include_str!("../examples/conformance.yaml")).unwrap();
    run.metadata.namespace = Some(ns.to_owned());
    let runs: Api<TestRun> = Api::namespaced(client.clone(), ns);
    let run = runs.create(&PostParams::default(), &run).await.unwrap();
    let probes = run.spec.probes.clone();
    (run, probes)
}

async fn run_probe(client: &kube::Client, run: &TestRun, probe: &Probe) -> Vec<(Pod, Finished)> {
    let ctx = RunContext::of(run, PROBE_IMAGE).unwrap();
    let resolved = probes::resolve(probe, &ctx, Some(120)).unwrap();
    let mut out = Vec::new();
    let pods = probes::pods(&resolved, &ctx, 0);
    let names: Vec<String> = futures::future::join_all(
        pods.into_iter()
            .map(|pod| create_pod(client, &ctx.namespace, serde_json::to_value(pod).unwrap())),
    )
    .await;
    for name in names {
        let pod = wait_for_pod(client, &ctx.namespace, &name, "finished", is_finished).await;
        let seen = finished(client, &ctx.namespace, &pod).await;
        out.push((pod, seen));
    }
    out
}

#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn probe_pods_show_the_behaviour_their_probes_check() {
    with_namespace("probe-pods", |client, ns| async move {
        let (run, probes) = sample_run(&client, &ns).await;
        let by_name = |name: &str| probes.iter().find(|p| p.name == name).unwrap().clone();
        let single = |name: &'static str| {
            let client = client.clone();
            let run = run.clone();
            let probe = by_name(name);
            async move {
                let mut pods = run_probe(&client, &run, &probe).await;
                assert_eq!(pods.len(), 1, "{name}");
                (name, pods.remove(0))
            }
        };
        // Boxed one at a time: each probe's future is large, and fourteen of them side by side
        // do not fit on a test thread's stack.
        let names = [
            "exit-code",
            "command-not-found",
            "env",
            "stderr",
            "large-output",
            "working-dir",
            "read-only-volume",
            "oom-kill",
            "deadline-exceeded",
            "termination-message",
            "termination-message-fallback",
            "unicode-output",
            "restart-count",
            "custom-exit-3",
        ];
        let results = futures::future::join_all(names.map(|name| Box::pin(single(name)))).await;
        for (name, (pod, seen)) in results {
            let status = pod.status.clone().unwrap();
            let restarts = status.container_statuses.as_ref().unwrap()[0].restart_count;
            match name {
                "exit-code" => assert_eq!((seen.phase.as_str(), seen.exit_code), ("Failed", 42)),
                "command-not-found" => {
                    assert_eq!(seen.phase, "Failed");
                    assert_eq!(seen.reason.as_deref(), Some("StartError"), "{seen:?}");
                    assert!(
                        seen.message
                            .clone()
                            .unwrap_or_default()
                            .contains("no such file")
                    );
                }
                // Framed, so that the value's newline is kept: NAME US =VALUE RS LF.
                "env" => assert_eq!(
                    seen.logs,
                    format!(
                        "PROCTOR_PROBE_VALUE\u{1f}={DEFAULT_ENV_VALUE}\u{1e}\nPROCTOR_PROBE_EMPTY\u{1f}=\u{1e}\nPROCTOR_PROBE_LONG\u{1f}={}\u{1e}\n",
                        probes::kinds::env::long_value()
                    )
                ),
                "stderr" => assert_eq!(seen.logs, "proctor stderr marker\n"),
                "large-output" => {
                    let lines: Vec<&str> = seen.logs.lines().collect();
                    assert_eq!((lines.len(), lines[0], lines[19999]), (20000, "1", "20000"));
                }
                "working-dir" => assert_eq!(seen.logs, "/tmp\n"),
                "read-only-volume" => {
                    assert_ne!(seen.exit_code, 0, "{seen:?}");
                    assert!(seen.logs.contains("Read-only file system"), "{seen:?}");
                }
                "oom-kill" => {
                    assert_eq!(
                        (seen.reason.as_deref(), seen.exit_code),
                        (Some("OOMKilled"), 137)
                    )
                }
                "deadline-exceeded" => {
                    assert_eq!(seen.phase, "Failed");
                    assert_eq!(
                        status.reason.as_deref(),
                        Some("DeadlineExceeded"),
                        "{status:?}"
                    );
                }
                "termination-message" => {
                    assert_eq!(seen.message.as_deref(), Some("proctor termination message"))
                }
                "termination-message-fallback" => {
                    assert_eq!(
                        seen.message.as_deref(),
                        Some("proctor termination message\n")
                    )
                }
                "unicode-output" => assert_eq!(seen.logs, format!("{DEFAULT_UNICODE_TEXT}\n")),
                "restart-count" => {
                    assert_eq!(
                        (seen.phase.as_str(), restarts),
                        ("Succeeded", 2),
                        "{seen:?}"
                    )
                }
                "custom-exit-3" => assert_eq!((seen.exit_code, seen.logs.as_str()), (3, "hello\n")),
                other => panic!("unexpected probe {other}"),
            }
        }

        let burst = run_probe(&client, &run, &by_name("concurrent-start")).await;
        assert_eq!(burst.len(), 10);
        assert!(burst.iter().all(|(_, seen)| seen.phase == "Succeeded"));
    })
    .await;
}
