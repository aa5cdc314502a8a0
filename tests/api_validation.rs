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
        let sample: Value =
            serde_yaml::from_str(include_str!("../examples/conformance.yaml")).unwrap();
        let api = testruns(client, &ns);
        assert_eq!(refusal(&api, sample["spec"].clone()).await, None);
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
                "parallelism out of range",
                json!({"parallelism": 0, "probes": [probe(json!({"env": {}}))]}),
                "greater than or equal to 1",
            ),
        ];
        for (case, spec, wanted) in cases {
            let refused = refusal(&api, spec)
                .await
                .unwrap_or_else(|| panic!("{case}: accepted, should be refused"));
            assert_eq!(refused.code, 422, "{case}: {refused:?}");
            assert!(
                refused.message.contains(wanted),
                "{case}: message {:?} does not say {wanted:?}",
                refused.message
            );
        }
    })
    .await;
}
