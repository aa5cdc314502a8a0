//! The controller after the API server goes away and comes back, on the real test cluster:
//! kube-apiserver is stopped 8 s into a catalog run and started again 10 s later. Work resumes
//! as soon as the API answers (no call waits out its time limit), and the verdicts are those of
//! a clean run, each probe run once. The time from the API's return to the run's next status
//! write is printed (a figure, not a bound: the machines are shared).
//!
//! `proctor run --wait` follows its run through such a restart too, and its in-process
//! controller leaves no pod held.
//!
//! Run by `.ci/run`; by hand: `PROCTOR_TEST_KUBECONFIG=$(tests/cluster/up.sh) cargo test --test
//! recovery -- --ignored`.

// A test that cannot get what it needs fails: panicking is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use kube::Api;
use proctor::api::TestRun;
use support::*;

const CLUSTER_DIR: &str = "/var/lib/proctor-test-cluster";

fn cluster_dir() -> String {
    std::env::var("PROCTOR_CLUSTER_DIR").unwrap_or_else(|_| CLUSTER_DIR.into())
}

/// Kills kube-apiserver (SIGKILL: a crash; a SIGTERM'd one drains its requests for up to a
/// minute first), leaves the cluster without an API for `down`, and starts the same command
/// again as `up.sh` does (its PID file and log).
fn restart_apiserver(down: Duration) {
    let dir = cluster_dir();
    let pid_file = format!("{dir}/pids/kube-apiserver.pid");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let argv: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    assert!(
        argv[0].ends_with("kube-apiserver"),
        "pid {pid} is not kube-apiserver: {argv:?}"
    );
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let gone = Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            gone.elapsed() < Duration::from_secs(60),
            "kube-apiserver did not stop"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(down);
    // In the background of a shell that ends at once, in a session of its own, as up.sh starts
    // it: it outlives this test.
    let script = r#"pid_file=$1 log=$2; shift 2
setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pid_file" "$@" </dev/null >>"$log" 2>&1 &"#;
    let status = std::process::Command::new("bash")
        .args(["-c", script, "restart"])
        .arg(&pid_file)
        .arg(format!("{dir}/logs/kube-apiserver.log"))
        .args(&argv)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits until the cluster works again after an API server restart, so that the next test
/// does not meet a half-recovered one (seen in CI: a new namespace without its default
/// ServiceAccount, and a deleted namespace that stayed): a new namespace gets its default
/// ServiceAccount (kube-controller-manager), a pod in it runs to its end (scheduler, kubelet),
/// and the namespace goes (the namespace controller). Prints how long that took.
async fn settle() {
    let started = Instant::now();
    let slot = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let name = slot.clone();
    with_namespace("settle", |client, ns| async move {
        *name.lock().unwrap() = ns.clone();
        let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> =
            Api::namespaced(client.clone(), &ns);
        let deadline = Instant::now() + Duration::from_secs(240);
        while !matches!(accounts.get_opt("default").await, Ok(Some(_))) {
            assert!(
                Instant::now() < deadline,
                "no default ServiceAccount in {ns}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let pod = create_pod(&client, &ns, script_pod("settle", "runc", "true")).await;
        wait_for_pod(&client, &ns, &pod, "finished", is_finished).await;
    })
    .await;
    let ns = slot.lock().unwrap().clone();
    let client = client().await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client);
    let deadline = Instant::now() + Duration::from_secs(240);
    while !matches!(namespaces.get_opt(&ns).await, Ok(None)) {
        assert!(Instant::now() < deadline, "namespace {ns} not gone");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!(
        "the cluster works again {:?} after the test",
        started.elapsed()
    );
}

/// A counter of the controller's /metrics (0 when absent).
fn counter(metrics: &str, name_and_labels: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name_and_labels))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

fn metrics(port: u16) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn a_run_resumes_as_soon_as_a_restarted_api_server_answers() {
    with_namespace("api-restart", |client, ns| async move {
        install_crd(&client).await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let _controller = ControllerProcess::start_with(
            &ns,
            &["--privileged-namespaces", &ns, "--metrics-addr", &addr],
        );
        // Pods kept, to show where the time went after the restart.
        // Time enough for the cluster's own slow recovery (see below), so that only a wrong
        // verdict fails the run.
        let run = sample_run("restarted", |spec| {
            spec.cleanup = Some(proctor::api::CleanupPolicy::Never);
            spec.timeout_seconds = Some(300);
            // The churn's "gone within" is its timeout too: this cluster's kubelet acts on
            // deletes only about a minute after an API server restart (printed below).
            for probe in &mut spec.probes {
                if probe.timeout_seconds.is_some_and(|t| t < 300) {
                    probe.timeout_seconds = Some(300);
                }
            }
        });
        let runs: Api<TestRun> = Api::namespaced(client.clone(), &ns);
        runs.create(&Default::default(), &run).await.unwrap();
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs(8)).await;
        let before = runs.get("restarted").await.unwrap();
        let timeouts_before = counter(&metrics(port), "proctor_reconcile_errors_total{category=\"timeout\"}");

        eprintln!(
            "stopping kube-apiserver {:?} into the run, at {}",
            started.elapsed(),
            k8s_openapi::jiff::Timestamp::now()
        );
        tokio::task::spawn_blocking(|| restart_apiserver(Duration::from_secs(10)))
            .await
            .unwrap();
        // The API is back when it answers; the run resumed at its next status write.
        let (back, returned_at) = loop {
            if client.apiserver_version().await.is_ok() {
                eprintln!("the API answers again at {}", k8s_openapi::jiff::Timestamp::now());
                break (Instant::now(), k8s_openapi::jiff::Timestamp::now());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let seen = before.metadata.resource_version.clone();
        let resumed = loop {
            if let Ok(run) = runs.get("restarted").await
                && (run.metadata.resource_version != seen
                    || run.status.as_ref().and_then(|s| s.phase).is_some_and(|p| {
                        matches!(
                            p,
                            proctor::api::RunPhase::Succeeded
                                | proctor::api::RunPhase::Failed
                                | proctor::api::RunPhase::Error
                        )
                    }))
            {
                break Instant::now();
            }
            assert!(back.elapsed() < Duration::from_secs(180), "the run never resumed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        eprintln!(
            "the API answered again {:?} into the run; the run's next status write came {:?} after that",
            back - started,
            resumed - back
        );
        let runs_waited = tokio::time::timeout(Duration::from_secs(300), async {
            loop {
                let run = runs.get("restarted").await.unwrap();
                if run.status.as_ref().and_then(|s| s.completion_time.as_ref()).is_some() {
                    return run;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
        .await
        .expect("the run finished");
        eprintln!("the whole run took {:?}", started.elapsed());
        for p in &runs_waited.status.as_ref().unwrap().probes {
            eprintln!(
                "  {:<30} {:?} {:?} .. {:?}",
                p.name,
                p.verdict,
                p.started_at.as_ref().map(|t| t.0),
                p.finished_at.as_ref().map(|t| t.0)
            );
        }
        // Where the time went for the pods created after the restart: created (Proctor), bound
        // (kube-scheduler), started (kubelet). The cluster's own components reconnect with
        // their own backoff (client-go's grows to 30 s), and Proctor can only wait for them.
        let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), &ns);
        let mut listed = pods.list(&Default::default()).await.unwrap().items;
        listed.sort_by_key(|p| p.metadata.creation_timestamp.clone().map(|t| t.0));
        for pod in listed.iter().filter(|p| {
            p.metadata
                .creation_timestamp
                .as_ref()
                .is_some_and(|t| t.0 >= returned_at)
        }) {
            let status = pod.status.as_ref();
            let scheduled = status
                .and_then(|s| s.conditions.as_ref())
                .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"))
                .and_then(|c| c.last_transition_time.as_ref().map(|t| t.0));
            let started = status
                .and_then(|s| s.container_statuses.as_ref())
                .and_then(|c| c.first())
                .and_then(|c| c.state.as_ref())
                .and_then(|s| {
                    s.terminated
                        .as_ref()
                        .and_then(|t| t.started_at.as_ref())
                        .or(s.running.as_ref().and_then(|r| r.started_at.as_ref()))
                })
                .map(|t| t.0);
            eprintln!(
                "  pod {:<50} created {:?}, bound {scheduled:?}, started {started:?}",
                pod.metadata.name.as_deref().unwrap_or_default(),
                pod.metadata.creation_timestamp.as_ref().map(|t| t.0)
            );
        }
        assert_verdicts(&runs_waited, &[], &["process-group-kill"]);
        assert_each_ran_once(&runs_waited);
        let timeouts_after = counter(&metrics(port), "proctor_reconcile_errors_total{category=\"timeout\"}");
        assert_eq!(
            timeouts_after, timeouts_before,
            "a call waited out its time limit after the restart"
        );
    })
    .await;
    settle().await;
}

/// Sends `signal` to the kubelet of the test cluster.
fn signal_kubelet(signal: &str) {
    let pid = std::fs::read_to_string(format!("{}/pids/kubelet.pid", cluster_dir())).unwrap();
    let status = std::process::Command::new("kill")
        .args([signal, pid.trim()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal} kubelet");
}

/// Continues the kubelet however the test ends.
struct Stopped;

impl Drop for Stopped {
    fn drop(&mut self) {
        signal_kubelet("-CONT");
    }
}

/// A kubelet that lags (stopped for 15 s right after Proctor's delete request, and across the
/// deadline probe's deadline) acts late on both; the runtime still does its part at once once
/// the kubelet acts. The timing checks measure from the kubelet's `Killing` Event, so neither
/// probe is `Failed` (faulty-latekill, whose kills land 50 s after the kubelet gives them, still
/// fails both: the mutation matrix).
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn a_kubelet_that_lags_is_not_taken_for_a_slow_runtime() {
    with_namespace("kubelet-lag", |client, ns| async move {
        install_crd(&client).await;
        let _controller = ControllerProcess::start(&ns);
        let run = sample_run("lagged", |spec| {
            spec.probes
                .retain(|p| p.name == "graceful-shutdown" || p.name == "deadline-exceeded");
        });
        let runs: Api<TestRun> = Api::namespaced(client.clone(), &ns);
        runs.create(&Default::default(), &run).await.unwrap();
        // Right after Proctor's delete of the graceful-shutdown pod: stop the kubelet.
        let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), &ns);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let deleting = pods
                .list(&Default::default())
                .await
                .unwrap()
                .items
                .iter()
                .any(|p| {
                    p.metadata.deletion_timestamp.is_some()
                        && p.metadata
                            .name
                            .as_deref()
                            .is_some_and(|n| n.contains("graceful-shutdown"))
                });
            if deleting {
                break;
            }
            assert!(Instant::now() < deadline, "the pod was never deleted");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        {
            signal_kubelet("-STOP");
            let _continued = Stopped;
            eprintln!(
                "kubelet stopped for 15 s at {}",
                k8s_openapi::jiff::Timestamp::now()
            );
            tokio::time::sleep(Duration::from_secs(15)).await;
        }
        let run = tokio::time::timeout(Duration::from_secs(180), async {
            loop {
                let run = runs.get("lagged").await.unwrap();
                if run
                    .status
                    .as_ref()
                    .and_then(|s| s.completion_time.as_ref())
                    .is_some()
                {
                    return run;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
        .await
        .expect("the run finished");
        for p in &run.status.as_ref().unwrap().probes {
            eprintln!(
                "  {}: {:?} {}: {}",
                p.name,
                p.verdict,
                p.reason.as_deref().unwrap_or_default(),
                p.message.as_deref().unwrap_or_default()
            );
        }
        assert_verdicts(&run, &[], &[]);
        // The lag was there, and the verdicts say whose it was.
        let deadline_probe = &run.status.as_ref().unwrap().probes[1];
        assert!(
            deadline_probe
                .message
                .as_deref()
                .unwrap_or_default()
                .contains("the kubelet acted"),
            "{deadline_probe:?}"
        );
    })
    .await;
}

/// `cat /tmp/count` in the probe container of `pod`, as the test's admin.
async fn count_file(client: &kube::Client, ns: &str, pod: &str) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), ns);
    let params = kube::api::AttachParams::default()
        .container("probe")
        .stdout(true)
        .stderr(false);
    let mut process = pods.exec(pod, ["cat", "/tmp/count"], &params).await.ok()?;
    let mut out = String::new();
    process.stdout()?.read_to_string(&mut out).await.ok()?;
    let _ = process.join().await;
    Some(out)
}

/// A controller killed while a custom probe's exec action runs: its successor does not run the
/// action a second time (the action recorded itself as started before it ran), and the probe
/// says the action's outcome was lost.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn an_exec_action_cut_off_by_a_controller_crash_is_not_run_again() {
    with_namespace("exec-once", |client, ns| async move {
        install_crd(&client).await;
        let mut first = ControllerProcess::start(&ns);
        let run: TestRun = serde_json::from_value(serde_json::json!({
            "apiVersion": "proctor.dev/v1alpha1",
            "kind": "TestRun",
            "metadata": {"name": "once"},
            "spec": {
                "cleanup": "Never",
                "probes": [{"name": "counted", "custom": {
                    "command": ["sh", "-c", "sleep 40"],
                    "actions": [{"exec": {
                        "command": ["sh", "-c", "echo ran >> /tmp/count; sleep 6"],
                        "expectExitCode": 0,
                    }}],
                    "expect": {"exitCode": 0},
                }}],
            },
        }))
        .unwrap();
        let runs: Api<TestRun> = Api::namespaced(client.clone(), &ns);
        runs.create(&Default::default(), &run).await.unwrap();
        // Once the action runs (its mark is in the container), kill the controller.
        let deadline = Instant::now() + Duration::from_secs(120);
        let pod = loop {
            let status = runs.get("once").await.unwrap().status.unwrap_or_default();
            if let Some(pod) = status.probes.first().and_then(|p| p.pods.first()).cloned()
                && count_file(&client, &ns, &pod)
                    .await
                    .is_some_and(|c| c.contains("ran"))
            {
                break pod;
            }
            assert!(Instant::now() < deadline, "the action never ran");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        first.kill();
        eprintln!("controller killed while the action ran in {pod}");
        let _second = ControllerProcess::start(&ns);
        // How often the action ran, as the container saw it, until the run ends (and a moment
        // after: the pod keeps running, so a late second run would still show).
        let mut most = 0;
        let mut ended: Option<(TestRun, Instant)> = None;
        let deadline = Instant::now() + Duration::from_secs(120);
        let run = loop {
            if let Some(count) = count_file(&client, &ns, &pod).await {
                most = most.max(count.lines().count());
            }
            if let Some((run, at)) = &ended
                && at.elapsed() > Duration::from_secs(8)
            {
                break run.clone();
            }
            let run = runs.get("once").await.unwrap();
            let done = run
                .status
                .as_ref()
                .and_then(|s| s.completion_time.as_ref())
                .is_some();
            if ended.is_none() && done {
                ended = Some((run, Instant::now()));
            }
            assert!(Instant::now() < deadline, "the run did not finish");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let probe = &run.status.as_ref().unwrap().probes[0];
        eprintln!("{probe:#?}");
        eprintln!("the action ran {most} times");
        assert_eq!(most, 1, "the action ran once");
        assert_eq!(
            (probe.verdict, probe.reason.as_deref()),
            (
                Some(proctor::api::Verdict::Error),
                Some("ActionOutcomeLost")
            ),
            "{probe:#?}"
        );
    })
    .await;
}

/// `proctor run --wait` with its own controller (in-process) while kube-apiserver goes away for
/// 10 s: its follow says the error and retries, the run completes with its verdicts (exit 0),
/// and no probe pod is left holding Proctor's finalizer.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn proctor_run_follows_its_run_through_an_api_server_restart() {
    with_namespace("run-restart", |client, ns| async move {
        install_crd(&client).await;
        let dir = std::env::temp_dir().join(format!("proctor-recovery-{ns}"));
        std::fs::create_dir_all(&dir).unwrap();
        let manifest = dir.join("through.yaml");
        // A pod Proctor deletes (it holds the finalizer until its end is recorded) and one that
        // runs across the restart. Time enough for this cluster's slow kubelet after a restart.
        std::fs::write(
            &manifest,
            r#"apiVersion: proctor.dev/v1alpha1
kind: TestRun
metadata: {name: through}
spec:
  timeoutSeconds: 300
  probes:
  - name: shutdown
    gracefulShutdown: {gracePeriodSeconds: 5}
  - name: slow
    custom:
      command: [sh, -c, "sleep 20"]
      expect: {exitCode: 0}
"#,
        )
        .unwrap();
        let child = proctor_command(&[
            "run",
            "-f",
            manifest.to_str().unwrap(),
            "-n",
            &ns,
            "--wait",
            "--controller",
            "in-process",
            "--timeout",
            "6m",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
        // Under way: both probes running.
        let runs: Api<TestRun> = Api::namespaced(client.clone(), &ns);
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let running = runs.get_opt("through").await.unwrap().is_some_and(|r| {
                r.status.is_some_and(|s| {
                    s.probes
                        .iter()
                        .filter(|p| p.phase == proctor::api::ProbePhase::Running)
                        .count()
                        == 2
                })
            });
            if running {
                break;
            }
            assert!(Instant::now() < deadline, "the run did not get under way");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        tokio::task::spawn_blocking(|| restart_apiserver(Duration::from_secs(10)))
            .await
            .unwrap();
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        eprintln!("{stderr}");
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        assert!(stderr.contains("retrying"), "the error was said: {stderr}");
        let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), &ns);
        for pod in pods.list(&Default::default()).await.unwrap().items {
            assert!(
                !pod.metadata
                    .finalizers
                    .iter()
                    .flatten()
                    .any(|f| f == proctor::api::POD_FINALIZER),
                "pod {:?} still held",
                pod.metadata.name
            );
        }
    })
    .await;
    settle().await;
}
