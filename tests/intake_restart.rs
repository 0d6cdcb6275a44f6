//! The Pax8 result is posted exactly once across a SIGKILL: the operator (a real `run` process)
//! posts the result, Pax8 commits it but the reply is lost, the operator is killed before it
//! records the result on the Platform, and the restarted operator finds the result in Pax8 and
//! records it instead of posting a second one.

use crate::intake_kit;
use crate::operator_kit;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use intake_kit::*;
use nno_operator::cloud::pax8::{OrderEvent, PageRequest, ProvisionRequest};
use operator_kit::{Env, EnvOptions, WAIT, wait_for};
use serde_json::json;

struct Op {
    child: Child,
    /// Every log line the process wrote so far.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Op {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(env: &Env, kubeconfig: &Path, products: &Path, port: u16, provisioner: &str) -> Op {
    let s = &env.sims;
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_nno-operator"))
        .args(["--log-format", "json", "run", "--leader-election=false"])
        .args(["--http-addr", &addr])
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--threenv-url", s.threenv_url(), "--nno-url", s.nno_url()])
        .args([
            "--pax8-url",
            s.pax8_url(),
            "--pax8-client-id",
            s.pax8_client_id(),
        ])
        .env("NNO_PAX8_CLIENT_SECRET", s.pax8_client_secret())
        .args(["--pax8-provisioner-id", provisioner])
        .args(["--pax8-webhook-url", &format!("http://{addr}/pax8/webhook")])
        .arg("--pax8-products")
        .arg(products)
        .args([
            "--poll-interval",
            "2s",
            "--transition-poll-interval",
            "200ms",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn nno-operator run");
    let stderr = child.stderr.take().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let lines = log.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            lines.lock().unwrap().push(line.clone());
            if !sent && line.contains("nno-operator running") {
                let _ = tx.send(());
                sent = true;
            }
        }
    });
    rx.recv_timeout(WAIT).expect("the operator starts");
    Op { child, log }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_is_posted_exactly_once_when_the_operator_is_killed_before_recording_it() {
    let env = Env::with(EnvOptions {
        operator: false,
        ..EnvOptions::default()
    })
    .await;
    namespace(&env.kube).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, env.dc.kubeconfig()).unwrap();
    let products = dir.path().join("products.yaml");
    std::fs::write(&products, products_yaml()).unwrap();
    let s = &env.sims;
    let pax8 = client(s.pax8_url(), s.pax8_client_id(), s.pax8_client_secret());
    let provisioner =
        provisioner_id(s.pax8_url(), s.pax8_client_id(), s.pax8_client_secret()).await;
    let port = free_port();
    let mut first = spawn(&env, &kubeconfig, &products, port, &provisioner);
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(env.kube.clone(), PAX8_NS);
    wait_for("the webhook is registered", WAIT, || {
        let secrets = secrets.clone();
        async move {
            secrets
                .get_opt("nno-operator-pax8-webhook")
                .await
                .ok()
                .flatten()
        }
    })
    .await;

    // Result posts are committed, but their replies never arrive.
    let faults = json!({"lost_reply_rate": 1.0, "methods": ["POST"], "path_prefix": "/v2/provision-requests/"});
    let r = reqwest::Client::new()
        .put(format!("{}/_sim/faults", s.pax8_url()))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let sub = uuid();
    let req: ProvisionRequest = serde_json::from_value(
        json!({"type": "NetNew", "productId": GROWTH, "subscriptionId": sub}),
    )
    .unwrap();
    let ev = pax8
        .create_order_event(&OrderEvent {
            provision_request: Some(req),
            ..OrderEvent::default()
        })
        .await
        .unwrap();
    let rid = ev.provision_request.unwrap().id.unwrap();
    let page = PageRequest {
        page: Some(0),
        size: Some(100),
    };
    wait_for("the result is committed in Pax8", WAIT, || async {
        let n = pax8
            .list_results(&rid, None, page)
            .await
            .ok()?
            .content
            .len();
        (n > 0).then_some(())
    })
    .await;
    first.child.kill().unwrap();
    let _ = first.child.wait();
    let name = format!("pax8-{sub}");
    let platforms: kube::Api<nno_operator::api::platform::Platform> =
        kube::Api::namespaced(env.kube.clone(), PAX8_NS);
    let p = platforms.get(&name).await.unwrap();
    let reported = |p: &nno_operator::api::platform::Platform| {
        p.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("pax8.nno.app/reported-result").cloned())
    };
    assert_eq!(reported(&p), None, "killed before the result was recorded");
    assert!(ready(&p), "the Platform was Ready when the result went out");

    let r = reqwest::Client::new()
        .put(format!("{}/_sim/faults", s.pax8_url()))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let second = spawn(&env, &kubeconfig, &products, port, &provisioner);
    wait_for("the restarted operator records the result", WAIT, || {
        let platforms = platforms.clone();
        let name = name.clone();
        async move {
            let p = platforms.get_opt(&name).await.ok()??;
            reported(&p).filter(|v| v.ends_with("=Success"))
        }
    })
    .await;
    let results = pax8.list_results(&rid, None, page).await.unwrap().content;
    assert_eq!(results.len(), 1, "exactly one result: {results:?}");
    // Redelivery to the restarted operator changes nothing either.
    let again = pax8.create_attempt(&rid).await.unwrap().id.unwrap();
    wait_for("the redelivery is answered", WAIT, || async {
        let a = pax8.get_attempt(&rid, &again).await.ok()?;
        (a.status.as_deref() == Some("Success")).then_some(())
    })
    .await;
    let webhooks = pax8
        .list_webhooks(&provisioner, page)
        .await
        .unwrap()
        .content;
    assert_eq!(
        webhooks.len(),
        1,
        "the restart did not register a second webhook"
    );
    let results = pax8.list_results(&rid, None, page).await.unwrap().content;
    assert_eq!(results.len(), 1, "still one result");
    // Neither the client secret nor the webhook's shared secret reached a log line.
    let shared = secrets.get("nno-operator-pax8-webhook").await.unwrap();
    let shared = String::from_utf8(shared.data.unwrap()["sharedSecret"].0.clone()).unwrap();
    for op in [&first, &second] {
        let log = op.log.lock().unwrap();
        assert!(
            log.iter().any(|l| l.contains("Pax8 order intake on")),
            "the intake ran"
        );
        for line in log.iter() {
            assert!(
                !line.contains(s.pax8_client_secret()),
                "client secret in: {line}"
            );
            assert!(!line.contains(&shared), "webhook secret in: {line}");
        }
    }
    env.stop().await;
}
