//! `httpHooks`: a container's postStart and preStop httpGet hooks run, in that order, and
//! reach the handler the spec names: the postStart one before the container is taken for
//! started, the preStop one when the pod is deleted. The kubelet sends both requests itself, to
//! the pod's IP; catches a kubelet that skips httpGet hooks or sends them elsewhere, and a pod
//! whose network the node cannot reach.
//!
//! The handler is a sidecar of the same pod (`httpd` with a CGI that records each request in
//! an emptyDir, in the sidecar's termination message, and in its log for people to read). What
//! the pod saw is read from the termination messages, which stay in the pod's status: the app
//! container's tells whether the postStart request came, and on its TERM (after the preStop
//! hook) the requests recorded; when no TERM reached its trap (a runtime that sends SIGKILL),
//! the handler's own message tells them once it ended. Logs are not read once the pod is
//! deleted: the kubelet removes a deleted pod's containers as soon as they stopped, and a log
//! read after that is lost (it was, under load).

use k8s_openapi::api::core::v1::{
    Container, ExecAction, HTTPGetAction, Lifecycle, LifecycleHandler, PodSpec,
    Probe as ContainerProbe,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{Kind, ProbeKind, READY_MARKER, empty_dir, field, mount, script};
use crate::api::Probe;
use crate::controller::drive::{At, Step};
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, PodObservation, equal};

/// The handler sidecar's name and port, and where the requests are recorded.
pub const HANDLER: &str = "hook-handler";
const PORT: i32 = 8080;
const RECORD: &str = "/hooks/requests";
const GRACE_SECONDS: i64 = 10;

pub const KIND: Kind = Kind {
    name: "httpHooks",
    resolve,
    entry: Entry {
        kind: "httpHooks",
        checks: "the postStart httpGet hook reaches its handler before the container goes on (it sees the request recorded), and deleting the pod sends the preStop httpGet hook after it: the handler records `GET poststart` then `GET prestop`",
        parameters: "-",
        runs: "a sidecar serves `httpd` with a CGI that records each request; the app container's postStart and preStop hooks are httpGet to it at the pod's IP; Proctor deletes the pod (grace 10 s); what the pod saw is read from the containers' termination messages",
        catches: "httpGet hooks skipped, sent out of order or to the wrong place, or a pod IP the node cannot reach",
        faults: "isolation",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe.http_hooks.as_ref()?;
    Some(ProbeKind::HttpHooks)
}

/// Serves `/cgi-bin/hook`, which records `METHOD QUERY` in the emptyDir (`$1`), in the
/// sidecar's termination message and in its log (the stdout of its PID 1), and `/ready` for the
/// startup probe, on port `$2`.
const HANDLER_SCRIPT: &str = r#"mkdir -p /tmp/www/cgi-bin
printf '#!/bin/sh\necho "$REQUEST_METHOD $QUERY_STRING" >> %s\necho "$REQUEST_METHOD $QUERY_STRING" >> /dev/termination-log\necho "$REQUEST_METHOD $QUERY_STRING" >> /proc/1/fd/1\nprintf "Content-Type: text/plain\\r\\n\\r\\nrecorded\\n"\n' "$1" > /tmp/www/cgi-bin/hook
chmod 755 /tmp/www/cgi-bin/hook
echo ok > /tmp/www/ready
trap 'exit 0' TERM
httpd -f -p "$2" -h /tmp/www &
wait $!"#;

/// Waits (10 s at most) for the postStart request's record (`$1`), and runs until deleted. Its
/// termination message says whether the request came (from the start: a container stopped
/// before it knew says so), and on TERM also the requests recorded (`;` after each).
const APP_SCRIPT: &str = r#"record=$1
seen="not recorded before the container was stopped"
tell() { printf 'poststart: %s\n' "$seen" > /dev/termination-log; }
report() {
  printf 'poststart: %s\nrecorded: %s\n' "$seen" "$(tr '\n' ';' < "$record" 2>/dev/null)" > /dev/termination-log
  exit 0
}
tell
trap report TERM
i=0
while [ "$i" -lt 50 ] && ! grep -q poststart "$record" 2>/dev/null; do sleep 0.2; i=$((i + 1)); done
if grep -q poststart "$record" 2>/dev/null; then seen=seen; else seen=missing; fi
tell
echo "poststart: $seen"
echo "$2"
while :; do sleep 0.2; done"#;

fn hook(query: &str) -> LifecycleHandler {
    LifecycleHandler {
        http_get: Some(HTTPGetAction {
            path: Some(format!("/cgi-bin/hook?{query}")),
            port: IntOrString::Int(PORT),
            ..HTTPGetAction::default()
        }),
        ..LifecycleHandler::default()
    }
}

fn handler(app: &Container) -> Container {
    let mut handler = app.clone();
    handler.name = HANDLER.into();
    handler.restart_policy = Some("Always".into());
    handler.lifecycle = None;
    // Started (and the app container after it) once httpd answers.
    handler.startup_probe = Some(ContainerProbe {
        exec: Some(ExecAction {
            command: Some(vec![
                "wget".into(),
                "-q".into(),
                "-O".into(),
                "/dev/null".into(),
                format!("http://127.0.0.1:{PORT}/ready"),
            ]),
        }),
        period_seconds: Some(1),
        failure_threshold: Some(30),
        ..ContainerProbe::default()
    });
    script(&mut handler, HANDLER_SCRIPT, &[RECORD, &PORT.to_string()]);
    handler
}

pub fn shape(spec: &mut PodSpec) {
    spec.termination_grace_period_seconds = Some(GRACE_SECONDS);
    spec.volumes = Some(vec![empty_dir("hooks")]);
    let Some(app) = spec.containers.first_mut() else {
        return;
    };
    app.volume_mounts = Some(vec![mount("hooks", "/hooks", false)]);
    let sidecar = handler(app);
    app.lifecycle = Some(Lifecycle {
        post_start: Some(hook("poststart")),
        pre_stop: Some(hook("prestop")),
        ..Lifecycle::default()
    });
    script(app, APP_SCRIPT, &[RECORD, READY_MARKER]);
    spec.init_containers = Some(vec![sidecar]);
}

/// Delete the pod once its app container is ready; judge once it told what it saw (it ended,
/// deleted or killed after a failed postStart hook, and the requests are told).
pub fn step(at: &At) -> Step {
    if at.view.deletion_requested() || at.finished {
        if told(at.first).is_some() {
            Step::Judge { read_log: false }
        } else {
            Step::Wait
        }
    } else if at.running {
        Step::DeleteWhenReady {
            grace_period_seconds: GRACE_SECONDS,
        }
    } else {
        Step::Wait
    }
}

/// What the pod told once its app container ended: the app's postStart line, and the requests
/// recorded, from the app's TERM report, else (no TERM reached its trap) from the handler's own
/// message once the handler ended too. `None` until then.
fn told(pod: &PodObservation) -> Option<(Option<&str>, Vec<&str>)> {
    let app = pod.terminated()?.message.as_deref().unwrap_or_default();
    let poststart = field(app, "poststart");
    if let Some(recorded) = field(app, "recorded") {
        return Some((
            poststart,
            recorded.split(';').filter(|r| !r.is_empty()).collect(),
        ));
    }
    let handler = pod.containers.iter().find(|c| c.name == HANDLER)?;
    if handler.running || handler.exit_code.is_none() {
        return None;
    }
    let recorded = handler.message.as_deref().unwrap_or_default();
    Some((
        poststart,
        recorded.lines().filter(|r| !r.is_empty()).collect(),
    ))
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    let (poststart, recorded) = told(evidence.pods.first()?)?;
    let recorded = if recorded.is_empty() {
        "nothing".to_owned()
    } else {
        recorded.join(", ")
    };
    Some(Outcome::from_checks(
        vec![
            equal("postStart", "seen", poststart.unwrap_or(NOT_TOLD)),
            equal(
                "handlerRecord",
                "GET poststart, GET prestop",
                recorded.as_str(),
            ),
        ],
        "the postStart and preStop httpGet hooks reached their handler, in that order".into(),
    ))
}

/// The postStart check's observation when the container left no termination message.
const NOT_TOLD: &str = "not told (the container left no termination message)";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Verdict;

    const RUNC: &str = include_str!("../../../tests/fixtures/pods/http-hooks-runc.json");

    fn judged(fixture: &str) -> Outcome {
        judge(&super::super::recorded(&[fixture])).unwrap()
    }

    #[test]
    fn both_hooks_recorded_in_order_pass() {
        let outcome = judged(RUNC);
        assert_eq!(outcome.verdict, Verdict::Passed, "{outcome:?}");
    }

    /// The app killed before its TERM trap (faulty-sigterm): the requests are read from the
    /// handler's own message; while the handler runs, the probe is not judged yet.
    #[test]
    fn without_the_apps_report_the_handlers_message_tells_the_requests() {
        let sigterm = include_str!("../../../tests/fixtures/pods/http-hooks-faulty-sigterm.json");
        let outcome = judged(sigterm);
        assert_eq!(outcome.verdict, Verdict::Passed, "{outcome:?}");
        let mut evidence = super::super::recorded(&[sigterm]);
        let handler = evidence.pods[0]
            .containers
            .iter_mut()
            .find(|c| c.name == HANDLER)
            .expect("the handler's status");
        handler.running = true;
        handler.exit_code = None;
        assert_eq!(judge(&evidence), None);
    }

    #[test]
    fn hooks_that_never_reach_the_pod_fail() {
        let outcome = judged(include_str!(
            "../../../tests/fixtures/pods/http-hooks-faulty-netns.json"
        ));
        assert_eq!(outcome.reason, "PostStartMismatch", "{outcome:?}");
        assert_eq!(
            outcome.checks[0].observed,
            "not recorded before the container was stopped"
        );
        assert_eq!(
            outcome.checks[1].observed, "nothing",
            "the handler recorded no request: {outcome:?}"
        );
    }

    /// The app's message when the postStart request came but the preStop one did not (a
    /// kubelet that skips it), and when it left none.
    #[test]
    fn a_missing_prestop_and_a_missing_message_fail_with_what_was_told() {
        let told = |message: Option<&str>| {
            let mut evidence = super::super::recorded(&[RUNC]);
            let crate::verdict::ContainerState::Terminated(ended) = &mut evidence.pods[0].container
            else {
                panic!("the app container ended");
            };
            ended.message = message.map(str::to_owned);
            judge(&evidence).unwrap()
        };
        let outcome = told(Some("poststart: seen\nrecorded: GET poststart;\n"));
        assert_eq!(outcome.reason, "HandlerRecordMismatch", "{outcome:?}");
        assert_eq!(outcome.checks[1].observed, "GET poststart");
        let outcome = told(None);
        assert_eq!(outcome.reason, "PostStartMismatch", "{outcome:?}");
        assert_eq!(outcome.checks[0].observed, NOT_TOLD);
    }
}
