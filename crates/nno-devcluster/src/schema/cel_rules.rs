//! `x-kubernetes-validations` (CEL) rules: compilation at CRD registration and evaluation per object.
//!
//! The CEL language, the Kubernetes CEL libraries, value binding (field-name escaping, `date-time`
//! / `duration` / `byte` formats) and message resolution come from `kube-cel`. This module walks the
//! schema the way the apiserver does: every node's rules run with `self` bound to that node's value,
//! and `oldSelf` bound only where the old value *correlates* — same property, same map key, or, for
//! `x-kubernetes-list-type: map` lists, the old item with the same key fields. Items of atomic and
//! set lists never correlate, so transition rules below them are skipped, as in Kubernetes.

use std::panic::{AssertUnwindSafe, catch_unwind};

use kube_cel::{CompilationError, CompiledSchema as CelSchema, ErrorKind, ValidationError};
use serde_json::Value;

use super::errors::{FieldError, FieldErrorKind};

const RULES_KEY: &str = "x-kubernetes-validations";
const REASONS: &[&str] = &[
    "FieldValueInvalid",
    "FieldValueForbidden",
    "FieldValueRequired",
    "FieldValueDuplicate",
];
const MAX_DEPTH: usize = 64;

/// The compiled rules of one schema; only the subtrees that hold rules are kept.
#[derive(Debug, Default)]
pub struct CompiledRules {
    root: Option<RuleNode>,
}

#[derive(Debug)]
struct RuleNode {
    /// This node's own rules, compiled against a copy of the node whose descendants carry no rules.
    rules: Option<CelSchema>,
    /// Only the transition rules (those using `oldSelf`): what still runs on an unchanged value.
    transition_rules: Option<CelSchema>,
    /// The schema `type`, which the apiserver reports as the bad value of a failed rule.
    type_name: String,
    properties: Vec<(String, RuleNode)>,
    items: Option<Box<RuleNode>>,
    additional: Option<Box<RuleNode>>,
    /// `x-kubernetes-list-map-keys` when the node is an `x-kubernetes-list-type: map` list.
    list_map_keys: Option<Vec<String>>,
}

impl CompiledRules {
    /// Compiles every rule of `schema`. Errors name the rule by its schema path, rooted at
    /// `openAPIV3Schema` (prefix it with `spec.versions[i].schema.` for a CRD status).
    pub fn compile(schema: &Value) -> (Self, Vec<FieldError>) {
        let mut errs = Vec::new();
        let root = build(schema, "openAPIV3Schema", &mut errs, 0);
        (Self { root }, errs)
    }

    /// Evaluates the rules against `obj` (and `old` for transition rules on update).
    pub fn evaluate(&self, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
        let mut out = Vec::new();
        if let Some(root) = &self.root {
            eval(root, obj, old, "", &mut out);
        }
        out
    }
}

/// Checks the `x-kubernetes-validations` of a CRD version's schema: every rule and messageExpression
/// must parse and use a known `reason`. (There is no static type check as in the apiserver: a rule
/// naming an unknown variable or field fails when it is evaluated, with an Invalid error.)
pub fn check_crd_rules(schema: &Value) -> Vec<FieldError> {
    CompiledRules::compile(schema).1
}

fn build(
    schema: &Value,
    spath: &str,
    errs: &mut Vec<FieldError>,
    depth: usize,
) -> Option<RuleNode> {
    if depth > MAX_DEPTH {
        errs.push(FieldError::new(
            FieldErrorKind::Invalid,
            spath,
            None,
            "schema nesting is too deep",
        ));
        return None;
    }
    let rules = schema
        .get(RULES_KEY)
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty());
    let compiled = rules.and_then(|rules| compile_node(schema, rules, spath, errs));
    let transition_rules = compiled.as_ref().and_then(|c| transition_only(schema, c));

    let mut properties = Vec::new();
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, child) in props {
            if let Some(node) = build(
                child,
                &format!("{spath}.properties[{name}]"),
                errs,
                depth + 1,
            ) {
                properties.push((name.clone(), node));
            }
        }
    }
    let items = schema
        .get("items")
        .and_then(|s| build(s, &format!("{spath}.items"), errs, depth + 1))
        .map(Box::new);
    let additional = schema
        .get("additionalProperties")
        .filter(|s| s.is_object())
        .and_then(|s| build(s, &format!("{spath}.additionalProperties"), errs, depth + 1))
        .map(Box::new);

    if compiled.is_none() && properties.is_empty() && items.is_none() && additional.is_none() {
        return None;
    }
    let list_map_keys =
        (schema.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("map")).then(|| {
            schema
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|keys| {
                    keys.iter()
                        .filter_map(|k| k.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        });
    Some(RuleNode {
        rules: compiled,
        transition_rules,
        type_name: schema
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        properties,
        items,
        additional,
        list_map_keys,
    })
}

/// Compiles the rules declared at one node; reports each broken rule at its schema path.
fn compile_node(
    schema: &Value,
    rules: &[Value],
    spath: &str,
    errs: &mut Vec<FieldError>,
) -> Option<CelSchema> {
    let node = strip_descendant_rules(schema);
    let compiled = match catch_unwind(AssertUnwindSafe(|| kube_cel::compile_schema(&node))) {
        Ok(c) => c,
        Err(_) => {
            errs.push(FieldError::new(
                FieldErrorKind::Invalid,
                format!("{spath}.{RULES_KEY}"),
                None,
                "compilation failed: the CEL compiler panicked on these rules",
            ));
            return None;
        }
    };
    let before = errs.len();
    for (i, result) in compiled.validations.iter().enumerate() {
        let rpath = format!("{spath}.{RULES_KEY}[{i}]");
        let raw = rules.get(i).cloned().unwrap_or(Value::Null);
        match result {
            Ok(c) => {
                if let Some(reason) = c.rule.reason.as_deref().filter(|r| !REASONS.contains(r)) {
                    errs.push(FieldError::new(
                        FieldErrorKind::NotSupported,
                        format!("{rpath}.reason"),
                        Some(Value::String(reason.to_string())),
                        supported_values(REASONS),
                    ));
                }
            }
            Err(CompilationError::MessageExpressionParse {
                message_expression,
                source,
                ..
            }) => errs.push(FieldError::new(
                FieldErrorKind::Invalid,
                format!("{rpath}.messageExpression"),
                Some(Value::String(message_expression.clone())),
                format!("messageExpression compilation failed: {source}"),
            )),
            Err(CompilationError::Parse { rule, source }) => errs.push(FieldError::new(
                FieldErrorKind::Invalid,
                format!("{rpath}.rule"),
                Some(Value::String(rule.clone())),
                format!("compilation failed: {source}"),
            )),
            Err(e) => errs.push(FieldError::new(
                FieldErrorKind::Invalid,
                rpath,
                Some(raw),
                e.to_string(),
            )),
        }
    }
    (errs.len() == before).then_some(compiled)
}

pub(super) fn supported_values(values: &[&str]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| super::errors::go_quote(v)).collect();
    format!("supported values: {}", quoted.join(", "))
}

/// The node's transition rules alone, compiled, if it has any.
fn transition_only(schema: &Value, compiled: &CelSchema) -> Option<CelSchema> {
    let keep: Vec<bool> = compiled
        .validations
        .iter()
        .map(|r| r.as_ref().is_ok_and(|c| c.is_transition_rule))
        .collect();
    if !keep.contains(&true) {
        return None;
    }
    let mut node = strip_descendant_rules(schema);
    if let Some(Value::Array(rules)) = node.get_mut(RULES_KEY) {
        let mut i = 0;
        rules.retain(|_| {
            i += 1;
            keep.get(i - 1).copied().unwrap_or(false)
        });
    }
    catch_unwind(AssertUnwindSafe(|| kube_cel::compile_schema(&node))).ok()
}

/// A copy of `schema` whose descendants carry no rules (they are compiled at their own node).
fn strip_descendant_rules(schema: &Value) -> Value {
    let mut node = schema.clone();
    if let Some(map) = node.as_object_mut() {
        for (key, child) in map.iter_mut() {
            if key != RULES_KEY {
                strip_all_rules(child);
            }
        }
    }
    node
}

fn strip_all_rules(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.remove(RULES_KEY);
            map.values_mut().for_each(strip_all_rules);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_all_rules),
        _ => {}
    }
}

fn eval(
    node: &RuleNode,
    value: &Value,
    old: Option<&Value>,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    if value.is_null() {
        return;
    }
    // Ratcheting: on a value the update left unchanged only the transition rules run.
    let rules = if old == Some(value) {
        &node.transition_rules
    } else {
        &node.rules
    };
    if let Some(rules) = rules {
        match catch_unwind(AssertUnwindSafe(|| {
            kube_cel::validate_compiled(rules, value, old)
        })) {
            Ok(Ok(())) => {}
            Ok(Err(errs)) => out.extend(
                errs.iter()
                    .map(|e| to_field_error(e, path, &node.type_name)),
            ),
            Err(_) => out.push(FieldError::new(
                FieldErrorKind::Invalid,
                path,
                Some(Value::String(node.type_name.clone())),
                "internal error: the CEL interpreter panicked while evaluating the rules",
            )),
        }
    }
    match value {
        Value::Object(map) => {
            for (name, child) in &node.properties {
                if let Some(v) = map.get(name) {
                    eval(
                        child,
                        v,
                        old.and_then(|o| o.get(name)),
                        &join(path, name),
                        out,
                    );
                }
            }
            if let Some(add) = &node.additional {
                for (k, v) in map {
                    if !node.properties.iter().any(|(n, _)| n == k) {
                        eval(add, v, old.and_then(|o| o.get(k)), &join(path, k), out);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_node) = &node.items {
                let old_items = old.and_then(Value::as_array);
                for (i, item) in items.iter().enumerate() {
                    let old_item = match (&node.list_map_keys, old_items) {
                        (Some(keys), Some(olds)) => olds.iter().find(|o| same_keys(keys, item, o)),
                        _ => None,
                    };
                    eval(item_node, item, old_item, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

fn same_keys(keys: &[String], a: &Value, b: &Value) -> bool {
    keys.iter().all(|k| a.get(k) == b.get(k))
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// Appends a rule's `fieldPath` (relative to the node) to the node path.
fn with_rule_path(path: &str, rel: &str) -> String {
    if rel.is_empty() {
        path.to_string()
    } else if rel.starts_with('[') {
        format!("{path}{rel}")
    } else {
        join(path, rel.trim_start_matches('.'))
    }
}

fn to_field_error(e: &ValidationError, path: &str, type_name: &str) -> FieldError {
    let path = with_rule_path(path, &e.field_path);
    let type_value = Some(Value::String(type_name.to_string()));
    match e.kind {
        ErrorKind::ValidationFailure => match e.reason.as_deref() {
            Some("FieldValueForbidden") => {
                FieldError::new(FieldErrorKind::Forbidden, path, None, e.message.clone())
            }
            Some("FieldValueRequired") => {
                FieldError::new(FieldErrorKind::Required, path, None, e.message.clone())
            }
            Some("FieldValueDuplicate") => {
                FieldError::new(FieldErrorKind::Duplicate, path, type_value, "")
            }
            _ => FieldError::new(FieldErrorKind::Invalid, path, type_value, e.message.clone()),
        },
        ErrorKind::EvaluationError => {
            let cause = std::error::Error::source(e)
                .map(ToString::to_string)
                .unwrap_or_else(|| e.message.clone());
            FieldError::new(
                FieldErrorKind::Invalid,
                path,
                type_value,
                format!("{cause} evaluating rule: {}", e.rule),
            )
        }
        _ => FieldError::new(FieldErrorKind::Invalid, path, type_value, e.message.clone()),
    }
}
