//! `Disk`: a 3nv.io block storage volume (`/v1/storage/disks`), optionally attached to a VM.

// kube's `printcolumn(name = .., type_ = ..)` repeats keys across columns by design.
#![allow(clippy::duplicated_attributes)]

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{CloudPolicies, CommonStatus, DriftStatus, LocalRef, PlatformRef};

/// Desired state of a 3nv.io disk.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "nno.app",
    version = "v1alpha1",
    kind = "Disk",
    plural = "disks",
    namespaced,
    status = "DiskStatus",
    shortname = "disk",
    category = "nno",
    doc = "A 3nv.io block storage disk: empty, or a copy of an OS base image, another disk or a snapshot; attached to a VirtualMachine through `vmRef`. Disks grow but never shrink.",
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
    printcolumn(name = "SIZE-GB", type_ = "integer", json_path = ".status.sizeGb"),
    printcolumn(name = "VM", type_ = "string", json_path = ".spec.vmRef.name"),
    printcolumn(name = "STATE", type_ = "string", json_path = ".status.state"),
    printcolumn(
        name = "AGE",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "self.sourceImageType == 'EMPTY' || has(self.sourceImage)", "message": "sourceImage is required unless sourceImageType is EMPTY"},
    {"rule": "self.sourceImageType != 'EMPTY' || !has(self.sourceImage)", "message": "sourceImage must be omitted when sourceImageType is EMPTY"},
    {"rule": "self.sourceImageType != 'EMPTY' || has(self.sizeGb)", "message": "sizeGb is required for an EMPTY disk"},
    {"rule": "has(self.sourceImage) == has(oldSelf.sourceImage)", "message": "sourceImage is immutable"},
    {"rule": "!has(oldSelf.sizeGb) || has(self.sizeGb)", "message": "sizeGb cannot be removed once set"}
]))]
pub struct DiskSpec {
    /// The `Platform` (same namespace) whose 3nv.io credentials and billing account this disk uses.
    pub platform_ref: PlatformRef,
    /// 3nv.io billing account id; overrides the platform's billing account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub billing_account_id: Option<i64>,
    /// Descriptive name shown in the 3nv.io console; defaults to `metadata.name` (the operator appends its create token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 200))]
    pub display_name: Option<String>,
    /// Size in GiB. Required for an EMPTY disk; otherwise defaults to the size of the source. Can grow, never shrink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 16384))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self >= oldSelf", "message": "sizeGb cannot shrink"}]))]
    pub size_gb: Option<i32>,
    /// What the disk starts from: `EMPTY` (default), `OS_BASE`, `DISK` or `SNAPSHOT`. Immutable.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "sourceImageType is immutable"}]))]
    pub source_image_type: SourceImageType,
    /// The image to copy: an OS base image such as `ubuntu_20.04` for OS_BASE, or the UUID of a disk or snapshot. Required unless EMPTY. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "sourceImage is immutable"}]))]
    pub source_image: Option<String>,
    /// The `VirtualMachine` (same namespace) to attach the disk to; remove to detach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_ref: Option<LocalRef>,
    /// Mark the disk read-only bootable, so that new VMs can boot from copies of it (default false).
    #[serde(default)]
    pub read_only_bootable: bool,
    #[serde(flatten)]
    pub policies: CloudPolicies,
}

/// Source of a new disk's content.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SourceImageType {
    #[default]
    Empty,
    OsBase,
    Disk,
    Snapshot,
}

/// Observed state of a disk.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiskStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
    #[serde(flatten)]
    pub drift: DriftStatus,
    /// Disk status reported by 3nv.io, e.g. `Active`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Current size in GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_gb: Option<i64>,
    /// UUID of the VM the disk is attached to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached_to: Option<String>,
    /// Device id the OS sees for the attached disk (derived from the disk UUID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// Snapshots of the disk.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<DiskSnapshot>,
}

/// One snapshot of a disk.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiskSnapshot {
    /// UUID of the snapshot.
    pub uuid: String,
    /// Size in GiB at the time of the snapshot.
    #[serde(default)]
    pub size_gb: i64,
    /// Descriptive name of the snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// When the snapshot was taken, as reported by 3nv.io.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}
