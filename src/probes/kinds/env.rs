//! `env`: an environment variable reaches the process byte for byte. The default value holds
//! what naive handling breaks: `=`, spaces, quotes, non-ASCII.

use k8s_openapi::api::core::v1::{EnvVar, PodSpec};

use super::{Kind, ProbeKind, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal, finished_pod, log_missing, quoted};

/// Name of the variable the `env` probe sets when the spec names none.
pub const DEFAULT_ENV_NAME: &str = "PROCTOR_PROBE_VALUE";
/// Where env handling breaks: `=` (naive `split('=')`), spaces, quotes, non-ASCII.
pub const DEFAULT_ENV_VALUE: &str = "key=value with spaces, 'single' \"double\" and ünïcödé ✓";

pub const KIND: Kind = Kind {
    name: "env",
    resolve,
    entry: Entry {
        kind: "env",
        checks: "an env var reaches the process byte for byte",
        parameters: "name, value (default: '=', spaces, quotes, non-ASCII)",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.env.as_ref()?;
    Some(ProbeKind::Env {
        name: p.name.clone().unwrap_or_else(|| DEFAULT_ENV_NAME.into()),
        value: p.value.clone().unwrap_or_else(|| DEFAULT_ENV_VALUE.into()),
    })
}

pub fn shape(name: &str, value: &str, spec: &mut PodSpec) {
    let Some(container) = spec.containers.first_mut() else {
        return;
    };
    container.env = Some(vec![EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        ..EnvVar::default()
    }]);
    // awk's ENVIRON reads the variable by name without the name ever being shell source; a
    // missing variable is exit code 3, not an empty line.
    script(
        container,
        r#"awk 'BEGIN { if (ARGV[1] in ENVIRON) { printf "%s\n", ENVIRON[ARGV[1]]; exit 0 }; print "variable " ARGV[1] " is not set" > "/dev/stderr"; exit 3 }' "$1""#,
        &[name],
    );
}

pub fn judge(value: &str, evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let Some(log) = evidence.log.as_ref().and_then(|l| l.text.clone()) else {
            return log_missing("env");
        };
        Outcome::from_checks(
            vec![
                equal("exitCode", 0, t.exit_code),
                equal(
                    "value",
                    quoted(value),
                    quoted(log.strip_suffix('\n').unwrap_or(&log)),
                ),
            ],
            "the variable reached the process byte for byte".into(),
        )
    })
}
