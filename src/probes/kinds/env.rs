//! `env`: environment variables reach the process byte for byte. The default value holds every
//! byte class that env handling breaks on: `=` (a naive `split('=')`), leading and trailing
//! whitespace (a trim), a newline and a tab (line-based parsing), quotes and backslashes
//! (unescaping), non-ASCII (a lossy encoding). Beside it the probe always sets an empty
//! variable (dropped by some) and an 8 KiB one (truncated by others).

use k8s_openapi::api::core::v1::{EnvVar, PodSpec};

use super::{Kind, ProbeKind, script};
use crate::api::{Check, Probe};
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, check, equal, finished_pod, log_missing, quoted};

/// Name of the variable the `env` probe sets when the spec names none.
pub const DEFAULT_ENV_NAME: &str = "PROCTOR_PROBE_VALUE";
/// Where env handling breaks: `=`, leading and trailing whitespace, a newline, a tab, quotes,
/// backslashes, non-ASCII.
pub const DEFAULT_ENV_VALUE: &str = "  key=value with spaces,\ta tab, 'single' \"double\" C:\\path\\ and\na second line: ünïcödé ✓  ";
/// The empty variable set beside the probed one.
pub const EMPTY_NAME: &str = "PROCTOR_PROBE_EMPTY";
/// The long variable set beside the probed one.
pub const LONG_NAME: &str = "PROCTOR_PROBE_LONG";
/// Length of [`LONG_NAME`]'s value.
pub const LONG_BYTES: usize = 8192;

/// Frames each variable of the output: `NAME US =VALUE RS LF` when set, `NAME US ! RS LF` when
/// not (a value never holds these two; the schema refuses them).
const US: char = '\u{1f}';
const RS: char = '\u{1e}';

pub const KIND: Kind = Kind {
    name: "env",
    resolve,
    entry: Entry {
        kind: "env",
        checks: "env vars reach the process byte for byte: one with '=', leading and trailing whitespace, a newline, a tab, quotes, backslashes and non-ASCII; an empty one; an 8 KiB one",
        parameters: "name, value (default: every byte class above)",
        runs: "`awk` prints three variables by name, framed so that a newline inside one is kept",
        catches: "env values split at `=`, trimmed, unescaped, re-encoded or truncated; empty variables dropped",
        faults: "spec, streams",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.env.as_ref()?;
    Some(ProbeKind::Env {
        name: p.name.clone().unwrap_or_else(|| DEFAULT_ENV_NAME.into()),
        value: p.value.clone().unwrap_or_else(|| DEFAULT_ENV_VALUE.into()),
    })
}

/// The long variable's value: numbered 16-byte blocks, so a cut or a repeated block shows.
pub fn long_value() -> String {
    (0..LONG_BYTES / 16)
        .map(|i| format!("<block {i:05}...>"))
        .collect()
}

pub fn shape(name: &str, value: &str, spec: &mut PodSpec) {
    let Some(container) = spec.containers.first_mut() else {
        return;
    };
    let var = |name: &str, value: String| EnvVar {
        name: name.to_owned(),
        value: Some(value),
        ..EnvVar::default()
    };
    container.env = Some(vec![
        var(name, value.to_owned()),
        var(EMPTY_NAME, String::new()),
        var(LONG_NAME, long_value()),
    ]);
    // awk's ENVIRON reads each variable by name without the name ever being shell source; the
    // values are framed (not line-based), so a newline in one is kept.
    script(
        container,
        r#"awk 'BEGIN { for (i = 1; i < ARGC; i++) { n = ARGV[i]; if (n in ENVIRON) printf "%s\037=%s\036\n", n, ENVIRON[n]; else printf "%s\037!\036\n", n } }' "$@""#,
        &[name, EMPTY_NAME, LONG_NAME],
    );
}

/// The value of `name` in the framed output; `None` when it was reported unset or not at all.
fn framed<'a>(log: &'a str, name: &str) -> Option<&'a str> {
    log.split(&format!("{RS}\n"))
        .filter_map(|record| record.trim_start_matches('\n').split_once(US))
        .find(|(n, _)| *n == name)
        .and_then(|(_, rest)| rest.strip_prefix('='))
}

fn shown(value: Option<&str>) -> String {
    value.map_or_else(|| "not set".to_owned(), quoted)
}

/// A check of a long value: sizes and the first difference, not the whole text.
fn long_check(expected: &str, observed: Option<&str>) -> Check {
    let Some(observed) = observed else {
        return check(
            "longValue",
            format!("{} bytes", expected.len()),
            "not set",
            false,
        );
    };
    if observed == expected {
        return check(
            "longValue",
            format!("{} bytes", expected.len()),
            format!("{} bytes, byte for byte", observed.len()),
            true,
        );
    }
    let at = expected
        .bytes()
        .zip(observed.bytes())
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(observed.len()));
    check(
        "longValue",
        format!("{} bytes", expected.len()),
        format!("{} bytes, differing from byte {at}", observed.len()),
        false,
    )
}

pub fn judge(name: &str, value: &str, evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let Some(log) = evidence.log.as_ref().and_then(|l| l.text.clone()) else {
            return log_missing("env");
        };
        Outcome::from_checks(
            vec![
                equal("exitCode", 0, t.exit_code),
                check(
                    "value",
                    quoted(value),
                    shown(framed(&log, name)),
                    framed(&log, name) == Some(value),
                ),
                check(
                    "emptyValue",
                    quoted(""),
                    shown(framed(&log, EMPTY_NAME)),
                    framed(&log, EMPTY_NAME) == Some(""),
                ),
                long_check(&long_value(), framed(&log, LONG_NAME)),
            ],
            "the variables reached the process byte for byte (the probed one, an empty one, an 8 KiB one)".into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framed_output_keeps_newlines_and_tells_unset_from_empty() {
        let log = format!("A{US}=x\ny{RS}\nB{US}={RS}\nC{US}!{RS}\n");
        assert_eq!(framed(&log, "A"), Some("x\ny"));
        assert_eq!(framed(&log, "B"), Some(""));
        assert_eq!(framed(&log, "C"), None);
        assert_eq!(framed(&log, "D"), None);
        assert_eq!(long_value().len(), LONG_BYTES);
        assert!(long_value().starts_with("<block 00000...><block 00001...>"));
    }
}
