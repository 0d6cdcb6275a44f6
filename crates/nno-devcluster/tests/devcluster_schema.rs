//! Unit tests of the devcluster schema logic: structural validation and its apiserver-style messages,
//! `x-kubernetes-list-type` invariants, defaulting and pruning.

#![recursion_limit = "256"]

#[path = "schema_fixtures/mod.rs"]
mod fixtures;

use fixtures::{base_spec, compiled, errors, only_error, vm, vm_schema, with};
use nno_devcluster::schema::{
    FieldError, FieldErrorKind, apply_defaults, invalid_status, prune_unknown, status_message,
    strict_decoding_message, validate_object,
};
use serde_json::{Value, json};

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
    // A float without fraction is an integer to the apiserver (Go decodes it to float64 2).
    assert_eq!(
        compiled().validate(&vm(with(base_spec(), "vcpu", json!(2.0))), None),
        Ok(())
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
        "metadata": {"name": "web", "labels": {"a": "b"}, "annotations": {"x": "y"}, "colour": "red"},
        "spec": {"platformRef": {"name": "acme", "extra": 1}, "vcpu": 2, "bogus": true,
                 "rules": [{"protocol": "TCP", "typo": 1}], "labels": {"free": "form"}, "size": {"any": "thing"}},
        "status": {"anything": {"goes": [1, 2]}},
        "topLevelJunk": 1
    });
    let pruned = prune_unknown(&schema, &mut obj);
    assert_eq!(
        pruned,
        vec![
            "metadata.colour",
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

#[test]
fn list_type_set_and_map_reject_duplicates() {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "whitelist": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "rules": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["sourcePort"],
                  "items": {"type": "object", "properties": {"sourcePort": {"type": "integer"}, "targetPort": {"type": "integer"}}}},
        "plain": {"type": "array", "items": {"type": "string"}}
    }}}});
    let ok = json!({"spec": {"whitelist": ["10.0.0.1", "10.0.0.2"], "plain": ["a", "a"],
                             "rules": [{"sourcePort": 80, "targetPort": 8080}, {"sourcePort": 443, "targetPort": 8080}]}});
    assert_eq!(validate_object(&schema, &ok, None), Ok(()));
    let dup = json!({"spec": {"whitelist": ["10.0.0.1", "10.0.0.2", "10.0.0.1"],
                              "rules": [{"sourcePort": 80, "targetPort": 1}, {"sourcePort": 80, "targetPort": 2}]}});
    let errs = validate_object(&schema, &dup, None).unwrap_err();
    let texts: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(
        texts,
        vec![
            r#"spec.rules[1]: Duplicate value: {"sourcePort":80}"#.to_string(),
            r#"spec.whitelist[2]: Duplicate value: "10.0.0.1""#.to_string(),
        ]
    );
    assert!(
        errs.iter().all(
            |e| e.kind == FieldErrorKind::Duplicate && e.kind.reason() == "FieldValueDuplicate"
        )
    );
}

#[test]
fn strict_field_validation_message() {
    let unknown = vec!["spec.bogus".to_string(), "spec.rules[0].typo".to_string()];
    assert_eq!(
        strict_decoding_message("VirtualMachine", "v1alpha1", &unknown),
        r#"VirtualMachine in version "v1alpha1" cannot be handled as a VirtualMachine: strict decoding error: unknown field "spec.bogus", unknown field "spec.rules[0].typo""#
    );
}
