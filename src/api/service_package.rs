//! `ServicePackage`: a 3nv.io managed service (`/v1/user-resource/service/package`), its secrets and IP whitelist.

// kube's `printcolumn(name = .., type_ = ..)` repeats keys across columns by design.
#![allow(clippy::duplicated_attributes)]

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{CloudPolicies, CommonStatus, ConnectionSecretRef, DriftStatus, PlatformRef};

/// Desired state of a 3nv.io managed service package.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "nno.app",
    version = "v1alpha1",
    kind = "ServicePackage",
    plural = "servicepackages",
    namespaced,
    status = "ServicePackageStatus",
    shortname = "svcpkg",
    category = "nno",
    doc = "A 3nv.io managed service (PostgreSQL, MariaDB, ...). Only the display name, billing account and IP whitelist can change after creation; the service password goes to `writeConnectionSecretToRef`.",
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
    printcolumn(name = "SERVICE", type_ = "string", json_path = ".spec.service"),
    printcolumn(name = "VERSION", type_ = "string", json_path = ".spec.version"),
    printcolumn(name = "STATE", type_ = "string", json_path = ".status.state"),
    printcolumn(
        name = "ADDRESS",
        type_ = "string",
        json_path = ".status.properties.serviceIp",
        priority = 1
    ),
    printcolumn(
        name = "AGE",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ServicePackageSpec {
    /// The `Platform` (same namespace) whose 3nv.io credentials and billing account this service uses.
    pub platform_ref: PlatformRef,
    /// 3nv.io billing account id; overrides the platform's billing account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub billing_account_id: Option<i64>,
    /// Service type, e.g. `postgresql` or `mariadb`. Immutable.
    #[schemars(length(min = 1, max = 64))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "service is immutable"}]))]
    pub service: String,
    /// Service version, e.g. `14.0`. Immutable.
    #[schemars(length(min = 1, max = 64))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "version is immutable"}]))]
    pub version: String,
    /// Name shown in the 3nv.io console; defaults to `metadata.name` (the operator appends its create token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 200))]
    pub display_name: Option<String>,
    /// vCPUs per service node. Immutable.
    #[schemars(range(min = 1, max = 16))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "vmCpu is immutable"}]))]
    pub vm_cpu: i32,
    /// Memory per service node in MiB. Immutable.
    #[schemars(range(min = 512, max = 65536))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "vmRam is immutable"}]))]
    pub vm_ram: i32,
    /// Disk per service node in GiB. Immutable.
    #[schemars(range(min = 1, max = 16384))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "vmDiskGb is immutable"}]))]
    pub vm_disk_gb: i32,
    /// Service-specific parameters passed through as `package_parameters`. Used at creation only: later changes are reported as drift, never applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::free_form_object")]
    pub package_parameters: Option<serde_json::Value>,
    /// Whether the service runs on several nodes (availability depends on the service type; default false). Immutable.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "isMultiNode is immutable"}]))]
    pub is_multi_node: bool,
    /// IP addresses or CIDR prefixes allowed to connect, e.g. `203.0.113.7` or `10.0.0.0/24`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 100),
        inner(
            length(min = 2, max = 49),
            regex(pattern = r"^[0-9a-fA-F:.]+(/[0-9]{1,3})?$")
        )
    )]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub whitelist: Vec<String>,
    /// Secret (owned by this object) that receives `host`, `port`, `username` and `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_connection_secret_to_ref: Option<ConnectionSecretRef>,
    #[serde(flatten)]
    pub policies: CloudPolicies,
}

/// Observed state of a managed service package.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServicePackageStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
    #[serde(flatten)]
    pub drift: DriftStatus,
    /// Service status reported by 3nv.io, e.g. `active`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Connection properties reported by 3nv.io.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<ServiceProperties>,
    /// Cloud resources (VMs, virtual IPs) that make up the service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ServiceResource>,
    /// Whitelist as 3nv.io stores it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub whitelist: Vec<String>,
}

/// Connection properties of a managed service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceProperties {
    /// Address clients connect to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_ip: Option<String>,
    /// Port clients connect to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// Administrative SQL user (its password goes to the connection secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql_user: Option<String>,
    /// Location slug the service runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// One cloud resource of a managed service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceResource {
    /// UUID of the resource.
    pub resource_id: String,
    /// Resource type, e.g. `vm` or `virtual_ip`.
    #[serde(default)]
    pub resource_type: String,
    /// Location slug of the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_location: Option<String>,
    /// Status of the resource, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}
