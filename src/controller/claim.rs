//! Which controller serves a run (pure): the one its [`ANNOTATION_CONTROLLER`] names. A deployed
//! controller claims runs nobody claimed; `proctor run`'s in-process controller serves only the
//! run that `proctor run` claimed for it. So a run is never served by two controllers at once,
//! and finding out needs no more than the run itself (no cluster-wide Lease list).

use crate::api::{ANNOTATION_CONTROLLER, TestRun};

#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// Served by this controller.
    Ours,
    /// Nobody serves it yet: claim it first.
    Unclaimed,
    /// Another controller serves it (or nobody does, and this one may not claim it): hands off.
    NotOurs,
}

/// What `claim` (this controller's name) may do with `run`; `claims_unclaimed` is false for an
/// in-process controller, which serves only its own run.
pub fn decide(run: &TestRun, claim: &str, claims_unclaimed: bool) -> Claim {
    match claimant(run) {
        Some(c) if c == claim => Claim::Ours,
        Some(_) => Claim::NotOurs,
        None if claims_unclaimed => Claim::Unclaimed,
        None => Claim::NotOurs,
    }
}

/// The controller a run is claimed by, if any.
pub fn claimant(run: &TestRun) -> Option<&str> {
    run.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_CONTROLLER))
        .map(String::as_str)
        .filter(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(claimed_by: Option<&str>) -> TestRun {
        let mut run: TestRun = serde_json::from_value(serde_json::json!({
            "apiVersion": "proctor.dev/v1alpha1",
            "kind": "TestRun",
            "metadata": {"name": "r"},
            "spec": {"probes": [{"name": "p", "env": {}}]},
        }))
        .unwrap();
        if let Some(c) = claimed_by {
            run.metadata.annotations =
                Some([(ANNOTATION_CONTROLLER.to_owned(), c.to_owned())].into());
        }
        run
    }

    #[test]
    fn a_run_is_served_by_the_controller_its_claim_names_and_no_other() {
        let deployed = crate::api::DEPLOYED_CLAIM;
        assert_eq!(decide(&run(None), deployed, true), Claim::Unclaimed);
        assert_eq!(decide(&run(Some(deployed)), deployed, true), Claim::Ours);
        assert_eq!(
            decide(&run(Some("proctor-run/h-1")), deployed, true),
            Claim::NotOurs
        );
        // The in-process controller never claims: `proctor run` claimed its run for it.
        assert_eq!(decide(&run(None), "proctor-run/h-1", false), Claim::NotOurs);
        assert_eq!(
            decide(&run(Some("proctor-run/h-1")), "proctor-run/h-1", false),
            Claim::Ours
        );
        assert_eq!(
            decide(&run(Some(deployed)), "proctor-run/h-1", false),
            Claim::NotOurs
        );
    }
}
