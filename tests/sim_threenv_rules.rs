//! The 3nv.io simulator's documented rules over real HTTP: authentication, VM parameter
//! validation, firewall rule validation, bucket naming / uniqueness / emptiness, disk rules, VM
//! state rules, network deletion, backup toggle, location separation, asynchronous provisioning,
//! and bad input (never a 500, always the error envelope).

mod sim_threenv_common;

use std::time::{Duration, Instant};

use nno_operator::sim::SimBackend;
use serde_json::{Value, json};
use sim_threenv_common::*;

const VM: &str = "/v1/user-resource/vm";

fn base_vm() -> Vec<(&'static str, &'static str)> {
    vec![
        ("name", "web-1"),
        ("os_name", "ubuntu"),
        ("os_version", "16.04"),
        ("disks", "20"),
        ("vcpu", "2"),
        ("ram", "2048"),
        ("username", "example"),
        ("password", "Password123"),
        ("billing_account_id", "6"),
    ]
}

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

#[tokio::test]
async fn vm_state_rules_and_backup_toggle() {
    let r = start().await;
    let v = vm(&r, None, &[]).await;
    let running = form(&r, "PATCH", VM, &[("uuid", &v), ("vcpu", "4")]).await;
    assert_eq!(running.status, 409, "{}", running.text);
    assert!(running.error().contains("stopped"));
    let rename = form(&r, "PATCH", VM, &[("uuid", &v), ("name", "web-2")]).await;
    assert_eq!(rename.body()["name"], "web-2");
    let pw = form(
        &r,
        "PATCH",
        "/v1/user-resource/vm/user",
        &[
            ("uuid", &v),
            ("username", "example"),
            ("password", "NewPassword1"),
        ],
    )
    .await;
    assert_eq!(pw.body(), &json!({"success": true}));
    let weak = form(
        &r,
        "PATCH",
        "/v1/user-resource/vm/user",
        &[("uuid", &v), ("username", "example"), ("password", "weak")],
    )
    .await;
    assert_eq!(weak.status, 400);
    assert_eq!(
        form(&r, "POST", "/v1/user-resource/vm/stop", &[("uuid", &v)])
            .await
            .body()["status"],
        "stopped"
    );
    let pw_stopped = form(
        &r,
        "PATCH",
        "/v1/user-resource/vm/user",
        &[
            ("uuid", &v),
            ("username", "example"),
            ("password", "NewPassword1"),
        ],
    )
    .await;
    assert_eq!(pw_stopped.status, 409);
    let resized = form(
        &r,
        "PATCH",
        VM,
        &[("uuid", &v), ("vcpu", "4"), ("ram", "4096")],
    )
    .await;
    assert_eq!(
        (
            resized.body()["vcpu"].as_i64(),
            resized.body()["memory"].as_i64()
        ),
        (Some(4), Some(4096))
    );
    let too_big = form(&r, "PATCH", VM, &[("uuid", &v), ("vcpu", "17")]).await;
    assert_eq!(too_big.status, 400);
    assert_eq!(
        form(&r, "POST", "/v1/user-resource/vm/start", &[("uuid", &v)])
            .await
            .body()["status"],
        "running"
    );
    let b1 = form(&r, "POST", "/v1/user-resource/vm/backup", &[("uuid", &v)]).await;
    let b2 = form(&r, "POST", "/v1/user-resource/vm/backup", &[("uuid", &v)]).await;
    assert_eq!(
        (b1.body()["backup"].as_bool(), b2.body()["backup"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(form(&r, "DELETE", VM, &[("uuid", &v)]).await.status, 200);
    let gone = get(&r, &format!("{VM}?uuid={v}")).await;
    assert_eq!(
        (gone.status, gone.error()),
        (404, format!("No such virtual machine exists. {v}"))
    );
    r.server.stop().await;
}

#[tokio::test]
async fn networks_delete_only_when_empty_and_not_default() {
    let r = start().await;
    let first = form(&r, "POST", "/v1/network/network?name=first", &[]).await;
    assert_eq!(first.body()["is_default"], true);
    let first = first.body()["uuid"].as_str().unwrap().to_string();
    let second = form(&r, "POST", "/v1/network/network?name=second", &[]).await;
    assert_eq!(second.body()["is_default"], false);
    let second = second.body()["uuid"].as_str().unwrap().to_string();
    let default_del = call(
        &r,
        Some(KEY),
        "DELETE",
        &format!("/v1/network/network/{first}"),
        Body::None,
    )
    .await;
    assert_eq!(default_del.status, 409);
    let v = vm(&r, None, &[("network_uuid", &second)]).await;
    let net = get(&r, &format!("/v1/network/network/{second}")).await;
    assert_eq!(net.body()["vm_uuids"], json!([v]));
    assert_eq!(net.body()["resources_count"], 1);
    assert_eq!(
        call(
            &r,
            Some(KEY),
            "DELETE",
            &format!("/v1/network/network/{second}"),
            Body::None
        )
        .await
        .status,
        409
    );
    assert_eq!(form(&r, "DELETE", VM, &[("uuid", &v)]).await.status, 200);
    // Switch the default, then the old default (now empty, not default) can go.
    let sw = call(
        &r,
        Some(KEY),
        "PUT",
        &format!("/v1/network/network/{second}/default"),
        Body::None,
    )
    .await;
    assert_eq!(sw.body()["is_default"], true);
    assert_eq!(
        call(
            &r,
            Some(KEY),
            "DELETE",
            &format!("/v1/network/network/{first}"),
            Body::None
        )
        .await
        .status,
        200
    );
    let renamed = json(
        &r,
        "PATCH",
        &format!("/v1/network/network/{second}"),
        json!({"name": "renamed"}),
    )
    .await;
    assert_eq!(renamed.body()["name"], "renamed");
    let no_name = form(&r, "POST", "/v1/network/network", &[]).await;
    assert_eq!(no_name.body()["uuid"], json!(second));
    r.server.stop().await;
}

#[tokio::test]
async fn location_specific_resources_are_separated() {
    let r = start().await;
    let here = vm(&r, None, &[]).await;
    let there = vm(&r, Some("bus02"), &[]).await;
    let list = |p: &'static str| {
        let r = &r;
        async move {
            get(r, p)
                .await
                .body()
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["uuid"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list("/v1/user-resource/vm/list").await, vec![here.clone()]);
    assert_eq!(
        list("/v1/cyc01/user-resource/vm/list").await,
        vec![here.clone()]
    );
    assert_eq!(
        list("/v1/bus02/user-resource/vm/list").await,
        vec![there.clone()]
    );
    assert_eq!(get(&r, &format!("{VM}?uuid={there}")).await.status, 404);
    assert_eq!(
        get(&r, &format!("/v1/bus02/user-resource/vm?uuid={there}"))
            .await
            .status,
        200
    );
    // Floating IPs are per location too.
    let ip = json(
        &r,
        "POST",
        "/v1/bus02/network/ip_addresses",
        json!({"billing_account_id": 1}),
    )
    .await;
    let addr = ip.body()["address"].as_str().unwrap().to_string();
    assert_eq!(
        get(&r, &format!("/v1/network/ip_addresses/{addr}"))
            .await
            .status,
        404
    );
    assert_eq!(
        get(&r, &format!("/v1/bus02/network/ip_addresses/{addr}"))
            .await
            .status,
        200
    );
    let cross = json(
        &r,
        "POST",
        &format!("/v1/bus02/network/ip_addresses/{addr}/assign"),
        json!({"vm_uuid": here}),
    )
    .await;
    assert_eq!(cross.status, 404);
    // Unknown slug, and slugs on endpoints that are not location specific.
    let unknown = get(&r, "/v1/xyz99/user-resource/vm/list").await;
    assert_eq!(
        (unknown.status, unknown.error()),
        (404, "No such location exists. xyz99".to_string())
    );
    assert_eq!(get(&r, "/v1/bus02/storage/disks").await.status, 404);
    assert_eq!(get(&r, "/v1/bus02/config/locations").await.status, 404);
    // Counts per location through the harness trait.
    let counts = SimBackend::counts(&r.sim);
    assert_eq!(
        (counts["vms.cyc01"], counts["vms.bus02"], counts["vms"]),
        (1, 1, 2)
    );
    r.server.stop().await;
}

#[tokio::test]
async fn new_vm_is_provisioning_until_the_delay_passes() {
    let r = start_with(Duration::from_millis(400)).await;
    let created = form(&r, "POST", VM, &base_vm()).await;
    assert_eq!(created.body()["status"], "provisioning");
    let v = created.body()["uuid"].as_str().unwrap().to_string();
    let stop = form(&r, "POST", "/v1/user-resource/vm/stop", &[("uuid", &v)]).await;
    assert_eq!(stop.status, 409);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = get(&r, &format!("{VM}?uuid={v}")).await.body()["status"]
            .as_str()
            .unwrap()
            .to_string();
        if s == "running" {
            break;
        }
        assert_eq!(s, "provisioning");
        assert!(Instant::now() < deadline, "VM never became running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Formats: UUIDv4 ids and the two documented timestamp styles.
    let vm_json = get(&r, &format!("{VM}?uuid={v}")).await;
    let parsed = uuid::Uuid::parse_str(&v).unwrap();
    assert_eq!(parsed.get_version_num(), 4);
    let created_at = vm_json.body()["created_at"].as_str().unwrap();
    assert!(
        chrono::NaiveDateTime::parse_from_str(created_at, "%Y-%m-%d %H:%M:%S").is_ok(),
        "{created_at}"
    );
    let d = form(
        &r,
        "POST",
        "/v1/storage/disks",
        &[("billing_account_id", "1"), ("size_gb", "5")],
    )
    .await;
    let iso = d.body()["created_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_str(iso, "%Y-%m-%dT%H:%M:%S%.3f%z").is_ok(),
        "{iso}"
    );
    r.server.stop().await;
}

#[tokio::test]
async fn unknown_ids_get_404_envelopes() {
    const U: &str = "aaaaaaaa-0000-bbbb-1111-cccccccccccc";
    let r = start().await;
    let u = U;
    let cases: Vec<(&str, String, Body)> = vec![
        ("GET", format!("{VM}?uuid={u}"), Body::None),
        (
            "POST",
            "/v1/user-resource/vm/start".into(),
            Body::Form(&[("uuid", U)]),
        ),
        (
            "POST",
            "/v1/user-resource/vm/clone".into(),
            Body::Form(&[("uuid", U), ("name", "x")]),
        ),
        ("GET", format!("/v1/storage/disks/{u}"), Body::None),
        ("GET", "/v1/storage/bucket?name=nope".into(), Body::None),
        ("GET", format!("/v1/network/network/{u}"), Body::None),
        ("GET", "/v1/network/ip_addresses/1.2.3.4".into(), Body::None),
        (
            "PUT",
            format!("/v1/network/firewalls/{u}"),
            Body::Json(json!({})),
        ),
        ("GET", format!("/v1/network/load_balancers/{u}"), Body::None),
        (
            "GET",
            format!("/v1/user-resource/service/package/{u}"),
            Body::None,
        ),
        (
            "DELETE",
            "/v1/user-resource/vm/replica".into(),
            Body::Form(&[("replica_uuid", "nope")]),
        ),
        (
            "DELETE",
            "/v1/storage/user/keys".into(),
            Body::Form(&[("access_key", "NOPE")]),
        ),
        ("GET", "/v1/no/such/route".into(), Body::None),
    ];
    for (m, p, b) in cases {
        let rep = call(&r, Some(KEY), m, &p, b).await;
        assert_eq!(rep.status, 404, "{m} {p}: {}", rep.text);
        assert!(!rep.error().is_empty());
    }
    let start_err = form(&r, "POST", "/v1/user-resource/vm/start", &[("uuid", u)]).await;
    assert_eq!(
        start_err.error(),
        format!("No such virtual machine exists. {u}")
    );
    r.server.stop().await;
}

/// Every route with malformed JSON, a JSON array, wrong types, empty bodies and junk forms:
/// never a 500, always the envelope (or a success).
#[tokio::test]
async fn bad_input_never_causes_a_500() {
    let r = start().await;
    let v = vm(&r, None, &[]).await;
    let paths = [
        ("POST", VM.to_string()),
        ("PATCH", VM.to_string()),
        ("DELETE", VM.to_string()),
        ("GET", VM.to_string()),
        ("PATCH", "/v1/user-resource/vm/user".into()),
        ("POST", "/v1/user-resource/vm/reinstall".into()),
        ("POST", "/v1/user-resource/vm/backup".into()),
        ("POST", "/v1/user-resource/vm/clone".into()),
        ("POST", "/v1/user-resource/vm/ip/public".into()),
        ("DELETE", "/v1/user-resource/vm/ip/public".into()),
        ("POST", "/v1/user-resource/vm/rebuild".into()),
        ("GET", "/v1/user-resource/vm/replica".into()),
        ("POST", "/v1/user-resource/vm/replica".into()),
        ("DELETE", "/v1/user-resource/vm/replica".into()),
        ("POST", "/v1/user-resource/vm/start".into()),
        ("POST", "/v1/user-resource/vm/stop".into()),
        ("POST", "/v1/user-resource/vm/boot_iso_media".into()),
        ("POST", "/v1/user-resource/vm/storage".into()),
        ("PATCH", "/v1/user-resource/vm/storage".into()),
        ("DELETE", "/v1/user-resource/vm/storage".into()),
        ("POST", "/v1/user-resource/vm/storage/attach".into()),
        ("POST", "/v1/user-resource/vm/storage/detach".into()),
        ("GET", "/v1/user-resource/billing_resources".into()),
        ("POST", "/v1/user-resource/resource_billing".into()),
        ("POST", "/v1/storage/disks".into()),
        ("PATCH", "/v1/storage/disks/x".into()),
        ("PUT", "/v1/storage/bucket".into()),
        ("PATCH", "/v1/storage/bucket".into()),
        ("DELETE", "/v1/storage/bucket".into()),
        ("DELETE", "/v1/storage/user/keys".into()),
        ("POST", "/v1/network/network".into()),
        ("PATCH", "/v1/network/network/x".into()),
        ("POST", "/v1/network/ip_addresses".into()),
        ("PATCH", "/v1/network/ip_addresses/1.1.1.1".into()),
        ("POST", "/v1/network/ip_addresses/1.1.1.1/assign".into()),
        ("POST", "/v1/network/firewalls".into()),
        ("POST", "/v1/network/firewalls/x/vms".into()),
        ("POST", "/v1/network/load_balancers".into()),
        ("PATCH", "/v1/network/load_balancers/x".into()),
        ("POST", "/v1/network/load_balancers/x/targets".into()),
        ("PUT", "/v1/network/load_balancers/x/billing_account".into()),
        ("POST", "/v1/user-resource/service/package".into()),
        ("PATCH", "/v1/user-resource/service/package/x".into()),
        (
            "POST",
            "/v1/user-resource/service/package/x/whitelist_addresses".into(),
        ),
        ("GET", "/v1/charging/usage".into()),
        ("PUT", "/v1/config/locations".into()),
    ];
    let bodies: Vec<(&str, String)> = vec![
        ("application/json", "{\"name\": ".into()),
        ("application/json", "[1,2,3]".into()),
        ("application/json", json!({"uuid": 5, "billing_account_id": "abc", "vcpu": [1], "rules": {"a": 1}, "targets": "x", "name": {"x": 1}, "vm_uuid": true, "display_name": 7, "set_id": "x", "service": 1, "ip_address": 3}).to_string()),
        ("application/json", json!({"uuid": v, "billing_account_id": 1e300, "vcpu": -1, "ram": 9_999_999_999_i64, "size_gb": -5}).to_string()),
        ("application/x-www-form-urlencoded", format!("uuid={v}&vcpu=%FF%FE&ram=1e9&size_gb=99999999999999999999&name=%00")),
        ("application/x-www-form-urlencoded", "===&&&=%%%".into()),
        ("text/plain", "\u{0}\u{1}garbage".into()),
        ("application/x-www-form-urlencoded", String::new()),
    ];
    for (m, p) in &paths {
        for (ct, b) in &bodies {
            let rep = call(&r, Some(KEY), m, p, Body::Raw(ct, b)).await;
            assert!(
                rep.status < 500,
                "{m} {p} {b:?} → {} {}",
                rep.status,
                rep.text
            );
            if rep.status >= 400 {
                rep.error();
            }
        }
    }
    r.server.stop().await;
}

#[tokio::test]
async fn snapshot_restore_and_reset_through_the_backend_trait() {
    let r = start().await;
    let v = vm(&r, None, &[]).await;
    let snap = SimBackend::snapshot(&r.sim);
    SimBackend::reset(&r.sim);
    assert_eq!(SimBackend::counts(&r.sim)["vms"], 0);
    assert_eq!(get(&r, &format!("{VM}?uuid={v}")).await.status, 404);
    SimBackend::restore(&r.sim, snap).unwrap();
    assert_eq!(get(&r, &format!("{VM}?uuid={v}")).await.status, 200);
    assert!(SimBackend::restore(&r.sim, json!({"locations": 5})).is_err());
    r.server.stop().await;
}
