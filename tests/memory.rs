//! The controller's memory stays bounded whatever a probe prints, on the real test cluster: an
//! exec action printing 1 GiB and a container log of one 100 MB line are streamed through and
//! counted, never held. The controller's peak RSS (VmHWM, the kernel's own high-water mark, not a
//! sample) may grow by at most 20 MiB over its peak after a warm-up run.
//!
//! Run by `.ci/run`; by hand: `PROCTOR_TEST_KUBECONFIG=$(tests/cluster/up.sh) cargo test --test
//! memory -- --ignored`.

// A test that cannot get what it needs fails: panicking is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use proctor::api::{TestRun, Verdict};
use serde_json::json;
use support::*;

const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// What the controller may grow by (the bound).
const MAX_GROWTH_KIB: u64 = 20 * 1024;

/// A run of one probe, with time for a gigabyte.
fn one_probe(name: &str, probe: serde_json::Value) -> TestRun {
    testrun(name, json!({"probes": [probe], "timeoutSeconds": 240}))
}

/// A `/proc/<pid>/status` field in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn a_gigabyte_of_exec_output_and_a_100_mb_log_line_cost_the_controller_no_memory() {
    with_namespace("memory", |client, ns| async move {
        install_crd(&client).await;
        let controller = ControllerProcess::start(&ns);
        let pid = controller.pid();

        // Warm-up: the same kinds of work, small, so that the client, TLS and caches are up.
        let warm = one_probe(
            "warm-up",
            json!({"name": "small", "custom": {
                "command": ["sh", "-c", "trap 'exit 0' TERM; echo small-marker; while :; do sleep 0.2; done"],
                "actions": [
                    {"exec": {"command": ["sh", "-c", "head -c 100000 /dev/zero"], "expectExitCode": 0}},
                    {"delete": {"gracePeriodSeconds": 5}},
                ],
                "expect": {"exitCode": 0},
            }}),
        );
        run_to_end(&client, &ns, warm, RUN_TIMEOUT).await;
        let warm_log = one_probe(
            "warm-log",
            json!({"name": "small", "custom": {
                "command": ["sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x; echo; echo small-marker"],
                "expect": {"exitCode": 0, "logContains": ["small-marker"]},
            }}),
        );
        run_to_end(&client, &ns, warm_log, RUN_TIMEOUT).await;
        let idle_hwm = status_kib(pid, "VmHWM:");
        let idle_rss = status_kib(pid, "VmRSS:");

        // Sampled while the big runs go, for the report; the bound is on the kernel's HWM.
        let max_rss = Arc::new(AtomicU64::new(0));
        let sampler = {
            let max_rss = max_rss.clone();
            tokio::spawn(async move {
                loop {
                    if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/status"))
                        && let Some(kib) = text
                            .lines()
                            .find_map(|l| l.strip_prefix("VmRSS:"))
                            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                    {
                        max_rss.fetch_max(kib, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };

        let exec = one_probe(
            "big-exec",
            json!({"name": "gigabyte", "custom": {
                "command": ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"],
                "actions": [
                    {"exec": {"command": ["sh", "-c", "head -c 1073741824 /dev/zero; echo exec-done"], "expectExitCode": 0}},
                    {"delete": {"gracePeriodSeconds": 5}},
                ],
                "expect": {"exitCode": 0},
            }}),
        );
        let started = std::time::Instant::now();
        let exec = run_to_end(&client, &ns, exec, RUN_TIMEOUT).await;
        let exec_took = started.elapsed();
        let after_exec_hwm = status_kib(pid, "VmHWM:");

        let line = one_probe(
            "big-line",
            json!({"name": "line", "custom": {
                "command": ["sh", "-c", "head -c 104857600 /dev/zero | tr '\\0' x; echo; echo line-marker"],
                "expect": {"exitCode": 0, "logContains": ["line-marker"]},
            }}),
        );
        let started = std::time::Instant::now();
        let line = run_to_end(&client, &ns, line, RUN_TIMEOUT).await;
        let line_took = started.elapsed();
        let after_line_hwm = status_kib(pid, "VmHWM:");
        sampler.abort();

        eprintln!(
            "controller memory (KiB): idle RSS {idle_rss}, idle peak (VmHWM) {idle_hwm}; \
             during the runs: max sampled RSS {}; peak after the 1 GiB exec ({exec_took:?}) \
             {after_exec_hwm}, after the 100 MB line ({line_took:?}) {after_line_hwm}",
            max_rss.load(Ordering::Relaxed)
        );
        for (run, name) in [(&exec, "gigabyte"), (&line, "line")] {
            let probe = &run.status.as_ref().unwrap().probes[0];
            assert_eq!(probe.verdict, Some(Verdict::Passed), "{name}: {probe:#?}");
        }
        assert!(
            after_line_hwm <= idle_hwm + MAX_GROWTH_KIB,
            "the controller's peak RSS grew by {} KiB (allowed: {MAX_GROWTH_KIB})",
            after_line_hwm - idle_hwm
        );
    })
    .await;
}
