//! The HTTP core every cloud client is built on: base URL, auth, timeouts, retries of idempotent
//! calls, client-side rate limiting, tracing and a metrics hook.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::error::{ApiError, ErrorParser};
use super::ratelimit::{RateLimit, TokenBucket};
use super::retry::RetryPolicy;
use super::secret::Secret;

/// How a client authenticates every call.
#[derive(Clone, Debug, Default)]
pub enum Auth {
    /// No credentials (per-request bearer tokens may still be set on a [`Request`]).
    #[default]
    None,
    /// A static key in a named header (3nv.io: `apikey: <key>`).
    Header { name: HeaderName, value: Secret },
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
}

impl Auth {
    /// The credential a shared rate-limit bucket is keyed by (hashed by the registry, never stored).
    pub fn credential(&self) -> &str {
        match self {
            Auth::None => "",
            Auth::Header { value, .. } | Auth::Bearer(value) => value.expose(),
        }
    }
}

/// What the metrics hook is told after every HTTP attempt.
#[derive(Debug, Clone)]
pub struct CallRecord {
    pub api: &'static str,
    pub method: Method,
    /// The documented path template, e.g. `/api/v1/provision/jobs/{jobId}`.
    pub endpoint: &'static str,
    /// `None` when no response arrived (timeout, connection error).
    pub status: Option<u16>,
    /// `2xx`, `4xx`, `5xx`, `timeout` or `error`.
    pub status_class: &'static str,
    pub duration: Duration,
    pub attempt: u32,
}

/// Called after every attempt; for metrics.
pub type CallObserver = Arc<dyn Fn(&CallRecord) + Send + Sync>;

/// Settings of one [`HttpCore`].
#[derive(Clone)]
pub struct CoreConfig {
    /// Short API name used in errors, logs and metrics (`threenv`, `nno`, `pax8`).
    pub api: &'static str,
    /// `scheme://host[:port]`; clients append the documented path prefixes.
    pub base_url: String,
    pub auth: Auth,
    pub connect_timeout: Duration,
    /// Deadline of one attempt, from sending to the last body byte.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// Limit of this client's own token bucket; `None` disables client-side rate limiting.
    /// Ignored when `bucket` is set.
    pub rate_limit: Option<RateLimit>,
    /// A bucket shared with other clients of the same account (see
    /// [`RateLimiters`](super::ratelimit::RateLimiters)); takes precedence over `rate_limit`.
    pub bucket: Option<Arc<TokenBucket>>,
    /// A shared connection pool; `None` builds one for this client. Its own timeouts apply, so
    /// build it with [`CoreConfig::build_http_client`].
    pub http_client: Option<reqwest::Client>,
    pub error_parser: ErrorParser,
    pub observer: Option<CallObserver>,
}

impl CoreConfig {
    pub fn new(api: &'static str, base_url: impl Into<String>, error_parser: ErrorParser) -> Self {
        Self {
            api,
            base_url: base_url.into(),
            auth: Auth::None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            rate_limit: Some(RateLimit {
                per_second: 20.0,
                burst: 40,
            }),
            bucket: None,
            http_client: None,
            error_parser,
            observer: None,
        }
    }
}

impl CoreConfig {
    /// A connection pool with this config's connect and request timeouts, to share between clients.
    pub fn build_http_client(&self) -> Result<reqwest::Client, ApiError> {
        reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            .build()
            .map_err(|e| ApiError::InvalidRequest {
                api: self.api,
                message: format!("http client: {e}"),
            })
    }
}

impl fmt::Debug for CoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoreConfig")
            .field("api", &self.api)
            .field("base_url", &self.base_url)
            .field("auth", &self.auth)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("retry", &self.retry)
            .field("rate_limit", &self.rate_limit)
            .finish_non_exhaustive()
    }
}

/// A request body.
#[derive(Debug, Clone, Default)]
pub enum Body {
    #[default]
    Empty,
    Json(Bytes),
    Form(String),
}

/// One call, described by the client before [`HttpCore::send`] sends it.
#[derive(Clone)]
pub struct Request {
    method: Method,
    endpoint: &'static str,
    path: String,
    query: Option<String>,
    body: Body,
    bearer: Option<Secret>,
    headers: Vec<(HeaderName, HeaderValue)>,
    retry_safe: bool,
    build_error: Option<String>,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("endpoint", &self.endpoint)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Request {
    /// `endpoint` is the documented path template (for logs and metrics), `path` the concrete path.
    /// GET, HEAD and DELETE are retry-safe by default; a retried DELETE whose first reply was lost
    /// answers 404, which callers of a delete should treat as "gone".
    pub fn new(method: Method, endpoint: &'static str, path: impl Into<String>) -> Self {
        let retry_safe = matches!(method, Method::GET | Method::HEAD | Method::DELETE);
        Self {
            method,
            endpoint,
            path: path.into(),
            query: None,
            body: Body::Empty,
            bearer: None,
            headers: Vec::new(),
            retry_safe,
            build_error: None,
        }
    }

    pub fn get(endpoint: &'static str, path: impl Into<String>) -> Self {
        Self::new(Method::GET, endpoint, path)
    }

    pub fn post(endpoint: &'static str, path: impl Into<String>) -> Self {
        Self::new(Method::POST, endpoint, path)
    }

    pub fn put(endpoint: &'static str, path: impl Into<String>) -> Self {
        Self::new(Method::PUT, endpoint, path)
    }

    pub fn patch(endpoint: &'static str, path: impl Into<String>) -> Self {
        Self::new(Method::PATCH, endpoint, path)
    }

    pub fn delete(endpoint: &'static str, path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, endpoint, path)
    }

    /// Query string from a serializable struct or slice of pairs (`None` fields are skipped).
    pub fn query<T: Serialize + ?Sized>(mut self, query: &T) -> Self {
        match serde_urlencoded::to_string(query) {
            Ok(q) if q.is_empty() => {}
            Ok(q) => self.query = Some(q),
            Err(e) => self.build_error = Some(format!("query: {e}")),
        }
        self
    }

    /// JSON body.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_json::to_vec(body) {
            Ok(v) => self.body = Body::Json(Bytes::from(v)),
            Err(e) => self.build_error = Some(format!("json body: {e}")),
        }
        self
    }

    /// `application/x-www-form-urlencoded` body.
    pub fn form<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_urlencoded::to_string(body) {
            Ok(v) => self.body = Body::Form(v),
            Err(e) => self.build_error = Some(format!("form body: {e}")),
        }
        self
    }

    /// Per-request bearer token (overrides the core's auth).
    pub fn bearer(mut self, token: Secret) -> Self {
        self.bearer = Some(token);
        self
    }

    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Marks a non-idempotent-looking call as safe to repeat (e.g. an OAuth2 token request).
    /// Never use this for a create.
    pub fn retry_safe(mut self, safe: bool) -> Self {
        self.retry_safe = safe;
        self
    }

    pub fn method(&self) -> &Method {
        &self.method
    }

    pub fn endpoint(&self) -> &'static str {
        self.endpoint
    }
}

/// A successful (2xx) response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Shared HTTP machinery of one client. Cheap to clone.
#[derive(Clone)]
pub struct HttpCore {
    cfg: Arc<CoreConfig>,
    base: String,
    client: reqwest::Client,
    bucket: Option<Arc<TokenBucket>>,
}

impl fmt::Debug for HttpCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpCore").field("cfg", &self.cfg).finish()
    }
}

impl HttpCore {
    pub fn new(cfg: CoreConfig) -> Result<Self, ApiError> {
        let base = normalize_base(cfg.api, &cfg.base_url)?;
        let client = match &cfg.http_client {
            Some(client) => client.clone(),
            None => cfg.build_http_client()?,
        };
        let bucket = cfg.bucket.clone().or_else(|| {
            cfg.rate_limit
                .map(|limit| Arc::new(TokenBucket::new(limit)))
        });
        Ok(Self {
            cfg: Arc::new(cfg),
            base,
            client,
            bucket,
        })
    }

    pub fn api(&self) -> &'static str {
        self.cfg.api
    }

    /// The normalised `scheme://host[:port]` root.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Sends `req`, retrying transient failures only when the call is retry-safe. Runs in a
    /// `cloud_call` span carrying the API, method and endpoint template (never ids or secrets).
    pub async fn send(&self, req: Request) -> Result<Response, ApiError> {
        let span = tracing::debug_span!(
            "cloud_call",
            api = self.cfg.api,
            method = %req.method,
            endpoint = req.endpoint
        );
        self.send_inner(req).instrument(span).await
    }

    async fn send_inner(&self, req: Request) -> Result<Response, ApiError> {
        let api = self.cfg.api;
        if let Some(message) = req.build_error.clone() {
            return Err(ApiError::InvalidRequest { api, message });
        }
        let max = if req.retry_safe {
            self.cfg.retry.max_attempts.max(1)
        } else {
            1
        };
        let mut attempt = 1;
        loop {
            let result = self.attempt(&req, attempt).await;
            match result {
                Err(err) if err.is_transient() && attempt < max => {
                    let Some(wait) = self.cfg.retry.delay(attempt, err.retry_after()) else {
                        return Err(err);
                    };
                    tracing::debug!(api, endpoint = req.endpoint, attempt, wait_ms = wait.as_millis() as u64, error = %err, "retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Sends `req` and decodes the JSON body.
    pub async fn json<T: DeserializeOwned>(&self, req: Request) -> Result<T, ApiError> {
        let resp = self.send(req).await?;
        decode(self.cfg.api, &resp)
    }

    /// Sends `req` and ignores the body.
    pub async fn empty(&self, req: Request) -> Result<(), ApiError> {
        self.send(req).await.map(|_| ())
    }

    async fn attempt(&self, req: &Request, attempt: u32) -> Result<Response, ApiError> {
        let api = self.cfg.api;
        if let Some(bucket) = &self.bucket {
            bucket.acquire().await;
        }
        let mut url = format!("{}{}", self.base, req.path);
        if let Some(q) = &req.query {
            url.push('?');
            url.push_str(q);
        }
        let mut builder = self.client.request(req.method.clone(), &url);
        builder = match (&req.bearer, &self.cfg.auth) {
            (Some(token), _) | (None, Auth::Bearer(token)) => builder.bearer_auth(token.expose()),
            (None, Auth::Header { name, value }) => builder.header(name, value.expose()),
            (None, Auth::None) => builder,
        };
        for (name, value) in &req.headers {
            builder = builder.header(name, value);
        }
        builder = match &req.body {
            Body::Empty => builder,
            Body::Json(b) => builder
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(b.clone()),
            Body::Form(f) => builder
                .header(
                    http::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(f.clone()),
        };
        builder = builder.header(http::header::ACCEPT, "application/json");

        let started = Instant::now();
        let outcome = async {
            let resp = builder.send().await?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        }
        .await;
        let duration = started.elapsed();
        let (status, class, result) = match outcome {
            Ok((status, headers, body)) if status.is_success() => (
                Some(status.as_u16()),
                "2xx",
                Ok(Response {
                    status,
                    headers,
                    body,
                }),
            ),
            Ok((status, headers, body)) => (
                Some(status.as_u16()),
                if status.is_server_error() {
                    "5xx"
                } else {
                    "4xx"
                },
                Err(ApiError::from_response(
                    api,
                    status,
                    &headers,
                    &body,
                    self.cfg.error_parser,
                )),
            ),
            Err(e) if e.is_timeout() => (None, "timeout", Err(ApiError::Timeout { api })),
            Err(e) => (
                None,
                "error",
                Err(ApiError::Connection {
                    api,
                    message: error_chain(&e),
                }),
            ),
        };
        tracing::debug!(
            api,
            method = %req.method,
            endpoint = req.endpoint,
            status = status.unwrap_or(0),
            status_class = class,
            duration_ms = duration.as_millis() as u64,
            attempt,
            "cloud api call"
        );
        if let Some(observer) = &self.cfg.observer {
            observer(&CallRecord {
                api,
                method: req.method.clone(),
                endpoint: req.endpoint,
                status,
                status_class: class,
                duration,
                attempt,
            });
        }
        result
    }
}

/// Decodes a JSON response body into `T`.
pub fn decode<T: DeserializeOwned>(api: &'static str, resp: &Response) -> Result<T, ApiError> {
    serde_json::from_slice(&resp.body).map_err(|e| ApiError::Decode {
        api,
        status: resp.status.as_u16(),
        message: e.to_string(),
    })
}

/// Percent-encodes one path segment (ids supplied by callers must not alter the path).
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

fn normalize_base(api: &'static str, raw: &str) -> Result<String, ApiError> {
    let invalid = |message: String| ApiError::InvalidRequest { api, message };
    let url = reqwest::Url::parse(raw).map_err(|e| invalid(format!("base URL {raw:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "base URL {raw:?}: scheme must be http or https"
        )));
    }
    if url.host_str().is_none() {
        return Err(invalid(format!("base URL {raw:?}: no host")));
    }
    if url.path() != "/" || url.query().is_some() {
        return Err(invalid(format!(
            "base URL {raw:?}: give only scheme://host[:port]; the client adds the API path"
        )));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser(_: &[u8]) -> Option<super::super::ErrorBody> {
        None
    }

    #[test]
    fn base_url_rules() {
        assert_eq!(
            normalize_base("t", "http://127.0.0.1:80/").unwrap(),
            "http://127.0.0.1:80"
        );
        assert!(normalize_base("t", "http://h/v1").is_err());
        assert!(normalize_base("t", "ftp://h").is_err());
    }

    #[test]
    fn debug_redacts_secrets() {
        let mut cfg = CoreConfig::new("t", "http://127.0.0.1:1", parser);
        cfg.auth = Auth::Header {
            name: HeaderName::from_static("apikey"),
            value: Secret::new("super-secret-key"),
        };
        let core = HttpCore::new(cfg).unwrap();
        let dbg = format!("{core:?}");
        assert!(!dbg.contains("super-secret-key"), "{dbg}");
        let req = Request::get("/x", "/x").bearer(Secret::new("tok-123"));
        assert!(!format!("{req:?}").contains("tok-123"));
    }

    #[test]
    fn segment_encoding() {
        assert_eq!(seg("a b/c"), "a%20b%2Fc");
        assert_eq!(seg("abc-1_2.3~"), "abc-1_2.3~");
    }
}
