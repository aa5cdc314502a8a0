//! `hostDevices`: a container that is not privileged sees only the device nodes every container
//! gets (`/dev/null`, `zero`, `full`, `random`, `urandom`, `tty`, the pty multiplexer), none
//! of the host's. Catches a runtime that passes host devices in (a disk, `/dev/kmsg`, `/dev/mem`).

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, log_text, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, check, equal, finished_pod, log_missing};

/// The device nodes an unprivileged container may have beyond [`REQUIRED`]: the console when
/// a TTY is asked for, and devpts' own.
pub const ALSO_ALLOWED: &[&str] = &["/dev/console", "/dev/ptmx", "/dev/pts/ptmx"];

/// The devices of OCI's default set, which every container has.
pub const REQUIRED: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];

pub const KIND: Kind = Kind {
    name: "hostDevices",
    resolve,
    entry: Entry {
        kind: "hostDevices",
        checks: "an unprivileged container has the default device nodes (null, zero, full, random, urandom, tty) and none else but the console and the pty ones (ptmx, pts/N)",
        parameters: "-",
        runs: "lists every character and block device under /dev",
        catches: "host devices passed into an unprivileged container",
        faults: "security",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe.host_devices.as_ref().map(|_| ProbeKind::HostDevices)
}

pub fn shape(spec: &mut PodSpec) {
    if let Some(container) = spec.containers.first_mut() {
        script(
            container,
            r#"find /dev \( -type c -o -type b \) -print | sed 's/^/device: /'; echo done"#,
            &[],
        );
    }
}

fn allowed(path: &str) -> bool {
    REQUIRED.contains(&path)
        || ALSO_ALLOWED.contains(&path)
        || path
            .strip_prefix("/dev/pts/")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("hostDevices");
        };
        let devices: Vec<&str> = log
            .lines()
            .filter_map(|l| l.strip_prefix("device: "))
            .collect();
        let extra: Vec<&str> = devices.iter().copied().filter(|d| !allowed(d)).collect();
        // The devices every container gets must be there: an empty listing is no evidence.
        let missing: Vec<&str> = REQUIRED
            .iter()
            .copied()
            .filter(|d| !devices.contains(d))
            .collect();
        let listed = log.lines().any(|l| l == "done");
        Outcome::from_checks(
            vec![
                equal("exitCode", 0, t.exit_code),
                check(
                    "defaultDevices",
                    REQUIRED.join(" "),
                    if missing.is_empty() {
                        "all present".to_owned()
                    } else {
                        format!("missing {}", missing.join(" "))
                    },
                    missing.is_empty(),
                ),
                check(
                    "devices",
                    "only the default devices",
                    if !listed {
                        "not listed".to_owned()
                    } else if extra.is_empty() {
                        format!("only the default devices ({})", devices.len())
                    } else {
                        format!("also {}", extra.join(" "))
                    },
                    listed && extra.is_empty(),
                ),
            ],
            crate::verdict::bounded(
                &format!("only the default devices: {}", devices.join(" ")),
                256,
            ),
        )
    })
}
