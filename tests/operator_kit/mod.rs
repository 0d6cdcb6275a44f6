//! Test kit for the operator's end-to-end tests: a cluster of either backend (nno-testkit; on the
//! real API server the operator runs as the ServiceAccount config/rbac/ binds) with the real CRDs,
//! the 3nv.io simulator, and the operator's real `run` code path in-process, plus helpers to wait (always with
//! a deadline), to read the simulator's counters and to change the cloud behind the operator's back.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use nno_operator::api::virtual_machine::VirtualMachine;
use nno_operator::cloud::threenv::ThreenvClient;
use nno_operator::cloud::{RetryPolicy, Secret};
use nno_operator::run::RunArgs;
use nno_sim::faults::FaultConfig;
use nno_sim::{SimConfig, Simulators};
use nno_testkit::TestCluster;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Generous deadline for convergence on a loaded 2-core CI machine.
pub const WAIT: Duration = Duration::from_secs(90);
pub const NS: &str = "default";

/// Polls `f` until it returns `Some`, failing the test with `what` at the deadline.
pub async fn wait_for<T, F, Fut>(what: &str, deadline: Duration, f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    nno_support::testing::eventually(deadline, what, f).await
}

/// Polls object `name` until it satisfies `pred` and returns it; at the deadline fails with `what`
/// and the object's last seen status, so that a CI log shows where it stopped.
pub async fn wait_object<K>(api: &Api<K>, name: &str, what: &str, pred: impl Fn(&K) -> bool) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let seen = api.get_opt(name).await;
        if let Ok(Some(o)) = &seen
            && pred(o)
        {
            return o.clone();
        }
        if tokio::time::Instant::now() >= deadline {
            let last = match &seen {
                Ok(Some(o)) => serde_json::to_value(o)
                    .ok()
                    .and_then(|v| v.get("status").cloned())
                    .map_or_else(|| "no status".to_string(), |s| s.to_string()),
                Ok(None) => "the object does not exist".to_string(),
                Err(e) => format!("reading it failed: {e}"),
            };
            panic!("timed out after {WAIT:?} waiting for {name}: {what}; last seen: {last}");
        }
        tokio::time::sleep(nno_support::testing::POLL).await;
    }
}

/// Changes the operator's flags once the simulators run.
pub type Tweak = std::sync::Arc<dyn Fn(&Simulators, &mut RunArgs) + Send + Sync>;

/// Settings of one test environment.
#[derive(Clone)]
pub struct EnvOptions {
    pub poll_interval: Duration,
    pub transition_interval: Duration,
    pub provision_delay: Duration,
    /// Bearer token the NNO simulator requires (and the operator is given), if any.
    pub nno_token: Option<String>,
    pub faults: FaultConfig,
    pub rate_limit: f64,
    pub concurrency: u16,
    /// Run the operator in-process (off when a test runs its own operator processes).
    pub operator: bool,
    /// Changes the operator's flags once the simulators run (e.g. the Pax8 intake's).
    pub tweak: Option<Tweak>,
}

impl Default for EnvOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(2),
            transition_interval: Duration::from_millis(200),
            provision_delay: Duration::from_millis(300),
            nno_token: None,
            faults: FaultConfig::default(),
            rate_limit: 200.0,
            concurrency: 16,
            operator: true,
            tweak: None,
        }
    }
}

pub struct Env {
    pub dc: TestCluster,
    pub sims: Simulators,
    pub kube: Client,
    pub http: SocketAddr,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub fn run_args(threenv_url: &str, nno_url: &str, o: &EnvOptions) -> RunArgs {
    use clap::Parser;
    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        run: RunArgs,
    }
    let mut w = Wrap::parse_from([
        "run",
        "--threenv-url",
        threenv_url,
        "--nno-url",
        nno_url,
        "--http-addr",
        "127.0.0.1:0",
        "--leader-election=false",
    ]);
    w.run.poll_interval = o.poll_interval;
    w.run.transition_poll_interval = o.transition_interval;
    w.run.threenv_rate_limit = o.rate_limit;
    w.run.threenv_burst = 100;
    w.run.max_concurrent_reconciles = o.concurrency;
    w.run.nno_token = o.nno_token.clone().map(Secret::new);
    w.run
}

impl Env {
    pub async fn start() -> Self {
        Self::with(EnvOptions::default()).await
    }

    pub async fn with(o: EnvOptions) -> Self {
        if std::env::var_os("NNO_TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_env("NNO_TEST_LOG"))
                .with_test_writer()
                .try_init();
        }
        let sims = Simulators::start(SimConfig {
            provision_delay: o.provision_delay,
            nno_token: o.nno_token.clone(),
            faults: o.faults.clone(),
            ..SimConfig::default()
        })
        .await
        .expect("simulators start");
        let dc =
            TestCluster::start_with_crds(concat!(env!("CARGO_MANIFEST_DIR"), "/crds").as_ref())
                .await;
        let kube = dc.client().await;
        let operator_kube = dc
            .operator_client(concat!(env!("CARGO_MANIFEST_DIR"), "/config/rbac").as_ref())
            .await;
        let shutdown = CancellationToken::new();
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
        let mut args = run_args(sims.threenv_url(), sims.nno_url(), &o);
        if let Some(tweak) = &o.tweak {
            tweak(&sims, &mut args);
        }
        let (task, http) = if o.operator {
            let task = tokio::spawn(nno_operator::run::run_with(
                operator_kube,
                args,
                shutdown.clone(),
                addr_tx,
            ));
            let http = tokio::time::timeout(WAIT, addr_rx)
                .await
                .expect("operator starts")
                .expect("http addr");
            (task, http)
        } else {
            let idle: tokio::task::JoinHandle<anyhow::Result<()>> = tokio::spawn(async { Ok(()) });
            (idle, SocketAddr::from(([127, 0, 0, 1], 0)))
        };
        Self {
            dc,
            sims,
            kube,
            http,
            shutdown,
            task,
        }
    }

    /// The `acme` Platform and its credentials Secret (valid key).
    pub async fn platform(&self) {
        self.secret("acme-3nv-credentials", &[("apiKey", "dev-api-key")])
            .await;
        self.apply(json!({
            "apiVersion": "nno.app/v1alpha1", "kind": "Platform",
            "metadata": {"name": "acme"},
            "spec": {"platformId": "acme-prod", "planTier": "growth", "billingEmail": "billing@acme.example",
                     "cloud": {"credentialsSecretRef": {"name": "acme-3nv-credentials", "key": "apiKey"},
                               "location": "cyc01", "billingAccountId": 129673}}
        })).await;
    }

    pub async fn secret(&self, name: &str, data: &[(&str, &str)]) {
        let string_data: BTreeMap<&str, &str> = data.iter().copied().collect();
        self.apply(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": string_data})).await;
    }

    /// Server-side applies `obj` (any kind) in the test namespace as the test's own field manager.
    pub async fn apply(&self, obj: Value) {
        let api_version = obj["apiVersion"].as_str().unwrap().to_owned();
        let kind = obj["kind"].as_str().unwrap().to_owned();
        let name = obj["metadata"]["name"].as_str().unwrap().to_owned();
        let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
        let gvk = kube::api::GroupVersionKind::gvk(group, version, &kind);
        let plural = match kind.as_str() {
            "Secret" => "secrets".to_owned(),
            k => format!("{}s", k.to_lowercase()),
        };
        let ar = kube::api::ApiResource::from_gvk_with_plural(&gvk, &plural);
        let api: Api<kube::api::DynamicObject> = Api::namespaced_with(self.kube.clone(), NS, &ar);
        api.patch(
            &name,
            &PatchParams::apply("test").force(),
            &Patch::Apply(obj),
        )
        .await
        .unwrap_or_else(|e| panic!("applying {kind} {name}: {e}"));
    }

    pub fn vms(&self) -> Api<VirtualMachine> {
        Api::namespaced(self.kube.clone(), NS)
    }

    /// A VirtualMachine manifest with sensible defaults, `extra` merged into its spec.
    pub fn vm(name: &str, extra: Value) -> Value {
        let mut spec = json!({
            "platformRef": {"name": "acme"},
            "osName": "ubuntu", "osVersion": "16.04",
            "vcpu": 2, "ramMb": 2048, "diskGb": 20,
            "username": "deploy",
            "writeConnectionSecretToRef": {"name": format!("{name}-conn")}
        });
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                s.insert(k.clone(), v.clone());
            }
        }
        json!({"apiVersion": "nno.app/v1alpha1", "kind": "VirtualMachine", "metadata": {"name": name}, "spec": spec})
    }

    /// Waits until VM `name` satisfies `pred`, returning it.
    pub async fn wait_vm(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&VirtualMachine) -> bool,
    ) -> VirtualMachine {
        wait_object(&self.vms(), name, what, pred).await
    }

    pub async fn wait_ready(&self, name: &str) -> VirtualMachine {
        self.wait_vm(name, "Ready=True", |v| {
            condition(v, "Ready").is_some_and(|c| c.0 == "True")
        })
        .await
    }

    pub async fn delete_vm(&self, name: &str) {
        self.vms()
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete");
    }

    pub async fn wait_gone(&self, name: &str) {
        let api = self.vms();
        wait_for(&format!("{name} deleted"), WAIT, || {
            let api = api.clone();
            async move { matches!(api.get_opt(name).await, Ok(None)).then_some(()) }
        })
        .await
    }

    /// A client of the simulated 3nv.io account that bypasses the operator (no retries, no limit).
    pub fn cloud(&self) -> ThreenvClient {
        let mut cfg = ThreenvClient::config(self.sims.threenv_url(), Secret::new("dev-api-key"));
        cfg.rate_limit = None;
        cfg.retry = RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        };
        ThreenvClient::from_config(cfg).unwrap()
    }

    /// `GET /_sim/counts` of the 3nv.io simulator.
    pub async fn counts(&self) -> BTreeMap<String, u64> {
        reqwest::get(format!("{}/_sim/counts", self.sims.threenv_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Requests the 3nv.io simulator served, summed per (method, path template).
    pub async fn requests(&self) -> BTreeMap<(String, String), u64> {
        let body: Value = reqwest::get(format!("{}/_sim/requests", self.sims.threenv_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut out = BTreeMap::new();
        for r in body["requests"].as_array().cloned().unwrap_or_default() {
            let key = (
                r["method"].as_str().unwrap_or("").to_owned(),
                r["path"].as_str().unwrap_or("").to_owned(),
            );
            *out.entry(key).or_insert(0) += r["count"].as_u64().unwrap_or(0);
        }
        out
    }

    /// Number of write requests (anything but GET) the simulator served so far.
    pub async fn writes(&self) -> u64 {
        self.requests()
            .await
            .iter()
            .filter(|((m, _), _)| m != "GET")
            .map(|(_, n)| n)
            .sum()
    }

    pub async fn set_faults(&self, faults: Value) {
        let r = reqwest::Client::new()
            .put(format!("{}/_sim/faults", self.sims.threenv_url()))
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "PUT /_sim/faults: {}", r.status());
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://{}/metrics", self.http))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(WAIT, self.task).await;
        self.sims.stop().await;
        drop(self.dc);
    }
}

/// (status, reason, message) of condition `type_`.
pub fn condition(vm: &VirtualMachine, type_: &str) -> Option<(String, String, String)> {
    vm.status
        .as_ref()?
        .common
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| {
            (
                format!("{:?}", c.status),
                c.reason.clone(),
                c.message.clone(),
            )
        })
}

pub fn external_id(vm: &VirtualMachine) -> String {
    vm.status
        .as_ref()
        .and_then(|s| s.common.external_id.clone())
        .unwrap_or_default()
}

pub fn name(vm: &VirtualMachine) -> String {
    vm.name_any()
}
