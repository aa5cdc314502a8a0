//! What a reconcile is doing right now, so that one that takes too long can say where it is
//! stuck: each side effect names itself ([`enter`]) before it awaits the API server.
//!
//! With `PROCTOR_TRACE` set in the environment, every stage is also logged with its run and the
//! time since the reconcile began (for diagnosing a stall without a debugger).

use std::sync::{Arc, Mutex};
use std::time::Instant;

tokio::task_local! {
    static STAGE: Stage;
}

/// The stage of one reconcile; shared with whoever times it out.
#[derive(Clone)]
pub struct Stage {
    run: Arc<str>,
    started: Instant,
    current: Arc<Mutex<String>>,
    trace: bool,
}

impl Stage {
    pub fn new(run: &str) -> Stage {
        Stage {
            run: run.into(),
            started: Instant::now(),
            current: Arc::new(Mutex::new("starting".into())),
            trace: std::env::var_os("PROCTOR_TRACE").is_some(),
        }
    }

    /// Runs `future` with this stage as the one [`enter`] updates.
    pub async fn scope<F: std::future::Future>(&self, future: F) -> F::Output {
        STAGE.scope(self.clone(), future).await
    }

    /// What the reconcile was last doing.
    pub fn current(&self) -> String {
        self.current
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|_| "unknown".into())
    }

    /// Logs how the reconcile ended (when tracing).
    pub fn end(&self, outcome: &dyn std::fmt::Debug) {
        if self.trace {
            self.set(format!("ended: {outcome:?}"));
        }
    }

    fn set(&self, what: String) {
        if self.trace {
            eprintln!(
                "proctor: trace: {} +{}ms: {what}",
                self.run,
                self.started.elapsed().as_millis()
            );
        }
        if let Ok(mut current) = self.current.lock() {
            *current = what;
        }
    }
}

/// Records what the current reconcile is about to wait for (a no-op outside a reconcile).
pub fn enter(what: impl FnOnce() -> String) {
    let _ = STAGE.try_with(|stage| stage.set(what()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_last_stage_entered_is_current_and_outside_a_scope_nothing_happens() {
        enter(|| unreachable!("no stage outside a scope"));
        let stage = Stage::new("ns/run");
        stage
            .scope(async {
                enter(|| "reading the log of pod a".into());
                enter(|| "exec in pod b".into());
            })
            .await;
        assert_eq!(stage.current(), "exec in pod b");
    }
}
