//! The fault modes. Each breaks one behaviour that a probe of docs/catalog.md checks; adding one is a
//! function and an entry in [`FAULTS`].

use serde_json::{Value, json};

/// An edit of an OCI spec (or process spec): what it did, or why it could not.
pub type Edit = fn(&mut Value) -> Result<String, String>;

/// A way of breaking the runtime.
pub struct Fault {
    /// The suffix of the runtime handler (`faulty-<name>`) and of the wrapper's file name.
    pub name: &'static str,
    /// What it breaks, for `faulty-runc --list` and the test cluster's docs.
    pub breaks: &'static str,
    /// Edits a workload container's OCI spec on `create`; returns a short description of what it
    /// did (empty when nothing was needed).
    pub edit_spec: Edit,
    /// Edits a pod sandbox's OCI spec on `create` (what the pod's containers share: its
    /// namespaces' sysctls); empty when nothing was needed.
    pub edit_sandbox: Edit,
    /// Replaces the signal of `runc kill`, or `None` to leave it.
    pub rewrite_signal: fn(&str) -> Option<&'static str>,
    /// Sends the workload's stderr to /dev/null.
    pub silences_stderr: bool,
    /// Gives the workload /dev/null for stdin (what attach and `stdin: true` would feed).
    pub closes_stdin: bool,
    /// Passes the workload's stdout through a filter that replaces every non-ASCII byte by `?`.
    pub mangles_stdout: bool,
    /// Passes the workload's stdout through a filter that forwards this many bytes and drops
    /// the rest (0: no such filter).
    pub truncates_stdout_at: usize,
    /// Passes the workload's stdout through a filter that ends a line after this many bytes
    /// without a newline, as a runtime that writes the pieces of a long line as lines of their
    /// own would (0: no such filter).
    pub splits_lines_at: usize,
    /// Before any kill or delete, moves every process of the container but its first out of
    /// the container's cgroup, so that the kill reaches the main process only.
    pub spares_children: bool,
    /// Edits the process spec of `runc exec` (`--process FILE`); returns what it did, empty
    /// when nothing was needed.
    pub edit_exec: Edit,
    /// A workload container's `create` fails while another one's is in progress (creates hold
    /// a lock for [`CREATE_HOLD`] past runc's own work): concurrent starts fail.
    pub serializes_creates: bool,
    /// `runc kill` of a workload container returns at once and delivers the signal this many
    /// seconds later (0: at once), like a hung shim.
    pub kill_delay_seconds: u64,
}

/// How long past runc's own `create` the `race` fault keeps other creates out.
pub const CREATE_HOLD: std::time::Duration = std::time::Duration::from_secs(2);
/// The group whose creates the `race` fault serializes: the pod's name without a trailing
/// `-p<index>` (the pods of one multi-pod probe share it), and the container's name, so that
/// probes running side by side never collide, nor the containers of one pod (the kubelet
/// starts them one after another, restarts among them), while a burst's own pods do.
pub fn race_group(sandbox_name: &str, container_name: &str) -> String {
    let pods = match sandbox_name.rsplit_once("-p") {
        Some((group, index)) if !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) => {
            group
        }
        _ => sandbox_name,
    };
    format!("{pods}-{container_name}")
}

/// The container's name, as the CRI plugin annotates its spec.
pub fn container_name(spec: &Value) -> Option<&str> {
    spec.pointer("/annotations/io.kubernetes.cri.container-name")
        .and_then(Value::as_str)
}

/// The pod a container belongs to, as the CRI plugin annotates its spec.
pub fn sandbox_name(spec: &Value) -> Option<&str> {
    spec.pointer("/annotations/io.kubernetes.cri.sandbox-name")
        .and_then(Value::as_str)
}

/// The `latekill` fault's delay: longer than the deadline probe's slack and the churn probe's
/// timeout in the conformance sample, far shorter than any run's timeout.
pub const LATE_KILL_SECONDS: u64 = 50;

const PASS: Fault = Fault {
    name: "none",
    breaks: "nothing: a transparent wrapper, the control for the others",
    edit_spec: |_| Ok(String::new()),
    edit_sandbox: |_| Ok(String::new()),
    rewrite_signal: |_| None,
    silences_stderr: false,
    closes_stdin: false,
    mangles_stdout: false,
    truncates_stdout_at: 0,
    splits_lines_at: 0,
    spares_children: false,
    edit_exec: |_| Ok(String::new()),
    serializes_creates: false,
    kill_delay_seconds: 0,
};

pub const FAULTS: &[Fault] = &[
    PASS,
    Fault {
        name: "env",
        breaks: "trims leading and trailing whitespace from every env value",
        edit_spec: trim_env,
        ..PASS
    },
    Fault {
        name: "cwd",
        breaks: "ignores the working directory (runs in /)",
        edit_spec: ignore_cwd,
        ..PASS
    },
    Fault {
        name: "exit",
        breaks: "the process always exits 0",
        edit_spec: exit_zero,
        ..PASS
    },
    Fault {
        name: "exec",
        breaks: "commands run with exec do not run, and report exit 0 (kubectl exec, exec probes, exec hooks)",
        edit_spec: prepare_exec_zero,
        edit_exec: exec_zero,
        ..PASS
    },
    Fault {
        name: "stderr",
        breaks: "stderr goes to /dev/null",
        edit_spec: |_| Ok("stderr sent to /dev/null".to_owned()),
        silences_stderr: true,
        ..PASS
    },
    Fault {
        name: "cmd",
        breaks: "appends `sh` (the probe image's CMD) to every container's arguments, as a runtime that adds the image's CMD after the command it was given",
        edit_spec: append_image_cmd,
        ..PASS
    },
    Fault {
        name: "slowfirst",
        breaks: "the first container of each pod begins its process 5 s after runc reports it started (a runtime that says running before the process runs): a sidecar is not yet up when the app container starts",
        edit_spec: slow_first_start,
        ..PASS
    },
    Fault {
        name: "stdin",
        breaks: "the container's stdin is /dev/null: attach and `stdin: true` reach nothing",
        edit_spec: |_| Ok("stdin from /dev/null".to_owned()),
        closes_stdin: true,
        ..PASS
    },
    Fault {
        name: "stdio",
        breaks: "stderr and stdin at once (each breaks a different probe)",
        edit_spec: |_| Ok("stderr sent to /dev/null; stdin from /dev/null".to_owned()),
        silences_stderr: true,
        closes_stdin: true,
        ..PASS
    },
    Fault {
        name: "unicode",
        breaks: "non-ASCII bytes on stdout become '?'",
        edit_spec: |_| Ok("stdout passed through a non-ASCII filter".to_owned()),
        mangles_stdout: true,
        ..PASS
    },
    Fault {
        name: "sigterm",
        breaks: "a SIGTERM from the kubelet is sent as SIGKILL",
        rewrite_signal: term_to_kill,
        ..PASS
    },
    Fault {
        name: "pgk",
        breaks: "killing a container kills its main process only; its children live on",
        edit_spec: share_host_pid_namespace,
        spares_children: true,
        ..PASS
    },
    Fault {
        name: "trunc",
        breaks: "stdout is cut after 64 KiB (the size of a pipe buffer); the rest is dropped",
        edit_spec: |_| Ok("stdout passed through a 64 KiB truncating filter".to_owned()),
        truncates_stdout_at: 64 * 1024,
        ..PASS
    },
    Fault {
        name: "race",
        breaks: "a container created while another one of its group is being created fails to start (a group: the containers of one name in pods whose names differ only in a -pN suffix, as the pods of one Proctor probe)",
        edit_spec: |_| Ok("create under the exclusive create lock".to_owned()),
        serializes_creates: true,
        ..PASS
    },
    Fault {
        name: "latekill",
        breaks: "kill signals reach a container 50 s after they were sent (a hung shim)",
        edit_spec: |_| Ok(String::new()),
        kill_delay_seconds: LATE_KILL_SECONDS,
        ..PASS
    },
    Fault {
        name: "rw",
        breaks: "read-only bind mounts are mounted writable",
        edit_spec: writable_mounts,
        ..PASS
    },
    Fault {
        name: "propagation",
        breaks: "mounts every volume rprivate, whatever mountPropagation asks (Bidirectional, HostToContainer)",
        edit_spec: private_mounts,
        ..PASS
    },
    Fault {
        name: "root",
        breaks: "runs the process as root (uid 0, gid 0), whatever runAsUser and runAsGroup ask",
        edit_spec: run_as_root,
        ..PASS
    },
    Fault {
        name: "caps",
        breaks: "gives the process every capability in every set, whatever the securityContext drops",
        edit_spec: every_capability,
        ..PASS
    },
    Fault {
        name: "nnp",
        breaks: "leaves no_new_privs unset, whatever allowPrivilegeEscalation says",
        edit_spec: no_no_new_privileges,
        ..PASS
    },
    Fault {
        name: "seccomp",
        breaks: "runs the container without its seccomp filter",
        edit_spec: no_seccomp,
        ..PASS
    },
    Fault {
        name: "insecure",
        breaks: "root, caps, nnp and seccomp at once (each breaks a different probe)",
        edit_spec: insecure,
        ..PASS
    },
    Fault {
        name: "rootfs",
        breaks: "mounts the root filesystem writable, whatever readOnlyRootFilesystem says",
        edit_spec: writable_root,
        ..PASS
    },
    Fault {
        name: "masks",
        breaks: "masks no /proc or /sys path and makes none read-only",
        edit_spec: no_masks,
        ..PASS
    },
    Fault {
        name: "devices",
        breaks: "passes the host's /dev/kmsg into every container",
        edit_spec: host_kmsg,
        ..PASS
    },
    Fault {
        name: "sysctl",
        breaks: "drops the pod's sysctls",
        edit_spec: no_sysctls,
        edit_sandbox: no_sysctls,
        ..PASS
    },
    Fault {
        name: "fsgroup",
        breaks: "gives emptyDir volumes back to root (0:0, mode 0777) after the kubelet gave them to the fsGroup",
        edit_spec: undo_fs_group,
        ..PASS
    },
    Fault {
        name: "dirmode",
        breaks: "closes emptyDir volumes of pods without an fsGroup to all but root (mode 0755)",
        edit_spec: close_empty_dirs,
        ..PASS
    },
    Fault {
        name: "unconfined",
        breaks: "rootfs, masks, devices, sysctl, fsgroup and dirmode at once (each breaks a different probe)",
        edit_spec: unconfined,
        edit_sandbox: no_sysctls,
        ..PASS
    },
    Fault {
        name: "hostname",
        breaks: "names every pod's sandbox `faulty-hostname`, whatever its name or spec.hostname",
        edit_sandbox: rename_sandbox,
        ..PASS
    },
    Fault {
        name: "hosts",
        breaks: "mounts a hosts file of its own (localhost only) over the kubelet's /etc/hosts",
        edit_spec: own_hosts_file,
        ..PASS
    },
    Fault {
        name: "dns",
        breaks: "mounts a resolv.conf of its own (nameserver 127.0.0.1) over the pod's",
        edit_spec: own_resolv_conf,
        ..PASS
    },
    Fault {
        name: "downward",
        breaks: "the downward API tells of another pod and node: env values and downwardAPI volume files equal to the pod's name, namespace or UID, and env values and downwardAPI and projected volume files equal to the node's allocatable CPU (millicores) or memory (bytes), get a `stale-` prefix",
        edit_spec: stale_downward_api,
        ..PASS
    },
    Fault {
        name: "expansion",
        breaks: "undoes the kubelet's $(VAR) expansion: an env var's value in the args or in another env value becomes $(NAME) again",
        edit_spec: unexpand,
        ..PASS
    },
    Fault {
        name: "content",
        breaks: "the files of configMap and secret volumes lose their last byte",
        edit_spec: cut_object_files,
        ..PASS
    },
    Fault {
        name: "identity",
        breaks: "hostname, hosts, dns, downward, expansion and content at once (each breaks a different probe)",
        edit_spec: wrong_identity,
        edit_sandbox: rename_sandbox,
        ..PASS
    },
    Fault {
        name: "resources",
        breaks: "leaves the container's cgroup unlimited: no memory limit, no CPU quota, default CPU shares",
        edit_spec: unlimited,
        ..PASS
    },
    Fault {
        name: "netns",
        breaks: "gives every container a network namespace of its own (loopback only) instead of its sandbox's",
        edit_spec: own_network_namespace,
        ..PASS
    },
    Fault {
        name: "podns",
        breaks: "gives every container IPC and PID namespaces of its own instead of its sandbox's (shareProcessNamespace ignored)",
        edit_spec: own_ipc_and_pid_namespaces,
        ..PASS
    },
    Fault {
        name: "isolation",
        breaks: "resources, netns and podns at once (each breaks different probes)",
        edit_spec: broken_isolation,
        ..PASS
    },
    Fault {
        name: "tmpfs",
        breaks: "backs memory emptyDir volumes with a directory on disk",
        edit_spec: disk_for_tmpfs,
        ..PASS
    },
    Fault {
        name: "subpath",
        breaks: "mounts a file of its own where a subPath of a volume belongs",
        edit_spec: wrong_sub_path,
        ..PASS
    },
    Fault {
        name: "modes",
        breaks: "makes the files of configMap, secret, downwardAPI and projected volumes mode 0666",
        edit_spec: world_writable_volume_files,
        ..PASS
    },
    Fault {
        name: "split",
        breaks: "stdout lines longer than 16 KiB arrive in pieces, each a line of its own",
        edit_spec: |_| Ok("stdout passed through a 16 KiB line splitter".to_owned()),
        splits_lines_at: SPLIT_AT,
        ..PASS
    },
    Fault {
        name: "prevlog",
        breaks: "empties the logs of a container's earlier runs when it is started again (as a runtime that reuses one log file)",
        edit_spec: empty_earlier_logs,
        ..PASS
    },
    Fault {
        name: "volumes",
        breaks: "tmpfs, subpath, modes, split and prevlog at once (each breaks a different probe)",
        edit_spec: broken_volumes,
        splits_lines_at: SPLIT_AT,
        ..PASS
    },
    // Classes of the mutation matrix that join faults whose failing probes are disjoint, so
    // that one run of the catalog shows each of them.
    Fault {
        name: "streams",
        breaks: "stdio, unicode and trunc at once (each breaks different probes)",
        edit_spec: |_| {
            Ok("stderr and stdin to /dev/null; stdout through a non-ASCII and 64 KiB truncating filter".to_owned())
        },
        silences_stderr: true,
        closes_stdin: true,
        mangles_stdout: true,
        truncates_stdout_at: 64 * 1024,
        ..PASS
    },
    Fault {
        name: "spec",
        breaks: "env, cwd and rw at once (each breaks different probes)",
        edit_spec: |spec| all_of(spec, &[trim_env, ignore_cwd, writable_mounts]),
        ..PASS
    },
    Fault {
        name: "lifecycle",
        breaks: "race and sigterm at once (each breaks different probes)",
        edit_spec: |_| Ok("create under the exclusive create lock".to_owned()),
        serializes_creates: true,
        rewrite_signal: term_to_kill,
        ..PASS
    },
    Fault {
        name: "security",
        breaks: "insecure and unconfined at once (each breaks different probes)",
        edit_spec: |spec| all_of(spec, &[insecure, unconfined]),
        edit_sandbox: no_sysctls,
        ..PASS
    },
];

impl Fault {
    pub fn by_name(name: &str) -> Option<&'static Fault> {
        FAULTS.iter().find(|f| f.name == name)
    }
}

pub fn names() -> String {
    FAULTS.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
}

/// What the `unicode` fault does to the bytes of stdout.
pub fn mangle(bytes: &mut [u8]) {
    for byte in bytes.iter_mut().filter(|b| !b.is_ascii()) {
        *byte = b'?';
    }
}

/// The CRI plugin marks the pause container with this annotation; faults leave it alone.
pub fn is_sandbox(spec: &Value) -> bool {
    spec.pointer("/annotations/io.kubernetes.cri.container-type")
        .and_then(Value::as_str)
        == Some("sandbox")
}

fn trim_env(spec: &mut Value) -> Result<String, String> {
    let env = spec
        .pointer_mut("/process/env")
        .and_then(Value::as_array_mut)
        .ok_or("spec has no process.env")?;
    let mut trimmed = 0;
    for entry in env.iter_mut() {
        let Some((name, value)) = entry.as_str().and_then(|e| e.split_once('=')) else {
            continue;
        };
        if value.trim() != value {
            *entry = json!(format!("{name}={}", value.trim()));
            trimmed += 1;
        }
    }
    Ok(format!("trimmed {trimmed} env values"))
}

fn ignore_cwd(spec: &mut Value) -> Result<String, String> {
    let process = spec
        .get_mut("process")
        .and_then(Value::as_object_mut)
        .ok_or("spec has no process")?;
    let old = process.insert("cwd".to_owned(), json!("/"));
    Ok(format!("cwd {} replaced by /", old.unwrap_or(Value::Null)))
}

/// Where the host's static busybox appears inside the container.
const EXIT_SHELL: &str = "/.faulty-runc/busybox";
/// Runs the real command as a child, forwards the stop signals to it, and exits 0 whatever it
/// did. Waits again after a trapped signal interrupts `wait`, until the child is gone.
const EXIT_ZERO_SCRIPT: &str = r#""$@" <&0 &
child=$!
for sig in TERM INT HUP QUIT USR1 USR2; do trap "kill -$sig $child 2>/dev/null" "$sig"; done
while kill -0 "$child" 2>/dev/null; do wait "$child"; done
exit 0"#;

fn exit_zero(spec: &mut Value) -> Result<String, String> {
    let process = spec.get_mut("process").ok_or("spec has no process")?;
    wrap_in_shell(process, EXIT_ZERO_SCRIPT, "faulty-exit")?;
    mount_exit_shell(spec)?;
    Ok("process wrapped to exit 0".to_owned())
}

/// The probe image's CMD (busybox's).
const IMAGE_CMD: &str = "sh";

fn append_image_cmd(spec: &mut Value) -> Result<String, String> {
    let args = spec
        .pointer_mut("/process/args")
        .and_then(Value::as_array_mut)
        .ok_or("process has no args")?;
    args.push(json!(IMAGE_CMD));
    Ok(format!("`{IMAGE_CMD}` appended to the args"))
}

/// How long the `slowfirst` fault holds a pod's first process back.
pub const SLOW_FIRST_SECONDS: u32 = 5;
/// Where the `slowfirst` fault notes the pods whose first container it held back.
const SLOW_FIRST_DIR: &str = "/run/faulty-runc/slowfirst";

fn slow_first_start(spec: &mut Value) -> Result<String, String> {
    let Some(sandbox) = spec
        .pointer("/annotations/io.kubernetes.cri.sandbox-id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty() && !id.contains('/'))
    else {
        return Ok(String::new());
    };
    std::fs::create_dir_all(SLOW_FIRST_DIR).map_err(|e| format!("mkdir {SLOW_FIRST_DIR}: {e}"))?;
    let note = std::path::Path::new(SLOW_FIRST_DIR).join(sandbox);
    // Only the pod's first container: the note exists for every later one.
    if std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&note)
        .is_err()
    {
        return Ok(String::new());
    }
    let process = spec.get_mut("process").ok_or("spec has no process")?;
    let script = format!("sleep {SLOW_FIRST_SECONDS}; exec \"$@\"");
    wrap_in_shell(process, &script, "faulty-slowfirst")?;
    mount_exit_shell(spec)?;
    Ok(format!(
        "the pod's first process held back {SLOW_FIRST_SECONDS} s"
    ))
}

/// Wraps a process's argv in `sh -c script name argv...`, run by the host's busybox (which
/// must be mounted in the container at [`EXIT_SHELL`]).
fn wrap_in_shell(process: &mut Value, script: &str, name: &str) -> Result<(), String> {
    let args = process
        .get_mut("args")
        .and_then(Value::as_array_mut)
        .ok_or("process has no args")?;
    let mut wrapped = vec![
        json!(EXIT_SHELL),
        json!("sh"),
        json!("-c"),
        json!(script),
        json!(name),
    ];
    wrapped.append(args);
    *args = wrapped;
    Ok(())
}

/// Bind-mounts the host's static busybox at [`EXIT_SHELL`] in the container.
fn mount_exit_shell(spec: &mut Value) -> Result<(), String> {
    let busybox = std::env::var("FAULTY_RUNC_BUSYBOX").unwrap_or_else(|_| "/bin/busybox".into());
    let mounts = spec
        .get_mut("mounts")
        .and_then(Value::as_array_mut)
        .ok_or("spec has no mounts")?;
    mounts.push(json!({
        "destination": EXIT_SHELL,
        "type": "bind",
        "source": busybox,
        "options": ["rbind", "ro", "nosuid", "nodev"],
    }));
    Ok(())
}

/// `faulty-exec` on create: the container itself runs unchanged; only the exit shell is mounted
/// for the execs to come.
fn prepare_exec_zero(spec: &mut Value) -> Result<String, String> {
    mount_exit_shell(spec)?;
    Ok("exit shell mounted for execs".to_owned())
}

/// `faulty-exec` on exec: the exec'd command does not run; `true` (the host's busybox, mounted
/// in the container) runs instead and exits 0.
fn exec_zero(process: &mut Value) -> Result<String, String> {
    let args = process
        .get_mut("args")
        .and_then(Value::as_array_mut)
        .ok_or("process has no args")?;
    let was = args
        .iter()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    *args = vec![json!(EXIT_SHELL), json!("true")];
    Ok(format!(
        "exec of {:?} replaced by true",
        crate::faults::short(&was)
    ))
}

/// At most 60 characters of `text`, for the log.
pub fn short(text: &str) -> String {
    text.chars().take(60).collect()
}

/// Without a PID namespace of its own, the container's children do not die with its first
/// process (the kernel kills a namespace's processes only when its init dies).
fn share_host_pid_namespace(spec: &mut Value) -> Result<String, String> {
    let namespaces = spec
        .pointer_mut("/linux/namespaces")
        .and_then(Value::as_array_mut)
        .ok_or("spec has no linux.namespaces")?;
    let before = namespaces.len();
    namespaces.retain(|ns| ns.get("type").and_then(Value::as_str) != Some("pid"));
    Ok(format!(
        "removed {} pid namespace",
        before - namespaces.len()
    ))
}

fn term_to_kill(signal: &str) -> Option<&'static str> {
    matches!(signal, "15" | "TERM" | "SIGTERM").then_some("9")
}

fn writable_mounts(spec: &mut Value) -> Result<String, String> {
    let mounts = spec
        .get_mut("mounts")
        .and_then(Value::as_array_mut)
        .ok_or("spec has no mounts")?;
    let mut changed = Vec::new();
    for mount in mounts {
        let is_bind = mount.get("type").and_then(Value::as_str) == Some("bind")
            || option_present(mount, "bind")
            || option_present(mount, "rbind");
        if !is_bind || !option_present(mount, "ro") {
            continue;
        }
        if let Some(options) = mount.get_mut("options").and_then(Value::as_array_mut) {
            for option in options.iter_mut() {
                if option.as_str() == Some("ro") {
                    *option = json!("rw");
                }
            }
        }
        let destination = mount.get("destination").and_then(Value::as_str);
        changed.push(destination.unwrap_or("?").to_owned());
    }
    Ok(format!("made writable: {}", changed.join(", ")))
}

fn private_mounts(spec: &mut Value) -> Result<String, String> {
    let mounts = spec
        .get_mut("mounts")
        .and_then(Value::as_array_mut)
        .ok_or("spec has no mounts")?;
    let mut changed = Vec::new();
    for mount in mounts {
        let Some(options) = mount.get_mut("options").and_then(Value::as_array_mut) else {
            continue;
        };
        let mut private = false;
        for option in options.iter_mut() {
            if matches!(
                option.as_str(),
                Some("rshared" | "shared" | "rslave" | "slave")
            ) {
                *option = json!("rprivate");
                private = true;
            }
        }
        if private {
            let destination = mount.get("destination").and_then(Value::as_str);
            changed.push(destination.unwrap_or("?").to_owned());
        }
    }
    Ok(if changed.is_empty() {
        String::new()
    } else {
        format!("made private: {}", changed.join(", "))
    })
}

/// Every capability the kernel of this machine knows (Linux 5.9 and later).
const EVERY_CAPABILITY: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

fn run_as_root(spec: &mut Value) -> Result<String, String> {
    let user = spec
        .pointer_mut("/process/user")
        .and_then(Value::as_object_mut)
        .ok_or("spec has no process.user")?;
    let was = format!(
        "{}:{}",
        user.get("uid").unwrap_or(&Value::Null),
        user.get("gid").unwrap_or(&Value::Null)
    );
    user.insert("uid".into(), json!(0));
    user.insert("gid".into(), json!(0));
    Ok(format!("user {was} replaced by 0:0"))
}

fn every_capability(spec: &mut Value) -> Result<String, String> {
    let process = spec
        .get_mut("process")
        .and_then(Value::as_object_mut)
        .ok_or("spec has no process")?;
    // Only what this machine's bounding set holds: runc cannot raise a capability the host
    // itself lacks (a VM may withhold some).
    let bounding = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let hex = status
                .lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))?
                .trim()
                .to_owned();
            u64::from_str_radix(&hex, 16).ok()
        })
        .unwrap_or(u64::MAX);
    let all = json!(
        EVERY_CAPABILITY
            .iter()
            .enumerate()
            .filter(|(bit, _)| bounding & (1 << bit) != 0)
            .map(|(_, name)| *name)
            .collect::<Vec<_>>()
    );
    process.insert(
        "capabilities".into(),
        json!({"bounding": all, "effective": all, "permitted": all, "inheritable": all, "ambient": all}),
    );
    Ok("every capability in every set".to_owned())
}

fn no_no_new_privileges(spec: &mut Value) -> Result<String, String> {
    let process = spec
        .get_mut("process")
        .and_then(Value::as_object_mut)
        .ok_or("spec has no process")?;
    process.insert("noNewPrivileges".into(), json!(false));
    Ok("noNewPrivileges false".to_owned())
}

fn no_seccomp(spec: &mut Value) -> Result<String, String> {
    let removed = spec
        .get_mut("linux")
        .and_then(Value::as_object_mut)
        .and_then(|linux| linux.remove("seccomp"));
    Ok(if removed.is_some() {
        "seccomp filter removed"
    } else {
        "no seccomp filter to remove"
    }
    .to_owned())
}

fn insecure(spec: &mut Value) -> Result<String, String> {
    all_of(
        spec,
        &[
            run_as_root,
            every_capability,
            no_no_new_privileges,
            no_seccomp,
        ],
    )
}

fn writable_root(spec: &mut Value) -> Result<String, String> {
    let root = spec
        .get_mut("root")
        .and_then(Value::as_object_mut)
        .ok_or("spec has no root")?;
    let was = root.insert("readonly".into(), json!(false));
    Ok(format!(
        "root.readonly {} replaced by false",
        was.unwrap_or(Value::Null)
    ))
}

fn no_masks(spec: &mut Value) -> Result<String, String> {
    let linux = spec
        .get_mut("linux")
        .and_then(Value::as_object_mut)
        .ok_or("spec has no linux")?;
    let masked = linux
        .remove("maskedPaths")
        .and_then(|v| v.as_array().map(Vec::len));
    let read_only = linux
        .remove("readonlyPaths")
        .and_then(|v| v.as_array().map(Vec::len));
    Ok(format!(
        "removed {} masked and {} read-only paths",
        masked.unwrap_or(0),
        read_only.unwrap_or(0)
    ))
}

fn host_kmsg(spec: &mut Value) -> Result<String, String> {
    let linux = spec
        .get_mut("linux")
        .and_then(Value::as_object_mut)
        .ok_or("spec has no linux")?;
    let devices = linux.entry("devices").or_insert_with(|| json!([]));
    devices
        .as_array_mut()
        .ok_or("linux.devices is not a list")?
        .push(json!({"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o600, "uid": 0, "gid": 0}));
    Ok("added /dev/kmsg".to_owned())
}

fn no_sysctls(spec: &mut Value) -> Result<String, String> {
    let removed = spec
        .get_mut("linux")
        .and_then(Value::as_object_mut)
        .and_then(|linux| linux.remove("sysctl"));
    Ok(match removed {
        Some(Value::Object(sysctls)) if !sysctls.is_empty() => format!(
            "dropped sysctls {}",
            sysctls.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
        _ => String::new(),
    })
}

/// The directories of the pod's emptyDir volumes that the kubelet gave to an fsGroup (group
/// not root) go back to root, world-writable so that writes still work.
fn undo_fs_group(spec: &mut Value) -> Result<String, String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mounts = spec
        .get("mounts")
        .and_then(Value::as_array)
        .ok_or("spec has no mounts")?;
    let mut changed = Vec::new();
    for mount in mounts {
        let Some(source) = mount.get("source").and_then(Value::as_str) else {
            continue;
        };
        if !source.contains("/volumes/kubernetes.io~empty-dir/") {
            continue;
        }
        let meta = std::fs::metadata(source).map_err(|e| format!("stat {source}: {e}"))?;
        if !meta.is_dir() || meta.gid() == 0 {
            continue;
        }
        std::os::unix::fs::chown(source, Some(0), Some(0))
            .map_err(|e| format!("chown {source}: {e}"))?;
        std::fs::set_permissions(source, std::fs::Permissions::from_mode(0o777))
            .map_err(|e| format!("chmod {source}: {e}"))?;
        remember_given_back(source)?;
        changed.push(format!(
            "{} (was group {})",
            mount
                .get("destination")
                .and_then(Value::as_str)
                .unwrap_or("?"),
            meta.gid()
        ));
    }
    Ok(listed("gave back to root", &changed))
}

/// Where `fsgroup` notes the volumes it gave back to root: when a container of the pod is
/// created again (a restart), they are root's, as a volume of a pod without an fsGroup is, and
/// `dirmode` must still leave them alone.
fn given_back_marker(source: &str) -> std::path::PathBuf {
    let dir =
        std::env::var("FAULTY_RUNC_STATE").unwrap_or_else(|_| "/run/faulty-runc/state".into());
    std::path::Path::new(&dir).join(format!("fsgroup-undone{}", source.replace('/', "%")))
}

fn remember_given_back(source: &str) -> Result<(), String> {
    let marker = given_back_marker(source);
    if let Some(dir) = marker.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    }
    std::fs::write(&marker, b"").map_err(|e| format!("write {}: {e}", marker.display()))
}

/// The emptyDir volumes root owns (no fsGroup gave them to a group) become mode 0755.
fn close_empty_dirs(spec: &mut Value) -> Result<String, String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mut closed = Vec::new();
    for mount in spec
        .get("mounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(source) = mount.get("source").and_then(Value::as_str) else {
            continue;
        };
        if !source.contains("/volumes/kubernetes.io~empty-dir/") {
            continue;
        }
        let meta = std::fs::metadata(source).map_err(|e| format!("stat {source}: {e}"))?;
        if meta.is_dir() && meta.gid() == 0 && !given_back_marker(source).exists() {
            std::fs::set_permissions(source, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| format!("chmod {source}: {e}"))?;
            closed.push(destination(mount));
        }
    }
    Ok(listed("closed to non-root", &closed))
}

fn unconfined(spec: &mut Value) -> Result<String, String> {
    all_of(
        spec,
        &[
            writable_root,
            no_masks,
            host_kmsg,
            no_sysctls,
            // Before fsgroup, which leaves the volumes it gives back to root owned by root.
            close_empty_dirs,
            undo_fs_group,
        ],
    )
}

/// Variables the runtime and image provide rather than the pod spec.
const RUNTIME_ENV: &[&str] = &["PATH", "HOSTNAME", "HOME", "TERM"];

/// Where faulty-runc keeps the files it mounts in place of the kubelet's.
fn own_file(name: &str, content: &str) -> Result<String, String> {
    let dir =
        std::env::var("FAULTY_RUNC_FILES").unwrap_or_else(|_| "/run/faulty-runc/files".into());
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {dir}: {e}"))?;
    let path = format!("{dir}/{name}");
    std::fs::write(&path, content).map_err(|e| format!("write {path}: {e}"))?;
    Ok(path)
}

/// Points the bind mount at `destination` to `source` instead.
fn replace_mount_source(spec: &mut Value, destination: &str, source: &str) -> Result<bool, String> {
    let mounts = spec
        .get_mut("mounts")
        .and_then(Value::as_array_mut)
        .ok_or("spec has no mounts")?;
    let mut replaced = false;
    for mount in mounts.iter_mut() {
        if mount.get("destination").and_then(Value::as_str) == Some(destination) {
            mount["source"] = json!(source);
            replaced = true;
        }
    }
    Ok(replaced)
}

fn rename_sandbox(spec: &mut Value) -> Result<String, String> {
    let old = spec.get("hostname").cloned().unwrap_or(Value::Null);
    spec["hostname"] = json!("faulty-hostname");
    Ok(format!(
        "sandbox hostname {old} replaced by faulty-hostname"
    ))
}

fn own_hosts_file(spec: &mut Value) -> Result<String, String> {
    let path = own_file("hosts", "127.0.0.1\tlocalhost\n")?;
    Ok(if replace_mount_source(spec, "/etc/hosts", &path)? {
        format!("/etc/hosts from {path}")
    } else {
        String::new()
    })
}

fn own_resolv_conf(spec: &mut Value) -> Result<String, String> {
    let path = own_file("resolv.conf", "nameserver 127.0.0.1\n")?;
    Ok(if replace_mount_source(spec, "/etc/resolv.conf", &path)? {
        format!("/etc/resolv.conf from {path}")
    } else {
        String::new()
    })
}

/// The pod's name, namespace and UID, as the CRI plugin annotates its containers.
fn pod_identity(spec: &Value) -> Vec<String> {
    [
        "io.kubernetes.cri.sandbox-name",
        "io.kubernetes.cri.sandbox-namespace",
        "io.kubernetes.cri.sandbox-uid",
    ]
    .iter()
    .filter_map(|key| spec.get("annotations")?.get(*key)?.as_str())
    .filter(|v| !v.is_empty())
    .map(str::to_owned)
    .collect()
}

/// The test cluster's kubelet reserves nothing but its hard eviction threshold
/// (`memory.available: 100Mi`, tests/cluster/up.sh).
const EVICTION_HARD_BYTES: u64 = 100 * 1024 * 1024;

/// The node's allocatable CPU in millicores and memory in bytes, as this machine's kubelet
/// computes them (every online CPU; MemTotal less the hard eviction threshold) and the
/// downward API reports them for a container without limits (divisors 1m and 1).
fn node_allocatable() -> Vec<String> {
    let mut values = Vec::new();
    if let Ok(online) = std::fs::read_to_string("/sys/devices/system/cpu/online") {
        let cpus: u64 = online
            .trim()
            .split(',')
            .filter_map(|range| match range.split_once('-') {
                Some((a, b)) => Some(b.parse::<u64>().ok()? - a.parse::<u64>().ok()? + 1),
                None => range.parse::<u64>().ok().map(|_| 1),
            })
            .sum();
        if cpus > 0 {
            values.push((cpus * 1000).to_string());
        }
    }
    if let Ok(meminfo) = std::fs::read_to_string("/proc/meminfo")
        && let Some(kib) = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    {
        values.push((kib * 1024).saturating_sub(EVICTION_HARD_BYTES).to_string());
    }
    values
}

fn stale_downward_api(spec: &mut Value) -> Result<String, String> {
    let mut identity = pod_identity(spec);
    let allocatable = node_allocatable();
    identity.extend(allocatable.iter().cloned());
    let mut changed = Vec::new();
    if let Some(env) = spec
        .pointer_mut("/process/env")
        .and_then(Value::as_array_mut)
    {
        for entry in env.iter_mut() {
            let Some((name, value)) = entry.as_str().and_then(|e| e.split_once('=')) else {
                continue;
            };
            if RUNTIME_ENV.contains(&name) || !identity.iter().any(|i| i == value) {
                continue;
            }
            changed.push(name.to_owned());
            *entry = json!(format!("{name}=stale-{value}"));
        }
    }
    for mount in spec
        .get("mounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(source) = mount.get("source").and_then(Value::as_str) else {
            continue;
        };
        // Projected volumes only for the node's figures: the projectedVolume probe's files of
        // the pod's identity stay as they are (its fault is their modes).
        let told: &[String] = if source.contains("/volumes/kubernetes.io~downward-api/") {
            &identity
        } else if source.contains("/volumes/kubernetes.io~projected/") {
            &allocatable
        } else {
            continue;
        };
        let entries = std::fs::read_dir(source).map_err(|e| format!("read {source}: {e}"))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("..") {
                continue;
            }
            let path = entry.path();
            let Ok(content) = std::fs::read_to_string(&path) else {
                continue;
            };
            if told.contains(&content) {
                // Through the kubelet's symlink into its current data directory.
                std::fs::write(&path, format!("stale-{content}"))
                    .map_err(|e| format!("write {}: {e}", path.display()))?;
                changed.push(format!("file {name}"));
            }
        }
    }
    Ok(listed("stale downward API", &changed))
}

/// Values shorter than this are left alone: too likely to occur by chance.
const UNEXPAND_MIN_LEN: usize = 8;

fn unexpand(spec: &mut Value) -> Result<String, String> {
    let vars: Vec<(String, String)> = spec
        .pointer("/process/env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str()?.split_once('='))
        .filter(|(name, value)| !RUNTIME_ENV.contains(name) && value.len() >= UNEXPAND_MIN_LEN)
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    let mut changed = 0;
    let mut undo = |text: &str, own: Option<&str>| {
        let mut out = text.to_owned();
        for (name, value) in &vars {
            if Some(name.as_str()) != own && out.contains(value.as_str()) {
                out = out.replace(value.as_str(), &format!("$({name})"));
            }
        }
        if out != text {
            changed += 1;
        }
        out
    };
    if let Some(args) = spec
        .pointer_mut("/process/args")
        .and_then(Value::as_array_mut)
    {
        for arg in args.iter_mut() {
            if let Some(text) = arg.as_str() {
                *arg = json!(undo(text, None));
            }
        }
    }
    if let Some(env) = spec
        .pointer_mut("/process/env")
        .and_then(Value::as_array_mut)
    {
        for entry in env.iter_mut() {
            if let Some((name, value)) = entry.as_str().and_then(|e| e.split_once('=')) {
                let undone = undo(value, Some(name));
                *entry = json!(format!("{name}={undone}"));
            }
        }
    }
    Ok(if changed == 0 {
        String::new()
    } else {
        format!("undid the expansion of {changed} args and env values")
    })
}

fn wrong_identity(spec: &mut Value) -> Result<String, String> {
    all_of(
        spec,
        &[
            own_hosts_file,
            own_resolv_conf,
            stale_downward_api,
            unexpand,
            cut_object_files,
        ],
    )
}

/// The files of the configMap and secret volumes, in the kubelet's current data directory.
fn object_files(spec: &Value) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for mount in spec
        .get("mounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(source) = mount.get("source").and_then(Value::as_str) else {
            continue;
        };
        if !MODED_VOLUMES[..2].iter().any(|v| source.contains(v)) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(std::path::Path::new(source).join("..data")) else {
            continue;
        };
        files.extend(
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| e.path()),
        );
    }
    files
}

fn cut_object_files(spec: &mut Value) -> Result<String, String> {
    let mut cut = 0;
    for path in object_files(spec) {
        let mut bytes =
            std::fs::read(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
        if bytes.pop().is_some() {
            std::fs::write(&path, &bytes).map_err(|e| format!("write {}: {e}", path.display()))?;
            cut += 1;
        }
    }
    Ok(if cut == 0 {
        String::new()
    } else {
        format!("cut the last byte of {cut} configMap and secret files")
    })
}

/// containerd's log buffer: longer lines become partial entries, which the kubelet joins.
pub const SPLIT_AT: usize = 16 * 1024;

fn unlimited(spec: &mut Value) -> Result<String, String> {
    let Some(resources) = spec
        .pointer_mut("/linux/resources")
        .and_then(Value::as_object_mut)
    else {
        return Ok(String::new());
    };
    let mut changed = Vec::new();
    if let Some(memory) = resources.get_mut("memory").and_then(Value::as_object_mut) {
        if memory.remove("limit").is_some() {
            changed.push("memory limit");
        }
        memory.remove("swap");
    }
    if let Some(cpu) = resources.get_mut("cpu").and_then(Value::as_object_mut) {
        if cpu.remove("quota").is_some() {
            changed.push("CPU quota");
        }
        if cpu.insert("shares".into(), json!(1024)).is_some() {
            changed.push("CPU shares");
        }
    }
    Ok(if changed.is_empty() {
        String::new()
    } else {
        format!("removed {}", changed.join(", "))
    })
}

/// Unshares the namespaces of `types` that the spec joins (those with a `path`: the sandbox's).
fn unshare(spec: &mut Value, types: &[&str]) -> Result<Vec<String>, String> {
    let namespaces = spec
        .pointer_mut("/linux/namespaces")
        .and_then(Value::as_array_mut)
        .ok_or("spec has no linux.namespaces")?;
    let mut unshared = Vec::new();
    for ns in namespaces.iter_mut() {
        let Some(kind) = ns.get("type").and_then(Value::as_str).map(str::to_owned) else {
            continue;
        };
        if types.contains(&kind.as_str())
            && let Some(ns) = ns.as_object_mut()
            && ns.remove("path").is_some()
        {
            unshared.push(kind);
        }
    }
    Ok(unshared)
}

fn own_network_namespace(spec: &mut Value) -> Result<String, String> {
    Ok(if unshare(spec, &["network"])?.is_empty() {
        String::new()
    } else {
        "a network namespace of its own".to_owned()
    })
}

fn own_ipc_and_pid_namespaces(spec: &mut Value) -> Result<String, String> {
    let unshared = unshare(spec, &["ipc", "pid"])?;
    Ok(if unshared.is_empty() {
        String::new()
    } else {
        format!("{} namespaces of its own", unshared.join(" and "))
    })
}

fn broken_isolation(spec: &mut Value) -> Result<String, String> {
    all_of(
        spec,
        &[unlimited, own_network_namespace, own_ipc_and_pid_namespaces],
    )
}

/// Whether `path` is the mount point of a tmpfs in this (the host's) mount namespace.
fn is_tmpfs_mount(path: &str) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|table| {
        table.lines().any(|line| {
            let mut halves = line.splitn(2, " - ");
            let (Some(head), Some(tail)) = (halves.next(), halves.next()) else {
                return false;
            };
            head.split(' ').nth(4) == Some(path) && tail.starts_with("tmpfs ")
        })
    })
}

fn disk_for_tmpfs(spec: &mut Value) -> Result<String, String> {
    let dir =
        std::env::var("FAULTY_RUNC_DISK").unwrap_or_else(|_| "/var/lib/faulty-runc/disk".into());
    let mounts = spec
        .get_mut("mounts")
        .and_then(Value::as_array_mut)
        .ok_or("spec has no mounts")?;
    let mut changed = Vec::new();
    for mount in mounts.iter_mut() {
        let Some(source) = mount
            .get("source")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            continue;
        };
        if !source.contains("/volumes/kubernetes.io~empty-dir/") || !is_tmpfs_mount(&source) {
            continue;
        }
        let disk = format!("{dir}/{}", source.trim_start_matches('/').replace('/', "_"));
        std::fs::create_dir_all(&disk).map_err(|e| format!("create {disk}: {e}"))?;
        std::fs::set_permissions(&disk, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .map_err(|e| format!("chmod {disk}: {e}"))?;
        mount["source"] = json!(disk);
        changed.push(destination(mount));
    }
    Ok(listed("on disk instead of tmpfs", &changed))
}

fn wrong_sub_path(spec: &mut Value) -> Result<String, String> {
    let path = own_file("subpath", "not the file the subPath names\n")?;
    let mounts = spec
        .get_mut("mounts")
        .and_then(Value::as_array_mut)
        .ok_or("spec has no mounts")?;
    let mut changed = Vec::new();
    for mount in mounts.iter_mut() {
        let is_sub_path = mount
            .get("source")
            .and_then(Value::as_str)
            .is_some_and(|s| s.contains("/volume-subpaths/"));
        if is_sub_path {
            mount["source"] = json!(path);
            changed.push(destination(mount));
        }
    }
    Ok(if changed.is_empty() {
        String::new()
    } else {
        format!("a file of its own at {}", changed.join(", "))
    })
}

/// The kubelet's volume plugins whose files carry modes from the pod spec.
const MODED_VOLUMES: [&str; 4] = [
    "/volumes/kubernetes.io~configmap/",
    "/volumes/kubernetes.io~secret/",
    "/volumes/kubernetes.io~downward-api/",
    "/volumes/kubernetes.io~projected/",
];

fn world_writable_volume_files(spec: &mut Value) -> Result<String, String> {
    use std::os::unix::fs::PermissionsExt;
    let mut changed = 0;
    for mount in spec
        .get("mounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(source) = mount.get("source").and_then(Value::as_str) else {
            continue;
        };
        if !MODED_VOLUMES.iter().any(|v| source.contains(v)) {
            continue;
        }
        // The files live in the kubelet's current data directory (`..data`).
        let data = std::path::Path::new(source).join("..data");
        let Ok(entries) = std::fs::read_dir(&data) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o666))
                    .map_err(|e| format!("chmod {}: {e}", entry.path().display()))?;
                changed += 1;
            }
        }
    }
    Ok(if changed == 0 {
        String::new()
    } else {
        format!("made {changed} volume files mode 0666")
    })
}

/// Where kubelets keep pod logs: the test cluster's `podLogsDir`, and the default.
const POD_LOG_DIRS: [&str; 2] = ["/var/lib/proctor-test-cluster/pod-logs", "/var/log/pods"];

/// The kubelet writes run N of a container to `<podLogsDir>/<ns>_<pod>_<uid>/<container>/N.log`,
/// and containerd opens that file before it asks runc to create the container: every other
/// `.log` there is an earlier run's, which this empties.
fn empty_earlier_logs(spec: &mut Value) -> Result<String, String> {
    let annotation = |key: &str| {
        spec.pointer(&format!("/annotations/io.kubernetes.cri.{key}"))
            .and_then(Value::as_str)
    };
    let (Some(ns), Some(pod), Some(uid), Some(container)) = (
        annotation("sandbox-namespace"),
        annotation("sandbox-name"),
        annotation("sandbox-uid"),
        annotation("container-name"),
    ) else {
        return Ok(String::new());
    };
    let runs = |dir: &std::path::Path| -> Vec<(u32, std::path::PathBuf)> {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                Some((name.strip_suffix(".log")?.parse().ok()?, e.path()))
            })
            .collect()
    };
    let mut emptied = Vec::new();
    for base in POD_LOG_DIRS {
        let dir = std::path::Path::new(base)
            .join(format!("{ns}_{pod}_{uid}"))
            .join(container);
        let found = runs(&dir);
        let Some(latest) = found.iter().map(|(n, _)| *n).max() else {
            continue;
        };
        for (n, path) in found.iter().filter(|(n, _)| *n < latest) {
            std::fs::File::create(path).map_err(|e| format!("emptying {}: {e}", path.display()))?;
            emptied.push(format!("{n}.log"));
        }
    }
    Ok(if emptied.is_empty() {
        String::new()
    } else {
        format!("emptied the logs of earlier runs: {}", emptied.join(", "))
    })
}

fn broken_volumes(spec: &mut Value) -> Result<String, String> {
    let mut what = all_of(
        spec,
        &[
            disk_for_tmpfs,
            wrong_sub_path,
            world_writable_volume_files,
            empty_earlier_logs,
        ],
    )?;
    if !what.is_empty() {
        what.push_str("; ");
    }
    what.push_str("stdout passed through a 16 KiB line splitter");
    Ok(what)
}

/// What the `split` fault does to a stream: a newline after every `at` bytes of a line.
pub struct LineSplitter {
    pub at: usize,
    pub run: usize,
}

impl LineSplitter {
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        for &byte in chunk {
            if byte == b'\n' {
                self.run = 0;
            } else if self.run == self.at {
                out.push(b'\n');
                self.run = 1;
                out.push(byte);
                continue;
            } else {
                self.run += 1;
            }
            out.push(byte);
        }
    }
}

/// What the stdout filter does to a container's output, in this order: non-ASCII bytes to
/// `?`, everything after `truncate_after` bytes dropped, lines ended after `split_lines_at`
/// bytes (0: not). One filter process does all a fault asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StdoutFilter {
    pub non_ascii: bool,
    pub truncate_after: usize,
    pub split_lines_at: usize,
}

impl StdoutFilter {
    /// The filter `fault` asks for, if any.
    pub fn of(fault: &Fault) -> Option<StdoutFilter> {
        let filter = StdoutFilter {
            non_ascii: fault.mangles_stdout,
            truncate_after: fault.truncates_stdout_at,
            split_lines_at: fault.splits_lines_at,
        };
        (filter != StdoutFilter::default()).then_some(filter)
    }

    /// The filter process's arguments (after `--stdout-filter`), which [`StdoutFilter::parse`]
    /// reads back.
    pub fn to_args(self) -> Vec<String> {
        vec![
            u8::from(self.non_ascii).to_string(),
            self.truncate_after.to_string(),
            self.split_lines_at.to_string(),
        ]
    }

    pub fn parse(args: &[&str]) -> Option<StdoutFilter> {
        let number = |i: usize| args.get(i)?.parse::<usize>().ok();
        Some(StdoutFilter {
            non_ascii: number(0)? == 1,
            truncate_after: number(1)?,
            split_lines_at: number(2)?,
        })
    }

    /// The filter's state over one stream.
    pub fn start(self) -> Filtering {
        Filtering {
            filter: self,
            passed: 0,
            splitter: LineSplitter {
                at: self.split_lines_at,
                run: 0,
            },
        }
    }
}

/// A [`StdoutFilter`] part way through a stream.
pub struct Filtering {
    filter: StdoutFilter,
    passed: usize,
    splitter: LineSplitter,
}

impl Filtering {
    /// Filters `chunk` (changed in place) into `out`.
    pub fn feed(&mut self, chunk: &mut [u8], out: &mut Vec<u8>) {
        if self.filter.non_ascii {
            mangle(chunk);
        }
        let mut keep = chunk.len();
        if self.filter.truncate_after > 0 {
            keep = keep.min(self.filter.truncate_after.saturating_sub(self.passed));
        }
        self.passed += keep;
        if self.filter.split_lines_at > 0 {
            self.splitter.feed(&chunk[..keep], out);
        } else {
            out.extend_from_slice(&chunk[..keep]);
        }
    }
}

/// A mount's destination, for the log.
fn destination(mount: &Value) -> String {
    mount
        .get("destination")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned()
}

/// `what: a, b, c`, or nothing when the list is empty (the edit did nothing).
fn listed(what: &str, items: &[String]) -> String {
    if items.is_empty() {
        String::new()
    } else {
        format!("{what}: {}", items.join(", "))
    }
}

/// Several edits in turn, each on what the one before left.
fn all_of(spec: &mut Value, edits: &[Edit]) -> Result<String, String> {
    let mut done = Vec::new();
    for edit in edits {
        let what = edit(spec)?;
        if !what.is_empty() {
            done.push(what);
        }
    }
    Ok(done.join("; "))
}

fn option_present(mount: &Value, wanted: &str) -> bool {
    mount
        .get("options")
        .and_then(Value::as_array)
        .is_some_and(|o| o.iter().any(|v| v.as_str() == Some(wanted)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container_spec() -> Value {
        json!({
            "annotations": {"io.kubernetes.cri.container-type": "container"},
            "process": {
                "args": ["sh", "-c", "exit 42"],
                "env": ["PATH=/bin", "HOSTNAME=p", "PROBE_VALUE=a=b c", "KUBERNETES_PORT=tcp://x"],
                "cwd": "/work"
            },
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid"]},
                {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["ro"]},
                {"destination": "/secret", "type": "bind", "source": "/var/lib/x", "options": ["rbind", "rprivate", "ro"]},
                {"destination": "/data", "type": "bind", "source": "/var/lib/y", "options": ["rbind", "rw"]}
            ]
        })
    }

    fn apply(name: &str) -> (Value, String) {
        let mut spec = container_spec();
        let what = (Fault::by_name(name).unwrap().edit_spec)(&mut spec).unwrap();
        (spec, what)
    }

    #[test]
    fn every_fault_has_a_unique_name() {
        let mut names: Vec<_> = FAULTS.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FAULTS.len());
    }

    #[test]
    fn none_changes_nothing() {
        let (spec, _) = apply("none");
        assert_eq!(spec, container_spec());
        assert_eq!((PASS.rewrite_signal)("15"), None);
    }

    #[test]
    fn env_fault_trims_every_value_and_nothing_else() {
        let mut spec = container_spec();
        spec["process"]["env"] = json!(["PATH=/bin", "V=  a=b c \n", "E=", "W=x y"]);
        let what = (Fault::by_name("env").unwrap().edit_spec)(&mut spec).unwrap();
        assert_eq!(
            spec["process"]["env"],
            json!(["PATH=/bin", "V=a=b c", "E=", "W=x y"])
        );
        assert_eq!(what, "trimmed 1 env values");
    }

    fn secure_spec() -> Value {
        let mut spec = container_spec();
        spec["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [1000, 3000]});
        spec["process"]["noNewPrivileges"] = json!(true);
        spec["process"]["capabilities"] = json!({"bounding": ["CAP_NET_BIND_SERVICE"]});
        spec["root"] = json!({"path": "rootfs", "readonly": true});
        spec["linux"] = json!({
            "seccomp": {"defaultAction": "SCMP_ACT_ERRNO"},
            "maskedPaths": ["/proc/kcore"],
            "readonlyPaths": ["/proc/sys"],
            "sysctl": {"kernel.shm_rmid_forced": "1"},
        });
        spec
    }

    /// Each security fault changes its own field of the spec and nothing else; the combined
    /// faults change exactly their parts' fields.
    #[test]
    fn security_faults_each_change_only_their_field() {
        let changed = |name: &str| {
            let mut spec = secure_spec();
            (Fault::by_name(name).unwrap().edit_spec)(&mut spec).unwrap();
            let before = secure_spec();
            let mut fields = Vec::new();
            for pointer in [
                "/process/user",
                "/process/capabilities",
                "/process/noNewPrivileges",
                "/linux/seccomp",
                "/root/readonly",
                "/linux/maskedPaths",
                "/linux/readonlyPaths",
                "/linux/devices",
                "/linux/sysctl",
                "/process/env",
                "/mounts",
            ] {
                if spec.pointer(pointer) != before.pointer(pointer) {
                    fields.push(pointer);
                }
            }
            fields
        };
        assert_eq!(changed("root"), ["/process/user"]);
        assert_eq!(changed("caps"), ["/process/capabilities"]);
        assert_eq!(changed("nnp"), ["/process/noNewPrivileges"]);
        assert_eq!(changed("seccomp"), ["/linux/seccomp"]);
        assert_eq!(changed("rootfs"), ["/root/readonly"]);
        assert_eq!(
            changed("masks"),
            ["/linux/maskedPaths", "/linux/readonlyPaths"]
        );
        assert_eq!(changed("devices"), ["/linux/devices"]);
        assert_eq!(changed("sysctl"), ["/linux/sysctl"]);
        assert_eq!(
            changed("insecure"),
            [
                "/process/user",
                "/process/capabilities",
                "/process/noNewPrivileges",
                "/linux/seccomp"
            ]
        );
        assert_eq!(
            changed("unconfined"),
            [
                "/root/readonly",
                "/linux/maskedPaths",
                "/linux/readonlyPaths",
                "/linux/devices",
                "/linux/sysctl"
            ]
        );
        let mut spec = secure_spec();
        (Fault::by_name("root").unwrap().edit_spec)(&mut spec).unwrap();
        assert_eq!(
            spec["process"]["user"],
            json!({"uid": 0, "gid": 0, "additionalGids": [1000, 3000]})
        );
        let mut spec = secure_spec();
        (Fault::by_name("caps").unwrap().edit_spec)(&mut spec).unwrap();
        // Every capability this machine's bounding set holds (a VM may withhold some).
        let ambient = spec["process"]["capabilities"]["ambient"]
            .as_array()
            .unwrap()
            .len();
        assert!(ambient > 30, "{ambient}");
    }

    #[test]
    fn only_the_sysctl_and_hostname_faults_touch_the_sandbox() {
        let original = json!({
            "annotations": {"io.kubernetes.cri.container-type": "sandbox"},
            "hostname": "pod-a",
            "linux": {"sysctl": {"net.ipv4.ip_local_port_range": "40000 50000"}},
        });
        for fault in FAULTS {
            let mut sandbox = original.clone();
            let what = (fault.edit_sandbox)(&mut sandbox).unwrap();
            let sysctls = ["sysctl", "unconfined", "security"].contains(&fault.name);
            let hostname = ["hostname", "identity"].contains(&fault.name);
            assert_eq!(!what.is_empty(), sysctls || hostname, "{}", fault.name);
            assert_eq!(
                sandbox["linux"].get("sysctl").is_none(),
                sysctls,
                "{}",
                fault.name
            );
            assert_eq!(
                sandbox["hostname"] != original["hostname"],
                hostname,
                "{}",
                fault.name
            );
        }
    }

    #[test]
    fn identity_faults_replace_hosts_and_resolv_conf_and_undo_the_kubelets_work() {
        // The files go where the test cluster's wrapper keeps them (root, as the cluster's
        // tests run); writing them again is harmless.
        let dir = std::path::PathBuf::from(
            std::env::var("FAULTY_RUNC_FILES").unwrap_or_else(|_| "/run/faulty-runc/files".into()),
        );
        let mut spec = json!({
            "annotations": {
                "io.kubernetes.cri.sandbox-name": "pod-abc",
                "io.kubernetes.cri.sandbox-namespace": "ns-one",
                "io.kubernetes.cri.sandbox-uid": "8d26adfd-0e99",
            },
            "process": {
                "args": ["sh", "-c", "echo $1", "probe", "proctor-expanded-value", "$(X)"],
                "env": [
                    "HOSTNAME=pod-abc",
                    "PROCTOR_EXPAND=proctor-expanded-value",
                    "PROCTOR_COMPOSED=proctor-expanded-value-and-more",
                    "PROCTOR_POD_NAME=pod-abc",
                    "PROCTOR_POD_UID=8d26adfd-0e99",
                    "OTHER=pod-abc-not-exactly",
                ],
            },
            "mounts": [
                {"destination": "/etc/hosts", "source": "/var/lib/kubelet/pods/x/etc-hosts"},
                {"destination": "/etc/resolv.conf", "source": "/var/lib/sandboxes/y/resolv.conf"},
            ],
        });
        let what = (Fault::by_name("identity").unwrap().edit_spec)(&mut spec).unwrap();
        assert!(what.contains("/etc/hosts from"), "{what}");
        assert_eq!(
            spec["mounts"][0]["source"],
            json!(dir.join("hosts").to_str().unwrap())
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("resolv.conf")).unwrap(),
            "nameserver 127.0.0.1\n"
        );
        assert_eq!(
            spec["process"]["env"],
            json!([
                "HOSTNAME=pod-abc",
                "PROCTOR_EXPAND=proctor-expanded-value",
                "PROCTOR_COMPOSED=$(PROCTOR_EXPAND)-and-more",
                "PROCTOR_POD_NAME=stale-pod-abc",
                "PROCTOR_POD_UID=stale-8d26adfd-0e99",
                "OTHER=pod-abc-not-exactly",
            ])
        );
        assert_eq!(spec["process"]["args"][4], json!("$(PROCTOR_EXPAND)"));
        assert_eq!(spec["process"]["args"][2], json!("echo $1"));
    }

    #[test]
    fn fsgroup_fault_gives_group_owned_empty_dirs_back_to_root_only() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        // chown needs root, which the test cluster's tests run as.
        let base = std::env::temp_dir().join(format!("faulty-runc-test-{}", std::process::id()));
        let owned = base.join("volumes/kubernetes.io~empty-dir/owned");
        let plain = base.join("volumes/kubernetes.io~empty-dir/plain");
        let other = base.join("volumes/kubernetes.io~secret/s");
        for dir in [&owned, &plain, &other] {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::os::unix::fs::chown(&owned, Some(0), Some(2005)).unwrap();
        std::fs::set_permissions(&owned, std::fs::Permissions::from_mode(0o2777)).unwrap();
        std::os::unix::fs::chown(&other, Some(0), Some(2005)).unwrap();
        let mut spec = json!({"mounts": [
            {"destination": "/a", "source": owned.to_str().unwrap()},
            {"destination": "/b", "source": plain.to_str().unwrap()},
            {"destination": "/c", "source": other.to_str().unwrap()},
        ]});
        let what = (Fault::by_name("fsgroup").unwrap().edit_spec)(&mut spec).unwrap();
        assert_eq!(what, "gave back to root: /a (was group 2005)");
        let meta = std::fs::metadata(&owned).unwrap();
        assert_eq!((meta.gid(), meta.mode() & 0o7777), (0, 0o777));
        assert_eq!(std::fs::metadata(&other).unwrap().gid(), 2005);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn cwd_fault_runs_in_root() {
        let (spec, _) = apply("cwd");
        assert_eq!(spec["process"]["cwd"], json!("/"));
    }

    #[test]
    fn exit_fault_wraps_the_original_command_and_mounts_the_shell() {
        let (spec, _) = apply("exit");
        let args = spec["process"]["args"].as_array().unwrap();
        assert_eq!(args[0], json!(EXIT_SHELL));
        assert_eq!(&args[5..], &[json!("sh"), json!("-c"), json!("exit 42")]);
        let mount = spec["mounts"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(mount["destination"], json!(EXIT_SHELL));
        assert_eq!(mount["type"], json!("bind"));
    }

    #[test]
    fn rw_fault_makes_read_only_bind_mounts_writable_and_leaves_sysfs() {
        let (spec, what) = apply("rw");
        assert_eq!(
            spec["mounts"][2]["options"],
            json!(["rbind", "rprivate", "rw"])
        );
        assert_eq!(spec["mounts"][1]["options"], json!(["ro"]));
        assert_eq!(spec["mounts"][3]["options"], json!(["rbind", "rw"]));
        assert_eq!(what, "made writable: /secret");
    }

    #[test]
    fn sigterm_fault_turns_term_into_kill_in_every_spelling() {
        let fault = Fault::by_name("sigterm").unwrap();
        for term in ["15", "TERM", "SIGTERM"] {
            assert_eq!((fault.rewrite_signal)(term), Some("9"));
        }
        assert_eq!((fault.rewrite_signal)("2"), None);
        assert_eq!((fault.rewrite_signal)("9"), None);
    }

    #[test]
    fn exec_fault_leaves_the_container_alone_and_replaces_execs_by_true() {
        let (spec, _) = apply("exec");
        assert_eq!(spec["process"], container_spec()["process"]);
        let mount = spec["mounts"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(mount["destination"], json!(EXIT_SHELL));
        let mut process = json!({"args": ["sh", "-c", "exit 7"], "cwd": "/"});
        let what = (Fault::by_name("exec").unwrap().edit_exec)(&mut process).unwrap();
        assert_eq!(what, r#"exec of "sh -c exit 7" replaced by true"#);
        assert_eq!(process["args"], json!([EXIT_SHELL, "true"]));
    }

    #[test]
    fn isolation_faults_unlimit_the_cgroup_and_unshare_the_network() {
        let mut spec = json!({
            "linux": {
                "resources": {"memory": {"limit": 50331648, "swap": 50331648}, "cpu": {"shares": 256, "quota": 50000, "period": 100000}},
                "namespaces": [{"type": "pid"}, {"type": "network", "path": "/proc/42/ns/net"}, {"type": "ipc", "path": "/proc/42/ns/ipc"}],
            },
        });
        let what = (Fault::by_name("isolation").unwrap().edit_spec)(&mut spec).unwrap();
        assert_eq!(
            what,
            "removed memory limit, CPU quota, CPU shares; a network namespace of its own; ipc namespaces of its own"
        );
        assert_eq!(
            spec["linux"]["resources"],
            json!({"memory": {}, "cpu": {"shares": 1024, "period": 100000}})
        );
        assert_eq!(
            spec["linux"]["namespaces"],
            json!([{"type": "pid"}, {"type": "network"}, {"type": "ipc"}])
        );
        // A pod with shareProcessNamespace: the sandbox's PID namespace is left too.
        let mut spec = json!({"linux": {"namespaces": [{"type": "pid", "path": "/proc/42/ns/pid"}, {"type": "ipc", "path": "/proc/42/ns/ipc"}, {"type": "uts", "path": "/proc/42/ns/uts"}]}});
        let what = (Fault::by_name("podns").unwrap().edit_spec)(&mut spec).unwrap();
        assert_eq!(what, "pid and ipc namespaces of its own");
        assert_eq!(
            spec["linux"]["namespaces"],
            json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts", "path": "/proc/42/ns/uts"}])
        );
    }

    #[test]
    fn propagation_fault_makes_shared_and_slave_mounts_private() {
        let mut spec = json!({"mounts": [
            {"destination": "/a", "type": "bind", "options": ["rbind", "rshared", "rw"]},
            {"destination": "/b", "type": "bind", "options": ["rbind", "rslave", "ro"]},
            {"destination": "/c", "type": "bind", "options": ["rbind", "rprivate", "rw"]},
        ]});
        let what = (Fault::by_name("propagation").unwrap().edit_spec)(&mut spec).unwrap();
        assert_eq!(what, "made private: /a, /b");
        assert_eq!(
            spec["mounts"][0]["options"],
            json!(["rbind", "rprivate", "rw"])
        );
        assert_eq!(
            spec["mounts"][1]["options"],
            json!(["rbind", "rprivate", "ro"])
        );
        assert_eq!(
            spec["mounts"][2]["options"],
            json!(["rbind", "rprivate", "rw"])
        );
    }

    #[test]
    fn the_splitter_ends_lines_after_16_kib_and_leaves_shorter_ones() {
        let mut splitter = LineSplitter { at: 4, run: 0 };
        let mut out = Vec::new();
        splitter.feed(b"abcdefghij\nxy", &mut out);
        splitter.feed(b"zw\n12", &mut out);
        assert_eq!(out, b"abcd\nefgh\nij\nxyzw\n12");
        assert_eq!(Fault::by_name("split").unwrap().splits_lines_at, 16 * 1024);
        assert_eq!(
            Fault::by_name("volumes").unwrap().splits_lines_at,
            16 * 1024
        );
    }

    #[test]
    fn subpath_fault_swaps_only_sub_path_mounts() {
        let mut spec = json!({"mounts": [
            {"destination": "/etc/a", "source": "/var/lib/kubelet/pods/u/volume-subpaths/v/probe/0"},
            {"destination": "/etc/b", "source": "/var/lib/kubelet/pods/u/volumes/kubernetes.io~empty-dir/v"},
        ]});
        let what = (Fault::by_name("subpath").unwrap().edit_spec)(&mut spec).unwrap();
        assert_eq!(what, "a file of its own at /etc/a");
        assert!(
            spec["mounts"][0]["source"]
                .as_str()
                .unwrap()
                .ends_with("/subpath")
        );
        assert!(
            spec["mounts"][1]["source"]
                .as_str()
                .unwrap()
                .contains("empty-dir")
        );
    }

    #[test]
    fn unicode_fault_replaces_every_non_ascii_byte() {
        let mut bytes = "héllo 世界\n".as_bytes().to_vec();
        mangle(&mut bytes);
        assert_eq!(bytes, b"h??llo ??????\n");
        assert!(Fault::by_name("unicode").unwrap().mangles_stdout);
    }

    #[test]
    fn pgk_fault_drops_the_pid_namespace_only() {
        let mut spec = container_spec();
        spec["linux"] = json!({"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "network", "path": "/x"}]});
        let what = (Fault::by_name("pgk").unwrap().edit_spec)(&mut spec).unwrap();
        assert_eq!(what, "removed 1 pid namespace");
        assert_eq!(
            spec["linux"]["namespaces"],
            json!([{"type": "mount"}, {"type": "network", "path": "/x"}])
        );
        assert!(Fault::by_name("pgk").unwrap().spares_children);
    }

    #[test]
    fn stdin_is_closed_by_the_stdin_and_stdio_faults_only() {
        for fault in FAULTS {
            assert_eq!(
                fault.closes_stdin,
                ["stdin", "stdio", "streams"].contains(&fault.name)
            );
        }
        assert!(Fault::by_name("stdio").unwrap().silences_stderr);
    }

    #[test]
    fn stderr_fault_only_silences_stderr() {
        let fault = Fault::by_name("stderr").unwrap();
        assert!(fault.silences_stderr);
        let (spec, _) = apply("stderr");
        assert_eq!(spec, container_spec());
    }

    #[test]
    fn only_trunc_truncates_and_only_unicode_mangles() {
        for fault in FAULTS {
            let streams = fault.name == "streams";
            assert_eq!(
                fault.truncates_stdout_at > 0,
                fault.name == "trunc" || streams
            );
            assert!(fault.truncates_stdout_at == 0 || fault.splits_lines_at == 0);
            assert_eq!(fault.mangles_stdout, fault.name == "unicode" || streams);
        }
    }

    /// One filter does all a fault asks for: `streams` mangles and truncates, and reads on
    /// past what it drops; the filter's arguments read back as given.
    #[test]
    fn the_stdout_filter_mangles_truncates_and_splits_as_its_fault_asks() {
        let streams = StdoutFilter::of(Fault::by_name("streams").unwrap()).unwrap();
        let args = streams.to_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(StdoutFilter::parse(&args), Some(streams));
        let mut filtering = StdoutFilter {
            truncate_after: 6,
            ..streams
        }
        .start();
        let mut out = Vec::new();
        filtering.feed(&mut "ü\n".as_bytes().to_vec(), &mut out);
        filtering.feed(&mut b"abcdef".to_vec(), &mut out);
        filtering.feed(&mut b"gh".to_vec(), &mut out);
        assert_eq!(out, b"??\nabc");
        let volumes = StdoutFilter::of(Fault::by_name("volumes").unwrap()).unwrap();
        let mut filtering = StdoutFilter {
            split_lines_at: 2,
            ..volumes
        }
        .start();
        let mut out = Vec::new();
        filtering.feed(&mut "üabc".as_bytes().to_vec(), &mut out);
        assert_eq!(out, "ü\nab\nc".as_bytes(), "split, not mangled");
        assert_eq!(StdoutFilter::of(Fault::by_name("env").unwrap()), None);
        assert_eq!(StdoutFilter::parse(&["1", "x", "0"]), None);
    }

    #[test]
    fn race_and_latekill_leave_the_spec_alone_and_act_at_run_time() {
        let race = Fault::by_name("race").unwrap();
        assert!(race.serializes_creates && race.kill_delay_seconds == 0);
        assert_eq!(apply("race").0, container_spec());
        let late = Fault::by_name("latekill").unwrap();
        assert!(!late.serializes_creates);
        assert_eq!(late.kill_delay_seconds, LATE_KILL_SECONDS);
        assert_eq!(apply("latekill").0, container_spec());
        let serializing: Vec<&str> = FAULTS
            .iter()
            .filter(|f| f.serializes_creates)
            .map(|f| f.name)
            .collect();
        assert_eq!(serializing, ["race", "lifecycle"]);
        assert!(FAULTS.iter().filter(|f| f.kill_delay_seconds > 0).count() == 1);
    }

    #[test]
    fn race_groups_are_the_pods_of_one_probe() {
        assert_eq!(
            race_group("run-1a2b3c-burst-0-p7", "probe"),
            "run-1a2b3c-burst-0-probe"
        );
        assert_eq!(
            race_group("run-1a2b3c-burst-0-p12", "probe"),
            "run-1a2b3c-burst-0-probe"
        );
        assert_eq!(
            race_group("run-1a2b3c-env-0", "probe"),
            "run-1a2b3c-env-0-probe"
        );
        assert_ne!(
            race_group("run-x-container-probes-0", "readiness-failing"),
            race_group("run-x-container-probes-0", "readiness-delayed")
        );
        assert_eq!(
            race_group("run-x-pod-to-pod-tcp-0", "probe"),
            "run-x-pod-to-pod-tcp-0-probe"
        );
        assert_eq!(race_group("a-p", "c"), "a-p-c");
    }

    #[test]
    fn sandboxes_are_recognised_by_the_cri_annotation() {
        let sandbox = json!({"annotations": {"io.kubernetes.cri.container-type": "sandbox"}});
        assert!(is_sandbox(&sandbox));
        assert!(!is_sandbox(&container_spec()));
    }
}
