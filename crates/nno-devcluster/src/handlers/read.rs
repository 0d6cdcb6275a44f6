//! GET of one object and LIST (selectors, `limit`/`continue`, `resourceVersion` semantics), as JSON
//! or as a `meta.k8s.io/v1 Table`.

use super::{App, Req, ok};
use crate::schema;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::{ApiError, ApiResult};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use serde_json::{Value, json};
use std::sync::Arc;

/// Label + field selector of a request.
pub struct Filter {
    labels: LabelSelector,
    fields: FieldSelector,
    ns: Option<String>,
}

impl Filter {
    pub fn from_req(req: &Req) -> ApiResult<Self> {
        let labels = LabelSelector::parse(req.query.get("labelSelector").unwrap_or_default())
            .map_err(|e| ApiError::bad_request(format!("unable to parse labelSelector: {e}")))?;
        let mut raw = req
            .query
            .get("fieldSelector")
            .unwrap_or_default()
            .to_string();
        if req.alias.is_some() {
            raw = raw.replace("regarding.", "involvedObject.");
        }
        let fields = FieldSelector::parse(&raw, &req.res.kind)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok(Self {
            labels,
            fields,
            ns: req.ns.clone(),
        })
    }

    pub fn matches(&self, obj: &Value) -> bool {
        let null = Value::Null;
        let labels = obj["metadata"].get("labels").unwrap_or(&null);
        self.ns
            .as_deref()
            .is_none_or(|ns| obj["metadata"]["namespace"].as_str() == Some(ns))
            && self.labels.matches(labels)
            && self.fields.matches(obj)
    }
}

/// `includeObject` of a Table request.
fn include_object(req: &Req) -> schema::IncludeObject {
    match req.query.get("includeObject") {
        Some("None") => schema::IncludeObject::None,
        Some("Object") => schema::IncludeObject::Object,
        _ => schema::IncludeObject::Metadata,
    }
}

fn columns(req: &Req) -> Vec<schema::PrinterColumn> {
    let (res, version) = match &req.alias {
        Some(a) => (a, a.storage_version()),
        None => (&req.res, req.version.as_str()),
    };
    let cols: Vec<schema::PrinterColumn> = res
        .version(version)
        .map(|v| {
            v.columns
                .iter()
                .filter_map(schema::PrinterColumn::from_crd)
                .collect()
        })
        .unwrap_or_default();
    if cols.is_empty() {
        schema::default_columns()
    } else {
        cols
    }
}

/// Renders objects as a Table.
pub fn table(req: &Req, objs: &[Value]) -> Value {
    if req.res.kind != "Event" || req.alias.is_some() {
        return schema::render_table(&columns(req), objs, include_object(req));
    }
    // Like the API server's event printer: LAST SEEN falls back to eventTime (events.k8s.io writers such as
    // kube-rs' Recorder set only that) and OBJECT reads kind/name.
    let shown: Vec<Value> = objs.iter().map(crate::events::for_table).collect();
    let mut t = schema::render_table(&columns(req), &shown, include_object(req));
    if include_object(req) == schema::IncludeObject::Object
        && let Some(rows) = t["rows"].as_array_mut()
    {
        for (row, obj) in rows.iter_mut().zip(objs) {
            row["object"] = obj.clone();
        }
    }
    t
}

/// GET of one object (also `/status`).
pub fn get(app: &App, req: &Req) -> ApiResult<Response> {
    let obj = app
        .store
        .get(&req.res.storage_key(), req.ns_key(), req.name())
        .ok_or_else(|| ApiError::not_found(req.target()))?;
    if req.wants_table() {
        let obj = req.present(&obj);
        let mut t = table(req, std::slice::from_ref(&obj));
        t["metadata"] = json!({"resourceVersion": obj["metadata"]["resourceVersion"]});
        return Ok(ok(StatusCode::OK, &t));
    }
    Ok(ok(StatusCode::OK, &req.render(&obj)))
}

fn encode_continue(rv: u64, last: &Value) -> String {
    let tok =
        json!({"rv": rv, "ns": last["metadata"]["namespace"], "name": last["metadata"]["name"]});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tok.to_string())
}

fn decode_continue(tok: &str) -> ApiResult<(u64, (String, String))> {
    let bad = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(tok)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rv = v["rv"].as_u64().ok_or_else(bad)?;
    let ns = v["ns"].as_str().unwrap_or_default().to_string();
    let name = v["name"].as_str().ok_or_else(bad)?.to_string();
    Ok((rv, (ns, name)))
}

/// LIST.
pub fn list(app: &App, req: &Req) -> ApiResult<Response> {
    let filter = Filter::from_req(req)?;
    let limit = req
        .query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let mut after = None;
    let mut token_rv = None;
    if let Some(tok) = req.query.get("continue").filter(|t| !t.is_empty()) {
        let (rv, key) = decode_continue(tok)?;
        if rv < app.store.compacted_rv() {
            return Err(ApiError::gone(
                "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
            ));
        }
        after = Some(key);
        token_rv = Some(rv);
    } else if let (Some("Exact"), Some(rv)) = (
        req.query.get("resourceVersionMatch"),
        req.query
            .get("resourceVersion")
            .and_then(|r| r.parse::<u64>().ok()),
    ) && rv != app.store.current_rv()
    {
        return Err(ApiError::gone(format!(
            "too old resource version: {rv} ({})",
            app.store.current_rv()
        )));
    }
    let (items, rv, more) = app.store.list(
        &req.res.storage_key(),
        req.ns.as_deref(),
        after.as_ref(),
        limit,
        &|o| filter.matches(o),
    );
    let list_rv = token_rv.unwrap_or(rv);
    let items: Vec<Value> = items.iter().map(|o| req.present(o)).collect();
    let (list_kind, list_av) = if req.wants_metadata() {
        (
            "PartialObjectMetadataList".to_string(),
            "meta.k8s.io/v1".to_string(),
        )
    } else {
        (req.res.list_kind.clone(), req.wire_api_version())
    };
    let mut meta = json!({"resourceVersion": list_rv.to_string()});
    if more && let Some(last) = items.last() {
        meta["continue"] = json!(encode_continue(list_rv, last));
    }
    if req.wants_table() {
        let mut t = table(req, &items);
        t["metadata"] = meta;
        return Ok(ok(StatusCode::OK, &t));
    }
    let items: Vec<Value> = if req.wants_metadata() {
        items.iter().map(|o| req.render(o)).collect()
    } else {
        items
    };
    let body = json!({
        "kind": list_kind,
        "apiVersion": list_av,
        "metadata": meta,
        "items": items,
    });
    Ok(ok(StatusCode::OK, &body))
}

/// Objects of the request's resource matching its selectors (no paging).
pub fn matching(app: &App, req: &Req) -> ApiResult<Vec<Arc<Value>>> {
    let filter = Filter::from_req(req)?;
    Ok(app
        .store
        .list(
            &req.res.storage_key(),
            req.ns.as_deref(),
            None,
            None,
            &|o| filter.matches(o),
        )
        .0)
}
