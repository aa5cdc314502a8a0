//! `commandAndArgs`: what a container runs when it sets neither `command` nor `args` (the
//! image's default), only `args` (they replace the image's CMD), only `command` (it replaces the
//! image's ENTRYPOINT, and the CMD is not appended), or both. The kubelet and the runtime merge
//! the spec with the image's config; catches a runtime that appends the image's CMD to a command
//! it was given, drops arguments, or runs something else when both are blank.
//!
//! The image must be one whose default command is a POSIX shell that reads `$ENV` when
//! interactive (busybox's `sh`, the default probe image's CMD): the blank container runs it with
//! a terminal and stdin, and the file `$ENV` names (written by an init container) reports.

use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec};

use super::{Kind, ProbeKind, empty_dir, mount, script};
use crate::api::Probe;
use crate::probes::CONTAINER;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal, finished_pod, quoted};

/// Each container: its name, its check's name, its command and args, and the termination
/// message it writes.
struct Case {
    container: &'static str,
    check: &'static str,
    command: Option<&'static [&'static str]>,
    args: Option<&'static [&'static str]>,
    says: &'static str,
}

/// What each case's shell writes to its termination message: its `$0`, `$#` and `$*`.
/// (`$0` without its directory: an image's CMD may name its shell `sh` or `/bin/sh`).
const REPORT: &str = r#"echo "${0##*/} $# $*" > /dev/termination-log"#;

const CASES: [Case; 4] = [
    Case {
        container: CONTAINER,
        check: "imageDefaults",
        command: None,
        args: None,
        says: "sh 0",
    },
    Case {
        container: "args-only",
        check: "argsOnly",
        command: None,
        args: Some(&["sh", "-c", REPORT, "args-only", "a", "b"]),
        says: "args-only 2 a b",
    },
    Case {
        container: "command-only",
        check: "commandOnly",
        command: Some(&["sh", "-c", REPORT, "command-only"]),
        args: None,
        says: "command-only 0",
    },
    Case {
        container: "command-and-args",
        check: "commandAndArgs",
        command: Some(&["sh", "-c", REPORT]),
        args: Some(&["command-and-args", "x", "y"]),
        says: "command-and-args 2 x y",
    },
];

/// The file the blank container's interactive shell reads (`$ENV`).
const RC: &str = "/rc/env.sh";

pub const KIND: Kind = Kind {
    name: "commandAndArgs",
    resolve,
    entry: Entry {
        kind: "commandAndArgs",
        checks: "with neither command nor args the image's default (busybox `sh`) runs, with no arguments; args alone replace the image's CMD; command alone runs without the CMD appended; command and args run together: each container's shell reports its `$0`, `$#` and `$*` exactly",
        parameters: "- (the image's default command must be a shell that reads `$ENV`, as busybox's)",
        runs: "four containers, one per case, each reporting `$0 $# $*` in its termination message; the blank one runs the image's `sh` with a terminal and stdin, and reads the report from the file `$ENV` names",
        catches: "the image's CMD appended to a command, arguments dropped or reordered, something other than the image's default run",
        faults: "cmd, exit",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe.command_and_args.as_ref()?;
    Some(ProbeKind::CommandAndArgs)
}

fn owned(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

pub fn shape(spec: &mut PodSpec) {
    spec.volumes = Some(vec![empty_dir("rc")]);
    let Some(base) = spec.containers.first().cloned() else {
        return;
    };
    let case = |c: &Case| {
        let mut container = base.clone();
        container.name = c.container.into();
        container.command = c.command.map(owned);
        container.args = c.args.map(owned);
        container
    };
    let mut containers: Vec<Container> = CASES.iter().map(case).collect();
    // The blank one: an interactive shell (a terminal and stdin) reads `$ENV` at its start.
    containers[0].tty = Some(true);
    containers[0].stdin = Some(true);
    containers[0].env = Some(vec![EnvVar {
        name: "ENV".into(),
        value: Some(RC.into()),
        ..EnvVar::default()
    }]);
    containers[0].volume_mounts = Some(vec![mount("rc", "/rc", true)]);
    let mut writer = base.clone();
    writer.name = "write-rc".into();
    writer.volume_mounts = Some(vec![mount("rc", "/rc", false)]);
    script(
        &mut writer,
        r#"printf '%s\nexit 0\n' "$2" > "$1""#,
        &[RC, REPORT],
    );
    spec.init_containers = Some(vec![writer]);
    spec.containers = containers;
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |pod, _| {
        let told = |name: &str| {
            pod.containers
                .iter()
                .find(|c| c.name == name)
                .map(|c| match (&c.message, c.exit_code) {
                    (Some(m), _) if !m.trim().is_empty() => quoted(m.trim()),
                    (_, Some(code)) => format!("nothing (exit {code})"),
                    _ => "nothing".to_owned(),
                })
                .unwrap_or_else(|| "no such container".into())
        };
        let checks = CASES
            .iter()
            .map(|c| equal(c.check, quoted(c.says), told(c.container)))
            .collect();
        Outcome::from_checks(
            checks,
            "the image's default, args alone, command alone and both each ran as the spec and the image say".into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Verdict;

    #[test]
    fn every_case_as_the_image_and_the_spec_say_passes() {
        let runc = include_str!("../../../tests/fixtures/pods/command-and-args-runc.json");
        let outcome = judge(&super::super::recorded(&[runc])).unwrap();
        assert_eq!(outcome.verdict, Verdict::Passed, "{outcome:?}");
    }

    #[test]
    fn the_images_cmd_appended_fails() {
        let cmd = include_str!("../../../tests/fixtures/pods/command-and-args-faulty-cmd.json");
        let outcome = judge(&super::super::recorded(&[cmd])).unwrap();
        assert_eq!(outcome.reason, "ImageDefaultsMismatch", "{outcome:?}");
    }

    #[test]
    fn the_pod_has_one_container_per_case_and_the_rc_writer() {
        let mut spec = PodSpec {
            containers: vec![Container {
                name: "probe".into(),
                command: Some(vec!["sh".into()]),
                ..Container::default()
            }],
            ..PodSpec::default()
        };
        shape(&mut spec);
        let names: Vec<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["probe", "args-only", "command-only", "command-and-args"]
        );
        assert_eq!(spec.containers[0].command, None);
        assert_eq!(spec.containers[0].args, None);
        assert_eq!(spec.containers[1].command, None);
        assert_eq!(spec.containers[2].args, None);
    }
}
