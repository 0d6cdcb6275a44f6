//! Pax8 simulator handlers of provision requests: the order-event simulation (with webhook
//! delivery), requests, details, attempts and results.

// Handlers return error responses by value straight to axum; boxing them buys nothing.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use http::Uri;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::model::{
    ProvisionAttempt, ProvisionDetail, ProvisionResult, REQUEST_FIELDS, StoredAttempt,
    StoredResult, Webhook, check_details_map, check_provision_request, check_result,
};
use super::routes::*;
use super::{Pax8Sim, Pax8State, delivery, now_ts};
use crate::validate::Fields;

pub(super) fn fill(m: &mut Map<String, Value>, k: &str, v: Value) {
    if m.get(k).is_none_or(Value::is_null) {
        m.insert(k.to_owned(), v);
    }
}

pub(super) async fn order_event(
    State(sim): Sim,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
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
pub(super) fn start_deliveries(
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

pub(super) fn unfulfilled(st: &Pax8State, r: &Value) -> bool {
    !st.results.iter().any(|x| r["id"] == x.request_id.as_str())
}

pub(super) async fn list_requests(State(sim): Sim, uri: Uri, RawQuery(raw): RawQuery) -> Response {
    done(query(raw, &uri).map(|q| page(sim.state().requests.iter().rev().cloned().collect(), &q)))
}

pub(super) async fn list_unfulfilled(
    State(sim): Sim,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Response {
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

pub(super) async fn get_request(State(sim): Sim, uri: Uri, Path(rid): Path<String>) -> Response {
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

/// `GET …/latest`: the newest child (detail, attempt, result) of a provision request.
fn newest<'a, T: Serialize + 'a>(
    mut children: impl DoubleEndedIterator<Item = &'a T>,
    what: &str,
    rid: &str,
    uri: &Uri,
) -> Reply {
    children
        .next_back()
        .map(|c| Json(to_value(c)).into_response())
        .ok_or_else(|| missing(&format!("{what} for provision request"), rid, uri))
}

/// `GET …/{id}`: one child (detail, attempt, result) of a provision request by its id.
fn by_id<'a, T: Serialize + 'a>(
    mut children: impl Iterator<Item = &'a T>,
    id_of: impl Fn(&T) -> &String,
    id: &str,
    what: &str,
    uri: &Uri,
) -> Reply {
    uuid_param(id, uri)?;
    children
        .find(|c| id_of(c) == id)
        .map(|c| Json(to_value(c)).into_response())
        .ok_or_else(|| missing(what, id, uri))
}

pub(super) fn details_of<'a>(
    st: &'a Pax8State,
    rid: &'a str,
) -> impl DoubleEndedIterator<Item = &'a ProvisionDetail> {
    st.details
        .iter()
        .filter(move |d| d.provision_request_id == rid)
}

pub(super) async fn list_details(
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

pub(super) async fn latest_detail(State(sim): Sim, uri: Uri, Path(rid): Path<String>) -> Response {
    let st = sim.state();
    done(
        check_request(&st, &rid, &uri)
            .and_then(|()| newest(details_of(&st, &rid), "Provision detail", &rid, &uri)),
    )
}

pub(super) async fn get_detail(
    State(sim): Sim,
    uri: Uri,
    Path((rid, did)): Path<(String, String)>,
) -> Response {
    let st = sim.state();
    done(check_request(&st, &rid, &uri).and_then(|()| {
        by_id(
            details_of(&st, &rid),
            |x| &x.id,
            &did,
            "Provision detail",
            &uri,
        )
    }))
}

pub(super) fn attempts_of<'a>(
    st: &'a Pax8State,
    rid: &'a str,
) -> impl DoubleEndedIterator<Item = &'a ProvisionAttempt> {
    st.attempts
        .iter()
        .filter(move |a| a.request_id == rid)
        .map(|a| &a.attempt)
}

pub(super) async fn list_attempts(
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
pub(super) async fn create_attempt(State(sim): Sim, uri: Uri, Path(rid): Path<String>) -> Response {
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

pub(super) async fn latest_attempt(State(sim): Sim, uri: Uri, Path(rid): Path<String>) -> Response {
    let st = sim.state();
    done(
        check_request(&st, &rid, &uri)
            .and_then(|()| newest(attempts_of(&st, &rid), "Provision attempt", &rid, &uri)),
    )
}

pub(super) async fn get_attempt(
    State(sim): Sim,
    uri: Uri,
    Path((rid, aid)): Path<(String, String)>,
) -> Response {
    let st = sim.state();
    done(check_request(&st, &rid, &uri).and_then(|()| {
        by_id(
            attempts_of(&st, &rid),
            |x| &x.id,
            &aid,
            "Provision attempt",
            &uri,
        )
    }))
}

pub(super) fn results_of<'a>(
    st: &'a Pax8State,
    rid: &'a str,
) -> impl DoubleEndedIterator<Item = &'a ProvisionResult> {
    st.results
        .iter()
        .filter(move |r| r.request_id == rid)
        .map(|r| &r.result)
}

pub(super) async fn list_results(
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

pub(super) async fn create_result(
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

pub(super) async fn latest_result(State(sim): Sim, uri: Uri, Path(rid): Path<String>) -> Response {
    let st = sim.state();
    done(
        check_request(&st, &rid, &uri)
            .and_then(|()| newest(results_of(&st, &rid), "Provision result", &rid, &uri)),
    )
}

pub(super) async fn get_result(
    State(sim): Sim,
    uri: Uri,
    Path((rid, xid)): Path<(String, String)>,
) -> Response {
    let st = sim.state();
    done(check_request(&st, &rid, &uri).and_then(|()| {
        by_id(
            results_of(&st, &rid),
            |x| &x.id,
            &xid,
            "Provision result",
            &uri,
        )
    }))
}
