//! `proctor run` as a pipeline uses it, against the real test cluster with no controller
//! deployed: it runs the controller in-process, follows the run, writes the report, and exits 0
//! for a passing run and 1 (the failure code) for a run under a faulty runtime class, whose JUnit
//! marks exactly the probes that failed. `proctor report` renders the finished run again. As a
//! CI identity with rights in its namespace only: the README's pipeline command works as written
//! (the probe image from the cluster, no CRD install tried), a controller already serving the
//! namespace is used rather than a second one started, and a run given up on leaves no pod
//! held.

// A test that cannot get what it needs fails: panicking is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;

use k8s_openapi::api::core::v1::Pod;
use kube::{Api, ResourceExt};
use proctor::api::TestRun;
use support::*;

/// A few quick probes of the catalog, under `class`.
fn manifest(name: &str, class: &str) -> String {
    format!(
        r#"apiVersion: proctor.dev/v1alpha1
kind: TestRun
metadata:
  name: {name}
spec:
  runtimeClassName: {class}
  probes:
  - name: exit-code
    exitCode: {{code: 42}}
  - name: env
    env: {{}}
  - name: stderr
    stderr: {{}}
  - name: working-dir
    workingDir: {{path: /tmp}}
"#
    )
}

fn proctor(args: &[&str]) -> (i32, String, String) {
    let out = proctor_command(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn proctor_run_exits_0_for_a_passing_run_and_1_with_a_junit_of_the_failures() {
    with_namespace("cli", |client, ns| async move {
        let dir = std::env::temp_dir().join(format!("proctor-cli-{ns}"));
        std::fs::create_dir_all(&dir).unwrap();

        let passing = dir.join("passing.yaml");
        std::fs::write(&passing, manifest("passing", "runc")).unwrap();
        let junit = dir.join("passing.xml");
        let (code, stdout, stderr) = proctor(&[
            "run",
            "-f",
            passing.to_str().unwrap(),
            "-n",
            &ns,
            "--wait",
            "--timeout",
            "5m",
            "-o",
            "junit",
            "--report",
            junit.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
        assert!(
            stderr.contains("controller: in this process (no deployed controller claimed the run"),
            "no controller is deployed: {stderr}"
        );
        assert!(stdout.starts_with("PROBE"), "the table on stdout: {stdout}");
        assert!(stdout.contains("Succeeded: 4 passed, 0 failed, 0 errors, 0 skipped of 4"));
        let xml = std::fs::read_to_string(&junit).unwrap();
        assert_eq!(xml.matches("<testcase ").count(), 4, "{xml}");
        assert!(
            !xml.contains("<failure") && !xml.contains("<error"),
            "{xml}"
        );
        no_pod_left_running(&client, &ns).await;

        let faulty = dir.join("faulty.yaml");
        std::fs::write(&faulty, manifest("faulty", "faulty-exit")).unwrap();
        let (code, stdout, stderr) = proctor(&[
            "run",
            "-f",
            faulty.to_str().unwrap(),
            "-n",
            &ns,
            "--wait",
            "-o",
            "junit",
        ]);
        assert_eq!(
            code, 1,
            "the failure code:\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        // Exactly the exit-code probe failed, with what was expected and observed.
        assert_eq!(stdout.matches("<failure ").count(), 1, "{stdout}");
        let failed_case = stdout
            .split("<testcase ")
            .find(|c| c.contains("<failure "))
            .unwrap();
        assert!(failed_case.contains("name=\"exit-code\""), "{failed_case}");
        assert!(
            failed_case.contains("expected exit code 42, observed 0"),
            "{failed_case}"
        );

        // kubectl wait on the outcome condition, as a pipeline step would.
        let kubectl = std::env::var("PROCTOR_TEST_KUBECTL")
            .unwrap_or_else(|_| "/var/lib/proctor-test-cluster/bin/kubectl".into());
        let waited = |run: &str, condition: &str| {
            Command::new(&kubectl)
                .args(["wait", "-n", &ns, &format!("testrun/{run}")])
                .arg(format!("--for=condition={condition}"))
                .arg("--timeout=10s")
                .env(
                    "KUBECONFIG",
                    std::env::var("PROCTOR_TEST_KUBECONFIG").unwrap(),
                )
                .status()
                .unwrap()
                .success()
        };
        assert!(waited("passing", "Passed"));
        assert!(waited("faulty", "Passed=False"));

        // Applying the same manifest again changes nothing: the finished run is reported.
        let (code, stdout, _) =
            proctor(&["run", "-f", passing.to_str().unwrap(), "-n", &ns, "--wait"]);
        assert_eq!(code, 0, "{stdout}");
        let (code, stdout, _) = proctor(&["report", "faulty", "-n", &ns, "-o", "json"]);
        assert_eq!(code, 1);
        let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(report["phase"], "Failed");
        assert_eq!(report["probes"][0]["verdict"], "Failed");

        // Bad input is "could not run", with a message.
        let broken = dir.join("broken.yaml");
        std::fs::write(
            &broken,
            "kind: TestRun\nmetadata: {name: x}\nspec: {probes: []}\n",
        )
        .unwrap();
        let (code, _, stderr) = proctor(&["run", "-f", broken.to_str().unwrap(), "-n", &ns]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("proctor: "), "{stderr}");
    })
    .await;
}

/// A ServiceAccount `ci` in `ns` with what a pipeline is given there and nothing cluster-wide
/// (no CRDs, no Leases): TestRuns, and what `proctor run`'s in-process controller does with the
/// pipeline's own credentials. Returns the path of a kubeconfig that authenticates as it.
fn ci_identity(ns: &str, dir: &std::path::Path) -> std::path::PathBuf {
    service_account_kubeconfig(
        ns,
        "ci",
        r#"
- apiGroups: [proctor.dev]
  resources: [testruns]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [proctor.dev]
  resources: [testruns/status]
  verbs: [patch]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch, create, delete, patch]
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
- apiGroups: [""]
  resources: [pods/exec, pods/attach]
  verbs: [create, get]
- apiGroups: [""]
  resources: [pods/ephemeralcontainers]
  verbs: [patch]
- apiGroups: [""]
  resources: [secrets, configmaps]
  verbs: [create, get, update, delete]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch, list]
- apiGroups: [""]
  resources: [events]
  verbs: [list]
"#,
        dir,
    )
}

/// `proctor` as the CI identity, in `dir`: its kubeconfig only, no probe image in the
/// environment.
fn proctor_as(
    kubeconfig: &std::path::Path,
    dir: &std::path::Path,
    args: &[&str],
) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_proctor"))
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env_remove("PROCTOR_DEFAULT_IMAGE")
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The README's pipeline command, as written, by an identity with rights in its namespace only:
/// no CRD install is tried (the CRD is there), the probe image comes from the cluster
/// (kube-public/proctor-defaults), the whole catalog passes, and nothing prints a debug form.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn the_readme_pipeline_command_works_for_a_ci_identity_with_namespace_rights() {
    with_namespace("ci-rights", |client, ns| async move {
        install_crd(&client).await;
        let dir = std::env::temp_dir().join(format!("proctor-cli-{ns}"));
        std::fs::create_dir_all(&dir).unwrap();
        let kubeconfig = ci_identity(&ns, &dir);
        // A checkout's examples/, and the command exactly as the README shows it.
        std::fs::create_dir_all(dir.join("examples")).unwrap();
        std::fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/conformance.yaml"),
            dir.join("examples/conformance.yaml"),
        )
        .unwrap();
        let readme = include_str!("../README.md");
        let command =
            "proctor run -f examples/conformance.yaml --wait -o junit --report proctor.xml";
        assert!(readme.contains(command), "the README shows {command:?}");
        let args: Vec<&str> = command.split(' ').skip(1).collect();
        let (code, stdout, stderr) = proctor_as(&kubeconfig, &dir, &args);
        assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
        let junit = std::fs::read_to_string(dir.join("proctor.xml")).unwrap();
        let probes = sample_run("count", |_| {}).spec.probes.len();
        assert_eq!(junit.matches("<testcase ").count(), probes, "{junit}");
        assert!(
            stderr
                .contains("probe image proctor.local/probe:v1 (from kube-public/proctor-defaults)"),
            "{stderr}"
        );
        assert!(!stderr.contains("installing"), "{stderr}");
        assert!(!stderr.contains("Status {"), "{stderr}");
        // Every probe passes but the one that needs the privileged inspector, and the one that
        // reads the node (the identity has no cluster-wide rights).
        let summary = format!(
            "Succeeded: {} passed, 0 failed, 0 errors, 2 skipped of {probes}",
            probes - 2
        );
        assert!(stdout.contains(&summary), "{stdout}");
        no_pod_left_running(&client, &ns).await;
    })
    .await;
}

/// The in-process controller cleaned up (the default policy, Always) before `proctor run`
/// stopped it: no probe pod is left running.
async fn no_pod_left_running(client: &kube::Client, ns: &str) {
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(client.clone(), ns);
    let left: Vec<String> = pods
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(kube::ResourceExt::name_any)
        .collect();
    assert!(left.is_empty(), "{} pods left behind: {left:?}", left.len());
}

/// A controller already serves the namespace (here one that holds no Lease, which the CI
/// identity could not list anyway): `proctor run` sees its claim on the run and starts none of
/// its own, so exactly one controller writes the run's status and Events.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn proctor_run_starts_no_second_controller_where_one_serves_the_run() {
    with_namespace("ci-served", |client, ns| async move {
        install_crd(&client).await;
        let _deployed = ControllerProcess::start(&ns);
        let dir = std::env::temp_dir().join(format!("proctor-cli-{ns}"));
        std::fs::create_dir_all(&dir).unwrap();
        let kubeconfig = ci_identity(&ns, &dir);
        let manifest_path = dir.join("served.yaml");
        std::fs::write(&manifest_path, manifest("served", "runc")).unwrap();
        let (code, stdout, stderr) = proctor_as(
            &kubeconfig,
            &dir,
            &["run", "-f", manifest_path.to_str().unwrap(), "--wait"],
        );
        assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
        assert!(
            stderr.contains("controller: proctor-controller serves this run"),
            "{stderr}"
        );
        let runs: Api<TestRun> = Api::namespaced(client.clone(), &ns);
        let run = runs.get("served").await.unwrap();
        assert_eq!(
            run.annotations()
                .get(proctor::api::ANNOTATION_CONTROLLER)
                .map(String::as_str),
            Some(proctor::api::DEPLOYED_CLAIM)
        );
        let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), &ns);
        let started = events
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.reason.as_deref() == Some("Started"))
            .filter(|e| e.regarding.as_ref().and_then(|r| r.kind.as_deref()) == Some("TestRun"))
            .count();
        assert_eq!(started, 1, "one controller, one Started Event");
    })
    .await;
}

/// A run given up on (`--timeout`) while a probe pod holds Proctor's finalizer: the in-process
/// controller goes, and nothing it held stays held (the namespace can be deleted).
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn a_run_given_up_on_leaves_no_pod_held() {
    with_namespace("ci-timeout", |client, ns| async move {
        install_crd(&client).await;
        let dir = std::env::temp_dir().join(format!("proctor-cli-{ns}"));
        std::fs::create_dir_all(&dir).unwrap();
        let manifest_path = dir.join("held.yaml");
        std::fs::write(&manifest_path, HELD).unwrap();
        let (code, _, stderr) = proctor(&[
            "run",
            "-f",
            manifest_path.to_str().unwrap(),
            "-n",
            &ns,
            "--wait",
            "--timeout",
            "12s",
        ]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("did not finish within 12s"), "{stderr}");
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let list = pods.list(&Default::default()).await.unwrap();
        assert!(!list.items.is_empty(), "the probe's pod was created");
        for pod in &list.items {
            assert!(
                !pod.finalizers()
                    .iter()
                    .any(|f| f == proctor::api::POD_FINALIZER),
                "pod {} still held: {stderr}",
                pod.name_any()
            );
        }
        assert!(stderr.contains("released 1 probe pods"), "{stderr}");
    })
    .await;
}

/// The manifest of a run whose one probe pod holds Proctor's finalizer for two minutes (a
/// delete with a 120 s grace period of a container that ignores SIGTERM).
const HELD: &str = r#"apiVersion: proctor.dev/v1alpha1
kind: TestRun
metadata: {name: held}
spec:
  probes:
  - name: slow-stop
    custom:
      command: [sh, -c, "trap '' TERM; while :; do sleep 1; done"]
      actions: [{delete: {gracePeriodSeconds: 120}}]
      expect: {exitCode: 137}
"#;

/// Ctrl-C (SIGINT) while a probe pod holds Proctor's finalizer: `proctor run --wait` stops,
/// says so, and its in-process controller leaves nothing held, so that deleting the run and its
/// namespace completes.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn ctrl_c_leaves_no_pod_held() {
    with_namespace("ci-interrupt", |client, ns| async move {
        install_crd(&client).await;
        let dir = std::env::temp_dir().join(format!("proctor-cli-{ns}"));
        std::fs::create_dir_all(&dir).unwrap();
        let manifest_path = dir.join("held.yaml");
        std::fs::write(&manifest_path, HELD).unwrap();
        let child = proctor_command(&[
            "run",
            "-f",
            manifest_path.to_str().unwrap(),
            "-n",
            &ns,
            "--wait",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
        // Interrupted once the pod is held and being deleted (its grace period running).
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        loop {
            let list = pods.list(&Default::default()).await.unwrap();
            let held = list.items.iter().any(|p| {
                p.metadata.deletion_timestamp.is_some()
                    && p.finalizers()
                        .iter()
                        .any(|f| f == proctor::api::POD_FINALIZER)
            });
            if held {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no held pod: {list:#?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("interrupted"), "{stderr}");
        for pod in pods.list(&Default::default()).await.unwrap().items {
            assert!(
                !pod.finalizers()
                    .iter()
                    .any(|f| f == proctor::api::POD_FINALIZER),
                "pod {} still held: {stderr}",
                pod.name_any()
            );
        }
        // Nothing holds the run's deletion either.
        let runs: Api<proctor::api::TestRun> = Api::namespaced(client.clone(), &ns);
        runs.delete("held", &Default::default()).await.unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(60), async {
            while runs.get_opt("held").await.unwrap().is_some() {
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            }
        })
        .await
        .expect("the run is deleted");
    })
    .await;
}

/// A changed spec for an existing run: the message says how to start anew.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn a_changed_spec_is_refused_with_the_replace_hint() {
    with_namespace("ci-replace", |_client, ns| async move {
        let dir = std::env::temp_dir().join(format!("proctor-cli-{ns}"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("run.yaml");
        std::fs::write(&path, manifest("same-name", "runc")).unwrap();
        let (code, _, stderr) = proctor(&["run", "-f", path.to_str().unwrap(), "-n", &ns]);
        assert_eq!(code, 0, "{stderr}");
        std::fs::write(&path, manifest("same-name", "faulty-exit")).unwrap();
        let (code, _, stderr) = proctor(&["run", "-f", path.to_str().unwrap(), "-n", &ns]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("run again with --replace"), "{stderr}");
    })
    .await;
}
