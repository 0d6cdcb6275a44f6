//! What the bench reads while it runs: the objects' state from watches (tallies per kind), the
//! simulators' object counts and request counters, and the operator's metrics.

use std::collections::BTreeMap;

use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use nno_sim::Simulators;
use serde::Serialize;
use tokio::task::JoinHandle;

use super::mix::BenchKind;

/// Objects of one kind: how many exist, how many are Ready (for their current generation), and how
/// many are being deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub total: usize,
    pub ready: usize,
    pub deleting: usize,
}

/// A watch-fed cache of one kind in one namespace (cheaper than listing thousands of objects).
pub struct Watched {
    pub kind: BenchKind,
    pub ns: String,
    /// Only objects whose name starts with this count.
    prefix: String,
    store: Store<DynamicObject>,
    task: JoinHandle<()>,
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn resource(kind: BenchKind) -> ApiResource {
    let gvk = GroupVersionKind::gvk("nno.app", "v1alpha1", kind.kind());
    ApiResource::from_gvk_with_plural(&gvk, &kind.plural())
}

impl Watched {
    pub fn start(client: &kube::Client, ns: &str, kind: BenchKind, prefix: &str) -> Self {
        let ar = resource(kind);
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
        let writer = reflector::store::Writer::new(ar);
        let store = writer.as_reader();
        let task = tokio::spawn(async move {
            watcher(api, watcher::Config::default())
                .default_backoff()
                .reflect(writer)
                .for_each(|_| async {})
                .await;
        });
        Self {
            kind,
            ns: ns.to_owned(),
            prefix: prefix.to_owned(),
            store,
            task,
        }
    }

    fn objects(&self) -> Vec<std::sync::Arc<DynamicObject>> {
        self.store
            .state()
            .into_iter()
            .filter(|o| {
                o.metadata
                    .name
                    .as_deref()
                    .is_some_and(|n| n.starts_with(&self.prefix))
            })
            .collect()
    }

    /// `status.externalId` of object `name`.
    pub fn external_id(&self, name: &str) -> Option<String> {
        self.objects()
            .iter()
            .find(|o| o.metadata.name.as_deref() == Some(name))?
            .data["status"]["externalId"]
            .as_str()
            .map(str::to_owned)
    }

    pub async fn synced(&self) {
        let _ = self.store.wait_until_ready().await;
    }

    pub fn tally(&self) -> Tally {
        let objs = self.objects();
        Tally {
            total: objs.len(),
            ready: objs.iter().filter(|o| is_ready(o)).count(),
            deleting: objs
                .iter()
                .filter(|o| o.metadata.deletion_timestamp.is_some())
                .count(),
        }
    }

    /// The objects not Ready, with their Ready reason (for the report of a timeout).
    pub fn not_ready(&self, max: usize) -> Vec<String> {
        self.objects()
            .iter()
            .filter(|o| !is_ready(o))
            .take(max)
            .map(|o| {
                let reason = condition(o, "Ready")
                    .and_then(|c| c["reason"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| "no status yet".into());
                format!(
                    "{} {}: {reason}",
                    self.kind.kind(),
                    o.metadata.name.as_deref().unwrap_or("?")
                )
            })
            .collect()
    }

    /// Names of the objects still present (after a deletion: those held by a finalizer).
    pub fn remaining(&self, max: usize) -> Vec<String> {
        self.objects()
            .iter()
            .take(max)
            .map(|o| {
                format!(
                    "{} {} (finalizers {:?})",
                    self.kind.kind(),
                    o.metadata.name.as_deref().unwrap_or("?"),
                    o.metadata.finalizers.clone().unwrap_or_default()
                )
            })
            .collect()
    }

    pub fn names(&self) -> Vec<String> {
        self.objects()
            .iter()
            .filter_map(|o| o.metadata.name.clone())
            .collect()
    }
}

fn condition<'a>(o: &'a DynamicObject, type_: &str) -> Option<&'a serde_json::Value> {
    o.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// Ready=True for the object's current generation.
pub fn is_ready(o: &DynamicObject) -> bool {
    condition(o, "Ready").is_some_and(|c| c["status"] == "True")
        && o.data["status"]["observedGeneration"].as_i64() == o.metadata.generation
}

/// Requests the simulators served, by API, method and route template (all statuses together).
pub type Requests = BTreeMap<(String, String, String), u64>;

pub fn requests(sims: &Simulators) -> Requests {
    let mut out = Requests::new();
    for server in [sims.threenv(), sims.nno(), sims.pax8()] {
        for r in server.counters().rows() {
            *out.entry((server.name().to_owned(), r.method, r.path))
                .or_default() += r.count;
        }
    }
    out
}

/// `after - before`, dropping the endpoints with no requests in between.
pub fn requests_between(before: &Requests, after: &Requests) -> Requests {
    after
        .iter()
        .filter_map(|(k, n)| {
            let d = n.saturating_sub(before.get(k).copied().unwrap_or(0));
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

pub fn threenv_counts(sims: &Simulators) -> BTreeMap<String, usize> {
    sims.threenv().backend().counts()
}

pub fn pax8_counts(sims: &Simulators) -> BTreeMap<String, usize> {
    sims.pax8().backend().counts()
}

/// The cumulative buckets of one Prometheus histogram summed over its series:
/// `(upper bound, count)` in ascending order of bound, `+Inf` last.
pub fn histogram(exposition: &str, name: &str) -> Vec<(f64, u64)> {
    let prefix = format!("{name}_bucket{{");
    let mut sums: BTreeMap<u64, (f64, u64)> = BTreeMap::new();
    for line in exposition.lines() {
        let Some(rest) = line.strip_prefix(&prefix) else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let Some(le) = labels
            .split(',')
            .find_map(|l| l.trim().strip_prefix("le=\""))
            .and_then(|l| l.strip_suffix('"'))
        else {
            continue;
        };
        let bound = if le == "+Inf" {
            f64::INFINITY
        } else {
            match le.parse::<f64>() {
                Ok(b) => b,
                Err(_) => continue,
            }
        };
        let count = value.trim().parse::<f64>().unwrap_or(0.0) as u64;
        // Sorted by the bound's bits: positive floats order the same as their bit patterns.
        let e = sums.entry(bound.to_bits()).or_insert((bound, 0));
        e.1 += count;
    }
    sums.into_values().collect()
}

/// `after - before` of two snapshots of the same histogram.
pub fn histogram_between(before: &[(f64, u64)], after: &[(f64, u64)]) -> Vec<(f64, u64)> {
    after
        .iter()
        .map(|(b, n)| {
            let prev = before
                .iter()
                .find(|(pb, _)| pb == b)
                .map(|(_, p)| *p)
                .unwrap_or(0);
            (*b, n.saturating_sub(prev))
        })
        .collect()
}

/// The `q` quantile of cumulative buckets, interpolated linearly inside its bucket (as
/// Prometheus's `histogram_quantile` does); `None` without observations. A quantile in the `+Inf`
/// bucket is reported as the largest finite bound.
pub fn quantile(buckets: &[(f64, u64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut prev_bound = 0.0;
    let mut prev_count = 0u64;
    for (bound, count) in buckets {
        if *count as f64 >= rank {
            if bound.is_infinite() {
                return Some(prev_bound);
            }
            let in_bucket = (count - prev_count) as f64;
            let frac = if in_bucket > 0.0 {
                (rank - prev_count as f64) / in_bucket
            } else {
                1.0
            };
            return Some(prev_bound + (bound - prev_bound) * frac);
        }
        prev_bound = *bound;
        prev_count = *count;
    }
    Some(prev_bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# TYPE nno_watch_to_reconcile_seconds histogram
nno_watch_to_reconcile_seconds_sum{kind="Disk"} 0.5
nno_watch_to_reconcile_seconds_count{kind="Disk"} 10
nno_watch_to_reconcile_seconds_bucket{le="0.001",kind="Disk"} 4
nno_watch_to_reconcile_seconds_bucket{le="0.002",kind="Disk"} 8
nno_watch_to_reconcile_seconds_bucket{le="+Inf",kind="Disk"} 10
nno_watch_to_reconcile_seconds_bucket{kind="VirtualMachine",le="0.001"} 6
nno_watch_to_reconcile_seconds_bucket{kind="VirtualMachine",le="0.002"} 10
nno_watch_to_reconcile_seconds_bucket{kind="VirtualMachine",le="+Inf"} 10
"#;

    #[test]
    fn sums_a_histogram_over_its_series() {
        let h = histogram(TEXT, "nno_watch_to_reconcile_seconds");
        assert_eq!(h, vec![(0.001, 10), (0.002, 18), (f64::INFINITY, 20)]);
    }

    #[test]
    fn quantiles_interpolate_inside_the_bucket() {
        let h = vec![(0.001, 10), (0.002, 18), (f64::INFINITY, 20)];
        assert_eq!(quantile(&h, 0.5), Some(0.001));
        let p80 = quantile(&h, 0.8).unwrap();
        assert!((p80 - 0.00175).abs() < 1e-9, "{p80}");
        assert_eq!(
            quantile(&h, 0.99),
            Some(0.002),
            "+Inf reports the last bound"
        );
        assert_eq!(quantile(&[(1.0, 0), (f64::INFINITY, 0)], 0.5), None);
    }

    #[test]
    fn differences_of_snapshots() {
        let a = vec![(0.001, 4), (f64::INFINITY, 5)];
        let b = vec![(0.001, 6), (f64::INFINITY, 9)];
        assert_eq!(
            histogram_between(&a, &b),
            vec![(0.001, 2), (f64::INFINITY, 4)]
        );
        let k = |p: &str| ("threenv".to_string(), "GET".to_string(), p.to_string());
        let before = Requests::from([(k("/a"), 3), (k("/b"), 1)]);
        let after = Requests::from([(k("/a"), 5), (k("/b"), 1), (k("/c"), 2)]);
        assert_eq!(
            requests_between(&before, &after),
            Requests::from([(k("/a"), 2), (k("/c"), 2)])
        );
    }
}
