//! `LoadBalancer`: a 3nv.io network load balancer (`/v1/network/load_balancers`), its rules and targets.

// kube's `printcolumn(name = .., type_ = ..)` repeats keys across columns by design.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{CloudPolicies, CommonStatus, DriftStatus, LocalRef, PlatformRef};

/// Desired state of a 3nv.io network load balancer.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "nno.app",
    version = "v1alpha1",
    kind = "LoadBalancer",
    plural = "loadbalancers",
    namespaced,
    status = "LoadBalancerStatus",
    shortname = "lb",
    category = "nno",
    doc = "A 3nv.io network load balancer: forwarding rules (source port to target port) to the VirtualMachines named in `vmRefs` or matched by `vmSelector`.",
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
    printcolumn(
        name = "ADDRESS",
        type_ = "string",
        json_path = ".status.privateAddress"
    ),
    printcolumn(name = "TARGETS", type_ = "integer", json_path = ".status.targetCount"),
    printcolumn(
        name = "AGE",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "has(self.networkUuid) == has(oldSelf.networkUuid)", "message": "networkUuid is immutable"}
]))]
pub struct LoadBalancerSpec {
    /// The `Platform` (same namespace) whose 3nv.io credentials and billing account this load balancer uses.
    pub platform_ref: PlatformRef,
    /// 3nv.io billing account id; overrides the platform's billing account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub billing_account_id: Option<i64>,
    /// Name shown in the 3nv.io console; defaults to `metadata.name` (the operator appends its create token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 200))]
    pub display_name: Option<String>,
    /// Private network of the load balancer; the account's default network when omitted. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 36),
        regex(
            pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
        )
    )]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "networkUuid is immutable"}]))]
    pub network_uuid: Option<String>,
    /// Whether the load balancer gets a public IPv4 address (default true). Immutable.
    #[serde(default = "default_true")]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "reservePublicIp is immutable"}]))]
    pub reserve_public_ip: bool,
    /// Forwarding rules; each source port at most once.
    #[serde(default)]
    #[schemars(length(max = 50))]
    #[schemars(extend(
        "x-kubernetes-list-type" = "map",
        "x-kubernetes-list-map-keys" = ["sourcePort"]
    ))]
    pub rules: Vec<ForwardingRule>,
    /// VirtualMachines (same namespace) that receive the traffic.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vm_refs: Vec<LocalRef>,
    /// Also target every VirtualMachine in this namespace whose labels match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_selector: Option<LabelSelector>,
    #[serde(flatten)]
    pub policies: CloudPolicies,
}

fn default_true() -> bool {
    true
}

/// Forward traffic arriving on `sourcePort` to `targetPort` of every target.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForwardingRule {
    /// Port the load balancer listens on, 1..65535.
    #[schemars(range(min = 1, max = 65535))]
    pub source_port: i32,
    /// Port on the targets, 1..65535.
    #[schemars(range(min = 1, max = 65535))]
    pub target_port: i32,
}

/// Observed state of a load balancer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
    #[serde(flatten)]
    pub drift: DriftStatus,
    /// Private address of the load balancer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_address: Option<String>,
    /// Forwarding rules as 3nv.io stores them, with their UUIDs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forwarding_rules: Vec<ObservedForwardingRule>,
    /// Targets as 3nv.io stores them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<ObservedTarget>,
    /// Number of targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_count: Option<i32>,
}

/// A forwarding rule as stored by 3nv.io.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObservedForwardingRule {
    /// UUID of the rule.
    pub uuid: String,
    /// Protocol, e.g. `TCP`.
    #[serde(default)]
    pub protocol: String,
    /// Port the load balancer listens on.
    pub source_port: i32,
    /// Port on the targets.
    pub target_port: i32,
}

/// A target as stored by 3nv.io.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObservedTarget {
    /// UUID of the target VM.
    pub target_uuid: String,
    /// Target type, e.g. `vm`.
    #[serde(default)]
    pub target_type: String,
    /// Address traffic is forwarded to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ip_address: Option<String>,
}
