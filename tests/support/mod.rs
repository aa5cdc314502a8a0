//! Test support for suites that run against the real test cluster (`tests/cluster/up.sh`).
//!
//! Tests that need the cluster are `#[ignore]`d so that a plain `cargo test` runs only what
//! needs no cluster; `.ci/run` brings the cluster up and runs them with `--ignored`. They find
//! the cluster through `PROCTOR_TEST_KUBECONFIG` (the path `up.sh` prints) and fail loudly
//! without it: a cluster test never passes by not running.
//!
//! Every test works in a namespace of its own, created with the restricted Pod Security
//! Standard enforced and deleted afterwards, whether the test passed or not.

// Each test crate uses a different part of this module. And in test support a failed
// expectation is a failed test, so panicking is the right answer.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::FutureExt;
use k8s_openapi::api::core::v1::{ContainerStateTerminated, Namespace, Pod};
use kube::api::{DeleteParams, LogParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::await_condition;
use kube::{Api, Client, Config};
use serde_json::json;

/// The image `tests/cluster/up.sh` builds and imports; never pulled.
pub const PROBE_IMAGE: &str = "proctor.local/probe:v1";
/// How long any single pod may take to reach the state a test waits for.
pub const POD_TIMEOUT: Duration = Duration::from_secs(120);

pub async fn client() -> Client {
    let path = std::env::var("PROCTOR_TEST_KUBECONFIG").unwrap_or_else(|_| {
        panic!(
            "PROCTOR_TEST_KUBECONFIG is not set: bring the test cluster up with \
             `tests/cluster/up.sh` and export the kubeconfig path it prints"
        )
    });
    let kubeconfig =
        Kubeconfig::read_from(&path).unwrap_or_else(|e| panic!("reading kubeconfig {path}: {e}"));
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("kubeconfig {path}: {e}"));
    Client::try_from(config).expect("client from kubeconfig")
}

/// A namespace name unique to this test process and call.
pub fn unique_name(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{prefix}-{}-{:08x}", std::process::id(), nanos)
}

/// Runs `body` in a fresh namespace (restricted Pod Security Standard enforced), then deletes
/// the namespace, also when `body` panics.
pub async fn with_namespace<F, Fut>(prefix: &str, body: F)
where
    F: FnOnce(Client, String) -> Fut,
    Fut: Future<Output = ()>,
{
    with_namespace_at(prefix, "restricted", body).await
}

/// [`with_namespace`] with another Pod Security Standard level enforced (`privileged` for the
/// runs that opt into the hostPID inspector).
pub async fn with_namespace_at<F, Fut>(prefix: &str, pod_security: &str, body: F)
where
    F: FnOnce(Client, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let client = client().await;
    let name = unique_name(prefix);
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "labels": {
                "pod-security.kubernetes.io/enforce": pod_security,
                "app.kubernetes.io/part-of": "proctor-tests",
            },
        },
    }))
    .expect("namespace object");
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap_or_else(|e| panic!("creating namespace {name}: {e}"));
    // Boxed: test bodies holding many pod objects make large futures, too large for the stack.
    let outcome = AssertUnwindSafe(Box::pin(body(client.clone(), name.clone())))
        .catch_unwind()
        .await;
    // The test's controller is gone by now: release what its pods still hold (a controller
    // killed right after writing a verdict may not have), or the namespace never goes.
    let pods: Api<Pod> = Api::namespaced(client.clone(), &name);
    if let Ok(list) = pods.list(&Default::default()).await {
        for pod in list
            .items
            .iter()
            .filter(|p| p.metadata.finalizers.is_some())
        {
            let patch = json!({"metadata": {"finalizers": null}});
            let pod_name = pod.metadata.name.clone().unwrap_or_default();
            if let Err(e) = pods
                .patch(&pod_name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                eprintln!("warning: releasing pod {name}/{pod_name}: {e}");
            }
        }
    }
    if let Err(e) = namespaces.delete(&name, &DeleteParams::background()).await {
        eprintln!("warning: deleting namespace {name}: {e}");
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// A pod that complies with the restricted Pod Security Standard, runs `script` with the probe
/// image's `sh` under `runtime_class`, and never restarts.
pub fn script_pod(name: &str, runtime_class: &str, script: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "runtimeClassName": runtime_class,
            "terminationGracePeriodSeconds": 5,
            "securityContext": {
                "runAsNonRoot": true,
                "runAsUser": 1000,
                "runAsGroup": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [{
                "name": "probe",
                "image": PROBE_IMAGE,
                "imagePullPolicy": "Never",
                "command": ["sh", "-c", script],
                "securityContext": {
                    "allowPrivilegeEscalation": false,
                    "capabilities": {"drop": ["ALL"]},
                },
            }],
        },
    })
}

pub async fn create_pod(client: &Client, namespace: &str, pod: serde_json::Value) -> String {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let pod: Pod = serde_json::from_value(pod).expect("pod object");
    let created = pods
        .create(&PostParams::default(), &pod)
        .await
        .unwrap_or_else(|e| panic!("creating pod in {namespace}: {e}"));
    created.metadata.name.expect("created pod has a name")
}

/// Waits until `condition` holds for the pod, or panics after [`POD_TIMEOUT`] with the pod's
/// last known status.
pub async fn wait_for_pod(
    client: &Client,
    namespace: &str,
    name: &str,
    what: &str,
    condition: impl Fn(Option<&Pod>) -> bool,
) -> Pod {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    // A watch the API server ends is started again (see `run_to_end`).
    let watched = async {
        loop {
            match await_condition(pods.clone(), name, |p: Option<&Pod>| condition(p)).await {
                Err(e) => {
                    eprintln!("watching pod {namespace}/{name}: {e}; watching again");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                ended => return ended,
            }
        }
    };
    let waited = tokio::time::timeout(POD_TIMEOUT, watched);
    match waited.await {
        Ok(Ok(Some(pod))) => pod,
        Ok(Ok(None)) => panic!("pod {namespace}/{name} disappeared while waiting for {what}"),
        Ok(Err(e)) => panic!("watching pod {namespace}/{name} for {what}: {e}"),
        Err(_) => {
            let status = pods.get(name).await.map(|p| p.status);
            panic!("pod {namespace}/{name} not {what} after {POD_TIMEOUT:?}; status: {status:?}")
        }
    }
}

pub fn phase(pod: Option<&Pod>) -> Option<&str> {
    pod?.status.as_ref()?.phase.as_deref()
}

pub fn is_finished(pod: Option<&Pod>) -> bool {
    matches!(phase(pod), Some("Succeeded" | "Failed"))
}

pub fn terminated(pod: &Pod) -> Option<&ContainerStateTerminated> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .first()?
        .state
        .as_ref()?
        .terminated
        .as_ref()
}

/// What a finished single-container pod showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub phase: String,
    pub exit_code: i32,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub logs: String,
}

/// Runs a script pod to completion and returns what it showed.
pub async fn run_to_completion(
    client: &Client,
    namespace: &str,
    name: &str,
    runtime_class: &str,
    script: &str,
) -> Finished {
    run_pod_to_completion(client, namespace, script_pod(name, runtime_class, script)).await
}

pub async fn run_pod_to_completion(
    client: &Client,
    namespace: &str,
    pod: serde_json::Value,
) -> Finished {
    let name = create_pod(client, namespace, pod).await;
    let pod = wait_for_pod(client, namespace, &name, "finished", is_finished).await;
    finished(client, namespace, &pod).await
}

pub async fn finished(client: &Client, namespace: &str, pod: &Pod) -> Finished {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let state = terminated(pod)
        .unwrap_or_else(|| panic!("pod {namespace}/{name} finished without a terminated state"));
    Finished {
        phase: phase(Some(pod)).unwrap_or_default().to_owned(),
        exit_code: state.exit_code,
        reason: state.reason.clone(),
        message: state.message.clone(),
        logs: logs(client, namespace, name).await,
    }
}

pub async fn logs(client: &Client, namespace: &str, name: &str) -> String {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    pods.logs(name, &LogParams::default())
        .await
        .unwrap_or_else(|e| panic!("logs of pod {namespace}/{name}: {e}"))
}

pub async fn delete_pod(client: &Client, namespace: &str, name: &str, grace_seconds: u32) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let params = DeleteParams {
        grace_period_seconds: Some(grace_seconds),
        ..DeleteParams::default()
    };
    pods.delete(name, &params)
        .await
        .unwrap_or_else(|e| panic!("deleting pod {namespace}/{name}: {e}"));
}

pub async fn remove_finalizers(client: &Client, namespace: &str, name: &str) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let patch = json!({"metadata": {"finalizers": null}});
    pods.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap_or_else(|e| panic!("removing finalizers of pod {namespace}/{name}: {e}"));
}

/// Installs (server-side apply) the checked-in CRD and waits until the API server serves it.
pub async fn install_crd(client: &Client) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::runtime::wait::conditions::is_crd_established;

    let crd: CustomResourceDefinition =
        serde_yaml::from_str(include_str!("../../crds/testrun.yaml"))
            .expect("crds/testrun.yaml parses");
    let name = crd.metadata.name.clone().expect("CRD has a name");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        &name,
        &PatchParams::apply("proctor-tests").force(),
        &Patch::Apply(&crd),
    )
    .await
    .unwrap_or_else(|e| panic!("installing CRD {name}: {e}"));
    tokio::time::timeout(
        POD_TIMEOUT,
        await_condition(crds, &name, is_crd_established()),
    )
    .await
    .unwrap_or_else(|_| panic!("CRD {name} not established after {POD_TIMEOUT:?}"))
    .unwrap_or_else(|e| panic!("watching CRD {name}: {e}"));
}

/// A `proctor controller` process watching one namespace; killed when dropped.
pub struct ControllerProcess {
    child: std::process::Child,
    pub log: std::path::PathBuf,
}

impl ControllerProcess {
    /// Starts the controller binary of this build for `namespace`, with the test cluster's
    /// probe image as default image, granting privileged checks in `namespace` as a cluster's
    /// operator may (whether they run is then up to the namespace's Pod Security level).
    pub fn start(namespace: &str) -> ControllerProcess {
        ControllerProcess::start_with(namespace, &["--privileged-namespaces", namespace])
    }

    /// With these command-line flags only (e.g. `--max-running-pods 2`): no privilege granted
    /// unless they say so.
    pub fn start_with(namespace: &str, flags: &[&str]) -> ControllerProcess {
        let kubeconfig = std::env::var("PROCTOR_TEST_KUBECONFIG").expect("PROCTOR_TEST_KUBECONFIG");
        let log = std::env::temp_dir().join(format!("proctor-controller-{namespace}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("controller log file");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_proctor"))
            .args([
                "controller",
                "--namespace",
                namespace,
                "--default-image",
                PROBE_IMAGE,
            ])
            .args(flags)
            .env("KUBECONFIG", kubeconfig)
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .expect("starting proctor controller");
        ControllerProcess { child, log }
    }

    /// SIGKILL: no chance to finish anything in flight.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TestRun named `name` with `spec` (as JSON), to create.
pub fn testrun(name: &str, spec: serde_json::Value) -> proctor::api::TestRun {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "proctor.dev/v1alpha1",
        "kind": "TestRun",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .expect("a TestRun")
}

/// Creates `run` in `namespace` and waits until it is finished, or panics after `timeout`.
pub async fn run_to_end(
    client: &Client,
    namespace: &str,
    run: proctor::api::TestRun,
    timeout: Duration,
) -> proctor::api::TestRun {
    use proctor::api::TestRun;
    let runs: Api<TestRun> = Api::namespaced(client.clone(), namespace);
    let name = run.metadata.name.clone().expect("run name");
    runs.create(&PostParams::default(), &run)
        .await
        .unwrap_or_else(|e| panic!("creating TestRun {namespace}/{name}: {e}"));
    wait_for_end(client, namespace, &name, timeout).await
}

/// Waits for the TestRun `namespace/name` to end (a terminal phase); panics after `timeout`.
pub async fn wait_for_end(
    client: &Client,
    namespace: &str,
    name: &str,
    timeout: Duration,
) -> proctor::api::TestRun {
    use proctor::api::TestRun;
    let runs: Api<TestRun> = Api::namespaced(client.clone(), namespace);
    let name = name.to_owned();
    let done = |r: Option<&TestRun>| {
        r.and_then(|r| r.status.as_ref())
            .is_some_and(|s| s.is_finished())
    };
    // A watch the API server ends (e.g. 410 Gone while its watch cache is young, after a
    // restart) is started again: only the run's end, or the timeout, ends the wait.
    let waited = tokio::time::timeout(timeout, async {
        loop {
            match await_condition(runs.clone(), &name, done).await {
                Err(e) => {
                    eprintln!("watching TestRun {namespace}/{name}: {e}; watching again");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                ended => return ended,
            }
        }
    });
    match waited.await {
        Ok(Ok(Some(run))) => run,
        Ok(Ok(None)) => panic!("TestRun {namespace}/{name} disappeared"),
        Ok(Err(e)) => panic!("watching TestRun {namespace}/{name}: {e}"),
        Err(_) => {
            let status = runs.get(&name).await.map(|r| r.status);
            panic!("TestRun {namespace}/{name} not finished after {timeout:?}: {status:#?}")
        }
    }
}

/// The common shape of an e2e test: a fresh namespace (`prefix`, Pod Security level
/// `pod_security`) with the CRD and a controller of its own, in which the conformance sample,
/// edited by `edit`, runs to its end.
pub async fn run_sample(
    prefix: &str,
    pod_security: &str,
    edit: impl FnOnce(&mut proctor::api::TestRunSpec) + Send + 'static,
    timeout: Duration,
) -> proctor::api::TestRun {
    run_example(prefix, pod_security, SAMPLE, edit, timeout).await
}

/// The conformance sample (examples/conformance.yaml).
pub const SAMPLE: &str = include_str!("../../examples/conformance.yaml");
/// The container-probe kinds' example (examples/container-probes.yaml).
pub const CONTAINER_PROBES: &str = include_str!("../../examples/container-probes.yaml");
/// The privileged kind's example (examples/privileged.yaml).
pub const PRIVILEGED: &str = include_str!("../../examples/privileged.yaml");

/// Like [`run_sample`], for the example `yaml`.
pub async fn run_example(
    prefix: &str,
    pod_security: &str,
    yaml: &'static str,
    edit: impl FnOnce(&mut proctor::api::TestRunSpec) + Send + 'static,
    timeout: Duration,
) -> proctor::api::TestRun {
    let result = std::sync::Arc::new(std::sync::Mutex::new(None));
    let slot = result.clone();
    with_namespace_at(prefix, pod_security, |client, ns| async move {
        install_crd(&client).await;
        let _controller = ControllerProcess::start(&ns);
        let run = run_to_end(&client, &ns, example_run(yaml, "sample", edit), timeout).await;
        *slot.lock().expect("result slot") = Some(run);
    })
    .await;
    let run = result.lock().expect("result slot").take();
    run.expect("the run finished")
}

/// The conformance sample, named `name`, with `edit` applied to its spec.
pub fn sample_run(
    name: &str,
    edit: impl FnOnce(&mut proctor::api::TestRunSpec),
) -> proctor::api::TestRun {
    example_run(SAMPLE, name, edit)
}

/// The example `yaml`, named `name`, with `edit` applied to its spec.
pub fn example_run(
    yaml: &str,
    name: &str,
    edit: impl FnOnce(&mut proctor::api::TestRunSpec),
) -> proctor::api::TestRun {
    let mut run: proctor::api::TestRun = serde_yaml::from_str(yaml).expect("example parses");
    run.metadata.name = Some(name.to_owned());
    edit(&mut run.spec);
    run
}

/// `name → (verdict, reason, message)` of a finished run.
pub fn verdicts(
    run: &proctor::api::TestRun,
) -> std::collections::BTreeMap<String, (String, String, String)> {
    run.status
        .iter()
        .flat_map(|s| s.probes.iter())
        .map(|p| {
            (
                p.name.clone(),
                (
                    p.verdict.map(|v| format!("{v:?}")).unwrap_or_default(),
                    p.reason.clone().unwrap_or_default(),
                    p.message.clone().unwrap_or_default(),
                ),
            )
        })
        .collect()
}

/// Asserts that exactly `failed` failed, `skipped` were skipped, and every other probe passed.
pub fn assert_verdicts(run: &proctor::api::TestRun, failed: &[&str], skipped: &[&str]) {
    let table = verdicts(run);
    let shown = table
        .iter()
        .map(|(name, (v, r, m))| format!("  {name}: {v} {r}: {m}"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        table.len(),
        run.spec.probes.len(),
        "a verdict per probe:\n{shown}"
    );
    for (name, (verdict, _, _)) in &table {
        let wanted = if failed.contains(&name.as_str()) {
            "Failed"
        } else if skipped.contains(&name.as_str()) {
            "Skipped"
        } else {
            "Passed"
        };
        assert_eq!(
            verdict,
            wanted,
            "probe {name} of {}:\n{shown}",
            kube::ResourceExt::name_any(run)
        );
    }
    for p in &run.status.as_ref().unwrap().probes {
        if p.verdict == Some(proctor::api::Verdict::Failed) {
            assert!(
                p.checks.iter().any(|c| !c.passed && !c.expected.is_empty()),
                "failed probe {} shows the check that failed: {:?}",
                p.name,
                p.checks
            );
        }
    }
}

/// Every probe that was not skipped ran exactly once (no attempt repeated, e.g. across a
/// controller restart).
pub fn assert_each_ran_once(run: &proctor::api::TestRun) {
    for p in run.status.iter().flat_map(|s| s.probes.iter()) {
        if p.verdict != Some(proctor::api::Verdict::Skipped) {
            assert_eq!(p.attempts, 1, "ran once: {p:?}");
        }
    }
}

/// The probes of the conformance sample that fail under `faulty-exit` (every process exits 0):
/// the exit code itself, the command that cannot start (its shell exits 0), the log fallback
/// (only taken on failure), the restarts (only after failures), the custom probe's exit 3 and
/// the OOM kill's 137.
pub const FAULTY_EXIT_FAILS: &[&str] = &[
    "exit-code",
    "command-not-found",
    "termination-message-fallback",
    "restart-count",
    "previous-log",
    "command-and-args",
    "streaming",
    "custom-exit-3",
    "oom-kill",
    "init-containers",
];

fn kubectl_path() -> String {
    std::env::var("PROCTOR_TEST_KUBECTL")
        .unwrap_or_else(|_| "/var/lib/proctor-test-cluster/bin/kubectl".into())
}

/// Runs kubectl as the cluster's admin with `stdin`; panics when it fails.
pub fn kubectl_admin(args: &[&str], stdin: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new(kubectl_path())
        .args(args)
        .env(
            "KUBECONFIG",
            std::env::var("PROCTOR_TEST_KUBECONFIG").expect("PROCTOR_TEST_KUBECONFIG"),
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("kubectl's stdin");
    let out = child.wait_with_output().expect("kubectl's output");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A ServiceAccount `name` in `ns` bound to a Role of `rules` (YAML list items), and the path of
/// a kubeconfig in `dir` that authenticates as it (a token from the TokenRequest API).
pub fn service_account_kubeconfig(
    ns: &str,
    name: &str,
    rules: &str,
    dir: &std::path::Path,
) -> std::path::PathBuf {
    let rbac = format!(
        r#"apiVersion: v1
kind: ServiceAccount
metadata: {{name: {name}, namespace: {ns}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: {name}, namespace: {ns}}}
rules:{rules}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: {name}, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: {name}}}
subjects: [{{kind: ServiceAccount, name: {name}, namespace: {ns}}}]
"#
    );
    kubectl_admin(&["apply", "-f", "-"], &rbac);
    let token = kubectl_admin(&["create", "token", name, "-n", ns, "--duration", "1h"], "");
    let admin: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(std::env::var("PROCTOR_TEST_KUBECONFIG").expect("kubeconfig"))
            .expect("admin kubeconfig"),
    )
    .expect("admin kubeconfig parses");
    let cluster = admin["clusters"][0]["cluster"].clone();
    let config = serde_yaml::to_string(&json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": cluster}],
        "users": [{"name": name, "user": {"token": token.trim()}}],
        "contexts": [{"name": name, "context": {"cluster": "test", "user": name, "namespace": ns}}],
        "current-context": name,
    }))
    .expect("kubeconfig");
    let path = dir.join(format!("{name}.kubeconfig"));
    std::fs::write(&path, config).expect("writing the kubeconfig");
    path
}

/// `proctor` with the test cluster's kubeconfig and probe image.
pub fn proctor_command(args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_proctor"));
    command
        .args(args)
        .env(
            "KUBECONFIG",
            std::env::var("PROCTOR_TEST_KUBECONFIG").expect("PROCTOR_TEST_KUBECONFIG"),
        )
        .env("PROCTOR_DEFAULT_IMAGE", PROBE_IMAGE);
    command
}
