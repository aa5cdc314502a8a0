//! The probe kinds, one file each: its parameters and defaults, the shape of its pods, its
//! steps (what Proctor does to its pods while they run), its judgement, and its catalog entry. What they share is here: the [`ProbeKind`] enum (each
//! variant a kind with every parameter resolved), the registry [`KINDS`], the dispatch to each
//! kind's file, and the helpers that shape a container.
//!
//! A new kind is its API type (in [`crate::api`]), its file here, its line in [`KINDS`], its
//! variant, and its arm in each dispatch below (`name`, `shape_pod`, `judge`, and `step` when
//! it does more than wait for its pod to finish); the compiler
//! points at every match that misses it.

pub mod allocatable_limits;
pub mod capabilities;
pub mod command_and_args;
pub mod command_not_found;
pub mod concurrent_start;
pub mod config_map_volume;
pub mod container_probes;
pub mod custom;
pub mod deadline_exceeded;
pub mod dns_config;
pub mod downward_api;
pub mod empty_dir_memory;
pub mod empty_dir_modes;
pub mod env;
pub mod ephemeral_containers;
pub mod etc_hosts;
pub mod exec_exit_code;
pub mod exec_missing_binary;
pub mod exit_code;
pub mod fs_group;
pub mod graceful_shutdown;
pub mod host_devices;
pub mod hostname;
pub mod http_hooks;
pub mod init_containers;
pub mod large_output;
pub mod live_updates;
pub mod liveness_restart;
pub mod long_log_line;
pub mod masked_paths;
pub mod namespaces;
pub mod no_new_privileges;
pub mod oom_kill;
pub mod pod_network;
pub mod pod_to_pod_tcp;
pub mod post_start;
pub mod pre_stop;
pub mod previous_log;
pub mod privileged;
pub mod process_group_kill;
pub mod projected_volume;
pub mod rapid_create_delete;
pub mod read_only_root_filesystem;
pub mod read_only_volume;
pub mod resource_limits;
pub mod restart_count;
pub mod run_as_identity;
pub mod seccomp_default;
pub mod shared_localhost;
pub mod sidecar_order;
pub mod stderr;
pub mod stream_order;
pub mod streaming;
pub mod sub_path;
pub mod sysctls;
pub mod termination_message;
pub mod unicode_output;
pub mod variable_expansion;
pub mod working_dir;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, Pod, ResourceRequirements, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::InvalidProbe;
use super::catalog::Entry;
use crate::api::Probe;
use crate::controller::drive::{At, Step};
use crate::verdict::{Evidence, Outcome};

pub use deadline_exceeded::GRACE_SECONDS as DEADLINE_GRACE_SECONDS;
pub use env::{DEFAULT_ENV_NAME, DEFAULT_ENV_VALUE};
pub use unicode_output::DEFAULT_UNICODE_TEXT;

/// A path that exists in no image.
pub const MISSING_BINARY: &str = "/nonexistent/proctor-probe-binary";
/// Printed by long-running probe containers once they are set up (traps installed, children
/// started); Proctor acts on them only after seeing it.
pub const READY_MARKER: &str = "proctor-ready";
/// Printed (and written to the termination log) by the graceful-shutdown probe on SIGTERM.
pub const TERM_MARKER: &str = "got-TERM";
/// Mount point of the read-only volume probe.
pub const READ_ONLY_MOUNT: &str = "/mnt/proctor-read-only";

/// One kind as the registry knows it.
pub struct Kind {
    /// Its field name in a probe of the spec (and in the status).
    pub name: &'static str,
    /// The kind with its defaults applied, when the probe sets it.
    pub resolve: fn(&Probe) -> Option<ProbeKind>,
    /// What `proctor catalog` says of it.
    pub entry: Entry,
}

/// Every kind, in catalog order.
pub const KINDS: &[Kind] = &[
    exit_code::KIND,
    command_not_found::KIND,
    env::KIND,
    stderr::KIND,
    process_group_kill::KIND,
    concurrent_start::KIND,
    exec_exit_code::KIND,
    exec_missing_binary::KIND,
    large_output::KIND,
    working_dir::KIND,
    graceful_shutdown::KIND,
    read_only_volume::KIND,
    rapid_create_delete::KIND,
    oom_kill::KIND,
    deadline_exceeded::KIND,
    termination_message::KIND,
    unicode_output::KIND,
    restart_count::KIND,
    previous_log::KIND,
    run_as_identity::KIND,
    fs_group::KIND,
    capabilities::KIND,
    no_new_privileges::KIND,
    seccomp_default::KIND,
    read_only_root_filesystem::KIND,
    masked_paths::KIND,
    sysctls::KIND,
    host_devices::KIND,
    hostname::KIND,
    etc_hosts::KIND,
    dns_config::KIND,
    downward_api::KIND,
    variable_expansion::KIND,
    command_and_args::KIND,
    resource_limits::KIND,
    allocatable_limits::KIND,
    empty_dir_memory::KIND,
    sub_path::KIND,
    projected_volume::KIND,
    long_log_line::KIND,
    stream_order::KIND,
    pod_network::KIND,
    pod_to_pod_tcp::KIND,
    shared_localhost::KIND,
    streaming::KIND,
    ephemeral_containers::KIND,
    post_start::KIND,
    pre_stop::KIND,
    http_hooks::KIND,
    liveness_restart::KIND,
    container_probes::KIND,
    container_probes::SIDECAR_KIND,
    init_containers::KIND,
    sidecar_order::KIND,
    namespaces::KIND,
    privileged::KIND,
    live_updates::KIND,
    config_map_volume::KIND,
    config_map_volume::SECRET_KIND,
    empty_dir_modes::KIND,
    custom::KIND,
];

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
    PreviousLog,
    RunAsIdentity {
        user: i64,
        group: i64,
        supplemental_groups: Vec<i64>,
    },
    FsGroup {
        group: i64,
    },
    Capabilities {
        add: Vec<crate::api::Capability>,
    },
    NoNewPrivileges,
    SeccompDefault,
    ReadOnlyRootFilesystem,
    MaskedPaths,
    Sysctls {
        values: Vec<crate::api::SysctlValue>,
    },
    HostDevices,
    Hostname {
        hostname: Option<String>,
        subdomain: Option<String>,
    },
    EtcHosts,
    DnsConfig,
    DownwardApi,
    VariableExpansion,
    CommandAndArgs,
    ResourceLimits,
    AllocatableLimits,
    EmptyDirMemory {
        size_limit_mib: i32,
    },
    SubPath,
    ProjectedVolume,
    LongLogLine {
        bytes: i32,
    },
    StreamOrder,
    PodNetwork,
    PodToPodTcp,
    SharedLocalhost,
    Streaming,
    EphemeralContainers,
    PostStart,
    PreStop,
    HttpHooks,
    LivenessRestart,
    ContainerProbes,
    SidecarProbes,
    InitContainers,
    SidecarOrder,
    Namespaces,
    Privileged,
    LiveUpdates,
    ConfigMapVolume,
    SecretVolume,
    EmptyDirModes,
    Custom(Box<crate::api::CustomProbe>),
}

impl ProbeKind {
    /// The kind the probe sets, with defaults applied.
    pub fn of(probe: &Probe) -> Result<ProbeKind, InvalidProbe> {
        let mut kinds: Vec<(&'static str, ProbeKind)> = KINDS
            .iter()
            .filter_map(|k| (k.resolve)(probe).map(|kind| (k.name, kind)))
            .collect();
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
            ProbeKind::ExitCode { .. } => exit_code::KIND.name,
            ProbeKind::CommandNotFound => command_not_found::KIND.name,
            ProbeKind::Env { .. } => env::KIND.name,
            ProbeKind::Stderr { .. } => stderr::KIND.name,
            ProbeKind::ProcessGroupKill { .. } => process_group_kill::KIND.name,
            ProbeKind::ConcurrentStart { .. } => concurrent_start::KIND.name,
            ProbeKind::ExecExitCode { .. } => exec_exit_code::KIND.name,
            ProbeKind::ExecMissingBinary => exec_missing_binary::KIND.name,
            ProbeKind::LargeOutput { .. } => large_output::KIND.name,
            ProbeKind::WorkingDir { .. } => working_dir::KIND.name,
            ProbeKind::GracefulShutdown { .. } => graceful_shutdown::KIND.name,
            ProbeKind::ReadOnlyVolume => read_only_volume::KIND.name,
            ProbeKind::RapidCreateDelete { .. } => rapid_create_delete::KIND.name,
            ProbeKind::OomKill { .. } => oom_kill::KIND.name,
            ProbeKind::DeadlineExceeded { .. } => deadline_exceeded::KIND.name,
            ProbeKind::TerminationMessage { .. } => termination_message::KIND.name,
            ProbeKind::UnicodeOutput { .. } => unicode_output::KIND.name,
            ProbeKind::RestartCount { .. } => restart_count::KIND.name,
            ProbeKind::PreviousLog => previous_log::KIND.name,
            ProbeKind::RunAsIdentity { .. } => run_as_identity::KIND.name,
            ProbeKind::FsGroup { .. } => fs_group::KIND.name,
            ProbeKind::Capabilities { .. } => capabilities::KIND.name,
            ProbeKind::NoNewPrivileges => no_new_privileges::KIND.name,
            ProbeKind::SeccompDefault => seccomp_default::KIND.name,
            ProbeKind::ReadOnlyRootFilesystem => read_only_root_filesystem::KIND.name,
            ProbeKind::MaskedPaths => masked_paths::KIND.name,
            ProbeKind::Sysctls { .. } => sysctls::KIND.name,
            ProbeKind::HostDevices => host_devices::KIND.name,
            ProbeKind::Hostname { .. } => hostname::KIND.name,
            ProbeKind::EtcHosts => etc_hosts::KIND.name,
            ProbeKind::DnsConfig => dns_config::KIND.name,
            ProbeKind::DownwardApi => downward_api::KIND.name,
            ProbeKind::VariableExpansion => variable_expansion::KIND.name,
            ProbeKind::CommandAndArgs => command_and_args::KIND.name,
            ProbeKind::ResourceLimits => resource_limits::KIND.name,
            ProbeKind::AllocatableLimits => allocatable_limits::KIND.name,
            ProbeKind::EmptyDirMemory { .. } => empty_dir_memory::KIND.name,
            ProbeKind::SubPath => sub_path::KIND.name,
            ProbeKind::ProjectedVolume => projected_volume::KIND.name,
            ProbeKind::LongLogLine { .. } => long_log_line::KIND.name,
            ProbeKind::StreamOrder => stream_order::KIND.name,
            ProbeKind::PodNetwork => pod_network::KIND.name,
            ProbeKind::PodToPodTcp => pod_to_pod_tcp::KIND.name,
            ProbeKind::SharedLocalhost => shared_localhost::KIND.name,
            ProbeKind::Streaming => streaming::KIND.name,
            ProbeKind::EphemeralContainers => ephemeral_containers::KIND.name,
            ProbeKind::PostStart => post_start::KIND.name,
            ProbeKind::PreStop => pre_stop::KIND.name,
            ProbeKind::HttpHooks => http_hooks::KIND.name,
            ProbeKind::LivenessRestart => liveness_restart::KIND.name,
            ProbeKind::ContainerProbes => container_probes::KIND.name,
            ProbeKind::SidecarProbes => container_probes::SIDECAR_KIND.name,
            ProbeKind::InitContainers => init_containers::KIND.name,
            ProbeKind::SidecarOrder => sidecar_order::KIND.name,
            ProbeKind::Namespaces => namespaces::KIND.name,
            ProbeKind::Privileged => privileged::KIND.name,
            ProbeKind::LiveUpdates => live_updates::KIND.name,
            ProbeKind::ConfigMapVolume => config_map_volume::KIND.name,
            ProbeKind::SecretVolume => config_map_volume::SECRET_KIND.name,
            ProbeKind::EmptyDirModes => empty_dir_modes::KIND.name,
            ProbeKind::Custom(_) => custom::KIND.name,
        }
    }

    /// Pods one attempt creates.
    pub fn pod_count(&self) -> i32 {
        match self {
            ProbeKind::ConcurrentStart { pods } | ProbeKind::RapidCreateDelete { pods } => *pods,
            ProbeKind::PodToPodTcp => 2,
            ProbeKind::SidecarProbes => container_probes::pod_count(true),
            ProbeKind::InitContainers => init_containers::PODS,
            ProbeKind::Namespaces => namespaces::PODS,
            ProbeKind::Privileged => privileged::PODS,
            _ => 1,
        }
    }

    /// Whether Proctor deletes the pod as part of the probe and must read its final state
    /// first: such pods carry [`crate::api::POD_FINALIZER`] from creation.
    pub fn observes_deletion(&self) -> bool {
        match self {
            ProbeKind::GracefulShutdown { .. }
            | ProbeKind::ProcessGroupKill { .. }
            | ProbeKind::PreStop
            | ProbeKind::HttpHooks => true,
            ProbeKind::Custom(c) => custom::deletes(c),
            _ => false,
        }
    }

    /// Whether the kind needs a privileged look at the node (the hostPID inspector), and so the
    /// run's `allowPrivileged` granted.
    pub fn needs_privilege(&self) -> bool {
        match self {
            ProbeKind::ProcessGroupKill { .. } | ProbeKind::Privileged => true,
            // The restricted standard allows adding NET_BIND_SERVICE only.
            ProbeKind::Capabilities { add } => add
                .iter()
                .any(|c| *c != crate::api::Capability::NetBindService),
            _ => false,
        }
    }

    /// Why the kind needs privilege, for the `Skipped` verdict when it is not granted.
    pub fn privilege_needed_for(&self) -> &'static str {
        match self {
            ProbeKind::Capabilities { .. } => {
                "a pod outside the restricted Pod Security Standard (a capability other than NET_BIND_SERVICE)"
            }
            ProbeKind::Privileged => {
                "pods at the privileged Pod Security level (privileged and root containers, host namespaces)"
            }
            _ => "a hostPID inspector pod",
        }
    }

    /// Whether the kind looks at the node through the inspector: those that need it, and the
    /// churn's leftover check when the run may (`allow_privileged`).
    pub fn uses_inspector(&self, allow_privileged: bool) -> bool {
        allow_privileged
            && matches!(
                self,
                ProbeKind::ProcessGroupKill { .. } | ProbeKind::RapidCreateDelete { .. }
            )
    }

    /// Whether the verdict times the container's end from the kubelet's `Killing` Event, which
    /// the executor then reads.
    pub fn timed(&self) -> bool {
        matches!(
            self,
            ProbeKind::GracefulShutdown { .. }
                | ProbeKind::DeadlineExceeded { .. }
                | ProbeKind::PreStop
        )
    }

    /// Whether a running probe of the kind is looked at every few seconds, not only when its
    /// pods change: it may be judged from what its log says by then.
    pub fn polled(&self) -> bool {
        matches!(self, ProbeKind::ContainerProbes | ProbeKind::SidecarProbes)
    }

    /// Whether the verdict also reads the log of the container's previous run.
    pub fn reads_previous_log(&self) -> bool {
        matches!(self, ProbeKind::PreviousLog)
    }

    /// The pod's other containers whose logs the verdict reads.
    pub fn other_logs(&self) -> &'static [&'static str] {
        match self {
            ProbeKind::Streaming => &[streaming::SECOND],
            ProbeKind::EphemeralContainers => &ephemeral_containers::EPHEMERAL,
            _ => &[],
        }
    }

    /// Whether the verdict reads the pod's node (its podCIDRs, its allocatable resources).
    pub fn reads_node(&self) -> bool {
        matches!(self, ProbeKind::PodNetwork | ProbeKind::AllocatableLimits)
    }

    /// Whether the verdict reads the container's log.
    pub fn needs_log(&self) -> bool {
        match self {
            ProbeKind::Env { .. }
            | ProbeKind::Stderr { .. }
            | ProbeKind::LargeOutput { .. }
            | ProbeKind::WorkingDir { .. }
            | ProbeKind::ReadOnlyVolume
            | ProbeKind::UnicodeOutput { .. }
            | ProbeKind::RunAsIdentity { .. }
            | ProbeKind::FsGroup { .. }
            | ProbeKind::Capabilities { .. }
            | ProbeKind::NoNewPrivileges
            | ProbeKind::SeccompDefault
            | ProbeKind::ReadOnlyRootFilesystem
            | ProbeKind::MaskedPaths
            | ProbeKind::Sysctls { .. }
            | ProbeKind::HostDevices
            | ProbeKind::Hostname { .. }
            | ProbeKind::EtcHosts
            | ProbeKind::DnsConfig
            | ProbeKind::DownwardApi
            | ProbeKind::VariableExpansion
            | ProbeKind::ResourceLimits
            | ProbeKind::AllocatableLimits
            | ProbeKind::EmptyDirMemory { .. }
            | ProbeKind::SubPath
            | ProbeKind::ProjectedVolume
            | ProbeKind::LongLogLine { .. }
            | ProbeKind::StreamOrder
            | ProbeKind::PreviousLog
            | ProbeKind::PodNetwork
            | ProbeKind::SharedLocalhost
            | ProbeKind::Streaming
            | ProbeKind::EphemeralContainers
            | ProbeKind::PostStart
            | ProbeKind::HttpHooks
            | ProbeKind::LivenessRestart
            | ProbeKind::ContainerProbes
            | ProbeKind::SidecarProbes
            | ProbeKind::InitContainers
            | ProbeKind::SidecarOrder
            | ProbeKind::ConfigMapVolume
            | ProbeKind::SecretVolume
            | ProbeKind::EmptyDirModes
            | ProbeKind::LiveUpdates => true,
            ProbeKind::Custom(c) => custom::needs_log(c),
            _ => false,
        }
    }

    /// What to do next for a running probe whose first pod is observed: the kind's own steps
    /// (exec, delete, actions, a look at the node), else judge it once its pod finished.
    pub fn step(&self, at: &At) -> Step {
        match self {
            ProbeKind::ExecExitCode { code } => exec_exit_code::step(*code, at),
            ProbeKind::ExecMissingBinary => exec_missing_binary::step(at),
            ProbeKind::GracefulShutdown {
                grace_period_seconds,
            } => graceful_shutdown::step(*grace_period_seconds, at),
            ProbeKind::ProcessGroupKill { .. } => process_group_kill::step(at),
            ProbeKind::RapidCreateDelete { .. } => rapid_create_delete::step(at),
            ProbeKind::ConcurrentStart { .. } => concurrent_start::step(at),
            ProbeKind::Custom(custom) => custom::step(custom, at),
            ProbeKind::PodToPodTcp => pod_to_pod_tcp::step(at),
            ProbeKind::PreStop => pre_stop::step(at),
            ProbeKind::HttpHooks => http_hooks::step(at),
            ProbeKind::ContainerProbes | ProbeKind::SidecarProbes => container_probes::step(at),
            ProbeKind::InitContainers => init_containers::step(at),
            ProbeKind::Namespaces => namespaces::step(at),
            ProbeKind::Privileged => privileged::step(at),
            ProbeKind::LiveUpdates => live_updates::step(at),
            ProbeKind::Streaming => streaming::step(at),
            ProbeKind::PreviousLog => previous_log::step(at),
            ProbeKind::EphemeralContainers => ephemeral_containers::step(at),
            _ if at.finished => Step::Judge {
                read_log: self.needs_log(),
            },
            _ => Step::Wait,
        }
    }

    /// Sets the command, and whatever else the kind needs, on a base pod.
    pub fn shape_pod(&self, pod: &mut Pod, index: usize) {
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        let Some(spec) = pod.spec.as_mut() else {
            return;
        };
        match self {
            ProbeKind::ExitCode { code } => exit_code::shape(*code, spec),
            ProbeKind::CommandNotFound => command_not_found::shape(spec),
            ProbeKind::Env { name, value } => env::shape(name, value, spec),
            ProbeKind::Stderr { text } => stderr::shape(text, spec),
            ProbeKind::ProcessGroupKill { children } => {
                process_group_kill::shape(*children, spec, &pod_name)
            }
            ProbeKind::ConcurrentStart { .. } => concurrent_start::shape(spec),
            ProbeKind::RapidCreateDelete { .. } => rapid_create_delete::shape(spec, &pod_name),
            ProbeKind::ExecExitCode { .. } | ProbeKind::ExecMissingBinary => {
                exec_exit_code::shape(spec)
            }
            ProbeKind::LargeOutput { lines } => large_output::shape(*lines, spec),
            ProbeKind::WorkingDir { path } => working_dir::shape(path, spec),
            ProbeKind::GracefulShutdown {
                grace_period_seconds,
            } => graceful_shutdown::shape(*grace_period_seconds, spec),
            ProbeKind::ReadOnlyVolume => read_only_volume::shape(spec),
            ProbeKind::OomKill { limit_mib } => oom_kill::shape(*limit_mib, spec),
            ProbeKind::DeadlineExceeded { seconds } => deadline_exceeded::shape(*seconds, spec),
            ProbeKind::TerminationMessage {
                text,
                fallback_to_logs,
            } => termination_message::shape(text, *fallback_to_logs, spec),
            ProbeKind::UnicodeOutput { text } => unicode_output::shape(text, spec),
            ProbeKind::RestartCount { failures } => restart_count::shape(*failures, spec),
            ProbeKind::PreviousLog => previous_log::shape(spec),
            ProbeKind::RunAsIdentity {
                user,
                group,
                supplemental_groups,
            } => run_as_identity::shape(*user, *group, supplemental_groups, spec),
            ProbeKind::FsGroup { group } => fs_group::shape(*group, spec),
            ProbeKind::Capabilities { add } => capabilities::shape(add, spec),
            ProbeKind::NoNewPrivileges => no_new_privileges::shape(spec),
            ProbeKind::SeccompDefault => seccomp_default::shape(spec),
            ProbeKind::ReadOnlyRootFilesystem => read_only_root_filesystem::shape(spec),
            ProbeKind::MaskedPaths => masked_paths::shape(spec),
            ProbeKind::Sysctls { values } => sysctls::shape(values, spec),
            ProbeKind::HostDevices => host_devices::shape(spec),
            ProbeKind::Hostname {
                hostname,
                subdomain,
            } => hostname::shape(hostname.as_deref(), subdomain.as_deref(), spec),
            ProbeKind::EtcHosts => etc_hosts::shape(spec),
            ProbeKind::DnsConfig => dns_config::shape(spec),
            ProbeKind::DownwardApi => {}
            ProbeKind::VariableExpansion => variable_expansion::shape(spec),
            ProbeKind::CommandAndArgs => command_and_args::shape(spec),
            ProbeKind::ResourceLimits => resource_limits::shape(spec),
            ProbeKind::AllocatableLimits => allocatable_limits::shape(spec),
            ProbeKind::EmptyDirMemory { size_limit_mib } => {
                empty_dir_memory::shape(*size_limit_mib, spec)
            }
            ProbeKind::SubPath => sub_path::shape(spec),
            ProbeKind::ProjectedVolume => projected_volume::shape(spec),
            ProbeKind::LongLogLine { bytes } => long_log_line::shape(*bytes, spec),
            ProbeKind::StreamOrder => stream_order::shape(spec),
            ProbeKind::PodNetwork => pod_network::shape(spec),
            ProbeKind::PodToPodTcp => pod_to_pod_tcp::shape(spec, index),
            ProbeKind::SharedLocalhost => shared_localhost::shape(spec),
            ProbeKind::Streaming => streaming::shape(spec),
            ProbeKind::EphemeralContainers => ephemeral_containers::shape(spec),
            ProbeKind::PostStart => post_start::shape(spec),
            ProbeKind::PreStop => pre_stop::shape(spec),
            ProbeKind::HttpHooks => http_hooks::shape(spec),
            ProbeKind::LivenessRestart => liveness_restart::shape(spec),
            ProbeKind::ContainerProbes => container_probes::shape(false, spec, index),
            ProbeKind::SidecarProbes => container_probes::shape(true, spec, index),
            ProbeKind::InitContainers => init_containers::shape(spec, index),
            ProbeKind::SidecarOrder => sidecar_order::shape(spec),
            ProbeKind::Namespaces => namespaces::shape(spec, index),
            ProbeKind::Privileged => privileged::shape(spec, index, &pod_name),
            ProbeKind::LiveUpdates => live_updates::shape(spec, &pod_name),
            ProbeKind::ConfigMapVolume => config_map_volume::shape(false, spec, &pod_name),
            ProbeKind::SecretVolume => config_map_volume::shape(true, spec, &pod_name),
            ProbeKind::EmptyDirModes => empty_dir_modes::shape(spec),
            ProbeKind::Custom(custom) => custom::shape(custom, spec, &pod_name),
        }
        if matches!(self, ProbeKind::DownwardApi) {
            downward_api::shape_pod(pod);
        }
        if self.observes_deletion() {
            pod.metadata.finalizers = Some(vec![crate::api::POD_FINALIZER.into()]);
        }
    }

    /// The kind's verdict on one attempt from what was observed; `None` while the evidence is
    /// not complete (see [`crate::verdict::evaluate`], which checks first that the pod could
    /// start at all).
    pub fn judge(&self, evidence: &Evidence) -> Option<Outcome> {
        match self {
            ProbeKind::ExitCode { code } => exit_code::judge(*code, evidence),
            ProbeKind::CommandNotFound => command_not_found::judge(evidence),
            ProbeKind::Env { name, value } => env::judge(name, value, evidence),
            ProbeKind::Stderr { text } => stderr::judge(text, evidence),
            ProbeKind::ProcessGroupKill { .. } => process_group_kill::judge(evidence),
            ProbeKind::ConcurrentStart { pods } => concurrent_start::judge(*pods, evidence),
            ProbeKind::ExecExitCode { code } => exec_exit_code::judge(*code, evidence),
            ProbeKind::ExecMissingBinary => exec_missing_binary::judge(evidence),
            ProbeKind::LargeOutput { lines } => large_output::judge(*lines, evidence),
            ProbeKind::WorkingDir { path } => working_dir::judge(path, evidence),
            ProbeKind::GracefulShutdown {
                grace_period_seconds,
            } => graceful_shutdown::judge(*grace_period_seconds, evidence),
            ProbeKind::ReadOnlyVolume => read_only_volume::judge(evidence),
            ProbeKind::RapidCreateDelete { .. } => rapid_create_delete::judge(evidence),
            ProbeKind::OomKill { .. } => oom_kill::judge(evidence),
            ProbeKind::DeadlineExceeded { seconds } => deadline_exceeded::judge(*seconds, evidence),
            ProbeKind::TerminationMessage {
                text,
                fallback_to_logs,
            } => termination_message::judge(text, *fallback_to_logs, evidence),
            ProbeKind::UnicodeOutput { text } => unicode_output::judge(text, evidence),
            ProbeKind::RestartCount { failures } => restart_count::judge(*failures, evidence),
            ProbeKind::PreviousLog => previous_log::judge(evidence),
            ProbeKind::RunAsIdentity {
                user,
                group,
                supplemental_groups,
            } => run_as_identity::judge(*user, *group, supplemental_groups, evidence),
            ProbeKind::FsGroup { group } => fs_group::judge(*group, evidence),
            ProbeKind::Capabilities { add } => capabilities::judge(add, evidence),
            ProbeKind::NoNewPrivileges => no_new_privileges::judge(evidence),
            ProbeKind::SeccompDefault => seccomp_default::judge(evidence),
            ProbeKind::ReadOnlyRootFilesystem => read_only_root_filesystem::judge(evidence),
            ProbeKind::MaskedPaths => masked_paths::judge(evidence),
            ProbeKind::Sysctls { values } => sysctls::judge(values, evidence),
            ProbeKind::HostDevices => host_devices::judge(evidence),
            ProbeKind::Hostname { hostname, .. } => hostname::judge(hostname.as_deref(), evidence),
            ProbeKind::EtcHosts => etc_hosts::judge(evidence),
            ProbeKind::DnsConfig => dns_config::judge(evidence),
            ProbeKind::DownwardApi => downward_api::judge(evidence),
            ProbeKind::VariableExpansion => variable_expansion::judge(evidence),
            ProbeKind::CommandAndArgs => command_and_args::judge(evidence),
            ProbeKind::ResourceLimits => resource_limits::judge(evidence),
            ProbeKind::AllocatableLimits => allocatable_limits::judge(evidence),
            ProbeKind::EmptyDirMemory { size_limit_mib } => {
                empty_dir_memory::judge(*size_limit_mib, evidence)
            }
            ProbeKind::SubPath => sub_path::judge(evidence),
            ProbeKind::ProjectedVolume => projected_volume::judge(evidence),
            ProbeKind::LongLogLine { bytes } => long_log_line::judge(*bytes, evidence),
            ProbeKind::StreamOrder => stream_order::judge(evidence),
            ProbeKind::PodNetwork => pod_network::judge(evidence),
            ProbeKind::PodToPodTcp => pod_to_pod_tcp::judge(evidence),
            ProbeKind::SharedLocalhost => shared_localhost::judge(evidence),
            ProbeKind::Streaming => streaming::judge(evidence),
            ProbeKind::EphemeralContainers => ephemeral_containers::judge(evidence),
            ProbeKind::PostStart => post_start::judge(evidence),
            ProbeKind::PreStop => pre_stop::judge(evidence),
            ProbeKind::HttpHooks => http_hooks::judge(evidence),
            ProbeKind::LivenessRestart => liveness_restart::judge(evidence),
            ProbeKind::ContainerProbes => container_probes::judge(false, evidence),
            ProbeKind::SidecarProbes => container_probes::judge(true, evidence),
            ProbeKind::InitContainers => init_containers::judge(evidence),
            ProbeKind::SidecarOrder => sidecar_order::judge(evidence),
            ProbeKind::Namespaces => namespaces::judge(evidence),
            ProbeKind::Privileged => privileged::judge(evidence),
            ProbeKind::LiveUpdates => live_updates::judge(evidence),
            ProbeKind::ConfigMapVolume => config_map_volume::judge(false, evidence),
            ProbeKind::SecretVolume => config_map_volume::judge(true, evidence),
            ProbeKind::EmptyDirModes => empty_dir_modes::judge(evidence),
            ProbeKind::Custom(custom) => custom::judge(custom, evidence),
        }
    }
}

/// `sh -c SCRIPT probe ARGS...`: the script is a constant of a kind's file; arguments arrive as
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

/// An exec hook that writes `ran` to the file `marker` (its path an argument, not shell), whole
/// at once: written beside it and renamed, so that a container waiting for the file never reads
/// it empty (the hook's shell creates it before it writes).
fn marker_hook(marker: &str) -> k8s_openapi::api::core::v1::ExecAction {
    k8s_openapi::api::core::v1::ExecAction {
        command: Some(
            [
                "sh",
                "-c",
                r#"echo ran > "$1.tmp" && mv "$1.tmp" "$1""#,
                "hook",
                marker,
            ]
            .map(str::to_owned)
            .to_vec(),
        ),
    }
}

/// A sidecar (a restartable init container) like `container` but without resource limits: it
/// keeps the pod's cgroup unlimited, so that the container's own limits are the ones judged.
fn limit_holder(container: &Container) -> Container {
    let mut holder = container.clone();
    holder.name = "limit-holder".into();
    holder.resources = None;
    holder.restart_policy = Some("Always".into());
    holder.command = Some(
        ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
            .map(str::to_owned)
            .to_vec(),
    );
    holder
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

/// The value of the first line `KEY: VALUE` (or `KEY:\tVALUE`, as in `/proc/self/status`) of
/// `log`, trimmed.
fn field<'a>(log: &'a str, key: &str) -> Option<&'a str> {
    log.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
}

/// [`field`], or `missing` when the log has no such line.
fn field_or<'a>(log: &'a str, missing: &'a str, key: &str) -> &'a str {
    field(log, key).unwrap_or(missing)
}

/// The evidence of pods recorded on the test cluster (their JSON), for the kinds' unit tests.
#[cfg(test)]
fn recorded(texts: &[&str]) -> Evidence {
    Evidence {
        pods: texts
            .iter()
            .map(|t| crate::verdict::PodObservation::of(&serde_json::from_str::<Pod>(t).unwrap()))
            .collect(),
        ..Evidence::default()
    }
}

/// The log's text, for kinds judged from what the probe printed.
fn log_text(evidence: &Evidence) -> Option<&str> {
    evidence.log.as_ref().and_then(|l| l.text.as_deref())
}
