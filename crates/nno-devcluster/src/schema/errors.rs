//! Field-level validation errors and their rendering as the apiserver does (`field.Error`, `NewInvalid`).

use serde_json::{Value, json};

/// The kind of a field error; maps 1:1 onto the Kubernetes `StatusCause` types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldErrorKind {
    Invalid,
    Required,
    NotSupported,
    TooLong,
    TooMany,
    Forbidden,
    TypeInvalid,
    Duplicate,
}

impl FieldErrorKind {
    /// The `StatusCause.reason` string (`metav1.CauseType`).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Invalid => "FieldValueInvalid",
            Self::Required => "FieldValueRequired",
            Self::NotSupported => "FieldValueNotSupported",
            Self::TooLong => "FieldValueTooLong",
            Self::TooMany => "FieldValueTooMany",
            Self::Forbidden => "FieldValueForbidden",
            Self::TypeInvalid => "FieldValueTypeInvalid",
            Self::Duplicate => "FieldValueDuplicate",
        }
    }

    /// The human text of the type (`field.ErrorType.String()`).
    fn label(&self) -> &'static str {
        match self {
            Self::Invalid | Self::TypeInvalid => "Invalid value",
            Self::Required => "Required value",
            Self::NotSupported => "Unsupported value",
            Self::TooLong => "Too long",
            Self::TooMany => "Too many",
            Self::Forbidden => "Forbidden",
            Self::Duplicate => "Duplicate value",
        }
    }
}

/// One field error. `message` is the detail (may be empty, e.g. for `Required`); `value` the bad value.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    /// Kubernetes field path: `spec.vcpu`, `spec.rules[0].portStart`.
    pub path: String,
    pub message: String,
    pub kind: FieldErrorKind,
    pub value: Option<Value>,
}

impl FieldError {
    pub fn new(
        kind: FieldErrorKind,
        path: impl Into<String>,
        value: Option<Value>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
            kind,
            value,
        }
    }

    /// The error without its field (`field.Error.ErrorBody()`), as used in `StatusCause.message`.
    pub fn body(&self) -> String {
        let mut s = match self.kind {
            FieldErrorKind::Required | FieldErrorKind::Forbidden | FieldErrorKind::TooLong => {
                self.kind.label().to_string()
            }
            _ => match &self.value {
                Some(v) => format!("{}: {}", self.kind.label(), render_value(v)),
                None if self.kind == FieldErrorKind::TooMany => self.kind.label().to_string(),
                None => format!("{}: \"null\"", self.kind.label()),
            },
        };
        if !self.message.is_empty() {
            s.push_str(": ");
            s.push_str(&self.message);
        }
        s
    }

    /// The `StatusCause` object for this error.
    pub fn cause(&self) -> Value {
        json!({"reason": self.kind.reason(), "message": self.body(), "field": self.path})
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.body())
    }
}

/// Renders a bad value like Go's `%v`/`%q` do for the scalar types, JSON otherwise.
fn render_value(v: &Value) -> String {
    match v {
        Value::String(s) => go_quote(s),
        Value::Null => "\"null\"".to_string(),
        other => other.to_string(),
    }
}

/// Go's `strconv.Quote`: double quotes, backslash escapes, printable Unicode kept as is.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => {
                let n = c as u32;
                if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Deduplicated error texts in order, like `field.ErrorList.ToAggregate()`.
fn aggregate(errs: &[FieldError]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    errs.iter()
        .map(ToString::to_string)
        .filter(|m| seen.insert(m.clone()))
        .collect()
}

/// The `Status.message` of a 422 Invalid response (`apierrors.NewInvalid`):
/// `VirtualMachine.nno.app "web" is invalid: spec.vcpu: Invalid value: 40: ...`.
pub fn status_message(kind_and_group: &str, name: &str, errs: &[FieldError]) -> String {
    let msgs = aggregate(errs);
    let head = format!("{kind_and_group} {} is invalid", go_quote(name));
    match msgs.len() {
        0 => head,
        1 => format!("{head}: {}", msgs[0]),
        _ => format!("{head}: [{}]", msgs.join(", ")),
    }
}

/// A complete 422 `Status` object for `errs` on the object `name` of `group`/`kind`
/// (empty group for core), with `details.causes` as the real apiserver sends.
pub fn invalid_status(group: &str, kind: &str, name: &str, errs: &[FieldError]) -> Value {
    let qualified = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": status_message(&qualified, name, errs),
        "reason": "Invalid",
        "details": {
            "name": name,
            "group": group,
            "kind": kind,
            "causes": errs.iter().map(FieldError::cause).collect::<Vec<_>>(),
        },
        "code": 422,
    })
}

/// The message of the 400 BadRequest a `fieldValidation=Strict` write gets for the fields
/// [`prune_unknown`](super::prune_unknown) removed: `VirtualMachine in version "v1alpha1" cannot be
/// handled as a VirtualMachine: strict decoding error: unknown field "spec.foo", unknown field "spec.bar"`.
pub fn strict_decoding_message(kind: &str, version: &str, unknown: &[String]) -> String {
    let fields: Vec<String> = unknown.iter().map(|f| unknown_field_warning(f)).collect();
    format!(
        "{kind} in version {} cannot be handled as a {kind}: strict decoding error: {}",
        go_quote(version),
        fields.join(", ")
    )
}

/// The text of one unknown field, also the `Warning` header text under `fieldValidation=Warn`.
pub fn unknown_field_warning(field: &str) -> String {
    format!("unknown field {}", go_quote(field))
}

/// Errors of schema compilation (a CRD whose schema or rules cannot be used).
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("invalid openAPIV3Schema: {0}")]
    Structural(String),
    #[error("invalid x-kubernetes-validations: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    Rules(Vec<FieldError>),
    #[error("invalid additionalPrinterColumns jsonPath {path:?}: {reason}")]
    JsonPath { path: String, reason: String },
}
