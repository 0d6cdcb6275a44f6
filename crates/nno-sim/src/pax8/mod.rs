//! Simulator of Pax8 vendor provisioning (`/v2/…`, OAuth2 token at `/v1/token`): one
//! provisioner, webhooks, provision requests with details/attempts/results, order-event
//! simulation with webhook delivery.
//!
//! The OpenAPI document defines no error schema; errors use the Spring Boot shape
//! `{"timestamp","status","error","message","path"}` (plus `details` for validation).

mod delivery;
mod model;
mod provisioners;
mod requests;
mod routes;
mod token;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Json;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http::StatusCode;
use rand::RngExt;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use model::{ProvisionDetail, Provisioner, StoredAttempt, StoredResult, Webhook};

use super::{SimBackend, SimConfig, Simulator};

/// Header carrying the webhook credential when the webhook's creator named none.
pub const DEFAULT_SECRET_HEADER: &str = "X-Pax8-Webhook-Secret";
/// Audience a token request must name.
pub const AUDIENCE: &str = "api://provisioning";
/// Scope granted to simulation credentials.
pub const SCOPE: &str = "vendorSimulation:provisioning";

/// Everything the Pax8 simulator stores (and writes to the state file).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pax8State {
    pub provisioner: Provisioner,
    pub webhooks: Vec<Webhook>,
    pub requests: Vec<Value>,
    pub details: Vec<ProvisionDetail>,
    pub attempts: Vec<StoredAttempt>,
    pub results: Vec<StoredResult>,
}

/// The Pax8 simulator.
pub struct Pax8Sim {
    client_id: String,
    client_secret: String,
    token_ttl: Duration,
    retry_delays: Vec<Duration>,
    seed: Option<u64>,
    /// What `reset` returns to: no objects, the provisioner (kept across resets and restores).
    initial: Mutex<Pax8State>,
    state: Mutex<Pax8State>,
    rng: Mutex<StdRng>,
    tokens: Mutex<HashMap<String, Instant>>,
    http: reqwest::Client,
}

pub fn now_ts() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn uuid_from(rng: &mut StdRng) -> String {
    let bytes: [u8; 16] = rng.random();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// Builds the Pax8 simulator from the shared settings.
pub fn build(cfg: &SimConfig) -> Simulator {
    let mut rng = super::seeded_rng(cfg.seed, 3);
    let initial = Pax8State {
        provisioner: Provisioner {
            id: uuid_from(&mut rng),
            created_date: now_ts(),
            vendor_id: uuid_from(&mut rng),
            name: "NNO Platforms provisioner".to_owned(),
        },
        webhooks: Vec::new(),
        requests: Vec::new(),
        details: Vec::new(),
        attempts: Vec::new(),
        results: Vec::new(),
    };
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    let sim = Arc::new(Pax8Sim {
        client_id: cfg.pax8_client_id.clone(),
        client_secret: cfg.pax8_client_secret.clone(),
        token_ttl: cfg.pax8_token_ttl,
        retry_delays: cfg.webhook_retry_delays.clone(),
        seed: cfg.seed,
        state: Mutex::new(initial.clone()),
        initial: Mutex::new(initial),
        rng: Mutex::new(rng),
        tokens: Mutex::new(HashMap::new()),
        http,
    });
    Simulator {
        router: routes::router(sim.clone()),
        backend: sim,
    }
}

impl Pax8Sim {
    fn state(&self) -> MutexGuard<'_, Pax8State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn new_id(&self) -> String {
        uuid_from(&mut self.rng.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn random_bytes(&self) -> [u8; 32] {
        self.rng.lock().unwrap_or_else(|p| p.into_inner()).random()
    }
}

/// A Pax8 error response. `path` is the request path when known.
pub fn envelope(
    status: StatusCode,
    message: &str,
    path: Option<&str>,
    details: Option<Value>,
) -> Response {
    let mut body = json!({
        "timestamp": now_ts(),
        "status": status.as_u16(),
        "error": status.canonical_reason().unwrap_or("Error"),
        "message": message,
    });
    if let Some(p) = path {
        body["path"] = Value::from(p);
    }
    if let Some(d) = details {
        body["details"] = d;
    }
    (status, Json(body)).into_response()
}

impl SimBackend for Pax8Sim {
    fn name(&self) -> &'static str {
        "pax8"
    }

    fn counts(&self) -> BTreeMap<String, usize> {
        let st = self.state();
        let unfulfilled = st
            .requests
            .iter()
            .filter(|r| {
                let id = r["id"].as_str().unwrap_or_default();
                !st.results.iter().any(|x| x.request_id == id)
            })
            .count();
        BTreeMap::from([
            ("provisioners".to_owned(), 1),
            ("webhooks".to_owned(), st.webhooks.len()),
            ("provisionRequests".to_owned(), st.requests.len()),
            ("provisionRequestsUnfulfilled".to_owned(), unfulfilled),
            ("provisionDetails".to_owned(), st.details.len()),
            ("provisionAttempts".to_owned(), st.attempts.len()),
            ("provisionResults".to_owned(), st.results.len()),
            (
                "tokens".to_owned(),
                self.tokens.lock().unwrap_or_else(|p| p.into_inner()).len(),
            ),
        ])
    }

    /// Back to the start: one provisioner (the same one), nothing else; tokens are revoked.
    fn reset(&self) {
        let initial = self
            .initial
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        *self.state() = initial;
        *self.rng.lock().unwrap_or_else(|p| p.into_inner()) = super::seeded_rng(self.seed, 33);
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    fn snapshot(&self) -> Value {
        serde_json::to_value(&*self.state()).unwrap_or(Value::Null)
    }

    fn restore(&self, snapshot: Value) -> Result<(), serde_json::Error> {
        let restored: Pax8State = serde_json::from_value(snapshot)?;
        self.initial
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .provisioner = restored.provisioner.clone();
        *self.state() = restored;
        Ok(())
    }

    fn error_response(&self, status: StatusCode, message: &str) -> Response {
        envelope(status, message, None, None)
    }
}
