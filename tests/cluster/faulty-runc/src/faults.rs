//! The fault modes. Each breaks one behaviour that a probe in PROBES.md checks; adding one is a
//! function and an entry in [`FAULTS`].

use serde_json::{Value, json};

/// A way of breaking the runtime.
pub struct Fault {
    /// The suffix of the runtime handler (`faulty-<name>`) and of the wrapper's file name.
    pub name: &'static str,
    /// What it breaks, for `faulty-runc --list` and the test cluster's docs.
    pub breaks: &'static str,
    /// Edits a workload container's OCI spec on `create`; returns a short description of what it
    /// did (empty when nothing was needed).
    pub edit_spec: fn(&mut Value) -> Result<String, String>,
    /// Replaces the signal of `runc kill`, or `None` to leave it.
    pub rewrite_signal: fn(&str) -> Option<&'static str>,
    /// Sends the workload's stderr to /dev/null.
    pub silences_stderr: bool,
    /// Passes the workload's stdout through a filter that replaces every non-ASCII byte by `?`.
    pub mangles_stdout: bool,
    /// Passes the workload's stdout through a filter that forwards this many bytes and drops
    /// the rest (0: no such filter).
    pub truncates_stdout_at: usize,
    /// Before any kill or delete, moves every process of the container but its first out of
    /// the container's cgroup, so that the kill reaches the main process only.
    pub spares_children: bool,
    /// Edits the process spec of `runc exec` (`--process FILE`); returns what it did, empty
    /// when nothing was needed.
    pub edit_exec: fn(&mut Value) -> Result<String, String>,
    /// A workload container's `create` fails while another one's is in progress (creates hold
    /// a lock for [`CREATE_HOLD`] past runc's own work): concurrent starts fail.
    pub serializes_creates: bool,
    /// `runc kill` of a workload container returns at once and delivers the signal this many
    /// seconds later (0: at once), like a hung shim.
    pub kill_delay_seconds: u64,
}

/// How long past runc's own `create` the `race` fault keeps other creates out.
pub const CREATE_HOLD: std::time::Duration = std::time::Duration::from_secs(2);
/// The `latekill` fault's delay: longer than the deadline probe's slack and the churn probe's
/// timeout in the conformance sample, far shorter than any run's timeout.
pub const LATE_KILL_SECONDS: u64 = 50;

const PASS: Fault = Fault {
    name: "none",
    breaks: "nothing: a transparent wrapper, the control for the others",
    edit_spec: |_| Ok(String::new()),
    rewrite_signal: |_| None,
    silences_stderr: false,
    mangles_stdout: false,
    truncates_stdout_at: 0,
    spares_children: false,
    edit_exec: |_| Ok(String::new()),
    serializes_creates: false,
    kill_delay_seconds: 0,
};

pub const FAULTS: &[Fault] = &[
    PASS,
    Fault {
        name: "env",
        breaks: "drops the container's own environment variables",
        edit_spec: drop_env,
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
        breaks: "commands run with exec always exit 0",
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
        breaks: "a container created while another one is being created fails to start",
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

/// Variables the runtime and image provide rather than the pod spec; keeping them leaves the
/// container runnable while everything the user asked for is gone.
const RUNTIME_ENV: &[&str] = &["PATH", "HOSTNAME", "HOME", "TERM"];

fn drop_env(spec: &mut Value) -> Result<String, String> {
    let env = spec
        .pointer_mut("/process/env")
        .and_then(Value::as_array_mut)
        .ok_or("spec has no process.env")?;
    let before = env.len();
    env.retain(|entry| {
        let name = entry
            .as_str()
            .and_then(|e| e.split('=').next())
            .unwrap_or("");
        RUNTIME_ENV.contains(&name)
    });
    Ok(format!(
        "dropped {} of {before} env vars",
        before - env.len()
    ))
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
    wrap_exit_zero(process)?;
    mount_exit_shell(spec)?;
    Ok("process wrapped to exit 0".to_owned())
}

/// Wraps a process's argv in the exit-0 shell (which must be mounted in the container).
fn wrap_exit_zero(process: &mut Value) -> Result<(), String> {
    let args = process
        .get_mut("args")
        .and_then(Value::as_array_mut)
        .ok_or("process has no args")?;
    let mut wrapped = vec![
        json!(EXIT_SHELL),
        json!("sh"),
        json!("-c"),
        json!(EXIT_ZERO_SCRIPT),
        json!("faulty-exit"),
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

/// `faulty-exec` on exec: the exec'd process always exits 0.
fn exec_zero(process: &mut Value) -> Result<String, String> {
    wrap_exit_zero(process)?;
    Ok("exec wrapped to exit 0".to_owned())
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
    fn env_fault_keeps_only_runtime_provided_variables() {
        let (spec, what) = apply("env");
        assert_eq!(spec["process"]["env"], json!(["PATH=/bin", "HOSTNAME=p"]));
        assert_eq!(what, "dropped 2 of 4 env vars");
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
    fn exec_fault_leaves_the_container_alone_and_wraps_execs() {
        let (spec, _) = apply("exec");
        assert_eq!(spec["process"], container_spec()["process"]);
        let mount = spec["mounts"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(mount["destination"], json!(EXIT_SHELL));
        let mut process = json!({"args": ["sh", "-c", "exit 7"], "cwd": "/"});
        let what = (Fault::by_name("exec").unwrap().edit_exec)(&mut process).unwrap();
        assert_eq!(what, "exec wrapped to exit 0");
        assert_eq!(process["args"][0], json!(EXIT_SHELL));
        assert_eq!(process["args"][7], json!("exit 7"));
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
    fn stderr_fault_only_silences_stderr() {
        let fault = Fault::by_name("stderr").unwrap();
        assert!(fault.silences_stderr);
        let (spec, _) = apply("stderr");
        assert_eq!(spec, container_spec());
    }

    #[test]
    fn only_trunc_truncates_and_only_unicode_mangles() {
        for fault in FAULTS {
            assert_eq!(fault.truncates_stdout_at > 0, fault.name == "trunc");
            assert_eq!(fault.mangles_stdout, fault.name == "unicode");
        }
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
        assert!(FAULTS.iter().filter(|f| f.serializes_creates).count() == 1);
        assert!(FAULTS.iter().filter(|f| f.kill_delay_seconds > 0).count() == 1);
    }

    #[test]
    fn sandboxes_are_recognised_by_the_cri_annotation() {
        let sandbox = json!({"annotations": {"io.kubernetes.cri.container-type": "sandbox"}});
        assert!(is_sandbox(&sandbox));
        assert!(!is_sandbox(&container_spec()));
    }
}
