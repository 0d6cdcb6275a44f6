//! Helpers of the Bucket and ServicePackage end-to-end tests, on top of `operator_kit` and the
//! generic waits of `net_kit`: manifests, status accessors, the connection Secret, sim controls.

#![allow(dead_code)]

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret as KubeSecret;
use kube::api::Api;
use nno_operator::api::bucket::Bucket;
use nno_operator::api::common::{CommonStatus, DriftEntry};
use nno_operator::api::service_package::ServicePackage;
use serde_json::{Value, json};

use crate::net_kit::HasStatus;
use crate::operator_kit::{Env, NS};

impl HasStatus for Bucket {
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

impl HasStatus for ServicePackage {
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

pub fn buckets(env: &Env) -> Api<Bucket> {
    Api::namespaced(env.kube.clone(), NS)
}

pub fn packages(env: &Env) -> Api<ServicePackage> {
    Api::namespaced(env.kube.clone(), NS)
}

fn manifest(kind: &str, name: &str, mut spec: Value, extra: Value) -> Value {
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    json!({"apiVersion": "nno.app/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec})
}

/// A Bucket of platform `acme` whose connection Secret is `<name>-s3`, `extra` merged into its spec.
pub fn bucket(name: &str, extra: Value) -> Value {
    manifest(
        "Bucket",
        name,
        json!({"platformRef": {"name": "acme"}, "writeConnectionSecretToRef": {"name": format!("{name}-s3")}}),
        extra,
    )
}

/// A PostgreSQL ServicePackage of platform `acme` whose connection Secret is `<name>-conn`.
pub fn package(name: &str, extra: Value) -> Value {
    manifest(
        "ServicePackage",
        name,
        json!({"platformRef": {"name": "acme"}, "service": "postgresql", "version": "14.0",
               "vmCpu": 2, "vmRam": 4096, "vmDiskGb": 50,
               "writeConnectionSecretToRef": {"name": format!("{name}-conn")}}),
        extra,
    )
}

/// Data of Secret `name` (decoded), if it exists.
pub async fn secret_data(env: &Env, name: &str) -> Option<BTreeMap<String, String>> {
    let api: Api<KubeSecret> = Api::namespaced(env.kube.clone(), NS);
    let s = api.get_opt(name).await.ok()??;
    Some(
        s.data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
            .collect(),
    )
}

/// Sets what a simulated bucket holds (`PUT /_sim/threenv/buckets/{name}`).
pub async fn set_content(env: &Env, bucket: &str, objects: i64, bytes: i64) {
    let r = reqwest::Client::new()
        .put(format!(
            "{}/_sim/threenv/buckets/{bucket}",
            env.sims.threenv_url()
        ))
        .json(&json!({"num_objects": objects, "size_bytes": bytes}))
        .send()
        .await
        .expect("sim bucket content");
    assert!(
        r.status().is_success(),
        "sim bucket content: {}",
        r.status()
    );
}

/// Access key ids of the account's S3 keys in the simulator.
pub async fn s3_keys(env: &Env) -> Vec<String> {
    env.cloud()
        .list_s3_keys()
        .await
        .expect("list keys")
        .into_iter()
        .map(|k| k.access_key)
        .collect()
}

/// Reasons and messages of the events recorded for object `name`.
pub async fn event_texts(env: &Env, name: &str) -> Vec<String> {
    let api: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(env.kube.clone(), NS);
    api.list(&Default::default())
        .await
        .map(|l| {
            l.items
                .into_iter()
                .filter(|e| e.involved_object.name.as_deref() == Some(name))
                .map(|e| {
                    format!(
                        "{}: {}",
                        e.reason.unwrap_or_default(),
                        e.message.unwrap_or_default()
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
