//! Resource endpoints: parses `/api/...` and `/apis/...` paths into a request on one resource and
//! dispatches by verb; panics in a handler become a 500 `Status` instead of a dropped connection.

mod delete;
mod read;
mod watch;
mod write;

pub use delete::{DeleteOpts, Propagation, after_removal as after_removal_pub, delete_object};

use crate::discovery;
use crate::registry::{Registry, ResourceInfo};
use crate::status::{ApiError, ApiResult, json_response};
use crate::store::Store;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use serde_json::Value;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

/// Shared server state.
#[derive(Debug)]
pub struct App {
    pub store: Store,
    pub registry: Registry,
    /// Cancelled on stop so open watches end and the server can shut down.
    pub shutdown: tokio_util::sync::CancellationToken,
}

/// Decoded query string.
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(q: Option<&str>) -> ApiResult<Self> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q.unwrap_or_default())
            .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))?;
        Ok(Self(pairs))
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }

    pub fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true" | "1" | ""))
    }

    pub fn dry_run(&self) -> bool {
        self.0.iter().any(|(k, v)| k == "dryRun" && v == "All")
    }
}

/// One request on one resource.
#[derive(Debug)]
pub struct Req {
    pub res: Arc<ResourceInfo>,
    pub version: String,
    /// Namespace from the URL (None for cluster-scoped or all-namespaces requests).
    pub ns: Option<String>,
    pub name: Option<String>,
    pub sub: Option<String>,
    pub query: Query,
    pub headers: HeaderMap,
    /// The resource as requested when it is served from another one's storage (events.k8s.io Events).
    pub alias: Option<Arc<ResourceInfo>>,
}

impl Req {
    /// apiVersion and kind the client speaks.
    pub fn wire_api_version(&self) -> String {
        match &self.alias {
            Some(a) => a.api_version(a.storage_version()),
            None => self.res.api_version(&self.version),
        }
    }

    /// A client body in the stored form.
    pub fn to_storage(&self, v: Value) -> Value {
        if self.alias.is_some() {
            crate::events::to_core(&v)
        } else {
            v
        }
    }

    /// Namespace used for storage keys ("" for cluster-scoped).
    pub fn ns_key(&self) -> &str {
        self.ns.as_deref().unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or_default()
    }

    pub fn wants_table(&self) -> bool {
        self.headers
            .get(axum::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.split(',').next().unwrap_or_default().contains("as=Table"))
    }

    /// The client asked for `meta.k8s.io/v1` PartialObjectMetadata (kube-rs `get_metadata`, metadata watchers).
    pub fn wants_metadata(&self) -> bool {
        self.headers
            .get(axum::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| {
                a.split(',')
                    .next()
                    .unwrap_or_default()
                    .contains("as=PartialObjectMetadata")
            })
    }

    /// The object as the response carries it: at the requested version, or only its metadata.
    pub fn render(&self, obj: &Value) -> Value {
        let o = self.present(obj);
        if self.wants_metadata() {
            return serde_json::json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": o["metadata"],
            });
        }
        o
    }

    /// Field manager: the query parameter, else the User-Agent's program name.
    pub fn manager(&self) -> String {
        if let Some(m) = self.query.get("fieldManager").filter(|m| !m.is_empty()) {
            return m.to_string();
        }
        self.headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .and_then(|ua| ua.split('/').next())
            .filter(|s| !s.is_empty())
            .unwrap_or("unknown")
            .to_string()
    }

    /// The object as served at the requested version.
    pub fn present(&self, obj: &Value) -> Value {
        if self.alias.is_some() {
            return crate::events::from_core(obj);
        }
        let mut o = obj.clone();
        if let Some(m) = o.as_object_mut() {
            m.insert(
                "apiVersion".into(),
                Value::String(self.res.api_version(&self.version)),
            );
        }
        o
    }

    pub fn target(&self) -> crate::status::Target<'_> {
        crate::status::Target {
            group: &self.res.group,
            plural: &self.res.plural,
            name: self.name(),
        }
    }
}

/// Entry point for everything under `/api` and `/apis`.
pub async fn resource_handler(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            let code = e.status().as_u16();
            let reason = if code == 413 {
                "RequestEntityTooLarge"
            } else {
                "BadRequest"
            };
            return ApiError::new(code, reason, e.body_text()).into_response();
        }
    };
    let path = uri.path().to_string();
    let fut = AssertUnwindSafe(route(app, method.clone(), uri, headers, body));
    match fut.catch_unwind().await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::debug!(%method, %path, code = e.code, message = %e.message, "request failed");
            e.into_response()
        }
        Err(_) => {
            tracing::error!(%method, %path, "handler panicked");
            ApiError::internal("an error on the server has prevented the request from succeeding")
                .into_response()
        }
    }
}

async fn route(
    app: Arc<App>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let segs: Vec<String> = uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let (group, version, rest) = match segs.first().map(String::as_str) {
        Some("api") => match segs.get(1) {
            None => return Ok(discovery::core_versions(&headers)),
            Some(v) => (String::new(), v.clone(), &segs[2..]),
        },
        Some("apis") => match (segs.get(1), segs.get(2)) {
            (None, _) => return Ok(discovery::group_list(&app.registry)),
            (Some(g), None) => return discovery::group(&app.registry, g),
            (Some(g), Some(v)) => (g.clone(), v.clone(), &segs[3..]),
        },
        _ => return Err(ApiError::no_route()),
    };
    if rest.is_empty() {
        return discovery::resource_list(&app.registry, &group, &version);
    }
    let (plural, ns, name, sub) = split_rest(rest)?;
    let mut res = app
        .registry
        .lookup(&group, &version, &plural)
        .ok_or_else(ApiError::no_route)?;
    let mut version = version;
    let mut alias = None;
    if res.storage_key() != res.id()
        && let Some(stored) = app.registry.by_storage_key(&res.storage_key())
    {
        alias = Some(std::mem::replace(&mut res, stored));
        version = res.storage_version().to_string();
    }
    if ns.is_some() && !res.namespaced {
        return Err(ApiError::no_route());
    }
    if res.namespaced && ns.is_none() && name.is_some() {
        return Err(ApiError::no_route());
    }
    if let Some(s) = &sub
        && !(s == "status" && res.status_subresource)
    {
        return Err(ApiError::no_route());
    }
    let req = Req {
        res,
        version,
        ns,
        name,
        sub,
        query: Query::parse(uri.query())?,
        headers,
        alias,
    };
    let watch = req.query.flag("watch");
    match (method, req.name.is_some()) {
        (Method::GET, _) if watch => watch::watch(&app, req).await,
        (Method::GET, false) => read::list(&app, &req),
        (Method::GET, true) => read::get(&app, &req),
        (Method::POST, false) => write::create(&app, &req, &body),
        (Method::PUT, true) => write::update(&app, &req, &body),
        (Method::PATCH, true) => write::patch(&app, &req, &body),
        (Method::DELETE, true) => delete::delete(&app, &req, &body),
        (Method::DELETE, false) => delete::delete_collection(&app, &req, &body),
        (m, _) => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({m})"
        ))),
    }
}

type Split = (String, Option<String>, Option<String>, Option<String>);

fn split_rest(rest: &[String]) -> ApiResult<Split> {
    let s = |i: usize| rest.get(i).cloned();
    let namespaced = rest.len() >= 3
        && rest[0] == "namespaces"
        && !(rest.len() == 3 && matches!(rest[2].as_str(), "status" | "finalize"));
    let out = if namespaced {
        if rest.len() > 5 {
            return Err(ApiError::no_route());
        }
        (rest[2].clone(), s(1), s(3), s(4))
    } else {
        if rest.len() > 3 {
            return Err(ApiError::no_route());
        }
        (rest[0].clone(), None, s(1), s(2))
    };
    Ok(out)
}

/// A JSON object response.
pub fn ok(code: StatusCode, body: &Value) -> Response {
    json_response(code, body)
}

/// Creates or replaces an object from inside the server (bootstrap namespaces, `--crds`).
pub fn put_internal(app: &App, mut obj: Value) -> ApiResult<()> {
    let av = obj["apiVersion"].as_str().unwrap_or_default().to_string();
    let kind = obj["kind"].as_str().unwrap_or_default().to_string();
    let (group, version) = av.rsplit_once('/').unwrap_or(("", av.as_str()));
    let res = app
        .registry
        .all()
        .into_iter()
        .find(|r| r.group == group && r.kind == kind && r.version(version).is_some())
        .ok_or_else(|| ApiError::bad_request(format!("no resource serves {kind} in {av}")))?;
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let ns = res.namespaced.then(|| {
        obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string()
    });
    let mut headers = HeaderMap::new();
    headers.insert(
        axum::http::header::USER_AGENT,
        axum::http::HeaderValue::from_static("devcluster"),
    );
    let exists = app
        .store
        .get(&res.storage_key(), ns.as_deref().unwrap_or_default(), &name)
        .is_some();
    if let Some(m) = obj["metadata"].as_object_mut() {
        m.remove("resourceVersion");
    }
    let req = Req {
        res,
        version: version.to_string(),
        ns,
        name: exists.then_some(name),
        sub: None,
        query: Query::default(),
        headers,
        alias: None,
    };
    let body = serde_json::to_vec(&obj).map_err(|e| ApiError::internal(e.to_string()))?;
    if exists {
        write::update(app, &req, &body)?;
    } else {
        write::create(app, &req, &body)?;
    }
    Ok(())
}
