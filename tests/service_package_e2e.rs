//! ServicePackage end to end: devcluster + 3nv.io simulator + the operator's real `run` code path,
//! over HTTP. Create and wait `active`, status and the connection Secret (password from `/secrets`,
//! never in status or events), display name / billing account / whitelist converge, whitelist drift
//! corrected or reported, immutable fields `InvalidSpec`, adoption, Observe, paused, Orphan,
//! deletion, and a missing Platform.

use crate::net_kit;
use crate::operator_kit;
use crate::storage_kit;

use kube::ResourceExt;
use net_kit::{
    cond, count, delete, drift_fields, ext_id, idle, is_ready, merge, served, sorted,
    synced_reason, wait_cloud, wait_gone, wait_obj,
};
use nno_operator::api::service_package::ServicePackage;
use nno_operator::cloud::threenv::service_package::{
    CreateServicePackage, ServicePackage as Cloud,
};
use operator_kit::{Env, WAIT, wait_for};
use serde_json::json;
use storage_kit::*;

const CREATE: &str = "/v1/user-resource/service/package";

async fn cloud_pkg(env: &Env, id: &str) -> Option<Cloud> {
    env.cloud().get_service_package(id).await.ok()
}

async fn cloud_whitelist(env: &Env, id: &str) -> Vec<String> {
    sorted(env.cloud().service_whitelist(id).await.unwrap_or_default())
}

fn generation_seen(p: &ServicePackage) -> bool {
    p.status.as_ref().and_then(|s| s.common.observed_generation) == p.metadata.generation
}

fn pre(name: &str, version: &str) -> CreateServicePackage {
    CreateServicePackage {
        billing_account_id: 129673,
        service: "postgresql".into(),
        version: version.into(),
        display_name: name.into(),
        vm_cpu: 2,
        vm_ram: 4096,
        vm_disk_gb: 50,
        ..CreateServicePackage::default()
    }
}

#[tokio::test]
async fn create_active_connection_secret_fields_converge_and_whitelist_drift_corrected() {
    let env = Env::start().await;
    env.platform().await;
    env.apply(package(
        "db-1",
        json!({"displayName": "acme db", "whitelist": ["203.0.113.0/24", "198.51.100.7"],
               "packageParameters": {"max_connections": 200}}),
    ))
    .await;
    let api = packages(&env);
    let p = wait_obj(&api, "db-1", "Ready with the whitelist", |p| {
        is_ready(p) && p.status.as_ref().is_some_and(|s| s.whitelist.len() == 2)
    })
    .await;
    let id = ext_id(&p);
    let st = p.status.clone().unwrap();
    assert_eq!(st.state.as_deref(), Some("active"));
    let props = st.properties.clone().unwrap();
    assert!(
        props.service_ip.is_some() && props.port.is_some(),
        "{props:?}"
    );
    assert!(
        st.resources.iter().any(|r| r.resource_type == "vm"),
        "{st:?}"
    );
    let c = cloud_pkg(&env, &id).await.unwrap();
    let uid = p.uid().unwrap();
    assert_eq!(c.display_name, format!("acme db [nno:{uid}]"));
    assert_eq!(c.billing_account_id, Some(129673));
    assert_eq!(
        cloud_whitelist(&env, &id).await,
        ["198.51.100.7", "203.0.113.0/24"]
    );
    assert_eq!(served(&env, "POST", CREATE).await, 1);

    // The connection Secret: host, port and user from properties, the password from /secrets.
    let data = wait_for("connection Secret", WAIT, || async {
        secret_data(&env, "db-1-conn")
            .await
            .filter(|d| d.contains_key("password"))
    })
    .await;
    let pass = env.cloud().service_package_secrets(&id).await.unwrap().0["sql_pass"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(data["password"], pass);
    assert_eq!(data.get("host"), props.service_ip.as_ref());
    assert_eq!(data.get("port"), props.port.map(|p| p.to_string()).as_ref());
    assert_eq!(data.get("username"), props.sql_user.as_ref());
    assert!(!serde_json::to_string(&p).unwrap().contains(&pass));
    let events = event_texts(&env, "db-1").await;
    assert!(events.iter().all(|e| !e.contains(&pass)), "{events:?}");

    // Every updatable field: display name, billing account, whitelist entries one by one.
    merge(
        &api,
        "db-1",
        json!({"spec": {"displayName": "acme db v2", "billingAccountId": 129072,
                        "whitelist": ["203.0.113.0/24", "192.0.2.1"]}}),
    )
    .await;
    wait_cloud("fields converged", true, || async {
        let c = cloud_pkg(&env, &id).await.unwrap();
        c.display_name == format!("acme db v2 [nno:{uid}]")
            && c.billing_account_id == Some(129072)
            && cloud_whitelist(&env, &id).await == ["192.0.2.1", "203.0.113.0/24"]
    })
    .await;
    wait_obj(&api, "db-1", "Ready after the change", |p| {
        is_ready(p) && generation_seen(p) && synced_reason(p) == "ReconcileSuccess"
    })
    .await;

    // The immutable fields are rejected by the CRD rules.
    let err = api
        .patch(
            "db-1",
            &Default::default(),
            &kube::api::Patch::Merge(json!({"spec": {"vmCpu": 4}})),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("immutable"), "{err}");

    // Drift: an entry added behind the operator's back is removed, a removed one restored.
    let cloud = env.cloud();
    cloud.add_service_whitelist(&id, "10.9.9.9").await.unwrap();
    cloud
        .delete_service_whitelist(&id, "192.0.2.1")
        .await
        .unwrap();
    wait_cloud("whitelist restored", true, || async {
        cloud_whitelist(&env, &id).await == ["192.0.2.1", "203.0.113.0/24"]
    })
    .await;
    wait_for("DriftCorrected event", WAIT, || async {
        event_texts(&env, "db-1")
            .await
            .iter()
            .any(|e| e.starts_with("DriftCorrected"))
            .then_some(())
    })
    .await;

    // Deletion removes it.
    delete(&api, "db-1").await;
    wait_gone(&api, "db-1").await;
    assert!(cloud_pkg(&env, &id).await.is_none());
    assert_eq!(count(&env, "service_packages").await, 0);
    env.stop().await;
}

#[tokio::test]
async fn whitelist_drift_reported_under_report_and_ignore_changes_without_writes() {
    let env = Env::start().await;
    env.platform().await;
    let wl = json!(["203.0.113.0/24"]);
    env.apply(package(
        "rep-1",
        json!({"whitelist": wl, "driftPolicy": "Report"}),
    ))
    .await;
    env.apply(package("ign-1", json!({"whitelist": wl}))).await;
    let api = packages(&env);
    let mut ids = Vec::new();
    for n in ["rep-1", "ign-1"] {
        let p = wait_obj(&api, n, "Ready with the whitelist", |p| {
            is_ready(p) && p.status.as_ref().is_some_and(|s| s.whitelist.len() == 1)
        })
        .await;
        ids.push(ext_id(&p));
    }
    // ignoreChanges set once the whitelist is in place (with it from the start, the whitelist
    // would never be written at all).
    merge(
        &api,
        "ign-1",
        json!({"spec": {"ignoreChanges": ["whitelist"]}}),
    )
    .await;
    wait_obj(&api, "ign-1", "ignoreChanges seen", generation_seen).await;
    let cloud = env.cloud();
    for id in &ids {
        cloud.add_service_whitelist(id, "10.9.9.9").await.unwrap();
    }
    for n in ["rep-1", "ign-1"] {
        let p = wait_obj(&api, n, "drift reported", |p| {
            drift_fields(p) == ["whitelist"]
        })
        .await;
        let d = &p.status.unwrap().drift.drift[0];
        assert_eq!(d.desired, "203.0.113.0/24");
        assert_eq!(d.observed, "10.9.9.9,203.0.113.0/24");
        assert_eq!(d.action, "Reported");
    }
    let writes = env.writes().await;
    idle().await;
    assert_eq!(
        env.writes().await,
        writes,
        "reported drift is never written"
    );
    for id in &ids {
        assert_eq!(
            cloud_whitelist(&env, id).await,
            ["10.9.9.9", "203.0.113.0/24"]
        );
    }
    env.stop().await;
}

#[tokio::test]
async fn adoption_immutable_mismatch_observe_paused_and_orphan() {
    let env = Env::start().await;
    env.platform().await;
    let cloud = env.cloud();
    let adopted = cloud
        .create_service_package(&pre("legacy db", "14.0"))
        .await
        .unwrap();
    let older = cloud
        .create_service_package(&pre("old db", "13.0"))
        .await
        .unwrap();
    let observed = cloud
        .create_service_package(&pre("imported db", "14.0"))
        .await
        .unwrap();
    let api = packages(&env);
    let posts = served(&env, "POST", CREATE).await;

    // Adoption: the annotation names it; the spec's display name is applied, nothing created.
    let mut m = package("adopt-1", json!({"displayName": "legacy db"}));
    m["metadata"]["annotations"] = json!({"nno.app/external-id": adopted.uuid});
    env.apply(m).await;
    let p = wait_obj(&api, "adopt-1", "Ready", |p| {
        is_ready(p) && generation_seen(p)
    })
    .await;
    assert_eq!(ext_id(&p), adopted.uuid);
    assert_eq!(
        served(&env, "POST", CREATE).await,
        posts,
        "adopted, not created"
    );

    // What 3nv.io cannot change is never silently ignored.
    let mut m = package("older-1", json!({"displayName": "old db"}));
    m["metadata"]["annotations"] = json!({"nno.app/external-id": older.uuid});
    env.apply(m).await;
    let p = wait_obj(&api, "older-1", "InvalidSpec", |p| {
        synced_reason(p) == "InvalidSpec"
    })
    .await;
    let msg = cond(&p, "Synced").unwrap().2;
    assert!(
        msg.contains("spec.version") && msg.contains("13.0"),
        "{msg}"
    );
    assert_eq!(cloud_pkg(&env, &older.uuid).await.unwrap().version, "13.0");

    // Observe and paused: no writes at all.
    let writes = env.writes().await;
    let mut m = package(
        "observe-1",
        json!({"displayName": "imported db", "whitelist": ["203.0.113.0/24"], "managementPolicy": "Observe"}),
    );
    m["metadata"]["annotations"] = json!({"nno.app/external-id": observed.uuid});
    env.apply(m).await;
    let mut m = package("paused-1", json!({}));
    m["metadata"]["annotations"] = json!({"nno.app/paused": "true"});
    env.apply(m).await;
    wait_obj(&api, "observe-1", "whitelist difference reported", |p| {
        drift_fields(p) == ["whitelist"]
    })
    .await;
    wait_obj(&api, "paused-1", "Paused", |p| synced_reason(p) == "Paused").await;
    idle().await;
    assert_eq!(env.writes().await, writes, "Observe and paused never write");
    delete(&api, "observe-1").await;
    wait_gone(&api, "observe-1").await;
    assert!(
        cloud_pkg(&env, &observed.uuid).await.is_some(),
        "Observe leaves it"
    );
    merge(
        &api,
        "paused-1",
        json!({"metadata": {"annotations": {"nno.app/paused": null}}}),
    )
    .await;
    let p = wait_obj(&api, "paused-1", "Ready once unpaused", is_ready).await;
    let paused_id = ext_id(&p);

    // Orphan keeps the package; Delete removes it.
    merge(
        &api,
        "adopt-1",
        json!({"spec": {"deletionPolicy": "Orphan"}}),
    )
    .await;
    wait_obj(&api, "adopt-1", "Orphan seen", generation_seen).await;
    delete(&api, "adopt-1").await;
    wait_gone(&api, "adopt-1").await;
    assert!(
        cloud_pkg(&env, &adopted.uuid).await.is_some(),
        "orphaned package stays"
    );
    let total = count(&env, "service_packages").await;
    delete(&api, "paused-1").await;
    wait_gone(&api, "paused-1").await;
    assert!(cloud_pkg(&env, &paused_id).await.is_none());
    assert_eq!(count(&env, "service_packages").await, total - 1);
    env.stop().await;
}

#[tokio::test]
async fn a_missing_platform_is_reference_not_ready_then_ready() {
    let env = Env::start().await;
    env.apply(package("early-1", json!({}))).await;
    let api = packages(&env);
    let p = wait_obj(&api, "early-1", "ReferenceNotReady", |p| {
        synced_reason(p) == "ReferenceNotReady"
    })
    .await;
    assert!(cond(&p, "Synced").unwrap().2.contains("acme"));
    assert_eq!(env.writes().await, 0);
    env.platform().await;
    let p = wait_obj(&api, "early-1", "Ready", is_ready).await;
    assert!(cloud_pkg(&env, &ext_id(&p)).await.is_some());
    env.stop().await;
}
