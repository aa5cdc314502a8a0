//! Proctor: a Kubernetes operator that runs container-runtime and node behaviour probes as
//! `TestRun` custom resources and records a verdict per probe.
//!
//! - [`api`]: the `TestRun` resource (`proctor.dev/v1alpha1`) and Proctor's label names.
//! - [`cli`]: `proctor run` and `proctor report`: apply, follow, report, exit codes.
//! - [`controller`]: the operator: reconcile loop, side effects, run status.
//! - [`crd`]: the CustomResourceDefinition as YAML, generated from the Rust types.
//! - [`defaults`]: the cluster's defaults for Proctor (the probe image), from a ConfigMap.
//! - [`leader`]: leader election on a Lease, so that one replica of several reconciles.
//! - [`metrics`]: Prometheus metrics in a registry of their own.
//! - [`serve`]: the HTTP endpoints `/metrics`, `/healthz`, `/readyz`.
//! - [`report`]: pure: a run as a table, JSON, JUnit XML or an HTML page.
//! - [`probes`]: pure: probe kinds with defaults resolved, and the pods each one runs.
//! - [`verdict`]: pure: observations of pods, logs and execs to checks and verdicts.

#![forbid(unsafe_code)]

pub mod api;
pub mod cli;
pub mod controller;
pub mod crd;
pub mod defaults;
pub mod leader;
pub mod metrics;
pub mod probes;
pub mod report;
pub mod serve;
pub mod verdict;
