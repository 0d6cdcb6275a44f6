//! Convergence planning: from a Platform's spec and its recorded status, the changes (one NNO job
//! each) still needed, the removals the API cannot do, and applying a completed job to the status.

use std::collections::BTreeSet;

use crate::api::platform::{
    AppState, DomainState, FeatureState, JobStatus, PlatformSpec, PlatformStatus, StackState,
};
use crate::cloud::nno::Job;

/// The operations this controller submits, as recorded in `status.jobs[].operation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    Provision,
    Onboard,
    FeatureActivate,
    FeatureDeactivate,
    StackActivate,
    StackDeactivate,
    AppCreate,
    DomainAdd,
    AuthUpgrade,
    Deprovision,
}

impl Op {
    pub const ALL: [Op; 10] = [
        Op::Provision,
        Op::Onboard,
        Op::FeatureActivate,
        Op::FeatureDeactivate,
        Op::StackActivate,
        Op::StackDeactivate,
        Op::AppCreate,
        Op::DomainAdd,
        Op::AuthUpgrade,
        Op::Deprovision,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Provision => "provision",
            Op::Onboard => "onboard",
            Op::FeatureActivate => "feature.activate",
            Op::FeatureDeactivate => "feature.deactivate",
            Op::StackActivate => "stack.activate",
            Op::StackDeactivate => "stack.deactivate",
            Op::AppCreate => "app.create",
            Op::DomainAdd => "domain.add",
            Op::AuthUpgrade => "auth.upgrade",
            Op::Deprovision => "deprovision",
        }
    }

    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// The job `type` the service reports for this operation.
    pub fn job_type(self) -> &'static str {
        match self {
            Op::Provision => "platform.provision",
            Op::Onboard => "platform.onboard",
            Op::Deprovision => "platform.deprovision",
            other => other.as_str(),
        }
    }

    /// Jobs on the same resource never run at once (a deactivation waits for an activation).
    fn family(self) -> &'static str {
        match self {
            Op::Provision | Op::Onboard | Op::Deprovision => "platform",
            Op::FeatureActivate | Op::FeatureDeactivate => "feature",
            Op::StackActivate | Op::StackDeactivate => "stack",
            Op::AppCreate => "app",
            Op::DomainAdd => "domain",
            Op::AuthUpgrade => "auth",
        }
    }
}

/// One change to the platform: one job.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    pub op: Op,
    /// Feature `entity/feature`, stack id, app name, host name; empty for platform-wide jobs.
    pub target: String,
    /// Feature or stack version, stack instance id, auth worker revision.
    pub detail: Option<String>,
}

impl Change {
    fn new(op: Op, target: impl Into<String>, detail: Option<String>) -> Self {
        Self {
            op,
            target: target.into(),
            detail,
        }
    }

    /// Whether `job` records this change.
    pub fn matches(&self, job: &JobStatus) -> bool {
        job.operation == self.op.as_str() && job.target == self.target && job.detail == self.detail
    }

    /// The resource the change acts on (see [`Op::family`]).
    pub fn resource(&self) -> (&'static str, &str) {
        (self.op.family(), self.target.as_str())
    }

    pub fn describe(&self) -> String {
        let mut s = self.op.as_str().to_owned();
        if !self.target.is_empty() {
            s.push(' ');
            s.push_str(&self.target);
        }
        if let Some(d) = &self.detail {
            s.push_str(&format!(" ({d})"));
        }
        s
    }
}

/// The resource of a recorded job.
pub fn job_resource(job: &JobStatus) -> Option<(&'static str, &str)> {
    Op::parse(&job.operation).map(|op| (op.family(), job.target.as_str()))
}

/// What the spec still asks for.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Changes that wait for another one (an app for its stack).
    pub waiting: Vec<String>,
    /// Apps and domains removed from the spec that the API cannot delete.
    pub unremovable: Vec<String>,
}

pub const ACTIVE: &str = "Active";

/// The entity a feature is activated for.
pub fn feature_entity(spec: &PlatformSpec, i: usize) -> Result<String, String> {
    let f = &spec.features[i];
    f.entity_id
        .clone()
        .or_else(|| spec.default_entity_id.clone())
        .ok_or_else(|| {
            format!(
                "spec.features[{i}] ({}) names no entityId and spec.defaultEntityId is not set",
                f.feature_id
            )
        })
}

fn feature_key(entity: &str, feature: &str) -> String {
    format!("{entity}/{feature}")
}

/// The changes that bring the recorded state to the spec. `Err` is an invalid spec.
pub fn plan(spec: &PlatformSpec, status: &PlatformStatus) -> Result<Plan, String> {
    let mut p = Plan::default();
    if status.common.external_id.is_none() {
        let op = if spec.onboarding.is_some() {
            Op::Onboard
        } else {
            Op::Provision
        };
        p.changes.push(Change::new(op, "", None));
        return Ok(p);
    }
    // Features, by entity/feature.
    let mut wanted = BTreeSet::new();
    for (i, f) in spec.features.iter().enumerate() {
        let key = feature_key(&feature_entity(spec, i)?, &f.feature_id);
        if !wanted.insert(key.clone()) {
            return Err(format!(
                "spec.features lists {key} twice; give each feature once"
            ));
        }
        let done = status.features.iter().any(|s| {
            feature_key(&s.entity_id, &s.feature_id) == key
                && s.feature_version == f.feature_version
                && s.state == ACTIVE
        });
        if !done {
            p.changes.push(Change::new(
                Op::FeatureActivate,
                key,
                Some(f.feature_version.clone()),
            ));
        }
    }
    for s in &status.features {
        let key = feature_key(&s.entity_id, &s.feature_id);
        if !wanted.contains(&key) && s.state != "Failed" {
            p.changes
                .push(Change::new(Op::FeatureDeactivate, key, None));
        }
    }
    // Stacks, by id and version: a new version is a new instance, the old one is deactivated.
    let mut stack_seen = BTreeSet::new();
    for s in &spec.stacks {
        if !stack_seen.insert(s.stack_id.clone()) {
            return Err(format!(
                "spec.stacks lists stack {:?} twice; give each stack once",
                s.stack_id
            ));
        }
        let done = status.stacks.iter().any(|x| {
            x.stack_id == s.stack_id && x.stack_version == s.stack_version && x.state == ACTIVE
        });
        if !done {
            p.changes.push(Change::new(
                Op::StackActivate,
                s.stack_id.clone(),
                Some(s.stack_version.clone()),
            ));
        }
    }
    for x in &status.stacks {
        let desired = spec
            .stacks
            .iter()
            .any(|s| s.stack_id == x.stack_id && s.stack_version == x.stack_version);
        if !desired && let Some(instance) = &x.stack_instance_id {
            p.changes.push(Change::new(
                Op::StackDeactivate,
                x.stack_id.clone(),
                Some(instance.clone()),
            ));
        }
    }
    // Apps wait for their stack when the spec activates it.
    for a in &spec.apps {
        if status
            .apps
            .iter()
            .any(|x| x.app_name == a.app_name && x.state == "Created")
        {
            continue;
        }
        let stack_pending = spec.stacks.iter().any(|s| s.stack_id == a.stack_id)
            && !status
                .stacks
                .iter()
                .any(|x| x.stack_id == a.stack_id && x.state == ACTIVE);
        if stack_pending {
            p.waiting
                .push(format!("app {} waits for stack {}", a.app_name, a.stack_id));
        } else {
            p.changes
                .push(Change::new(Op::AppCreate, a.app_name.clone(), None));
        }
    }
    for x in &status.apps {
        if x.state == "Created" && !spec.apps.iter().any(|a| a.app_name == x.app_name) {
            p.unremovable.push(format!("app {}", x.app_name));
        }
    }
    for d in &spec.domains {
        if !status
            .domains
            .iter()
            .any(|x| x.custom_hostname == d.custom_hostname && x.state == "Added")
        {
            p.changes
                .push(Change::new(Op::DomainAdd, d.custom_hostname.clone(), None));
        }
    }
    for x in &status.domains {
        if x.state == "Added"
            && !spec
                .domains
                .iter()
                .any(|d| d.custom_hostname == x.custom_hostname)
        {
            p.unremovable.push(format!("domain {}", x.custom_hostname));
        }
    }
    if let (Some(want), Some(have)) = (
        spec.auth_worker.as_ref().map(|a| a.revision),
        status.auth_worker_revision,
    ) && want > have
    {
        p.changes
            .push(Change::new(Op::AuthUpgrade, "", Some(want.to_string())));
    }
    Ok(p)
}

/// Shows a change in the per-item status lists while its job runs (`Activating`, ...), or
/// `Failed` once the operator gave up on it.
pub fn mark(status: &mut PlatformStatus, job: &JobStatus, state: &str) {
    let Some(op) = Op::parse(&job.operation) else {
        return;
    };
    let detail = job.detail.clone().unwrap_or_default();
    match op {
        Op::FeatureActivate | Op::FeatureDeactivate => {
            let (entity, feature) = job.target.split_once('/').unwrap_or(("", &job.target));
            let version = if op == Op::FeatureActivate {
                detail
            } else {
                status
                    .features
                    .iter()
                    .find(|f| f.entity_id == entity && f.feature_id == feature)
                    .map(|f| f.feature_version.clone())
                    .unwrap_or_default()
            };
            status
                .features
                .retain(|f| !(f.entity_id == entity && f.feature_id == feature));
            status.features.push(FeatureState {
                entity_id: entity.to_owned(),
                feature_id: feature.to_owned(),
                feature_version: version,
                state: state.to_owned(),
            });
        }
        Op::StackActivate => {
            let existing = status
                .stacks
                .iter_mut()
                .find(|s| s.stack_id == job.target && s.stack_version == detail);
            match existing {
                Some(s) => s.state = state.to_owned(),
                None => status.stacks.push(StackState {
                    stack_id: job.target.clone(),
                    stack_version: detail,
                    entity_id: None,
                    stack_instance_id: None,
                    state: state.to_owned(),
                }),
            }
        }
        Op::StackDeactivate => {
            for s in &mut status.stacks {
                if s.stack_instance_id.as_deref() == Some(detail.as_str()) {
                    s.state = state.to_owned();
                }
            }
        }
        Op::AppCreate => upsert_app(status, &job.target, state),
        Op::DomainAdd => upsert_domain(status, &job.target, state),
        Op::Provision | Op::Onboard | Op::AuthUpgrade | Op::Deprovision => {}
    }
}

fn upsert_app(status: &mut PlatformStatus, name: &str, state: &str) {
    match status.apps.iter_mut().find(|a| a.app_name == name) {
        Some(a) => a.state = state.to_owned(),
        None => status.apps.push(AppState {
            app_name: name.to_owned(),
            stack_id: String::new(),
            state: state.to_owned(),
        }),
    }
}

fn upsert_domain(status: &mut PlatformStatus, host: &str, state: &str) {
    match status
        .domains
        .iter_mut()
        .find(|d| d.custom_hostname == host)
    {
        Some(d) => d.state = state.to_owned(),
        None => status.domains.push(DomainState {
            custom_hostname: host.to_owned(),
            state: state.to_owned(),
        }),
    }
}

/// Records what a COMPLETED job achieved.
pub fn complete(spec: &PlatformSpec, status: &mut PlatformStatus, rec: &JobStatus, job: &Job) {
    let Some(op) = Op::parse(&rec.operation) else {
        return;
    };
    match op {
        Op::Provision | Op::Onboard => {
            let id = job
                .result
                .as_ref()
                .and_then(|r| r.get("platformId"))
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .unwrap_or_else(|| spec.platform_id.clone());
            status.common.external_id = Some(id);
            // A new platform runs the current auth worker: the spec's revision is the baseline.
            status.auth_worker_revision = Some(spec.auth_worker.as_ref().map_or(0, |a| a.revision));
        }
        Op::FeatureActivate => mark(status, rec, ACTIVE),
        Op::FeatureDeactivate => {
            let (entity, feature) = rec.target.split_once('/').unwrap_or(("", &rec.target));
            status
                .features
                .retain(|f| !(f.entity_id == entity && f.feature_id == feature));
        }
        Op::StackActivate => {
            mark(status, rec, ACTIVE);
            let version = rec.detail.clone().unwrap_or_default();
            let entity = spec
                .stacks
                .iter()
                .find(|s| s.stack_id == rec.target)
                .and_then(|s| s.entity_id.clone());
            if let Some(s) = status
                .stacks
                .iter_mut()
                .find(|s| s.stack_id == rec.target && s.stack_version == version)
            {
                s.stack_instance_id = job.stack_instance_id().map(str::to_owned);
                s.entity_id = entity;
            }
        }
        Op::StackDeactivate => {
            let instance = rec.detail.as_deref();
            status
                .stacks
                .retain(|s| s.stack_instance_id.as_deref() != instance);
        }
        Op::AppCreate => {
            upsert_app(status, &rec.target, "Created");
            if let Some(a) = status.apps.iter_mut().find(|a| a.app_name == rec.target) {
                a.stack_id = spec
                    .apps
                    .iter()
                    .find(|x| x.app_name == rec.target)
                    .map(|x| x.stack_id.clone())
                    .unwrap_or_default();
            }
        }
        Op::DomainAdd => upsert_domain(status, &rec.target, "Added"),
        Op::AuthUpgrade => {
            if let Some(r) = rec.detail.as_deref().and_then(|d| d.parse().ok()) {
                status.auth_worker_revision = Some(r);
            }
        }
        Op::Deprovision => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::platform::{
        AuthWorker, PlatformApp, PlatformDomain, PlatformFeature, PlatformStack,
    };

    fn spec() -> PlatformSpec {
        serde_json::from_value(serde_json::json!({
            "platformId": "p", "planTier": "growth", "billingEmail": "b@x.example",
            "defaultEntityId": "ent",
        }))
        .unwrap()
    }

    fn provisioned() -> PlatformStatus {
        let mut s = PlatformStatus::default();
        s.common.external_id = Some("p".into());
        s.auth_worker_revision = Some(0);
        s
    }

    #[test]
    fn nothing_but_provisioning_before_the_platform_exists() {
        let mut sp = spec();
        sp.features.push(PlatformFeature {
            feature_id: "billing".into(),
            feature_version: "1".into(),
            entity_id: None,
        });
        let p = plan(&sp, &PlatformStatus::default()).unwrap();
        assert_eq!(p.changes, vec![Change::new(Op::Provision, "", None)]);
        sp.onboarding = Some(Default::default());
        assert_eq!(
            plan(&sp, &PlatformStatus::default()).unwrap().changes[0].op,
            Op::Onboard
        );
    }

    #[test]
    fn every_kind_of_change_and_its_completion() {
        let mut sp = spec();
        sp.features.push(PlatformFeature {
            feature_id: "billing".into(),
            feature_version: "1".into(),
            entity_id: None,
        });
        sp.stacks.push(PlatformStack {
            stack_id: "crm".into(),
            stack_version: "2".into(),
            entity_id: None,
        });
        sp.apps.push(PlatformApp {
            app_name: "web".into(),
            stack_id: "crm".into(),
            ..Default::default()
        });
        sp.domains.push(PlatformDomain {
            custom_hostname: "a.example".into(),
            target_dns_record_id: "r".into(),
        });
        sp.auth_worker = Some(AuthWorker { revision: 1 });
        let mut st = provisioned();
        let p = plan(&sp, &st).unwrap();
        let ops: Vec<Op> = p.changes.iter().map(|c| c.op).collect();
        assert_eq!(
            ops,
            vec![
                Op::FeatureActivate,
                Op::StackActivate,
                Op::DomainAdd,
                Op::AuthUpgrade
            ]
        );
        assert_eq!(p.waiting, vec!["app web waits for stack crm".to_owned()]);
        let job: Job = serde_json::from_value(serde_json::json!({
            "jobId": "j", "status": "COMPLETED", "result": {"stackInstanceId": "si_1"}
        }))
        .unwrap();
        for c in &p.changes {
            let rec = JobStatus {
                operation: c.op.as_str().into(),
                target: c.target.clone(),
                detail: c.detail.clone(),
                ..Default::default()
            };
            complete(&sp, &mut st, &rec, &job);
        }
        assert_eq!(st.stacks[0].stack_instance_id.as_deref(), Some("si_1"));
        assert_eq!(st.auth_worker_revision, Some(1));
        let p = plan(&sp, &st).unwrap();
        assert_eq!(p.changes, vec![Change::new(Op::AppCreate, "web", None)]);
        // Removals: the feature and stack are deactivated, app and domain reported.
        st.apps.push(AppState {
            app_name: "web".into(),
            stack_id: "crm".into(),
            state: "Created".into(),
        });
        sp.features.clear();
        sp.stacks.clear();
        sp.apps.clear();
        sp.domains.clear();
        let p = plan(&sp, &st).unwrap();
        assert_eq!(
            p.changes,
            vec![
                Change::new(Op::FeatureDeactivate, "ent/billing", None),
                Change::new(Op::StackDeactivate, "crm", Some("si_1".into())),
            ]
        );
        assert_eq!(p.unremovable, vec!["app web", "domain a.example"]);
    }

    #[test]
    fn a_feature_without_entity_is_invalid() {
        let mut sp = spec();
        sp.default_entity_id = None;
        sp.features.push(PlatformFeature {
            feature_id: "billing".into(),
            feature_version: "1".into(),
            entity_id: None,
        });
        let e = plan(&sp, &provisioned()).unwrap_err();
        assert!(e.contains("defaultEntityId"), "{e}");
    }
}
