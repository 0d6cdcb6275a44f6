//! LoadBalancer end to end: devcluster + 3nv.io simulator + the operator's real `run` code path.
//! Create with forwarding rules and targets; rename, billing account, rules and targets converge;
//! targets follow `vmSelector` and VM deletion (also a VM orphaned in the cloud); drift corrected
//! or reported; deletion, Orphan, adoption, Observe, paused; missing VM references.

use crate::net_kit;
use crate::operator_kit;

use kube::ResourceExt;
use net_kit::*;
use nno_operator::api::load_balancer::LoadBalancer;
use nno_operator::cloud::threenv::load_balancer::{CreateLoadBalancer, RuleSpec};
use operator_kit::Env;
use serde_json::json;

const LB_PATH: &str = "/v1/network/load_balancers";

fn targets(l: &LoadBalancer) -> Vec<String> {
    sorted(
        l.status
            .as_ref()
            .map(|s| s.targets.iter().map(|t| t.target_uuid.clone()).collect())
            .unwrap_or_default(),
    )
}

fn rules(l: &LoadBalancer) -> Vec<(i32, i32)> {
    let mut out: Vec<(i32, i32)> = l
        .status
        .as_ref()
        .map(|s| {
            s.forwarding_rules
                .iter()
                .map(|r| (r.source_port, r.target_port))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[tokio::test]
async fn create_update_every_field_and_targets_follow_vms() {
    let env = Env::start().await;
    env.platform().await;
    let ids = ready_vms(
        &env,
        &[("app-1", json!({})), ("web-1", json!({"tier": "web"}))],
    )
    .await;
    let (app1, web1) = (ids[0].clone(), ids[1].clone());
    env.apply(lb(
        "lb-1",
        json!({"displayName": "acme web lb", "rules": [{"sourcePort": 80, "targetPort": 8080}, {"sourcePort": 443, "targetPort": 8443}],
               "vmRefs": [{"name": "app-1"}], "vmSelector": {"matchLabels": {"tier": "web"}}}),
    ))
    .await;
    let api = lbs(&env);
    let l = wait_obj(&api, "lb-1", "Ready", is_ready).await;
    let id = ext_id(&l);
    assert_eq!(id.len(), 36, "{id}");
    let st = l.status.clone().unwrap();
    assert!(st.private_address.is_some(), "{st:?}");
    assert_eq!(rules(&l), [(80, 8080), (443, 8443)]);
    assert!(st.forwarding_rules.iter().all(|r| r.uuid.len() == 36));
    assert_eq!(targets(&l), sorted(vec![app1.clone(), web1.clone()]));
    assert!(st.targets.iter().all(|t| t.target_ip_address.is_some()));
    assert_eq!(st.target_count, Some(2));
    let c = cloud_lb(&env, &id).await.unwrap();
    assert_eq!(
        c.display_name.as_deref(),
        Some(format!("acme web lb [nno:{}]", l.uid().unwrap()).as_str())
    );
    assert_eq!(c.billing_account_id, Some(129673));
    assert_eq!(served(&env, "POST", LB_PATH).await, 1);
    assert_eq!(
        served(&env, "POST", "/v1/network/load_balancers/{lb_uuid}/targets").await,
        0,
        "targets sent with the create"
    );

    // Rename (the token stays), billing account, rules: one changed target port, one removed,
    // one added.
    merge(&api, "lb-1", json!({"spec": {"displayName": "acme edge", "billingAccountId": 777,
        "rules": [{"sourcePort": 80, "targetPort": 9090}, {"sourcePort": 8000, "targetPort": 8000}]}}))
    .await;
    let uid = l.uid().unwrap();
    wait_cloud("rename, billing, rules converge", true, || async {
        let Some(c) = cloud_lb(&env, &id).await else {
            return false;
        };
        c.display_name.as_deref() == Some(format!("acme edge [nno:{uid}]").as_str())
            && c.billing_account_id == Some(777)
            && cloud_rules(&env, &id).await == [(80, 9090), (8000, 8000)]
    })
    .await;
    wait_obj(&api, "lb-1", "status shows the rules", |l| {
        rules(l) == [(80, 9090), (8000, 8000)] && is_ready(l)
    })
    .await;

    // Targets follow the selector: a new matching VM, a VM relabelled away.
    let generation = api.get("lb-1").await.unwrap().metadata.generation;
    let web2 = ready_vms(&env, &[("web-2", json!({"tier": "web"}))]).await[0].clone();
    wait_cloud(
        "new matching VM targeted",
        sorted(vec![app1.clone(), web1.clone(), web2.clone()]),
        || cloud_targets(&env, &id),
    )
    .await;
    label_vm(&env, "web-1", json!({"tier": "batch"})).await;
    wait_cloud(
        "relabelled VM dropped",
        sorted(vec![app1.clone(), web2.clone()]),
        || cloud_targets(&env, &id),
    )
    .await;
    // A selected VM whose object goes while its cloud VM stays (Orphan): the operator removes
    // the target itself.
    merge(
        &env.vms(),
        "web-2",
        json!({"spec": {"deletionPolicy": "Orphan"}}),
    )
    .await;
    env.wait_vm("web-2", "Orphan seen", |v| {
        v.status.as_ref().and_then(|s| s.common.observed_generation) == v.metadata.generation
    })
    .await;
    env.delete_vm("web-2").await;
    env.wait_gone("web-2").await;
    assert!(
        env.cloud().get_vm(Some("cyc01"), &web2).await.is_ok(),
        "the orphaned VM still exists"
    );
    wait_cloud("orphaned VM no longer targeted", vec![app1.clone()], || {
        cloud_targets(&env, &id)
    })
    .await;
    assert_eq!(
        api.get("lb-1").await.unwrap().metadata.generation,
        generation
    );
    // A VM named in vmRefs deleted: gone from the targets, and the dangling reference is named.
    env.delete_vm("app-1").await;
    env.wait_gone("app-1").await;
    wait_cloud(
        "deleted VM no longer targeted",
        Vec::<String>::new(),
        || cloud_targets(&env, &id),
    )
    .await;
    let l = wait_obj(&api, "lb-1", "ReferenceNotReady", |l| {
        synced_reason(l) == "ReferenceNotReady"
    })
    .await;
    assert!(cond(&l, "Synced").unwrap().2.contains("\"app-1\""));
    merge(&api, "lb-1", json!({"spec": {"vmRefs": null}})).await;
    wait_obj(&api, "lb-1", "Ready without targets", |l| {
        is_ready(l) && targets(l).is_empty()
    })
    .await;

    // Delete.
    delete(&api, "lb-1").await;
    wait_gone(&api, "lb-1").await;
    assert_eq!(count(&env, "load_balancers").await, 0);
    env.stop().await;
}

#[tokio::test]
async fn drift_is_corrected_or_reported_without_writes() {
    let env = Env::start().await;
    env.platform().await;
    let vm = ready_vms(&env, &[("app-1", json!({}))]).await[0].clone();
    let refs = json!([{"name": "app-1"}]);
    env.apply(lb("fix-1", json!({"vmRefs": refs}))).await;
    env.apply(lb(
        "rep-1",
        json!({"vmRefs": refs, "driftPolicy": "Report"}),
    ))
    .await;
    env.apply(lb(
        "ign-1",
        json!({"vmRefs": refs, "ignoreChanges": ["vmRefs", "rules", "displayName"]}),
    ))
    .await;
    let api = lbs(&env);
    let mut ids = Vec::new();
    for n in ["fix-1", "rep-1", "ign-1"] {
        let l = wait_obj(&api, n, "Ready", |l| {
            is_ready(l) && targets(l) == [vm.clone()]
        })
        .await;
        ids.push(ext_id(&l));
    }
    // Behind the operator's back: target dropped, rule dropped, renamed.
    let cloud = env.cloud();
    for id in &ids {
        let c = cloud_lb(&env, id).await.unwrap();
        cloud.remove_load_balancer_target(id, &vm).await.unwrap();
        let rule = c.forwarding_rules[0].uuid.clone().unwrap();
        cloud.remove_forwarding_rule(id, &rule).await.unwrap();
        cloud
            .rename_load_balancer(id, "someone else's")
            .await
            .unwrap();
    }
    let fix = ids[0].clone();
    wait_cloud("target, rule and name restored", true, || async {
        let Some(c) = cloud_lb(&env, &fix).await else {
            return false;
        };
        cloud_targets(&env, &fix).await == [vm.clone()]
            && cloud_rules(&env, &fix).await == [(80, 8080)]
            && c.display_name
                .as_deref()
                .is_some_and(|n| n.starts_with("fix-1 [nno:"))
    })
    .await;
    wait_obj(&api, "fix-1", "Ready, no drift", |l| {
        is_ready(l) && l.drift().is_empty()
    })
    .await;
    for n in ["rep-1", "ign-1"] {
        let l = wait_obj(&api, n, "drift reported", |l| {
            sorted(drift_fields(l)) == ["displayName", "rules", "vmRefs"]
        })
        .await;
        assert!(l.drift().iter().all(|d| d.action == "Reported"));
    }
    let writes = env.writes().await;
    idle().await;
    assert_eq!(
        env.writes().await,
        writes,
        "reported drift is never written"
    );
    for id in &ids[1..] {
        assert!(cloud_targets(&env, id).await.is_empty());
        assert!(cloud_rules(&env, id).await.is_empty());
    }
    env.stop().await;
}

#[tokio::test]
async fn deletion_orphan_adoption_observe_paused_and_missing_refs() {
    let env = Env::start().await;
    env.platform().await;
    let api = lbs(&env);
    let cloud = env.cloud();
    let pre = |name: &str| CreateLoadBalancer {
        display_name: Some(name.into()),
        billing_account_id: Some(129673),
        rules: vec![RuleSpec {
            source_port: 80,
            target_port: 8080,
            protocol: None,
        }],
        ..CreateLoadBalancer::default()
    };
    let adopted = cloud
        .create_load_balancer(&pre("pre-existing"))
        .await
        .unwrap();
    let observed = cloud.create_load_balancer(&pre("imported")).await.unwrap();
    let posts = served(&env, "POST", LB_PATH).await;

    // Adoption: named by the annotation, brought to the spec, nothing created.
    let mut m = lb(
        "adopt-1",
        json!({"displayName": "pre-existing", "rules": [{"sourcePort": 80, "targetPort": 8080}, {"sourcePort": 81, "targetPort": 8081}]}),
    );
    m["metadata"]["annotations"] = json!({"nno.app/external-id": adopted.uuid});
    env.apply(m).await;
    let l = wait_obj(&api, "adopt-1", "Ready with two rules", |l| {
        is_ready(l) && rules(l).len() == 2
    })
    .await;
    assert_eq!(ext_id(&l), adopted.uuid);
    assert_eq!(
        served(&env, "POST", LB_PATH).await,
        posts,
        "adopted, not created"
    );

    // Observe and paused never write.
    let writes = env.writes().await;
    let mut m = lb(
        "observe-1",
        json!({"displayName": "imported", "managementPolicy": "Observe", "rules": [{"sourcePort": 443, "targetPort": 443}]}),
    );
    m["metadata"]["annotations"] = json!({"nno.app/external-id": observed.uuid});
    env.apply(m).await;
    let l = wait_obj(&api, "observe-1", "rules drift reported", |l| {
        drift_fields(l) == ["rules"]
    })
    .await;
    assert_eq!(rules(&l), [(80, 8080)]);
    let mut m = lb("paused-1", json!({}));
    m["metadata"]["annotations"] = json!({"nno.app/paused": "true"});
    env.apply(m).await;
    wait_obj(&api, "paused-1", "Paused", |l| synced_reason(l) == "Paused").await;
    // A reference to a VM that does not exist yet: nothing is created either.
    env.apply(lb("later-lb", json!({"vmRefs": [{"name": "later-vm"}]})))
        .await;
    let l = wait_obj(&api, "later-lb", "ReferenceNotReady", |l| {
        synced_reason(l) == "ReferenceNotReady"
    })
    .await;
    assert!(
        cond(&l, "Synced")
            .unwrap()
            .2
            .contains("VirtualMachine \"later-vm\"")
    );
    idle().await;
    assert_eq!(
        env.writes().await,
        writes,
        "Observe, paused and unresolved refs never write"
    );
    assert_eq!(count(&env, "load_balancers").await, 2);
    let vm = ready_vms(&env, &[("later-vm", json!({}))]).await[0].clone();
    let l = wait_obj(&api, "later-lb", "Ready once the VM exists", |l| {
        is_ready(l) && targets(l) == [vm.clone()]
    })
    .await;
    assert_eq!(
        cloud_targets(&env, &ext_id(&l)).await,
        std::slice::from_ref(&vm)
    );

    // Observe and Orphan leave the cloud object; Delete removes it, also when it is already gone
    // or its target VM was deleted first.
    delete(&api, "observe-1").await;
    wait_gone(&api, "observe-1").await;
    assert!(cloud_lb(&env, &observed.uuid).await.is_some());
    merge(
        &api,
        "adopt-1",
        json!({"spec": {"deletionPolicy": "Orphan"}}),
    )
    .await;
    wait_obj(&api, "adopt-1", "Orphan seen", |l| {
        l.status.as_ref().and_then(|s| s.common.observed_generation) == l.metadata.generation
    })
    .await;
    delete(&api, "adopt-1").await;
    wait_gone(&api, "adopt-1").await;
    assert!(
        cloud_lb(&env, &adopted.uuid).await.is_some(),
        "orphaned load balancer stays"
    );
    merge(
        &api,
        "paused-1",
        json!({"metadata": {"annotations": {"nno.app/paused": null}}}),
    )
    .await;
    let gone = ext_id(&wait_obj(&api, "paused-1", "Ready once unpaused", is_ready).await);
    cloud.delete_load_balancer(&gone).await.unwrap();
    delete(&api, "paused-1").await;
    env.delete_vm("later-vm").await;
    env.wait_gone("later-vm").await;
    delete(&api, "later-lb").await;
    wait_gone(&api, "paused-1").await;
    wait_gone(&api, "later-lb").await;
    assert_eq!(
        count(&env, "load_balancers").await,
        2,
        "only the orphaned and observed remain"
    );
    env.stop().await;
}
