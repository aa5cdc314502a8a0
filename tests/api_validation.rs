//! The `TestRun` schema against the real API server: the sample with the whole catalog is
//! accepted, and invalid runs are refused at apply time with a message a person understands.
//!
//! Run by `.ci/run`; by hand: `PROCTOR_TEST_KUBECONFIG=$(tests/cluster/up.sh) cargo test --test
//! api_validation -- --ignored`.

// A test that cannot get what it needs fails: panicking is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use kube::Api;
use kube::api::{DynamicObject, PostParams};
use kube::core::{ApiResource, Status};
use proctor::api::TestRun;
use serde_json::{Value, json};
use support::*;

fn testruns(client: kube::Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client, ns, &ApiResource::erase::<TestRun>(&()))
}

fn testrun(spec: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "proctor.dev/v1alpha1",
        "kind": "TestRun",
        "metadata": {"name": "candidate"},
        "spec": spec,
    }))
    .unwrap()
}

/// Creates `spec` as a dry run; returns the API server's refusal, or `None` when it accepted.
async fn refusal(api: &Api<DynamicObject>, spec: Value) -> Option<Status> {
    let params = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    match api.create(&params, &testrun(spec)).await {
        Ok(_) => None,
        Err(kube::Error::Api(status)) => Some(*status),
        Err(e) => panic!("creating a TestRun: {e}"),
    }
}

#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn the_full_catalog_sample_is_accepted() {
    with_namespace("api-sample", |client, ns| async move {
        install_crd(&client).await;
        let api = testruns(client, &ns);
        for text in [
            include_str!("../examples/conformance.yaml"),
            include_str!("../examples/container-probes.yaml"),
        ] {
            let sample: Value = serde_yaml::from_str(text).unwrap();
            assert_eq!(refusal(&api, sample["spec"].clone()).await, None);
        }
    })
    .await;
}

/// The edges of the rules above are still accepted: they can be judged.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn runs_at_the_edges_of_the_rules_are_accepted() {
    with_namespace("api-edges", |client, ns| async move {
        install_crd(&client).await;
        let api = testruns(client, &ns);
        let cases = [
            ("root as workingDir", json!({"probes": [{"name": "p", "workingDir": {"path": "/"}}]})),
            ("dotted workingDir parts", json!({"probes": [{"name": "p", "workingDir": {"path": "/tmp/.x/..y/.../a.b"}}]})),
            ("a deadline just within the run's timeout", json!({"timeoutSeconds": 16, "probes": [{"name": "p", "deadlineExceeded": {}}]})),
            ("an env name that merely starts like a reserved one", json!({"probes": [{"name": "p", "env": {"name": "PATHS"}}]})),
            ("a fallback message of 79 lines", json!({"probes": [{"name": "p", "terminationMessage": {"fallbackToLogsOnError": true, "text": "x\n".repeat(78) + "x"}}]})),
        ];
        for (case, spec) in cases {
            assert_eq!(refusal(&api, spec).await, None, "{case}: refused");
        }
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn invalid_runs_are_refused_with_a_clear_message() {
    with_namespace("api-invalid", |client, ns| async move {
        install_crd(&client).await;
        let api = testruns(client, &ns);
        let probe = |extra: Value| {
            let mut p = json!({"name": "p"});
            p.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            p
        };
        let cases = [
            (
                "two kinds in one probe",
                json!({"probes": [probe(json!({"exitCode": {"code": 1}, "env": {}}))]}),
                "a probe sets exactly one kind",
            ),
            (
                "no kind",
                json!({"probes": [probe(json!({}))]}),
                "a probe sets exactly one kind",
            ),
            (
                "duplicate probe names",
                json!({"probes": [probe(json!({"env": {}})), probe(json!({"stderr": {}}))]}),
                "Duplicate value",
            ),
            (
                "probe name that is not a DNS label",
                json!({"probes": [{"name": "Not_A_Label", "env": {}}]}),
                "spec.probes[0].name",
            ),
            (
                "probe name too long for derived pod names",
                json!({"probes": [{"name": "a".repeat(41), "env": {}}]}),
                "may not be more than 40",
            ),
            (
                "exit code out of range",
                json!({"probes": [probe(json!({"exitCode": {"code": 300}}))]}),
                "less than or equal to 255",
            ),
            ("no probes", json!({"probes": []}), "at least 1 items"),
            (
                "reserved pod label",
                json!({"podLabels": {"proctor.dev/run-uid": "x"}, "probes": [probe(json!({"env": {}}))]}),
                "podLabels may not set proctor.dev/*",
            ),
            (
                "unknown cleanup policy",
                json!({"cleanup": "Sometimes", "probes": [probe(json!({"env": {}}))]}),
                "supported values: \"Always\", \"OnSuccess\", \"Never\"",
            ),
            (
                "custom probe without expectations",
                json!({"probes": [probe(json!({"custom": {"command": ["true"], "expect": {}}}))]}),
                "should have at least 1 properties",
            ),
            (
                "custom action that is both exec and delete",
                json!({"probes": [probe(json!({"custom": {
                    "command": ["sleep", "60"],
                    "actions": [{"exec": {"command": ["true"]}, "delete": {"gracePeriodSeconds": 1}}],
                    "expect": {"exitCode": 0},
                }}))]}),
                "an action is either exec or delete",
            ),
            (
                "custom probe that deletes its pod and expects its log",
                json!({"probes": [probe(json!({"custom": {
                    "command": ["sleep", "60"],
                    "actions": [{"delete": {"gracePeriodSeconds": 1}}],
                    "expect": {"logContains": ["x"]},
                }}))]}),
                "cannot expect log content",
            ),
            (
                "custom probe expecting an empty list of log strings",
                json!({"probes": [probe(json!({"custom": {
                    "command": ["true"],
                    "expect": {"logContains": []},
                }}))]}),
                "should have at least 1 items",
            ),
            (
                "workingDir with a trailing slash",
                json!({"probes": [probe(json!({"workingDir": {"path": "/tmp/"}}))]}),
                "workingDir.path must be a normalized absolute path",
            ),
            (
                "workingDir with a '..' part",
                json!({"probes": [probe(json!({"workingDir": {"path": "/tmp/../etc"}}))]}),
                "workingDir.path must be a normalized absolute path",
            ),
            (
                "env probe of PATH",
                json!({"probes": [probe(json!({"env": {"name": "PATH"}}))]}),
                "env.name may not be a variable the runtime, the kubelet or the shell sets",
            ),
            (
                "env probe of a variable the kubelet sets",
                json!({"probes": [probe(json!({"env": {"name": "KUBERNETES_SERVICE_HOST"}}))]}),
                "env.name may not be a variable the runtime, the kubelet or the shell sets",
            ),
            (
                "deadline longer than the default timeout",
                json!({"probes": [probe(json!({"deadlineExceeded": {"seconds": 115}}))]}),
                "must be less than the probe's timeoutSeconds",
            ),
            (
                "default deadline longer than the run's timeout",
                json!({"timeoutSeconds": 10, "probes": [probe(json!({"deadlineExceeded": {}}))]}),
                "must be less than the probe's timeoutSeconds",
            ),
            (
                "deadline longer than the probe's own timeout",
                json!({"timeoutSeconds": 600, "probes": [probe(json!({"timeoutSeconds": 30, "deadlineExceeded": {"seconds": 25}}))]}),
                "must be less than the probe's timeoutSeconds",
            ),
            (
                "fallback termination message longer than the kubelet keeps",
                json!({"probes": [probe(json!({"terminationMessage": {
                    "fallbackToLogsOnError": true,
                    "text": "\u{e9}".repeat(1024),
                }}))]}),
                "less than 2048 bytes and 80 lines",
            ),
            (
                "fallback termination message of more lines than the kubelet keeps",
                json!({"probes": [probe(json!({"terminationMessage": {
                    "fallbackToLogsOnError": true,
                    "text": "x\n".repeat(80),
                }}))]}),
                "less than 2048 bytes and 80 lines",
            ),
            (
                "expected termination message longer than the kubelet keeps",
                json!({"probes": [probe(json!({"custom": {
                    "command": ["true"],
                    "expect": {"terminationMessage": "\u{e9}".repeat(2100)},
                }}))]}),
                "at most 4096 bytes",
            ),
            (
                "parallelism out of range",
                json!({"parallelism": 0, "probes": [probe(json!({"env": {}}))]}),
                "greater than or equal to 1",
            ),
        ];
        // Every case is tried and every wrong one reported, not only the first.
        let mut wrong = Vec::new();
        for (case, spec, wanted) in cases {
            match refusal(&api, spec).await {
                None => wrong.push(format!("{case}: accepted, should be refused")),
                Some(refused) if refused.code != 422 => {
                    wrong.push(format!("{case}: refused with {}: {refused:?}", refused.code))
                }
                Some(refused) if !refused.message.contains(wanted) => wrong.push(format!(
                    "{case}: message {:?} does not say {wanted:?}",
                    refused.message
                )),
                Some(_) => {}
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    })
    .await;
}
