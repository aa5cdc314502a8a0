//! The operator's HTTP endpoints: `/metrics` (Prometheus text format), `/healthz` (the process
//! answers) and `/readyz`: a standby is ready once it reached the API server (so that a rollout
//! of several replicas completes), the leader once its caches hold their first complete lists.
//! A deliberately small HTTP/1.1 responder: GET only, one request per connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Shared state the endpoints report.
#[derive(Default)]
pub struct Health {
    /// Set once the process is up and has reached the API server.
    pub ready: AtomicBool,
    /// Set while this replica holds the leader lease.
    pub leading: AtomicBool,
    /// Set by the controller once its caches of runs and pods are filled.
    pub synced: Arc<AtomicBool>,
    /// The registry `/metrics` serves (the controller's, and its client's write counts).
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// Serves the endpoints on `listener` until the process ends.
pub async fn serve(listener: TcpListener, health: Arc<Health>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let health = health.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(10), answer(stream, &health)).await;
        });
    }
}

async fn answer(mut stream: TcpStream, health: &Health) -> std::io::Result<()> {
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    // Read until the end of the request head (or a full buffer: the request line is all we use).
    while len < buf.len() {
        let n = stream.read(&mut buf[len..]).await?;
        if n == 0 {
            break;
        }
        len += n;
        if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let head = String::from_utf8_lossy(&buf[..len]);
    let (status, content_type, body) = respond(head.lines().next().unwrap_or(""), health);
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// Status line, content type and body for a request line.
fn respond(request_line: &str, health: &Health) -> (&'static str, &'static str, String) {
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    const TEXT: &str = "text/plain; charset=utf-8";
    if method != "GET" {
        return ("405 Method Not Allowed", TEXT, "GET only\n".into());
    }
    match path {
        "/metrics" => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            health.metrics.render(),
        ),
        "/healthz" => ("200 OK", TEXT, "ok\n".into()),
        "/readyz" => {
            let reached = health.ready.load(Ordering::Relaxed);
            let leading = health.leading.load(Ordering::Relaxed);
            let synced = health.synced.load(Ordering::Relaxed);
            match (reached, leading, synced) {
                (false, _, _) => (
                    "503 Service Unavailable",
                    TEXT,
                    "not ready: the API server has not answered yet\n".into(),
                ),
                (true, false, _) => ("200 OK", TEXT, "ok (standby)\n".into()),
                (true, true, true) => ("200 OK", TEXT, "ok (leader)\n".into()),
                (true, true, false) => (
                    "503 Service Unavailable",
                    TEXT,
                    "not ready: leading, its caches are not filled yet\n".into(),
                ),
            }
        }
        _ => ("404 Not Found", TEXT, "not found\n".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_answer_as_documented() {
        let health = Health::default();
        assert_eq!(respond("GET /healthz HTTP/1.1", &health).0, "200 OK");
        assert_eq!(
            respond("GET /readyz HTTP/1.1", &health).0,
            "503 Service Unavailable"
        );
        health.ready.store(true, Ordering::Relaxed);
        let (status, _, body) = respond("GET /readyz HTTP/1.1", &health);
        assert_eq!((status, body.as_str()), ("200 OK", "ok (standby)\n"));
        // A leader is ready only once its caches are filled.
        health.leading.store(true, Ordering::Relaxed);
        let (status, _, body) = respond("GET /readyz HTTP/1.1", &health);
        assert_eq!(status, "503 Service Unavailable", "{body}");
        health.synced.store(true, Ordering::Relaxed);
        let (status, _, body) = respond("GET /readyz HTTP/1.1", &health);
        assert_eq!((status, body.as_str()), ("200 OK", "ok (leader)\n"));
        assert_eq!(respond("GET /nope HTTP/1.1", &health).0, "404 Not Found");
        assert_eq!(
            respond("POST /metrics HTTP/1.1", &health).0,
            "405 Method Not Allowed"
        );
        health.metrics.write("patch", "testruns/status");
        let (status, content_type, body) = respond("GET /metrics?x=1 HTTP/1.1", &health);
        assert_eq!(status, "200 OK");
        assert!(content_type.starts_with("text/plain; version=0.0.4"));
        assert!(body.contains("proctor_api_writes_total"), "{body}");
    }

    #[tokio::test]
    async fn serves_over_tcp() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let health = Arc::new(Health::default());
        let server = tokio::spawn(serve(listener, health));
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        server.abort();
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.ends_with("\r\n\r\nok\n"), "{response}");
    }
}
