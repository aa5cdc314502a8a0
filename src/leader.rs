//! Leader election on a `coordination.k8s.io/v1` Lease, so that of several replicas exactly one
//! reconciles and writes.
//!
//! A candidate takes the Lease when nobody holds it or its holder has not renewed it for
//! `leaseDurationSeconds`; every write is a replace carrying the Lease's `resourceVersion`, so of
//! two candidates racing for it one gets a conflict. The leader renews every
//! [`LeaderElection::renew_every`]; a leader that cannot renew before its own lease would expire
//! stops leading (the process exits and is restarted as a candidate). On shutdown the leader
//! gives the Lease up so a standby takes over at once.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};

/// Where the Lease is, who we are, and the timings.
#[derive(Clone, Debug)]
pub struct LeaderElection {
    pub namespace: String,
    pub name: String,
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_every: Duration,
}

/// What one look at the Lease decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Nobody holds it, or its holder let it expire: take it.
    Take,
    /// We hold it: renew it.
    Renew,
    /// Someone else holds it and renewed it in time: wait.
    Wait { holder: String },
}

/// How one attempt to take or renew the Lease ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// We hold it until at least now plus the lease duration.
    Leading,
    /// Someone else holds it and renewed it in time.
    Held { holder: String },
    /// Someone else wrote it between our read and our write.
    Conflict,
}

/// Pure: what to do about `spec`, seen at `now`, as `identity`.
pub fn decide(spec: Option<&LeaseSpec>, identity: &str, now: Timestamp) -> Decision {
    let Some(spec) = spec else {
        return Decision::Take;
    };
    let holder = spec.holder_identity.clone().unwrap_or_default();
    if holder.is_empty() {
        return Decision::Take;
    }
    if holder == identity {
        return Decision::Renew;
    }
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(0));
    let renewed = spec
        .renew_time
        .as_ref()
        .or(spec.acquire_time.as_ref())
        .map(|t| t.0);
    match renewed {
        Some(at) if now < at + SignedDuration::from_secs(duration) => Decision::Wait { holder },
        _ => Decision::Take,
    }
}

impl LeaderElection {
    fn api(&self, client: &Client) -> Api<Lease> {
        Api::namespaced(client.clone(), &self.namespace)
    }

    fn duration_seconds(&self) -> i32 {
        i32::try_from(self.lease_duration.as_secs()).unwrap_or(15)
    }

    /// One attempt to take or renew the Lease.
    pub async fn try_lead(&self, client: &Client) -> Result<Attempt, kube::Error> {
        let api = self.api(client);
        let now = Timestamp::now();
        let existing = api.get_opt(&self.name).await?;
        let decision = decide(
            existing.as_ref().and_then(|l| l.spec.as_ref()),
            &self.identity,
            now,
        );
        let Some(mut lease) = existing else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    namespace: Some(self.namespace.clone()),
                    // How `proctor run` finds out that a controller serves the cluster.
                    labels: Some(
                        [("app.kubernetes.io/name".to_owned(), "proctor".to_owned())].into(),
                    ),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(self.duration_seconds()),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(Attempt::Leading),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::Conflict),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        match decision {
            Decision::Wait { holder } => return Ok(Attempt::Held { holder }),
            Decision::Take => {
                spec.holder_identity = Some(self.identity.clone());
                spec.acquire_time = Some(MicroTime(now));
                spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            }
            Decision::Renew => {}
        }
        spec.renew_time = Some(MicroTime(now));
        spec.lease_duration_seconds = Some(self.duration_seconds());
        // The resourceVersion read above makes this a compare-and-swap.
        match api
            .replace(&lease.name_any(), &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(Attempt::Leading),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::Conflict),
            Err(e) => Err(e),
        }
    }

    /// Waits until this replica leads.
    pub async fn acquire(&self, client: &Client) {
        let mut last_holder = String::new();
        loop {
            match self.try_lead(client).await {
                Ok(Attempt::Leading) => return,
                // Someone else took it first: who, the next look tells.
                Ok(Attempt::Conflict) => {}
                Ok(Attempt::Held { holder }) => {
                    if holder != last_holder {
                        tracing::info!(lease = %self.name, holder = %holder, "standing by");
                        last_holder = holder;
                    }
                }
                Err(e) => tracing::warn!(lease = %self.name, "reading the lease: {e}"),
            }
            tokio::time::sleep(self.renew_every).await;
        }
    }

    /// Renews the Lease until renewing fails for longer than the lease lasts, or someone else
    /// holds it: then returns (leadership is lost).
    pub async fn hold(&self, client: &Client) {
        let mut last_renewed = std::time::Instant::now();
        loop {
            tokio::time::sleep(self.renew_every).await;
            // A renewal that never answers must not outlast the lease: by then a standby may
            // lead, and this replica must have stopped.
            let left = self
                .lease_duration
                .saturating_sub(last_renewed.elapsed() + self.renew_every);
            let attempt = match tokio::time::timeout(left, self.try_lead(client)).await {
                Ok(attempt) => attempt,
                Err(_) => {
                    tracing::warn!(lease = %self.name, "renewing the lease: no answer");
                    return;
                }
            };
            match attempt {
                Ok(Attempt::Leading) => last_renewed = std::time::Instant::now(),
                Ok(Attempt::Held { .. } | Attempt::Conflict) => {
                    tracing::warn!(lease = %self.name, "lost the lease");
                    return;
                }
                Err(e) => tracing::warn!(lease = %self.name, "renewing the lease: {e}"),
            }
            // Stop before the lease could have expired for the others.
            if last_renewed.elapsed() + self.renew_every >= self.lease_duration {
                tracing::warn!(lease = %self.name, "could not renew the lease in time");
                return;
            }
        }
    }

    /// Gives the Lease up (when we hold it), so that a standby takes over without waiting for it
    /// to expire.
    pub async fn release(&self, client: &Client) {
        let api = self.api(client);
        let Ok(Some(mut lease)) = api.get_opt(&self.name).await else {
            return;
        };
        let Some(spec) = lease.spec.as_mut() else {
            return;
        };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.renew_time = None;
        if api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
            .is_ok()
        {
            tracing::info!(lease = %self.name, "released the lease");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(holder: &str, renewed: i64, duration: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            renew_time: Some(MicroTime(Timestamp::from_second(renewed).unwrap())),
            lease_duration_seconds: Some(duration),
            ..LeaseSpec::default()
        }
    }

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    #[test]
    fn a_lease_is_taken_when_free_or_expired_and_renewed_by_its_holder() {
        assert_eq!(decide(None, "a", at(100)), Decision::Take);
        assert_eq!(
            decide(Some(&spec("", 90, 15)), "a", at(100)),
            Decision::Take
        );
        assert_eq!(
            decide(Some(&spec("b", 90, 15)), "a", at(100)),
            Decision::Wait { holder: "b".into() }
        );
        // Expired: renewed at 80 for 15 s, seen at 100.
        assert_eq!(
            decide(Some(&spec("b", 80, 15)), "a", at(100)),
            Decision::Take
        );
        assert_eq!(
            decide(Some(&spec("a", 10, 15)), "a", at(100)),
            Decision::Renew
        );
        let released = LeaseSpec {
            holder_identity: None,
            ..spec("x", 99, 15)
        };
        assert_eq!(decide(Some(&released), "a", at(100)), Decision::Take);
    }
}
