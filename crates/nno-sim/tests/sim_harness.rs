//! The generic simulator harness with a minimal test backend: fault layer, request counters,
//! `/_sim/` endpoints and backend-specific hooks.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use nno_sim::{FaultConfig, SimBackend, SimServer, Simulator};
use serde_json::{Value, json};

#[derive(Default)]
struct Counter {
    n: AtomicUsize,
}

impl SimBackend for Counter {
    fn name(&self) -> &'static str {
        "counter"
    }
    fn counts(&self) -> BTreeMap<String, usize> {
        BTreeMap::from([("things".to_owned(), self.n.load(Ordering::SeqCst))])
    }
    fn reset(&self) {
        self.n.store(0, Ordering::SeqCst);
    }
    fn snapshot(&self) -> Value {
        json!(self.n.load(Ordering::SeqCst))
    }
    fn restore(&self, v: Value) -> Result<(), serde_json::Error> {
        self.n.store(serde_json::from_value(v)?, Ordering::SeqCst);
        Ok(())
    }
    fn error_response(&self, status: StatusCode, message: &str) -> Response {
        (status, axum::Json(json!({ "oops": message }))).into_response()
    }
    fn sim_routes(&self) -> Option<Router> {
        Some(Router::new().route("/_sim/counter/hello", get(|| async { "hi" })))
    }
}

async fn server(faults: FaultConfig) -> (SimServer, Arc<Counter>) {
    let backend = Arc::new(Counter::default());
    let b = backend.clone();
    let router = Router::new().route(
        "/things/{id}",
        post(move || {
            let b = b.clone();
            async move {
                b.n.fetch_add(1, Ordering::SeqCst);
                StatusCode::CREATED
            }
        }),
    );
    let router = router.fallback(|| async { (StatusCode::NOT_FOUND, "no such route") });
    let sim = Simulator {
        backend: backend.clone(),
        router,
    };
    let s = SimServer::start(sim, "127.0.0.1:0".parse().unwrap(), faults, Some(1))
        .await
        .unwrap();
    (s, backend)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[tokio::test]
async fn faults_use_the_backend_envelope_and_spare_sim_routes() {
    let (s, backend) = server(FaultConfig {
        error_rate: 1.0,
        ..FaultConfig::default()
    })
    .await;
    let c = http();
    let r = c
        .post(format!("{}/things/1", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["oops"], "Injected fault: service unavailable");
    assert_eq!(
        backend.n.load(Ordering::SeqCst),
        0,
        "an error fault does not run the handler"
    );
    let r = c
        .get(format!("{}/_sim/counter/hello", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.text().await.unwrap(),
        "hi",
        "backend hooks are not subject to faults"
    );

    c.put(format!("{}/_sim/faults", s.url()))
        .json(&json!({"lost_reply_rate": 1.0, "lost_reply_mode": "error"}))
        .send()
        .await
        .unwrap();
    let r = c
        .post(format!("{}/things/2", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(
        backend.n.load(Ordering::SeqCst),
        1,
        "a lost reply commits the write"
    );

    c.put(format!("{}/_sim/faults", s.url()))
        .json(&json!({"throttle_rate": 1.0, "retry_after_secs": 3, "methods": ["GET"]}))
        .send()
        .await
        .unwrap();
    let r = c
        .post(format!("{}/things/3", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "the method filter spares POST");
    c.put(format!("{}/_sim/faults", s.url()))
        .json(&json!({"throttle_rate": 1.0, "retry_after_secs": 3}))
        .send()
        .await
        .unwrap();
    let r = c
        .post(format!("{}/things/4", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "3");

    let reqs: Value = c
        .get(format!("{}/_sim/requests", s.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = reqs["requests"].as_array().unwrap();
    let status_of = |st: u64| {
        rows.iter()
            .find(|r| r["status"] == st)
            .map(|r| (r["path"].clone(), r["count"].clone()))
    };
    assert_eq!(status_of(503), Some((json!("/things/{id}"), json!(1))));
    assert_eq!(status_of(502), Some((json!("/things/{id}"), json!(1))));
    assert_eq!(status_of(201), Some((json!("/things/{id}"), json!(1))));
    assert_eq!(status_of(429), Some((json!("/things/{id}"), json!(1))));
    assert!(
        rows.iter()
            .all(|r| !r["path"].as_str().unwrap().starts_with("/_sim")),
        "introspection is not counted"
    );
    assert_eq!(reqs["total"], 4);
    s.stop().await;
}

#[tokio::test]
async fn latency_counts_and_reset() {
    let (s, _) = server(FaultConfig {
        latency_ms: 200,
        ..FaultConfig::default()
    })
    .await;
    let c = http();
    let started = std::time::Instant::now();
    c.post(format!("{}/things/1", s.url()))
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(190));
    let r = c.get(format!("{}/nowhere", s.url())).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let counts: Value = c
        .get(format!("{}/_sim/counts", s.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counts, json!({"things": 1}));
    let reqs: Value = c
        .get(format!("{}/_sim/requests", s.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        reqs["requests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["path"] == "<unmatched>" && r["status"] == 404),
        "{reqs}"
    );
    let f: Value = c
        .get(format!("{}/_sim/faults", s.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(f["latency_ms"], 200);
    let r = c
        .post(format!("{}/_sim/reset", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let counts: Value = c
        .get(format!("{}/_sim/counts", s.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counts, json!({"things": 0}));
    let reqs: Value = c
        .get(format!("{}/_sim/requests", s.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reqs["total"], 0);
    s.stop().await;
}

#[tokio::test]
async fn a_hung_request_does_not_block_stop() {
    let (s, _) = server(FaultConfig {
        timeout_rate: 1.0,
        hang_ms: 600_000,
        ..FaultConfig::default()
    })
    .await;
    let url = format!("{}/things/1", s.url());
    let pending = tokio::spawn(async move { http().post(url).send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    tokio::time::timeout(Duration::from_secs(20), s.stop())
        .await
        .expect("stop returns");
    let r = tokio::time::timeout(Duration::from_secs(20), pending)
        .await
        .expect("released")
        .unwrap();
    assert_eq!(
        r.unwrap().status(),
        504,
        "the hung request is answered at shutdown"
    );
}

#[tokio::test]
async fn seeded_faults_are_reproducible() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let (s, _) = server(FaultConfig {
            error_rate: 0.5,
            ..FaultConfig::default()
        })
        .await;
        let mut statuses = Vec::new();
        for i in 0..20 {
            let r = http()
                .post(format!("{}/things/{i}", s.url()))
                .send()
                .await
                .unwrap();
            statuses.push(r.status().as_u16());
        }
        s.stop().await;
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(
        runs[0].contains(&503) && runs[0].contains(&201),
        "{:?}",
        runs[0]
    );
}
