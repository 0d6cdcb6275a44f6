//! Errors of a reconcile, each with a category for metrics and a condition reason for users.

use std::time::Duration;

use crate::cloud::ApiError;

/// Why a reconcile did not converge.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The Kubernetes API failed (network, conflict, permissions).
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// A referenced object (Platform, Secret, VM) does not exist or is not usable yet.
    #[error("{0}")]
    ReferenceNotReady(String),
    /// The cloud credentials are missing or rejected.
    #[error("{0}")]
    CredentialsNotReady(String),
    /// The spec cannot be applied as written.
    #[error("{0}")]
    InvalidSpec(String),
    /// The cloud API failed.
    #[error("{0}")]
    Cloud(#[from] ApiError),
    /// The cloud object the object points at does not exist.
    #[error("{0}")]
    ExternalNotFound(String),
    /// The object cannot be read into its type (malformed for this operator version).
    #[error("malformed object: {0}")]
    Malformed(String),
    /// Not an error: the step waits (e.g. a deletion in progress) with this reason and message,
    /// looked at again after the delay (or on the next change). Returned as `Err` so that the
    /// finalizer helper keeps the finalizer.
    #[error("{1}")]
    Pending(&'static str, String, Option<Duration>),
}

impl ReconcileError {
    /// Low-cardinality label for the errors metric.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kubernetes",
            Self::ReferenceNotReady(_) => "reference",
            Self::CredentialsNotReady(_) => "credentials",
            Self::InvalidSpec(_) | Self::Malformed(_) => "invalid",
            Self::Cloud(e) if e.is_transient() => "cloud_transient",
            Self::Cloud(_) => "cloud_terminal",
            Self::ExternalNotFound(_) => "external_not_found",
            Self::Pending(..) => "pending",
        }
    }

    /// Condition reason shown to users.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Kube(_) => "KubernetesError",
            Self::ReferenceNotReady(_) => "ReferenceNotReady",
            Self::CredentialsNotReady(_) => "CredentialsNotReady",
            Self::InvalidSpec(_) => "InvalidSpec",
            Self::Malformed(_) => "MalformedObject",
            Self::Cloud(e) if e.is_unauthorized() => "CredentialsNotReady",
            Self::Cloud(e) if e.is_transient() => "CloudUnavailable",
            Self::Cloud(_) => "CloudRejected",
            Self::ExternalNotFound(_) => "ExternalNotFound",
            Self::Pending(reason, ..) => reason,
        }
    }

    /// Whether waiting and retrying may help without a spec change. Terminal errors are retried
    /// only rarely (a cloud may change its mind); transient ones with backoff.
    pub fn is_terminal(&self) -> bool {
        match self {
            Self::InvalidSpec(_) | Self::Malformed(_) => true,
            Self::Cloud(e) => !e.is_transient() && !e.is_unauthorized(),
            _ => false,
        }
    }

    /// The delay the server asked for.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Cloud(e) => e.retry_after(),
            _ => None,
        }
    }
}
