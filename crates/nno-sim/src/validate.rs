//! Request-body parsing and field validation shared by the JSON simulators (NNO, Pax8):
//! content type, malformed JSON, and zod-style per-field messages.

use http::HeaderMap;
use serde::Serialize;
use serde_json::{Map, Value};

/// Why a request body could not be read as a JSON object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("Malformed JSON in request body: {0}")]
    Malformed(String),
    #[error("Request body must be a JSON object")]
    NotObject,
}

/// One failed field check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

/// Reads `body` as a JSON object, insisting on a JSON content type. An empty body is `{}` when
/// `empty_ok`.
pub fn json_object(
    headers: &HeaderMap,
    body: &[u8],
    empty_ok: bool,
) -> Result<Map<String, Value>, BodyError> {
    if empty_ok && body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let ct = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if !(essence.eq_ignore_ascii_case("application/json") || essence.ends_with("+json")) {
        return Err(BodyError::UnsupportedMediaType);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(BodyError::NotObject),
        Err(e) => Err(BodyError::Malformed(e.to_string())),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Collects field errors while reading a JSON object (messages as zod words them).
pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    prefix: String,
    pub errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    pub fn new(obj: &'a Map<String, Value>) -> Self {
        Self::nested(obj, "")
    }

    pub fn nested(obj: &'a Map<String, Value>, prefix: &str) -> Self {
        Self {
            obj,
            prefix: prefix.to_owned(),
            errors: Vec::new(),
        }
    }

    /// Fields of the nested object `obj` found at `field`; error paths include this one's prefix.
    pub fn child<'b>(&self, obj: &'b Map<String, Value>, field: &str) -> Fields<'b> {
        Fields::nested(obj, &self.path_of(field))
    }

    fn path_of(&self, field: &str) -> String {
        if self.prefix.is_empty() {
            field.to_owned()
        } else {
            format!("{}.{field}", self.prefix)
        }
    }

    pub fn fail(&mut self, field: &str, message: impl Into<String>) {
        let path = self.path_of(field);
        self.errors.push(FieldError {
            path,
            message: message.into(),
        });
    }

    /// A string field; `required` and minimum length checked. Null counts as absent only when
    /// `nullable`.
    pub fn string(
        &mut self,
        field: &str,
        required: bool,
        min_len: usize,
        nullable: bool,
    ) -> Option<String> {
        match self.obj.get(field) {
            None => {
                if required {
                    self.fail(field, "Required");
                }
                None
            }
            Some(Value::Null) if nullable => None,
            Some(Value::String(s)) => {
                if s.chars().count() < min_len {
                    self.fail(
                        field,
                        format!("String must contain at least {min_len} character(s)"),
                    );
                    return None;
                }
                Some(s.clone())
            }
            Some(other) => {
                self.fail(
                    field,
                    format!("Expected string, received {}", type_name(other)),
                );
                None
            }
        }
    }

    /// A string field restricted to `allowed`; `default` when absent.
    pub fn enumeration(
        &mut self,
        field: &str,
        allowed: &[&str],
        required: bool,
        default: Option<&str>,
    ) -> Option<String> {
        let present = self.obj.contains_key(field);
        let value = self.string(field, required, 0, false);
        match value {
            Some(v) if allowed.contains(&v.as_str()) => Some(v),
            Some(v) => {
                let expected = allowed
                    .iter()
                    .map(|a| format!("'{a}'"))
                    .collect::<Vec<_>>()
                    .join(" | ");
                self.fail(
                    field,
                    format!("Invalid enum value. Expected {expected}, received '{v}'"),
                );
                None
            }
            None if !present => default.map(str::to_owned),
            None => None,
        }
    }

    pub fn email(&mut self, field: &str, required: bool) -> Option<String> {
        let v = self.string(field, required, 0, false)?;
        if is_email(&v) {
            Some(v)
        } else {
            self.fail(field, "Invalid email");
            None
        }
    }

    pub fn boolean(&mut self, field: &str, default: bool) -> bool {
        match self.obj.get(field) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                self.fail(
                    field,
                    format!("Expected boolean, received {}", type_name(other)),
                );
                default
            }
        }
    }

    /// An optional integer field.
    pub fn integer(&mut self, field: &str) -> Option<i64> {
        match self.obj.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.is_i64() => n.as_i64(),
            Some(other) => {
                self.fail(
                    field,
                    format!("Expected integer, received {}", type_name(other)),
                );
                None
            }
        }
    }

    /// An optional number field.
    pub fn number(&mut self, field: &str) -> Option<f64> {
        match self.obj.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_f64(),
            Some(other) => {
                self.fail(
                    field,
                    format!("Expected number, received {}", type_name(other)),
                );
                None
            }
        }
    }

    /// An optional object field.
    pub fn object(&mut self, field: &str) -> Option<&'a Map<String, Value>> {
        match self.obj.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m),
            Some(other) => {
                self.fail(
                    field,
                    format!("Expected object, received {}", type_name(other)),
                );
                None
            }
        }
    }

    /// A human summary of all errors (`field: message; …`).
    pub fn summary(&self) -> String {
        self.errors
            .iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A pragmatic email check: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !s.chars().any(char::is_whitespace)
        && domain.split('.').count() >= 2
        && domain.split('.').all(|p| !p.is_empty())
}

/// `^[a-z][a-z0-9-]*[a-z0-9]$`
pub fn is_app_name(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

/// `^[a-zA-Z0-9-_]+$`
pub fn is_external_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patterns() {
        assert!(is_app_name("my-app1") && is_app_name("ab"));
        assert!(
            !is_app_name("a")
                && !is_app_name("1app")
                && !is_app_name("app-")
                && !is_app_name("App")
        );
        assert!(
            is_email("a@b.co") && !is_email("a@b") && !is_email("ab.co") && !is_email("a b@c.d")
        );
        assert!(is_external_id("a-B_9") && !is_external_id("a b") && !is_external_id(""));
    }

    #[test]
    fn field_messages() {
        let v = json!({"a": 1, "b": "", "e": "x"});
        let m = v.as_object().unwrap();
        let mut f = Fields::new(m);
        f.string("a", true, 1, false);
        f.string("b", true, 1, false);
        f.string("c", true, 1, false);
        f.enumeration("e", &["dev", "prod"], false, Some("prod"));
        assert_eq!(
            f.enumeration("z", &["dev", "prod"], false, Some("prod"))
                .as_deref(),
            Some("prod")
        );
        let msgs: Vec<_> = f.errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            msgs,
            [
                "Expected string, received number",
                "String must contain at least 1 character(s)",
                "Required",
                "Invalid enum value. Expected 'dev' | 'prod', received 'x'"
            ]
        );
    }
}
