//! `Disk` on 3nv.io block storage: the mapping between the spec and `/v1/storage/disks` (create from
//! each source type, PATCH of display name / billing account / read-only-bootable) and the VM storage
//! endpoints (attach / detach to the `vmRef` VM, growth through the VM the disk is attached to).
//!
//! 3nv.io shows a disk's attachment on the VM, not on the disk: the observed attachment comes from
//! the VirtualMachine objects' observed storage (no extra cloud call per poll), or from the write
//! that just made it.

use std::collections::BTreeMap;

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use crate::api::common::{CloudPolicies, CommonStatus};
use crate::api::disk::{Disk, DiskSnapshot, DiskStatus, SourceImageType};
use crate::cloud::ApiError;
use crate::cloud::threenv::ThreenvClient;
use crate::cloud::threenv::storage::{self, CreateDisk, ModifyDisk};

use super::driver::external_id;
use super::error::ReconcileError;
use super::managed::{Field, InputContext, ManagedKind, Pending, Readiness, Target, UpdateOutcome};
use super::refs::{VmRefs, VmTarget};
use super::token;

/// A 3nv.io disk with the VM it is attached to.
#[derive(Debug, Clone, PartialEq)]
pub struct DiskView {
    pub disk: storage::Disk,
    /// The VM the disk is attached to, when known.
    pub attached: Option<VmTarget>,
    /// `attached` comes from a write the operator just made (newer than the VMs' statuses).
    pub written: bool,
}

impl From<storage::Disk> for DiskView {
    fn from(disk: storage::Disk) -> Self {
        Self {
            disk,
            attached: None,
            written: false,
        }
    }
}

/// What a disk reads besides its spec.
#[derive(Debug, Default)]
pub struct DiskInputs {
    /// The VM named by `spec.vmRef`.
    want: Option<VmTarget>,
    /// The VM whose observed storage lists this disk.
    attached: Option<VmTarget>,
    /// The billing account the disk should be on (spec, else the Platform's).
    billing: Option<i64>,
}

fn source_type(t: SourceImageType) -> &'static str {
    match t {
        SourceImageType::Empty => "EMPTY",
        SourceImageType::OsBase => "OS_BASE",
        SourceImageType::Disk => "DISK",
        SourceImageType::Snapshot => "SNAPSHOT",
    }
}

/// The id the OS gives the attached disk: `virtio-` and the first 20 characters of its UUID.
fn device_id(uuid: &str) -> String {
    let head: String = uuid.chars().take(20).collect();
    format!("/dev/disk/by-id/virtio-{head}")
}

fn vm_text(vm: Option<&VmTarget>) -> String {
    vm.map_or_else(|| "none".to_owned(), |v| v.external_id.clone())
}

impl Disk {
    /// The disk's descriptive name in the cloud (without the create token): `spec.displayName`,
    /// else `metadata.name`.
    pub fn cloud_display_name(&self) -> String {
        self.spec
            .display_name
            .clone()
            .unwrap_or_else(|| self.name_any())
    }

    fn token(&self) -> String {
        token::for_uid(&self.uid().unwrap_or_default())
    }
}

/// Whether VM `vm` lists `disk` among its storage in the cloud right now (a VM that is gone holds
/// nothing). Read before an attach or detach, since the VMs' statuses may lag behind the cloud.
async fn holds(c: &ThreenvClient, vm: &VmTarget, disk: &str) -> Result<bool, ApiError> {
    match c.get_vm(vm.location.as_deref(), &vm.external_id).await {
        Ok(v) => Ok(v.storage.iter().any(|s| s.uuid == disk)),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

async fn detach(c: &ThreenvClient, vm: &VmTarget, disk: &str) -> Result<(), ApiError> {
    match c
        .detach_disk(vm.location.as_deref(), &vm.external_id, disk)
        .await
    {
        // Gone, or no longer attached there: detached either way.
        Err(e) if e.is_not_found() => Ok(()),
        other => other.map(|_| ()),
    }
}

impl ManagedKind for Disk {
    type Observed = DiskView;
    type Inputs = DiskInputs;
    const KIND: &'static str = "Disk";
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
            names: self.spec.vm_ref.iter().map(|r| r.name.clone()).collect(),
            selector: None,
        }
    }

    async fn list(client: &ThreenvClient, _loc: Option<&str>) -> Result<Vec<DiskView>, ApiError> {
        let disks = client.list_disks(false).await?;
        Ok(disks.into_iter().map(DiskView::from).collect())
    }
    async fn get(
        client: &ThreenvClient,
        _loc: Option<&str>,
        id: &str,
    ) -> Result<DiskView, ApiError> {
        client.get_disk(id).await.map(DiskView::from)
    }
    fn external_id(d: &DiskView) -> String {
        d.disk.uuid.clone()
    }
    fn token_of(d: &DiskView) -> Option<String> {
        token::extract(d.disk.display_name.as_deref().unwrap_or_default())
    }
    fn readiness(d: &DiskView) -> Readiness {
        let state = d.disk.status.clone().unwrap_or_default();
        match state.to_ascii_lowercase().as_str() {
            "active" => Readiness::Ready,
            "error" | "failed" | "suspended" => Readiness::Unavailable { state },
            _ => Readiness::InTransition { state },
        }
    }

    async fn inputs(&self, ctx: InputContext<'_>) -> Result<DiskInputs, ReconcileError> {
        let ns = ctx.namespace;
        let deleting = self.metadata.deletion_timestamp.is_some();
        let id = external_id(self);
        let attached = id.as_deref().and_then(|id| ctx.caches.vm_with_disk(id));
        let want = match &self.spec.vm_ref {
            None => None,
            // Deletion never waits for a VM: a missing one holds no disk.
            Some(r) if deleting => ctx.caches.vm_if_known(ns, &r.name),
            Some(r) => {
                let vm = ctx.caches.vm(ns, &r.name, "spec.vmRef")?;
                let holds = id
                    .as_deref()
                    .is_some_and(|id| vm.disks.iter().any(|d| d == id));
                if !holds && vm.deleting {
                    return Err(ReconcileError::ReferenceNotReady(format!(
                        "VirtualMachine {:?} (spec.vmRef) is being deleted",
                        r.name
                    )));
                }
                if !holds && vm.state.as_deref() != Some("running") {
                    return Err(ReconcileError::ReferenceNotReady(format!(
                        "VirtualMachine {:?} (spec.vmRef) is {}; the disk is attached once it is running",
                        r.name,
                        vm.state.as_deref().unwrap_or("not observed yet")
                    )));
                }
                Some(vm)
            }
        };
        let platform = ObjectRef::new(&self.spec.platform_ref.name).within(ns);
        let billing = self.spec.billing_account_id.or_else(|| {
            ctx.caches
                .platforms
                .store()
                .get(&platform)
                .and_then(|p| p.spec.cloud.as_ref().and_then(|c| c.billing_account_id))
        });
        Ok(DiskInputs {
            want,
            attached,
            billing,
        })
    }

    fn validate(&self, _target: &Target, _inputs: &DiskInputs) -> Result<(), String> {
        let s = &self.spec;
        match (s.source_image_type, &s.source_image) {
            (SourceImageType::Empty, Some(_)) => {
                Err("spec.sourceImage must be omitted when sourceImageType is EMPTY".into())
            }
            (SourceImageType::Empty, None) if s.size_gb.is_none() => {
                Err("spec.sizeGb is required for an EMPTY disk".into())
            }
            (t, None) if t != SourceImageType::Empty => Err(format!(
                "spec.sourceImage is required for sourceImageType {} (an OS base image such as ubuntu_20.04, or a disk or snapshot UUID)",
                source_type(t)
            )),
            _ => Ok(()),
        }
    }

    fn complete(&self, mut d: DiskView, inputs: &DiskInputs) -> DiskView {
        if !d.written {
            d.attached = inputs.attached.clone();
        }
        d
    }

    fn check(&self, d: &DiskView, _inputs: &DiskInputs) -> Result<(), String> {
        match self.spec.size_gb {
            Some(want) if i64::from(want) < d.disk.size_gb => Err(format!(
                "spec.sizeGb {want} is smaller than the disk's size in 3nv.io ({} GiB): disks grow but never shrink; set sizeGb to {} or more",
                d.disk.size_gb, d.disk.size_gb
            )),
            _ => Ok(()),
        }
    }

    fn fields(&self, d: &DiskView, inputs: &DiskInputs) -> Vec<Field> {
        let (s, c) = (&self.spec, &d.disk);
        let mut out = vec![
            Field::new(
                "displayName",
                self.cloud_display_name(),
                token::strip(c.display_name.as_deref().unwrap_or_default()),
            ),
            Field::new(
                "readOnlyBootable",
                s.read_only_bootable,
                c.read_only_bootable.unwrap_or(false),
            )
            .after_create(),
            Field::new(
                "vmRef",
                vm_text(inputs.want.as_ref()),
                vm_text(d.attached.as_ref()),
            )
            .after_create(),
            Field::new(
                "sourceImageType",
                source_type(s.source_image_type),
                c.source_image_type.as_deref().unwrap_or("EMPTY"),
            )
            .create_only(),
            Field::new(
                "sourceImage",
                s.source_image.clone().unwrap_or_default(),
                c.source_image.clone().unwrap_or_default(),
            )
            .create_only(),
        ];
        if let Some(b) = inputs.billing {
            let observed = c.billing_account_id.map(|x| x.to_string());
            out.push(Field::new(
                "billingAccountId",
                b,
                observed.unwrap_or_default(),
            ));
        }
        if let Some(size) = s.size_gb {
            out.push(Field::new("sizeGb", size, c.size_gb));
        }
        out
    }

    async fn create(
        &self,
        target: &Target,
        _inputs: &DiskInputs,
        token: &str,
    ) -> Result<DiskView, ApiError> {
        let s = &self.spec;
        let form = CreateDisk {
            size_gb: s.size_gb.map(i64::from),
            billing_account_id: target.billing_account_id,
            display_name: Some(token::embed(&self.cloud_display_name(), token)),
            source_image_type: Some(source_type(s.source_image_type).to_owned()),
            source_image: s.source_image.clone(),
        };
        target.client.create_disk(&form).await.map(DiskView::from)
    }

    async fn update(
        &self,
        target: &Target,
        d: &DiskView,
        inputs: &DiskInputs,
        fields: &[Field],
    ) -> Result<UpdateOutcome<DiskView>, ApiError> {
        let (c, s) = (&target.client, &self.spec);
        let wants = |p: &str| fields.iter().any(|f| f.path == p);
        let mut out = UpdateOutcome::default();
        let mut cur = d.clone();
        let uuid = cur.disk.uuid.clone();
        let meta: Vec<&'static str> = ["displayName", "billingAccountId", "readOnlyBootable"]
            .into_iter()
            .filter(|p| wants(p))
            .collect();
        if !meta.is_empty() {
            let m = ModifyDisk {
                billing_account_id: inputs.billing.filter(|_| wants("billingAccountId")),
                display_name: wants("displayName")
                    .then(|| token::embed(&self.cloud_display_name(), &self.token())),
                read_only_bootable: wants("readOnlyBootable").then_some(s.read_only_bootable),
            };
            cur.disk = c.modify_disk(&uuid, &m).await?;
            out.applied.extend(meta);
        }
        if wants("vmRef") {
            let want_id = inputs.want.as_ref().map(|w| w.external_id.as_str());
            if let Some(old) = cur.attached.clone()
                && Some(old.external_id.as_str()) != want_id
            {
                if holds(c, &old, &uuid).await? {
                    detach(c, &old, &uuid).await?;
                }
                cur.attached = None;
            }
            if let Some(want) = &inputs.want
                && cur.attached.is_none()
            {
                if !holds(c, want, &uuid).await? {
                    c.attach_disk(want.location.as_deref(), &want.external_id, &uuid)
                        .await?;
                }
                cur.attached = Some(want.clone());
            }
            cur.written = true;
            out.applied.push("vmRef");
        }
        if wants("sizeGb")
            && let Some(size) = s.size_gb
        {
            match &cur.attached {
                Some(vm) => {
                    let st = c
                        .resize_vm_disk(
                            vm.location.as_deref(),
                            &vm.external_id,
                            &uuid,
                            i64::from(size),
                        )
                        .await?;
                    cur.disk.size_gb = st.size.max(i64::from(size));
                    out.applied.push("sizeGb");
                }
                None => out.pending.push(Pending {
                    field: "sizeGb",
                    reason: "AttachRequired",
                    message: format!(
                        "growing the disk from {} to {size} GiB waits: 3nv.io resizes a disk only through the VM it is attached to (set spec.vmRef)",
                        cur.disk.size_gb
                    ),
                }),
            }
        }
        out.observed = Some(cur);
        Ok(out)
    }

    async fn delete(&self, target: &Target, d: &DiskView) -> Result<(), ApiError> {
        let c = &target.client;
        if let Some(vm) = &d.attached {
            detach(c, vm, &d.disk.uuid).await?;
        }
        c.delete_disk(&d.disk.uuid).await
    }

    fn status(&self, d: &DiskView, _target: &Target) -> serde_json::Value {
        let c = &d.disk;
        let status = DiskStatus {
            state: c.status.clone(),
            size_gb: Some(c.size_gb),
            attached_to: d.attached.as_ref().map(|v| v.external_id.clone()),
            device_id: Some(device_id(&c.uuid)),
            snapshots: c
                .snapshots
                .iter()
                .map(|s| DiskSnapshot {
                    uuid: s.uuid.clone(),
                    size_gb: s.size_gb.unwrap_or_default(),
                    display_name: s.display_name.clone(),
                    created_at: s.created_at.clone(),
                })
                .collect(),
            ..DiskStatus::default()
        };
        serde_json::to_value(status).unwrap_or_default()
    }

    fn connection_details(
        &self,
        _observed: Option<&DiskView>,
        _inputs: &DiskInputs,
    ) -> Option<BTreeMap<String, String>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_id_is_virtio_and_the_uuid_head() {
        assert_eq!(
            device_id("3d91aa31-16ec-44ee-b8b3-22a0bda6559e"),
            "/dev/disk/by-id/virtio-3d91aa31-16ec-44ee-b"
        );
    }

    #[test]
    fn readiness_of_states() {
        let view = |s: &str| {
            DiskView::from(storage::Disk {
                status: Some(s.into()),
                ..storage::Disk::default()
            })
        };
        assert_eq!(Disk::readiness(&view("Active")), Readiness::Ready);
        assert!(matches!(
            Disk::readiness(&view("error")),
            Readiness::Unavailable { .. }
        ));
        assert!(matches!(
            Disk::readiness(&view("Creating")),
            Readiness::InTransition { .. }
        ));
    }
}
