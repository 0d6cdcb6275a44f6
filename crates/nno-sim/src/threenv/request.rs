//! Request decoding for the 3nv.io simulator: caller identity, location slug, path parameters,
//! and typed access to query, form-encoded and JSON parameters with 400s for bad input.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, RawPathParams, Request};
use axum::http::header::CONTENT_TYPE;
use serde_json::{Map, Value};

use super::errors::{ApiErr, ApiResult};
use super::state::{DEFAULT_LOCATION, LOCATIONS};

/// Largest body the simulator reads (the real API has no documented limit; this guards memory).
const MAX_BODY: usize = 2 * 1024 * 1024;

/// The authenticated user, inserted by the auth middleware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserId(pub i64);

/// Everything a handler needs from a request.
#[derive(Debug)]
pub struct Req {
    pub user: i64,
    /// Location slug (`cyc01` when the URL has none).
    pub loc: String,
    path: HashMap<String, String>,
    query: Map<String, Value>,
    content_json: bool,
    body: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for Req {
    type Rejection = ApiErr;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let user = parts
            .extensions
            .get::<UserId>()
            .map(|u| u.0)
            .ok_or_else(|| ApiErr::unauthorized("No API key found in request"))?;
        let mut path = HashMap::new();
        if let Ok(raw) = <RawPathParams as axum::extract::FromRequestParts<S>>::from_request_parts(
            &mut parts, state,
        )
        .await
        {
            for (k, v) in &raw {
                path.insert(k.to_string(), v.to_string());
            }
        }
        let loc = match path.remove("slug") {
            None => DEFAULT_LOCATION.to_string(),
            Some(s) if LOCATIONS.iter().any(|l| l.slug == s) => s,
            Some(s) => return Err(ApiErr::not_found(format!("No such location exists. {s}"))),
        };
        let query = match parts.uri.query() {
            None => Map::new(),
            Some(q) => decode_form(q.as_bytes())?,
        };
        let content_json = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
        let body = axum::body::to_bytes(body, MAX_BODY)
            .await
            .map_err(|_| ApiErr::bad_request("Request body could not be read"))?;
        Ok(Req {
            user,
            loc,
            path,
            query,
            content_json,
            body,
        })
    }
}

fn decode_form(raw: &[u8]) -> ApiResult<Map<String, Value>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(raw)
        .map_err(|_| ApiErr::bad_request("Malformed form-encoded parameters"))?;
    Ok(pairs
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect())
}

fn decode_json(raw: &[u8]) -> ApiResult<Map<String, Value>> {
    match serde_json::from_slice::<Value>(raw) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiErr::bad_request("JSON body must be an object")),
        Err(e) => Err(ApiErr::bad_request(format!("Malformed JSON body: {e}"))),
    }
}

impl Req {
    /// A path parameter (route templates guarantee presence).
    pub fn path(&self, name: &str) -> ApiResult<&str> {
        self.path
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| ApiErr::missing(name))
    }

    /// Query parameters only (GET endpoints documented with query parameters).
    pub fn query(&self) -> Params {
        Params(self.query.clone())
    }

    /// Query plus form body (`curl -d`); a JSON body is accepted too when sent as JSON.
    pub fn form(&self) -> ApiResult<Params> {
        let mut all = self.query.clone();
        let trimmed = self.body.trim_ascii();
        if !trimmed.is_empty() {
            let body = if self.content_json {
                decode_json(trimmed)?
            } else {
                decode_form(trimmed)?
            };
            all.extend(body);
        }
        Ok(Params(all))
    }

    /// A JSON object body (endpoints the reference documents with a "Request json body").
    /// An empty body counts as `{}`; query parameters are merged underneath.
    pub fn json(&self) -> ApiResult<Params> {
        let mut all = self.query.clone();
        let trimmed = self.body.trim_ascii();
        if !trimmed.is_empty() {
            all.extend(decode_json(trimmed)?);
        }
        Ok(Params(all))
    }
}

/// Decoded parameters with typed, validating getters.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Map<String, Value>);

impl Params {
    pub fn raw(&self, name: &str) -> Option<&Value> {
        match self.0.get(name) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }

    /// A text parameter; an empty form value counts as absent.
    pub fn str(&self, name: &str) -> ApiResult<Option<String>> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiErr::invalid(name, "expected a string")),
        }
    }

    pub fn req_str(&self, name: &str) -> ApiResult<String> {
        self.str(name)?.ok_or_else(|| ApiErr::missing(name))
    }

    /// A whole number, given as a JSON integer or as its decimal text.
    pub fn int(&self, name: &str) -> ApiResult<Option<i64>> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiErr::invalid(name, "expected a whole number")),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiErr::invalid(name, "expected a whole number")),
            Some(_) => Err(ApiErr::invalid(name, "expected a whole number")),
        }
    }

    pub fn req_int(&self, name: &str) -> ApiResult<i64> {
        self.int(name)?.ok_or_else(|| ApiErr::missing(name))
    }

    /// A boolean: JSON true/false or the texts true/false/1/0/yes/no (any case).
    pub fn bool(&self, name: &str) -> ApiResult<Option<bool>> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "" => Ok(None),
                "true" | "1" | "yes" | "on" => Ok(Some(true)),
                "false" | "0" | "no" | "off" => Ok(Some(false)),
                _ => Err(ApiErr::invalid(name, "expected true or false")),
            },
            Some(_) => Err(ApiErr::invalid(name, "expected true or false")),
        }
    }

    /// A UUID in canonical text form (returned lower-case).
    pub fn uuid(&self, name: &str) -> ApiResult<Option<String>> {
        match self.str(name)? {
            None => Ok(None),
            Some(s) => parse_uuid(name, &s).map(Some),
        }
    }

    pub fn req_uuid(&self, name: &str) -> ApiResult<String> {
        self.uuid(name)?.ok_or_else(|| ApiErr::missing(name))
    }

    /// A billing account id: a positive whole number.
    pub fn billing_account(&self, name: &str) -> ApiResult<Option<i64>> {
        match self.int(name) {
            Ok(Some(id)) if id > 0 => Ok(Some(id)),
            Ok(None) => Ok(None),
            _ => Err(ApiErr::billing_account()),
        }
    }

    pub fn req_billing_account(&self, name: &str) -> ApiResult<i64> {
        self.billing_account(name)?
            .ok_or_else(ApiErr::billing_account)
    }
}

/// Checks that `s` is a UUID; returns it lower-cased.
pub fn parse_uuid(name: &str, s: &str) -> ApiResult<String> {
    uuid::Uuid::parse_str(s.trim())
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| ApiErr::invalid(name, "expected a UUID"))
}
