//! The generated CRDs: checked-in copies, structural schemas, names, printer columns, enums,
//! defaults and validation rules (CEL rules evaluated with kube's client-side CEL engine).

use std::collections::BTreeSet;
use std::path::Path;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::cel::Validator;
use nno_operator::api;
use serde_json::{Value, json};

fn crd(kind: &str) -> CustomResourceDefinition {
    api::crds()
        .into_iter()
        .find(|c| c.spec.names.kind == kind)
        .unwrap_or_else(|| panic!("no CRD for kind {kind}"))
}

fn schema(kind: &str) -> Value {
    let crd = crd(kind);
    let s = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .expect("openAPIV3Schema");
    serde_json::to_value(s).unwrap()
}

/// The schema node at a dotted path below the root (`spec.rules[].portStart`).
fn node<'a>(schema: &'a Value, path: &str) -> &'a Value {
    let mut n = schema;
    for part in path.split('.') {
        let (name, items) = match part.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (part, false),
        };
        n = &n["properties"][name];
        assert!(!n.is_null(), "no schema node at {path} (missing {name})");
        if items {
            n = &n["items"];
        }
    }
    n
}

fn rules_at(schema: &Value, path: &str) -> Vec<String> {
    let n = if path.is_empty() {
        schema
    } else {
        node(schema, path)
    };
    n["x-kubernetes-validations"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| r["rule"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

const KINDS: [(&str, &str, &str); 7] = [
    ("Platform", "platforms", "plat"),
    ("VirtualMachine", "virtualmachines", "vm"),
    ("Disk", "disks", "disk"),
    ("Bucket", "buckets", "bkt"),
    ("Firewall", "firewalls", "fw"),
    ("LoadBalancer", "loadbalancers", "lb"),
    ("ServicePackage", "servicepackages", "svcpkg"),
];

/// The three places the CRDs ship from: crds/ (kubectl), the Helm chart's crds/, and kustomize's
/// config/crd/ (which also holds its kustomization.yaml).
const CRD_DIRS: &[(&str, &[&str])] = &[
    ("crds", &[]),
    ("charts/nno-operator/crds", &[]),
    ("config/crd", &["kustomization.yaml"]),
];

#[test]
fn crds_dirs_match_generated_output() {
    for (rel, extra) in CRD_DIRS {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
        let fix = format!("run `cargo run -- crds --out-dir {rel}`");
        let mut expected: BTreeSet<String> = extra.iter().map(|s| s.to_string()).collect();
        for crd in api::crds() {
            let name = api::crd_file_name(&crd);
            let on_disk = std::fs::read_to_string(dir.join(&name))
                .unwrap_or_else(|e| panic!("{rel}/{name}: {e}; {fix}"));
            assert_eq!(
                on_disk,
                api::crd_yaml(&crd).unwrap(),
                "{rel}/{name} is stale; {fix}"
            );
            expected.insert(name);
        }
        let present: BTreeSet<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(present, expected, "{rel}/ holds files no kind generates");
    }
}

#[test]
fn stdout_output_is_the_concatenation_of_the_files() {
    let joined: String = api::crds()
        .iter()
        .map(|c| api::crd_yaml(c).unwrap())
        .collect();
    assert_eq!(api::crds_yaml().unwrap(), joined);
    let docs: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&joined)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    assert_eq!(docs.len(), 7);
}

/// Collects violations of the Kubernetes structural-schema rules and of our own "every field has
/// a description" rule below `node`.
fn check_structural(n: &Value, path: &str, errors: &mut Vec<String>) {
    const FORBIDDEN: [&str; 12] = [
        "$ref",
        "definitions",
        "$defs",
        "anyOf",
        "oneOf",
        "allOf",
        "not",
        "const",
        "additionalItems",
        "patternProperties",
        "dependencies",
        "$schema",
    ];
    let obj = n.as_object().expect("schema node is an object");
    for key in FORBIDDEN {
        if obj.contains_key(key) {
            errors.push(format!("{path}: forbidden keyword {key}"));
        }
    }
    if obj.get("uniqueItems") == Some(&json!(true)) {
        errors.push(format!("{path}: uniqueItems: true is not allowed"));
    }
    let preserve = obj.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true));
    let int_or_string = obj.get("x-kubernetes-int-or-string") == Some(&json!(true));
    match obj.get("type").and_then(Value::as_str) {
        Some("object") => {
            let props = obj.get("properties").and_then(Value::as_object);
            let additional = obj.get("additionalProperties");
            if props.is_some() && additional.is_some() {
                errors.push(format!(
                    "{path}: properties and additionalProperties together"
                ));
            }
            if props.is_none() && additional.is_none() && !preserve {
                errors.push(format!(
                    "{path}: object without properties prunes everything"
                ));
            }
            for (name, child) in props.into_iter().flatten() {
                let child_path = format!("{path}.{name}");
                if child
                    .get("description")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    errors.push(format!("{child_path}: no description"));
                }
                check_structural(child, &child_path, errors);
            }
            if let Some(a) = additional.filter(|a| a.is_object()) {
                check_structural(a, &format!("{path}.*"), errors);
            }
            let required = obj.get("required").and_then(Value::as_array);
            for r in required.into_iter().flatten() {
                if !props.is_some_and(|p| p.contains_key(r.as_str().unwrap_or(""))) {
                    errors.push(format!("{path}: required {r} is not a property"));
                }
            }
        }
        Some("array") => match obj.get("items") {
            Some(items) if items.is_object() => {
                check_structural(items, &format!("{path}[]"), errors)
            }
            _ => errors.push(format!("{path}: array without an items schema")),
        },
        Some("string" | "integer" | "number" | "boolean") => {}
        Some(other) => errors.push(format!("{path}: unknown type {other}")),
        None if int_or_string => {}
        None => errors.push(format!("{path}: no type")),
    }
}

#[test]
fn every_crd_is_structural_and_every_field_has_a_description() {
    let mut errors = Vec::new();
    for (kind, _, _) in KINDS {
        let s = schema(kind);
        assert!(
            s["description"].as_str().is_some_and(|d| d.len() > 20),
            "{kind}: no top-level description"
        );
        check_structural(&s, kind, &mut errors);
    }
    assert!(errors.is_empty(), "schema problems:\n{}", errors.join("\n"));
}

#[test]
fn structural_check_catches_problems() {
    let mut errors = Vec::new();
    let bad = json!({"type": "object", "properties": {
        "a": {"type": "string"},
        "b": {"description": "x", "anyOf": [{"type": "string"}]},
        "c": {"description": "x", "type": "array"}
    }});
    check_structural(&bad, "bad", &mut errors);
    assert!(
        errors.iter().any(|e| e == "bad.a: no description"),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("bad.b: forbidden keyword anyOf"))
    );
    assert!(errors.iter().any(|e| e.contains("bad.b: no type")));
    assert!(errors.iter().any(|e| e.contains("bad.c: array without")));
}

#[test]
fn names_short_names_categories_scope_and_subresources() {
    for (kind, plural, short) in KINDS {
        let c = crd(kind);
        assert_eq!(c.spec.group, "nno.app");
        assert_eq!(c.spec.scope, "Namespaced", "{kind}");
        assert_eq!(c.spec.names.plural, plural);
        assert_eq!(
            c.metadata.name.as_deref(),
            Some(&*format!("{plural}.nno.app"))
        );
        assert_eq!(c.spec.names.short_names, Some(vec![short.to_string()]));
        assert_eq!(c.spec.names.categories, Some(vec!["nno".to_string()]));
        assert_eq!(c.spec.versions.len(), 1);
        let v = &c.spec.versions[0];
        assert_eq!(v.name, "v1alpha1");
        assert!(v.served && v.storage);
        assert!(
            v.subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some(),
            "{kind}: no status subresource"
        );
    }
}

#[test]
fn printer_columns_lead_with_ready_synced_external_id_and_end_with_age() {
    for (kind, _, _) in KINDS {
        let c = crd(kind);
        let cols = c.spec.versions[0]
            .additional_printer_columns
            .clone()
            .unwrap_or_default();
        let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names[..3],
            ["READY", "SYNCED", "EXTERNAL-ID"],
            "{kind}: {names:?}"
        );
        assert_eq!(names.last(), Some(&"AGE"), "{kind}");
        assert!(
            (5..=9).contains(&cols.len()),
            "{kind}: 2-3 key fields expected, got {names:?}"
        );
        assert_eq!(
            cols[0].json_path,
            r#".status.conditions[?(@.type=="Ready")].status"#
        );
        assert_eq!(cols[2].json_path, ".status.externalId");
        let age = cols.last().unwrap();
        assert_eq!(
            (age.type_.as_str(), age.json_path.as_str()),
            ("date", ".metadata.creationTimestamp")
        );
        // Every column points at a field the schema has.
        let s = schema(kind);
        for col in &cols[..cols.len() - 1] {
            let path = col.json_path.trim_start_matches('.');
            if path.starts_with("status.conditions") {
                continue;
            }
            node(&s, path);
        }
    }
}

#[test]
fn enums_come_from_the_api_references() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("Platform", "spec.environment", &["dev", "stg", "prod"]),
        (
            "Platform",
            "spec.onboarding.tier",
            &["starter", "growth", "scale"],
        ),
        (
            "Platform",
            "spec.apps[].appType",
            &["app", "svc", "fullstack"],
        ),
        ("Platform", "spec.deletionPolicy", &["Delete", "Orphan"]),
        ("VirtualMachine", "spec.powerState", &["Running", "Stopped"]),
        (
            "VirtualMachine",
            "spec.managementPolicy",
            &["Manage", "Observe"],
        ),
        ("VirtualMachine", "spec.driftPolicy", &["Correct", "Report"]),
        (
            "Disk",
            "spec.sourceImageType",
            &["EMPTY", "OS_BASE", "DISK", "SNAPSHOT"],
        ),
        ("Firewall", "spec.rules[].protocol", &["tcp", "udp", "icmp"]),
        (
            "Firewall",
            "spec.rules[].direction",
            &["inbound", "outbound"],
        ),
        (
            "Firewall",
            "spec.rules[].endpointSpecType",
            &["any", "ip_prefixes"],
        ),
        (
            "Bucket",
            "status.conditions[].status",
            &["True", "False", "Unknown"],
        ),
    ];
    for (kind, path, values) in cases {
        let s = schema(kind);
        assert_eq!(node(&s, path)["enum"], json!(values), "{kind} {path}");
    }
}

#[test]
fn ranges_and_patterns_from_the_vm_parameters_endpoint() {
    let s = schema("VirtualMachine");
    for (path, min, max) in [
        ("spec.vcpu", 1.0, 16.0),
        ("spec.ramMb", 512.0, 65536.0),
        ("spec.diskGb", 20.0, 240.0),
    ] {
        assert_eq!(node(&s, path)["minimum"], json!(min), "{path}");
        assert_eq!(node(&s, path)["maximum"], json!(max), "{path}");
    }
    assert_eq!(
        node(&s, "spec.name")["pattern"],
        json!("^[0-9a-zA-Z][-0-9a-zA-Z]{2,}[0-9a-zA-Z]$")
    );
    assert_eq!(node(&s, "spec.username")["maxLength"], json!(30));
    let fw = schema("Firewall");
    assert_eq!(
        node(&fw, "spec.rules[].portStart")["maximum"],
        json!(65535.0)
    );
    let p = schema("Platform");
    assert_eq!(
        node(&p, "spec.apps[].appName")["pattern"],
        json!("^[a-z][a-z0-9-]*[a-z0-9]$")
    );
    assert_eq!(node(&p, "spec.billingEmail")["format"], json!("email"));
}

#[test]
fn schema_defaults() {
    let cases: &[(&str, &str, Value)] = &[
        ("Platform", "spec.environment", json!("prod")),
        ("Platform", "spec.maxJobRetries", json!(3)),
        ("Platform", "spec.deleteData", json!(false)),
        ("Platform", "spec.onboarding.tier", json!("starter")),
        ("VirtualMachine", "spec.reservePublicIp", json!(true)),
        ("VirtualMachine", "spec.powerState", json!("Running")),
        ("VirtualMachine", "spec.allowRestart", json!(false)),
        ("VirtualMachine", "spec.deletionPolicy", json!("Delete")),
        ("VirtualMachine", "spec.managementPolicy", json!("Manage")),
        ("VirtualMachine", "spec.driftPolicy", json!("Correct")),
        ("Disk", "spec.sourceImageType", json!("EMPTY")),
        ("LoadBalancer", "spec.reservePublicIp", json!(true)),
        ("Firewall", "spec.rules[].endpointSpecType", json!("any")),
        ("ServicePackage", "spec.isMultiNode", json!(false)),
    ];
    for (kind, path, default) in cases {
        assert_eq!(
            &node(&schema(kind), path)["default"],
            default,
            "{kind} {path}"
        );
    }
}

#[test]
fn validation_rules_are_declared_where_expected() {
    let cases: &[(&str, &str, &str)] = &[
        ("Platform", "spec.platformId", "self == oldSelf"),
        ("Platform", "spec.environment", "self == oldSelf"),
        ("VirtualMachine", "spec.diskGb", "self >= oldSelf"),
        ("VirtualMachine", "spec.location", "self == oldSelf"),
        (
            "VirtualMachine",
            "spec",
            "!(has(self.source) && has(self.bootDiskUuid))",
        ),
        (
            "Disk",
            "spec",
            "self.sourceImageType == 'EMPTY' || has(self.sourceImage)",
        ),
        ("Disk", "spec.sizeGb", "self >= oldSelf"),
        ("Bucket", "spec.bucketName", "self == oldSelf"),
        (
            "Bucket",
            "spec",
            "has(self.bucketName) == has(oldSelf.bucketName)",
        ),
        (
            "Firewall",
            "spec.rules[]",
            "!has(self.portStart) || !has(self.portEnd) || self.portStart <= self.portEnd",
        ),
        ("LoadBalancer", "spec.networkUuid", "self == oldSelf"),
        ("ServicePackage", "spec.service", "self == oldSelf"),
    ];
    for (kind, path, rule) in cases {
        let path = if *path == "spec" { "spec" } else { path };
        let rules = rules_at(&schema(kind), path);
        assert!(rules.iter().any(|r| r == rule), "{kind} {path}: {rules:?}");
    }
}

/// Runs the CRD's CEL rules (and only those) on an object, as the API server would on create
/// (`old = None`) or update.
fn cel(kind: &str, obj: Value, old: Option<Value>) -> Result<(), String> {
    Validator::new()
        .validate(&schema(kind), &obj, old.as_ref())
        .map_err(|e| format!("{e:?}"))
}

fn obj(kind: &str, spec: Value) -> Value {
    json!({"apiVersion": "nno.app/v1alpha1", "kind": kind, "metadata": {"name": "x"}, "spec": spec})
}

fn vm_spec() -> Value {
    json!({"platformRef": {"name": "acme"}, "vcpu": 2, "ramMb": 2048, "diskGb": 40,
           "osName": "ubuntu", "osVersion": "16.04", "location": "cyc01"})
}

#[test]
fn cel_immutable_fields_reject_changes_only_on_update() {
    let p = |id: &str| {
        obj(
            "Platform",
            json!({"platformId": id, "planTier": "growth", "billingEmail": "a@b.example", "environment": "prod"}),
        )
    };
    assert!(cel("Platform", p("a"), None).is_ok());
    assert!(cel("Platform", p("a"), Some(p("a"))).is_ok());
    let err = cel("Platform", p("b"), Some(p("a"))).unwrap_err();
    assert!(err.contains("platformId is immutable"), "{err}");

    let mut vm = vm_spec();
    let old = obj("VirtualMachine", vm.clone());
    vm["location"] = json!("bus02");
    let err = cel(
        "VirtualMachine",
        obj("VirtualMachine", vm.clone()),
        Some(old.clone()),
    )
    .unwrap_err();
    assert!(err.contains("location is immutable"), "{err}");
    vm.as_object_mut().unwrap().remove("location");
    let err = cel("VirtualMachine", obj("VirtualMachine", vm), Some(old)).unwrap_err();
    assert!(err.contains("location is immutable"), "{err}");
}

#[test]
fn cel_disks_grow_but_never_shrink() {
    let mut vm = vm_spec();
    let old = obj("VirtualMachine", vm.clone());
    vm["diskGb"] = json!(60);
    assert!(
        cel(
            "VirtualMachine",
            obj("VirtualMachine", vm.clone()),
            Some(old.clone())
        )
        .is_ok()
    );
    vm["diskGb"] = json!(30);
    let err = cel("VirtualMachine", obj("VirtualMachine", vm), Some(old)).unwrap_err();
    assert!(err.contains("diskGb cannot shrink"), "{err}");

    let d = |size: i64| {
        obj(
            "Disk",
            json!({"platformRef": {"name": "acme"}, "sizeGb": size, "sourceImageType": "EMPTY"}),
        )
    };
    assert!(cel("Disk", d(60), Some(d(50))).is_ok());
    assert!(
        cel("Disk", d(40), Some(d(50)))
            .unwrap_err()
            .contains("sizeGb cannot shrink")
    );
}

#[test]
fn cel_cross_field_rules() {
    let mut vm = vm_spec();
    vm["osName"] = json!("windows");
    vm["vcpu"] = json!(1);
    let err = cel("VirtualMachine", obj("VirtualMachine", vm.clone()), None).unwrap_err();
    assert!(err.contains("windows needs at least 2 vcpu"), "{err}");
    vm["vcpu"] = json!(2);
    assert!(cel("VirtualMachine", obj("VirtualMachine", vm.clone()), None).is_ok());
    vm["source"] = json!({"vmUuid": "f80b1d62-ffe4-43ef-9210-60f05445456a", "replicaUuid": "48365c53-6e92-48b3-ad7e-d70794399872"});
    vm["bootDiskUuid"] = json!("05a61876-86f3-4b05-b0ec-53ee6fa03ced");
    assert!(
        cel("VirtualMachine", obj("VirtualMachine", vm), None)
            .unwrap_err()
            .contains("mutually exclusive")
    );

    let disk = |spec: Value| cel("Disk", obj("Disk", spec), None);
    assert!(disk(json!({"platformRef": {"name": "a"}, "sourceImageType": "OS_BASE", "sourceImage": "ubuntu_20.04"})).is_ok());
    assert!(
        disk(json!({"platformRef": {"name": "a"}, "sourceImageType": "SNAPSHOT"}))
            .unwrap_err()
            .contains("sourceImage is required")
    );
    assert!(
        disk(json!({"platformRef": {"name": "a"}, "sourceImageType": "EMPTY"}))
            .unwrap_err()
            .contains("sizeGb is required")
    );

    let fw = |rule: Value| {
        cel(
            "Firewall",
            obj(
                "Firewall",
                json!({"platformRef": {"name": "a"}, "rules": [rule]}),
            ),
            None,
        )
    };
    assert!(fw(json!({"protocol": "tcp", "direction": "inbound", "portStart": 80, "portEnd": 90, "endpointSpecType": "any"})).is_ok());
    assert!(
        fw(json!({"protocol": "tcp", "direction": "inbound", "endpointSpecType": "any"})).is_ok()
    );
    assert!(fw(json!({"protocol": "tcp", "direction": "inbound", "portStart": 90, "portEnd": 80, "endpointSpecType": "any"}))
        .unwrap_err()
        .contains("portStart must be less than or equal to portEnd"));
    assert!(fw(json!({"protocol": "tcp", "direction": "inbound", "portEnd": 80, "endpointSpecType": "any"}))
        .unwrap_err()
        .contains("portEnd needs portStart"));
    assert!(
        fw(json!({"protocol": "tcp", "direction": "inbound", "endpointSpecType": "ip_prefixes"}))
            .unwrap_err()
            .contains("endpointSpec must list")
    );
    assert!(fw(json!({"protocol": "tcp", "direction": "inbound", "endpointSpecType": "any", "endpointSpec": ["10.0.0.0/8"]}))
        .unwrap_err()
        .contains("endpointSpec must be empty"));
}

#[test]
fn cel_bucket_name_rules() {
    let b = |name: &str| {
        obj(
            "Bucket",
            json!({"platformRef": {"name": "a"}, "bucketName": name}),
        )
    };
    assert!(cel("Bucket", b("acme-media.prod"), None).is_ok());
    assert!(
        cel("Bucket", b("acme..media"), None)
            .unwrap_err()
            .contains("must not contain")
    );
    assert!(
        cel("Bucket", b("10.1.2.3"), None)
            .unwrap_err()
            .contains("IP address")
    );
    assert!(
        cel("Bucket", b("other"), Some(b("acme")))
            .unwrap_err()
            .contains("bucketName is immutable")
    );
}
