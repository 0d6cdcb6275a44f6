//! Shared helpers of the 3nv.io simulator and client tests: start the simulator in-process on
//! port 0 and make raw HTTP calls.
#![allow(dead_code)]

pub mod replay;

use std::sync::Arc;
use std::time::Duration;

use nno_sim::threenv::{ThreenvConfig, ThreenvSim, router};
use nno_sim::{FaultConfig, SimServer, Simulator};
use serde_json::Value;

pub const KEY: &str = "test-key-1";
pub const KEY2: &str = "test-key-2";

pub struct Running {
    pub sim: ThreenvSim,
    pub server: SimServer,
    pub http: reqwest::Client,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.server.url(), path)
    }
}

/// Starts a simulator with two API keys (two users) and the given provision delay.
pub async fn start_with(delay: Duration) -> Running {
    let sim = ThreenvSim::new(ThreenvConfig {
        api_keys: vec![KEY.to_string(), KEY2.to_string()],
        provision_delay: delay,
        seed: Some(7),
        ..ThreenvConfig::default()
    });
    let simulator = Simulator {
        backend: Arc::new(sim.clone()),
        router: router(sim.clone()),
    };
    let server = SimServer::start(
        simulator,
        "127.0.0.1:0".parse().unwrap(),
        FaultConfig::default(),
        Some(7),
    )
    .await
    .unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    Running { sim, server, http }
}

pub async fn start() -> Running {
    start_with(Duration::ZERO).await
}

/// A response: status, parsed JSON (if any) and the raw text.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub json: Option<Value>,
    pub text: String,
}

impl Reply {
    /// The message of a 3nv.io error envelope (panics when the body is not one).
    pub fn error(&self) -> String {
        self.json
            .as_ref()
            .and_then(|j| j.pointer("/errors/Error"))
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("not a 3nv error envelope: {} {}", self.status, self.text))
            .to_string()
    }

    pub fn body(&self) -> &Value {
        self.json
            .as_ref()
            .unwrap_or_else(|| panic!("no JSON body: {} {}", self.status, self.text))
    }
}

pub enum Body<'a> {
    None,
    Form(&'a [(&'a str, &'a str)]),
    Json(Value),
    Raw(&'a str, &'a str),
}

/// One call with the given API key (None = no `apikey` header).
pub async fn call(
    r: &Running,
    key: Option<&str>,
    method: &str,
    path: &str,
    body: Body<'_>,
) -> Reply {
    let mut req = r.http.request(method.parse().unwrap(), r.url(path));
    if let Some(k) = key {
        req = req.header("apikey", k);
    }
    req = match body {
        Body::None => req,
        Body::Form(pairs) => req
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(pairs).unwrap()),
        Body::Json(v) => req
            .header("content-type", "application/json")
            .body(v.to_string()),
        Body::Raw(ct, text) => req.header("content-type", ct).body(text.to_string()),
    };
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let json = serde_json::from_str(&text).ok();
    Reply { status, json, text }
}

pub async fn form(r: &Running, method: &str, path: &str, pairs: &[(&str, &str)]) -> Reply {
    call(r, Some(KEY), method, path, Body::Form(pairs)).await
}

pub async fn json(r: &Running, method: &str, path: &str, v: Value) -> Reply {
    call(r, Some(KEY), method, path, Body::Json(v)).await
}

pub async fn get(r: &Running, path: &str) -> Reply {
    call(r, Some(KEY), "GET", path, Body::None).await
}

/// Creates a running Ubuntu VM in `loc` (None = default) and returns its uuid.
pub async fn vm(r: &Running, loc: Option<&str>, extra: &[(&str, &str)]) -> String {
    let path = match loc {
        Some(l) => format!("/v1/{l}/user-resource/vm"),
        None => "/v1/user-resource/vm".to_string(),
    };
    let mut p: Vec<(&str, &str)> = vec![
        ("name", "web-1"),
        ("os_name", "ubuntu"),
        ("os_version", "16.04"),
        ("disks", "20"),
        ("vcpu", "2"),
        ("ram", "2048"),
        ("username", "example"),
        ("password", "Password123"),
        ("billing_account_id", "6"),
    ];
    for (k, v) in extra {
        p.retain(|(pk, _)| pk != k);
        p.push((k, v));
    }
    let reply = form(r, "POST", &path, &p).await;
    assert_eq!(reply.status, 200, "create vm: {}", reply.text);
    reply.body()["uuid"].as_str().unwrap().to_string()
}

/// Form parameters of a valid Ubuntu VM.
pub fn base_vm() -> Vec<(&'static str, &'static str)> {
    vec![
        ("name", "web-1"),
        ("os_name", "ubuntu"),
        ("os_version", "16.04"),
        ("disks", "20"),
        ("vcpu", "2"),
        ("ram", "2048"),
        ("username", "example"),
        ("password", "Password123"),
        ("billing_account_id", "6"),
    ]
}
