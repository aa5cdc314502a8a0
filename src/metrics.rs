//! Prometheus metrics of the operator, in a registry of its own, served on `/metrics`.
//!
//! Labels are bounded sets: probe kinds, verdicts, run phases, error categories, API verbs and
//! resources. Never an object name.

use std::sync::Arc;
use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

/// The operator's metrics.
pub struct Metrics {
    registry: Registry,
    /// Runs that ended, by phase (Succeeded, Failed, Error).
    pub runs: IntCounterVec,
    /// Probes that got a verdict, by kind and verdict.
    pub probes: IntCounterVec,
    /// From a probe's start to its verdict, by kind.
    pub probe_duration: HistogramVec,
    /// From the probe pod's end (its container's finish time) to the verdict being written.
    pub verdict_latency: HistogramVec,
    /// One reconcile of one run.
    pub reconcile_duration: HistogramVec,
    /// Failed reconciles, by error category.
    pub reconcile_errors: IntCounterVec,
    /// Writes to the API server, by verb and resource.
    pub api_writes: IntCounterVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

/// The layer of [`Metrics::counting_writes`].
#[derive(Clone)]
pub struct CountWritesLayer(Arc<Metrics>);

impl<S> tower::Layer<S> for CountWritesLayer {
    type Service = CountWrites<S>;

    fn layer(&self, inner: S) -> CountWrites<S> {
        CountWrites {
            inner,
            metrics: Arc::clone(&self.0),
        }
    }
}

/// A client service that counts the writes the API server accepted (2xx, or 101 for an exec).
#[derive(Clone)]
pub struct CountWrites<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, B> tower::Service<http::Request<kube::client::Body>> for CountWrites<S>
where
    S: tower::Service<http::Request<kube::client::Body>, Response = http::Response<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<kube::client::Body>) -> Self::Future {
        let write = write_of(request.method(), request.uri().path());
        let metrics = Arc::clone(&self.metrics);
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            let status = response.status();
            if let Some((verb, resource)) = write
                && (status.is_success() || status == http::StatusCode::SWITCHING_PROTOCOLS)
            {
                metrics.write(verb, &resource);
            }
            Ok(response)
        })
    }
}

/// The verb and resource of a request that writes (`("patch", "testruns/status")`), from its
/// method and path; `None` for a read. An exec or attach (a GET that upgrades) creates.
pub fn write_of(method: &http::Method, path: &str) -> Option<(&'static str, String)> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    // /api/v1/... or /apis/<group>/<version>/...
    let rest = match segments.as_slice() {
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => return None,
    };
    let rest = match rest {
        ["namespaces", _namespace, rest @ ..] if !rest.is_empty() => rest,
        rest => rest,
    };
    let (resource, subresource) = match rest {
        [resource] | [resource, _] => (*resource, None),
        [resource, _, sub, ..] => (*resource, Some(*sub)),
        [] => return None,
    };
    let resource = match subresource {
        Some(sub) => format!("{resource}/{sub}"),
        None => resource.to_owned(),
    };
    let verb = match *method {
        http::Method::POST => "create",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE => "delete",
        http::Method::GET if matches!(subresource, Some("exec" | "attach")) => "create",
        _ => return None,
    };
    Some((verb, resource))
}

const SECONDS_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0,
];

impl Metrics {
    // The definitions are constants: an invalid one is a programming error, which the unit test
    // below catches before any release.
    #[allow(clippy::expect_used)]
    pub fn new() -> Metrics {
        let registry =
            Registry::new_custom(Some("proctor".into()), None).expect("valid registry prefix");
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)
                .expect("valid counter definition");
            registry
                .register(Box::new(c.clone()))
                .expect("unique counter name");
            c
        };
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            let h = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(SECONDS_BUCKETS.to_vec()),
                labels,
            )
            .expect("valid histogram definition");
            registry
                .register(Box::new(h.clone()))
                .expect("unique histogram name");
            h
        };
        Metrics {
            runs: counter("runs_total", "TestRuns that ended, by phase.", &["phase"]),
            probes: counter(
                "probes_total",
                "Probes that got a verdict, by kind and verdict.",
                &["kind", "verdict"],
            ),
            probe_duration: histogram(
                "probe_duration_seconds",
                "From a probe's start to its verdict, by kind.",
                &["kind"],
            ),
            verdict_latency: histogram(
                "verdict_latency_seconds",
                "From the probe pod's container ending to the verdict being written.",
                &["kind"],
            ),
            reconcile_duration: histogram(
                "reconcile_duration_seconds",
                "Duration of one reconcile of one TestRun.",
                &[],
            ),
            reconcile_errors: counter(
                "reconcile_errors_total",
                "Reconciles that failed, by error category.",
                &["category"],
            ),
            api_writes: counter(
                "api_writes_total",
                "Writes to the API server, by verb and resource.",
                &["verb", "resource"],
            ),
            registry,
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }

    pub fn write(&self, verb: &str, resource: &str) {
        self.api_writes.with_label_values(&[verb, resource]).inc();
    }

    /// A client layer that counts each write the API server accepted (by verb and resource) in
    /// `api_writes`: where the requests go out, so that no write goes uncounted, and a refused
    /// one (a conflict, a denial) is not counted as done.
    pub fn counting_writes(self: &Arc<Self>) -> CountWritesLayer {
        CountWritesLayer(Arc::clone(self))
    }

    pub fn observe(histogram: &HistogramVec, labels: &[&str], d: Duration) {
        histogram.with_label_values(labels).observe(d.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_registered_and_rendered_with_the_proctor_prefix() {
        let m = Metrics::new();
        m.runs.with_label_values(&["Succeeded"]).inc();
        m.probes.with_label_values(&["exitCode", "Passed"]).inc();
        Metrics::observe(&m.probe_duration, &["exitCode"], Duration::from_secs(2));
        Metrics::observe(
            &m.verdict_latency,
            &["exitCode"],
            Duration::from_millis(300),
        );
        Metrics::observe(&m.reconcile_duration, &[], Duration::from_millis(20));
        m.reconcile_errors.with_label_values(&["create"]).inc();
        m.write("create", "pods");
        let text = m.render();
        for name in [
            "proctor_runs_total{phase=\"Succeeded\"}",
            "proctor_probes_total{kind=\"exitCode\",verdict=\"Passed\"}",
            "proctor_probe_duration_seconds_bucket{kind=\"exitCode\",le=\"2.5\"}",
            "proctor_verdict_latency_seconds_count{kind=\"exitCode\"}",
            "proctor_reconcile_duration_seconds_count",
            "proctor_reconcile_errors_total{category=\"create\"}",
            "proctor_api_writes_total{resource=\"pods\",verb=\"create\"}",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }

    #[test]
    fn writes_are_told_from_reads_by_verb_and_resource() {
        use http::Method;
        let cases = [
            (
                Method::POST,
                "/api/v1/namespaces/ns/pods",
                Some(("create", "pods")),
            ),
            (
                Method::DELETE,
                "/api/v1/namespaces/ns/pods/p-0",
                Some(("delete", "pods")),
            ),
            (
                Method::PATCH,
                "/api/v1/namespaces/ns/pods/p-0",
                Some(("patch", "pods")),
            ),
            (
                Method::PATCH,
                "/apis/proctor.dev/v1alpha1/namespaces/ns/testruns/r/status",
                Some(("patch", "testruns/status")),
            ),
            (
                Method::POST,
                "/apis/events.k8s.io/v1/namespaces/ns/events",
                Some(("create", "events")),
            ),
            (
                Method::PUT,
                "/apis/coordination.k8s.io/v1/namespaces/ns/leases/l",
                Some(("update", "leases")),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/ns/pods/p-0/exec",
                Some(("create", "pods/exec")),
            ),
            (
                Method::POST,
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                Some(("create", "customresourcedefinitions")),
            ),
            (Method::GET, "/api/v1/namespaces/ns/pods/p-0/log", None),
            (Method::GET, "/api/v1/pods", None),
            (Method::GET, "/version", None),
        ];
        for (method, path, expected) in cases {
            let got = write_of(&method, path);
            assert_eq!(
                got.as_ref().map(|(v, r)| (*v, r.as_str())),
                expected,
                "{method} {path}"
            );
        }
    }
}
