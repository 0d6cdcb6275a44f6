//! The devcluster's HTTP surface with raw requests: error `Status` bodies and codes for bad input,
//! dryRun, generateName, schema defaults, deletecollection, Tables, selector-aware watches.

use nno_devcluster::{DevCluster, Options};
use nno_support::testing::within;
use serde_json::{Value, json};
use std::time::Duration;

struct H {
    dc: DevCluster,
    client: kube::Client,
}

impl H {
    async fn start() -> Self {
        let dc = DevCluster::start(Options::default()).await.unwrap();
        let client = dc.client().unwrap();
        Self { dc, client }
    }

    async fn call(&self, method: &str, path: &str, ct: &str, body: &str) -> (u16, Value) {
        self.call_accept(method, path, ct, "application/json", body)
            .await
    }

    async fn call_accept(
        &self,
        method: &str,
        path: &str,
        ct: &str,
        accept: &str,
        body: &str,
    ) -> (u16, Value) {
        let req = http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", ct)
            .header("accept", accept)
            .body(kube::client::Body::from(body.as_bytes().to_vec()))
            .unwrap();
        let resp = self.client.send(req).await.unwrap();
        let code = resp.status().as_u16();
        let bytes = resp.into_body().collect_bytes().await.unwrap();
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| json!({"raw": String::from_utf8_lossy(&bytes)}));
        (code, v)
    }
}

const JSON: &str = "application/json";
const CMS: &str = "/api/v1/namespaces/default/configmaps";

fn assert_status(v: &Value, code: u16, reason: &str) {
    assert_eq!(v["kind"], "Status", "{v}");
    assert_eq!(v["status"], "Failure", "{v}");
    assert_eq!(v["code"], code, "{v}");
    assert_eq!(v["reason"], reason, "{v}");
}

#[tokio::test]
async fn bad_input_gets_proper_status_objects() {
    let h = H::start().await;
    let (c, v) = h.call("POST", CMS, JSON, "{not json").await;
    assert_eq!(c, 400);
    assert_status(&v, 400, "BadRequest");

    let (c, v) = h
        .call("POST", CMS, "application/yaml", "metadata: [unclosed")
        .await;
    assert_eq!(c, 400);
    assert_status(&v, 400, "BadRequest");

    let (c, v) = h.call("POST", CMS, JSON, "[1, 2]").await;
    assert_eq!(c, 400, "{v}");

    let (c, v) = h
        .call(
            "POST",
            CMS,
            JSON,
            r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}"#,
        )
        .await;
    assert_eq!(c, 400, "wrong kind for the URL: {v}");
    assert!(v["message"].as_str().unwrap().contains("Secret"));

    let (c, v) = h
        .call(
            "POST",
            CMS,
            JSON,
            r#"{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"x"}}"#,
        )
        .await;
    assert_eq!(c, 400, "{v}");

    let (c, v) = h
        .call(
            "POST",
            CMS,
            JSON,
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}"#,
        )
        .await;
    assert_eq!(c, 422);
    assert_status(&v, 422, "Invalid");
    assert_eq!(v["details"]["causes"][0]["field"], "metadata.name");

    let (c, v) = h
        .call("POST", CMS, JSON, r#"{"metadata":{"name":"Not_Valid"}}"#)
        .await;
    assert_eq!(c, 422, "{v}");

    let (c, v) = h
        .call("GET", "/api/v1/namespaces/default/widgets", JSON, "")
        .await;
    assert_eq!(c, 404);
    assert_status(&v, 404, "NotFound");
    let (c, _) = h.call("GET", "/apis/nope.example/v1", JSON, "").await;
    assert_eq!(c, 404);

    let (c, v) = h.call("GET", &format!("{CMS}/missing"), JSON, "").await;
    assert_eq!(c, 404);
    assert_eq!(v["message"], "configmaps \"missing\" not found");
    assert_eq!(v["details"]["name"], "missing");

    let (c, v) = h.call("POST", &format!("{CMS}/x"), JSON, "{}").await;
    assert_eq!(c, 405);
    assert_status(&v, 405, "MethodNotAllowed");

    let (c, v) = h
        .call(
            "POST",
            "/api/v1/namespaces/nowhere/configmaps",
            JSON,
            r#"{"metadata":{"name":"a"}}"#,
        )
        .await;
    assert_eq!(c, 404, "namespace must exist: {v}");

    let (c, v) = h
        .call("GET", &format!("{CMS}?labelSelector=a%20b"), JSON, "")
        .await;
    assert_eq!(c, 400, "{v}");
    let (c, v) = h
        .call("GET", &format!("{CMS}?fieldSelector=data.x%3D1"), JSON, "")
        .await;
    assert_eq!(c, 400, "{v}");

    h.call(
        "POST",
        CMS,
        JSON,
        r#"{"metadata":{"name":"p"},"data":{"a":"1"}}"#,
    )
    .await;
    let (c, v) = h
        .call("PATCH", &format!("{CMS}/p"), "text/plain", "{}")
        .await;
    assert_eq!(c, 415, "{v}");
    let (c, v) = h
        .call(
            "PATCH",
            &format!("{CMS}/p"),
            "application/json-patch+json",
            r#"{"op":"x"}"#,
        )
        .await;
    assert_eq!(c, 400, "{v}");
    let (c, v) = h
        .call(
            "PATCH",
            &format!("{CMS}/p"),
            "application/json-patch+json",
            r#"[{"op":"remove","path":"/nope"}]"#,
        )
        .await;
    assert_eq!(c, 422, "{v}");
    let (c, v) = h
        .call(
            "PATCH",
            &format!("{CMS}/p"),
            "application/apply-patch+yaml",
            "data: {a: '2'}",
        )
        .await;
    assert_eq!(c, 422, "apply needs a field manager: {v}");
    let (c, v) = h
        .call(
            "PUT",
            &format!("{CMS}/p"),
            JSON,
            r#"{"metadata":{"name":"other"}}"#,
        )
        .await;
    assert_eq!(c, 400, "{v}");
    let (c, v) = h
        .call("DELETE", "/api/v1/namespaces/default", JSON, "")
        .await;
    assert_eq!(c, 403, "{v}");
    h.dc.stop().await;
}

#[tokio::test]
async fn dry_run_generate_name_secrets_and_delete_collection() {
    let h = H::start().await;
    let (c, v) = h
        .call(
            "POST",
            &format!("{CMS}?dryRun=All"),
            JSON,
            r#"{"metadata":{"name":"dry"}}"#,
        )
        .await;
    assert_eq!(c, 201);
    assert!(v["metadata"]["uid"].is_string());
    let (c, _) = h.call("GET", &format!("{CMS}/dry"), JSON, "").await;
    assert_eq!(c, 404, "dry run stores nothing");

    let (c, v) = h
        .call(
            "POST",
            CMS,
            JSON,
            r#"{"metadata":{"generateName":"job-","labels":{"g":"1"}}}"#,
        )
        .await;
    assert_eq!(c, 201);
    let name = v["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("job-") && name.len() == 9, "{name}");

    let (c, v) = h
        .call(
            "POST",
            "/api/v1/namespaces/default/secrets",
            JSON,
            r#"{"metadata":{"name":"s"},"stringData":{"pw":"hunter2"}}"#,
        )
        .await;
    assert_eq!(c, 201);
    assert_eq!(v["data"]["pw"], "aHVudGVyMg==");
    assert_eq!(v["type"], "Opaque");
    assert!(v.get("stringData").is_none());

    for i in 0..3 {
        h.call(
            "POST",
            CMS,
            JSON,
            &format!(r#"{{"metadata":{{"name":"del{i}","labels":{{"g":"1"}}}}}}"#),
        )
        .await;
    }
    h.call(
        "POST",
        CMS,
        JSON,
        r#"{"metadata":{"name":"keep","labels":{"g":"2"}}}"#,
    )
    .await;
    let (c, _) = h
        .call("DELETE", &format!("{CMS}?labelSelector=g%3D1"), JSON, "")
        .await;
    assert_eq!(c, 200);
    let (_, list) = h.call("GET", CMS, JSON, "").await;
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["keep"]);
    h.dc.stop().await;
}

#[tokio::test]
async fn crd_defaults_tables_and_selector_watches() {
    let h = H::start().await;
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.test.nno.app"},
        "spec": {"group": "test.nno.app", "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "shortNames": ["gd"], "categories": ["nno"]},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}],
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {
                        "size": {"type": "integer", "default": 3, "maximum": 10},
                        "mode": {"type": "string", "enum": ["a", "b"]}}},
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}]}
    });
    let (c, v) = h
        .call(
            "POST",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            JSON,
            &crd.to_string(),
        )
        .await;
    assert_eq!(c, 201, "{v}");
    assert_eq!(v["status"]["acceptedNames"]["kind"], "Gadget");
    let (c, disc) = h.call("GET", "/apis/test.nno.app/v1", JSON, "").await;
    assert_eq!(c, 200);
    assert_eq!(disc["resources"][0]["shortNames"], json!(["gd"]));
    assert_eq!(disc["resources"][1]["name"], "gadgets/status");

    let gadgets = "/apis/test.nno.app/v1/namespaces/default/gadgets";
    let (c, v) = h.call("POST", gadgets, JSON, r#"{"apiVersion":"test.nno.app/v1","kind":"Gadget","metadata":{"name":"g1"},"spec":{}}"#).await;
    assert_eq!(c, 201, "{v}");
    assert_eq!(v["spec"]["size"], 3, "schema default applied on create");
    let (c, v) = h.call("POST", gadgets, JSON, r#"{"apiVersion":"test.nno.app/v1","kind":"Gadget","metadata":{"name":"g2"},"spec":{"mode":"z"}}"#).await;
    assert_eq!(c, 422);
    assert!(v["message"].as_str().unwrap().contains("spec.mode"), "{v}");
    assert_eq!(
        v["details"]["causes"][0]["reason"], "FieldValueNotSupported",
        "{v}"
    );

    let (c, t) = h
        .call_accept(
            "GET",
            gadgets,
            JSON,
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
            "",
        )
        .await;
    assert_eq!(c, 200);
    assert_eq!(t["kind"], "Table");
    let cols: Vec<&str> = t["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, ["Name", "Size"]);
    assert_eq!(t["rows"][0]["cells"], json!(["g1", 3]));

    // A watch with a label selector sees an object enter (ADDED) and leave (DELETED) the selection.
    let rv = t["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let req = http::Request::builder()
        .uri(format!(
            "{gadgets}?watch=true&labelSelector=team%3Dx&resourceVersion={rv}&timeoutSeconds=10"
        ))
        .body(kube::client::Body::from(Vec::new()))
        .unwrap();
    let resp = h.client.send(req).await.unwrap();
    let mut body = resp.into_body();
    let merge = "application/merge-patch+json";
    h.call(
        "PATCH",
        &format!("{gadgets}/g1"),
        merge,
        r#"{"metadata":{"labels":{"team":"x"}}}"#,
    )
    .await;
    h.call(
        "PATCH",
        &format!("{gadgets}/g1"),
        merge,
        r#"{"metadata":{"labels":{"team":"y"}}}"#,
    )
    .await;
    let mut buf = String::new();
    let mut types = Vec::new();
    within(Duration::from_secs(30), "two watch events", async {
        while types.len() < 2 {
            use axum::body::HttpBody;
            let next = futures::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx));
            let frame = next.await.unwrap().unwrap();
            if let Ok(d) = frame.into_data() {
                buf.push_str(&String::from_utf8_lossy(&d));
            }
            while let Some(i) = buf.find('\n') {
                let line: String = buf.drain(..=i).collect();
                let ev: Value = serde_json::from_str(&line).unwrap();
                if ev["type"] != "BOOKMARK" {
                    types.push(ev["type"].as_str().unwrap().to_string());
                }
            }
        }
    })
    .await;
    assert_eq!(types, ["ADDED", "DELETED"]);

    // Deleting the CRD removes the kind and its objects.
    let (c, _) = h
        .call(
            "DELETE",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.test.nno.app",
            JSON,
            "",
        )
        .await;
    assert_eq!(c, 200);
    let (c, _) = h.call("GET", gadgets, JSON, "").await;
    assert_eq!(c, 404);
    h.dc.stop().await;
}

#[tokio::test]
async fn expired_continue_tokens_get_410() {
    let dc = DevCluster::start(Options {
        history_limit: 5,
        ..Options::default()
    })
    .await
    .unwrap();
    let h = H {
        client: dc.client().unwrap(),
        dc,
    };
    for i in 0..4 {
        h.call(
            "POST",
            CMS,
            JSON,
            &format!(r#"{{"metadata":{{"name":"c{i}"}}}}"#),
        )
        .await;
    }
    let (c, page) = h.call("GET", &format!("{CMS}?limit=2"), JSON, "").await;
    assert_eq!(c, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let token = page["metadata"]["continue"].as_str().unwrap().to_string();
    let (c, rest) = h
        .call("GET", &format!("{CMS}?limit=2&continue={token}"), JSON, "")
        .await;
    assert_eq!(c, 200);
    assert_eq!(rest["items"][0]["metadata"]["name"], "c2");
    for i in 10..20 {
        h.call(
            "POST",
            CMS,
            JSON,
            &format!(r#"{{"metadata":{{"name":"c{i}"}}}}"#),
        )
        .await;
    }
    let (c, v) = h
        .call("GET", &format!("{CMS}?limit=2&continue={token}"), JSON, "")
        .await;
    assert_eq!(c, 410);
    assert_status(&v, 410, "Expired");
    let (c, v) = h
        .call("GET", &format!("{CMS}?continue=garbage"), JSON, "")
        .await;
    assert_eq!(c, 400, "{v}");
    let (c, v) = h
        .call(
            "GET",
            &format!("{CMS}?resourceVersion=3&resourceVersionMatch=Exact"),
            JSON,
            "",
        )
        .await;
    assert_eq!(c, 410, "{v}");
    h.dc.stop().await;
}

#[tokio::test]
async fn server_side_apply_creates_and_reports_conflicts() {
    let h = H::start().await;
    let apply = "application/apply-patch+yaml";
    let doc =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: '1'\n  b: '2'\n";
    let (c, v) = h
        .call(
            "PATCH",
            &format!("{CMS}/ssa?fieldManager=alice"),
            apply,
            doc,
        )
        .await;
    assert_eq!(c, 201, "apply creates: {v}");
    assert_eq!(v["metadata"]["managedFields"][0]["manager"], "alice");
    assert_eq!(v["metadata"]["managedFields"][0]["operation"], "Apply");

    let bob = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: 'bob'\n";
    let (c, v) = h
        .call("PATCH", &format!("{CMS}/ssa?fieldManager=bob"), apply, bob)
        .await;
    assert_eq!(c, 409, "{v}");
    assert_status(&v, 409, "Conflict");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("conflict with \"alice\""),
        "{v}"
    );
    let (c, v) = h
        .call(
            "PATCH",
            &format!("{CMS}/ssa?fieldManager=bob&force=true"),
            apply,
            bob,
        )
        .await;
    assert_eq!(c, 200, "{v}");
    assert_eq!(v["data"]["a"], "bob");

    // alice stops applying b: it is removed; a now belongs to bob and stays.
    let alice2 = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata: {}\n";
    let (c, v) = h
        .call(
            "PATCH",
            &format!("{CMS}/ssa?fieldManager=alice"),
            apply,
            alice2,
        )
        .await;
    assert_eq!(c, 200, "{v}");
    assert_eq!(v["data"], json!({"a": "bob"}));
    h.dc.stop().await;
}

#[tokio::test]
async fn oversized_bodies_get_a_413_status() {
    let h = H::start().await;
    let big = format!(
        r#"{{"metadata":{{"name":"big"}},"data":{{"x":"{}"}}}}"#,
        "a".repeat(4 * 1024 * 1024)
    );
    let (c, v) = h.call("POST", CMS, JSON, &big).await;
    assert_eq!(c, 413);
    assert_status(&v, 413, "RequestEntityTooLarge");
    h.dc.stop().await;
}

#[tokio::test]
async fn crds_dir_and_apply_yaml_bootstrap_a_cluster() {
    let root = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let dc = DevCluster::start(Options {
        crds_dir: Some(root.join("crds")),
        ..Options::default()
    })
    .await
    .unwrap();
    let samples: Vec<String> = [
        "platform.yaml",
        "virtualmachine.yaml",
        "secret-3nv-credentials.yaml",
    ]
    .iter()
    .map(|f| std::fs::read_to_string(root.join("config/samples").join(f)).unwrap())
    .collect();
    assert_eq!(dc.apply_yaml(&samples.join("\n---\n")).unwrap(), 3);
    assert!(
        dc.apply_yaml("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n")
            .is_err()
    );
    let h = H {
        client: dc.client().unwrap(),
        dc,
    };
    let (c, vm) = h
        .call(
            "GET",
            "/apis/nno.app/v1alpha1/namespaces/default/virtualmachines/acme-web-1",
            JSON,
            "",
        )
        .await;
    assert_eq!(c, 200, "{vm}");
    assert_eq!(vm["spec"]["vcpu"], 2);
    let (c, _) = h
        .call(
            "GET",
            "/api/v1/namespaces/default/secrets/acme-3nv-credentials",
            JSON,
            "",
        )
        .await;
    assert_eq!(c, 200);
    // Applying the same document again is an update, not a conflict.
    assert_eq!(h.dc.apply_yaml(&samples[1]).unwrap(), 1);
    h.dc.stop().await;
}
