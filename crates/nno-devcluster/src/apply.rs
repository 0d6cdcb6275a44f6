//! Server-side apply and `metadata.managedFields`: field ownership per manager (lists are atomic),
//! conflict detection against other managers, removal of fields a manager stopped applying, and
//! ownership updates for ordinary writes.

use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

type Path = Vec<String>;
type FieldSet = BTreeSet<Path>;

/// Fields another manager owns with a different value: (the manager as the API server prints it,
/// e.g. `"kubectl" using v1 at 2026-01-01T00:00:00Z`, the field path without its leading dot).
#[derive(Debug, thiserror::Error)]
#[error("{}", render(.0))]
pub struct Conflicts(pub Vec<(String, String)>);

impl Conflicts {
    /// One `FieldManagerConflict` cause per field, as in the API server's 409 `details.causes`.
    pub fn causes(&self) -> Vec<Value> {
        self.0
            .iter()
            .map(|(m, p)| {
                json!({"reason": "FieldManagerConflict", "message": format!("conflict with {m}"), "field": format!(".{p}")})
            })
            .collect()
    }
}

/// The API server's message: one conflict inline, several grouped by (sorted) manager.
fn render(c: &[(String, String)]) -> String {
    if let [(m, p)] = c {
        return format!("Apply failed with 1 conflict: conflict with {m}: .{p}");
    }
    let mut lines = Vec::new();
    let mut last = None;
    for (m, p) in c {
        if last != Some(m) {
            lines.push(format!("conflicts with {m}:"));
            last = Some(m);
        }
        lines.push(format!("- .{p}"));
    }
    format!(
        "Apply failed with {} conflicts: {}",
        c.len(),
        lines.join("\n")
    )
}

/// A manager as the API server names it in conflicts (`printManager`).
fn print_manager(e: &Entry) -> String {
    let mut s = serde_json::to_string(&e.manager).unwrap_or_default();
    if let Some(sub) = &e.subresource {
        s.push_str(&format!(" with subresource \"{sub}\""));
    }
    if e.operation == "Update" {
        s.push_str(&format!(" using {}", e.api_version));
        if !e.time.is_empty() {
            s.push_str(&format!(" at {}", e.time));
        }
    }
    s
}

/// Which endpoint a write came through; decides which fields may be owned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The main endpoint of a kind without a status subresource: everything.
    All,
    /// The main endpoint of a kind with a status subresource: everything but `status`.
    Main,
    /// The `/status` subresource: only `status`.
    Status,
}

#[derive(Debug, Clone)]
struct Entry {
    manager: String,
    operation: String,
    subresource: Option<String>,
    api_version: String,
    time: String,
    fields: FieldSet,
}

fn ignored(path: &[String], scope: Scope) -> bool {
    let Some(first) = path.first() else {
        return true;
    };
    match first.as_str() {
        "apiVersion" | "kind" => return true,
        "metadata" => {
            if matches!(
                path.get(1).map(String::as_str),
                Some(
                    "name"
                        | "namespace"
                        | "uid"
                        | "resourceVersion"
                        | "generation"
                        | "creationTimestamp"
                        | "managedFields"
                        | "deletionTimestamp"
                        | "deletionGracePeriodSeconds"
                        | "selfLink"
                ) | None
            ) {
                return true;
            }
        }
        _ => {}
    }
    match scope {
        Scope::All => false,
        Scope::Main => first == "status",
        Scope::Status => first != "status",
    }
}

fn leaves(v: &Value, prefix: &mut Path, out: &mut FieldSet, scope: Scope) {
    match v {
        // Maps are granular: an empty map owns nothing (and conflicts with nothing).
        Value::Object(m) => {
            for (k, child) in m {
                prefix.push(k.clone());
                leaves(child, prefix, out, scope);
                prefix.pop();
            }
        }
        _ => {
            if !ignored(prefix, scope) {
                out.insert(prefix.clone());
            }
        }
    }
}

fn field_set(v: &Value, scope: Scope) -> FieldSet {
    let mut out = FieldSet::new();
    leaves(v, &mut Vec::new(), &mut out, scope);
    out
}

fn at<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn remove_at(v: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for k in parents {
        match cur.get_mut(k) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Some(m) = cur.as_object_mut() {
        m.remove(last);
    }
}

fn encode(fields: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in fields {
        let mut cur = &mut root;
        for k in path {
            let next = cur.entry(format!("f:{k}")).or_insert_with(|| json!({}));
            match next.as_object_mut() {
                Some(m) => cur = m,
                None => break,
            }
        }
    }
    Value::Object(root)
}

fn decode(v: &Value, prefix: &mut Path, out: &mut FieldSet) {
    let fields: Vec<(&String, &Value)> = v
        .as_object()
        .map(|m| m.iter().filter(|(k, _)| k.starts_with("f:")).collect())
        .unwrap_or_default();
    if fields.is_empty() {
        if !prefix.is_empty() {
            out.insert(prefix.clone());
        }
        return;
    }
    for (k, child) in fields {
        prefix.push(k[2..].to_string());
        decode(child, prefix, out);
        prefix.pop();
    }
}

fn read_entries(obj: &Value) -> Vec<Entry> {
    obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let mut fields = FieldSet::new();
            decode(&e["fieldsV1"], &mut Vec::new(), &mut fields);
            Entry {
                manager: e["manager"].as_str().unwrap_or_default().into(),
                operation: e["operation"].as_str().unwrap_or("Update").into(),
                subresource: e["subresource"].as_str().map(String::from),
                api_version: e["apiVersion"].as_str().unwrap_or_default().into(),
                time: e["time"].as_str().unwrap_or_default().into(),
                fields,
            }
        })
        .collect()
}

fn write_entries(obj: &mut Value, entries: Vec<Entry>) {
    let list: Vec<Value> = entries
        .into_iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager, "operation": e.operation, "apiVersion": e.api_version,
                "time": e.time, "fieldsType": "FieldsV1", "fieldsV1": encode(&e.fields),
            });
            if let Some(s) = e.subresource {
                v["subresource"] = json!(s);
            }
            v
        })
        .collect();
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if list.is_empty() {
            m.remove("managedFields");
        } else {
            m.insert("managedFields".into(), Value::Array(list));
        }
    }
}

fn overlaps(a: &[String], b: &[String]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

fn deep_merge(target: &mut Value, applied: &Value) {
    match (target.as_object_mut(), applied.as_object()) {
        (Some(t), Some(a)) => {
            for (k, v) in a {
                match t.get_mut(k) {
                    Some(cur) if cur.is_object() && v.is_object() => deep_merge(cur, v),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        _ => *target = applied.clone(),
    }
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn sub_name(scope: Scope) -> Option<String> {
    (scope == Scope::Status).then(|| "status".to_string())
}

/// Applies `applied` for `manager` onto `live` (None = create). Returns the merged object with updated
/// managedFields; the caller still enforces identity, status isolation and validation.
pub fn server_side_apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    scope: Scope,
    api_version: &str,
) -> Result<Value, Conflicts> {
    let base = live.cloned().unwrap_or_else(|| json!({"metadata": {}}));
    let mut entries = read_entries(&base);
    let new_set = field_set(applied, scope);
    let sub = sub_name(scope);
    let is_mine =
        |e: &Entry| e.manager == manager && e.operation == "Apply" && e.subresource == sub;

    let mut conflicts = Vec::new();
    let mut taken: Vec<(usize, Path)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if is_mine(e) {
            continue;
        }
        for owned in &e.fields {
            for p in new_set.iter().filter(|p| overlaps(p, owned)) {
                let shorter = if p.len() <= owned.len() { p } else { owned };
                if at(&base, shorter) != at(applied, shorter) {
                    conflicts.push((print_manager(e), shorter.join(".")));
                    taken.push((i, owned.clone()));
                }
            }
        }
    }
    if !conflicts.is_empty() && !force {
        conflicts.sort();
        conflicts.dedup();
        return Err(Conflicts(conflicts));
    }
    for (i, p) in taken {
        entries[i].fields.remove(&p);
    }

    let mut out = base.clone();
    let prev: FieldSet = entries
        .iter()
        .filter(|e| is_mine(e))
        .flat_map(|e| e.fields.clone())
        .collect();
    for gone in prev.difference(&new_set) {
        let owned_elsewhere = entries
            .iter()
            .any(|e| !is_mine(e) && e.fields.iter().any(|p| overlaps(p, gone)));
        if !owned_elsewhere && !new_set.iter().any(|p| p.starts_with(gone)) {
            remove_at(&mut out, gone);
        }
    }
    let mut applied_clean = applied.clone();
    if let Some(m) = applied_clean
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
    {
        m.remove("managedFields");
        m.remove("resourceVersion");
    }
    deep_merge(&mut out, &applied_clean);
    entries.retain(|e| !is_mine(e));
    entries.push(Entry {
        manager: manager.into(),
        operation: "Apply".into(),
        subresource: sub,
        api_version: api_version.into(),
        time: now(),
        fields: new_set,
    });
    write_entries(&mut out, entries);
    Ok(out)
}

/// Records an ordinary (non-apply) write by `manager`: it takes ownership of every field it changed.
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    scope: Scope,
    api_version: &str,
) {
    let mut entries = old.map(read_entries).unwrap_or_default();
    let new_set = field_set(new, scope);
    let changed: FieldSet = match old {
        Some(o) => new_set
            .iter()
            .filter(|p| at(o, p) != at(new, p))
            .cloned()
            .collect(),
        None => new_set.clone(),
    };
    let removed: FieldSet = old
        .map(|o| field_set(o, scope).difference(&new_set).cloned().collect())
        .unwrap_or_default();
    if changed.is_empty() && removed.is_empty() {
        if let Some(o) = old {
            write_entries(new, read_entries(o));
        }
        return;
    }
    let sub = sub_name(scope);
    for e in entries.iter_mut() {
        e.fields
            .retain(|p| !changed.contains(p) && !removed.contains(p));
    }
    match entries
        .iter_mut()
        .find(|e| e.manager == manager && e.operation == "Update" && e.subresource == sub)
    {
        Some(e) => {
            e.fields.extend(changed);
            e.time = now();
            e.api_version = api_version.into();
        }
        None => entries.push(Entry {
            manager: manager.into(),
            operation: "Update".into(),
            subresource: sub,
            api_version: api_version.into(),
            time: now(),
            fields: changed,
        }),
    }
    write_entries(new, entries);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_owns_removes_and_conflicts() {
        let a1 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"x": "1"}},
            "data": {"a": "1", "b": "2"}});
        let o1 = server_side_apply(None, &a1, "m1", false, Scope::All, "v1").unwrap();
        assert_eq!(o1["data"]["b"], "2");
        let a2 = json!({"metadata": {"name": "c"}, "data": {"a": "1"}});
        let o2 = server_side_apply(Some(&o1), &a2, "m1", false, Scope::All, "v1").unwrap();
        assert!(
            o2["data"].get("b").is_none(),
            "field no longer applied is removed"
        );
        assert!(
            o2["metadata"]
                .get("labels")
                .is_none_or(|l| l.get("x").is_none())
        );
        let a3 = json!({"metadata": {"name": "c"}, "data": {"a": "other"}});
        let err = server_side_apply(Some(&o2), &a3, "m2", false, Scope::All, "v1").unwrap_err();
        assert_eq!(err.0, vec![("\"m1\"".to_string(), "data.a".to_string())]);
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"m1\": .data.a"
        );
        assert_eq!(
            err.causes(),
            vec![
                json!({"reason": "FieldManagerConflict", "message": "conflict with \"m1\"", "field": ".data.a"})
            ]
        );
        let o3 = server_side_apply(Some(&o2), &a3, "m2", true, Scope::All, "v1").unwrap();
        assert_eq!(o3["data"]["a"], "other");
        let same = server_side_apply(Some(&o2), &a2, "m3", false, Scope::All, "v1").unwrap();
        assert_eq!(
            same["metadata"]["managedFields"].as_array().unwrap().len(),
            2,
            "shared ownership"
        );
    }

    #[test]
    fn update_takes_changed_fields() {
        let old = json!({"metadata": {"name": "c"}, "data": {"a": "1"}});
        let mut first = old.clone();
        record_update(None, &mut first, "kubectl", Scope::All, "v1");
        let mut new = first.clone();
        new["data"]["a"] = json!("2");
        record_update(Some(&first), &mut new, "other", Scope::All, "v1");
        let mf = new["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(mf.len(), 1);
        assert_eq!(mf[0]["manager"], "other");
    }
}
