//! `POST /pax8/webhook`: the shared-secret header compared in constant time (401), a body size
//! limit (413), a malformed or unknown-type body (400, with the reason), then the order is
//! handled idempotently; any replica may receive it. Also the cache of the shared secret, kept in
//! a Kubernetes Secret so that every replica can check deliveries.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use k8s_openapi::api::core::v1::Secret as KubeSecret;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;
use subtle::ConstantTimeEq;

use super::orders::{self, Outcome, Source};
use super::{DEFAULT_SECRET_HEADER, Intake, IntakeError, WEBHOOK_SECRET_NAME};
use crate::cloud::Secret;
use crate::cloud::pax8::{OrderEvent, ProvisionRequestType};

/// Largest webhook body accepted.
pub const BODY_LIMIT: usize = 256 * 1024;
/// A failed check re-reads the Secret at most this often (so bad requests cannot flood the API server).
const RELOAD_EVERY: Duration = Duration::from_secs(2);
const KEY_HEADER: &str = "header";
const KEY_SECRET: &str = "sharedSecret";

/// A webhook's header name and credential.
type Credential = (String, Secret);

/// The webhook's header name and credential, read from the Secret `nno-operator-pax8-webhook`
/// (with the time of the last read).
pub struct SecretCache {
    api: Api<KubeSecret>,
    value: Mutex<(Option<Credential>, Option<Instant>)>,
}

impl SecretCache {
    pub fn new(kube: kube::Client, namespace: &str) -> Self {
        Self {
            api: Api::namespaced(kube, namespace),
            value: Mutex::new((None, None)),
        }
    }

    fn cached(&self) -> Option<Credential> {
        self.value
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .clone()
    }

    /// Whether the Secret already exists (read from the API server).
    pub async fn stored(&self) -> Result<bool, IntakeError> {
        Ok(self.reload().await?.is_some())
    }

    async fn reload(&self) -> Result<Option<Credential>, IntakeError> {
        let s = self.api.get_opt(WEBHOOK_SECRET_NAME).await?;
        let data = s.and_then(|s| s.data).unwrap_or_default();
        let text = |k: &str| {
            data.get(k)
                .and_then(|b| String::from_utf8(b.0.clone()).ok())
                .filter(|v| !v.is_empty())
        };
        let v = text(KEY_SECRET).map(|cred| {
            let header = text(KEY_HEADER).unwrap_or_else(|| DEFAULT_SECRET_HEADER.to_owned());
            (header, Secret::new(cred))
        });
        let mut g = self.value.lock().unwrap_or_else(|p| p.into_inner());
        *g = (v.clone(), Some(Instant::now()));
        Ok(v)
    }

    /// Stores a newly registered webhook's credential.
    pub async fn store(&self, header: &str, credential: &Secret) -> Result<(), IntakeError> {
        let body = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": WEBHOOK_SECRET_NAME, "labels": {"app.kubernetes.io/managed-by": "nno-operator"}},
            "type": "Opaque",
            "stringData": {KEY_HEADER: header, KEY_SECRET: credential.expose()},
        });
        self.api
            .patch(
                WEBHOOK_SECRET_NAME,
                &PatchParams::apply("nno-operator-pax8").force(),
                &Patch::Apply(body),
            )
            .await?;
        let mut g = self.value.lock().unwrap_or_else(|p| p.into_inner());
        *g = (
            Some((header.to_owned(), credential.clone())),
            Some(Instant::now()),
        );
        Ok(())
    }

    /// Whether `headers` carry the shared secret; re-reads the Secret (rate-limited) when the
    /// cached value does not match, so a rotation by another replica is picked up.
    async fn verify(&self, headers: &HeaderMap) -> bool {
        if let Some(v) = self.cached()
            && matches(&v, headers)
        {
            return true;
        }
        let due = {
            let g = self.value.lock().unwrap_or_else(|p| p.into_inner());
            g.1.is_none_or(|t| t.elapsed() >= RELOAD_EVERY)
        };
        if !due {
            return false;
        }
        match self.reload().await {
            Ok(Some(v)) => matches(&v, headers),
            Ok(None) => false,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the Pax8 webhook Secret");
                false
            }
        }
    }
}

fn matches((header, secret): &Credential, headers: &HeaderMap) -> bool {
    let given = headers
        .get(header.as_str())
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    bool::from(given.ct_eq(secret.expose().as_bytes()))
}

/// The webhook route, to merge into the operator's HTTP server.
pub fn router(intake: Arc<Intake>) -> Router {
    Router::new()
        .route("/pax8/webhook", post(receive))
        .with_state(intake)
}

fn reject(intake: &Intake, status: StatusCode, reason: &'static str, message: String) -> Response {
    intake.metrics.pax8_webhook_rejected(reason);
    tracing::info!(reason, %message, "Pax8 webhook rejected");
    let body = json!({"status": status.as_u16(), "error": reason, "message": message});
    (status, axum::Json(body)).into_response()
}

async fn receive(State(intake): State<Arc<Intake>>, headers: HeaderMap, body: Body) -> Response {
    if !intake.secret.verify(&headers).await {
        return reject(
            &intake,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong webhook shared secret".into(),
        );
    }
    let bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => {
            return reject(
                &intake,
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("the body exceeds {BODY_LIMIT} bytes"),
            );
        }
    };
    let event = match parse(&bytes) {
        Ok(e) => e,
        Err(message) => return reject(&intake, StatusCode::BAD_REQUEST, "malformed", message),
    };
    match orders::handle(&intake, event, Source::Webhook).await {
        Ok(outcome) => {
            let state = match outcome {
                Outcome::Applied => "applied",
                Outcome::Duplicate => "duplicate",
                Outcome::Reported => "reported",
            };
            (StatusCode::OK, axum::Json(json!({"status": state}))).into_response()
        }
        Err(e) => {
            // Pax8 delivers again on a non-2xx answer; everything recorded so far is idempotent.
            tracing::warn!(error = %e, "Pax8 order not handled yet");
            let body = json!({"status": 503, "error": "unavailable", "message": e.to_string()});
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
        }
    }
}

/// Decodes an order event, naming what is wrong with it.
pub fn parse(bytes: &[u8]) -> Result<OrderEvent, String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the body is not JSON: {e}"))?;
    let event: OrderEvent = serde_json::from_value(value)
        .map_err(|e| format!("the body is not a provision order event: {e}"))?;
    let Some(req) = &event.provision_request else {
        return Err("provisionRequest is missing".into());
    };
    if req.id.as_deref().is_none_or(str::is_empty) {
        return Err("provisionRequest.id is missing".into());
    }
    match req.kind {
        None => Err("provisionRequest.type is missing".into()),
        Some(ProvisionRequestType::Unknown) => {
            Err("provisionRequest.type is not a known provision request type".into())
        }
        Some(_) => Ok(event),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names_the_problem() {
        assert!(parse(b"{").unwrap_err().contains("not JSON"));
        assert!(
            parse(b"{}")
                .unwrap_err()
                .contains("provisionRequest is missing")
        );
        assert!(
            parse(br#"{"provisionRequest":{"type":"NetNew"}}"#)
                .unwrap_err()
                .contains("id")
        );
        let e = parse(br#"{"provisionRequest":{"id":"a","type":"Bogus"}}"#).unwrap_err();
        assert!(e.contains("not a known"), "{e}");
        assert!(parse(br#"{"provisionRequest":{"id":"a","type":"NetNew"}}"#).is_ok());
    }

    #[test]
    fn the_secret_compare_needs_the_exact_value() {
        let v = ("X-Pax8-Webhook-Secret".to_owned(), Secret::new("abc"));
        let mut h = HeaderMap::new();
        assert!(!matches(&v, &h));
        h.insert("x-pax8-webhook-secret", "abd".parse().unwrap());
        assert!(!matches(&v, &h));
        h.insert("x-pax8-webhook-secret", "abcd".parse().unwrap());
        assert!(!matches(&v, &h));
        h.insert("x-pax8-webhook-secret", "abc".parse().unwrap());
        assert!(matches(&v, &h));
    }
}
