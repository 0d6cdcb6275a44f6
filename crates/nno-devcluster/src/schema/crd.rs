//! Checks of one CustomResourceDefinition version before it is served: its schema and CEL rules
//! compile, and its printer columns are usable — reported as the apiserver reports invalid CRDs.

use serde_json::Value;

use super::cel_rules::supported_values;
use super::errors::{FieldError, FieldErrorKind, SchemaError};
use super::jsonpath::JsonPath;
use super::validate::CompiledSchema;

const COLUMN_TYPES: &[&str] = &["boolean", "date", "integer", "number", "string"];

/// Errors of `spec.versions[index]` of a CRD (`version` is that entry). Paths are rooted at the CRD,
/// e.g. `spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule`,
/// ready for `status_message("CustomResourceDefinition.apiextensions.k8s.io", name, &errs)`.
pub fn check_crd_version(index: usize, version: &Value) -> Vec<FieldError> {
    let base = format!("spec.versions[{index}]");
    let mut errs = Vec::new();
    match version.pointer("/schema/openAPIV3Schema") {
        None | Some(Value::Null) => errs.push(FieldError::new(
            FieldErrorKind::Required,
            format!("{base}.schema.openAPIV3Schema"),
            None,
            "schemas are required",
        )),
        Some(schema) => match CompiledSchema::compile(schema) {
            Ok(_) => {}
            Err(SchemaError::Rules(rule_errs)) => {
                errs.extend(rule_errs.into_iter().map(|mut e| {
                    e.path = format!("{base}.schema.{}", e.path);
                    e
                }))
            }
            Err(e) => errs.push(FieldError::new(
                FieldErrorKind::Invalid,
                format!("{base}.schema.openAPIV3Schema"),
                None,
                e.to_string(),
            )),
        },
    }
    let columns = version
        .get("additionalPrinterColumns")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (i, col) in columns.iter().enumerate() {
        let cpath = format!("{base}.additionalPrinterColumns[{i}]");
        if col
            .get("name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            errs.push(FieldError::new(
                FieldErrorKind::Required,
                format!("{cpath}.name"),
                None,
                "",
            ));
        }
        match col.get("type").and_then(Value::as_str) {
            Some(t) if COLUMN_TYPES.contains(&t) => {}
            Some(t) => errs.push(FieldError::new(
                FieldErrorKind::NotSupported,
                format!("{cpath}.type"),
                Some(Value::String(t.to_string())),
                supported_values(COLUMN_TYPES),
            )),
            None => errs.push(FieldError::new(
                FieldErrorKind::Required,
                format!("{cpath}.type"),
                None,
                "",
            )),
        }
        match col.get("jsonPath").and_then(Value::as_str) {
            Some(p) => {
                if let Err(reason) = JsonPath::parse(p) {
                    errs.push(FieldError::new(
                        FieldErrorKind::Invalid,
                        format!("{cpath}.jsonPath"),
                        Some(Value::String(p.to_string())),
                        format!("must be a simple json path: {reason}"),
                    ));
                }
            }
            None => errs.push(FieldError::new(
                FieldErrorKind::Required,
                format!("{cpath}.jsonPath"),
                None,
                "",
            )),
        }
    }
    errs
}
