//! VirtualMachine end to end: devcluster + 3nv.io simulator + the operator's real `run` code path,
//! over HTTP. Create, update of every mutable field, restart rules and drift correction.

use crate::operator_kit;

use k8s_openapi::api::core::v1::{Event, Secret};
use kube::Api;
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};
use nno_operator::cloud::threenv::vm::ModifyVm;
use operator_kit::{Env, NS, WAIT, condition, external_id, wait_for};
use serde_json::json;

async fn spec_patch(env: &Env, name: &str, spec: serde_json::Value) {
    env.vms()
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": spec})),
        )
        .await
        .expect("patch spec");
}

#[tokio::test]
async fn create_becomes_ready_with_status_and_connection_secret() {
    let env = Env::start().await;
    env.platform().await;
    env.apply(Env::vm("web-1", json!({"description": "storefront"})))
        .await;
    let vm = env.wait_ready("web-1").await;
    let st = vm.status.clone().unwrap();
    let id = external_id(&vm);
    assert_eq!(id.len(), 36, "a uuid: {id}");
    assert_eq!(st.state.as_deref(), Some("running"));
    assert!(
        st.private_ipv4.is_some() && st.public_ipv4.is_some(),
        "{st:?}"
    );
    assert_eq!(st.location.as_deref(), Some("cyc01"));
    assert_eq!(st.storage.len(), 1);
    assert_eq!(st.common.observed_generation, vm.metadata.generation);
    assert_eq!(condition(&vm, "Synced").unwrap().0, "True");
    assert!(condition(&vm, "Reconciling").is_none());
    assert_eq!(vm.annotations().get("nno.app/external-id"), Some(&id));
    assert!(!vm.annotations().contains_key("nno.app/create-pending"));
    assert!(vm.finalizers().contains(&"nno.app/cleanup".to_owned()));

    let cloud = env.cloud().get_vm(Some("cyc01"), &id).await.unwrap();
    assert_eq!(cloud.name, "web-1");
    assert_eq!((cloud.vcpu, cloud.memory), (2, 2048));
    let uid = vm.uid().unwrap();
    assert_eq!(cloud.description, format!("storefront [nno:{uid}]"));
    assert_eq!(cloud.billing_account, Some(129673));

    let secrets: Api<Secret> = Api::namespaced(env.kube.clone(), NS);
    let s = wait_for("connection secret with IPs", WAIT, || {
        let secrets = secrets.clone();
        async move {
            secrets
                .get_opt("web-1-conn")
                .await
                .ok()
                .flatten()
                .filter(|s| {
                    s.data
                        .as_ref()
                        .is_some_and(|d| d.contains_key("privateIpv4"))
                })
        }
    })
    .await;
    let data = s.data.unwrap();
    let text = |k: &str| String::from_utf8(data[k].0.clone()).unwrap();
    assert_eq!(text("username"), "deploy");
    let pw = text("password");
    assert!(
        pw.len() >= 8
            && pw.chars().any(|c| c.is_ascii_uppercase())
            && pw.chars().any(|c| c.is_ascii_digit())
    );
    assert_eq!(Some(text("privateIpv4")), st.private_ipv4);
    let owner = &s.metadata.owner_references.unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("VirtualMachine", "web-1")
    );

    // Exactly one create; events tell the story.
    let req = env.requests().await;
    assert_eq!(
        req.get(&("POST".into(), "/v1/{slug}/user-resource/vm".into()))
            .copied()
            .unwrap_or(0)
            + req
                .get(&("POST".into(), "/v1/user-resource/vm".into()))
                .copied()
                .unwrap_or(0),
        1,
        "{req:?}"
    );
    assert_eq!(env.counts().await["vms"], 1);
    let events: Api<Event> = Api::namespaced(env.kube.clone(), NS);
    let evs = events.list(&Default::default()).await.unwrap();
    assert!(
        evs.items
            .iter()
            .any(|e| e.reason.as_deref() == Some("Created")),
        "{:?}",
        evs.items.iter().map(|e| &e.reason).collect::<Vec<_>>()
    );
    env.stop().await;
}

#[tokio::test]
async fn every_updatable_field_converges() {
    let env = Env::start().await;
    env.platform().await;
    env.apply(Env::vm("web-2", json!({"allowRestart": true})))
        .await;
    let vm = env.wait_ready("web-2").await;
    let id = external_id(&vm);
    spec_patch(
        &env,
        "web-2",
        json!({"name": "web-renamed", "vcpu": 4, "ramMb": 4096, "backup": true, "diskGb": 30}),
    )
    .await;
    let cloud = env.cloud();
    // The resize stops the VM, changes it and starts it again: the fields can all show their new
    // values while it is still stopped, so "running" is part of what is waited for.
    wait_for("cloud VM updated and running again", WAIT, || {
        let (cloud, id) = (cloud.clone(), id.clone());
        async move {
            let v = cloud.get_vm(Some("cyc01"), &id).await.ok()?;
            (v.name == "web-renamed"
                && v.vcpu == 4
                && v.memory == 4096
                && v.backup
                && v.storage[0].size == 30
                && v.status == "running")
                .then_some(v)
        }
    })
    .await;
    let vm = env
        .wait_vm("web-2", "Ready for generation 2", |v| {
            condition(v, "Ready").is_some_and(|c| c.0 == "True")
                && v.status.as_ref().and_then(|s| s.common.observed_generation)
                    == v.metadata.generation
        })
        .await;
    assert_eq!(vm.status.unwrap().storage[0].size_gb, 30);

    spec_patch(&env, "web-2", json!({"powerState": "Stopped"})).await;
    wait_for("cloud VM stopped", WAIT, || {
        let (cloud, id) = (cloud.clone(), id.clone());
        async move { (cloud.get_vm(Some("cyc01"), &id).await.ok()?.status == "stopped").then_some(()) }
    })
    .await;
    env.wait_vm("web-2", "Ready while stopped", |v| {
        condition(v, "Ready").is_some_and(|c| c.0 == "True")
            && v.status.as_ref().and_then(|s| s.state.as_deref()) == Some("stopped")
    })
    .await;
    spec_patch(&env, "web-2", json!({"powerState": "Running"})).await;
    env.wait_vm("web-2", "running again", |v| {
        v.status.as_ref().and_then(|s| s.state.as_deref()) == Some("running")
    })
    .await;
    assert_eq!(env.counts().await["vms"], 1);
    env.stop().await;
}

#[tokio::test]
async fn resize_without_allow_restart_waits_with_restart_required() {
    let env = Env::start().await;
    env.platform().await;
    env.apply(Env::vm("web-3", json!({}))).await;
    let vm = env.wait_ready("web-3").await;
    let id = external_id(&vm);
    spec_patch(&env, "web-3", json!({"vcpu": 4})).await;
    let vm = env
        .wait_vm("web-3", "RestartRequired", |v| {
            condition(v, "Synced").is_some_and(|c| c.1 == "RestartRequired")
        })
        .await;
    let (ready, reason, _) = condition(&vm, "Ready").unwrap();
    assert_eq!(
        (ready.as_str(), reason.as_str()),
        ("False", "RestartRequired"),
        "never Ready while not Synced"
    );
    assert!(condition(&vm, "Synced").unwrap().2.contains("allowRestart"));
    let c = env.cloud().get_vm(Some("cyc01"), &id).await.unwrap();
    assert_eq!(
        (c.vcpu, c.status.as_str()),
        (2, "running"),
        "nothing was stopped"
    );
    spec_patch(&env, "web-3", json!({"allowRestart": true})).await;
    env.wait_vm("web-3", "Ready with 4 vcpu", |v| {
        condition(v, "Ready").is_some_and(|c| c.0 == "True")
            && v.metadata.generation == v.status.as_ref().and_then(|s| s.common.observed_generation)
    })
    .await;
    let c = env.cloud().get_vm(Some("cyc01"), &id).await.unwrap();
    assert_eq!((c.vcpu, c.status.as_str()), (4, "running"));
    env.stop().await;
}

#[tokio::test]
async fn drift_made_in_the_cloud_is_corrected() {
    let env = Env::start().await;
    env.platform().await;
    env.apply(Env::vm("web-4", json!({"allowRestart": true})))
        .await;
    let vm = env.wait_ready("web-4").await;
    let id = external_id(&vm);
    let cloud = env.cloud();
    // Renamed, backups switched on, stopped and resized behind the operator's back.
    cloud
        .modify_vm(
            Some("cyc01"),
            &ModifyVm {
                uuid: id.clone(),
                name: Some("someone-else".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    cloud.toggle_vm_backup(Some("cyc01"), &id).await.unwrap();
    cloud.stop_vm(Some("cyc01"), &id, true).await.unwrap();
    cloud
        .modify_vm(
            Some("cyc01"),
            &ModifyVm {
                uuid: id.clone(),
                vcpu: Some(1),
                ram: Some(1024),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let fixed = wait_for("drift corrected", WAIT, || {
        let (cloud, id) = (cloud.clone(), id.clone());
        async move {
            let v = cloud.get_vm(Some("cyc01"), &id).await.ok()?;
            (v.name == "web-4"
                && !v.backup
                && v.status == "running"
                && v.vcpu == 2
                && v.memory == 2048)
                .then_some(v)
        }
    })
    .await;
    assert_eq!(fixed.uuid, id);
    let events: Api<Event> = Api::namespaced(env.kube.clone(), NS);
    wait_for("DriftCorrected event", WAIT, || {
        let events = events.clone();
        async move {
            let l = events.list(&Default::default()).await.ok()?;
            l.items
                .iter()
                .any(|e| e.reason.as_deref() == Some("DriftCorrected"))
                .then_some(())
        }
    })
    .await;
    assert!(
        env.metrics()
            .await
            .contains("nno_drift_corrections_total{kind=\"VirtualMachine\"}")
    );
    assert_eq!(env.counts().await["vms"], 1);
    env.stop().await;
}
