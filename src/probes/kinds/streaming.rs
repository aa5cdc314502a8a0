//! `streaming`: what the kubelet's streaming server carries between a client and the
//! containers of a two-container pod, as critest's streaming and multi-container cases check
//! it through the CRI: an exec into each container runs there (it sees that container's
//! environment); an exec with a terminal and stdin echoes and runs what it is sent; attach reaches
//! the container's own stdin and stdout; and each container's log holds its own lines only.
//! Catches exec, attach or logs routed to the wrong container, a terminal that does not carry
//! stdin, and a container whose stdin is not connected.

use k8s_openapi::api::core::v1::{EnvVar, PodSpec};

use super::{Kind, ProbeKind, empty_dir, log_text, mount, script};
use crate::api::{Check, Probe};
use crate::controller::drive::{At, Step};
use crate::probes::CONTAINER;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, check, equal, finished_pod, log_missing, quoted};

/// The second container, and what it logs.
pub const SECOND: &str = "second";
pub const SECOND_LINE: &str = "second: its own line";
/// The command of the exec into each container: prints the container's name from its env.
pub fn exec_command() -> Vec<String> {
    ["sh", "-c", "echo \"$PROCTOR_CONTAINER\""]
        .map(str::to_owned)
        .to_vec()
}
/// What the exec with a terminal runs and is sent; with the terminal's echo, each line comes
/// back twice, with CR LF; an EOT then ends it.
pub const TTY_COMMAND: &str = "cat";
pub const TTY_LINE: &str = "proctor tty line";
pub fn tty_heard() -> String {
    format!("{TTY_LINE}\r\n{TTY_LINE}\r\n")
}
/// What attach sends the probe container, what it answers, and the line that ends it.
pub const ATTACH_LINE: &str = "hello over attach";
pub fn attach_heard() -> String {
    format!("got: {ATTACH_LINE}")
}
pub const ATTACH_END: &str = "end";

pub const KIND: Kind = Kind {
    name: "streaming",
    resolve,
    entry: Entry {
        kind: "streaming",
        checks: "an exec into each of two containers runs in that container (it prints the container's own env var); an exec of `cat` with a terminal and stdin echoes and returns what it is sent, and ends with exit 0 at an EOT; attach reaches the probe container's stdin and stdout; each container's log holds its own lines only",
        parameters: "-",
        runs: "a two-container pod: the probe container (`stdin: true`) answers each line it reads, the second one logs a line and waits; Proctor execs into each, runs `cat` with a terminal, and attaches to the probe container",
        catches: "exec, attach or logs of the wrong container, a terminal that does not carry stdin, a container whose stdin is not connected",
        faults: "exec, exit, streams",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe.streaming.as_ref()?;
    Some(ProbeKind::Streaming)
}

/// The probe container: answers each line it reads until `end`, then lets the second container
/// go. A stdin at its end (not connected), or silent for a minute (attach refused), is said,
/// and the container stays 30 s more for Proctor to find out.
const PROBE_SCRIPT: &str = r#"echo started
while read -r -t 60 line; do
  echo "got: $line"
  if [ "$line" = "$1" ]; then touch /shared/done; exit 0; fi
done
echo "stdin closed"
sleep 30
touch /shared/done"#;
/// The second container: logs its line, waits for the probe container (2 minutes at most).
const SECOND_SCRIPT: &str = r#"echo "$1"
i=0
while [ ! -f /shared/done ] && [ "$i" -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done"#;

fn named(name: &str) -> EnvVar {
    EnvVar {
        name: "PROCTOR_CONTAINER".into(),
        value: Some(name.into()),
        ..EnvVar::default()
    }
}

pub fn shape(spec: &mut PodSpec) {
    spec.volumes = Some(vec![empty_dir("shared")]);
    let Some(probe) = spec.containers.first_mut() else {
        return;
    };
    probe.stdin = Some(true);
    probe.env = Some(vec![named(CONTAINER)]);
    probe.volume_mounts = Some(vec![mount("shared", "/shared", false)]);
    let mut second = probe.clone();
    script(probe, PROBE_SCRIPT, &[ATTACH_END]);
    second.name = SECOND.into();
    second.stdin = None;
    second.env = Some(vec![named(SECOND)]);
    script(&mut second, SECOND_SCRIPT, &[SECOND_LINE]);
    spec.containers.push(second);
}

/// Talk to the containers once both run; judge once the pod ended.
pub fn step(at: &At) -> Step {
    let both_run = at.running
        && at
            .first
            .containers
            .iter()
            .any(|c| c.name == SECOND && c.running);
    if at.finished {
        Step::Judge { read_log: true }
    } else if at.view.status.actions_done == 0 && both_run {
        Step::Stream
    } else {
        Step::Wait
    }
}

/// The checks of what the conversations showed, recorded as they happen (they come first in the
/// verdict): each exec's output, the terminal's, and attach's.
pub fn exec_check(container: &str, output: &str, error: Option<&str>) -> Check {
    let observed = match error {
        Some(error) => format!("{} ({error})", quoted(output)),
        None => quoted(output),
    };
    let expected = quoted(&format!("{container}\n"));
    let passed = observed == expected;
    check(
        &format!("execIn{}", capital(container)),
        expected,
        observed,
        passed,
    )
}

pub fn tty_check(output: &str, heard: bool, exit: Option<&str>) -> Check {
    let expected = format!("{} and exit 0", quoted(&tty_heard()));
    let observed = format!("{} and {}", quoted(output), exit.unwrap_or("exit 0"));
    check("ttyExec", &expected, observed, heard && exit.is_none())
}

/// `error`: why attach did not open (the API server's words, e.g. RBAC).
pub fn attach_check(output: &str, heard: bool, error: Option<&str>) -> Check {
    let observed = match error {
        Some(error) => format!("{} ({error})", quoted(output.trim_end())),
        None => quoted(output.trim_end()),
    };
    check("attach", quoted(&attach_heard()), observed, heard)
}

/// `probe` → `Probe`, `debugger-1` → `Debugger1`, for check names.
fn capital(name: &str) -> String {
    let name = name.replace('-', "");
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("streaming");
        };
        let second = evidence
            .container_logs
            .get(SECOND)
            .and_then(|l| l.text.as_deref());
        let Some(second) = second else {
            return log_missing("streaming (the second container)");
        };
        let expected = format!("started\n{}\ngot: {ATTACH_END}\n", attach_heard());
        Outcome::from_checks(
            vec![
                equal("exitCode", 0, t.exit_code),
                equal("probeLog", quoted(&expected), quoted(log)),
                equal("secondLog", quoted(&format!("{SECOND_LINE}\n")), quoted(second)),
            ],
            "exec reached each container, the terminal and attach carried stdin both ways, and each container logged its own lines".into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Verdict;
    use crate::verdict::LogObservation;

    fn judged(probe_log: &str, second_log: &str) -> Outcome {
        let mut evidence = Evidence {
            log: Some(LogObservation::of(probe_log.as_bytes())),
            ..super::super::recorded(&[include_str!("../../../tests/fixtures/pods/exit-0.json")])
        };
        evidence
            .container_logs
            .insert(SECOND.into(), LogObservation::of(second_log.as_bytes()));
        judge(&evidence).unwrap()
    }

    #[test]
    fn each_container_with_its_own_lines_passes() {
        let probe = "started\ngot: hello over attach\ngot: end\n";
        assert_eq!(
            judged(probe, "second: its own line\n").verdict,
            Verdict::Passed
        );
    }

    #[test]
    fn a_closed_stdin_or_mixed_logs_fail() {
        // stdin at EOF: the container never heard attach.
        let closed = judged("started\nstdin closed\n", "second: its own line\n");
        assert_eq!(closed.reason, "ProbeLogMismatch");
        let mixed = judged(
            "started\ngot: hello over attach\ngot: end\n",
            "second: its own line\nstarted\n",
        );
        assert_eq!(mixed.reason, "SecondLogMismatch");
    }

    #[test]
    fn conversation_checks_say_what_came_back() {
        assert!(exec_check("second", "second\n", None).passed);
        let wrong = exec_check("second", "probe\n", None);
        assert!(!wrong.passed);
        assert_eq!(wrong.name, "execInSecond");
        // faulty-exec: nothing runs, exit 0.
        assert!(!exec_check("probe", "", None).passed);
        assert!(tty_check(&tty_heard(), true, None).passed);
        let silent = tty_check("", false, None);
        assert!(
            !silent.passed && silent.observed.contains("\"\""),
            "{silent:?}"
        );
        assert!(!tty_check(&tty_heard(), true, Some("exit 1")).passed);
        assert!(attach_check("got: hello over attach\n", true, None).passed);
        assert!(!attach_check("", false, None).passed);
        let refused = attach_check("", false, Some("pods \"p\" is forbidden"));
        assert!(refused.observed.contains("forbidden"), "{refused:?}");
    }
}
