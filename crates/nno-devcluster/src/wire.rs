//! JSON bodies in the key order a real API server writes them. It encodes built-in kinds from Go
//! structs, so their objects (and `Status`, lists, `Table`s) start with `kind`, `apiVersion` and
//! `metadata`, in struct field order; custom resources are Go maps, written with sorted keys.
//! Stored objects here are `serde_json::Value`s with sorted keys, so only built-ins are reordered.

use serde_json::{Map, Value};

/// `ObjectMeta` and `ListMeta` fields in Go struct order.
const META_ORDER: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "continue",
    "remainingItemCount",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Fields after `kind`, `apiVersion`, `metadata` for the kinds whose order clients see most.
fn kind_order(kind: &str) -> &'static [&'static str] {
    match kind {
        "Status" => &["status", "message", "reason", "details", "code"],
        "ConfigMap" => &["immutable", "data", "binaryData"],
        "Secret" => &["immutable", "data", "stringData", "type"],
        "Namespace" | "CustomResourceDefinition" | "Lease" => &["spec", "status"],
        "Table" => &["columnDefinitions", "rows"],
        k if k.ends_with("List") => &["items"],
        _ => &[],
    }
}

/// Whether an object is of a built-in kind: typed, in the core group, a group without dots
/// (apps, batch) or one under `k8s.io`.
fn is_builtin(m: &Map<String, Value>) -> bool {
    let (Some(Value::String(_)), Some(Value::String(av))) = (m.get("kind"), m.get("apiVersion"))
    else {
        return false;
    };
    let group = av.rsplit_once('/').map_or("", |(g, _)| g);
    !group.contains('.') || group.ends_with(".k8s.io")
}

/// Serializes `v` in the API server's key order.
pub fn to_vec(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write(&mut out, v, false);
    out
}

/// A watch event line's JSON (`{"type":…,"object":…}`, in that order as Go writes it).
pub fn watch_event(ty: &str, object: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"type\":");
    write(&mut out, &Value::String(ty.to_string()), false);
    out.extend_from_slice(b",\"object\":");
    write(&mut out, object, false);
    out.push(b'}');
    out
}

fn write(out: &mut Vec<u8>, v: &Value, builtin_meta: bool) {
    let Value::Object(m) = v else {
        if let Value::Array(items) = v {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(out, item, false);
            }
            out.push(b']');
        } else {
            out.extend_from_slice(&serde_json::to_vec(v).unwrap_or_default());
        }
        return;
    };
    let builtin = is_builtin(m);
    let first: Vec<&str> = if builtin {
        let kind = m.get("kind").and_then(Value::as_str).unwrap_or_default();
        ["kind", "apiVersion", "metadata"]
            .into_iter()
            .chain(kind_order(kind).iter().copied())
            .collect()
    } else if builtin_meta {
        META_ORDER.to_vec()
    } else {
        Vec::new()
    };
    let keys = first
        .iter()
        .copied()
        .filter(|k| m.contains_key(*k))
        .chain(m.keys().map(String::as_str).filter(|k| !first.contains(k)));
    out.push(b'{');
    for (i, key) in keys.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&serde_json::to_vec(key).unwrap_or_default());
        out.push(b':');
        write(out, &m[key], builtin && key == "metadata");
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(v: &Value) -> String {
        String::from_utf8(to_vec(v)).unwrap()
    }

    #[test]
    fn built_ins_start_with_kind_api_version_and_metadata_in_struct_order() {
        let cm = json!({"apiVersion": "v1", "data": {"b": "2", "a": "1"}, "kind": "ConfigMap",
            "metadata": {"uid": "u", "name": "n", "namespace": "d", "labels": {"z": "1", "a": "2"}}});
        assert_eq!(
            s(&cm),
            r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"n","namespace":"d","uid":"u","labels":{"a":"2","z":"1"}},"data":{"a":"1","b":"2"}}"#
        );
        let status = json!({"apiVersion": "v1", "code": 404, "kind": "Status", "message": "m",
            "metadata": {}, "reason": "NotFound", "status": "Failure"});
        assert_eq!(
            s(&status),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"m","reason":"NotFound","code":404}"#
        );
        let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {}, "spec": {}});
        assert!(s(&lease).starts_with(r#"{"kind":"Lease","apiVersion":"coordination.k8s.io/v1""#));
    }

    #[test]
    fn custom_resources_keep_sorted_keys_and_lists_order_their_items() {
        let vm = json!({"apiVersion": "nno.app/v1alpha1", "kind": "VirtualMachine",
            "metadata": {"uid": "u", "name": "n"}, "spec": {}});
        assert_eq!(
            s(&vm),
            r#"{"apiVersion":"nno.app/v1alpha1","kind":"VirtualMachine","metadata":{"name":"n","uid":"u"},"spec":{}}"#
        );
        let list = json!({"apiVersion": "v1", "items": [{"apiVersion": "v1", "kind": "Secret",
            "metadata": {}, "type": "Opaque"}], "kind": "SecretList", "metadata": {"resourceVersion": "5", "continue": "c"}});
        assert_eq!(
            s(&list),
            r#"{"kind":"SecretList","apiVersion":"v1","metadata":{"resourceVersion":"5","continue":"c"},"items":[{"kind":"Secret","apiVersion":"v1","metadata":{},"type":"Opaque"}]}"#
        );
        assert_eq!(
            String::from_utf8(watch_event("ADDED", &json!({"a": 1}))).unwrap(),
            r#"{"type":"ADDED","object":{"a":1}}"#
        );
    }
}
