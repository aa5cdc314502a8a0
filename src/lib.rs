//! Proctor: a Kubernetes operator that runs container-runtime and node behaviour probes as
//! `TestRun` custom resources and records a verdict per probe.
//!
//! The operator itself is being built (see the issues); this crate currently carries the test
//! suite that runs against the real single-node test cluster in `tests/cluster/`.
