//! Types shared by every kind: conditions, references, policies, drift and the well-known annotations.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Finalizer the operator puts on every object it manages, released once the cloud side is cleaned up.
pub const FINALIZER: &str = "nno.app/cleanup";
/// Annotation holding the cloud identity (UUID, or the bucket name). Set by a user on a new object to adopt.
pub const EXTERNAL_ID_ANNOTATION: &str = "nno.app/external-id";
/// Annotation that, when `"true"`, stops every write to the cloud for the object.
pub const PAUSED_ANNOTATION: &str = "nno.app/paused";
/// Condition type: the object is fully converged and usable.
pub const CONDITION_READY: &str = "Ready";
/// Condition type: the last reconcile reached the external system and applied the spec.
pub const CONDITION_SYNCED: &str = "Synced";

/// Status of a condition, as in Kubernetes conventions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ConditionStatus {
    True,
    False,
    #[default]
    Unknown,
}

/// One observation of the object's state, following the Kubernetes condition conventions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type: `Ready` (converged and usable) or `Synced` (last reconcile applied the spec).
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: ConditionStatus,
    /// One-word CamelCase reason for the last transition, e.g. `Available`, `Creating`, `ReferenceNotReady`, `InvalidSpec`.
    #[serde(default)]
    pub reason: String,
    /// Human-readable detail, including the external API's own error message when there is one.
    #[serde(default)]
    pub message: String,
    /// When the status last changed (not when the condition was last written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// The `metadata.generation` this condition was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// What happens to the external resource when the Kubernetes object is deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DeletionPolicy {
    #[default]
    Delete,
    Orphan,
}

/// Whether the operator may write to the external system at all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ManagementPolicy {
    #[default]
    Manage,
    Observe,
}

/// What the operator does when the external resource differs from the spec.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DriftPolicy {
    #[default]
    Correct,
    Report,
}

/// Policies every 3nv.io kind shares (flattened into each spec).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudPolicies {
    /// `Delete` (default) removes the cloud resource when this object is deleted; `Orphan` leaves it in the cloud.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// `Manage` (default) creates and updates the cloud resource; `Observe` only imports it read-only (requires the `nno.app/external-id` annotation) and never writes to the cloud.
    #[serde(default)]
    pub management_policy: ManagementPolicy,
    /// `Correct` (default) reverts changes made outside Kubernetes; `Report` only lists them in `status.drift`.
    #[serde(default)]
    pub drift_policy: DriftPolicy,
    /// Spec field paths (e.g. `vcpu`, `rules`) owned by someone else: their drift is reported in `status.drift` but never corrected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_changes: Vec<String>,
}

/// Reference to the `Platform` in the same namespace that supplies credentials, location and billing account.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlatformRef {
    /// Name of a `Platform` in this object's namespace.
    #[schemars(length(min = 1))]
    pub name: String,
}

/// Reference by name to another object of a known kind in the same namespace.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub struct LocalRef {
    /// Name of the referenced object in this object's namespace.
    #[schemars(length(min = 1))]
    pub name: String,
}

/// A key of a Secret in the same namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SecretKeyRef {
    /// Name of the Secret in this object's namespace.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Key within the Secret's data.
    #[schemars(length(min = 1))]
    pub key: String,
}

/// Secret (in the same namespace, owned by this object) that receives credentials the cloud hands out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConnectionSecretRef {
    /// Name of the Secret to write; created if absent and owned by this object.
    #[schemars(length(min = 1))]
    pub name: String,
}

/// One field whose observed cloud value differs from the spec.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftEntry {
    /// Spec field path, e.g. `vcpu` or `rules[0].portEnd`.
    pub field: String,
    /// Value the spec asks for, rendered as text.
    #[serde(default)]
    pub desired: String,
    /// Value observed in the cloud, rendered as text.
    #[serde(default)]
    pub observed: String,
    /// `Corrected` when the operator reverted it, `Reported` when the drift policy or `ignoreChanges` keeps it.
    #[serde(default)]
    pub action: String,
}

/// Status fields every kind shares (flattened into each status).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommonStatus {
    /// `Ready` and `Synced` conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` the operator last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Identity of the external resource (UUID, bucket name or platform id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

/// Status fields every 3nv.io kind shares besides [`CommonStatus`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftStatus {
    /// Fields whose cloud value differs from the spec, one entry per field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<DriftEntry>,
}
