//! `proctor run` and `proctor report`: a TestRun from a pipeline or a terminal, followed to its
//! end and reported.
//!
//! Exit codes: [`EXIT_PASSED`] when the run succeeded (every probe Passed, or Skipped by the
//! run's own policy), [`EXIT_FAILED`] when a probe Failed, [`EXIT_COULD_NOT_RUN`] when the run
//! could not be carried out (bad input, no cluster, a probe Error, a timeout).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client, CustomResourceExt, ResourceExt};

use crate::api::{RunPhase, TestRun};
use crate::report::{self, Format};

pub const EXIT_PASSED: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_COULD_NOT_RUN: u8 = 2;

/// Label on the leader Lease of a deployed Proctor controller (see [`crate::leader`]).
pub const LEASE_LABEL: &str = "app.kubernetes.io/name=proctor";
const FIELD_MANAGER: &str = "proctor-cli";

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
    /// Probe image for runs naming none, when no deployed controller serves the cluster and
    /// `run` runs one itself.
    #[arg(long, env = "PROCTOR_DEFAULT_IMAGE", default_value = "busybox:1.36.1")]
    pub default_image: String,
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
    #[error("{action}: {source}")]
    Api { action: String, source: kube::Error },
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
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

fn finished(run: &TestRun) -> bool {
    matches!(
        run.status.as_ref().and_then(|s| s.phase),
        Some(RunPhase::Succeeded | RunPhase::Failed | RunPhase::Error)
    )
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

    ensure_crd(&client).await?;
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
    let mut applied = serde_json::to_value(&run).unwrap_or_default();
    if let Some(meta) = applied.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.remove("resourceVersion");
        meta.remove("uid");
        meta.remove("creationTimestamp");
        meta.remove("managedFields");
    }
    if let Err(e) = runs
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&applied),
        )
        .await
    {
        return Err(match e {
            kube::Error::Api(s) if s.code == 422 && s.message.contains("immutable") => {
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
    eprintln!("testrun {namespace}/{name} applied");
    if !args.wait {
        return Ok(EXIT_PASSED);
    }

    // A pipeline needs no install: without a serving controller, run one here, for this
    // namespace, for as long as the run takes.
    let in_process = if controller_serving(&client).await {
        None
    } else {
        eprintln!("no Proctor controller serves this cluster: running one in this process");
        let config = crate::controller::Config {
            default_image: args.default_image.clone(),
            namespace: Some(namespace.clone()),
            // In this process the controller acts with the user's own credentials: Pod Security
            // and RBAC judge the user's own inspector pod, so there is no one else to grant it.
            privileged_namespaces: vec![namespace.clone()],
            instance: Some(format!("proctor-run-{}", std::process::id())),
            ..crate::controller::Config::default()
        };
        Some(tokio::spawn(crate::controller::run(client.clone(), config)))
    };

    let outcome = follow(&runs, &name, args.timeout).await;
    if let Some(controller) = in_process {
        controller.abort();
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

/// Installs the CRD when the cluster does not have it yet.
async fn ensure_crd(client: &Client) -> Result<(), CliError> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = TestRun::crd();
    if crds.get_opt(&crd.name_any()).await.ok().flatten().is_some() {
        return Ok(());
    }
    eprintln!("installing the TestRun CRD");
    crds.patch(
        &crd.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&crd),
    )
    .await
    .map_err(api_error("installing the TestRun CRD"))?;
    // Served once Established.
    for _ in 0..60 {
        let runs: Api<TestRun> = Api::all(client.clone());
        if runs.list(&ListParams::default().limit(1)).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(CliError::Invalid(
        "the TestRun CRD was installed but is not served".into(),
    ))
}

/// Whether a deployed controller holds a fresh leader Lease somewhere in the cluster.
async fn controller_serving(client: &Client) -> bool {
    let leases: Api<Lease> = Api::all(client.clone());
    let Ok(list) = leases
        .list(&ListParams::default().labels(LEASE_LABEL))
        .await
    else {
        return false;
    };
    let now = Timestamp::now();
    list.items.iter().any(|lease| {
        let Some(spec) = &lease.spec else {
            return false;
        };
        let held = spec
            .holder_identity
            .as_deref()
            .is_some_and(|h| !h.is_empty());
        let renewed = spec.renew_time.as_ref().map(|t| t.0);
        let duration = i64::from(spec.lease_duration_seconds.unwrap_or(0));
        held && renewed.is_some_and(|r| now < r + SignedDuration::from_secs(duration))
    })
}

/// Follows the run until it ends, showing progress: a line rewritten in place on a terminal,
/// a log line per change otherwise.
async fn follow(runs: &Api<TestRun>, name: &str, timeout: Duration) -> Result<TestRun, CliError> {
    let started = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let mut last = String::new();
    loop {
        let run = runs
            .get(name)
            .await
            .map_err(api_error(format!("reading TestRun {name}")))?;
        let line = progress(&run, started.elapsed());
        if terminal {
            eprint!("\r\x1b[K{line}");
        } else if line_key(&line) != line_key(&last) {
            eprintln!("{line}");
        }
        last = line;
        if finished(&run) {
            if terminal {
                eprintln!();
            }
            return Ok(run);
        }
        if started.elapsed() >= timeout {
            if terminal {
                eprintln!();
            }
            return Err(CliError::Invalid(format!(
                "TestRun {name} did not finish within {}s (it goes on in the cluster)",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The progress line without its clock, to tell a change from a tick.
fn line_key(line: &str) -> &str {
    line.rsplit_once(" after ").map(|(k, _)| k).unwrap_or(line)
}

fn progress(run: &TestRun, elapsed: Duration) -> String {
    let (phase, s) = report::phase_and_summary(run);
    format!(
        "{phase}: {}/{} judged ({} passed, {} failed, {} errors, {} skipped; {} running) after {}s",
        s.passed + s.failed + s.errored + s.skipped,
        s.total,
        s.passed,
        s.failed,
        s.errored,
        s.skipped,
        s.running,
        elapsed.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
            "../tests/fixtures/testruns/conformance-runc.yaml"
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
            "../tests/fixtures/testruns/conformance-runc.yaml"
        ))
        .unwrap();
        let a = progress(&run, Duration::from_secs(3));
        let b = progress(&run, Duration::from_secs(4));
        assert_eq!(
            a,
            "Succeeded: 21/21 judged (20 passed, 0 failed, 0 errors, 1 skipped; 0 running) after 3s"
        );
        assert_eq!(line_key(&a), line_key(&b));
    }
}
