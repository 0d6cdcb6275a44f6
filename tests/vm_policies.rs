//! VirtualMachine policies end to end: Report / ignoreChanges, deletion and Orphan, adoption,
//! Observe and paused (no writes in the simulator's request log), missing references, and a
//! malformed object reported on itself while the others reconcile.

use crate::operator_kit;

use kube::ResourceExt;
use kube::api::{DeleteParams, Patch, PatchParams};
use nno_operator::cloud::threenv::vm::{CreateVm, ModifyVm};
use operator_kit::{Env, WAIT, condition, external_id, wait_for};
use serde_json::json;
use std::time::Duration;

fn drift_fields(vm: &nno_operator::api::virtual_machine::VirtualMachine) -> Vec<String> {
    vm.status
        .as_ref()
        .map(|s| s.drift.drift.iter().map(|d| d.field.clone()).collect())
        .unwrap_or_default()
}

/// Lets the operator see the cloud for a few poll intervals.
async fn idle(env: &Env) {
    // Not a wait for a condition: a fixed observation window during which nothing may be written.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let _ = env;
}

#[tokio::test]
async fn report_and_ignore_changes_are_reported_never_written() {
    let env = Env::start().await;
    env.platform().await;
    env.apply(Env::vm("rep-1", json!({"driftPolicy": "Report"})))
        .await;
    env.apply(Env::vm("ign-1", json!({"ignoreChanges": ["name"]})))
        .await;
    let rep = external_id(&env.wait_ready("rep-1").await);
    let ign = external_id(&env.wait_ready("ign-1").await);
    let cloud = env.cloud();
    for (id, n) in [(&rep, "renamed-rep"), (&ign, "renamed-ign")] {
        cloud
            .modify_vm(
                Some("cyc01"),
                &ModifyVm {
                    uuid: id.clone(),
                    name: Some(n.into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    let writes = env.writes().await;
    for name in ["rep-1", "ign-1"] {
        let vm = env
            .wait_vm(name, "name drift reported", |v| drift_fields(v) == ["name"])
            .await;
        let d = &vm.status.unwrap().drift.drift[0];
        assert_eq!((d.desired.as_str(), d.action.as_str()), (name, "Reported"));
    }
    idle(&env).await;
    assert_eq!(
        env.writes().await,
        writes,
        "reported drift never causes a cloud write"
    );
    assert_eq!(
        cloud.get_vm(Some("cyc01"), &rep).await.unwrap().name,
        "renamed-rep"
    );
    assert!(
        env.metrics()
            .await
            .contains("nno_drifted_objects{kind=\"VirtualMachine\"} 2")
    );
    // A user's own change under Report is still applied.
    env.vms()
        .patch(
            "rep-1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"backup": true}})),
        )
        .await
        .unwrap();
    wait_for("backup applied under Report", WAIT, || {
        let (cloud, rep) = (cloud.clone(), rep.clone());
        async move {
            cloud
                .get_vm(Some("cyc01"), &rep)
                .await
                .ok()?
                .backup
                .then_some(())
        }
    })
    .await;
    assert_eq!(
        cloud.get_vm(Some("cyc01"), &rep).await.unwrap().name,
        "renamed-rep",
        "drift still not reverted"
    );
    env.stop().await;
}

#[tokio::test]
async fn delete_removes_the_cloud_vm_and_orphan_keeps_it() {
    let env = Env::start().await;
    env.platform().await;
    env.apply(Env::vm("del-1", json!({}))).await;
    env.apply(Env::vm("orph-1", json!({"deletionPolicy": "Orphan"})))
        .await;
    env.wait_ready("del-1").await;
    let orphan = external_id(&env.wait_ready("orph-1").await);
    assert_eq!(env.counts().await["vms"], 2);
    env.delete_vm("del-1").await;
    env.delete_vm("orph-1").await;
    env.wait_gone("del-1").await;
    env.wait_gone("orph-1").await;
    assert_eq!(env.counts().await["vms"], 1);
    assert!(
        env.cloud().get_vm(Some("cyc01"), &orphan).await.is_ok(),
        "orphaned VM stays"
    );
    env.stop().await;
}

#[tokio::test]
async fn adoption_observe_and_paused() {
    let env = Env::start().await;
    env.platform().await;
    let cloud = env.cloud();
    let make = |name: &str| CreateVm {
        name: name.into(),
        os_name: Some("ubuntu".into()),
        os_version: Some("16.04".into()),
        disks: Some(20),
        vcpu: 2,
        ram: 2048,
        username: Some("deploy".into()),
        password: "Password123".into(),
        billing_account_id: Some(129673),
        ..Default::default()
    };
    let adopted = cloud
        .create_vm(Some("cyc01"), &make("pre-existing"))
        .await
        .unwrap()
        .uuid;
    let observed = cloud
        .create_vm(Some("cyc01"), &make("imported"))
        .await
        .unwrap()
        .uuid;
    let posts = |r: &std::collections::BTreeMap<(String, String), u64>| {
        r.iter()
            .filter(|((m, p), _)| m == "POST" && p.ends_with("user-resource/vm"))
            .map(|(_, n)| n)
            .sum::<u64>()
    };
    let before = posts(&env.requests().await);
    let mut vm = Env::vm("adopt-1", json!({"name": "pre-existing"}));
    vm["metadata"]["annotations"] = json!({"nno.app/external-id": adopted});
    env.apply(vm).await;
    let got = env.wait_ready("adopt-1").await;
    assert_eq!(external_id(&got), adopted);
    assert_eq!(posts(&env.requests().await), before, "adopted, not created");

    // Observe: mirrors the cloud, reports the difference, never writes.
    let writes = env.writes().await;
    let mut vm = Env::vm(
        "observe-1",
        json!({"name": "imported", "managementPolicy": "Observe", "vcpu": 8}),
    );
    vm["metadata"]["annotations"] = json!({"nno.app/external-id": observed});
    env.apply(vm).await;
    let got = env
        .wait_vm("observe-1", "vcpu drift reported", |v| {
            drift_fields(v).contains(&"vcpu".to_owned())
        })
        .await;
    assert_eq!(
        got.status.as_ref().unwrap().state.as_deref(),
        Some("running")
    );
    // Observe without an id is InvalidSpec.
    env.apply(Env::vm("observe-2", json!({"managementPolicy": "Observe"})))
        .await;
    env.wait_vm("observe-2", "InvalidSpec", |v| {
        condition(v, "Synced").is_some_and(|c| c.1 == "InvalidSpec")
    })
    .await;

    // Paused before creation: nothing is created until the annotation goes.
    let mut vm = Env::vm("paused-1", json!({}));
    vm["metadata"]["annotations"] = json!({"nno.app/paused": "true"});
    env.apply(vm).await;
    env.wait_vm("paused-1", "Paused", |v| {
        condition(v, "Synced").is_some_and(|c| c.1 == "Paused")
    })
    .await;
    idle(&env).await;
    assert_eq!(env.writes().await, writes, "Observe and paused never write");
    assert_eq!(env.counts().await["vms"], 2);
    // Deleting an Observe object leaves the cloud VM.
    env.delete_vm("observe-1").await;
    env.wait_gone("observe-1").await;
    assert!(cloud.get_vm(Some("cyc01"), &observed).await.is_ok());

    env.vms()
        .patch(
            "paused-1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"nno.app/paused": null}}})),
        )
        .await
        .unwrap();
    env.wait_ready("paused-1").await;
    assert_eq!(env.counts().await["vms"], 3);
    env.stop().await;
}

#[tokio::test]
async fn missing_platform_then_secret_then_ready() {
    let env = Env::start().await;
    env.apply(Env::vm("ref-1", json!({}))).await;
    let vm = env
        .wait_vm("ref-1", "ReferenceNotReady", |v| {
            condition(v, "Synced").is_some_and(|c| c.1 == "ReferenceNotReady")
        })
        .await;
    assert!(
        condition(&vm, "Synced")
            .unwrap()
            .2
            .contains("Platform \"acme\""),
        "{:?}",
        condition(&vm, "Synced")
    );
    assert_eq!(condition(&vm, "Ready").unwrap().0, "False");
    env.apply(json!({
        "apiVersion": "nno.app/v1alpha1", "kind": "Platform", "metadata": {"name": "acme"},
        "spec": {"platformId": "acme-prod", "planTier": "growth", "billingEmail": "b@acme.example",
                 "cloud": {"credentialsSecretRef": {"name": "acme-3nv-credentials", "key": "apiKey"}, "location": "cyc01", "billingAccountId": 129673}}
    }))
    .await;
    let vm = env
        .wait_vm("ref-1", "CredentialsNotReady", |v| {
            condition(v, "Synced").is_some_and(|c| c.1 == "CredentialsNotReady")
        })
        .await;
    assert!(
        condition(&vm, "Synced")
            .unwrap()
            .2
            .contains("acme-3nv-credentials")
    );
    env.secret("acme-3nv-credentials", &[("apiKey", "wrong-key")])
        .await;
    env.wait_vm("ref-1", "rejected key", |v| {
        condition(v, "Synced")
            .is_some_and(|c| c.1 == "CredentialsNotReady" && c.2.contains("unauthorized"))
    })
    .await;
    env.secret("acme-3nv-credentials", &[("apiKey", "dev-api-key")])
        .await;
    env.wait_ready("ref-1").await;
    assert_eq!(env.counts().await["vms"], 1);
    env.stop().await;
}

#[tokio::test]
async fn invalid_names_and_malformed_objects_are_reported_on_themselves() {
    let env = Env::start().await;
    env.platform().await;
    // A default cloud name the cloud would reject.
    env.apply(Env::vm("web.example", json!({}))).await;
    let vm = env
        .wait_vm("web.example", "InvalidSpec", |v| {
            condition(v, "Ready").is_some_and(|c| c.1 == "InvalidSpec")
        })
        .await;
    assert!(
        condition(&vm, "Synced")
            .unwrap()
            .2
            .contains("^[0-9a-zA-Z][-0-9a-zA-Z]{2,}[0-9a-zA-Z]$")
    );
    assert_eq!(condition(&vm, "Stalled").unwrap().0, "True");

    // A schema that lets anything through (e.g. an older CRD version): the operator cannot read it.
    let mut crd: serde_json::Value = serde_yaml::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/crds/virtualmachines.nno.app.yaml"
        ))
        .unwrap(),
    )
    .unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"] =
        json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    env.dc
        .apply_yaml(&serde_yaml::to_string(&crd).unwrap())
        .await;
    env.apply(json!({"apiVersion": "nno.app/v1alpha1", "kind": "VirtualMachine", "metadata": {"name": "bad-1"},
        "spec": {"platformRef": {"name": "acme"}, "vcpu": "two", "ramMb": 2048, "diskGb": 20}})).await;
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        env.kube.clone(),
        "default",
        &kube::api::ApiResource::erase::<nno_operator::api::virtual_machine::VirtualMachine>(&()),
    );
    let bad = wait_for("malformed reported", WAIT, || {
        let api = api.clone();
        async move {
            let o = api.get("bad-1").await.ok()?;
            let conds = o.data["status"]["conditions"].as_array()?.clone();
            conds
                .iter()
                .any(|c| c["reason"] == "MalformedObject")
                .then_some(o)
        }
    })
    .await;
    let text = bad.data["status"]["conditions"].to_string();
    assert!(
        text.contains("two") && text.contains("Expected i32"),
        "{text}"
    );
    env.apply(Env::vm("good-1", json!({}))).await;
    env.wait_ready("good-1").await;
    assert_eq!(
        env.counts().await["vms"],
        1,
        "only the good VM exists in the cloud"
    );
    env.vms()
        .delete("web.example", &DeleteParams::default())
        .await
        .unwrap();
    env.wait_gone("web.example").await;
    let _ = bad.name_any();
    env.stop().await;
}

#[tokio::test]
async fn a_rejected_create_is_not_retried_in_a_loop() {
    // Regression: the create-pending annotation set and cleared around a rejected create used to
    // wake the object at once, so a 4xx create was re-sent every few milliseconds.
    let env = Env::start().await;
    env.secret("acme-3nv-credentials", &[("apiKey", "dev-api-key")])
        .await;
    env.apply(json!({
        "apiVersion": "nno.app/v1alpha1", "kind": "Platform", "metadata": {"name": "acme"},
        "spec": {"platformId": "acme-prod", "planTier": "growth", "billingEmail": "b@acme.example",
                 "cloud": {"credentialsSecretRef": {"name": "acme-3nv-credentials", "key": "apiKey"}}}
    }))
    .await;
    env.apply(Env::vm("rej-1", json!({}))).await;
    let vm = env
        .wait_vm("rej-1", "CloudRejected", |v| {
            condition(v, "Synced").is_some_and(|c| c.1 == "CloudRejected")
        })
        .await;
    assert!(
        condition(&vm, "Synced")
            .unwrap()
            .2
            .contains("Provided billing account is incorrect.")
    );
    assert_eq!(condition(&vm, "Stalled").unwrap().0, "True");
    idle(&env).await;
    let posts: u64 = env
        .requests()
        .await
        .iter()
        .filter(|((m, p), _)| m == "POST" && p.ends_with("user-resource/vm"))
        .map(|(_, n)| n)
        .sum();
    assert!(posts <= 2, "{posts} creates sent for one rejected object");
    env.stop().await;
}

#[tokio::test]
async fn deletion_does_not_get_stuck_when_the_platform_and_its_secret_went_first() {
    // As in a namespace deletion, which removes everything at once. The Platform's own finalizer
    // waits for its VMs, so the test pauses the VM (its deletion waits) and lets the Platform go
    // by removing that finalizer, as a person forcing it would.
    let env = Env::start().await;
    env.platform().await;
    env.secret("pw", &[("password", "Password1234")]).await;
    env.apply(Env::vm(
        "ns-1",
        json!({"passwordSecretRef": {"name": "pw", "key": "password"}}),
    ))
    .await;
    env.wait_ready("ns-1").await;
    let paused = |v: serde_json::Value| {
        Patch::Merge(json!({"metadata": {"annotations": {"nno.app/paused": v}}}))
    };
    env.vms()
        .patch("ns-1", &PatchParams::default(), &paused(json!("true")))
        .await
        .unwrap();
    let platforms: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        env.kube.clone(),
        "default",
        &kube::api::ApiResource::erase::<nno_operator::api::platform::Platform>(&()),
    );
    platforms
        .delete("acme", &DeleteParams::default())
        .await
        .unwrap();
    platforms
        .patch(
            "acme",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    wait_for("Platform gone", WAIT, || async {
        matches!(platforms.get_opt("acme").await, Ok(None)).then_some(())
    })
    .await;
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(env.kube.clone(), "default");
    secrets
        .delete("acme-3nv-credentials", &DeleteParams::default())
        .await
        .unwrap();
    secrets
        .delete("pw", &DeleteParams::default())
        .await
        .unwrap();
    env.delete_vm("ns-1").await;
    assert_eq!(env.counts().await["vms"], 1, "paused: nothing deleted yet");
    env.vms()
        .patch("ns-1", &PatchParams::default(), &paused(json!(null)))
        .await
        .unwrap();
    env.wait_gone("ns-1").await;
    assert_eq!(
        env.counts().await["vms"],
        0,
        "the cloud VM was deleted, not leaked"
    );
    env.stop().await;
}
