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
        /// Image of probe pods when a TestRun names none.
        #[arg(long, env = "PROCTOR_DEFAULT_IMAGE", default_value = "busybox:1.36.1")]
        default_image: String,
        /// Most probe pods running at once, across all runs.
        #[arg(long, default_value_t = 100)]
        max_running_pods: usize,
        /// TestRuns reconciled at once.
        #[arg(long, default_value_t = 8)]
        concurrency: u16,
        /// Watch only this namespace (default: all namespaces).
        #[arg(long)]
        namespace: Option<String>,
    },
    /// Prints the TestRun CustomResourceDefinition (YAML), e.g. `proctor crd | kubectl apply -f -`.
    Crd,
}

fn main() -> ExitCode {
    match Cli::parse().command {
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
        } => {
            let config = proctor::controller::Config {
                default_image,
                max_running_pods,
                concurrency,
                namespace,
                ..proctor::controller::Config::default()
            };
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("proctor: starting the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            runtime.block_on(async move {
                let client = match kube::Client::try_default().await {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("proctor: no usable kubeconfig or in-cluster config: {e}");
                        return ExitCode::FAILURE;
                    }
                };
                eprintln!("proctor: controller starting");
                match proctor::controller::run(client, config).await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("proctor: {e}");
                        ExitCode::FAILURE
                    }
                }
            })
        }
    }
}
