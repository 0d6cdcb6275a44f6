//! Structural defaulting and pruning of custom resources, as the apiextensions apiserver does them.
//!
//! `kube-cel` has a defaulting pass for its own CEL view, but it neither recurses into the defaults it
//! inserts nor treats `null` in non-nullable fields the way the apiserver does, so the server-side
//! (stored) defaulting is done here.

use serde_json::{Map, Value};

const MAX_DEPTH: usize = 64;

fn flag(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool) == Some(true)
}

fn properties(schema: &Value) -> Option<&Map<String, Value>> {
    schema.get("properties").and_then(Value::as_object)
}

fn additional_schema(schema: &Value) -> Option<&Value> {
    schema.get("additionalProperties").filter(|s| s.is_object())
}

/// Applies schema `default`s to `obj` in place: absent properties of present objects get their
/// default (recursively, also inside array items, map values and inserted defaults); a `null` in a
/// non-nullable field is replaced by its default, or dropped when it has none.
pub fn apply_defaults(schema: &Value, obj: &mut Value) {
    default_node(schema, obj, 0);
}

fn default_node(schema: &Value, value: &mut Value, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(map) => {
            let props = properties(schema);
            let additional = additional_schema(schema);
            let child_schema = |k: &str| props.and_then(|p| p.get(k)).or(additional);

            let nulls: Vec<String> = map
                .iter()
                .filter(|(_, v)| v.is_null())
                .map(|(k, _)| k.clone())
                .collect();
            for key in nulls {
                if let Some(s) = child_schema(&key).filter(|s| !flag(s, "nullable")) {
                    match s.get("default") {
                        Some(d) => map.insert(key, d.clone()),
                        None => map.remove(&key),
                    };
                }
            }
            if let Some(props) = props {
                for (key, s) in props {
                    if let Some(d) = s.get("default")
                        && !map.contains_key(key)
                    {
                        map.insert(key.clone(), d.clone());
                    }
                }
            }
            for (key, child) in map.iter_mut() {
                if let Some(s) = child_schema(key) {
                    default_node(s, child, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for item in items.iter_mut() {
                    if item.is_null()
                        && !flag(s, "nullable")
                        && let Some(d) = s.get("default")
                    {
                        *item = d.clone();
                    }
                    default_node(s, item, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// Removes the fields `schema` does not declare, unless a node says
/// `x-kubernetes-preserve-unknown-fields: true`. At the root, and in embedded resources,
/// `apiVersion` and `kind` are kept and `metadata` keeps the `ObjectMeta` fields. Returns the pruned field paths
/// (`spec.foo`, `spec.rules[0].bar`), which a `fieldValidation=Strict` request turns into errors.
pub fn prune_unknown(schema: &Value, obj: &mut Value) -> Vec<String> {
    let mut pruned = Vec::new();
    prune_node(schema, obj, "", true, &mut pruned, 0);
    pruned
}

/// The fields of `ObjectMeta`; anything else in `metadata` is dropped, as decoding into ObjectMeta does.
const OBJECT_META_FIELDS: &[&str] = &[
    "annotations",
    "creationTimestamp",
    "deletionGracePeriodSeconds",
    "deletionTimestamp",
    "finalizers",
    "generateName",
    "generation",
    "labels",
    "managedFields",
    "name",
    "namespace",
    "ownerReferences",
    "resourceVersion",
    "selfLink",
    "uid",
];

fn prune_object_meta(meta: &mut Map<String, Value>, path: &str, out: &mut Vec<String>) {
    let unknown: Vec<String> = meta
        .keys()
        .filter(|k| !OBJECT_META_FIELDS.contains(&k.as_str()))
        .cloned()
        .collect();
    for key in unknown {
        meta.remove(&key);
        out.push(format!("{path}.{key}"));
    }
}

fn prune_node(
    schema: &Value,
    value: &mut Value,
    path: &str,
    keep_meta: bool,
    out: &mut Vec<String>,
    depth: usize,
) {
    if depth > MAX_DEPTH || flag(schema, "x-kubernetes-int-or-string") {
        return;
    }
    match value {
        Value::Object(map) => {
            let keep_meta = keep_meta || flag(schema, "x-kubernetes-embedded-resource");
            let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
            let props = properties(schema);
            let additional = schema.get("additionalProperties");
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                if keep_meta && matches!(key.as_str(), "apiVersion" | "kind") {
                    continue;
                }
                if keep_meta && key == "metadata" {
                    if let Some(Value::Object(meta)) = map.get_mut(&key) {
                        let prefix = if path.is_empty() {
                            "metadata".to_string()
                        } else {
                            format!("{path}.metadata")
                        };
                        prune_object_meta(meta, &prefix, out);
                    }
                    continue;
                }
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                let child_schema = props
                    .and_then(|p| p.get(&key))
                    .or(additional.filter(|a| a.is_object()));
                match (child_schema, map.get_mut(&key)) {
                    (Some(s), Some(child)) => {
                        prune_node(s, child, &child_path, false, out, depth + 1)
                    }
                    _ if preserve || additional == Some(&Value::Bool(true)) => {}
                    _ => {
                        map.remove(&key);
                        out.push(child_path);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    prune_node(s, item, &format!("{path}[{i}]"), false, out, depth + 1);
                }
            }
        }
        _ => {}
    }
}
