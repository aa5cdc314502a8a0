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
        stream_log(client, ns, name, limit, needles),
    )
    .await
}

async fn stream_log(
    client: &Client,
    ns: &str,
    name: &str,
    limit: Option<i64>,
    needles: &[String],
) -> Result<LogObservation, Error> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let params = LogParams {
        container: Some(CONTAINER.into()),
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
    Ok(counter.finish())
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
