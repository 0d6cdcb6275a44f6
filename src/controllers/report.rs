//! Writing what a reconcile concluded back to Kubernetes: status by server-side apply under the
//! operator's one field manager (skipped when nothing changed), annotation patches, and Events.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::api::common::{CommonStatus, Condition, DriftEntry};

use super::FIELD_MANAGER;
use super::conditions::{self, Verdict};

/// The object's current `status` as JSON (an empty object when it has none).
pub fn current_status<K: Serialize>(obj: &K) -> Map<String, Value> {
    serde_json::to_value(obj)
        .ok()
        .and_then(|mut v| v.get_mut("status").map(Value::take))
        .and_then(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default()
}

/// The current conditions of a status map.
pub fn current_conditions(status: &Map<String, Value>) -> Vec<Condition> {
    status
        .get("conditions")
        .and_then(|c| serde_json::from_value(c.clone()).ok())
        .unwrap_or_default()
}

/// A complete status: `kind_fields` (or, when `None`, the kind's fields already in `current`),
/// plus conditions from `verdict`, observedGeneration, externalId and drift.
pub fn compose(
    current: &Map<String, Value>,
    kind_fields: Option<Value>,
    verdict: &Verdict,
    generation: Option<i64>,
    external_id: Option<String>,
    drift: Vec<DriftEntry>,
) -> Map<String, Value> {
    let mut status = match kind_fields {
        Some(Value::Object(m)) => m,
        _ => current.clone(),
    };
    for key in ["conditions", "observedGeneration", "externalId", "drift"] {
        status.remove(key);
    }
    let now = Time(Timestamp::now());
    let common = CommonStatus {
        conditions: conditions::build(&current_conditions(current), verdict, generation, &now),
        observed_generation: generation,
        external_id: external_id.or_else(|| {
            current
                .get("externalId")
                .and_then(Value::as_str)
                .map(str::to_owned)
        }),
    };
    if let Ok(Value::Object(m)) = serde_json::to_value(&common) {
        status.extend(m);
    }
    if !drift.is_empty() {
        status.insert("drift".into(), json!(drift));
    }
    status
}

/// Applies `status` unless it equals `current`. Returns whether a write happened.
pub async fn write_status<K>(
    api: &Api<K>,
    name: &str,
    current: &Map<String, Value>,
    status: Map<String, Value>,
) -> Result<bool, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    if *current == status {
        return Ok(false);
    }
    let body = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(body),
    )
    .await?;
    Ok(true)
}

/// Annotation changes: `Some` sets, `None` removes.
pub type AnnotationChanges = BTreeMap<String, Option<String>>;

/// Applies `changes` (sets that differ from `obj`'s annotations, and every removal) with one merge patch.
pub async fn patch_annotations<K>(
    api: &Api<K>,
    obj: &K,
    changes: &AnnotationChanges,
) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    let current = obj.annotations();
    // Removals always go out: the caller may have set the key since `obj` was read.
    let effective: Map<String, Value> = changes
        .iter()
        .filter(|(k, v)| v.is_none() || current.get(*k) != v.as_ref())
        .map(|(k, v)| (k.clone(), v.clone().map_or(Value::Null, Value::String)))
        .collect();
    if effective.is_empty() {
        return Ok(());
    }
    let patch = json!({"metadata": {"annotations": effective}});
    api.patch(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(patch),
    )
    .await?;
    Ok(())
}

/// Publishes an Event about `obj`; a failure is logged, never fails the reconcile.
pub async fn event<K: Resource<DynamicType = ()>>(
    recorder: &Recorder,
    obj: &K,
    warning: bool,
    reason: &str,
    action: &str,
    note: String,
) {
    let ev = Event {
        type_: if warning {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: reason.to_owned(),
        note: Some(note),
        action: action.to_owned(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&ev, &obj.object_ref(&())).await {
        tracing::warn!(error = %e, reason, "publishing an event failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::conditions::State;

    fn verdict() -> Verdict {
        Verdict {
            synced: State::yes("ReconcileSuccess", ""),
            ready: State::yes("Available", ""),
            stalled: false,
        }
    }

    #[test]
    fn compose_keeps_kind_fields_and_replaces_common_ones() {
        let current: Map<String, Value> = serde_json::from_value(json!({
            "state": "running",
            "externalId": "abc",
            "drift": [{"field": "vcpu"}],
            "observedGeneration": 1
        }))
        .unwrap();
        let s = compose(&current, None, &verdict(), Some(2), None, vec![]);
        assert_eq!(s["state"], "running");
        assert_eq!(s["externalId"], "abc");
        assert_eq!(s["observedGeneration"], 2);
        assert!(!s.contains_key("drift"));
        let s2 = compose(
            &current,
            Some(json!({"state": "stopped"})),
            &verdict(),
            Some(2),
            Some("xyz".into()),
            vec![],
        );
        assert_eq!(s2["state"], "stopped");
        assert_eq!(s2["externalId"], "xyz");
        // Composing again from the result is stable (no spurious writes).
        let again = compose(
            &s2,
            Some(json!({"state": "stopped"})),
            &verdict(),
            Some(2),
            None,
            vec![],
        );
        assert_eq!(again, s2);
    }
}
