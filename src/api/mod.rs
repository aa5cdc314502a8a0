//! The `proctor.dev` API: the `TestRun` custom resource and the names Proctor puts on the objects
//! it owns. Types and constants only; nothing here talks to a cluster.

pub mod v1alpha1;

pub use v1alpha1::*;

/// API group of every Proctor resource.
pub const GROUP: &str = "proctor.dev";

/// Label on every object Proctor creates (the standard `managed-by`).
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Value of [`LABEL_MANAGED_BY`].
pub const MANAGER: &str = "proctor";
/// Label carrying the UID of the `TestRun` that owns a pod.
pub const LABEL_RUN_UID: &str = "proctor.dev/run-uid";
/// Label carrying the name of the probe a pod belongs to.
pub const LABEL_PROBE: &str = "proctor.dev/probe";
/// Finalizer Proctor puts on pods it deletes itself, so that their final container state can be
/// read before they disappear.
pub const POD_FINALIZER: &str = "proctor.dev/observe-termination";
/// Prefix of labels and annotations reserved for Proctor; users may not set them on probe pods.
pub const RESERVED_PREFIX: &str = "proctor.dev/";
/// Annotation on a `TestRun` naming the controller that serves it: one controller acts on a run,
/// however many could (a deployed operator, and `proctor run`'s own in-process one). Set once,
/// by compare-and-set, by the first controller allowed to claim it; honoured by every other.
pub const ANNOTATION_CONTROLLER: &str = "proctor.dev/controller";
/// The deployed controller's name (`proctor controller`): its field manager, its leader Lease
/// (by default) and its claim on runs. The same across restarts and leader handovers, so a
/// successor serves its predecessor's runs.
pub const CONTROLLER_NAME: &str = "proctor-controller";
/// The claim of every deployed controller (see [`CONTROLLER_NAME`]).
pub const DEPLOYED_CLAIM: &str = CONTROLLER_NAME;
