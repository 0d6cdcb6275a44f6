//! Prometheus metrics of the operator (`prometheus-client`), low-cardinality labels only: kind,
//! API, endpoint template, status class, error category. Never object names or ids.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::cloud::CallRecord;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    kind: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    kind: &'static str,
    category: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    api: &'static str,
    method: String,
    endpoint: &'static str,
    status_class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReadyLabels {
    kind: &'static str,
    ready: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    operation: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OrderLabels {
    order_type: &'static str,
    source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// Per-object facts the gauges are computed from (kept per kind, keyed by namespace/name).
#[derive(Debug, Default)]
struct ObjectFacts {
    objects: HashMap<(&'static str, String), (bool, bool)>,
}

/// Every metric the operator exports.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ResultLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    durations: Family<KindLabel, Histogram>,
    wake_latency: Family<KindLabel, Histogram>,
    cloud_calls: Family<CallLabels, Counter>,
    cloud_lists: Family<ResultLabels, Counter>,
    objects: Family<ReadyLabels, Gauge>,
    drifted: Family<KindLabel, Gauge>,
    drift_corrections: Family<KindLabel, Counter>,
    leader: Gauge,
    platform_jobs: Family<JobLabels, Counter>,
    dead_letters: Gauge,
    pax8_orders: Family<OrderLabels, Counter>,
    pax8_results: Family<StatusLabel, Counter>,
    pax8_rejections: Family<ReasonLabel, Counter>,
    facts: Mutex<ObjectFacts>,
    dead_letter_facts: Mutex<HashMap<String, i64>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("nno");
        let reconciles = Family::<ResultLabels, Counter>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let durations = Family::<KindLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        // 0.25 ms .. 8 s: a change usually starts its reconcile within milliseconds.
        let wake_latency = Family::<KindLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.00025, 2.0, 16))
        });
        let cloud_calls = Family::<CallLabels, Counter>::default();
        let cloud_lists = Family::<ResultLabels, Counter>::default();
        let objects = Family::<ReadyLabels, Gauge>::default();
        let drifted = Family::<KindLabel, Gauge>::default();
        let drift_corrections = Family::<KindLabel, Counter>::default();
        let leader = Gauge::default();
        let platform_jobs = Family::<JobLabels, Counter>::default();
        let dead_letters = Gauge::default();
        registry.register(
            "platform_jobs",
            "NNO provisioning jobs of Platforms by operation and result (submitted, adopted, completed, failed, retried, rejected)",
            platform_jobs.clone(),
        );
        registry.register(
            "platform_dead_letters",
            "Dead-letter queue entries of the Platforms this operator manages",
            dead_letters.clone(),
        );
        registry.register(
            "reconciles",
            "Reconciles by kind and result",
            reconciles.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Failed reconciles by kind and error category",
            errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Reconcile durations by kind",
            durations.clone(),
        );
        registry.register(
            "watch_to_reconcile_seconds",
            "Time from an object's change arriving from its watch to the start of its reconcile, by kind",
            wake_latency.clone(),
        );
        registry.register(
            "cloud_api_calls",
            "HTTP attempts to external APIs by API, method, endpoint template and status class",
            cloud_calls.clone(),
        );
        registry.register(
            "observer_lists",
            "Cloud list rounds of the observers by kind and result",
            cloud_lists.clone(),
        );
        registry.register(
            "objects",
            "Managed objects by kind and Ready status",
            objects.clone(),
        );
        registry.register(
            "drifted_objects",
            "Objects whose cloud state differs from the spec (reported or being corrected)",
            drifted.clone(),
        );
        registry.register(
            "drift_corrections",
            "Fields reverted to the spec after a change made outside Kubernetes",
            drift_corrections.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the leader lease",
            leader.clone(),
        );
        let pax8_orders = Family::<OrderLabels, Counter>::default();
        let pax8_results = Family::<StatusLabel, Counter>::default();
        let pax8_rejections = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "pax8_orders",
            "Pax8 provision requests handled, by order type and source (webhook or poll); duplicates not counted",
            pax8_orders.clone(),
        );
        registry.register(
            "pax8_results",
            "Provision results posted to Pax8, by status",
            pax8_results.clone(),
        );
        registry.register(
            "pax8_webhook_rejections",
            "Pax8 webhook deliveries refused, by reason (unauthorized, too_large, malformed)",
            pax8_rejections.clone(),
        );
        Self {
            registry,
            pax8_orders,
            pax8_results,
            pax8_rejections,
            reconciles,
            errors,
            durations,
            wake_latency,
            cloud_calls,
            cloud_lists,
            objects,
            drifted,
            drift_corrections,
            leader,
            platform_jobs,
            dead_letters,
            facts: Mutex::new(ObjectFacts::default()),
            dead_letter_facts: Mutex::new(HashMap::new()),
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    pub fn reconciled(&self, kind: &'static str, result: &'static str, took: Duration) {
        self.reconciles
            .get_or_create(&ResultLabels { kind, result })
            .inc();
        self.durations
            .get_or_create(&KindLabel { kind })
            .observe(took.as_secs_f64());
    }

    /// A reconcile of `kind` started `waited` after the change that woke it arrived.
    pub fn woken(&self, kind: &'static str, waited: Duration) {
        self.wake_latency
            .get_or_create(&KindLabel { kind })
            .observe(waited.as_secs_f64());
    }

    pub fn error(&self, kind: &'static str, category: &'static str) {
        self.errors
            .get_or_create(&ErrorLabels { kind, category })
            .inc();
    }

    pub fn cloud_call(&self, r: &CallRecord) {
        self.cloud_calls
            .get_or_create(&CallLabels {
                api: r.api,
                method: r.method.to_string(),
                endpoint: r.endpoint,
                status_class: r.status_class,
            })
            .inc();
    }

    pub fn observer_list(&self, kind: &'static str, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.cloud_lists
            .get_or_create(&ResultLabels { kind, result })
            .inc();
    }

    pub fn drift_corrected(&self, kind: &'static str, fields: usize) {
        self.drift_corrections
            .get_or_create(&KindLabel { kind })
            .inc_by(fields as u64);
    }

    /// One NNO job event of a Platform (`operation` is one of the controller's fixed operations).
    pub fn platform_job(&self, operation: &'static str, result: &'static str) {
        self.platform_jobs
            .get_or_create(&JobLabels { operation, result })
            .inc();
    }

    pub fn pax8_order(&self, order_type: &'static str, source: &'static str) {
        self.pax8_orders
            .get_or_create(&OrderLabels { order_type, source })
            .inc();
    }

    pub fn pax8_result(&self, status: &'static str) {
        self.pax8_results
            .get_or_create(&StatusLabel { status })
            .inc();
    }

    pub fn pax8_webhook_rejected(&self, reason: &'static str) {
        self.pax8_rejections
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    /// The number of DLQ entries of Platform `key` (namespace/name); 0 forgets it.
    pub fn platform_dead_letters(&self, key: String, entries: usize) {
        let mut facts = self
            .dead_letter_facts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if entries == 0 {
            facts.remove(&key);
        } else {
            facts.insert(key, entries as i64);
        }
        self.dead_letters.set(facts.values().sum());
    }

    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    pub fn is_leader(&self) -> bool {
        self.leader.get() == 1
    }

    /// Records an object's Ready and drifted state, updating the per-kind gauges.
    pub fn object_state(&self, kind: &'static str, key: String, ready: bool, drifted: bool) {
        let mut facts = self.facts.lock().unwrap_or_else(|p| p.into_inner());
        facts.objects.insert((kind, key), (ready, drifted));
        self.refresh(kind, &facts);
    }

    /// Forgets a deleted object.
    pub fn object_gone(&self, kind: &'static str, key: String) {
        let mut facts = self.facts.lock().unwrap_or_else(|p| p.into_inner());
        facts.objects.remove(&(kind, key));
        self.refresh(kind, &facts);
    }

    fn refresh(&self, kind: &'static str, facts: &ObjectFacts) {
        let (mut ready, mut not_ready, mut drifted) = (0, 0, 0);
        for ((k, _), (r, d)) in &facts.objects {
            if *k != kind {
                continue;
            }
            if *r {
                ready += 1;
            } else {
                not_ready += 1;
            }
            if *d {
                drifted += 1;
            }
        }
        self.objects
            .get_or_create(&ReadyLabels {
                kind,
                ready: "true",
            })
            .set(ready);
        self.objects
            .get_or_create(&ReadyLabels {
                kind,
                ready: "false",
            })
            .set(not_ready);
        self.drifted.get_or_create(&KindLabel { kind }).set(drifted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_low_cardinality_series() {
        let m = Metrics::new();
        m.reconciled("VirtualMachine", "ok", Duration::from_millis(3));
        m.error("VirtualMachine", "cloud_transient");
        m.object_state("VirtualMachine", "ns/a".into(), true, false);
        m.object_state("VirtualMachine", "ns/b".into(), false, true);
        m.object_gone("VirtualMachine", "ns/b".into());
        m.set_leader(true);
        let text = m.encode();
        assert!(text.contains(r#"nno_reconciles_total{kind="VirtualMachine",result="ok"} 1"#));
        assert!(text.contains(r#"nno_objects{kind="VirtualMachine",ready="true"} 1"#));
        assert!(text.contains(r#"nno_objects{kind="VirtualMachine",ready="false"} 0"#));
        assert!(text.contains(r#"nno_drifted_objects{kind="VirtualMachine"} 0"#));
        assert!(text.contains("nno_leader 1"));
        assert!(!text.contains("ns/a"), "object names never become labels");
    }
}
