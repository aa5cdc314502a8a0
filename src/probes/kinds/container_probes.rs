//! `containerProbes` and, sharing this file, `sidecarProbes`: the kubelet's container probes
//! (readiness, liveness, startup; exec, httpGet, tcpSocket and gRPC handlers) do what the spec
//! asks, on app containers and on sidecars (restartable init containers). Each scenario is a
//! container of its own with one probe setup; a timer container ends the observation window,
//! and the verdict compares, per scenario, the container's `ready`, `started` and restart count
//! in the pod's status, and how often (and how soon) its probe handler ran, which the handler
//! records in a shared emptyDir. Catches a kubelet or runtime whose exec probes do not run or
//! whose failure is swallowed, probes that ignore their timeout, their initial delay or their own
//! grace period, a startup probe that does not hold the others back, and httpGet and tcpSocket
//! probes that cannot reach the container.
//!
//! A sidecar whose startup probe never passes holds back every container after it, so
//! `sidecarProbes` runs those scenarios in pods of their own (judged from their status only).

use k8s_openapi::api::core::v1::{
    Container, ExecAction, GRPCAction, HTTPGetAction, PodSpec, Probe as ContainerProbe,
    TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{Kind, ProbeKind, empty_dir, log_text, mount, script};
use crate::api::Probe;
use crate::controller::drive::{At, Step};
use crate::probes::catalog::Entry;
use crate::verdict::{ContainerObservation, ContainerState, Evidence, Outcome, check, log_missing};

/// The emptyDir every container of the pod shares: `<container>.start` (when it first started)
/// and `<container>.calls` (one line, the time, per run of its probe handler).
pub const STATE: &str = "/mnt/proctor-probes";
/// How long the timer waits, from its start (after every scenario container's), before it
/// reports and ends the window.
pub const WINDOW_SECONDS: i64 = 25;
/// The timer's last line, once its report is complete.
pub const REPORTED: &str = "reported";
/// The pods' grace period: longer than the window, so that a kill that does not honour a
/// probe's own (1 s) grace period shows no restart within it.
pub const POD_GRACE_SECONDS: i64 = 30;
/// How long after the timer's start the verdict waits at most for the restarts it expects.
pub const JUDGE_BY_SECONDS: i64 = 90;
/// When the kubelet stops the pods whatever happened.
pub const ACTIVE_DEADLINE_SECONDS: i64 = 300;
/// First port of the scenarios' servers (the containers of a pod share its ports).
const FIRST_PORT: i32 = 8081;

pub const KIND: Kind = Kind {
    name: "containerProbes",
    resolve: resolve_app,
    entry: Entry {
        kind: "containerProbes",
        checks: "per app container of one probe setup: readiness after its initial delay, never with a failing or timed-out readiness probe; no restart under passing exec, httpGet, tcpSocket and non-local-redirect liveness probes; a restart under failing exec, httpGet (404, local redirect), gRPC and timed-out exec liveness probes, and under a failing startup probe; a startup probe holds liveness and readiness back; a probe's own terminationGracePeriodSeconds (1 s) overrides the pod's (30 s)",
        parameters: "-",
        runs: "18 containers, each `httpd`, `nc` or a sleep with its own probe, whose handlers record their runs in an emptyDir; a timer container reports 25 s after they all started",
        catches: "exec probes that do not run or report success, probe timeouts and initial delays ignored, startup probes not holding the others back, probe grace periods ignored, httpGet and tcpSocket probes that cannot reach the container",
        faults: "exec, isolation, latekill",
    },
};

pub const SIDECAR_KIND: Kind = Kind {
    name: "sidecarProbes",
    resolve: resolve_sidecar,
    entry: Entry {
        kind: "sidecarProbes",
        checks: "the scenarios of containerProbes, each on a sidecar (an init container with restartPolicy Always); those whose startup probe never passes in pods of their own, and there the sidecar is not started",
        parameters: "-",
        runs: "the same containers as restartable init containers of one pod, three in pods of their own; the app container is the timer",
        catches: "what containerProbes catches, for sidecars: probes of restartable init containers not run, not acted on or not reported",
        faults: "exec, isolation, latekill",
    },
};

fn resolve_app(probe: &Probe) -> Option<ProbeKind> {
    probe
        .container_probes
        .as_ref()
        .map(|_| ProbeKind::ContainerProbes)
}

fn resolve_sidecar(probe: &Probe) -> Option<ProbeKind> {
    probe
        .sidecar_probes
        .as_ref()
        .map(|_| ProbeKind::SidecarProbes)
}

/// What a scenario's container runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Serve {
    Nothing,
    /// `httpd` with a CGI `/cgi-bin/healthz` that records its run and answers this way.
    Http(Answer),
    /// `nc` that records every connection.
    Tcp,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    Ok,
    /// 302 to a path of the same server that does not exist.
    LocalRedirect,
    /// 302 to another host.
    RemoteRedirect,
}

/// A restart count the scenario expects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Restarts {
    None,
    AtLeastOne,
}

struct Expect {
    ready: Option<bool>,
    restarts: Restarts,
    started: Option<bool>,
    /// The handler ran at least this often; `Some(0)`: never.
    calls: Option<usize>,
    /// Its first run came no sooner than this many seconds after the container started.
    first_call_after: Option<i64>,
    /// ... and no later than this.
    first_call_before: Option<i64>,
}

struct Scenario {
    /// The container's name; the check is named after it.
    name: &'static str,
    serve: Serve,
    /// The container ignores SIGTERM (only the kill after the grace period ends it).
    ignores_term: bool,
    /// Seconds after its start at which the container creates /tmp/startup (0: never).
    startup_after: u32,
    probes: fn(&Handlers) -> [Option<ContainerProbe>; 3],
    expect: Expect,
    /// As a sidecar, its startup probe never passes: it holds back every later container.
    blocks: bool,
}

/// The handlers a scenario's probes can use; each exec handler records its run.
struct Handlers {
    calls: String,
    port: i32,
}

impl Handlers {
    /// Records its run, then runs `then` (a constant of this file).
    fn exec(&self, then: &str) -> ExecAction {
        ExecAction {
            command: Some(
                [
                    "sh",
                    "-c",
                    &format!(r#"date +%s >> "$1"; {then}"#),
                    "probe",
                    &self.calls,
                ]
                .map(str::to_owned)
                .to_vec(),
            ),
        }
    }

    fn http(&self, path: &str) -> HTTPGetAction {
        HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::Int(self.port),
            ..HTTPGetAction::default()
        }
    }
}

/// A probe run every second that acts on its first failure: for the probes meant to fail.
fn every_second() -> ContainerProbe {
    ContainerProbe {
        period_seconds: Some(1),
        failure_threshold: Some(1),
        ..ContainerProbe::default()
    }
}

/// For the probes meant to pass: less often, and with time to answer on a busy node (an exec
/// probe is a process start each time), so that only a probe that does fail counts as failed.
fn patient(probe: ContainerProbe) -> ContainerProbe {
    ContainerProbe {
        period_seconds: Some(2),
        timeout_seconds: Some(5),
        ..probe
    }
}

fn exec_probe(h: &Handlers, then: &str) -> ContainerProbe {
    ContainerProbe {
        exec: Some(h.exec(then)),
        ..every_second()
    }
}

fn timed_out(h: &Handlers) -> ContainerProbe {
    ContainerProbe {
        timeout_seconds: Some(1),
        period_seconds: Some(3),
        ..exec_probe(h, "sleep 30")
    }
}

fn startup_file(h: &Handlers) -> ContainerProbe {
    ContainerProbe {
        exec: Some(ExecAction {
            command: Some(["test", "-f", "/tmp/startup"].map(str::to_owned).to_vec()),
        }),
        failure_threshold: Some(60),
        ..exec_probe(h, "")
    }
}

const fn expect(ready: Option<bool>, restarts: Restarts, calls: Option<usize>) -> Expect {
    Expect {
        ready,
        restarts,
        started: None,
        calls,
        first_call_after: None,
        first_call_before: None,
    }
}

const fn scenario(
    name: &'static str,
    serve: Serve,
    probes: fn(&Handlers) -> [Option<ContainerProbe>; 3],
    expect: Expect,
) -> Scenario {
    Scenario {
        name,
        serve,
        ignores_term: false,
        startup_after: 0,
        probes,
        expect,
        blocks: false,
    }
}

/// Every scenario, in start order: `[readiness, liveness, startup]` each.
fn scenarios() -> Vec<Scenario> {
    use Restarts::{AtLeastOne, None as Zero};
    vec![
        scenario(
            "readiness-delayed",
            Serve::Nothing,
            |h| {
                let probe = ContainerProbe {
                    initial_delay_seconds: Some(4),
                    ..patient(exec_probe(h, "true"))
                };
                [Some(probe), None, None]
            },
            Expect {
                first_call_after: Some(3),
                ..expect(Some(true), Zero, Some(1))
            },
        ),
        scenario(
            "readiness-failing",
            Serve::Nothing,
            |h| {
                let probe = ContainerProbe {
                    period_seconds: Some(2),
                    ..exec_probe(h, "exit 1")
                };
                [Some(probe), None, None]
            },
            expect(Some(false), Zero, Some(3)),
        ),
        scenario(
            "readiness-timeout",
            Serve::Nothing,
            |h| [Some(timed_out(h)), None, None],
            expect(Some(false), Zero, Some(2)),
        ),
        scenario(
            "liveness-exec-passing",
            Serve::Nothing,
            |h| [None, Some(patient(exec_probe(h, "cat /tmp/health"))), None],
            expect(Some(true), Zero, Some(4)),
        ),
        scenario(
            "liveness-exec-failing",
            Serve::Nothing,
            |h| [None, Some(exec_probe(h, "exit 1")), None],
            expect(None, AtLeastOne, Some(1)),
        ),
        scenario(
            "liveness-exec-timeout",
            Serve::Nothing,
            |h| [None, Some(timed_out(h)), None],
            expect(None, AtLeastOne, Some(1)),
        ),
        scenario(
            "liveness-http-failing",
            Serve::Http(Answer::Ok),
            |h| {
                let probe = ContainerProbe {
                    http_get: Some(h.http("/healthz")),
                    ..every_second()
                };
                [None, Some(probe), None]
            },
            expect(None, AtLeastOne, None),
        ),
        scenario(
            "liveness-http-passing",
            Serve::Http(Answer::Ok),
            |h| {
                let probe = ContainerProbe {
                    http_get: Some(h.http("/cgi-bin/healthz")),
                    ..patient(every_second())
                };
                [None, Some(probe), None]
            },
            expect(Some(true), Zero, Some(4)),
        ),
        scenario(
            "liveness-http-local-redirect",
            Serve::Http(Answer::LocalRedirect),
            |h| {
                let probe = ContainerProbe {
                    http_get: Some(h.http("/cgi-bin/healthz")),
                    ..every_second()
                };
                [None, Some(probe), None]
            },
            expect(None, AtLeastOne, Some(1)),
        ),
        scenario(
            "liveness-http-remote-redirect",
            Serve::Http(Answer::RemoteRedirect),
            |h| {
                let probe = ContainerProbe {
                    http_get: Some(h.http("/cgi-bin/healthz")),
                    ..patient(every_second())
                };
                [None, Some(probe), None]
            },
            expect(Some(true), Zero, Some(4)),
        ),
        scenario(
            "liveness-tcp-passing",
            Serve::Tcp,
            |h| {
                let probe = ContainerProbe {
                    tcp_socket: Some(TCPSocketAction {
                        port: IntOrString::Int(h.port),
                        ..TCPSocketAction::default()
                    }),
                    ..patient(every_second())
                };
                [None, Some(probe), None]
            },
            expect(Some(true), Zero, Some(4)),
        ),
        scenario(
            "liveness-grpc-failing",
            Serve::Nothing,
            |h| {
                let probe = ContainerProbe {
                    grpc: Some(GRPCAction {
                        port: h.port,
                        service: None,
                    }),
                    ..every_second()
                };
                [None, Some(probe), None]
            },
            expect(None, AtLeastOne, None),
        ),
        Scenario {
            ignores_term: true,
            ..scenario(
                "liveness-grace-override",
                Serve::Nothing,
                |h| {
                    let probe = ContainerProbe {
                        termination_grace_period_seconds: Some(1),
                        ..exec_probe(h, "exit 1")
                    };
                    [None, Some(probe), None]
                },
                expect(None, AtLeastOne, Some(1)),
            )
        },
        Scenario {
            startup_after: 3,
            ..scenario(
                "liveness-after-startup",
                Serve::Nothing,
                |h| [None, Some(exec_probe(h, "exit 1")), Some(startup_file(h))],
                Expect {
                    first_call_after: Some(2),
                    ..expect(None, AtLeastOne, Some(1))
                },
            )
        },
        Scenario {
            startup_after: 3,
            ..scenario(
                "ready-after-startup",
                Serve::Nothing,
                // Its period is longer than the wait for its first run after the startup
                // probe passed: the kubelet runs it at once then. (Not longer still: a kubelet
                // that started less than a period ago first waits up to a period.)
                |h| {
                    let readiness = ContainerProbe {
                        period_seconds: Some(15),
                        timeout_seconds: Some(5),
                        ..exec_probe(h, "true")
                    };
                    [Some(readiness), None, Some(startup_file(h))]
                },
                Expect {
                    first_call_after: Some(2),
                    first_call_before: Some(10),
                    ..expect(Some(true), Zero, Some(1))
                },
            )
        },
        Scenario {
            blocks: true,
            ..scenario(
                "startup-failing",
                Serve::Nothing,
                |h| {
                    let probe = ContainerProbe {
                        failure_threshold: Some(2),
                        ..exec_probe(h, "exit 1")
                    };
                    [None, None, Some(probe)]
                },
                expect(None, AtLeastOne, None),
            )
        },
        Scenario {
            blocks: true,
            ..scenario(
                "startup-holds-liveness",
                Serve::Nothing,
                |h| {
                    let startup = ContainerProbe {
                        exec: Some(ExecAction {
                            command: Some(["test", "-f", "/tmp/never"].map(str::to_owned).to_vec()),
                        }),
                        failure_threshold: Some(600),
                        ..every_second()
                    };
                    [None, Some(exec_probe(h, "exit 1")), Some(startup)]
                },
                Expect {
                    started: Some(false),
                    ..expect(Some(false), Zero, Some(0))
                },
            )
        },
        Scenario {
            ignores_term: true,
            blocks: true,
            ..scenario(
                "startup-grace-override",
                Serve::Nothing,
                |h| {
                    let probe = ContainerProbe {
                        termination_grace_period_seconds: Some(1),
                        ..exec_probe(h, "exit 1")
                    };
                    [None, None, Some(probe)]
                },
                expect(None, AtLeastOne, Some(1)),
            )
        },
    ]
}

/// The scenarios' container: records its first start, creates the file its probes test,
/// serves what it serves, and sleeps; SIGTERM ends it (exit 143) unless it ignores it.
/// `$1` its files' prefix in [`STATE`], `$2` its port, `$3` what it serves, `$4` `ignore` or
/// not, `$5` when to create /tmp/startup.
const SCENARIO_SCRIPT: &str = r#"[ -f "$1.start" ] || date +%s > "$1.start"
if [ "$4" = ignore ]; then trap '' TERM; else trap 'exit 143' TERM; fi
touch /tmp/health
case "$3" in
http-*)
  mkdir -p /tmp/www/cgi-bin
  case "$3" in
  http-ok) answer='Content-Type: text/plain\r\n\r\nok\n' ;;
  http-local) answer='Status: 302 Found\r\nLocation: /missing\r\n\r\n' ;;
  *) answer='Status: 302 Found\r\nLocation: http://0.0.0.0/\r\n\r\n' ;;
  esac
  printf '#!/bin/sh\ndate +%%s >> %s.calls\nprintf '"'"'%s'"'"'\n' "$1" "$answer" > /tmp/www/cgi-bin/healthz
  chmod 755 /tmp/www/cgi-bin/healthz
  httpd -p "$2" -h /tmp/www ;;
tcp) nc -ll -p "$2" -e sh -c 'date +%s >> "$0"' "$1.calls" & ;;
esac
if [ "$5" != 0 ]; then (sleep "$5"; touch /tmp/startup) & fi
sleep 3600 &
while :; do wait $!; done"#;

/// The timer: waits until every scenario of its pod started (`$3` of them; `$4` seconds at
/// most), then out the window (`$1`), then prints `calls NAME COUNT FIRST` per scenario (FIRST:
/// seconds from the container's first start to its handler's first run) and `reported`. As a
/// sidecar (`$5` = `stay`) it then sleeps on, since a sidecar that ends is started again.
const TIMER_SCRIPT: &str = r#"cd "$2" || exit 1
i=0
while [ "$(ls | grep -c '[.]start$')" -lt "$3" ] && [ "$i" -lt "$4" ]; do sleep 1; i=$((i + 1)); done
sleep "$1"
for f in *.start; do
  [ -f "$f" ] || continue
  n=${f%.start}
  if [ -f "$n.calls" ]; then
    echo "calls $n $(wc -l < "$n.calls") $(( $(head -n 1 "$n.calls") - $(cat "$f") ))"
  else
    echo "calls $n 0 -"
  fi
done
echo reported
if [ "$5" = stay ]; then exec sleep 3600; fi"#;
/// How long the timer waits at most for the scenarios to start.
const STARTS_WITHIN_SECONDS: &str = "60";

/// The pods of one attempt: `containerProbes` one, `sidecarProbes` one plus one per blocking
/// scenario.
pub fn pod_count(sidecar: bool) -> i32 {
    if sidecar {
        1 + scenarios().iter().filter(|s| s.blocks).count() as i32
    } else {
        1
    }
}

fn serves(serve: Serve) -> &'static str {
    match serve {
        Serve::Nothing => "nothing",
        Serve::Http(Answer::Ok) => "http-ok",
        Serve::Http(Answer::LocalRedirect) => "http-local",
        Serve::Http(Answer::RemoteRedirect) => "http-remote",
        Serve::Tcp => "tcp",
    }
}

fn scenario_container(base: &Container, s: &Scenario, port: i32, sidecar: bool) -> Container {
    let mut c = base.clone();
    c.name = s.name.into();
    let prefix = format!("{STATE}/{}", s.name);
    let handlers = Handlers {
        calls: format!("{prefix}.calls"),
        port,
    };
    let [readiness, liveness, startup] = (s.probes)(&handlers);
    c.readiness_probe = readiness;
    c.liveness_probe = liveness;
    c.startup_probe = startup;
    c.volume_mounts = Some(vec![mount("state", STATE, false)]);
    let port = port.to_string();
    let startup_after = s.startup_after.to_string();
    let ignores = if s.ignores_term { "ignore" } else { "stop" };
    script(
        &mut c,
        SCENARIO_SCRIPT,
        &[&prefix, &port, serves(s.serve), ignores, &startup_after],
    );
    if sidecar {
        c.restart_policy = Some("Always".into());
    }
    c
}

/// Pod 0 holds the timer (the probe container) and every scenario that does not block; for
/// `sidecarProbes`, pod N ≥ 1 holds the N-th blocking scenario and an app container that
/// sleeps (it never starts while the sidecar blocks). As sidecars, the timer is the first of
/// pod 0's, so that it starts whatever the scenarios after it do.
pub fn shape(sidecar: bool, spec: &mut PodSpec, index: usize) {
    spec.restart_policy = Some("OnFailure".into());
    spec.termination_grace_period_seconds = Some(POD_GRACE_SECONDS);
    // The scenarios never end by themselves (and probe every second): a pod kept after its
    // verdict (cleanup Never) still stops.
    spec.active_deadline_seconds = Some(ACTIVE_DEADLINE_SECONDS);
    spec.volumes = Some(vec![empty_dir("state")]);
    let Some(mut timer) = spec.containers.pop() else {
        return;
    };
    let all = scenarios();
    let mut chosen: Vec<(usize, &Scenario)> = Vec::new();
    for (i, s) in all.iter().enumerate() {
        let pod = match (sidecar, s.blocks) {
            (true, true) => 1 + all[..i].iter().filter(|s| s.blocks).count(),
            _ => 0,
        };
        if pod == index {
            chosen.push((i, s));
        }
    }
    let mut containers: Vec<Container> = chosen
        .iter()
        .map(|(i, s)| scenario_container(&timer, s, FIRST_PORT + *i as i32, sidecar))
        .collect();
    let mut app = timer.clone();
    script(&mut app, "exec sleep 3600", &[]);
    if index > 0 {
        spec.init_containers = Some(containers);
        spec.containers = vec![app];
        return;
    }
    timer.volume_mounts = Some(vec![mount("state", STATE, false)]);
    let window = WINDOW_SECONDS.to_string();
    let count = chosen.len().to_string();
    let stay = if sidecar { "stay" } else { "end" };
    script(
        &mut timer,
        TIMER_SCRIPT,
        &[&window, STATE, &count, STARTS_WITHIN_SECONDS, stay],
    );
    if sidecar {
        timer.restart_policy = Some("Always".into());
        containers.insert(0, timer);
        app.name = "app".into();
        spec.init_containers = Some(containers);
        spec.containers = vec![app];
    } else {
        containers.push(timer);
        spec.containers = containers;
    }
}

/// Judged once the timer's window is over (it ended, or its log says so: a kubelet busy with
/// slow kills of the scenarios, which its pod worker makes one by one, may report the timer's
/// end long after it), and once every scenario that should restart has, or by
/// [`JUDGE_BY_SECONDS`]: a busy node restarts late, not never.
pub fn step(at: &At) -> Step {
    let started = match &at.first.container {
        ContainerState::Running { started_at } => *started_at,
        ContainerState::Terminated(t) => t.started_at,
        ContainerState::Waiting { .. } if at.finished => return Step::Judge { read_log: true },
        ContainerState::Waiting { .. } => return Step::Wait,
    };
    let Some(started) = started else {
        return Step::Wait;
    };
    let elapsed = at.view.now.as_second() - started.as_second();
    let over = at.first.terminated().is_some() || elapsed > WINDOW_SECONDS + 2;
    if !over {
        return Step::Wait;
    }
    let restarted = scenarios()
        .iter()
        .filter(|s| s.expect.restarts == Restarts::AtLeastOne)
        .all(|s| {
            at.observed
                .iter()
                .flat_map(|p| &p.containers)
                .any(|c| c.name == s.name && c.restart_count >= 1)
        });
    if restarted || elapsed > JUDGE_BY_SECONDS {
        Step::Judge { read_log: true }
    } else {
        Step::Wait
    }
}

pub fn judge(sidecar: bool, evidence: &Evidence) -> Option<Outcome> {
    let first = evidence.pods.first()?;
    let kind = if sidecar {
        "sidecarProbes"
    } else {
        "containerProbes"
    };
    let Some(log) = log_text(evidence) else {
        return first.terminated().map(|_| log_missing(kind));
    };
    if !log.lines().any(|l| l == REPORTED) {
        // Still reporting (None): look again.
        return first.terminated().map(|t| {
            Outcome::error(
                "TimerFailed",
                format!(
                    "the timer container exited {} before its report was complete: {}",
                    t.exit_code,
                    crate::verdict::bounded(log, 200)
                ),
            )
        });
    }
    let containers: Vec<&ContainerObservation> =
        evidence.pods.iter().flat_map(|p| &p.containers).collect();
    let checks = scenarios()
        .iter()
        .map(|s| {
            let seen = containers.iter().find(|c| c.name == s.name).copied();
            let calls = log.lines().find_map(|line| {
                let mut words = line.strip_prefix("calls ")?.split(' ');
                (words.next()? == s.name).then_some(())?;
                let count: usize = words.next()?.parse().ok()?;
                let first = words.next().and_then(|w| w.parse::<i64>().ok());
                Some((count, first))
            });
            // A blocking sidecar's pod has no timer to report its handler's runs.
            let counted = !(sidecar && s.blocks);
            judge_one(s, seen, calls, counted)
        })
        .collect();
    Some(Outcome::from_checks(
        checks,
        format!(
            "each of the {} probe setups acted as the spec asks",
            scenarios().len()
        ),
    ))
}

fn judge_one(
    s: &Scenario,
    seen: Option<&ContainerObservation>,
    calls: Option<(usize, Option<i64>)>,
    counted: bool,
) -> crate::api::Check {
    let e = &s.expect;
    let (calls_expected, first_after, first_before) = if counted {
        (e.calls, e.first_call_after, e.first_call_before)
    } else {
        (None, None, None)
    };
    let mut expected = Vec::new();
    if let Some(ready) = e.ready {
        expected.push(if ready { "ready" } else { "not ready" }.to_owned());
    }
    if let Some(started) = e.started {
        expected.push(if started { "started" } else { "not started" }.to_owned());
    }
    expected.push(match e.restarts {
        Restarts::None => "not restarted".to_owned(),
        Restarts::AtLeastOne => "restarted".to_owned(),
    });
    match calls_expected {
        Some(0) => expected.push("its handler never ran".to_owned()),
        Some(n) => expected.push(format!("its handler ran at least {}", times(n))),
        None => {}
    }
    match (first_after, first_before) {
        (Some(after), Some(before)) => {
            expected.push(format!("first {after} to {before} s after the start"))
        }
        (Some(after), None) => expected.push(format!("first {after} s or more after the start")),
        _ => {}
    }
    let name = camel(s.name);
    let Some(c) = seen else {
        return check(
            &name,
            expected.join(", "),
            "no such container in the pod's status",
            false,
        );
    };
    let mut observed = Vec::new();
    let mut passed = true;
    if let Some(ready) = e.ready {
        passed &= c.ready == ready;
        observed.push(if c.ready { "ready" } else { "not ready" }.to_owned());
    }
    if let Some(started) = e.started {
        let now = c.started.unwrap_or(false);
        passed &= now == started;
        observed.push(if now { "started" } else { "not started" }.to_owned());
    }
    passed &= match e.restarts {
        Restarts::None => c.restart_count == 0,
        Restarts::AtLeastOne => c.restart_count >= 1,
    };
    observed.push(match c.restart_count {
        0 => "not restarted".to_owned(),
        1 => "restarted once".to_owned(),
        n => format!("restarted {n} times"),
    });
    let (count, first) = calls.unwrap_or((0, None));
    if let Some(n) = calls_expected {
        passed &= if n == 0 { count == 0 } else { count >= n };
        observed.push(match count {
            0 => "its handler never ran".to_owned(),
            n => format!("its handler ran {}", times(n)),
        });
    }
    if let Some(after) = first_after {
        passed &= first.is_some_and(|f| f >= after && first_before.is_none_or(|b| f <= b));
        observed.push(match first {
            Some(f) => format!("first {f} s after the start"),
            None => "never".to_owned(),
        });
    }
    check(&name, expected.join(", "), observed.join(", "), passed)
}

fn times(n: usize) -> String {
    match n {
        1 => "once".to_owned(),
        n => format!("{n} times"),
    }
}

/// `liveness-exec-failing` → `livenessExecFailing`.
fn camel(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for ch in name.chars() {
        if ch == '-' {
            upper = true;
        } else if upper {
            out.extend(ch.to_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_are_unique_container_names() {
        let all = scenarios();
        let mut names: Vec<&str> = all.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
        assert!(
            names
                .iter()
                .all(|n| n.len() <= 63 && *n != crate::probes::CONTAINER)
        );
        assert_eq!(
            camel("liveness-http-local-redirect"),
            "livenessHttpLocalRedirect"
        );
    }

    #[test]
    fn the_timer_reports_the_runs_each_check_reads() {
        let s = &scenarios()[0];
        let ready = ContainerObservation {
            name: s.name.into(),
            ready: true,
            started: Some(true),
            restart_count: 0,
            running: true,
            ..ContainerObservation::default()
        };
        assert!(judge_one(s, Some(&ready), Some((3, Some(4))), true).passed);
        // Run before its initial delay.
        assert!(!judge_one(s, Some(&ready), Some((3, Some(0))), true).passed);
        // Never run, yet ready.
        assert!(!judge_one(s, Some(&ready), None, true).passed);
        let holds = scenarios()
            .into_iter()
            .find(|s| s.name == "startup-holds-liveness")
            .unwrap();
        let started = ContainerObservation {
            name: holds.name.into(),
            ready: false,
            started: Some(true),
            restart_count: 0,
            running: true,
            ..ContainerObservation::default()
        };
        let check = judge_one(&holds, Some(&started), None, true);
        assert!(!check.passed);
        assert_eq!(
            check.observed,
            "not ready, started, not restarted, its handler never ran"
        );
    }
}
