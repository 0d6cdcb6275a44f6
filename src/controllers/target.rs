//! Resolving an object's `platformRef` into a [`Target`]: the Platform's `spec.cloud` block, the
//! credentials Secret, location and billing account, and a client of that account built on the
//! shared connection pool and the account's rate limiter.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret as KubeSecret;
use kube::{Api, Client};

use crate::api::platform::Platform;
use crate::cloud::ratelimit::{RateLimit, RateLimiters};
use crate::cloud::threenv::{API, ThreenvClient};
use crate::cloud::{ApiError, CallObserver, CallRecord, CoreConfig, Secret};

use super::error::ReconcileError;
use super::managed::{ManagedKind, Target};
use super::metrics::Metrics;

/// Builds 3nv.io clients: one connection pool for all, one rate limiter per API key.
pub struct CloudClients {
    threenv_url: String,
    http: reqwest::Client,
    limiters: RateLimiters,
    calls: CallObserver,
}

impl std::fmt::Debug for CloudClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudClients")
            .field("threenv_url", &self.threenv_url)
            .finish_non_exhaustive()
    }
}

impl CloudClients {
    /// Checks the base URL up front, so a typo fails at start rather than on every reconcile.
    pub fn new(
        threenv_url: &str,
        limit: RateLimit,
        metrics: Arc<Metrics>,
    ) -> Result<Self, ApiError> {
        let probe = ThreenvClient::config(threenv_url, Secret::new(""));
        ThreenvClient::from_config(probe.clone())?;
        Ok(Self {
            threenv_url: threenv_url.to_owned(),
            http: probe.build_http_client()?,
            limiters: RateLimiters::new(limit),
            calls: Arc::new(move |r: &CallRecord| metrics.cloud_call(r)),
        })
    }

    /// A client of the account with `api_key`, and the account's id for observer keys.
    pub fn threenv(&self, api_key: &str) -> Result<(ThreenvClient, u64), ApiError> {
        let mut cfg: CoreConfig = ThreenvClient::config(&self.threenv_url, Secret::new(api_key));
        cfg.http_client = Some(self.http.clone());
        cfg.bucket = Some(self.limiters.bucket(API, api_key));
        cfg.observer = Some(self.calls.clone());
        let client = ThreenvClient::from_config(cfg)?;
        let mut h = DefaultHasher::new();
        api_key.hash(&mut h);
        Ok((client, h.finish()))
    }

    pub fn limiters(&self) -> &RateLimiters {
        &self.limiters
    }
}

/// The Platform `name` in `namespace`, its cloud block, and the API key from its Secret.
pub async fn resolve<K: ManagedKind>(
    kube: &Client,
    clouds: &CloudClients,
    obj: &K,
    namespace: &str,
) -> Result<(Target, u64), ReconcileError> {
    let platform_name = obj.platform_ref();
    let platforms: Api<Platform> = Api::namespaced(kube.clone(), namespace);
    let platform = platforms.get_opt(platform_name).await?.ok_or_else(|| {
        ReconcileError::ReferenceNotReady(format!(
            "Platform {platform_name:?} (spec.platformRef) does not exist in namespace {namespace:?}"
        ))
    })?;
    let cloud = platform.spec.cloud.as_ref().ok_or_else(|| {
        ReconcileError::ReferenceNotReady(format!(
            "Platform {platform_name:?} has no spec.cloud block (3nv.io credentials, location, billing account)"
        ))
    })?;
    let secret_ref = &cloud.credentials_secret_ref;
    let secrets: Api<KubeSecret> = Api::namespaced(kube.clone(), namespace);
    let secret = secrets.get_opt(&secret_ref.name).await?.ok_or_else(|| {
        ReconcileError::CredentialsNotReady(format!(
            "Secret {:?} (Platform {platform_name:?} spec.cloud.credentialsSecretRef) does not exist",
            secret_ref.name
        ))
    })?;
    let key = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&secret_ref.key))
        .map(|b| String::from_utf8_lossy(&b.0).trim().to_owned())
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            ReconcileError::CredentialsNotReady(format!(
                "Secret {:?} has no non-empty key {:?} (Platform {platform_name:?} spec.cloud.credentialsSecretRef)",
                secret_ref.name, secret_ref.key
            ))
        })?;
    let (client, account) = clouds.threenv(&key)?;
    let location = obj
        .location_override()
        .map(str::to_owned)
        .or_else(|| cloud.location.clone());
    let billing_account_id = obj.billing_account_override().or(cloud.billing_account_id);
    Ok((
        Target {
            client,
            location,
            billing_account_id,
            account,
        },
        account,
    ))
}
