//! `Firewall` on 3nv.io networking: the mapping between the spec and `/v1/network/firewalls…`
//! (create with rules, PUT of name / description / billing account / the full rule set with
//! stable rule uuids, assignment to the VMs of `vmRefs` + `vmSelector`, unassign before delete).
//!
//! Firewalls are location independent (no `/v1/{slug}/` form in the reference), so one observer
//! lists them per account. The create token rides in the free-text `description` (`… [nno:uid]`).
//! Compared fields: `displayName`, `description`, `billingAccountId`, `rules` (in spec order:
//! `status.rules[i]` is `spec.rules[i]` once Synced) and `vmRefs` (the assigned VM uuids, from
//! `vmRefs` and `vmSelector` together; `ignoreChanges: [vmRefs]` leaves assignments alone).
//! There is no GET of one firewall: `get` lists and picks.

use std::collections::BTreeMap;

use kube::ResourceExt;

use crate::api::common::{CloudPolicies, CommonStatus};
use crate::api::firewall::{
    Direction, EndpointSpecType, Firewall, FirewallRule, FirewallStatus, ObservedFirewallRule,
    Protocol,
};
use crate::cloud::ApiError;
use crate::cloud::threenv::firewall::{self as api, FirewallSpec};
use crate::cloud::threenv::{API, ThreenvClient};

use super::error::ReconcileError;
use super::managed::{Field, InputContext, ManagedKind, Readiness, Target, UpdateOutcome};
use super::refs::{VmRefs, VmTarget};
use super::token;

/// What a firewall needs besides its spec.
#[derive(Debug, Default)]
pub struct FirewallInputs {
    /// The VMs to be assigned to (empty while the object is being deleted).
    vms: Vec<VmTarget>,
    /// `spec.billingAccountId`, else the Platform's.
    billing_account_id: Option<i64>,
}

impl Firewall {
    /// The firewall's name in the cloud: `spec.displayName`, else `metadata.name`.
    pub fn cloud_name(&self) -> String {
        self.spec
            .display_name
            .clone()
            .unwrap_or_else(|| self.name_any())
    }
}

fn protocol(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Icmp => "icmp",
    }
}

fn direction(d: Direction) -> &'static str {
    match d {
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
    }
}

/// A spec rule in the API's form (no uuid).
fn to_api(r: &FirewallRule) -> api::FirewallRule {
    let ip = r.endpoint_spec_type == EndpointSpecType::IpPrefixes;
    api::FirewallRule {
        uuid: None,
        protocol: protocol(r.protocol).into(),
        direction: direction(r.direction).into(),
        port_start: r.port_start.map(i64::from),
        port_end: r.port_end.or(r.port_start).map(i64::from),
        endpoint_spec_type: if ip { "ip_prefixes" } else { "any" }.into(),
        endpoint_spec: ip.then(|| r.endpoint_spec.clone()),
    }
}

/// One rule as text, the same for a spec rule and the cloud's copy of it.
fn render(r: &api::FirewallRule) -> String {
    let ports = match (r.port_start, r.port_end.or(r.port_start)) {
        (None, _) => "all".to_owned(),
        (Some(s), Some(e)) if s != e => format!("{s}-{e}"),
        (Some(s), _) => s.to_string(),
    };
    let mut out = format!(
        "{} {} {ports} {}",
        r.protocol.to_ascii_lowercase(),
        r.direction,
        r.endpoint_spec_type
    );
    if let Some(spec) = r.endpoint_spec.as_ref().filter(|s| !s.is_empty()) {
        out.push(' ');
        out.push_str(&spec.join(","));
    }
    out
}

fn render_all(rules: &[api::FirewallRule]) -> String {
    let all: Vec<String> = rules.iter().map(render).collect();
    all.join("; ")
}

/// The cloud rule uuid each spec rule keeps: an identical cloud rule first, else (a rule edited in
/// place) the cloud rule at the same position if no other spec rule took it; `None` is a new rule.
fn keep_uuids(spec: &[api::FirewallRule], cloud: &[api::FirewallRule]) -> Vec<Option<String>> {
    let mut used = vec![false; cloud.len()];
    let mut out: Vec<Option<String>> = vec![None; spec.len()];
    for (i, s) in spec.iter().enumerate() {
        let text = render(s);
        if let Some(j) = (0..cloud.len()).find(|&j| !used[j] && render(&cloud[j]) == text) {
            used[j] = true;
            out[i] = cloud[j].uuid.clone();
        }
    }
    for (i, slot) in out.iter_mut().enumerate() {
        if slot.is_none() && i < cloud.len() && !used[i] {
            used[i] = true;
            *slot = cloud[i].uuid.clone();
        }
    }
    out
}

/// The spec rules with the uuids they keep, as the PUT body wants them.
fn rules_for_put(spec: &[FirewallRule], cloud: &[api::FirewallRule]) -> Vec<api::FirewallRule> {
    let wanted: Vec<api::FirewallRule> = spec.iter().map(to_api).collect();
    let uuids = keep_uuids(&wanted, cloud);
    wanted
        .into_iter()
        .zip(uuids)
        .map(|(mut r, uuid)| {
            r.uuid = uuid;
            r
        })
        .collect()
}

fn assigned(fw: &api::Firewall) -> Vec<String> {
    let mut out: Vec<String> = fw
        .resources_assigned
        .iter()
        .filter(|a| a.resource_type.is_empty() || a.resource_type == "vm")
        .map(|a| a.resource_uuid.clone())
        .collect();
    out.sort();
    out
}

fn wanted_vms(inputs: &FirewallInputs) -> Vec<String> {
    let mut out: Vec<String> = inputs.vms.iter().map(|v| v.external_id.clone()).collect();
    out.sort();
    out.dedup();
    out
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound {
        api: API,
        message: format!("No such firewall exists. {id}"),
    }
}

/// Unassigns every VM the cloud shows, then deletes; a firewall assigned meanwhile is read again.
async fn unassign_and_delete(c: &ThreenvClient, fw: &api::Firewall) -> Result<(), ApiError> {
    for vm in assigned(fw) {
        match c.unassign_firewall(&fw.uuid, &vm).await {
            Err(e) if !e.is_not_found() => return Err(e),
            _ => {}
        }
    }
    match c.delete_firewall(&fw.uuid).await {
        Err(e) if e.is_conflict() => {
            let fresh = Firewall::get(c, None, &fw.uuid).await?;
            for vm in assigned(&fresh) {
                match c.unassign_firewall(&fw.uuid, &vm).await {
                    Err(e) if !e.is_not_found() => return Err(e),
                    _ => {}
                }
            }
            c.delete_firewall(&fw.uuid).await
        }
        other => other,
    }
}

impl ManagedKind for Firewall {
    type Observed = api::Firewall;
    type Inputs = FirewallInputs;
    const KIND: &'static str = "Firewall";
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
    ) -> Result<Vec<api::Firewall>, ApiError> {
        client.list_firewalls().await
    }
    async fn get(
        client: &ThreenvClient,
        _loc: Option<&str>,
        id: &str,
    ) -> Result<api::Firewall, ApiError> {
        client
            .list_firewalls()
            .await?
            .into_iter()
            .find(|f| f.uuid == id)
            .ok_or_else(|| not_found(id))
    }
    fn external_id(fw: &api::Firewall) -> String {
        fw.uuid.clone()
    }
    fn token_of(fw: &api::Firewall) -> Option<String> {
        fw.description.as_deref().and_then(token::extract)
    }
    fn readiness(_fw: &api::Firewall) -> Readiness {
        Readiness::Ready
    }

    async fn inputs(&self, ctx: InputContext<'_>) -> Result<FirewallInputs, ReconcileError> {
        let billing_account_id = ctx.target.billing_account_id;
        if self.metadata.deletion_timestamp.is_some() {
            // Deletion unassigns whatever the cloud shows; a VM already gone must not block it.
            return Ok(FirewallInputs {
                vms: Vec::new(),
                billing_account_id,
            });
        }
        let vms = ctx.caches.vm_set(
            ctx.namespace,
            &self.vm_refs(),
            ("spec.vmRefs", "spec.vmSelector"),
        )?;
        Ok(FirewallInputs {
            vms,
            billing_account_id,
        })
    }

    fn validate(&self, _target: &Target, _inputs: &FirewallInputs) -> Result<(), String> {
        for (i, r) in self.spec.rules.iter().enumerate() {
            if let (Some(s), Some(e)) = (r.port_start, r.port_end)
                && s > e
            {
                return Err(format!(
                    "spec.rules[{i}]: portStart {s} is greater than portEnd {e}"
                ));
            }
            if r.port_start.is_none() && r.port_end.is_some() {
                return Err(format!(
                    "spec.rules[{i}]: portEnd needs portStart (omit both for all ports)"
                ));
            }
            let ip = r.endpoint_spec_type == EndpointSpecType::IpPrefixes;
            if ip == r.endpoint_spec.is_empty() {
                return Err(format!(
                    "spec.rules[{i}]: endpointSpec must list addresses exactly when endpointSpecType is ip_prefixes"
                ));
            }
        }
        Ok(())
    }

    fn fields(&self, fw: &api::Firewall, inputs: &FirewallInputs) -> Vec<Field> {
        let wanted: Vec<api::FirewallRule> = self.spec.rules.iter().map(to_api).collect();
        let mut out = vec![
            Field::new("displayName", self.cloud_name(), fw.title()),
            Field::new(
                "description",
                self.spec.description.clone().unwrap_or_default(),
                token::strip(fw.description.as_deref().unwrap_or_default()),
            ),
            Field::new("rules", render_all(&wanted), render_all(&fw.rules)),
            Field::new(
                "vmRefs",
                wanted_vms(inputs).join(", "),
                assigned(fw).join(", "),
            ),
        ];
        // Without a billing account anywhere the cloud's own choice stands.
        if let Some(b) = inputs.billing_account_id {
            out.push(Field::new(
                "billingAccountId",
                b,
                fw.billing_account_id
                    .map(|x| x.to_string())
                    .unwrap_or_default(),
            ));
        }
        out
    }

    async fn create(
        &self,
        target: &Target,
        inputs: &FirewallInputs,
        token: &str,
    ) -> Result<api::Firewall, ApiError> {
        let body = FirewallSpec {
            display_name: Some(self.cloud_name()),
            description: Some(token::embed(
                self.spec.description.as_deref().unwrap_or_default(),
                token,
            )),
            billing_account_id: target.billing_account_id,
            rules: Some(self.spec.rules.iter().map(to_api).collect()),
            ..FirewallSpec::default()
        };
        let c = &target.client;
        let mut fw = c.create_firewall(&body).await?;
        // Assignments need the firewall's uuid. The firewall exists now, so a failed assignment
        // must not fail the create (that would create it again): the next pass assigns what is
        // missing.
        for vm in wanted_vms(inputs) {
            match c.assign_firewall(&fw.uuid, &vm).await {
                Ok(now) => fw.resources_assigned = now,
                Err(e) => {
                    tracing::warn!(kind = Self::KIND, name = %self.name_any(), id = %fw.uuid, vm = %vm, error = %e, "assignment after create failed; retried by the next pass");
                    break;
                }
            }
        }
        Ok(fw)
    }

    async fn update(
        &self,
        target: &Target,
        fw: &api::Firewall,
        inputs: &FirewallInputs,
        fields: &[Field],
    ) -> Result<UpdateOutcome<api::Firewall>, ApiError> {
        let c = &target.client;
        let wants = |p: &str| fields.iter().any(|f| f.path == p);
        let mut out = UpdateOutcome::default();
        let mut cur = fw.clone();
        let put_paths: Vec<&'static str> =
            ["displayName", "description", "rules", "billingAccountId"]
                .into_iter()
                .filter(|p| wants(p))
                .collect();
        if !put_paths.is_empty() {
            let kept = fw.description.as_deref().and_then(token::extract);
            let tok = kept.unwrap_or_else(|| token::for_uid(&self.uid().unwrap_or_default()));
            let description = if wants("description") {
                self.spec.description.clone().unwrap_or_default()
            } else {
                token::strip(fw.description.as_deref().unwrap_or_default()).to_owned()
            };
            let rules = if wants("rules") {
                rules_for_put(&self.spec.rules, &fw.rules)
            } else {
                fw.rules.clone()
            };
            let body = FirewallSpec {
                name: Some(if wants("displayName") {
                    self.cloud_name()
                } else {
                    fw.title().to_owned()
                }),
                description: Some(token::embed(&description, &tok)),
                billing_account_id: if wants("billingAccountId") {
                    inputs.billing_account_id
                } else {
                    None
                },
                rules: Some(rules),
                ..FirewallSpec::default()
            };
            let assignments = cur.resources_assigned.clone();
            cur = c.update_firewall(&fw.uuid, &body).await?;
            if cur.resources_assigned.is_empty() {
                cur.resources_assigned = assignments;
            }
            out.applied.extend(put_paths);
        }
        if wants("vmRefs") {
            let want = wanted_vms(inputs);
            let have = assigned(&cur);
            for vm in have.iter().filter(|v| !want.contains(v)) {
                match c.unassign_firewall(&cur.uuid, vm).await {
                    Err(e) if !e.is_not_found() => return Err(e),
                    _ => {}
                }
                cur.resources_assigned.retain(|a| &a.resource_uuid != vm);
            }
            for vm in want.iter().filter(|v| !have.contains(v)) {
                cur.resources_assigned = c.assign_firewall(&cur.uuid, vm).await?;
            }
            out.applied.push("vmRefs");
        }
        out.observed = Some(cur);
        Ok(out)
    }

    async fn delete(&self, target: &Target, fw: &api::Firewall) -> Result<(), ApiError> {
        unassign_and_delete(&target.client, fw).await
    }

    fn status(&self, fw: &api::Firewall, _target: &Target) -> serde_json::Value {
        let vms = assigned(fw);
        let status = FirewallStatus {
            rules: fw
                .rules
                .iter()
                .map(|r| ObservedFirewallRule {
                    uuid: r.uuid.clone().unwrap_or_default(),
                    protocol: r.protocol.clone(),
                    direction: r.direction.clone(),
                    port_start: r.port_start.and_then(|p| i32::try_from(p).ok()),
                    port_end: r.port_end.and_then(|p| i32::try_from(p).ok()),
                    endpoint_spec_type: r.endpoint_spec_type.clone(),
                    endpoint_spec: r.endpoint_spec.clone().unwrap_or_default(),
                })
                .collect(),
            rule_count: i32::try_from(fw.rules.len()).ok(),
            assigned_vm_count: i32::try_from(vms.len()).ok(),
            assigned_vms: vms,
            ..FirewallStatus::default()
        };
        serde_json::to_value(status).unwrap_or_default()
    }

    fn connection_details(
        &self,
        _fw: Option<&api::Firewall>,
        _inputs: &FirewallInputs,
    ) -> Option<BTreeMap<String, String>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(port: i64, uuid: &str) -> api::FirewallRule {
        api::FirewallRule {
            uuid: Some(uuid.into()),
            protocol: "tcp".into(),
            direction: "inbound".into(),
            port_start: Some(port),
            port_end: Some(port),
            endpoint_spec_type: "any".into(),
            endpoint_spec: None,
        }
    }

    fn spec(port: i64) -> api::FirewallRule {
        api::FirewallRule {
            uuid: None,
            ..rule(port, "")
        }
    }

    #[test]
    fn uuids_stay_with_identical_rules_and_rules_edited_in_place() {
        let cloud = [rule(80, "a"), rule(443, "b")];
        let k = |s: &[api::FirewallRule]| keep_uuids(s, &cloud);
        // Unchanged.
        assert_eq!(
            k(&[spec(80), spec(443)]),
            [Some("a".into()), Some("b".into())]
        );
        // Second rule edited in place keeps its uuid.
        assert_eq!(
            k(&[spec(80), spec(8443)]),
            [Some("a".into()), Some("b".into())]
        );
        // A rule inserted in front is new; the others keep theirs.
        assert_eq!(
            k(&[spec(22), spec(80), spec(443)]),
            [None, Some("a".into()), Some("b".into())]
        );
        // Reordered: each keeps its own.
        assert_eq!(
            k(&[spec(443), spec(80)]),
            [Some("b".into()), Some("a".into())]
        );
        // Removed first rule: the remaining keeps its uuid.
        assert_eq!(k(&[spec(443)]), [Some("b".into())]);
    }

    #[test]
    fn rules_render_the_same_from_spec_and_cloud() {
        let s = FirewallRule {
            port_start: Some(22),
            endpoint_spec_type: EndpointSpecType::IpPrefixes,
            endpoint_spec: vec!["10.0.0.0/24".into()],
            ..FirewallRule::default()
        };
        let cloud = api::FirewallRule {
            uuid: Some("x".into()),
            protocol: "tcp".into(),
            direction: "inbound".into(),
            port_start: Some(22),
            port_end: Some(22),
            endpoint_spec_type: "ip_prefixes".into(),
            endpoint_spec: Some(vec!["10.0.0.0/24".into()]),
        };
        assert_eq!(render(&to_api(&s)), render(&cloud));
        assert_eq!(render(&cloud), "tcp inbound 22 ip_prefixes 10.0.0.0/24");
        let all = api::FirewallRule {
            port_start: None,
            port_end: None,
            protocol: "icmp".into(),
            ..cloud
        };
        assert_eq!(render(&all), "icmp inbound all ip_prefixes 10.0.0.0/24");
    }
}
