//! Deterministic pod names: the same run, probe, attempt and index always give the same name,
//! so a controller that restarts mid-run finds the pods it already created (409 AlreadyExists
//! is success) instead of launching a probe twice.

/// FNV-1a over the parts, separated by a NUL byte. Stable across Rust versions and platforms,
/// unlike `std`'s hashers.
pub fn fnv1a64(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hash ^= 0;
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        for byte in part.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// Names of the pods of one run: `<run, at most 8 chars>-<6 hex of the run UID>-<probe>-<attempt>`
/// for kinds with one pod, and `...-<probe>-<attempt>-p<index>` for kinds with several.
///
/// Injective over (probe, attempt, index) within a run, whatever the probe names: a name whose
/// last part starts with `p` is a multi-pod one (probe names are DNS labels, so the probe is
/// what is left once `-<attempt>-p<index>` is cut off), any other ends in `-<attempt>` alone.
/// Without the `p`, probe `x` (pods `x-0-0`, `x-0-1`) and probe `x-0` (pod `x-0-0`) shared a pod.
/// With probe names of at most 40 characters, up to 100 attempts and 100 pods per attempt, the
/// name fits in 63 characters (a pod's hostname and a label value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodNames {
    prefix: String,
}

impl PodNames {
    pub fn new(run_name: &str, run_uid: &str) -> PodNames {
        let short: String = run_name.chars().take(8).collect();
        let short = short.trim_end_matches(['-', '.']);
        let hash = fnv1a64(&[run_uid]) & 0xff_ffff;
        let prefix = if short.is_empty() {
            format!("pr-{hash:06x}")
        } else {
            format!("{short}-{hash:06x}")
        };
        PodNames { prefix }
    }

    /// The run's inspector pod on `node` (see [`super::inspector_pod`]). It cannot be a probe
    /// pod's name: those end in `-<number>` or `-p<number>`, this in `-n<hex>` (48 bits of the
    /// node name's hash: two nodes of one fleet do not share an inspector).
    pub fn inspector(&self, node: &str) -> String {
        format!(
            "{}-inspector-n{:012x}",
            self.prefix,
            fnv1a64(&[node]) & 0xffff_ffff_ffff
        )
    }

    pub fn pod(&self, probe: &str, attempt: i32, index: Option<i32>) -> String {
        match index {
            Some(index) => format!("{}-{probe}-{attempt}-p{index}", self.prefix),
            None => format!("{}-{probe}-{attempt}", self.prefix),
        }
    }
}
