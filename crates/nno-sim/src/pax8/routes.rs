//! HTTP routes of the Pax8 simulator (`/v2/…` behind the bearer check, `/v1/token` open).
//! Every operation answers 200 as the OpenAPI document says; lists are `PageDTO`s with
//! `page`/`size` query parameters (0-based page, default size 10, at most 200), newest first.

// Handlers return error responses by value straight to axum; boxing them buys nothing.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{Method, StatusCode, Uri};
use serde_json::{Map, Value, json};

use super::model::is_uuid;
use super::provisioners::*;
use super::requests::*;
use super::{Pax8Sim, Pax8State, envelope, token};
use crate::validate::{BodyError, Fields, json_object};

pub(super) type Sim = State<Arc<Pax8Sim>>;
pub(super) type Reply = Result<Response, Response>;

pub fn router(sim: Arc<Pax8Sim>) -> Router {
    let v2 = Router::new()
        .route("/v2/provisioners", get(list_provisioners))
        .route("/v2/provisioners/{provisionerId}", get(get_provisioner))
        .route(
            "/v2/provisioners/{provisionerId}/webhooks",
            get(list_webhooks).post(create_webhook),
        )
        .route(
            "/v2/provisioners/{provisionerId}/webhooks/latest",
            get(latest_webhook),
        )
        .route(
            "/v2/provisioners/{provisionerId}/webhooks/{webhookId}",
            get(get_webhook),
        )
        .route("/v2/provision-simulations/order-events", post(order_event))
        .route("/v2/provision-requests", get(list_requests))
        .route("/v2/provision-requests/unfulfilled", get(list_unfulfilled))
        .route(
            "/v2/provision-requests/{provisionRequestId}",
            get(get_request),
        )
        .route(
            "/v2/provision-requests/{provisionRequestId}/details",
            get(list_details),
        )
        .route(
            "/v2/provision-requests/{provisionRequestId}/details/latest",
            get(latest_detail),
        )
        .route(
            "/v2/provision-requests/{provisionRequestId}/details/{provisionDetailId}",
            get(get_detail),
        )
        .route(
            "/v2/provision-requests/{provisionRequestId}/attempts",
            get(list_attempts).post(create_attempt),
        )
        .route(
            "/v2/provision-requests/{provisionRequestId}/attempts/latest",
            get(latest_attempt),
        )
        .route(
            "/v2/provision-requests/{provisionRequestId}/attempts/{provisionAttemptId}",
            get(get_attempt),
        )
        .route(
            "/v2/provision-requests/{provisionRequestId}/results",
            get(list_results).post(create_result),
        )
        .route(
            "/v2/provision-requests/{provisionRequestId}/results/latest",
            get(latest_result),
        )
        .route(
            "/v2/provision-requests/{provisionRequestId}/results/{provisionResultId}",
            get(get_result),
        )
        .route_layer(middleware::from_fn_with_state(sim.clone(), token::require));
    Router::new()
        .route("/v1/token", post(token::issue))
        .merge(v2)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(sim)
}

pub(super) fn done(r: Reply) -> Response {
    r.unwrap_or_else(|e| e)
}

async fn not_found(uri: Uri) -> Response {
    envelope(
        StatusCode::NOT_FOUND,
        "No static resource found",
        Some(uri.path()),
        None,
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    envelope(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("Request method '{method}' is not supported"),
        Some(uri.path()),
        None,
    )
}

pub(super) fn bad_request(msg: &str, uri: &Uri) -> Response {
    envelope(StatusCode::BAD_REQUEST, msg, Some(uri.path()), None)
}

pub(super) fn missing(what: &str, id: &str, uri: &Uri) -> Response {
    envelope(
        StatusCode::NOT_FOUND,
        &format!("{what} not found: {id}"),
        Some(uri.path()),
        None,
    )
}

pub(super) fn uuid_param(v: &str, uri: &Uri) -> Result<(), Response> {
    if is_uuid(v) {
        Ok(())
    } else {
        Err(bad_request(
            &format!(
                "Failed to convert value of type 'java.lang.String' to required type 'java.util.UUID'; Invalid UUID string: {v}"
            ),
            uri,
        ))
    }
}

pub(super) fn body(
    headers: &HeaderMap,
    bytes: &[u8],
    empty_ok: bool,
    uri: &Uri,
) -> Result<Map<String, Value>, Response> {
    json_object(headers, bytes, empty_ok).map_err(|e| {
        let status = match e {
            BodyError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        };
        envelope(status, &e.to_string(), Some(uri.path()), None)
    })
}

pub(super) fn invalid(f: &Fields<'_>, uri: &Uri) -> Response {
    envelope(
        StatusCode::BAD_REQUEST,
        &format!("Validation failed: {}", f.summary()),
        Some(uri.path()),
        serde_json::to_value(&f.errors).ok(),
    )
}

/// `page`, `size` and any other query parameters.
pub(super) struct Query {
    pub(super) page: usize,
    pub(super) size: usize,
    pub(super) rest: Vec<(String, String)>,
}

impl Query {
    pub(super) fn get(&self, k: &str) -> Option<&str> {
        self.rest
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

pub(super) fn query(raw: Option<String>, uri: &Uri) -> Result<Query, Response> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| bad_request(&format!("Invalid query string: {e}"), uri))?;
    let mut q = Query {
        page: 0,
        size: 10,
        rest: Vec::new(),
    };
    for (k, v) in pairs {
        match k.as_str() {
            "page" => {
                q.page = v.parse().map_err(|_| {
                    bad_request(
                        &format!("Invalid page {v:?}: must be a non-negative integer"),
                        uri,
                    )
                })?
            }
            "size" => {
                q.size = v
                    .parse()
                    .ok()
                    .filter(|s| (1..=200).contains(s))
                    .ok_or_else(|| {
                        bad_request(&format!("Invalid size {v:?}: must be from 1 to 200"), uri)
                    })?
            }
            _ => q.rest.push((k, v)),
        }
    }
    Ok(q)
}

/// A `PageDTO` of `items` (already newest first).
pub(super) fn page(items: Vec<Value>, q: &Query) -> Response {
    let total = items.len();
    let content: Vec<Value> = items
        .into_iter()
        .skip(q.page * q.size)
        .take(q.size)
        .collect();
    Json(json!({
        "content": content,
        "page": {
            "size": q.size,
            "totalElements": total,
            "totalPages": total.div_ceil(q.size),
            "number": q.page,
        }
    }))
    .into_response()
}

pub(super) fn to_value<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

pub(super) fn check_provisioner(st: &Pax8State, pid: &str, uri: &Uri) -> Result<(), Response> {
    uuid_param(pid, uri)?;
    if st.provisioner.id == pid {
        Ok(())
    } else {
        Err(missing("Provisioner", pid, uri))
    }
}

pub(super) fn check_request(st: &Pax8State, rid: &str, uri: &Uri) -> Result<(), Response> {
    uuid_param(rid, uri)?;
    if st.requests.iter().any(|r| r["id"] == rid) {
        Ok(())
    } else {
        Err(missing("Provision request", rid, uri))
    }
}
