//! GitOps health, with the real libraries, on TestRun objects captured from the test cluster
//! (`tests/fixtures/testruns/`: a run under way, a failed run, a passed run):
//! - kstatus (sigs.k8s.io/cli-utils, through `tests/tools/kstatus.sh`): InProgress while the run
//!   runs, Current once it finished; the `Passed` condition tells a passed run from a failed one;
//! - the Argo CD health check `deploy/argocd/testrun-health.lua`, run by a real Lua 5.1
//!   interpreter (Argo CD's gopher-lua speaks Lua 5.1): Progressing, Healthy, Degraded.

// A test that cannot get what it needs fails: panicking is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

fn fixture(name: &str) -> Value {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/testruns");
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    if name.ends_with(".json") {
        serde_json::from_str(&text).unwrap()
    } else {
        serde_yaml::from_str(&text).unwrap()
    }
}

const RUNNING: &str = "faulty-exit-running.json";
const FAILED: &str = "faulty-exit-failed.json";
const PASSED: &str = "conformance-runc.yaml";

fn kstatus(object: &Value) -> (String, String) {
    let tool = std::env::var("PROCTOR_TEST_KSTATUS")
        .expect("PROCTOR_TEST_KSTATUS: tests/tools/kstatus.sh prints it");
    let child = Command::new(tool)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    status_and_message(child, &object.to_string())
}

/// Writes `input` to the child's stdin and reads back its `STATUS<TAB>MESSAGE` line.
fn status_and_message(mut child: std::process::Child, input: &str) -> (String, String) {
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let (status, message) = text.trim_end().split_once('\t').unwrap();
    (status.to_owned(), message.to_owned())
}

fn condition(object: &Value, kind: &str) -> String {
    object["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == kind)
        .map(|c| c["status"].as_str().unwrap().to_owned())
        .unwrap()
}

#[test]
#[ignore = "needs the kstatus tool (tests/tools/kstatus.sh); run by .ci/run"]
fn kstatus_reads_in_progress_while_running_and_current_when_finished() {
    let (status, message) = kstatus(&fixture(RUNNING));
    assert_eq!(status, "InProgress", "{message}");
    let failed = fixture(FAILED);
    let passed = fixture(PASSED);
    assert_eq!(kstatus(&failed).0, "Current");
    assert_eq!(kstatus(&passed).0, "Current");
    // The outcome condition tells them apart.
    assert_eq!(condition(&fixture(RUNNING), "Passed"), "Unknown");
    assert_eq!(condition(&failed, "Passed"), "False");
    assert_eq!(condition(&passed, "Passed"), "True");
}

/// A JSON value as a Lua table constructor (Argo CD hands the object to the script as one).
fn lua_literal(value: &Value) -> String {
    match value {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '"' => out.push_str("\\\""),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\{}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        Value::Array(items) => format!(
            "{{{}}}",
            items.iter().map(lua_literal).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!(
                    "[{}] = {}",
                    lua_literal(&Value::String(k.clone())),
                    lua_literal(v)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn argocd_health(object: &Value) -> (String, String) {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/argocd/testrun-health.lua");
    let program = format!(
        "obj = {}\nlocal hs = dofile({})\nio.write(hs.status, \"\\t\", hs.message, \"\\n\")\n",
        lua_literal(object),
        lua_literal(&Value::String(script.display().to_string()))
    );
    let child = Command::new("lua5.1")
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lua5.1 (Debian package lua5.1)");
    status_and_message(child, &program)
}

#[test]
#[ignore = "needs lua5.1 (installed by tests/run-all.sh); run by .ci/run"]
fn the_argo_cd_health_check_is_progressing_healthy_or_degraded() {
    let (status, message) = argocd_health(&fixture(RUNNING));
    assert_eq!(status, "Progressing");
    assert!(message.starts_with("running: "), "{message}");
    let (status, message) = argocd_health(&fixture(PASSED));
    assert_eq!(
        (status.as_str(), message.as_str()),
        ("Healthy", "20 passed, 0 failed, 0 errors, 1 skipped of 21")
    );
    let (status, message) = argocd_health(&fixture(FAILED));
    assert_eq!(status, "Degraded");
    assert!(
        message.starts_with("Failed: 14 of 21 probes passed, 6 failed"),
        "{message}"
    );
    // An object the controller has not touched yet.
    let mut fresh = fixture(RUNNING);
    fresh.as_object_mut().unwrap().remove("status");
    assert_eq!(argocd_health(&fresh).0, "Progressing");
    // A run that could not be carried out is Degraded too.
    let mut errored = fixture(FAILED);
    errored["status"]["phase"] = Value::String("Error".into());
    assert_eq!(argocd_health(&errored).0, "Degraded");
}
