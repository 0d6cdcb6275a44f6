//! Typed client of Pax8 vendor provisioning (`/v2/…`) with the OAuth2 client-credentials token
//! (`/v1/token`, audience `api://provisioning`) cached until shortly before it expires.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Mutex;

use super::http::{CoreConfig, HttpCore, Request, seg};
use super::{ApiError, ErrorBody, Secret};

mod types;

pub use types::*;

const API: &str = "pax8";
pub const AUDIENCE: &str = "api://provisioning";

/// Parses Pax8 errors: the Spring shape `{"status","error","message","path"}` and the token
/// endpoint's OAuth2 shape `{"error","error_description"}`.
pub fn parse_error(body: &[u8]) -> Option<ErrorBody> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    if let Some(desc) = s("error_description") {
        return Some(ErrorBody {
            code: s("error"),
            message: desc,
            request_id: None,
        });
    }
    let message = s("message").or_else(|| s("error"))?;
    Some(ErrorBody {
        code: s("error"),
        message,
        request_id: None,
    })
}

/// OAuth2 client credentials.
#[derive(Debug, Clone)]
pub struct Pax8Credentials {
    pub client_id: String,
    pub client_secret: Secret,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

struct CachedToken {
    token: Secret,
    refresh_at: Instant,
}

/// Client of Pax8 vendor provisioning.
pub struct Pax8Client {
    core: HttpCore,
    creds: Pax8Credentials,
    token: Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for Pax8Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pax8Client")
            .field("core", &self.core)
            .field("client_id", &self.creds.client_id)
            .finish_non_exhaustive()
    }
}

impl Pax8Client {
    /// Default settings for `base_url` (`scheme://host[:port]`). To share one rate-limit bucket
    /// between clients of the same client id, set `bucket` from a
    /// [`RateLimiters`](crate::cloud::ratelimit::RateLimiters) keyed by it.
    pub fn config(base_url: &str, _creds: &Pax8Credentials) -> CoreConfig {
        CoreConfig::new(API, base_url, parse_error)
    }

    pub fn new(base_url: &str, creds: Pax8Credentials) -> Result<Self, ApiError> {
        let cfg = Self::config(base_url, &creds);
        Self::with_config(cfg, creds)
    }

    pub fn with_config(cfg: CoreConfig, creds: Pax8Credentials) -> Result<Self, ApiError> {
        Ok(Self {
            core: HttpCore::new(cfg)?,
            creds,
            token: Mutex::new(None),
        })
    }

    pub fn core(&self) -> &HttpCore {
        &self.core
    }

    /// A valid access token: the cached one, or a new one from `POST /v1/token`.
    pub async fn access_token(&self) -> Result<Secret, ApiError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref()
            && Instant::now() < t.refresh_at
        {
            return Ok(t.token.clone());
        }
        let body = serde_json::json!({
            "client_id": self.creds.client_id,
            "client_secret": self.creds.client_secret.expose(),
            "audience": AUDIENCE,
            "grant_type": "client_credentials",
        });
        // Asking for a token twice is harmless, so this POST may be retried.
        let req = Request::post("/v1/token", "/v1/token")
            .json(&body)
            .retry_safe(true);
        let resp: TokenResponse = self.core.json(req).await?;
        let ttl = Duration::from_secs(resp.expires_in.unwrap_or(300));
        // Refresh a minute early (or at 90% of short lifetimes).
        let margin = Duration::from_secs(60).min(ttl / 10);
        let token = Secret::new(resp.access_token);
        *cached = Some(CachedToken {
            token: token.clone(),
            refresh_at: Instant::now() + ttl - margin,
        });
        Ok(token)
    }

    /// Forgets the cached token so the next call fetches a new one.
    pub async fn invalidate_token(&self) {
        *self.token.lock().await = None;
    }

    /// Sends with the bearer token; on 401 fetches a new token and tries once more (a 401
    /// means the request was not processed, so this is safe for creates too).
    async fn call<T: DeserializeOwned>(&self, req: Request) -> Result<T, ApiError> {
        let token = self.access_token().await?;
        match self.core.json(req.clone().bearer(token)).await {
            Err(e) if e.status() == Some(401) => {
                self.invalidate_token().await;
                let token = self.access_token().await?;
                self.core.json(req.bearer(token)).await
            }
            other => other,
        }
    }

    pub async fn list_provisioners(&self, p: PageRequest) -> Result<Page<Provisioner>, ApiError> {
        self.call(Request::get("/v2/provisioners", "/v2/provisioners").query(&p))
            .await
    }

    pub async fn get_provisioner(&self, id: &str) -> Result<Provisioner, ApiError> {
        let path = format!("/v2/provisioners/{}", seg(id));
        self.call(Request::get("/v2/provisioners/{provisionerId}", path))
            .await
    }

    pub async fn list_webhooks(
        &self,
        provisioner: &str,
        p: PageRequest,
    ) -> Result<Page<Webhook>, ApiError> {
        let path = format!("/v2/provisioners/{}/webhooks", seg(provisioner));
        self.call(Request::get("/v2/provisioners/{provisionerId}/webhooks", path).query(&p))
            .await
    }

    /// Registers a webhook; the answer carries the generated shared secret (only here in full).
    pub async fn create_webhook(
        &self,
        provisioner: &str,
        body: &WebhookCreate,
    ) -> Result<Webhook, ApiError> {
        let path = format!("/v2/provisioners/{}/webhooks", seg(provisioner));
        self.call(Request::post("/v2/provisioners/{provisionerId}/webhooks", path).json(body))
            .await
    }

    pub async fn latest_webhook(&self, provisioner: &str) -> Result<Webhook, ApiError> {
        let path = format!("/v2/provisioners/{}/webhooks/latest", seg(provisioner));
        self.call(Request::get(
            "/v2/provisioners/{provisionerId}/webhooks/latest",
            path,
        ))
        .await
    }

    pub async fn get_webhook(&self, provisioner: &str, webhook: &str) -> Result<Webhook, ApiError> {
        let path = format!(
            "/v2/provisioners/{}/webhooks/{}",
            seg(provisioner),
            seg(webhook)
        );
        self.call(Request::get(
            "/v2/provisioners/{provisionerId}/webhooks/{webhookId}",
            path,
        ))
        .await
    }

    /// Simulation only: records an order and delivers it to the registered webhooks.
    pub async fn create_order_event(&self, event: &OrderEvent) -> Result<OrderEvent, ApiError> {
        let ep = "/v2/provision-simulations/order-events";
        self.call(Request::post(ep, ep).json(event)).await
    }

    pub async fn list_provision_requests(
        &self,
        p: PageRequest,
    ) -> Result<Page<ProvisionRequest>, ApiError> {
        let ep = "/v2/provision-requests";
        self.call(Request::get(ep, ep).query(&p)).await
    }

    pub async fn list_unfulfilled(
        &self,
        p: PageRequest,
    ) -> Result<Page<ProvisionRequest>, ApiError> {
        let ep = "/v2/provision-requests/unfulfilled";
        self.call(Request::get(ep, ep).query(&p)).await
    }

    /// Every unfulfilled request, page by page (at most `max_pages` pages of 100).
    pub async fn all_unfulfilled(&self, max_pages: u32) -> Result<Vec<ProvisionRequest>, ApiError> {
        let mut out = Vec::new();
        for n in 0..max_pages.max(1) {
            let page = self
                .list_unfulfilled(PageRequest {
                    page: Some(n),
                    size: Some(100),
                })
                .await?;
            let last =
                i64::from(n) + 1 >= i64::from(page.page.total_pages) || page.content.is_empty();
            out.extend(page.content);
            if last {
                break;
            }
        }
        Ok(out)
    }

    pub async fn get_provision_request(&self, id: &str) -> Result<ProvisionRequest, ApiError> {
        let path = format!("/v2/provision-requests/{}", seg(id));
        self.call(Request::get(
            "/v2/provision-requests/{provisionRequestId}",
            path,
        ))
        .await
    }

    pub async fn list_details(
        &self,
        request: &str,
        p: PageRequest,
    ) -> Result<Page<ProvisionDetail>, ApiError> {
        let path = format!("/v2/provision-requests/{}/details", seg(request));
        self.call(
            Request::get("/v2/provision-requests/{provisionRequestId}/details", path).query(&p),
        )
        .await
    }

    pub async fn latest_detail(&self, request: &str) -> Result<ProvisionDetail, ApiError> {
        let path = format!("/v2/provision-requests/{}/details/latest", seg(request));
        self.call(Request::get(
            "/v2/provision-requests/{provisionRequestId}/details/latest",
            path,
        ))
        .await
    }

    pub async fn get_detail(
        &self,
        request: &str,
        detail: &str,
    ) -> Result<ProvisionDetail, ApiError> {
        let path = format!(
            "/v2/provision-requests/{}/details/{}",
            seg(request),
            seg(detail)
        );
        self.call(Request::get(
            "/v2/provision-requests/{provisionRequestId}/details/{provisionDetailId}",
            path,
        ))
        .await
    }

    pub async fn list_attempts(
        &self,
        request: &str,
        detail: Option<&str>,
        p: PageRequest,
    ) -> Result<Page<ProvisionAttempt>, ApiError> {
        let path = format!("/v2/provision-requests/{}/attempts", seg(request));
        let mut q: Vec<(&str, String)> = vec![];
        if let Some(d) = detail {
            q.push(("provisionDetailId", d.to_owned()));
        }
        push_page(&mut q, p);
        self.call(
            Request::get("/v2/provision-requests/{provisionRequestId}/attempts", path).query(&q),
        )
        .await
    }

    /// Asks Pax8 to deliver the request again (a new attempt).
    pub async fn create_attempt(&self, request: &str) -> Result<ProvisionAttempt, ApiError> {
        let path = format!("/v2/provision-requests/{}/attempts", seg(request));
        self.call(Request::post(
            "/v2/provision-requests/{provisionRequestId}/attempts",
            path,
        ))
        .await
    }

    pub async fn latest_attempt(&self, request: &str) -> Result<ProvisionAttempt, ApiError> {
        let path = format!("/v2/provision-requests/{}/attempts/latest", seg(request));
        self.call(Request::get(
            "/v2/provision-requests/{provisionRequestId}/attempts/latest",
            path,
        ))
        .await
    }

    pub async fn get_attempt(
        &self,
        request: &str,
        attempt: &str,
    ) -> Result<ProvisionAttempt, ApiError> {
        let path = format!(
            "/v2/provision-requests/{}/attempts/{}",
            seg(request),
            seg(attempt)
        );
        self.call(Request::get(
            "/v2/provision-requests/{provisionRequestId}/attempts/{provisionAttemptId}",
            path,
        ))
        .await
    }

    pub async fn list_results(
        &self,
        request: &str,
        attempt: Option<&str>,
        p: PageRequest,
    ) -> Result<Page<ProvisionResult>, ApiError> {
        let path = format!("/v2/provision-requests/{}/results", seg(request));
        let mut q: Vec<(&str, String)> = vec![];
        if let Some(a) = attempt {
            q.push(("provisionAttemptId", a.to_owned()));
        }
        push_page(&mut q, p);
        self.call(
            Request::get("/v2/provision-requests/{provisionRequestId}/results", path).query(&q),
        )
        .await
    }

    /// Reports the outcome of a provision request.
    pub async fn create_result(
        &self,
        request: &str,
        result: &ProvisionResult,
    ) -> Result<ProvisionResult, ApiError> {
        let path = format!("/v2/provision-requests/{}/results", seg(request));
        self.call(
            Request::post("/v2/provision-requests/{provisionRequestId}/results", path).json(result),
        )
        .await
    }

    pub async fn latest_result(&self, request: &str) -> Result<ProvisionResult, ApiError> {
        let path = format!("/v2/provision-requests/{}/results/latest", seg(request));
        self.call(Request::get(
            "/v2/provision-requests/{provisionRequestId}/results/latest",
            path,
        ))
        .await
    }

    pub async fn get_result(
        &self,
        request: &str,
        result: &str,
    ) -> Result<ProvisionResult, ApiError> {
        let path = format!(
            "/v2/provision-requests/{}/results/{}",
            seg(request),
            seg(result)
        );
        self.call(Request::get(
            "/v2/provision-requests/{provisionRequestId}/results/{provisionResultId}",
            path,
        ))
        .await
    }
}

fn push_page(q: &mut Vec<(&str, String)>, p: PageRequest) {
    if let Some(n) = p.page {
        q.push(("page", n.to_string()));
    }
    if let Some(s) = p.size {
        q.push(("size", s.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_error_shapes() {
        let e =
            parse_error(br#"{"status":404,"error":"Not Found","message":"gone","path":"/v2/x"}"#)
                .unwrap();
        assert_eq!(
            (e.code.as_deref(), e.message.as_str()),
            (Some("Not Found"), "gone")
        );
        let e = parse_error(br#"{"error":"access_denied","error_description":"Unauthorized"}"#)
            .unwrap();
        assert_eq!(
            (e.code.as_deref(), e.message.as_str()),
            (Some("access_denied"), "Unauthorized")
        );
        assert!(parse_error(b"[]").is_none());
    }
}
