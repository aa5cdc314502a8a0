//! `initContainers`: init containers run one at a time, in order, each to completion, before
//! the app container starts; under `restartPolicy: Never` and `Always`. One that fails keeps
//! the app container from starting: under `Never` the pod fails, under `Always` the init
//! container is run again. Four pods, judged together once each has shown its part. Catches a
//! kubelet or runtime that starts init containers together or out of order, starts the app
//! before they completed, or loses an init container's failure.

use k8s_openapi::api::core::v1::{Container, PodSpec};

use super::{Kind, ProbeKind, empty_dir, field_or, log_text, mount, script};
use crate::api::Probe;
use crate::controller::drive::{At, Step};
use crate::probes::catalog::Entry;
use crate::verdict::{
    ContainerObservation, Evidence, Outcome, PodObservation, check, equal, log_missing,
};

/// Where the init containers and the app note what ran.
pub const STATE: &str = "/mnt/proctor-init";
/// What pod 0's app reads back: each init container's start and end, in order.
pub const ORDER: &str = "init-1-0 start, init-1-0 end, init-2-0 start, init-2-0 end";

/// The containers' names: unique to each pod, so that a fault that takes the same container
/// of a probe's pods for one burst (faulty-race) does not make them collide.
fn init_name(n: usize, index: usize) -> String {
    format!("init-{n}-{index}")
}

fn app_name(index: usize) -> String {
    if index == 0 {
        crate::probes::CONTAINER.to_owned()
    } else {
        format!("app-{index}")
    }
}

pub const KIND: Kind = Kind {
    name: "initContainers",
    resolve,
    entry: Entry {
        kind: "initContainers",
        checks: "two init containers run one after the other, in order, each to completion (exit 0, no restart), before the app container starts, under restartPolicy Never and Always; a failing init container keeps the app from starting: under Never the pod fails and the next init container never runs, under Always it is run again",
        parameters: "-",
        runs: "four pods: init containers that note their start and end (the first sleeps 1 s) under Never and Always, and a failing first init container under Never and Always",
        catches: "init containers started together or out of order, an app started before they completed, an init container's failure lost",
        faults: "exit",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe
        .init_containers
        .as_ref()
        .map(|_| ProbeKind::InitContainers)
}

/// Pods 0 and 1 succeed (Never, Always); pods 2 and 3 have a failing first init container
/// (Never, Always).
pub const PODS: i32 = 4;

fn init(base: &Container, n: usize, index: usize, fails: bool) -> Container {
    let mut c = base.clone();
    c.name = init_name(n, index);
    c.volume_mounts = Some(vec![mount("state", STATE, false)]);
    let name = c.name.clone();
    if fails {
        script(
            &mut c,
            r#"echo "$2 start" >> "$1/ran"; exit 1"#,
            &[STATE, &name],
        );
    } else {
        let pause = if n == 1 { "1" } else { "0" };
        script(
            &mut c,
            r#"echo "$2 start" >> "$1/ran"; sleep "$3"; echo "$2 end" >> "$1/ran""#,
            &[STATE, &name, pause],
        );
    }
    c
}

pub fn shape(spec: &mut PodSpec, index: usize) {
    spec.termination_grace_period_seconds = Some(1);
    spec.restart_policy = Some(
        if index.is_multiple_of(2) {
            "Never"
        } else {
            "Always"
        }
        .into(),
    );
    spec.volumes = Some(vec![empty_dir("state")]);
    let Some(app) = spec.containers.first_mut() else {
        return;
    };
    let fails = index >= 2;
    spec.init_containers = Some(vec![init(app, 1, index, fails), init(app, 2, index, false)]);
    app.name = app_name(index);
    app.volume_mounts = Some(vec![mount("state", STATE, false)]);
    // Under Always the app must not end (it would be started again): it reports, then sleeps.
    let then = if index.is_multiple_of(2) {
        "exit 0"
    } else {
        "exec sleep 3600"
    };
    script(
        app,
        &format!(r#"echo "ran: $(paste -s -d , "$1/ran" | sed 's/,/, /g')"; {then}"#),
        &[STATE],
    );
}

fn container<'a>(pod: &'a PodObservation, name: &str) -> Option<&'a ContainerObservation> {
    pod.containers.iter().find(|c| c.name == name)
}

/// Whether the app container of pod `index` ever started.
fn app_started(pod: &PodObservation, index: usize) -> bool {
    container(pod, &app_name(index)).is_some_and(|c| c.started_at.is_some())
}

/// Judged once pod 0 and pod 2 (Never) ended, pod 1's app runs, and pod 3's failing init
/// container was run again (or its app started).
pub fn step(at: &At) -> Step {
    let [p0, p1, p2, p3] = at.observed else {
        return Step::Wait;
    };
    let retried = container(p3, &init_name(1, 3)).is_some_and(|c| c.restart_count >= 1);
    let ready = p0.is_finished()
        && (app_started(p1, 1) || p1.is_finished())
        && p2.is_finished()
        && (retried || app_started(p3, 3));
    if ready {
        Step::Judge { read_log: true }
    } else {
        Step::Wait
    }
}

/// `a` ended no later than `b` started (the times have 1 s resolution).
fn before(a: Option<&ContainerObservation>, b: Option<&ContainerObservation>) -> bool {
    match (a.and_then(|a| a.finished_at), b.and_then(|b| b.started_at)) {
        (Some(end), Some(start)) => end <= start,
        _ => false,
    }
}

fn completed(c: Option<&ContainerObservation>) -> bool {
    c.is_some_and(|c| c.exit_code == Some(0) && c.restart_count == 0)
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    let [p0, p1, p2, p3] = evidence.pods.as_slice() else {
        return None;
    };
    let Some(log) = log_text(evidence) else {
        return Some(log_missing("initContainers"));
    };
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let in_order = |p: &PodObservation, i: usize| {
        let (first, second) = (
            container(p, &init_name(1, i)),
            container(p, &init_name(2, i)),
        );
        completed(first)
            && completed(second)
            && before(first, second)
            && before(second, container(p, &app_name(i)))
    };
    let never_failed = p2.phase.as_deref() == Some("Failed")
        && !app_started(p2, 2)
        && container(p2, &init_name(2, 2)).is_none_or(|c| c.started_at.is_none());
    let retried = container(p3, &init_name(1, 3)).is_some_and(|c| c.restart_count >= 1);
    let checks = vec![
        equal("neverOrder", ORDER, field_or(log, "not reported", "ran")),
        check(
            "neverInOrder",
            "yes",
            yes_no(in_order(p0, 0) && p0.phase.as_deref() == Some("Succeeded")),
            in_order(p0, 0) && p0.phase.as_deref() == Some("Succeeded"),
        ),
        check(
            "alwaysInOrder",
            "yes",
            yes_no(in_order(p1, 1) && app_started(p1, 1)),
            in_order(p1, 1) && app_started(p1, 1),
        ),
        check(
            "neverFailingInit",
            "pod Failed, the app and the second init container never started",
            format!(
                "pod {}, app {}",
                p2.phase.as_deref().unwrap_or("?"),
                if app_started(p2, 2) {
                    "started"
                } else {
                    "never started"
                }
            ),
            never_failed,
        ),
        check(
            "alwaysFailingInit",
            "the first init container run again, the app never started",
            format!(
                "the first restarted {} times, app {}",
                container(p3, &init_name(1, 3)).map_or(0, |c| c.restart_count),
                if app_started(p3, 3) {
                    "started"
                } else {
                    "never started"
                }
            ),
            retried && !app_started(p3, 3),
        ),
    ];
    Some(Outcome::from_checks(
        checks,
        "init containers ran in order, each to completion, before the app; a failing one held the app back".into(),
    ))
}
