//! Test support for the NNO/Pax8 simulator and client tests: start simulators, talk to `/_sim/`.
#![allow(dead_code)]

pub mod nno;
pub mod pax8;

use std::time::Duration;

use nno_sim::{SimConfig, Simulators};
pub use nno_support::testing::eventually;
use serde_json::{Value, json};

/// Generous bound for anything the tests wait for (the machine may be loaded).
pub const WAIT: Duration = Duration::from_secs(20);

pub async fn start(cfg: SimConfig) -> Simulators {
    Simulators::start(cfg).await.expect("simulators start")
}

pub async fn start_default() -> Simulators {
    start(SimConfig::default()).await
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

pub async fn get_json(url: &str) -> Value {
    http().get(url).send().await.unwrap().json().await.unwrap()
}

/// Replaces the fault settings of the server at `base`.
pub async fn put_faults(base: &str, faults: Value) {
    let resp = http()
        .put(format!("{base}/_sim/faults"))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

pub async fn clear_faults(base: &str) {
    put_faults(base, json!({})).await;
}

pub async fn counts(base: &str) -> Value {
    get_json(&format!("{base}/_sim/counts")).await
}

/// Requests served for `method` + `template`, summed over statuses (and per status when given).
pub async fn served(base: &str, method: &str, template: &str, status: Option<u16>) -> u64 {
    let v = get_json(&format!("{base}/_sim/requests")).await;
    v["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == method && r["path"] == template)
        .filter(|r| status.is_none_or(|s| r["status"] == s))
        .map(|r| r["count"].as_u64().unwrap())
        .sum()
}

pub async fn reset(base: &str) {
    let resp = http()
        .post(format!("{base}/_sim/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
}

/// A Pax8 access token for the default simulator credentials.
pub async fn pax8_token(sims: &Simulators) -> String {
    let v: Value = http()
        .post(format!("{}/v1/token", sims.pax8_url()))
        .json(&json!({
            "client_id": sims.pax8_client_id(),
            "client_secret": sims.pax8_client_secret(),
            "audience": "api://provisioning",
            "grant_type": "client_credentials",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

/// Asserts the NNO error envelope and returns the error object.
pub fn assert_nno_envelope(v: &Value) -> &Value {
    let e = &v["error"];
    assert!(e["code"].is_string(), "no error.code in {v}");
    assert!(e["message"].is_string(), "no error.message in {v}");
    assert!(
        e["requestId"].as_str().is_some_and(|s| !s.is_empty()),
        "no requestId in {v}"
    );
    assert!(e.get("details").is_some(), "no error.details in {v}");
    e
}

/// Asserts the Pax8 (Spring) error envelope and returns the message.
pub fn assert_pax8_envelope(v: &Value, status: u16) -> String {
    assert_eq!(v["status"], status, "{v}");
    assert!(v["error"].is_string(), "{v}");
    assert!(v["timestamp"].is_string(), "{v}");
    v["message"].as_str().expect("message").to_owned()
}
