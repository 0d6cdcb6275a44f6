//! What `dev` shows: every nno.app object's Ready and Synced conditions, kept current by one
//! watch per kind, and the questions asked of it (is everything Ready? what is not, and why?).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::{FutureExt, StreamExt};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde_json::Value;
use tokio::sync::watch;

use crate::api::{Bucket, Disk, Firewall, LoadBalancer, Platform, ServicePackage, VirtualMachine};

/// One object's line.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// `True`, `False`, `Unknown`, or empty before the operator wrote a status.
    pub ready: String,
    pub synced: String,
    /// Why it is not Ready (or not Synced), else the Ready reason.
    pub reason: String,
    pub message: String,
    pub created: Option<Timestamp>,
}

impl Row {
    pub fn is_ready(&self) -> bool {
        self.ready == "True"
    }

    /// `Kind/namespace/name`.
    pub fn id(&self) -> String {
        format!("{}/{}/{}", self.kind, self.namespace, self.name)
    }

    fn from_object(kind: &str, obj: &DynamicObject) -> Self {
        let conditions = obj.data["status"]["conditions"].as_array();
        let find = |t: &str| -> Option<&Value> {
            conditions.and_then(|cs| cs.iter().find(|c| c["type"] == t))
        };
        let field = |c: Option<&Value>, f: &str| -> String {
            c.and_then(|c| c[f].as_str()).unwrap_or_default().to_owned()
        };
        let (ready, synced) = (find("Ready"), find("Synced"));
        let explain = if field(ready, "status") != "True" || field(synced, "status") == "True" {
            ready
        } else {
            synced
        };
        let reason = field(explain, "reason");
        let message = match field(explain, "message") {
            m if m.is_empty() && ready.is_none() => "no status from the operator yet".to_owned(),
            m => m,
        };
        Self {
            kind: kind.to_owned(),
            namespace: obj.namespace().unwrap_or_default(),
            name: obj.name_any(),
            ready: field(ready, "status"),
            synced: field(synced, "status"),
            reason,
            message,
            created: obj.metadata.creation_timestamp.as_ref().map(|t| t.0),
        }
    }
}

type Key = (String, String, String);

/// The objects of every nno.app kind, as their watches last reported them.
pub struct Board {
    rows: Mutex<BTreeMap<Key, Row>>,
    /// Kinds whose first listing is in.
    listed: AtomicUsize,
    /// Bumped at every change; views wait on it without missing one.
    version: watch::Sender<u64>,
}

impl Default for Board {
    fn default() -> Self {
        Self {
            rows: Mutex::default(),
            listed: AtomicUsize::new(0),
            version: watch::Sender::new(0),
        }
    }
}

/// The kinds shown, in display order.
fn kinds() -> Vec<ApiResource> {
    vec![
        ApiResource::erase::<Platform>(&()),
        ApiResource::erase::<VirtualMachine>(&()),
        ApiResource::erase::<Disk>(&()),
        ApiResource::erase::<Bucket>(&()),
        ApiResource::erase::<Firewall>(&()),
        ApiResource::erase::<LoadBalancer>(&()),
        ApiResource::erase::<ServicePackage>(&()),
    ]
}

impl Board {
    /// Watches every kind (in every namespace) until the returned future is dropped.
    pub fn watch(self: &Arc<Self>, client: &Client) -> impl std::future::Future<Output = ()> {
        let watches = kinds().into_iter().map(|ar| {
            let board = self.clone();
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
            let kind = ar.kind.clone();
            async move {
                let mut listed = false;
                let mut events = watcher::watcher(api, watcher::Config::default())
                    .default_backoff()
                    .boxed();
                while let Some(event) = events.next().await {
                    match event {
                        Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                            board.put(Row::from_object(&kind, &o));
                        }
                        Ok(watcher::Event::Delete(o)) => {
                            board.remove(&Row::from_object(&kind, &o));
                        }
                        Ok(watcher::Event::InitDone) => {
                            if !std::mem::replace(&mut listed, true) {
                                board.listed.fetch_add(1, Ordering::SeqCst);
                                board.bump();
                            }
                        }
                        Ok(watcher::Event::Init) => {}
                        Err(e) => {
                            tracing::debug!(%kind, error = %e, "dev view: watch failed; retrying")
                        }
                    }
                }
            }
        });
        futures::future::join_all(watches).map(|_| ())
    }

    fn key(r: &Row) -> Key {
        (r.kind.clone(), r.namespace.clone(), r.name.clone())
    }

    fn put(&self, row: Row) {
        let mut rows = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        if rows.get(&Self::key(&row)) != Some(&row) {
            rows.insert(Self::key(&row), row);
            self.bump();
        }
    }

    fn remove(&self, row: &Row) {
        let mut rows = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        if rows.remove(&Self::key(row)).is_some() {
            self.bump();
        }
    }

    /// Every object, kinds in display order, then namespace and name.
    pub fn rows(&self) -> Vec<Row> {
        let order: Vec<String> = kinds().into_iter().map(|a| a.kind).collect();
        let mut rows: Vec<Row> = self
            .rows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        rows.sort_by_key(|r| {
            (
                order.iter().position(|k| *k == r.kind),
                r.namespace.clone(),
                r.name.clone(),
            )
        });
        rows
    }

    /// Whether every kind has been listed once (before that, "nothing there" means "not seen yet").
    pub fn listed(&self) -> bool {
        self.listed.load(Ordering::SeqCst) == kinds().len()
    }

    /// Everything listed and every object Ready.
    pub fn all_ready(&self) -> bool {
        self.listed() && self.rows().iter().all(Row::is_ready)
    }

    fn bump(&self) {
        self.version.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// A receiver that sees every change after the last `borrow_and_update`.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(conditions: Value) -> DynamicObject {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "nno.app/v1alpha1", "kind": "Disk",
            "metadata": {"name": "d", "namespace": "team-a"},
            "status": {"conditions": conditions}
        }))
        .unwrap()
    }

    #[test]
    fn the_reason_shown_is_why_it_is_not_ready_else_why_not_synced() {
        let r = Row::from_object(
            "Disk",
            &obj(serde_json::json!([
                {"type": "Ready", "status": "False", "reason": "Creating", "message": "3nv.io reports state \"creating\""},
                {"type": "Synced", "status": "True", "reason": "ReconcileSuccess"}
            ])),
        );
        assert_eq!((r.ready.as_str(), r.reason.as_str()), ("False", "Creating"));
        assert_eq!(r.id(), "Disk/team-a/d");
        let r = Row::from_object(
            "Disk",
            &obj(serde_json::json!([
                {"type": "Ready", "status": "True", "reason": "Available"},
                {"type": "Synced", "status": "False", "reason": "ReconcileError", "message": "503"}
            ])),
        );
        assert!(r.is_ready());
        assert_eq!(
            (r.reason.as_str(), r.message.as_str()),
            ("ReconcileError", "503")
        );
        let r = Row::from_object("Disk", &obj(Value::Null));
        assert_eq!((r.ready.as_str(), r.reason.as_str()), ("", ""));
        assert_eq!(r.message, "no status from the operator yet");
    }

    #[test]
    fn nothing_is_ready_before_every_kind_was_listed() {
        let b = Board::default();
        assert!(!b.all_ready());
        b.listed.store(kinds().len(), Ordering::SeqCst);
        assert!(b.all_ready(), "nothing there, all listed");
        b.put(Row::from_object("Disk", &obj(Value::Null)));
        assert!(!b.all_ready());
    }
}
