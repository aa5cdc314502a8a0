//! `custom`: a pod of the user's own (command, env, workingDir, volumes, memory limit,
//! termination-message policy), actions on it (exec, delete with a grace period) and
//! expectations, from the same primitives as the built-in kinds. Every string of the spec
//! reaches the pod as a field (an argument, a value), never as shell source.

use k8s_openapi::api::core::v1::{EnvVar, PodSpec, SecretVolumeSource, Volume};

use super::{Kind, ProbeKind, empty_dir, mount, set_memory};
use crate::api::{
    Check, CustomProbe, Expectations, ExpectedPhase, Probe, TerminationMessagePolicy,
};
use crate::controller::drive::{At, Step};
use crate::probes::CONTAINER;
use crate::probes::catalog::Entry;
use crate::verdict::{
    Evidence, ExecObservation, LogObservation, Outcome, PodObservation, Terminated, check, equal,
    finished_pod, quoted,
};

pub const KIND: Kind = Kind {
    name: "custom",
    resolve,
    entry: Entry {
        kind: "custom",
        checks: "a pod of your own, actions (exec, delete) and expectations from the same primitives",
        parameters: "command, env, workingDir, volumes, actions, expect, ...",
        runs: "the user's command, env, workingDir and volumes; the user's exec and delete actions",
        catches: "whatever the user declares",
        faults: "exit, exec, lifecycle",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.custom.as_ref()?;
    Some(ProbeKind::Custom(Box::new(p.clone())))
}

/// Name of the Secret Proctor creates for a custom probe's `secretData` volume.
pub fn secret_name(pod_name: &str, volume: &str) -> String {
    // Pod names and volume names are DNS labels (no dot): `<pod>.<volume>` is injective, and at
    // most 127 characters fit a Secret's name (a DNS subdomain).
    format!("{pod_name}.{volume}")
}

/// Whether an action deletes the pod (so Proctor must read its final state first).
pub fn deletes(custom: &CustomProbe) -> bool {
    custom.actions.iter().flatten().any(|a| a.delete.is_some())
}

pub fn shape(custom: &CustomProbe, spec: &mut PodSpec, pod_name: &str) {
    spec.active_deadline_seconds = custom.active_deadline_seconds.map(i64::from);
    let Some(container) = spec.containers.first_mut() else {
        return;
    };
    container.command = Some(custom.command.clone());
    container.working_dir = custom.working_dir.clone();
    container.env = custom.env.as_ref().map(|env| {
        env.iter()
            .map(|e| EnvVar {
                name: e.name.clone(),
                value: Some(e.value.clone()),
                ..EnvVar::default()
            })
            .collect()
    });
    if let Some(mib) = custom.memory_limit_mi_b {
        set_memory(container, mib);
    }
    container.termination_message_policy = custom.termination_message_policy.map(|p| {
        match p {
            TerminationMessagePolicy::File => "File",
            TerminationMessagePolicy::FallbackToLogsOnError => "FallbackToLogsOnError",
        }
        .to_owned()
    });
    let volumes = custom.volumes.as_deref().unwrap_or_default();
    if !volumes.is_empty() {
        container.volume_mounts = Some(
            volumes
                .iter()
                .map(|v| mount(&v.name, &v.mount_path, v.read_only.unwrap_or(false)))
                .collect(),
        );
        spec.volumes = Some(
            volumes
                .iter()
                .map(|v| match &v.secret_data {
                    Some(_) => Volume {
                        name: v.name.clone(),
                        secret: Some(SecretVolumeSource {
                            secret_name: Some(secret_name(pod_name, &v.name)),
                            ..SecretVolumeSource::default()
                        }),
                        ..Volume::default()
                    },
                    None => empty_dir(&v.name),
                })
                .collect(),
        );
    }
    debug_assert_eq!(
        spec.containers.first().map(|c| c.name.as_str()),
        Some(CONTAINER)
    );
}

/// Whether the verdict reads the container's log.
pub fn needs_log(custom: &CustomProbe) -> bool {
    custom.expect.log_equals.is_some() || custom.expect.log_contains.is_some()
}

/// The check of one exec action.
pub fn exec_action_check(index: usize, expected: Option<i32>, exec: &ExecObservation) -> Check {
    let observed = match (exec.exit_code, &exec.error) {
        (Some(code), _) => code.to_string(),
        (None, Some(error)) => format!("error: {error}"),
        (None, None) => "no status".into(),
    };
    let name = format!("action{}ExitCode", index + 1);
    match expected {
        Some(code) => check(&name, code, &observed, exec.exit_code == Some(code)),
        None => check(&name, "any", &observed, true),
    }
}

pub fn judge(custom: &CustomProbe, evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |pod, t| {
        expectations(&custom.expect, pod, t, evidence.log.as_ref())
    })
}

fn expectations(
    expect: &Expectations,
    pod: &PodObservation,
    t: &Terminated,
    log: Option<&LogObservation>,
) -> Outcome {
    let phase = pod.phase.as_deref().unwrap_or_default();
    let mut checks = Vec::new();
    if let Some(p) = expect.phase {
        let wanted = match p {
            ExpectedPhase::Succeeded => "Succeeded",
            ExpectedPhase::Failed => "Failed",
        };
        checks.push(equal("phase", wanted, phase));
    }
    if let Some(code) = expect.exit_code {
        checks.push(equal("exitCode", code, t.exit_code));
    }
    if let Some(reason) = &expect.reason {
        checks.push(equal(
            "reason",
            reason.as_str(),
            t.reason.as_deref().unwrap_or(""),
        ));
    }
    if let Some(message) = &expect.termination_message {
        checks.push(equal(
            "terminationMessage",
            quoted(message),
            quoted(t.message.as_deref().unwrap_or("")),
        ));
    }
    if let Some(count) = expect.restart_count {
        checks.push(equal("restartCount", count, pod.restart_count));
    }
    if expect.log_equals.is_some() || expect.log_contains.is_some() {
        let Some(log) = log else {
            return Outcome::error("LogUnavailable", "the container's log could not be read");
        };
        if let Some(whole) = &expect.log_equals {
            match &log.text {
                Some(text) => checks.push(equal("log", quoted(whole), quoted(text))),
                // Longer than any expected log can be (4096 characters): not equal.
                None => checks.push(check(
                    "log",
                    quoted(whole),
                    format!("a log of {} bytes", log.bytes),
                    false,
                )),
            }
        }
        let parts = expect.log_contains.as_deref().unwrap_or_default();
        for (i, part) in parts.iter().enumerate() {
            // Searched while the log streamed (any size); a small log given whole in tests is
            // searched here.
            let found = match (&log.text, log.found.get(i)) {
                (_, Some(found)) if log.found.len() == parts.len() => *found,
                (Some(text), _) => text.contains(part.as_str()),
                (None, _) => false,
            };
            let observed = match (found, log.cut) {
                (true, _) => "present".to_owned(),
                (false, false) => "absent".to_owned(),
                (false, true) => format!("absent from the first {} bytes read", log.bytes),
            };
            checks.push(check("logContains", quoted(part), observed, found));
        }
    }
    let count = checks.len();
    Outcome::from_checks(checks, format!("all {count} expectations held"))
}

/// Carry out the actions in order while the pod runs; judge once it finished (or, after a
/// delete action, once its container ended).
pub fn step(custom: &CustomProbe, at: &At) -> Step {
    let view = at.view;
    let actions = custom.actions.as_deref().unwrap_or_default();
    let done = usize::try_from(view.status.actions_done).unwrap_or_default();
    if done < actions.len() {
        if at.running {
            Step::CustomAction { index: done }
        } else if at.finished {
            Step::Finish(Outcome::error(
                "PodEnded",
                format!(
                    "pod {} ended before action {} of {}",
                    at.first.name,
                    done + 1,
                    actions.len()
                ),
            ))
        } else {
            Step::Wait
        }
    } else if at.finished || (at.first.terminated().is_some() && view.deletion_requested()) {
        Step::Judge {
            read_log: needs_log(custom),
        }
    } else {
        Step::Wait
    }
}
