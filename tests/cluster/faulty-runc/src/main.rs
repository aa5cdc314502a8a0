//! `faulty-runc`: a drop-in wrapper around `runc` that breaks exactly one behaviour, for the
//! mutation matrix of tests/e2e.rs.
//!
//! containerd's `io.containerd.runc.v2` shim runs `BinaryName` for every runc call of a runtime
//! handler. The test cluster points each `faulty-*` handler at a symlink named
//! `faulty-runc-<fault>` to this binary; the fault is read from that name (or from
//! `FAULTY_RUNC_FAULT`). The wrapper edits what runc is about to do — the bundle's
//! `config.json` on `create`, the signal on `kill`, its own stderr — and then `exec`s the real
//! runc with the same arguments, so everything it does not break behaves exactly like plain runc.
//!
//! Pod sandboxes (the pause container) are never altered: the faults are about the workload.
//!
//! This is test infrastructure for the cluster on this machine only; it touches the bundle
//! directory of the container being created, its log file, and nothing else.

#![forbid(unsafe_code)]

mod faults;
mod runc_args;

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use faults::Fault;
use runc_args::Invocation;

const REAL_RUNC_CANDIDATES: &[&str] = &["/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc"];

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "--stdout-filter") {
        let options: Vec<&str> = args[2..].iter().filter_map(|a| a.to_str()).collect();
        return match faults::StdoutFilter::parse(&options) {
            Some(filter) => filter_stdin(filter),
            None => ExitCode::from(2),
        };
    }
    if args.get(1).is_some_and(|a| a == "--deliver-later") {
        return deliver_later(&args[2..]);
    }
    if args.get(1).is_some_and(|a| a == "--list-faults") {
        // Read by tests/cluster/up.sh to declare one runtime handler per fault.
        for fault in faults::FAULTS {
            println!("{}\t{}", fault.name, fault.breaks);
        }
        return ExitCode::SUCCESS;
    }
    let Some(real_runc) = real_runc() else {
        eprintln!("faulty-runc: no runc found (set FAULTY_RUNC_REAL)");
        return ExitCode::from(127);
    };
    let invoked_as = args.first().cloned().unwrap_or_default();
    let fault = match fault_for(&invoked_as) {
        Ok(fault) => fault,
        Err(message) => {
            eprintln!("faulty-runc: {message}");
            return ExitCode::from(2);
        }
    };
    let rest: Vec<OsString> = args.into_iter().skip(1).collect();
    let invocation = Invocation::parse(&rest);

    let mut rest = rest;
    let mut silence_stderr = false;
    let mut close_stdin = false;
    let mut stdout_filter: Option<faults::StdoutFilter> = None;
    match &invocation {
        Invocation::Create { bundle } => match apply_to_bundle(fault, bundle) {
            Ok(Some(what)) => {
                log(fault, &format!("create {}: {what}", bundle.display()));
                if fault.serializes_creates {
                    return create_exclusively(fault, &real_runc, &rest, bundle);
                }
                silence_stderr = fault.silences_stderr;
                close_stdin = fault.closes_stdin;
                stdout_filter = faults::StdoutFilter::of(fault);
            }
            Ok(None) => {}
            Err(message) => {
                // Failing loudly beats silently running the container unbroken: a probe that
                // passes under a fault it should catch would be reported as a missed fault.
                log(fault, &format!("create {}: {message}", bundle.display()));
                eprintln!("faulty-runc: {message}");
                return ExitCode::from(1);
            }
        },
        Invocation::Exec { process } => {
            silence_stderr = fault.silences_stderr;
            if let Some(process) = process {
                match edit_json_file(process, fault.edit_exec) {
                    Ok(what) if !what.is_empty() => log(fault, &format!("exec: {what}")),
                    Ok(_) => {}
                    Err(message) => {
                        log(fault, &format!("exec: {message}"));
                        eprintln!("faulty-runc: {message}");
                        return ExitCode::from(1);
                    }
                }
            }
        }
        Invocation::Kill {
            signal_at,
            present,
            id,
        } => {
            if fault.spares_children
                && let Some(id) = id
            {
                spare_children(fault, &real_runc, &rest, id);
            }
            if fault.kill_delay_seconds > 0
                && let Some(id) = id
                && is_workload(&real_runc, &rest, id)
            {
                return kill_later(fault, &real_runc, &rest, id);
            }
            // runc's default signal is SIGTERM; spell it out so a fault can rewrite it.
            if !present {
                rest.push(OsString::from("SIGTERM"));
            }
            if let Some(signal) = rest.get(*signal_at).and_then(|s| s.to_str())
                && let Some(replacement) = (fault.rewrite_signal)(signal)
            {
                log(
                    fault,
                    &format!("kill: signal {signal} sent as {replacement}"),
                );
                rest[*signal_at] = OsString::from(replacement);
            }
        }
        Invocation::Delete { id } => {
            if fault.spares_children
                && let Some(id) = id
            {
                spare_children(fault, &real_runc, &rest, id);
            }
        }
        Invocation::Other => {}
    }

    let mut command = Command::new(&real_runc);
    command.arg0(&real_runc).args(&rest);
    if silence_stderr {
        // runc hands its own stdio to the container process when no terminal is used, so the
        // container's stderr is whatever this process's stderr is when runc starts.
        command.stderr(Stdio::null());
    }
    if close_stdin {
        // As for stderr: the container's stdin is runc's.
        command.stdin(Stdio::null());
    }
    if let Some(filter) = stdout_filter {
        // The filter reads what the container writes and passes it on, changed, to this
        // process's stdout (the shim's pipe). It outlives runc and ends at the container's EOF.
        let filter =
            Command::new(std::env::current_exe().unwrap_or_else(|_| PathBuf::from("faulty-runc")))
                .arg("--stdout-filter")
                .args(filter.to_args())
                .stdin(Stdio::piped())
                .spawn();
        match filter {
            Ok(mut child) => {
                if let Some(pipe) = child.stdin.take() {
                    command.stdout(Stdio::from(pipe));
                }
            }
            Err(e) => {
                eprintln!("faulty-runc: starting the stdout filter: {e}");
                return ExitCode::from(1);
            }
        }
    }
    let error = command.exec();
    eprintln!("faulty-runc: exec {}: {error}", real_runc.display());
    ExitCode::from(127)
}

fn fault_for(invoked_as: &OsString) -> Result<&'static Fault, String> {
    let name = std::env::var("FAULTY_RUNC_FAULT").ok().or_else(|| {
        Path::new(invoked_as)
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("faulty-runc-"))
            .map(str::to_owned)
    });
    let Some(name) = name else {
        return Err(format!(
            "no fault given: invoke as faulty-runc-<fault> or set FAULTY_RUNC_FAULT; faults: {}",
            faults::names()
        ));
    };
    Fault::by_name(&name)
        .ok_or_else(|| format!("unknown fault {name:?}; faults: {}", faults::names()))
}

/// Rewrites the bundle's `config.json` in place. Returns what was changed, or `None` when the
/// container is a pod sandbox the fault leaves alone (all but the sysctl faults do).
fn apply_to_bundle(fault: &Fault, bundle: &Path) -> Result<Option<String>, String> {
    let path = bundle.join("config.json");
    let text = fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let mut spec: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("parse {}: {e}", path.display()))?;
    let original = spec.clone();
    let what = if faults::is_sandbox(&spec) {
        let what = (fault.edit_sandbox)(&mut spec)?;
        if what.is_empty() {
            return Ok(None);
        }
        what
    } else {
        (fault.edit_spec)(&mut spec)?
    };
    if spec == original {
        return Ok(Some(what));
    }
    let tmp = bundle.join("config.json.faulty-runc");
    let out = serde_json::to_vec(&spec).map_err(|e| format!("encode spec: {e}"))?;
    fs::write(&tmp, out).map_err(|e| format!("write {}: {e}", tmp.display()))?;
    fs::rename(&tmp, &path).map_err(|e| format!("replace {}: {e}", path.display()))?;
    Ok(Some(what))
}

/// Moves every process of container `id` except its first into a cgroup of its own, out of the
/// reach of runc's kill-all and delete. Best effort and logged: a failure leaves the kill intact.
fn spare_children(fault: &Fault, runc: &Path, args: &[OsString], id: &str) {
    match move_children(runc, args, id) {
        Ok(what) if !what.is_empty() => log(fault, &format!("{id}: {what}")),
        Ok(_) => {}
        Err(message) => log(fault, &format!("{id}: children not moved: {message}")),
    }
}

/// The state and OCI spec of container `id`, or `None` when runc does not know it.
fn container_of(
    runc: &Path,
    args: &[OsString],
    id: &str,
) -> Result<Option<(serde_json::Value, serde_json::Value)>, String> {
    let output = Command::new(runc)
        .args(runc_args::global_args(args))
        .arg("state")
        .arg(id)
        .output()
        .map_err(|e| format!("runc state: {e}"))?;
    if !output.status.success() {
        return Ok(None);
    }
    let state: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| format!("runc state output: {e}"))?;
    let bundle = PathBuf::from(state["bundle"].as_str().unwrap_or_default());
    let text =
        fs::read_to_string(bundle.join("config.json")).map_err(|e| format!("config.json: {e}"))?;
    let spec = serde_json::from_str(&text).map_err(|e| format!("config.json: {e}"))?;
    Ok(Some((state, spec)))
}

/// Whether `id` is a workload container (not a pod sandbox) that runc knows.
fn is_workload(runc: &Path, args: &[OsString], id: &str) -> bool {
    matches!(container_of(runc, args, id), Ok(Some((_, spec))) if !faults::is_sandbox(&spec))
}

/// `race`: runs runc's create while holding an exclusive lock, and keeps holding it a while
/// after (in the background); a create that finds the lock taken fails, as a runtime with a
/// setup race would.
fn create_exclusively(fault: &Fault, runc: &Path, args: &[OsString], bundle: &Path) -> ExitCode {
    // One lock per group of pods (the pods of one probe): see `faults::race_group`.
    let spec = fs::read_to_string(bundle.join("config.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok());
    let pod = spec
        .as_ref()
        .and_then(faults::sandbox_name)
        .unwrap_or_default()
        .to_owned();
    let group = spec
        .as_ref()
        .and_then(|spec| {
            let container = faults::container_name(spec).unwrap_or("container");
            faults::sandbox_name(spec).map(|pod| faults::race_group(pod, container))
        })
        .unwrap_or_else(|| "ungrouped".into());
    let path = std::env::var_os("FAULTY_RUNC_LOCK")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(format!("/run/faulty-runc/create-{group}.lock")));
    if let Some(dir) = path.parent() {
        let _ = fs::create_dir_all(dir);
    }
    let lock = match OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
    {
        Ok(file) => file,
        Err(e) => {
            eprintln!("faulty-runc: open {}: {e}", path.display());
            return ExitCode::from(1);
        }
    };
    if lock.try_lock().is_err() {
        // The hold is the same pod's (its container started again at once): no collision.
        if !pod.is_empty() && fs::read_to_string(&path).is_ok_and(|holder| holder == pod) {
            let status = Command::new(runc).arg0(runc).args(args).status();
            return match status {
                Ok(status) => ExitCode::from(u8::try_from(status.code().unwrap_or(1)).unwrap_or(1)),
                Err(e) => {
                    eprintln!("faulty-runc: exec {}: {e}", runc.display());
                    ExitCode::from(127)
                }
            };
        }
        log(fault, "create refused: another container is being created");
        runtime_error(
            args,
            "faulty-runc: another container is being created (create lock held)",
        );
        return ExitCode::from(1);
    }
    // Who holds it, for a create of the same pod that finds it held.
    let _ = lock.set_len(0);
    let _ = (&lock).write_all(pod.as_bytes());
    let status = Command::new(runc).arg0(runc).args(args).status();
    // The hold outlives this call: a detached `sleep` keeps the lock (its stdin is the locked
    // file, so the flock stays held until it exits), and the create returns at once, so that
    // only creates that overlap are refused, not later ones made slow.
    let held = Command::new("sleep")
        .arg(faults::CREATE_HOLD.as_secs().to_string())
        .stdin(std::process::Stdio::from(lock))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = held {
        eprintln!("faulty-runc: holding the create lock: {e}");
        std::thread::sleep(faults::CREATE_HOLD);
    }
    match status {
        Ok(status) => ExitCode::from(u8::try_from(status.code().unwrap_or(1)).unwrap_or(1)),
        Err(e) => {
            eprintln!("faulty-runc: exec {}: {e}", runc.display());
            ExitCode::from(127)
        }
    }
}

/// Reports an error the way runc does: on stderr, and as a JSON line in runc's `--log` file,
/// which is where containerd reads the reason a runtime call failed.
fn runtime_error(args: &[OsString], message: &str) {
    eprintln!("{message}");
    let globals = runc_args::global_args(args);
    let log = globals.iter().enumerate().find_map(|(i, a)| {
        let a = a.to_str()?;
        if a == "--log" {
            globals.get(i + 1).map(PathBuf::from)
        } else {
            a.strip_prefix("--log=").map(PathBuf::from)
        }
    });
    if let Some(path) = log
        && let Ok(mut file) = OpenOptions::new().create(true).append(true).open(path)
    {
        let line = serde_json::json!({"level": "error", "msg": message});
        let _ = writeln!(file, "{line}");
    }
}

/// `latekill`: answers the kill at once and has a detached process deliver it later.
fn kill_later(fault: &Fault, runc: &Path, args: &[OsString], id: &str) -> ExitCode {
    let me = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("faulty-runc"));
    let spawned = Command::new(me)
        .arg("--deliver-later")
        .arg(fault.kill_delay_seconds.to_string())
        .arg(runc)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    match spawned {
        Ok(_) => {
            log(
                fault,
                &format!("kill {id}: delivered in {}s", fault.kill_delay_seconds),
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            // Delivering it now beats losing it.
            log(fault, &format!("kill {id}: delaying failed ({e}); now"));
            let error = Command::new(runc).arg0(runc).args(args).exec();
            eprintln!("faulty-runc: exec {}: {error}", runc.display());
            ExitCode::from(127)
        }
    }
}

/// `--deliver-later SECONDS RUNC ARGS...`: sleeps, then runs runc with the arguments.
fn deliver_later(args: &[OsString]) -> ExitCode {
    let seconds = args
        .first()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let Some(runc) = args.get(1) else {
        return ExitCode::from(2);
    };
    std::thread::sleep(std::time::Duration::from_secs(seconds));
    let error = Command::new(runc).args(&args[2..]).exec();
    eprintln!("faulty-runc: exec runc: {error}");
    ExitCode::from(127)
}

fn move_children(runc: &Path, args: &[OsString], id: &str) -> Result<String, String> {
    let Some((state, spec)) = container_of(runc, args, id)? else {
        return Ok(String::new());
    };
    let init = state["pid"].as_i64().unwrap_or_default().to_string();
    if faults::is_sandbox(&spec) {
        return Ok(String::new());
    }
    let Some(path) = spec.pointer("/linux/cgroupsPath").and_then(|p| p.as_str()) else {
        return Err("no linux.cgroupsPath".into());
    };
    let escape =
        std::env::var("FAULTY_RUNC_ESCAPE_CGROUP").unwrap_or_else(|_| "faulty-runc-escaped".into());
    let mut moved = std::collections::BTreeSet::new();
    let hierarchies = fs::read_dir("/sys/fs/cgroup").map_err(|e| format!("/sys/fs/cgroup: {e}"))?;
    for hierarchy in hierarchies.flatten().map(|e| e.path()) {
        let Ok(procs) = fs::read_to_string(
            hierarchy
                .join(path.trim_start_matches('/'))
                .join("cgroup.procs"),
        ) else {
            continue;
        };
        let target = hierarchy.join(&escape);
        if fs::create_dir_all(&target).is_err() {
            continue;
        }
        // A new cpuset cgroup takes no process until it has CPUs and memory nodes: give it its
        // parent's, or the children would stay in the pod's cpuset, where the kubelet's pod
        // cleanup finds and kills them.
        inherit_cpuset(&target);
        for pid in procs.lines().filter(|p| !p.is_empty() && *p != init) {
            if fs::write(target.join("cgroup.procs"), pid).is_ok() {
                moved.insert(pid.to_owned());
            }
        }
    }
    if moved.is_empty() {
        return Ok(String::new());
    }
    // The spared children keep the container's stdio open, so the runtime cannot finish the
    // container while they live: end them after a minute, so that the fault does not leave the
    // node littered for good.
    let reaper = Command::new("/bin/sh")
        .arg("-c")
        .arg("sleep 60; kill -9 \"$@\" 2>/dev/null")
        .arg("faulty-runc-reaper")
        .args(&moved)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let reaping = if reaper.is_ok() {
        ", killed in 60s"
    } else {
        ""
    };
    Ok(format!(
        "moved {} processes out of the container's cgroup{reaping}",
        moved.len()
    ))
}

fn inherit_cpuset(cgroup: &Path) {
    let Some(parent) = cgroup.parent() else {
        return;
    };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let own = fs::read_to_string(cgroup.join(file)).unwrap_or_default();
        if own.trim().is_empty()
            && let Ok(inherited) = fs::read_to_string(parent.join(file))
        {
            let _ = fs::write(cgroup.join(file), inherited.trim());
        }
    }
}

/// Copies stdin to stdout through `filter`. Reads to EOF whatever it drops, so that the
/// writer never sees a broken pipe.
fn filter_stdin(filter: faults::StdoutFilter) -> ExitCode {
    use std::io::Read;
    let mut input = std::io::stdin().lock();
    let mut output = std::io::stdout().lock();
    let mut buf = [0u8; 8192];
    let mut filtering = filter.start();
    let mut out = Vec::with_capacity(buf.len() * 2);
    loop {
        match input.read(&mut buf) {
            Ok(0) => return ExitCode::SUCCESS,
            Ok(n) => {
                out.clear();
                filtering.feed(&mut buf[..n], &mut out);
                if !out.is_empty()
                    && output
                        .write_all(&out)
                        .and_then(|()| output.flush())
                        .is_err()
                {
                    return ExitCode::FAILURE;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return ExitCode::FAILURE,
        }
    }
}

/// Applies `edit` to a JSON file in place (atomically); returns what the edit reported.
fn edit_json_file(
    path: &Path,
    edit: fn(&mut serde_json::Value) -> Result<String, String>,
) -> Result<String, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let mut value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("parse {}: {e}", path.display()))?;
    let original = value.clone();
    let what = edit(&mut value)?;
    if value != original {
        let tmp = path.with_extension("faulty-runc");
        let out = serde_json::to_vec(&value).map_err(|e| format!("encode: {e}"))?;
        fs::write(&tmp, out).map_err(|e| format!("write {}: {e}", tmp.display()))?;
        fs::rename(&tmp, path).map_err(|e| format!("replace {}: {e}", path.display()))?;
    }
    Ok(what)
}

fn real_runc() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FAULTY_RUNC_REAL") {
        return Some(PathBuf::from(path));
    }
    REAL_RUNC_CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// Best effort: a fault that cannot be logged is still applied.
fn log(fault: &Fault, line: &str) {
    let Some(path) = std::env::var_os("FAULTY_RUNC_LOG") else {
        return;
    };
    if let Ok(mut file) = OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(file, "faulty-runc-{}: {line}", fault.name);
    }
}
