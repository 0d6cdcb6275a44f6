//! `x-kubernetes-list-type` invariants (`structurallisttype.ValidateListSetsAndMaps`): no duplicate
//! items in a `set`, no two items with the same key fields in a `map`.

use serde_json::{Map, Value};

use super::errors::{FieldError, FieldErrorKind};

const MAX_DEPTH: usize = 64;

/// Duplicate-value errors of every `set` and `map` list in `obj`.
pub fn validate_list_types(schema: &Value, obj: &Value) -> Vec<FieldError> {
    let mut out = Vec::new();
    walk(schema, obj, "", &mut out, 0);
    out
}

fn walk(schema: &Value, value: &Value, path: &str, out: &mut Vec<FieldError>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (k, v) in map {
                if let Some(s) = props.and_then(|p| p.get(k)).or(additional) {
                    let child = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(s, v, &child, out, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("set") => {
                    for (i, item) in items.iter().enumerate() {
                        if items[..i].contains(item) {
                            out.push(FieldError::new(
                                FieldErrorKind::Duplicate,
                                format!("{path}[{i}]"),
                                Some(item.clone()),
                                "",
                            ));
                        }
                    }
                }
                Some("map") => {
                    let keys: Vec<&str> = schema
                        .get("x-kubernetes-list-map-keys")
                        .and_then(Value::as_array)
                        .map(|k| k.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    let key_of = |item: &Value| -> Map<String, Value> {
                        keys.iter()
                            .filter_map(|k| item.get(*k).map(|v| ((*k).to_string(), v.clone())))
                            .collect()
                    };
                    let all: Vec<Map<String, Value>> = items.iter().map(key_of).collect();
                    for (i, key) in all.iter().enumerate() {
                        if all[..i].contains(key) {
                            out.push(FieldError::new(
                                FieldErrorKind::Duplicate,
                                format!("{path}[{i}]"),
                                Some(Value::Object(key.clone())),
                                "",
                            ));
                        }
                    }
                }
                _ => {}
            }
            if let Some(s) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk(s, item, &format!("{path}[{i}]"), out, depth + 1);
                }
            }
        }
        _ => {}
    }
}
