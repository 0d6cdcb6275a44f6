//! Disk helpers for the Disk end-to-end tests: manifests, conditions, waits with deadlines, and
//! what the simulated cloud shows.

#![allow(dead_code)]

use std::collections::BTreeMap;

use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use nno_operator::api::disk::Disk;
use serde_json::{Value, json};

use crate::operator_kit::{Env, NS, WAIT, external_id, wait_for};

pub fn disks(kube: &Client) -> Api<Disk> {
    Api::namespaced(kube.clone(), NS)
}

/// A Disk manifest on the `acme` Platform, `spec` merged in.
pub fn disk(name: &str, spec: Value) -> Value {
    let mut s = json!({"platformRef": {"name": "acme"}});
    if let (Some(m), Some(e)) = (s.as_object_mut(), spec.as_object()) {
        m.extend(e.clone());
    }
    json!({"apiVersion": "nno.app/v1alpha1", "kind": "Disk", "metadata": {"name": name}, "spec": s})
}

/// (status, reason, message) of condition `type_`.
pub fn cond(d: &Disk, type_: &str) -> Option<(String, String, String)> {
    let c = d
        .status
        .as_ref()?
        .common
        .conditions
        .iter()
        .find(|c| c.type_ == type_)?;
    Some((
        format!("{:?}", c.status),
        c.reason.clone(),
        c.message.clone(),
    ))
}

pub fn ready(d: &Disk) -> bool {
    cond(d, "Ready").is_some_and(|c| c.0 == "True")
        && d.status.as_ref().and_then(|s| s.common.observed_generation) == d.metadata.generation
}

pub fn disk_id(d: &Disk) -> String {
    d.status
        .as_ref()
        .and_then(|s| s.common.external_id.clone())
        .unwrap_or_default()
}

pub fn attached_to(d: &Disk) -> Option<String> {
    d.status.as_ref().and_then(|s| s.attached_to.clone())
}

pub async fn wait_disk(env: &Env, name: &str, what: &str, pred: impl Fn(&Disk) -> bool) -> Disk {
    crate::operator_kit::wait_object(&disks(&env.kube), name, &format!("disk {what}"), pred).await
}

pub async fn wait_disk_gone(env: &Env, name: &str) {
    let api = disks(&env.kube);
    wait_for(&format!("disk {name} deleted"), WAIT, || {
        let api = api.clone();
        async move { matches!(api.get_opt(name).await, Ok(None)).then_some(()) }
    })
    .await
}

pub async fn patch_disk(env: &Env, name: &str, body: Value) {
    disks(&env.kube)
        .patch(name, &PatchParams::default(), &Patch::Merge(body))
        .await
        .expect("patch disk");
}

pub fn count(req: &BTreeMap<(String, String), u64>, m: &str, p: &str) -> u64 {
    req.get(&(m.to_owned(), p.to_owned())).copied().unwrap_or(0)
}

/// Whether VM `vm` (in cyc01) lists disk `disk` in the cloud.
pub async fn cloud_attached(env: &Env, vm: &str, disk: &str) -> bool {
    env.cloud()
        .get_vm(Some("cyc01"), vm)
        .await
        .is_ok_and(|v| v.storage.iter().any(|s| s.uuid == disk))
}

pub async fn running_vm(env: &Env, name: &str) -> String {
    env.apply(Env::vm(name, json!({}))).await;
    let vm = env.wait_ready(name).await;
    external_id(&vm)
}
