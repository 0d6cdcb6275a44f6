//! Pax8 helpers for the simulator tests: settings, an authenticated raw client and a webhook
//! receiver.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use nno_sim::{SimConfig, Simulators};
use serde_json::Value;

use super::*;

pub fn fast_cfg() -> SimConfig {
    SimConfig {
        webhook_retry_delays: vec![Duration::from_millis(50); 3],
        ..SimConfig::default()
    }
}

/// A webhook receiver that fails the first `fail_first` deliveries with 500.
#[derive(Clone, Default)]
pub struct Receiver {
    pub got: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
    pub fail_first: Arc<Mutex<usize>>,
}

pub async fn receive(
    State(r): State<Receiver>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    r.got.lock().unwrap().push((headers, v));
    let mut f = r.fail_first.lock().unwrap();
    if *f > 0 {
        *f -= 1;
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

pub async fn receiver(fail_first: usize) -> (String, Receiver) {
    let r = Receiver {
        fail_first: Arc::new(Mutex::new(fail_first)),
        ..Receiver::default()
    };
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), r)
}

pub struct Api {
    pub base: String,
    pub token: String,
}

impl Api {
    pub async fn new(sims: &Simulators) -> Self {
        Self {
            base: sims.pax8_url().to_owned(),
            token: pax8_token(sims).await,
        }
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = http()
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let s = resp.status().as_u16();
        (s, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> Value {
        let (s, v) = self.call("GET", path, None).await;
        assert_eq!(s, 200, "GET {path}: {v}");
        v
    }

    pub async fn provisioner(&self) -> String {
        self.get("/v2/provisioners").await["content"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}
