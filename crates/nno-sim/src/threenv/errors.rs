//! The 3nv.io error envelope `{"errors":{"Error":"…"}}` and the status codes the simulator uses.
//!
//! The reference documents the envelope and some messages (e.g. "No such virtual machine exists.
//! <uuid>", "Provided billing account is incorrect.") but rarely the status code. Where it is silent
//! the simulator answers: 400 for malformed or invalid input, 401 for a missing/wrong `apikey`,
//! 404 for unknown objects (and unknown location slugs / paths), 409 for operations the current
//! state forbids (vCPU/RAM change on a running VM, password change on a VM that is not running,
//! bucket name taken, non-empty bucket, non-empty or default network, attached disk or firewall).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answered with the 3nv.io envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ApiErr {
    pub status: StatusCode,
    pub message: String,
}

impl ApiErr {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// The documented message for an unknown VM.
    pub fn no_vm(uuid: &str) -> Self {
        Self::not_found(format!("No such virtual machine exists. {uuid}"))
    }

    /// The documented message for an invalid billing account.
    pub fn billing_account() -> Self {
        Self::bad_request("Provided billing account is incorrect.")
    }

    pub fn missing(param: &str) -> Self {
        Self::bad_request(format!("Missing required parameter: {param}"))
    }

    pub fn invalid(param: &str, why: &str) -> Self {
        Self::bad_request(format!("Invalid value for parameter {param}: {why}"))
    }
}

impl IntoResponse for ApiErr {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "errors": { "Error": self.message } })),
        )
            .into_response()
    }
}

/// Result type of every simulator handler.
pub type ApiResult<T = Response> = Result<T, ApiErr>;
