//! 3nv.io object storage: buckets (form-encoded), the S3 user, S3 key pairs and the S3 API URL.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ThreenvClient;
use super::de::nd;
use crate::cloud::error::ApiError;
use crate::cloud::http::Request;

/// An object storage bucket (bucket names are global across all users).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Bucket {
    #[serde(deserialize_with = "nd")]
    pub name: String,
    pub billing_account_id: Option<i64>,
    #[serde(deserialize_with = "nd")]
    pub num_objects: i64,
    #[serde(deserialize_with = "nd")]
    pub size_bytes: i64,
    pub created_at: Option<String>,
    pub modified_at: Option<String>,
    #[serde(deserialize_with = "nd")]
    pub is_suspended: bool,
}

/// An S3 key pair. `Debug` redacts the secret key.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct S3Key {
    #[serde(rename = "accessKey", deserialize_with = "nd")]
    pub access_key: String,
    #[serde(rename = "secretKey", deserialize_with = "nd")]
    pub secret_key: String,
    #[serde(rename = "userId", deserialize_with = "nd")]
    pub user_id: String,
}

impl std::fmt::Debug for S3Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Key")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("user_id", &self.user_id)
            .finish()
    }
}

/// The account's S3 user (created with a first key pair on first request).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct S3User {
    #[serde(rename = "userId", deserialize_with = "nd")]
    pub user_id: String,
    #[serde(rename = "displayName")]
    pub display_name: Option<String>,
    pub email: Option<String>,
    #[serde(rename = "maxBuckets")]
    pub max_buckets: Option<i64>,
    #[serde(rename = "s3Credentials", deserialize_with = "nd")]
    pub s3_credentials: Vec<S3Key>,
    #[serde(deserialize_with = "nd")]
    pub caps: Vec<Value>,
    #[serde(deserialize_with = "nd")]
    pub subusers: Vec<Value>,
    pub suspended: Option<i64>,
    #[serde(rename = "swiftCredentials", deserialize_with = "nd")]
    pub swift_credentials: Vec<Value>,
}

/// Answer of `GET /v1/storage/api/s3`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct S3Api {
    #[serde(deserialize_with = "nd")]
    pub url: String,
}

#[derive(Serialize)]
struct NameBilling<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    billing_account_id: Option<i64>,
}

#[derive(Serialize)]
struct Name<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Billing {
    billing_account_id: i64,
}

#[derive(Serialize)]
struct AccessKey<'a> {
    access_key: &'a str,
}

const BUCKET: &str = "/v1/storage/bucket";
const KEYS: &str = "/v1/storage/user/keys";

impl ThreenvClient {
    pub async fn s3_api(&self) -> Result<S3Api, ApiError> {
        let req = Request::get("/v1/storage/api/s3", "/v1/storage/api/s3");
        self.core.json(req).await
    }

    /// `PUT /v1/storage/bucket` (a create: sent once; a 409 means the name is taken).
    pub async fn create_bucket(
        &self,
        name: &str,
        billing_account_id: Option<i64>,
    ) -> Result<Bucket, ApiError> {
        let req = Request::put(BUCKET, BUCKET).form(&NameBilling {
            name,
            billing_account_id,
        });
        self.core.json(req).await
    }

    pub async fn get_bucket(&self, name: &str) -> Result<Bucket, ApiError> {
        let req = Request::get(BUCKET, BUCKET).query(&Name { name });
        self.core.json(req).await
    }

    /// The account's buckets, optionally only those of one billing account.
    pub async fn list_buckets(
        &self,
        billing_account_id: Option<i64>,
    ) -> Result<Vec<Bucket>, ApiError> {
        let mut req = Request::get("/v1/storage/bucket/list", "/v1/storage/bucket/list");
        if let Some(id) = billing_account_id {
            req = req.query(&Billing {
                billing_account_id: id,
            });
        }
        self.core.json(req).await
    }

    /// Moves a bucket to another billing account.
    pub async fn modify_bucket(
        &self,
        name: &str,
        billing_account_id: i64,
    ) -> Result<Bucket, ApiError> {
        let req = Request::patch(BUCKET, BUCKET).form(&NameBilling {
            name,
            billing_account_id: Some(billing_account_id),
        });
        self.core.json(req).await
    }

    /// Deletes an empty bucket (204; 409 while it holds objects).
    pub async fn delete_bucket(&self, name: &str) -> Result<(), ApiError> {
        let req = Request::delete(BUCKET, BUCKET).query(&Name { name });
        self.core.empty(req).await
    }

    pub async fn s3_user(&self) -> Result<S3User, ApiError> {
        let req = Request::get("/v1/storage/user", "/v1/storage/user");
        self.core.json(req).await
    }

    pub async fn list_s3_keys(&self) -> Result<Vec<S3Key>, ApiError> {
        self.core.json(Request::get(KEYS, KEYS)).await
    }

    /// Generates a key pair; answers all keys (the new one is the one not seen before).
    pub async fn create_s3_key(&self) -> Result<Vec<S3Key>, ApiError> {
        self.core.json(Request::post(KEYS, KEYS)).await
    }

    pub async fn delete_s3_key(&self, access_key: &str) -> Result<(), ApiError> {
        let req = Request::delete(KEYS, KEYS).form(&AccessKey { access_key });
        self.core.empty(req).await
    }
}
