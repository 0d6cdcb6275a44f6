//! Firewall end to end: devcluster + 3nv.io simulator + the operator's real `run` code path.
//! Create with rules and assignments; rule edits keep uuids; name, description and billing account
//! converge; VMs entering and leaving `vmSelector` (labels, creation, deletion) are assigned and
//! unassigned without a change to the Firewall; drift corrected or reported; deletion unassigns
//! first and never sticks; Orphan, adoption, Observe, paused; missing VM references; one
//! observer per account whatever the location.

use crate::net_kit;
use crate::operator_kit;

use std::time::Duration;

use kube::ResourceExt;
use net_kit::*;
use nno_operator::api::firewall::Firewall;
use nno_operator::cloud::threenv::firewall::{FirewallRule, FirewallSpec};
use operator_kit::{Env, EnvOptions};
use serde_json::json;

const FW_PATH: &str = "/v1/network/firewalls";
const FW_VMS: &str = "/v1/network/firewalls/{firewall_uuid}/vms";

fn uuids(fw: &Firewall) -> Vec<String> {
    fw.status
        .as_ref()
        .map(|s| s.rules.iter().map(|r| r.uuid.clone()).collect())
        .unwrap_or_default()
}

fn status_ports(fw: &Firewall) -> Vec<Option<i32>> {
    fw.status
        .as_ref()
        .map(|s| s.rules.iter().map(|r| r.port_start).collect())
        .unwrap_or_default()
}

fn assigned(fw: &Firewall) -> Vec<String> {
    sorted(
        fw.status
            .as_ref()
            .map(|s| s.assigned_vms.clone())
            .unwrap_or_default(),
    )
}

#[tokio::test]
async fn create_rules_keep_uuids_fields_converge_and_selector_follows_vms() {
    let env = Env::start().await;
    env.platform().await;
    let ids = ready_vms(
        &env,
        &[
            ("web-1", json!({"tier": "web"})),
            ("db-1", json!({"tier": "db"})),
        ],
    )
    .await;
    let (web1, db1) = (ids[0].clone(), ids[1].clone());
    env.apply(fw(
        "fw-1",
        json!({"description": "web traffic", "vmRefs": [{"name": "db-1"}], "vmSelector": {"matchLabels": {"tier": "web"}}}),
    ))
    .await;
    let api = fws(&env);
    let f = wait_obj(&api, "fw-1", "Ready", is_ready).await;
    let id = ext_id(&f);
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(assigned(&f), sorted(vec![web1.clone(), db1.clone()]));
    let st = f.status.clone().unwrap();
    assert_eq!((st.rule_count, st.assigned_vm_count), (Some(2), Some(2)));
    assert_eq!(status_ports(&f), [Some(80), Some(22)]);
    assert!(uuids(&f).iter().all(|u| u.len() == 36), "{:?}", uuids(&f));
    assert_eq!(f.annotations().get("nno.app/external-id"), Some(&id));
    let cloud = cloud_fw(&env, &id).await.unwrap();
    assert_eq!(cloud.title(), "fw-1");
    assert_eq!(
        cloud.description.as_deref(),
        Some(format!("web traffic [nno:{}]", f.uid().unwrap()).as_str())
    );
    assert_eq!(cloud.billing_account_id, Some(129673));
    assert_eq!(cloud_assigned(&env, &id).await, assigned(&f));
    let before = uuids(&f);

    // The SSH rule edited in place keeps its uuid; so does the untouched HTTP rule.
    merge(&api, "fw-1", json!({"spec": {"rules": [
        {"protocol": "tcp", "direction": "inbound", "portStart": 80, "portEnd": 80, "endpointSpecType": "any"},
        {"protocol": "tcp", "direction": "inbound", "portStart": 2222, "endpointSpecType": "ip_prefixes", "endpointSpec": ["203.0.113.0/24", "198.51.100.7"]}
    ]}})).await;
    let f = wait_obj(&api, "fw-1", "rule edited", |f| {
        status_ports(f) == [Some(80), Some(2222)] && is_ready(f)
    })
    .await;
    assert_eq!(uuids(&f), before, "edited rule keeps its uuid");
    let c = cloud_fw(&env, &id).await.unwrap();
    assert_eq!(
        c.rules[1].endpoint_spec.as_deref(),
        Some(&["203.0.113.0/24".to_owned(), "198.51.100.7".to_owned()][..])
    );

    // A rule inserted in front is new; the others keep theirs.
    merge(&api, "fw-1", json!({"spec": {"rules": [
        {"protocol": "udp", "direction": "outbound", "endpointSpecType": "any"},
        {"protocol": "tcp", "direction": "inbound", "portStart": 80, "portEnd": 80, "endpointSpecType": "any"},
        {"protocol": "tcp", "direction": "inbound", "portStart": 2222, "endpointSpecType": "ip_prefixes", "endpointSpec": ["203.0.113.0/24", "198.51.100.7"]}
    ]}})).await;
    let f = wait_obj(&api, "fw-1", "rule inserted", |f| uuids(f).len() == 3).await;
    let now = uuids(&f);
    assert_eq!(&now[1..], &before[..], "existing rules keep their uuids");
    assert!(!before.contains(&now[0]));
    assert_eq!(status_ports(&f)[0], None, "all ports");

    // Name, description and billing account.
    merge(&api, "fw-1", json!({"spec": {"displayName": "acme web", "description": "public web", "billingAccountId": 555}})).await;
    wait_cloud("name, description, billing converge", true, || async {
        cloud_fw(&env, &id).await.is_some_and(|c| {
            c.title() == "acme web"
                && c.description.as_deref()
                    == Some(format!("public web [nno:{}]", f.uid().unwrap()).as_str())
                && c.billing_account_id == Some(555)
        })
    })
    .await;

    // A new VM labelled to match: assigned, the Firewall unchanged.
    let generation = api.get("fw-1").await.unwrap().metadata.generation;
    let web2 = ready_vms(&env, &[("web-2", json!({"tier": "web"}))]).await[0].clone();
    let want = sorted(vec![web1.clone(), web2.clone(), db1.clone()]);
    wait_cloud("new matching VM assigned", want.clone(), || {
        cloud_assigned(&env, &id)
    })
    .await;
    wait_obj(&api, "fw-1", "status shows 3 VMs", |f| assigned(f) == want).await;
    // An existing VM relabelled to match, then away.
    label_vm(&env, "db-1", json!({"tier": "web"})).await;
    label_vm(&env, "web-1", json!({"tier": "batch"})).await;
    let want = sorted(vec![web2.clone(), db1.clone()]);
    wait_cloud("relabelled away is unassigned", want.clone(), || {
        cloud_assigned(&env, &id)
    })
    .await;
    // db-1 still named in vmRefs: dropping the ref keeps it (selector), dropping the label too removes it.
    merge(&api, "fw-1", json!({"spec": {"vmRefs": null}})).await;
    label_vm(&env, "db-1", json!({"tier": null})).await;
    wait_cloud("unreferenced VM unassigned", vec![web2.clone()], || {
        cloud_assigned(&env, &id)
    })
    .await;
    let after = api.get("fw-1").await.unwrap();
    // Only the vmRefs removal above changed the spec since `generation`.
    assert_eq!(after.metadata.generation, generation.map(|g| g + 1));

    // A selected VM deleted: the firewall drops it and stays Ready.
    env.delete_vm("web-2").await;
    env.wait_gone("web-2").await;
    let f = wait_obj(&api, "fw-1", "no VM left", |f| {
        assigned(f).is_empty() && is_ready(f)
    })
    .await;
    assert!(cloud_assigned(&env, &id).await.is_empty());
    let _ = f;

    // Delete: unassigned first (the simulator refuses to delete an assigned firewall), then gone.
    label_vm(&env, "web-1", json!({"tier": "web"})).await;
    wait_cloud("assigned again", vec![web1.clone()], || {
        cloud_assigned(&env, &id)
    })
    .await;
    delete(&api, "fw-1").await;
    wait_gone(&api, "fw-1").await;
    assert_eq!(count(&env, "firewalls").await, 0);
    assert!(served(&env, "DELETE", FW_VMS).await >= 1);
    env.stop().await;
}

#[tokio::test]
async fn drift_is_corrected_or_reported_without_writes() {
    let env = Env::start().await;
    env.platform().await;
    let vm = ready_vms(&env, &[("app-1", json!({"tier": "app"}))]).await[0].clone();
    let sel = json!({"matchLabels": {"tier": "app"}});
    env.apply(fw("fix-1", json!({"vmSelector": sel}))).await;
    env.apply(fw(
        "rep-1",
        json!({"vmSelector": sel, "driftPolicy": "Report"}),
    ))
    .await;
    env.apply(fw(
        "ign-1",
        json!({"vmSelector": sel, "ignoreChanges": ["rules", "vmRefs"]}),
    ))
    .await;
    let api = fws(&env);
    let mut ids = Vec::new();
    for n in ["fix-1", "rep-1", "ign-1"] {
        let f = wait_obj(&api, n, "Ready with the VM", |f| {
            is_ready(f) && assigned(f) == [vm.clone()]
        })
        .await;
        ids.push((n, ext_id(&f), uuids(&f)));
    }
    // Behind the operator's back: drop the SSH rule and unassign the VM.
    let cloud = env.cloud();
    for (_, id, _) in &ids {
        let c = cloud_fw(&env, id).await.unwrap();
        let keep: Vec<FirewallRule> = c.rules[..1].to_vec();
        cloud
            .update_firewall(
                id,
                &FirewallSpec {
                    rules: Some(keep),
                    ..FirewallSpec::default()
                },
            )
            .await
            .unwrap();
        cloud.unassign_firewall(id, &vm).await.unwrap();
    }
    let (fix_id, fix_uuids) = (ids[0].1.clone(), ids[0].2.clone());
    wait_cloud("rule and assignment restored", true, || async {
        let c = cloud_fw(&env, &fix_id).await.unwrap();
        c.rules.len() == 2 && cloud_assigned(&env, &fix_id).await == [vm.clone()]
    })
    .await;
    let f = wait_obj(&api, "fix-1", "Ready again", |f| {
        is_ready(f) && uuids(f).len() == 2 && f.drift().is_empty()
    })
    .await;
    assert_eq!(uuids(&f)[0], fix_uuids[0], "the kept rule keeps its uuid");
    for n in ["rep-1", "ign-1"] {
        let f = wait_obj(&api, n, "drift reported", |f| {
            sorted(drift_fields(f)) == ["rules", "vmRefs"]
        })
        .await;
        assert!(f.drift().iter().all(|d| d.action == "Reported"));
        let rules = f.drift().into_iter().find(|d| d.field == "rules").unwrap();
        assert!(rules.desired.contains("203.0.113.0/24"), "{rules:?}");
        assert!(!rules.observed.contains("203.0.113.0/24"), "{rules:?}");
    }
    let writes = env.writes().await;
    idle().await;
    assert_eq!(
        env.writes().await,
        writes,
        "reported drift is never written"
    );
    for (_, id, _) in &ids[1..] {
        assert_eq!(cloud_fw(&env, id).await.unwrap().rules.len(), 1);
        assert!(cloud_assigned(&env, id).await.is_empty());
    }
    env.stop().await;
}

#[tokio::test]
async fn deletion_orphan_adoption_observe_and_paused() {
    let env = Env::start().await;
    env.platform().await;
    let api = fws(&env);
    let cloud = env.cloud();
    let pre = |name: &str| FirewallSpec {
        display_name: Some(name.into()),
        billing_account_id: Some(129673),
        rules: Some(vec![FirewallRule {
            protocol: "tcp".into(),
            direction: "inbound".into(),
            port_start: Some(80),
            port_end: Some(80),
            endpoint_spec_type: "any".into(),
            ..FirewallRule::default()
        }]),
        ..FirewallSpec::default()
    };
    let adopted = cloud.create_firewall(&pre("pre-existing")).await.unwrap();
    let observed = cloud.create_firewall(&pre("imported")).await.unwrap();
    let posts = served(&env, "POST", FW_PATH).await;

    // Adoption: the annotation names it; the spec's rules are applied to it, nothing created.
    let mut m = fw("adopt-1", json!({"displayName": "pre-existing"}));
    m["metadata"]["annotations"] = json!({"nno.app/external-id": adopted.uuid});
    env.apply(m).await;
    let f = wait_obj(&api, "adopt-1", "Ready", |f| {
        is_ready(f) && uuids(f).len() == 2
    })
    .await;
    assert_eq!(ext_id(&f), adopted.uuid);
    assert_eq!(
        uuids(&f)[0],
        adopted.rules[0].uuid.clone().unwrap(),
        "the matching rule keeps its uuid"
    );
    assert_eq!(
        served(&env, "POST", FW_PATH).await,
        posts,
        "adopted, not created"
    );

    // Observe and paused: no writes at all.
    let writes = env.writes().await;
    let mut m = fw(
        "observe-1",
        json!({"displayName": "imported", "managementPolicy": "Observe"}),
    );
    m["metadata"]["annotations"] = json!({"nno.app/external-id": observed.uuid});
    env.apply(m).await;
    let f = wait_obj(&api, "observe-1", "rules drift reported", |f| {
        drift_fields(f).contains(&"rules".to_owned())
    })
    .await;
    assert_eq!(f.status.unwrap().rule_count, Some(1));
    let mut m = fw("paused-1", json!({}));
    m["metadata"]["annotations"] = json!({"nno.app/paused": "true"});
    env.apply(m).await;
    wait_obj(&api, "paused-1", "Paused", |f| synced_reason(f) == "Paused").await;
    idle().await;
    assert_eq!(env.writes().await, writes, "Observe and paused never write");
    delete(&api, "observe-1").await;
    wait_gone(&api, "observe-1").await;
    assert!(
        cloud_fw(&env, &observed.uuid).await.is_some(),
        "Observe leaves it"
    );
    merge(
        &api,
        "paused-1",
        json!({"metadata": {"annotations": {"nno.app/paused": null}}}),
    )
    .await;
    wait_obj(&api, "paused-1", "Ready once unpaused", is_ready).await;

    // Orphan keeps the cloud firewall; Delete removes it.
    merge(
        &api,
        "adopt-1",
        json!({"spec": {"deletionPolicy": "Orphan"}}),
    )
    .await;
    wait_obj(&api, "adopt-1", "Orphan seen", |f| {
        f.status.as_ref().and_then(|s| s.common.observed_generation) == f.metadata.generation
    })
    .await;
    delete(&api, "adopt-1").await;
    wait_gone(&api, "adopt-1").await;
    assert!(
        cloud_fw(&env, &adopted.uuid).await.is_some(),
        "orphaned firewall stays"
    );
    let total = count(&env, "firewalls").await;
    delete(&api, "paused-1").await;
    wait_gone(&api, "paused-1").await;
    assert_eq!(count(&env, "firewalls").await, total - 1);

    // Deletion never sticks: the cloud firewall already gone, or a referenced VM already deleted.
    let vm = ready_vms(&env, &[("gone-vm", json!({}))]).await[0].clone();
    env.apply(fw("gone-1", json!({}))).await;
    env.apply(fw("vmgone-1", json!({"vmRefs": [{"name": "gone-vm"}]})))
        .await;
    let gone = ext_id(&wait_obj(&api, "gone-1", "Ready", is_ready).await);
    wait_obj(&api, "vmgone-1", "assigned", |f| {
        assigned(f) == [vm.clone()]
    })
    .await;
    cloud.delete_firewall(&gone).await.unwrap();
    delete(&api, "gone-1").await;
    env.delete_vm("gone-vm").await;
    env.wait_gone("gone-vm").await;
    delete(&api, "vmgone-1").await;
    wait_gone(&api, "gone-1").await;
    wait_gone(&api, "vmgone-1").await;
    assert_eq!(
        count(&env, "firewalls").await,
        total - 1,
        "both gone from the cloud"
    );
    env.stop().await;
}

#[tokio::test]
async fn missing_vm_reference_then_ready() {
    let env = Env::start().await;
    env.platform().await;
    let api = fws(&env);
    env.apply(fw("later-fw", json!({"vmRefs": [{"name": "later-vm"}]})))
        .await;
    let f = wait_obj(&api, "later-fw", "ReferenceNotReady", |f| {
        synced_reason(f) == "ReferenceNotReady"
    })
    .await;
    let msg = cond(&f, "Synced").unwrap().2;
    assert!(
        msg.contains("VirtualMachine \"later-vm\"") && msg.contains("spec.vmRefs"),
        "{msg}"
    );
    assert_eq!(cond(&f, "Ready").unwrap().0, "False");
    assert_eq!(
        count(&env, "firewalls").await,
        0,
        "nothing created meanwhile"
    );
    let vm = ready_vms(&env, &[("later-vm", json!({}))]).await[0].clone();
    let f = wait_obj(&api, "later-fw", "Ready once the VM exists", |f| {
        is_ready(f) && assigned(f) == [vm.clone()]
    })
    .await;
    assert_eq!(cloud_assigned(&env, &ext_id(&f)).await, [vm]);
    env.stop().await;
}

#[tokio::test]
async fn location_independent_kinds_list_once_per_account() {
    let poll = Duration::from_secs(2);
    let env = Env::with(EnvOptions {
        poll_interval: poll,
        ..EnvOptions::default()
    })
    .await;
    env.platform().await;
    // A second Platform of the same account in the other location.
    env.apply(json!({
        "apiVersion": "nno.app/v1alpha1", "kind": "Platform", "metadata": {"name": "acme-bus"},
        "spec": {"platformId": "acme-bus", "planTier": "growth", "billingEmail": "billing@acme.example",
                 "cloud": {"credentialsSecretRef": {"name": "acme-3nv-credentials", "key": "apiKey"},
                           "location": "bus02", "billingAccountId": 129673}}
    }))
    .await;
    for i in 0..3 {
        env.apply(fw(&format!("cyc-{i}"), json!({}))).await;
        env.apply(fw(
            &format!("bus-{i}"),
            json!({"platformRef": {"name": "acme-bus"}}),
        ))
        .await;
        env.apply(lb(&format!("lcyc-{i}"), json!({}))).await;
        env.apply(lb(
            &format!("lbus-{i}"),
            json!({"platformRef": {"name": "acme-bus"}}),
        ))
        .await;
    }
    let (f, l) = (fws(&env), lbs(&env));
    for i in 0..3 {
        for n in [format!("cyc-{i}"), format!("bus-{i}")] {
            wait_obj(&f, &n, "Ready", is_ready).await;
        }
        for n in [format!("lcyc-{i}"), format!("lbus-{i}")] {
            wait_obj(&l, &n, "Ready", is_ready).await;
        }
    }
    tokio::time::sleep(poll * 2).await;
    let before = env.requests().await;
    let window = 10u64;
    tokio::time::sleep(poll * window as u32).await;
    let after = env.requests().await;
    let delta = |path: &str| {
        let k = ("GET".to_owned(), path.to_owned());
        after.get(&k).copied().unwrap_or(0) - before.get(&k).copied().unwrap_or(0)
    };
    let (fw_lists, lb_lists) = (delta(FW_PATH), delta("/v1/network/load_balancers"));
    // One observer per kind and account: one list per interval (±2 for the edges and jitter);
    // one per location would be twice that.
    for (kind, n) in [("firewalls", fw_lists), ("load balancers", lb_lists)] {
        assert!(
            (window - 2..=window + 2).contains(&n),
            "{n} {kind} lists in {window} intervals"
        );
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn firewalls_and_load_balancers_through_faults_without_duplicates_or_leaks() {
    let env = Env::with(EnvOptions {
        faults: nno_sim::faults::FaultConfig {
            error_rate: 0.20,
            lost_reply_rate: 0.05,
            throttle_rate: 0.05,
            retry_after_secs: 1,
            ..Default::default()
        },
        ..EnvOptions::default()
    })
    .await;
    env.platform().await;
    let sel = json!({"matchLabels": {"tier": "web"}});
    for n in ["flaky-vm-1", "flaky-vm-2"] {
        env.apply(vm(n, json!({"tier": "web"}))).await;
    }
    const N: usize = 10;
    for i in 0..N {
        env.apply(fw(&format!("ffw-{i}"), json!({"vmSelector": sel})))
            .await;
        env.apply(lb(&format!("flb-{i}"), json!({"vmSelector": sel})))
            .await;
    }
    let (f, l) = (fws(&env), lbs(&env));
    let deadline = Duration::from_secs(240);
    operator_kit::wait_for("all converged with both VMs", deadline, || async {
        assert!(
            count(&env, "firewalls").await <= N as u64,
            "duplicate firewalls"
        );
        assert!(
            count(&env, "load_balancers").await <= N as u64,
            "duplicate load balancers"
        );
        let fl = f.list(&Default::default()).await.ok()?;
        let ll = l.list(&Default::default()).await.ok()?;
        let done = fl
            .items
            .iter()
            .filter(|o| is_ready(*o) && assigned(o).len() == 2)
            .count()
            + ll.items
                .iter()
                .filter(|o| is_ready(*o) && o.status.as_ref().is_some_and(|s| s.targets.len() == 2))
                .count();
        (done == 2 * N).then_some(())
    })
    .await;
    assert_eq!(
        count(&env, "firewalls").await,
        N as u64,
        "one cloud firewall per object"
    );
    assert_eq!(
        count(&env, "load_balancers").await,
        N as u64,
        "one cloud LB per object"
    );
    for i in 0..N {
        delete(&f, &format!("ffw-{i}")).await;
        delete(&l, &format!("flb-{i}")).await;
    }
    operator_kit::wait_for("all deleted", deadline, || async {
        let fl = f.list(&Default::default()).await.ok()?;
        let ll = l.list(&Default::default()).await.ok()?;
        (fl.items.is_empty() && ll.items.is_empty()).then_some(())
    })
    .await;
    assert_eq!(count(&env, "firewalls").await, 0, "no firewall left behind");
    let body: serde_json::Value = reqwest::get(format!("{}/_sim/requests", env.sims.threenv_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let faulted: u64 = body["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().unwrap_or("").starts_with("/v1/network/"))
        .filter(|r| r["status"].as_u64().is_some_and(|s| s == 503 || s == 429))
        .map(|r| r["count"].as_u64().unwrap_or(0))
        .sum();
    assert!(faulted > 0, "faults were injected on the network endpoints");
    println!("{faulted} network requests answered 503/429");
    assert_eq!(
        count(&env, "load_balancers").await,
        0,
        "no load balancer left behind"
    );
    env.stop().await;
}
