//! Object semantics shared by every write: metadata on create, identity carried over on update,
//! generation rules, name validation, built-in normalisation (Secret stringData, Namespace phase, CRD
//! status) and custom-resource schema checks (pruning, defaults, validation).

use crate::registry::{ResourceInfo, from_crd};
use crate::schema;
use crate::status::{ApiError, ApiResult, Cause};
use base64::Engine;
use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};

/// Current time as the API server formats it.
pub fn now_ts() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Runs `f` on the object's metadata map (created when absent).
pub fn with_meta<R>(
    obj: &mut Value,
    f: impl FnOnce(&mut serde_json::Map<String, Value>) -> R,
) -> R {
    let mut m = obj
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .map(std::mem::take)
        .unwrap_or_default();
    let r = f(&mut m);
    if let Some(o) = obj.as_object_mut() {
        o.insert("metadata".into(), Value::Object(m));
    }
    r
}

pub fn name_of(obj: &Value) -> &str {
    obj["metadata"]["name"].as_str().unwrap_or_default()
}

pub fn is_deleting(obj: &Value) -> bool {
    obj["metadata"]
        .get("deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

pub fn finalizers(obj: &Value) -> Vec<String> {
    obj["metadata"]["finalizers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

pub fn set_finalizers(obj: &mut Value, f: Vec<String>) {
    with_meta(obj, |m| {
        if f.is_empty() {
            m.remove("finalizers");
        } else {
            m.insert("finalizers".into(), json!(f));
        }
    });
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

fn invalid(res: &ResourceInfo, name: &str, field: &str, detail: String, reason: &str) -> ApiError {
    ApiError::invalid(
        &res.kind,
        &res.group,
        name,
        format!("{} \"{name}\" is invalid: {field}: {detail}", res.kind),
        vec![Cause {
            reason: reason.into(),
            message: detail,
            field: field.into(),
        }],
    )
}

/// Checks `metadata.name` (and generateName) like the API server.
pub fn validate_name(res: &ResourceInfo, name: &str) -> ApiResult<()> {
    if name.is_empty() {
        return Err(invalid(
            res,
            name,
            "metadata.name",
            "Required value: name or generateName is required".into(),
            "FieldValueRequired",
        ));
    }
    let ok = if res.kind == "Namespace" {
        is_dns_label(name)
    } else {
        is_dns_subdomain(name)
    };
    if !ok {
        let what = if res.kind == "Namespace" {
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        } else {
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        };
        return Err(invalid(
            res,
            name,
            "metadata.name",
            format!("Invalid value: \"{name}\": {what}"),
            "FieldValueInvalid",
        ));
    }
    Ok(())
}

/// Fills name (from generateName), uid, creationTimestamp, generation; clears server-owned fields.
pub fn init_create(res: &ResourceInfo, obj: &mut Value, ns: &str) -> ApiResult<()> {
    let storage_av = res.api_version(res.storage_version());
    obj["apiVersion"] = json!(storage_av);
    obj["kind"] = json!(res.kind);
    with_meta(obj, |m| {
        let has_name = m
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        if !has_name && let Some(prefix) = m.get("generateName").and_then(Value::as_str) {
            let suffix: String = uuid::Uuid::new_v4().simple().to_string()[..5].to_string();
            m.insert("name".into(), json!(format!("{prefix}{suffix}")));
        }
        if res.namespaced {
            m.insert("namespace".into(), json!(ns));
        } else {
            m.remove("namespace");
        }
        m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        m.insert("creationTimestamp".into(), json!(now_ts()));
        for k in [
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "resourceVersion",
            "selfLink",
        ] {
            m.remove(k);
        }
        if res.builtin && res.kind != "CustomResourceDefinition" {
            m.remove("generation");
        } else {
            m.insert("generation".into(), json!(1));
        }
    });
    let name = name_of(obj).to_string();
    validate_name(res, &name)
}

/// Copies what a client may not change from `old` into `new`.
pub fn carry_identity(res: &ResourceInfo, old: &Value, new: &mut Value) {
    new["apiVersion"] = json!(res.api_version(res.storage_version()));
    new["kind"] = json!(res.kind);
    let om = old["metadata"].clone();
    with_meta(new, |m| {
        for k in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "generateName",
        ] {
            match om.get(k) {
                Some(v) => {
                    m.insert(k.into(), v.clone());
                }
                None => {
                    m.remove(k);
                }
            }
        }
    });
}

fn without(obj: &Value, keys: &[&str]) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        for k in keys {
            m.remove(*k);
        }
    }
    o
}

/// Bumps `metadata.generation` when anything outside metadata (and status, with a status
/// subresource) changed.
pub fn bump_generation(res: &ResourceInfo, old: &Value, new: &mut Value) {
    if res.builtin && res.kind != "CustomResourceDefinition" {
        return;
    }
    let skip: &[&str] = if res.status_subresource {
        &["metadata", "status", "apiVersion", "kind"]
    } else {
        &["metadata", "apiVersion", "kind"]
    };
    let gen_old = old["metadata"]["generation"].as_i64().unwrap_or(1);
    let next = if without(old, skip) != without(new, skip) {
        gen_old + 1
    } else {
        gen_old
    };
    with_meta(new, |m| m.insert("generation".into(), json!(next)));
}

/// True when `a` and `b` differ only in resourceVersion and managedFields.
pub fn same_object(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
            m.remove("managedFields");
        }
        v
    };
    strip(a) == strip(b)
}

/// Built-in kinds' server-side normalisation.
pub fn normalize_builtin(res: &ResourceInfo, obj: &mut Value) -> ApiResult<()> {
    match (res.group.as_str(), res.kind.as_str()) {
        ("", "Secret") => {
            if let Some(sd) = obj.as_object_mut().and_then(|m| m.remove("stringData"))
                && let Some(sd) = sd.as_object()
            {
                if !obj.get("data").is_some_and(Value::is_object) {
                    obj["data"] = json!({});
                }
                for (k, v) in sd {
                    let raw = v.as_str().unwrap_or_default();
                    let enc = base64::engine::general_purpose::STANDARD.encode(raw);
                    obj["data"][k] = json!(enc);
                }
            }
            if obj.get("type").is_none_or(|t| t.is_null() || t == "") {
                obj["type"] = json!("Opaque");
            }
            if let Some(data) = obj.get("data").and_then(Value::as_object) {
                for (k, v) in data {
                    let ok = v.as_str().is_some_and(|s| {
                        base64::engine::general_purpose::STANDARD.decode(s).is_ok()
                    });
                    if !ok {
                        return Err(ApiError::bad_request(format!(
                            "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at data.{k}"
                        )));
                    }
                }
            }
        }
        ("", "Namespace") => {
            let phase = if is_deleting(obj) {
                "Terminating"
            } else {
                "Active"
            };
            obj["status"] = json!({"phase": phase});
            if obj["spec"]["finalizers"].is_null() {
                obj["spec"] = json!({"finalizers": ["kubernetes"]});
            }
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            let errs: Vec<schema::FieldError> = obj["spec"]["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
                .flat_map(|(i, v)| schema::check_crd_version(i, v))
                .collect();
            if !errs.is_empty() {
                let name = name_of(obj).to_string();
                let message = schema::status_message(
                    "CustomResourceDefinition.apiextensions.k8s.io",
                    &name,
                    &errs,
                );
                let causes = errs
                    .iter()
                    .map(|e| Cause {
                        reason: e.kind.reason().into(),
                        message: e.body(),
                        field: e.path.clone(),
                    })
                    .collect();
                return Err(ApiError::invalid(
                    "CustomResourceDefinition",
                    "apiextensions.k8s.io",
                    &name,
                    message,
                    causes,
                ));
            }
            let info = from_crd(obj).map_err(|e| {
                let name = name_of(obj).to_string();
                ApiError::invalid(
                    "CustomResourceDefinition",
                    "apiextensions.k8s.io",
                    &name,
                    format!(
                        "CustomResourceDefinition.apiextensions.k8s.io \"{name}\" is invalid: {e}"
                    ),
                    vec![],
                )
            })?;
            let mut accepted = obj["spec"]["names"].clone();
            accepted["singular"] = json!(info.singular);
            accepted["listKind"] = json!(info.list_kind);
            let now = now_ts();
            let cond = |t: &str, reason: &str, msg: &str| json!({"type": t, "status": "True", "reason": reason, "message": msg, "lastTransitionTime": now});
            obj["status"] = json!({
                "acceptedNames": accepted,
                "storedVersions": [info.storage_version()],
                "conditions": [
                    cond("NamesAccepted", "NoConflicts", "no conflicts found"),
                    cond("Established", "InitialNamesAccepted", "the initial names have been accepted"),
                ],
            });
        }
        _ => {}
    }
    Ok(())
}

/// Prunes, defaults and validates a custom resource against its version's schema. Returns the
/// pruned field paths (for `fieldValidation`).
pub fn check_custom(
    res: &ResourceInfo,
    version: &str,
    obj: &mut Value,
    old: Option<&Value>,
    strict: bool,
) -> ApiResult<Vec<String>> {
    let Some(compiled) = res.version(version).and_then(|v| v.compiled.clone()) else {
        return Ok(vec![]);
    };
    let pruned = schema::prune_unknown(compiled.schema(), obj);
    if strict && !pruned.is_empty() {
        return Err(ApiError::bad_request(schema::strict_decoding_message(
            &res.kind, version, &pruned,
        )));
    }
    schema::apply_defaults(compiled.schema(), obj);
    if let Err(errs) = compiled.validate(obj, old) {
        let name = name_of(obj).to_string();
        let message = schema::status_message(&res.qualified_kind(), &name, &errs);
        let causes = errs
            .iter()
            .map(|e| Cause {
                reason: e.kind.reason().into(),
                message: e.body(),
                field: e.path.clone(),
            })
            .collect();
        return Err(ApiError::invalid(
            &res.kind, &res.group, &name, message, causes,
        ));
    }
    Ok(pruned)
}
