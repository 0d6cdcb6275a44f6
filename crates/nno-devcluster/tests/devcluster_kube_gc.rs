//! The devcluster against the real kube-rs client and runtime, continued: owner garbage collection,
//! the event recorder in both event APIs, streaming lists and metadata-only reads and watches. Runs on
//! either backend (see nno-testkit): the devcluster, or the real API server.

mod kube_kit;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use kube_kit::*;
use nno_support::testing::{eventually, within};
use serde_json::json;

fn owned_by(name: &str, owner: &ConfigMap) -> ConfigMap {
    let mut c = cm(name, "child");
    c.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: owner.name_any(),
        uid: owner.uid().unwrap(),
        block_owner_deletion: Some(true),
        ..Default::default()
    }]);
    c
}

#[tokio::test]
async fn owner_references_are_garbage_collected() {
    let (dc, client) = start().await;
    assert!(
        dc.has_controllers(),
        "garbage collection on the real backend needs kube-controller-manager \
         (NNO_TEST_KUBE_CONTROLLER_MANAGER, built by tests/k8s/build)"
    );
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let gone = |name: &'static str| {
        let api = api.clone();
        move || {
            let api = api.clone();
            async move { api.get_opt(name).await.ok()?.is_none().then_some(()) }
        }
    };

    // Background: the owner goes at once, the dependent after it.
    let owner = api
        .create(&PostParams::default(), &cm("bg-owner", "o"))
        .await
        .unwrap();
    api.create(&PostParams::default(), &owned_by("bg-child", &owner))
        .await
        .unwrap();
    api.delete("bg-owner", &DeleteParams::background())
        .await
        .unwrap();
    assert!(api.get_opt("bg-owner").await.unwrap().is_none());
    eventually(WAIT, "background dependent collected", gone("bg-child")).await;

    // Foreground: the owner waits (deletionTimestamp + foregroundDeletion) until its dependents are gone.
    let owner = api
        .create(&PostParams::default(), &cm("fg-owner", "o"))
        .await
        .unwrap();
    let mut child = owned_by("fg-child", &owner);
    child.metadata.finalizers = Some(vec!["test/hold".into()]);
    api.create(&PostParams::default(), &child).await.unwrap();
    api.delete("fg-owner", &DeleteParams::foreground())
        .await
        .unwrap();
    let o = api.get("fg-owner").await.unwrap();
    assert!(o.metadata.deletion_timestamp.is_some());
    assert!(o.finalizers().contains(&"foregroundDeletion".to_string()));
    eventually(WAIT, "dependent marked for deletion", || {
        let api = api.clone();
        async move {
            api.get("fg-child")
                .await
                .ok()?
                .metadata
                .deletion_timestamp
                .map(|_| ())
        }
    })
    .await;
    assert!(
        api.get_opt("fg-owner").await.unwrap().is_some(),
        "owner waits for its dependent"
    );
    api.patch(
        "fg-child",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    eventually(WAIT, "foreground dependent gone", gone("fg-child")).await;
    eventually(WAIT, "foreground owner gone", gone("fg-owner")).await;

    // Orphan: the dependent stays and loses its owner reference.
    let owner = api
        .create(&PostParams::default(), &cm("or-owner", "o"))
        .await
        .unwrap();
    api.create(&PostParams::default(), &owned_by("or-child", &owner))
        .await
        .unwrap();
    api.delete("or-owner", &DeleteParams::orphan())
        .await
        .unwrap();
    eventually(WAIT, "orphaning owner gone", gone("or-owner")).await;
    let c = api.get("or-child").await.unwrap();
    assert!(c.metadata.owner_references.unwrap_or_default().is_empty());
    drop(dc);
}

#[tokio::test]
async fn recorder_events_show_in_both_event_apis() {
    use k8s_openapi::api::core::v1::Event as CoreEvent;
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    let (dc, client) = start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let obj = api
        .create(&PostParams::default(), &cm("subject", "1"))
        .await
        .unwrap();
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "nno-test".into(),
            instance: None,
        },
    );
    let ev = Event {
        type_: EventType::Normal,
        reason: "Synced".into(),
        note: Some("all good".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    recorder
        .publish(&ev, &obj.object_ref(&()))
        .await
        .expect("published");
    recorder
        .publish(&ev, &obj.object_ref(&()))
        .await
        .expect("published again (series)");

    let core: Api<CoreEvent> = Api::default_namespaced(client.clone());
    let list = core
        .list(&ListParams::default().fields("involvedObject.name=subject"))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1, "the repeat updates the same event");
    let e = &list.items[0];
    assert_eq!(e.message.as_deref(), Some("all good"));
    assert_eq!(e.reason.as_deref(), Some("Synced"));
    assert_eq!(e.involved_object.uid, obj.uid());
    assert_eq!(e.reporting_component.as_deref(), Some("nno-test"));
    let v1: Api<k8s_openapi::api::events::v1::Event> = Api::default_namespaced(client);
    let got = v1.get(&e.name_any()).await.unwrap();
    assert_eq!(got.note.as_deref(), Some("all good"));
    assert_eq!(got.series.map(|s| s.count), Some(2));
    drop(dc);
}

#[tokio::test]
async fn streaming_list_watcher_gets_initial_events_then_changes() {
    let (dc, client) = start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    for i in 0..3 {
        api.create(&PostParams::default(), &cm(&format!("s{i}"), "0"))
            .await
            .unwrap();
    }
    let w = watcher(api.clone(), watcher::Config::default().streaming_lists());
    let mut s = std::pin::pin!(w);
    let mut initial = Vec::new();
    within(WAIT, "the initial events", async {
        loop {
            match s.next().await.unwrap().unwrap() {
                watcher::Event::Init => {}
                watcher::Event::InitApply(o) => initial.push(o.name_any()),
                watcher::Event::InitDone => break,
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await;
    // The real kube-apiserver serves the initial events from its watch cache, which may not hold
    // the newest create yet (CI saw s0 and s1 only); what it lacks then comes as an ordinary
    // change right after. Every object arrives exactly once either way.
    let mut seen = initial.clone();
    within(WAIT, "every object, initially or right after", async {
        while seen.len() < 3 {
            match s.next().await.unwrap().unwrap() {
                watcher::Event::Apply(o) => seen.push(o.name_any()),
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await;
    seen.sort();
    assert_eq!(seen, ["s0", "s1", "s2"], "initial events: {initial:?}");
    assert!(
        !initial.is_empty(),
        "a streaming list starts with the existing objects"
    );
    if !dc.is_real() {
        // The devcluster's initial events are a consistent read: every object is in them.
        initial.sort();
        assert_eq!(initial, ["s0", "s1", "s2"]);
    }
    api.delete("s1", &DeleteParams::default()).await.unwrap();
    match tokio::time::timeout(WAIT, s.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
    {
        watcher::Event::Delete(o) => assert_eq!(o.name_any(), "s1"),
        other => panic!("expected delete, got {other:?}"),
    }
    drop(dc);
}

#[tokio::test]
async fn metadata_only_reads_and_watches() {
    let (dc, client) = start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &cm("m1", "1"))
        .await
        .unwrap();
    let meta = api.get_metadata("m1").await.unwrap();
    assert_eq!(meta.metadata.name.as_deref(), Some("m1"));
    assert_eq!(
        meta.types.as_ref().map(|t| t.kind.as_str()),
        Some("PartialObjectMetadata")
    );
    let list = api.list_metadata(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);

    let meta_api: Api<kube::core::PartialObjectMeta<ConfigMap>> =
        Api::default_namespaced(api.clone().into_client());
    let w = watcher(meta_api, watcher::Config::default()).applied_objects();
    let mut s = std::pin::pin!(w);
    let first = tokio::time::timeout(WAIT, s.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.name_any(), "m1");
    api.create(&PostParams::default(), &cm("m2", "1"))
        .await
        .unwrap();
    let second = tokio::time::timeout(WAIT, s.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(second.name_any(), "m2");
    drop(dc);
}
