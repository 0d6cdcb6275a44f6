//! HTTP routes of the NNO simulator: request validation (as the reference documents each
//! body), status codes, pagination and the error envelope.
//!
//! Status codes (the reference names none): operations that queue a job answer
//! `202 Accepted` (including retry, DLQ replay and auth upgrade); cancel and force-complete
//! answer `200`; reads `200`. Errors: 400 validation, 401 auth, 404 unknown id/route,
//! 405 method, 409 wrong job state, 415 non-JSON body.

// Handlers return error responses by value straight to axum; boxing them buys nothing.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, http::HeaderMap};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Method, StatusCode, Uri};
use serde_json::{Map, Value, json};

use super::jobs::{JobError, STATUSES};
use super::{NnoSim, envelope};
use crate::validate::{BodyError, Fields, is_app_name, json_object};

const PREFIX: &str = "/api/v1/provision";
const ENVS: [&str; 3] = ["dev", "stg", "prod"];

type Sim = State<Arc<NnoSim>>;

/// A documented job-creating operation: its path, job type and body rules.
struct Op {
    path: &'static str,
    kind: &'static str,
    /// Validates the body; returns the job's platform id and the payload with defaults applied.
    check: fn(&mut Fields<'_>) -> (Option<String>, Value),
}

const OPS: [Op; 10] = [
    Op {
        path: "/platform",
        kind: "platform.provision",
        check: check_platform,
    },
    Op {
        path: "/feature/activate",
        kind: "feature.activate",
        check: check_feature_activate,
    },
    Op {
        path: "/feature/deactivate",
        kind: "feature.deactivate",
        check: check_feature_deactivate,
    },
    Op {
        path: "/stack/activate",
        kind: "stack.activate",
        check: check_stack_activate,
    },
    Op {
        path: "/stack/deactivate",
        kind: "stack.deactivate",
        check: check_stack_deactivate,
    },
    Op {
        path: "/onboard",
        kind: "platform.onboard",
        check: check_onboard,
    },
    Op {
        path: "/app/create",
        kind: "app.create",
        check: check_app,
    },
    Op {
        path: "/domain/add",
        kind: "domain.add",
        check: check_domain,
    },
    Op {
        path: "/platform/deprovision",
        kind: "platform.deprovision",
        check: check_deprovision,
    },
    Op {
        path: "/auth/upgrade",
        kind: "auth.upgrade",
        check: check_auth_upgrade,
    },
];

pub fn router(sim: Arc<NnoSim>) -> Router {
    let mut r: Router<Arc<NnoSim>> = Router::new();
    for op in &OPS {
        let kind = op.kind;
        let check = op.check;
        r = r.route(
            &format!("{PREFIX}{}", op.path),
            post(move |st: Sim, headers: HeaderMap, body: Bytes| async move {
                create(st, headers, body, kind, check)
            }),
        );
    }
    r.route(&format!("{PREFIX}/jobs"), get(list_jobs))
        .route(&format!("{PREFIX}/jobs/{{jobId}}"), get(get_job))
        .route(&format!("{PREFIX}/jobs/{{jobId}}/retry"), post(retry))
        .route(&format!("{PREFIX}/jobs/{{jobId}}/cancel"), post(cancel))
        .route(
            &format!("{PREFIX}/jobs/{{jobId}}/force-complete"),
            post(force_complete),
        )
        .route(&format!("{PREFIX}/dlq"), get(list_dlq))
        .route(&format!("{PREFIX}/dlq/{{entryId}}/replay"), post(replay))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(sim.clone(), auth))
        .with_state(sim)
}

fn error(status: StatusCode, message: &str) -> Response {
    envelope(status, super::code_for(status), message, Value::Null)
}

async fn auth(State(sim): Sim, req: Request, next: Next) -> Response {
    if let Some(token) = &sim.token {
        let given = crate::bearer_token(req.headers());
        match given {
            None => return error(StatusCode::UNAUTHORIZED, "Missing bearer token"),
            Some(g) if g != token => {
                return error(StatusCode::UNAUTHORIZED, "Invalid bearer token");
            }
            Some(_) => {}
        }
    }
    next.run(req).await
}

async fn not_found(method: Method, uri: Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        &format!("Route not found: {method} {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("Method {method} not allowed on {}", uri.path()),
    )
}

fn body_error(e: BodyError) -> Response {
    let status = match e {
        BodyError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        _ => StatusCode::BAD_REQUEST,
    };
    let code = match e {
        BodyError::Malformed(_) => "INVALID_JSON",
        _ => super::code_for(status),
    };
    envelope(status, code, &e.to_string(), Value::Null)
}

fn validation_failed(f: &Fields<'_>) -> Response {
    envelope(
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
        &format!("Invalid request body: {}", f.summary()),
        serde_json::to_value(&f.errors).unwrap_or(Value::Null),
    )
}

fn create(
    State(sim): Sim,
    headers: HeaderMap,
    body: Bytes,
    kind: &'static str,
    check: fn(&mut Fields<'_>) -> (Option<String>, Value),
) -> Response {
    let obj = match json_object(&headers, &body, false) {
        Ok(o) => o,
        Err(e) => return body_error(e),
    };
    let mut f = Fields::new(&obj);
    let (platform_id, payload) = check(&mut f);
    if !f.errors.is_empty() {
        return validation_failed(&f);
    }
    let (mut engine, mut rng) = sim.state();
    let job_id = engine.enqueue(&mut rng, sim.timing, kind, platform_id.clone(), payload);
    let body = if kind == "auth.upgrade" {
        json!({ "jobId": job_id, "platformId": platform_id })
    } else {
        json!({ "jobId": job_id, "status": "QUEUED" })
    };
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

fn obj(pairs: Vec<(&str, Value)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect::<Map<_, _>>(),
    )
}

fn opt(v: Option<String>) -> Value {
    v.map(Value::String).unwrap_or(Value::Null)
}

fn env_default(f: &mut Fields<'_>) -> Option<String> {
    f.enumeration("environment", &ENVS, false, Some("prod"))
}

fn check_platform(f: &mut Fields<'_>) -> (Option<String>, Value) {
    let platform_id = f.string("platformId", true, 1, false);
    let plan_tier = f.string("planTier", true, 1, false);
    let billing_email = f.email("billingEmail", true);
    let default_entity_id = f.string("defaultEntityId", false, 1, false);
    let environment = env_default(f);
    let payload = obj(vec![
        ("platformId", opt(platform_id.clone())),
        ("planTier", opt(plan_tier)),
        ("billingEmail", opt(billing_email)),
        ("defaultEntityId", opt(default_entity_id)),
        ("environment", opt(environment)),
    ]);
    (platform_id, payload)
}

fn check_feature_activate(f: &mut Fields<'_>) -> (Option<String>, Value) {
    let platform_id = f.string("platformId", true, 1, false);
    let payload = obj(vec![
        ("platformId", opt(platform_id.clone())),
        ("entityId", opt(f.string("entityId", true, 1, false))),
        ("featureId", opt(f.string("featureId", true, 1, false))),
        (
            "featureVersion",
            opt(f.string("featureVersion", true, 1, false)),
        ),
        (
            "environment",
            opt(f.enumeration("environment", &ENVS, true, None)),
        ),
    ]);
    (platform_id, payload)
}

fn check_feature_deactivate(f: &mut Fields<'_>) -> (Option<String>, Value) {
    let platform_id = f.string("platformId", true, 1, false);
    let payload = obj(vec![
        ("platformId", opt(platform_id.clone())),
        ("entityId", opt(f.string("entityId", true, 1, false))),
        ("featureId", opt(f.string("featureId", true, 1, false))),
        (
            "environment",
            opt(f.enumeration("environment", &ENVS, true, None)),
        ),
        ("deleteData", Value::Bool(f.boolean("deleteData", false))),
    ]);
    (platform_id, payload)
}

fn check_stack_activate(f: &mut Fields<'_>) -> (Option<String>, Value) {
    let platform_id = f.string("platformId", true, 1, false);
    let payload = obj(vec![
        ("platformId", opt(platform_id.clone())),
        ("stackId", opt(f.string("stackId", true, 1, false))),
        (
            "stackVersion",
            opt(f.string("stackVersion", true, 1, false)),
        ),
        ("entityId", opt(f.string("entityId", false, 1, false))),
        ("environment", opt(env_default(f))),
    ]);
    (platform_id, payload)
}

fn check_stack_deactivate(f: &mut Fields<'_>) -> (Option<String>, Value) {
    let platform_id = f.string("platformId", true, 1, false);
    let payload = obj(vec![
        ("platformId", opt(platform_id.clone())),
        (
            "stackInstanceId",
            opt(f.string("stackInstanceId", true, 1, false)),
        ),
        ("environment", opt(env_default(f))),
        ("deleteData", Value::Bool(f.boolean("deleteData", false))),
    ]);
    (platform_id, payload)
}

fn check_onboard(f: &mut Fields<'_>) -> (Option<String>, Value) {
    let payload = obj(vec![
        (
            "onboardingId",
            opt(f.string("onboardingId", true, 1, false)),
        ),
        (
            "platformName",
            opt(f.string("platformName", true, 1, false)),
        ),
        ("slug", opt(f.string("slug", true, 1, false))),
        (
            "stackTemplateId",
            opt(f.string("stackTemplateId", false, 0, true)),
        ),
        (
            "tier",
            opt(f.enumeration(
                "tier",
                &["starter", "growth", "scale"],
                false,
                Some("starter"),
            )),
        ),
        ("userId", opt(f.string("userId", true, 1, false))),
        ("billingEmail", opt(f.email("billingEmail", false))),
    ]);
    (None, payload)
}

fn check_app(f: &mut Fields<'_>) -> (Option<String>, Value) {
    let platform_id = f.string("platformId", true, 1, false);
    let stack_id = f.string("stackId", true, 1, false);
    let app_name = f.string("appName", true, 1, false);
    if let Some(name) = &app_name
        && !is_app_name(name)
    {
        f.fail("appName", "Invalid: must match ^[a-z][a-z0-9-]*[a-z0-9]$");
    }
    let payload = obj(vec![
        ("platformId", opt(platform_id.clone())),
        ("stackId", opt(stack_id)),
        ("appName", opt(app_name)),
        (
            "appType",
            opt(f.enumeration("appType", &["app", "svc", "fullstack"], true, None)),
        ),
        (
            "withDatabase",
            Value::Bool(f.boolean("withDatabase", false)),
        ),
    ]);
    (platform_id, payload)
}

fn check_domain(f: &mut Fields<'_>) -> (Option<String>, Value) {
    let platform_id = f.string("platformId", true, 1, false);
    let payload = obj(vec![
        ("platformId", opt(platform_id.clone())),
        (
            "customHostname",
            opt(f.string("customHostname", true, 1, false)),
        ),
        (
            "targetDnsRecordId",
            opt(f.string("targetDnsRecordId", true, 1, false)),
        ),
    ]);
    (platform_id, payload)
}

fn check_deprovision(f: &mut Fields<'_>) -> (Option<String>, Value) {
    let platform_id = f.string("platformId", true, 1, false);
    let payload = obj(vec![
        ("platformId", opt(platform_id.clone())),
        ("environment", opt(env_default(f))),
    ]);
    (platform_id, payload)
}

fn check_auth_upgrade(f: &mut Fields<'_>) -> (Option<String>, Value) {
    let platform_id = f.string("platformId", true, 1, false);
    (
        platform_id.clone(),
        obj(vec![("platformId", opt(platform_id))]),
    )
}

fn job_error(e: JobError) -> Response {
    let status = match e {
        JobError::NotFound(_) | JobError::EntryNotFound(_) => StatusCode::NOT_FOUND,
        JobError::InvalidState { .. } => StatusCode::CONFLICT,
    };
    let code = match e {
        JobError::InvalidState { .. } => "INVALID_JOB_STATE",
        _ => super::code_for(status),
    };
    envelope(status, code, &e.to_string(), Value::Null)
}

async fn get_job(State(sim): Sim, Path(id): Path<String>) -> Response {
    let (engine, _rng) = sim.state();
    match engine.get(&id) {
        Some(job) => Json(job.view()).into_response(),
        None => job_error(JobError::NotFound(id)),
    }
}

/// Parsed `limit` and `cursor` query parameters plus any other parameters.
struct Paging {
    limit: usize,
    cursor: Option<String>,
    position: Option<u64>,
    rest: Vec<(String, String)>,
}

fn paging(raw: Option<String>) -> Result<Paging, Response> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                &format!("Invalid query string: {e}"),
            )
        })?;
    let mut p = Paging {
        limit: 20,
        cursor: None,
        position: None,
        rest: Vec::new(),
    };
    for (k, v) in pairs {
        match k.as_str() {
            "limit" => {
                p.limit = v
                    .parse::<usize>()
                    .ok()
                    .filter(|l| (1..=100).contains(l))
                    .ok_or_else(|| {
                        error(
                            StatusCode::BAD_REQUEST,
                            &format!("Invalid limit {v:?}: must be an integer from 1 to 100"),
                        )
                    })?;
            }
            "cursor" if !v.is_empty() => {
                p.position = Some(decode_cursor(&v).ok_or_else(|| {
                    error(StatusCode::BAD_REQUEST, &format!("Invalid cursor {v:?}"))
                })?);
                p.cursor = Some(v);
            }
            _ => p.rest.push((k, v)),
        }
    }
    Ok(p)
}

fn encode_cursor(seq: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("seq:{seq}"))
}

fn decode_cursor(c: &str) -> Option<u64> {
    let raw = URL_SAFE_NO_PAD.decode(c).ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("seq:")?
        .parse()
        .ok()
}

async fn list_jobs(State(sim): Sim, RawQuery(raw): RawQuery) -> Response {
    let p = match paging(raw) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let find = |k: &str| p.rest.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let platform_id = find("platformId").filter(|v| !v.is_empty());
    let status = find("status").filter(|v| !v.is_empty());
    if let Some(s) = status
        && !STATUSES.contains(&s)
    {
        return error(
            StatusCode::BAD_REQUEST,
            &format!(
                "Invalid status {s:?}: expected one of {}",
                STATUSES.join(", ")
            ),
        );
    }
    let (engine, _rng) = sim.state();
    let (page, next) = engine.list(platform_id, status, p.position, p.limit);
    let data: Vec<Value> = page.iter().map(|j| j.view()).collect();
    Json(json!({
        "data": data,
        "pagination": {
            "limit": p.limit,
            "cursor": p.cursor,
            "nextCursor": next.map(encode_cursor),
            "count": data.len(),
        }
    }))
    .into_response()
}

/// DLQ pages: as documented, `pagination` has only `limit` and `cursor`; `cursor` is the cursor
/// of the next page (null on the last page).
async fn list_dlq(State(sim): Sim, RawQuery(raw): RawQuery) -> Response {
    let p = match paging(raw) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (engine, _rng) = sim.state();
    let (page, next) = engine.list_dlq(p.position, p.limit);
    let data: Vec<Value> = page.iter().map(|e| e.view()).collect();
    Json(json!({
        "data": data,
        "pagination": { "limit": p.limit, "cursor": next.map(encode_cursor) }
    }))
    .into_response()
}

async fn retry(State(sim): Sim, Path(id): Path<String>) -> Response {
    let (mut engine, _rng) = sim.state();
    match engine.retry(sim.timing, &id) {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(json!({ "jobId": id, "status": "QUEUED" })),
        )
            .into_response(),
        Err(e) => job_error(e),
    }
}

async fn cancel(State(sim): Sim, Path(id): Path<String>) -> Response {
    let (mut engine, _rng) = sim.state();
    match engine.cancel(&id) {
        Ok(reason) => {
            Json(json!({ "jobId": id, "status": "FAILED", "reason": reason })).into_response()
        }
        Err(e) => job_error(e),
    }
}

async fn force_complete(State(sim): Sim, Path(id): Path<String>) -> Response {
    let (mut engine, mut rng) = sim.state();
    match engine.force_complete(&mut rng, &id) {
        Ok(()) => Json(json!({ "jobId": id, "status": "COMPLETED" })).into_response(),
        Err(e) => job_error(e),
    }
}

async fn replay(State(sim): Sim, Path(entry_id): Path<String>) -> Response {
    let (mut engine, _rng) = sim.state();
    match engine.replay(sim.timing, &entry_id) {
        Ok(job_id) => (
            StatusCode::ACCEPTED,
            Json(json!({ "jobId": job_id, "status": "QUEUED", "entryId": entry_id })),
        )
            .into_response(),
        Err(e) => job_error(e),
    }
}

/// Test hooks of the NNO simulator: `GET|PUT /_sim/nno/job-failures` reads or replaces the
/// scripted job failures (`{"rules":[{"type","platformId","payload","failAttempts","reason"}]}`).
pub fn sim_routes(engine: Arc<std::sync::Mutex<super::Engine>>) -> Router {
    Router::new()
        .route(
            "/_sim/nno/job-failures",
            get(get_failures).put(put_failures),
        )
        .with_state(engine)
}

type EngineState = State<Arc<std::sync::Mutex<super::Engine>>>;

async fn get_failures(State(engine): EngineState) -> Json<Value> {
    let e = engine.lock().unwrap_or_else(|p| p.into_inner());
    Json(json!({ "rules": e.failure_rules() }))
}

async fn put_failures(State(engine): EngineState, body: Bytes) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        rules: Vec<super::FailureRule>,
    }
    match serde_json::from_slice::<Body>(&body) {
        Ok(b) => {
            let mut e = engine.lock().unwrap_or_else(|p| p.into_inner());
            e.set_failure_rules(b.rules);
            Json(json!({ "rules": e.failure_rules() })).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}
