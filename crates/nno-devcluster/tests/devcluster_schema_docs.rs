//! Unit tests of the devcluster's generated documents: OpenAPI v3 index and group-version documents,
//! and `Table` rendering of printer columns.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use nno_devcluster::schema::{
    IncludeObject, KindSchema, PrinterColumn, builtin_kind_schemas, default_columns,
    from_crd_columns, human_duration, openapi_v3_group_version, openapi_v3_index,
    openapi_v3_index_for_kinds, render_table_at,
};
use serde_json::{Value, json};

fn vm_kind() -> KindSchema {
    KindSchema {
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
                "spec": {"type": "object", "description": "Desired state.", "required": ["vcpu"],
                         "properties": {"vcpu": {"type": "integer", "description": "Number of vCPUs.", "minimum": 1}}},
                "status": {"type": "object", "properties": {"externalId": {"type": "string"}}}
            }
        }),
    }
}

/// Every `$ref` in the document resolves to one of its `components.schemas`.
fn assert_refs_resolve(doc: &Value) {
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                    out.insert(r.to_string());
                }
                m.values().for_each(|c| walk(c, out));
            }
            Value::Array(a) => a.iter().for_each(|c| walk(c, out)),
            _ => {}
        }
    }
    let mut refs = BTreeSet::new();
    walk(doc, &mut refs);
    assert!(!refs.is_empty());
    let schemas = doc["components"]["schemas"]
        .as_object()
        .expect("components.schemas");
    for r in refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("non-local $ref {r}"));
        assert!(schemas.contains_key(name), "$ref {r} does not resolve");
    }
}

#[test]
fn index_lists_group_versions_with_server_relative_urls() {
    let idx = openapi_v3_index(&[
        "apis/nno.app/v1alpha1".to_string(),
        "v1".to_string(),
        "coordination.k8s.io/v1".to_string(),
    ]);
    let paths = idx["paths"].as_object().expect("paths");
    assert_eq!(
        paths.keys().collect::<Vec<_>>(),
        vec![
            "api/v1",
            "apis/coordination.k8s.io/v1",
            "apis/nno.app/v1alpha1"
        ]
    );
    let url = paths["apis/nno.app/v1alpha1"]["serverRelativeURL"]
        .as_str()
        .expect("url");
    assert!(
        url.starts_with("/openapi/v3/apis/nno.app/v1alpha1?hash="),
        "{url}"
    );
    assert!(url.len() > "/openapi/v3/apis/nno.app/v1alpha1?hash=".len());
}

#[test]
fn index_hash_follows_the_document_content() {
    let a = openapi_v3_index_for_kinds(&[vm_kind()]);
    let mut changed = vm_kind();
    changed.schema["properties"]["spec"]["description"] = json!("Changed.");
    let b = openapi_v3_index_for_kinds(&[changed]);
    let url = |v: &Value| {
        v["paths"]["apis/nno.app/v1alpha1"]["serverRelativeURL"]
            .as_str()
            .map(String::from)
    };
    assert!(url(&a).is_some());
    assert_ne!(url(&a), url(&b));
    assert_eq!(url(&a), url(&openapi_v3_index_for_kinds(&[vm_kind()])));
}

#[test]
fn custom_kind_document_has_components_gvk_metadata_and_list() {
    let doc = openapi_v3_group_version("apis/nno.app/v1alpha1", &[vm_kind()]);
    assert_eq!(doc["openapi"], "3.0.0");
    let schemas = &doc["components"]["schemas"];
    let vm = &schemas["app.nno.v1alpha1.VirtualMachine"];
    assert_eq!(
        vm["x-kubernetes-group-version-kind"],
        json!([{"group": "nno.app", "kind": "VirtualMachine", "version": "v1alpha1"}])
    );
    assert_eq!(vm["description"], "A 3nv.io virtual machine.");
    assert_eq!(
        vm["properties"]["spec"]["properties"]["vcpu"]["description"],
        "Number of vCPUs."
    );
    assert_eq!(
        vm["properties"]["metadata"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    assert_eq!(vm["properties"]["apiVersion"]["type"], "string");
    let list = &schemas["app.nno.v1alpha1.VirtualMachineList"];
    assert_eq!(
        list["x-kubernetes-group-version-kind"][0]["kind"],
        "VirtualMachineList"
    );
    assert_eq!(
        list["properties"]["items"]["items"]["$ref"],
        "#/components/schemas/app.nno.v1alpha1.VirtualMachine"
    );
    let meta = &schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"];
    assert_eq!(meta["properties"]["name"]["type"], "string");
    assert!(
        schemas
            .get("io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry")
            .is_some()
    );
    assert_refs_resolve(&doc);
}

#[test]
fn documents_only_hold_their_own_group_version() {
    let mut kinds = builtin_kind_schemas();
    kinds.push(vm_kind());
    let doc = openapi_v3_group_version("nno.app/v1alpha1", &kinds);
    let paths: Vec<&String> = doc["paths"].as_object().expect("paths").keys().collect();
    assert!(
        paths
            .iter()
            .all(|p| p.starts_with("/apis/nno.app/v1alpha1/")),
        "{paths:?}"
    );
    assert!(
        doc["components"]["schemas"]
            .get("io.k8s.api.core.v1.Secret")
            .is_none()
    );
}

#[test]
fn patch_operations_advertise_field_validation_for_kubectl() {
    let doc = openapi_v3_group_version("apis/nno.app/v1alpha1", &[vm_kind()]);
    let item =
        &doc["paths"]["/apis/nno.app/v1alpha1/namespaces/{namespace}/virtualmachines/{name}"];
    let patch = &item["patch"];
    assert_eq!(
        patch["x-kubernetes-group-version-kind"],
        json!({"group": "nno.app", "kind": "VirtualMachine", "version": "v1alpha1"})
    );
    let names: Vec<&str> = patch["parameters"]
        .as_array()
        .expect("params")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for want in ["dryRun", "fieldManager", "fieldValidation", "force"] {
        assert!(names.contains(&want), "{names:?} lacks {want}");
    }
    assert!(
        patch["parameters"]
            .as_array()
            .expect("params")
            .iter()
            .all(|p| p["in"] == "query")
    );
    assert!(
        patch["requestBody"]["content"]
            .get("application/apply-patch+yaml")
            .is_some()
    );
    for op in ["get", "put", "delete"] {
        assert_eq!(
            item[op]["x-kubernetes-group-version-kind"]["kind"], "VirtualMachine",
            "{op}"
        );
    }
    let collection = &doc["paths"]["/apis/nno.app/v1alpha1/namespaces/{namespace}/virtualmachines"];
    assert_eq!(collection["get"]["x-kubernetes-action"], "list");
    assert_eq!(collection["post"]["x-kubernetes-action"], "post");
    assert_eq!(
        collection["delete"]["x-kubernetes-action"],
        "deletecollection"
    );
    assert!(
        doc["paths"]
            .get("/apis/nno.app/v1alpha1/virtualmachines")
            .is_some()
    );
}

#[test]
fn builtin_kinds_use_the_real_schemas() {
    let core = openapi_v3_group_version("api/v1", &builtin_kind_schemas());
    let schemas = &core["components"]["schemas"];
    let secret = &schemas["io.k8s.api.core.v1.Secret"];
    assert_eq!(
        secret["x-kubernetes-group-version-kind"],
        json!([{"group": "", "kind": "Secret", "version": "v1"}])
    );
    assert!(secret["properties"]["data"]["additionalProperties"].is_object());
    assert_eq!(
        schemas["io.k8s.api.core.v1.SecretList"]["x-kubernetes-group-version-kind"][0]["kind"],
        "SecretList"
    );
    for name in [
        "io.k8s.api.core.v1.Namespace",
        "io.k8s.api.core.v1.ConfigMap",
        "io.k8s.api.core.v1.Event",
        "io.k8s.api.core.v1.ServiceAccount",
    ] {
        assert!(schemas.get(name).is_some(), "{name}");
    }
    assert!(
        core["paths"].get("/api/v1/namespaces/{name}").is_some(),
        "namespaces are cluster-scoped"
    );
    assert!(
        core["paths"]
            .get("/api/v1/namespaces/{namespace}/secrets/{name}")
            .is_some()
    );
    assert_refs_resolve(&core);

    // A caller passing a permissive schema for a built-in still gets the real one.
    let permissive = KindSchema {
        group: "coordination.k8s.io".into(),
        version: "v1".into(),
        kind: "Lease".into(),
        plural: "leases".into(),
        namespaced: true,
        schema: json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
        list_kind: "LeaseList".into(),
    };
    let leases = openapi_v3_group_version("coordination.k8s.io/v1", &[permissive]);
    let lease = &leases["components"]["schemas"]["io.k8s.api.coordination.v1.Lease"];
    assert_eq!(lease["x-kubernetes-group-version-kind"][0]["kind"], "Lease");
    assert!(lease["properties"]["spec"].is_object());
    assert_refs_resolve(&leases);

    for (gv, name) in [
        ("events.k8s.io/v1", "io.k8s.api.events.v1.Event"),
        (
            "apiextensions.k8s.io/v1",
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
        ),
    ] {
        let doc = openapi_v3_group_version(gv, &builtin_kind_schemas());
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "{gv}: {name}"
        );
        assert_refs_resolve(&doc);
    }
}

fn columns() -> Vec<PrinterColumn> {
    from_crd_columns(&json!({"name": "v1alpha1", "additionalPrinterColumns": [
        {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
        {"name": "External-ID", "type": "string", "jsonPath": ".metadata.annotations.nno\\.app/external-id",
         "description": "The cloud identity."},
        {"name": "vCPU", "type": "integer", "jsonPath": ".spec.vcpu", "priority": 1},
        {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio"},
        {"name": "Backup", "type": "boolean", "jsonPath": ".spec.backup"},
        {"name": "Tags", "type": "string", "jsonPath": ".spec.tags"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    ]}))
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-10T12:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}

fn objects() -> Vec<Value> {
    vec![
        json!({"apiVersion": "nno.app/v1alpha1", "kind": "VirtualMachine",
               "metadata": {"name": "web", "namespace": "default", "creationTimestamp": "2026-01-10T11:54:48Z",
                            "annotations": {"nno.app/external-id": "3f1c"}},
               "spec": {"vcpu": 4, "ratio": 1.5, "backup": true, "tags": ["a", "b"]},
               "status": {"conditions": [{"type": "Synced", "status": "True"}, {"type": "Ready", "status": "False"}]}}),
        json!({"apiVersion": "nno.app/v1alpha1", "kind": "VirtualMachine",
               "metadata": {"name": "db", "namespace": "default", "creationTimestamp": "2026-01-08T12:00:00Z"},
               "spec": {"vcpu": 2.0}}),
    ]
}

#[test]
fn table_has_name_first_and_the_crd_columns() {
    let table = render_table_at(&columns(), &objects(), IncludeObject::None, now());
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
    let defs = table["columnDefinitions"].as_array().expect("defs");
    let names: Vec<&str> = defs.iter().filter_map(|d| d["name"].as_str()).collect();
    assert_eq!(
        names,
        vec![
            "Name",
            "Ready",
            "External-ID",
            "vCPU",
            "Ratio",
            "Backup",
            "Tags",
            "Age"
        ]
    );
    assert_eq!(defs[0]["format"], "name");
    assert_eq!(
        defs[1]["description"],
        "Custom resource definition column (in JSONPath format): .status.conditions[?(@.type==\"Ready\")].status"
    );
    assert_eq!(defs[2]["description"], "The cloud identity.");
    assert_eq!(defs[3]["priority"], 1);
    assert_eq!(defs[3]["type"], "integer");
    for d in defs {
        for key in ["name", "type", "format", "description", "priority"] {
            assert!(d.get(key).is_some(), "column {d} lacks {key}");
        }
    }
}

#[test]
fn table_cells_follow_the_column_types() {
    let table = render_table_at(&columns(), &objects(), IncludeObject::None, now());
    let rows = table["rows"].as_array().expect("rows");
    assert_eq!(
        rows[0]["cells"],
        json!(["web", "False", "3f1c", 4, 1.5, true, "[a b]", "5m12s"])
    );
    // Missing values are empty (null) cells, as the apiserver sends them; integer columns truncate.
    assert_eq!(
        rows[1]["cells"],
        json!(["db", null, null, 2, null, null, null, "2d"])
    );
    assert!(rows[0].get("object").is_none());
}

#[test]
fn table_rows_carry_the_object_as_requested() {
    let meta = render_table_at(&columns(), &objects(), IncludeObject::Metadata, now());
    assert_eq!(
        meta["rows"][0]["object"],
        json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": objects()[0]["metadata"]})
    );
    let full = render_table_at(&columns(), &objects(), IncludeObject::Object, now());
    assert_eq!(full["rows"][1]["object"], objects()[1]);
}

#[test]
fn default_columns_show_age() {
    let table = render_table_at(&default_columns(), &objects(), IncludeObject::None, now());
    let names: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .expect("defs")
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert_eq!(names, vec!["Name", "Age"]);
    assert_eq!(table["rows"][0]["cells"], json!(["web", "5m12s"]));
}

#[test]
fn invalid_columns_and_dates() {
    assert!(
        PrinterColumn::from_crd(&json!({"name": "Bad", "type": "string", "jsonPath": ".spec["}))
            .is_none()
    );
    assert!(PrinterColumn::from_crd(&json!({"type": "string", "jsonPath": ".spec.x"})).is_none());
    let age = from_crd_columns(
        &json!([{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]),
    );
    let objs = vec![json!({"metadata": {"name": "x", "creationTimestamp": "not a time"}})];
    assert_eq!(
        render_table_at(&age, &objs, IncludeObject::None, now())["rows"][0]["cells"],
        json!(["x", "<invalid>"])
    );
}

#[test]
fn ages_render_like_kubectl() {
    let cases = [
        (Duration::seconds(-5), "<invalid>"),
        (Duration::milliseconds(-500), "0s"),
        (Duration::seconds(0), "0s"),
        (Duration::seconds(119), "119s"),
        (Duration::seconds(120), "2m"),
        (Duration::seconds(312), "5m12s"),
        (Duration::minutes(17), "17m"),
        (Duration::minutes(179), "179m"),
        (Duration::hours(3), "3h"),
        (Duration::minutes(310), "5h10m"),
        (Duration::hours(30), "30h"),
        (Duration::hours(48), "2d"),
        (Duration::hours(76), "3d4h"),
        (Duration::days(30), "30d"),
        (Duration::days(800), "2y70d"),
        (Duration::days(365 * 9), "9y"),
    ];
    for (d, want) in cases {
        assert_eq!(human_duration(d), want, "{d:?}");
    }
}

#[test]
fn strategic_merge_patch_is_offered_for_builtin_kinds_only() {
    let custom = openapi_v3_group_version("apis/nno.app/v1alpha1", &[vm_kind()]);
    let patch = &custom["paths"]["/apis/nno.app/v1alpha1/namespaces/{namespace}/virtualmachines/{name}"]
        ["patch"];
    let types = patch["requestBody"]["content"]
        .as_object()
        .expect("content");
    assert!(types.contains_key("application/merge-patch+json"));
    assert!(!types.contains_key("application/strategic-merge-patch+json"));
    let core = openapi_v3_group_version("api/v1", &builtin_kind_schemas());
    let patch = &core["paths"]["/api/v1/namespaces/{namespace}/secrets/{name}"]["patch"];
    assert!(
        patch["requestBody"]["content"]
            .get("application/strategic-merge-patch+json")
            .is_some()
    );
}
