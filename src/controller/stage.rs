//! What a reconcile is doing, for diagnosing a stalled run without a debugger: with
//! `PROCTOR_TRACE` set in the environment, each side effect names itself ([`enter`]) before it
//! awaits the API server, and every stage is logged (target `proctor::trace`) with its run and
//! the time since the reconcile began. Without it, [`enter`] does nothing (not even build its
//! text).

use std::sync::Arc;
use std::time::Instant;

tokio::task_local! {
    static STAGE: Stage;
}

/// The trace of one reconcile.
#[derive(Clone)]
pub struct Stage {
    run: Arc<str>,
    started: Instant,
    trace: bool,
}

impl Stage {
    pub fn new(run: &str) -> Stage {
        Stage::with_trace(run, std::env::var_os("PROCTOR_TRACE").is_some())
    }

    fn with_trace(run: &str, trace: bool) -> Stage {
        Stage {
            run: run.into(),
            started: Instant::now(),
            trace,
        }
    }

    /// Runs `future` with this stage as the one [`enter`] reports to.
    pub async fn scope<F: std::future::Future>(&self, future: F) -> F::Output {
        STAGE.scope(self.clone(), future).await
    }

    /// Logs how the reconcile ended.
    pub fn end(&self, outcome: &dyn std::fmt::Debug) {
        self.log(|| format!("ended: {outcome:?}"));
    }

    fn log(&self, what: impl FnOnce() -> String) {
        if self.trace {
            tracing::info!(
                target: "proctor::trace",
                "{} +{}ms: {}",
                self.run,
                self.started.elapsed().as_millis(),
                what()
            );
        }
    }
}

/// Logs what the current reconcile is about to wait for, when tracing (a no-op outside a
/// reconcile).
pub fn enter(what: impl FnOnce() -> String) {
    let _ = STAGE.try_with(|stage| stage.log(what));
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_stage_is_described_only_inside_a_traced_reconcile() {
        let described = AtomicUsize::new(0);
        let describe = || {
            described.fetch_add(1, Ordering::Relaxed);
            "exec in pod a".to_owned()
        };
        enter(describe);
        Stage::with_trace("ns/quiet", false)
            .scope(async { enter(describe) })
            .await;
        assert_eq!(described.load(Ordering::Relaxed), 0);
        // Logged (so described) where a subscriber records it.
        let _logs = tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_writer(std::io::sink)
                .finish(),
        );
        Stage::with_trace("ns/traced", true)
            .scope(async { enter(describe) })
            .await;
        assert_eq!(described.load(Ordering::Relaxed), 1);
    }
}
