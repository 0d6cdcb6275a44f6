//! `LoadBalancer` on 3nv.io networking: the mapping between the spec and
//! `/v1/network/load_balancers…` (create with forwarding rules and targets, rename, billing account
//! via PUT, forwarding rules and targets added / removed one by one to match the spec).
//!
//! Load balancers are location independent (no `/v1/{slug}/` form in the reference), so one
//! observer lists them per account. The only free-text field is `display_name`: the create token
//! rides there (`acme web lb [nno:uid]`), and renames keep it. Compared fields: `displayName`,
//! `billingAccountId`, `rules` (as a set of source → target ports), `vmRefs` (the target VM uuids,
//! from `vmRefs` and `vmSelector` together) and `networkUuid` (create only).

use std::collections::BTreeMap;

use kube::ResourceExt;

use crate::api::common::{CloudPolicies, CommonStatus};
use crate::api::load_balancer::{
    LoadBalancer, LoadBalancerStatus, ObservedForwardingRule, ObservedTarget,
};
use crate::cloud::ApiError;
use crate::cloud::threenv::ThreenvClient;
use crate::cloud::threenv::load_balancer::{self as api, CreateLoadBalancer, RuleSpec, TargetSpec};

use super::error::ReconcileError;
use super::managed::{Field, InputContext, ManagedKind, Readiness, Target, UpdateOutcome};
use super::refs::{VmRefs, VmTarget};
use super::token;

/// What a load balancer needs besides its spec.
#[derive(Debug, Default)]
pub struct LoadBalancerInputs {
    /// The VMs to target (empty while the object is being deleted).
    vms: Vec<VmTarget>,
    /// `spec.billingAccountId`, else the Platform's.
    billing_account_id: Option<i64>,
}

impl LoadBalancer {
    /// The load balancer's name in the cloud (without the token): `spec.displayName`, else
    /// `metadata.name`.
    pub fn cloud_name(&self) -> String {
        self.spec
            .display_name
            .clone()
            .unwrap_or_else(|| self.name_any())
    }
}

/// (source port, target port) pairs, sorted.
fn wanted_rules(lb: &LoadBalancer) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = lb
        .spec
        .rules
        .iter()
        .map(|r| (i64::from(r.source_port), i64::from(r.target_port)))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn rule_ports(r: &api::ForwardingRule) -> Option<(i64, i64)> {
    Some((r.source_port?, r.target_port?))
}

fn cloud_rules(lb: &api::LoadBalancer) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = lb.forwarding_rules.iter().filter_map(rule_ports).collect();
    out.sort();
    out
}

fn render_rules(rules: &[(i64, i64)]) -> String {
    let all: Vec<String> = rules.iter().map(|(s, t)| format!("{s}->{t}")).collect();
    all.join(", ")
}

fn wanted_targets(inputs: &LoadBalancerInputs) -> Vec<String> {
    let mut out: Vec<String> = inputs.vms.iter().map(|v| v.external_id.clone()).collect();
    out.sort();
    out.dedup();
    out
}

fn cloud_targets(lb: &api::LoadBalancer) -> Vec<String> {
    let mut out: Vec<String> = lb.targets.iter().map(|t| t.target_uuid.clone()).collect();
    out.sort();
    out
}

fn title(lb: &api::LoadBalancer) -> &str {
    token::strip(lb.display_name.as_deref().unwrap_or_default())
}

fn target_spec(uuid: &str) -> TargetSpec {
    TargetSpec {
        target_uuid: uuid.to_owned(),
        target_type: "vm".to_owned(),
    }
}

/// `Ok` for an answer that says the cloud is already where we want it.
fn settled(r: Result<(), ApiError>, already: fn(&ApiError) -> bool) -> Result<(), ApiError> {
    match r {
        Err(e) if already(&e) => Ok(()),
        other => other,
    }
}

impl ManagedKind for LoadBalancer {
    type Observed = api::LoadBalancer;
    type Inputs = LoadBalancerInputs;
    const KIND: &'static str = "LoadBalancer";
    const WATCHES_VMS: bool = true;
    const LOCATED: bool = false;

    fn policies(&self) -> &CloudPolicies {
        &self.spec.policies
    }
    fn platform_ref(&self) -> &str {
        &self.spec.platform_ref.name
    }
    fn location_override(&self) -> Option<&str> {
        None
    }
    fn billing_account_override(&self) -> Option<i64> {
        self.spec.billing_account_id
    }
    fn common_status(&self) -> Option<&CommonStatus> {
        self.status.as_ref().map(|s| &s.common)
    }
    fn connection_secret_name(&self) -> Option<&str> {
        None
    }
    fn vm_refs(&self) -> VmRefs {
        VmRefs {
            names: self.spec.vm_refs.iter().map(|r| r.name.clone()).collect(),
            selector: self.spec.vm_selector.clone(),
        }
    }

    async fn list(
        client: &ThreenvClient,
        _loc: Option<&str>,
    ) -> Result<Vec<api::LoadBalancer>, ApiError> {
        client.list_load_balancers().await
    }
    async fn get(
        client: &ThreenvClient,
        _loc: Option<&str>,
        id: &str,
    ) -> Result<api::LoadBalancer, ApiError> {
        client.get_load_balancer(id).await
    }
    fn external_id(lb: &api::LoadBalancer) -> String {
        lb.uuid.clone()
    }
    fn token_of(lb: &api::LoadBalancer) -> Option<String> {
        lb.display_name.as_deref().and_then(token::extract)
    }
    fn readiness(lb: &api::LoadBalancer) -> Readiness {
        if lb.is_deleted == Some(true) {
            Readiness::Unavailable {
                state: "deleted".into(),
            }
        } else {
            Readiness::Ready
        }
    }

    async fn inputs(&self, ctx: InputContext<'_>) -> Result<LoadBalancerInputs, ReconcileError> {
        let billing_account_id = ctx.target.billing_account_id;
        if self.metadata.deletion_timestamp.is_some() {
            // Deleting the load balancer drops its targets; a VM already gone must not block it.
            return Ok(LoadBalancerInputs {
                vms: Vec::new(),
                billing_account_id,
            });
        }
        let vms = ctx.caches.vm_set(
            ctx.namespace,
            &self.vm_refs(),
            ("spec.vmRefs", "spec.vmSelector"),
        )?;
        Ok(LoadBalancerInputs {
            vms,
            billing_account_id,
        })
    }

    fn validate(&self, _target: &Target, _inputs: &LoadBalancerInputs) -> Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for r in &self.spec.rules {
            if !seen.insert(r.source_port) {
                return Err(format!(
                    "spec.rules: source port {} is used by more than one rule",
                    r.source_port
                ));
            }
        }
        Ok(())
    }

    fn fields(&self, lb: &api::LoadBalancer, inputs: &LoadBalancerInputs) -> Vec<Field> {
        let mut out = vec![
            Field::new("displayName", self.cloud_name(), title(lb)),
            Field::new(
                "rules",
                render_rules(&wanted_rules(self)),
                render_rules(&cloud_rules(lb)),
            ),
            Field::new(
                "vmRefs",
                wanted_targets(inputs).join(", "),
                cloud_targets(lb).join(", "),
            ),
        ];
        if let Some(b) = inputs.billing_account_id {
            out.push(Field::new(
                "billingAccountId",
                b,
                lb.billing_account_id
                    .map(|x| x.to_string())
                    .unwrap_or_default(),
            ));
        }
        if let Some(n) = &self.spec.network_uuid {
            out.push(
                Field::new(
                    "networkUuid",
                    n,
                    lb.network_uuid.clone().unwrap_or_default(),
                )
                .create_only(),
            );
        }
        out
    }

    async fn create(
        &self,
        target: &Target,
        inputs: &LoadBalancerInputs,
        token: &str,
    ) -> Result<api::LoadBalancer, ApiError> {
        let body = CreateLoadBalancer {
            display_name: Some(token::embed(&self.cloud_name(), token)),
            billing_account_id: target.billing_account_id,
            network_uuid: self.spec.network_uuid.clone(),
            reserve_public_ip: Some(self.spec.reserve_public_ip),
            rules: wanted_rules(self)
                .into_iter()
                .map(|(source_port, target_port)| RuleSpec {
                    source_port,
                    target_port,
                    protocol: None,
                })
                .collect(),
            targets: wanted_targets(inputs)
                .iter()
                .map(|u| target_spec(u))
                .collect(),
        };
        target.client.create_load_balancer(&body).await
    }

    async fn update(
        &self,
        target: &Target,
        lb: &api::LoadBalancer,
        inputs: &LoadBalancerInputs,
        fields: &[Field],
    ) -> Result<UpdateOutcome<api::LoadBalancer>, ApiError> {
        let c = &target.client;
        let wants = |p: &str| fields.iter().any(|f| f.path == p);
        let mut out = UpdateOutcome::default();
        let mut cur = lb.clone();
        if wants("displayName") {
            let kept = lb.display_name.as_deref().and_then(token::extract);
            let tok = kept.unwrap_or_else(|| token::for_uid(&self.uid().unwrap_or_default()));
            cur = c
                .rename_load_balancer(&lb.uuid, &token::embed(&self.cloud_name(), &tok))
                .await?;
            out.applied.push("displayName");
        }
        if wants("billingAccountId")
            && let Some(b) = inputs.billing_account_id
        {
            cur = c.set_load_balancer_billing_account(&lb.uuid, b).await?;
            out.applied.push("billingAccountId");
        }
        let mut reread = false;
        if wants("rules") {
            let want = wanted_rules(self);
            // Removals first: a source port is free again before its new rule is added.
            for r in &cur.forwarding_rules {
                let keep = rule_ports(r).is_some_and(|p| want.contains(&p));
                if let (false, Some(uuid)) = (keep, r.uuid.as_deref()) {
                    settled(
                        c.remove_forwarding_rule(&lb.uuid, uuid).await,
                        ApiError::is_not_found,
                    )?;
                }
            }
            let have = cloud_rules(&cur);
            for (source_port, target_port) in want.iter().filter(|p| !have.contains(p)) {
                let rule = RuleSpec {
                    source_port: *source_port,
                    target_port: *target_port,
                    protocol: None,
                };
                c.add_forwarding_rule(&lb.uuid, &rule).await?;
            }
            out.applied.push("rules");
            reread = true;
        }
        if wants("vmRefs") {
            let want = wanted_targets(inputs);
            let have = cloud_targets(&cur);
            for t in have.iter().filter(|t| !want.contains(t)) {
                settled(
                    c.remove_load_balancer_target(&lb.uuid, t).await,
                    ApiError::is_not_found,
                )?;
            }
            for t in want.iter().filter(|t| !have.contains(t)) {
                settled(
                    c.add_load_balancer_target(&lb.uuid, &target_spec(t))
                        .await
                        .map(|_| ()),
                    ApiError::is_conflict,
                )?;
            }
            out.applied.push("vmRefs");
            reread = true;
        }
        if reread {
            // The add answers carry only the new rule or target; read the whole object once.
            cur = c.get_load_balancer(&lb.uuid).await?;
        }
        out.observed = Some(cur);
        Ok(out)
    }

    async fn delete(&self, target: &Target, lb: &api::LoadBalancer) -> Result<(), ApiError> {
        target.client.delete_load_balancer(&lb.uuid).await
    }

    fn status(&self, lb: &api::LoadBalancer, _target: &Target) -> serde_json::Value {
        let status = LoadBalancerStatus {
            private_address: lb.private_address.clone(),
            forwarding_rules: lb
                .forwarding_rules
                .iter()
                .map(|r| ObservedForwardingRule {
                    uuid: r.uuid.clone().unwrap_or_default(),
                    protocol: r.protocol.clone().unwrap_or_default(),
                    source_port: r
                        .source_port
                        .and_then(|p| i32::try_from(p).ok())
                        .unwrap_or_default(),
                    target_port: r
                        .target_port
                        .and_then(|p| i32::try_from(p).ok())
                        .unwrap_or_default(),
                })
                .collect(),
            targets: lb
                .targets
                .iter()
                .map(|t| ObservedTarget {
                    target_uuid: t.target_uuid.clone(),
                    target_type: t.target_type.clone(),
                    target_ip_address: t.target_ip_address.clone(),
                })
                .collect(),
            target_count: i32::try_from(lb.targets.len()).ok(),
            ..LoadBalancerStatus::default()
        };
        serde_json::to_value(status).unwrap_or_default()
    }

    fn connection_details(
        &self,
        _lb: Option<&api::LoadBalancer>,
        _inputs: &LoadBalancerInputs,
    ) -> Option<BTreeMap<String, String>> {
        None
    }
}
