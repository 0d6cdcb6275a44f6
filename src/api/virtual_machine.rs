//! `VirtualMachine`: a 3nv.io compute instance (`/v1/[{location}/]user-resource/vm`).

// kube's `printcolumn(name = .., type_ = ..)` repeats keys across columns by design.
#![allow(clippy::duplicated_attributes)]

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    CloudPolicies, CommonStatus, ConnectionSecretRef, DriftStatus, PlatformRef, SecretKeyRef,
};

/// Desired state of a 3nv.io virtual machine.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "nno.app",
    version = "v1alpha1",
    kind = "VirtualMachine",
    plural = "virtualmachines",
    namespaced,
    status = "VirtualMachineStatus",
    shortname = "vm",
    category = "nno",
    doc = "A 3nv.io virtual machine. Sizes and patterns follow `GET /v1/api/parameters/vm`; vCPU/RAM changes need a stopped VM and are applied only with `allowRestart: true`.",
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
    printcolumn(name = "STATE", type_ = "string", json_path = ".status.state"),
    printcolumn(name = "VCPU", type_ = "integer", json_path = ".spec.vcpu"),
    printcolumn(name = "RAM-MB", type_ = "integer", json_path = ".spec.ramMb"),
    printcolumn(name = "PUBLIC-IP", type_ = "string", json_path = ".status.publicIpv4"),
    printcolumn(
        name = "PRIVATE-IP",
        type_ = "string",
        json_path = ".status.privateIpv4",
        priority = 1
    ),
    printcolumn(
        name = "AGE",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!(has(self.source) && has(self.bootDiskUuid))", "message": "source and bootDiskUuid are mutually exclusive"},
    {"rule": "!has(self.osName) || self.osName != 'windows' || (self.vcpu >= 2 && self.ramMb >= 1024)", "message": "windows needs at least 2 vcpu and 1024 ramMb"},
    {"rule": "has(self.location) == has(oldSelf.location)", "message": "location is immutable"}
]))]
pub struct VirtualMachineSpec {
    /// The `Platform` (same namespace) whose 3nv.io credentials, location and billing account this VM uses.
    pub platform_ref: PlatformRef,
    /// 3nv.io location slug (e.g. `cyc01`, `bus02`); overrides the platform's location. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32), regex(pattern = r"^[a-z][a-z0-9]*$"))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "location is immutable"}]))]
    pub location: Option<String>,
    /// 3nv.io billing account id; overrides the platform's billing account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub billing_account_id: Option<i64>,
    /// Name of the VM in the cloud (also its host name); defaults to `metadata.name`. 4+ characters: letters, digits and inner dashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9a-zA-Z][-0-9a-zA-Z]{2,}[0-9a-zA-Z]$"))]
    pub name: Option<String>,
    /// Free-text description shown in the 3nv.io console (the operator appends its create token to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 200))]
    pub description: Option<String>,
    /// OS of the base image, one of the `os_name` values of `GET /v1/api/parameters/vm` (e.g. `ubuntu`, `debian`, `centos`, `windows`); omit for an empty disk. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "osName is immutable"}]))]
    pub os_name: Option<String>,
    /// OS version of the base image, valid for `osName` (e.g. `16.04` for ubuntu). Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "osVersion is immutable"}]))]
    pub os_version: Option<String>,
    /// Number of virtual CPUs, 1..16 (windows: at least 2). Changing it needs a stopped VM.
    #[schemars(range(min = 1, max = 16))]
    pub vcpu: i32,
    /// Memory in MiB, 512..65536 (windows: at least 1024). Changing it needs a stopped VM.
    #[schemars(range(min = 512, max = 65536))]
    pub ram_mb: i32,
    /// Size of the primary disk in GiB, 20..240. Can grow, never shrink.
    #[schemars(range(min = 20, max = 240))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self >= oldSelf", "message": "diskGb cannot shrink"}]))]
    pub disk_gb: i32,
    /// Server class (host pool) to place the VM on, from `GET /v1/user-resource/host_pool/list`. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 36),
        regex(
            pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
        )
    )]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "designatedPoolUuid is immutable"}]))]
    pub designated_pool_uuid: Option<String>,
    /// Private network to create the VM in; the account's default network when omitted. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 36),
        regex(
            pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
        )
    )]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "networkUuid is immutable"}]))]
    pub network_uuid: Option<String>,
    /// Whether the VM gets a public IPv4 address (default true).
    #[serde(default = "default_true")]
    pub reserve_public_ip: bool,
    /// Whether 3nv.io backups are enabled for the VM (default false).
    #[serde(default)]
    pub backup: bool,
    /// Login user created on the VM (optional for windows). Up to 30 characters. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 30),
        regex(pattern = r"^[a-zA-Z_][0-9a-zA-Z_-]*$")
    )]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "username is immutable"}]))]
    pub username: Option<String>,
    /// Secret key holding the login password (8+ characters with a lower-case letter, an upper-case letter and a digit). When omitted, a password is generated and written to `writeConnectionSecretToRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret_ref: Option<SecretKeyRef>,
    /// SSH public key installed for the login user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// cloud-init user-data (any YAML/JSON object); keys override the platform-provided values. Used at creation only: later changes are reported as drift, never applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::free_form_object")]
    pub cloud_init: Option<serde_json::Value>,
    /// Desired power state: `Running` (default) or `Stopped`.
    #[serde(default)]
    pub power_state: PowerState,
    /// Whether the operator may stop and restart a running VM to apply vCPU/RAM changes (default false: the change waits, and a condition says so).
    #[serde(default)]
    pub allow_restart: bool,
    /// Create the VM as a copy of a snapshot or backup of another VM. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "source is immutable"}]))]
    pub source: Option<VmSource>,
    /// Use this existing unattached disk as the boot disk instead of a new one. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 36),
        regex(
            pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
        )
    )]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "bootDiskUuid is immutable"}]))]
    pub boot_disk_uuid: Option<String>,
    /// Secret (owned by this VM) that receives `username`, `password`, `publicIpv4` and `privateIpv4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_connection_secret_to_ref: Option<ConnectionSecretRef>,
    #[serde(flatten)]
    pub policies: CloudPolicies,
}

fn default_true() -> bool {
    true
}

/// Desired power state of a VM.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PowerState {
    #[default]
    Running,
    Stopped,
}

/// A snapshot or backup to clone a new VM from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VmSource {
    /// UUID of the VM the snapshot or backup belongs to.
    #[schemars(
        length(max = 36),
        regex(
            pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
        )
    )]
    pub vm_uuid: String,
    /// UUID of the snapshot or backup (replica).
    #[schemars(
        length(max = 36),
        regex(
            pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
        )
    )]
    pub replica_uuid: String,
}

/// Observed state of a VM.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
    #[serde(flatten)]
    pub drift: DriftStatus,
    /// VM status reported by 3nv.io, e.g. `provisioning`, `running`, `stopped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Private IPv4 address in the VM's network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ipv4: Option<String>,
    /// Public IPv4 address, when reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ipv4: Option<String>,
    /// Public IPv6 address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ipv6: Option<String>,
    /// MAC address of the VM's network interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Location slug the VM lives in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Disks attached to the VM, primary first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub storage: Vec<VmStorage>,
}

/// One disk attached to a VM.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VmStorage {
    /// UUID of the disk.
    pub uuid: String,
    /// Device name inside the VM, e.g. `sda`.
    #[serde(default)]
    pub name: String,
    /// Size in GiB.
    #[serde(default)]
    pub size_gb: i64,
    /// Whether this is the boot disk.
    #[serde(default)]
    pub primary: bool,
}
