//! POST, PUT and PATCH: body decoding, kind/namespace/name checks, status subresource isolation,
//! finalizer rules, schema checks, managedFields, optimistic concurrency and `dryRun`.

use super::delete::after_removal;
use super::{App, Req, ok};
use crate::apply::{self, Scope};
use crate::objects::{self, finalizers, is_deleting};
use crate::patch::{self, PatchType};
use crate::registry::from_crd;
use crate::status::{ApiError, ApiResult, Cause, Target};
use crate::store::{StoreError, rv_of};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;

fn content_type(h: &HeaderMap) -> &str {
    h.get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
}

/// Decodes a JSON or YAML body.
pub fn decode(ct: &str, body: &[u8]) -> ApiResult<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    if ct.contains("yaml") {
        serde_yaml::from_slice::<Value>(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
    } else {
        serde_json::from_slice::<Value>(body).map_err(|e| {
            ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        })
    }
}

fn decode_object(req: &Req, body: &[u8]) -> ApiResult<Value> {
    let ct = content_type(&req.headers);
    let v = if ct.contains("protobuf") {
        crate::protobuf::decode(body).map_err(|e| match e {
            crate::protobuf::ProtoError::Unsupported(_) => {
                ApiError::unsupported_media(e.to_string())
            }
            _ => ApiError::bad_request(e.to_string()),
        })?
    } else {
        decode(ct, body)?
    };
    if !v.is_object() {
        return Err(ApiError::bad_request(format!(
            "couldn't get version/kind; the request body is not an object: {}",
            truncate(&v.to_string())
        )));
    }
    check_kind(req, &v)?;
    Ok(req.to_storage(v))
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Rejects a body whose apiVersion/kind do not belong at this URL.
fn check_kind(req: &Req, v: &Value) -> ApiResult<()> {
    let want_av = req.wire_api_version();
    if let Some(av) = v["apiVersion"].as_str()
        && av != want_av
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({av}) does not match the expected API version ({want_av})"
        )));
    }
    if let Some(kind) = v["kind"].as_str()
        && kind != req.res.kind
    {
        return Err(ApiError::bad_request(format!(
            "{kind} in version \"{}\" cannot be handled as a {}: the kind in the data does not match the resource {}",
            req.version,
            req.res.kind,
            req.res.qualified()
        )));
    }
    let body_ns = v["metadata"]["namespace"].as_str().unwrap_or_default();
    if req.res.namespaced
        && !body_ns.is_empty()
        && req.ns.as_deref().is_some_and(|ns| ns != body_ns)
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    Ok(())
}

fn scope(req: &Req) -> Scope {
    if req.sub.as_deref() == Some("status") {
        Scope::Status
    } else if req.res.status_subresource {
        Scope::Main
    } else {
        Scope::All
    }
}

fn store_err(req: &Req, name: &str, e: StoreError) -> ApiError {
    let t = Target {
        group: &req.res.group,
        plural: &req.res.plural,
        name,
    };
    match e {
        StoreError::AlreadyExists => ApiError::already_exists(t),
        StoreError::NotFound => ApiError::not_found(t),
        StoreError::Conflict => ApiError::stale(t),
        other => ApiError::internal(other.to_string()),
    }
}

fn check_namespace(app: &App, req: &Req) -> ApiResult<()> {
    if !req.res.namespaced {
        return Ok(());
    }
    let ns = req.ns_key();
    match app.store.get("/namespaces", "", ns) {
        None => Err(ApiError::not_found(Target {
            group: "",
            plural: "namespaces",
            name: ns,
        })),
        Some(n) if is_deleting(&n) => Err(ApiError::forbidden(format!(
            "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
            req.res.qualified(),
            objects::name_of(&n)
        ))),
        Some(_) => Ok(()),
    }
}

fn strict(req: &Req) -> bool {
    req.query.get("fieldValidation") == Some("Strict")
}

/// Outcome of a write: the object, the HTTP code, and fields pruned as unknown (for Warning headers).
struct Written {
    obj: Value,
    code: StatusCode,
    pruned: Vec<String>,
}

fn respond(req: &Req, w: Written) -> Response {
    let mut resp = ok(w.code, &req.render(&w.obj));
    if req.query.get("fieldValidation") != Some("Ignore") {
        for f in &w.pruned {
            let text = crate::schema::unknown_field_warning(f).replace('"', "\\\"");
            if let Ok(v) = axum::http::HeaderValue::from_str(&format!("299 - \"{text}\"")) {
                resp.headers_mut().append(header::WARNING, v);
            }
        }
    }
    resp
}

/// Runs the shared write pipeline and stores the result. `ssa` = managedFields already computed.
fn commit(
    app: &App,
    req: &Req,
    old: Option<Arc<Value>>,
    mut new: Value,
    ssa: bool,
) -> ApiResult<Written> {
    let res = &req.res;
    let key = res.storage_key();
    let scope = scope(req);
    let av = res.api_version(&req.version);
    let manager = req.manager();
    let storage_version = res.storage_version().to_string();
    let mut warnings = Vec::new();
    let Some(old) = old else {
        objects::init_create(res, &mut new, req.ns_key())?;
        if res.status_subresource
            && !res.builtin
            && let Some(m) = new.as_object_mut()
        {
            m.remove("status");
        }
        check_namespace(app, req)?;
        objects::normalize_builtin(res, &mut new)?;
        if !res.builtin {
            warnings = objects::check_custom(res, &storage_version, &mut new, None, strict(req))?;
        }
        if !ssa {
            apply::record_update(None, &mut new, &manager, scope, &av);
        }
        if req.query.dry_run() {
            return Ok(Written {
                obj: new,
                code: StatusCode::CREATED,
                pruned: warnings,
            });
        }
        let name = objects::name_of(&new).to_string();
        let stored = app
            .store
            .create(&key, new)
            .map_err(|e| store_err(req, &name, e))?;
        after_write(app, req, &stored);
        return Ok(Written {
            obj: stored.as_ref().clone(),
            code: StatusCode::CREATED,
            pruned: warnings,
        });
    };
    match scope {
        Scope::Status => {
            let mut merged = old.as_ref().clone();
            match new.get("status") {
                Some(s) => merged["status"] = s.clone(),
                None => {
                    if let Some(m) = merged.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
            if ssa {
                merged["metadata"]["managedFields"] = new["metadata"]["managedFields"].clone();
            }
            new = merged;
        }
        Scope::Main => match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(m) = new.as_object_mut() {
                    m.remove("status");
                }
            }
        },
        Scope::All => {}
    }
    objects::carry_identity(res, &old, &mut new);
    if is_deleting(&old) {
        let before = finalizers(&old);
        let added: Vec<String> = finalizers(&new)
            .into_iter()
            .filter(|f| !before.contains(f))
            .collect();
        if !added.is_empty() {
            let name = objects::name_of(&old).to_string();
            return Err(ApiError::invalid(
                &res.kind,
                &res.group,
                &name,
                format!(
                    "{} \"{name}\" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}",
                    res.kind
                ),
                vec![],
            ));
        }
    }
    objects::normalize_builtin(res, &mut new)?;
    if !res.builtin {
        warnings = objects::check_custom(res, &storage_version, &mut new, Some(&old), strict(req))?;
    }
    objects::bump_generation(res, &old, &mut new);
    if !ssa {
        apply::record_update(Some(&old), &mut new, &manager, scope, &av);
    }
    if objects::same_object(&old, &new) {
        return Ok(Written {
            obj: old.as_ref().clone(),
            code: StatusCode::OK,
            pruned: warnings,
        });
    }
    if req.query.dry_run() {
        return Ok(Written {
            obj: new,
            code: StatusCode::OK,
            pruned: warnings,
        });
    }
    let name = objects::name_of(&old).to_string();
    if is_deleting(&new) && finalizers(&new).is_empty() && res.kind != "Namespace" {
        let gone = app
            .store
            .delete(&key, req.ns_key(), &name, Some(rv_of(&old)))
            .map_err(|e| store_err(req, &name, e))?;
        after_removal(app, res, &gone);
        return Ok(Written {
            obj: gone.as_ref().clone(),
            code: StatusCode::OK,
            pruned: warnings,
        });
    }
    let stored = app
        .store
        .update(&key, new, rv_of(&old))
        .map_err(|e| store_err(req, &name, e))?;
    after_write(app, req, &stored);
    Ok(Written {
        obj: stored.as_ref().clone(),
        code: StatusCode::OK,
        pruned: warnings,
    })
}

fn after_write(app: &App, req: &Req, stored: &Value) {
    if req.res.kind == "CustomResourceDefinition"
        && req.res.builtin
        && let Ok(info) = from_crd(stored)
    {
        app.registry.register(info);
    }
}

/// POST on a collection.
pub fn create(app: &App, req: &Req, body: &[u8]) -> ApiResult<Response> {
    let obj = decode_object(req, body)?;
    Ok(respond(req, commit(app, req, None, obj, false)?))
}

/// PUT of one object (main or `/status`).
pub fn update(app: &App, req: &Req, body: &[u8]) -> ApiResult<Response> {
    let obj = decode_object(req, body)?;
    let body_name = obj["metadata"]["name"].as_str().unwrap_or_default();
    if body_name != req.name() {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({})",
            req.name()
        )));
    }
    let old = app
        .store
        .get(&req.res.storage_key(), req.ns_key(), req.name())
        .ok_or_else(|| ApiError::not_found(req.target()))?;
    let want = rv_of(&obj);
    if want != 0 && want != rv_of(&old) {
        return Err(ApiError::stale(req.target()));
    }
    Ok(respond(req, commit(app, req, Some(old), obj, false)?))
}

/// PATCH of one object (main or `/status`), retried on write races like the real server.
pub fn patch(app: &App, req: &Req, body: &[u8]) -> ApiResult<Response> {
    let ct = content_type(&req.headers);
    let ptype = PatchType::from_content_type(ct).ok_or_else(|| {
        ApiError::unsupported_media(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {ct})"
        ))
    })?;
    if ptype == PatchType::Strategic && !req.res.builtin {
        return Err(ApiError::unsupported_media(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
        ));
    }
    let body_v = decode(
        if ptype == PatchType::Apply {
            "yaml"
        } else {
            "json"
        },
        body,
    )?;
    if ptype == PatchType::Apply {
        check_kind(req, &body_v)?;
        if req.query.get("fieldManager").is_none_or(str::is_empty) {
            return Err(ApiError::invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".into(),
                vec![Cause {
                    reason: "FieldValueRequired".into(),
                    message: "Required value: is required for apply patch".into(),
                    field: "fieldManager".into(),
                }],
            ));
        }
    }
    let mut last_err = None;
    for _ in 0..8 {
        match patch_once(app, req, ptype, &body_v) {
            Err(e)
                if e.reason == "Conflict"
                    && e.details.as_ref().is_some_and(|d| d.get("retry").is_some()) =>
            {
                last_err = Some(e);
            }
            other => return other,
        }
    }
    Err(last_err.unwrap_or_else(|| ApiError::stale(req.target())))
}

/// 409 for a server-side apply conflict: no object details, one cause per field.
fn apply_conflict(c: apply::Conflicts) -> ApiError {
    let mut e = ApiError::new(409, "Conflict", c.to_string());
    e.details = Some(json!({"causes": c.causes()}));
    e
}

fn patch_once(app: &App, req: &Req, ptype: PatchType, body: &Value) -> ApiResult<Response> {
    let old = app
        .store
        .get(&req.res.storage_key(), req.ns_key(), req.name());
    let force = req.query.flag("force");
    let av = req.res.api_version(&req.version);
    let manager = req.manager();
    let scope = scope(req);
    let Some(old) = old else {
        if ptype != PatchType::Apply || req.sub.is_some() {
            return Err(ApiError::not_found(req.target()));
        }
        let mut applied = body.clone();
        applied["metadata"]["name"] = json!(req.name());
        let created = apply::server_side_apply(None, &applied, &manager, force, scope, &av)
            .map_err(apply_conflict)?;
        return Ok(respond(req, commit(app, req, None, created, true)?));
    };
    let current = req.present(&old);
    let patched = match ptype {
        PatchType::Json => patch::json_patch(&current, body).map_err(|e| match e {
            patch::PatchError::Malformed(m) => ApiError::bad_request(m),
            patch::PatchError::Apply(m) => ApiError::invalid(
                &req.res.kind,
                &req.res.group,
                req.name(),
                format!("the server rejected our request due to an error in our request: {m}"),
                vec![],
            ),
        })?,
        PatchType::Merge => patch::merge_patch(&current, body),
        PatchType::Strategic => patch::strategic_merge(&current, body),
        PatchType::Apply => {
            if let Some(n) = body["metadata"]["name"].as_str()
                && n != req.name()
            {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({})",
                    req.name()
                )));
            }
            apply::server_side_apply(Some(&current), body, &manager, force, scope, &av)
                .map_err(apply_conflict)?
        }
    };
    let patched = req.to_storage(patched);
    if !patched.is_object() {
        return Err(ApiError::bad_request(
            "the patch produced something that is not an object",
        ));
    }
    let explicit = rv_of(&patched);
    if explicit != 0 && explicit != rv_of(&old) {
        return Err(ApiError::stale(req.target()));
    }
    let had_rv = match ptype {
        PatchType::Json => body.to_string().contains("/metadata/resourceVersion"),
        _ => body["metadata"].get("resourceVersion").is_some(),
    };
    match commit(app, req, Some(old), patched, ptype == PatchType::Apply) {
        Ok(w) => Ok(respond(req, w)),
        Err(mut e)
            if e.reason == "Conflict" && !had_rv && e.message.contains("has been modified") =>
        {
            e.details = Some(json!({"retry": true}));
            Err(e)
        }
        Err(e) => Err(e),
    }
}
