//! `Firewall`: a 3nv.io firewall (`/v1/network/firewalls`), its rules and its VM assignments.

// kube's `printcolumn(name = .., type_ = ..)` repeats keys across columns by design.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{CloudPolicies, CommonStatus, DriftStatus, LocalRef, PlatformRef};

/// Desired state of a 3nv.io firewall.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "nno.app",
    version = "v1alpha1",
    kind = "Firewall",
    plural = "firewalls",
    namespaced,
    status = "FirewallStatus",
    shortname = "fw",
    category = "nno",
    doc = "A 3nv.io firewall: traffic rules, assigned to the VirtualMachines named in `vmRefs` or matched by `vmSelector`.",
    printcolumn(
        name = "READY",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "SYNCED",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Synced\")].status"
    ),
    printcolumn(
        name = "EXTERNAL-ID",
        type_ = "string",
        json_path = ".status.externalId"
    ),
    printcolumn(name = "RULES", type_ = "integer", json_path = ".status.ruleCount"),
    printcolumn(name = "VMS", type_ = "integer", json_path = ".status.assignedVmCount"),
    printcolumn(
        name = "AGE",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct FirewallSpec {
    /// The `Platform` (same namespace) whose 3nv.io credentials and billing account this firewall uses.
    pub platform_ref: PlatformRef,
    /// 3nv.io billing account id; overrides the platform's billing account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub billing_account_id: Option<i64>,
    /// Name shown in the 3nv.io console; defaults to `metadata.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 200))]
    pub display_name: Option<String>,
    /// Free-text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 500))]
    pub description: Option<String>,
    /// Traffic rules; traffic not matched by a rule is dropped.
    #[serde(default)]
    #[schemars(length(max = 200))]
    pub rules: Vec<FirewallRule>,
    /// VirtualMachines (same namespace) the firewall is assigned to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vm_refs: Vec<LocalRef>,
    /// Also assign the firewall to every VirtualMachine in this namespace whose labels match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_selector: Option<LabelSelector>,
    #[serde(flatten)]
    pub policies: CloudPolicies,
}

/// Network protocol of a firewall rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
    Icmp,
}

/// Direction of traffic a firewall rule matches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    #[default]
    Inbound,
    Outbound,
}

/// Which remote endpoints a firewall rule matches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointSpecType {
    #[default]
    Any,
    IpPrefixes,
}

/// One firewall rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!has(self.portStart) || !has(self.portEnd) || self.portStart <= self.portEnd", "message": "portStart must be less than or equal to portEnd"},
    {"rule": "has(self.portStart) || !has(self.portEnd)", "message": "portEnd needs portStart (omit both for all ports)"},
    {"rule": "self.endpointSpecType != 'ip_prefixes' || (has(self.endpointSpec) && size(self.endpointSpec) > 0)", "message": "endpointSpec must list at least one IP or CIDR when endpointSpecType is ip_prefixes"},
    {"rule": "self.endpointSpecType != 'any' || !has(self.endpointSpec) || size(self.endpointSpec) == 0", "message": "endpointSpec must be empty when endpointSpecType is any"}
]))]
pub struct FirewallRule {
    /// Protocol: `tcp` (default), `udp` or `icmp`.
    #[serde(default)]
    pub protocol: Protocol,
    /// Direction: `inbound` (default) or `outbound`.
    #[serde(default)]
    pub direction: Direction,
    /// First port, 1..65535; omit for all ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port_start: Option<i32>,
    /// Last port, 1..65535; omit to match `portStart` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port_end: Option<i32>,
    /// `any` (default) matches every remote endpoint; `ip_prefixes` only those in `endpointSpec`.
    #[serde(default)]
    pub endpoint_spec_type: EndpointSpecType,
    /// IPv4/IPv6 addresses or CIDR prefixes, e.g. `10.0.0.0/24`; only with `ip_prefixes`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 100),
        inner(
            length(min = 2, max = 49),
            regex(pattern = r"^[0-9a-fA-F:.]+(/[0-9]{1,3})?$")
        )
    )]
    pub endpoint_spec: Vec<String>,
}

/// Observed state of a firewall.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FirewallStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
    #[serde(flatten)]
    pub drift: DriftStatus,
    /// Rules as 3nv.io stores them, with their UUIDs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<ObservedFirewallRule>,
    /// Number of rules in the cloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_count: Option<i32>,
    /// UUIDs of the VMs the firewall is assigned to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assigned_vms: Vec<String>,
    /// Number of VMs the firewall is assigned to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_vm_count: Option<i32>,
}

/// A firewall rule as stored by 3nv.io.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObservedFirewallRule {
    /// UUID of the rule.
    pub uuid: String,
    /// Protocol of the rule.
    #[serde(default)]
    pub protocol: String,
    /// Direction of the rule.
    #[serde(default)]
    pub direction: String,
    /// First port, absent for all ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_start: Option<i32>,
    /// Last port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_end: Option<i32>,
    /// `any` or `ip_prefixes`.
    #[serde(default)]
    pub endpoint_spec_type: String,
    /// Addresses or prefixes matched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoint_spec: Vec<String>,
}
