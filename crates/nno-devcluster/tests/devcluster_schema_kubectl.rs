//! The generated documents as the real kubectl reads them: a minimal HTTP server serves legacy
//! discovery, `/openapi/v3` and a `Table` list from the schema module; `kubectl explain` must explain
//! custom and built-in fields with their descriptions, and `kubectl get` must print the printer columns.

mod kubectl_bin;

use std::time::Duration;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use nno_devcluster::schema::{
    IncludeObject, KindSchema, builtin_kind_schemas, from_crd_columns, openapi_v3_group_version,
    openapi_v3_index_for_kinds, render_table,
};
use serde_json::{Value, json};

fn kinds() -> Vec<KindSchema> {
    let mut kinds = builtin_kind_schemas();
    kinds.push(KindSchema {
        group: "nno.app".into(),
        version: "v1alpha1".into(),
        kind: "VirtualMachine".into(),
        plural: "virtualmachines".into(),
        namespaced: true,
        list_kind: "VirtualMachineList".into(),
        schema: json!({
            "description": "A 3nv.io virtual machine.",
            "type": "object",
            "properties": {
                "spec": {"type": "object", "description": "Desired state of the VM.", "required": ["vcpu"],
                    "properties": {
                        "vcpu": {"type": "integer", "format": "int32", "description": "Number of virtual CPUs, 1..16."},
                        "size": {"x-kubernetes-int-or-string": true, "description": "Disk size, 40 or \"40Gi\"."},
                        "platformRef": {"type": "object", "description": "The Platform that supplies credentials.",
                            "properties": {"name": {"type": "string", "description": "Name of the Platform."}}}
                    }},
                "status": {"type": "object", "description": "Observed state.", "x-kubernetes-preserve-unknown-fields": true}
            }
        }),
    });
    kinds
}

fn resource_list(kinds: &[KindSchema], gv: &str) -> Value {
    let resources: Vec<Value> = kinds
        .iter()
        .filter(|k| if k.group.is_empty() { k.version == gv } else { format!("{}/{}", k.group, k.version) == gv })
        .map(|k| {
            json!({"name": k.plural, "singularName": k.kind.to_lowercase(), "namespaced": k.namespaced, "kind": k.kind,
                   "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                   "shortNames": if k.kind == "VirtualMachine" { json!(["vm"]) } else { json!([]) }})
        })
        .collect();
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}

fn groups(kinds: &[KindSchema]) -> Value {
    let mut names: Vec<(String, String)> = kinds
        .iter()
        .filter(|k| !k.group.is_empty())
        .map(|k| (k.group.clone(), k.version.clone()))
        .collect();
    names.sort();
    names.dedup();
    let groups: Vec<Value> = names
        .iter()
        .map(|(g, v)| {
            let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// Two VMs as a Table, one Ready with every column set, one fresh with most columns missing.
fn vm_table() -> Value {
    let columns = from_crd_columns(&json!([
        {"name": "READY", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
        {"name": "EXTERNAL-ID", "type": "string", "jsonPath": ".metadata.annotations.nno\\.app/external-id"},
        {"name": "VCPU", "type": "integer", "jsonPath": ".spec.vcpu"},
        {"name": "PRIVATE-IP", "type": "string", "jsonPath": ".status.privateIpv4", "priority": 1},
        {"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    ]));
    let created = (chrono::Utc::now() - chrono::Duration::seconds(312)).to_rfc3339();
    let objects = [
        json!({"apiVersion": "nno.app/v1alpha1", "kind": "VirtualMachine",
               "metadata": {"name": "web", "namespace": "default", "creationTimestamp": created,
                            "annotations": {"nno.app/external-id": "a5b0"}},
               "spec": {"vcpu": 4},
               "status": {"privateIpv4": "10.0.0.7", "conditions": [{"type": "Ready", "status": "True"}]}}),
        json!({"apiVersion": "nno.app/v1alpha1", "kind": "VirtualMachine",
               "metadata": {"name": "db", "namespace": "default", "creationTimestamp": created},
               "spec": {"vcpu": 2}}),
    ];
    let mut table = render_table(&columns, &objects, IncludeObject::Object);
    table["metadata"] = json!({"resourceVersion": "7"});
    table
}

async fn serve() -> String {
    let kinds = kinds();
    let app = Router::new()
        .route("/api", get(|| async { Json(json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})) }))
        .route("/api/v1", get(|State(k): State<Vec<KindSchema>>| async move { Json(resource_list(&k, "v1")) }))
        .route("/apis", get(|State(k): State<Vec<KindSchema>>| async move { Json(groups(&k)) }))
        .route(
            "/apis/{group}/{version}",
            get(|State(k): State<Vec<KindSchema>>, Path((g, v)): Path<(String, String)>| async move {
                Json(resource_list(&k, &format!("{g}/{v}")))
            }),
        )
        .route("/openapi/v3", get(|State(k): State<Vec<KindSchema>>| async move { Json(openapi_v3_index_for_kinds(&k)) }))
        .route(
            "/openapi/v3/{*path}",
            get(|State(k): State<Vec<KindSchema>>, Path(p): Path<String>| async move { Json(openapi_v3_group_version(&p, &k)) }),
        )
        .route("/apis/nno.app/v1alpha1/namespaces/{ns}/virtualmachines", get(|| async { Json(vm_table()) }))
        .with_state(kinds);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

async fn kubectl(server: &str, args: &[&str]) -> (bool, String) {
    let cache = tempfile::tempdir().expect("tempdir");
    let bin = kubectl_bin::kubectl();
    let mut cmd = tokio::process::Command::new(&bin);
    cmd.arg(format!("--server={server}"))
        .arg(format!("--cache-dir={}", cache.path().display()))
        .arg("--request-timeout=60s")
        .args(args)
        .env("KUBECONFIG", "/dev/null")
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("kubectl finished in time")
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_explains_custom_fields() {
    let server = serve().await;
    let (ok, out) = kubectl(&server, &["explain", "vm.spec"]).await;
    assert!(ok, "{out}");
    assert!(out.contains("GROUP:      nno.app"), "{out}");
    assert!(out.contains("KIND:       VirtualMachine"), "{out}");
    assert!(out.contains("VERSION:    v1alpha1"), "{out}");
    assert!(out.contains("Desired state of the VM."), "{out}");
    assert!(out.contains("vcpu\t<integer> -required-"), "{out}");
    assert!(out.contains("Number of virtual CPUs, 1..16."), "{out}");

    let (ok, out) = kubectl(
        &server,
        &["explain", "virtualmachines.spec.platformRef.name"],
    )
    .await;
    assert!(ok, "{out}");
    assert!(out.contains("Name of the Platform."), "{out}");

    // metadata resolves through the ObjectMeta reference.
    let (ok, out) = kubectl(&server, &["explain", "vm.metadata.labels"]).await;
    assert!(ok, "{out}");
    assert!(out.contains("Map of string keys and values"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_explains_builtin_fields() {
    let server = serve().await;
    let (ok, out) = kubectl(&server, &["explain", "secret.data"]).await;
    assert!(ok, "{out}");
    assert!(out.contains("KIND:       Secret"), "{out}");
    assert!(out.contains("base64"), "{out}");
    let (ok, out) = kubectl(&server, &["explain", "leases.spec.holderIdentity"]).await;
    assert!(ok, "{out}");
    assert!(out.contains("holderIdentity"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_prints_the_printer_columns() {
    let server = serve().await;
    let (ok, out) = kubectl(&server, &["get", "vm", "-n", "default"]).await;
    assert!(ok, "{out}");
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        vec!["NAME", "READY", "EXTERNAL-ID", "VCPU", "AGE"],
        "{out}"
    );
    assert_eq!(lines[1][..4], ["web", "True", "a5b0", "4"], "{out}");
    assert!(lines[1][4].starts_with("5m1"), "{out}");
    // Missing values are null cells, which kubectl prints blank (as for a real apiserver).
    assert_eq!(lines[2][..2], ["db", "2"], "{out}");
    assert_eq!(lines[2].len(), 3, "{out}");

    let (ok, wide) = kubectl(&server, &["get", "vm", "-n", "default", "-o", "wide"]).await;
    assert!(ok, "{wide}");
    assert!(
        wide.lines()
            .next()
            .is_some_and(|h| h.contains("PRIVATE-IP")),
        "{wide}"
    );
    assert!(wide.contains("10.0.0.7"), "{wide}");
}
