//! The `proctor` binary: parses the command line and dispatches.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Proves that a Kubernetes cluster's container runtime, kubelet and nodes behave correctly.
#[derive(Parser)]
#[command(name = "proctor", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the operator against the current kubeconfig context (or the in-cluster config).
    Controller {
        /// Image of probe pods when a TestRun names none. Default: the cluster's
        /// (`probeImage` in the ConfigMap kube-public/proctor-defaults), else busybox:1.36.1.
        #[arg(long, env = "PROCTOR_DEFAULT_IMAGE")]
        default_image: Option<String>,
        /// Most probe pods running at once, across all runs.
        #[arg(long, default_value_t = 100)]
        max_running_pods: usize,
        /// TestRuns reconciled at once.
        #[arg(long, default_value_t = 8)]
        concurrency: u16,
        /// Watch only this namespace (default: all namespaces).
        #[arg(long)]
        namespace: Option<String>,
        /// Namespaces whose TestRuns may run privileged checks (`spec.allowPrivileged`: a hostPID
        /// inspector pod), comma-separated. Default none: a run elsewhere that asks for it has
        /// those checks Skipped (PrivilegedNotGranted).
        #[arg(long, env = "PROCTOR_PRIVILEGED_NAMESPACES", value_delimiter = ',')]
        privileged_namespaces: Vec<String>,
        /// Serve /metrics, /healthz and /readyz on this address (e.g. 0.0.0.0:8080).
        #[arg(long, env = "PROCTOR_METRICS_ADDR")]
        metrics_addr: Option<std::net::SocketAddr>,
        /// Reconcile only while holding the leader Lease (for more than one replica).
        #[arg(long)]
        leader_elect: bool,
        /// Namespace of the leader Lease (default: the pod's own, from POD_NAMESPACE).
        #[arg(long, env = "POD_NAMESPACE", default_value = "proctor-system")]
        lease_namespace: String,
        /// Name of the leader Lease.
        #[arg(long, default_value = proctor::api::CONTROLLER_NAME)]
        lease_name: String,
        /// Seconds a leader's Lease lasts without renewal; a standby takes over after it.
        #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(3..=300))]
        lease_duration_seconds: u64,
        /// This replica's identity in the Lease and in Events (default: POD_NAME, else host-pid).
        #[arg(long, env = "POD_NAME")]
        identity: Option<String>,
    },
    /// Prints the TestRun CustomResourceDefinition (YAML), e.g. `proctor crd | kubectl apply -f -`.
    Crd,
    /// Applies a TestRun (server-side) and, with --wait, follows it to its end and reports it.
    /// Exit code: 0 passed, 1 a probe failed, 2 the run could not be carried out.
    Run(proctor::cli::RunArgs),
    /// Renders an existing TestRun; exit code as for `run`.
    Report {
        name: String,
        #[arg(short, long)]
        namespace: Option<String>,
        #[arg(short, long, value_enum, default_value = "table")]
        output: proctor::report::Format,
    },
    /// Lists every probe kind: what it runs, checks and catches, and its parameters.
    Catalog {
        /// Print the Markdown table of docs/catalog.md instead.
        #[arg(long)]
        markdown: bool,
    },
}

/// Logs go to stderr through `tracing`: at `default` level and above, or as `PROCTOR_LOG` says
/// (an `EnvFilter`, e.g. `proctor=debug,kube=info`); `PROCTOR_TRACE` adds each reconcile's
/// stages (target `proctor::trace`).
fn init_logs(default: &str) {
    use tracing_subscriber::EnvFilter;
    let mut filter =
        EnvFilter::try_from_env("PROCTOR_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    if std::env::var_os("PROCTOR_TRACE").is_some()
        && let Ok(trace) = "proctor::trace=info".parse()
    {
        filter = filter.add_directive(trace);
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn main() -> ExitCode {
    let command = Cli::parse().command;
    // The operator logs what it does; a client command shows its own output and only the
    // warnings of a controller it runs in-process (not kube's own error lines for the API
    // errors that it says in its own words and retries).
    init_logs(match command {
        Command::Controller { .. } => "info",
        _ => "warn,kube_client=off,kube_runtime=off",
    });
    match command {
        Command::Catalog { markdown } => {
            if markdown {
                print!("{}", proctor::probes::catalog::markdown());
            } else {
                print!("{}", proctor::probes::catalog::table());
            }
            ExitCode::SUCCESS
        }
        Command::Run(args) => cli(|client| proctor::cli::run(client, args)),
        Command::Report {
            name,
            namespace,
            output,
        } => cli(
            |client| async move { proctor::cli::report(client, &name, namespace, output).await },
        ),
        Command::Crd => match proctor::crd::testrun_crd_yaml() {
            Ok(yaml) => {
                print!("{yaml}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("proctor: rendering the CRD: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Controller {
            default_image,
            max_running_pods,
            concurrency,
            namespace,
            privileged_namespaces,
            metrics_addr,
            leader_elect,
            lease_namespace,
            lease_name,
            lease_duration_seconds,
            identity,
        } => {
            let identity = identity.unwrap_or_else(|| {
                let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .map(|h| h.trim().to_owned())
                    .unwrap_or_else(|_| "proctor".into());
                format!("{host}-{}", std::process::id())
            });
            let config = proctor::controller::Config {
                default_image: default_image.unwrap_or_default(),
                max_running_pods,
                concurrency,
                namespace,
                privileged_namespaces,
                instance: Some(identity.clone()),
                ..proctor::controller::Config::default()
            };
            let election = leader_elect.then(|| proctor::leader::LeaderElection {
                namespace: lease_namespace,
                name: lease_name,
                identity,
                lease_duration: std::time::Duration::from_secs(lease_duration_seconds),
                renew_every: std::time::Duration::from_secs((lease_duration_seconds / 5).max(1)),
            });
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!("starting the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            runtime.block_on(controller(config, metrics_addr, election))
        }
    }
}

async fn controller(
    config: proctor::controller::Config,
    metrics_addr: Option<std::net::SocketAddr>,
    election: Option<proctor::leader::LeaderElection>,
) -> ExitCode {
    use std::sync::atomic::Ordering;
    let health = std::sync::Arc::new(proctor::serve::Health::default());
    if let Some(addr) = metrics_addr {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => {
                tokio::spawn(proctor::serve::serve(listener, health.clone()));
            }
            Err(e) => {
                tracing::error!("serving metrics on {addr}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    // Every write the operator's client sends is counted in the registry /metrics serves.
    let client = match counted_client(&health.metrics).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("no usable kubeconfig or in-cluster config: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = client.apiserver_version().await {
        tracing::error!("the API server does not answer: {e}");
        return ExitCode::FAILURE;
    }
    let mut config = config;
    let explicit = Some(std::mem::take(&mut config.default_image));
    let (image, source) = proctor::defaults::probe_image(&client, explicit).await;
    tracing::info!(image = %image, from = %source, "probe image");
    config.default_image = image;
    config.caches_synced = health.synced.clone();
    config.metrics = health.metrics.clone();
    health.ready.store(true, Ordering::Relaxed);
    let Some(election) = election else {
        tracing::info!("controller starting");
        health.leading.store(true, Ordering::Relaxed);
        return finish(proctor::controller::run(client, config).await);
    };
    tracing::info!(
        lease = %format!("{}/{}", election.namespace, election.name),
        identity = %election.identity,
        "waiting for the lease"
    );
    tokio::select! {
        () = election.acquire(&client) => {}
        _ = tokio::signal::ctrl_c() => return ExitCode::SUCCESS,
        _ = terminated() => return ExitCode::SUCCESS,
    }
    tracing::info!("leading; controller starting");
    health.leading.store(true, Ordering::Relaxed);
    let result = tokio::select! {
        result = proctor::controller::run(client.clone(), config) => result,
        () = election.hold(&client) => {
            // Another replica may lead now: stop at once, before writing anything more.
            tracing::warn!("no longer leading; exiting");
            return ExitCode::FAILURE;
        }
    };
    election.release(&client).await;
    finish(result)
}

/// A client of the current kubeconfig context (or the in-cluster config) whose writes are
/// counted in `metrics`.
async fn counted_client(
    metrics: &std::sync::Arc<proctor::metrics::Metrics>,
) -> Result<kube::Client, kube::Error> {
    let config = kube::Config::infer()
        .await
        .map_err(kube::Error::InferConfig)?;
    Ok(kube::client::ClientBuilder::try_from(config)?
        .with_layer(&metrics.counting_writes())
        .build())
}

/// Runs a client command: its exit code, or 2 when it could not be carried out.
fn cli<F, Fut>(command: F) -> ExitCode
where
    F: FnOnce(kube::Client) -> Fut,
    Fut: std::future::Future<Output = Result<u8, proctor::cli::CliError>>,
{
    let could_not_run = ExitCode::from(proctor::cli::EXIT_COULD_NOT_RUN);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("proctor: starting the async runtime: {e}");
            return could_not_run;
        }
    };
    runtime.block_on(async move {
        let client = match kube::Client::try_default().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("proctor: no usable kubeconfig or in-cluster config: {e}");
                return could_not_run;
            }
        };
        match command(client).await {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                eprintln!("proctor: {e}");
                could_not_run
            }
        }
    })
}

/// SIGTERM (the kubelet stopping the pod).
async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

fn finish(result: Result<(), proctor::controller::Error>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
