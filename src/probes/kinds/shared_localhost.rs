//! `sharedLocalhost`: the containers of one pod share its network namespace: one reaches a
//! server in the other on 127.0.0.1. Catches a runtime that gives a container a network
//! namespace of its own instead of joining its sandbox's.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, field, log_text, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, equal, finished_pod, log_missing};

pub const PORT: &str = "8081";
pub const BANNER: &str = "proctor-localhost-banner";

pub const KIND: Kind = Kind {
    name: "sharedLocalhost",
    resolve,
    entry: Entry {
        kind: "sharedLocalhost",
        checks: "a container reads a banner from a server in another container of its pod on 127.0.0.1",
        parameters: "-",
        runs: "a server container (`nc -l -p 8081`, 30 s at most) and the probe container connecting to 127.0.0.1:8081",
        catches: "containers of one pod in network namespaces of their own",
        faults: "isolation",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe
        .shared_localhost
        .as_ref()
        .map(|_| ProbeKind::SharedLocalhost)
}

pub fn shape(spec: &mut PodSpec) {
    let Some(container) = spec.containers.first_mut() else {
        return;
    };
    let mut server = container.clone();
    server.name = "server".into();
    // Not exec'd: as PID 1, nc would ignore the TERM of the timeout. It ends with 0 whether or
    // not it was reached, so that the pod ends; the probe container's reply is the evidence.
    script(
        &mut server,
        r#"timeout 30 nc -l -p "$1" -e echo "$2"; exit 0"#,
        &[PORT, BANNER],
    );
    script(
        container,
        r#"for i in $(seq 1 100); do r=$(nc -w 1 127.0.0.1 "$1" </dev/null 2>&1); [ "$r" = "$2" ] && break; sleep 0.25; done; echo "reply: ${r:-nothing}""#,
        &[PORT, BANNER],
    );
    spec.containers.push(server);
    // A container that fails to start is started again: starts that overlap are
    // concurrentStart's business, and the two containers of this pod start together.
    spec.restart_policy = Some("OnFailure".into());
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("sharedLocalhost");
        };
        Outcome::from_checks(
            vec![
                equal("exitCode", 0, t.exit_code),
                equal("reply", BANNER, field(log, "reply").unwrap_or("nothing")),
            ],
            "the containers of the pod share 127.0.0.1".into(),
        )
    })
}
