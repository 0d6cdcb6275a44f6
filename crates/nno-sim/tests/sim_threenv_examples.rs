//! Replays every curl example of the 3nv.io reference (tests/fixtures/3nv-cloud-api.txt) that
//! belongs to an implemented endpoint against the simulator, after creating the objects the
//! example refers to and substituting their real ids. Checks the documented status code and that
//! every documented response field is present with the documented JSON type.
//!
//! The reference has typos in some examples; they are corrected here, each one named in
//! `correct()`, and for malformed JSON bodies the test first shows that the simulator rejects the
//! body exactly as documented (400 with the error envelope) before sending the repaired body.

mod sim_threenv_common;

use serde_json::{Value, json};
use sim_threenv_common::replay::*;
use sim_threenv_common::*;

type Subst = Vec<(String, String)>;

fn s(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

async fn replica(r: &Running, disk: &str) -> String {
    let rep = form(r, "POST", "/v1/user-resource/vm/replica", &[("uuid", disk)]).await;
    assert_eq!(rep.status, 200, "{}", rep.text);
    rep.body()["replica"].as_array().unwrap().last().unwrap()["uuid"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn disk(r: &Running, extra: &[(&str, &str)]) -> String {
    let mut p = vec![("billing_account_id", "6"), ("size_gb", "30")];
    p.extend_from_slice(extra);
    let rep = form(r, "POST", "/v1/storage/disks", &p).await;
    assert_eq!(rep.status, 200, "{}", rep.text);
    rep.body()["uuid"].as_str().unwrap().to_string()
}

async fn network(r: &Running, name: &str) -> String {
    let rep = form(r, "POST", &format!("/v1/network/network?name={name}"), &[]).await;
    assert_eq!(rep.status, 200, "{}", rep.text);
    rep.body()["uuid"].as_str().unwrap().to_string()
}

async fn floating_ip(r: &Running, billing: i64, assign_to: Option<&str>) -> String {
    let rep = json(
        r,
        "POST",
        "/v1/network/ip_addresses",
        json!({"name": "ip", "billing_account_id": billing}),
    )
    .await;
    assert_eq!(rep.status, 200, "{}", rep.text);
    let addr = rep.body()["address"].as_str().unwrap().to_string();
    if let Some(vm) = assign_to {
        let a = json(
            r,
            "POST",
            &format!("/v1/network/ip_addresses/{addr}/assign"),
            json!({"vm_uuid": vm}),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.text);
    }
    addr
}

async fn firewall(r: &Running) -> (String, String) {
    let rep = json(
        r,
        "POST",
        "/v1/network/firewalls",
        json!({"display_name": "fw", "billing_account_id": 123, "rules": [
            {"protocol": "tcp", "direction": "inbound", "port_start": 80, "port_end": 80,
             "endpoint_spec_type": "ip_prefixes", "endpoint_spec": ["10.22.33.0/24", "10.12.34.5"]},
            {"protocol": "tcp", "direction": "inbound", "port_start": 443, "port_end": 443,
             "endpoint_spec_type": "any"}
        ]}),
    )
    .await;
    assert_eq!(rep.status, 200, "{}", rep.text);
    let b = rep.body();
    (
        b["uuid"].as_str().unwrap().to_string(),
        b["rules"][0]["uuid"].as_str().unwrap().to_string(),
    )
}

/// A load balancer with one rule (8080) and one target; returns (lb, target vm, rule).
async fn load_balancer(r: &Running) -> (String, String, String) {
    let target = vm(r, None, &[("reserve_public_ip", "false")]).await;
    let rep = json(
        r,
        "POST",
        "/v1/network/load_balancers",
        json!({"display_name": "lb", "billing_account_id": 130157,
               "rules": [{"source_port": 8080, "target_port": 8080}],
               "targets": [{"target_uuid": target, "target_type": "vm"}]}),
    )
    .await;
    assert_eq!(rep.status, 200, "{}", rep.text);
    let b = rep.body();
    (
        b["uuid"].as_str().unwrap().to_string(),
        target,
        b["forwarding_rules"][0]["uuid"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

async fn package(r: &Running, multi: bool) -> String {
    let rep = json(
        r,
        "POST",
        "/v1/user-resource/service/package",
        json!({"billing_account_id": 12, "service": "postgresql", "version": "14.0",
               "display_name": "pg", "vm_cpu": 2, "vm_ram": 4096, "vm_disk_gb": 40,
               "is_multi_node": multi}),
    )
    .await;
    assert_eq!(rep.status, 200, "{}", rep.text);
    rep.body()["uuid"].as_str().unwrap().to_string()
}

const VM_A: &str = "f80b1d62-ffe4-43ef-9210-60f05445456a";
const VM_B: &str = "5aea1842-895f-4bd3-8bd6-e37b2282fb46";
const VM_C: &str = "5052bf02-044a-4d35-a803-d6b156f84beb";
const DISK_X: &str = "3d91aa31-16ec-44ee-b8b3-22a0bda6559e";
const NET_D: &str = "4e5eadd3-8b11-4c34-812a-2cf97120b628";
const LB_D: &str = "438ac62f-e97b-4ef0-8940-507b9e94af43";
const FW_D: &str = "2a874f44-310f-4df8-9340-1dc274c2bd51";

/// Creates what the example refers to; returns documented → real substitutions.
async fn setup(r: &Running, title: &str) -> Subst {
    match title {
        "Get VM Info" => {
            let v = vm(
                r,
                None,
                &[
                    ("os_name", "windows"),
                    ("os_version", "2016"),
                    ("ram", "4096"),
                    ("name", "Windows-2016"),
                ],
            )
            .await;
            vec![s(VM_A, &v)]
        }
        "Change Password" | "Reserve Public IP" => {
            let v = vm(r, None, &[("reserve_public_ip", "false")]).await;
            vec![s(VM_B, &v)]
        }
        "Release Public IP" => vec![s(VM_B, &vm(r, None, &[]).await)],
        "Modify VM" => {
            let v = vm(r, None, &[]).await;
            let st = form(r, "POST", "/v1/user-resource/vm/stop", &[("uuid", &v)]).await;
            assert_eq!(st.status, 200);
            vec![s(VM_B, &v)]
        }
        "Create VM" => vec![s(
            "50341410-9e88-4af2-a21e-b8c898e33e52",
            &network(r, "net").await,
        )],
        "Reinstall VM" => {
            let v = vm(r, None, &[]).await;
            replica(r, &v).await;
            vec![s(VM_B, &v)]
        }
        "Toggle Auto Backup" | "Clone VM" | "List Replicas" | "Create Replica" => {
            vec![s(VM_A, &vm(r, None, &[]).await)]
        }
        "List VMs" => {
            vm(r, None, &[]).await;
            vec![]
        }
        "Rebuild from Replica" => {
            let v = vm(r, None, &[]).await;
            let rep = replica(r, &v).await;
            vec![
                s(
                    "5aea1842-895f-4bd3-8bd6-e37b2282fb462018-12-21-14-05-33",
                    &rep,
                ),
                s(VM_B, &v),
            ]
        }
        "Delete Replica" => {
            let v = vm(r, None, &[]).await;
            let rep = replica(r, &v).await;
            vec![s("replica_uuid=val", &format!("replica_uuid={rep}"))]
        }
        "Stop VM" | "Boot a rescue or installation media" | "Add Disk" => {
            vec![s(VM_C, &vm(r, None, &[]).await)]
        }
        "Modify Disk" | "Delete Attached Disk" | "Detach Disk" => {
            let v = vm(r, None, &[]).await;
            let d = form(
                r,
                "POST",
                "/v1/user-resource/vm/storage",
                &[("uuid", &v), ("size_gb", "50")],
            )
            .await;
            assert_eq!(d.status, 200, "{}", d.text);
            vec![s(VM_C, &v), s(DISK_X, d.body()["uuid"].as_str().unwrap())]
        }
        "Attach Disk" => {
            let v = vm(r, None, &[]).await;
            vec![s(VM_C, &v), s(DISK_X, &disk(r, &[]).await)]
        }
        "Get Disk" | "List Disks" | "Delete Disk" => {
            let d = disk(
                r,
                &[
                    ("display_name", "Web server main"),
                    ("source_image_type", "OS_BASE"),
                    ("source_image", "ubuntu_20.04"),
                ],
            )
            .await;
            replica(r, &d).await;
            vec![s("cef3a629-89b0-40ec-986b-4b6e831f9b64", &d)]
        }
        "Modify Disk Info" => vec![s(
            "05a61876-86f3-4b05-b0ec-53ee6fa03ced",
            &disk(r, &[]).await,
        )],
        "Modify Bucket" | "Delete Bucket" | "Get Bucket" => {
            let b = form(
                r,
                "PUT",
                "/v1/storage/bucket",
                &[("name", "pang1"), ("billing_account_id", "12345")],
            )
            .await;
            assert_eq!(b.status, 200, "{}", b.text);
            vec![s("name=bucket_name", "name=pang1")]
        }
        "List Buckets" => {
            for n in ["asi", "pang2"] {
                let b = form(
                    r,
                    "PUT",
                    "/v1/storage/bucket",
                    &[("name", n), ("billing_account_id", "129072")],
                )
                .await;
                assert_eq!(b.status, 200, "{}", b.text);
            }
            vec![]
        }
        "Delete key" => {
            let u = get(r, "/v1/storage/user").await;
            let k = u.body()["s3Credentials"][0]["accessKey"]
                .as_str()
                .unwrap()
                .to_string();
            vec![s("I16N8YDF6A6FX8ILP30T", &k)]
        }
        "Get network data" | "List Networks" => {
            let n = network(r, "net-a").await;
            vm(r, None, &[("network_uuid", &n)]).await;
            vec![s("50341410-9e88-4af2-a21e-b8c898e33e51", &n)]
        }
        "Delete network" => {
            network(r, "first-is-default").await;
            vec![s(NET_D, &network(r, "second").await)]
        }
        "Change network to default" | "Change network name" => {
            network(r, "first-is-default").await;
            let n = network(r, "second").await;
            vm(r, None, &[("network_uuid", &n)]).await;
            vec![s(&format!("{NET_D}t"), &n), s(NET_D, &n)]
        }
        "List Floating IPs" => {
            for _ in 0..2 {
                let v = vm(r, None, &[("reserve_public_ip", "false")]).await;
                floating_ip(r, 1, Some(&v)).await;
            }
            vec![]
        }
        "Get Floating IP" | "Un-assign Floating IP" => {
            let v = vm(r, None, &[("reserve_public_ip", "false")]).await;
            vec![s("1.1.1.1", &floating_ip(r, 1, Some(&v)).await)]
        }
        "Update Floating IP" | "Delete Floating IP" => {
            vec![s("1.1.1.1", &floating_ip(r, 1, None).await)]
        }
        "Assign Floating IP" => {
            let v = vm(r, None, &[("reserve_public_ip", "false")]).await;
            vec![
                s("1.1.1.1", &floating_ip(r, 2, None).await),
                s("88e5a11b-9c89-4986-99c7-90d43499317c", &v),
            ]
        }
        "List Firewalls" => {
            firewall(r).await;
            vec![]
        }
        "Update Firewall" | "Delete Firewall" => {
            let (f, rule) = firewall(r).await;
            vec![
                s(FW_D, &f),
                s("db9acacd-91e1-4225-b934-7f264f9f75a2", &rule),
            ]
        }
        "Assign Firewall to VM" | "Unassign Firewall from VM" => {
            let (f, _) = firewall(r).await;
            let v = vm(r, None, &[]).await;
            if title.starts_with("Unassign") {
                let a = form(
                    r,
                    "POST",
                    &format!("/v1/network/firewalls/{f}/vms?vm_uuid={v}"),
                    &[],
                )
                .await;
                assert_eq!(a.status, 200, "{}", a.text);
            }
            vec![s(FW_D, &f), s("ff4b3c1b-998a-48a5-9bf4-5777ee2ae9db", &v)]
        }
        "List user load balancers" => {
            load_balancer(r).await;
            vec![]
        }
        "Get user load balancer by UUID"
        | "Rename load balancer"
        | "Delete load balancer"
        | "Change billing account on load balancer" => vec![s(LB_D, &load_balancer(r).await.0)],
        "Create load balancer" => {
            let n = network(r, "lb-net").await;
            let t1 = vm(r, None, &[]).await;
            let t2 = vm(r, None, &[]).await;
            vec![
                s(LB_D, &n),
                s("145cc106-e067-419a-85fd-333ded30f169", &t1),
                s("e9717243-59df-4847-bd50-dca5b090432b", &t2),
            ]
        }
        "Add load balancer target" => {
            let (lb, _, _) = load_balancer(r).await;
            let t = vm(r, None, &[]).await;
            vec![s(LB_D, &lb), s("145cc106-e067-419a-85fd-333ded30f169", &t)]
        }
        "Unlink load balancer target" => {
            let (lb, t, _) = load_balancer(r).await;
            vec![s("<LB_UUID>", &lb), s("<TARGET_UUID>", &t)]
        }
        "Add load balancer forwarding rule" => {
            let (lb, _, rule) = load_balancer(r).await;
            let d = call(
                r,
                Some(KEY),
                "DELETE",
                &format!("/v1/network/load_balancers/{lb}/forwarding_rules/{rule}"),
                Body::None,
            )
            .await;
            assert_eq!(d.status, 200);
            vec![s(LB_D, &lb)]
        }
        "Drop load balancer rule" => {
            let (lb, _, rule) = load_balancer(r).await;
            vec![s("<LB_UUID>", &lb), s("<RULE_UUID>", &rule)]
        }
        "List Billing Account's Resources" => {
            let v = vm(r, None, &[]).await;
            replica(r, &v).await;
            vec![]
        }
        "Get Resource Usage" => {
            vm(r, None, &[]).await;
            vec![]
        }
        "List Service Packages" => {
            package(r, false).await;
            package(r, true).await;
            vec![]
        }
        "Get Service Package"
        | "Update Service Package metadata"
        | "Get Service secrets"
        | "Delete Service Package" => vec![s(
            "40745556-7e2a-4a16-b055-ecececfb6c57",
            &package(r, true).await,
        )],
        "Get whitelist addresses" | "Add whitelist entry" | "Delete whitelist entry" => {
            let p = package(r, false).await;
            for ip in ["10.123.8.0/24", "1.2.3.0/24"] {
                let a = form(
                    r,
                    "POST",
                    &format!("/v1/user-resource/service/package/{p}/whitelist_addresses"),
                    &[("ip_address", ip)],
                )
                .await;
                assert_eq!(a.status, 200, "{}", a.text);
            }
            vec![s("7d353c9d-ea50-4516-a752-898b81ff0ef7", &p)]
        }
        _ => vec![],
    }
}

fn apply(text: &str, subst: &Subst) -> String {
    let mut sorted = subst.clone();
    sorted.sort_by_key(|(a, _)| std::cmp::Reverse(a.len()));
    let mut out = text.to_string();
    for (a, b) in &sorted {
        out = out.replace(a, b);
    }
    out
}

async fn send(
    r: &Running,
    ex: &Example,
    url: &str,
    form_body: &str,
    json_body: Option<&str>,
) -> Reply {
    match json_body {
        Some(j) => {
            call(
                r,
                Some(KEY),
                &ex.method,
                url,
                Body::Raw("application/json", j),
            )
            .await
        }
        None if !form_body.is_empty() => {
            call(
                r,
                Some(KEY),
                &ex.method,
                url,
                Body::Raw("application/x-www-form-urlencoded", form_body),
            )
            .await
        }
        None => call(r, Some(KEY), &ex.method, url, Body::None).await,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_curl_example_replays() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/3nv-cloud-api.txt"
    ))
    .unwrap();
    let examples = parse_examples(&text);
    let r = start().await;
    let mut replayed = Vec::new();
    let mut failures = Vec::new();
    for mut ex in examples {
        if out_of_scope(&ex) {
            continue;
        }
        correct(&mut ex);
        r.sim.reset();
        let subst = setup(&r, &ex.title).await;
        let url = apply(&ex.url, &subst);
        let form_body = apply(&ex.form.join("&"), &subst);
        let body = ex.json_body.as_ref().map(|b| apply(b, &subst));
        if let Some(b) = &body
            && serde_json::from_str::<Value>(b).is_err()
        {
            // The documented body is malformed: the simulator must reject it like the real API.
            let bad = send(&r, &ex, &url, "", Some(b)).await;
            if bad.status != 400 || !bad.error().contains("Malformed JSON") {
                failures.push(format!(
                    "{}: malformed body not rejected: {} {}",
                    ex.title, bad.status, bad.text
                ));
            }
            r.sim.reset();
            let subst2 = setup(&r, &ex.title).await;
            let url2 = apply(&ex.url, &subst2);
            let fixed = repair_json(&apply(ex.json_body.as_deref().unwrap_or(""), &subst2));
            assert!(
                serde_json::from_str::<Value>(&fixed).is_ok(),
                "{}: repair failed: {fixed}",
                ex.title
            );
            let reply = send(&r, &ex, &url2, "", Some(&fixed)).await;
            verify(&ex, &reply, &mut failures);
        } else {
            let reply = send(&r, &ex, &url, &form_body, body.as_deref()).await;
            verify(&ex, &reply, &mut failures);
        }
        replayed.push(format!("{} {} ({})", ex.method, ex.url, ex.title));
    }
    println!(
        "replayed {} examples:\n{}",
        replayed.len(),
        replayed.join("\n")
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every in-scope example of the reference (VM, storage, object storage, networks, floating
    // IPs, firewalls, load balancers, parameters, images, billing views, managed services).
    assert_eq!(
        replayed.len(),
        87,
        "parser found a different number of examples"
    );
    r.server.stop().await;
}

fn verify(ex: &Example, reply: &Reply, failures: &mut Vec<String>) {
    let documented_error = ex
        .expected_json
        .as_ref()
        .and_then(|j| j.pointer("/errors/Error"))
        .and_then(Value::as_str);
    if let Some(msg) = documented_error {
        // Error examples: unknown objects → 404 with the documented envelope and message.
        if reply.status != 404
            || reply
                .json
                .as_ref()
                .and_then(|j| j.pointer("/errors/Error"))
                .and_then(Value::as_str)
                != Some(msg)
        {
            failures.push(format!(
                "{}: expected 404 {msg:?}, got {} {}",
                ex.title, reply.status, reply.text
            ));
        }
        return;
    }
    if reply.status != ex.expected_status {
        failures.push(format!(
            "{}: expected status {}, got {} {}",
            ex.title, ex.expected_status, reply.status, reply.text
        ));
        return;
    }
    match &ex.expected_json {
        Some(doc) => match &reply.json {
            Some(actual) => {
                if let Err(e) = check(doc, actual, "$") {
                    failures.push(format!("{}: {e}", ex.title));
                }
            }
            None => failures.push(format!("{}: expected JSON, got {:?}", ex.title, reply.text)),
        },
        None if ex.expected_status == 204 && !reply.text.is_empty() => {
            failures.push(format!("{}: 204 with a body", ex.title));
        }
        None => {}
    }
}
