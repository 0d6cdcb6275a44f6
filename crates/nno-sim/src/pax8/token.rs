//! The OAuth2 client-credentials token endpoint (`POST /v1/token`) and the bearer check of
//! every `/v2` call.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::{AUDIENCE, Pax8Sim, SCOPE, envelope};

#[derive(Debug, Default, Deserialize)]
struct TokenRequest {
    client_id: Option<String>,
    client_secret: Option<String>,
    audience: Option<String>,
    grant_type: Option<String>,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// Accepts a JSON or form body with `client_id`, `client_secret`, `audience` and
/// `grant_type=client_credentials`.
pub async fn issue(State(sim): State<Arc<Pax8Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    let ct = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let parsed: Result<TokenRequest, String> = if ct
        .starts_with("application/x-www-form-urlencoded")
    {
        serde_urlencoded::from_bytes(&body).map_err(|e| e.to_string())
    } else if ct.starts_with("application/json") {
        serde_json::from_slice(&body).map_err(|e| e.to_string())
    } else {
        Err("Content-Type must be application/json or application/x-www-form-urlencoded".to_owned())
    };
    let req = match parsed {
        Ok(r) => r,
        Err(e) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &e),
    };
    match req.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(other) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("Unsupported grant type: {other}"),
            );
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing required parameter: grant_type",
            );
        }
    }
    let (Some(id), Some(secret)) = (req.client_id.as_deref(), req.client_secret.as_deref()) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameters: client_id and client_secret",
        );
    };
    if id != sim.client_id || secret != sim.client_secret {
        return oauth_error(StatusCode::UNAUTHORIZED, "access_denied", "Unauthorized");
    }
    match req.audience.as_deref() {
        Some(AUDIENCE) => {}
        Some(other) => {
            return oauth_error(
                StatusCode::FORBIDDEN,
                "access_denied",
                &format!("Service not enabled within domain: {other}"),
            );
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing required parameter: audience",
            );
        }
    }
    let token = URL_SAFE_NO_PAD.encode(sim.random_bytes());
    sim.tokens
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(token.clone(), Instant::now() + sim.token_ttl);
    Json(json!({
        "access_token": token,
        "expires_in": sim.token_ttl.as_secs(),
        "token_type": "Bearer",
        "scope": SCOPE,
    }))
    .into_response()
}

/// Rejects `/v2` calls without a live bearer token.
pub async fn require(State(sim): State<Arc<Pax8Sim>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let token = crate::bearer_token(req.headers()).map(str::to_owned);
    let Some(token) = token else {
        return envelope(
            StatusCode::UNAUTHORIZED,
            "Full authentication is required to access this resource",
            Some(&path),
            None,
        );
    };
    let valid = {
        let mut tokens = sim.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        tokens.retain(|_, exp| *exp > now);
        tokens.contains_key(&token)
    };
    if !valid {
        return envelope(
            StatusCode::UNAUTHORIZED,
            "Invalid or expired access token",
            Some(&path),
            None,
        );
    }
    next.run(req).await
}
