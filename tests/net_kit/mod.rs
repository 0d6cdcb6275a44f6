//! Helpers of the Firewall and LoadBalancer end-to-end tests, on top of `operator_kit`: manifests,
//! typed waits with deadlines, condition and drift accessors, cloud reads that bypass the operator.

#![allow(dead_code)]

use std::fmt::Debug;

use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::core::NamespaceResourceScope;
use kube::{Resource, ResourceExt};
use nno_operator::api::common::{CommonStatus, DriftEntry};
use nno_operator::api::firewall::Firewall;
use nno_operator::api::load_balancer::LoadBalancer;
use nno_operator::cloud::threenv::firewall::Firewall as CloudFirewall;
use nno_operator::cloud::threenv::load_balancer::LoadBalancer as CloudLb;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::operator_kit::{Env, NS, WAIT, wait_for};

/// Status parts every kind shares, for generic waits.
pub trait HasStatus {
    fn common(&self) -> Option<&CommonStatus>;
    fn drift(&self) -> Vec<DriftEntry>;
}

impl HasStatus for Firewall {
    fn common(&self) -> Option<&CommonStatus> {
        self.status.as_ref().map(|s| &s.common)
    }
    fn drift(&self) -> Vec<DriftEntry> {
        self.status
            .as_ref()
            .map(|s| s.drift.drift.clone())
            .unwrap_or_default()
    }
}

impl HasStatus for LoadBalancer {
    fn common(&self) -> Option<&CommonStatus> {
        self.status.as_ref().map(|s| &s.common)
    }
    fn drift(&self) -> Vec<DriftEntry> {
        self.status
            .as_ref()
            .map(|s| s.drift.drift.clone())
            .unwrap_or_default()
    }
}

/// (status, reason, message) of condition `type_`.
pub fn cond<K: HasStatus>(o: &K, type_: &str) -> Option<(String, String, String)> {
    o.common()?
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

pub fn is_ready<K: HasStatus>(o: &K) -> bool {
    cond(o, "Ready").is_some_and(|c| c.0 == "True")
}

pub fn synced_reason<K: HasStatus>(o: &K) -> String {
    cond(o, "Synced").map(|c| c.1).unwrap_or_default()
}

pub fn ext_id<K: HasStatus>(o: &K) -> String {
    o.common()
        .and_then(|c| c.external_id.clone())
        .unwrap_or_default()
}

pub fn drift_fields<K: HasStatus>(o: &K) -> Vec<String> {
    o.drift().into_iter().map(|d| d.field).collect()
}

pub fn fws(env: &Env) -> Api<Firewall> {
    Api::namespaced(env.kube.clone(), NS)
}

pub fn lbs(env: &Env) -> Api<LoadBalancer> {
    Api::namespaced(env.kube.clone(), NS)
}

/// Waits until object `name` satisfies `pred`, returning it.
pub async fn wait_obj<K>(api: &Api<K>, name: &str, what: &str, pred: impl Fn(&K) -> bool) -> K
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Debug,
    K: serde::Serialize,
{
    crate::operator_kit::wait_object(api, name, what, pred).await
}

pub async fn wait_gone<K>(api: &Api<K>, name: &str)
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Debug,
{
    wait_for(&format!("{name} deleted"), WAIT, || {
        let api = api.clone();
        async move { matches!(api.get_opt(name).await, Ok(None)).then_some(()) }
    })
    .await
}

pub async fn delete<K>(api: &Api<K>, name: &str)
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Debug,
{
    api.delete(name, &DeleteParams::default())
        .await
        .expect("delete");
}

/// Merge-patches `patch` into the object (spec, metadata, ...).
pub async fn merge<K>(api: &Api<K>, name: &str, patch: Value)
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Debug,
{
    api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .unwrap_or_else(|e| panic!("patching {name}: {e}"));
}

fn manifest(kind: &str, name: &str, mut spec: Value, extra: Value) -> Value {
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    json!({"apiVersion": "nno.app/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec})
}

/// A Firewall of platform `acme` with an HTTP and an SSH rule, `extra` merged into its spec.
pub fn fw(name: &str, extra: Value) -> Value {
    manifest(
        "Firewall",
        name,
        json!({
            "platformRef": {"name": "acme"},
            "rules": [
                {"protocol": "tcp", "direction": "inbound", "portStart": 80, "portEnd": 80, "endpointSpecType": "any"},
                {"protocol": "tcp", "direction": "inbound", "portStart": 22, "endpointSpecType": "ip_prefixes", "endpointSpec": ["203.0.113.0/24"]}
            ]
        }),
        extra,
    )
}

/// A LoadBalancer of platform `acme` forwarding 80 → 8080, `extra` merged into its spec.
pub fn lb(name: &str, extra: Value) -> Value {
    manifest(
        "LoadBalancer",
        name,
        json!({
            "platformRef": {"name": "acme"},
            "rules": [{"sourcePort": 80, "targetPort": 8080}]
        }),
        extra,
    )
}

/// A VirtualMachine manifest with `labels`.
pub fn vm(name: &str, labels: Value) -> Value {
    let mut v = Env::vm(name, json!({}));
    v["metadata"]["labels"] = labels;
    v
}

/// Applies VMs and waits until each is Ready, returning their 3nv.io ids in the same order.
pub async fn ready_vms(env: &Env, vms: &[(&str, Value)]) -> Vec<String> {
    for (name, labels) in vms {
        env.apply(vm(name, labels.clone())).await;
    }
    let mut out = Vec::new();
    for (name, _) in vms {
        out.push(crate::operator_kit::external_id(
            &env.wait_ready(name).await,
        ));
    }
    out
}

/// Sets the labels of VM `name` (merge: a `null` value removes a label).
pub async fn label_vm(env: &Env, name: &str, labels: Value) {
    env.vms()
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": labels}})),
        )
        .await
        .expect("label VM");
}

/// The cloud firewall `id`, read past the operator.
pub async fn cloud_fw(env: &Env, id: &str) -> Option<CloudFirewall> {
    env.cloud()
        .list_firewalls()
        .await
        .ok()?
        .into_iter()
        .find(|f| f.uuid == id)
}

/// The VM uuids firewall `id` is assigned to in the cloud, sorted.
pub async fn cloud_assigned(env: &Env, id: &str) -> Vec<String> {
    let mut out: Vec<String> = cloud_fw(env, id)
        .await
        .map(|f| {
            f.resources_assigned
                .into_iter()
                .map(|a| a.resource_uuid)
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

pub async fn cloud_lb(env: &Env, id: &str) -> Option<CloudLb> {
    env.cloud().get_load_balancer(id).await.ok()
}

/// Target VM uuids of load balancer `id` in the cloud, sorted.
pub async fn cloud_targets(env: &Env, id: &str) -> Vec<String> {
    let mut out: Vec<String> = cloud_lb(env, id)
        .await
        .map(|l| l.targets.into_iter().map(|t| t.target_uuid).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// (source, target) ports of load balancer `id` in the cloud, sorted.
pub async fn cloud_rules(env: &Env, id: &str) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = cloud_lb(env, id)
        .await
        .map(|l| {
            l.forwarding_rules
                .into_iter()
                .filter_map(|r| Some((r.source_port?, r.target_port?)))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Waits until `f` (a cloud read) returns `want`.
pub async fn wait_cloud<T, F, Fut>(what: &str, want: T, f: F)
where
    T: PartialEq + Debug,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let want = &want;
    wait_for(what, WAIT, || {
        let fut = f();
        async move { (fut.await == *want).then_some(()) }
    })
    .await
}

/// Sorted copy.
pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Count of objects of `kind` in the simulator (`/_sim/counts`).
pub async fn count(env: &Env, kind: &str) -> u64 {
    env.counts().await.get(kind).copied().unwrap_or(0)
}

/// Number of requests the simulator served for (method, path template).
pub async fn served(env: &Env, method: &str, path: &str) -> u64 {
    env.requests()
        .await
        .get(&(method.to_owned(), path.to_owned()))
        .copied()
        .unwrap_or(0)
}

/// Lets the operator see the cloud for a few poll intervals: not a wait for a condition, a fixed
/// observation window during which nothing may be written.
pub async fn idle() {
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
}

pub fn name_of<K: Resource>(o: &K) -> String {
    o.name_any()
}
