//! Unit tests of the devcluster schema logic: structural validation and its apiserver-style messages,
//! CEL rules (including transition rules), defaulting and pruning.

#![recursion_limit = "256"]

use nno_operator::devcluster::schema::{
    CompiledSchema, FieldError, FieldErrorKind, SchemaError, apply_defaults, check_crd_rules,
    invalid_status, prune_unknown, status_message, validate_object,
};
use serde_json::{Value, json};

/// A VirtualMachine-like schema with the rule forms the project's CRDs use.
fn vm_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "required": ["platformRef", "vcpu"],
                "x-kubernetes-validations": [
                    {"rule": "self.sourceImageType == 'EMPTY' || has(self.sourceImage)",
                     "message": "sourceImage is required unless sourceImageType is EMPTY"},
                    {"rule": "!has(oldSelf.backupId) || has(self.backupId)", "message": "backupId cannot be removed"}
                ],
                "properties": {
                    "platformRef": {
                        "type": "object", "required": ["name"],
                        "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 63,
                                                "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"}}
                    },
                    "platformId": {"type": "string",
                        "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "platformId is immutable"}]},
                    "hostname": {"type": "string", "x-kubernetes-validations": [
                        {"rule": "self.size() <= 63", "message": "hostname must be at most 63 characters"},
                        {"rule": "self.matches('^[a-z][-a-z0-9]*$')"}
                    ]},
                    "vcpu": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 16},
                    "ramGb": {"type": "number", "minimum": 0.5, "exclusiveMinimum": true, "maximum": 128, "exclusiveMaximum": true},
                    "powerState": {"type": "string", "enum": ["Running", "Stopped"], "default": "Running"},
                    "deletionPolicy": {"type": "string", "enum": ["Delete", "Orphan"], "default": "Delete"},
                    "sourceImageType": {"type": "string", "default": "IMAGE"},
                    "sourceImage": {"type": "string"},
                    "backupId": {"type": "string"},
                    "contactEmail": {"type": "string", "format": "email"},
                    "expiresAt": {"type": "string", "format": "date-time"},
                    "note": {"type": "string", "format": "some-unknown-format"},
                    "description": {"type": "string", "nullable": true},
                    "size": {"x-kubernetes-int-or-string": true},
                    "tags": {"type": "array", "maxItems": 3, "items": {"type": "string",
                        "x-kubernetes-validations": [{"rule": "self.startsWith('t-')", "message": "tags start with t-"}]}},
                    "sshKeys": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                    "labels": {"type": "object", "maxProperties": 2, "additionalProperties": {"type": "string", "maxLength": 5}},
                    "rules": {
                        "type": "array",
                        "x-kubernetes-validations": [{"rule": "self.all(r, r.protocol != 'ICMP' || !has(r.portStart))",
                                                       "message": "ICMP rules have no ports"}],
                        "items": {
                            "type": "object",
                            "required": ["protocol"],
                            "x-kubernetes-validations": [
                                {"rule": "!has(self.portStart) || !has(self.portEnd) || self.portStart <= self.portEnd",
                                 "message": "portStart must not exceed portEnd", "fieldPath": ".portStart"}
                            ],
                            "properties": {
                                "protocol": {"type": "string", "enum": ["TCP", "UDP", "ICMP"]},
                                "portStart": {"type": "integer", "minimum": 1, "maximum": 65535},
                                "portEnd": {"type": "integer", "minimum": 1, "maximum": 65535}
                            }
                        }
                    }
                }
            },
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
        }
    })
}

fn vm(spec: Value) -> Value {
    json!({"apiVersion": "nno.app/v1alpha1", "kind": "VirtualMachine", "metadata": {"name": "web"}, "spec": spec})
}

fn base_spec() -> Value {
    json!({"platformRef": {"name": "acme"}, "vcpu": 2, "sourceImageType": "EMPTY"})
}

fn with(mut spec: Value, key: &str, value: Value) -> Value {
    spec[key] = value;
    spec
}

fn compiled() -> CompiledSchema {
    CompiledSchema::compile(&vm_schema()).expect("the test schema compiles")
}

fn errors(obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    compiled().validate(obj, old).err().unwrap_or_default()
}

/// The single field error for `obj`, rendered as the apiserver's `field: body` text (the note
/// that blocking errors kept the CEL rules from running is not counted).
fn only_error(obj: &Value) -> String {
    let errs: Vec<FieldError> = errors(obj, None)
        .into_iter()
        .filter(|e| e.path != "<nil>")
        .collect();
    assert_eq!(errs.len(), 1, "expected exactly one error, got {errs:?}");
    errs[0].to_string()
}

#[test]
fn a_valid_object_passes() {
    let spec = json!({
        "platformRef": {"name": "acme"}, "vcpu": 16, "ramGb": 64, "sourceImageType": "IMAGE", "sourceImage": "ubuntu-24.04",
        "contactEmail": "ops@example.com", "expiresAt": "2030-01-01T00:00:00Z", "note": "anything", "description": null,
        "size": "10Gi", "tags": ["t-a"], "sshKeys": ["ssh-ed25519 AAAA"], "labels": {"a": "b"},
        "rules": [{"protocol": "TCP", "portStart": 80, "portEnd": 443}, {"protocol": "ICMP"}]
    });
    assert_eq!(compiled().validate(&vm(spec), None), Ok(()));
    assert_eq!(
        compiled().validate(&vm(with(base_spec(), "size", json!(10))), None),
        Ok(())
    );
}

#[test]
fn maximum_and_minimum_render_like_the_apiserver() {
    let e = &errors(&vm(with(base_spec(), "vcpu", json!(40))), None)[0];
    assert_eq!(e.kind, FieldErrorKind::Invalid);
    assert_eq!(e.kind.reason(), "FieldValueInvalid");
    assert_eq!(e.path, "spec.vcpu");
    assert_eq!(e.value, Some(json!(40)));
    assert_eq!(
        e.to_string(),
        "spec.vcpu: Invalid value: 40: spec.vcpu in body should be less than or equal to 16"
    );
    assert_eq!(
        only_error(&vm(with(base_spec(), "vcpu", json!(0)))),
        "spec.vcpu: Invalid value: 0: spec.vcpu in body should be greater than or equal to 1"
    );
    assert_eq!(
        only_error(&vm(with(base_spec(), "ramGb", json!(128)))),
        "spec.ramGb: Invalid value: 128: spec.ramGb in body should be less than 128"
    );
    assert_eq!(
        only_error(&vm(with(base_spec(), "ramGb", json!(0.5)))),
        "spec.ramGb: Invalid value: 0.5: spec.ramGb in body should be greater than 0.5"
    );
}

#[test]
fn required_fields_name_the_missing_field() {
    let spec = json!({"vcpu": 2, "sourceImageType": "EMPTY"});
    let e = &errors(&vm(spec), None)[0];
    assert_eq!(
        (e.kind, e.kind.reason()),
        (FieldErrorKind::Required, "FieldValueRequired")
    );
    assert_eq!(e.to_string(), "spec.platformRef: Required value");
    let nested = with(base_spec(), "rules", json!([{"portStart": 1}]));
    let texts: Vec<String> = errors(&vm(nested), None)
        .iter()
        .map(ToString::to_string)
        .collect();
    // A required-field error blocks the CEL rules, and the apiserver says so.
    assert_eq!(
        texts,
        vec![
            "spec.rules[0].protocol: Required value".to_string(),
            r#"<nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"#.to_string(),
        ]
    );
}

#[test]
fn enum_violations_list_the_supported_values() {
    let e = &errors(&vm(with(base_spec(), "powerState", json!("Off"))), None)[0];
    assert_eq!(
        (e.kind, e.kind.reason()),
        (FieldErrorKind::NotSupported, "FieldValueNotSupported")
    );
    assert_eq!(
        e.to_string(),
        r#"spec.powerState: Unsupported value: "Off": supported values: "Running", "Stopped""#
    );
}

#[test]
fn string_length_and_pattern() {
    let long = "a".repeat(64);
    let e = &errors(
        &vm(with(base_spec(), "platformRef", json!({"name": long}))),
        None,
    )[0];
    assert_eq!(
        (e.kind, e.kind.reason()),
        (FieldErrorKind::TooLong, "FieldValueTooLong")
    );
    assert_eq!(
        e.to_string(),
        "spec.platformRef.name: Too long: may not be longer than 63"
    );

    let errs = errors(
        &vm(with(base_spec(), "platformRef", json!({"name": ""}))),
        None,
    );
    let texts: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert!(
        texts.contains(&r#"spec.platformRef.name: Invalid value: "": spec.platformRef.name in body should be at least 1 chars long"#.to_string()),
        "{texts:?}"
    );
    assert_eq!(
        only_error(&vm(with(
            base_spec(),
            "platformRef",
            json!({"name": "Acme"})
        ))),
        r#"spec.platformRef.name: Invalid value: "Acme": spec.platformRef.name in body should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'"#
    );
}

#[test]
fn item_and_property_counts() {
    let e = &errors(
        &vm(with(
            base_spec(),
            "tags",
            json!(["t-1", "t-2", "t-3", "t-4"]),
        )),
        None,
    )[0];
    assert_eq!(
        (e.kind, e.kind.reason()),
        (FieldErrorKind::TooMany, "FieldValueTooMany")
    );
    assert_eq!(
        e.to_string(),
        "spec.tags: Too many: 4: must have at most 3 items"
    );
    assert_eq!(
        only_error(&vm(with(base_spec(), "sshKeys", json!([])))),
        "spec.sshKeys: Invalid value: 0: spec.sshKeys in body should have at least 1 items"
    );
    assert_eq!(
        only_error(&vm(with(
            base_spec(),
            "labels",
            json!({"a": "1", "b": "2", "c": "3"})
        ))),
        "spec.labels: Too many: 3: must have at most 2 items"
    );
    assert_eq!(
        only_error(&vm(with(base_spec(), "labels", json!({"a": "toolong"})))),
        "spec.labels.a: Too long: may not be longer than 5"
    );
}

#[test]
fn wrong_types_are_type_invalid() {
    let e = &errors(&vm(with(base_spec(), "vcpu", json!("two"))), None)[0];
    assert_eq!(
        (e.kind, e.kind.reason()),
        (FieldErrorKind::TypeInvalid, "FieldValueTypeInvalid")
    );
    assert_eq!(
        e.to_string(),
        r#"spec.vcpu: Invalid value: "string": spec.vcpu in body must be of type integer: "string""#
    );
    assert_eq!(
        only_error(&vm(with(base_spec(), "vcpu", json!(2.5)))),
        r#"spec.vcpu: Invalid value: "number": spec.vcpu in body must be of type integer: "number""#
    );
    assert_eq!(
        only_error(&vm(with(
            base_spec(),
            "rules",
            json!([{"protocol": "TCP", "portStart": "80"}])
        ))),
        r#"spec.rules[0].portStart: Invalid value: "string": spec.rules[0].portStart in body must be of type integer: "string""#
    );
    // nullable admits null; a non-nullable field does not; int-or-string admits only those two.
    assert_eq!(
        only_error(&vm(with(base_spec(), "sourceImage", Value::Null))),
        r#"spec.sourceImage: Invalid value: "null": spec.sourceImage in body must be of type string: "null""#
    );
    assert_eq!(
        only_error(&vm(with(base_spec(), "size", json!(true)))),
        r#"spec.size: Invalid value: "boolean": spec.size in body must be of type integer,string: "boolean""#
    );
}

#[test]
fn only_the_apiservers_formats_are_checked() {
    assert_eq!(
        only_error(&vm(with(
            base_spec(),
            "contactEmail",
            json!("not-an-email")
        ))),
        r#"spec.contactEmail: Invalid value: "not-an-email": spec.contactEmail in body must be of type email: "not-an-email""#
    );
    assert_eq!(
        only_error(&vm(with(base_spec(), "expiresAt", json!("next tuesday")))),
        r#"spec.expiresAt: Invalid value: "next tuesday": spec.expiresAt in body must be of type date-time: "next tuesday""#
    );
    // `int32` on an integer and an unknown string format are not checked and do not error.
    assert_eq!(
        compiled().validate(&vm(with(base_spec(), "note", json!("%%%"))), None),
        Ok(())
    );
}

#[test]
fn several_errors_are_all_reported_and_rendered_in_brackets() {
    let spec = json!({"vcpu": 40, "powerState": "Off", "sourceImageType": "EMPTY"});
    let errs = errors(&vm(spec), None);
    assert_eq!(errs.len(), 4, "{errs:?}");
    let msg = status_message("VirtualMachine.nno.app", "web", &errs);
    assert!(
        msg.starts_with(r#"VirtualMachine.nno.app "web" is invalid: ["#),
        "{msg}"
    );
    assert!(msg.ends_with(']'), "{msg}");
    for part in [
        "spec.platformRef: Required value",
        "spec.vcpu: Invalid value: 40: spec.vcpu in body should be less than or equal to 16",
        r#"spec.powerState: Unsupported value: "Off": supported values: "Running", "Stopped""#,
        "some validation rules were not checked",
    ] {
        assert!(msg.contains(part), "{msg} lacks {part}");
    }
}

#[test]
fn status_message_and_status_object_match_the_apiserver() {
    let e = FieldError::new(
        FieldErrorKind::Invalid,
        "spec.vcpu",
        Some(json!(40)),
        "spec.vcpu in body should be less than or equal to 16",
    );
    assert_eq!(
        status_message("VirtualMachine.nno.app", "web", std::slice::from_ref(&e)),
        r#"VirtualMachine.nno.app "web" is invalid: spec.vcpu: Invalid value: 40: spec.vcpu in body should be less than or equal to 16"#
    );
    // Identical errors are reported once, as ToAggregate does.
    assert_eq!(
        status_message("Secret", "s", &[e.clone(), e.clone()]),
        status_message("Secret", "s", std::slice::from_ref(&e))
    );
    let status = invalid_status("nno.app", "VirtualMachine", "web", &[e]);
    assert_eq!(status["code"], 422);
    assert_eq!(status["reason"], "Invalid");
    assert_eq!(status["details"]["kind"], "VirtualMachine");
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "FieldValueInvalid"
    );
    assert_eq!(status["details"]["causes"][0]["field"], "spec.vcpu");
    assert_eq!(
        status["details"]["causes"][0]["message"],
        "Invalid value: 40: spec.vcpu in body should be less than or equal to 16"
    );
    let forbidden = FieldError::new(FieldErrorKind::Forbidden, "spec.x", None, "may not be set");
    assert_eq!(forbidden.to_string(), "spec.x: Forbidden: may not be set");
    assert_eq!(forbidden.kind.reason(), "FieldValueForbidden");
    let quoted = FieldError::new(
        FieldErrorKind::Invalid,
        "spec.y",
        Some(json!("a\"b\n")),
        "bad",
    );
    assert_eq!(
        quoted.to_string(),
        r#"spec.y: Invalid value: "a\"b\n": bad"#
    );
}

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
fn defaults_fill_absent_fields_recursively() {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "powerState": {"type": "string", "default": "Running"},
        "nested": {"type": "object", "default": {}, "properties": {"deep": {"type": "integer", "default": 7}}},
        "disks": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "type": {"type": "string", "default": "ssd"}}}},
        "byZone": {"type": "object", "additionalProperties": {"type": "object", "properties": {
            "replicas": {"type": "integer", "default": 1}}}},
        "keepNull": {"type": "string", "nullable": true, "default": "x"},
        "dropNull": {"type": "string"},
        "nullToDefault": {"type": "string", "default": "d"}
    }}}});
    let mut obj = json!({"spec": {"disks": [{"name": "a"}, {"name": "b", "type": "hdd"}],
        "byZone": {"z1": {}, "z2": {"replicas": 3}}, "keepNull": null, "dropNull": null, "nullToDefault": null}});
    apply_defaults(&schema, &mut obj);
    assert_eq!(
        obj,
        json!({"spec": {
            "powerState": "Running",
            "nested": {"deep": 7},
            "disks": [{"name": "a", "type": "ssd"}, {"name": "b", "type": "hdd"}],
            "byZone": {"z1": {"replicas": 1}, "z2": {"replicas": 3}},
            "keepNull": null,
            "nullToDefault": "d"
        }})
    );
    // An absent parent object is not created (only present objects get defaults).
    let mut empty = json!({});
    apply_defaults(&schema, &mut empty);
    assert_eq!(empty, json!({}));
}

#[test]
fn defaults_then_validation_as_the_server_does() {
    let c = compiled();
    let mut obj = vm(base_spec());
    apply_defaults(c.schema(), &mut obj);
    assert_eq!(obj["spec"]["powerState"], "Running");
    assert_eq!(obj["spec"]["deletionPolicy"], "Delete");
    assert_eq!(c.validate(&obj, None), Ok(()));
}

#[test]
fn pruning_drops_unknown_fields_but_keeps_preserved_ones() {
    let schema = vm_schema();
    let mut obj = json!({
        "apiVersion": "nno.app/v1alpha1", "kind": "VirtualMachine",
        "metadata": {"name": "web", "labels": {"a": "b"}, "annotations": {"x": "y"}},
        "spec": {"platformRef": {"name": "acme", "extra": 1}, "vcpu": 2, "bogus": true,
                 "rules": [{"protocol": "TCP", "typo": 1}], "labels": {"free": "form"}, "size": {"any": "thing"}},
        "status": {"anything": {"goes": [1, 2]}},
        "topLevelJunk": 1
    });
    let pruned = prune_unknown(&schema, &mut obj);
    assert_eq!(
        pruned,
        vec![
            "spec.bogus",
            "spec.platformRef.extra",
            "spec.rules[0].typo",
            "topLevelJunk"
        ]
    );
    assert_eq!(obj["metadata"]["annotations"]["x"], "y");
    assert_eq!(obj["spec"]["labels"]["free"], "form");
    assert_eq!(obj["status"]["anything"]["goes"], json!([1, 2]));
    assert_eq!(obj["spec"]["rules"], json!([{"protocol": "TCP"}]));
    assert!(obj.get("topLevelJunk").is_none());

    // An object without properties and without preserve-unknown-fields keeps nothing;
    // an embedded resource keeps apiVersion/kind/metadata.
    let schema = json!({"type": "object", "properties": {
        "opaque": {"type": "object"},
        "template": {"type": "object", "x-kubernetes-embedded-resource": true, "properties": {"spec": {"type": "object"}}}}});
    let mut obj = json!({"opaque": {"a": 1}, "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "other": 1}});
    assert_eq!(
        prune_unknown(&schema, &mut obj),
        vec!["opaque.a", "template.other"]
    );
    assert_eq!(
        obj,
        json!({"opaque": {}, "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}})
    );
}
