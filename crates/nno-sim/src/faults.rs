//! Fault injection middleware of every simulator: latency, 5xx, 429 + Retry-After, hangs and
//! "lost replies" (the write is committed, the client never sees the answer).

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use rand::RngExt;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::SimBackend;

/// What the simulator does with a lost reply after the handler has run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LostReplyMode {
    /// Abort the connection without a complete response.
    #[default]
    Drop,
    /// Answer 502 with the API's error envelope.
    Error,
}

/// Current fault settings of one simulator (`GET|PUT /_sim/faults`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Added to every request before it is handled.
    pub latency_ms: u64,
    /// Probability of answering 503 without handling the request.
    pub error_rate: f64,
    /// Probability of answering 429 with `Retry-After: retry_after_secs`.
    pub throttle_rate: f64,
    pub retry_after_secs: u64,
    /// Probability of never answering (until the client gives up or `hang_ms` passes).
    pub timeout_rate: f64,
    pub hang_ms: u64,
    /// Probability of handling the request and then losing the reply.
    pub lost_reply_rate: f64,
    pub lost_reply_mode: LostReplyMode,
    /// Only requests with one of these methods are affected (empty = all).
    pub methods: Vec<String>,
    /// Only requests whose path starts with this are affected.
    pub path_prefix: Option<String>,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            error_rate: 0.0,
            throttle_rate: 0.0,
            retry_after_secs: 1,
            timeout_rate: 0.0,
            hang_ms: 300_000,
            lost_reply_rate: 0.0,
            lost_reply_mode: LostReplyMode::Drop,
            methods: Vec::new(),
            path_prefix: None,
        }
    }
}

impl FaultConfig {
    /// Checks that every rate is a probability and that together they do not exceed 1.
    pub fn validate(&self) -> Result<(), String> {
        let rates = [
            ("error_rate", self.error_rate),
            ("throttle_rate", self.throttle_rate),
            ("timeout_rate", self.timeout_rate),
            ("lost_reply_rate", self.lost_reply_rate),
        ];
        for (name, r) in rates {
            if !(0.0..=1.0).contains(&r) {
                return Err(format!("{name} must be between 0 and 1, got {r}"));
            }
        }
        let total: f64 = rates.iter().map(|(_, r)| r).sum();
        if total > 1.0 + 1e-9 {
            return Err(format!("the fault rates add up to {total}, more than 1"));
        }
        Ok(())
    }

    fn applies(&self, method: &http::Method, path: &str) -> bool {
        let method_ok = self.methods.is_empty()
            || self
                .methods
                .iter()
                .any(|m| m.eq_ignore_ascii_case(method.as_str()));
        let path_ok = self
            .path_prefix
            .as_deref()
            .is_none_or(|p| path.starts_with(p));
        method_ok && path_ok
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Timeout,
    Throttle,
    Error,
    LostReply,
}

/// Fault settings plus the (optionally seeded) random source deciding each request.
#[derive(Debug)]
pub struct Faults {
    config: RwLock<FaultConfig>,
    rng: Mutex<StdRng>,
    /// Cancelled when the server stops, so hung requests end and shutdown is not held up.
    stopping: CancellationToken,
}

impl Faults {
    pub fn new(config: FaultConfig, rng: StdRng) -> Self {
        Self {
            config: RwLock::new(config),
            rng: Mutex::new(rng),
            stopping: CancellationToken::new(),
        }
    }

    /// Ends every request hung by the timeout fault (called when the server stops).
    pub fn release_hung(&self) {
        self.stopping.cancel();
    }

    pub fn get(&self) -> FaultConfig {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set(&self, config: FaultConfig) -> Result<(), String> {
        config.validate()?;
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = config;
        Ok(())
    }

    fn pick(&self, cfg: &FaultConfig) -> Option<Fault> {
        let total = cfg.timeout_rate + cfg.throttle_rate + cfg.error_rate + cfg.lost_reply_rate;
        if total <= 0.0 {
            return None;
        }
        let roll: f64 = self.rng.lock().unwrap_or_else(|p| p.into_inner()).random();
        let mut edge = 0.0;
        for (rate, fault) in [
            (cfg.timeout_rate, Fault::Timeout),
            (cfg.throttle_rate, Fault::Throttle),
            (cfg.error_rate, Fault::Error),
            (cfg.lost_reply_rate, Fault::LostReply),
        ] {
            edge += rate;
            if roll < edge {
                return Some(fault);
            }
        }
        None
    }
}

/// State of the fault middleware: the settings and the backend that renders error envelopes.
#[derive(Clone)]
pub struct FaultLayerState {
    pub faults: Arc<Faults>,
    pub backend: Arc<dyn SimBackend>,
}

/// The middleware itself (`axum::middleware::from_fn_with_state`).
pub async fn inject(State(st): State<FaultLayerState>, req: Request, next: Next) -> Response {
    let cfg = st.faults.get();
    if !cfg.applies(req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    if cfg.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(cfg.latency_ms)).await;
    }
    match st.faults.pick(&cfg) {
        None => next.run(req).await,
        Some(Fault::Timeout) => {
            // The client normally gives up first; hyper then drops this future.
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(cfg.hang_ms)) => {}
                _ = st.faults.stopping.cancelled() => {}
            }
            st.backend.error_response(
                StatusCode::GATEWAY_TIMEOUT,
                "Injected fault: the request timed out",
            )
        }
        Some(Fault::Throttle) => {
            let mut resp = st.backend.error_response(
                StatusCode::TOO_MANY_REQUESTS,
                "Injected fault: too many requests, retry later",
            );
            resp.headers_mut().insert(
                http::header::RETRY_AFTER,
                HeaderValue::from(cfg.retry_after_secs),
            );
            resp
        }
        Some(Fault::Error) => st.backend.error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "Injected fault: service unavailable",
        ),
        Some(Fault::LostReply) => {
            let committed = next.run(req).await;
            drop(committed);
            match cfg.lost_reply_mode {
                LostReplyMode::Error => st.backend.error_response(
                    StatusCode::BAD_GATEWAY,
                    "Injected fault: the reply was lost after the request was processed",
                ),
                LostReplyMode::Drop => broken_body(),
            }
        }
    }
}

/// A response whose body fails before its first byte, so hyper aborts the connection.
fn broken_body() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("injected lost reply"))
    });
    (StatusCode::OK, Body::from_stream(stream)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn validation() {
        let mut c = FaultConfig::default();
        assert!(c.validate().is_ok());
        c.error_rate = 1.5;
        assert!(c.validate().is_err());
        c.error_rate = 0.6;
        c.throttle_rate = 0.6;
        assert!(c.validate().is_err());
    }

    #[test]
    fn pick_respects_rates() {
        let f = Faults::new(FaultConfig::default(), StdRng::seed_from_u64(1));
        let mut c = FaultConfig::default();
        assert_eq!(f.pick(&c), None);
        c.throttle_rate = 1.0;
        assert_eq!(f.pick(&c), Some(Fault::Throttle));
        c.throttle_rate = 0.0;
        c.lost_reply_rate = 1.0;
        assert_eq!(f.pick(&c), Some(Fault::LostReply));
    }

    #[test]
    fn filters() {
        let c = FaultConfig {
            methods: vec!["post".into()],
            path_prefix: Some("/api".into()),
            ..FaultConfig::default()
        };
        assert!(c.applies(&http::Method::POST, "/api/v1/x"));
        assert!(!c.applies(&http::Method::GET, "/api/v1/x"));
        assert!(!c.applies(&http::Method::POST, "/v2/x"));
    }
}
