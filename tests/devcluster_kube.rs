//! The devcluster against the real kube-rs client and runtime: watcher/reflector ordering, a Controller
//! with the finalizer helper, optimistic concurrency, 410 + relist, status isolation, generation
//! rules, owner garbage collection, pagination, and Lease leader election.

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{
    Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams, WatchEvent,
    WatchParams,
};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{CustomResource, CustomResourceExt, Resource, ResourceExt};
use nno_operator::devcluster::{DevCluster, Options};
use nno_operator::leader::{LeaderElector, LeaseConfig};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "test.nno.app",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus"
)]
struct WidgetSpec {
    size: i32,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
struct WidgetStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    observed_size: Option<i32>,
}

const WAIT: Duration = Duration::from_secs(30);

async fn start(history: usize) -> (DevCluster, kube::Client) {
    let dc = DevCluster::start(Options {
        history_limit: history,
        ..Options::default()
    })
    .await
    .expect("devcluster starts");
    let client = dc.client().expect("client");
    (dc, client)
}

/// Polls `f` until it returns Some or the generous deadline passes.
async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn cm(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("v".to_string(), value.to_string())])),
        ..Default::default()
    }
}

async fn install_widget_crd(client: &kube::Client) -> Api<Widget> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &Widget::crd())
        .await
        .expect("crd created");
    let crd = crds
        .get("widgets.test.nno.app")
        .await
        .expect("crd readable");
    let established = crd
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .iter()
        .any(|c| c.type_ == "Established" && c.status == "True");
    assert!(established, "CRD reports Established");
    Api::default_namespaced(client.clone())
}

#[tokio::test]
async fn watcher_and_reflector_see_every_change_in_order() {
    let (dc, client) = start(10_000).await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &cm("pre", "0"))
        .await
        .unwrap();

    let (reader, writer) = reflector::store();
    let stream = reflector(writer, watcher(api.clone(), watcher::Config::default()))
        .applied_objects()
        .map_ok(|o| {
            (
                o.name_any(),
                o.data
                    .unwrap_or_default()
                    .get("v")
                    .cloned()
                    .unwrap_or_default(),
            )
        });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let mut s = std::pin::pin!(stream);
        while let Some(Ok(ev)) = s.next().await {
            if tx.send(ev).is_err() {
                break;
            }
        }
    });
    let first = tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first, ("pre".to_string(), "0".to_string()));

    api.create(&PostParams::default(), &cm("seq", "1"))
        .await
        .unwrap();
    for v in 2..=20 {
        api.patch(
            "seq",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"v": v.to_string()}})),
        )
        .await
        .unwrap();
    }
    let mut seen = Vec::new();
    while seen.len() < 20 {
        let (name, v) = tokio::time::timeout(WAIT, rx.recv())
            .await
            .expect("event in time")
            .unwrap();
        assert_eq!(name, "seq");
        seen.push(v.parse::<i32>().unwrap());
    }
    assert_eq!(seen, (1..=20).collect::<Vec<_>>(), "every change, in order");

    api.delete("pre", &DeleteParams::default()).await.unwrap();
    eventually("reflector drops the deleted object", || {
        let reader = reader.clone();
        async move { (reader.state().len() == 1).then_some(()) }
    })
    .await;
    let only = reader.state();
    assert_eq!(only[0].name_any(), "seq");
    assert_eq!(only[0].data.as_ref().unwrap()["v"], "20");
    task.abort();
    dc.stop().await;
}

#[tokio::test]
async fn stale_writes_get_409_and_list_pages() {
    let (dc, client) = start(10_000).await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let created = api
        .create(&PostParams::default(), &cm("c", "1"))
        .await
        .unwrap();
    let mut a = created.clone();
    a.data = Some(BTreeMap::from([("v".into(), "a".into())]));
    api.replace("c", &PostParams::default(), &a)
        .await
        .expect("first writer wins");
    let mut b = created.clone();
    b.data = Some(BTreeMap::from([("v".into(), "b".into())]));
    match api.replace("c", &PostParams::default(), &b).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 409);
            assert_eq!(s.reason, "Conflict");
            assert!(
                s.message.contains("the object has been modified"),
                "{}",
                s.message
            );
        }
        other => panic!("expected 409, got {other:?}"),
    }
    match api.create(&PostParams::default(), &cm("c", "again")).await {
        Err(kube::Error::Api(s)) => assert_eq!((s.code, s.reason.as_str()), (409, "AlreadyExists")),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }

    for i in 0..25 {
        api.create(&PostParams::default(), &cm(&format!("p{i:02}"), "x"))
            .await
            .unwrap();
    }
    let mut names = Vec::new();
    let mut lp = ListParams::default().limit(10).labels("");
    loop {
        let page = api.list(&lp).await.unwrap();
        assert!(page.items.len() <= 10);
        names.extend(page.items.iter().map(|o| o.name_any()));
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
            _ => break,
        }
    }
    assert_eq!(names.len(), 26);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "pages are in key order without duplicates");
    dc.stop().await;
}

#[tokio::test]
async fn expired_resource_version_gets_410_and_the_watcher_relists() {
    let (dc, client) = start(10).await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let first = api
        .create(&PostParams::default(), &cm("watched", "0"))
        .await
        .unwrap();
    let old_rv = first.resource_version().unwrap();

    // A watcher without bookmarks whose watch times out every second: its resourceVersion stays at
    // the last change of the object it selects, which the changes below push out of the history.
    let wc = watcher::Config::default()
        .fields("metadata.name=watched")
        .disable_bookmarks()
        .timeout(1);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let w = watcher(api.clone(), wc);
    let task = tokio::spawn(async move {
        let mut s = std::pin::pin!(w);
        while let Some(ev) = s.next().await {
            let item = match ev {
                Ok(watcher::Event::Init) => "init".to_string(),
                Ok(watcher::Event::InitDone) => "init-done".to_string(),
                Ok(watcher::Event::InitApply(o)) | Ok(watcher::Event::Apply(o)) => {
                    format!("apply:{}", o.data.unwrap_or_default()["v"])
                }
                Ok(watcher::Event::Delete(_)) => "delete".to_string(),
                Err(watcher::Error::WatchError(s)) => format!("error:{}", s.code),
                Err(e) => format!("other-error:{e}"),
            };
            if tx.send(item).is_err() {
                break;
            }
        }
    });
    let mut log = Vec::new();
    while !log.contains(&"init-done".to_string()) {
        log.push(
            tokio::time::timeout(WAIT, rx.recv())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    for i in 0..30 {
        api.create(&PostParams::default(), &cm(&format!("noise{i}"), "n"))
            .await
            .unwrap();
    }

    // A direct watch from the old version is refused with an ERROR event carrying 410.
    let mut direct = api
        .watch(&WatchParams::default(), &old_rv)
        .await
        .unwrap()
        .boxed();
    match tokio::time::timeout(WAIT, direct.try_next())
        .await
        .unwrap()
        .unwrap()
    {
        Some(WatchEvent::Error(s)) => {
            assert_eq!(s.code, 410);
            assert_eq!(s.reason, "Expired");
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }

    loop {
        let item = tokio::time::timeout(WAIT, rx.recv())
            .await
            .expect("watcher keeps going")
            .unwrap();
        if item == "error:410" {
            break;
        }
        log.push(item);
    }
    // After the 410 the watcher starts over with a fresh list.
    let mut after = Vec::new();
    while !after.contains(&"init-done".to_string()) {
        after.push(
            tokio::time::timeout(WAIT, rx.recv())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    assert_eq!(after, vec!["init", "apply:0", "init-done"]);
    api.patch(
        "watched",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "1"}})),
    )
    .await
    .unwrap();
    let next = tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next, "apply:1");
    task.abort();
    dc.stop().await;
}

#[tokio::test]
async fn status_isolation_and_generation_rules() {
    let (dc, client) = start(10_000).await;
    let api = install_widget_crd(&client).await;
    let mut w = Widget::new("w", WidgetSpec { size: 1 });
    w.status = Some(WidgetStatus {
        observed_size: Some(99),
    });
    let created = api.create(&PostParams::default(), &w).await.unwrap();
    assert_eq!(created.status, None, "status is dropped on create");
    assert_eq!(created.metadata.generation, Some(1));
    assert!(created.uid().is_some() && created.metadata.creation_timestamp.is_some());

    // Main endpoint ignores status.
    let mut upd = created.clone();
    upd.status = Some(WidgetStatus {
        observed_size: Some(5),
    });
    let after = api
        .replace("w", &PostParams::default(), &upd)
        .await
        .unwrap();
    assert_eq!(after.status, None);
    assert_eq!(
        after.metadata.generation,
        Some(1),
        "no spec change, no new generation"
    );

    // /status ignores everything but status.
    let st = api
        .patch_status(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 7}, "status": {"observed_size": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(st.spec.size, 1);
    assert_eq!(st.status.as_ref().unwrap().observed_size, Some(1));
    assert_eq!(
        st.metadata.generation,
        Some(1),
        "status change, no new generation"
    );

    let labelled = api
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .unwrap();
    assert_eq!(
        labelled.metadata.generation,
        Some(1),
        "metadata change, no new generation"
    );
    let spec = api
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 2}})),
        )
        .await
        .unwrap();
    assert_eq!(
        spec.metadata.generation,
        Some(2),
        "spec change bumps generation"
    );
    assert_eq!(
        spec.status.as_ref().unwrap().observed_size,
        Some(1),
        "status kept"
    );
    let rv_before = spec.resource_version();
    let noop = api
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 2}})),
        )
        .await
        .unwrap();
    assert_eq!(
        noop.resource_version(),
        rv_before,
        "a no-op write does not bump resourceVersion"
    );

    // Server-side apply owns fields per manager.
    let applied = api
        .patch(
            "w",
            &PatchParams::apply("tester").force(),
            &Patch::Apply(
                json!({"apiVersion": "test.nno.app/v1", "kind": "Widget", "spec": {"size": 3}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(applied.spec.size, 3);
    assert!(
        applied
            .metadata
            .managed_fields
            .unwrap()
            .iter()
            .any(|m| m.manager.as_deref() == Some("tester"))
    );
    dc.stop().await;
}

#[tokio::test]
async fn controller_with_finalizer_runs_create_update_delete() {
    let (dc, client) = start(10_000).await;
    let api = install_widget_crd(&client).await;
    let cleanups = Arc::new(AtomicUsize::new(0));

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct E(String);

    let ctl_api = api.clone();
    let ctl_cleanups = cleanups.clone();
    let controller = Controller::new(api.clone(), watcher::Config::default())
        .run(
            move |w: Arc<Widget>, _ctx: Arc<()>| {
                let api = ctl_api.clone();
                let cleanups = ctl_cleanups.clone();
                async move {
                    finalizer(&api, "test.nno.app/cleanup", w, |ev| async {
                        match ev {
                            FinalizerEvent::Apply(w) => {
                                let st = json!({"status": {"observed_size": w.spec.size}});
                                api.patch_status(
                                    &w.name_any(),
                                    &PatchParams::default(),
                                    &Patch::Merge(st),
                                )
                                .await
                                .map_err(|e| E(e.to_string()))?;
                                Ok::<_, E>(Action::await_change())
                            }
                            FinalizerEvent::Cleanup(_) => {
                                cleanups.fetch_add(1, Ordering::SeqCst);
                                Ok(Action::await_change())
                            }
                        }
                    })
                    .await
                    .map_err(|e| E(e.to_string()))
                }
            },
            |_w, _e: &E, _ctx| Action::requeue(Duration::from_millis(200)),
            Arc::new(()),
        )
        .for_each(|_| async {});
    let task = tokio::spawn(controller);

    api.create(
        &PostParams::default(),
        &Widget::new("cycle", WidgetSpec { size: 1 }),
    )
    .await
    .unwrap();
    let observed = |want: i32| {
        let api = api.clone();
        move || {
            let api = api.clone();
            async move {
                let w = api.get("cycle").await.ok()?;
                (w.status.as_ref()?.observed_size == Some(want)).then_some(w)
            }
        }
    };
    let w = eventually("status after create", observed(1)).await;
    assert_eq!(w.finalizers(), ["test.nno.app/cleanup"]);

    api.patch(
        "cycle",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"size": 2}})),
    )
    .await
    .unwrap();
    eventually("status after update", observed(2)).await;

    api.delete("cycle", &DeleteParams::default()).await.unwrap();
    eventually("object removed after cleanup", || {
        let api = api.clone();
        async move { api.get_opt("cycle").await.ok()?.is_none().then_some(()) }
    })
    .await;
    assert_eq!(cleanups.load(Ordering::SeqCst), 1);
    task.abort();
    dc.stop().await;
}

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
    let (dc, client) = start(10_000).await;
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
    eventually("background dependent collected", gone("bg-child")).await;

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
    eventually("dependent marked for deletion", || {
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
    eventually("foreground dependent gone", gone("fg-child")).await;
    eventually("foreground owner gone", gone("fg-owner")).await;

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
    eventually("orphaning owner gone", gone("or-owner")).await;
    let c = api.get("or-child").await.unwrap();
    assert!(c.metadata.owner_references.unwrap_or_default().is_empty());
    dc.stop().await;
}

#[tokio::test]
async fn lease_leader_election_hands_over() {
    let (dc, client) = start(10_000).await;
    let cfg = |id: &str| LeaseConfig {
        namespace: "default".into(),
        name: "nno-operator-leader".into(),
        identity: id.into(),
        lease_duration: Duration::from_secs(2),
        retry_period: Duration::from_millis(200),
    };
    let a = LeaderElector::new(client.clone(), cfg("a"));
    let b = LeaderElector::new(client.clone(), cfg("b"));
    assert!(
        a.try_acquire_or_renew().await.unwrap(),
        "a takes the free lease"
    );
    assert!(
        !b.try_acquire_or_renew().await.unwrap(),
        "b cannot while a holds it"
    );
    assert!(a.try_acquire_or_renew().await.unwrap(), "a renews");

    let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (mut b_leads, b_task) = b.clone().spawn(stop_rx);
    // a stops renewing (crashed): b takes over once the lease expires.
    tokio::time::timeout(WAIT, b_leads.wait_for(|l| *l))
        .await
        .expect("b becomes leader")
        .unwrap();
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::default_namespaced(client.clone());
    let spec = leases
        .get("nno-operator-leader")
        .await
        .unwrap()
        .spec
        .unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("b"));
    assert_eq!(spec.lease_transitions, Some(1));
    assert!(!a.try_acquire_or_renew().await.unwrap(), "a lost it");

    // b stops cleanly and releases: a gets it at once.
    _stop_tx.send(true).unwrap();
    b_task.await.unwrap();
    assert!(
        a.try_acquire_or_renew().await.unwrap(),
        "released lease is free"
    );
    dc.stop().await;
}

#[tokio::test]
async fn recorder_events_show_in_both_event_apis() {
    use k8s_openapi::api::core::v1::Event as CoreEvent;
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    let (dc, client) = start(10_000).await;
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
    dc.stop().await;
}

#[tokio::test]
async fn streaming_list_watcher_gets_initial_events_then_changes() {
    let (dc, client) = start(10_000).await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    for i in 0..3 {
        api.create(&PostParams::default(), &cm(&format!("s{i}"), "0"))
            .await
            .unwrap();
    }
    let w = watcher(api.clone(), watcher::Config::default().streaming_lists());
    let mut s = std::pin::pin!(w);
    let mut initial = Vec::new();
    loop {
        match tokio::time::timeout(WAIT, s.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            watcher::Event::Init => {}
            watcher::Event::InitApply(o) => initial.push(o.name_any()),
            watcher::Event::InitDone => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    initial.sort();
    assert_eq!(initial, ["s0", "s1", "s2"]);
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
    dc.stop().await;
}

#[tokio::test]
async fn metadata_only_reads_and_watches() {
    let (dc, client) = start(10_000).await;
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
    dc.stop().await;
}
