//! Object storage: buckets (`/v1/storage/bucket…`), the S3 user and its keys
//! (`/v1/storage/user…`), the S3 API URL, and the sim-only bucket content control.
//!
//! Bucket names are one namespace across all users (API keys) and follow the S3 naming rules;
//! a taken name is a 409, deleting a bucket that still holds objects is a 409, an unknown bucket a
//! 404. The S3 user (and a first key pair) is created on first use, as `GET /v1/storage/user` does;
//! deleting a key answers the remaining keys.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::ThreenvSim;
use super::errors::{ApiErr, ApiResult};
use super::request::Req;
use super::state::{Bucket, S3Key, S3User, State as St, ts_iso};
use super::validate::bucket_name_ok;

const KEY_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn render(b: &Bucket) -> Value {
    json!({
        "name": b.name,
        "size_bytes": b.size_bytes,
        "billing_account_id": b.billing_account_id,
        "num_objects": b.num_objects,
        "created_at": ts_iso(&b.created),
        "modified_at": ts_iso(&b.modified),
        "is_suspended": false,
    })
}

fn bucket_mut<'a>(st: &'a mut St, user: i64, name: &str) -> ApiResult<&'a mut Bucket> {
    st.buckets
        .get_mut(name)
        .filter(|b| b.user_id == user)
        .ok_or_else(|| ApiErr::not_found(format!("No such bucket exists. {name}")))
}

pub async fn s3_url(State(sim): State<ThreenvSim>, _req: Req) -> ApiResult {
    Ok(Json(json!({ "url": sim.config().s3_url })).into_response())
}

pub async fn create(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let name = p.req_str("name")?;
    if !bucket_name_ok(&name) {
        return Err(ApiErr::invalid(
            "name",
            "bucket names must conform to S3 bucket naming rules (3-63 characters of lower-case letters, digits, '.' and '-', starting and ending with a letter or digit, not an IP address)",
        ));
    }
    let billing = p.req_billing_account("billing_account_id")?;
    sim.with(|st, now| {
        if st.buckets.contains_key(&name) {
            return Err(ApiErr::conflict(format!(
                "Bucket name is already taken. {name}"
            )));
        }
        let b = Bucket {
            name: name.clone(),
            user_id: req.user,
            billing_account_id: billing,
            num_objects: 0,
            size_bytes: 0,
            created: now,
            modified: now,
        };
        let out = render(&b);
        st.buckets.insert(name, b);
        Ok(Json(out).into_response())
    })
}

pub async fn modify(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let name = p.req_str("name")?;
    let billing = p.req_billing_account("billing_account_id")?;
    sim.with(|st, now| {
        let b = bucket_mut(st, req.user, &name)?;
        b.billing_account_id = billing;
        b.modified = now;
        Ok(Json(render(b)).into_response())
    })
}

pub async fn delete(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let name = req.form()?.req_str("name")?;
    sim.with(|st, _| {
        let b = bucket_mut(st, req.user, &name)?;
        if b.num_objects > 0 {
            return Err(ApiErr::conflict(format!(
                "Bucket is not empty ({} objects); only empty buckets can be deleted. {name}",
                b.num_objects
            )));
        }
        st.buckets.remove(&name);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

pub async fn get(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let name = req.form()?.req_str("name")?;
    sim.with(|st, _| Ok(Json(render(bucket_mut(st, req.user, &name)?)).into_response()))
}

pub async fn list(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let billing = req.form()?.int("billing_account_id")?;
    sim.with(|st, _| {
        let out: Vec<Value> = st
            .buckets
            .values()
            .filter(|b| {
                b.user_id == req.user && billing.is_none_or(|id| b.billing_account_id == id)
            })
            .map(render)
            .collect();
        Ok(Json(out).into_response())
    })
}

fn new_key(st: &mut St) -> S3Key {
    S3Key {
        access_key: st.ids.text(KEY_CHARS, 20),
        secret_key: st.ids.text(SECRET_CHARS, 40),
    }
}

/// The user's S3 user, created with a first key pair when missing.
fn ensure_s3_user(st: &mut St, user: i64) -> &mut S3User {
    if !st.s3_users.contains_key(&user) {
        let key = new_key(st);
        st.s3_users.insert(user, S3User { keys: vec![key] });
    }
    st.s3_users.entry(user).or_default()
}

fn email(user: i64) -> String {
    format!("user{user}@example.com")
}

fn render_keys(user: i64, u: &S3User) -> Value {
    Value::Array(
        u.keys
            .iter()
            .map(|k| {
                json!({
                    "accessKey": k.access_key,
                    "secretKey": k.secret_key,
                    "userId": email(user),
                })
            })
            .collect(),
    )
}

pub async fn s3_user(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    sim.with(|st, _| {
        let u = ensure_s3_user(st, req.user).clone();
        Ok(Json(json!({
            "caps": [],
            "displayName": email(req.user),
            "email": "",
            "maxBuckets": 1000,
            "s3Credentials": render_keys(req.user, &u),
            "subusers": [],
            "suspended": 0,
            "swiftCredentials": [],
            "userId": email(req.user),
        }))
        .into_response())
    })
}

pub async fn list_keys(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    sim.with(|st, _| {
        let u = ensure_s3_user(st, req.user).clone();
        Ok(Json(render_keys(req.user, &u)).into_response())
    })
}

pub async fn create_key(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    sim.with(|st, _| {
        ensure_s3_user(st, req.user);
        let key = new_key(st);
        let u = ensure_s3_user(st, req.user);
        u.keys.push(key);
        let u = u.clone();
        Ok(Json(render_keys(req.user, &u)).into_response())
    })
}

pub async fn delete_key(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let access = req.form()?.req_str("access_key")?;
    sim.with(|st, _| {
        let u = ensure_s3_user(st, req.user);
        if !u.keys.iter().any(|k| k.access_key == access) {
            return Err(ApiErr::not_found(format!("No such key exists. {access}")));
        }
        u.keys.retain(|k| k.access_key != access);
        let u = u.clone();
        Ok(Json(render_keys(req.user, &u)).into_response())
    })
}

/// `PUT /_sim/threenv/buckets/{name}` with `{"num_objects": N, "size_bytes": M}` (sim-only).
pub async fn sim_set_content(
    State(sim): State<ThreenvSim>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    #[derive(serde::Deserialize)]
    struct Content {
        num_objects: i64,
        #[serde(default)]
        size_bytes: i64,
    }
    let content: Content = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => return ApiErr::bad_request(format!("Malformed JSON body: {e}")).into_response(),
    };
    match sim.set_bucket_content(&name, content.num_objects, content.size_bytes) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => ApiErr::not_found(e.to_string()).into_response(),
    }
}
