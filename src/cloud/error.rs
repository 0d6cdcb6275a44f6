//! The one error type of every cloud client: transient vs terminal vs not-found/conflict/unauthorized.

use std::time::Duration;

use http::{HeaderMap, StatusCode};

/// What an API's error envelope says, extracted by the API-specific [`ErrorParser`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorBody {
    /// Machine-readable code when the API has one (NNO `error.code`).
    pub code: Option<String>,
    /// The API's own human-readable message.
    pub message: String,
    /// Correlation id when the API returns one (NNO `error.requestId`).
    pub request_id: Option<String>,
}

/// Extracts the API's error envelope from a response body; `None` when the body is not one.
pub type ErrorParser = fn(&[u8]) -> Option<ErrorBody>;

/// A failed call to an external API.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// 401/403: missing, wrong or expired credentials.
    #[error("{api}: unauthorized ({status}): {message}")]
    Unauthorized {
        api: &'static str,
        status: u16,
        message: String,
    },
    /// 404: the object (or route) does not exist.
    #[error("{api}: not found: {message}")]
    NotFound { api: &'static str, message: String },
    /// 409: the request conflicts with the object's current state.
    #[error("{api}: conflict: {message}")]
    Conflict {
        api: &'static str,
        code: Option<String>,
        message: String,
    },
    /// Any other 4xx: the request is wrong and retrying it unchanged will not help.
    #[error("{api}: request rejected ({status}): {message}")]
    Rejected {
        api: &'static str,
        status: u16,
        code: Option<String>,
        message: String,
        request_id: Option<String>,
    },
    /// 429: slow down; `retry_after` is what the server asked for.
    #[error("{api}: throttled (429): {message}")]
    Throttled {
        api: &'static str,
        retry_after: Option<Duration>,
        message: String,
    },
    /// 5xx: the server failed; the request may or may not have been applied.
    #[error("{api}: server error ({status}): {message}")]
    Server {
        api: &'static str,
        status: u16,
        retry_after: Option<Duration>,
        message: String,
    },
    /// No complete response within the request timeout; the request may have been applied.
    #[error("{api}: request timed out")]
    Timeout { api: &'static str },
    /// Could not connect, or the connection broke before a complete response.
    #[error("{api}: connection failed: {message}")]
    Connection { api: &'static str, message: String },
    /// A 2xx response whose body is not what the API documents.
    #[error("{api}: unexpected response body ({status}): {message}")]
    Decode {
        api: &'static str,
        status: u16,
        message: String,
    },
    /// The request could not be built (bad base URL, unserialisable body).
    #[error("{api}: invalid request: {message}")]
    InvalidRequest { api: &'static str, message: String },
}

impl ApiError {
    /// Classifies a non-2xx response, extracting the API's own message with `parser`.
    pub fn from_response(
        api: &'static str,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        parser: ErrorParser,
    ) -> Self {
        let parsed = parser(body).unwrap_or_else(|| ErrorBody {
            message: fallback_message(status, body),
            ..ErrorBody::default()
        });
        let retry_after = crate::cloud::retry::parse_retry_after(headers);
        let code = status.as_u16();
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Self::Unauthorized {
                api,
                status: code,
                message: parsed.message,
            },
            StatusCode::NOT_FOUND => Self::NotFound {
                api,
                message: parsed.message,
            },
            StatusCode::CONFLICT => Self::Conflict {
                api,
                code: parsed.code,
                message: parsed.message,
            },
            StatusCode::TOO_MANY_REQUESTS => Self::Throttled {
                api,
                retry_after,
                message: parsed.message,
            },
            s if s.is_server_error() => Self::Server {
                api,
                status: code,
                retry_after,
                message: parsed.message,
            },
            _ => Self::Rejected {
                api,
                status: code,
                code: parsed.code,
                message: parsed.message,
                request_id: parsed.request_id,
            },
        }
    }

    /// Whether trying again later may succeed (5xx, 429, timeout, connection).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Throttled { .. }
                | Self::Server { .. }
                | Self::Timeout { .. }
                | Self::Connection { .. }
        )
    }

    /// Whether the outcome of a write is unknown: it may have been applied before the failure.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            Self::Server { .. } | Self::Timeout { .. } | Self::Connection { .. }
        )
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }

    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Self::Unauthorized { .. })
    }

    /// The delay the server asked for with `Retry-After`, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Throttled { retry_after, .. } | Self::Server { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Unauthorized { status, .. }
            | Self::Rejected { status, .. }
            | Self::Server { status, .. }
            | Self::Decode { status, .. } => Some(*status),
            Self::NotFound { .. } => Some(404),
            Self::Conflict { .. } => Some(409),
            Self::Throttled { .. } => Some(429),
            Self::Timeout { .. } | Self::Connection { .. } | Self::InvalidRequest { .. } => None,
        }
    }

    /// The API's own message (or a description of the transport failure).
    pub fn message(&self) -> String {
        match self {
            Self::Unauthorized { message, .. }
            | Self::NotFound { message, .. }
            | Self::Conflict { message, .. }
            | Self::Rejected { message, .. }
            | Self::Throttled { message, .. }
            | Self::Server { message, .. }
            | Self::Connection { message, .. }
            | Self::Decode { message, .. }
            | Self::InvalidRequest { message, .. } => message.clone(),
            Self::Timeout { .. } => "request timed out".to_owned(),
        }
    }
}

fn fallback_message(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text.chars().take(300).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_none(_: &[u8]) -> Option<ErrorBody> {
        None
    }

    #[test]
    fn classification() {
        let h = HeaderMap::new();
        let e = |s: u16| {
            ApiError::from_response("t", StatusCode::from_u16(s).unwrap(), &h, b"x", parse_none)
        };
        assert!(e(500).is_transient() && e(503).outcome_unknown());
        assert!(e(429).is_transient() && !e(429).outcome_unknown());
        assert!(!e(400).is_transient());
        assert!(e(404).is_not_found() && e(409).is_conflict() && e(401).is_unauthorized());
        assert_eq!(e(422).status(), Some(422));
        assert_eq!(e(400).message(), "x");
    }
}
