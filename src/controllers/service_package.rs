//! `ServicePackage` on 3nv.io managed services: the mapping between the spec and
//! `/v1/user-resource/service/package…` (create, display name and billing account by PATCH, the IP
//! whitelist entry by entry, the service password from `/secrets` for the connection Secret).
//!
//! Service packages are location independent: one observer per account lists
//! `/v1/user-resource/service/packages` once per interval, completed with the whitelists that
//! changed ([`view`]). The create token is carried in the display name (`acme db [nno:<uid>]`).
//!
//! What the API cannot change after creation (service, version, vCPU, RAM, disk, multi-node)
//! is immutable in the CRD; should the cloud and the spec differ anyway (an adopted package, a
//! CRD without its rules), the object is `Synced=False, reason=InvalidSpec`, never silently kept.

mod view;

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, TryStreamExt};
use kube::ResourceExt;
use serde_json::Value;

use crate::api::common::{CloudPolicies, CommonStatus, DriftPolicy};
use crate::api::service_package::{
    ServicePackage, ServicePackageStatus, ServiceProperties, ServiceResource,
};
use crate::cloud::ApiError;
use crate::cloud::threenv::ThreenvClient;
use crate::cloud::threenv::service_package::{
    CreateServicePackage, PackageResource, ServicePackage as CloudPackage, UpdateServicePackage,
};

use super::drift::applied_record;
use super::error::ReconcileError;
use super::managed::{
    CredentialContext, Credentials, Field, InputContext, ManagedKind, Readiness, Target,
    UpdateOutcome,
};
use super::token;

pub use view::{PackageView, WHITELIST_SETTLE, WhitelistRead};
use view::{WHITELIST_READS, entries, parse, render, with_whitelist};

/// What a ServicePackage reads besides its spec.
#[derive(Debug, Default)]
pub struct PackageInputs {
    billing_account_id: Option<i64>,
}

impl ServicePackage {
    /// The display name without the create token: `spec.displayName`, else `metadata.name`.
    pub fn display(&self) -> String {
        self.spec
            .display_name
            .clone()
            .unwrap_or_else(|| self.name_any())
    }
}

/// The first VM of the package (its sizes are the package's sizes).
fn node(pkg: &CloudPackage) -> Option<&Value> {
    pkg.resources
        .iter()
        .filter(|r| r.resource_type == "vm")
        .find_map(|r| r.resource_allocation.as_ref())
        .filter(|a| a.get("vcpu").is_some())
}

fn node_disk(alloc: &Value) -> Option<i64> {
    let disks = alloc.get("storage")?.as_array()?;
    let disk = disks
        .iter()
        .find(|d| d.get("primary").and_then(Value::as_bool) == Some(true))
        .or(disks.first())?;
    disk.get("size")?.as_i64()
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn properties(pkg: &CloudPackage) -> ServiceProperties {
    let p = pkg.properties.as_ref();
    let get = |k: &str| text(p.and_then(|p| p.get(k)));
    ServiceProperties {
        service_ip: get("service_ip"),
        port: get("port").and_then(|s| s.parse().ok()),
        sql_user: get("sql_user"),
        location: get("location"),
    }
}

fn resource(r: &PackageResource) -> ServiceResource {
    ServiceResource {
        resource_id: r.resource_id.clone(),
        resource_type: r.resource_type.clone(),
        resource_location: r.resource_location.clone(),
        status: text(r.resource_allocation.as_ref().and_then(|a| a.get("status"))),
    }
}

fn is_gone(pkg: &CloudPackage) -> bool {
    pkg.is_deleted || pkg.status == "deleted"
}

fn gone(uuid: &str) -> ApiError {
    ApiError::NotFound {
        api: crate::cloud::threenv::API,
        message: format!("service package {uuid} is deleted"),
    }
}

impl ManagedKind for ServicePackage {
    type Observed = PackageView;
    type Inputs = PackageInputs;
    const KIND: &'static str = "ServicePackage";
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
        self.spec
            .write_connection_secret_to_ref
            .as_ref()
            .map(|r| r.name.as_str())
    }

    async fn list(
        client: &ThreenvClient,
        _loc: Option<&str>,
    ) -> Result<Vec<PackageView>, ApiError> {
        let packages = client.list_service_packages().await?;
        Ok(packages
            .into_iter()
            .filter(|p| !is_gone(p))
            .map(|p| PackageView::unsettled(p, Vec::new()))
            .collect())
    }

    async fn complete_list(
        client: &ThreenvClient,
        _loc: Option<&str>,
        listed: Vec<PackageView>,
        previous: &(dyn Fn(&str) -> Option<PackageView> + Send + Sync),
    ) -> Result<Vec<PackageView>, ApiError> {
        let views: Vec<Option<PackageView>> = futures::stream::iter(listed)
            .map(|v| {
                let prev = previous(&v.package.uuid);
                with_whitelist(client, v.package, prev)
            })
            .buffered(WHITELIST_READS)
            .try_collect()
            .await?;
        Ok(views.into_iter().flatten().collect())
    }

    async fn get(
        client: &ThreenvClient,
        _loc: Option<&str>,
        id: &str,
    ) -> Result<PackageView, ApiError> {
        let package = client.get_service_package(id).await?;
        if is_gone(&package) {
            return Err(gone(id));
        }
        Ok(PackageView::unsettled(package, Vec::new()))
    }
    fn external_id(v: &PackageView) -> String {
        v.package.uuid.clone()
    }
    fn token_of(v: &PackageView) -> Option<String> {
        token::extract(&v.package.display_name)
    }
    fn readiness(v: &PackageView) -> Readiness {
        match v.package.status.as_str() {
            "active" => Readiness::Ready,
            "deleted" | "error" | "failed" | "suspended" => Readiness::Unavailable {
                state: v.package.status.clone(),
            },
            other => Readiness::InTransition {
                state: other.to_owned(),
            },
        }
    }

    async fn inputs(&self, ctx: InputContext<'_>) -> Result<PackageInputs, ReconcileError> {
        Ok(PackageInputs {
            billing_account_id: ctx.target.billing_account_id,
        })
    }

    fn validate(&self, target: &Target, _inputs: &PackageInputs) -> Result<(), String> {
        if target.billing_account_id.is_none() {
            return Err(format!(
                "no billing account: 3nv.io needs one to create a service package; set spec.billingAccountId or spec.cloud.billingAccountId of Platform {:?}",
                self.spec.platform_ref.name
            ));
        }
        if let Some(p) = &self.spec.package_parameters
            && !p.is_object()
        {
            return Err("spec.packageParameters must be an object of service parameters".into());
        }
        Ok(())
    }

    fn check(&self, v: &PackageView, _inputs: &PackageInputs) -> Result<(), String> {
        let s = &self.spec;
        let pkg = &v.package;
        let mut fixed = vec![
            ("service", s.service.clone(), pkg.service.clone()),
            ("version", s.version.clone(), pkg.version.clone()),
            (
                "isMultiNode",
                s.is_multi_node.to_string(),
                pkg.is_multi_node.to_string(),
            ),
        ];
        if let Some(alloc) = node(pkg) {
            let int = |k: &str| alloc.get(k).and_then(Value::as_i64);
            let sizes = [
                ("vmCpu", s.vm_cpu.to_string(), int("vcpu")),
                ("vmRam", s.vm_ram.to_string(), int("memory")),
                ("vmDiskGb", s.vm_disk_gb.to_string(), node_disk(alloc)),
            ];
            for (path, desired, observed) in sizes {
                if let Some(o) = observed {
                    fixed.push((path, desired, o.to_string()));
                }
            }
        }
        let wrong: Vec<String> = fixed
            .into_iter()
            .filter(|(path, desired, observed)| {
                desired != observed && !s.policies.ignore_changes.iter().any(|p| p == path)
            })
            .map(|(path, desired, observed)| {
                format!("spec.{path} is {desired:?} but the package has {observed:?}")
            })
            .collect();
        if wrong.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{}; 3nv.io cannot change these after creation: set them back, or delete and recreate the ServicePackage",
            wrong.join("; ")
        ))
    }

    fn fields(&self, v: &PackageView, inputs: &PackageInputs) -> Vec<Field> {
        let s = &self.spec;
        let pkg = &v.package;
        let mut out = vec![
            Field::new(
                "displayName",
                self.display(),
                token::strip(&pkg.display_name),
            ),
            // The create cannot set a whitelist: it starts empty and entries follow.
            Field::new(
                "whitelist",
                render(&entries(&s.whitelist)),
                render(&entries(&v.whitelist)),
            )
            .after_create(),
        ];
        if let Some(id) = inputs.billing_account_id {
            let observed = pkg
                .billing_account_id
                .map(|i| i.to_string())
                .unwrap_or_default();
            out.push(Field::new("billingAccountId", id, observed));
        }
        if let Some(params) = &s.package_parameters {
            // Not readable from 3nv.io: compared with what the create sent.
            let desired = params.to_string();
            let sent = applied_record(self.annotations())
                .remove("packageParameters")
                .unwrap_or_else(|| desired.clone());
            out.push(Field::new("packageParameters", desired, sent).create_only());
        }
        out
    }

    async fn create(
        &self,
        target: &Target,
        _inputs: &PackageInputs,
        token: &str,
    ) -> Result<PackageView, ApiError> {
        let s = &self.spec;
        let body = CreateServicePackage {
            billing_account_id: target.billing_account_id.unwrap_or_default(),
            service: s.service.clone(),
            version: s.version.clone(),
            display_name: token::embed(&self.display(), token),
            vm_cpu: i64::from(s.vm_cpu),
            vm_ram: i64::from(s.vm_ram),
            vm_disk_gb: i64::from(s.vm_disk_gb),
            package_parameters: s.package_parameters.as_ref().map(Value::to_string),
            is_multi_node: Some(s.is_multi_node),
        };
        let package = target.client.create_service_package(&body).await?;
        // A new package's whitelist is empty.
        Ok(PackageView::written(package, Vec::new()))
    }

    async fn update(
        &self,
        target: &Target,
        v: &PackageView,
        inputs: &PackageInputs,
        fields: &[Field],
    ) -> Result<UpdateOutcome<PackageView>, ApiError> {
        let c = &target.client;
        let wants = |p: &str| fields.iter().any(|f| f.path == p);
        let mut out = UpdateOutcome::default();
        let mut package = v.package.clone();
        let mut whitelist = v.whitelist.clone();
        let rename = wants("displayName");
        let billing = inputs
            .billing_account_id
            .filter(|_| wants("billingAccountId"));
        if rename || billing.is_some() {
            let token = token::extract(&package.display_name)
                .unwrap_or_else(|| token::for_uid(&self.uid().unwrap_or_default()));
            let body = UpdateServicePackage {
                billing_account_id: billing,
                display_name: rename.then(|| token::embed(&self.display(), &token)),
            };
            package = c.update_service_package(&package.uuid, &body).await?;
            if rename {
                out.applied.push("displayName");
            }
            if billing.is_some() {
                out.applied.push("billingAccountId");
            }
        }
        if wants("whitelist") {
            let desired = entries(&self.spec.whitelist);
            let observed = entries(&whitelist);
            let applied = applied_record(self.annotations())
                .get("whitelist")
                .map(|t| parse(t));
            let (add, remove): (BTreeSet<String>, BTreeSet<String>) =
                match (self.spec.policies.drift_policy, applied) {
                    // Report: only the user's own edit since the last write; entries others
                    // added or removed stay as they are.
                    (DriftPolicy::Report, Some(last)) => (
                        desired.difference(&last).cloned().collect(),
                        last.difference(&desired).cloned().collect(),
                    ),
                    _ => (
                        desired.difference(&observed).cloned().collect(),
                        observed.difference(&desired).cloned().collect(),
                    ),
                };
            for ip in &add {
                if entries(&whitelist).contains(ip) {
                    continue;
                }
                whitelist = c.add_service_whitelist(&package.uuid, ip).await?;
            }
            for ip in &remove {
                if !entries(&whitelist).contains(ip) {
                    continue;
                }
                whitelist = match c.delete_service_whitelist(&package.uuid, ip).await {
                    Ok(w) => w,
                    // Gone already: someone else removed it meanwhile.
                    Err(e) if e.is_not_found() => c.service_whitelist(&package.uuid).await?,
                    Err(e) => return Err(e),
                };
            }
            out.applied.push("whitelist");
        }
        // The whitelist writes moved `updated_at`; what they answered is the whole whitelist.
        out.observed = Some(PackageView::written(package, whitelist));
        Ok(out)
    }

    async fn delete(&self, target: &Target, v: &PackageView) -> Result<(), ApiError> {
        target
            .client
            .delete_service_package(&v.package.uuid)
            .await
            .map(|_| ())
    }

    fn status(&self, v: &PackageView, _target: &Target) -> serde_json::Value {
        let status = ServicePackageStatus {
            state: Some(v.package.status.clone()),
            properties: Some(properties(&v.package)),
            resources: v.package.resources.iter().map(resource).collect(),
            whitelist: entries(&v.whitelist).into_iter().collect(),
            ..ServicePackageStatus::default()
        };
        serde_json::to_value(status).unwrap_or_default()
    }

    fn connection_details(
        &self,
        v: Option<&PackageView>,
        _inputs: &PackageInputs,
    ) -> Option<BTreeMap<String, String>> {
        let p = properties(&v?.package);
        let mut d = BTreeMap::new();
        for (k, val) in [
            ("host", p.service_ip),
            ("port", p.port.map(|n| n.to_string())),
            ("username", p.sql_user),
        ] {
            if let Some(val) = val {
                d.insert(k.to_owned(), val);
            }
        }
        Some(d)
    }

    async fn credentials(
        &self,
        cx: CredentialContext<'_, Self>,
        v: &PackageView,
        _inputs: &PackageInputs,
    ) -> Result<Credentials, ReconcileError> {
        let mut out = Credentials::default();
        let kept = cx
            .current
            .and_then(|d| d.get("password"))
            .filter(|p| !p.is_empty());
        let password = match kept {
            Some(p) => p.clone(),
            None => {
                // Read once; a read is allowed under Observe and paused too.
                let secrets = cx
                    .target
                    .client
                    .service_package_secrets(&v.package.uuid)
                    .await?;
                let pick = ["sql_pass", "password"]
                    .iter()
                    .find_map(|k| secrets.0.get(*k))
                    .or_else(|| secrets.0.values().next());
                match pick.and_then(|v| text(Some(v))) {
                    Some(p) => p,
                    None => return Ok(out),
                }
            }
        };
        out.data.insert("password".into(), password);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pkg(updated: &str) -> CloudPackage {
        CloudPackage {
            uuid: "u1".into(),
            updated_at: Some(updated.into()),
            ..CloudPackage::default()
        }
    }

    #[test]
    fn sizes_come_from_the_first_vm_node() {
        let mut p = pkg("t");
        p.resources = vec![
            PackageResource {
                resource_id: "vip".into(),
                resource_type: "virtual_ip".into(),
                resource_location: None,
                resource_allocation: Some(json!({"address": "10.2.3.45"})),
            },
            PackageResource {
                resource_id: "n1".into(),
                resource_type: "vm".into(),
                resource_location: Some("cyc01".into()),
                resource_allocation: Some(json!({
                    "memory": 4096, "vcpu": 2, "status": "running",
                    "storage": [{"primary": true, "size": 40, "uuid": "d"}]
                })),
            },
        ];
        let alloc = node(&p).unwrap();
        assert_eq!(alloc["vcpu"], 2);
        assert_eq!(node_disk(alloc), Some(40));
        assert_eq!(resource(&p.resources[1]).status.as_deref(), Some("running"));
        p.resources[1].resource_allocation = Some(json!({}));
        assert!(
            node(&p).is_none(),
            "a deleted package's nodes have no sizes"
        );
    }

    #[test]
    fn properties_read_numbers_and_text() {
        let mut p = pkg("t");
        p.properties = Some(
            json!({"service_ip": "10.2.3.45", "port": 5432, "sql_user": "wadmin", "location": "cyc01"}),
        );
        let props = properties(&p);
        assert_eq!(props.service_ip.as_deref(), Some("10.2.3.45"));
        assert_eq!(props.port, Some(5432));
        p.properties = Some(json!({"port": "3306"}));
        assert_eq!(properties(&p).port, Some(3306));
    }
}
