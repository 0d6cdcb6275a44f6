//! Structural validation of custom resources against a CRD's openAPIV3Schema, with apiserver-style errors.
//!
//! The openAPIV3Schema is translated into a draft-4 JSON Schema (OpenAPI 3.0 schema objects are
//! draft-4 based: boolean `exclusiveMaximum`, `nullable`) and checked by the `jsonschema` crate;
//! its errors are turned into the `field.Error`s the apiextensions apiserver reports
//! (`spec.vcpu: Invalid value: 40: spec.vcpu in body should be less than or equal to 16`).

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use serde_json::{Map, Value, json};

use super::cel_rules::{CompiledRules, supported_values};
use super::errors::{FieldError, FieldErrorKind, SchemaError};
use super::formats;

const BLOCKING: &[FieldErrorKind] = &[
    FieldErrorKind::NotSupported,
    FieldErrorKind::Required,
    FieldErrorKind::TooLong,
    FieldErrorKind::TooMany,
    FieldErrorKind::TypeInvalid,
];
const RULES_NOT_CHECKED: &str = "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";

/// A CRD version's schema compiled once for repeated validation (structural checks and CEL rules).
pub struct CompiledSchema {
    structural: jsonschema::Validator,
    rules: CompiledRules,
    schema: Value,
}

impl std::fmt::Debug for CompiledSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledSchema")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl CompiledSchema {
    /// Compiles `schema` (an openAPIV3Schema). Fails when a pattern or a CEL rule does not compile.
    pub fn compile(schema: &Value) -> Result<Self, SchemaError> {
        let (rules, errs) = CompiledRules::compile(schema);
        if !errs.is_empty() {
            return Err(SchemaError::Rules(errs));
        }
        let mut options = jsonschema::draft4::options().should_validate_formats(true);
        for name in formats::SUPPORTED {
            if let Some(check) = formats::checker(name) {
                options = options.with_format(format!("{}{name}", formats::PREFIX), check);
            }
        }
        let structural = options
            .build(&to_json_schema(schema))
            .map_err(|e| SchemaError::Structural(e.to_string()))?;
        Ok(Self {
            structural,
            rules,
            schema: schema.clone(),
        })
    }

    /// The openAPIV3Schema this was compiled from.
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// Validates `obj` (after defaulting); `old` is the stored object on update, `None` on create.
    ///
    /// On update, errors of values that did not change are dropped (CRD validation ratcheting,
    /// on by default since Kubernetes 1.30), so an object stored under an older, looser schema
    /// can still be updated elsewhere.
    pub fn validate(&self, obj: &Value, old: Option<&Value>) -> Result<(), Vec<FieldError>> {
        // Go decodes `2.0` to a float64 that kube-openapi accepts as an integer; draft 4 would not.
        let normalized = integral_floats_as_ints(obj);
        let obj = normalized.as_ref().unwrap_or(obj);
        let normalized_old = old.and_then(integral_floats_as_ints);
        let old = normalized_old.as_ref().or(old);
        let mut errs: Vec<FieldError> = self
            .structural
            .iter_errors(obj)
            .filter(|e| !ratcheted(e, obj, old))
            .map(|e| to_field_error(&e))
            .collect();
        errs.extend(super::listtype::validate_list_types(&self.schema, obj));
        // Like the apiserver, CEL rules only run on an object whose types, enums, lengths and
        // required fields are right (`hasBlockingErr`).
        if errs.iter().any(|e| BLOCKING.contains(&e.kind)) {
            errs.push(FieldError::new(
                FieldErrorKind::Invalid,
                "<nil>",
                None,
                RULES_NOT_CHECKED,
            ));
        } else {
            errs.extend(self.rules.evaluate(obj, old));
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }
}

/// A copy of `v` with every float that has no fractional part turned into an integer, or `None`
/// when there is none.
fn integral_floats_as_ints(v: &Value) -> Option<Value> {
    fn has(v: &Value) -> bool {
        match v {
            Value::Number(n) => n
                .as_f64()
                .is_some_and(|f| n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15),
            Value::Array(items) => items.iter().any(has),
            Value::Object(map) => map.values().any(has),
            _ => false,
        }
    }
    fn convert(v: &mut Value) {
        match v {
            Value::Number(n) => {
                if let Some(f) = n
                    .as_f64()
                    .filter(|f| n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15)
                {
                    *v = json!(f as i64);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(convert),
            Value::Object(map) => map.values_mut().for_each(convert),
            _ => {}
        }
    }
    has(v).then(|| {
        let mut copy = v.clone();
        convert(&mut copy);
        copy
    })
}

/// Whether a structural error is about a value that the update left unchanged. `required` errors
/// are about their parent object.
fn ratcheted(e: &jsonschema::ValidationError<'_>, obj: &Value, old: Option<&Value>) -> bool {
    let Some(old) = old else { return false };
    let pointer = e.instance_path().as_str();
    match (obj.pointer(pointer), old.pointer(pointer)) {
        (Some(new), Some(prev)) => new == prev,
        _ => false,
    }
}

/// Validates `obj` against a CRD version's openAPIV3Schema (compiling it each time; the server
/// should keep a [`CompiledSchema`] per CRD version instead).
pub fn validate_object(
    schema: &Value,
    obj: &Value,
    old: Option<&Value>,
) -> Result<(), Vec<FieldError>> {
    match CompiledSchema::compile(schema) {
        Ok(compiled) => compiled.validate(obj, old),
        Err(SchemaError::Rules(errs)) => Err(errs),
        Err(e) => Err(vec![FieldError::new(
            FieldErrorKind::Invalid,
            "",
            None,
            e.to_string(),
        )]),
    }
}

/// Translates an openAPIV3Schema node into the draft-4 JSON Schema the validator runs.
fn to_json_schema(node: &Value) -> Value {
    let Some(src) = node.as_object() else {
        return json!({});
    };
    let mut out = Map::new();
    const COPIED: &[&str] = &[
        "required",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "uniqueItems",
        "multipleOf",
        "minProperties",
        "maxProperties",
    ];
    for key in COPIED {
        if let Some(v) = src.get(*key) {
            out.insert((*key).to_string(), v.clone());
        }
    }
    let nullable = src.get("nullable").and_then(Value::as_bool) == Some(true);
    let int_or_string = src
        .get("x-kubernetes-int-or-string")
        .and_then(Value::as_bool)
        == Some(true);
    let ty = if int_or_string {
        Some(json!(["integer", "string"]))
    } else {
        src.get("type").and_then(Value::as_str).map(|t| json!(t))
    };
    if let Some(ty) = ty {
        let ty = match (nullable, ty) {
            (true, Value::String(t)) => json!([t, "null"]),
            (true, Value::Array(mut ts)) => {
                ts.push(json!("null"));
                Value::Array(ts)
            }
            (_, ty) => ty,
        };
        out.insert("type".into(), ty);
    }
    if let Some(Value::Array(options)) = src.get("enum") {
        let mut options = options.clone();
        if nullable && !options.contains(&Value::Null) {
            options.push(Value::Null);
        }
        out.insert("enum".into(), Value::Array(options));
    }
    if let Some(f) = src.get("format").and_then(Value::as_str)
        && formats::SUPPORTED.contains(&f)
        && matches!(
            src.get("type").and_then(Value::as_str),
            Some("string") | None
        )
    {
        out.insert("format".into(), json!(format!("{}{f}", formats::PREFIX)));
    }
    if let Some(Value::Object(props)) = src.get("properties") {
        let props: Map<String, Value> = props
            .iter()
            .map(|(k, v)| (k.clone(), to_json_schema(v)))
            .collect();
        out.insert("properties".into(), Value::Object(props));
    }
    if let Some(items) = src.get("items") {
        out.insert("items".into(), to_json_schema(items));
    }
    match src.get("additionalProperties") {
        Some(Value::Bool(b)) => {
            out.insert("additionalProperties".into(), json!(b));
        }
        Some(s @ Value::Object(_)) => {
            out.insert("additionalProperties".into(), to_json_schema(s));
        }
        _ => {}
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = src.get(key) {
            out.insert(
                key.into(),
                Value::Array(branches.iter().map(to_json_schema).collect()),
            );
        }
    }
    if let Some(not) = src.get("not") {
        out.insert("not".into(), to_json_schema(not));
    }
    Value::Object(out)
}

/// The Kubernetes field path of an instance location, `spec.rules[0].portStart`.
pub(crate) fn field_path<'a>(segments: impl Iterator<Item = LocationSegment<'a>>) -> String {
    let mut path = String::new();
    for seg in segments {
        match seg {
            LocationSegment::Index(i) => path.push_str(&format!("[{i}]")),
            LocationSegment::Property(name) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&name);
            }
        }
    }
    path
}

/// The type name kube-openapi reports for a value.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A schema limit as Go's `%v` prints a float64: `16`, not `16.0`.
fn limit(v: &Value) -> String {
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        Some(f) => format!("{f}"),
        None => v.to_string(),
    }
}

fn count(v: &Value) -> Value {
    match v {
        Value::Array(a) => json!(a.len()),
        Value::Object(m) => json!(m.len()),
        _ => Value::Null,
    }
}

fn to_field_error(e: &jsonschema::ValidationError<'_>) -> FieldError {
    use FieldErrorKind as K;
    let path = field_path(e.instance_path().segments());
    let value: Value = e.instance().as_ref().clone();
    let body = |detail: String| format!("{path} in body {detail}");
    match e.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| property.to_string());
            let full = if path.is_empty() {
                name
            } else {
                format!("{path}.{name}")
            };
            FieldError::new(K::Required, full, None, "")
        }
        ValidationErrorKind::Type { kind } => {
            let expected: Vec<String> = match kind {
                TypeKind::Single(t) => vec![t.to_string()],
                TypeKind::Multiple(set) => set
                    .iter()
                    .map(|t| t.to_string())
                    .filter(|t| t != "null")
                    .collect(),
            };
            let actual = json_type(&value);
            let msg = body(format!(
                "must be of type {}: \"{actual}\"",
                expected.join(",")
            ));
            FieldError::new(K::TypeInvalid, path, Some(json!(actual)), msg)
        }
        ValidationErrorKind::Enum { options } => {
            let opts: Vec<String> = options
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter(|o| !o.is_null())
                        .map(|o| {
                            o.as_str()
                                .map(String::from)
                                .unwrap_or_else(|| o.to_string())
                        })
                        .collect()
                })
                .unwrap_or_default();
            let refs: Vec<&str> = opts.iter().map(String::as_str).collect();
            FieldError::new(K::NotSupported, path, Some(value), supported_values(&refs))
        }
        ValidationErrorKind::Maximum { limit: l } => {
            let msg = body(format!("should be less than or equal to {}", limit(l)));
            FieldError::new(K::Invalid, path, Some(value), msg)
        }
        ValidationErrorKind::ExclusiveMaximum { limit: l } => {
            let msg = body(format!("should be less than {}", limit(l)));
            FieldError::new(K::Invalid, path, Some(value), msg)
        }
        ValidationErrorKind::Minimum { limit: l } => {
            let msg = body(format!("should be greater than or equal to {}", limit(l)));
            FieldError::new(K::Invalid, path, Some(value), msg)
        }
        ValidationErrorKind::ExclusiveMinimum { limit: l } => {
            let msg = body(format!("should be greater than {}", limit(l)));
            FieldError::new(K::Invalid, path, Some(value), msg)
        }
        ValidationErrorKind::MaxLength { limit: l } => FieldError::new(
            K::TooLong,
            path,
            Some(value),
            format!("may not be longer than {l}"),
        ),
        ValidationErrorKind::MinLength { limit: l } => {
            let msg = body(format!("should be at least {l} chars long"));
            FieldError::new(K::Invalid, path, Some(value), msg)
        }
        ValidationErrorKind::Pattern { pattern } => {
            let msg = body(format!("should match '{pattern}'"));
            FieldError::new(K::Invalid, path, Some(value), msg)
        }
        ValidationErrorKind::MaxItems { limit: l }
        | ValidationErrorKind::MaxProperties { limit: l } => FieldError::new(
            K::TooMany,
            path,
            Some(count(&value)),
            format!("must have at most {l} items"),
        ),
        ValidationErrorKind::MinItems { limit: l } => {
            let msg = body(format!("should have at least {l} items"));
            FieldError::new(K::Invalid, path, Some(count(&value)), msg)
        }
        ValidationErrorKind::MinProperties { limit: l } => {
            let msg = body(format!("should have at least {l} properties"));
            FieldError::new(K::Invalid, path, Some(count(&value)), msg)
        }
        ValidationErrorKind::UniqueItems => FieldError::new(
            K::Invalid,
            path.clone(),
            Some(json!("")),
            body("shouldn't contain duplicates".into()),
        ),
        ValidationErrorKind::MultipleOf { multiple_of } => {
            let msg = body(format!(
                "should be a multiple of {}",
                limit(&json!(multiple_of))
            ));
            FieldError::new(K::Invalid, path, Some(value), msg)
        }
        ValidationErrorKind::Format { format } => {
            let name = format.strip_prefix(formats::PREFIX).unwrap_or(format);
            let shown = value
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| value.to_string());
            let msg = body(format!(
                "must be of type {name}: {}",
                super::errors::go_quote(&shown)
            ));
            FieldError::new(K::Invalid, path, Some(value), msg)
        }
        ValidationErrorKind::AnyOf { .. } => FieldError::new(
            K::Invalid,
            path.clone(),
            Some(value),
            body("must validate at least one schema (anyOf)".into()),
        ),
        ValidationErrorKind::OneOfNotValid { .. }
        | ValidationErrorKind::OneOfMultipleValid { .. } => FieldError::new(
            K::Invalid,
            path.clone(),
            Some(value),
            body("must validate one and only one schema (oneOf)".into()),
        ),
        ValidationErrorKind::Not { .. } => FieldError::new(
            K::Invalid,
            path.clone(),
            Some(value),
            body("must not validate the schema (not)".into()),
        ),
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let msg = body(format!(
                "must not have additional properties: {}",
                unexpected.join(", ")
            ));
            FieldError::new(K::Invalid, path, Some(value), msg)
        }
        _ => FieldError::new(K::Invalid, path, Some(value), e.to_string()),
    }
}
