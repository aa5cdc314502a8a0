//! `runAsIdentity`: the pod's `runAsUser`, `runAsGroup` and `supplementalGroups` reach the
//! process as its real, effective, saved and filesystem ids and its groups. Catches a runtime
//! that runs the image's user (or root) instead, sets only some of the ids, or drops the
//! supplementary groups.

use k8s_openapi::api::core::v1::PodSpec;

use super::{Kind, ProbeKind, field, log_text, script};
use crate::api::Probe;
use crate::probes::catalog::Entry;
use crate::verdict::{Evidence, Outcome, check, equal, finished_pod, log_missing};

pub const DEFAULT_USER: i64 = 2001;
pub const DEFAULT_GROUP: i64 = 2002;
pub const DEFAULT_SUPPLEMENTAL_GROUPS: [i64; 2] = [2003, 2004];

pub const KIND: Kind = Kind {
    name: "runAsIdentity",
    resolve,
    entry: Entry {
        kind: "runAsIdentity",
        checks: "runAsUser, runAsGroup and supplementalGroups are the process's real, effective, saved and filesystem ids and its groups",
        parameters: "user (default 2001), group (default 2002), supplementalGroups (default [2003, 2004])",
        runs: "reads Uid, Gid and Groups in /proc/self/status",
        catches: "the image's user (or root) run instead of runAsUser; ids set only in part; supplementary groups dropped",
        faults: "security",
    },
};

fn resolve(probe: &Probe) -> Option<ProbeKind> {
    let p = probe.run_as_identity.as_ref()?;
    Some(ProbeKind::RunAsIdentity {
        user: p.user.unwrap_or(DEFAULT_USER),
        group: p.group.unwrap_or(DEFAULT_GROUP),
        supplemental_groups: p
            .supplemental_groups
            .clone()
            .unwrap_or_else(|| DEFAULT_SUPPLEMENTAL_GROUPS.to_vec()),
    })
}

pub fn shape(user: i64, group: i64, supplemental_groups: &[i64], spec: &mut PodSpec) {
    if let Some(context) = spec.security_context.as_mut() {
        context.run_as_user = Some(user);
        context.run_as_group = Some(group);
        context.supplemental_groups = Some(supplemental_groups.to_vec());
        // No fsGroup: it would be one more group of the process.
        context.fs_group = None;
    }
    if let Some(container) = spec.containers.first_mut() {
        script(
            container,
            "grep -E '^(Uid|Gid|Groups):' /proc/self/status",
            &[],
        );
    }
}

fn ids(text: &str) -> Vec<i64> {
    text.split_whitespace()
        .filter_map(|id| id.parse().ok())
        .collect()
}

fn listed(ids: &[i64]) -> String {
    if ids.is_empty() {
        return "none".into();
    }
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(" ")
}

pub fn judge(
    user: i64,
    group: i64,
    supplemental_groups: &[i64],
    evidence: &Evidence,
) -> Option<Outcome> {
    finished_pod(evidence, |_, t| {
        let Some(log) = log_text(evidence) else {
            return log_missing("runAsIdentity");
        };
        let uids = ids(field(log, "Uid").unwrap_or_default());
        let gids = ids(field(log, "Gid").unwrap_or_default());
        let mut groups = ids(field(log, "Groups").unwrap_or_default());
        groups.sort_unstable();
        groups.dedup();
        let mut wanted = supplemental_groups.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let mut with_primary = wanted.clone();
        with_primary.push(group);
        with_primary.sort_unstable();
        with_primary.dedup();
        // Some runtimes list the primary group among the groups too; none may add another.
        let groups_ok = groups == wanted || groups == with_primary;
        Outcome::from_checks(
            vec![
                equal("exitCode", 0, t.exit_code),
                equal("uids", listed(&[user; 4]), listed(&uids)),
                equal("gids", listed(&[group; 4]), listed(&gids)),
                check(
                    "groups",
                    format!("{} (and {group})", listed(&wanted)),
                    listed(&groups),
                    groups_ok,
                ),
            ],
            format!(
                "the process ran as uid {user}, gid {group}, groups {}",
                listed(&groups)
            ),
        )
    })
}
