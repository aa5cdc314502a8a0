//! The controller's `/readyz` tells the truth, on the real test cluster: a leader whose caches
//! cannot fill (here: it may not list pods) is not ready and says why; one whose caches filled
//! is.
//!
//! Run by `.ci/run`; by hand: `PROCTOR_TEST_KUBECONFIG=$(tests/cluster/up.sh) cargo test --test
//! health -- --ignored`.

// A test that cannot get what it needs fails: panicking is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::time::Duration;

use support::*;

/// `GET path` on 127.0.0.1:`port`: the status line and the body, or `None` while nothing listens.
fn get(port: u16, path: &str) -> Option<(String, String)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.lines().next()?.to_owned();
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The controller's `/readyz` once it answers and has settled for `settle`.
async fn readyz_after(port: u16, settle: Duration) -> (String, String) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while get(port, "/healthz").is_none() {
        assert!(tokio::time::Instant::now() < deadline, "no /healthz");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(settle).await;
    get(port, "/readyz").unwrap()
}

fn controller_as(kubeconfig: &std::path::Path, ns: &str, port: u16) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_proctor"))
        .args(["controller", "--namespace", ns, "--metrics-addr"])
        .arg(format!("127.0.0.1:{port}"))
        .env("KUBECONFIG", kubeconfig)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn readyz_is_ready_only_once_the_caches_are_filled() {
    with_namespace("readyz", |client, ns| async move {
        install_crd(&client).await;
        let dir = std::env::temp_dir().join(format!("proctor-health-{ns}"));
        std::fs::create_dir_all(&dir).unwrap();
        let runs_only = r#"
- apiGroups: [proctor.dev]
  resources: [testruns]
  verbs: [get, list, watch, patch]
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get]
"#;
        let blind = service_account_kubeconfig(&ns, "blind", runs_only, &dir);
        let full = service_account_kubeconfig(
            &ns,
            "sighted",
            &format!(
                "{runs_only}- apiGroups: [\"\"]\n  resources: [pods]\n  verbs: [get, list, watch]\n"
            ),
            &dir,
        );

        let port = free_port();
        let mut child = controller_as(&blind, &ns, port);
        let (status, body) = readyz_after(port, Duration::from_secs(5)).await;
        let _ = child.kill();
        let _ = child.wait();
        eprintln!("may not list pods: {status}: {body}");
        assert!(status.contains("503"), "{status}: {body}");
        assert!(body.contains("caches are not filled"), "{body}");

        let port = free_port();
        let mut child = controller_as(&full, &ns, port);
        let (status, body) = readyz_after(port, Duration::from_secs(3)).await;
        let _ = child.kill();
        let _ = child.wait();
        eprintln!("may list pods: {status}: {body}");
        assert!(status.contains("200"), "{status}: {body}");
        assert_eq!(body, "ok (leader)\n");
    })
    .await;
}
