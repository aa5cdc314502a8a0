//! A cache's readiness that any number of tasks can wait for at once.
//!
//! kube's `Store::wait_until_ready` (kube-runtime 5.0) waits on a oneshot channel that keeps a
//! single waker: when several tasks wait at once, each poll replaces the previous task's waker,
//! and when the cache fills only the last of them is woken. The others wait forever. This hung
//! the reconcile of one run whenever a controller started with more than one run to reconcile
//! (seen after every leader handover). Here the store's future is polled through a
//! [`Shared`] future, which keeps every waiter's waker and wakes them all.
//!
//! The controller's own store is waited for by kube's runner; nothing else may wait on it (a
//! second waiter would take the runner's wakeup).

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use kube::runtime::reflector::Store;

#[derive(Clone)]
pub struct Ready(Shared<BoxFuture<'static, bool>>);

impl Ready {
    /// Readiness of `store`: `true` once it holds a complete list, `false` if its writer is gone.
    pub fn of(store: Store<k8s_openapi::api::core::v1::Pod>) -> Ready {
        Ready(
            async move { store.wait_until_ready().await.is_ok() }
                .boxed()
                .shared(),
        )
    }

    pub async fn wait(&self) -> bool {
        self.0.clone().await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use k8s_openapi::api::core::v1::Pod;
    use kube::runtime::reflector::{self, store::Writer};
    use kube::runtime::watcher::Event;

    use super::*;

    /// Lets every spawned waiter poll once (and so register its waker).
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    /// The first complete list arrives.
    fn fill(writer: &mut Writer<Pod>) {
        writer.apply_watcher_event(&Event::Init);
        writer.apply_watcher_event(&Event::InitDone);
    }

    /// How many of `waiters` finish with `true`. Time is paused, so a waiter that is never
    /// woken shows as a timeout at once.
    async fn woken(waiters: Vec<tokio::task::JoinHandle<bool>>) -> usize {
        let mut woken = 0;
        for waiter in waiters {
            if let Ok(Ok(true)) = tokio::time::timeout(Duration::from_secs(5), waiter).await {
                woken += 1;
            }
        }
        woken
    }

    #[tokio::test(start_paused = true)]
    async fn every_waiter_is_woken_when_the_cache_fills() {
        let (store, mut writer) = reflector::store::<Pod>();
        let ready = Ready::of(store);
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let ready = ready.clone();
                tokio::spawn(async move { ready.wait().await })
            })
            .collect();
        settle().await;
        assert!(waiters.iter().all(|w| !w.is_finished()), "ready too early");
        fill(&mut writer);
        assert_eq!(woken(waiters).await, 3);
        assert!(ready.wait().await, "and later waiters pass at once");
    }

    /// Why [`Ready`] exists. If kube's store wakes every waiter one day, this fails, and `Ready`
    /// can go.
    #[tokio::test(start_paused = true)]
    async fn kubes_store_wakes_only_the_last_of_several_waiters() {
        let (store, mut writer) = reflector::store::<Pod>();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.wait_until_ready().await.is_ok() })
            })
            .collect();
        settle().await;
        fill(&mut writer);
        assert_eq!(woken(waiters).await, 1);
    }
}
