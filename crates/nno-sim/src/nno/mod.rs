//! Simulator of the NNO Provisioning Service (`/api/v1/provision/…`): job-creating operations,
//! jobs, DLQ and auth upgrade, with the NNO error envelope and optional bearer auth.

mod jobs;
mod routes;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Json;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http::StatusCode;
use rand::rngs::StdRng;
use serde_json::{Value, json};

pub use jobs::{Engine, FailureRule, JobStatus, Timing};

use super::{SimBackend, SimConfig, Simulator};

/// The NNO simulator's state.
pub struct NnoSim {
    token: Option<String>,
    timing: Timing,
    seed: Option<u64>,
    engine: Arc<Mutex<Engine>>,
    rng: Mutex<StdRng>,
}

/// Builds the NNO simulator (state + routes) from the shared settings.
pub fn build(cfg: &SimConfig) -> Simulator {
    let sim = Arc::new(NnoSim {
        token: cfg.nno_token.clone(),
        timing: Timing {
            delay: cfg.provision_delay,
            failure_rate: cfg.job_failure_rate,
        },
        seed: cfg.seed,
        engine: Arc::new(Mutex::new(Engine::default())),
        rng: Mutex::new(super::seeded_rng(cfg.seed, 2)),
    });
    Simulator {
        router: routes::router(sim.clone()),
        backend: sim,
    }
}

impl NnoSim {
    /// Locks the state after applying every transition that is due.
    fn state(&self) -> (MutexGuard<'_, Engine>, MutexGuard<'_, StdRng>) {
        let mut engine = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        engine.advance(&mut rng, self.timing, Utc::now());
        (engine, rng)
    }
}

/// The NNO error code used for an HTTP status.
pub fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "VALIDATION_ERROR",
        StatusCode::UNAUTHORIZED => "UNAUTHORIZED",
        StatusCode::FORBIDDEN => "FORBIDDEN",
        StatusCode::NOT_FOUND => "NOT_FOUND",
        StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
        StatusCode::CONFLICT => "CONFLICT",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
        StatusCode::TOO_MANY_REQUESTS => "RATE_LIMITED",
        StatusCode::BAD_GATEWAY => "BAD_GATEWAY",
        StatusCode::SERVICE_UNAVAILABLE => "SERVICE_UNAVAILABLE",
        StatusCode::GATEWAY_TIMEOUT => "GATEWAY_TIMEOUT",
        _ => "INTERNAL_ERROR",
    }
}

/// `{"error":{"code","message","requestId","details"}}` with a fresh request id.
pub fn envelope(status: StatusCode, code: &str, message: &str, details: Value) -> Response {
    let request_id = format!("req_{}", uuid::Uuid::new_v4().simple());
    let mut resp = (
        status,
        Json(json!({
            "error": {
                "code": code,
                "message": message,
                "requestId": request_id,
                "details": details,
            }
        })),
    )
        .into_response();
    if let Ok(v) = http::HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

impl SimBackend for NnoSim {
    fn name(&self) -> &'static str {
        "nno"
    }

    fn counts(&self) -> BTreeMap<String, usize> {
        let (engine, _rng) = self.state();
        let mut m = BTreeMap::new();
        m.insert("jobs".to_owned(), engine.job_count());
        m.insert("dlq".to_owned(), engine.dlq_count());
        for s in [
            JobStatus::Queued,
            JobStatus::Running,
            JobStatus::Completed,
            JobStatus::Failed,
        ] {
            m.insert(
                format!("jobs{}", capitalize(s.as_str())),
                engine.count_status(s),
            );
        }
        m
    }

    fn reset(&self) {
        *self.engine.lock().unwrap_or_else(|p| p.into_inner()) = Engine::default();
        *self.rng.lock().unwrap_or_else(|p| p.into_inner()) = super::seeded_rng(self.seed, 2);
    }

    fn snapshot(&self) -> Value {
        let (engine, _rng) = self.state();
        serde_json::to_value(&*engine).unwrap_or(Value::Null)
    }

    fn restore(&self, snapshot: Value) -> Result<(), serde_json::Error> {
        let mut engine: Engine = serde_json::from_value(snapshot)?;
        engine.rebuild_index();
        *self.engine.lock().unwrap_or_else(|p| p.into_inner()) = engine;
        Ok(())
    }

    fn error_response(&self, status: StatusCode, message: &str) -> Response {
        envelope(status, code_for(status), message, Value::Null)
    }

    fn sim_routes(&self) -> Option<axum::Router> {
        Some(routes::sim_routes(self.engine.clone()))
    }
}

fn capitalize(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let mut c = lower.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}
