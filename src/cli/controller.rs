//! Which controller serves a run of `proctor run`: a deployed one that claimed it, else one
//! started in this process (`--controller`); and what the in-process one leaves behind.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;

use super::*;

pub(super) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".into())
}

/// Where the run is served.
pub(super) enum Served {
    Here,
    Elsewhere,
}

/// Decides which controller serves the run, from the run's own claim (no cluster-wide look-up:
/// a CI identity with rights in its namespace only can tell), and says which.
pub(super) async fn choose_controller(
    runs: &Api<TestRun>,
    name: &str,
    mode: ControllerMode,
    own_claim: &str,
) -> Result<Served, CliError> {
    match mode {
        ControllerMode::InProcess => {
            eprintln!(
                "controller: in this process (--controller=in-process; claimed as {own_claim})"
            );
            return Ok(Served::Here);
        }
        ControllerMode::None => {
            eprintln!(
                "controller: none started here (--controller=none); waiting for one to serve the run"
            );
            return Ok(Served::Elsewhere);
        }
        ControllerMode::Auto => {}
    }
    let asked = Instant::now();
    loop {
        let run = runs
            .get(name)
            .await
            .map_err(api_error(format!("reading TestRun {name}")))?;
        if let Some(claimant) = crate::controller::claim::claimant(&run) {
            if claimant == own_claim {
                return Ok(Served::Here);
            }
            eprintln!("controller: {claimant} serves this run (its proctor.dev/controller claim)");
            return Ok(Served::Elsewhere);
        }
        if asked.elapsed() >= CLAIM_PATIENCE {
            // Nobody claimed it: claim it for a controller here. Of two claims at once one
            // wins (compare-and-set on the run's resourceVersion); the loser looks again.
            let claimed =
                crate::controller::claim_run(&runs.clone().into_client(), &run, own_claim)
                    .await
                    .map_err(|e| CliError::Invalid(format!("claiming TestRun {name}: {e}")))?;
            if claimed {
                eprintln!(
                    "controller: in this process (no deployed controller claimed the run within {}s)",
                    CLAIM_PATIENCE.as_secs()
                );
                return Ok(Served::Here);
            }
            continue;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits (briefly) until the in-process controller has done what follows the final status: no
/// pod of the run holds Proctor's finalizer any more, and every one is being deleted when the
/// run's cleanup policy deletes them (`deletes`).
pub(super) async fn settle(pods: &Api<Pod>, uid: &str, deletes: bool) {
    let params = ListParams::default().labels(&format!("{LABEL_RUN_UID}={uid}"));
    for _ in 0..50 {
        match pods.list(&params).await {
            Ok(list)
                if !list.items.iter().any(|p| {
                    let held = p
                        .finalizers()
                        .iter()
                        .any(|f| f == crate::api::POD_FINALIZER);
                    held || (deletes && p.metadata.deletion_timestamp.is_none())
                }) =>
            {
                return;
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}
