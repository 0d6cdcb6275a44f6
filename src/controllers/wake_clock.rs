//! Watch-event → reconcile-start latency: when an object's relevant change arrived from its watch,
//! kept until its next reconcile starts (the `nno_watch_to_reconcile_seconds` histogram).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::ResourceExt;

type Key = (Option<String>, String);

/// First unconsumed arrival per object. An object reconciled for another reason (a requeue, a
/// wake-up by the observer) consumes its entry too: its reconcile started after the change arrived.
#[derive(Debug, Default)]
pub struct WakeClock {
    arrivals: Mutex<HashMap<Key, Instant>>,
}

impl WakeClock {
    /// Notes that a change of `obj` arrived now (the earliest unconsumed one counts).
    pub fn arrived(&self, obj: &impl ResourceExt) {
        let key = (obj.namespace(), obj.name_any());
        self.lock().entry(key).or_insert_with(Instant::now);
    }

    /// How long ago the oldest unconsumed change of `obj` arrived, consuming it.
    pub fn take(&self, obj: &impl ResourceExt) -> Option<Duration> {
        let key = (obj.namespace(), obj.name_any());
        self.lock().remove(&key).map(|t| t.elapsed())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Instant>> {
        self.arrivals.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;

    fn obj(ns: &str, name: &str) -> ConfigMap {
        let mut c = ConfigMap::default();
        c.metadata.namespace = Some(ns.into());
        c.metadata.name = Some(name.into());
        c
    }

    #[test]
    fn an_arrival_is_taken_once_and_the_earliest_counts() {
        let clock = WakeClock::default();
        let a = obj("ns", "a");
        assert_eq!(clock.take(&a), None);
        clock.arrived(&a);
        std::thread::sleep(Duration::from_millis(20));
        clock.arrived(&a);
        let waited = clock.take(&a).expect("an arrival");
        assert!(waited >= Duration::from_millis(20), "{waited:?}");
        assert_eq!(clock.take(&a), None);
        assert_eq!(clock.take(&obj("other", "a")), None);
    }
}
