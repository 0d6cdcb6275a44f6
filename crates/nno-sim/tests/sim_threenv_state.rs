//! The 3nv.io simulator's state rules over real HTTP: VM state rules and backup toggle, network
//! deletion, location separation, asynchronous provisioning, unknown ids, bad input (never a
//! 500, always the error envelope), snapshot/restore.

mod sim_threenv_common;

use std::time::Duration;

use nno_sim::SimBackend;
use nno_support::testing::wait_until;
use serde_json::json;
use sim_threenv_common::*;

const VM: &str = "/v1/user-resource/vm";

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
    wait_until(Duration::from_secs(20), "the VM to be running", || async {
        let s = get(&r, &format!("{VM}?uuid={v}")).await.body()["status"]
            .as_str()
            .unwrap()
            .to_string();
        if s != "running" {
            assert_eq!(s, "provisioning");
        }
        s == "running"
    })
    .await;
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

#[tokio::test]
async fn service_package_is_provisioning_until_the_delay_passes() {
    let r = start_with(Duration::from_millis(300)).await;
    let created = json(
        &r,
        "POST",
        "/v1/user-resource/service/package",
        json!({"billing_account_id": 12, "service": "mariadb", "version": "10.5",
               "display_name": "maria", "vm_cpu": 1, "vm_ram": 1024, "vm_disk_gb": 30}),
    )
    .await;
    assert_eq!(created.body()["status"], "provisioning");
    assert_eq!(created.body()["properties"]["port"], 3306);
    let uuid = created.body()["uuid"].as_str().unwrap().to_string();
    wait_until(
        Duration::from_secs(20),
        "the package to be active",
        || async {
            let got = get(&r, &format!("/v1/user-resource/service/package/{uuid}")).await;
            got.body()["status"] == "active"
        },
    )
    .await;
    let bad = json(
        &r,
        "POST",
        "/v1/user-resource/service/package",
        json!({"billing_account_id": 12, "service": "oracle", "version": "1",
               "display_name": "x", "vm_cpu": 1, "vm_ram": 1024, "vm_disk_gb": 30}),
    )
    .await;
    assert_eq!(bad.status, 400);
    let missing = json(
        &r,
        "POST",
        "/v1/user-resource/service/package",
        json!({"billing_account_id": 12}),
    )
    .await;
    assert_eq!(missing.status, 400);
    r.server.stop().await;
}

/// The harness (`Simulators`, as `nno-operator sim` runs it) serves this simulator with its
/// `/_sim/` introspection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_serves_the_threenv_simulator() {
    let sims = nno_sim::Simulators::start(nno_sim::SimConfig {
        provision_delay: Duration::ZERO,
        ..nno_sim::SimConfig::default()
    })
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let url = sims.threenv_url().to_string();
    let created = http
        .post(format!("{url}/v1/bus02/user-resource/vm"))
        .header("apikey", sims.api_key())
        .form(&base_vm())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 200);
    let counts: serde_json::Value = http
        .get(format!("{url}/_sim/counts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (counts["vms.bus02"].as_u64(), counts["vms"].as_u64()),
        (Some(1), Some(1))
    );
    let reqs: serde_json::Value = http
        .get(format!("{url}/_sim/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        reqs["requests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["path"] == "/v1/{slug}/user-resource/vm" && r["status"] == 200)
    );
    let unauth = http
        .get(format!("{url}/v1/user-resource/vm/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauth.status().as_u16(), 401);
    sims.stop().await;
}
