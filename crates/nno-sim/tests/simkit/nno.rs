//! NNO helpers for the simulator tests: settings and raw HTTP calls under `/api/v1/provision`.

use std::time::Duration;

use nno_sim::SimConfig;
use serde_json::Value;

use super::*;

pub const P: &str = "/api/v1/provision";

pub fn cfg(delay_ms: u64, failure_rate: f64) -> SimConfig {
    SimConfig {
        provision_delay: Duration::from_millis(delay_ms),
        job_failure_rate: failure_rate,
        ..SimConfig::default()
    }
}

pub async fn post(base: &str, path: &str, body: Value) -> (u16, Value) {
    let r = http()
        .post(format!("{base}{P}{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

pub async fn post_empty(base: &str, path: &str) -> (u16, Value) {
    let r = http()
        .post(format!("{base}{P}{path}"))
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

pub async fn get(base: &str, path: &str) -> (u16, Value) {
    let r = http().get(format!("{base}{P}{path}")).send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

pub async fn new_job(base: &str, platform: &str) -> String {
    let (s, v) = post(
        base,
        "/platform",
        json!({"platformId": platform, "planTier": "pro", "billingEmail": "ops@example.com"}),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    v["jobId"].as_str().unwrap().to_owned()
}

pub async fn wait_status(base: &str, job: &str, status: &str) -> Value {
    eventually(WAIT, status, || async {
        let (_, v) = get(base, &format!("/jobs/{job}")).await;
        (v["status"] == status).then_some(v)
    })
    .await
}

pub async fn first_dlq_entry(base: &str) -> String {
    eventually(WAIT, "a DLQ entry", || async {
        let (_, v) = get(base, "/dlq").await;
        v["data"][0]["entryId"].as_str().map(str::to_owned)
    })
    .await
}
