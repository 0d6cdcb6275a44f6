//! Unit tests of the devcluster's CEL rule support: every rule form the project's CRDs use,
//! transition rules on create vs update, list correlation, reasons, runtime and compile errors.

#![recursion_limit = "256"]

#[path = "schema_fixtures/mod.rs"]
mod fixtures;

use fixtures::{base_spec, compiled, errors, only_error, vm, vm_schema, with};
use nno_devcluster::schema::{
    CompiledSchema, FieldErrorKind, SchemaError, check_crd_rules, check_crd_version,
    validate_object,
};
use serde_json::{Value, json};

#[test]
fn cel_rule_with_has_and_message() {
    let spec = with(base_spec(), "sourceImageType", json!("IMAGE"));
    let e = &errors(&vm(spec), None)[0];
    assert_eq!(e.kind, FieldErrorKind::Invalid);
    assert_eq!(
        e.to_string(),
        r#"spec: Invalid value: "object": sourceImage is required unless sourceImageType is EMPTY"#
    );
    let spec = with(
        with(base_spec(), "sourceImageType", json!("IMAGE")),
        "sourceImage",
        json!("debian"),
    );
    assert_eq!(compiled().validate(&vm(spec), None), Ok(()));
}

#[test]
fn cel_rule_on_list_items_with_field_path() {
    let spec = with(
        base_spec(),
        "rules",
        json!([{"protocol": "TCP", "portStart": 80, "portEnd": 443}, {"protocol": "TCP", "portStart": 9000, "portEnd": 8000}]),
    );
    assert_eq!(
        only_error(&vm(spec)),
        r#"spec.rules[1].portStart: Invalid value: "object": portStart must not exceed portEnd"#
    );
}

#[test]
fn cel_all_macro_size_matches_and_starts_with() {
    let spec = with(
        base_spec(),
        "rules",
        json!([{"protocol": "ICMP", "portStart": 1}]),
    );
    assert_eq!(
        only_error(&vm(spec)),
        r#"spec.rules: Invalid value: "array": ICMP rules have no ports"#
    );
    let spec = with(base_spec(), "hostname", json!("a".repeat(64)));
    assert_eq!(
        only_error(&vm(spec)),
        r#"spec.hostname: Invalid value: "string": hostname must be at most 63 characters"#
    );
    // Without a message the apiserver says which rule failed.
    let spec = with(base_spec(), "hostname", json!("9lives"));
    assert_eq!(
        only_error(&vm(spec)),
        r#"spec.hostname: Invalid value: "string": failed rule: self.matches('^[a-z][-a-z0-9]*$')"#
    );
    let spec = with(base_spec(), "tags", json!(["t-ok", "bad"]));
    assert_eq!(
        only_error(&vm(spec)),
        r#"spec.tags[1]: Invalid value: "string": tags start with t-"#
    );
}

#[test]
fn size_function_form() {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
        "x-kubernetes-validations": [{"rule": "size(self.name) <= 3", "message": "name too long"}],
        "properties": {"name": {"type": "string"}}}}});
    assert_eq!(
        validate_object(&schema, &json!({"spec": {"name": "abc"}}), None),
        Ok(())
    );
    let errs = validate_object(&schema, &json!({"spec": {"name": "abcd"}}), None).unwrap_err();
    assert_eq!(
        errs[0].to_string(),
        r#"spec: Invalid value: "object": name too long"#
    );
}

#[test]
fn transition_rules_skip_on_create_and_run_on_update() {
    let old = vm(with(base_spec(), "platformId", json!("p-1")));
    // Create: no old object, `self == oldSelf` is skipped.
    assert_eq!(
        compiled().validate(&vm(with(base_spec(), "platformId", json!("p-2"))), None),
        Ok(())
    );
    // Update with the same value passes, a changed value fails with the rule's message.
    assert_eq!(compiled().validate(&old, Some(&old)), Ok(()));
    let changed = vm(with(base_spec(), "platformId", json!("p-2")));
    assert_eq!(
        errors(&changed, Some(&old))
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec![r#"spec.platformId: Invalid value: "string": platformId is immutable"#.to_string()]
    );
    // Update where the old object lacked the field: no old value there, so the rule is skipped.
    assert_eq!(
        compiled().validate(&changed, Some(&vm(base_spec()))),
        Ok(())
    );
}

#[test]
fn transition_rule_with_has_on_old_self() {
    let old = vm(with(base_spec(), "backupId", json!("b-1")));
    assert_eq!(compiled().validate(&vm(base_spec()), None), Ok(()));
    assert_eq!(
        errors(&vm(base_spec()), Some(&old))
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec![r#"spec: Invalid value: "object": backupId cannot be removed"#.to_string()]
    );
    assert_eq!(compiled().validate(&old, Some(&old)), Ok(()));
}

#[test]
fn list_map_items_correlate_by_key_and_atomic_lists_do_not() {
    let schema = |list_type: Value| {
        json!({"type": "object", "properties": {"items": {
            "type": "array", "x-kubernetes-list-type": list_type, "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "properties": {"name": {"type": "string"}, "size": {"type": "integer",
                "x-kubernetes-validations": [{"rule": "self >= oldSelf", "message": "size cannot shrink"}]}}}
        }}})
    };
    let old = json!({"items": [{"name": "a", "size": 10}, {"name": "b", "size": 20}]});
    let reordered = json!({"items": [{"name": "b", "size": 20}, {"name": "a", "size": 10}]});
    let shrunk = json!({"items": [{"name": "b", "size": 20}, {"name": "a", "size": 5}]});
    let map = schema(json!("map"));
    assert_eq!(validate_object(&map, &reordered, Some(&old)), Ok(()));
    let errs = validate_object(&map, &shrunk, Some(&old)).unwrap_err();
    assert_eq!(
        errs[0].to_string(),
        r#"items[1].size: Invalid value: "integer": size cannot shrink"#
    );
    // Atomic list items have no old value: the transition rule is not evaluated.
    assert_eq!(
        validate_object(&schema(json!("atomic")), &shrunk, Some(&old)),
        Ok(())
    );
}

#[test]
fn cel_reasons_map_to_field_error_kinds() {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
        "x-kubernetes-validations": [
            {"rule": "!has(self.a)", "message": "a is forbidden", "reason": "FieldValueForbidden", "fieldPath": ".a"},
            {"rule": "has(self.b)", "message": "b is required", "reason": "FieldValueRequired", "fieldPath": ".b"}
        ],
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}}}}});
    let errs = validate_object(&schema, &json!({"spec": {"a": "x"}}), None).unwrap_err();
    assert_eq!(errs.len(), 2);
    assert_eq!(
        (errs[0].kind, errs[0].to_string()),
        (
            FieldErrorKind::Forbidden,
            "spec.a: Forbidden: a is forbidden".to_string()
        )
    );
    assert_eq!(
        (errs[1].kind, errs[1].to_string()),
        (
            FieldErrorKind::Required,
            "spec.b: Required value: b is required".to_string()
        )
    );
}

#[test]
fn cel_runtime_errors_are_invalid_not_panics() {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
        "x-kubernetes-validations": [{"rule": "self.missing == 1"}], "properties": {"x": {"type": "integer"}}}}});
    let errs = validate_object(&schema, &json!({"spec": {"x": 1}}), None).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].path, "spec");
    assert_eq!(errs[0].kind, FieldErrorKind::Invalid);
    assert!(
        errs[0]
            .message
            .contains("evaluating rule: self.missing == 1"),
        "{}",
        errs[0].message
    );
}

#[test]
fn broken_rules_are_reported_at_crd_registration() {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
        "x-kubernetes-validations": [{"rule": "self.a ==", "message": "m"}, {"rule": "true", "reason": "Bogus"},
                                     {"rule": "self.a == 'x'", "messageExpression": "'bad: ' +"}],
        "properties": {"a": {"type": "string"}}}}});
    let errs = check_crd_rules(&schema);
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule",
            "openAPIV3Schema.properties[spec].x-kubernetes-validations[1].reason",
            "openAPIV3Schema.properties[spec].x-kubernetes-validations[2].messageExpression",
        ]
    );
    assert!(
        errs[0].message.starts_with("compilation failed"),
        "{}",
        errs[0].message
    );
    assert_eq!(errs[1].kind, FieldErrorKind::NotSupported);
    assert!(
        errs[2]
            .message
            .starts_with("messageExpression compilation failed"),
        "{}",
        errs[2].message
    );
    match CompiledSchema::compile(&schema) {
        Err(SchemaError::Rules(e)) => assert_eq!(e.len(), 3),
        other => panic!("expected rule errors, got {other:?}"),
    }
    assert!(check_crd_rules(&vm_schema()).is_empty());
    let bad_pattern =
        json!({"type": "object", "properties": {"a": {"type": "string", "pattern": "(["}}});
    assert!(matches!(
        CompiledSchema::compile(&bad_pattern),
        Err(SchemaError::Structural(_))
    ));
}

#[test]
fn compiled_schemas_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<CompiledSchema>();
    let c = std::sync::Arc::new(compiled());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let c = c.clone();
            std::thread::spawn(move || {
                c.validate(&vm(with(base_spec(), "vcpu", json!(i + 1))), None)
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().expect("thread"), Ok(()));
    }
}

#[test]
fn message_expressions_build_the_message() {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
        "x-kubernetes-validations": [{"rule": "self.vcpu <= 8", "message": "static",
                                      "messageExpression": "'vcpu ' + string(self.vcpu) + ' exceeds 8'"}],
        "properties": {"vcpu": {"type": "integer"}}}}});
    let errs = validate_object(&schema, &json!({"spec": {"vcpu": 12}}), None).unwrap_err();
    assert_eq!(
        errs[0].to_string(),
        r#"spec: Invalid value: "object": vcpu 12 exceeds 8"#
    );
}

#[test]
fn crd_versions_are_checked_before_serving() {
    let version = json!({
        "name": "v1alpha1",
        "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object",
            "x-kubernetes-validations": [{"rule": "self.a ==", "message": "broken"}]}}}},
        "additionalPrinterColumns": [
            {"name": "Ready", "type": "string", "jsonPath": ".status.ready"},
            {"name": "Bad", "type": "float", "jsonPath": ".spec["},
            {"type": "string"}
        ]
    });
    let texts: Vec<String> = check_crd_version(2, &version)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(texts.len(), 5, "{texts:?}");
    assert!(texts[0].starts_with(
        r#"spec.versions[2].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Invalid value: "self.a ==": compilation failed"#
    ), "{texts:?}");
    assert_eq!(
        texts[1],
        r#"spec.versions[2].additionalPrinterColumns[1].type: Unsupported value: "float": supported values: "boolean", "date", "integer", "number", "string""#
    );
    assert!(texts[2].starts_with(r#"spec.versions[2].additionalPrinterColumns[1].jsonPath: Invalid value: ".spec[": must be a simple json path"#), "{texts:?}");
    assert_eq!(
        texts[3],
        "spec.versions[2].additionalPrinterColumns[2].name: Required value"
    );
    assert_eq!(
        texts[4],
        "spec.versions[2].additionalPrinterColumns[2].jsonPath: Required value"
    );
    let missing = check_crd_version(0, &json!({"name": "v1"}));
    assert_eq!(
        missing[0].to_string(),
        "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"
    );
    assert_eq!(
        check_crd_version(
            0,
            &json!({"name": "v1", "schema": {"openAPIV3Schema": vm_schema()}})
        ),
        vec![]
    );
}

#[test]
fn unchanged_invalid_values_are_ratcheted_on_update() {
    // Stored under a looser schema: vcpu 40 and a hostname the rule rejects.
    let old = vm(with(
        with(base_spec(), "vcpu", json!(40)),
        "hostname",
        json!("9lives"),
    ));
    let mut edited = old.clone();
    edited["spec"]["powerState"] = json!("Stopped");
    assert_eq!(compiled().validate(&edited, Some(&old)), Ok(()));
    // The same object is rejected on create, and a changed bad value is rejected on update.
    assert!(compiled().validate(&edited, None).is_err());
    edited["spec"]["vcpu"] = json!(41);
    let texts: Vec<String> = errors(&edited, Some(&old))
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        texts[0].starts_with("spec.vcpu: Invalid value: 41"),
        "{texts:?}"
    );
}

#[test]
fn transition_rules_still_run_on_unchanged_values() {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "token": {"type": "string", "x-kubernetes-validations": [
            {"rule": "self != oldSelf", "message": "token must rotate on every update"},
            {"rule": "self.startsWith('t-')", "message": "tokens start with t-"}]}}}}});
    let old = json!({"spec": {"token": "legacy"}});
    let errs = validate_object(&schema, &old, Some(&old)).unwrap_err();
    // The non-transition rule is ratcheted, the transition rule is not.
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(
        errs[0].to_string(),
        r#"spec.token: Invalid value: "string": token must rotate on every update"#
    );
}
