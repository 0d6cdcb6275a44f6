//! The example replayer's own pieces: the parser of the 3nv.io reference's curl examples and the
//! documented-field check that sim_threenv_examples.rs relies on.

mod sim_threenv_common;

use serde_json::{Value, json};
use sim_threenv_common::replay::*;

#[test]
fn parser_reads_forms_json_and_statuses() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/3nv-cloud-api.txt"
    ))
    .unwrap();
    let ex = parse_examples(&text);
    let create = ex.iter().find(|e| e.title == "Create VM").unwrap();
    assert_eq!(create.method, "POST");
    assert!(
        create
            .form
            .iter()
            .any(|f| f.starts_with("cloud_init={\"runcmd\""))
    );
    let del_disk = ex.iter().find(|e| e.title == "Delete Disk").unwrap();
    assert_eq!(del_disk.expected_status, 204);
    let fw = ex.iter().find(|e| e.title == "Create Firewall").unwrap();
    assert!(
        fw.json_body
            .as_deref()
            .unwrap()
            .contains("\"display_name\": \"Database Firewall\"")
    );
    let fw_del = ex.iter().find(|e| e.title == "Delete Firewall").unwrap();
    assert_eq!(
        (fw_del.method.as_str(), fw_del.expected_status),
        ("DELETE", 204)
    );
    let lb = ex
        .iter()
        .find(|e| e.title == "Create load balancer")
        .unwrap();
    assert!(serde_json::from_str::<Value>(lb.json_body.as_deref().unwrap()).is_err());
    assert!(serde_json::from_str::<Value>(&repair_json(lb.json_body.as_deref().unwrap())).is_ok());
}

#[test]
fn field_check_detects_missing_and_mistyped_fields() {
    let doc = json!({"a": 1, "b": "x", "c": null, "d": [{"e": true}, {"f": 1}]});
    assert!(
        check(
            &doc,
            &json!({"a": 2, "b": "y", "c": 5, "d": [{"e": false}, {"f": 2, "g": 0}]}),
            "$"
        )
        .is_ok()
    );
    assert!(check(&doc, &json!({"a": 2, "c": 5, "d": [{"e": false}]}), "$").is_err());
    assert!(
        check(
            &doc,
            &json!({"a": "2", "b": "y", "c": 5, "d": [{"e": false}]}),
            "$"
        )
        .is_err()
    );
    assert!(
        check(
            &doc,
            &json!({"a": 2, "b": "y", "c": 5, "d": [{"x": 1}]}),
            "$"
        )
        .is_err()
    );
    assert!(check(&doc, &json!({"a": 2, "b": "y", "c": 5, "d": []}), "$").is_err());
}
