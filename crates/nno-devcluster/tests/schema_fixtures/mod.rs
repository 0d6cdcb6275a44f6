//! Shared fixtures of the devcluster schema tests: a VirtualMachine-like schema using the rule forms
//! of the project's CRDs, and helpers to validate against it.

// Each test crate includes this module and uses a different subset of it.
#![allow(dead_code)]

use nno_devcluster::schema::{CompiledSchema, FieldError};
use serde_json::{Value, json};

/// A VirtualMachine-like schema with the rule forms the project's CRDs use.
pub fn vm_schema() -> Value {
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

pub fn vm(spec: Value) -> Value {
    json!({"apiVersion": "nno.app/v1alpha1", "kind": "VirtualMachine", "metadata": {"name": "web"}, "spec": spec})
}

pub fn base_spec() -> Value {
    json!({"platformRef": {"name": "acme"}, "vcpu": 2, "sourceImageType": "EMPTY"})
}

pub fn with(mut spec: Value, key: &str, value: Value) -> Value {
    spec[key] = value;
    spec
}

pub fn compiled() -> CompiledSchema {
    CompiledSchema::compile(&vm_schema()).expect("the test schema compiles")
}

pub fn errors(obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    compiled().validate(obj, old).err().unwrap_or_default()
}

/// The single field error for `obj`, rendered as the apiserver's `field: body` text (the note
/// that blocking errors kept the CEL rules from running is not counted).
pub fn only_error(obj: &Value) -> String {
    let errs: Vec<FieldError> = errors(obj, None)
        .into_iter()
        .filter(|e| e.path != "<nil>")
        .collect();
    assert_eq!(errs.len(), 1, "expected exactly one error, got {errs:?}");
    errs[0].to_string()
}
