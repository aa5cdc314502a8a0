//! Smoke tests of the test cluster itself (`tests/cluster/up.sh`): real pods on the real node
//! report what they did, and every `faulty-*` runtime class breaks exactly the behaviour it is
//! named after while plain `runc` (and the transparent `faulty-none` wrapper) do not. The
//! Proctor probes are only as trustworthy as these faults, so each fault is checked against a
//! control pod that runs the same script under `runc`.
//!
//! Run by `.ci/run`; by hand: `PROCTOR_TEST_KUBECONFIG=$(tests/cluster/up.sh) cargo test --test
//! cluster_smoke -- --ignored`.

// A test that cannot get what it needs fails: panicking is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use k8s_openapi::api::node::v1::RuntimeClass;
use kube::Api;
use kube::api::ListParams;
use serde_json::json;
use support::*;

/// Runs the same script under `runc` and under `faulty`, concurrently.
async fn control_and_faulty(
    client: &kube::Client,
    namespace: &str,
    faulty: &str,
    script: &str,
) -> (Finished, Finished) {
    futures::join!(
        run_to_completion(client, namespace, "control", "runc", script),
        run_to_completion(client, namespace, faulty, faulty, script),
    )
}

/// Runs `script` (which prints "ready" once its TERM trap is set) in pod `name` under `class`,
/// deletes the pod with `grace` seconds once it is ready, and returns its final container state
/// and when the delete was sent. A finalizer keeps the deleted pod until that state is read.
async fn stop_when_ready(
    client: &kube::Client,
    ns: &str,
    name: &str,
    class: &str,
    script: &str,
    grace: u32,
) -> (
    k8s_openapi::api::core::v1::ContainerStateTerminated,
    k8s_openapi::jiff::Timestamp,
) {
    let mut pod = script_pod(name, class, script);
    pod["metadata"]["finalizers"] = json!(["proctor.dev/smoke-test"]);
    pod["spec"]["terminationGracePeriodSeconds"] = json!(grace);
    create_pod(client, ns, pod).await;
    wait_for_pod(client, ns, name, "running", |p| phase(p) == Some("Running")).await;
    tokio::time::timeout(POD_TIMEOUT, async {
        while !logs(client, ns, name).await.contains("ready") {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("pod printed ready");
    let deleted = k8s_openapi::jiff::Timestamp::now();
    delete_pod(client, ns, name, grace).await;
    let pod = wait_for_pod(client, ns, name, "terminated", |p| {
        p.and_then(terminated).is_some()
    })
    .await;
    let state = terminated(&pod).cloned().unwrap();
    remove_finalizers(client, ns, name).await;
    (state, deleted)
}

#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn exit_42_fails_with_42_under_runc_and_with_0_under_faulty_exit() {
    with_namespace("smoke-exit", |client, ns| async move {
        let (runc, faulty) = control_and_faulty(&client, &ns, "faulty-exit", "exit 42").await;
        assert_eq!(
            (runc.phase.as_str(), runc.exit_code),
            ("Failed", 42),
            "{runc:?}"
        );
        assert_eq!(runc.reason.as_deref(), Some("Error"));
        assert_eq!(
            (faulty.phase.as_str(), faulty.exit_code),
            ("Succeeded", 0),
            "{faulty:?}"
        );
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn faulty_env_trims_the_pods_env_values() {
    with_namespace("smoke-env", |client, ns| async move {
        let value = "  a=b c ünïcode\n ";
        let with_env = |name: &str, class: &str| {
            let mut pod = script_pod(name, class, r#"printf '%s' "$PROBE_VALUE""#);
            pod["spec"]["containers"][0]["env"] = json!([{"name": "PROBE_VALUE", "value": value}]);
            pod
        };
        let (runc, faulty) = futures::join!(
            run_pod_to_completion(&client, &ns, with_env("control", "runc")),
            run_pod_to_completion(&client, &ns, with_env("faulty-env", "faulty-env")),
        );
        assert_eq!(runc.logs, value, "{runc:?}");
        assert_eq!(faulty.logs, value.trim(), "{faulty:?}");
        assert_eq!(faulty.exit_code, 0);
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn faulty_cwd_ignores_the_working_directory() {
    with_namespace("smoke-cwd", |client, ns| async move {
        let in_tmp = |name: &str, class: &str| {
            let mut pod = script_pod(name, class, "pwd");
            pod["spec"]["containers"][0]["workingDir"] = json!("/tmp");
            pod
        };
        let (runc, faulty) = futures::join!(
            run_pod_to_completion(&client, &ns, in_tmp("control", "runc")),
            run_pod_to_completion(&client, &ns, in_tmp("faulty-cwd", "faulty-cwd")),
        );
        assert_eq!(runc.logs, "/tmp\n", "{runc:?}");
        assert_eq!(faulty.logs, "/\n", "{faulty:?}");
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn faulty_stderr_loses_stderr_and_keeps_stdout() {
    with_namespace("smoke-stderr", |client, ns| async move {
        let script = "echo to-stdout; echo to-stderr >&2";
        let (runc, faulty) = control_and_faulty(&client, &ns, "faulty-stderr", script).await;
        assert!(
            runc.logs.contains("to-stdout") && runc.logs.contains("to-stderr"),
            "{runc:?}"
        );
        assert_eq!(faulty.logs, "to-stdout\n", "{faulty:?}");
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn faulty_rw_makes_a_read_only_secret_volume_writable() {
    with_namespace("smoke-rw", |client, ns| async move {
        let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), &ns);
        let secret = serde_json::from_value(json!({
            "metadata": {"name": "readonly"},
            "stringData": {"key": "value"},
        }))
        .unwrap();
        secrets.create(&Default::default(), &secret).await.unwrap();
        let mounted = |name: &str, class: &str| {
            let mut pod = script_pod(name, class, "touch /mnt/secret/written && echo wrote");
            pod["spec"]["securityContext"]["fsGroup"] = json!(1000);
            pod["spec"]["volumes"] = json!([{
                "name": "secret",
                "secret": {"secretName": "readonly", "defaultMode": 0o666},
            }]);
            pod["spec"]["containers"][0]["volumeMounts"] =
                json!([{"name": "secret", "mountPath": "/mnt/secret", "readOnly": true}]);
            pod
        };
        let (runc, faulty) = futures::join!(
            run_pod_to_completion(&client, &ns, mounted("control", "runc")),
            run_pod_to_completion(&client, &ns, mounted("faulty-rw", "faulty-rw")),
        );
        assert_ne!(runc.exit_code, 0, "{runc:?}");
        assert!(runc.logs.contains("Read-only file system"), "{runc:?}");
        assert_eq!(
            (faulty.exit_code, faulty.logs.as_str()),
            (0, "wrote\n"),
            "{faulty:?}"
        );
    })
    .await;
}

/// The pod traps TERM and reports it through the termination message; a finalizer keeps the
/// deleted pod around until its final container state has been read.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn faulty_sigterm_kills_where_runc_lets_the_pod_shut_down_gracefully() {
    with_namespace("smoke-sigterm", |client, ns| async move {
        let script = "trap 'echo got-TERM > /dev/termination-log; exit 0' TERM; \
                      echo ready; while true; do sleep 0.1; done";
        let ((runc, _), (faulty, _)) = futures::join!(
            stop_when_ready(&client, &ns, "control", "runc", script, 30),
            stop_when_ready(&client, &ns, "faulty", "faulty-sigterm", script, 30),
        );
        assert_eq!(runc.exit_code, 0, "{runc:?}");
        assert_eq!(runc.message.as_deref(), Some("got-TERM\n"), "{runc:?}");
        assert_eq!(faulty.exit_code, 137, "{faulty:?}");
        assert_ne!(faulty.message.as_deref(), Some("got-TERM\n"), "{faulty:?}");
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn faulty_trunc_cuts_stdout_at_64_kib() {
    with_namespace("smoke-trunc", |client, ns| async move {
        let (runc, faulty) = control_and_faulty(&client, &ns, "faulty-trunc", "seq 1 20000").await;
        assert_eq!(runc.logs.len(), 108_894, "all of seq 1 20000");
        assert!(runc.logs.ends_with("\n20000\n"));
        assert_eq!(faulty.logs.len(), 65_536, "cut at 64 KiB");
        assert!(runc.logs.starts_with(&faulty.logs));
        assert_eq!((faulty.phase.as_str(), faulty.exit_code), ("Succeeded", 0));
    })
    .await;
}

/// Pods started together under `faulty-race` collide: some fail to start; under runc none do.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn faulty_race_fails_creates_that_overlap() {
    with_namespace("smoke-race", |client, ns| async move {
        let burst = |class: &'static str| {
            let client = client.clone();
            let ns = ns.clone();
            async move {
                // Named as the pods of one probe are (`-p<index>`): the race fault makes the
                // creates of such a group collide.
                let names: Vec<String> = (0..4).map(|i| format!("{class}-p{i}")).collect();
                let runs = names
                    .iter()
                    .map(|name| run_to_completion(&client, &ns, name, class, "echo up"));
                futures::future::join_all(runs).await
            }
        };
        let runc = burst("runc").await;
        let faulty = burst("faulty-race").await;
        assert!(runc.iter().all(|f| f.phase == "Succeeded"), "{runc:?}");
        let failed: Vec<_> = faulty.iter().filter(|f| f.phase == "Failed").collect();
        assert!(!failed.is_empty(), "no create collided: {faulty:?}");
        for f in &failed {
            assert_eq!(
                (f.exit_code, f.reason.as_deref()),
                (128, Some("StartError"))
            );
            assert!(
                f.message
                    .as_deref()
                    .unwrap_or("")
                    .contains("another container is being created"),
                "{f:?}"
            );
        }
        // One at a time, nothing collides.
        let alone = run_to_completion(&client, &ns, "alone", "faulty-race", "echo up").await;
        assert_eq!(alone.phase, "Succeeded", "{alone:?}");
    })
    .await;
}

/// Under `faulty-latekill` a deleted pod's TERM arrives 50 s after the delete; under runc at once.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn faulty_latekill_delivers_the_kill_50_seconds_late() {
    with_namespace("smoke-latekill", |client, ns| async move {
        let script = "trap 'exit 0' TERM; echo ready; while true; do sleep 0.1; done";
        let stop = |name: &'static str, class: &'static str| {
            let (client, ns) = (client.clone(), ns.clone());
            async move {
                let (state, deleted) = stop_when_ready(&client, &ns, name, class, script, 90).await;
                let finished = state.finished_at.unwrap().0;
                (state.exit_code, finished.as_second() - deleted.as_second())
            }
        };
        let (runc, faulty) =
            futures::join!(stop("control", "runc"), stop("faulty", "faulty-latekill"));
        assert_eq!(runc.0, 0, "TERM handled");
        // Not a speed bound: only that the control has none of the fault's 50 s delay.
        assert!(runc.1 < 45, "runc: ended {}s after the delete", runc.1);
        assert_eq!(faulty.0, 0, "TERM handled, late");
        assert!(
            faulty.1 >= 45,
            "faulty-latekill: ended {}s after the delete",
            faulty.1
        );
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn faulty_none_wrapper_is_transparent() {
    with_namespace("smoke-none", |client, ns| async move {
        let script = "echo out; echo err >&2; cd /tmp && pwd; exit 3";
        let (runc, faulty) = control_and_faulty(&client, &ns, "faulty-none", script).await;
        assert_eq!(runc.exit_code, 3, "{runc:?}");
        // stdout and stderr travel through separate pipes: their interleaving is not defined.
        let lines = |logs: &str| {
            let mut lines: Vec<String> = logs.lines().map(str::to_owned).collect();
            lines.sort();
            lines
        };
        assert_eq!(lines(&runc.logs), ["/tmp", "err", "out"], "{runc:?}");
        assert_eq!(
            (faulty.phase, faulty.exit_code, lines(&faulty.logs)),
            (runc.phase, runc.exit_code, lines(&runc.logs))
        );
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn every_fault_of_the_mutation_matrix_has_a_runtime_class() {
    let classes: Api<RuntimeClass> = Api::all(client().await);
    let names: Vec<String> = classes
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    for wanted in [
        "runc",
        "faulty-env",
        "faulty-cwd",
        "faulty-exit",
        "faulty-exec",
        "faulty-stderr",
        "faulty-unicode",
        "faulty-sigterm",
        "faulty-rw",
        "faulty-pgk",
        "faulty-trunc",
        "faulty-race",
        "faulty-latekill",
        "faulty-insecure",
        "faulty-unconfined",
        "faulty-root",
        "faulty-caps",
        "faulty-nnp",
        "faulty-seccomp",
        "faulty-rootfs",
        "faulty-masks",
        "faulty-devices",
        "faulty-sysctl",
        "faulty-fsgroup",
        "faulty-identity",
        "faulty-hostname",
        "faulty-hosts",
        "faulty-dns",
        "faulty-downward",
        "faulty-expansion",
        "faulty-isolation",
        "faulty-volumes",
        "faulty-spec",
        "faulty-streams",
        "faulty-lifecycle",
        "faulty-security",
        "faulty-resources",
        "faulty-netns",
        "faulty-podns",
        "faulty-propagation",
        "faulty-tmpfs",
        "faulty-subpath",
        "faulty-modes",
        "faulty-split",
        "faulty-content",
        "faulty-dirmode",
        "faulty-stdio",
        "faulty-stdin",
        "faulty-prevlog",
        "faulty-slowfirst",
        "faulty-cmd",
    ] {
        assert!(
            names.iter().any(|n| n == wanted),
            "no RuntimeClass {wanted} in {names:?}"
        );
    }
}

/// In-cluster clients reach the API through the `kubernetes` Service (kube-proxy), with the
/// projected service account token and the published `kube-root-ca.crt`.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn service_account_token_authenticates_a_pod_to_the_api() {
    with_namespace("smoke-sa", |client, ns| async move {
        let script = r#"
sa=/var/run/secrets/kubernetes.io/serviceaccount
grep -q 'BEGIN CERTIFICATE' "$sa/ca.crt" || { echo "no CA bundle"; exit 2; }
wget -q -O - --no-check-certificate \
  --header "Authorization: Bearer $(cat "$sa/token")" \
  --header 'Content-Type: application/json' \
  --post-data '{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}' \
  "https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/apis/authentication.k8s.io/v1/selfsubjectreviews"
"#;
        let result = run_to_completion(&client, &ns, "whoami", "runc", script).await;
        assert_eq!(result.exit_code, 0, "{result:?}");
        let review: serde_json::Value = serde_json::from_str(&result.logs).unwrap();
        assert_eq!(
            review["status"]["userInfo"]["username"],
            json!(format!("system:serviceaccount:{ns}:default"))
        );
    })
    .await;
}

/// No image is ever pulled: a pull fails at once, at a proxy address on loopback.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn pulling_an_image_fails_fast_without_leaving_the_machine() {
    with_namespace("smoke-pull", |client, ns| async move {
        let mut pod = script_pod("missing", "runc", "true");
        pod["spec"]["containers"][0]["image"] = json!("registry.invalid/nothing:1.0");
        pod["spec"]["containers"][0]["imagePullPolicy"] = json!("IfNotPresent");
        create_pod(&client, &ns, pod).await;
        // Waits for the pull error that names the loopback proxy; a pull that went anywhere else
        // never produces it, and the wait fails with the pod's status.
        let pod = wait_for_pod(
            &client,
            &ns,
            "missing",
            "failing to pull at 127.0.0.1:9",
            |p| {
                waiting(p).is_some_and(|(reason, message)| {
                    reason == "ErrImagePull"
                        && message.contains("proxyconnect tcp: dial tcp 127.0.0.1:9")
                })
            },
        )
        .await;
        assert_eq!(phase(Some(&pod)), Some("Pending"));
    })
    .await;
}

fn waiting(pod: Option<&k8s_openapi::api::core::v1::Pod>) -> Option<(String, String)> {
    let statuses = pod?.status.as_ref()?.container_statuses.as_ref()?;
    let waiting = statuses.first()?.state.as_ref()?.waiting.as_ref()?;
    Some((
        waiting.reason.clone()?,
        waiting.message.clone().unwrap_or_default(),
    ))
}
