//! The 3nv.io simulator's validation rules over real HTTP: authentication, VM parameters,
//! firewall rules, bucket naming / uniqueness / emptiness, disk rules.

mod sim_threenv_common;

use serde_json::{Value, json};
use sim_threenv_common::*;

const VM: &str = "/v1/user-resource/vm";

fn with<'a>(over: &[(&'a str, &'a str)], drop: &[&str]) -> Vec<(&'a str, &'a str)> {
    let mut p = base_vm();
    p.retain(|(k, _)| !drop.contains(k) && !over.iter().any(|(o, _)| o == k));
    p.extend_from_slice(over);
    p
}

#[tokio::test]
async fn missing_or_wrong_api_key_is_401_with_envelope() {
    let r = start().await;
    for path in [
        "/v1/user-resource/vm/list",
        "/v1/storage/disks",
        "/v1/config/locations",
        "/v1/nope",
    ] {
        let none = call(&r, None, "GET", path, Body::None).await;
        assert_eq!(none.status, 401, "{path}");
        assert_eq!(none.error(), "No API key found in request");
        let wrong = call(&r, Some("meowmeowmeow"), "GET", path, Body::None).await;
        assert_eq!(wrong.status, 401, "{path}");
        assert_eq!(wrong.error(), "Invalid authentication credentials");
    }
    assert_eq!(get(&r, "/v1/config/locations").await.status, 200);
    r.server.stop().await;
}

#[tokio::test]
async fn vm_parameters_are_validated_as_published() {
    let r = start().await;
    let long_name = "a".repeat(31);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (with(&[("disks", "19")], &[]), "disks"),
        (with(&[("disks", "241")], &[]), "disks"),
        (with(&[("ram", "511")], &[]), "ram"),
        (with(&[("ram", "65537")], &[]), "ram"),
        (with(&[("vcpu", "0")], &[]), "vcpu"),
        (with(&[("vcpu", "17")], &[]), "vcpu"),
        (
            with(
                &[
                    ("os_name", "windows"),
                    ("os_version", "2016"),
                    ("vcpu", "1"),
                ],
                &[],
            ),
            "vcpu",
        ),
        (
            with(
                &[
                    ("os_name", "windows"),
                    ("os_version", "2016"),
                    ("ram", "1000"),
                ],
                &[],
            ),
            "ram",
        ),
        (with(&[("name", "abc")], &[]), "name"),
        (with(&[("name", "-abcd")], &[]), "name"),
        (with(&[("name", "ab_cd")], &[]), "name"),
        (with(&[("password", "Pass123")], &[]), "password"),
        (with(&[("password", "password123")], &[]), "password"),
        (with(&[("password", "PASSWORD123")], &[]), "password"),
        (with(&[("password", "Passwordxyz")], &[]), "password"),
        (with(&[("username", "9abc")], &[]), "username"),
        (with(&[("username", &long_name)], &[]), "username"),
        (with(&[("os_name", "arch")], &[]), "os_name"),
        (with(&[("os_version", "22.04")], &[]), "os_version"),
        (with(&[("os_name", "centos")], &[]), "os_version"),
        (with(&[("vcpu", "two")], &[]), "vcpu"),
        (with(&[("backup", "maybe")], &[]), "backup"),
        (with(&[("network_uuid", "not-a-uuid")], &[]), "network_uuid"),
        (with(&[], &["name"]), "name"),
        (with(&[], &["password"]), "password"),
        (with(&[], &["vcpu"]), "vcpu"),
        (with(&[], &["ram"]), "ram"),
        (with(&[], &["disks"]), "disks"),
        (with(&[], &["username"]), "username"),
        (with(&[], &["os_version"]), "os_version"),
        (
            with(&[("cloud_init", "- just\n- a list")], &[]),
            "cloud_init",
        ),
    ];
    for (params, field) in cases {
        let rep = form(&r, "POST", VM, &params).await;
        assert_eq!(rep.status, 400, "{field}: {params:?} → {}", rep.text);
        assert!(rep.error().contains(field), "{field}: {}", rep.error());
    }
    let bad_billing = form(&r, "POST", VM, &with(&[("billing_account_id", "0")], &[])).await;
    assert_eq!(
        (bad_billing.status, bad_billing.error().as_str()),
        (400, "Provided billing account is incorrect.")
    );
    // Boundaries and special cases that are valid.
    for ok in [
        with(&[("disks", "20"), ("ram", "512"), ("vcpu", "1")], &[]),
        with(&[("disks", "240"), ("ram", "65536"), ("vcpu", "16")], &[]),
        with(
            &[
                ("os_name", "windows"),
                ("os_version", "2016"),
                ("vcpu", "2"),
                ("ram", "1024"),
            ],
            &["username"],
        ),
        with(&[], &["os_name", "os_version"]),
        with(&[("os_name", "_custom"), ("os_version", "_")], &[]),
        with(&[("cloud_init", "{\"runcmd\": [\"/firstboot\"]}")], &[]),
        with(&[("cloud_init", "runcmd:\n  - /firstboot\n")], &[]),
    ] {
        let rep = form(&r, "POST", VM, &ok).await;
        assert_eq!(rep.status, 200, "{ok:?} → {}", rep.text);
    }
    let win = form(
        &r,
        "POST",
        VM,
        &with(
            &[
                ("os_name", "windows"),
                ("os_version", "2016"),
                ("ram", "2048"),
            ],
            &["username"],
        ),
    )
    .await;
    assert_eq!(win.body()["username"], "administrator");
    assert_eq!(win.body()["license_type"], "WINDOWS");
    // The published parameter document is answered verbatim.
    let params = get(&r, "/v1/api/parameters/vm").await;
    let names: Vec<&str> = params
        .body()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["parameter"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "disks",
            "name",
            "os_name",
            "os_version",
            "password",
            "ram",
            "username",
            "vcpu"
        ]
    );
    r.server.stop().await;
}

async fn firewall_create(r: &Running, rule: Value) -> Reply {
    json(
        r,
        "POST",
        "/v1/network/firewalls",
        json!({"display_name": "fw", "billing_account_id": 1, "rules": [rule]}),
    )
    .await
}

#[tokio::test]
async fn firewall_rules_are_validated() {
    let r = start().await;
    let ok = json!({"protocol": "tcp", "direction": "inbound", "port_start": 22, "port_end": 22, "endpoint_spec_type": "any"});
    let bad = [
        (json!({"direction": "sideways"}), "direction"),
        (json!({"endpoint_spec_type": "some"}), "endpoint_spec_type"),
        (
            json!({"endpoint_spec_type": "ip_prefixes"}),
            "endpoint_spec",
        ),
        (
            json!({"endpoint_spec_type": "ip_prefixes", "endpoint_spec": ["10.0.0.0/33"]}),
            "endpoint_spec",
        ),
        (
            json!({"endpoint_spec_type": "ip_prefixes", "endpoint_spec": ["not-an-ip"]}),
            "endpoint_spec",
        ),
        (
            json!({"endpoint_spec_type": "ip_prefixes", "endpoint_spec": "10.0.0.0/24"}),
            "endpoint_spec",
        ),
        (json!({"port_start": 0}), "port_start"),
        (
            json!({"port_start": 65536, "port_end": 65536}),
            "port_start",
        ),
        (json!({"port_end": 70000}), "port_end"),
        (
            json!({"port_start": 100, "port_end": 99}),
            "port_start cannot be greater than port_end",
        ),
        (json!({"port_start": "http"}), "port_start"),
        (json!({"protocol": "gre"}), "protocol"),
        (json!({"direction": null}), "direction"),
    ];
    for (patch, needle) in bad {
        let mut rule = ok.clone();
        for (k, v) in patch.as_object().unwrap() {
            rule[k] = v.clone();
        }
        let rep = firewall_create(&r, rule.clone()).await;
        assert_eq!(rep.status, 400, "{rule} → {}", rep.text);
        assert!(rep.error().contains(needle), "{needle}: {}", rep.error());
    }
    // port_start null = all ports; port_end null = port_start.
    let all = firewall_create(&r, json!({"protocol": "udp", "direction": "outbound", "port_start": null, "port_end": null, "endpoint_spec_type": "any"})).await;
    assert_eq!(all.status, 200, "{}", all.text);
    assert_eq!(all.body()["rules"][0]["port_start"], Value::Null);
    let single = firewall_create(&r, json!({"protocol": "tcp", "direction": "inbound", "port_start": 443, "endpoint_spec_type": "ip_prefixes", "endpoint_spec": ["10.0.0.1", "2001:db8::/32"]})).await;
    assert_eq!(single.status, 200, "{}", single.text);
    assert_eq!(single.body()["rules"][0]["port_end"], 443);
    // Update validates too and keeps rule uuids; an unknown rule uuid is rejected.
    let fw = single.body()["uuid"].as_str().unwrap().to_string();
    let rule_uuid = single.body()["rules"][0]["uuid"].clone();
    let upd = json(&r, "PUT", &format!("/v1/network/firewalls/{fw}"), json!({"name": "renamed", "rules": [{"uuid": rule_uuid, "protocol": "tcp", "direction": "inbound", "port_start": 8443, "endpoint_spec_type": "any"}]})).await;
    assert_eq!(upd.status, 200, "{}", upd.text);
    assert_eq!(upd.body()["rules"][0]["uuid"], rule_uuid);
    assert_eq!(upd.body()["name"], "renamed");
    let unknown = json(&r, "PUT", &format!("/v1/network/firewalls/{fw}"), json!({"rules": [{"uuid": "x", "protocol": "tcp", "direction": "inbound", "endpoint_spec_type": "any"}]})).await;
    assert_eq!(unknown.status, 400);
    // Assigned firewalls cannot be deleted; unassign then delete.
    let vm_uuid = vm(&r, None, &[]).await;
    let a = form(
        &r,
        "POST",
        &format!("/v1/network/firewalls/{fw}/vms?vm_uuid={vm_uuid}"),
        &[],
    )
    .await;
    assert_eq!(
        a.body(),
        &json!([{"resource_type": "vm", "resource_uuid": vm_uuid}])
    );
    assert_eq!(
        call(
            &r,
            Some(KEY),
            "DELETE",
            &format!("/v1/network/firewalls/{fw}"),
            Body::None
        )
        .await
        .status,
        409
    );
    assert_eq!(
        call(
            &r,
            Some(KEY),
            "DELETE",
            &format!("/v1/network/firewalls/{fw}/vms?vm_uuid={vm_uuid}"),
            Body::None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        call(
            &r,
            Some(KEY),
            "DELETE",
            &format!("/v1/network/firewalls/{fw}/vms?vm_uuid={vm_uuid}"),
            Body::None
        )
        .await
        .status,
        404
    );
    assert_eq!(
        call(
            &r,
            Some(KEY),
            "DELETE",
            &format!("/v1/network/firewalls/{fw}"),
            Body::None
        )
        .await
        .status,
        204
    );
    r.server.stop().await;
}

#[tokio::test]
async fn buckets_are_global_s3_named_and_only_deleted_when_empty() {
    let r = start().await;
    for bad in [
        "ab",
        "Upper",
        "under_score",
        "a..b",
        "192.168.1.1",
        "-abc",
        "abc-",
        &"a".repeat(64),
    ] {
        let rep = form(
            &r,
            "PUT",
            "/v1/storage/bucket",
            &[("name", bad), ("billing_account_id", "1")],
        )
        .await;
        assert_eq!(rep.status, 400, "{bad}: {}", rep.text);
    }
    let ok = form(
        &r,
        "PUT",
        "/v1/storage/bucket",
        &[("name", "shared.name-1"), ("billing_account_id", "1")],
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let again = form(
        &r,
        "PUT",
        "/v1/storage/bucket",
        &[("name", "shared.name-1"), ("billing_account_id", "1")],
    )
    .await;
    assert_eq!(again.status, 409);
    // Another user (API key) cannot take the name either, nor see the bucket.
    let other = call(
        &r,
        Some(KEY2),
        "PUT",
        "/v1/storage/bucket",
        Body::Form(&[("name", "shared.name-1"), ("billing_account_id", "2")]),
    )
    .await;
    assert_eq!(other.status, 409);
    let other_get = call(
        &r,
        Some(KEY2),
        "GET",
        "/v1/storage/bucket?name=shared.name-1",
        Body::None,
    )
    .await;
    assert_eq!(other_get.status, 404);
    assert!(other_get.error().contains("No such bucket"));
    // Simulated content makes it non-empty: delete refused until emptied.
    let set = r
        .http
        .put(r.url("/_sim/threenv/buckets/shared.name-1"))
        .body(r#"{"num_objects": 3, "size_bytes": 1024}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status().as_u16(), 204);
    let b = get(&r, "/v1/storage/bucket?name=shared.name-1").await;
    assert_eq!(
        (
            b.body()["num_objects"].as_i64(),
            b.body()["size_bytes"].as_i64()
        ),
        (Some(3), Some(1024))
    );
    let del = form(
        &r,
        "DELETE",
        "/v1/storage/bucket",
        &[("name", "shared.name-1")],
    )
    .await;
    assert_eq!(del.status, 409, "{}", del.text);
    r.sim.set_bucket_content("shared.name-1", 0, 0).unwrap();
    let del = call(
        &r,
        Some(KEY),
        "DELETE",
        "/v1/storage/bucket?name=shared.name-1",
        Body::None,
    )
    .await;
    assert_eq!(del.status, 204);
    assert_eq!(
        get(&r, "/v1/storage/bucket?name=shared.name-1")
            .await
            .status,
        404
    );
    let missing = r
        .http
        .put(r.url("/_sim/threenv/buckets/none-such"))
        .body(r#"{"num_objects": 1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    r.server.stop().await;
}

#[tokio::test]
async fn disks_cannot_shrink_and_primary_or_attached_disks_cannot_be_deleted() {
    let r = start().await;
    let v = vm(&r, None, &[]).await;
    let added = form(
        &r,
        "POST",
        "/v1/user-resource/vm/storage",
        &[("uuid", &v), ("size_gb", "50")],
    )
    .await;
    let d = added.body()["uuid"].as_str().unwrap().to_string();
    let shrink = form(
        &r,
        "PATCH",
        "/v1/user-resource/vm/storage",
        &[("uuid", &v), ("disk_uuid", &d), ("size_gb", "40")],
    )
    .await;
    assert_eq!(shrink.status, 400);
    assert!(
        shrink
            .error()
            .contains("cannot be smaller than current size")
    );
    let grow = form(
        &r,
        "PATCH",
        "/v1/user-resource/vm/storage",
        &[("uuid", &v), ("disk_uuid", &d), ("size_gb", "60")],
    )
    .await;
    assert_eq!(grow.body()["size"], 60);
    let primary = form(
        &r,
        "DELETE",
        "/v1/user-resource/vm/storage",
        &[("uuid", &v), ("storage_uuid", &v)],
    )
    .await;
    assert_eq!(primary.status, 409);
    assert!(
        primary
            .error()
            .contains("Primary/boot disks cannot be deleted")
    );
    // An attached disk cannot be deleted through block storage; detached it can.
    assert_eq!(
        call(
            &r,
            Some(KEY),
            "DELETE",
            &format!("/v1/storage/disks/{d}"),
            Body::None
        )
        .await
        .status,
        409
    );
    assert_eq!(
        form(
            &r,
            "POST",
            "/v1/user-resource/vm/storage/detach",
            &[("uuid", &v), ("storage_uuid", &d)]
        )
        .await
        .status,
        200
    );
    assert_eq!(
        form(
            &r,
            "POST",
            "/v1/user-resource/vm/storage/detach",
            &[("uuid", &v), ("storage_uuid", &d)]
        )
        .await
        .status,
        404
    );
    assert_eq!(
        form(
            &r,
            "POST",
            "/v1/user-resource/vm/storage/attach",
            &[("uuid", &v), ("storage_uuid", &d)]
        )
        .await
        .status,
        200
    );
    let v2 = vm(&r, None, &[]).await;
    assert_eq!(
        form(
            &r,
            "POST",
            "/v1/user-resource/vm/storage/attach",
            &[("uuid", &v2), ("storage_uuid", &d)]
        )
        .await
        .status,
        409
    );
    assert_eq!(
        form(
            &r,
            "POST",
            "/v1/user-resource/vm/storage/detach",
            &[("uuid", &v), ("storage_uuid", &d)]
        )
        .await
        .status,
        200
    );
    assert_eq!(
        call(
            &r,
            Some(KEY),
            "DELETE",
            &format!("/v1/storage/disks/{d}"),
            Body::None
        )
        .await
        .status,
        204
    );
    assert_eq!(get(&r, &format!("/v1/storage/disks/{d}")).await.status, 404);
    // Block storage validation.
    let no_size = form(
        &r,
        "POST",
        "/v1/storage/disks",
        &[("billing_account_id", "1")],
    )
    .await;
    assert_eq!(no_size.status, 400);
    let bad_type = form(
        &r,
        "POST",
        "/v1/storage/disks",
        &[
            ("billing_account_id", "1"),
            ("size_gb", "5"),
            ("source_image_type", "TAPE"),
        ],
    )
    .await;
    assert_eq!(bad_type.status, 400);
    r.server.stop().await;
}
