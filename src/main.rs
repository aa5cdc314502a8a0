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
    }
}
