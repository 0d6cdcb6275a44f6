//! Pax8 order intake: marketplace provision requests (webhook and polling) become creates,
//! patches and deletes of `Platform` objects, and their outcomes go back to Pax8 as provision
//! results, each exactly once. No Pax8 logic lives in the controllers; this module only reads
//! and writes `Platform` objects and talks to Pax8 through [`crate::cloud::pax8`].

pub mod orders;
pub mod poller;
pub mod products;
pub mod reporter;
pub mod webhook;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::cloud::pax8::{Pax8Client, Pax8Credentials};
use crate::cloud::{ApiError, Secret};
use crate::controllers::metrics::Metrics;

pub use products::ProductMap;

/// Label marking a Platform as created from a Pax8 order.
pub const MANAGED_LABEL: &str = "pax8.nno.app/managed";
pub const PARTNER_LABEL: &str = "pax8.nno.app/partner-id";
pub const COMPANY_LABEL: &str = "pax8.nno.app/company-id";
pub const SUBSCRIPTION_LABEL: &str = "pax8.nno.app/subscription-id";
/// Label and annotation: the provision request the Platform last applied (the idempotency key).
pub const REQUEST_KEY: &str = "pax8.nno.app/provision-request-id";
/// Annotation: the type of that request (`NetNew`, `ChangeProduct`, …).
pub const REQUEST_TYPE: &str = "pax8.nno.app/provision-request-type";
/// Annotation: space-separated request ids applied to the Platform whose result is not posted yet.
pub const PENDING: &str = "pax8.nno.app/pending-results";
/// Annotation: the last request id whose result was posted, and `=Success|Fail`.
pub const REPORTED: &str = "pax8.nno.app/reported-result";
/// Annotations recording the subscription term (Renewal, TrialConvert).
pub const TERM: &str = "pax8.nno.app/term";
pub const PRODUCT: &str = "pax8.nno.app/product-id";
/// Name of the Secret (in the intake namespace) holding the webhook's shared secret.
pub const WEBHOOK_SECRET_NAME: &str = "nno-operator-pax8-webhook";
/// Header the webhook credential arrives in when Pax8 names none.
pub const DEFAULT_SECRET_HEADER: &str = "X-Pax8-Webhook-Secret";

/// Errors of the intake.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("Pax8: {0}")]
    Pax8(#[from] ApiError),
    #[error("Kubernetes: {0}")]
    Kube(#[from] kube::Error),
    #[error("product mapping {path}: {message}")]
    Products { path: String, message: String },
    #[error("{0}")]
    Config(String),
}

/// Settings of the intake, from the `--pax8-*` flags of `run`.
#[derive(Clone)]
pub struct IntakeConfig {
    pub pax8_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub provisioner_id: Option<String>,
    pub webhook_url: Option<String>,
    pub namespace: String,
    pub products: PathBuf,
    pub poll_interval: Duration,
}

impl std::fmt::Debug for IntakeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntakeConfig")
            .field("pax8_url", &self.pax8_url)
            .field("client_id", &self.client_id)
            .field("provisioner_id", &self.provisioner_id)
            .field("webhook_url", &self.webhook_url)
            .field("namespace", &self.namespace)
            .field("products", &self.products)
            .field("poll_interval", &self.poll_interval)
            .finish_non_exhaustive()
    }
}

/// The `--pax8-*` flag values as given (before checking).
#[derive(Debug, Clone, Default)]
pub struct IntakeFlags {
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub provisioner_id: Option<String>,
    pub webhook_url: Option<String>,
    pub products: Option<PathBuf>,
}

impl IntakeFlags {
    /// `Ok(None)`: intake off (neither client id nor secret); an error names the missing flag.
    pub fn check(&self) -> Result<Option<()>, IntakeError> {
        let id = self.client_id.as_deref().is_some_and(|s| !s.is_empty());
        let secret = self.client_secret.as_ref().is_some_and(|s| !s.is_empty());
        let missing = |flag: &str, why: &str| {
            Err(IntakeError::Config(format!(
                "Pax8 intake is half configured: {flag} is missing ({why})"
            )))
        };
        match (id, secret) {
            (false, false) => {
                if self.webhook_url.is_some() || self.provisioner_id.is_some() {
                    return missing(
                        "--pax8-client-id",
                        "the webhook and provisioner settings need Pax8 credentials",
                    );
                }
                return Ok(None);
            }
            (true, false) => return missing("--pax8-client-secret", "given --pax8-client-id"),
            (false, true) => return missing("--pax8-client-id", "given --pax8-client-secret"),
            (true, true) => {}
        }
        if self.products.is_none() {
            return missing(
                "--pax8-products",
                "orders need a product-id → plan tier mapping",
            );
        }
        if self.webhook_url.is_some() && self.provisioner_id.is_none() {
            return missing(
                "--pax8-provisioner-id",
                "registering --pax8-webhook-url needs the provisioner",
            );
        }
        if let Some(u) = &self.webhook_url
            && !matches!(
                reqwest::Url::parse(u)
                    .map(|u| u.scheme().to_owned())
                    .as_deref(),
                Ok("http" | "https")
            )
        {
            return Err(IntakeError::Config(format!(
                "--pax8-webhook-url {u:?} is not an http(s) URL"
            )));
        }
        Ok(Some(()))
    }
}

/// What the webhook handler, poller and reporter share.
pub struct Intake {
    pub cfg: IntakeConfig,
    pub pax8: Pax8Client,
    pub kube: kube::Client,
    pub products: ProductMap,
    pub metrics: Arc<Metrics>,
    pub secret: webhook::SecretCache,
}

impl Intake {
    pub fn new(
        cfg: IntakeConfig,
        kube: kube::Client,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Self>, IntakeError> {
        let creds = Pax8Credentials {
            client_id: cfg.client_id.clone(),
            client_secret: cfg.client_secret.clone(),
        };
        let mut core = Pax8Client::config(&cfg.pax8_url, &creds);
        let m = metrics.clone();
        core.observer = Some(Arc::new(move |r: &crate::cloud::CallRecord| {
            m.cloud_call(r)
        }));
        let pax8 = Pax8Client::with_config(core, creds)?;
        let products = ProductMap::load(&cfg.products)?;
        Ok(Arc::new(Self {
            secret: webhook::SecretCache::new(kube.clone(), &cfg.namespace),
            cfg,
            pax8,
            kube,
            products,
            metrics,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> IntakeFlags {
        IntakeFlags {
            client_id: Some("id".into()),
            client_secret: Some(Secret::new("s")),
            provisioner_id: Some("p".into()),
            webhook_url: Some("http://127.0.0.1:1/pax8/webhook".into()),
            products: Some("/x.yaml".into()),
        }
    }

    fn err(f: &IntakeFlags) -> String {
        f.check().map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn intake_is_off_without_credentials_and_on_with_all() {
        assert!(IntakeFlags::default().check().unwrap().is_none());
        assert!(flags().check().unwrap().is_some());
    }

    #[test]
    fn partial_configuration_names_the_missing_flag() {
        let mut f = flags();
        f.client_secret = None;
        assert!(err(&f).contains("--pax8-client-secret"), "{}", err(&f));
        let mut f = flags();
        f.client_id = None;
        assert!(err(&f).contains("--pax8-client-id"), "{}", err(&f));
        let mut f = flags();
        f.products = None;
        assert!(err(&f).contains("--pax8-products"), "{}", err(&f));
        let mut f = flags();
        f.provisioner_id = None;
        assert!(err(&f).contains("--pax8-provisioner-id"), "{}", err(&f));
        let f = IntakeFlags {
            webhook_url: Some("http://127.0.0.1:1/".into()),
            ..IntakeFlags::default()
        };
        assert!(err(&f).contains("--pax8-client-id"), "{}", err(&f));
    }

    #[test]
    fn debug_never_shows_the_client_secret() {
        let c = IntakeConfig {
            pax8_url: "http://127.0.0.1:1".into(),
            client_id: "id".into(),
            client_secret: Secret::new("hunter2-very-secret"),
            provisioner_id: None,
            webhook_url: None,
            namespace: "pax8".into(),
            products: "/x".into(),
            poll_interval: Duration::from_secs(1),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
