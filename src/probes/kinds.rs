//! Each probe kind with its parameters resolved, and the shape of its pods.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EnvVar, Pod, PodSpec, ResourceRequirements,
    SecretVolumeSource, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::{CONTAINER, InvalidProbe};
use crate::api::{Probe, TerminationMessagePolicy};

/// Name of the variable the `env` probe sets when the spec names none.
pub const DEFAULT_ENV_NAME: &str = "PROCTOR_PROBE_VALUE";
/// Where env handling breaks: `=` (naive `split('=')`), spaces, quotes, non-ASCII.
pub const DEFAULT_ENV_VALUE: &str = "key=value with spaces, 'single' \"double\" and ünïcödé ✓";
/// CJK, emoji, a combining mark (e + U+0301) and right-to-left script.
pub const DEFAULT_UNICODE_TEXT: &str = "héllo 世界 🚀 e\u{301} مرحبا";
const DEFAULT_STDERR_TEXT: &str = "proctor stderr marker";
const DEFAULT_TERMINATION_TEXT: &str = "proctor termination message";
/// A path that exists in no image.
pub const MISSING_BINARY: &str = "/nonexistent/proctor-probe-binary";
/// Printed by long-running probe containers once they are set up (traps installed, children
/// started); Proctor acts on them only after seeing it.
pub const READY_MARKER: &str = "proctor-ready";
/// Printed (and written to the termination log) by the graceful-shutdown probe on SIGTERM.
pub const TERM_MARKER: &str = "got-TERM";
/// Mount point of the read-only volume probe.
pub const READ_ONLY_MOUNT: &str = "/mnt/proctor-read-only";
/// Grace period of the deadline probe's pod, which exits on TERM at once: a runtime that drops
/// the TERM still ends it this soon after the deadline, one that cannot kill it does not.
pub const DEADLINE_GRACE_SECONDS: i64 = 5;

/// A probe kind with every parameter resolved to the value that will be used.
#[derive(Clone, Debug, PartialEq)]
pub enum ProbeKind {
    ExitCode {
        code: i32,
    },
    CommandNotFound,
    Env {
        name: String,
        value: String,
    },
    Stderr {
        text: String,
    },
    ProcessGroupKill {
        children: i32,
    },
    ConcurrentStart {
        pods: i32,
    },
    ExecExitCode {
        code: i32,
    },
    ExecMissingBinary,
    LargeOutput {
        lines: i32,
    },
    WorkingDir {
        path: String,
    },
    GracefulShutdown {
        grace_period_seconds: i32,
    },
    ReadOnlyVolume,
    RapidCreateDelete {
        pods: i32,
    },
    OomKill {
        limit_mib: i32,
    },
    DeadlineExceeded {
        seconds: i32,
    },
    TerminationMessage {
        text: String,
        fallback_to_logs: bool,
    },
    UnicodeOutput {
        text: String,
    },
    RestartCount {
        failures: i32,
    },
    Custom(Box<crate::api::CustomProbe>),
}

impl ProbeKind {
    /// The kind the probe sets, with defaults applied.
    pub fn of(probe: &Probe) -> Result<ProbeKind, InvalidProbe> {
        let mut kinds: Vec<(&'static str, ProbeKind)> = Vec::new();
        let mut add = |name, kind: Option<ProbeKind>| {
            if let Some(kind) = kind {
                kinds.push((name, kind));
            }
        };
        add(
            "exitCode",
            probe
                .exit_code
                .as_ref()
                .map(|p| ProbeKind::ExitCode { code: p.code }),
        );
        add(
            "commandNotFound",
            probe
                .command_not_found
                .as_ref()
                .map(|_| ProbeKind::CommandNotFound),
        );
        add(
            "env",
            probe.env.as_ref().map(|p| ProbeKind::Env {
                name: p.name.clone().unwrap_or_else(|| DEFAULT_ENV_NAME.into()),
                value: p.value.clone().unwrap_or_else(|| DEFAULT_ENV_VALUE.into()),
            }),
        );
        add(
            "stderr",
            probe.stderr.as_ref().map(|p| ProbeKind::Stderr {
                text: p.text.clone().unwrap_or_else(|| DEFAULT_STDERR_TEXT.into()),
            }),
        );
        add(
            "processGroupKill",
            probe
                .process_group_kill
                .as_ref()
                .map(|p| ProbeKind::ProcessGroupKill {
                    children: p.children.unwrap_or(2),
                }),
        );
        add(
            "concurrentStart",
            probe
                .concurrent_start
                .as_ref()
                .map(|p| ProbeKind::ConcurrentStart {
                    pods: p.pods.unwrap_or(10),
                }),
        );
        add(
            "execExitCode",
            probe
                .exec_exit_code
                .as_ref()
                .map(|p| ProbeKind::ExecExitCode { code: p.code }),
        );
        add(
            "execMissingBinary",
            probe
                .exec_missing_binary
                .as_ref()
                .map(|_| ProbeKind::ExecMissingBinary),
        );
        add(
            "largeOutput",
            probe.large_output.as_ref().map(|p| ProbeKind::LargeOutput {
                lines: p.lines.unwrap_or(20000),
            }),
        );
        add(
            "workingDir",
            probe.working_dir.as_ref().map(|p| ProbeKind::WorkingDir {
                path: p.path.clone().unwrap_or_else(|| "/tmp".into()),
            }),
        );
        add(
            "gracefulShutdown",
            probe
                .graceful_shutdown
                .as_ref()
                .map(|p| ProbeKind::GracefulShutdown {
                    grace_period_seconds: p.grace_period_seconds.unwrap_or(10),
                }),
        );
        add(
            "readOnlyVolume",
            probe
                .read_only_volume
                .as_ref()
                .map(|_| ProbeKind::ReadOnlyVolume),
        );
        add(
            "rapidCreateDelete",
            probe
                .rapid_create_delete
                .as_ref()
                .map(|p| ProbeKind::RapidCreateDelete {
                    pods: p.pods.unwrap_or(10),
                }),
        );
        add(
            "oomKill",
            probe.oom_kill.as_ref().map(|p| ProbeKind::OomKill {
                limit_mib: p.limit_mi_b.unwrap_or(16),
            }),
        );
        add(
            "deadlineExceeded",
            probe
                .deadline_exceeded
                .as_ref()
                .map(|p| ProbeKind::DeadlineExceeded {
                    seconds: p.seconds.unwrap_or(5),
                }),
        );
        add(
            "terminationMessage",
            probe
                .termination_message
                .as_ref()
                .map(|p| ProbeKind::TerminationMessage {
                    text: p
                        .text
                        .clone()
                        .unwrap_or_else(|| DEFAULT_TERMINATION_TEXT.into()),
                    fallback_to_logs: p.fallback_to_logs_on_error.unwrap_or(false),
                }),
        );
        add(
            "unicodeOutput",
            probe
                .unicode_output
                .as_ref()
                .map(|p| ProbeKind::UnicodeOutput {
                    text: p
                        .text
                        .clone()
                        .unwrap_or_else(|| DEFAULT_UNICODE_TEXT.into()),
                }),
        );
        add(
            "restartCount",
            probe
                .restart_count
                .as_ref()
                .map(|p| ProbeKind::RestartCount {
                    failures: p.failures.unwrap_or(2),
                }),
        );
        add(
            "custom",
            probe
                .custom
                .as_ref()
                .map(|p| ProbeKind::Custom(Box::new(p.clone()))),
        );

        match kinds.len() {
            1 => Ok(kinds.remove(0).1),
            0 => Err(InvalidProbe::NoKind {
                probe: probe.name.clone(),
            }),
            count => Err(InvalidProbe::SeveralKinds {
                probe: probe.name.clone(),
                count,
                kinds: kinds.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
            }),
        }
    }

    /// The kind's field name in the spec, as shown in the status.
    pub fn name(&self) -> &'static str {
        match self {
            ProbeKind::ExitCode { .. } => "exitCode",
            ProbeKind::CommandNotFound => "commandNotFound",
            ProbeKind::Env { .. } => "env",
            ProbeKind::Stderr { .. } => "stderr",
            ProbeKind::ProcessGroupKill { .. } => "processGroupKill",
            ProbeKind::ConcurrentStart { .. } => "concurrentStart",
            ProbeKind::ExecExitCode { .. } => "execExitCode",
            ProbeKind::ExecMissingBinary => "execMissingBinary",
            ProbeKind::LargeOutput { .. } => "largeOutput",
            ProbeKind::WorkingDir { .. } => "workingDir",
            ProbeKind::GracefulShutdown { .. } => "gracefulShutdown",
            ProbeKind::ReadOnlyVolume => "readOnlyVolume",
            ProbeKind::RapidCreateDelete { .. } => "rapidCreateDelete",
            ProbeKind::OomKill { .. } => "oomKill",
            ProbeKind::DeadlineExceeded { .. } => "deadlineExceeded",
            ProbeKind::TerminationMessage { .. } => "terminationMessage",
            ProbeKind::UnicodeOutput { .. } => "unicodeOutput",
            ProbeKind::RestartCount { .. } => "restartCount",
            ProbeKind::Custom(_) => "custom",
        }
    }

    /// Pods one attempt creates.
    pub fn pod_count(&self) -> i32 {
        match self {
            ProbeKind::ConcurrentStart { pods } | ProbeKind::RapidCreateDelete { pods } => *pods,
            _ => 1,
        }
    }

    /// Whether Proctor deletes the pod as part of the probe and must read its final state
    /// first: such pods carry [`crate::api::POD_FINALIZER`] from creation.
    pub fn observes_deletion(&self) -> bool {
        matches!(
            self,
            ProbeKind::GracefulShutdown { .. } | ProbeKind::ProcessGroupKill { .. }
        ) || matches!(self, ProbeKind::Custom(c) if c.actions.iter().flatten().any(|a| a.delete.is_some()))
    }

    /// Sets the command, and whatever else the kind needs, on a base pod.
    pub fn shape_pod(&self, pod: &mut Pod) {
        let observes_deletion = self.observes_deletion();
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        let Some(spec) = pod.spec.as_mut() else {
            return;
        };
        let Some(container) = spec.containers.first_mut() else {
            return;
        };
        match self {
            ProbeKind::ExitCode { code } => script(container, r#"exit "$1""#, &[&code.to_string()]),
            ProbeKind::CommandNotFound => container.command = Some(vec![MISSING_BINARY.into()]),
            ProbeKind::Env { name, value } => {
                container.env = Some(vec![EnvVar {
                    name: name.clone(),
                    value: Some(value.clone()),
                    ..EnvVar::default()
                }]);
                // awk's ENVIRON reads the variable by name without the name ever being shell
                // source; a missing variable is exit code 3, not an empty line.
                script(
                    container,
                    r#"awk 'BEGIN { if (ARGV[1] in ENVIRON) { printf "%s\n", ENVIRON[ARGV[1]]; exit 0 }; print "variable " ARGV[1] " is not set" > "/dev/stderr"; exit 3 }' "$1""#,
                    &[name],
                );
            }
            ProbeKind::Stderr { text } => script(container, r#"printf '%s\n' "$1" >&2"#, &[text]),
            ProbeKind::ProcessGroupKill { children } => {
                // Each child's argv[0] is the marker, so it can be found in the node's process
                // table after the pod is gone.
                let marker = super::process_marker(&pod_name);
                script(
                    container,
                    &format!(
                        r#"i=0; while [ "$i" -lt "$2" ]; do sh -c 'while :; do sleep 1; done' "$1" & i=$((i+1)); done; echo {READY_MARKER}; wait"#
                    ),
                    &[&marker, &children.to_string()],
                );
                spec.termination_grace_period_seconds = Some(2);
            }
            ProbeKind::ConcurrentStart { .. } => script(container, "echo started", &[]),
            ProbeKind::RapidCreateDelete { .. } => {
                // A child carrying the pod's marker, detached from the container's stdio (so it
                // cannot hold the container open): a leftover on the node after the churn shows
                // a cleanup path that missed it.
                script(
                    container,
                    &format!(
                        r#"sh -c 'while :; do sleep 1; done' "$1" </dev/null >/dev/null 2>&1 & echo {READY_MARKER}; wait"#
                    ),
                    &[&super::process_marker(&pod_name)],
                );
                spec.termination_grace_period_seconds = Some(1);
            }
            ProbeKind::ExecExitCode { .. } | ProbeKind::ExecMissingBinary => {
                script(
                    container,
                    &format!("echo {READY_MARKER}; exec sleep 3600"),
                    &[],
                );
                spec.termination_grace_period_seconds = Some(1);
            }
            ProbeKind::LargeOutput { lines } => {
                container.command = Some(vec!["seq".into(), "1".into(), lines.to_string()]);
            }
            ProbeKind::WorkingDir { path } => {
                container.working_dir = Some(path.clone());
                container.command = Some(vec!["pwd".into()]);
            }
            ProbeKind::GracefulShutdown {
                grace_period_seconds,
            } => {
                script(
                    container,
                    &format!(
                        "trap 'echo {TERM_MARKER}; echo {TERM_MARKER} > /dev/termination-log; exit 0' TERM; echo {READY_MARKER}; while :; do sleep 0.2; done"
                    ),
                    &[],
                );
                spec.termination_grace_period_seconds = Some(i64::from(*grace_period_seconds));
            }
            ProbeKind::ReadOnlyVolume => {
                spec.volumes = Some(vec![empty_dir("read-only")]);
                container.volume_mounts = Some(vec![mount("read-only", READ_ONLY_MOUNT, true)]);
                // The error goes to stdout: this probe is about the mount, not the stderr relay.
                script(
                    container,
                    &format!("touch {READ_ONLY_MOUNT}/proctor-write-attempt 2>&1"),
                    &[],
                );
            }
            ProbeKind::OomKill { limit_mib } => {
                set_memory(container, *limit_mib);
                // dd allocates its whole block before reading: four times the limit. It starts a
                // second after the container, and the shell outlives it by a second: the runtime
                // watches a container's cgroup for OOM events only once the container has
                // started, and an OOM in the first milliseconds, or an exit processed before the
                // OOM event, is reported as reason Error (both races seen here with containerd on
                // cgroup v1; this probe is about OOM reporting, not about those windows).
                script(
                    container,
                    r#"sleep 1; dd if=/dev/zero of=/dev/null bs="$1" count=1; code=$?; sleep 1; exit "$code""#,
                    &[&format!("{}M", limit_mib * 4)],
                );
                // On cgroup v1 the pod's cgroup gets the same limit as this container when every
                // container has one, and the pod's (with the pause process in it) is reached
                // first: the runtime then often sees no OOM in the container's own cgroup and
                // reports reason Error. A sidecar without a limit leaves the pod's cgroup
                // unlimited, so the kill happens where it is being checked.
                let mut holder = container.clone();
                holder.name = "limit-holder".into();
                holder.resources = None;
                holder.restart_policy = Some("Always".into());
                holder.command = Some(
                    ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
                        .map(str::to_owned)
                        .to_vec(),
                );
                spec.init_containers = Some(vec![holder]);
            }
            ProbeKind::DeadlineExceeded { seconds } => {
                spec.active_deadline_seconds = Some(i64::from(*seconds));
                spec.termination_grace_period_seconds = Some(DEADLINE_GRACE_SECONDS);
                // A TERM handler, so the pod ends promptly once the deadline passes.
                script(
                    container,
                    "trap 'exit 143' TERM; while :; do sleep 0.2; done",
                    &[],
                );
            }
            ProbeKind::TerminationMessage {
                text,
                fallback_to_logs: false,
            } => {
                script(
                    container,
                    r#"printf '%s' "$1" > /dev/termination-log"#,
                    &[text],
                );
            }
            ProbeKind::TerminationMessage {
                text,
                fallback_to_logs: true,
            } => {
                container.termination_message_policy = Some("FallbackToLogsOnError".into());
                script(container, r#"printf '%s\n' "$1"; exit 1"#, &[text]);
            }
            ProbeKind::UnicodeOutput { text } => {
                script(container, r#"printf '%s\n' "$1""#, &[text])
            }
            ProbeKind::RestartCount { failures } => {
                spec.restart_policy = Some("OnFailure".into());
                spec.volumes = Some(vec![empty_dir("state")]);
                container.volume_mounts = Some(vec![mount("state", "/state", false)]);
                script(
                    container,
                    r#"n=$(cat /state/runs 2>/dev/null || echo 0); n=$((n+1)); echo "$n" > /state/runs; echo "run $n"; [ "$n" -gt "$1" ] || exit 1"#,
                    &[&failures.to_string()],
                );
            }
            ProbeKind::Custom(custom) => shape_custom(spec, custom, &pod_name),
        }
        if observes_deletion {
            pod.metadata.finalizers = Some(vec![crate::api::POD_FINALIZER.into()]);
        }
    }
}

/// `sh -c SCRIPT probe ARGS...`: the script is a constant of this module; arguments arrive as
/// `$1`, `$2`, ... and are never parsed as shell.
fn script(container: &mut Container, source: &str, args: &[&str]) {
    let mut command = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        source.to_owned(),
        "probe".to_owned(),
    ];
    command.extend(args.iter().map(|a| (*a).to_owned()));
    container.command = Some(command);
}

fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}

fn set_memory(container: &mut Container, mib: i32) {
    let quantity = BTreeMap::from([("memory".to_owned(), Quantity(format!("{mib}Mi")))]);
    container.resources = Some(ResourceRequirements {
        limits: Some(quantity.clone()),
        requests: Some(quantity),
        ..ResourceRequirements::default()
    });
}

/// Name of the Secret Proctor creates for a custom probe's `secretData` volume.
pub fn custom_secret_name(pod_name: &str, volume: &str) -> String {
    // Pod names and volume names are DNS labels (no dot): `<pod>.<volume>` is injective, and at
    // most 127 characters fit a Secret's name (a DNS subdomain).
    format!("{pod_name}.{volume}")
}

fn shape_custom(spec: &mut PodSpec, custom: &crate::api::CustomProbe, pod_name: &str) {
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
                            secret_name: Some(custom_secret_name(pod_name, &v.name)),
                            ..SecretVolumeSource::default()
                        }),
                        ..Volume::default()
                    },
                    None => empty_dir(&v.name),
                })
                .collect(),
        );
    }
    debug_assert_eq!(container.name, CONTAINER);
}
