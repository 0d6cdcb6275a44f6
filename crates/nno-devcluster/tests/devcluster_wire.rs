//! Wire-level behaviour that other clients' suites found differing between the devcluster and a
//! real API server, checked on either backend (see nno-testkit) with raw HTTP: status codes of
//! DELETE with finalizers, events.k8s.io list/watch envelopes, server-side-apply error causes, and
//! the key order of built-in objects.

use nno_testkit::TestCluster;
use serde_json::{Value, json};

/// One raw request; returns the status code and the body.
async fn raw(
    client: &kube::Client,
    method: &str,
    uri: &str,
    ctype: &str,
    body: &str,
) -> (u16, String) {
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", ctype)
        .header("accept", "application/json")
        .body(kube::client::Body::from(body.as_bytes().to_vec()))
        .unwrap();
    let resp = client.send(req).await.expect("request sent");
    let code = resp.status().as_u16();
    let bytes = resp.into_body().collect_bytes().await.expect("body read");
    (code, String::from_utf8_lossy(&bytes).into_owned())
}

const JSON: &str = "application/json";
const CMS: &str = "/api/v1/namespaces/default/configmaps";

fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test]
async fn delete_with_finalizers_answers_200_with_the_object() {
    let tc = TestCluster::start().await;
    let client = tc.client().await;
    for name in ["held", "held-cascade"] {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "finalizers": ["test.nno.app/hold"]}});
        let (code, body) = raw(&client, "POST", CMS, JSON, &cm.to_string()).await;
        assert_eq!(code, 201, "{body}");
    }
    // Plain DELETE, and with a propagation policy: 200 and the object, marked for deletion.
    for (name, opts) in [
        ("held", json!({})),
        ("held-cascade", json!({"propagationPolicy": "Background"})),
    ] {
        let uri = format!("{CMS}/{name}");
        let (code, body) = raw(&client, "DELETE", &uri, JSON, &opts.to_string()).await;
        assert_eq!(code, 200, "{body}");
        let obj = parse(&body);
        assert_eq!(obj["kind"], "ConfigMap", "{body}");
        assert!(obj["metadata"]["deletionTimestamp"].is_string(), "{body}");
    }
    // 202 only when the client asks for cascading deletion with orphanDependents=false.
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "held-legacy", "finalizers": ["test.nno.app/hold"]}});
    raw(&client, "POST", CMS, JSON, &cm.to_string()).await;
    let opts = json!({"orphanDependents": false}).to_string();
    let (code, body) = raw(
        &client,
        "DELETE",
        &format!("{CMS}/held-legacy"),
        JSON,
        &opts,
    )
    .await;
    assert_eq!(code, 202, "{body}");
    assert!(parse(&body)["metadata"]["deletionTimestamp"].is_string());
}

#[tokio::test]
async fn events_k8s_io_lists_and_bookmarks_carry_their_own_api_version() {
    let tc = TestCluster::start().await;
    let client = tc.client().await;
    let base = "/apis/events.k8s.io/v1/namespaces/default/events";
    let ev = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e1"},
        "regarding": {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "namespace": "default"},
        "reason": "Tested", "note": "n", "type": "Normal", "action": "Test",
        "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "nno-test",
        "reportingInstance": "nno-test-0"});
    let (code, body) = raw(&client, "POST", base, JSON, &ev.to_string()).await;
    assert_eq!(code, 201, "{body}");

    let (code, body) = raw(&client, "GET", base, JSON, "").await;
    assert_eq!(code, 200, "{body}");
    let list = parse(&body);
    assert_eq!(list["apiVersion"], "events.k8s.io/v1", "{body}");
    assert_eq!(list["kind"], "EventList", "{body}");
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();

    // A watch with bookmarks: the first BOOKMARK names events.k8s.io/v1 too.
    let uri = format!(
        "{base}?watch=true&allowWatchBookmarks=true&sendInitialEvents=true\
         &resourceVersionMatch=NotOlderThan&timeoutSeconds=5&resourceVersion={rv}"
    );
    let (code, body) = raw(&client, "GET", &uri, JSON, "").await;
    assert_eq!(code, 200, "{body}");
    let bookmark = body
        .lines()
        .map(parse)
        .find(|e| e["type"] == "BOOKMARK")
        .unwrap_or_else(|| panic!("a bookmark in {body}"));
    assert_eq!(
        bookmark["object"]["apiVersion"], "events.k8s.io/v1",
        "{body}"
    );
    assert_eq!(bookmark["object"]["kind"], "Event", "{body}");

    let (code, body) = raw(&client, "DELETE", base, JSON, "{}").await;
    assert_eq!(code, 200, "{body}");
    let gone = parse(&body);
    assert_eq!(gone["apiVersion"], "events.k8s.io/v1", "{body}");
    assert_eq!(gone["kind"], "EventList", "{body}");
}

#[tokio::test]
async fn server_side_apply_errors_have_causes() {
    let tc = TestCluster::start().await;
    let client = tc.client().await;
    let apply = "application/apply-patch+yaml";
    let cm = |v: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owned"},
            "data": {"a": v, "b": v}})
        .to_string()
    };
    let uri = format!("{CMS}/owned?fieldManager=first");
    let (code, body) = raw(&client, "PATCH", &uri, apply, &cm("1")).await;
    assert_eq!(code, 201, "{body}");

    // Another manager changing both fields: 409 with one FieldManagerConflict cause per field.
    let uri = format!("{CMS}/owned?fieldManager=second");
    let (code, body) = raw(&client, "PATCH", &uri, apply, &cm("2")).await;
    assert_eq!(code, 409, "{body}");
    let status = parse(&body);
    assert_eq!(status["reason"], "Conflict", "{body}");
    assert_eq!(
        status["message"],
        "Apply failed with 2 conflicts: conflicts with \"first\":\n- .data.a\n- .data.b",
        "{body}"
    );
    let causes = status["details"]["causes"].as_array().expect("causes");
    let fields: Vec<(&str, &str, &str)> = causes
        .iter()
        .map(|c| {
            (
                c["reason"].as_str().unwrap_or_default(),
                c["field"].as_str().unwrap_or_default(),
                c["message"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("FieldManagerConflict", ".data.a", "conflict with \"first\""),
            ("FieldManagerConflict", ".data.b", "conflict with \"first\""),
        ],
        "{body}"
    );

    // No fieldManager: 422 whose cause names the parameter.
    let (code, body) = raw(&client, "PATCH", &format!("{CMS}/owned"), apply, &cm("3")).await;
    assert_eq!(code, 422, "{body}");
    let status = parse(&body);
    let causes = status["details"]["causes"].as_array().expect("causes");
    assert_eq!(causes.len(), 1, "{body}");
    assert_eq!(causes[0]["reason"], "FieldValueRequired", "{body}");
    assert_eq!(causes[0]["field"], "fieldManager", "{body}");
    assert_eq!(
        causes[0]["message"], "Required value: is required for apply patch",
        "{body}"
    );
}

#[tokio::test]
async fn built_in_objects_start_with_kind_and_api_version() {
    let tc = TestCluster::start().await;
    let client = tc.client().await;
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ordered"},
        "data": {"k": "v"}});
    let (code, body) = raw(&client, "POST", CMS, JSON, &cm.to_string()).await;
    assert_eq!(code, 201, "{body}");
    assert!(
        body.starts_with(r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"ordered","#),
        "{body}"
    );
    let (_, body) = raw(&client, "GET", &format!("{CMS}/ordered"), JSON, "").await;
    assert!(
        body.starts_with(r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"#),
        "{body}"
    );
    let (_, body) = raw(&client, "GET", CMS, JSON, "").await;
    assert!(
        body.starts_with(r#"{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"#),
        "{body}"
    );
    let (_, body) = raw(&client, "GET", &format!("{CMS}/missing"), JSON, "").await;
    assert!(
        body.starts_with(r#"{"kind":"Status","apiVersion":"v1","metadata":{}"#),
        "{body}"
    );
}
