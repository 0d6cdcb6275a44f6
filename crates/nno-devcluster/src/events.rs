//! Conversion between core/v1 Events (the stored form) and events.k8s.io/v1 Events, so both APIs see
//! the same objects, as on a real cluster: what a kube-rs `Recorder` publishes shows up in
//! `kubectl get events` and `kubectl describe`.

use serde_json::{Map, Value, json};

fn copy(from: &Value, to: &mut Map<String, Value>, src: &str, dst: &str) {
    if let Some(v) = from.get(src).filter(|v| !v.is_null()) {
        to.insert(dst.to_string(), v.clone());
    }
}

/// events.k8s.io/v1 → core/v1.
pub fn to_core(ev: &Value) -> Value {
    let mut m = Map::new();
    m.insert("apiVersion".into(), json!("v1"));
    m.insert("kind".into(), json!("Event"));
    for (src, dst) in [
        ("metadata", "metadata"),
        ("regarding", "involvedObject"),
        ("note", "message"),
        ("reason", "reason"),
        ("type", "type"),
        ("action", "action"),
        ("related", "related"),
        ("reportingController", "reportingComponent"),
        ("reportingInstance", "reportingInstance"),
        ("eventTime", "eventTime"),
        ("series", "series"),
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
        ("deprecatedCount", "count"),
        ("deprecatedSource", "source"),
    ] {
        copy(ev, &mut m, src, dst);
    }
    if !m.contains_key("source") {
        let mut source = Map::new();
        copy(ev, &mut source, "reportingController", "component");
        copy(ev, &mut source, "reportingInstance", "host");
        m.insert("source".into(), Value::Object(source));
    }
    Value::Object(m)
}

/// core/v1 → events.k8s.io/v1.
pub fn from_core(ev: &Value) -> Value {
    let mut m = Map::new();
    m.insert("apiVersion".into(), json!("events.k8s.io/v1"));
    m.insert("kind".into(), json!("Event"));
    for (src, dst) in [
        ("metadata", "metadata"),
        ("involvedObject", "regarding"),
        ("message", "note"),
        ("reason", "reason"),
        ("type", "type"),
        ("action", "action"),
        ("related", "related"),
        ("reportingInstance", "reportingInstance"),
        ("eventTime", "eventTime"),
        ("series", "series"),
        ("firstTimestamp", "deprecatedFirstTimestamp"),
        ("lastTimestamp", "deprecatedLastTimestamp"),
        ("count", "deprecatedCount"),
        ("source", "deprecatedSource"),
    ] {
        copy(ev, &mut m, src, dst);
    }
    let controller = ev
        .get("reportingComponent")
        .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
        .or_else(|| ev["source"].get("component"))
        .cloned();
    if let Some(c) = controller {
        m.insert("reportingController".into(), c);
    }
    Value::Object(m)
}

/// A core Event as the table printer shows it: `lastTimestamp` falls back to the series' last
/// observation or `eventTime`, and `involvedObject.kindName` is `kind/name` (kind lower-cased).
pub fn for_table(ev: &Value) -> Value {
    let mut e = ev.clone();
    if e["lastTimestamp"].is_null() {
        let last = ev["series"]["lastObservedTime"]
            .as_str()
            .or_else(|| ev["eventTime"].as_str())
            .or_else(|| ev["firstTimestamp"].as_str());
        if let (Some(t), Some(m)) = (last, e.as_object_mut()) {
            m.insert("lastTimestamp".into(), json!(t));
        }
    }
    let kind = ev["involvedObject"]["kind"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    let name = ev["involvedObject"]["name"].as_str().unwrap_or_default();
    if let Some(io) = e.get_mut("involvedObject").and_then(Value::as_object_mut) {
        io.insert("kindName".into(), json!(format!("{kind}/{name}")));
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let v1 = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "regarding": {"kind": "Pod", "name": "p"}, "note": "hello", "reason": "Started", "type": "Normal",
            "action": "Start", "reportingController": "ctl", "reportingInstance": "ctl-1",
            "eventTime": "2026-01-01T00:00:00.000000Z"});
        let core = to_core(&v1);
        assert_eq!(core["involvedObject"]["name"], "p");
        assert_eq!(core["message"], "hello");
        assert_eq!(core["source"]["component"], "ctl");
        let back = from_core(&core);
        for k in [
            "regarding",
            "note",
            "reason",
            "type",
            "action",
            "reportingController",
            "reportingInstance",
            "eventTime",
        ] {
            assert_eq!(back[k], v1[k], "{k}");
        }
    }
}
