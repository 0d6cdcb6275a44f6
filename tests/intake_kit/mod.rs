//! Helpers of the Pax8 intake end-to-end tests: the operator with the intake on (webhook URL on a
//! pre-picked loopback port, a product mapping file), order events in the Pax8 simulator, the
//! results it holds, and Platforms in the intake namespace.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Secret as KubeSecret};
use kube::Api;
use kube::api::PostParams;
use nno_operator::api::platform::Platform;
use nno_operator::cloud::Secret;
use nno_operator::cloud::pax8::{
    OrderEvent, PageRequest, Pax8Client, Pax8Credentials, ProvisionRequest, ProvisionResult,
};
use serde_json::{Value, json};

use crate::operator_kit::{Env, EnvOptions, WAIT, wait_for};

pub const PAX8_NS: &str = "pax8";
pub const GROWTH: &str = "0b6f6a1e-8a35-4c7c-9b59-3f1f4b2a0001";
pub const ENTERPRISE: &str = "0b6f6a1e-8a35-4c7c-9b59-3f1f4b2a0002";

pub struct Intake {
    pub env: Env,
    pub products: PathBuf,
    pub webhook_url: Option<String>,
    _dir: tempfile::TempDir,
}

/// A free loopback port (bound, read, released).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

pub fn products_yaml() -> String {
    format!(
        "products:\n- productId: {GROWTH}\n  planTier: growth\n- productId: {ENTERPRISE}\n  planTier: enterprise\n"
    )
}

/// The provisioner id the Pax8 simulator hands out.
pub async fn provisioner_id(pax8_url: &str, id: &str, secret: &str) -> String {
    let c = client(pax8_url, id, secret);
    let page = c.list_provisioners(PageRequest::default()).await.unwrap();
    page.content[0].id.clone().unwrap()
}

pub fn client(pax8_url: &str, id: &str, secret: &str) -> Pax8Client {
    Pax8Client::new(
        pax8_url,
        Pax8Credentials {
            client_id: id.into(),
            client_secret: Secret::new(secret),
        },
    )
    .unwrap()
}

impl Intake {
    /// The operator with the intake on; `webhook` registers a webhook URL (else only polling).
    pub async fn start(webhook: bool, poll: Duration) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let products = dir.path().join("products.yaml");
        std::fs::write(&products, products_yaml()).unwrap();
        let port = free_port();
        let url = webhook.then(|| format!("http://127.0.0.1:{port}/pax8/webhook"));
        let (p, u) = (products.clone(), url.clone());
        let tweak = Arc::new(
            move |sims: &nno_sim::Simulators, a: &mut nno_operator::run::RunArgs| {
                a.http_addr = ([127, 0, 0, 1], port).into();
                a.pax8_url = sims.pax8_url().to_owned();
                a.pax8_client_id = Some(sims.pax8_client_id().to_owned());
                a.pax8_client_secret = Some(Secret::new(sims.pax8_client_secret()));
                a.pax8_webhook_url = u.clone();
                a.pax8_products = Some(p.clone());
                a.pax8_poll_interval = poll;
            },
        );
        // The provisioner id is only known once the simulator runs: the tweak reads it.
        let env = Env::with(EnvOptions {
            tweak: Some(Arc::new(move |sims, a| {
                tweak(sims, a);
                a.pax8_provisioner_id = Some(provisioner_blocking(sims));
            })),
            ..EnvOptions::default()
        })
        .await;
        Self {
            env,
            products,
            webhook_url: url,
            _dir: dir,
        }
    }

    pub fn pax8(&self) -> Pax8Client {
        let s = &self.env.sims;
        client(s.pax8_url(), s.pax8_client_id(), s.pax8_client_secret())
    }

    pub fn platforms(&self) -> Api<Platform> {
        Api::namespaced(self.env.kube.clone(), PAX8_NS)
    }

    /// Creates an order event (`POST /provision-simulations/order-events`); returns the request.
    pub async fn order(&self, req: Value) -> ProvisionRequest {
        let req: ProvisionRequest = serde_json::from_value(req).unwrap();
        let ev = OrderEvent {
            provision_request: Some(req),
            ..OrderEvent::default()
        };
        self.pax8()
            .create_order_event(&ev)
            .await
            .unwrap()
            .provision_request
            .unwrap()
    }

    pub async fn results(&self, request_id: &str) -> Vec<ProvisionResult> {
        self.pax8()
            .list_results(
                request_id,
                None,
                PageRequest {
                    page: Some(0),
                    size: Some(100),
                },
            )
            .await
            .unwrap()
            .content
    }

    /// Waits until request `id` has at least one result, returning them all.
    pub async fn wait_results(&self, id: &str) -> Vec<ProvisionResult> {
        wait_for(&format!("a result for {id}"), WAIT, || async {
            let r = self.results(id).await;
            (!r.is_empty()).then_some(r)
        })
        .await
    }

    pub async fn wait_platform(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&Platform) -> bool,
    ) -> Platform {
        let api = self.platforms();
        crate::operator_kit::wait_object(&api, name, what, pred).await
    }

    /// The webhook's header and shared secret, from the Secret the operator stored.
    pub async fn webhook_secret(&self) -> (String, String) {
        let api: Api<KubeSecret> = Api::namespaced(self.env.kube.clone(), PAX8_NS);
        wait_for("the webhook Secret", WAIT, || {
            let api = api.clone();
            async move {
                let s = api.get_opt("nno-operator-pax8-webhook").await.ok()??;
                let d = s.data?;
                let t = |k: &str| String::from_utf8(d.get(k)?.0.clone()).ok();
                Some((t("header")?, t("sharedSecret")?))
            }
        })
        .await
    }

    pub async fn metrics(&self) -> String {
        self.env.metrics().await
    }

    pub async fn set_pax8_faults(&self, faults: Value) {
        let r = reqwest::Client::new()
            .put(format!("{}/_sim/faults", self.env.sims.pax8_url()))
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "PUT /_sim/faults: {}", r.status());
    }
}

/// The provisioner id, read over HTTP from a helper thread (the tweak is synchronous).
fn provisioner_blocking(sims: &nno_sim::Simulators) -> String {
    let (url, id, secret) = (
        sims.pax8_url().to_owned(),
        sims.pax8_client_id().to_owned(),
        sims.pax8_client_secret().to_owned(),
    );
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(provisioner_id(&url, &id, &secret))
    })
    .join()
    .unwrap()
}

/// Creates the intake namespace.
pub async fn namespace(kube: &kube::Client) {
    let api: Api<Namespace> = Api::all(kube.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": PAX8_NS}})).unwrap();
    let _ = api.create(&PostParams::default(), &ns).await;
}

/// A fresh v4 UUID.
pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn cond(p: &Platform, type_: &str) -> Option<(String, String)> {
    p.status
        .as_ref()?
        .common
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (format!("{:?}", c.status), c.reason.clone()))
}

pub fn ready(p: &Platform) -> bool {
    cond(p, "Ready").is_some_and(|c| c.0 == "True")
        && p.status.as_ref().and_then(|s| s.common.observed_generation) == p.metadata.generation
}
