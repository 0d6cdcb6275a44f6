//! The samples under config/samples/: each parses into its Rust type without losing a field,
//! passes its CRD's schema and CEL rules, and every cloud sample refers to the sample Platform.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Secret;
use kube::core::cel::Validator;
use nno_operator::api::{
    self, Bucket, Disk, Firewall, LoadBalancer, Platform, ServicePackage, VirtualMachine,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/samples")
}

fn load(file: &str) -> Value {
    let text = std::fs::read_to_string(samples_dir().join(file)).unwrap();
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Every field written in `original` survives a parse into the typed struct and back, so a
/// misspelt field in a sample (which serde would silently ignore) fails the test.
fn assert_no_field_lost(file: &str, original: &Value, roundtrip: &Value, path: &str) {
    match (original, roundtrip) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let child = format!("{path}.{k}");
                let other = b
                    .get(k)
                    .unwrap_or_else(|| panic!("{file}: field {child} is not part of the type"));
                assert_no_field_lost(file, v, other, &child);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{file}: {path}");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert_no_field_lost(file, x, y, &format!("{path}[{i}]"));
            }
        }
        (a, b) => assert_eq!(a, b, "{file}: {path}"),
    }
}

fn parse<K: DeserializeOwned + serde::Serialize>(file: &str) -> K {
    let original = load(file);
    let typed: K =
        serde_json::from_value(original.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
    let roundtrip = serde_json::to_value(&typed).unwrap();
    assert_no_field_lost(file, &original, &roundtrip, "");
    typed
}

/// Validates a sample against its CRD's openAPIV3Schema (JSON Schema keywords) and CEL rules.
fn assert_valid_against_crd(file: &str, kind: &str) {
    let errors = crd_errors(&load(file), kind);
    assert!(errors.is_empty(), "{file}: {errors:?}");
}

fn crd_errors(sample: &Value, kind: &str) -> Vec<String> {
    let crd = api::crds()
        .into_iter()
        .find(|c| c.spec.names.kind == kind)
        .unwrap();
    let schema = serde_json::to_value(
        crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .unwrap(),
    )
    .unwrap();
    // The API server checks the object without apiVersion/kind/metadata against the schema's
    // spec/status; the JSON Schema view of the same check:
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let mut errors: Vec<String> = validator
        .iter_errors(sample)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    if let Err(e) = Validator::new().validate(&schema, sample, None) {
        errors.push(format!("CEL: {e:?}"));
    }
    errors
}

#[test]
fn the_crd_check_rejects_a_broken_sample() {
    let mut vm = load("virtualmachine.yaml");
    vm["spec"]["vcpu"] = serde_json::json!(40);
    vm["spec"]["name"] = serde_json::json!("-bad");
    let errors = crd_errors(&vm, "VirtualMachine");
    assert!(
        errors.iter().any(|e| e.contains("/spec/vcpu")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("/spec/name")),
        "{errors:?}"
    );
    let mut fw = load("firewall.yaml");
    fw["spec"]["rules"][0]["portEnd"] = serde_json::json!(10);
    let errors = crd_errors(&fw, "Firewall");
    assert!(
        errors.iter().any(|e| e.contains("portStart must be")),
        "{errors:?}"
    );
}

#[test]
fn every_sample_parses_into_its_type_and_is_valid() {
    let platform: Platform = parse("platform.yaml");
    let vm: VirtualMachine = parse("virtualmachine.yaml");
    let disk: Disk = parse("disk.yaml");
    let bucket: Bucket = parse("bucket.yaml");
    let fw: Firewall = parse("firewall.yaml");
    let lb: LoadBalancer = parse("loadbalancer.yaml");
    let svc: ServicePackage = parse("servicepackage.yaml");
    let secret: Secret = parse("secret-3nv-credentials.yaml");

    for (file, kind) in [
        ("platform.yaml", "Platform"),
        ("virtualmachine.yaml", "VirtualMachine"),
        ("disk.yaml", "Disk"),
        ("bucket.yaml", "Bucket"),
        ("firewall.yaml", "Firewall"),
        ("loadbalancer.yaml", "LoadBalancer"),
        ("servicepackage.yaml", "ServicePackage"),
    ] {
        assert_valid_against_crd(file, kind);
    }

    // One sample Platform; everything else refers to it, in its namespace.
    let name = platform.metadata.name.clone().unwrap();
    let ns = platform.metadata.namespace.clone();
    let refs = [
        (&vm.spec.platform_ref, &vm.metadata),
        (&disk.spec.platform_ref, &disk.metadata),
        (&bucket.spec.platform_ref, &bucket.metadata),
        (&fw.spec.platform_ref, &fw.metadata),
        (&lb.spec.platform_ref, &lb.metadata),
        (&svc.spec.platform_ref, &svc.metadata),
    ];
    for (platform_ref, meta) in refs {
        assert_eq!(platform_ref.name, name, "{:?}", meta.name);
        assert_eq!(meta.namespace, ns, "{:?}", meta.name);
    }
    // The credentials Secret the Platform names is the sample Secret.
    let cloud = platform.spec.cloud.as_ref().unwrap();
    assert_eq!(
        secret.metadata.name.as_deref(),
        Some(&*cloud.credentials_secret_ref.name)
    );
    assert!(
        secret
            .string_data
            .as_ref()
            .unwrap()
            .contains_key(&cloud.credentials_secret_ref.key)
    );
    // The disk and the load balancer refer to the sample VM.
    assert_eq!(
        disk.spec.vm_ref.as_ref().unwrap().name,
        vm.metadata.name.clone().unwrap()
    );
    assert_eq!(lb.spec.vm_refs[0].name, vm.metadata.name.clone().unwrap());
}

#[test]
fn a_kind_has_exactly_one_sample() {
    // config/samples/Kustomization (kustomize's entry) is not a sample.
    let mut kinds: Vec<String> = std::fs::read_dir(samples_dir())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        })
        .map(|e| {
            load(&e.unwrap().file_name().to_string_lossy())["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .filter(|k| k != "Secret")
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "Bucket",
            "Disk",
            "Firewall",
            "LoadBalancer",
            "Platform",
            "ServicePackage",
            "VirtualMachine"
        ]
    );
}

#[test]
fn a_misspelt_field_is_caught() {
    let original = serde_json::json!({"spec": {"platformRef": {"name": "a"}, "sizeGB": 5}});
    let typed: Result<Disk, _> = serde_json::from_value(serde_json::json!({
        "apiVersion": "nno.app/v1alpha1", "kind": "Disk", "metadata": {"name": "d"},
        "spec": original["spec"].clone()
    }));
    let roundtrip = serde_json::to_value(typed.unwrap()).unwrap();
    let result = std::panic::catch_unwind(|| assert_no_field_lost("x", &original, &roundtrip, ""));
    assert!(result.is_err());
}
