//! The devcluster against the real kube-rs client and runtime: watcher/reflector ordering, a Controller
//! with the finalizer helper, optimistic concurrency, 410 + relist, status isolation and generation
//! rules. Runs on either backend (see nno-testkit): the devcluster, or the real API server.

mod kube_kit;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube_kit::*;
use nno_devcluster::Options;
use nno_support::testing::{eventually, within};
use nno_testkit::TestCluster;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[tokio::test]
async fn watcher_and_reflector_see_every_change_in_order() {
    let (dc, client) = start().await;
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
    within(WAIT, "20 changes", async {
        while seen.len() < 20 {
            let (name, v) = rx.recv().await.unwrap();
            assert_eq!(name, "seq");
            seen.push(v.parse::<i32>().unwrap());
        }
    })
    .await;
    assert_eq!(seen, (1..=20).collect::<Vec<_>>(), "every change, in order");

    api.delete("pre", &DeleteParams::default()).await.unwrap();
    eventually(WAIT, "reflector drops the deleted object", || {
        let reader = reader.clone();
        async move { (reader.state().len() == 1).then_some(()) }
    })
    .await;
    let only = reader.state();
    assert_eq!(only[0].name_any(), "seq");
    assert_eq!(only[0].data.as_ref().unwrap()["v"], "20");
    task.abort();
    drop(dc);
}

#[tokio::test]
async fn stale_writes_get_409_and_list_pages() {
    let (dc, client) = start().await;
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
    within(WAIT, "the last page", async {
        loop {
            let page = api.list(&lp).await.unwrap();
            assert!(page.items.len() <= 10);
            names.extend(page.items.iter().map(|o| o.name_any()));
            match page.metadata.continue_ {
                Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
                _ => break,
            }
        }
    })
    .await;
    assert_eq!(names.len(), 26);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "pages are in key order without duplicates");
    drop(dc);
}

#[tokio::test]
async fn expired_resource_version_gets_410_and_the_watcher_relists() {
    // Devcluster only: it needs a watch history of 10 changes. A real API server keeps history
    // in etcd until a compaction (every 5 minutes) and in a dynamically sized watch cache, so
    // provoking its 410 would mean waiting for a compaction.
    let dc = TestCluster::start_dev(Options {
        history_limit: 10,
        ..Options::default()
    })
    .await;
    let client = dc.client().await;
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
    within(WAIT, "the first init-done", async {
        while !log.contains(&"init-done".to_string()) {
            log.push(rx.recv().await.unwrap());
        }
    })
    .await;
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

    within(WAIT, "the watcher to see the 410", async {
        loop {
            let item = rx.recv().await.expect("watcher keeps going");
            if item == "error:410" {
                break;
            }
            log.push(item);
        }
    })
    .await;
    // After the 410 the watcher starts over with a fresh list.
    let mut after = Vec::new();
    within(WAIT, "init-done after the relist", async {
        while !after.contains(&"init-done".to_string()) {
            after.push(rx.recv().await.unwrap());
        }
    })
    .await;
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
    drop(dc);
}

#[tokio::test]
async fn status_isolation_and_generation_rules() {
    let (dc, client) = start().await;
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
    drop(dc);
}

#[tokio::test]
async fn controller_with_finalizer_runs_create_update_delete() {
    let (dc, client) = start().await;
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
    let w = eventually(WAIT, "status after create", observed(1)).await;
    assert_eq!(w.finalizers(), ["test.nno.app/cleanup"]);

    api.patch(
        "cycle",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"size": 2}})),
    )
    .await
    .unwrap();
    eventually(WAIT, "status after update", observed(2)).await;

    api.delete("cycle", &DeleteParams::default()).await.unwrap();
    eventually(WAIT, "object removed after cleanup", || {
        let api = api.clone();
        async move { api.get_opt("cycle").await.ok()?.is_none().then_some(()) }
    })
    .await;
    assert_eq!(cleanups.load(Ordering::SeqCst), 1);
    task.abort();
    drop(dc);
}
