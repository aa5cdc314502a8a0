//! End to end on the real test cluster: the `proctor controller` binary of this build runs the
//! conformance sample (the whole catalog) and writes verdicts; under every `faulty-*` runtime
//! class exactly the probes that check the broken behaviour fail; a controller killed mid-run
//! and restarted finishes the run without running anything twice; a probe that cannot start
//! is an `Error` long before its timeout.
//!
//! Run by `.ci/run`; by hand: `PROCTOR_TEST_KUBECONFIG=$(tests/cluster/up.sh) cargo test --test
//! e2e -- --ignored`.

// A test that cannot get what it needs fails: panicking is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use proctor::api::{ProbePhase, TestRun, Verdict};
use support::*;

const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// The matrix runs each class's sample at this parallelism, the sample's own.
const MATRIX_PARALLELISM: i32 = 4;
/// A class's run ends within this: `faulty-latekill` holds some probes a minute or more.
const MATRIX_RUN_TIMEOUT: Duration = Duration::from_secs(480);

#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn the_whole_catalog_passes_under_runc_with_the_observed_values() {
    with_namespace("e2e-runc", |client, ns| async move {
        install_crd(&client).await;
        let controller = ControllerProcess::start(&ns);
        let run = sample_run("conformance", |spec| {
            spec.runtime_class_name = Some("runc".into())
        });
        let run = run_to_end(&client, &ns, run, RUN_TIMEOUT).await;
        let log = controller.log_text();
        assert_verdicts(&run, &[], &["process-group-kill"]);

        let status = run.status.clone().unwrap();
        let probe = |name: &str| {
            status
                .probes
                .iter()
                .find(|p| p.name == name)
                .unwrap()
                .clone()
        };
        let observed = |name: &str, check: &str| {
            let p = probe(name);
            p.checks
                .iter()
                .find(|c| c.name == check)
                .map(|c| c.observed.clone())
                .unwrap_or_else(|| panic!("{name} has no {check} check: {:?}", p.checks))
        };
        assert_eq!(observed("exit-code", "exitCode"), "42");
        assert_eq!(
            observed("env", "value"),
            format!("{:?}", proctor::probes::DEFAULT_ENV_VALUE)
        );
        assert_eq!(observed("env", "emptyValue"), r#""""#);
        assert_eq!(observed("env", "longValue"), "8192 bytes, byte for byte");
        assert_eq!(observed("run-as-identity", "uids"), "2001 2001 2001 2001");
        assert_eq!(observed("run-as-identity", "gids"), "2002 2002 2002 2002");
        assert_eq!(observed("run-as-identity", "groups"), "2002 2003 2004");
        assert_eq!(observed("fs-group", "volumeGroup"), "2005");
        assert_eq!(observed("fs-group", "newFileGroup"), "2005");
        assert_eq!(observed("capabilities", "boundingSet"), "NET_BIND_SERVICE");
        assert_eq!(observed("capabilities", "effectiveSet"), "none");
        assert_eq!(observed("no-new-privileges", "noNewPrivs"), "1");
        assert_eq!(observed("seccomp-default", "seccompMode"), "filter (2)");
        assert_eq!(
            observed("seccomp-default", "userNamespace"),
            "refused (Operation not permitted)"
        );
        assert!(
            observed("read-only-root-filesystem", "rootMount").starts_with("ro,"),
            "{}",
            observed("read-only-root-filesystem", "rootMount")
        );
        assert_eq!(observed("masked-paths", "maskedPaths"), "all masked");
        assert_eq!(observed("masked-paths", "readOnlyPaths"), "all read-only");
        assert!(observed("host-devices", "devices").starts_with("only the default devices"));
        assert_eq!(
            observed("dns-config", "nameservers"),
            "10.123.0.53 10.123.0.54"
        );
        assert_eq!(observed("dns-config", "options"), "edns0 ndots:2");
        assert_eq!(
            observed("etc-hosts", "hostAliases"),
            "10.123.45.67 proctor-alias-one proctor-alias-two"
        );
        assert_eq!(
            observed("variable-expansion", "escapedReference"),
            "$(PROCTOR_EXPAND)"
        );
        assert_eq!(observed("downward-api", "fileResource"), "limits.memory=64");
        assert_eq!(observed("downward-api", "fileDefaultMode"), "440");
        assert_eq!(observed("downward-api", "fileItemMode"), "640");
        assert_eq!(observed("exit-code", "terminatedReason"), "Error");
        assert_eq!(
            observed("exec-exit-code", "execOutput"),
            "proctor-exec-output 7"
        );
        assert_eq!(
            observed("read-only-root-filesystem", "writableRootWrite"),
            "succeeded"
        );
        assert_eq!(
            observed("termination-message", "customPathMessage"),
            r#""proctor termination message""#
        );
        assert_eq!(
            observed("termination-message-fallback", "succeededMessage"),
            r#""""#
        );
        assert_eq!(
            observed("config-map-volume", "envSpaced"),
            "[  spaced value  ]"
        );
        assert_eq!(
            observed("init-containers", "neverOrder"),
            proctor::probes::kinds::init_containers::ORDER
        );
        assert_eq!(observed("resource-limits", "memoryLimit"), "50331648");
        assert_eq!(observed("resource-limits", "cpuQuota"), "50000/100000");
        assert_eq!(observed("resource-limits", "cpuShares"), "256");
        assert_eq!(observed("empty-dir-memory", "filesystem"), "tmpfs");
        assert_eq!(observed("empty-dir-memory", "size"), "8192k");
        assert_eq!(observed("projected-volume", "itemMode"), "640");
        assert_eq!(
            observed("long-log-line", "line"),
            "40000 bytes, byte for byte"
        );
        assert_eq!(observed("post-start", "hook"), "ran");
        assert_eq!(
            observed("pre-stop", "hookBeforeTerm"),
            "pre-stop ran before TERM"
        );
        assert_eq!(observed("liveness-restart", "restartCount"), "1");
        assert_eq!(
            observed("shared-localhost", "reply"),
            "proctor-localhost-banner"
        );
        assert_eq!(observed("pod-to-pod-tcp", "distinctIps"), "yes");
        let sysctls: Vec<String> = probe("sysctls")
            .checks
            .iter()
            .filter(|c| c.name == "sysctl")
            .map(|c| c.observed.clone())
            .collect();
        assert_eq!(
            sysctls,
            [
                "kernel.shm_rmid_forced=1",
                "net.ipv4.ip_local_port_range=40000 50000"
            ]
        );
        assert_eq!(observed("working-dir", "workingDir"), "/tmp");
        assert_eq!(observed("large-output", "lineCount"), "20000");
        assert_eq!(observed("oom-kill", "reason"), "OOMKilled");
        assert_eq!(observed("restart-count", "restartCount"), "2");
        assert_eq!(
            observed("previous-log", "previousLog"),
            format!(
                "{:?}",
                "run 1: line 1\nrun 1: line 2\nrun 1: line 3\nrun 1: line 4\nrun 1: line 5\n"
            )
        );
        assert_eq!(observed("stream-order", "stderr"), "500 lines, in order");
        assert_eq!(observed("allocatable-limits", "envCpuMillis"), "2000");
        assert_eq!(
            observed("http-hooks", "handlerRecord"),
            "GET poststart, GET prestop"
        );
        assert_eq!(observed("streaming", "execInSecond"), r#""second\n""#);
        assert_eq!(
            observed("streaming", "attach"),
            r#""got: hello over attach""#
        );
        assert_eq!(
            observed("ephemeral-containers", "debugger2Log"),
            r#""ephemeral: debugger-2\n""#
        );
        assert_eq!(observed("sidecar-order", "sidecarStoppedAfterApp"), "yes");
        assert_eq!(
            observed("command-and-args", "commandOnly"),
            r#""command-only 0""#
        );
        assert!(
            observed("pod-network", "podIpInPodCidr").starts_with("10.123.0."),
            "{:?}",
            probe("pod-network")
        );
        assert_eq!(
            observed("deadline-exceeded", "podReason"),
            "DeadlineExceeded"
        );
        let shutdown = probe("graceful-shutdown")
            .termination
            .expect("graceful shutdown timeline");
        assert_eq!(
            (shutdown.exit_code, shutdown.ended_by.as_deref()),
            (Some(0), Some("SIGTERM"))
        );
        assert_eq!(
            probe("process-group-kill").reason.as_deref(),
            Some("PrivilegedNotAllowed")
        );

        for p in &status.probes {
            if p.verdict == Some(Verdict::Passed) {
                assert_eq!((p.attempts, p.passed_attempts), (1, 1), "{p:?}");
            }
        }
        let summary = status.summary.unwrap();
        assert_eq!(
            summary.total as usize,
            sample_run("count", |_| {}).spec.probes.len()
        );
        assert_eq!(summary.skipped, 1);
        let passed = status
            .conditions
            .iter()
            .find(|c| c.type_ == "Passed")
            .unwrap();
        let ready = status
            .conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(ready.status, "True");
        let expected_passed = if summary.failed == 0 { "True" } else { "False" };
        assert_eq!(passed.status, expected_passed, "controller log:\n{log}");
    })
    .await;
}

/// The mutation matrix (README, "Fault-injection runtime classes"): under each fault class, the probes of the sample that
/// must fail (all others pass). `processGroupKill` is shown failing under `faulty-pgk` by its
/// own test (it needs the inspector).
const MATRIX: &[(&str, &[&str])] = &[
    // Env values trimmed (the env probe, and the spaced key the ConfigMap and Secret probes
    // read into env), the working directory ignored, read-only mounts writable.
    (
        "faulty-spec",
        &[
            "env",
            "config-map-volume",
            "secret-volume",
            "working-dir",
            "read-only-volume",
        ],
    ),
    // The process always exits 0: every probe that relies on a non-zero exit fails.
    ("faulty-exit", FAULTY_EXIT_FAILS),
    // Execs exit 0: the exec probes, and the custom probe's exec action expecting 5.
    (
        "faulty-exec",
        &[
            "exec-exit-code",
            "exec-missing-binary",
            "custom-exec-then-delete",
            "post-start",
            "pre-stop",
            "liveness-restart",
            "pod-to-pod-tcp",
            "streaming",
            "ephemeral-containers",
        ],
    ),
    // stderr to /dev/null and stdin from it; non-ASCII on stdout becomes '?' (the unicode
    // probe, and the env probe whose default value is not ASCII); stdout cut at 64 KiB (only
    // the large output is that large).
    (
        "faulty-streams",
        &[
            "stderr",
            "stream-order",
            "streaming",
            "unicode-output",
            "env",
            "large-output",
        ],
    ),
    // A create that overlaps another of its probe's fails: the burst. (The churn's pods that
    // fail to start are deleted all the same; the two pods of podToPodTcp and the two
    // containers of sharedLocalhost start again after a StartError.) And SIGTERM sent as
    // SIGKILL (httpHooks then reads the requests from its handler's message).
    (
        "faulty-lifecycle",
        &[
            "concurrent-start",
            "graceful-shutdown",
            "custom-exec-then-delete",
            "pre-stop",
        ],
    ),
    // Kills land 50 s late: the deadline is enforced 50 s after it passed, the churn's pods
    // outlive its 40 s timeout, and the TERM arrives long after the grace period.
    (
        "faulty-latekill",
        &[
            "deadline-exceeded",
            "rapid-create-delete",
            "graceful-shutdown",
            "pre-stop",
        ],
    ),
    // Root, every capability, no no_new_privs, no seccomp; a writable root, no masks, a host
    // device, no sysctls, volumes not given to the fsGroup: nine faults whose probes are
    // disjoint (each failed probe's reason is asserted below).
    (
        "faulty-security",
        &[
            "run-as-identity",
            "capabilities",
            "no-new-privileges",
            "seccomp-default",
            "read-only-root-filesystem",
            "masked-paths",
            "host-devices",
            "sysctls",
            "fs-group",
            "empty-dir-modes",
        ],
    ),
    // The kubelet's work undone or replaced: the hostname, /etc/hosts, resolv.conf, the
    // downward API, $(VAR) expansion.
    (
        "faulty-identity",
        &[
            "hostname",
            "etc-hosts",
            "dns-config",
            "downward-api",
            "variable-expansion",
            "config-map-volume",
            "secret-volume",
            "live-updates",
            "allocatable-limits",
        ],
    ),
    // The container's cgroup unlimited (the OOM probe's limit too), and network, IPC and PID
    // namespaces of its own (where the pod's net.* sysctls do not apply either).
    (
        "faulty-isolation",
        &[
            "resource-limits",
            "oom-kill",
            "pod-network",
            "pod-to-pod-tcp",
            "shared-localhost",
            "sysctls",
            "namespaces",
            "http-hooks",
        ],
    ),
    // Memory volumes on disk, a wrong subPath, volume file modes 0666, long lines split, the
    // logs of earlier runs emptied.
    (
        "faulty-volumes",
        &[
            "empty-dir-memory",
            "sub-path",
            "projected-volume",
            "long-log-line",
            "previous-log",
            "config-map-volume",
            "secret-volume",
            "empty-dir-modes",
            "downward-api",
        ],
    ),
];

/// The container-probe kinds (examples/container-probes.yaml) have a matrix of their own: their
/// pods (19 containers probed every second or two) beside the whole sample under three classes
/// at once overload a two-core node. Each class with the reason both kinds fail with (empty:
/// they pass; `-`: they fail, the first failing setup depending on which kill lands first).
/// Exec probes never run; httpGet and tcpSocket probes find no server at the pod's IP; kills
/// land 50 s late, one after another.
const CONTAINER_PROBES_MATRIX: &[(&str, &str)] = &[
    ("runc", ""),
    ("faulty-exec", "ReadinessDelayedMismatch"),
    ("faulty-isolation", "LivenessHttpPassingMismatch"),
    ("faulty-latekill", "-"),
];

/// The container-probe kinds pass under runc and fail, with the check of their own fault,
/// under each fault that breaks them.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn the_container_probe_kinds_fail_exactly_under_their_faults() {
    let runs: Vec<(&str, &str, TestRun)> =
        futures::stream::iter(CONTAINER_PROBES_MATRIX.iter().copied())
            .map(|(class, reason)| async move {
                let run = run_example(
                    &format!("e2e-probes-{class}"),
                    "restricted",
                    CONTAINER_PROBES,
                    move |spec| spec.runtime_class_name = Some(class.into()),
                    RUN_TIMEOUT,
                )
                .await;
                (class, reason, run)
            })
            .buffer_unordered(2)
            .collect()
            .await;
    for (class, reason, run) in runs {
        eprintln!("the container-probe kinds under {class}");
        let failed: &[&str] = if reason.is_empty() {
            &[]
        } else {
            &["container-probes", "sidecar-probes"]
        };
        assert_verdicts(&run, failed, &[]);
        if !reason.is_empty() && reason != "-" {
            for (name, (_, observed, message)) in verdicts(&run) {
                assert_eq!(observed, reason, "{class}: {name}: {message}");
            }
        }
    }
}

/// The privileged kind (examples/privileged.yaml) runs in namespaces at the privileged Pod
/// Security level, with the controller's grant: each class with the reason it fails with
/// (empty: it passes). Under faulty-insecure (root, every capability, no no_new_privs, no
/// seccomp filter) the setups that ask for less get more: the unprivileged root container adds
/// a network link. Under faulty-propagation every mount is private: the node's mount never
/// reaches the HostToContainer container.
const PRIVILEGED_MATRIX: &[(&str, &str)] = &[
    ("runc", ""),
    ("faulty-insecure", "UnprivilegedLinkMismatch"),
    ("faulty-propagation", "PropagationHostToContainerMismatch"),
];

#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn the_privileged_kind_fails_exactly_under_its_fault() {
    let runs: Vec<(&str, &str, TestRun)> = futures::stream::iter(PRIVILEGED_MATRIX.iter().copied())
        .map(|(class, reason)| async move {
            let run = run_example(
                &format!("e2e-priv-{class}"),
                "privileged",
                PRIVILEGED,
                move |spec| spec.runtime_class_name = Some(class.into()),
                RUN_TIMEOUT,
            )
            .await;
            (class, reason, run)
        })
        .buffer_unordered(3)
        .collect()
        .await;
    for (class, reason, run) in runs {
        eprintln!("the privileged kind under {class}");
        let failed: &[&str] = if reason.is_empty() {
            &[]
        } else {
            &["privileged"]
        };
        assert_verdicts(&run, failed, &[]);
        for (name, (_, observed, message)) in verdicts(&run) {
            if !reason.is_empty() {
                assert_eq!(observed, reason, "{class}: {name}: {message}");
            }
        }
    }
}

/// Every kind fails under a fault: the classes the catalog (docs/catalog.md) names for a kind
/// are exactly those under which the matrix expects one of its sample probes to fail.
#[test]
fn the_matrix_fails_every_kind_under_the_faults_the_catalog_names() {
    let sample = sample_run("sample", |_| {});
    let kind_of = |probe: &str| {
        let p = sample.spec.probes.iter().find(|p| p.name == probe).unwrap();
        proctor::probes::ProbeKind::of(p).unwrap().name()
    };
    let mut from_matrix: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (class, failed) in MATRIX {
        for probe in failed.iter() {
            from_matrix
                .entry(kind_of(probe))
                .or_default()
                .insert(class.trim_start_matches("faulty-").to_owned());
        }
    }
    from_matrix
        .entry("processGroupKill")
        .or_default()
        .insert("pgk".into());
    from_matrix
        .entry("sidecarOrder")
        .or_default()
        .insert("slowfirst".into());
    from_matrix
        .entry("commandAndArgs")
        .or_default()
        .insert("cmd".into());
    for (class, _) in CONTAINER_PROBES_MATRIX.iter().filter(|(c, _)| *c != "runc") {
        for kind in ["containerProbes", "sidecarProbes"] {
            from_matrix
                .entry(kind)
                .or_default()
                .insert(class.trim_start_matches("faulty-").to_owned());
        }
    }
    for (class, _) in PRIVILEGED_MATRIX.iter().filter(|(c, _)| *c != "runc") {
        from_matrix
            .entry("privileged")
            .or_default()
            .insert(class.trim_start_matches("faulty-").to_owned());
    }
    for entry in proctor::probes::catalog::entries() {
        let named: BTreeSet<String> = entry.faults.split(", ").map(str::to_owned).collect();
        assert_eq!(
            from_matrix.get(entry.kind),
            Some(&named),
            "{}: the catalog names {named:?}",
            entry.kind
        );
    }
}

/// The mutation matrix: each fault makes exactly the probes that check it fail.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn each_faulty_runtime_fails_exactly_the_probes_that_check_its_behaviour() {
    // The reason each probe fails with under its fault: the check its own fault breaks, not a
    // neighbour's.
    let mut reasons: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    for (probe, reason) in [
        ("env", "ValueMismatch"),
        ("run-as-identity", "UidsMismatch"),
        ("capabilities", "BoundingSetMismatch"),
        ("no-new-privileges", "NoNewPrivsMismatch"),
        ("seccomp-default", "SeccompModeMismatch"),
        ("read-only-root-filesystem", "RootMountMismatch"),
        ("masked-paths", "MaskedPathsMismatch"),
        ("host-devices", "DevicesMismatch"),
        ("sysctls", "SysctlMismatch"),
        ("fs-group", "VolumeGroupMismatch"),
        ("empty-dir-modes", "DirModeMismatch"),
        ("hostname", "HostnameMismatch"),
        ("etc-hosts", "PodEntryMismatch"),
        ("dns-config", "NameserversMismatch"),
        ("downward-api", "EnvFieldMismatch"),
        ("variable-expansion", "CommandExpansionMismatch"),
        ("resource-limits", "MemoryLimitMismatch"),
        ("pod-network", "PodIpOnInterfaceMismatch"),
        ("pod-to-pod-tcp", "BannerMismatch"),
        ("shared-localhost", "ReplyMismatch"),
        ("empty-dir-memory", "FilesystemMismatch"),
        ("sub-path", "ContentMismatch"),
        ("projected-volume", "ItemModeMismatch"),
        ("long-log-line", "LineCountMismatch"),
        ("stream-order", "StderrMismatch"),
        ("allocatable-limits", "EnvCpuMillisMismatch"),
        ("post-start", "HookMismatch"),
        ("http-hooks", "PostStartMismatch"),
        ("liveness-restart", "RestartCountMismatch"),
    ] {
        for &(class, failed) in MATRIX {
            if failed.contains(&probe) {
                reasons.insert((class, probe), reason);
            }
        }
    }
    // Probes that two classes break, each its own way.
    for (class, probe, reason) in [
        ("faulty-identity", "config-map-volume", "ContentMismatch"),
        ("faulty-identity", "secret-volume", "ContentMismatch"),
        ("faulty-volumes", "config-map-volume", "DefaultModeMismatch"),
        ("faulty-volumes", "secret-volume", "DefaultModeMismatch"),
        ("faulty-volumes", "empty-dir-modes", "MemoryMediumMismatch"),
        ("faulty-spec", "config-map-volume", "EnvSpacedMismatch"),
        // The failing init container exits 0: the Never pod succeeds.
        ("faulty-exit", "init-containers", "NeverFailingInitMismatch"),
        ("faulty-volumes", "downward-api", "FileDefaultModeMismatch"),
        ("faulty-spec", "secret-volume", "EnvSpacedMismatch"),
        // The first run exits 0 under faulty-exit: no restart at all.
        ("faulty-exit", "previous-log", "RestartCountMismatch"),
        // The blank container's shell, run as faulty-exit's child, is not interactive: it
        // never reads `$ENV`.
        ("faulty-exit", "command-and-args", "ImageDefaultsMismatch"),
        ("faulty-volumes", "previous-log", "PreviousLogMismatch"),
        // Nothing runs in an exec: the first exec prints nothing.
        ("faulty-exec", "streaming", "ExecInProbeMismatch"),
        (
            "faulty-exec",
            "ephemeral-containers",
            "ExecInDebugger1Mismatch",
        ),
        // stdin at its end: attach reaches nothing, and the container says so.
        ("faulty-streams", "streaming", "ProbeLogMismatch"),
        // The wrapper runs the command in the background, stdin /dev/null (POSIX, before any
        // redirection): the same.
        ("faulty-exit", "streaming", "ProbeLogMismatch"),
        // The first content of a ConfigMap file lacks its last byte.
        (
            "faulty-identity",
            "live-updates",
            "ConfigMapUpdatedBeforeMismatch",
        ),
        // The containers of the shareProcessNamespace pod apart.
        (
            "faulty-isolation",
            "namespaces",
            "SharedPidNamespaceMismatch",
        ),
    ] {
        reasons.insert((class, probe), reason);
    }
    // Several classes at once (PROCTOR_MATRIX_PARALLEL, default 3): each run spends most of its
    // time waiting on its pods, and every class has a namespace and a controller of its own.
    let parallel = std::env::var("PROCTOR_MATRIX_PARALLEL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let runs: Vec<(&str, &[&str], TestRun)> = futures::stream::iter(MATRIX.iter().copied())
        .map(|(class, failed)| async move {
            let run = run_sample(
                &format!("e2e-{class}"),
                "restricted",
                move |spec| {
                    spec.runtime_class_name = Some(class.into());
                    spec.parallelism = Some(MATRIX_PARALLELISM);
                },
                MATRIX_RUN_TIMEOUT,
            )
            .await;
            (class, failed, run)
        })
        .buffer_unordered(parallel)
        .collect()
        .await;
    for (class, failed, run) in runs {
        eprintln!("the matrix under {class}");
        assert_verdicts(&run, failed, &["process-group-kill"]);
        for (name, (_, reason, message)) in verdicts(&run) {
            if let Some(expected) = reasons.get(&(class, name.as_str())) {
                assert_eq!(&reason, expected, "{class}: {name}: {message}");
            }
        }
    }
}

/// The controller killed (SIGKILL) in the middle of a run and started again finishes the run:
/// every probe gets exactly one verdict, and no pod is ever created twice.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn a_controller_killed_mid_run_resumes_without_running_anything_twice() {
    with_namespace("e2e-restart", |client, ns| async move {
        install_crd(&client).await;
        // Every pod creation the API server saw, by name: a second UID for a name would be a
        // probe run twice.
        let created: Arc<Mutex<BTreeMap<String, BTreeSet<String>>>> = Arc::default();
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let seen = created.clone();
        let pod_watch = tokio::spawn(
            watcher(pods, watcher::Config::default())
                .applied_objects()
                .for_each(move |pod| {
                    if let Ok(pod) = pod {
                        seen.lock()
                            .unwrap()
                            .entry(pod.name_any())
                            .or_default()
                            .insert(pod.uid().unwrap_or_default());
                    }
                    async {}
                }),
        );
        // Every verdict the status ever showed, per probe.
        let verdict_history: Arc<Mutex<BTreeMap<String, Vec<String>>>> = Arc::default();
        let runs: Api<TestRun> = Api::namespaced(client.clone(), &ns);
        let history = verdict_history.clone();
        let run_watch = tokio::spawn(
            watcher(runs.clone(), watcher::Config::default())
                .applied_objects()
                .for_each(move |run| {
                    if let Ok(run) = run {
                        let mut history = history.lock().unwrap();
                        for p in run.status.iter().flat_map(|s| s.probes.iter()) {
                            if let Some(v) = p.verdict {
                                let entry = history.entry(p.name.clone()).or_default();
                                let v = format!("{v:?}");
                                if entry.last() != Some(&v) {
                                    entry.push(v);
                                }
                            }
                        }
                    }
                    async {}
                }),
        );

        let mut controller = ControllerProcess::start(&ns);
        let run = sample_run("restart", |spec| {
            spec.runtime_class_name = Some("runc".into());
            spec.cleanup = Some(proctor::api::CleanupPolicy::Never);
        });
        runs.create(&Default::default(), &run).await.unwrap();
        // Kill once some probes are finished and others still running.
        tokio::time::timeout(RUN_TIMEOUT, async {
            loop {
                let r = runs.get("restart").await.unwrap();
                let probes = r.status.map(|s| s.probes).unwrap_or_default();
                let finished = probes
                    .iter()
                    .filter(|p| p.phase == ProbePhase::Finished)
                    .count();
                let running = probes
                    .iter()
                    .filter(|p| p.phase == ProbePhase::Running)
                    .count();
                if finished >= 3 && running >= 1 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
        .await
        .expect("the run got under way");
        controller.kill();
        let _restarted = ControllerProcess::start(&ns);
        let run = wait_for_end(&client, &ns, "restart", RUN_TIMEOUT).await;
        // Let the watches catch up with the last writes.
        tokio::time::sleep(Duration::from_secs(2)).await;
        pod_watch.abort();
        run_watch.abort();

        assert_verdicts(&run, &[], &["process-group-kill"]);
        assert_each_ran_once(&run);
        let status = run.status.unwrap();
        for (probe, history) in verdict_history.lock().unwrap().iter() {
            assert_eq!(
                history.len(),
                1,
                "probe {probe} changed its verdict: {history:?}"
            );
        }
        assert_eq!(verdict_history.lock().unwrap().len(), status.probes.len());
        let created = created.lock().unwrap();
        for (name, uids) in created.iter() {
            assert_eq!(uids.len(), 1, "pod {name} was created {} times", uids.len());
        }
        let expected: BTreeSet<String> = status
            .probes
            .iter()
            .flat_map(|p| p.pods.iter().cloned())
            .collect();
        let actual: BTreeSet<String> = created.keys().cloned().collect();
        assert_eq!(
            actual, expected,
            "exactly the pods the status names were created"
        );
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn a_probe_whose_image_cannot_be_pulled_is_an_error_long_before_its_timeout() {
    with_namespace("e2e-image", |client, ns| async move {
        install_crd(&client).await;
        let _controller = ControllerProcess::start(&ns);
        let mut run = sample_run("missing-image", |spec| {
            spec.probes.retain(|p| p.name == "exit-code");
            spec.probes[0].image = Some("registry.invalid/proctor/nothing:1.0".into());
            spec.probes[0].timeout_seconds = Some(300);
        });
        run.spec.timeout_seconds = Some(300);
        let run = run_to_end(&client, &ns, run, Duration::from_secs(120)).await;
        let probe = run.status.unwrap().probes.remove(0);
        assert_eq!(probe.verdict, Some(Verdict::Error), "{probe:?}");
        assert_eq!(probe.reason.as_deref(), Some("PodCannotStart"));
        assert!(
            probe
                .message
                .as_deref()
                .unwrap_or_default()
                .contains("ErrImagePull")
                || probe
                    .message
                    .as_deref()
                    .unwrap_or_default()
                    .contains("ImagePullBackOff"),
            "{probe:?}"
        );
        let took =
            probe.finished_at.unwrap().0.as_second() - probe.started_at.unwrap().0.as_second();
        assert!(
            took < 60,
            "an image that cannot be pulled took {took}s to report"
        );
    })
    .await;
}

/// With `allowPrivileged`, the hostPID inspector looks at the node: for the probe's processes
/// after the process-group kill, and for the churn pods' processes once they are gone.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn the_node_is_inspected_for_leftovers_when_privileged_is_allowed() {
    let run = run_sample(
        "e2e-pgk",
        "privileged",
        |spec| {
            spec.probes
                .retain(|p| p.name == "process-group-kill" || p.name == "rapid-create-delete");
            spec.allow_privileged = Some(true);
        },
        RUN_TIMEOUT,
    )
    .await;
    assert_verdicts(&run, &[], &[]);
    for probe in &run.status.unwrap().probes {
        assert_eq!(leftovers(probe), "0", "{probe:?}");
    }
}

/// The inspector runs on the node of the pod it inspects: required affinity to the node the
/// process-group-kill pod was scheduled to, which the probe's status records.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn the_inspector_runs_on_the_node_of_the_pods_it_inspects() {
    with_namespace_at("e2e-pinned", "privileged", |client, ns| async move {
        install_crd(&client).await;
        let _controller = ControllerProcess::start(&ns);
        let runs: Api<TestRun> = Api::namespaced(client.clone(), &ns);
        let run = testrun(
            "pinned",
            serde_json::json!({
                "allowPrivileged": true,
                "probes": [{"name": "pgk", "processGroupKill": {}}],
            }),
        );
        runs.create(&Default::default(), &run).await.unwrap();
        // The inspector as created, before cleanup deletes it at the run's end.
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        let (inspector, probe_pod) = loop {
            let list = pods.list(&Default::default()).await.unwrap().items;
            let inspector = list
                .iter()
                .find(|p| p.name_any().contains("-inspector"))
                .cloned();
            let probe_pod = list
                .iter()
                .find(|p| p.name_any().ends_with("-pgk-0"))
                .cloned();
            if let (Some(inspector), Some(probe_pod)) = (inspector, probe_pod) {
                break (inspector, probe_pod);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no inspector: {list:#?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let node = probe_pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .expect("the probe pod was scheduled before its inspector was made");
        let required = inspector
            .spec
            .as_ref()
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| {
                n.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .map(|r| serde_json::to_value(&r.node_selector_terms).unwrap());
        assert_eq!(
            required,
            Some(serde_json::json!([{"matchFields": [
                {"key": "metadata.name", "operator": "In", "values": [node]}
            ]}])),
            "the inspector is not pinned to the probe pod's node: {:#?}",
            inspector.spec
        );
        let run = wait_for_end(&client, &ns, "pinned", RUN_TIMEOUT).await;
        assert_verdicts(&run, &[], &[]);
        let pgk = &run.status.as_ref().unwrap().probes[0];
        assert_eq!(pgk.nodes, vec![node.clone()], "{pgk:#?}");
    })
    .await;
}

/// The leftover checks fail when killing a container kills only its main process
/// (`faulty-pgk`): the inspector finds the children still running on the node, the
/// process-group kill's two, and the marked child of every churn pod whose container had run.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn leftover_checks_fail_when_the_children_survive_the_kill() {
    let run = run_sample(
        "e2e-pgk-faulty",
        "privileged",
        |spec| {
            spec.probes
                .retain(|p| p.name == "process-group-kill" || p.name == "rapid-create-delete");
            spec.allow_privileged = Some(true);
            spec.runtime_class_name = Some("faulty-pgk".into());
        },
        RUN_TIMEOUT,
    )
    .await;
    assert_verdicts(&run, &["process-group-kill", "rapid-create-delete"], &[]);
    let status = run.status.unwrap();
    let probe = |name: &str| status.probes.iter().find(|p| p.name == name).unwrap();
    let pgk = probe("process-group-kill");
    assert_eq!(leftovers(pgk), "2", "both children survive: {pgk:?}");
    let churn = probe("rapid-create-delete");
    assert_eq!(
        churn.reason.as_deref(),
        Some("LeftoverProcessesMismatch"),
        "{churn:?}"
    );
    // The five pods deleted after they ran leave their child at least; those deleted during
    // their setup may or may not have started it.
    let count: usize = leftovers(churn).parse().unwrap();
    assert!(count >= 5, "{churn:?}");
}

/// A runtime that reports a pod's first container running before its process runs
/// (`faulty-slowfirst`, 5 s) starts the app container beside a sidecar that is not up yet. A
/// class that holds back every pod's first process would slow every probe of the sample, so
/// it runs the one probe whose behaviour it breaks (the sample, under runc, shows it passing).
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn a_sidecar_not_up_when_reported_running_fails_the_sidecar_order() {
    let run = run_sample(
        "e2e-slowfirst",
        "restricted",
        |spec| {
            spec.probes.retain(|p| p.name == "sidecar-order");
            spec.runtime_class_name = Some("faulty-slowfirst".into());
        },
        RUN_TIMEOUT,
    )
    .await;
    assert_verdicts(&run, &["sidecar-order"], &[]);
    let status = run.status.unwrap();
    let probe = &status.probes[0];
    assert_eq!(
        probe.reason.as_deref(),
        Some("SidecarUpFirstMismatch"),
        "{probe:?}"
    );
}

/// A runtime that appends the image's CMD to the command it was given (`faulty-cmd`) runs
/// what neither the spec nor the image says. Most probes ignore a trailing argument, some do not
/// (those printing `"$@"`): the class runs the one probe that checks it.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn a_cmd_appended_to_the_command_fails_command_and_args() {
    let run = run_sample(
        "e2e-cmd",
        "restricted",
        |spec| {
            spec.probes.retain(|p| p.name == "command-and-args");
            spec.runtime_class_name = Some("faulty-cmd".into());
        },
        RUN_TIMEOUT,
    )
    .await;
    assert_verdicts(&run, &["command-and-args"], &[]);
    let status = run.status.unwrap();
    let probe = &status.probes[0];
    assert_eq!(
        probe.reason.as_deref(),
        Some("ImageDefaultsMismatch"),
        "{probe:?}"
    );
}

fn leftovers(probe: &proctor::api::ProbeStatus) -> String {
    probe
        .checks
        .iter()
        .find(|c| c.name == "leftoverProcesses")
        .unwrap_or_else(|| panic!("no leftoverProcesses check: {probe:?}"))
        .observed
        .clone()
}

/// Cleanup and TTL: with `cleanup: Always` the probe pods go once the run is finished, and with
/// `ttlSecondsAfterFinished` the run itself goes. A custom probe's `secretData` volume is
/// created, mounted read-only, and read.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn finished_runs_clean_up_their_pods_and_expire_after_their_ttl() {
    with_namespace("e2e-ttl", |client, ns| async move {
        install_crd(&client).await;
        let _controller = ControllerProcess::start(&ns);
        let mut run = sample_run("ttl", |spec| {
            spec.probes.retain(|p| p.name == "exit-code");
            spec.cleanup = Some(proctor::api::CleanupPolicy::Always);
            spec.ttl_seconds_after_finished = Some(5);
        });
        let custom: proctor::api::Probe = serde_yaml::from_str(
            r#"
name: secret-volume
custom:
  command: [sh, -c, "cat /etc/probe/greeting; touch /etc/probe/x 2>&1; true"]
  volumes: [{name: data, mountPath: /etc/probe, readOnly: true, secretData: {greeting: hello}}]
  expect: {exitCode: 0, logContains: [hello, Read-only file system]}
"#,
        )
        .unwrap();
        run.spec.probes.push(custom);
        let run = run_to_end(&client, &ns, run, RUN_TIMEOUT).await;
        assert_verdicts(&run, &[], &[]);

        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let runs: Api<TestRun> = Api::namespaced(client.clone(), &ns);
        let gone = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let left = pods.list(&Default::default()).await.unwrap().items.len();
                let run_left = runs.get_opt("ttl").await.unwrap().is_some();
                if left == 0 && !run_left {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
        .await;
        assert!(
            gone.is_ok(),
            "pods or the run still present a minute after the run finished"
        );
    })
    .await;
}

/// The name of the run that owns `pod`.
fn run_of(pod: &Pod) -> Option<String> {
    pod.owner_references()
        .iter()
        .find(|o| o.kind == "TestRun")
        .map(|o| o.name.clone())
}

/// A controller that starts with several runs in flight reconciles every one of them at once,
/// and releases the pods of a run deleted while it was down. (kube's pod cache woke only one
/// of the reconciles waiting for it: the others hung until the reconcile timeout, and the
/// orphan sweep never ran.)
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn a_restarted_controller_resumes_every_run_and_releases_the_pods_of_deleted_ones() {
    with_namespace("e2e-resume", |client, ns| async move {
        install_crd(&client).await;
        let runs: Api<TestRun> = Api::namespaced(client.clone(), &ns);
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let mut controller = ControllerProcess::start(&ns);
        let names = ["a", "b", "c", "gone"];
        for name in names {
            let run = sample_run(name, |spec| {
                spec.probes
                    .retain(|p| p.name == "exit-code" || p.name == "graceful-shutdown");
            });
            runs.create(&Default::default(), &run).await.unwrap();
        }
        // Every run under way (its pods created, so holding Proctor's finalizer), and `gone`
        // still holding its pods.
        let mut seen = BTreeSet::new();
        tokio::time::timeout(RUN_TIMEOUT, async {
            loop {
                let held: BTreeSet<String> = pods
                    .list(&Default::default())
                    .await
                    .unwrap()
                    .items
                    .iter()
                    .filter(|p| {
                        p.finalizers()
                            .iter()
                            .any(|f| f == proctor::api::POD_FINALIZER)
                    })
                    .filter_map(run_of)
                    .collect();
                seen.extend(held.iter().cloned());
                if names.iter().all(|n| seen.contains(*n)) && held.contains("gone") {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
        .await
        .expect("every run got under way");
        controller.kill();
        runs.delete("gone", &kube::api::DeleteParams::background())
            .await
            .unwrap();
        let restarted = ControllerProcess::start(&ns);

        for name in ["a", "b", "c"] {
            assert_verdicts(
                &wait_for_end(&client, &ns, name, RUN_TIMEOUT).await,
                &[],
                &[],
            );
        }
        let released = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let left = pods
                    .list(&Default::default())
                    .await
                    .unwrap()
                    .items
                    .iter()
                    .filter(|p| run_of(p).as_deref() == Some("gone"))
                    .count();
                if left == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
        .await;
        assert!(released.is_ok(), "the deleted run's pods were not released");
        let log = restarted.log_text();
        assert!(
            !log.contains("no answer within"),
            "a reconcile hung after the restart:\n{log}"
        );
    })
    .await;
}

/// An exec action that outlives its probe is cut off at the probe's deadline and recorded as
/// not finished: the probe ends in a timeout, once, instead of the exec being started again and
/// again (a reconcile-wide deadline once abandoned and repeated such an exec).
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn an_exec_that_outlives_its_probe_is_cut_off_at_the_probe_deadline() {
    let run = run_sample(
        "e2e-slow-exec",
        "restricted",
        |spec| {
            spec.probes.retain(|p| p.name == "custom-exec-then-delete");
            let probe = &mut spec.probes[0];
            probe.timeout_seconds = Some(15);
            let custom = probe.custom.as_mut().unwrap();
            custom.actions.as_mut().unwrap()[0]
                .exec
                .as_mut()
                .unwrap()
                .command = vec!["sleep".into(), "600".into()];
        },
        RUN_TIMEOUT,
    )
    .await;
    let probe = &run.status.as_ref().unwrap().probes[0];
    assert_eq!(probe.verdict, Some(Verdict::Error), "{probe:?}");
    assert_eq!(probe.reason.as_deref(), Some("Timeout"), "{probe:?}");
    assert_eq!(probe.attempts, 1, "{probe:?}");
    let check = probe
        .checks
        .iter()
        .find(|c| c.name == "action1ExitCode")
        .unwrap_or_else(|| panic!("the exec action is recorded: {probe:?}"));
    assert!(
        !check.passed && check.observed.contains("did not finish"),
        "the exec is recorded as cut off: {check:?}"
    );
}

/// A run deleted while a probe pod holds Proctor's finalizer: the pod is released and goes.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn deleting_a_run_mid_flight_releases_its_pods() {
    with_namespace("e2e-orphan", |client, ns| async move {
        install_crd(&client).await;
        let _controller = ControllerProcess::start(&ns);
        let run = sample_run("orphan", |spec| {
            spec.probes.retain(|p| p.name == "graceful-shutdown");
            spec.probes[0].graceful_shutdown = Some(proctor::api::GracefulShutdownProbe {
                grace_period_seconds: Some(120),
            });
        });
        let runs: Api<TestRun> = Api::namespaced(client.clone(), &ns);
        runs.create(&Default::default(), &run).await.unwrap();
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        // Wait until the pod exists with the finalizer, then delete the run under it.
        tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let held = pods
                    .list(&Default::default())
                    .await
                    .unwrap()
                    .items
                    .iter()
                    .any(|p| {
                        p.finalizers()
                            .iter()
                            .any(|f| f == proctor::api::POD_FINALIZER)
                    });
                if held {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
        .await
        .expect("the probe pod holds the finalizer");
        runs.delete("orphan", &kube::api::DeleteParams::foreground())
            .await
            .unwrap();
        let gone = tokio::time::timeout(Duration::from_secs(90), async {
            loop {
                if pods
                    .list(&Default::default())
                    .await
                    .unwrap()
                    .items
                    .is_empty()
                    && runs.get_opt("orphan").await.unwrap().is_none()
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
        .await;
        assert!(
            gone.is_ok(),
            "the run's pods were not released: {:?}",
            pods.list(&Default::default()).await.map(|l| l
                .items
                .iter()
                .map(|p| (p.name_any(), p.finalizers().to_vec()))
                .collect::<Vec<_>>())
        );
    })
    .await;
}

/// The global cap (`--max-running-pods 2`) holds across the run's parallelism of 4: never more
/// than two probe pods are unfinished at once, except a burst that needs more than the cap,
/// which runs alone. A probe with `repeat: 3` runs three attempts, each in a pod of its own.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn the_global_pod_cap_holds_and_repeated_probes_run_every_attempt() {
    with_namespace("e2e-cap", |client, ns| async move {
        install_crd(&client).await;
        let _controller = ControllerProcess::start_with(&ns, &["--max-running-pods", "2"]);
        let run = sample_run("cap", |spec| {
            spec.probes.retain(|p| {
                [
                    "exit-code",
                    "env",
                    "stderr",
                    "working-dir",
                    "unicode-output",
                    "termination-message",
                    "concurrent-start",
                ]
                .contains(&p.name.as_str())
            });
            for p in &mut spec.probes {
                if p.name == "exit-code" {
                    p.repeat = Some(3);
                }
                if let Some(burst) = p.concurrent_start.as_mut() {
                    burst.pods = Some(4);
                }
            }
        });

        // Every pod event, in the API server's order: the unfinished probe pods after each.
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let violations: Arc<Mutex<Vec<String>>> = Arc::default();
        let most = Arc::new(Mutex::new(0usize));
        let names: Arc<Mutex<BTreeSet<String>>> = Arc::default();
        let (seen, worst, all_names) = (violations.clone(), most.clone(), names.clone());
        let watch = tokio::spawn(async move {
            let mut unfinished: BTreeSet<String> = BTreeSet::new();
            let stream = watcher(pods, watcher::Config::default());
            futures::pin_mut!(stream);
            // Every event, also across a watch the API server ends (the watcher lists again:
            // the set is rebuilt from that list).
            while let Some(event) = stream.next().await {
                let (pod, deleted) = match event {
                    Ok(watcher::Event::Init) => {
                        unfinished.clear();
                        continue;
                    }
                    Ok(watcher::Event::InitApply(pod) | watcher::Event::Apply(pod)) => (pod, false),
                    Ok(watcher::Event::Delete(pod)) => (pod, true),
                    Ok(watcher::Event::InitDone) | Err(_) => continue,
                };
                let name = pod.name_any();
                all_names.lock().unwrap().insert(name.clone());
                let done = deleted
                    || pod.metadata.deletion_timestamp.is_some()
                    || matches!(
                        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
                        Some("Succeeded" | "Failed")
                    );
                if done {
                    unfinished.remove(&name);
                } else {
                    unfinished.insert(name);
                }
                let mut worst = worst.lock().unwrap();
                *worst = (*worst).max(unfinished.len());
                let burst = unfinished.iter().any(|n| n.contains("-concurrent-start-"));
                let others = unfinished
                    .iter()
                    .filter(|n| !n.contains("-concurrent-start-"))
                    .count();
                if (burst && others > 0) || (!burst && others > 2) {
                    seen.lock().unwrap().push(format!("{unfinished:?}"));
                }
            }
        });
        let run = run_to_end(&client, &ns, run, RUN_TIMEOUT).await;
        watch.abort();
        assert_verdicts(&run, &[], &[]);
        let violations = violations.lock().unwrap().clone();
        assert!(violations.is_empty(), "over the cap: {violations:#?}");
        assert_eq!(*most.lock().unwrap(), 4, "the burst of 4 ran, alone");

        let status = run.status.unwrap();
        let repeated = status
            .probes
            .iter()
            .find(|p| p.name == "exit-code")
            .unwrap();
        assert_eq!(
            (repeated.attempts, repeated.passed_attempts),
            (3, 3),
            "{repeated:?}"
        );
        let names: Vec<String> = names
            .lock()
            .unwrap()
            .iter()
            .filter(|n| n.contains("-exit-code-"))
            .cloned()
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
        for (attempt, name) in names.iter().enumerate() {
            assert!(
                name.ends_with(&format!("-exit-code-{attempt}")),
                "{names:?}"
            );
        }
    })
    .await;
}

/// A repeated probe whose attempts each outlast the grace for a missing pod (15 s): each next
/// attempt is judged on its own pods once the cache shows them, never taken for deleted because
/// the snapshot of the reconcile that created them predates them.
#[tokio::test]
#[ignore = "needs the test cluster (tests/cluster/up.sh); run by .ci/run"]
async fn long_attempts_of_a_repeated_probe_are_each_judged_on_their_own_pods() {
    with_namespace("e2e-long-repeat", |client, ns| async move {
        install_crd(&client).await;
        let _controller = ControllerProcess::start(&ns);
        let run: TestRun = serde_json::from_value(serde_json::json!({
            "apiVersion": "proctor.dev/v1alpha1",
            "kind": "TestRun",
            "metadata": {"name": "long-repeat"},
            "spec": {"probes": [{
                "name": "slow",
                "repeat": 2,
                "timeoutSeconds": 60,
                "custom": {"command": ["sh", "-c", "sleep 17"], "expect": {"exitCode": 0}},
            }]},
        }))
        .unwrap();
        let run = run_to_end(&client, &ns, run, RUN_TIMEOUT).await;
        let probe = &run.status.as_ref().unwrap().probes[0];
        assert_eq!(
            (probe.verdict, probe.attempts, probe.passed_attempts),
            (Some(Verdict::Passed), 2, 2),
            "{probe:#?}"
        );
    })
    .await;
}
