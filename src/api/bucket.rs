//! `Bucket`: a 3nv.io S3 object storage bucket (`/v1/storage/bucket`) and its S3 credentials.

// kube's `printcolumn(name = .., type_ = ..)` repeats keys across columns by design.
#![allow(clippy::duplicated_attributes)]

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{CloudPolicies, CommonStatus, ConnectionSecretRef, DriftStatus, PlatformRef};

/// Desired state of a 3nv.io S3 bucket.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "nno.app",
    version = "v1alpha1",
    kind = "Bucket",
    plural = "buckets",
    namespaced,
    status = "BucketStatus",
    shortname = "bkt",
    category = "nno",
    doc = "A 3nv.io S3 object storage bucket. Bucket names are global across all 3nv.io users; only empty buckets can be deleted.",
    printcolumn(
        name = "READY",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "SYNCED",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Synced\")].status"
    ),
    printcolumn(
        name = "EXTERNAL-ID",
        type_ = "string",
        json_path = ".status.externalId"
    ),
    printcolumn(name = "OBJECTS", type_ = "integer", json_path = ".status.numObjects"),
    printcolumn(
        name = "SIZE-BYTES",
        type_ = "integer",
        json_path = ".status.sizeBytes"
    ),
    printcolumn(
        name = "ENDPOINT",
        type_ = "string",
        json_path = ".status.endpoint",
        priority = 1
    ),
    printcolumn(
        name = "AGE",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "has(self.bucketName) == has(oldSelf.bucketName)", "message": "bucketName is immutable"}
]))]
pub struct BucketSpec {
    /// The `Platform` (same namespace) whose 3nv.io credentials and billing account this bucket uses.
    pub platform_ref: PlatformRef,
    /// Bucket name (S3 naming rules: 3-63 lower-case letters, digits, dots and dashes, starting and ending with a letter or digit, no `..`, not an IP address); defaults to `metadata.name`. Globally unique. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 3, max = 63),
        regex(pattern = r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")
    )]
    #[schemars(extend("x-kubernetes-validations" = [
        {"rule": "self == oldSelf", "message": "bucketName is immutable"},
        {"rule": "!self.contains('..') && !self.contains('.-') && !self.contains('-.')", "message": "bucketName must not contain '..', '.-' or '-.'"},
        {"rule": "!self.matches('^[0-9]+[.][0-9]+[.][0-9]+[.][0-9]+$')", "message": "bucketName must not look like an IP address"}
    ]))]
    pub bucket_name: Option<String>,
    /// 3nv.io billing account id; overrides the platform's billing account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub billing_account_id: Option<i64>,
    /// Secret (owned by this bucket) that receives `endpoint`, `bucket`, `accessKey` and `secretKey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_connection_secret_to_ref: Option<ConnectionSecretRef>,
    #[serde(flatten)]
    pub policies: CloudPolicies,
}

/// Observed state of a bucket.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BucketStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
    #[serde(flatten)]
    pub drift: DriftStatus,
    /// Total size of the bucket's objects in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
    /// Number of objects in the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_objects: Option<i64>,
    /// Whether 3nv.io has suspended the bucket (e.g. for an unpaid billing account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended: Option<bool>,
    /// S3 endpoint URL to use with the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}
