//! Objects of every cloud kind for the mixed-workload tests: one manifest per kind, creation in
//! bulk, Ready tallies read generically, and the simulator's counts per kind.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams};
use serde_json::{Value, json};

use crate::operator_kit::{Env, NS, wait_for};

/// A cloud kind in the mix: its CRD kind, the simulator's counter, and the list endpoint its
/// observer calls (the request log's path template).
pub struct Kind {
    pub kind: &'static str,
    pub counter: &'static str,
    pub list: &'static str,
    pub manifest: fn(&str) -> Value,
}

fn manifest(kind: &str, name: &str, spec: Value) -> Value {
    let mut s = json!({"platformRef": {"name": "acme"}});
    if let (Some(m), Some(e)) = (s.as_object_mut(), spec.as_object()) {
        m.extend(e.clone());
    }
    json!({"apiVersion": "nno.app/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": s})
}

pub const KINDS: &[Kind] = &[
    Kind {
        kind: "VirtualMachine",
        counter: "vms",
        list: "/v1/{slug}/user-resource/vm/list",
        manifest: |name| Env::vm(name, json!({})),
    },
    Kind {
        kind: "Disk",
        counter: "disks.data",
        list: "/v1/storage/disks",
        manifest: |name| {
            manifest(
                "Disk",
                name,
                json!({"sizeGb": 10, "sourceImageType": "EMPTY"}),
            )
        },
    },
    Kind {
        kind: "Firewall",
        counter: "firewalls",
        list: "/v1/network/firewalls",
        manifest: |name| {
            manifest(
                "Firewall",
                name,
                json!({"rules": [{"protocol": "tcp", "direction": "inbound", "portStart": 443, "portEnd": 443, "endpointSpecType": "any"}]}),
            )
        },
    },
    Kind {
        kind: "LoadBalancer",
        counter: "load_balancers",
        list: "/v1/network/load_balancers",
        manifest: |name| {
            manifest(
                "LoadBalancer",
                name,
                json!({"rules": [{"sourcePort": 80, "targetPort": 8080}]}),
            )
        },
    },
    Kind {
        kind: "Bucket",
        counter: "buckets",
        list: "/v1/storage/bucket/list",
        manifest: |name| manifest("Bucket", name, json!({})),
    },
    Kind {
        kind: "ServicePackage",
        counter: "service_packages",
        list: "/v1/user-resource/service/packages",
        manifest: |name| {
            manifest(
                "ServicePackage",
                name,
                json!({"service": "postgresql", "version": "14.0", "vmCpu": 2, "vmRam": 4096, "vmDiskGb": 50,
                       "whitelist": ["203.0.113.0/24"]}),
            )
        },
    },
];

pub fn api(env: &Env, kind: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("nno.app", "v1alpha1", kind);
    let plural = format!("{}s", kind.to_lowercase());
    let ar = ApiResource::from_gvk_with_plural(&gvk, &plural);
    Api::namespaced_with(env.kube.clone(), NS, &ar)
}

pub fn ready(o: &DynamicObject) -> bool {
    o.data["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// Applies `per_kind` objects of every kind, named `<prefix>-<kind>-<i>`.
pub async fn create_mix(env: &Env, prefix: &str, per_kind: usize) {
    for i in 0..per_kind {
        for k in KINDS {
            let name = format!("{prefix}-{}-{i:03}", k.kind.to_lowercase());
            env.apply((k.manifest)(&name)).await;
        }
    }
}

/// Objects per kind, and how many of them are Ready.
pub async fn tally(env: &Env) -> BTreeMap<&'static str, (usize, usize)> {
    let mut out = BTreeMap::new();
    for k in KINDS {
        let items = api(env, k.kind)
            .list(&ListParams::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        let n_ready = items.iter().filter(|o| ready(o)).count();
        out.insert(k.kind, (items.len(), n_ready));
    }
    out
}

/// The simulator's object counts, with `disks.data`: the disks that are not a VM's boot disk.
pub async fn cloud_counts(env: &Env) -> BTreeMap<String, u64> {
    let mut c = env.counts().await;
    let data = c["disks"] - c["disks.primary"];
    c.insert("disks.data".into(), data);
    c
}

pub async fn assert_one_cloud_object_each(env: &Env, per_kind: u64) {
    let counts = cloud_counts(env).await;
    for k in KINDS {
        assert_eq!(
            counts[k.counter], per_kind,
            "{}: exactly one cloud object per Kubernetes object ({counts:?})",
            k.kind
        );
    }
}

pub async fn delete_all(env: &Env) {
    for k in KINDS {
        let a = api(env, k.kind);
        let _ = a
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await;
    }
    wait_for("every object deleted", Duration::from_secs(300), || async {
        let t = tally(env).await;
        t.values().all(|(n, _)| *n == 0).then_some(())
    })
    .await;
}
