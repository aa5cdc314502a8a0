//! `maskedPaths`: the /proc and /sys paths that runtimes mask by default (kernel memory, keys,
//! timers, firmware) are masked, and those they make read-only (`/proc/sys`, `/proc/bus`, ...)
//! are mounted read-only, as the container's mount table shows. Only paths that exist in the
//! container are judged. Catches a runtime that drops its masks, which lets a container read
//! or change what it must not.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, log_text, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, check, equal, finished_pod, log_missing};

/// Masked by runc's, containerd's and CRI-O's default specs for years (a bind of /dev/null or
/// an empty read-only tmpfs).
pub const MASKED: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
];
/// Mounted read-only by the same default specs.
pub const READ_ONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

pub const KIND: Kind = Kind {
    name: "maskedPaths",
    resolve,
    entry: Entry {
        kind: "maskedPaths",
        checks: "the default masked paths (/proc/kcore, /proc/keys, /proc/timer_list, /sys/firmware, ...) are masked and the read-only ones (/proc/sys, /proc/bus, ...) mounted read-only",
        parameters: "-",
        runs: "tests which default masked and read-only paths exist; prints the mount table",
        catches: "a runtime without its /proc and /sys masks: host kernel memory, keys and timers readable, /proc/sys writable",
        faults: "security",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe.masked_paths.as_ref().map(|_| ProbeKind::MaskedPaths)
}

pub fn shape(spec: &mut PodSpec) {
    if let Some(container) = spec.containers.first_mut() {
        let paths: Vec<&str> = MASKED.iter().chain(READ_ONLY).copied().collect();
        script(
            container,
            r#"for p; do [ -e "$p" ] && echo "exists: $p"; done; awk '{ print "mount: " $5 " " $6 }' /proc/self/mountinfo"#,
            &paths,
        );
    }
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("maskedPaths");
        };
        let exists = |path: &str| {
            log.lines()
                .any(|l| l.strip_prefix("exists: ") == Some(path))
        };
        let mount_options = |path: &str| {
            log.lines().find_map(|l| {
                let (point, options) = l.strip_prefix("mount: ")?.split_once(' ')?;
                (point == path).then_some(options)
            })
        };
        let present_masked: Vec<&str> = MASKED.iter().copied().filter(|p| exists(p)).collect();
        let present_read_only: Vec<&str> =
            READ_ONLY.iter().copied().filter(|p| exists(p)).collect();
        let unmasked: Vec<&str> = present_masked
            .iter()
            .copied()
            .filter(|p| mount_options(p).is_none())
            .collect();
        let writable: Vec<&str> = present_read_only
            .iter()
            .copied()
            .filter(|p| !mount_options(p).is_some_and(|o| o.split(',').any(|o| o == "ro")))
            .collect();
        let shown = |bad: &[&str], what: &str| {
            if bad.is_empty() {
                format!("all {what}")
            } else {
                format!("not {what}: {}", bad.join(" "))
            }
        };
        Outcome::from_checks(
            vec![
                equal("exitCode", 0, t.exit_code),
                check(
                    "maskedPaths",
                    format!("{} present paths masked", present_masked.len()),
                    shown(&unmasked, "masked"),
                    unmasked.is_empty() && !present_masked.is_empty(),
                ),
                check(
                    "readOnlyPaths",
                    format!("{} present paths read-only", present_read_only.len()),
                    shown(&writable, "read-only"),
                    writable.is_empty() && !present_read_only.is_empty(),
                ),
            ],
            format!(
                "{} paths masked ({}) and {} read-only",
                present_masked.len(),
                present_masked.join(" "),
                present_read_only.len()
            ),
        )
    })
}
