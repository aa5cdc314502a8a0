//! Exec actions of custom probes run in the background, outside any reconcile: a long one
//! holds none of the controller's reconcile slots (`--concurrency`), so a few of them cannot
//! stall every other run. Each is known by its key (run UID, probe, attempt, action index):
//! claimed when its start is about to be recorded in the status, running, then done with its
//! outcome, which the next reconcile of its run takes. Only this process's claims are here: an
//! action recorded as started that is not (a controller stopped meanwhile) is never run again.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Error;
use crate::verdict::ExecObservation;

/// How long the outcome of an action nobody took is kept (its probe ended meanwhile).
const KEEP_UNTAKEN: Duration = Duration::from_secs(600);

enum State {
    Claimed,
    Running,
    Done(Result<ExecObservation, Error>),
}

/// How long a claim that never started is kept (its run went away between the two).
const KEEP_CLAIMED: Duration = Duration::from_secs(3600);

/// Where an action stands, as [`Actions::poll`] tells.
pub(super) enum Poll {
    /// Claimed by this process and not running: start it.
    Claimed,
    /// Running in the background: look again later.
    Running,
    /// Ended with this outcome (kept until forgotten; after an error, claimed again so that a
    /// retry runs it).
    Done(Result<ExecObservation, Error>),
}

#[derive(Default)]
pub(super) struct Actions {
    states: Mutex<HashMap<String, (State, Instant)>>,
}

impl Actions {
    /// Claims `key` for this process (its start is about to be recorded).
    pub(super) fn claim(&self, key: &str) {
        if let Ok(mut states) = self.states.lock() {
            states.retain(|_, (state, at)| match state {
                State::Done(_) => at.elapsed() < KEEP_UNTAKEN,
                State::Claimed => at.elapsed() < KEEP_CLAIMED,
                // Bounded by its probe's deadline: it ends, then is kept as done.
                State::Running => true,
            });
            states.insert(key.to_owned(), (State::Claimed, Instant::now()));
        }
    }

    /// Where `key` stands; `None`: not claimed by this process. An outcome stays until
    /// [`Actions::forget`] (once the status that records it is written: a reconcile that fails
    /// before that takes it again); an action that could not be carried out is claimed again,
    /// so that a retry runs it.
    pub(super) fn poll(&self, key: &str) -> Option<Poll> {
        let mut states = self.states.lock().ok()?;
        match states.get(key)? {
            (State::Claimed, _) => return Some(Poll::Claimed),
            (State::Running, _) => return Some(Poll::Running),
            (State::Done(Ok(observed)), _) => return Some(Poll::Done(Ok(observed.clone()))),
            (State::Done(Err(_)), _) => {}
        }
        let (State::Done(outcome), _) = states.remove(key)? else {
            return None;
        };
        states.insert(key.to_owned(), (State::Claimed, Instant::now()));
        Some(Poll::Done(outcome))
    }

    /// Runs the claimed action `key` in the background; its outcome waits for [`Actions::poll`].
    pub(super) fn start(
        self: &Arc<Self>,
        key: &str,
        action: impl Future<Output = Result<ExecObservation, Error>> + Send + 'static,
    ) {
        if let Ok(mut states) = self.states.lock() {
            states.insert(key.to_owned(), (State::Running, Instant::now()));
        }
        let actions = Arc::clone(self);
        let key = key.to_owned();
        let action = tracing::Instrument::in_current_span(action);
        tokio::spawn(async move {
            let outcome = action.await;
            if let Ok(mut states) = actions.states.lock() {
                states.insert(key, (State::Done(outcome), Instant::now()));
            }
        });
    }

    /// Forgets `key` (its outcome is recorded in a written status).
    pub(super) fn forget(&self, key: &str) {
        if let Ok(mut states) = self.states.lock() {
            states.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited(code: i32) -> ExecObservation {
        ExecObservation {
            exit_code: Some(code),
            error: None,
        }
    }

    #[tokio::test]
    async fn an_action_runs_once_in_the_background_and_its_outcome_is_taken_once() {
        let actions = Arc::new(Actions::default());
        assert!(actions.poll("a").is_none(), "not claimed here");
        actions.claim("a");
        assert!(matches!(actions.poll("a"), Some(Poll::Claimed)));
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        actions.start("a", async move {
            let _ = released.await;
            Ok(exited(3))
        });
        assert!(matches!(actions.poll("a"), Some(Poll::Running)));
        let _ = release.send(());
        let outcome = loop {
            match actions.poll("a") {
                Some(Poll::Running) => tokio::task::yield_now().await,
                Some(Poll::Done(outcome)) => break outcome,
                _ => panic!("the action vanished"),
            }
        };
        assert_eq!(outcome.unwrap().exit_code, Some(3));
        // Until the status that records it is written, a retry sees it again.
        assert!(matches!(actions.poll("a"), Some(Poll::Done(Ok(_)))));
        actions.forget("a");
        assert!(actions.poll("a").is_none(), "forgotten once recorded");
    }

    #[tokio::test]
    async fn an_action_that_could_not_be_carried_out_is_claimed_again_for_a_retry() {
        let actions = Arc::new(Actions::default());
        actions.claim("b");
        actions.start("b", async {
            Err(Error::Timeout {
                what: "exec".into(),
                seconds: 1,
            })
        });
        let outcome = loop {
            match actions.poll("b") {
                Some(Poll::Running) => tokio::task::yield_now().await,
                Some(Poll::Done(outcome)) => break outcome,
                _ => panic!("the action vanished"),
            }
        };
        assert!(outcome.is_err());
        assert!(matches!(actions.poll("b"), Some(Poll::Claimed)));
        actions.forget("b");
        assert!(actions.poll("b").is_none());
    }
}
