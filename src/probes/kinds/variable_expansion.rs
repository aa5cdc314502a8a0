//! `variableExpansion`: the kubelet expands `$(VAR)` in a container's args and env values from
//! the container's env, and keeps `$$(VAR)` as a literal `$(VAR)`. Catches expansion skipped,
//! done twice, or done on the escaped form.

use k8s_openapi::api::core::v1::{EnvVar, PodSpec};

use super::{Kind, ProbeKind, field, log_text, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal, finished_pod, log_missing};

pub const VALUE: &str = "proctor-expanded-value";

pub const KIND: Kind = Kind {
    name: "variableExpansion",
    resolve,
    entry: Entry {
        kind: "variableExpansion",
        checks: "$(VAR) in the command, in args and in env values is expanded from the container's env; $$(VAR) stays a literal $(VAR)",
        parameters: "-",
        runs: "prints `$(PROCTOR_EXPAND)` from its command, `$(PROCTOR_EXPAND)` and `$$(PROCTOR_EXPAND)` from its args, and an env var composed from another",
        catches: "expansion skipped, applied to the escaped form, or not applied to env values",
        faults: "identity",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe
        .variable_expansion
        .as_ref()
        .map(|_| ProbeKind::VariableExpansion)
}

pub fn shape(spec: &mut PodSpec) {
    let Some(container) = spec.containers.first_mut() else {
        return;
    };
    let var = |name: &str, value: &str| EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..EnvVar::default()
    };
    container.env = Some(vec![
        var("PROCTOR_EXPAND", VALUE),
        var("PROCTOR_COMPOSED", "$(PROCTOR_EXPAND)-and-more"),
    ]);
    // One reference in the command, two in the args: the kubelet expands both.
    script(
        container,
        r#"echo "command: $1"; echo "expanded: $2"; echo "escaped: $3"; echo "composed: $PROCTOR_COMPOSED""#,
        &["$(PROCTOR_EXPAND)"],
    );
    container.args = Some(vec![
        "$(PROCTOR_EXPAND)".into(),
        "$$(PROCTOR_EXPAND)".into(),
    ]);
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("variableExpansion");
        };
        Outcome::from_checks(
            vec![
                equal("exitCode", 0, t.exit_code),
                equal(
                    "commandExpansion",
                    VALUE,
                    field(log, "command").unwrap_or("not printed"),
                ),
                equal(
                    "argExpansion",
                    VALUE,
                    field(log, "expanded").unwrap_or("not printed"),
                ),
                equal(
                    "escapedReference",
                    "$(PROCTOR_EXPAND)",
                    field(log, "escaped").unwrap_or("not printed"),
                ),
                equal(
                    "envExpansion",
                    format!("{VALUE}-and-more").as_str(),
                    field(log, "composed").unwrap_or("not printed"),
                ),
            ],
            "$(VAR) was expanded in the command, the args and env, and $$(VAR) kept".into(),
        )
    })
}
