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

/// Names of the pods of one run: `<run, at most 9 chars>-<6 hex of the run UID>-<probe>-<attempt>`
/// and `-<index>` for kinds with several pods. With probe names of at most 40 characters, up to
/// 100 attempts and 100 pods per attempt, the name fits in 63 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodNames {
    prefix: String,
}

impl PodNames {
    pub fn new(run_name: &str, run_uid: &str) -> PodNames {
        let short: String = run_name.chars().take(9).collect();
        let short = short.trim_end_matches(['-', '.']);
        let hash = fnv1a64(&[run_uid]) & 0xff_ffff;
        let prefix = if short.is_empty() {
            format!("pr-{hash:06x}")
        } else {
            format!("{short}-{hash:06x}")
        };
        PodNames { prefix }
    }

    /// The run's inspector pod (see [`super::inspector_pod`]).
    pub fn inspector(&self) -> String {
        format!("{}-inspector", self.prefix)
    }

    pub fn pod(&self, probe: &str, attempt: i32, index: Option<i32>) -> String {
        match index {
            Some(index) => format!("{}-{probe}-{attempt}-{index}", self.prefix),
            None => format!("{}-{probe}-{attempt}", self.prefix),
        }
    }
}
