//! Typed client of the 3nv.io cloud API (`/v1/…`): construction, error envelope parsing and
//! location slug routing. The endpoint groups live in the submodules, each adding methods to
//! [`ThreenvClient`] next to its request/response types.
//!
//! Location-specific endpoints (VMs and everything under `user-resource/vm`, billing resources,
//! resource billing, floating IPs) take a `loc: Option<&str>` slug: `None` addresses the account's
//! default location (no slug in the URL), `Some("bus02")` calls `/v1/bus02/…`. All other endpoints
//! are location independent and take no slug.
//!
//! Writes (POST/PUT/PATCH) are sent exactly once by the shared core; after a transient error the
//! caller must look (list/get) before creating again. GET and DELETE are retried.

pub mod bucket;
pub mod catalog;
pub mod de;
pub mod firewall;
pub mod floating_ip;
pub mod load_balancer;
pub mod network;
pub mod service_package;
pub mod storage;
pub mod vm;

use http::HeaderName;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{ApiError, ErrorBody};
use super::http::{Auth, CoreConfig, HttpCore, seg};
use super::secret::Secret;

/// The API name in errors, logs and metrics.
pub const API: &str = "threenv";

/// Parses the 3nv.io error envelope `{"errors":{"Error":"…"}}` (also the
/// `{"errors":{"<kind>":{"msg":"…"}}}` form some gateway errors use).
pub fn parse_error(body: &[u8]) -> Option<ErrorBody> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let errors = v.get("errors")?.as_object()?;
    let (code, message) = match errors.get("Error") {
        Some(Value::String(m)) => (None, m.clone()),
        _ => {
            let (k, inner) = errors.iter().next()?;
            let msg = match inner {
                Value::String(m) => m.clone(),
                other => other.get("msg")?.as_str()?.to_owned(),
            };
            (Some(k.clone()), msg)
        }
    };
    Some(ErrorBody {
        code,
        message,
        request_id: None,
    })
}

/// `{"success": true}` answers of action endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Success {
    #[serde(deserialize_with = "de::nd")]
    pub success: bool,
}

/// Client of one 3nv.io account (one API key).
#[derive(Debug, Clone)]
pub struct ThreenvClient {
    core: std::sync::Arc<HttpCore>,
}

impl ThreenvClient {
    /// Default core settings for `base_url` (`scheme://host[:port]`) and an API key; adjust
    /// timeouts, retries or the rate limit before [`ThreenvClient::from_config`].
    pub fn config(base_url: impl Into<String>, api_key: Secret) -> CoreConfig {
        let mut cfg = CoreConfig::new(API, base_url, parse_error);
        cfg.auth = Auth::Header {
            name: HeaderName::from_static("apikey"),
            value: api_key,
        };
        cfg
    }

    pub fn new(base_url: impl Into<String>, api_key: Secret) -> Result<Self, ApiError> {
        Self::from_config(Self::config(base_url, api_key))
    }

    pub fn from_config(cfg: CoreConfig) -> Result<Self, ApiError> {
        Ok(Self {
            core: std::sync::Arc::new(HttpCore::new(cfg)?),
        })
    }

    pub fn core(&self) -> &HttpCore {
        &self.core
    }
}

/// `/v1[/{slug}]{rest}` for location-specific endpoints.
pub(crate) fn located(loc: Option<&str>, rest: &str) -> String {
    match loc {
        None => format!("/v1{rest}"),
        Some(slug) => format!("/v1/{}{rest}", seg(slug)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_error_envelopes() {
        let e =
            parse_error(br#"{"errors":{"Error":"No such virtual machine exists. x"}}"#).unwrap();
        assert_eq!(
            (e.code, e.message.as_str()),
            (None, "No such virtual machine exists. x")
        );
        let e = parse_error(
            br#"{"errors":{"consumer::resource_forbidden":{"msg":"Consumer not allowed to access resource.","type":"consumer"}}}"#,
        )
        .unwrap();
        assert_eq!(e.code.as_deref(), Some("consumer::resource_forbidden"));
        assert_eq!(e.message, "Consumer not allowed to access resource.");
        assert!(parse_error(b"not json").is_none());
        assert!(parse_error(br#"{"error":{"message":"x"}}"#).is_none());
    }

    #[test]
    fn location_slug_routing() {
        assert_eq!(located(None, "/user-resource/vm"), "/v1/user-resource/vm");
        assert_eq!(
            located(Some("bus02"), "/user-resource/vm"),
            "/v1/bus02/user-resource/vm"
        );
        assert_eq!(located(Some("a/b"), "/x"), "/v1/a%2Fb/x");
    }
}
