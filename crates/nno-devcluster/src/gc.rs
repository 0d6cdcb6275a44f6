//! Garbage collector: deletes dependents whose owners are gone (background) or being deleted in the
//! foreground, strips owner references for orphaning, releases `foregroundDeletion`/`orphan`
//! finalizers once their work is done, and empties then removes terminating namespaces.

use crate::handlers::{App, DeleteOpts, Propagation, delete_object};
use crate::objects::{finalizers, is_deleting, set_finalizers};
use crate::store::{obj_key, rv_of};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Runs until the app is dropped by everyone else.
pub async fn run(app: std::sync::Weak<App>) {
    loop {
        let Some(strong) = app.upgrade() else { return };
        let wake = async {
            tokio::select! {
                _ = strong.store.gc_wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
        };
        wake.await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Repeat while a pass changes something: one deletion can unblock the next.
        for _ in 0..16 {
            if !sweep(&strong) {
                break;
            }
        }
        drop(strong);
    }
}

fn uid(o: &Value) -> &str {
    o["metadata"]["uid"].as_str().unwrap_or_default()
}

fn owner_uids(o: &Value) -> Vec<String> {
    o["metadata"]["ownerReferences"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["uid"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn remove_finalizer(app: &App, key: &str, o: &Value, f: &str) -> bool {
    let mut next = o.clone();
    set_finalizers(
        &mut next,
        finalizers(o).into_iter().filter(|x| x != f).collect(),
    );
    let (ns, name) = obj_key(o);
    let done = if finalizers(&next).is_empty() && o["kind"] != "Namespace" {
        app.store
            .delete(key, &ns, &name, Some(rv_of(o)))
            .map(|gone| {
                if let Some(res) = app.registry.by_storage_key(key) {
                    crate::handlers::after_removal_pub(app, &res, &gone);
                }
            })
    } else {
        app.store.update(key, next, rv_of(o)).map(|_| ())
    };
    done.is_ok()
}

/// One pass; returns true when it changed something.
pub fn sweep(app: &App) -> bool {
    let all = app.store.snapshot();
    let by_uid: HashMap<&str, &Arc<Value>> = all.iter().map(|(_, o)| (uid(o), o)).collect();
    let mut referenced: HashSet<String> = HashSet::new();
    let mut changed = false;
    let bg = DeleteOpts {
        propagation: Propagation::Background,
        ..Default::default()
    };
    for (key, o) in &all {
        let owners = owner_uids(o);
        if owners.is_empty() {
            continue;
        }
        referenced.extend(owners.iter().cloned());
        let live: Vec<&&Arc<Value>> = owners
            .iter()
            .filter_map(|u| by_uid.get(u.as_str()))
            .collect();
        let orphaning: Vec<&str> = live
            .iter()
            .filter(|w| is_deleting(w) && finalizers(w).iter().any(|f| f == "orphan"))
            .map(|w| uid(w))
            .collect();
        if !orphaning.is_empty() {
            let mut next = o.as_ref().clone();
            if let Some(refs) = next["metadata"]["ownerReferences"].as_array_mut() {
                refs.retain(|r| !orphaning.contains(&r["uid"].as_str().unwrap_or_default()));
            }
            changed |= app.store.update(key, next, rv_of(o)).is_ok();
            continue;
        }
        let all_gone = live.is_empty();
        let foreground = live
            .iter()
            .any(|w| is_deleting(w) && finalizers(w).iter().any(|f| f == "foregroundDeletion"));
        if (all_gone || foreground)
            && !is_deleting(o)
            && let Some(res) = app.registry.by_storage_key(key)
        {
            let (ns, name) = obj_key(o);
            changed |= delete_object(app, &res, &ns, &name, &bg).is_ok();
        }
    }
    for (key, o) in &all {
        if !is_deleting(o) {
            continue;
        }
        let fins = finalizers(o);
        if fins.iter().any(|f| f == "foregroundDeletion") && !referenced.contains(uid(o)) {
            changed |= remove_finalizer(app, key, o, "foregroundDeletion");
        } else if fins.iter().any(|f| f == "orphan") && !referenced.contains(uid(o)) {
            changed |= remove_finalizer(app, key, o, "orphan");
        }
    }
    for (key, o) in &all {
        if key != "/namespaces" || !is_deleting(o) {
            continue;
        }
        let ns = o["metadata"]["name"].as_str().unwrap_or_default();
        let mut remaining = 0;
        for (k, child) in &all {
            if child["metadata"]["namespace"].as_str() != Some(ns) {
                continue;
            }
            remaining += 1;
            if !is_deleting(child)
                && let Some(res) = app.registry.by_storage_key(k)
            {
                let (cns, name) = obj_key(child);
                changed |= delete_object(app, &res, &cns, &name, &bg).is_ok();
            }
        }
        if remaining == 0 && finalizers(o).is_empty() {
            changed |= app.store.delete(key, "", ns, Some(rv_of(o))).is_ok();
        }
    }
    changed
}
