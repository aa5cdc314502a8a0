//! `proctor run` as a pipeline uses it, against the real test cluster with no controller
//! deployed: it runs the controller in-process, follows the run, writes the report, and exits 0
//! for a passing run and 1 (the failure code) for a run under a faulty runtime class, whose JUnit
//! marks exactly the probes that failed. `proctor report` renders the finished run again.

// A test that cannot get what it needs fails: panicking is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;

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
    let out = Command::new(env!("CARGO_BIN_EXE_proctor"))
        .args(args)
        .env(
            "KUBECONFIG",
            std::env::var("PROCTOR_TEST_KUBECONFIG").expect("PROCTOR_TEST_KUBECONFIG"),
        )
        .env("PROCTOR_DEFAULT_IMAGE", PROBE_IMAGE)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn proctor_run_exits_0_for_a_passing_run_and_1_with_a_junit_of_the_failures() {
    with_namespace("cli", |_client, ns| async move {
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
            stderr.contains("running one in this process"),
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
