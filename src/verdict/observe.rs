//! Observations: what a pod, its log or an exec showed, reduced to the facts verdicts read.

use k8s_openapi::api::core::v1::{ContainerStatus, Node, Pod};
use k8s_openapi::jiff::Timestamp;

use crate::probes::CONTAINER;

/// The state of a probe pod's container, read from the container status (the pod phase lags
/// the container state by about a second, so it is never the signal that a container ended).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContainerState {
    /// No container status yet, or waiting: `reason` and `message` as the kubelet reported.
    Waiting {
        reason: Option<String>,
        message: Option<String>,
    },
    Running {
        started_at: Option<Timestamp>,
    },
    Terminated(Terminated),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Terminated {
    pub exit_code: i32,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

/// One probe pod as observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodObservation {
    pub name: String,
    /// `status.phase`.
    pub phase: Option<String>,
    /// `status.reason` (e.g. `DeadlineExceeded`).
    pub reason: Option<String>,
    pub container: ContainerState,
    pub restart_count: i32,
    pub deletion_requested: bool,
    /// `status.startTime`: when the kubelet accepted the pod (the start of its active deadline).
    pub started_at: Option<Timestamp>,
    /// `spec.nodeName`: the node the pod was scheduled to.
    pub node: Option<String>,
    /// `metadata.uid` and `metadata.namespace`, for the kinds that check what the pod is told
    /// about itself.
    pub uid: Option<String>,
    pub namespace: Option<String>,
    /// `status.podIP` and `status.hostIP`.
    pub pod_ip: Option<String>,
    pub host_ip: Option<String>,
    /// Every container of the pod, init containers first, for the kinds that judge more than
    /// the probe container (what the kubelet's container probes made of them).
    pub containers: Vec<ContainerObservation>,
}

/// One container of a pod as its status shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerObservation {
    pub name: String,
    /// `ready`: its readiness probe passed (or it has none and runs).
    pub ready: bool,
    /// `started`: its startup probe passed (or it has none and runs); `None` when not reported.
    pub started: Option<bool>,
    pub restart_count: i32,
    pub running: bool,
    /// `state.terminated.message`, once it ended.
    pub message: Option<String>,
    /// `state.terminated.exitCode`, once it ended.
    pub exit_code: Option<i32>,
    /// When its current run started (`state.running` or `state.terminated`), and ended.
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

impl PodObservation {
    pub fn of(pod: &Pod) -> PodObservation {
        let status = pod.status.as_ref();
        let container_status = status.and_then(|s| {
            fn named(list: &Option<Vec<ContainerStatus>>) -> Option<&ContainerStatus> {
                list.iter().flatten().find(|c| c.name == CONTAINER)
            }
            // The probe container is an app container, or (for kinds whose probe
            // container is a sidecar) a restartable init container.
            named(&s.container_statuses)
                .or_else(|| named(&s.init_container_statuses))
                .or_else(|| s.container_statuses.as_ref()?.first())
        });
        let state = container_status.and_then(|c| c.state.as_ref());
        let container = if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
            ContainerState::Terminated(Terminated {
                exit_code: t.exit_code,
                reason: t.reason.clone(),
                message: t.message.clone(),
                started_at: t.started_at.as_ref().map(|t| t.0),
                finished_at: t.finished_at.as_ref().map(|t| t.0),
            })
        } else if let Some(r) = state.and_then(|s| s.running.as_ref()) {
            ContainerState::Running {
                started_at: r.started_at.as_ref().map(|t| t.0),
            }
        } else {
            let waiting = state.and_then(|s| s.waiting.as_ref());
            ContainerState::Waiting {
                reason: waiting.and_then(|w| w.reason.clone()),
                message: waiting.and_then(|w| w.message.clone()),
            }
        };
        PodObservation {
            name: pod.metadata.name.clone().unwrap_or_default(),
            phase: status.and_then(|s| s.phase.clone()),
            reason: status.and_then(|s| s.reason.clone()),
            container,
            restart_count: container_status
                .map(|c| c.restart_count)
                .unwrap_or_default(),
            deletion_requested: pod.metadata.deletion_timestamp.is_some(),
            started_at: status.and_then(|s| s.start_time.as_ref()).map(|t| t.0),
            node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            uid: pod.metadata.uid.clone(),
            namespace: pod.metadata.namespace.clone(),
            pod_ip: status.and_then(|s| s.pod_ip.clone()),
            host_ip: status.and_then(|s| s.host_ip.clone()),
            containers: status
                .into_iter()
                .flat_map(|s| {
                    let init = s.init_container_statuses.iter().flatten();
                    init.chain(s.container_statuses.iter().flatten())
                        .chain(s.ephemeral_container_statuses.iter().flatten())
                })
                .map(|c| {
                    let running = c.state.as_ref().and_then(|s| s.running.as_ref());
                    let ended = c.state.as_ref().and_then(|s| s.terminated.as_ref());
                    ContainerObservation {
                        name: c.name.clone(),
                        ready: c.ready,
                        started: c.started,
                        restart_count: c.restart_count,
                        running: running.is_some(),
                        message: ended.and_then(|t| t.message.clone()),
                        exit_code: ended.map(|t| t.exit_code),
                        started_at: running
                            .and_then(|r| r.started_at.as_ref())
                            .or_else(|| ended.and_then(|t| t.started_at.as_ref()))
                            .map(|t| t.0),
                        finished_at: ended.and_then(|t| t.finished_at.as_ref()).map(|t| t.0),
                    }
                })
                .collect(),
        }
    }

    pub fn terminated(&self) -> Option<&Terminated> {
        match &self.container {
            ContainerState::Terminated(t) => Some(t),
            _ => None,
        }
    }

    /// Whether the pod has reached its end: a final phase, or (restartPolicy Never) a
    /// terminated container.
    pub fn is_finished(&self) -> bool {
        matches!(self.phase.as_deref(), Some("Succeeded" | "Failed"))
    }

    /// A waiting reason that means the pod can never start on its own: the probe is an
    /// `Error` (about the run, not the runtime), reported at once instead of at the timeout.
    pub fn blocked(&self) -> Option<(String, String)> {
        let ContainerState::Waiting {
            reason: Some(reason),
            message,
        } = &self.container
        else {
            return None;
        };
        BLOCKED_REASONS
            .contains(&reason.as_str())
            .then(|| (reason.clone(), message.clone().unwrap_or_default()))
    }
}

/// Waiting reasons of a container that will not start without someone changing something.
const BLOCKED_REASONS: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
];

/// What a container's log showed. Counted while streaming, so it stays small whatever the log's
/// size; `text` is kept only while the log is at most [`LogObservation::KEEP_TEXT`] bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogObservation {
    pub bytes: u64,
    pub lines: u64,
    pub first_line: Option<String>,
    pub last_line: Option<String>,
    pub text: Option<String>,
    /// For `seq 1 N` output: lines that were not the number expected at their position.
    pub out_of_sequence: u64,
    /// Bytes that were not valid UTF-8 (the log is then compared as lossy text).
    pub invalid_utf8: bool,
    /// For each string the counter was asked to look for ([`LogCounter::looking_for`]), whether
    /// the log contains it: found while streaming, so a log of any size is searched whole.
    pub found: Vec<bool>,
    /// Whether the read stopped before the log's end (at [`LogCounter`]'s byte limit).
    pub cut: bool,
}

impl LogObservation {
    pub const KEEP_TEXT: usize = 64 * 1024;
    /// The most of one line a counter holds at a time: more than a `seq` number or a line
    /// a message quotes needs, so a single line of any length costs no more memory than this.
    pub const KEEP_LINE: usize = 4096;

    /// Observes a whole log given at once (tests, and small logs).
    pub fn of(bytes: &[u8]) -> LogObservation {
        let mut counter = LogCounter::default();
        counter.feed(bytes);
        counter.finish()
    }

    /// The kubelet's notice when this "log" is one: a kubelet that no longer has the container
    /// (removed once its pod was deleted and stopped) answers a log request with 200 and, for
    /// body, `unable to retrieve container logs for <runtime>://<id>` in place of the log.
    /// Taken for the log, it would fail the probe on output the container never wrote.
    pub fn kubelet_notice(&self) -> Option<&str> {
        let text = self.text.as_deref()?.trim();
        let id = text.strip_prefix("unable to retrieve container logs for ")?;
        let (runtime, hex) = id.split_once("://")?;
        let plain = |s: &str, allowed: fn(char) -> bool| !s.is_empty() && s.chars().all(allowed);
        (plain(runtime, |c| c.is_ascii_alphanumeric() || c == '-')
            && plain(hex, |c| c.is_ascii_hexdigit()))
        .then_some(text)
    }
}

/// Streams a log through, line by line, into a [`LogObservation`]. Holds at most
/// [`LogObservation::KEEP_TEXT`] bytes of text, [`LogObservation::KEEP_LINE`] bytes of the
/// current line and, per string looked for, its length of carried-over bytes.
#[derive(Debug, Default)]
pub struct LogCounter {
    observation: LogObservation,
    kept: Vec<u8>,
    /// Set once the log outgrew [`LogObservation::KEEP_TEXT`]: from then on it is only counted.
    overflowed: bool,
    /// The current line's first bytes (at most [`LogObservation::KEEP_LINE`]).
    partial: Vec<u8>,
    /// Whether the current line is longer than `partial` holds.
    partial_cut: bool,
    needles: Vec<Vec<u8>>,
    /// The last bytes fed, so that a string split between two chunks is still found.
    carry: Vec<u8>,
}

impl LogCounter {
    /// A counter that also looks for each of `needles` in the whole log.
    pub fn looking_for(needles: &[String]) -> LogCounter {
        LogCounter {
            observation: LogObservation {
                found: vec![false; needles.len()],
                ..LogObservation::default()
            },
            needles: needles.iter().map(|n| n.as_bytes().to_vec()).collect(),
            ..LogCounter::default()
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        self.observation.bytes += chunk.len() as u64;
        if !self.overflowed {
            if self.kept.len() + chunk.len() <= LogObservation::KEEP_TEXT {
                self.kept.extend_from_slice(chunk);
            } else {
                self.overflowed = true;
                self.kept = Vec::new();
            }
        }
        self.search(chunk);
        let mut rest = chunk;
        while let Some(at) = memchr::memchr(b'\n', rest) {
            self.extend_line(&rest[..at]);
            let line = std::mem::take(&mut self.partial);
            self.line(&line);
            self.partial_cut = false;
            rest = &rest[at + 1..];
        }
        self.extend_line(rest);
    }

    fn extend_line(&mut self, bytes: &[u8]) {
        let room = LogObservation::KEEP_LINE.saturating_sub(self.partial.len());
        if bytes.len() > room {
            self.partial_cut = true;
        }
        self.partial
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn search(&mut self, chunk: &[u8]) {
        let longest = self.needles.iter().map(Vec::len).max().unwrap_or(0);
        if longest == 0 || self.observation.found.iter().all(|f| *f) {
            return;
        }
        // Only the seam needs the carried bytes: every needle wholly inside `chunk` is found
        // in it directly, so the joined window stays small.
        let mut seam = std::mem::take(&mut self.carry);
        seam.extend_from_slice(&chunk[..chunk.len().min(longest.saturating_sub(1))]);
        for (needle, found) in self.needles.iter().zip(self.observation.found.iter_mut()) {
            if !*found && !needle.is_empty() {
                *found = memchr::memmem::find(chunk, needle).is_some()
                    || memchr::memmem::find(&seam, needle).is_some();
            }
        }
        let keep = longest - 1;
        let carry = if chunk.len() >= keep {
            chunk[chunk.len() - keep..].to_vec()
        } else {
            // `seam` is the old carry and all of this short chunk: keep its end.
            seam[seam.len().saturating_sub(keep)..].to_vec()
        };
        self.carry = carry;
    }

    fn line(&mut self, line: &[u8]) {
        let o = &mut self.observation;
        o.lines += 1;
        let text = String::from_utf8_lossy(line);
        if std::str::from_utf8(line).is_err() && !self.partial_cut {
            o.invalid_utf8 = true;
        }
        if self.partial_cut || text.trim().parse::<u64>().ok() != Some(o.lines) {
            o.out_of_sequence += 1;
        }
        if o.first_line.is_none() {
            o.first_line = Some(bounded(&text, 256));
        }
        o.last_line = Some(bounded(&text, 256));
    }

    /// Bytes of text the counter holds now (bounded, whatever it was fed).
    pub fn held(&self) -> usize {
        self.kept.len() + self.partial.len() + self.carry.len()
    }

    /// The read stopped before the log's end.
    pub fn cut(&mut self) {
        self.observation.cut = true;
    }

    pub fn finish(mut self) -> LogObservation {
        if !self.partial.is_empty() || self.partial_cut {
            let line = std::mem::take(&mut self.partial);
            self.line(&line);
        }
        if !self.overflowed {
            if std::str::from_utf8(&self.kept).is_err() {
                self.observation.invalid_utf8 = true;
            }
            self.observation.text = Some(String::from_utf8_lossy(&self.kept).into_owned());
        }
        self.observation
    }
}

/// What an exec into the probe container reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecObservation {
    /// The exit code from the exec status channel, when the command ran.
    pub exit_code: Option<i32>,
    /// The failure the runtime reported instead (e.g. the binary does not exist).
    pub error: Option<String>,
}

/// `text` cut to at most `max` characters, with an ellipsis when cut.
pub fn bounded(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Why the pod's node could not be read: the API server's words, and whether it refused this
/// identity (RBAC), which no retry mends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeUnread {
    pub forbidden: bool,
    pub message: String,
}

impl std::fmt::Display for NodeUnread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What the kinds that judge against the pod's node read of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeObservation {
    pub name: String,
    /// `spec.podCIDRs` (or `spec.podCIDR`): empty when the node has none.
    pub pod_cidrs: Vec<String>,
    /// `status.allocatable.cpu` in millicores, and `memory` in bytes.
    pub allocatable_cpu_millis: Option<i64>,
    pub allocatable_memory_bytes: Option<i64>,
}

impl NodeObservation {
    pub fn of(node: &Node) -> NodeObservation {
        let spec = node.spec.as_ref();
        let mut pod_cidrs = spec.and_then(|s| s.pod_cidrs.clone()).unwrap_or_default();
        if pod_cidrs.is_empty()
            && let Some(cidr) = spec.and_then(|s| s.pod_cidr.clone())
        {
            pod_cidrs.push(cidr);
        }
        let allocatable = |key: &str, unit: f64| {
            node.status
                .as_ref()?
                .allocatable
                .as_ref()?
                .get(key)
                .and_then(|q| quantity(&q.0, unit))
        };
        NodeObservation {
            name: node.metadata.name.clone().unwrap_or_default(),
            pod_cidrs,
            allocatable_cpu_millis: allocatable("cpu", 0.001),
            allocatable_memory_bytes: allocatable("memory", 1.0),
        }
    }
}

/// A Kubernetes quantity (`2`, `1950m`, `24511548Ki`, `1.5Gi`, `1e3`) in `unit`s, rounded up
/// as the kubelet rounds downward API values. A dozen lines rather than a crate: the quantity
/// crates on crates.io are built against older k8s-openapi releases.
pub fn quantity(text: &str, unit: f64) -> Option<i64> {
    const SUFFIXES: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("Pi", 1125899906842624.0),
        ("Ei", 1152921504606846976.0),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    let (number, scale) = SUFFIXES
        .iter()
        .find_map(|(suffix, scale)| Some((text.strip_suffix(suffix)?, *scale)))
        .unwrap_or((text, 1.0));
    let value: f64 = number.parse().ok()?;
    Some((value * scale / unit - 1e-9).ceil() as i64)
}
