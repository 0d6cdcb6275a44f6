//! Helpers of the Platform end-to-end tests: Platform manifests and waits, the NNO simulator's
//! job list and scripted failures, and the operator as a real second process.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use kube::Api;
use kube::api::{Patch, PatchParams};
use nno_operator::api::platform::Platform;
use nno_operator::cloud::Secret;
use nno_operator::cloud::nno::{Job, JobQuery, NnoClient};
use serde_json::{Value, json};

use crate::operator_kit::{Env, NS, WAIT, wait_for};

pub fn platforms(env: &Env) -> Api<Platform> {
    Api::namespaced(env.kube.clone(), NS)
}

pub fn cond(p: &Platform, type_: &str) -> Option<(String, String, String)> {
    p.status
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

/// Ready=True for the current generation.
pub fn ready(p: &Platform) -> bool {
    cond(p, "Ready").is_some_and(|c| c.0 == "True")
        && p.status.as_ref().and_then(|s| s.common.observed_generation) == p.metadata.generation
}

pub async fn wait_platform(
    env: &Env,
    name: &str,
    what: &str,
    pred: impl Fn(&Platform) -> bool,
) -> Platform {
    let api = platforms(env);
    crate::operator_kit::wait_object(&api, name, what, pred).await
}

pub fn manifest(name: &str, platform_id: &str, extra: Value) -> Value {
    let mut spec = json!({
        "platformId": platform_id, "planTier": "growth", "billingEmail": "billing@acme.example",
        "defaultEntityId": "ent-1",
    });
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    json!({"apiVersion": "nno.app/v1alpha1", "kind": "Platform", "metadata": {"name": name}, "spec": spec})
}

pub fn nno(env: &Env) -> NnoClient {
    NnoClient::new(env.sims.nno_url(), env.sims.nno_token().map(Secret::new)).unwrap()
}

pub async fn sim_jobs(env: &Env, platform_id: &str) -> Vec<Job> {
    nno(env)
        .list_all_jobs(
            &JobQuery {
                platform_id: Some(platform_id.into()),
                limit: Some(100),
                ..JobQuery::default()
            },
            20,
        )
        .await
        .unwrap()
}

/// Job count per type in the simulator.
pub async fn job_types(env: &Env, platform_id: &str) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for j in sim_jobs(env, platform_id).await {
        *m.entry(j.kind.unwrap_or_default()).or_insert(0) += 1;
    }
    m
}

pub fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

pub fn diff(
    after: &BTreeMap<String, usize>,
    before: &BTreeMap<String, usize>,
) -> BTreeMap<String, usize> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

pub async fn set_failures(env: &Env, rules: Value) {
    let r = reqwest::Client::new()
        .put(format!("{}/_sim/nno/job-failures", env.sims.nno_url()))
        .json(&json!({ "rules": rules }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
}

pub async fn patch_spec(env: &Env, name: &str, spec: Value) {
    platforms(env)
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": spec })),
        )
        .await
        .expect("patch spec");
}

pub fn everything() -> Value {
    json!({
        "features": [
            {"featureId": "billing", "featureVersion": "1.0.0"},
            {"featureId": "crm-sync", "featureVersion": "2.1.0", "entityId": "ent-2"}
        ],
        "stacks": [{"stackId": "crm", "stackVersion": "1.0.0"}],
        "apps": [{"appName": "storefront", "stackId": "crm", "appType": "fullstack", "withDatabase": true}],
        "domains": [{"customHostname": "shop.acme.example", "targetDnsRecordId": "rec-1"}],
        "authWorker": {"revision": 1},
        "cloud": {"credentialsSecretRef": {"name": "acme-3nv-credentials", "key": "apiKey"}, "location": "cyc01"}
    })
}

pub struct Proc {
    pub child: Child,
    pub lines: Arc<Mutex<Vec<String>>>,
}

pub fn spawn_operator(kubeconfig: &std::path::Path, env: &Env, token: &str) -> Proc {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nno-operator"))
        .args([
            "--log-format",
            "json",
            "run",
            "--http-addr",
            "127.0.0.1:0",
            "--leader-election=false",
        ])
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args([
            "--threenv-url",
            env.sims.threenv_url(),
            "--nno-url",
            env.sims.nno_url(),
        ])
        .args([
            "--poll-interval",
            "2s",
            "--transition-poll-interval",
            "200ms",
        ])
        .env("NNO_PROVISIONING_TOKEN", token)
        .env("RUST_LOG", "nno_operator=debug,info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn nno-operator run");
    let stderr = child.stderr.take().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    Proc { child, lines }
}

/// An untyped API of nno.app kind `kind` in the test namespace.
pub fn nno_api(env: &Env, kind: &str) -> Api<kube::api::DynamicObject> {
    let gvk = kube::api::GroupVersionKind::gvk("nno.app", "v1alpha1", kind);
    let plural = format!("{}s", kind.to_lowercase());
    let ar = kube::api::ApiResource::from_gvk_with_plural(&gvk, &plural);
    Api::namespaced_with(env.kube.clone(), NS, &ar)
}

/// Waits until the `kind` object `name` is Ready=True.
pub async fn wait_kind_ready(env: &Env, kind: &str, name: &str) {
    let api = nno_api(env, kind);
    wait_for(&format!("{kind}/{name} Ready"), WAIT, || {
        let api = api.clone();
        async move {
            let o = api.get_opt(name).await.ok().flatten()?;
            let conds = o.data.get("status")?.get("conditions")?.as_array()?.clone();
            conds
                .iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
                .then_some(())
        }
    })
    .await
}

/// Whether the `kind` object `name` still exists.
pub async fn exists(env: &Env, kind: &str, name: &str) -> bool {
    matches!(nno_api(env, kind).get_opt(name).await, Ok(Some(_)))
}
