//! Which differing fields get written and which are only reported, from the drift policy,
//! `ignoreChanges`, the write permission (Observe/paused) and the record of what was last applied.
//!
//! A field whose spec value is unchanged since the operator last wrote it, but whose cloud value
//! differs, drifted (someone changed the cloud); a field whose spec value changed is the user's
//! change. `Correct` writes both; `Report` writes only the user's changes; `ignoreChanges` fields
//! and create-only fields are never written after creation.

use std::collections::BTreeMap;

use crate::api::common::{CloudPolicies, DriftEntry, DriftPolicy};

use super::managed::{Field, Writable};

/// Annotation with the spec values the operator last wrote, per field (JSON object).
pub const APPLIED_ANNOTATION: &str = "nno.app/applied";

/// The outcome of planning one reconcile's writes.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Plan {
    /// Fields to write now.
    pub write: Vec<Field>,
    /// Paths among `write` that revert drift (not user changes), for events and metrics.
    pub corrections: Vec<&'static str>,
    /// Differences that stay, for `status.drift`.
    pub reported: Vec<DriftEntry>,
}

/// Plans the writes for `fields`.
pub fn plan(
    fields: &[Field],
    policies: &CloudPolicies,
    applied: &BTreeMap<String, String>,
    can_write: bool,
) -> Plan {
    let mut out = Plan::default();
    for f in fields.iter().filter(|f| f.differs()) {
        let user_change = applied.get(f.path).is_some_and(|last| *last != f.desired);
        let ignored = policies.ignore_changes.iter().any(|p| p == f.path);
        let write = can_write
            && !ignored
            && f.writable == Writable::Yes
            && (policies.drift_policy == DriftPolicy::Correct || user_change);
        if write {
            if !user_change {
                out.corrections.push(f.path);
            }
            out.write.push(f.clone());
        } else {
            out.reported.push(reported(f));
        }
    }
    out
}

/// The drift entries of fields that still differ after the writes (none of them being written).
pub fn remaining(fields: &[Field], pending: &[&str]) -> Vec<DriftEntry> {
    fields
        .iter()
        .filter(|f| f.differs() && !pending.contains(&f.path))
        .map(reported)
        .collect()
}

fn reported(f: &Field) -> DriftEntry {
    DriftEntry {
        field: f.path.to_owned(),
        desired: f.desired.clone(),
        observed: f.observed.clone(),
        action: "Reported".to_owned(),
    }
}

/// Reads the applied record from an object's annotations (an unreadable one counts as empty).
pub fn applied_record(annotations: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    annotations
        .get(APPLIED_ANNOTATION)
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default()
}

/// The applied record after writing `paths` with the desired values in `fields`.
pub fn record(
    mut applied: BTreeMap<String, String>,
    fields: &[Field],
    paths: &[&str],
) -> BTreeMap<String, String> {
    for f in fields.iter().filter(|f| paths.contains(&f.path)) {
        applied.insert(f.path.to_owned(), f.desired.clone());
    }
    applied
}

/// The record right after a create or adoption: every field's desired value.
pub fn record_all(fields: &[Field]) -> BTreeMap<String, String> {
    fields
        .iter()
        .map(|f| (f.path.to_owned(), f.desired.clone()))
        .collect()
}

/// The record right after a create: every field's desired value, except for fields the create
/// cannot set ([`Field::after_create`]) that still differ: their created value, so that writing them
/// counts as the user's change (also under `Report`).
pub fn record_created(fields: &[Field]) -> BTreeMap<String, String> {
    fields
        .iter()
        .map(|f| {
            let v = if f.after_create && f.differs() {
                &f.observed
            } else {
                &f.desired
            };
            (f.path.to_owned(), v.clone())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Vec<Field> {
        vec![
            Field::new("vcpu", 4, 2),
            Field::new("name", "web", "web"),
            Field::new("ramMb", 2048, 1024),
            Field::new("cloudInit", "{a}", "{b}").create_only(),
        ]
    }

    fn policies(drift: DriftPolicy, ignore: &[&str]) -> CloudPolicies {
        CloudPolicies {
            drift_policy: drift,
            ignore_changes: ignore.iter().map(|s| s.to_string()).collect(),
            ..CloudPolicies::default()
        }
    }

    fn applied(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn correct_writes_every_writable_difference() {
        let p = plan(
            &fields(),
            &policies(DriftPolicy::Correct, &[]),
            &applied(&[("vcpu", "4"), ("ramMb", "1024")]),
            true,
        );
        let w: Vec<_> = p.write.iter().map(|f| f.path).collect();
        assert_eq!(w, ["vcpu", "ramMb"]);
        // vcpu was applied as 4 and the cloud moved: a correction. ramMb is the user's change.
        assert_eq!(p.corrections, ["vcpu"]);
        assert_eq!(p.reported.len(), 1);
        assert_eq!(p.reported[0].field, "cloudInit");
    }

    #[test]
    fn report_writes_only_user_changes() {
        let p = plan(
            &fields(),
            &policies(DriftPolicy::Report, &[]),
            &applied(&[("vcpu", "4"), ("ramMb", "1024")]),
            true,
        );
        let w: Vec<_> = p.write.iter().map(|f| f.path).collect();
        assert_eq!(w, ["ramMb"]);
        assert!(p.corrections.is_empty());
        let r: Vec<_> = p.reported.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(r, ["vcpu", "cloudInit"]);
        assert!(p.reported.iter().all(|d| d.action == "Reported"));
        assert_eq!(
            (
                p.reported[0].desired.as_str(),
                p.reported[0].observed.as_str()
            ),
            ("4", "2")
        );
    }

    #[test]
    fn report_without_record_writes_nothing() {
        let p = plan(
            &fields(),
            &policies(DriftPolicy::Report, &[]),
            &BTreeMap::new(),
            true,
        );
        assert!(p.write.is_empty());
        assert_eq!(p.reported.len(), 3);
    }

    #[test]
    fn ignored_fields_and_no_write_permission() {
        let p = plan(
            &fields(),
            &policies(DriftPolicy::Correct, &["vcpu"]),
            &BTreeMap::new(),
            true,
        );
        assert_eq!(
            p.write.iter().map(|f| f.path).collect::<Vec<_>>(),
            ["ramMb"]
        );
        let p = plan(
            &fields(),
            &policies(DriftPolicy::Correct, &[]),
            &BTreeMap::new(),
            false,
        );
        assert!(p.write.is_empty());
        assert_eq!(p.reported.len(), 3);
    }

    #[test]
    fn what_a_create_could_not_set_is_a_user_change() {
        let mut f = fields();
        f[0] = f[0].clone().after_create();
        let created = record_created(&f);
        assert_eq!(created.get("name").map(String::as_str), Some("web"));
        assert_eq!(created.get("vcpu").map(String::as_str), Some("2"));
        assert_eq!(created.get("ramMb").map(String::as_str), Some("2048"));
        let p = plan(
            &f,
            &policies(DriftPolicy::Report, &["ramMb"]),
            &created,
            true,
        );
        let w: Vec<_> = p.write.iter().map(|f| f.path).collect();
        assert_eq!(w, ["vcpu"]);
        assert!(p.corrections.is_empty());
    }

    #[test]
    fn record_round_trip() {
        let f = fields();
        let all = record_all(&f);
        assert_eq!(all.get("vcpu").map(String::as_str), Some("4"));
        let mut ann = BTreeMap::new();
        ann.insert(
            APPLIED_ANNOTATION.to_owned(),
            serde_json::to_string(&all).unwrap(),
        );
        assert_eq!(applied_record(&ann), all);
        ann.insert(APPLIED_ANNOTATION.to_owned(), "{not json".to_owned());
        assert!(applied_record(&ann).is_empty());
        let after = record(BTreeMap::new(), &f, &["ramMb"]);
        assert_eq!(after.len(), 1);
        assert_eq!(after.get("ramMb").map(String::as_str), Some("2048"));
        assert_eq!(remaining(&f, &["vcpu"]).len(), 2);
    }
}
