//! Object store: objects by resource/namespace/name, the global resourceVersion counter, the bounded
//! event history that watches replay from, and the broadcast channel that feeds live watches.

use crate::persist::{Persist, PersistError, Record};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{Notify, broadcast};

/// Kind of change carried by a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change in the history.
#[derive(Debug)]
pub struct StoreEvent {
    pub rv: u64,
    pub key: String,
    pub kind: EventType,
    pub object: Arc<Value>,
    /// The previous state for MODIFIED (watchers with selectors turn it into ADDED/DELETED).
    pub prev: Option<Arc<Value>>,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("object already exists")]
    AlreadyExists,
    #[error("object not found")]
    NotFound,
    #[error("resourceVersion mismatch")]
    Conflict,
    #[error("resourceVersion {0} is too old")]
    Gone(u64),
    #[error("persisting the write failed: {0}")]
    Persist(#[from] PersistError),
}

type ObjKey = (String, String);

/// Receiver of live store events.
pub type EventReceiver = broadcast::Receiver<Arc<StoreEvent>>;

struct Inner {
    rv: u64,
    objects: HashMap<String, BTreeMap<ObjKey, Arc<Value>>>,
    history: VecDeque<Arc<StoreEvent>>,
    history_limit: usize,
    /// Events at or below this resourceVersion are no longer in `history`.
    compacted_rv: u64,
    persist: Option<Persist>,
}

/// The shared object store.
pub struct Store {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<Arc<StoreEvent>>,
    /// Woken when something the garbage collector cares about changed.
    pub gc_wake: Notify,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// `(namespace, name)` of an object.
pub fn obj_key(obj: &Value) -> ObjKey {
    let m = &obj["metadata"];
    (
        m["namespace"].as_str().unwrap_or_default().to_string(),
        m["name"].as_str().unwrap_or_default().to_string(),
    )
}

/// The object's resourceVersion as a number (0 when absent or malformed).
pub fn rv_of(obj: &Value) -> u64 {
    obj["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn needs_gc(obj: &Value) -> bool {
    let m = &obj["metadata"];
    m.get("deletionTimestamp").is_some_and(|v| !v.is_null())
        || m["ownerReferences"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
}

impl Store {
    /// An in-memory store, or one backed by `state_file` (loaded now, then appended on every write).
    pub fn open(state_file: Option<&Path>, history_limit: usize) -> Result<Self, StoreError> {
        let (tx, _) = broadcast::channel(4096);
        let mut inner = Inner {
            rv: 1,
            objects: HashMap::new(),
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            compacted_rv: 1,
            persist: None,
        };
        if let Some(path) = state_file {
            let (persist, loaded) = Persist::open(path)?;
            inner.rv = loaded.rv.max(1);
            inner.compacted_rv = inner.rv;
            for (key, obj) in loaded.objects {
                let k = obj_key(&obj);
                inner
                    .objects
                    .entry(key)
                    .or_default()
                    .insert(k, Arc::new(obj));
            }
            inner.persist = Some(persist);
        }
        Ok(Self {
            inner: Mutex::new(inner),
            tx,
            gc_wake: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    /// The oldest resourceVersion a watch may still start from.
    pub fn compacted_rv(&self) -> u64 {
        self.lock().compacted_rv
    }

    pub fn get(&self, key: &str, ns: &str, name: &str) -> Option<Arc<Value>> {
        self.lock()
            .objects
            .get(key)
            .and_then(|m| m.get(&(ns.to_string(), name.to_string())))
            .cloned()
    }

    /// Objects of `key` (in `ns`, or all when `None`) sorted by namespace/name, strictly after `after`,
    /// that pass `filter`, at most `limit`. Returns the items, the store's rv, and whether more remain.
    pub fn list(
        &self,
        key: &str,
        ns: Option<&str>,
        after: Option<&ObjKey>,
        limit: Option<usize>,
        filter: &dyn Fn(&Value) -> bool,
    ) -> (Vec<Arc<Value>>, u64, bool) {
        let inner = self.lock();
        let mut out = Vec::new();
        let mut more = false;
        if let Some(map) = inner.objects.get(key) {
            let start = match after {
                Some(a) => std::ops::Bound::Excluded(a.clone()),
                None => match ns {
                    Some(n) => std::ops::Bound::Included((n.to_string(), String::new())),
                    None => std::ops::Bound::Unbounded,
                },
            };
            for ((ons, _), obj) in map.range((start, std::ops::Bound::Unbounded)) {
                if let Some(n) = ns
                    && ons != n
                {
                    if ons.as_str() > n {
                        break;
                    }
                    continue;
                }
                if !filter(obj) {
                    continue;
                }
                if limit.is_some_and(|l| out.len() >= l) {
                    more = true;
                    break;
                }
                out.push(obj.clone());
            }
        }
        (out, inner.rv, more)
    }

    /// Every stored object with its storage key (for the garbage collector).
    pub fn snapshot(&self) -> Vec<(String, Arc<Value>)> {
        let inner = self.lock();
        inner
            .objects
            .iter()
            .flat_map(|(k, m)| m.values().map(move |o| (k.clone(), o.clone())))
            .collect()
    }

    fn commit(inner: &mut Inner, tx: &broadcast::Sender<Arc<StoreEvent>>, ev: StoreEvent) {
        let ev = Arc::new(ev);
        inner.history.push_back(ev.clone());
        while inner.history.len() > inner.history_limit {
            if let Some(old) = inner.history.pop_front() {
                inner.compacted_rv = old.rv;
            }
        }
        let _ = tx.send(ev);
    }

    fn stamp(obj: &mut Value, rv: u64) {
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert("resourceVersion".into(), Value::String(rv.to_string()));
        }
    }

    fn persist(inner: &mut Inner, rec: Record<'_>) -> Result<(), StoreError> {
        let live = inner.objects.values().map(BTreeMap::len).sum::<usize>();
        if let Some(p) = inner.persist.as_mut() {
            p.append(&rec)?;
            if p.needs_compaction(live) {
                let rv = inner.rv;
                let all = inner
                    .objects
                    .iter()
                    .flat_map(|(k, m)| m.values().map(move |o| (k.as_str(), o.as_ref())));
                if let Some(p) = inner.persist.as_mut() {
                    p.compact(rv, all)?;
                }
            }
        }
        Ok(())
    }

    /// Stores a new object; assigns its resourceVersion.
    pub fn create(&self, key: &str, obj: Value) -> Result<Arc<Value>, StoreError> {
        let inner = self.lock();
        let k = obj_key(&obj);
        if inner.objects.get(key).is_some_and(|m| m.contains_key(&k)) {
            return Err(StoreError::AlreadyExists);
        }
        self.put(inner, key, k, obj, EventType::Added, None)
    }

    /// Replaces an object if its stored resourceVersion equals `expected_rv`.
    pub fn update(
        &self,
        key: &str,
        obj: Value,
        expected_rv: u64,
    ) -> Result<Arc<Value>, StoreError> {
        let inner = self.lock();
        let k = obj_key(&obj);
        let cur = inner
            .objects
            .get(key)
            .and_then(|m| m.get(&k))
            .ok_or(StoreError::NotFound)?;
        if rv_of(cur) != expected_rv {
            return Err(StoreError::Conflict);
        }
        let prev = Some(cur.clone());
        self.put(inner, key, k, obj, EventType::Modified, prev)
    }

    /// The write path shared by create and update: stamps the next resourceVersion, persists,
    /// stores, publishes the watch event and wakes the garbage collector when needed.
    fn put(
        &self,
        mut inner: MutexGuard<'_, Inner>,
        key: &str,
        k: ObjKey,
        mut obj: Value,
        kind: EventType,
        prev: Option<Arc<Value>>,
    ) -> Result<Arc<Value>, StoreError> {
        let rv = inner.rv + 1;
        Self::stamp(&mut obj, rv);
        Self::persist(&mut inner, Record::Put { rv, key, obj: &obj })?;
        inner.rv = rv;
        let gc = needs_gc(&obj);
        let obj = Arc::new(obj);
        inner
            .objects
            .entry(key.to_string())
            .or_default()
            .insert(k, obj.clone());
        Self::commit(
            &mut inner,
            &self.tx,
            StoreEvent {
                rv,
                key: key.into(),
                kind,
                object: obj.clone(),
                prev,
            },
        );
        drop(inner);
        if gc {
            self.gc_wake.notify_one();
        }
        Ok(obj)
    }

    /// Removes an object if its stored resourceVersion equals `expected_rv` (any when `None`).
    pub fn delete(
        &self,
        key: &str,
        ns: &str,
        name: &str,
        expected_rv: Option<u64>,
    ) -> Result<Arc<Value>, StoreError> {
        let mut inner = self.lock();
        let k = (ns.to_string(), name.to_string());
        let cur = inner
            .objects
            .get(key)
            .and_then(|m| m.get(&k))
            .ok_or(StoreError::NotFound)?;
        if expected_rv.is_some_and(|e| e != rv_of(cur)) {
            return Err(StoreError::Conflict);
        }
        let mut obj = cur.as_ref().clone();
        let rv = inner.rv + 1;
        Self::persist(&mut inner, Record::Del { rv, key, ns, name })?;
        inner.rv = rv;
        if let Some(m) = inner.objects.get_mut(key) {
            m.remove(&k);
        }
        Self::stamp(&mut obj, rv);
        let obj = Arc::new(obj);
        Self::commit(
            &mut inner,
            &self.tx,
            StoreEvent {
                rv,
                key: key.into(),
                kind: EventType::Deleted,
                object: obj.clone(),
                prev: None,
            },
        );
        drop(inner);
        self.gc_wake.notify_one();
        Ok(obj)
    }

    /// Events of `key` after `rv` still in history, plus a receiver for everything that follows.
    pub fn watch_from(
        &self,
        key: &str,
        rv: u64,
    ) -> Result<(Vec<Arc<StoreEvent>>, EventReceiver), StoreError> {
        let inner = self.lock();
        if rv < inner.compacted_rv {
            return Err(StoreError::Gone(rv));
        }
        let past = inner
            .history
            .iter()
            .filter(|e| e.rv > rv && e.key == key)
            .cloned()
            .collect();
        Ok((past, self.tx.subscribe()))
    }

    /// All objects of `key`, the rv they are current at, and a receiver for every later event.
    pub fn list_and_subscribe(&self, key: &str) -> (Vec<Arc<Value>>, u64, EventReceiver) {
        let inner = self.lock();
        let objs = inner
            .objects
            .get(key)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        (objs, inner.rv, self.tx.subscribe())
    }
}
