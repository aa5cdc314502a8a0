//! `proctor run` and `proctor report`: a TestRun from a pipeline or a terminal, followed to its
//! end and reported.
//!
//! Exit codes: [`EXIT_PASSED`] when the run succeeded (every probe Passed, or Skipped by the
//! run's own policy), [`EXIT_FAILED`] when a probe Failed, [`EXIT_COULD_NOT_RUN`] when the run
//! could not be carried out (bad input, no cluster, a probe Error, a timeout).

mod controller;
mod follow;

use controller::{Served, choose_controller, hostname, settle};
use follow::follow;

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client, CustomResourceExt, ResourceExt};

use crate::api::{ANNOTATION_CONTROLLER, LABEL_RUN_UID, RunPhase, TestRun};
use crate::report::{self, Format};

pub const EXIT_PASSED: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_COULD_NOT_RUN: u8 = 2;

const FIELD_MANAGER: &str = "proctor-cli";
/// How long `--controller=auto` waits for a deployed controller to claim a new run.
const CLAIM_PATIENCE: Duration = Duration::from_secs(5);

/// Which controller serves the run `proctor run --wait` follows.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControllerMode {
    /// A deployed controller when one claims the run within 5 s, else one in this process.
    Auto,
    /// One in this process, with your own credentials (the run is claimed for it).
    InProcess,
    /// None started here: wait for a deployed one.
    None,
}

/// What `proctor run` was asked to do (its command-line flags).
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The TestRun manifest (YAML).
    #[arg(short = 'f', long = "filename")]
    pub file: PathBuf,
    /// Namespace of the run (default: the manifest's, else the kubeconfig's).
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// Follow the run to its end, report it, and exit with its outcome.
    #[arg(long)]
    pub wait: bool,
    /// Give up waiting after this long (e.g. 90s, 30m, 2h).
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Report format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Format,
    /// Write the report to this file (the table still goes to stdout).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Delete an existing run of that name first (a run's spec never changes).
    #[arg(long)]
    pub replace: bool,
    /// With --wait: which controller serves the run (see `proctor.dev/controller` on the run).
    #[arg(long, value_enum, default_value = "auto")]
    pub controller: ControllerMode,
    /// Probe image for runs naming none, when `run` runs the controller itself. Default: the
    /// cluster's (`probeImage` in the ConfigMap kube-public/proctor-defaults), else
    /// busybox:1.36.1.
    #[arg(long, env = "PROCTOR_DEFAULT_IMAGE")]
    pub default_image: Option<String>,
}

/// A failure that ends the command with [`EXIT_COULD_NOT_RUN`].
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a TestRun: {source}")]
    Parse {
        path: String,
        source: serde_yaml::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("{action}: {}", readable(.source))]
    Api { action: String, source: kube::Error },
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// An API error in one line a person reads: the server's message, its reason and code (never
/// the debug form of the whole response).
pub fn readable(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(s) if s.reason.is_empty() => format!("{} (HTTP {})", s.message, s.code),
        kube::Error::Api(s) => format!("{} ({}, HTTP {})", s.message, s.reason, s.code),
        other => other.to_string(),
    }
}

fn api_error(action: impl Into<String>) -> impl FnOnce(kube::Error) -> CliError {
    let action = action.into();
    move |source| CliError::Api { action, source }
}

/// Parses durations like `90s`, `30m`, `2h` or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 90s, 30m or 2h"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{text:?}: the unit must be s, m or h")),
    };
    Ok(Duration::from_secs(seconds))
}

/// The exit code for a run as it stands.
pub fn exit_code(run: &TestRun) -> u8 {
    match run.status.as_ref().and_then(|s| s.phase) {
        Some(RunPhase::Succeeded) => EXIT_PASSED,
        Some(RunPhase::Failed) => EXIT_FAILED,
        _ => EXIT_COULD_NOT_RUN,
    }
}

pub(crate) fn finished(run: &TestRun) -> bool {
    run.status.as_ref().is_some_and(|s| s.is_finished())
}

/// `proctor run`.
pub async fn run(client: Client, args: RunArgs) -> Result<u8, CliError> {
    let path = args.file.display().to_string();
    let text = std::fs::read_to_string(&args.file).map_err(|source| CliError::Read {
        path: path.clone(),
        source,
    })?;
    let mut run: TestRun = serde_yaml::from_str(&text).map_err(|source| CliError::Parse {
        path: path.clone(),
        source,
    })?;
    let name =
        run.metadata.name.clone().ok_or_else(|| {
            CliError::Invalid(format!("{path}: the TestRun has no metadata.name"))
        })?;
    let namespace = args
        .namespace
        .clone()
        .or_else(|| run.metadata.namespace.clone())
        .unwrap_or_else(|| client.default_namespace().to_owned());
    run.metadata.namespace = Some(namespace.clone());
    run.status = None;

    check_crd(&client, &namespace).await?;
    let runs: Api<TestRun> = Api::namespaced(client.clone(), &namespace);
    if args.replace && runs.get_opt(&name).await.ok().flatten().is_some() {
        eprintln!("replacing TestRun {namespace}/{name}");
        runs.delete(&name, &DeleteParams::foreground())
            .await
            .map_err(api_error(format!("deleting TestRun {namespace}/{name}")))?;
        let gone = tokio::time::timeout(Duration::from_secs(120), async {
            while runs.get_opt(&name).await.ok().flatten().is_some() {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
        .await;
        if gone.is_err() {
            return Err(CliError::Invalid(format!(
                "TestRun {namespace}/{name} was not gone 2 minutes after its delete"
            )));
        }
    }
    // In this process, the run is claimed for the controller here as it is applied: no
    // deployed controller can start on it first.
    let own_claim = format!("proctor-run/{}-{}", hostname(), std::process::id());
    if args.wait && args.controller == ControllerMode::InProcess {
        run.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(ANNOTATION_CONTROLLER.into(), own_claim.clone());
    }
    let mut applied = serde_json::to_value(&run).unwrap_or_default();
    if let Some(meta) = applied.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.remove("resourceVersion");
        meta.remove("uid");
        meta.remove("creationTimestamp");
        meta.remove("managedFields");
    }
    let applied = match runs
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&applied),
        )
        .await
    {
        Ok(applied) => applied,
        Err(e) => {
            return Err(match e {
                kube::Error::Api(s)
                    if s.code == 422 && s.message.contains("cannot change once created") =>
                {
                    CliError::Invalid(format!(
                        "TestRun {namespace}/{name} exists with another spec, and a run's spec never changes \
                         (its verdicts describe it): run again with --replace to delete it and start anew"
                    ))
                }
                kube::Error::Api(s) if s.code == 422 => CliError::Invalid(format!(
                    "the API server refused TestRun {namespace}/{name}: {}",
                    s.message
                )),
                other => CliError::Api {
                    action: format!("applying TestRun {namespace}/{name}"),
                    source: other,
                },
            });
        }
    };
    eprintln!("testrun {namespace}/{name} applied");
    if !args.wait {
        return Ok(EXIT_PASSED);
    }

    let in_process = match choose_controller(&runs, &name, args.controller, &own_claim).await? {
        Served::Elsewhere => None,
        Served::Here => {
            let (image, source) =
                crate::defaults::probe_image(&client, args.default_image.clone()).await;
            eprintln!("probe image {image} (from {source})");
            let config = crate::controller::Config {
                default_image: image,
                namespace: Some(namespace.clone()),
                // In this process the controller acts with the user's own credentials: Pod
                // Security and RBAC judge the user's own inspector pod, so there is no one
                // else to grant it.
                privileged_namespaces: vec![namespace.clone()],
                claim: own_claim.clone(),
                claims_unclaimed: false,
                instance: Some(own_claim.clone()),
                ..crate::controller::Config::default()
            };
            Some(tokio::spawn(crate::controller::run(client.clone(), config)))
        }
    };

    let outcome = follow(&runs, &name, args.timeout).await;
    if let Some(controller) = in_process {
        // What the controller does after the last status write (releasing and deleting the
        // probe pods) is given a moment; then nothing it held may stay held once it is gone.
        let uid = applied.metadata.uid.clone().unwrap_or_default();
        let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
        if let Ok(run) = &outcome {
            let succeeded = run.status.as_ref().and_then(|s| s.phase) == Some(RunPhase::Succeeded);
            let deletes = match run.spec.cleanup.unwrap_or_default() {
                crate::api::CleanupPolicy::Always => true,
                crate::api::CleanupPolicy::OnSuccess => succeeded,
                crate::api::CleanupPolicy::Never => false,
            };
            settle(&pods, &uid, deletes).await;
        }
        controller.abort();
        let released = crate::controller::release_pods_of(&client, &namespace, &uid).await;
        match released {
            Ok(0) => {}
            Ok(n) => eprintln!("released {n} probe pods the in-process controller still held"),
            Err(e) => eprintln!("releasing the run's probe pods: {e}"),
        }
    }
    let run = outcome?;
    let rendered = report::render(&run, args.output);
    match &args.report {
        Some(file) => {
            std::fs::write(file, &rendered).map_err(|source| CliError::Write {
                path: file.display().to_string(),
                source,
            })?;
            print!("{}", report::render(&run, Format::Table));
            eprintln!("report written to {}", file.display());
        }
        None => print!("{rendered}"),
    }
    let _ = std::io::stdout().flush();
    Ok(exit_code(&run))
}

/// `proctor report`.
pub async fn report(
    client: Client,
    name: &str,
    namespace: Option<String>,
    output: Format,
) -> Result<u8, CliError> {
    let namespace = namespace.unwrap_or_else(|| client.default_namespace().to_owned());
    let runs: Api<TestRun> = Api::namespaced(client, &namespace);
    let run = runs
        .get(name)
        .await
        .map_err(api_error(format!("reading TestRun {namespace}/{name}")))?;
    print!("{}", report::render(&run, output));
    Ok(exit_code(&run))
}

/// Makes sure the TestRun CRD is there: listing runs in the namespace tells (it needs no more
/// than rights in that namespace). Only when the cluster does not serve TestRuns at all is the
/// CRD installed, and a user who may not install it is told so in one line.
async fn check_crd(client: &Client, namespace: &str) -> Result<(), CliError> {
    let runs: Api<TestRun> = Api::namespaced(client.clone(), namespace);
    match runs.list(&ListParams::default().limit(1)).await {
        Ok(_) => return Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => {
            return Err(api_error(format!(
                "listing TestRuns in namespace {namespace}"
            ))(e));
        }
    }
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = TestRun::crd();
    eprintln!("the cluster has no TestRun CRD: installing it");
    if let Err(e) = crds
        .patch(
            &crd.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&crd),
        )
        .await
    {
        return Err(match e {
            kube::Error::Api(s) if s.code == 403 => CliError::Invalid(format!(
                "the cluster has no TestRun CRD, and you may not install it ({}): ask the cluster's \
                 operator to install it (`proctor crd | kubectl apply --server-side -f -`)",
                s.message
            )),
            other => api_error("installing the TestRun CRD")(other),
        });
    }
    // Served once Established.
    for _ in 0..60 {
        if runs.list(&ListParams::default().limit(1)).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(CliError::Invalid(
        "the TestRun CRD was installed but is not served".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_read_as_one_line_without_the_debug_form() {
        let error = kube::Error::Api(Box::new(kube::core::Status {
            code: 403,
            reason: "Forbidden".into(),
            message: r#"customresourcedefinitions "testruns.proctor.dev" is forbidden"#.into(),
            ..kube::core::Status::default()
        }));
        assert_eq!(
            readable(&error),
            r#"customresourcedefinitions "testruns.proctor.dev" is forbidden (Forbidden, HTTP 403)"#
        );
        let shown = CliError::Api {
            action: "installing the TestRun CRD".into(),
            source: error,
        }
        .to_string();
        assert!(
            !shown.contains("Status {") && !shown.contains('\n'),
            "{shown}"
        );
    }

    #[test]
    fn durations_read_like_kubectl_ones() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("2d").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn exit_codes_tell_failed_from_could_not_run() {
        let mut run: TestRun = serde_yaml::from_str(include_str!(
            "../../tests/fixtures/testruns/conformance-runc.yaml"
        ))
        .unwrap();
        assert_eq!(exit_code(&run), EXIT_PASSED);
        run.status.as_mut().unwrap().phase = Some(RunPhase::Failed);
        assert_eq!(exit_code(&run), EXIT_FAILED);
        run.status.as_mut().unwrap().phase = Some(RunPhase::Error);
        assert_eq!(exit_code(&run), EXIT_COULD_NOT_RUN);
        run.status.as_mut().unwrap().phase = Some(RunPhase::Running);
        assert_eq!(exit_code(&run), EXIT_COULD_NOT_RUN);
    }

    #[test]
    fn progress_changes_are_told_apart_from_the_clock() {
        let run: TestRun = serde_yaml::from_str(include_str!(
            "../../tests/fixtures/testruns/conformance-runc.yaml"
        ))
        .unwrap();
        let a = follow::progress(&run, Duration::from_secs(3));
        let b = follow::progress(&run, Duration::from_secs(4));
        assert_eq!(
            a,
            "Succeeded: 21/21 judged (20 passed, 0 failed, 0 errors, 1 skipped; 0 running) after 3s"
        );
        assert_eq!(follow::line_key(&a), follow::line_key(&b));
    }
}
