//! Secrets never leak: with every log line of the operator captured at debug level, the generated
//! VM password, a referenced password (before and after a change) and the API key appear in none
//! of the logs, Events, object status or metrics. One test per binary: it owns the global logger.

mod operator_kit;

use std::io::Write;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Event, Secret};
use kube::Api;
use operator_kit::{Env, NS, WAIT, wait_for};
use serde_json::json;

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
async fn passwords_and_keys_never_reach_logs_events_status_or_metrics() {
    let capture = Capture::default();
    let sink = capture.clone();
    // Everything the operator process would log (its own target, kube, hyper, reqwest), at debug;
    // the devcluster and the simulators are the test's infrastructure, not the operator.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "debug,nno_devcluster=off,nno_sim=off",
        ))
        .with_writer(move || sink.clone())
        .json()
        .init();

    let env = Env::start().await;
    env.platform().await;
    let referenced_v1 = "Referenced1Password";
    let referenced_v2 = "Changed2Password";
    env.secret("db-login", &[("password", referenced_v1)]).await;
    env.apply(Env::vm("gen-pw", json!({}))).await;
    env.apply(Env::vm(
        "ref-pw",
        json!({"passwordSecretRef": {"name": "db-login", "key": "password"}}),
    ))
    .await;
    env.wait_ready("gen-pw").await;
    env.wait_ready("ref-pw").await;
    env.secret("db-login", &[("password", referenced_v2)]).await;
    wait_for("changed password pushed", WAIT, || async {
        let r = env.requests().await;
        let pushes: u64 = r
            .iter()
            .filter(|((m, p), _)| m == "PATCH" && p.ends_with("user-resource/vm/user"))
            .map(|(_, n)| n)
            .sum();
        (pushes >= 1).then_some(())
    })
    .await;

    let secrets: Api<Secret> = Api::namespaced(env.kube.clone(), NS);
    let conn = secrets.get("gen-pw-conn").await.unwrap();
    let generated = String::from_utf8(conn.data.unwrap()["password"].0.clone()).unwrap();
    assert!(generated.len() >= 8);
    let ref_conn = secrets.get("ref-pw-conn").await.unwrap();
    assert_eq!(
        String::from_utf8(ref_conn.data.unwrap()["password"].0.clone()).unwrap(),
        referenced_v2
    );

    let events: Api<Event> = Api::namespaced(env.kube.clone(), NS);
    let events = serde_json::to_string(&events.list(&Default::default()).await.unwrap()).unwrap();
    let vms = serde_json::to_string(&env.vms().list(&Default::default()).await.unwrap()).unwrap();
    let metrics = env.metrics().await;
    env.stop().await;
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("created"),
        "the capture works: {} bytes",
        logs.len()
    );
    for secret in [
        generated.as_str(),
        referenced_v1,
        referenced_v2,
        "dev-api-key",
    ] {
        for (what, text) in [
            ("logs", &logs),
            ("events", &events),
            ("VM objects", &vms),
            ("metrics", &metrics),
        ] {
            assert!(!text.contains(secret), "a secret appears in the {what}");
        }
    }
}
