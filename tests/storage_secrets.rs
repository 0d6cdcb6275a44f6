//! Storage secrets never leak: with every log line of the operator captured at debug level, a
//! Bucket's S3 secret key and a ServicePackage's password (both only in their connection Secrets)
//! appear in none of the logs, Events, object status or metrics. One test per binary: it owns the
//! global logger.

mod net_kit;
mod operator_kit;
mod storage_kit;

use std::io::Write;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::Event;
use kube::Api;
use net_kit::{is_ready, wait_obj};
use operator_kit::{Env, NS, WAIT, wait_for};
use serde_json::json;
use storage_kit::*;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_secret_keys_and_service_passwords_never_reach_logs_events_status_or_metrics() {
    let capture = Capture::default();
    let sink = capture.clone();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "debug,nno_devcluster=off,nno_sim=off",
        ))
        .with_writer(move || sink.clone())
        .json()
        .init();

    let env = Env::start().await;
    env.platform().await;
    env.apply(bucket("media-1", json!({}))).await;
    env.apply(package("db-1", json!({"whitelist": ["203.0.113.0/24"]})))
        .await;
    wait_obj(&buckets(&env), "media-1", "Ready", is_ready).await;
    wait_obj(&packages(&env), "db-1", "Ready", is_ready).await;
    let s3 = wait_for("bucket connection Secret", WAIT, || async {
        secret_data(&env, "media-1-s3")
            .await
            .and_then(|d| d.get("secretKey").cloned())
    })
    .await;
    let pass = wait_for("package connection Secret", WAIT, || async {
        secret_data(&env, "db-1-conn")
            .await
            .and_then(|d| d.get("password").cloned())
    })
    .await;
    assert!(s3.len() >= 20 && pass.len() >= 8);
    // The key goes with the object: its deletion is logged too.
    net_kit::delete(&buckets(&env), "media-1").await;
    net_kit::wait_gone(&buckets(&env), "media-1").await;

    let events: Api<Event> = Api::namespaced(env.kube.clone(), NS);
    let events = serde_json::to_string(&events.list(&Default::default()).await.unwrap()).unwrap();
    let objects =
        serde_json::to_string(&packages(&env).list(&Default::default()).await.unwrap()).unwrap();
    let metrics = env.metrics().await;
    env.stop().await;
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("S3 key"),
        "the capture works: {} bytes",
        logs.len()
    );
    for secret in [s3.as_str(), pass.as_str(), "dev-api-key"] {
        for (what, text) in [
            ("logs", &logs),
            ("events", &events),
            ("objects", &objects),
            ("metrics", &metrics),
        ] {
            assert!(!text.contains(secret), "a secret appears in the {what}");
        }
    }
}
