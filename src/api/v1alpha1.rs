//! `proctor.dev/v1alpha1`: the `TestRun` resource.
//!
//! A `TestRun` lists probes; each probe names exactly one kind from the catalog
//! (docs/catalog.md) as a union of optional fields, the way a Volume names its source. Every field is bounded in the
//! schema and invalid combinations are refused by CEL rules, so bad input fails at
//! `kubectl apply` with a message rather than inside the controller. The status is written by the
//! controller alone.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Toleration;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Maximum number of probes in one run.
pub const MAX_PROBES: usize = 64;
/// Maximum length of a probe name: derived pod names (`pr-<hash>-<probe>-<n>`) must fit in 63.
pub const MAX_PROBE_NAME: usize = 40;

/// A set of probes run against the cluster's container runtime, kubelet and nodes, with a verdict
/// per probe in the status.
// Clippy reads the repeated `type_ = ...` of the printer columns as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "proctor.dev",
    version = "v1alpha1",
    kind = "TestRun",
    namespaced,
    status = "TestRunStatus",
    shortname = "tr",
    category = "proctor",
    doc = "A set of probes that check a cluster's container runtime, kubelet and nodes, with a verdict per probe in the status.",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Passed",
        type_ = "string",
        json_path = ".status.summary.passedOfTotal"
    ),
    printcolumn(
        name = "Failed",
        type_ = "integer",
        json_path = ".status.summary.failed"
    ),
    printcolumn(
        name = "Errors",
        type_ = "integer",
        json_path = ".status.summary.errored",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self == oldSelf").message("a TestRun's spec cannot change once created: its verdicts describe that spec; create a new TestRun instead"))]
#[x_kube(validation = Rule::new(DEADLINE_WITHIN_TIMEOUT).message("a deadlineExceeded probe's seconds plus 10 (the time the kill may take) must be less than the probe's timeoutSeconds (default: the run's, else 120): otherwise the probe times out before the deadline can be judged"))]
pub struct TestRunSpec {
    /// The probes to run. Names are unique within the run.
    #[schemars(length(min = 1, max = 64))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub probes: Vec<Probe>,

    /// Image of the probe pods (it needs a POSIX `sh` and the busybox applets: `sleep`, `seq`,
    /// `dd`, `touch`, `printf`). Default: the controller's `--default-image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub image: Option<String>,

    /// RuntimeClass of every probe pod, unless a probe sets its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub runtime_class_name: Option<String>,

    /// Node labels a probe pod's node must have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxProperties" = 16))]
    pub node_selector: Option<BTreeMap<String, String>>,

    /// Tolerations of every probe pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16))]
    pub tolerations: Option<Vec<Toleration>>,

    /// How many probes run at the same time. Default 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 64))]
    pub parallelism: Option<i32>,

    /// Time a probe may take, from its first pod's creation to its verdict, unless the probe sets
    /// its own. Default 120.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 5, max = 3600))]
    pub timeout_seconds: Option<i32>,

    /// When the probe pods are deleted after the run: `Always` (default), `OnSuccess` (kept when
    /// any probe did not pass, for inspection) or `Never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup: Option<CleanupPolicy>,

    /// Seconds after completion when the TestRun itself is deleted. Unset: kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 2592000))]
    pub ttl_seconds_after_finished: Option<i32>,

    /// ServiceAccount of the probe pods. Default: `default`, with its token not mounted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub service_account_name: Option<String>,

    /// Extra labels on every probe pod. Keys under `proctor.dev/` and
    /// `app.kubernetes.io/managed-by` are Proctor's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxProperties" = 16))]
    #[x_kube(validation = Rule::new("self.all(k, !k.startsWith('proctor.dev/') && k != 'app.kubernetes.io/managed-by')").message("podLabels may not set proctor.dev/* or app.kubernetes.io/managed-by: Proctor sets those"))]
    pub pod_labels: Option<BTreeMap<String, String>>,

    /// Extra annotations on every probe pod. Keys under `proctor.dev/` are Proctor's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxProperties" = 16))]
    #[x_kube(validation = Rule::new("self.all(k, !k.startsWith('proctor.dev/'))").message("podAnnotations may not set proctor.dev/*: Proctor sets those"))]
    pub pod_annotations: Option<BTreeMap<String, String>>,

    /// Allows the checks that need a privileged look at the node: a hostPID inspector pod for
    /// the process-group-kill and churn leftovers checks. Off by default; those checks are then
    /// `Skipped` with the reason in the status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_privileged: Option<bool>,
}

/// What happens to probe pods when the run is over.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema, Default)]
pub enum CleanupPolicy {
    /// Delete every probe pod.
    #[default]
    Always,
    /// Delete them only when every probe passed.
    OnSuccess,
    /// Keep them.
    Never,
}

/// One probe: a name, exactly one kind, and optional overrides.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(EXACTLY_ONE_KIND).message("a probe sets exactly one kind: exitCode, commandNotFound, env, stderr, processGroupKill, concurrentStart, execExitCode, execMissingBinary, largeOutput, workingDir, gracefulShutdown, readOnlyVolume, rapidCreateDelete, oomKill, deadlineExceeded, terminationMessage, unicodeOutput, restartCount, previousLog, runAsIdentity, fsGroup, capabilities, noNewPrivileges, seccompDefault, readOnlyRootFilesystem, maskedPaths, sysctls, hostDevices, hostname, etcHosts, dnsConfig, downwardApi, variableExpansion, commandAndArgs, resourceLimits, allocatableLimits, emptyDirMemory, subPath, projectedVolume, longLogLine, streamOrder, podNetwork, podToPodTcp, sharedLocalhost, streaming, ephemeralContainers, postStart, preStop, httpHooks, livenessRestart, containerProbes, sidecarProbes, initContainers, sidecarOrder, namespaces, privileged, liveUpdates, configMapVolume, secretVolume, emptyDirModes or custom"))]
pub struct Probe {
    /// Name of the probe, unique in the run: a DNS label of at most 40 characters.
    #[schemars(
        length(min = 1, max = 40),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub name: String,

    /// Time this probe may take. Overrides the run's `timeoutSeconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 5, max = 3600))]
    pub timeout_seconds: Option<i32>,

    /// Image of this probe's pods. Overrides the run's `image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub image: Option<String>,

    /// RuntimeClass of this probe's pods. Overrides the run's `runtimeClassName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub runtime_class_name: Option<String>,

    /// How many times to run the probe, for flake statistics. Default 1; the verdict is Passed
    /// only when every repetition passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 20))]
    pub repeat: Option<i32>,

    /// The exit code of the container reaches the pod status unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<ExitCodeProbe>,
    /// A container whose command does not exist makes the pod fail, never hang.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_not_found: Option<EmptyParams>,
    /// An environment variable reaches the process byte for byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<EnvProbe>,
    /// What the process writes to stderr reaches the pod logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<StderrProbe>,
    /// Deleting the pod kills the children of its process too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_group_kill: Option<ProcessGroupKillProbe>,
    /// Many pods created at once all start and succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrent_start: Option<ConcurrentStartProbe>,
    /// The exit code of an exec'd command reaches the exec status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_exit_code: Option<ExitCodeProbe>,
    /// Exec of a binary that does not exist fails and leaves the pod running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_missing_binary: Option<EmptyParams>,
    /// Output larger than a pipe buffer reaches the logs whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_output: Option<LargeOutputProbe>,
    /// The container runs in its `workingDir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<WorkingDirProbe>,
    /// Deleting the pod sends SIGTERM and waits for the grace period before SIGKILL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graceful_shutdown: Option<GracefulShutdownProbe>,
    /// A volume mounted read-only cannot be written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_volume: Option<EmptyParams>,
    /// Pods created and deleted in quick succession all go away, none stuck Terminating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rapid_create_delete: Option<RapidCreateDeleteProbe>,
    /// A container that exceeds its memory limit is reported OOMKilled with exit code 137.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_kill: Option<OomKillProbe>,
    /// A pod past its `activeDeadlineSeconds` fails with reason DeadlineExceeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_exceeded: Option<DeadlineExceededProbe>,
    /// What the container writes to its termination-message file reaches its status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_message: Option<TerminationMessageProbe>,
    /// Multi-byte UTF-8 output reaches the logs byte for byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unicode_output: Option<UnicodeOutputProbe>,
    /// Restarts after failures are counted exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_count: Option<RestartCountProbe>,
    /// After a restart, the log of the container's previous run is still readable, and holds
    /// that run's output only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_log: Option<EmptyParams>,
    /// runAsUser, runAsGroup and supplementalGroups reach the process as its real, effective,
    /// saved and filesystem ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_identity: Option<RunAsIdentityProbe>,
    /// A volume of a pod with `fsGroup` belongs to that group (setgid), and so do new files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fs_group: Option<FsGroupProbe>,
    /// The process's capability sets are exactly what the container's securityContext asks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<CapabilitiesProbe>,
    /// `allowPrivilegeEscalation: false` sets no_new_privs on the process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_new_privileges: Option<EmptyParams>,
    /// The RuntimeDefault seccomp profile filters the process: a syscall it blocks fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp_default: Option<EmptyParams>,
    /// `readOnlyRootFilesystem: true` makes the root filesystem refuse writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_root_filesystem: Option<EmptyParams>,
    /// The /proc and /sys paths runtimes mask are masked, and those they make read-only are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked_paths: Option<EmptyParams>,
    /// The pod's safe sysctls are set in its namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sysctls: Option<SysctlsProbe>,
    /// A container that is not privileged sees no device of the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_devices: Option<EmptyParams>,
    /// The container's hostname is the pod's name, or its `hostname` when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<HostnameProbe>,
    /// The kubelet's /etc/hosts names the pod's IP with its hostname, and lists hostAliases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etc_hosts: Option<EmptyParams>,
    /// `dnsPolicy: None` with a dnsConfig gives exactly that resolv.conf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_config: Option<EmptyParams>,
    /// The downward API tells the container its pod's name, namespace, UID, IPs, node, labels,
    /// annotations and resource limits, in env vars and in volume files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downward_api: Option<EmptyParams>,
    /// `$(VAR)` in command, args and env values is expanded, and `$$(VAR)` is kept literally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable_expansion: Option<EmptyParams>,
    /// A container runs the image's default, args alone, command alone, or both, as the image
    /// and the spec say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_and_args: Option<EmptyParams>,
    /// The container's cgroup enforces its memory and CPU limits and its CPU request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_limits: Option<EmptyParams>,
    /// A container without limits is told the node's allocatable CPU and memory as its limits,
    /// in env and in downwardAPI and projected volume files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocatable_limits: Option<EmptyParams>,
    /// An emptyDir with `medium: Memory` is a tmpfs of its `sizeLimit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_dir_memory: Option<EmptyDirMemoryProbe>,
    /// A volume mounted with `subPath` shows the file it names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<EmptyParams>,
    /// A projected volume has the content and the file modes asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projected_volume: Option<EmptyParams>,
    /// A line longer than the runtime's log buffer reaches the log whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_log_line: Option<LongLogLineProbe>,
    /// Lines written alternately to stdout and stderr reach the log, each stream in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_order: Option<EmptyParams>,
    /// The pod's IP is on an interface of the container's network namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_network: Option<EmptyParams>,
    /// One pod reaches another over TCP at the IP its status reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_to_pod_tcp: Option<EmptyParams>,
    /// The containers of one pod share 127.0.0.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_localhost: Option<EmptyParams>,
    /// Exec into each container of a pod, exec with a terminal, attach, and each container's
    /// own log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streaming: Option<EmptyParams>,
    /// Ephemeral containers added to a running pod start, and exec and logs reach each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_containers: Option<EmptyParams>,
    /// A postStart exec hook runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_start: Option<EmptyParams>,
    /// Deleting the pod runs its preStop exec hook before SIGTERM, within the grace period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_stop: Option<EmptyParams>,
    /// postStart and preStop httpGet hooks reach their handler, in that order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_hooks: Option<EmptyParams>,
    /// A failing liveness probe restarts the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_restart: Option<EmptyParams>,
    /// Readiness, liveness and startup probes of app containers act as the spec asks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_probes: Option<EmptyParams>,
    /// Readiness, liveness and startup probes of sidecars act as the spec asks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecar_probes: Option<EmptyParams>,
    /// Init containers run in order, each to completion, before the app container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_containers: Option<EmptyParams>,
    /// A sidecar is up before the app container starts and stopped after it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecar_order: Option<EmptyParams>,
    /// The containers of a pod share its IPC and UTS namespaces, not its PID namespace (unless
    /// shareProcessNamespace); no pod shares the node's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<EmptyParams>,
    /// Security contexts beyond the restricted level (privileged, root, capabilities,
    /// seccomp, escalation, host namespaces) reach the process; needs `allowPrivileged`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<EmptyParams>,
    /// Updated, deleted and created ConfigMaps and Secrets, and changed labels and annotations,
    /// reach the volumes of a running pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_updates: Option<EmptyParams>,
    /// A ConfigMap's keys reach the container in volumes, with their content and modes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_volume: Option<EmptyParams>,
    /// A Secret's keys reach the container in volumes, with their content and modes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_volume: Option<EmptyParams>,
    /// emptyDirs are world-writable and keep the modes of the files a non-root process creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_dir_modes: Option<EmptyParams>,
    /// A probe of your own, from the same primitives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<CustomProbe>,
}

/// Each deadline probe's deadline, with [`crate::probes::kinds::deadline_exceeded::SLACK_SECONDS`] for the kill,
/// ends before the probe's timeout (its own, else the run's, else the default 120). Checked
/// against those constants by a unit test.
pub const DEADLINE_WITHIN_TIMEOUT: &str = "self.probes.all(p, !has(p.deadlineExceeded) || (has(p.deadlineExceeded.seconds) ? p.deadlineExceeded.seconds : 5) + 10 < (has(p.timeoutSeconds) ? p.timeoutSeconds : (has(self.timeoutSeconds) ? self.timeoutSeconds : 120)))";

/// A normalized absolute path: `/`, or `/`-separated parts that are not empty, `.` or `..` (so
/// no trailing slash). `pwd` prints the directory the process is in in this form, so any other
/// spelling of the same directory could never compare equal.
pub const NORMALIZED_PATH: &str = r"^/$|^(/(\.\.[^/\n]+|\.[^./\n][^/\n]*|[^./\n][^/\n]*))+$";

/// Variables the runtime, the kubelet or the probe's shell set themselves: an env probe of one
/// of these reads their value, not the probe's.
pub const RESERVED_ENV: &str = "!(self in ['PATH', 'HOME', 'HOSTNAME', 'TERM', 'PWD', 'OLDPWD', 'SHLVL', 'IFS', 'PS1', 'PS2', 'PS4', 'OPTIND', 'PPID', 'PROCTOR_PROBE_EMPTY', 'PROCTOR_PROBE_LONG']) && !self.startsWith('KUBERNETES_')";

/// The CEL rule behind "exactly one kind"; kept next to [`Probe`] and checked by a unit test to
/// name every kind field.
pub const EXACTLY_ONE_KIND: &str = "[has(self.exitCode), has(self.commandNotFound), has(self.env), has(self.stderr), has(self.processGroupKill), has(self.concurrentStart), has(self.execExitCode), has(self.execMissingBinary), has(self.largeOutput), has(self.workingDir), has(self.gracefulShutdown), has(self.readOnlyVolume), has(self.rapidCreateDelete), has(self.oomKill), has(self.deadlineExceeded), has(self.terminationMessage), has(self.unicodeOutput), has(self.restartCount), has(self.previousLog), has(self.runAsIdentity), has(self.fsGroup), has(self.capabilities), has(self.noNewPrivileges), has(self.seccompDefault), has(self.readOnlyRootFilesystem), has(self.maskedPaths), has(self.sysctls), has(self.hostDevices), has(self.hostname), has(self.etcHosts), has(self.dnsConfig), has(self.downwardApi), has(self.variableExpansion), has(self.commandAndArgs), has(self.resourceLimits), has(self.allocatableLimits), has(self.emptyDirMemory), has(self.subPath), has(self.projectedVolume), has(self.longLogLine), has(self.streamOrder), has(self.podNetwork), has(self.podToPodTcp), has(self.sharedLocalhost), has(self.streaming), has(self.ephemeralContainers), has(self.postStart), has(self.preStop), has(self.httpHooks), has(self.livenessRestart), has(self.containerProbes), has(self.sidecarProbes), has(self.initContainers), has(self.sidecarOrder), has(self.namespaces), has(self.privileged), has(self.liveUpdates), has(self.configMapVolume), has(self.secretVolume), has(self.emptyDirModes), has(self.custom)].filter(k, k).size() == 1";

/// A probe kind without parameters: `{}`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema, Default)]
pub struct EmptyParams {}

/// Parameters of `exitCode` and `execExitCode`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct ExitCodeProbe {
    /// The exit code the command ends with.
    #[schemars(range(min = 0, max = 255))]
    pub code: i32,
}

/// Parameters of `env`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct EnvProbe {
    /// Variable name. Default `PROCTOR_PROBE_VALUE`. Not one the runtime, the kubelet or the
    /// shell sets (`PATH`, `HOME`, `HOSTNAME`, `TERM`, `PWD`, `KUBERNETES_*`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(RESERVED_ENV).message("env.name may not be a variable the runtime, the kubelet or the shell sets (PATH, HOME, HOSTNAME, TERM, PWD, OLDPWD, SHLVL, IFS, PS1, PS2, PS4, OPTIND, PPID, KUBERNETES_*), nor one the probe sets beside it (PROCTOR_PROBE_EMPTY, PROCTOR_PROBE_LONG): the probe would read their value, not its own"))]
    #[schemars(
        length(min = 1, max = 128),
        regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$")
    )]
    pub name: Option<String>,
    /// Value. Default: one with every byte class env handling breaks on: `=`, leading and
    /// trailing whitespace, a newline, a tab, quotes, backslashes and non-ASCII. The
    /// control characters 0x1E and 0x1F are refused: the probe frames its output with them.
    /// Beside it the probe always sets an empty variable and an 8 KiB one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("!self.contains('$(') && !self.contains('$$')").message("env.value may not hold '$(' or '$$': the kubelet expands them before the process sees the value"))]
    #[schemars(length(max = 1024), regex(pattern = r"^[^\x1e\x1f]*$"))]
    pub value: Option<String>,
}

/// Parameters of `stderr`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct StderrProbe {
    /// Text written to stderr (one line). Default `proctor stderr marker`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024), regex(pattern = r"^[^\n]*$"))]
    pub text: Option<String>,
}

/// Parameters of `processGroupKill`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct ProcessGroupKillProbe {
    /// Background children the container's shell starts. Default 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 16))]
    pub children: Option<i32>,
}

/// Parameters of `concurrentStart`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct ConcurrentStartProbe {
    /// Pods created in one burst. Default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 2, max = 50))]
    pub pods: Option<i32>,
}

/// Parameters of `largeOutput`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct LargeOutputProbe {
    /// Lines printed (`seq 1 N`). Default 20000 (more than 64 KiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000000))]
    pub lines: Option<i32>,
}

/// Parameters of `runAsIdentity`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct RunAsIdentityProbe {
    /// The pod's `runAsUser`. Default 2001 (not the image's user, nor one the probe pods
    /// otherwise run as). Not 0: probe pods run as non-root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 2147483647))]
    pub user: Option<i64>,
    /// The pod's `runAsGroup`. Default 2002.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 2147483647))]
    pub group: Option<i64>,
    /// The pod's `supplementalGroups`. Default `[2003, 2004]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16), inner(range(min = 0, max = 2147483647)))]
    pub supplemental_groups: Option<Vec<i64>>,
}

/// Parameters of `fsGroup`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct FsGroupProbe {
    /// The pod's `fsGroup`. Default 2005 (not a group the process has otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 2147483647))]
    pub group: Option<i64>,
}

/// Parameters of `capabilities`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct CapabilitiesProbe {
    /// Capabilities added after `drop: [ALL]`. Default `[NET_BIND_SERVICE]`, the only one the
    /// restricted Pod Security Standard allows; `[]` checks that dropping ALL leaves none. Any
    /// other makes the probe privileged: it runs only where `spec.allowPrivileged` is set and
    /// the controller's operator grants it (else `Skipped`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 41))]
    pub add: Option<Vec<Capability>>,
}

/// A Linux capability, as Kubernetes spells it (without `CAP_`).
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Capability {
    Chown,
    DacOverride,
    DacReadSearch,
    Fowner,
    Fsetid,
    Kill,
    Setgid,
    Setuid,
    Setpcap,
    LinuxImmutable,
    NetBindService,
    NetBroadcast,
    NetAdmin,
    NetRaw,
    IpcLock,
    IpcOwner,
    SysModule,
    SysRawio,
    SysChroot,
    SysPtrace,
    SysPacct,
    SysAdmin,
    SysBoot,
    SysNice,
    SysResource,
    SysTime,
    SysTtyConfig,
    Mknod,
    Lease,
    AuditWrite,
    AuditControl,
    Setfcap,
    MacOverride,
    MacAdmin,
    Syslog,
    WakeAlarm,
    BlockSuspend,
    AuditRead,
    Perfmon,
    Bpf,
    CheckpointRestore,
}

impl Capability {
    /// Every capability, in the order of its bit in the kernel's capability sets.
    pub const ALL: [Capability; 41] = [
        Capability::Chown,
        Capability::DacOverride,
        Capability::DacReadSearch,
        Capability::Fowner,
        Capability::Fsetid,
        Capability::Kill,
        Capability::Setgid,
        Capability::Setuid,
        Capability::Setpcap,
        Capability::LinuxImmutable,
        Capability::NetBindService,
        Capability::NetBroadcast,
        Capability::NetAdmin,
        Capability::NetRaw,
        Capability::IpcLock,
        Capability::IpcOwner,
        Capability::SysModule,
        Capability::SysRawio,
        Capability::SysChroot,
        Capability::SysPtrace,
        Capability::SysPacct,
        Capability::SysAdmin,
        Capability::SysBoot,
        Capability::SysNice,
        Capability::SysResource,
        Capability::SysTime,
        Capability::SysTtyConfig,
        Capability::Mknod,
        Capability::Lease,
        Capability::AuditWrite,
        Capability::AuditControl,
        Capability::Setfcap,
        Capability::MacOverride,
        Capability::MacAdmin,
        Capability::Syslog,
        Capability::WakeAlarm,
        Capability::BlockSuspend,
        Capability::AuditRead,
        Capability::Perfmon,
        Capability::Bpf,
        Capability::CheckpointRestore,
    ];

    /// Its bit in the kernel's capability sets (`CapEff` and the others in /proc/PID/status).
    pub fn bit(self) -> u32 {
        self as u32
    }

    /// The name Kubernetes spells it with.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Chown => "CHOWN",
            Capability::DacOverride => "DAC_OVERRIDE",
            Capability::DacReadSearch => "DAC_READ_SEARCH",
            Capability::Fowner => "FOWNER",
            Capability::Fsetid => "FSETID",
            Capability::Kill => "KILL",
            Capability::Setgid => "SETGID",
            Capability::Setuid => "SETUID",
            Capability::Setpcap => "SETPCAP",
            Capability::LinuxImmutable => "LINUX_IMMUTABLE",
            Capability::NetBindService => "NET_BIND_SERVICE",
            Capability::NetBroadcast => "NET_BROADCAST",
            Capability::NetAdmin => "NET_ADMIN",
            Capability::NetRaw => "NET_RAW",
            Capability::IpcLock => "IPC_LOCK",
            Capability::IpcOwner => "IPC_OWNER",
            Capability::SysModule => "SYS_MODULE",
            Capability::SysRawio => "SYS_RAWIO",
            Capability::SysChroot => "SYS_CHROOT",
            Capability::SysPtrace => "SYS_PTRACE",
            Capability::SysPacct => "SYS_PACCT",
            Capability::SysAdmin => "SYS_ADMIN",
            Capability::SysBoot => "SYS_BOOT",
            Capability::SysNice => "SYS_NICE",
            Capability::SysResource => "SYS_RESOURCE",
            Capability::SysTime => "SYS_TIME",
            Capability::SysTtyConfig => "SYS_TTY_CONFIG",
            Capability::Mknod => "MKNOD",
            Capability::Lease => "LEASE",
            Capability::AuditWrite => "AUDIT_WRITE",
            Capability::AuditControl => "AUDIT_CONTROL",
            Capability::Setfcap => "SETFCAP",
            Capability::MacOverride => "MAC_OVERRIDE",
            Capability::MacAdmin => "MAC_ADMIN",
            Capability::Syslog => "SYSLOG",
            Capability::WakeAlarm => "WAKE_ALARM",
            Capability::BlockSuspend => "BLOCK_SUSPEND",
            Capability::AuditRead => "AUDIT_READ",
            Capability::Perfmon => "PERFMON",
            Capability::Bpf => "BPF",
            Capability::CheckpointRestore => "CHECKPOINT_RESTORE",
        }
    }
}

/// Parameters of `sysctls`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct SysctlsProbe {
    /// The pod's sysctls. Default `kernel.shm_rmid_forced=1` (the IPC namespace) and
    /// `net.ipv4.ip_local_port_range="40000 50000"` (the network namespace), both unlike a new
    /// namespace's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 10))]
    pub values: Option<Vec<SysctlValue>>,
}

/// One sysctl of the pod.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SysctlValue {
    pub name: SafeSysctl,
    /// Its value: digits, spaces, commas and dashes (what these sysctls take).
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[0-9][-0-9 ,]*$"))]
    pub value: String,
}

/// The sysctls the kubelet allows by default (and the baseline Pod Security Standard admits).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum SafeSysctl {
    #[serde(rename = "kernel.shm_rmid_forced")]
    KernelShmRmidForced,
    #[serde(rename = "net.ipv4.ip_local_port_range")]
    IpLocalPortRange,
    #[serde(rename = "net.ipv4.ip_unprivileged_port_start")]
    IpUnprivilegedPortStart,
    #[serde(rename = "net.ipv4.tcp_syncookies")]
    TcpSyncookies,
    #[serde(rename = "net.ipv4.ping_group_range")]
    PingGroupRange,
    #[serde(rename = "net.ipv4.ip_local_reserved_ports")]
    IpLocalReservedPorts,
    #[serde(rename = "net.ipv4.tcp_keepalive_time")]
    TcpKeepaliveTime,
    #[serde(rename = "net.ipv4.tcp_fin_timeout")]
    TcpFinTimeout,
    #[serde(rename = "net.ipv4.tcp_keepalive_intvl")]
    TcpKeepaliveIntvl,
    #[serde(rename = "net.ipv4.tcp_keepalive_probes")]
    TcpKeepaliveProbes,
}

impl SafeSysctl {
    /// The name the kernel and Kubernetes know it by.
    pub fn name(self) -> &'static str {
        match self {
            SafeSysctl::KernelShmRmidForced => "kernel.shm_rmid_forced",
            SafeSysctl::IpLocalPortRange => "net.ipv4.ip_local_port_range",
            SafeSysctl::IpUnprivilegedPortStart => "net.ipv4.ip_unprivileged_port_start",
            SafeSysctl::TcpSyncookies => "net.ipv4.tcp_syncookies",
            SafeSysctl::PingGroupRange => "net.ipv4.ping_group_range",
            SafeSysctl::IpLocalReservedPorts => "net.ipv4.ip_local_reserved_ports",
            SafeSysctl::TcpKeepaliveTime => "net.ipv4.tcp_keepalive_time",
            SafeSysctl::TcpFinTimeout => "net.ipv4.tcp_fin_timeout",
            SafeSysctl::TcpKeepaliveIntvl => "net.ipv4.tcp_keepalive_intvl",
            SafeSysctl::TcpKeepaliveProbes => "net.ipv4.tcp_keepalive_probes",
        }
    }
}

/// Parameters of `hostname`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct HostnameProbe {
    /// The pod's `hostname`. Default: none, so the hostname must be the pod's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub hostname: Option<String>,
    /// The pod's `subdomain` (the hostname stays the short name). Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub subdomain: Option<String>,
}

/// Parameters of `emptyDirMemory`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct EmptyDirMemoryProbe {
    /// The volume's `sizeLimit` in MiB. Default 8.
    #[serde(
        default,
        rename = "sizeLimitMiB",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 1, max = 64))]
    pub size_limit_mib: Option<i32>,
}

/// Parameters of `longLogLine`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct LongLogLineProbe {
    /// Length of the line. Default 40000: more than two of containerd's 16 KiB log buffers.
    /// At least 16385 (a shorter line is never split), at most 60000 (so that the whole log is
    /// kept for the comparison).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 16385, max = 60000))]
    pub bytes: Option<i32>,
}

/// Parameters of `workingDir`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct WorkingDirProbe {
    /// Absolute, normalized path set as the container's `workingDir` (no trailing `/`, no
    /// `//`, `.` or `..`: the probe compares it with what `pwd` prints). Default `/tmp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(format!("self.matches('{}')", NORMALIZED_PATH.replace('\\', "\\\\"))).message("workingDir.path must be a normalized absolute path (no trailing '/', no '//', '.' or '..' parts): the probe compares it with what pwd prints"))]
    #[schemars(length(min = 1, max = 256))]
    pub path: Option<String>,
}

/// Parameters of `gracefulShutdown`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct GracefulShutdownProbe {
    /// Grace period of the delete. Default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 300))]
    pub grace_period_seconds: Option<i32>,
}

/// Parameters of `rapidCreateDelete`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct RapidCreateDeleteProbe {
    /// Pods created and deleted. Default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 50))]
    pub pods: Option<i32>,
}

/// Parameters of `oomKill`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct OomKillProbe {
    /// Memory limit of the container in MiB; it allocates four times as much. Default 16.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 8, max = 1024))]
    pub limit_mi_b: Option<i32>,
}

/// Parameters of `deadlineExceeded`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct DeadlineExceededProbe {
    /// The pod's `activeDeadlineSeconds`; it sleeps far longer. Default 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 600))]
    pub seconds: Option<i32>,
}

/// Parameters of `terminationMessage`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.text) || !has(self.fallbackToLogsOnError) || !self.fallbackToLogsOnError || (size(bytes(self.text)) < 2048 && self.text.split('\\n').size() < 80)").message("with fallbackToLogsOnError the text must be less than 2048 bytes and 80 lines: the kubelet keeps no more of the log as the termination message"))]
pub struct TerminationMessageProbe {
    /// Text written to the termination-message file. Default `proctor termination message`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub text: Option<String>,
    /// Checks `FallbackToLogsOnError` instead: the container writes no message, prints the text
    /// as its last log line and fails; the status message must be the log tail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_to_logs_on_error: Option<bool>,
}

/// Parameters of `unicodeOutput`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct UnicodeOutputProbe {
    /// Text printed. Default: CJK, emoji, combining marks and right-to-left script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub text: Option<String>,
}

/// Parameters of `restartCount`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct RestartCountProbe {
    /// Times the container fails before it succeeds (restartPolicy OnFailure). Default 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 5))]
    pub failures: Option<i32>,
}

/// A user-defined probe: a pod, actions on it, and what must be observed.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.actions) || !self.actions.exists(a, has(a.delete)) || (!has(self.expect.logEquals) && !has(self.expect.logContains))").message("a custom probe that deletes its pod cannot expect log content: the log goes with the container; expect a terminationMessage instead"))]
pub struct CustomProbe {
    /// The container's command (argv; no shell unless you name one).
    #[schemars(length(min = 1, max = 64), inner(length(max = 4096)))]
    pub command: Vec<String>,
    /// Environment variables of the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub env: Option<Vec<EnvVar>>,
    /// The container's working directory (absolute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), regex(pattern = r"^/[^\n]*$"))]
    pub working_dir: Option<String>,
    /// Volumes mounted into the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 8))]
    pub volumes: Option<Vec<CustomVolume>>,
    /// Memory limit of the container, in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 4, max = 4096))]
    pub memory_limit_mi_b: Option<i32>,
    /// The pod's `activeDeadlineSeconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub active_deadline_seconds: Option<i32>,
    /// The container's `terminationMessagePolicy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_message_policy: Option<TerminationMessagePolicy>,
    /// Actions Proctor takes, in order, once the container is running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 8))]
    pub actions: Option<Vec<Action>>,
    /// What must be observed of the container when it is done.
    pub expect: Expectations,
}

/// A name and a literal value.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    #[schemars(
        length(min = 1, max = 128),
        regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$")
    )]
    pub name: String,
    #[schemars(length(max = 4096))]
    pub value: String,
}

/// A volume of a custom probe: an `emptyDir`, or a Secret Proctor creates from `secretData`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.emptyDir) != has(self.secretData)").message("a volume is either emptyDir or secretData"))]
pub struct CustomVolume {
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub name: String,
    #[schemars(length(min = 1, max = 256), regex(pattern = r"^/[^\n]*$"))]
    pub mount_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<EmptyParams>,
    /// Keys and values of a Secret Proctor creates for the probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxProperties" = 16))]
    pub secret_data: Option<BTreeMap<String, String>>,
}

/// `terminationMessagePolicy` of a container.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum TerminationMessagePolicy {
    File,
    FallbackToLogsOnError,
}

/// One action on the running probe pod: exactly one of `exec` or `delete`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.exec) != has(self.delete)").message("an action is either exec or delete"))]
pub struct Action {
    /// Runs a command in the container (pods/exec).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecAction>,
    /// Deletes the pod with a grace period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete: Option<DeleteAction>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct ExecAction {
    /// argv of the command.
    #[schemars(length(min = 1, max = 64), inner(length(max = 4096)))]
    pub command: Vec<String>,
    /// The exit code the exec must report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 255))]
    pub expect_exit_code: Option<i32>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct DeleteAction {
    #[schemars(range(min = 0, max = 300))]
    pub grace_period_seconds: i32,
}

/// What a custom probe must observe. At least one expectation.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1))]
pub struct Expectations {
    /// Final pod phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<ExpectedPhase>,
    /// Exit code of the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 255))]
    pub exit_code: Option<i32>,
    /// `reason` of the container's terminated state (e.g. `OOMKilled`, `Completed`, `Error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub reason: Option<String>,
    /// The container's termination message (at most 4096 bytes: the kubelet keeps no more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("size(bytes(self)) <= 4096").message("expect.terminationMessage may be at most 4096 bytes: the kubelet keeps no more of a termination message"))]
    #[schemars(length(max = 4096))]
    pub termination_message: Option<String>,
    /// The whole log, byte for byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub log_equals: Option<String>,
    /// Strings the log must contain: at least one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 16), inner(length(min = 1, max = 1024)))]
    pub log_contains: Option<Vec<String>>,
    /// The container's restart count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub restart_count: Option<i32>,
}

/// Pod phases a custom probe may expect.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ExpectedPhase {
    Succeeded,
    Failed,
}

// ------------------------------------------------------------------------------------------------
// Status

/// What the controller observed. Written by the controller alone, with server-side apply.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestRunStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Pending`, `Running`, `Succeeded` (every probe passed or was skipped), `Failed` (some
    /// probe failed) or `Error` (some probe could not be carried out, none failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<RunPhase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    /// `Ready`, `Reconciling` and `Stalled` (kstatus), and `Passed`: the outcome.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// One entry per probe, keyed by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub probes: Vec<ProbeStatus>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum RunPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Error,
}

impl RunPhase {
    /// Whether the run is over: nothing more runs, and its status changes no more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunPhase::Succeeded | RunPhase::Failed | RunPhase::Error
        )
    }
}

impl TestRunStatus {
    /// Whether the status says the run is over ([`RunPhase::is_terminal`]).
    pub fn is_finished(&self) -> bool {
        self.phase.is_some_and(RunPhase::is_terminal)
    }
}

impl ProbeStatus {
    /// When Proctor asked for the probe's pod to be deleted (the clock of the shutdown and
    /// churn checks), as recorded in the status.
    pub fn delete_requested_at(&self) -> Option<k8s_openapi::jiff::Timestamp> {
        self.termination
            .as_ref()
            .and_then(|t| t.delete_requested_at.as_ref())
            .map(|t| t.0)
    }
}

/// Counts of probes by state.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub total: i32,
    pub passed: i32,
    pub failed: i32,
    pub errored: i32,
    pub skipped: i32,
    pub running: i32,
    pub pending: i32,
    /// `passed/total`, for `kubectl get`.
    pub passed_of_total: String,
}

/// The state and verdict of one probe.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProbeStatus {
    pub name: String,
    /// The probe kind, as in the spec (`exitCode`, `gracefulShutdown`, ...).
    pub kind: String,
    pub phase: ProbePhase,
    /// Set once the probe is finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// Why, in one CamelCase word (`ExitCodeMismatch`, `ImagePullFailed`, `Timeout`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// One readable sentence: "expected exit code 42, observed 0".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Each thing checked, expected against observed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// Names of the probe's pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pods: Vec<String>,
    /// Repetitions started (see `repeat`).
    #[serde(default)]
    pub attempts: i32,
    /// When the current repetition's pods were created: a pod of it that the cache does not
    /// show is taken for deleted only some time after this, not after the probe's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_started_at: Option<Time>,
    /// Repetitions that passed.
    #[serde(default)]
    pub passed_attempts: i32,
    /// Actions of a custom probe carried out so far in this attempt.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub actions_done: i32,
    /// Actions of a custom probe started so far in this attempt. An exec action is recorded as
    /// started before it runs: one started but not done when a new controller takes over was
    /// cut off with its outcome unknown, and is reported so, never run again.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub actions_started: i32,
    /// For probes that delete a pod: what happened between the delete and the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination: Option<TerminationTimeline>,
    /// The nodes this attempt's pods were scheduled to, as observed (a probe that looks at the
    /// node looks at each of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub nodes: Vec<String>,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema, Default)]
pub enum ProbePhase {
    #[default]
    Pending,
    Running,
    Finished,
}

/// `Passed`: every check held. `Failed`: the system under test misbehaved. `Error`: the probe
/// could not be carried out. `Skipped`: not allowed or not applicable here.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Verdict {
    Passed,
    Failed,
    Error,
    Skipped,
}

/// One thing checked.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// What was checked (`exitCode`, `logLines`, `signal`, ...).
    pub name: String,
    pub expected: String,
    pub observed: String,
    pub passed: bool,
}

/// The measured shutdown of a pod Proctor deleted.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TerminationTimeline {
    pub grace_period_seconds: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_requested_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminated_at: Option<Time>,
    /// Milliseconds from the delete to the container's end, as far as timestamps tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_used_millis: Option<i64>,
    /// `SIGTERM` when the process handled TERM (exit 0 or 143), `SIGKILL` for 137.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::CustomResourceExt;

    /// The fields of `Probe` that are not kinds.
    const NOT_KINDS: &[&str] = &[
        "name",
        "timeoutSeconds",
        "image",
        "runtimeClassName",
        "repeat",
    ];

    fn probe_schema() -> serde_json::Value {
        let crd = serde_json::to_value(TestRun::crd()).unwrap();
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
            ["probes"]["items"]
            .clone()
    }

    #[test]
    fn exactly_one_kind_rule_and_its_message_name_every_kind() {
        let schema = probe_schema();
        let mut kinds: Vec<&str> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|p| !NOT_KINDS.contains(p))
            .collect();
        kinds.sort_unstable();
        assert_eq!(kinds.len(), 61, "{kinds:?}");

        let rule = &schema["x-kubernetes-validations"][0];
        assert_eq!(rule["rule"], EXACTLY_ONE_KIND);
        let mut in_rule: Vec<&str> = EXACTLY_ONE_KIND
            .split("has(self.")
            .skip(1)
            .filter_map(|s| s.split(')').next())
            .collect();
        in_rule.sort_unstable();
        assert_eq!(in_rule, kinds);

        let message = rule["message"].as_str().unwrap();
        let listed = message.split_once("kind: ").unwrap().1;
        let mut in_message: Vec<&str> = listed
            .split([',', ' '])
            .filter(|w| !w.is_empty() && *w != "or")
            .collect();
        in_message.sort_unstable();
        assert_eq!(in_message, kinds);
    }

    #[test]
    fn status_lists_merge_by_key() {
        let crd = serde_json::to_value(TestRun::crd()).unwrap();
        let status = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
            ["properties"];
        assert_eq!(
            status["probes"]["x-kubernetes-list-map-keys"],
            serde_json::json!(["name"])
        );
        assert_eq!(
            status["conditions"]["x-kubernetes-list-map-keys"],
            serde_json::json!(["type"])
        );
    }

    #[test]
    fn a_probe_round_trips_as_a_union_of_optional_fields() {
        let yaml = "name: exit\nexitCode:\n  code: 42\n";
        let probe: Probe = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(probe.exit_code, Some(ExitCodeProbe { code: 42 }));
        assert_eq!(serde_yaml::to_string(&probe).unwrap(), yaml);
    }
}
