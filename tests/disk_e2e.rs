//! Disk end to end: devcluster + 3nv.io simulator + the operator's real `run` code path, over HTTP.
//! Create from every source type, attach through `vmRef` (waiting for a missing VM), growth and
//! every PATCH field, drift correction and reporting, detach before delete, a VM deleted first,
//! adoption, Orphan, Observe, paused, a blocked deletion named, and one disk observer per account
//! across locations.

use crate::disk_kit;
use crate::operator_kit;

use std::time::Duration;

use disk_kit::*;
use kube::ResourceExt;
use kube::api::{DeleteParams, Patch, PatchParams};
use nno_operator::cloud::threenv::storage::{CreateDisk, ModifyDisk};
use nno_operator::cloud::threenv::vm::CreateVm;
use operator_kit::{Env, EnvOptions, WAIT, wait_for};
use serde_json::json;

#[tokio::test]
async fn create_from_each_source_type_becomes_ready_with_status() {
    let env = Env::start().await;
    env.platform().await;
    env.apply(disk(
        "empty",
        json!({"sizeGb": 10, "displayName": "scratch space"}),
    ))
    .await;
    let d = wait_disk(&env, "empty", "Ready", ready).await;
    let id = disk_id(&d);
    let st = d.status.clone().unwrap();
    assert_eq!(st.state.as_deref(), Some("Active"));
    assert_eq!(st.size_gb, Some(10));
    assert_eq!(
        st.device_id,
        Some(format!("/dev/disk/by-id/virtio-{}", &id[..20]))
    );
    assert_eq!(st.attached_to, None);
    assert_eq!(cond(&d, "Synced").unwrap().0, "True");
    assert_eq!(d.annotations().get("nno.app/external-id"), Some(&id));
    let cloud = env.cloud();
    let c = cloud.get_disk(&id).await.unwrap();
    let uid = d.uid().unwrap();
    assert_eq!(
        c.display_name.as_deref(),
        Some(format!("scratch space [nno:{uid}]").as_str())
    );
    assert_eq!(c.billing_account_id, Some(129673));
    assert_eq!(c.source_image_type.as_deref(), Some("EMPTY"));

    // A snapshot taken in the cloud shows in the status, and is a source for a new disk.
    cloud.create_replica(Some("cyc01"), &id).await.unwrap();
    let d = wait_disk(&env, "empty", "snapshot in status", |d| {
        d.status.as_ref().is_some_and(|s| s.snapshots.len() == 1)
    })
    .await;
    let snap = d.status.unwrap().snapshots[0].clone();
    assert_eq!(snap.size_gb, 10);

    env.apply(disk(
        "from-os",
        json!({"sourceImageType": "OS_BASE", "sourceImage": "ubuntu_16.04"}),
    ))
    .await;
    env.apply(disk(
        "from-disk",
        json!({"sourceImageType": "DISK", "sourceImage": id, "sizeGb": 15}),
    ))
    .await;
    env.apply(disk(
        "from-snap",
        json!({"sourceImageType": "SNAPSHOT", "sourceImage": snap.uuid}),
    ))
    .await;
    for (name, kind, source, size) in [
        ("from-os", "OS_BASE", "ubuntu_16.04".to_owned(), 20),
        ("from-disk", "DISK", id.clone(), 15),
        ("from-snap", "SNAPSHOT", snap.uuid.clone(), 10),
    ] {
        let d = wait_disk(&env, name, "Ready", ready).await;
        let c = cloud.get_disk(&disk_id(&d)).await.unwrap();
        assert_eq!(c.source_image_type.as_deref(), Some(kind), "{name}");
        assert_eq!(c.source_image.as_deref(), Some(source.as_str()), "{name}");
        assert_eq!(c.size_gb, size, "{name}");
        assert_eq!(d.status.unwrap().size_gb, Some(size), "{name}");
    }
    let req = env.requests().await;
    assert_eq!(count(&req, "POST", "/v1/storage/disks"), 4, "{req:?}");
    assert_eq!(env.counts().await["disks"], 4);

    // Growth goes through the VM the disk is attached to: unattached, it waits and says why.
    patch_disk(&env, "empty", json!({"spec": {"sizeGb": 12}})).await;
    let d = wait_disk(&env, "empty", "AttachRequired", |d| {
        cond(d, "Synced").is_some_and(|c| c.1 == "AttachRequired")
    })
    .await;
    assert!(cond(&d, "Synced").unwrap().2.contains("spec.vmRef"));
    assert_eq!(cloud.get_disk(&id).await.unwrap().size_gb, 10);
    env.stop().await;
}

#[tokio::test]
async fn a_vm_outside_kubernetes_blocking_deletion_is_named_until_it_lets_go() {
    let env = Env::start().await;
    env.platform().await;
    env.apply(disk("held", json!({"sizeGb": 3}))).await;
    let id = disk_id(&wait_disk(&env, "held", "Ready", ready).await);
    let cloud = env.cloud();
    let outsider = cloud
        .create_vm(
            Some("cyc01"),
            &CreateVm {
                name: "outsider".into(),
                os_name: Some("ubuntu".into()),
                os_version: Some("16.04".into()),
                disks: Some(20),
                vcpu: 1,
                ram: 1024,
                username: Some("ops".into()),
                password: "Password123".into(),
                billing_account_id: Some(129673),
                ..CreateVm::default()
            },
        )
        .await
        .unwrap();
    cloud
        .attach_disk(Some("cyc01"), &outsider.uuid, &id)
        .await
        .unwrap();
    disks(&env.kube)
        .delete("held", &DeleteParams::default())
        .await
        .unwrap();
    let d = wait_disk(&env, "held", "deletion blocked", |d| {
        cond(d, "Synced").is_some_and(|c| c.2.contains("deletion is blocked"))
    })
    .await;
    let msg = cond(&d, "Synced").unwrap().2;
    assert!(msg.contains(&outsider.uuid), "names the VM: {msg}");
    assert!(cloud.get_disk(&id).await.is_ok());
    cloud
        .detach_disk(Some("cyc01"), &outsider.uuid, &id)
        .await
        .unwrap();
    wait_disk_gone(&env, "held").await;
    assert!(cloud.get_disk(&id).await.unwrap_err().is_not_found());
    env.stop().await;
}

#[tokio::test]
async fn missing_vm_then_attach_grow_update_drift_and_detach_before_delete() {
    let env = Env::start().await;
    env.platform().await;
    env.apply(disk(
        "db-data",
        json!({"sizeGb": 10, "displayName": "db data", "vmRef": {"name": "db-vm"}}),
    ))
    .await;
    let d = wait_disk(&env, "db-data", "ReferenceNotReady", |d| {
        cond(d, "Synced").is_some_and(|c| c.1 == "ReferenceNotReady")
    })
    .await;
    let (_, _, msg) = cond(&d, "Synced").unwrap();
    assert!(msg.contains("\"db-vm\""), "names the VM: {msg}");
    assert_eq!(cond(&d, "Ready").unwrap().0, "False");

    let vm = running_vm(&env, "db-vm").await;
    let d = wait_disk(&env, "db-data", "attached and Ready", |d| {
        ready(d) && attached_to(d).is_some()
    })
    .await;
    let id = disk_id(&d);
    assert_eq!(attached_to(&d), Some(vm.clone()));
    assert!(cloud_attached(&env, &vm, &id).await);

    // Every updatable field: growth (through the VM), display name, bootable, billing account.
    patch_disk(
        &env,
        "db-data",
        json!({"spec": {"sizeGb": 25, "displayName": "db data v2", "readOnlyBootable": true, "billingAccountId": 129072}}),
    )
    .await;
    let cloud = env.cloud();
    let uid = d.uid().unwrap();
    wait_for("cloud disk updated", WAIT, || {
        let (cloud, id, uid) = (cloud.clone(), id.clone(), uid.clone());
        async move {
            let c = cloud.get_disk(&id).await.ok()?;
            (c.size_gb == 25
                && c.display_name == Some(format!("db data v2 [nno:{uid}]"))
                && c.read_only_bootable == Some(true)
                && c.billing_account_id == Some(129072))
            .then_some(())
        }
    })
    .await;
    let d = wait_disk(&env, "db-data", "Ready at 25 GiB", |d| {
        ready(d) && d.status.as_ref().and_then(|s| s.size_gb) == Some(25)
    })
    .await;
    assert!(d.status.unwrap().drift.drift.is_empty());

    // Drift behind the operator's back: detached and renamed in the cloud.
    cloud.detach_disk(Some("cyc01"), &vm, &id).await.unwrap();
    cloud
        .modify_disk(
            &id,
            &ModifyDisk {
                display_name: Some("renamed by hand".into()),
                ..ModifyDisk::default()
            },
        )
        .await
        .unwrap();
    wait_for("drift corrected", WAIT, || {
        let (cloud, id, uid) = (cloud.clone(), id.clone(), uid.clone());
        let env = &env;
        let vm = vm.clone();
        async move {
            let c = cloud.get_disk(&id).await.ok()?;
            (c.display_name == Some(format!("db data v2 [nno:{uid}]"))
                && cloud_attached(env, &vm, &id).await)
                .then_some(())
        }
    })
    .await;
    wait_disk(&env, "db-data", "Ready after drift", |d| {
        ready(d) && attached_to(d).as_deref() == Some(vm.as_str())
    })
    .await;

    // Grown behind the operator's back beyond the spec: the spec cannot be met (disks never
    // shrink), until it asks for at least that size.
    cloud
        .resize_vm_disk(Some("cyc01"), &vm, &id, 30)
        .await
        .unwrap();
    let d = wait_disk(&env, "db-data", "InvalidSpec", |d| {
        cond(d, "Synced").is_some_and(|c| c.1 == "InvalidSpec")
    })
    .await;
    let msg = cond(&d, "Synced").unwrap().2;
    assert!(msg.contains("never shrink") && msg.contains("30"), "{msg}");
    patch_disk(&env, "db-data", json!({"spec": {"sizeGb": 30}})).await;
    wait_disk(&env, "db-data", "Ready at 30 GiB", |d| {
        ready(d) && d.status.as_ref().and_then(|s| s.size_gb) == Some(30)
    })
    .await;

    // Shrinking is refused by the CRD rule.
    let shrink = disks(&env.kube)
        .patch(
            "db-data",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"sizeGb": 5}})),
        )
        .await;
    assert!(shrink.is_err(), "shrink accepted");

    // Delete: detached first, then deleted; the VM keeps only its boot disk.
    let before = env.requests().await;
    disks(&env.kube)
        .delete("db-data", &DeleteParams::default())
        .await
        .unwrap();
    wait_disk_gone(&env, "db-data").await;
    let after = env.requests().await;
    let detach = "/v1/{slug}/user-resource/vm/storage/detach";
    assert_eq!(
        count(&after, "POST", detach) - count(&before, "POST", detach),
        1
    );
    assert!(cloud.get_disk(&id).await.unwrap_err().is_not_found());
    assert!(!cloud_attached(&env, &vm, &id).await);
    assert_eq!(env.counts().await["disks"], 1, "only the VM's boot disk");
    env.stop().await;
}

#[tokio::test]
async fn report_and_ignore_changes_report_drift_without_writes() {
    let env = Env::start().await;
    env.platform().await;
    let vm = running_vm(&env, "r-vm").await;
    env.apply(disk(
        "rep",
        json!({"sizeGb": 5, "vmRef": {"name": "r-vm"}, "driftPolicy": "Report"}),
    ))
    .await;
    env.apply(disk(
        "ign",
        json!({"sizeGb": 5, "vmRef": {"name": "r-vm"}, "ignoreChanges": ["displayName", "sizeGb"]}),
    ))
    .await;
    let mut ids = Vec::new();
    for name in ["rep", "ign"] {
        let d = wait_disk(&env, name, "attached and Ready", |d| {
            ready(d) && attached_to(d).is_some()
        })
        .await;
        ids.push(disk_id(&d));
    }
    // Behind the operator's back: both renamed, `rep` detached.
    let cloud = env.cloud();
    for id in &ids {
        let m = ModifyDisk {
            display_name: Some("hand-made".into()),
            ..ModifyDisk::default()
        };
        cloud.modify_disk(id, &m).await.unwrap();
    }
    cloud
        .detach_disk(Some("cyc01"), &vm, &ids[0])
        .await
        .unwrap();
    let writes = env.writes().await;
    let d = wait_disk(&env, "rep", "drift reported", |d| {
        let drift = d.status.as_ref().map(|s| &s.drift.drift);
        let has = |f: &str| drift.is_some_and(|v| v.iter().any(|e| e.field == f));
        has("vmRef") && has("displayName") && attached_to(d).is_none()
    })
    .await;
    let drift = d.status.unwrap().drift.drift;
    let e = drift.iter().find(|e| e.field == "vmRef").unwrap();
    assert_eq!(
        (e.desired.as_str(), e.observed.as_str()),
        (vm.as_str(), "none")
    );
    assert_eq!(e.action, "Reported");
    let e = drift.iter().find(|e| e.field == "displayName").unwrap();
    assert_eq!(
        (e.desired.as_str(), e.observed.as_str()),
        ("rep", "hand-made")
    );
    wait_disk(&env, "ign", "ignored rename reported", |d| {
        d.status.as_ref().is_some_and(|s| {
            s.drift
                .drift
                .iter()
                .any(|e| e.field == "displayName" && e.observed == "hand-made")
        }) && attached_to(d).is_some()
    })
    .await;
    // Two more poll intervals: still nothing written.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(env.writes().await, writes, "{:?}", env.requests().await);
    assert!(!cloud_attached(&env, &vm, &ids[0]).await);
    let c = cloud.get_disk(&ids[1]).await.unwrap();
    assert_eq!(c.display_name.as_deref(), Some("hand-made"));

    // A user change is still written under Report (and only it: the detach stays reported).
    patch_disk(
        &env,
        "rep",
        json!({"spec": {"displayName": "reported disk"}}),
    )
    .await;
    wait_for("user change applied under Report", WAIT, || {
        let (cloud, id) = (cloud.clone(), ids[0].clone());
        async move {
            let c = cloud.get_disk(&id).await.ok()?;
            c.display_name
                .as_deref()
                .is_some_and(|n| n.starts_with("reported disk [nno:"))
                .then_some(())
        }
    })
    .await;
    assert!(
        !cloud_attached(&env, &vm, &ids[0]).await,
        "drift stays reported"
    );
    env.stop().await;
}

#[tokio::test]
async fn adopt_observe_paused_and_orphan() {
    let env = Env::start().await;
    env.platform().await;
    let cloud = env.cloud();
    let legacy = |name: &str| CreateDisk {
        size_gb: Some(6),
        billing_account_id: Some(129673),
        display_name: Some(name.into()),
        source_image_type: Some("EMPTY".into()),
        source_image: None,
    };
    let old = cloud.create_disk(&legacy("legacy")).await.unwrap();
    let seen = cloud.create_disk(&legacy("watched")).await.unwrap();

    // Adoption: no create, the spec converges onto the existing disk.
    let mut m = disk(
        "adopted",
        json!({"sizeGb": 6, "displayName": "legacy, now managed"}),
    );
    m["metadata"]["annotations"] = json!({"nno.app/external-id": old.uuid});
    env.apply(m).await;
    let d = wait_disk(&env, "adopted", "Ready", ready).await;
    assert_eq!(disk_id(&d), old.uuid);
    let c = cloud.get_disk(&old.uuid).await.unwrap();
    let uid = d.uid().unwrap();
    assert_eq!(
        c.display_name,
        Some(format!("legacy, now managed [nno:{uid}]"))
    );
    assert_eq!(
        count(&env.requests().await, "POST", "/v1/storage/disks"),
        2,
        "only the test's own creates"
    );

    // Observe and paused: no writes at all.
    let writes = env.writes().await;
    let mut m = disk(
        "observed",
        json!({"sizeGb": 6, "displayName": "other name", "managementPolicy": "Observe"}),
    );
    m["metadata"]["annotations"] = json!({"nno.app/external-id": seen.uuid});
    env.apply(m).await;
    let mut m = disk("frozen", json!({"sizeGb": 3}));
    m["metadata"]["annotations"] = json!({"nno.app/paused": "true"});
    env.apply(m).await;
    let d = wait_disk(&env, "observed", "Ready with drift", |d| {
        ready(d)
            && d.status
                .as_ref()
                .is_some_and(|s| s.drift.drift.iter().any(|e| e.field == "displayName"))
    })
    .await;
    assert_eq!(d.status.unwrap().size_gb, Some(6));
    wait_disk(&env, "frozen", "Paused", |d| {
        cond(d, "Synced").is_some_and(|c| c.1 == "Paused")
    })
    .await;
    assert_eq!(env.writes().await, writes, "{:?}", env.requests().await);
    disks(&env.kube)
        .delete("observed", &DeleteParams::default())
        .await
        .unwrap();
    wait_disk_gone(&env, "observed").await;
    assert!(
        cloud.get_disk(&seen.uuid).await.is_ok(),
        "Observe never deletes"
    );

    // Orphan: the cloud disk stays.
    env.apply(disk(
        "kept",
        json!({"sizeGb": 4, "deletionPolicy": "Orphan"}),
    ))
    .await;
    let kept = disk_id(&wait_disk(&env, "kept", "Ready", ready).await);
    disks(&env.kube)
        .delete("kept", &DeleteParams::default())
        .await
        .unwrap();
    wait_disk_gone(&env, "kept").await;
    assert!(cloud.get_disk(&kept).await.is_ok(), "orphaned disk deleted");
    env.stop().await;
}

#[tokio::test]
async fn deleting_the_vm_first_does_not_leave_the_disk_stuck() {
    let env = Env::start().await;
    env.platform().await;
    let vm = running_vm(&env, "gone-vm").await;
    env.apply(disk(
        "orphaned-data",
        json!({"sizeGb": 5, "vmRef": {"name": "gone-vm"}}),
    ))
    .await;
    let d = wait_disk(&env, "orphaned-data", "attached", |d| {
        ready(d) && attached_to(d).is_some()
    })
    .await;
    let id = disk_id(&d);
    env.delete_vm("gone-vm").await;
    env.wait_gone("gone-vm").await;
    assert!(
        env.cloud()
            .get_vm(Some("cyc01"), &vm)
            .await
            .unwrap_err()
            .is_not_found()
    );
    wait_disk(&env, "orphaned-data", "ReferenceNotReady", |d| {
        cond(d, "Synced").is_some_and(|c| c.1 == "ReferenceNotReady" && c.2.contains("gone-vm"))
    })
    .await;
    disks(&env.kube)
        .delete("orphaned-data", &DeleteParams::default())
        .await
        .unwrap();
    wait_disk_gone(&env, "orphaned-data").await;
    assert!(env.cloud().get_disk(&id).await.unwrap_err().is_not_found());
    assert_eq!(env.counts().await["disks"], 0);
    env.stop().await;
}

#[tokio::test]
async fn one_disk_observer_per_account_across_locations() {
    let poll = Duration::from_secs(2);
    let env = Env::with(EnvOptions {
        poll_interval: poll,
        ..EnvOptions::default()
    })
    .await;
    env.platform().await;
    // A second Platform of the same account in another location.
    env.apply(json!({
        "apiVersion": "nno.app/v1alpha1", "kind": "Platform",
        "metadata": {"name": "acme-bus"},
        "spec": {"platformId": "acme-bus", "planTier": "growth", "billingEmail": "billing@acme.example",
                 "cloud": {"credentialsSecretRef": {"name": "acme-3nv-credentials", "key": "apiKey"},
                           "location": "bus02", "billingAccountId": 129673}}
    }))
    .await;
    for i in 0..3 {
        env.apply(disk(&format!("cyc-{i}"), json!({"sizeGb": 1})))
            .await;
        let mut m = disk(&format!("bus-{i}"), json!({"sizeGb": 1}));
        m["spec"]["platformRef"]["name"] = json!("acme-bus");
        env.apply(m).await;
    }
    for name in ["cyc-0", "cyc-1", "cyc-2", "bus-0", "bus-1", "bus-2"] {
        wait_disk(&env, name, "Ready", ready).await;
    }
    // Let the last writes settle, then count the lists over a window of poll intervals.
    tokio::time::sleep(poll * 2).await;
    let list = |r: &std::collections::BTreeMap<(String, String), u64>| {
        count(r, "GET", "/v1/storage/disks")
    };
    let before = env.requests().await;
    let window = 6u64;
    tokio::time::sleep(poll * window as u32).await;
    let after = env.requests().await;
    let lists = list(&after) - list(&before);
    assert!(
        (window - 2..=window + 2).contains(&lists),
        "{lists} disk lists in {window} poll intervals (two observers would make about {})",
        window * 2
    );
    env.stop().await;
}
