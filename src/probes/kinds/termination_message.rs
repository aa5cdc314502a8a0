//! `terminationMessage`: what the container writes to `/dev/termination-log` (or, with
//! `FallbackToLogsOnError`, its log's tail) reaches the container status byte for byte. Init
//! containers that run first check the variants: a message at a non-default
//! `terminationMessagePath`; and, with `FallbackToLogsOnError`, a container that succeeds has
//! an empty message (its log is not used), or the file's when it wrote one.

use k8s_openapi::api::core::v1::PodSpec;

use k8s_openapi::api::core::v1::Container;

use super::{Kind, ProbeKind, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, check, equal, finished_pod, quoted};

/// A terminationMessagePath other than the default.
pub const CUSTOM_PATH: &str = "/dev/proctor-termination-log";
/// The init containers' names.
const AT_CUSTOM_PATH: &str = "custom-path";
const SUCCEEDS_QUIETLY: &str = "succeeds-quietly";
const SUCCEEDS_WITH_FILE: &str = "succeeds-with-file";

const DEFAULT_TERMINATION_TEXT: &str = "proctor termination message";

pub const KIND: Kind = Kind {
    name: "terminationMessage",
    resolve,
    entry: Entry {
        kind: "terminationMessage",
        checks: "/dev/termination-log (or the log tail, with FallbackToLogsOnError) reaches the status; so does a message at a non-default terminationMessagePath; with FallbackToLogsOnError a container that succeeds has an empty message, or its file's",
        parameters: "text, fallbackToLogsOnError",
        runs: "writes to /dev/termination-log (or, with fallback, only to the log) and fails; an init container writes to /dev/proctor-termination-log (or, with fallback, two succeed: one printing only, one also writing the file)",
        catches: "termination message plumbing, and the log-tail fallback",
        faults: "exit",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.termination_message.as_ref()?;
    Some(ProbeKind::TerminationMessage {
        text: p
            .text
            .clone()
            .unwrap_or_else(|| DEFAULT_TERMINATION_TEXT.into()),
        fallback_to_logs: p.fallback_to_logs_on_error.unwrap_or(false),
    })
}

fn init(base: &Container, name: &str, source: &str, text: &str) -> Container {
    let mut c = base.clone();
    c.name = name.into();
    script(&mut c, source, &[text]);
    c
}

pub fn shape(text: &str, fallback_to_logs: bool, spec: &mut PodSpec) {
    let Some(container) = spec.containers.first_mut() else {
        return;
    };
    let inits = if fallback_to_logs {
        let mut quiet = init(container, SUCCEEDS_QUIETLY, r#"printf '%s\n' "$1""#, text);
        let mut with_file = init(
            container,
            SUCCEEDS_WITH_FILE,
            r#"printf '%s' "$1" > /dev/termination-log; printf 'log, not message\n'"#,
            text,
        );
        for c in [&mut quiet, &mut with_file] {
            c.termination_message_policy = Some("FallbackToLogsOnError".into());
        }
        vec![quiet, with_file]
    } else {
        let mut custom = init(
            container,
            AT_CUSTOM_PATH,
            r#"printf '%s' "$1" > "$2""#,
            text,
        );
        if let Some(command) = custom.command.as_mut() {
            command.push(CUSTOM_PATH.into());
        }
        custom.termination_message_path = Some(CUSTOM_PATH.into());
        vec![custom]
    };
    spec.init_containers = Some(inits);
    if fallback_to_logs {
        container.termination_message_policy = Some("FallbackToLogsOnError".into());
        script(container, r#"printf '%s\n' "$1"; exit 1"#, &[text]);
    } else {
        script(
            container,
            r#"printf '%s' "$1" > /dev/termination-log"#,
            &[text],
        );
    }
}

pub fn judge(text: &str, fallback_to_logs: bool, evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |pod, t| {
        let expected = if fallback_to_logs {
            format!("{text}\n")
        } else {
            text.to_owned()
        };
        let message_of = |name: &str| {
            pod.containers
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.message.clone().unwrap_or_default())
        };
        let init_check = |check_name: &str, container: &str, expected: &str| {
            let observed = message_of(container);
            check(
                check_name,
                quoted(expected),
                observed
                    .as_deref()
                    .map_or("no status of the init container".to_owned(), quoted),
                observed.as_deref() == Some(expected),
            )
        };
        let mut checks = vec![equal(
            "terminationMessage",
            quoted(&expected),
            quoted(t.message.as_deref().unwrap_or("")),
        )];
        if fallback_to_logs {
            checks.push(init_check("succeededMessage", SUCCEEDS_QUIETLY, ""));
            checks.push(init_check("succeededFileMessage", SUCCEEDS_WITH_FILE, text));
        } else {
            checks.push(init_check("customPathMessage", AT_CUSTOM_PATH, text));
        }
        Outcome::from_checks(
            checks,
            "the termination messages reached the container statuses".into(),
        )
    })
}
