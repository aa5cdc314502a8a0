//! What Proctor reads from running containers, streamed and counted, never held whole: a
//! probe container's log (through a [`LogCounter`]) and an exec's output (its last bytes kept).

use std::time::Duration;

use futures::AsyncReadExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{AttachParams, LogParams};
use kube::{Api, Client};
use tokio::io::AsyncReadExt as _;

use super::Error;
use super::act::{CALL_TIMEOUT, bounded};
use super::stage::enter;
use crate::probes::CONTAINER;
use crate::verdict::{ExecObservation, LogCounter, LogObservation};

/// Largest log Proctor reads; beyond it the log is counted as cut at this size.
pub const MAX_LOG_BYTES: u64 = 256 * 1024 * 1024;
/// Longest exec output kept for a message.
const MAX_EXEC_OUTPUT: usize = 4096;

/// Streams the probe container's log through a [`LogCounter`] looking for `needles`, so that a
/// log of any size is counted and searched without being held.
pub async fn read_log(
    client: &Client,
    ns: &str,
    name: &str,
    limit: Option<i64>,
    needles: &[String],
) -> Result<LogObservation, Error> {
    let what = || format!("reading the log of pod {name}");
    bounded(
        CALL_TIMEOUT,
        what,
        stream_log(
            client,
            ns,
            name,
            LogSource {
                container: CONTAINER,
                previous: false,
            },
            limit,
            needles,
        ),
    )
    .await
}

/// [`read_log`] of the probe container's previous run (the one before its last restart).
pub async fn read_previous_log(
    client: &Client,
    ns: &str,
    name: &str,
) -> Result<LogObservation, Error> {
    let what = || format!("reading the previous log of pod {name}");
    let source = LogSource {
        container: CONTAINER,
        previous: true,
    };
    bounded(
        CALL_TIMEOUT,
        what,
        stream_log(client, ns, name, source, None, &[]),
    )
    .await
}

/// [`read_log`] of another container of the pod.
pub async fn read_container_log(
    client: &Client,
    ns: &str,
    name: &str,
    container: &str,
) -> Result<LogObservation, Error> {
    let what = || format!("reading the log of container {container} of pod {name}");
    let source = LogSource {
        container,
        previous: false,
    };
    bounded(
        CALL_TIMEOUT,
        what,
        stream_log(client, ns, name, source, None, &[]),
    )
    .await
}

/// Which log of a pod: a container's, its current run's or its previous one's.
#[derive(Clone, Copy)]
struct LogSource<'a> {
    container: &'a str,
    previous: bool,
}

async fn stream_log(
    client: &Client,
    ns: &str,
    name: &str,
    source: LogSource<'_>,
    limit: Option<i64>,
    needles: &[String],
) -> Result<LogObservation, Error> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let params = LogParams {
        container: Some(source.container.into()),
        previous: source.previous,
        limit_bytes: limit,
        ..LogParams::default()
    };
    enter(|| format!("requesting the log of pod {name}"));
    let stream = api
        .log_stream(name, &params)
        .await
        .map_err(|source| Error::ReadLog {
            name: name.into(),
            source,
        })?;
    futures::pin_mut!(stream);
    enter(|| format!("reading the log of pod {name}"));
    let mut counter = LogCounter::looking_for(needles);
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| Error::ReadLogStream {
                name: name.into(),
                message: e.to_string(),
            })?;
        if n == 0 {
            break;
        }
        counter.feed(&buf[..n]);
        total += n as u64;
        if total >= MAX_LOG_BYTES {
            counter.cut();
            break;
        }
    }
    let observed = counter.finish();
    if let Some(notice) = observed.kubelet_notice() {
        // Handled as the API server's refusal of a log it does not have (the callers turn a
        // 404 into `LogUnavailable`, or judge its absence), with the kubelet's own words.
        let message = format!("the kubelet no longer has the container's log: {notice}");
        return Err(Error::ReadLog {
            name: name.into(),
            source: kube::Error::Api(
                kube::core::Status::failure(&message, "NotFound")
                    .with_code(404)
                    .boxed(),
            ),
        });
    }
    Ok(observed)
}

/// Runs `command` in the probe container and reads its exit status from the status channel.
/// Returns what the exec reported, its stdout and its stderr (each bounded). An exec still
/// running after `limit` (the time its probe has left) is observed as not finished.
pub async fn exec(
    client: &Client,
    ns: &str,
    pod: &str,
    container: &str,
    command: Vec<String>,
    limit: Duration,
) -> Result<(ExecObservation, String, String), Error> {
    match tokio::time::timeout(limit, run_exec(client, ns, pod, container, command)).await {
        Ok(result) => result,
        Err(_) => Ok((
            ExecObservation {
                exit_code: None,
                error: Some(format!(
                    "the exec did not finish within {}s (the time its probe had left)",
                    limit.as_secs()
                )),
            },
            String::new(),
            String::new(),
        )),
    }
}

async fn run_exec(
    client: &Client,
    ns: &str,
    pod: &str,
    container: &str,
    command: Vec<String>,
) -> Result<(ExecObservation, String, String), Error> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let params = AttachParams::default()
        .container(container)
        .stdin(false)
        .stdout(true)
        .stderr(true);
    enter(|| format!("exec in pod {pod}: connecting"));
    let mut process = match api.exec(pod, command, &params).await {
        Ok(p) => p,
        Err(kube::Error::Api(s)) => {
            // The API server refused before any process ran (e.g. the container is gone).
            return Ok((
                ExecObservation {
                    exit_code: None,
                    error: Some(s.message),
                },
                String::new(),
                String::new(),
            ));
        }
        Err(source) => {
            return Err(Error::Exec {
                name: pod.into(),
                source,
            });
        }
    };
    let status = process.take_status();
    // Both halves at once: a full stderr buffer must not stall the stdout reader. Each is
    // streamed through and only its tail kept, so an exec printing gigabytes costs no memory.
    let drain = |half: Option<tokio::io::ReadHalf<tokio::io::SimplexStream>>| async move {
        let mut tail = OutputTail::default();
        if let Some(mut half) = half {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = half.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                tail.feed(&buf[..n]);
            }
        }
        tail.text()
    };
    enter(|| format!("exec in pod {pod}: reading its output"));
    let (stdout, stderr) = futures::join!(drain(process.stdout()), drain(process.stderr()));
    enter(|| format!("exec in pod {pod}: waiting for its exit status"));
    let status = match status {
        Some(status) => status.await,
        None => None,
    };
    enter(|| format!("exec in pod {pod}: closing"));
    let _ = process.join().await;
    let observation = match status {
        Some(s) if s.status.as_deref() == Some("Success") => ExecObservation {
            exit_code: Some(0),
            error: None,
        },
        Some(s) if s.reason.as_deref() == Some("NonZeroExitCode") => {
            let code = s
                .details
                .as_ref()
                .and_then(|d| d.causes.as_ref())
                .and_then(|causes| {
                    causes
                        .iter()
                        .find(|c| c.reason.as_deref() == Some("ExitCode"))
                })
                .and_then(|c| c.message.as_deref())
                .and_then(|m| m.parse().ok());
            match code {
                Some(code) => ExecObservation {
                    exit_code: Some(code),
                    error: None,
                },
                None => ExecObservation {
                    exit_code: None,
                    error: s.message,
                },
            }
        }
        Some(s) => ExecObservation {
            exit_code: None,
            error: Some(s.message.unwrap_or_else(|| "exec failed".into())),
        },
        None => ExecObservation {
            exit_code: None,
            error: Some("the exec ended without a status".into()),
        },
    };
    Ok((observation, stdout, stderr))
}

/// How [`converse`] reaches a container's process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    /// A new process, this command, with a terminal (`tty` and `stdin`).
    ExecWithTty(Vec<String>),
    /// The container's own process, through attach (its stdin and stdout; the container must
    /// have `stdin: true`).
    Attach,
}

/// What a conversation with a container showed: what it wrote (its tail), whether that held
/// what was waited for, and (exec) how the process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversation {
    pub output: String,
    pub heard: bool,
    pub exit: Option<ExecObservation>,
}

/// What [`converse`] says and waits for.
pub struct Lines<'a> {
    /// Written first.
    pub say: &'a [u8],
    /// Waited for in what comes back.
    pub until: &'a str,
    /// Written once heard (or not), before stdin is closed: an EOT, a last line.
    pub then: &'a [u8],
}

/// Writes `lines.say` to a container's process (see [`Reach`]), reads its stdout until it holds
/// `lines.until` (at most `limit`), then writes `lines.then` and closes its stdin; for an exec,
/// waits for its exit status too (within `limit` again).
pub async fn converse(
    client: &Client,
    ns: &str,
    pod: &str,
    container: &str,
    reach: Reach,
    lines: Lines<'_>,
    limit: Duration,
) -> Result<Conversation, Error> {
    let Lines { say, until, then } = lines;
    use tokio::io::AsyncWriteExt;
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let params = AttachParams::default()
        .container(container)
        .stdin(true)
        .stdout(true)
        .stderr(false);
    enter(|| format!("{reach:?} in pod {pod}: connecting"));
    let opened = match &reach {
        Reach::ExecWithTty(command) => api.exec(pod, command.clone(), &params.tty(true)).await,
        Reach::Attach => api.attach(pod, &params).await,
    };
    let mut process = match opened {
        Ok(p) => p,
        Err(kube::Error::Api(s)) => {
            return Ok(Conversation {
                output: String::new(),
                heard: false,
                exit: Some(ExecObservation {
                    exit_code: None,
                    error: Some(s.message),
                }),
            });
        }
        Err(source) => {
            return Err(Error::Exec {
                name: pod.into(),
                source,
            });
        }
    };
    let status = process.take_status();
    let (Some(mut stdin), Some(mut stdout)) = (process.stdin(), process.stdout()) else {
        return Err(Error::ReadLogStream {
            name: pod.into(),
            message: "the stream has no stdin or stdout".into(),
        });
    };
    let mut tail = OutputTail::default();
    let mut heard = false;
    let talk = async {
        stdin.write_all(say).await?;
        let mut buf = vec![0u8; 4096];
        loop {
            let n = stdout.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            tail.feed(&buf[..n]);
            if tail.text().contains(until) {
                heard = true;
                break;
            }
        }
        stdin.write_all(then).await?;
        stdin.flush().await?;
        // What `then` makes of the process (an EOT ends `cat`, a last line the container):
        // read on until its stdout ends, so the bytes are through before the stream closes.
        while stdout.read(&mut buf).await? > 0 {}
        stdin.shutdown().await?;
        Ok::<_, std::io::Error>(())
    };
    enter(|| format!("{reach:?} in pod {pod}: talking"));
    // A stream that ends or breaks early is what the conversation showed, not an error.
    let _ = tokio::time::timeout(limit, talk).await;
    let exit = match (&reach, status) {
        (Reach::ExecWithTty(_), Some(status)) => {
            enter(|| format!("exec in pod {pod}: waiting for its exit status"));
            Some(match tokio::time::timeout(limit, status).await {
                Ok(Some(s)) if s.status.as_deref() == Some("Success") => ExecObservation {
                    exit_code: Some(0),
                    error: None,
                },
                Ok(Some(s)) => ExecObservation {
                    exit_code: None,
                    error: Some(s.message.unwrap_or_else(|| "exec failed".into())),
                },
                Ok(None) => ExecObservation {
                    exit_code: None,
                    error: Some("the exec ended without a status".into()),
                },
                Err(_) => ExecObservation {
                    exit_code: None,
                    error: Some(format!("no exit status within {}s", limit.as_secs())),
                },
            })
        }
        _ => None,
    };
    process.abort();
    Ok(Conversation {
        output: tail.text(),
        heard,
        exit,
    })
}

/// The last [`MAX_EXEC_OUTPUT`] bytes of a stream, and how many bytes it had.
#[derive(Debug, Default)]
pub struct OutputTail {
    tail: std::collections::VecDeque<u8>,
    total: u64,
}

impl OutputTail {
    pub fn feed(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        let chunk = &chunk[chunk.len().saturating_sub(MAX_EXEC_OUTPUT)..];
        let excess = (self.tail.len() + chunk.len()).saturating_sub(MAX_EXEC_OUTPUT);
        self.tail.drain(..excess);
        self.tail.extend(chunk);
    }

    /// The tail as text, said to be one when the stream was longer.
    pub fn text(&self) -> String {
        let (a, b) = self.tail.as_slices();
        let bytes = [a, b].concat();
        let text = String::from_utf8_lossy(&bytes);
        if self.total > self.tail.len() as u64 {
            format!("[last {} of {} bytes] {text}", self.tail.len(), self.total)
        } else {
            text.into_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_output_keeps_its_tail_and_counts_the_rest() {
        let mut tail = OutputTail::default();
        tail.feed(b"short");
        assert_eq!(tail.text(), "short");
        for _ in 0..1000 {
            tail.feed(&[b'x'; 1000]);
        }
        tail.feed(b"the end");
        let text = tail.text();
        assert!(
            text.starts_with(&format!("[last {MAX_EXEC_OUTPUT} of 1000012 bytes] xxx")),
            "{text}"
        );
        assert!(text.ends_with("xthe end"), "{text}");
        assert!(tail.tail.len() <= MAX_EXEC_OUTPUT);
    }
}
