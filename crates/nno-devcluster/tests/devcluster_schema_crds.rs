//! The devcluster schema logic against the project's real CRDs (`crds/`) and samples (`config/samples/`):
//! every schema and rule compiles, every sample is valid, immutability rules fire on update, the
//! printer columns render and the OpenAPI documents resolve.

use std::path::Path;

use nno_devcluster::schema::{
    CompiledSchema, IncludeObject, KindSchema, apply_defaults, check_crd_rules, check_crd_version,
    from_crd_columns, openapi_v3_group_version, prune_unknown, render_table, status_message,
};
use serde::Deserialize;
use serde_json::{Value, json};

fn yaml_docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|v| !v.is_null())
        .collect()
}

fn dir_docs(dir: &str) -> Vec<Value> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files.iter().flat_map(|p| yaml_docs(p)).collect()
}

fn crds() -> Vec<Value> {
    let crds = dir_docs("crds");
    assert_eq!(crds.len(), 7, "the seven nno.app kinds");
    crds
}

/// (kind, openAPIV3Schema, version object) of every served version.
fn versions() -> Vec<(String, Value, Value)> {
    crds()
        .iter()
        .flat_map(|crd| {
            let kind = crd["spec"]["names"]["kind"]
                .as_str()
                .expect("kind")
                .to_string();
            crd["spec"]["versions"]
                .as_array()
                .expect("versions")
                .iter()
                .map(move |v| {
                    (
                        kind.clone(),
                        v["schema"]["openAPIV3Schema"].clone(),
                        v.clone(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn compiled_for(kind: &str) -> CompiledSchema {
    let (_, schema, _) = versions()
        .into_iter()
        .find(|(k, _, _)| k == kind)
        .expect("kind served");
    CompiledSchema::compile(&schema).expect("compiles")
}

fn sample(kind: &str) -> Value {
    dir_docs("config/samples")
        .into_iter()
        .find(|d| d["kind"] == kind)
        .expect("sample exists")
}

#[test]
fn every_crd_schema_and_rule_compiles() {
    for (kind, schema, version) in versions() {
        assert_eq!(check_crd_rules(&schema), vec![], "{kind}");
        assert_eq!(check_crd_version(0, &version), vec![], "{kind}");
        CompiledSchema::compile(&schema).unwrap_or_else(|e| panic!("{kind}: {e}"));
        let declared = version["additionalPrinterColumns"]
            .as_array()
            .map_or(0, Vec::len);
        assert!(declared > 0, "{kind} has printer columns");
        assert_eq!(
            from_crd_columns(&version).len(),
            declared,
            "{kind}: every jsonPath parses"
        );
    }
}

#[test]
fn every_sample_is_valid_after_pruning_and_defaulting() {
    let kinds: Vec<String> = versions().into_iter().map(|(k, _, _)| k).collect();
    let samples: Vec<Value> = dir_docs("config/samples")
        .into_iter()
        .filter(|d| d["apiVersion"] == "nno.app/v1alpha1")
        .collect();
    assert_eq!(samples.len(), kinds.len(), "one sample per kind");
    for mut obj in samples {
        let kind = obj["kind"].as_str().expect("kind").to_string();
        let c = compiled_for(&kind);
        assert_eq!(
            prune_unknown(c.schema(), &mut obj),
            Vec::<String>::new(),
            "{kind} sample has no unknown fields"
        );
        apply_defaults(c.schema(), &mut obj);
        assert_eq!(c.validate(&obj, None), Ok(()), "{kind} create");
        assert_eq!(c.validate(&obj, Some(&obj)), Ok(()), "{kind} no-op update");
    }
}

#[test]
fn virtual_machine_rules_fire() {
    let c = compiled_for("VirtualMachine");
    let mut old = sample("VirtualMachine");
    apply_defaults(c.schema(), &mut old);

    let mut changed = old.clone();
    changed["spec"]["osName"] = json!("debian");
    changed["spec"]["diskGb"] = json!(30);
    let errs = c
        .validate(&changed, Some(&old))
        .expect_err("immutable osName, shrinking disk");
    let texts: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert!(
        texts.contains(&r#"spec.osName: Invalid value: "string": osName is immutable"#.to_string()),
        "{texts:?}"
    );
    assert!(
        texts.contains(
            &r#"spec.diskGb: Invalid value: "integer": diskGb cannot shrink"#.to_string()
        ),
        "{texts:?}"
    );
    // The same change is fine on create.
    assert_eq!(c.validate(&changed, None), Ok(()));

    let mut big = old.clone();
    big["spec"]["vcpu"] = json!(40);
    let errs = c.validate(&big, None).expect_err("vcpu above 16");
    assert_eq!(
        status_message("VirtualMachine.nno.app", "acme-web-1", &errs),
        r#"VirtualMachine.nno.app "acme-web-1" is invalid: spec.vcpu: Invalid value: 40: spec.vcpu in body should be less than or equal to 16"#
    );

    let mut windows = old.clone();
    windows["spec"]["osName"] = json!("windows");
    windows["spec"]["vcpu"] = json!(1);
    let errs = c
        .validate(&windows, None)
        .expect_err("windows needs 2 vcpu");
    assert_eq!(
        errs[0].to_string(),
        r#"spec: Invalid value: "object": windows needs at least 2 vcpu and 1024 ramMb"#
    );
}

#[test]
fn printer_columns_render_for_a_sample() {
    let (_, _, version) = versions()
        .into_iter()
        .find(|(k, _, _)| k == "VirtualMachine")
        .expect("vm");
    let mut vm = sample("VirtualMachine");
    vm["metadata"]["creationTimestamp"] = json!(chrono::Utc::now().to_rfc3339());
    vm["status"] = json!({"conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "True"}],
                          "externalId": "a5b0"});
    let table = render_table(&from_crd_columns(&version), &[vm], IncludeObject::Object);
    let names: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .expect("defs")
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert_eq!(&names[..4], &["Name", "READY", "SYNCED", "EXTERNAL-ID"]);
    let cells = table["rows"][0]["cells"].as_array().expect("cells");
    assert_eq!(
        &cells[..4],
        &[
            json!("acme-web-1"),
            json!("True"),
            json!("True"),
            json!("a5b0")
        ]
    );
}

#[test]
fn openapi_document_of_all_kinds_resolves() {
    let kinds: Vec<KindSchema> = crds()
        .iter()
        .map(|crd| {
            let names = &crd["spec"]["names"];
            KindSchema {
                group: "nno.app".into(),
                version: "v1alpha1".into(),
                kind: names["kind"].as_str().expect("kind").into(),
                plural: names["plural"].as_str().expect("plural").into(),
                namespaced: crd["spec"]["scope"] == "Namespaced",
                schema: crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone(),
                list_kind: format!("{}List", names["kind"].as_str().expect("kind")),
            }
        })
        .collect();
    let doc = openapi_v3_group_version("apis/nno.app/v1alpha1", &kinds);
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for k in &kinds {
        let name = format!("app.nno.v1alpha1.{}", k.kind);
        assert_eq!(
            schemas[&name]["x-kubernetes-group-version-kind"][0]["kind"],
            json!(k.kind),
            "{name}"
        );
        assert!(schemas.contains_key(&format!("{name}List")));
    }
    let mut refs = std::collections::BTreeSet::new();
    collect_refs(&doc, &mut refs);
    for r in refs {
        let target = r.trim_start_matches("#/components/schemas/");
        assert!(schemas.contains_key(target), "unresolved {r}");
    }
}

fn collect_refs(v: &Value, out: &mut std::collections::BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                out.insert(r.to_string());
            }
            m.values().for_each(|c| collect_refs(c, out));
        }
        Value::Array(a) => a.iter().for_each(|c| collect_refs(c, out)),
        _ => {}
    }
}
