//! `/_sim/` introspection of every simulator (counts, request counters, faults, reset), the
//! [`SimBackend`] trait the simulators implement, and [`wrap`], which adds these plus the fault
//! and counting layers around a simulator's own router.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

use super::faults::{FaultConfig, FaultLayerState, Faults, inject};

/// What the harness needs from each simulated API.
pub trait SimBackend: Send + Sync + 'static {
    /// `threenv`, `nno` or `pax8` (also the key in the state file).
    fn name(&self) -> &'static str;
    /// Number of stored objects per kind, for `GET /_sim/counts`.
    fn counts(&self) -> BTreeMap<String, usize>;
    /// Back to the initial state (as just started with the same config).
    fn reset(&self);
    /// All state as JSON, for the state file.
    fn snapshot(&self) -> Value;
    /// Replaces all state with a snapshot taken earlier.
    fn restore(&self, snapshot: Value) -> Result<(), serde_json::Error>;
    /// A response in this API's documented error envelope (used by the fault layer).
    fn error_response(&self, status: StatusCode, message: &str) -> Response;
    /// Backend-specific test hooks, mounted beside `/_sim/…` (paths should start with
    /// `/_sim/<name>/`): like the rest of `/_sim/`, without faults and request counting.
    fn sim_routes(&self) -> Option<Router> {
        None
    }
}

/// A simulator ready to be served: its state and its API routes (without `/_sim/`). The router
/// should have its own fallback (a 404 in the API's envelope); axum layers reach an explicit
/// fallback only, so unmatched requests are counted (as `<unmatched>`) only then.
pub struct Simulator {
    pub backend: Arc<dyn SimBackend>,
    pub router: Router,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct CounterKey {
    method: String,
    path: String,
    status: u16,
}

/// Requests served, by method, matched path template and status.
#[derive(Debug, Default)]
pub struct RequestCounters {
    counts: Mutex<BTreeMap<CounterKey, u64>>,
}

/// One row of `GET /_sim/requests`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct RequestCount {
    pub method: String,
    /// The route template (e.g. `/api/v1/provision/jobs/{jobId}`), or `<unmatched>`.
    pub path: String,
    pub status: u16,
    pub count: u64,
}

impl RequestCounters {
    fn record(&self, method: &str, path: &str, status: u16) {
        let key = CounterKey {
            method: method.to_owned(),
            path: path.to_owned(),
            status,
        };
        *self
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_default() += 1;
    }

    pub fn rows(&self) -> Vec<RequestCount> {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| RequestCount {
                method: k.method.clone(),
                path: k.path.clone(),
                status: k.status,
                count: *v,
            })
            .collect()
    }

    pub fn clear(&self) {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

async fn count(State(counters): State<Arc<RequestCounters>>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "<unmatched>".to_owned());
    let resp = next.run(req).await;
    counters.record(&method, &path, resp.status().as_u16());
    resp
}

#[derive(Clone)]
struct IntrospectState {
    backend: Arc<dyn SimBackend>,
    faults: Arc<Faults>,
    counters: Arc<RequestCounters>,
}

/// Adds fault injection and request counting to `sim.router`, and mounts `/_sim/` beside it
/// (introspection is neither authenticated nor subject to faults).
pub fn wrap(sim: Simulator, faults: Arc<Faults>) -> (Router, Arc<RequestCounters>) {
    let counters = Arc::new(RequestCounters::default());
    let fault_state = FaultLayerState {
        faults: faults.clone(),
        backend: sim.backend.clone(),
    };
    let api = sim
        .router
        .layer(middleware::from_fn_with_state(fault_state, inject))
        .layer(middleware::from_fn_with_state(counters.clone(), count));
    let extra = sim.backend.sim_routes();
    let state = IntrospectState {
        backend: sim.backend,
        faults,
        counters: counters.clone(),
    };
    let introspect = Router::new()
        .route("/_sim/counts", get(get_counts))
        .route("/_sim/requests", get(get_requests))
        .route("/_sim/faults", get(get_faults).put(put_faults))
        .route("/_sim/reset", post(reset))
        .with_state(state);
    let mut router = api.merge(introspect);
    if let Some(extra) = extra {
        router = router.merge(extra);
    }
    (router, counters)
}

async fn get_counts(State(st): State<IntrospectState>) -> Json<BTreeMap<String, usize>> {
    Json(st.backend.counts())
}

async fn get_requests(State(st): State<IntrospectState>) -> Json<Value> {
    let rows = st.counters.rows();
    let total: u64 = rows.iter().map(|r| r.count).sum();
    Json(json!({ "requests": rows, "total": total }))
}

async fn get_faults(State(st): State<IntrospectState>) -> Json<FaultConfig> {
    Json(st.faults.get())
}

async fn put_faults(State(st): State<IntrospectState>, body: Bytes) -> Response {
    let cfg: FaultConfig = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => return sim_error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    match st.faults.set(cfg.clone()) {
        Ok(()) => Json(cfg).into_response(),
        Err(e) => sim_error(StatusCode::BAD_REQUEST, &e),
    }
}

async fn reset(State(st): State<IntrospectState>) -> StatusCode {
    st.backend.reset();
    st.counters.clear();
    StatusCode::NO_CONTENT
}

fn sim_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}
