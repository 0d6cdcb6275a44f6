//! HTTP routes of the Pax8 simulator (`/v2/…` behind the bearer check, `/v1/token` open).
//! Every operation answers 200 as the OpenAPI document says; lists are `PageDTO`s with
//! `page`/`size` query parameters (0-based page, default size 10, at most 200), newest first.

// Handlers return error responses by value straight to axum; boxing them buys nothing.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Method, StatusCode, Uri};
use serde_json::{Map, Value, json};

use super::model::{
    ProvisionAttempt, ProvisionDetail, ProvisionResult, REQUEST_FIELDS, SharedSecret,
    StoredAttempt, StoredResult, Webhook, check_details_map, check_provision_request, check_result,
    is_uuid,
};
use super::{DEFAULT_SECRET_HEADER, Pax8Sim, Pax8State, delivery, envelope, now_ts, token};
use crate::sim::validate::{BodyError, Fields, json_object};

type Sim = State<Arc<Pax8Sim>>;
type Reply = Result<Response, Response>;

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

fn done(r: Reply) -> Response {
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

fn bad_request(msg: &str, uri: &Uri) -> Response {
    envelope(StatusCode::BAD_REQUEST, msg, Some(uri.path()), None)
}

fn missing(what: &str, id: &str, uri: &Uri) -> Response {
    envelope(
        StatusCode::NOT_FOUND,
        &format!("{what} not found: {id}"),
        Some(uri.path()),
        None,
    )
}

fn uuid_param(v: &str, uri: &Uri) -> Result<(), Response> {
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

fn body(
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

fn invalid(f: &Fields<'_>, uri: &Uri) -> Response {
    envelope(
        StatusCode::BAD_REQUEST,
        &format!("Validation failed: {}", f.summary()),
        Some(uri.path()),
        serde_json::to_value(&f.errors).ok(),
    )
}

/// `page`, `size` and any other query parameters.
struct Query {
    page: usize,
    size: usize,
    rest: Vec<(String, String)>,
}

impl Query {
    fn get(&self, k: &str) -> Option<&str> {
        self.rest
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

fn query(raw: Option<String>, uri: &Uri) -> Result<Query, Response> {
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
fn page(items: Vec<Value>, q: &Query) -> Response {
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

fn to_value<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

fn check_provisioner(st: &Pax8State, pid: &str, uri: &Uri) -> Result<(), Response> {
    uuid_param(pid, uri)?;
    if st.provisioner.id == pid {
        Ok(())
    } else {
        Err(missing("Provisioner", pid, uri))
    }
}

fn check_request(st: &Pax8State, rid: &str, uri: &Uri) -> Result<(), Response> {
    uuid_param(rid, uri)?;
    if st.requests.iter().any(|r| r["id"] == rid) {
        Ok(())
    } else {
        Err(missing("Provision request", rid, uri))
    }
}

async fn list_provisioners(State(sim): Sim, uri: Uri, RawQuery(raw): RawQuery) -> Response {
    done((|| {
        let q = query(raw, &uri)?;
        Ok(page(vec![to_value(&sim.state().provisioner)], &q))
    })())
}

async fn get_provisioner(State(sim): Sim, uri: Uri, Path(pid): Path<String>) -> Response {
    let st = sim.state();
    done(
        check_provisioner(&st, &pid, &uri)
            .map(|()| Json(to_value(&st.provisioner)).into_response()),
    )
}

async fn list_webhooks(
    State(sim): Sim,
    uri: Uri,
    Path(pid): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let st = sim.state();
    done((|| {
        check_provisioner(&st, &pid, &uri)?;
        let q = query(raw, &uri)?;
        Ok(page(
            st.webhooks.iter().rev().map(Webhook::masked).collect(),
            &q,
        ))
    })())
}

async fn create_webhook(
    State(sim): Sim,
    uri: Uri,
    Path(pid): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    done((|| {
        check_provisioner(&sim.state(), &pid, &uri)?;
        let obj = body(&headers, &bytes, false, &uri)?;
        let mut f = Fields::new(&obj);
        let url = f.string("url", true, 1, false);
        if let Some(u) = &url {
            let ok = reqwest::Url::parse(u)
                .map(|p| matches!(p.scheme(), "http" | "https") && p.host_str().is_some())
                .unwrap_or(false);
            if !ok {
                f.fail("url", "Must be an absolute http or https URL");
            }
        }
        let mut header = DEFAULT_SECRET_HEADER.to_owned();
        if let Some(ss) = f.object("sharedSecret") {
            let mut sf = f.child(ss, "sharedSecret");
            if let Some(h) = sf.string("header", false, 1, true) {
                if http::HeaderName::from_bytes(h.as_bytes()).is_ok() {
                    header = h;
                } else {
                    sf.fail("header", "Not a valid HTTP header name");
                }
            }
            f.errors.append(&mut sf.errors);
        }
        if !f.errors.is_empty() {
            return Err(invalid(&f, &uri));
        }
        let hook = Webhook {
            id: sim.new_id(),
            url: url.unwrap_or_default(),
            shared_secret: SharedSecret {
                header,
                credential: URL_SAFE_NO_PAD.encode(sim.random_bytes()),
            },
            created_date: now_ts(),
        };
        sim.state().webhooks.push(hook.clone());
        Ok(Json(to_value(&hook)).into_response())
    })())
}

async fn latest_webhook(State(sim): Sim, uri: Uri, Path(pid): Path<String>) -> Response {
    let st = sim.state();
    done((|| {
        check_provisioner(&st, &pid, &uri)?;
        st.webhooks
            .last()
            .map(|w| Json(w.masked()).into_response())
            .ok_or_else(|| missing("Webhook for provisioner", &pid, &uri))
    })())
}

async fn get_webhook(
    State(sim): Sim,
    uri: Uri,
    Path((pid, wid)): Path<(String, String)>,
) -> Response {
    let st = sim.state();
    done((|| {
        check_provisioner(&st, &pid, &uri)?;
        uuid_param(&wid, &uri)?;
        st.webhooks
            .iter()
            .find(|w| w.id == wid)
            .map(|w| Json(w.masked()).into_response())
            .ok_or_else(|| missing("Webhook", &wid, &uri))
    })())
}

fn fill(m: &mut Map<String, Value>, k: &str, v: Value) {
    if m.get(k).is_none_or(Value::is_null) {
        m.insert(k.to_owned(), v);
    }
}

async fn order_event(State(sim): Sim, uri: Uri, headers: HeaderMap, bytes: Bytes) -> Response {
    done((|| {
        let obj = body(&headers, &bytes, true, &uri)?;
        let mut f = Fields::new(&obj);
        let given_req = f.object("provisionRequest").cloned().unwrap_or_default();
        let mut rf = f.child(&given_req, "provisionRequest");
        check_provision_request(&mut rf);
        f.errors.append(&mut rf.errors);
        let given_detail = f.object("provisionDetail").cloned().unwrap_or_default();
        let mut df = f.child(&given_detail, "provisionDetail");
        let details = check_details_map(&mut df, "details");
        f.errors.append(&mut df.errors);
        f.object("provisionAttempt");
        if !f.errors.is_empty() {
            return Err(invalid(&f, &uri));
        }
        let now = now_ts();
        let mut req = given_req;
        let rid = sim.new_id();
        req.insert("id".into(), Value::from(rid.clone()));
        fill(&mut req, "createdDate", Value::from(now.clone()));
        for k in ["partnerId", "companyId", "productId", "subscriptionId"] {
            fill(&mut req, k, Value::from(sim.new_id()));
        }
        fill(&mut req, "partnerName", Value::from("Simulated Partner"));
        fill(&mut req, "companyName", Value::from("Simulated Company"));
        fill(&mut req, "productName", Value::from("NNO Platform"));
        fill(&mut req, "quantity", Value::from(1));
        fill(&mut req, "type", Value::from("NetNew"));
        fill(&mut req, "billingTerm", Value::from("Monthly"));
        for k in REQUEST_FIELDS {
            req.entry(k).or_insert(Value::Null);
        }
        let req = Value::Object(req);
        let detail = ProvisionDetail {
            id: sim.new_id(),
            provision_request_id: rid.clone(),
            details,
            created_date: now.clone(),
        };
        let mut st = sim.state();
        st.requests.push(req.clone());
        st.details.push(detail.clone());
        let hooks = st.webhooks.clone();
        drop(st);
        let attempts = start_deliveries(&sim, &rid, &detail, &req, hooks);
        Ok(Json(json!({
            "provisionRequest": req,
            "provisionDetail": to_value(&detail),
            "provisionAttempt": attempts.first().map(to_value),
        }))
        .into_response())
    })())
}

/// Records one attempt per webhook (or one failed attempt when there is none) and starts the
/// deliveries.
fn start_deliveries(
    sim: &Arc<Pax8Sim>,
    rid: &str,
    detail: &ProvisionDetail,
    req: &Value,
    hooks: Vec<Webhook>,
) -> Vec<ProvisionAttempt> {
    let now = now_ts();
    let mut out = Vec::new();
    if hooks.is_empty() {
        out.push(ProvisionAttempt {
            id: sim.new_id(),
            provision_detail_id: detail.id.clone(),
            webhook_id: None,
            status: "Failed".into(),
            error_detail: Some("No webhook is registered for the provisioner".into()),
            created_date: now.clone(),
        });
    }
    for hook in &hooks {
        out.push(ProvisionAttempt {
            id: sim.new_id(),
            provision_detail_id: detail.id.clone(),
            webhook_id: Some(hook.id.clone()),
            status: "Pending".into(),
            error_detail: None,
            created_date: now.clone(),
        });
    }
    sim.state()
        .attempts
        .extend(out.iter().map(|a| StoredAttempt {
            request_id: rid.to_owned(),
            attempt: a.clone(),
        }));
    for (attempt, hook) in out.iter().zip(hooks) {
        let payload = json!({
            "provisionRequest": req,
            "provisionDetail": to_value(detail),
            "provisionAttempt": to_value(attempt),
        });
        delivery::spawn(sim.clone(), attempt.id.clone(), hook, payload);
    }
    out
}

fn unfulfilled(st: &Pax8State, r: &Value) -> bool {
    !st.results.iter().any(|x| r["id"] == x.request_id.as_str())
}

async fn list_requests(State(sim): Sim, uri: Uri, RawQuery(raw): RawQuery) -> Response {
    done(query(raw, &uri).map(|q| page(sim.state().requests.iter().rev().cloned().collect(), &q)))
}

async fn list_unfulfilled(State(sim): Sim, uri: Uri, RawQuery(raw): RawQuery) -> Response {
    let st = sim.state();
    done(query(raw, &uri).map(|q| {
        let items = st
            .requests
            .iter()
            .rev()
            .filter(|r| unfulfilled(&st, r))
            .cloned()
            .collect();
        page(items, &q)
    }))
}

async fn get_request(State(sim): Sim, uri: Uri, Path(rid): Path<String>) -> Response {
    let st = sim.state();
    done(check_request(&st, &rid, &uri).map(|()| {
        let r = st
            .requests
            .iter()
            .find(|r| r["id"] == rid.as_str())
            .cloned();
        Json(r.unwrap_or(Value::Null)).into_response()
    }))
}

fn details_of<'a>(
    st: &'a Pax8State,
    rid: &'a str,
) -> impl DoubleEndedIterator<Item = &'a ProvisionDetail> {
    st.details
        .iter()
        .filter(move |d| d.provision_request_id == rid)
}

async fn list_details(
    State(sim): Sim,
    uri: Uri,
    Path(rid): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let st = sim.state();
    done((|| {
        check_request(&st, &rid, &uri)?;
        let q = query(raw, &uri)?;
        Ok(page(
            details_of(&st, &rid).rev().map(to_value).collect(),
            &q,
        ))
    })())
}

async fn latest_detail(State(sim): Sim, uri: Uri, Path(rid): Path<String>) -> Response {
    let st = sim.state();
    done((|| {
        check_request(&st, &rid, &uri)?;
        details_of(&st, &rid)
            .next_back()
            .map(|d| Json(to_value(d)).into_response())
            .ok_or_else(|| missing("Provision detail for provision request", &rid, &uri))
    })())
}

async fn get_detail(
    State(sim): Sim,
    uri: Uri,
    Path((rid, did)): Path<(String, String)>,
) -> Response {
    let st = sim.state();
    done((|| {
        check_request(&st, &rid, &uri)?;
        uuid_param(&did, &uri)?;
        details_of(&st, &rid)
            .find(|d| d.id == did)
            .map(|d| Json(to_value(d)).into_response())
            .ok_or_else(|| missing("Provision detail", &did, &uri))
    })())
}

fn attempts_of<'a>(
    st: &'a Pax8State,
    rid: &'a str,
) -> impl DoubleEndedIterator<Item = &'a ProvisionAttempt> {
    st.attempts
        .iter()
        .filter(move |a| a.request_id == rid)
        .map(|a| &a.attempt)
}

async fn list_attempts(
    State(sim): Sim,
    uri: Uri,
    Path(rid): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let st = sim.state();
    done((|| {
        check_request(&st, &rid, &uri)?;
        let q = query(raw, &uri)?;
        let filter = q.get("provisionDetailId").map(str::to_owned);
        if let Some(d) = &filter {
            uuid_param(d, &uri)?;
        }
        let items = attempts_of(&st, &rid)
            .rev()
            .filter(|a| filter.as_ref().is_none_or(|d| &a.provision_detail_id == d))
            .map(to_value)
            .collect();
        Ok(page(items, &q))
    })())
}

/// Re-delivers the request's latest detail to the latest webhook as a new attempt.
async fn create_attempt(State(sim): Sim, uri: Uri, Path(rid): Path<String>) -> Response {
    done((|| {
        let st = sim.state();
        check_request(&st, &rid, &uri)?;
        let detail = details_of(&st, &rid)
            .next_back()
            .cloned()
            .ok_or_else(|| missing("Provision detail for provision request", &rid, &uri))?;
        let req = st
            .requests
            .iter()
            .find(|r| r["id"] == rid.as_str())
            .cloned()
            .unwrap_or(Value::Null);
        let hooks: Vec<Webhook> = st.webhooks.last().cloned().into_iter().collect();
        drop(st);
        let attempts = start_deliveries(&sim, &rid, &detail, &req, hooks);
        Ok(Json(attempts.first().map(to_value).unwrap_or(Value::Null)).into_response())
    })())
}

async fn latest_attempt(State(sim): Sim, uri: Uri, Path(rid): Path<String>) -> Response {
    let st = sim.state();
    done((|| {
        check_request(&st, &rid, &uri)?;
        attempts_of(&st, &rid)
            .next_back()
            .map(|a| Json(to_value(a)).into_response())
            .ok_or_else(|| missing("Provision attempt for provision request", &rid, &uri))
    })())
}

async fn get_attempt(
    State(sim): Sim,
    uri: Uri,
    Path((rid, aid)): Path<(String, String)>,
) -> Response {
    let st = sim.state();
    done((|| {
        check_request(&st, &rid, &uri)?;
        uuid_param(&aid, &uri)?;
        attempts_of(&st, &rid)
            .find(|a| a.id == aid)
            .map(|a| Json(to_value(a)).into_response())
            .ok_or_else(|| missing("Provision attempt", &aid, &uri))
    })())
}

fn results_of<'a>(
    st: &'a Pax8State,
    rid: &'a str,
) -> impl DoubleEndedIterator<Item = &'a ProvisionResult> {
    st.results
        .iter()
        .filter(move |r| r.request_id == rid)
        .map(|r| &r.result)
}

async fn list_results(
    State(sim): Sim,
    uri: Uri,
    Path(rid): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let st = sim.state();
    done((|| {
        check_request(&st, &rid, &uri)?;
        let q = query(raw, &uri)?;
        let filter = q.get("provisionAttemptId").map(str::to_owned);
        if let Some(a) = &filter {
            uuid_param(a, &uri)?;
        }
        let items = results_of(&st, &rid)
            .rev()
            .filter(|r| filter.is_none() || r.provision_attempt_id == filter)
            .map(to_value)
            .collect();
        Ok(page(items, &q))
    })())
}

async fn create_result(
    State(sim): Sim,
    uri: Uri,
    Path(rid): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    done((|| {
        check_request(&sim.state(), &rid, &uri)?;
        let obj = body(&headers, &bytes, false, &uri)?;
        let mut f = Fields::new(&obj);
        let input = check_result(&mut f);
        if !f.errors.is_empty() {
            return Err(invalid(&f, &uri));
        }
        let id = sim.new_id();
        let mut st = sim.state();
        let attempt_id = match input.provision_attempt_id {
            Some(a) if attempts_of(&st, &rid).any(|x| x.id == a) => Some(a),
            Some(a) => {
                return Err(bad_request(
                    &format!("Provision attempt {a} does not belong to provision request {rid}"),
                    &uri,
                ));
            }
            None => attempts_of(&st, &rid).next_back().map(|a| a.id.clone()),
        };
        let [sub, partner, company, enrollment] = input.external;
        let result = ProvisionResult {
            id,
            provision_attempt_id: attempt_id,
            status: input.status.unwrap_or_default(),
            error_message: input.error_message,
            metadata: input.metadata,
            external_provisioner_subscription_id: sub,
            external_provisioner_partner_id: partner,
            external_provisioner_company_id: company,
            external_provisioner_partner_enrollment_id: enrollment,
        };
        st.results.push(StoredResult {
            request_id: rid.clone(),
            result: result.clone(),
        });
        Ok(Json(to_value(&result)).into_response())
    })())
}

async fn latest_result(State(sim): Sim, uri: Uri, Path(rid): Path<String>) -> Response {
    let st = sim.state();
    done((|| {
        check_request(&st, &rid, &uri)?;
        results_of(&st, &rid)
            .next_back()
            .map(|r| Json(to_value(r)).into_response())
            .ok_or_else(|| missing("Provision result for provision request", &rid, &uri))
    })())
}

async fn get_result(
    State(sim): Sim,
    uri: Uri,
    Path((rid, xid)): Path<(String, String)>,
) -> Response {
    let st = sim.state();
    done((|| {
        check_request(&st, &rid, &uri)?;
        uuid_param(&xid, &uri)?;
        results_of(&st, &rid)
            .find(|r| r.id == xid)
            .map(|r| Json(to_value(r)).into_response())
            .ok_or_else(|| missing("Provision result", &xid, &uri))
    })())
}
