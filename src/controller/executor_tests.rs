//! The executor against a mocked API server: kube's `Client` over a `tower-test` mock service
//! that answers from a table and records every call. Fast and exact about which calls a
//! reconcile makes; the real-cluster tests (`tests/`) stay the proof that the calls do what
//! they should.

use std::sync::{Arc, Mutex};

use http::{Request, Response};
use k8s_openapi::api::core::v1::Pod;
use kube::client::Body;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use super::{Config, Context, ready, reconcile};
use crate::api::{ProbePhase, RunPhase, TestRun, TestRunStatus, Verdict};
use crate::probes::{self, RunContext};

const NS: &str = "tests";
const UID: &str = "6c1f8d2e-0000-4000-8000-00000000a001";

/// One call the controller made.
#[derive(Clone, Debug)]
struct Call {
    method: String,
    path: String,
    body: Value,
}

impl Call {
    fn is(&self, method: &str, path_end: &str) -> bool {
        self.method == method && self.path.ends_with(path_end)
    }
}

/// What the mocked API server answers: a status code and a JSON body.
type Answer = (u16, Value);

fn run(probes: Value, status: Option<TestRunStatus>) -> TestRun {
    let mut run: TestRun = serde_json::from_value(json!({
        "apiVersion": "proctor.dev/v1alpha1",
        "kind": "TestRun",
        "metadata": {
            "name": "mocked",
            "namespace": NS,
            "uid": UID,
            "generation": 1,
            "resourceVersion": "7",
            "annotations": {"proctor.dev/controller": "proctor-controller"},
        },
        "spec": {"probes": probes},
    }))
    .expect("a valid run");
    run.status = status;
    run
}

/// The pods the controller creates for the run's first attempt of each probe, with `status`.
fn pods_of(run: &TestRun, status: Value) -> Vec<Pod> {
    let rc = RunContext::of(run, "proctor.local/probe:v1").expect("a run from the API");
    run.spec
        .probes
        .iter()
        .flat_map(|p| {
            let resolved = probes::resolve(p, &rc, None).expect("a valid probe");
            probes::pods(&resolved, &rc, 0)
        })
        .map(|mut pod| {
            pod.status = serde_json::from_value(status.clone()).ok();
            pod
        })
        .collect()
}

fn terminated(exit_code: i32) -> Value {
    json!({
        "phase": if exit_code == 0 { "Succeeded" } else { "Failed" },
        "containerStatuses": [{
            "name": "probe", "image": "proctor.local/probe:v1", "imageID": "", "ready": false,
            "restartCount": 0,
            "state": {"terminated": {
                "exitCode": exit_code, "reason": if exit_code == 0 { "Completed" } else { "Error" },
                "startedAt": "2026-12-01T10:00:00Z", "finishedAt": "2026-12-01T10:00:01Z",
            }},
        }],
    })
}

/// Runs one reconcile of `run` with `pods` in the cache against a mocked API server that
/// answers each call with `answer` (`None`: 200 with the request's own body); returns what the
/// reconcile returned and every call it made.
async fn reconcile_once(
    run: &TestRun,
    pods: Vec<Pod>,
    answer: impl Fn(&Call) -> Option<Answer> + Send + 'static,
) -> (
    Result<kube::runtime::controller::Action, super::Error>,
    Vec<Call>,
) {
    reconcile_with(run, pods, Arc::default(), answer).await
}

/// [`reconcile_once`] with this process's background exec actions as `actions` holds them.
async fn reconcile_with(
    run: &TestRun,
    pods: Vec<Pod>,
    actions: Arc<super::actions::Actions>,
    answer: impl Fn(&Call) -> Option<Answer> + Send + 'static,
) -> (
    Result<kube::runtime::controller::Action, super::Error>,
    Vec<Call>,
) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let recorded = calls.clone();
    let original = serde_json::to_value(run).expect("a run serializes");
    let server = tokio::spawn(async move {
        while let Some((request, respond)) = handle.next_request().await {
            let method = request.method().to_string();
            let path = request.uri().path().to_owned();
            let bytes = request
                .into_body()
                .collect_bytes()
                .await
                .unwrap_or_default();
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let call = Call { method, path, body };
            let (code, reply) = answer(&call).unwrap_or_else(|| default_answer(&call, &original));
            if let Ok(mut calls) = recorded.lock() {
                calls.push(call);
            }
            // A string is sent as it is, as the kubelet's log answers are (plain text).
            let (content_type, bytes) = match reply {
                Value::String(text) => ("text/plain", text.into_bytes()),
                json => ("application/json", json.to_string().into_bytes()),
            };
            let response = Response::builder()
                .status(code)
                .header("content-type", content_type)
                .body(Body::from(bytes))
                .expect("a response");
            respond.send_response(response);
        }
    });

    // Counted as the operator's own client counts its writes.
    let metrics = Arc::new(crate::metrics::Metrics::new());
    let service = tower::ServiceBuilder::new()
        .layer(metrics.counting_writes())
        .service(service);
    let client = Client::new(service, NS);
    let (pod_store, mut pod_writer): (_, Writer<Pod>) = reflector::store();
    pod_writer.apply_watcher_event(&watcher::Event::Init);
    for pod in pods {
        pod_writer.apply_watcher_event(&watcher::Event::InitApply(pod));
    }
    pod_writer.apply_watcher_event(&watcher::Event::InitDone);
    let (run_store, mut run_writer): (_, Writer<TestRun>) = reflector::store();
    run_writer.apply_watcher_event(&watcher::Event::Init);
    run_writer.apply_watcher_event(&watcher::Event::InitApply(run.clone()));
    run_writer.apply_watcher_event(&watcher::Event::InitDone);
    let ctx = Arc::new(Context {
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "proctor-controller".into(),
                instance: None,
            },
        ),
        client,
        config: Config {
            default_image: "proctor.local/probe:v1".into(),
            metrics: metrics.clone(),
            ..Config::default()
        },
        pods_ready: ready::Ready::of(pod_store.clone()),
        pods: pod_store,
        runs: run_store,
        written: Mutex::default(),
        actions,
    });
    let result = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        reconcile::reconcile(Arc::new(run.clone()), ctx),
    )
    .await
    .expect("the reconcile ends");
    // The context (and with it every client) is gone: the mock server ends.
    server.await.expect("the mock server ends");
    drop((pod_writer, run_writer));
    let calls = calls.lock().map(|c| c.clone()).unwrap_or_default();
    LAST_METRICS.with(|m| *m.borrow_mut() = metrics.render());
    (result, calls)
}

thread_local! {
    /// The metrics of the last [`reconcile_once`] on this thread, as `/metrics` renders them.
    static LAST_METRICS: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// A created object as the API server returns it, a written status on the run, anything else
/// echoed.
fn default_answer(call: &Call, run: &Value) -> Answer {
    if call.method == "PATCH" && call.path.ends_with("/status") {
        let mut written = run.clone();
        written["status"] = call.body["status"].clone();
        return (200, written);
    }
    let code = if call.method == "POST" { 201 } else { 200 };
    (code, call.body.clone())
}

fn written_status(calls: &[Call]) -> TestRunStatus {
    let patches: Vec<&Call> = calls
        .iter()
        .filter(|c| c.is("PATCH", "/testruns/mocked/status"))
        .collect();
    assert_eq!(patches.len(), 1, "one status write: {calls:#?}");
    serde_json::from_value(patches[0].body["status"].clone()).expect("a status")
}

fn event_reasons(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| c.method == "POST" && c.path.ends_with("/events"))
        .map(|c| c.body["reason"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn status_of(code: u16, reason: &str, message: &str) -> Answer {
    (
        code,
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code,
        }),
    )
}

#[tokio::test]
async fn a_new_run_creates_its_pods_and_writes_its_status() {
    let run = run(json!([{"name": "exit", "exitCode": {"code": 3}}]), None);
    let (result, calls) = reconcile_once(&run, Vec::new(), |_| None).await;
    result.expect("the reconcile succeeds");
    let created: Vec<&Call> = calls.iter().filter(|c| c.is("POST", "/pods")).collect();
    assert_eq!(created.len(), 1, "{calls:#?}");
    let pod_name = created[0].body["metadata"]["name"]
        .as_str()
        .unwrap_or_default();
    assert!(pod_name.starts_with("mocked-"), "{pod_name}");
    assert_eq!(created[0].path, format!("/api/v1/namespaces/{NS}/pods"));
    let status = written_status(&calls);
    assert_eq!(status.phase, Some(RunPhase::Running));
    assert_eq!(status.probes.len(), 1);
    assert_eq!(status.probes[0].phase, ProbePhase::Running);
    assert_eq!(status.probes[0].attempts, 1);
    assert_eq!(status.probes[0].pods, vec![pod_name.to_owned()]);
    assert_eq!(event_reasons(&calls), vec!["Started"]);
    // Each write counted once, by verb and resource, where the client sent it.
    let metrics = LAST_METRICS.with(|m| m.borrow().clone());
    for line in [
        r#"proctor_api_writes_total{resource="pods",verb="create"} 1"#,
        r#"proctor_api_writes_total{resource="testruns/status",verb="patch"} 1"#,
        r#"proctor_api_writes_total{resource="events",verb="create"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} not in:\n{metrics}");
    }
}

#[tokio::test]
async fn a_finished_run_makes_no_call() {
    let probes = json!([{"name": "exit", "exitCode": {"code": 3}}]);
    let pods = pods_of(&run(probes.clone(), None), terminated(3));
    // Reconciled with what each reconcile wrote (its pod created, then found ended with 3),
    // the run reaches its verdict ...
    let mut status = None;
    for _ in 0..3 {
        let current = run(probes.clone(), status.clone());
        let (result, calls) = reconcile_once(&current, pods.clone(), |_| None).await;
        result.expect("the reconcile succeeds");
        status = Some(written_status(&calls));
        if status.as_ref().and_then(|s| s.phase) == Some(RunPhase::Succeeded) {
            // Cleaned up once the verdict is written (the default policy: Always).
            assert!(calls.iter().any(|c| c.method == "DELETE"), "{calls:#?}");
            break;
        }
    }
    let status = status.unwrap_or_default();
    assert_eq!(status.phase, Some(RunPhase::Succeeded), "{status:#?}");
    assert_eq!(status.probes[0].verdict, Some(Verdict::Passed));
    // ... and the run with that verdict recorded, its pod gone, needs nothing more: no write,
    // no Event, no delete.
    let (result, calls) = reconcile_once(&run(probes, Some(status)), Vec::new(), |_| None).await;
    result.expect("the reconcile succeeds");
    assert!(calls.is_empty(), "{calls:#?}");
    let metrics = LAST_METRICS.with(|m| m.borrow().clone());
    assert!(!metrics.contains("proctor_api_writes_total{"), "{metrics}");
}

#[tokio::test]
async fn a_refused_create_becomes_an_error_verdict_and_the_other_probes_go_on() {
    let run = run(
        json!([
            {"name": "typo", "exitCode": {"code": 0}, "runtimeClassName": "does-not-exist"},
            {"name": "fine", "exitCode": {"code": 0}},
        ]),
        None,
    );
    let refused =
        "pods \"x\" is forbidden: pod rejected: RuntimeClass \"does-not-exist\" not found";
    let (result, calls) = reconcile_once(&run, Vec::new(), move |call| {
        let typo = call.body["spec"]["runtimeClassName"] == "does-not-exist";
        (call.is("POST", "/pods") && typo).then(|| status_of(403, "Forbidden", refused))
    })
    .await;
    result.expect("a refusal is not an error of the reconcile");
    assert_eq!(calls.iter().filter(|c| c.is("POST", "/pods")).count(), 2);
    let status = written_status(&calls);
    let typo = &status.probes[0];
    assert_eq!(typo.verdict, Some(Verdict::Error), "{typo:#?}");
    assert_eq!(typo.reason.as_deref(), Some("PodRejected"));
    assert!(
        typo.message
            .as_deref()
            .unwrap_or_default()
            .contains(refused),
        "{typo:#?}"
    );
    assert_eq!(status.probes[1].phase, ProbePhase::Running);
    assert_eq!(event_reasons(&calls), vec!["Started", "ProbeError"]);
    // Only the write the API server accepted counts.
    let metrics = LAST_METRICS.with(|m| m.borrow().clone());
    assert!(
        metrics.contains(r#"proctor_api_writes_total{resource="pods",verb="create"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_transient_error_writes_no_verdict_and_is_retried() {
    let run = run(json!([{"name": "exit", "exitCode": {"code": 0}}]), None);
    let (result, calls) = reconcile_once(&run, Vec::new(), |call| {
        call.is("POST", "/pods")
            .then(|| status_of(500, "InternalError", "etcdserver: request timed out"))
    })
    .await;
    let error = result.expect_err("the reconcile fails, to be retried");
    assert!(error.to_string().contains("etcdserver"), "{error}");
    assert!(
        !calls.iter().any(|c| c.path.ends_with("/status")),
        "{calls:#?}"
    );
}

/// The run with its `env` probe running, and that probe's pod, finished with exit code 0.
fn env_probe_finished() -> (TestRun, Vec<Pod>) {
    let run = run(json!([{"name": "env", "env": {}}]), None);
    let mut pods = pods_of(&run, terminated(0));
    let mut status = TestRunStatus::default();
    let now =
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now());
    status.start_time = Some(now.clone());
    status.probes = vec![crate::api::ProbeStatus {
        name: "env".into(),
        kind: "env".into(),
        phase: ProbePhase::Running,
        attempts: 1,
        pods: pods.iter().map(|p| p.name_any()).collect(),
        started_at: Some(now.clone()),
        attempt_started_at: Some(now),
        ..Default::default()
    }];
    let run = {
        let mut r = run;
        r.status = Some(status);
        r
    };
    pods.truncate(1);
    (run, pods)
}

/// The probe's verdict when every log request is answered with `answer`: one log read, then
/// the status written.
async fn judged_on_log(answer: Answer) -> crate::api::ProbeStatus {
    let (run, pods) = env_probe_finished();
    let (result, calls) = reconcile_once(&run, pods, move |call| {
        (call.method == "GET" && call.path.ends_with("/log")).then(|| answer.clone())
    })
    .await;
    result.expect("the reconcile succeeds");
    assert_eq!(
        calls.iter().filter(|c| c.path.ends_with("/log")).count(),
        1,
        "{calls:#?}"
    );
    written_status(&calls).probes.remove(0)
}

#[tokio::test]
async fn a_log_the_kubelet_does_not_have_becomes_log_unavailable() {
    let gone = "container \"probe\" in pod \"x\" is not available";
    let env = judged_on_log(status_of(404, "NotFound", gone)).await;
    assert_eq!(env.verdict, Some(Verdict::Error), "{env:#?}");
    assert_eq!(env.reason.as_deref(), Some("LogUnavailable"));
    assert!(
        env.message.as_deref().unwrap_or_default().contains(gone),
        "{env:#?}"
    );
}

/// A kubelet that removed the container answers 200 with its notice for body: `LogUnavailable`
/// with that notice, not a `Failed` verdict on a log the container never wrote.
#[tokio::test]
async fn the_kubelets_notice_in_place_of_a_log_becomes_log_unavailable() {
    let notice = "unable to retrieve container logs for containerd://1d66c66557bff1c7";
    let env = judged_on_log((200, Value::String(notice.into()))).await;
    assert_eq!(env.verdict, Some(Verdict::Error), "{env:#?}");
    assert_eq!(env.reason.as_deref(), Some("LogUnavailable"), "{env:#?}");
    assert!(
        env.message.as_deref().unwrap_or_default().contains(notice),
        "{env:#?}"
    );
}

/// An exec action that ended its own container (here `kill 1`): its outcome, taken once the
/// exec ended in the background, is recorded even though the pod finished meanwhile, and the
/// probe is judged on its expectations (not "pod ended before action 1").
#[tokio::test]
async fn an_exec_that_ends_its_container_is_recorded_and_the_probe_judged() {
    let probes = json!([{"name": "kill", "custom": {
        "command": ["sleep", "300"],
        "actions": [{"exec": {"command": ["kill", "1"]}}],
        "expect": {"exitCode": 137},
    }}]);
    let fresh = run(probes.clone(), None);
    let pods = pods_of(&fresh, terminated(137));
    let now =
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now());
    let status = TestRunStatus {
        start_time: Some(now.clone()),
        probes: vec![crate::api::ProbeStatus {
            name: "kill".into(),
            kind: "custom".into(),
            phase: ProbePhase::Running,
            attempts: 1,
            actions_started: 1,
            pods: pods.iter().map(|p| p.name_any()).collect(),
            started_at: Some(now.clone()),
            attempt_started_at: Some(now),
            ..Default::default()
        }],
        ..Default::default()
    };
    let actions = Arc::new(super::actions::Actions::default());
    let key = format!("{UID}/kill/1/0");
    actions.claim(&key);
    actions.start(&key, async {
        Ok(crate::verdict::ExecObservation {
            exit_code: Some(137),
            error: None,
        })
    });
    while matches!(actions.poll(&key), Some(super::actions::Poll::Running)) {
        tokio::task::yield_now().await;
    }
    let (result, calls) =
        reconcile_with(&run(probes, Some(status)), pods, actions.clone(), |_| None).await;
    result.expect("the reconcile succeeds");
    let status = written_status(&calls);
    let probe = &status.probes[0];
    assert_eq!(probe.verdict, Some(Verdict::Passed), "{probe:#?}");
    assert_eq!(probe.actions_done, 1);
    assert_eq!(probe.checks[0].name, "action1ExitCode");
    assert_eq!(probe.checks[0].observed, "137");
    // Recorded in the written status: the outcome is forgotten.
    assert!(actions.poll(&key).is_none());
}

/// A pod of the same name in another namespace, even labelled and owned as the run's, is not
/// the probe's pod: the probe waits for its own (no verdict from the other).
#[tokio::test]
async fn a_pod_of_another_namespace_is_not_taken_for_the_probes() {
    let probes = json!([{"name": "exit", "exitCode": {"code": 3}}]);
    let fresh = run(probes.clone(), None);
    let mut pods = pods_of(&fresh, terminated(0));
    for pod in &mut pods {
        pod.metadata.namespace = Some("elsewhere".into());
    }
    let now =
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now());
    let status = TestRunStatus {
        start_time: Some(now.clone()),
        probes: vec![crate::api::ProbeStatus {
            name: "exit".into(),
            kind: "exitCode".into(),
            phase: ProbePhase::Running,
            attempts: 1,
            pods: pods.iter().map(|p| p.name_any()).collect(),
            started_at: Some(now.clone()),
            attempt_started_at: Some(now),
            ..Default::default()
        }],
        ..Default::default()
    };
    let (result, calls) = reconcile_once(&run(probes, Some(status)), pods, |_| None).await;
    result.expect("the reconcile succeeds");
    // Not judged (its own pod is not in the cache yet): still running, no verdict.
    let status = written_status(&calls);
    let probe = &status.probes[0];
    assert_eq!(
        (probe.phase, probe.verdict),
        (ProbePhase::Running, None),
        "{probe:#?}"
    );
    assert!(probe.checks.is_empty(), "{probe:#?}");
}
