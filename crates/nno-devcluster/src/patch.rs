//! PATCH bodies: RFC 6902 JSON patch and RFC 7386 merge patch (via `json-patch`), and the strategic
//! merge patch subset kubectl sends for built-in kinds (merge keys, `$patch`, `$retainKeys`,
//! `$deleteFromPrimitiveList`, `$setElementOrder`).

use serde_json::{Map, Value};

/// The patch flavours named by the request's Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> Option<Self> {
        let base = ct.split(';').next().unwrap_or_default().trim();
        match base {
            "application/json-patch+json" => Some(Self::Json),
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Some(Self::Apply),
            _ => None,
        }
    }
}

/// Errors applying a patch.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error("the JSON patch is malformed: {0}")]
    Malformed(String),
    #[error("{0}")]
    Apply(String),
}

/// RFC 6902.
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let ops: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(|e| PatchError::Malformed(e.to_string()))?;
    let mut doc = target.clone();
    for op in ops.0.iter() {
        // Like the API server's json-patch library, `test` for null passes on a missing path.
        if let json_patch::PatchOperation::Test(t) = op
            && t.value.is_null()
            && t.path.resolve(&doc).is_err()
        {
            continue;
        }
        json_patch::patch(&mut doc, std::slice::from_ref(op))
            .map_err(|e| PatchError::Apply(e.to_string()))?;
    }
    Ok(doc)
}

/// RFC 7386.
pub fn merge_patch(target: &Value, patch: &Value) -> Value {
    let mut doc = target.clone();
    json_patch::merge(&mut doc, patch);
    doc
}

/// Merge key of a list field, by the field's dotted path (built-in kinds only).
fn merge_key(path: &str) -> Option<&'static str> {
    match path {
        "metadata.ownerReferences" => Some("uid"),
        "secrets" | "imagePullSecrets" => Some("name"),
        _ => None,
    }
}

/// Primitive lists whose strategy is `merge` (union) rather than replace.
fn merges_primitives(path: &str) -> bool {
    path == "metadata.finalizers"
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Strategic merge patch of `patch` onto `target`.
pub fn strategic_merge(target: &Value, patch: &Value) -> Value {
    merge_map_value(target, patch, "")
}

fn merge_map_value(target: &Value, patch: &Value, path: &str) -> Value {
    let Some(pm) = patch.as_object() else {
        return patch.clone();
    };
    match pm.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut m = pm.clone();
            m.remove("$patch");
            return Value::Object(m);
        }
        Some("delete") => return Value::Null,
        _ => {}
    }
    let mut out: Map<String, Value> = target.as_object().cloned().unwrap_or_default();
    let retain = pm.get("$retainKeys").and_then(Value::as_array).cloned();
    for (k, v) in pm {
        if k == "$patch" || k == "$retainKeys" || k.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(cur)), Some(rm)) = (out.get_mut(field), v.as_array()) {
                cur.retain(|x| !rm.contains(x));
            }
            continue;
        }
        let sub = join(path, k);
        if v.is_null() {
            out.remove(k);
            continue;
        }
        let merged = match (out.get(k), v) {
            (Some(cur @ Value::Object(_)), Value::Object(_)) => merge_map_value(cur, v, &sub),
            (Some(Value::Array(cur)), Value::Array(items)) => merge_list(cur, items, &sub),
            (None, Value::Object(_)) => merge_map_value(&Value::Null, v, &sub),
            (None, Value::Array(items)) => merge_list(&[], items, &sub),
            _ => v.clone(),
        };
        if merged.is_null() {
            out.remove(k);
        } else {
            out.insert(k.clone(), merged);
        }
    }
    if let Some(keep) = retain {
        out.retain(|k, _| keep.iter().any(|x| x.as_str() == Some(k)));
    }
    Value::Object(out)
}

fn merge_list(cur: &[Value], items: &[Value], path: &str) -> Value {
    if let Some(key) = merge_key(path) {
        let mut out: Vec<Value> = cur.to_vec();
        for item in items {
            let id = item.get(key);
            let pos = out.iter().position(|x| x.get(key) == id && id.is_some());
            let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
            match (pos, delete) {
                (Some(i), true) => {
                    out.remove(i);
                }
                (None, true) => {}
                (Some(i), false) => out[i] = merge_map_value(&out[i], item, path),
                (None, false) => out.push(merge_map_value(&Value::Null, item, path)),
            }
        }
        return Value::Array(out);
    }
    if merges_primitives(path) {
        let mut out: Vec<Value> = cur.to_vec();
        for item in items {
            if !out.contains(item) {
                out.push(item.clone());
            }
        }
        return Value::Array(out);
    }
    Value::Array(items.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_merges_maps_and_keyed_lists() {
        let t = json!({"metadata": {"labels": {"a": "1", "b": "2"}, "finalizers": ["x"],
            "ownerReferences": [{"uid": "u1", "name": "o1"}]}, "data": {"k": "v"}});
        let p = json!({"metadata": {"labels": {"b": null, "c": "3"}, "finalizers": ["y"],
            "ownerReferences": [{"uid": "u1", "name": "renamed"}, {"uid": "u2", "name": "o2"}],
            "$setElementOrder/finalizers": ["x", "y"]}, "data": {"$patch": "replace", "n": "m"}});
        let r = strategic_merge(&t, &p);
        assert_eq!(r["metadata"]["labels"], json!({"a": "1", "c": "3"}));
        assert_eq!(r["metadata"]["finalizers"], json!(["x", "y"]));
        assert_eq!(r["metadata"]["ownerReferences"][0]["name"], "renamed");
        assert_eq!(r["metadata"]["ownerReferences"][1]["uid"], "u2");
        assert_eq!(r["data"], json!({"n": "m"}));
        let d = strategic_merge(
            &r,
            &json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}}),
        );
        assert_eq!(d["metadata"]["finalizers"], json!(["y"]));
    }

    #[test]
    fn json_and_merge_patch() {
        let t = json!({"spec": {"a": 1, "b": [1, 2]}});
        let j = json_patch(
            &t,
            &json!([{"op": "replace", "path": "/spec/a", "value": 5}]),
        )
        .unwrap();
        assert_eq!(j["spec"]["a"], 5);
        assert!(json_patch(&t, &json!([{"op": "remove", "path": "/nope"}])).is_err());
        let f = json_patch(
            &t,
            &json!([{"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata", "value": {"finalizers": ["x"]}}]),
        )
        .unwrap();
        assert_eq!(f["metadata"]["finalizers"], json!(["x"]));
        assert!(json_patch(&t, &json!([{"op": "test", "path": "/spec/a", "value": 2}])).is_err());
        let m = merge_patch(&t, &json!({"spec": {"a": null, "c": 1}}));
        assert_eq!(m, json!({"spec": {"b": [1, 2], "c": 1}}));
    }
}
