//! `Bucket` on 3nv.io object storage: the mapping between the spec and `/v1/storage/bucket…`
//! (create with a billing account, billing-account change, delete of an empty bucket), and a
//! dedicated S3 key pair per Bucket object (`/v1/storage/user/keys`) for its connection Secret.
//!
//! Buckets are location independent: one observer per account lists `/v1/storage/bucket/list`
//! once per interval. The bucket name is the external id and the create token (a lost create reply
//! is adopted by name after a fresh list; a name that already exists without this object having
//! sent a create is only adopted through `nno.app/external-id`).
//!
//! The dedicated S3 key pair per Bucket object lives in [`keys`].

mod keys;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};

use kube::ResourceExt;

use crate::api::bucket::{Bucket, BucketStatus};
use crate::api::common::{CloudPolicies, CommonStatus};
use crate::cloud::ApiError;
use crate::cloud::threenv::ThreenvClient;
use crate::cloud::threenv::bucket::Bucket as CloudBucket;

use super::error::ReconcileError;
use super::managed::{
    CredentialContext, Credentials, Field, InputContext, ManagedKind, Readiness, Target,
    UpdateOutcome,
};

pub use keys::{ACCESS_KEY_ANNOTATION, KEY_PENDING_ANNOTATION};

/// A bucket as observed, with the S3 endpoint to reach it.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketView {
    pub bucket: CloudBucket,
    /// `GET /v1/storage/api/s3` (the same for every bucket of a 3nv.io installation).
    pub endpoint: Option<String>,
}

/// What a Bucket reads besides its spec.
#[derive(Debug, Default)]
pub struct BucketInputs {
    /// The billing account the bucket should be on (spec, else the Platform's).
    billing_account_id: Option<i64>,
}

impl Bucket {
    /// The bucket's name in the cloud: `spec.bucketName`, else `metadata.name`.
    pub fn cloud_name(&self) -> String {
        self.spec
            .bucket_name
            .clone()
            .unwrap_or_else(|| self.name_any())
    }
}

/// The S3 naming rules 3nv.io applies to bucket names.
pub fn bucket_name_ok(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..")
        && !name.contains(".-")
        && !name.contains("-.")
        && name.parse::<std::net::Ipv4Addr>().is_err()
}

/// The S3 endpoint of the installation behind `client`, fetched once per process and base URL.
async fn s3_endpoint(client: &ThreenvClient) -> Result<String, ApiError> {
    static ENDPOINTS: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let map = ENDPOINTS.get_or_init(Default::default);
    let base = client.core().base_url().to_owned();
    if let Some(url) = map.lock().unwrap_or_else(|p| p.into_inner()).get(&base) {
        return Ok(url.clone());
    }
    let url = client.s3_api().await?.url;
    map.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(base, url.clone());
    Ok(url)
}

impl ManagedKind for Bucket {
    type Observed = BucketView;
    type Inputs = BucketInputs;
    const KIND: &'static str = "Bucket";
    const LOCATED: bool = false;
    const TOKEN_IS_NAME: bool = true;

    fn policies(&self) -> &CloudPolicies {
        &self.spec.policies
    }
    fn platform_ref(&self) -> &str {
        &self.spec.platform_ref.name
    }
    fn location_override(&self) -> Option<&str> {
        None
    }
    fn billing_account_override(&self) -> Option<i64> {
        self.spec.billing_account_id
    }
    fn common_status(&self) -> Option<&CommonStatus> {
        self.status.as_ref().map(|s| &s.common)
    }
    fn connection_secret_name(&self) -> Option<&str> {
        self.spec
            .write_connection_secret_to_ref
            .as_ref()
            .map(|r| r.name.as_str())
    }

    async fn list(client: &ThreenvClient, _loc: Option<&str>) -> Result<Vec<BucketView>, ApiError> {
        let buckets = client.list_buckets(None).await?;
        // Known after the first round; a failure here must not hide the buckets.
        let endpoint = match s3_endpoint(client).await {
            Ok(url) => Some(url),
            Err(e) => {
                tracing::debug!(error = %e, "S3 endpoint unknown for now");
                None
            }
        };
        Ok(buckets
            .into_iter()
            .map(|bucket| BucketView {
                bucket,
                endpoint: endpoint.clone(),
            })
            .collect())
    }
    async fn get(
        client: &ThreenvClient,
        _loc: Option<&str>,
        id: &str,
    ) -> Result<BucketView, ApiError> {
        let bucket = client.get_bucket(id).await?;
        Ok(BucketView {
            bucket,
            endpoint: s3_endpoint(client).await.ok(),
        })
    }
    fn external_id(b: &BucketView) -> String {
        b.bucket.name.clone()
    }
    fn token_of(b: &BucketView) -> Option<String> {
        Some(b.bucket.name.clone())
    }
    fn create_token(&self) -> String {
        self.cloud_name()
    }
    fn readiness(b: &BucketView) -> Readiness {
        if b.bucket.is_suspended {
            Readiness::Unavailable {
                state: "suspended".into(),
            }
        } else {
            Readiness::Ready
        }
    }

    async fn inputs(&self, ctx: InputContext<'_>) -> Result<BucketInputs, ReconcileError> {
        Ok(BucketInputs {
            billing_account_id: ctx.target.billing_account_id,
        })
    }

    fn validate(&self, _target: &Target, _inputs: &BucketInputs) -> Result<(), String> {
        let name = self.cloud_name();
        if !bucket_name_ok(&name) {
            let from = if self.spec.bucket_name.is_some() {
                "spec.bucketName"
            } else {
                "metadata.name; set spec.bucketName"
            };
            return Err(format!(
                "bucket name {name:?} (from {from}) does not follow the S3 naming rules: 3-63 lower-case letters, digits, '.' and '-', starting and ending with a letter or digit, no '..', '.-' or '-.', not an IP address"
            ));
        }
        Ok(())
    }

    fn check(&self, b: &BucketView, _inputs: &BucketInputs) -> Result<(), String> {
        let name = self.cloud_name();
        if name == b.bucket.name {
            return Ok(());
        }
        Err(format!(
            "the bucket is named {:?} in 3nv.io but the spec names {name:?}: 3nv.io cannot rename a bucket; set it back, or delete and recreate the Bucket",
            b.bucket.name
        ))
    }

    fn fields(&self, b: &BucketView, inputs: &BucketInputs) -> Vec<Field> {
        let mut out = Vec::new();
        if let Some(id) = inputs.billing_account_id {
            let observed = b
                .bucket
                .billing_account_id
                .map(|i| i.to_string())
                .unwrap_or_default();
            out.push(Field::new("billingAccountId", id, observed));
        }
        out
    }

    async fn create(
        &self,
        target: &Target,
        _inputs: &BucketInputs,
        token: &str,
    ) -> Result<BucketView, ApiError> {
        let bucket = target
            .client
            .create_bucket(token, target.billing_account_id)
            .await?;
        Ok(BucketView {
            bucket,
            endpoint: s3_endpoint(&target.client).await.ok(),
        })
    }

    async fn update(
        &self,
        target: &Target,
        b: &BucketView,
        inputs: &BucketInputs,
        fields: &[Field],
    ) -> Result<UpdateOutcome<BucketView>, ApiError> {
        let mut out = UpdateOutcome::default();
        if fields.iter().any(|f| f.path == "billingAccountId")
            && let Some(id) = inputs.billing_account_id
        {
            let bucket = target.client.modify_bucket(&b.bucket.name, id).await?;
            out.observed = Some(BucketView {
                bucket,
                endpoint: b.endpoint.clone(),
            });
            out.applied.push("billingAccountId");
        }
        Ok(out)
    }

    async fn delete(&self, target: &Target, b: &BucketView) -> Result<(), ApiError> {
        // Only empty buckets can be deleted; the operator never empties one.
        target.client.delete_bucket(&b.bucket.name).await
    }

    fn deletion_blocked(error: &ApiError) -> Option<(&'static str, String)> {
        match error {
            ApiError::Conflict { message, .. } => Some((
                "BucketNotEmpty",
                format!(
                    "3nv.io deletes only empty buckets and the operator never deletes objects: empty the bucket to let the deletion finish ({message})"
                ),
            )),
            _ => None,
        }
    }

    async fn release(&self, target: &Target) -> Result<(), ApiError> {
        self.release_keys(target).await
    }

    fn status(&self, b: &BucketView, _target: &Target) -> serde_json::Value {
        let status = BucketStatus {
            size_bytes: Some(b.bucket.size_bytes),
            num_objects: Some(b.bucket.num_objects),
            suspended: Some(b.bucket.is_suspended),
            endpoint: b.endpoint.clone(),
            ..BucketStatus::default()
        };
        serde_json::to_value(status).unwrap_or_default()
    }

    fn connection_details(
        &self,
        b: Option<&BucketView>,
        _inputs: &BucketInputs,
    ) -> Option<BTreeMap<String, String>> {
        let b = b?;
        let mut d = BTreeMap::new();
        d.insert("bucket".to_owned(), b.bucket.name.clone());
        if let Some(url) = &b.endpoint {
            d.insert("endpoint".to_owned(), url.clone());
        }
        Some(d)
    }

    async fn credentials(
        &self,
        cx: CredentialContext<'_, Self>,
        b: &BucketView,
        _inputs: &BucketInputs,
    ) -> Result<Credentials, ReconcileError> {
        let mut out = Credentials::default();
        if b.endpoint.is_none() {
            out.data
                .insert("endpoint".into(), s3_endpoint(&cx.target.client).await?);
        }
        let key = self.ensure_key(&cx).await?;
        if let Some(pair) = key.pair {
            out.data.insert("accessKey".into(), pair.access);
            out.data
                .insert("secretKey".into(), pair.secret.expose().to_owned());
        }
        out.annotations = key.changes;
        out.drift = key.drift;
        out.events.extend(key.event);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_the_s3_rules() {
        for ok in ["abc", "acme-media-prod", "acme.media", "a1b", "123"] {
            assert!(bucket_name_ok(ok), "{ok}");
        }
        for bad in [
            "ab",
            "Acme",
            "-abc",
            "abc-",
            "a..b",
            "a.-b",
            "a_b",
            "10.1.2.3",
            &"a".repeat(64),
        ] {
            assert!(!bucket_name_ok(bad), "{bad}");
        }
    }

    #[test]
    fn a_non_empty_bucket_blocks_deletion_with_its_own_reason() {
        let e = ApiError::Conflict {
            api: "threenv",
            code: None,
            message: "Bucket is not empty (3 objects)".into(),
        };
        let (reason, message) = Bucket::deletion_blocked(&e).unwrap();
        assert_eq!(reason, "BucketNotEmpty");
        assert!(message.contains("3 objects") && message.contains("empty the bucket"));
        assert!(Bucket::deletion_blocked(&ApiError::Timeout { api: "threenv" }).is_none());
    }
}
