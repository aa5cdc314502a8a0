//! The probe catalog as `proctor catalog` prints it: every kind, what it checks, its parameters.

/// One probe kind.
pub struct Entry {
    pub kind: &'static str,
    pub checks: &'static str,
    pub parameters: &'static str,
}

pub const CATALOG: &[Entry] = &[
    Entry {
        kind: "exitCode",
        checks: "a container exiting with code N ends Failed with exit code N",
        parameters: "code (default 42)",
    },
    Entry {
        kind: "commandNotFound",
        checks: "a missing command ends the pod Failed (StartError, 128/127), never stuck",
        parameters: "-",
    },
    Entry {
        kind: "env",
        checks: "an env var reaches the process byte for byte",
        parameters: "name, value (default: '=', spaces, quotes, non-ASCII)",
    },
    Entry {
        kind: "stderr",
        checks: "text written to stderr reaches the pod log",
        parameters: "text",
    },
    Entry {
        kind: "processGroupKill",
        checks: "deleting the pod leaves none of its children on the node (hostPID inspector)",
        parameters: "children (default 2); needs spec.allowPrivileged",
    },
    Entry {
        kind: "concurrentStart",
        checks: "N pods created in one burst all reach Succeeded; start spread recorded",
        parameters: "pods (default 10)",
    },
    Entry {
        kind: "execExitCode",
        checks: "exec of `exit N` in a running container reports N",
        parameters: "code (default 7)",
    },
    Entry {
        kind: "execMissingBinary",
        checks: "exec of a missing binary fails and the pod keeps running",
        parameters: "-",
    },
    Entry {
        kind: "largeOutput",
        checks: "every line of `seq 1 N` (> 64 KiB) reaches the log, in order",
        parameters: "lines (default 20000)",
    },
    Entry {
        kind: "workingDir",
        checks: "the process runs in the container's workingDir",
        parameters: "path (default /tmp)",
    },
    Entry {
        kind: "gracefulShutdown",
        checks: "a deleted pod gets SIGTERM, exits 0 within its grace period; timeline recorded",
        parameters: "gracePeriodSeconds (default 10)",
    },
    Entry {
        kind: "readOnlyVolume",
        checks: "a write into a read-only mount is refused",
        parameters: "-",
    },
    Entry {
        kind: "rapidCreateDelete",
        checks: "N pods created and deleted at once are all gone in time; no leftovers on the node (with allowPrivileged)",
        parameters: "pods (default 10)",
    },
    Entry {
        kind: "oomKill",
        checks: "a container over its memory limit ends OOMKilled with exit code 137",
        parameters: "limitMiB (default 16)",
    },
    Entry {
        kind: "deadlineExceeded",
        checks: "a pod past activeDeadlineSeconds fails with DeadlineExceeded within 10 s",
        parameters: "seconds (default 5)",
    },
    Entry {
        kind: "terminationMessage",
        checks: "/dev/termination-log (or the log tail, with FallbackToLogsOnError) reaches the status",
        parameters: "text, fallbackToLogsOnError",
    },
    Entry {
        kind: "unicodeOutput",
        checks: "multi-byte UTF-8 (CJK, emoji, combining marks, RTL) reaches the log byte for byte",
        parameters: "text",
    },
    Entry {
        kind: "restartCount",
        checks: "a container failing k times under OnFailure shows restartCount k, then Succeeded",
        parameters: "failures (default 2)",
    },
    Entry {
        kind: "custom",
        checks: "a pod of your own, actions (exec, delete) and expectations from the same primitives",
        parameters: "command, env, workingDir, volumes, actions, expect, ...",
    },
];

/// The catalog as a table.
pub fn table() -> String {
    let width = CATALOG.iter().map(|e| e.kind.len()).max().unwrap_or(0);
    let mut out = format!("{:<width$}  CHECKS\n", "KIND");
    for e in CATALOG {
        out.push_str(&format!(
            "{:<width$}  {}\n{:<width$}  parameters: {}\n",
            e.kind, e.checks, "", e.parameters
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind the CRD accepts is in the catalog, and nothing else.
    #[test]
    fn the_catalog_lists_exactly_the_kinds_of_the_crd() {
        use kube::CustomResourceExt;
        let crd = serde_json::to_value(crate::api::TestRun::crd()).unwrap();
        let probe = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
            ["properties"]["probes"]["items"]["properties"];
        let not_kinds = [
            "name",
            "image",
            "runtimeClassName",
            "timeoutSeconds",
            "repeat",
        ];
        let mut from_crd: Vec<&str> = probe
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|k| !not_kinds.contains(k))
            .collect();
        from_crd.sort_unstable();
        let mut listed: Vec<&str> = CATALOG.iter().map(|e| e.kind).collect();
        listed.sort_unstable();
        assert_eq!(listed, from_crd);
        assert!(table().contains("rapidCreateDelete"));
    }
}
