//! The observer: one loop per (kind, location, account) that LISTs the cloud once per poll
//! interval (faster while some object is in transition), caches what it saw, and wakes only the
//! objects whose cloud state changed. Reconciles read this cache instead of polling the cloud.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use kube::runtime::reflector::ObjectRef;
use rand::RngExt;
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cloud::ApiError;
use crate::cloud::threenv::ThreenvClient;

use super::error::ReconcileError;
use super::managed::{ManagedKind, Readiness, Target};
use super::metrics::Metrics;

/// How often observers list.
#[derive(Debug, Clone, Copy)]
pub struct ObserverConfig {
    /// Steady-state interval between lists.
    pub poll_interval: Duration,
    /// Interval while some object is in transition or was just written.
    pub transition_interval: Duration,
    /// How long a reconcile waits for a list it needs.
    pub list_wait: Duration,
}

impl Default for ObserverConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(60),
            transition_interval: Duration::from_secs(2),
            list_wait: Duration::from_secs(60),
        }
    }
}

/// Identity of one observer: location slug (`None` = the account's default) and account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObserverKey {
    pub location: Option<String>,
    /// Hash of the API key (the key itself is never kept here).
    pub account: u64,
}

struct Cache<K: ManagedKind> {
    items: HashMap<String, K::Observed>,
    /// External id or create token → the object that owns it.
    owners: HashMap<String, ObjectRef<K>>,
    members: HashSet<ObjectRef<K>>,
    started: u64,
    completed: u64,
    succeeded: u64,
    last_error: Option<ApiError>,
    hurry_until: Option<Instant>,
    /// Writes recorded while a list may have been in flight (id → `started` at the time): a list
    /// that began before them must not undo them.
    put_during: HashMap<String, u64>,
    removed_during: HashMap<String, u64>,
}

/// One (kind, location, account) observer.
pub struct Observer<K: ManagedKind> {
    key: ObserverKey,
    client: ThreenvClient,
    cache: Mutex<Cache<K>>,
    listed: watch::Sender<u64>,
    /// List now (a reconcile needs a fresh list).
    kick: Notify,
    /// Reschedule: the next list should come within the transition interval.
    hurry: Notify,
    cfg: ObserverConfig,
}

impl<K: ManagedKind> Observer<K> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Cache<K>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a list: any successful one, or with `fresh` one that started after this call
    /// (needed after a create whose outcome is unknown). Fails when the cloud refused the list.
    pub async fn sync(&self, fresh: bool) -> Result<(), ReconcileError> {
        let target = {
            let c = self.lock();
            if fresh { c.started + 1 } else { 1 }
        };
        if fresh {
            self.kick.notify_one();
        }
        let mut rx = self.listed.subscribe();
        let waited = tokio::time::timeout(self.cfg.list_wait, async {
            loop {
                {
                    let c = self.lock();
                    let done = if fresh {
                        c.completed >= target
                    } else {
                        c.succeeded >= 1 || c.completed >= 1
                    };
                    if done {
                        return match &c.last_error {
                            Some(e) if fresh || c.succeeded == 0 || e.is_unauthorized() => {
                                Err(ReconcileError::Cloud(e.clone()))
                            }
                            _ => Ok(()),
                        };
                    }
                }
                if rx.changed().await.is_err() {
                    return Err(ReconcileError::Cloud(ApiError::Connection {
                        api: crate::cloud::threenv::API,
                        message: "observer stopped".into(),
                    }));
                }
            }
        })
        .await;
        waited.unwrap_or_else(|_| {
            Err(ReconcileError::Cloud(ApiError::Timeout {
                api: crate::cloud::threenv::API,
            }))
        })
    }

    /// The cached cloud object with external id `id`.
    pub fn get(&self, id: &str) -> Option<K::Observed> {
        self.lock().items.get(id).cloned()
    }

    /// The cached cloud object carrying create token `token`.
    pub fn find_token(&self, token: &str) -> Option<K::Observed> {
        self.lock()
            .items
            .values()
            .find(|o| K::token_of(o).as_deref() == Some(token))
            .cloned()
    }

    /// Records what a write answered, and lists faster for a while to see it settle.
    pub fn put(&self, observed: K::Observed) {
        let mut c = self.lock();
        let id = K::external_id(&observed);
        let started = c.started;
        c.removed_during.remove(&id);
        c.put_during.insert(id.clone(), started);
        c.items.insert(id, observed);
        c.hurry_until = Some(Instant::now() + self.cfg.transition_interval * 5);
        drop(c);
        self.hurry.notify_one();
    }

    /// Forgets a deleted cloud object.
    pub fn remove(&self, id: &str) {
        let mut c = self.lock();
        let started = c.started;
        c.put_during.remove(id);
        c.removed_during.insert(id.to_owned(), started);
        c.items.remove(id);
    }

    /// Says that `obj` owns the cloud object `id_or_token` (woken when it changes).
    pub fn own(&self, id_or_token: &str, obj: &ObjectRef<K>) {
        self.lock()
            .owners
            .insert(id_or_token.to_owned(), obj.clone());
    }

    pub fn key(&self) -> &ObserverKey {
        &self.key
    }

    pub fn client(&self) -> &ThreenvClient {
        &self.client
    }

    fn join(&self, obj: &ObjectRef<K>) {
        self.lock().members.insert(obj.clone());
    }

    fn leave(&self, obj: &ObjectRef<K>) {
        let mut c = self.lock();
        c.members.remove(obj);
        c.owners.retain(|_, o| o != obj);
    }

    /// One list round: updates the cache and returns the objects to wake.
    async fn list_once(&self, metrics: &Metrics) -> (Vec<ObjectRef<K>>, bool) {
        let id = {
            let mut c = self.lock();
            c.started += 1;
            c.started
        };
        let loc = self.key.location.as_deref();
        let result = match K::list(&self.client, loc).await {
            Ok(items) => K::complete_list(&self.client, loc, items, &|id: &str| self.get(id)).await,
            Err(e) => Err(e),
        };
        metrics.observer_list(K::KIND, result.is_ok());
        let mut c = self.lock();
        let mut wake = Vec::new();
        let ok = result.is_ok();
        match result {
            Ok(items) => {
                let first = c.succeeded == 0;
                let mut fresh: HashMap<String, K::Observed> = HashMap::with_capacity(items.len());
                for item in items {
                    fresh.insert(K::external_id(&item), item);
                }
                // A write answered while this list was in flight is newer than what it saw.
                for (w, at) in &c.put_during {
                    if *at >= id
                        && let Some(item) = c.items.get(w)
                    {
                        fresh.insert(w.clone(), item.clone());
                    }
                }
                for (w, at) in &c.removed_during {
                    if *at >= id {
                        fresh.remove(w);
                    }
                }
                c.put_during.retain(|_, at| *at >= id);
                c.removed_during.retain(|_, at| *at >= id);
                if !first {
                    for (id, item) in &fresh {
                        if c.items.get(id) != Some(item) {
                            let owner = c
                                .owners
                                .get(id)
                                .or_else(|| K::token_of(item).and_then(|t| c.owners.get(&t)));
                            wake.extend(owner.cloned());
                        }
                    }
                    for id in c.items.keys() {
                        if !fresh.contains_key(id) {
                            wake.extend(c.owners.get(id).cloned());
                        }
                    }
                }
                c.items = fresh;
                c.succeeded = id;
                c.last_error = None;
            }
            Err(e) => {
                tracing::warn!(kind = K::KIND, location = ?self.key.location, error = %e, "cloud list failed");
                c.last_error = Some(e);
            }
        }
        c.completed = id;
        drop(c);
        self.listed.send_replace(id);
        (wake, ok)
    }

    fn next_delay(&self, ok: bool, failures: u32) -> Duration {
        let c = self.lock();
        if !ok {
            let backoff = Duration::from_secs(1u64 << failures.min(6));
            return backoff.min(self.cfg.poll_interval);
        }
        let hurry = c.hurry_until.is_some_and(|t| t > Instant::now());
        let settling = c
            .items
            .values()
            .any(|o| matches!(K::readiness(o), Readiness::InTransition { .. }));
        if hurry || settling {
            self.cfg.transition_interval
        } else {
            // ±10% so that observers started together drift apart instead of listing in lockstep.
            let jitter = rand::rng().random_range(0.9..1.1);
            self.cfg.poll_interval.mul_f64(jitter)
        }
    }

    fn idle(&self) -> bool {
        let c = self.lock();
        c.members.is_empty() && c.owners.is_empty()
    }
}

/// Every observer of one kind, and the channel that wakes that kind's objects.
pub struct Observers<K: ManagedKind> {
    cfg: ObserverConfig,
    wake: mpsc::UnboundedSender<ObjectRef<K>>,
    map: Mutex<HashMap<ObserverKey, Arc<Observer<K>>>>,
    assigned: Mutex<HashMap<ObjectRef<K>, ObserverKey>>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
}

impl<K: ManagedKind> Observers<K> {
    /// The observers of kind `K`, and the stream of objects they wake (feed it to the controller).
    pub fn new(
        cfg: ObserverConfig,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<ObjectRef<K>>) {
        let (wake, rx) = mpsc::unbounded_channel();
        let this = Arc::new(Self {
            cfg,
            wake,
            map: Mutex::new(HashMap::new()),
            assigned: Mutex::new(HashMap::new()),
            metrics,
            shutdown,
        });
        (this, rx)
    }

    /// The observer for `target`'s location and `account`, started on first use; `obj` becomes
    /// one of its members (and leaves the observer it used before, if that changed).
    pub fn for_object(
        self: &Arc<Self>,
        obj: &ObjectRef<K>,
        target: &Target,
        account: u64,
    ) -> Arc<Observer<K>> {
        let key = ObserverKey {
            location: target.location.clone().filter(|_| K::LOCATED),
            account,
        };
        let observer = {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(key.clone())
                .or_insert_with(|| self.spawn(key.clone(), target.client.clone()))
                .clone()
        };
        let previous = self
            .assigned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(obj.clone(), key.clone());
        if let Some(prev) = previous.filter(|p| *p != key)
            && let Some(old) = self.get(&prev)
        {
            old.leave(obj);
        }
        observer.join(obj);
        observer
    }

    /// Forgets `obj` (deleted): its observer stops waking it.
    pub fn forget(&self, obj: &ObjectRef<K>) {
        let key = self
            .assigned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(obj);
        if let Some(observer) = key.and_then(|k| self.get(&k)) {
            observer.leave(obj);
        }
    }

    /// The observer `obj` used last, if it still runs.
    pub fn last_used(&self, obj: &ObjectRef<K>) -> Option<Arc<Observer<K>>> {
        let key = self
            .assigned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(obj)
            .cloned()?;
        self.get(&key)
    }

    /// Number of running observers.
    pub fn count(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn get(&self, key: &ObserverKey) -> Option<Arc<Observer<K>>> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    fn spawn(self: &Arc<Self>, key: ObserverKey, client: ThreenvClient) -> Arc<Observer<K>> {
        let observer = Arc::new(Observer {
            key,
            client,
            cache: Mutex::new(Cache {
                items: HashMap::new(),
                owners: HashMap::new(),
                members: HashSet::new(),
                started: 0,
                completed: 0,
                succeeded: 0,
                last_error: None,
                hurry_until: None,
                put_during: HashMap::new(),
                removed_during: HashMap::new(),
            }),
            listed: watch::channel(0).0,
            kick: Notify::new(),
            hurry: Notify::new(),
            cfg: self.cfg,
        });
        tokio::spawn(run(Arc::downgrade(self), observer.clone()));
        observer
    }

    fn retire(&self, observer: &Arc<Observer<K>>) -> bool {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        // Checked under the map lock, so no object can join between the check and the removal.
        if !observer.idle() {
            return false;
        }
        if map
            .get(observer.key())
            .is_some_and(|o| Arc::ptr_eq(o, observer))
        {
            map.remove(observer.key());
        }
        true
    }
}

async fn run<K: ManagedKind>(owner: Weak<Observers<K>>, observer: Arc<Observer<K>>) {
    let mut failures = 0u32;
    let mut idle_rounds = 0u32;
    loop {
        let Some(observers) = owner.upgrade() else {
            return;
        };
        let (wake, ok) = observer.list_once(&observers.metrics).await;
        failures = if ok { 0 } else { failures + 1 };
        for obj in wake {
            let _ = observers.wake.send(obj);
        }
        if observer.idle() {
            idle_rounds += 1;
            if idle_rounds >= 2 && observers.retire(&observer) {
                tracing::debug!(kind = K::KIND, location = ?observer.key.location, "observer retired");
                return;
            }
        } else {
            idle_rounds = 0;
        }
        let listed_at = Instant::now();
        let mut next = listed_at + observer.next_delay(ok, failures);
        let shutdown = observers.shutdown.clone();
        drop(observers);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(next) => break,
                _ = observer.kick.notified() => break,
                _ = observer.hurry.notified() => {
                    next = next.min(listed_at + observer.cfg.transition_interval);
                }
                _ = shutdown.cancelled() => return,
            }
        }
    }
}
