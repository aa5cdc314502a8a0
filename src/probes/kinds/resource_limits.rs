//! `resourceLimits`: the container's memory limit, CPU limit (CFS quota over period) and CPU
//! request (shares on cgroup v1, weight on v2) are the ones its cgroup enforces. Catches a
//! runtime that leaves the container's cgroup unlimited or converts the values wrongly.
//!
//! The test cluster has cgroup v1 only: the v2 reading (`memory.max`, `cpu.max`, `cpu.weight`)
//! is judged in the unit tests from a fixture written in the kernel's documented formats, not
//! on a real node.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PodSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::{Kind, ProbeKind, field, limit_holder, log_text, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, check, equal, finished_pod, log_missing};

pub const MEMORY_MIB: i64 = 48;
pub const CPU_LIMIT_MILLIS: i64 = 500;
pub const CPU_REQUEST_MILLIS: i64 = 250;
/// The CFS period Kubernetes uses.
const PERIOD_US: i64 = 100_000;

/// The cgroup files the probe reads, relative to /sys/fs/cgroup (v1 paths, then v2 ones).
const FILES: [&str; 7] = [
    "memory/memory.limit_in_bytes",
    "cpu/cpu.cfs_quota_us",
    "cpu/cpu.cfs_period_us",
    "cpu/cpu.shares",
    "memory.max",
    "cpu.max",
    "cpu.weight",
];

pub const KIND: Kind = Kind {
    name: "resourceLimits",
    resolve,
    entry: Entry {
        kind: "resourceLimits",
        checks: "the container's cgroup enforces its memory limit, its CPU limit as CFS quota/period and its CPU request as shares (v1) or weight (v2)",
        parameters: "-",
        runs: "reads its own cgroup's memory and cpu files, with limits 48Mi and 500m and a 250m CPU request",
        catches: "a container cgroup left unlimited, or limits converted wrongly (quota, period, shares, weight)",
        faults: "isolation",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    probe
        .resource_limits
        .as_ref()
        .map(|_| ProbeKind::ResourceLimits)
}

pub fn shape(spec: &mut PodSpec) {
    let Some(container) = spec.containers.first_mut() else {
        return;
    };
    let memory = Quantity(format!("{MEMORY_MIB}Mi"));
    container.resources = Some(ResourceRequirements {
        limits: Some(BTreeMap::from([
            ("memory".to_owned(), memory.clone()),
            ("cpu".to_owned(), Quantity(format!("{CPU_LIMIT_MILLIS}m"))),
        ])),
        requests: Some(BTreeMap::from([
            ("memory".to_owned(), memory),
            ("cpu".to_owned(), Quantity(format!("{CPU_REQUEST_MILLIS}m"))),
        ])),
        ..ResourceRequirements::default()
    });
    script(
        container,
        r#"for f; do [ -r "/sys/fs/cgroup/$f" ] && echo "$f: $(cat "/sys/fs/cgroup/$f")"; done; true"#,
        &FILES,
    );
    // A sidecar without limits leaves the pod's cgroup unlimited: a container that a runtime
    // left in its pod's cgroup would read no limit at all, not its own (as oomKill's holder).
    let holder = limit_holder(container);
    spec.init_containers = Some(vec![holder]);
}

/// Kubernetes' conversion of a CPU request to cgroup v1 shares and to v2 weight.
pub fn shares(millis: i64) -> i64 {
    (millis * 1024 / 1000).max(2)
}
pub fn weight(shares: i64) -> i64 {
    1 + ((shares - 2) * 9999) / 262_142
}
/// The conversion runc (1.3.2 and later) and crun (1.23 and later) use instead, which maps the
/// default 1024 shares to the default weight 100: `ceil(10^((l² + 125 l) / 612 - 7/34))` with
/// `l = log2(shares)` (taken from those projects' change notes; no cgroup v2 machine here to
/// see it on).
pub fn weight_quadratic(shares: i64) -> i64 {
    if shares <= 2 {
        return 1;
    }
    if shares >= 262_144 {
        return 10_000;
    }
    let l = (shares as f64).log2();
    10f64.powf((l * l + 125.0 * l) / 612.0 - 7.0 / 34.0).ceil() as i64
}

pub fn judge(evidence: &Evidence) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("resourceLimits");
        };
        let memory = MEMORY_MIB * 1024 * 1024;
        let quota = CPU_LIMIT_MILLIS * PERIOD_US / 1000;
        let want_shares = shares(CPU_REQUEST_MILLIS);
        let mut checks = vec![equal("exitCode", 0, t.exit_code)];
        let read = |f: &str| field(log, f).unwrap_or("not readable").to_owned();
        if field(log, FILES[0]).is_some() {
            checks.push(equal("memoryLimit", memory.to_string(), read(FILES[0])));
            checks.push(equal(
                "cpuQuota",
                format!("{quota}/{PERIOD_US}"),
                format!("{}/{}", read(FILES[1]), read(FILES[2])),
            ));
            checks.push(equal("cpuShares", want_shares.to_string(), read(FILES[3])));
        } else if field(log, FILES[4]).is_some() {
            checks.push(equal("memoryLimit", memory.to_string(), read(FILES[4])));
            let cpu_max = read(FILES[5])
                .split_whitespace()
                .collect::<Vec<_>>()
                .join("/");
            checks.push(equal("cpuQuota", format!("{quota}/{PERIOD_US}"), cpu_max));
            let (linear, quadratic) = (weight(want_shares), weight_quadratic(want_shares));
            checks.push(check(
                "cpuWeight",
                format!("{linear} or {quadratic}"),
                read(FILES[6]),
                [linear, quadratic]
                    .map(|w| w.to_string())
                    .contains(&read(FILES[6])),
            ));
        } else {
            checks.push(check(
                "cgroup",
                "cgroup v1 or v2 files",
                "neither readable",
                false,
            ));
        }
        Outcome::from_checks(
            checks,
            format!(
                "the cgroup enforces {MEMORY_MIB}Mi, {CPU_LIMIT_MILLIS}m as {quota}/{PERIOD_US} and a {CPU_REQUEST_MILLIS}m request"
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::{LogObservation, PodObservation};

    fn judged(log: &str) -> Outcome {
        let pod: k8s_openapi::api::core::v1::Pod =
            serde_json::from_str(include_str!("../../../tests/fixtures/pods/exit-0.json")).unwrap();
        let evidence = Evidence {
            pods: vec![PodObservation::of(&pod)],
            log: Some(LogObservation::of(log.as_bytes())),
            ..Evidence::default()
        };
        judge(&evidence).unwrap()
    }

    /// cgroup v2, in the formats the kernel documents (`memory.max` in bytes, `cpu.max` as
    /// "QUOTA PERIOD", `cpu.weight`) with Kubernetes' shares-to-weight conversion. Written by
    /// hand, not captured: no machine of this project has cgroup v2.
    #[test]
    fn cgroup_v2_files_are_judged_with_the_v2_conversions() {
        let v2 = include_str!("../../../tests/fixtures/logs/resource-limits-cgroup-v2.txt");
        let outcome = judged(v2);
        assert_eq!(outcome.verdict, crate::api::Verdict::Passed, "{outcome:?}");
        assert_eq!(weight(shares(250)), 10);
        assert_eq!(weight_quadratic(shares(250)), 35);
        assert_eq!(weight_quadratic(1024), 100);
        let quadratic = v2.replace("cpu.weight: 10", "cpu.weight: 35");
        assert_eq!(judged(&quadratic).verdict, crate::api::Verdict::Passed);
        let unlimited = v2.replace("memory.max: 50331648", "memory.max: max");
        assert_eq!(judged(&unlimited).reason, "MemoryLimitMismatch");
        let wrong_weight = v2.replace("cpu.weight: 10", "cpu.weight: 100");
        assert_eq!(judged(&wrong_weight).reason, "CpuWeightMismatch");
    }
}
