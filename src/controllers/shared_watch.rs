//! One watch per referenced kind (Platform, VirtualMachine), shared by every controller: it feeds
//! the cache that references are resolved from and, only after the cache holds an event, the
//! wake-ups of the objects depending on it. A woken object therefore never reads a cache older than
//! the event that woke it; with two separate watches (one for the cache, one for the wake-ups) the
//! wake-up could come first, the reconcile read the stale cache, and the change be lost for good.
//!
//! Written here rather than taken from kube-rs's `store_shared`/`ReflectHandle`
//! (`unstable-runtime-subscribe`): that hands subscribers only objects still in the store, so a
//! deletion never reaches them, and it stalls the subscriber when it meets one.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use kube::Api;
use kube::Resource;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::broadcast;

/// How many events a slow subscriber may fall behind before it resynchronises from the cache.
const BUFFER: usize = 1024;

/// A watched kind's cache and its stream of stored events.
pub struct SharedWatch<R: Resource<DynamicType = ()> + 'static> {
    store: Store<R>,
    events: broadcast::Sender<Arc<watcher::Event<R>>>,
}

impl<R: Resource<DynamicType = ()> + 'static> Clone for SharedWatch<R> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            events: self.events.clone(),
        }
    }
}

impl<R> SharedWatch<R>
where
    R: Resource<DynamicType = ()> + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
    R: Send + Sync + 'static,
{
    /// The watch of `api` and the future that runs it (until the watch ends, which it does not on
    /// its own: errors are logged and retried with backoff).
    pub fn new(api: Api<R>) -> (Self, impl Future<Output = ()> + Send + 'static) {
        let (store, writer) = reflector::store();
        let (events, _) = broadcast::channel(BUFFER);
        let tx = events.clone();
        let kind = R::kind(&()).into_owned();
        let run = watcher::watcher(api, watcher::Config::default())
            .default_backoff()
            // Nothing reads managedFields from the cache, and they are often most of an object.
            .modify(|o| kube::ResourceExt::managed_fields_mut(o).clear())
            .reflect(writer)
            .for_each(move |event| {
                match event {
                    // No subscriber yet is fine: each starts from the cache.
                    Ok(event) => drop(tx.send(Arc::new(event))),
                    Err(e) => tracing::warn!(%kind, error = %e, "watch failed; retrying"),
                }
                std::future::ready(())
            });
        (Self { store, events }, run)
    }

    /// The cache, updated before any subscriber hears of a change.
    pub fn store(&self) -> &Store<R> {
        &self.store
    }

    /// The objects whose `key` changed, that appeared or that went away, each after the cache
    /// holds that state (deleted ones as last seen). Other changes are dropped, since each event
    /// wakes every dependent.
    pub fn changes<Key>(
        &self,
        key: impl Fn(&R) -> Key + Send + 'static,
    ) -> impl Stream<Item = Result<R, watcher::Error>> + Send + 'static
    where
        Key: PartialEq + Send + 'static,
    {
        // Subscribe before the first look at the cache, so that nothing falls between the two.
        let follow = Follow {
            rx: self.events.subscribe(),
            store: self.store.clone(),
            key,
            seen: HashMap::new(),
            out: VecDeque::new(),
            resync: true,
        };
        futures::stream::unfold(follow, |mut f| async move {
            let next = f.next().await?;
            Some((Ok(next), f))
        })
    }
}

/// One subscriber's position: what it last reported of each object.
struct Follow<R: Resource<DynamicType = ()> + 'static, Key, F> {
    rx: broadcast::Receiver<Arc<watcher::Event<R>>>,
    store: Store<R>,
    key: F,
    seen: HashMap<ObjectRef<R>, (Key, Arc<R>)>,
    out: VecDeque<R>,
    /// Compare the whole cache with `seen` before the next event (at start, after a relist, after
    /// falling behind).
    resync: bool,
}

impl<R, Key, F> Follow<R, Key, F>
where
    R: Resource<DynamicType = ()> + Clone + 'static,
    Key: PartialEq,
    F: Fn(&R) -> Key,
{
    async fn next(&mut self) -> Option<R> {
        loop {
            if std::mem::take(&mut self.resync) {
                self.resync_from_store();
            }
            if let Some(obj) = self.out.pop_front() {
                return Some(obj);
            }
            match self.rx.recv().await {
                Ok(event) => self.apply(&event),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::debug!(
                        kind = %R::kind(&()),
                        missed = n,
                        "fell behind the shared watch; resynchronising from the cache"
                    );
                    self.resync = true;
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    fn apply(&mut self, event: &watcher::Event<R>) {
        match event {
            watcher::Event::Apply(obj) => {
                let r = ObjectRef::from_obj(obj);
                // The cache's copy is the same state, shared rather than cloned into `seen`.
                let stored = self.store.get(&r).unwrap_or_else(|| Arc::new(obj.clone()));
                self.consider(r, stored);
            }
            watcher::Event::Delete(obj) => {
                self.seen.remove(&ObjectRef::from_obj(obj));
                self.out.push_back(obj.clone());
            }
            // A relist: the cache takes the listed objects only at its end, so compare then.
            watcher::Event::Init | watcher::Event::InitApply(_) => {}
            watcher::Event::InitDone => self.resync = true,
        }
    }

    fn consider(&mut self, r: ObjectRef<R>, obj: Arc<R>) {
        let k = (self.key)(&obj);
        if self.seen.get(&r).is_some_and(|(old, _)| *old == k) {
            return;
        }
        self.out.push_back((*obj).clone());
        self.seen.insert(r, (k, obj));
    }

    /// Reports what the cache holds that differs from `seen`, and what `seen` holds that the cache
    /// no longer does (deleted while this subscriber was not looking).
    fn resync_from_store(&mut self) {
        let now = self.store.state();
        let mut present = std::collections::HashSet::with_capacity(now.len());
        for obj in now {
            let r = ObjectRef::from_obj(&*obj);
            present.insert(r.clone());
            self.consider(r, obj);
        }
        let gone: Vec<ObjectRef<R>> = self
            .seen
            .keys()
            .filter(|r| !present.contains(*r))
            .cloned()
            .collect();
        for r in gone {
            if let Some((_, obj)) = self.seen.remove(&r) {
                self.out.push_back((*obj).clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::ResourceExt;
    use kube::runtime::reflector::store::Writer;
    use watcher::Event;

    use super::*;

    type Labels = BTreeMap<String, String>;

    fn cm(name: &str, tier: &str, generation: i64) -> ConfigMap {
        let mut c = ConfigMap::default();
        c.metadata.name = Some(name.into());
        c.metadata.namespace = Some("ns".into());
        c.metadata.generation = Some(generation);
        c.metadata.labels = Some([("tier".to_string(), tier.to_string())].into());
        c
    }

    /// A cache, its event channel of `capacity`, and a subscriber keyed on labels.
    struct Rig {
        writer: Writer<ConfigMap>,
        tx: broadcast::Sender<Arc<Event<ConfigMap>>>,
        follow: Follow<ConfigMap, Labels, fn(&ConfigMap) -> Labels>,
    }

    impl Rig {
        fn new(capacity: usize, before: &[ConfigMap]) -> Self {
            let (store, mut writer) = reflector::store();
            writer.apply_watcher_event(&Event::Init);
            for c in before {
                writer.apply_watcher_event(&Event::InitApply(c.clone()));
            }
            writer.apply_watcher_event(&Event::InitDone);
            let (tx, rx) = broadcast::channel(capacity);
            let key: fn(&ConfigMap) -> Labels = |c| c.labels().clone();
            let follow = Follow {
                rx,
                store,
                key,
                seen: HashMap::new(),
                out: VecDeque::new(),
                resync: true,
            };
            Self { writer, tx, follow }
        }

        /// What the shared watch does with an event: the cache first, then the subscribers.
        fn event(&mut self, e: Event<ConfigMap>) {
            self.writer.apply_watcher_event(&e);
            let _ = self.tx.send(Arc::new(e));
        }

        async fn next(&mut self) -> (String, String) {
            let o = self.follow.next().await.expect("stream ended");
            (o.name_any(), o.labels()["tier"].clone())
        }
    }

    fn pair(name: &str, tier: &str) -> (String, String) {
        (name.to_string(), tier.to_string())
    }

    #[tokio::test]
    async fn reports_what_the_cache_held_before_subscribing_then_key_changes_only() {
        let mut rig = Rig::new(16, &[cm("a", "app", 1)]);
        assert_eq!(rig.next().await, pair("a", "app"));
        // A new generation with the same labels is not a change of the key.
        rig.event(Event::Apply(cm("a", "app", 2)));
        rig.event(Event::Apply(cm("a", "db", 3)));
        assert_eq!(rig.next().await, pair("a", "db"));
    }

    #[tokio::test]
    async fn a_reported_change_is_already_in_the_cache() {
        let mut rig = Rig::new(16, &[]);
        rig.event(Event::Apply(cm("a", "app", 1)));
        assert_eq!(rig.next().await, pair("a", "app"));
        let cached = rig.follow.store.get(&ObjectRef::new("a").within("ns"));
        assert_eq!(
            cached.map(|c| c.labels()["tier"].clone()),
            Some("app".into())
        );
    }

    #[tokio::test]
    async fn deletions_reach_the_subscriber() {
        let mut rig = Rig::new(16, &[cm("a", "app", 1)]);
        assert_eq!(rig.next().await, pair("a", "app"));
        rig.event(Event::Delete(cm("a", "app", 1)));
        assert_eq!(rig.next().await, pair("a", "app"));
        assert!(rig.follow.seen.is_empty());
    }

    #[tokio::test]
    async fn a_relist_reports_objects_deleted_while_the_watch_was_down() {
        let mut rig = Rig::new(16, &[cm("a", "app", 1), cm("b", "app", 1)]);
        let mut first = vec![rig.next().await, rig.next().await];
        first.sort();
        assert_eq!(first, [pair("a", "app"), pair("b", "app")]);
        rig.event(Event::Init);
        rig.event(Event::InitApply(cm("a", "app", 1)));
        rig.event(Event::InitDone);
        assert_eq!(rig.next().await, pair("b", "app"), "b is gone");
        rig.event(Event::Apply(cm("c", "app", 1)));
        assert_eq!(rig.next().await, pair("c", "app"), "a was unchanged");
    }

    #[tokio::test]
    async fn falling_behind_resynchronises_from_the_cache() {
        let mut rig = Rig::new(2, &[cm("a", "app", 1), cm("b", "app", 1)]);
        let _ = (rig.next().await, rig.next().await);
        // Four events into a channel of two: the first ones are lost to this subscriber.
        rig.event(Event::Delete(cm("a", "app", 1)));
        rig.event(Event::Apply(cm("b", "db", 2)));
        rig.event(Event::Apply(cm("x", "app", 1)));
        rig.event(Event::Apply(cm("y", "app", 1)));
        let mut got = Vec::new();
        for _ in 0..4 {
            got.push(rig.next().await);
        }
        got.sort();
        assert_eq!(
            got,
            [
                pair("a", "app"),
                pair("b", "db"),
                pair("x", "app"),
                pair("y", "app")
            ]
        );
    }
}
