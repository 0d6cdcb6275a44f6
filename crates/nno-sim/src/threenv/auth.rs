//! `apikey` header authentication of the 3nv.io simulator (401 with the 3nv envelope otherwise).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ThreenvSim;
use super::errors::ApiErr;
use super::request::UserId;

/// Resolves the caller from the `apikey` header (messages as the API gateway words them).
pub async fn require_api_key(
    State(sim): State<ThreenvSim>,
    mut req: Request,
    next: Next,
) -> Response {
    let key = req
        .headers()
        .get("apikey")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty());
    let Some(key) = key else {
        return ApiErr::unauthorized("No API key found in request").into_response();
    };
    match sim.user_for_key(key) {
        Some(user) => {
            req.extensions_mut().insert(UserId(user));
            next.run(req).await
        }
        None => ApiErr::unauthorized("Invalid authentication credentials").into_response(),
    }
}
