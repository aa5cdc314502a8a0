//! Pure: which probes of a run may start in this reconcile (the run's `parallelism`, and the
//! controller's global cap on running pods), and when a running probe is looked at again.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::drive;
use super::reconcile::{duration_until, is_owned_by};
use crate::api::{LABEL_RUN_UID, ProbePhase, ProbeStatus};
use crate::probes::ResolvedProbe;
use crate::verdict::PodObservation;

/// A run's room to start probes in one reconcile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slots {
    /// Probes of the run that may run at once.
    pub parallelism: usize,
    /// Probes of the run running now.
    pub running: usize,
    /// Pods that may still start under the global cap.
    pub free_pods: usize,
    /// The global cap.
    pub max_pods: usize,
}

impl Slots {
    /// Whether an attempt of `pods` pods fits under the global cap. One needing more pods than
    /// the whole cap may start once nothing else runs, or it would never start at all.
    pub fn room(&self, pods: usize) -> bool {
        self.free_pods >= pods || self.free_pods == self.max_pods
    }

    /// Whether a probe of `pods` pods may start now.
    pub fn can_start(&self, pods: usize) -> bool {
        self.running < self.parallelism && self.room(pods)
    }

    /// Accounts for what driving one probe did: it started or finished, or created the pods of
    /// an attempt.
    pub fn account(&mut self, before: &ProbeStatus, after: &ProbeStatus, pods: usize) {
        let was_running = before.phase == ProbePhase::Running;
        if !was_running && after.phase == ProbePhase::Running {
            self.running += 1;
        }
        if was_running && after.phase == ProbePhase::Finished {
            self.running = self.running.saturating_sub(1);
        }
        if after.attempts > before.attempts {
            self.free_pods = self.free_pods.saturating_sub(pods);
        }
    }
}

/// Pods that count against the global cap: the unfinished pods in the cache of the runs this
/// controller serves (`served`: their UIDs; anyone may label a pod as Proctor's, and such pods
/// must not stall every run), and `unseen` ones just created that the cache does not show yet.
pub fn busy_pods(cached: &[Arc<Pod>], served: &HashSet<String>, unseen: usize) -> usize {
    cached
        .iter()
        .filter(|p| {
            p.labels()
                .get(LABEL_RUN_UID)
                .is_some_and(|uid| served.contains(uid) && is_owned_by(p, uid))
        })
        .filter(|p| !PodObservation::of(p).is_finished())
        .count()
        + unseen
}

/// The pods of the run's running probes that the cache does not show yet (`shown` says which
/// it does); pods already being deleted do not count.
pub fn unseen(probes: &[ProbeStatus], shown: impl Fn(&str) -> bool) -> usize {
    probes
        .iter()
        .filter(|p| p.phase == ProbePhase::Running)
        .filter(|p| p.delete_requested_at().is_none())
        .flat_map(|p| p.pods.iter())
        .filter(|name| !shown(name))
        .count()
}

/// When to look at a running probe again without a pod event: at its deadline, and every two
/// seconds once its pod was deleted (one that never ends, or leaves processes behind, shows
/// only when someone looks).
pub fn look_again(probe: &ResolvedProbe, ps: &ProbeStatus, now: Timestamp) -> Option<Duration> {
    if ps.phase != ProbePhase::Running {
        return None;
    }
    let deadline = drive::deadline(probe, ps).map(|d| duration_until(now, d));
    let deleted = ps.delete_requested_at().map(|_| Duration::from_secs(2));
    // Kinds judged from a log at a time, not at a pod's change.
    let polled = probe.kind.polled().then(|| Duration::from_secs(2));
    [deadline, deleted, polled].into_iter().flatten().min()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;
    use crate::api::TerminationTimeline;
    use crate::probes::ProbeKind;

    fn slots(running: usize, free_pods: usize) -> Slots {
        Slots {
            parallelism: 2,
            running,
            free_pods,
            max_pods: 10,
        }
    }

    #[test]
    fn a_probe_starts_within_the_runs_parallelism_and_the_global_pod_cap() {
        assert!(slots(0, 10).can_start(1));
        assert!(!slots(2, 10).can_start(1), "parallelism");
        assert!(!slots(0, 3).can_start(4), "pod cap");
        assert!(slots(0, 4).can_start(4));
        // Bigger than the whole cap: only alone.
        assert!(slots(0, 10).can_start(50));
        assert!(!slots(0, 9).can_start(50));
    }

    #[test]
    fn starts_finishes_and_attempts_are_accounted() {
        let mut s = slots(1, 10);
        let pending = ProbeStatus::default();
        let started = ProbeStatus {
            phase: ProbePhase::Running,
            attempts: 1,
            ..ProbeStatus::default()
        };
        s.account(&pending, &started, 3);
        assert_eq!((s.running, s.free_pods), (2, 7));
        let finished = ProbeStatus {
            phase: ProbePhase::Finished,
            ..started.clone()
        };
        s.account(&started, &finished, 3);
        assert_eq!((s.running, s.free_pods), (1, 7));
    }

    #[test]
    fn unseen_pods_are_those_of_running_probes_not_being_deleted() {
        let running = |pods: &[&str], deleted: bool| ProbeStatus {
            phase: ProbePhase::Running,
            pods: pods.iter().map(|p| (*p).to_owned()).collect(),
            termination: deleted.then(|| TerminationTimeline {
                delete_requested_at: Some(Time(Timestamp::UNIX_EPOCH)),
                ..TerminationTimeline::default()
            }),
            ..ProbeStatus::default()
        };
        let probes = [
            running(&["a", "b"], false),
            running(&["c"], true),
            ProbeStatus {
                pods: vec!["d".into()],
                ..ProbeStatus::default()
            },
        ];
        assert_eq!(unseen(&probes, |name| name == "a"), 1);
    }

    #[test]
    fn a_running_probe_is_looked_at_by_its_deadline_and_often_once_deleted() {
        let probe = ResolvedProbe {
            name: "p".into(),
            kind: ProbeKind::ExitCode { code: 1 },
            image: "i".into(),
            runtime_class_name: None,
            timeout_seconds: 60,
            repeat: 1,
        };
        let t = |s: i64| Timestamp::from_second(1_800_000_000 + s).unwrap();
        let mut ps = ProbeStatus {
            phase: ProbePhase::Running,
            started_at: Some(Time(t(0))),
            ..ProbeStatus::default()
        };
        assert_eq!(
            look_again(&probe, &ps, t(50)),
            Some(Duration::from_secs(10))
        );
        ps.termination = Some(TerminationTimeline {
            delete_requested_at: Some(Time(t(50))),
            ..TerminationTimeline::default()
        });
        assert_eq!(look_again(&probe, &ps, t(50)), Some(Duration::from_secs(2)));
        ps.phase = ProbePhase::Finished;
        assert_eq!(look_again(&probe, &ps, t(50)), None);
    }
}
