//! DELETE and DELETECOLLECTION: preconditions, propagation policies (the garbage collector finishes
//! Foreground/Orphan and namespace termination), finalizers and `deletionTimestamp`, and the clean-up
//! when a CRD goes.

use super::read::matching;
use super::{App, Req, ok};
use crate::objects::{finalizers, is_deleting, now_ts, set_finalizers, with_meta};
use crate::registry::{ResourceInfo, from_crd};
use crate::status::{ApiError, ApiResult, Target, success_status};
use crate::store::{StoreError, rv_of};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;

/// How dependents are treated when their owner is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

/// Parsed DeleteOptions.
#[derive(Debug, Clone)]
pub struct DeleteOpts {
    pub propagation: Propagation,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    pub dry_run: bool,
    /// The client sent `orphanDependents: false` (legacy cascading deletion): a deletion that
    /// is still pending answers 202 instead of 200, as the API server does.
    pub legacy_cascade: bool,
}

impl Default for DeleteOpts {
    fn default() -> Self {
        Self {
            propagation: Propagation::Background,
            uid: None,
            resource_version: None,
            dry_run: false,
            legacy_cascade: false,
        }
    }
}

fn parse_opts(req: &Req, body: &[u8]) -> ApiResult<DeleteOpts> {
    let b: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?
    };
    let policy = b["propagationPolicy"]
        .as_str()
        .or_else(|| req.query.get("propagationPolicy"))
        .or_else(|| (b["orphanDependents"].as_bool() == Some(true)).then_some("Orphan"));
    let propagation = match policy {
        None | Some("Background") => Propagation::Background,
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
    };
    let dry_run = req.query.dry_run()
        || b["dryRun"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == "All"));
    Ok(DeleteOpts {
        propagation,
        uid: b["preconditions"]["uid"].as_str().map(String::from),
        resource_version: b["preconditions"]["resourceVersion"]
            .as_str()
            .map(String::from),
        dry_run,
        legacy_cascade: b["orphanDependents"].as_bool() == Some(false)
            || req.query.get("orphanDependents") == Some("false"),
    })
}

const PROTECTED_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];

/// Deletes (or starts deleting) one object. Returns the object and whether it is gone.
pub fn delete_object(
    app: &App,
    res: &ResourceInfo,
    ns: &str,
    name: &str,
    opts: &DeleteOpts,
) -> ApiResult<(Arc<Value>, bool)> {
    let key = res.storage_key();
    let t = || Target {
        group: &res.group,
        plural: &res.plural,
        name,
    };
    for _ in 0..8 {
        let obj = app
            .store
            .get(&key, ns, name)
            .ok_or_else(|| ApiError::not_found(t()))?;
        if let Some(uid) = &opts.uid
            && obj["metadata"]["uid"].as_str() != Some(uid)
        {
            return Err(ApiError::conflict(
                t(),
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    obj["metadata"]["uid"].as_str().unwrap_or_default()
                ),
            ));
        }
        if let Some(rv) = &opts.resource_version
            && obj["metadata"]["resourceVersion"].as_str() != Some(rv)
        {
            return Err(ApiError::conflict(
                t(),
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    obj["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap_or_default()
                ),
            ));
        }
        if res.kind == "Namespace" && PROTECTED_NAMESPACES.contains(&name) {
            return Err(ApiError::forbidden(format!(
                "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
            )));
        }
        if opts.dry_run {
            return Ok((obj, false));
        }
        let mut fins = finalizers(&obj);
        let extra = match opts.propagation {
            Propagation::Foreground => Some("foregroundDeletion"),
            Propagation::Orphan => Some("orphan"),
            Propagation::Background => None,
        };
        if let Some(f) = extra
            && !fins.iter().any(|x| x == f)
        {
            fins.push(f.to_string());
        }
        let keep = !fins.is_empty() || res.kind == "Namespace";
        if !keep {
            match app.store.delete(&key, ns, name, Some(rv_of(&obj))) {
                Ok(gone) => {
                    after_removal(app, res, &gone);
                    return Ok((gone, true));
                }
                Err(StoreError::Conflict) => continue,
                Err(StoreError::NotFound) => return Err(ApiError::not_found(t())),
                Err(e) => return Err(ApiError::internal(e.to_string())),
            }
        }
        if is_deleting(&obj) && fins == finalizers(&obj) {
            return Ok((obj, false));
        }
        let mut next = obj.as_ref().clone();
        set_finalizers(&mut next, fins);
        if !is_deleting(&next) {
            with_meta(&mut next, |m| {
                m.insert("deletionTimestamp".into(), json!(now_ts()));
                m.insert("deletionGracePeriodSeconds".into(), json!(0));
            });
        }
        if res.kind == "Namespace" {
            next["status"] = json!({"phase": "Terminating"});
        }
        match app.store.update(&key, next, rv_of(&obj)) {
            Ok(stored) => return Ok((stored, false)),
            Err(StoreError::Conflict) => continue,
            Err(StoreError::NotFound) => return Err(ApiError::not_found(t())),
            Err(e) => return Err(ApiError::internal(e.to_string())),
        }
    }
    Err(ApiError::stale(t()))
}

/// Clean-up after an object is gone for good: a deleted CRD takes its kind and objects with it.
pub fn after_removal(app: &App, res: &ResourceInfo, gone: &Value) {
    if res.kind != "CustomResourceDefinition" || !res.builtin {
        return;
    }
    let Ok(info) = from_crd(gone) else { return };
    let key = info.storage_key();
    app.registry.unregister(&key);
    let (objs, _, _) = app.store.list(&key, None, None, None, &|_| true);
    for o in objs {
        let (ns, name) = crate::store::obj_key(&o);
        if let Err(e) = app.store.delete(&key, &ns, &name, None) {
            tracing::warn!(%key, %name, error = %e, "removing an object of a deleted CRD failed");
        }
    }
}

/// DELETE of one object.
pub fn delete(app: &App, req: &Req, body: &[u8]) -> ApiResult<Response> {
    if req.sub.is_some() {
        return Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        ));
    }
    let opts = parse_opts(req, body)?;
    let (obj, gone) = delete_object(app, &req.res, req.ns_key(), req.name(), &opts)?;
    if gone && req.res.builtin && req.res.kind != "CustomResourceDefinition" {
        let details =
            json!({"name": req.name(), "kind": req.res.plural, "uid": obj["metadata"]["uid"]});
        return Ok(ok(StatusCode::OK, &success_status(details)));
    }
    let code = if !gone && !opts.dry_run && opts.legacy_cascade {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok(ok(code, &req.render(&obj)))
}

/// DELETE on a collection (honours selectors).
pub fn delete_collection(app: &App, req: &Req, body: &[u8]) -> ApiResult<Response> {
    let opts = parse_opts(req, body)?;
    let mut items = Vec::new();
    for o in matching(app, req)? {
        let (ns, name) = crate::store::obj_key(&o);
        match delete_object(app, &req.res, &ns, &name, &opts) {
            Ok((obj, _)) => items.push(req.present(&obj)),
            Err(e) if e.code == 404 => {}
            Err(e) if e.code == 403 => {}
            Err(e) => return Err(e),
        }
    }
    let body = json!({
        "kind": req.res.list_kind,
        "apiVersion": req.wire_api_version(),
        "metadata": {"resourceVersion": app.store.current_rv().to_string()},
        "items": items,
    });
    Ok(ok(StatusCode::OK, &body))
}
