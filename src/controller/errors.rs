//! The controller's errors, named after the action that failed, and which of them are a
//! refusal: the API server's final answer about a probe's object, which becomes that probe's
//! `Error` verdict instead of a retry (pure: no calls).

use crate::verdict::{Outcome, bounded};

/// Errors of the controller, named after the action that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "the TestRun CRD is not installed (install it with `proctor crd | kubectl apply --server-side -f -`): {0}"
    )]
    CrdMissing(#[source] kube::Error),
    #[error("creating pod {name}: {source}")]
    CreatePod { name: String, source: kube::Error },
    #[error("creating secret {name}: {source}")]
    CreateSecret { name: String, source: kube::Error },
    #[error("creating configmap {name}: {source}")]
    CreateConfigMap { name: String, source: kube::Error },
    #[error("deleting pod {name}: {source}")]
    DeletePod { name: String, source: kube::Error },
    #[error("changing {what} {name}: {source}")]
    UpdateObject {
        what: String,
        name: String,
        source: kube::Error,
    },
    #[error("{what} {name} exists and is not this run's: left alone")]
    ObjectTaken { what: String, name: String },
    #[error("releasing pod {name}: {source}")]
    ReleasePod { name: String, source: kube::Error },
    #[error("releasing pod {name}: building the patch: {message}")]
    ReleasePodPatch { name: String, message: String },
    #[error("reading the log of pod {name}: {source}")]
    ReadLog { name: String, source: kube::Error },
    #[error("reading the log of pod {name}: {message}")]
    ReadLogStream { name: String, message: String },
    #[error("exec in pod {name}: {source}")]
    Exec { name: String, source: kube::Error },
    #[error("adding an ephemeral container to pod {name}: {source}")]
    AddEphemeral { name: String, source: kube::Error },
    #[error("applying the status of {name}: {source}")]
    ApplyStatus { name: String, source: kube::Error },
    #[error("checking the existing pod {name}: {source}")]
    CheckPod { name: String, source: kube::Error },
    #[error("pod {name} already exists and is not this probe's: {owner}")]
    NameTaken { name: String, owner: String },
    #[error("listing the run's pods: {source}")]
    ListPods { source: kube::Error },
    #[error("claiming TestRun {name}: {source}")]
    ClaimRun { name: String, source: kube::Error },
    #[error("deleting TestRun {name}: {source}")]
    DeleteRun { name: String, source: kube::Error },
    #[error("{what}: no answer within {seconds}s; abandoned, retried")]
    Timeout { what: String, seconds: u64 },
}

impl Error {
    /// A bounded label for metrics and Event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Error::CrdMissing(_) => "crd_missing",
            Error::CreatePod { .. }
            | Error::CreateSecret { .. }
            | Error::CreateConfigMap { .. }
            | Error::CheckPod { .. }
            | Error::NameTaken { .. } => "create",
            Error::DeletePod { .. } | Error::DeleteRun { .. } => "delete",
            Error::UpdateObject { .. } | Error::ObjectTaken { .. } => "update",
            Error::ReleasePod { .. } | Error::ReleasePodPatch { .. } => "finalizer",
            Error::ReadLog { .. } | Error::ReadLogStream { .. } => "logs",
            Error::Exec { .. } => "exec",
            Error::AddEphemeral { .. } => "ephemeral",
            Error::ApplyStatus { .. } => "status",
            Error::ClaimRun { .. } => "claim",
            Error::ListPods { .. } => "list",
            Error::Timeout { .. } => "timeout",
        }
    }
}

/// HTTP statuses of a create that retrying cannot change: the request itself is refused
/// (400 BadRequest, 422 Invalid: e.g. an invalid image reference), or admission refused it
/// (403 Forbidden: Pod Security, a ResourceQuota, a webhook, a missing RuntimeClass or
/// ServiceAccount, a terminating namespace), or its namespace is gone (404).
const FINAL_REFUSALS: &[u16] = &[400, 403, 404, 422];

/// The outcome of a probe whose object the API server refused for good, or `None` for an error
/// worth retrying (a timeout, a conflict, the server unavailable or throttling).
pub fn refusal(error: &Error) -> Option<Outcome> {
    let (reason, what, name, status) = match error {
        Error::CreatePod {
            name,
            source: kube::Error::Api(status),
        } => ("PodRejected", "pod", name, status),
        Error::CreateSecret {
            name,
            source: kube::Error::Api(status),
        } => ("SecretRejected", "secret", name, status),
        Error::CreateConfigMap {
            name,
            source: kube::Error::Api(status),
        } => ("ConfigMapRejected", "configmap", name, status),
        Error::NameTaken { .. } => {
            return Some(Outcome::error(
                "PodNameTaken",
                bounded(&error.to_string(), 1000),
            ));
        }
        Error::ObjectTaken { .. } => {
            return Some(Outcome::error(
                "ObjectNameTaken",
                bounded(&error.to_string(), 1000),
            ));
        }
        Error::UpdateObject {
            what,
            name,
            source: kube::Error::Api(status),
        } => {
            return FINAL_REFUSALS.contains(&status.code).then(|| {
                Outcome::error(
                    "UpdateRejected",
                    bounded(
                        &format!(
                            "the API server refused to change {what} {name}: {}",
                            status.message
                        ),
                        1000,
                    ),
                )
            });
        }
        _ => return None,
    };
    FINAL_REFUSALS.contains(&status.code).then(|| {
        Outcome::error(
            reason,
            bounded(
                &format!(
                    "the API server refused to create {what} {name}: {}",
                    status.message
                ),
                1000,
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Verdict;

    fn api_error(code: u16, message: &str) -> kube::Error {
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            message: message.into(),
            ..kube::core::Status::default()
        }))
    }

    #[test]
    fn an_admission_refusal_is_the_probes_error_with_the_servers_words() {
        let error = Error::CreatePod {
            name: "run-1-p-0".into(),
            source: api_error(
                403,
                r#"pod rejected: RuntimeClass "does-not-exist" not found"#,
            ),
        };
        let outcome = refusal(&error).unwrap();
        assert_eq!(outcome.verdict, Verdict::Error);
        assert_eq!(outcome.reason, "PodRejected");
        assert_eq!(
            outcome.message,
            r#"the API server refused to create pod run-1-p-0: pod rejected: RuntimeClass "does-not-exist" not found"#
        );
    }

    #[test]
    fn errors_that_may_pass_are_retried_not_judged() {
        for code in [409, 429, 500, 503] {
            let error = Error::CreatePod {
                name: "p".into(),
                source: api_error(code, "try again"),
            };
            assert!(refusal(&error).is_none(), "{code}");
        }
        let timeout = Error::Timeout {
            what: "creating pod p".into(),
            seconds: 60,
        };
        assert!(refusal(&timeout).is_none());
    }

    #[test]
    fn a_pod_name_held_by_another_object_is_an_error() {
        let error = Error::NameTaken {
            name: "run-1-x-0-p0".into(),
            owner: "labelled for run other-uid, probe y".into(),
        };
        assert_eq!(refusal(&error).unwrap().reason, "PodNameTaken");
    }
}
