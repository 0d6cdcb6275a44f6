//! The `/openapi/v3` index and per-group-version OpenAPI 3.0 documents, shaped like the apiserver's
//! so that `kubectl explain` and kubectl's field-validation support check work.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::builtin::{self, REF_PREFIX};

const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const METADATA_DESCRIPTION: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const LIST_METADATA_DESCRIPTION: &str = "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";

/// One served kind of a group-version, with its schema (a CRD version's openAPIV3Schema, or a
/// `$ref` into the built-in definitions as [`builtin_kind_schemas`](super::builtin_kind_schemas) gives).
#[derive(Clone, Debug, PartialEq)]
pub struct KindSchema {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
    pub schema: Value,
    pub list_kind: String,
}

/// `api/v1` or `apis/{group}/{version}` for any spelling of a group-version
/// (`v1`, `nno.app/v1alpha1`, `api/v1`, `/apis/nno.app/v1alpha1`).
pub fn gv_path(gv: &str) -> String {
    let gv = gv.trim_matches('/');
    if gv.starts_with("api/") || gv.starts_with("apis/") {
        return gv.to_string();
    }
    match gv.split_once('/') {
        Some((group, version)) => format!("apis/{group}/{version}"),
        None => format!("api/{gv}"),
    }
}

fn kind_gv_path(k: &KindSchema) -> String {
    if k.group.is_empty() {
        format!("api/{}", k.version)
    } else {
        format!("apis/{}/{}", k.group, k.version)
    }
}

fn hash_of(text: &str) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, text.as_bytes())
        .simple()
        .to_string()
        .to_uppercase()
}

fn index_entry(path: &str, hash: &str) -> Value {
    json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}")})
}

/// The `/openapi/v3` index for these group-versions. The hash only depends on the names; prefer
/// [`openapi_v3_index_for_kinds`], whose hashes change with the documents.
pub fn openapi_v3_index(group_versions: &[String]) -> Value {
    let paths: Map<String, Value> = group_versions
        .iter()
        .map(|gv| {
            let path = gv_path(gv);
            let entry = index_entry(&path, &hash_of(&path));
            (path, entry)
        })
        .collect();
    json!({"paths": paths})
}

/// The `/openapi/v3` index with each entry's hash computed from its document.
pub fn openapi_v3_index_for_kinds(kinds: &[KindSchema]) -> Value {
    let mut by_gv: BTreeMap<String, Vec<KindSchema>> = BTreeMap::new();
    for k in kinds {
        by_gv.entry(kind_gv_path(k)).or_default().push(k.clone());
    }
    let paths: Map<String, Value> = by_gv
        .into_iter()
        .map(|(path, ks)| {
            let doc = openapi_v3_group_version(&path, &ks);
            let entry = index_entry(&path, &hash_of(&doc.to_string()));
            (path, entry)
        })
        .collect();
    json!({"paths": paths})
}

/// Component name of a custom kind: reversed group, version, kind (`app.nno.v1alpha1.VirtualMachine`).
pub fn custom_component_name(group: &str, version: &str, kind: &str) -> String {
    let mut parts: Vec<&str> = group.split('.').filter(|p| !p.is_empty()).collect();
    parts.reverse();
    parts.push(version);
    parts.push(kind);
    parts.join(".")
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("{REF_PREFIX}{name}")})
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "kind": kind, "version": version})
}

/// The OpenAPI 3.0 document of one group-version (`gv` in any spelling [`gv_path`] accepts); only
/// the `kinds` of that group-version are included.
pub fn openapi_v3_group_version(gv: &str, kinds: &[KindSchema]) -> Value {
    let path = gv_path(gv);
    let mut schemas = Map::new();
    let mut paths = Map::new();
    for k in kinds.iter().filter(|k| kind_gv_path(k) == path) {
        let name = match builtin::component_name(&k.group, &k.version, &k.kind) {
            Some(name) => name.to_string(),
            None => {
                let name = custom_component_name(&k.group, &k.version, &k.kind);
                schemas.insert(name.clone(), kind_component(k));
                name
            }
        };
        let list_name = match name.strip_suffix(k.kind.as_str()) {
            Some(prefix) => format!("{prefix}{}", k.list_kind),
            None => format!("{name}List"),
        };
        schemas.insert(list_name.clone(), list_component(k, &name));
        add_paths(&mut paths, k, &name, &list_name);
    }
    add_referenced(&mut schemas);
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

/// A custom kind's component: its schema with apiVersion/kind/metadata as the apiserver publishes them.
fn kind_component(k: &KindSchema) -> Value {
    let mut published = k.schema.clone();
    publish_int_or_string(&mut published);
    let mut schema = match published {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    schema.entry("type").or_insert_with(|| json!("object"));
    let props = schema.entry("properties").or_insert_with(|| json!({}));
    if let Value::Object(props) = props {
        props.insert(
            "apiVersion".into(),
            json!({"type": "string", "description": API_VERSION_DESCRIPTION}),
        );
        props.insert(
            "kind".into(),
            json!({"type": "string", "description": KIND_DESCRIPTION}),
        );
        props.insert(
            "metadata".into(),
            json!({"allOf": [reference(OBJECT_META)], "default": {}, "description": METADATA_DESCRIPTION}),
        );
    }
    schema.insert(
        "x-kubernetes-group-version-kind".into(),
        json!([gvk(&k.group, &k.version, &k.kind)]),
    );
    Value::Object(schema)
}

/// `x-kubernetes-int-or-string` nodes are published with `anyOf: [integer, string]`, as the
/// apiserver does (kubectl explain shows them as `<IntOrString>`).
fn publish_int_or_string(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map
                .get("x-kubernetes-int-or-string")
                .and_then(Value::as_bool)
                == Some(true)
                && !map.contains_key("anyOf")
            {
                map.insert(
                    "anyOf".into(),
                    json!([{"type": "integer"}, {"type": "string"}]),
                );
            }
            map.values_mut().for_each(publish_int_or_string);
        }
        Value::Array(items) => items.iter_mut().for_each(publish_int_or_string),
        _ => {}
    }
}

fn list_component(k: &KindSchema, item_name: &str) -> Value {
    json!({
        "description": format!("{} is a list of {}", k.list_kind, k.kind),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string", "description": API_VERSION_DESCRIPTION},
            "kind": {"type": "string", "description": KIND_DESCRIPTION},
            "items": {
                "type": "array",
                "description": format!("List of {}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md", k.plural),
                "items": reference(item_name),
            },
            "metadata": {"allOf": [reference(LIST_META)], "default": {}, "description": LIST_METADATA_DESCRIPTION},
        },
        "x-kubernetes-group-version-kind": [gvk(&k.group, &k.version, &k.list_kind)],
    })
}

fn query(name: &str, description: &str, ty: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": ty, "uniqueItems": true}})
}

fn path_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "description": description, "required": true, "schema": {"type": "string", "uniqueItems": true}})
}

fn write_params(patch: bool) -> Vec<Value> {
    let mut params = vec![
        query(
            "dryRun",
            "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed",
            "string",
        ),
        query(
            "fieldManager",
            "fieldManager is a name associated with the actor or entity that is making these changes.",
            "string",
        ),
        query(
            "fieldValidation",
            "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict",
            "string",
        ),
    ];
    if patch {
        params.push(query("force", "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people.", "boolean"));
    }
    params
}

fn list_params() -> Vec<Value> {
    [
        ("allowWatchBookmarks", "boolean"),
        ("continue", "string"),
        ("fieldSelector", "string"),
        ("labelSelector", "string"),
        ("limit", "integer"),
        ("resourceVersion", "string"),
        ("resourceVersionMatch", "string"),
        ("sendInitialEvents", "boolean"),
        ("timeoutSeconds", "integer"),
        ("watch", "boolean"),
    ]
    .iter()
    .map(|(n, t)| query(n, n, t))
    .collect()
}

fn content(schema: Value, types: &[&str]) -> Value {
    let map: Map<String, Value> = types
        .iter()
        .map(|t| ((*t).to_string(), json!({"schema": schema.clone()})))
        .collect();
    Value::Object(map)
}

const JSON_TYPES: &[&str] = &["application/json", "application/yaml"];

#[allow(clippy::too_many_arguments)]
fn operation(
    k: &KindSchema,
    id: &str,
    action: &str,
    params: Vec<Value>,
    body: Option<Value>,
    ok: &str,
    description: &str,
) -> Value {
    let mut op = json!({
        "tags": [if k.group.is_empty() { format!("core_{}", k.version) } else { format!("{}_{}", k.group.replace('.', "_"), k.version) }],
        "description": description,
        "operationId": id,
        "parameters": params,
        "responses": {
            "200": {"description": "OK", "content": content(reference(ok), JSON_TYPES)},
            "401": {"description": "Unauthorized"},
        },
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk(&k.group, &k.version, &k.kind),
    });
    if let Some(body) = body {
        op["requestBody"] = json!({"content": body, "required": true});
    }
    op
}

fn add_paths(paths: &mut Map<String, Value>, k: &KindSchema, name: &str, list_name: &str) {
    let base = format!("/{}", kind_gv_path(k));
    let scope = if k.namespaced {
        format!("{base}/namespaces/{{namespace}}/{}", k.plural)
    } else {
        format!("{base}/{}", k.plural)
    };
    let id = format!("{}{}", k.kind, if k.namespaced { "Namespaced" } else { "" });
    let mut common = vec![query(
        "pretty",
        "If 'true', then the output is pretty printed.",
        "string",
    )];
    if k.namespaced {
        common.push(path_param(
            "namespace",
            "object name and auth scope, such as for teams and projects",
        ));
    }
    let body = content(reference(name), JSON_TYPES);
    let mut collection = json!({
        "get": operation(k, &format!("list{id}"), "list", list_params(), None, list_name, &format!("list or watch objects of kind {}", k.kind)),
        "post": operation(k, &format!("create{id}"), "post", write_params(false), Some(body.clone()), name, &format!("create a {}", k.kind)),
        "delete": operation(k, &format!("deletecollection{id}"), "deletecollection", list_params(), Some(content(reference(DELETE_OPTIONS), &["application/json"])), STATUS, &format!("delete collection of {}", k.kind)),
    });
    collection["parameters"] = Value::Array(common.clone());
    paths.insert(scope.clone(), collection);

    let mut item_params = common.clone();
    item_params.push(path_param("name", &format!("name of the {}", k.kind)));
    // Strategic merge patch exists only for the built-in kinds: kubectl's client-side apply sends one
    // when the document lists it, and the apiserver rejects it for custom resources (415).
    let mut patch_types = vec![
        "application/apply-patch+yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
    ];
    if builtin::component_name(&k.group, &k.version, &k.kind).is_some() {
        patch_types.push("application/strategic-merge-patch+json");
    }
    let patch_body = content(reference(PATCH), &patch_types);
    let mut item = json!({
        "get": operation(k, &format!("read{id}"), "get", vec![], None, name, &format!("read the specified {}", k.kind)),
        "put": operation(k, &format!("replace{id}"), "put", write_params(false), Some(body), name, &format!("replace the specified {}", k.kind)),
        "patch": operation(k, &format!("patch{id}"), "patch", write_params(true), Some(patch_body), name, &format!("partially update the specified {}", k.kind)),
        "delete": operation(k, &format!("delete{id}"), "delete", vec![query("dryRun", "dryRun", "string"), query("propagationPolicy", "propagationPolicy", "string")], Some(content(reference(DELETE_OPTIONS), &["application/json"])), STATUS, &format!("delete a {}", k.kind)),
    });
    item["parameters"] = Value::Array(item_params);
    paths.insert(format!("{scope}/{{name}}"), item);

    if k.namespaced {
        let mut all = json!({
            "get": operation(k, &format!("list{}ForAllNamespaces", k.kind), "list", list_params(), None, list_name, &format!("list or watch objects of kind {}", k.kind)),
        });
        all["parameters"] = json!([query(
            "pretty",
            "If 'true', then the output is pretty printed.",
            "string"
        )]);
        paths.insert(format!("{base}/{}", k.plural), all);
    }
}

/// Every `$ref` target in `v`, as a component name.
pub fn refs_in(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            if let Some(r) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(REF_PREFIX))
            {
                out.insert(r.to_string());
            }
            map.values().for_each(|c| refs_in(c, out));
        }
        Value::Array(items) => items.iter().for_each(|c| refs_in(c, out)),
        _ => {}
    }
}

/// Adds the built-in / meta definitions the document refers to, transitively.
fn add_referenced(schemas: &mut Map<String, Value>) {
    let defs = builtin::definitions();
    let mut wanted = BTreeSet::new();
    for name in [
        OBJECT_META,
        LIST_META,
        STATUS,
        DELETE_OPTIONS,
        PATCH,
        WATCH_EVENT,
    ] {
        wanted.insert(name.to_string());
    }
    schemas.values().for_each(|s| refs_in(s, &mut wanted));
    while let Some(name) = wanted.pop_first() {
        if schemas.contains_key(&name) {
            continue;
        }
        if let Some(def) = defs.get(&name) {
            refs_in(def, &mut wanted);
            schemas.insert(name, def.clone());
        }
    }
}
