//! 3nv.io block storage (`/v1/storage/disks`, location independent) and the VM storage endpoints
//! (`…/user-resource/vm/storage|replica`, location specific): disks, attach/detach, resize,
//! replicas (snapshots).

use serde::{Deserialize, Serialize};

use super::de::nd;
use super::vm::{Replica, VmStorage};
use super::{Success, ThreenvClient, located};
use crate::cloud::error::ApiError;
use crate::cloud::http::{Request, seg};

/// A snapshot listed on a block storage disk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DiskSnapshot {
    #[serde(deserialize_with = "nd")]
    pub uuid: String,
    pub size_gb: Option<i64>,
    pub display_name: Option<String>,
    pub created_at: Option<String>,
    pub disk_uuid: Option<String>,
}

/// A block storage disk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Disk {
    #[serde(deserialize_with = "nd")]
    pub uuid: String,
    pub status: Option<String>,
    pub display_name: Option<String>,
    #[serde(deserialize_with = "nd")]
    pub snapshots: Vec<DiskSnapshot>,
    pub user_id: Option<i64>,
    #[serde(alias = "billing_account")]
    pub billing_account_id: Option<i64>,
    #[serde(deserialize_with = "nd")]
    pub size_gb: i64,
    pub source_image_type: Option<String>,
    pub source_image: Option<String>,
    pub read_only_bootable: Option<bool>,
    pub storage_pool_uuid: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

/// Form of `POST /v1/storage/disks`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateDisk {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_gb: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_account_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `OS_BASE`, `DISK`, `SNAPSHOT` or `EMPTY` (default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_image_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_image: Option<String>,
}

/// Form of `PATCH /v1/storage/disks/{disk_uuid}`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ModifyDisk {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_account_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only_bootable: Option<bool>,
}

#[derive(Serialize)]
struct Bootable {
    read_only_bootable: bool,
}

#[derive(Serialize)]
struct VmDisk<'a> {
    uuid: &'a str,
    storage_uuid: &'a str,
}

#[derive(Serialize)]
struct AddDisk<'a> {
    uuid: &'a str,
    size_gb: i64,
}

#[derive(Serialize)]
struct Resize<'a> {
    uuid: &'a str,
    disk_uuid: &'a str,
    size_gb: i64,
}

#[derive(Serialize)]
struct ReplicaQuery<'a> {
    uuid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    r_type: Option<&'a str>,
}

#[derive(Serialize)]
struct Uuid<'a> {
    uuid: &'a str,
}

#[derive(Serialize)]
struct ReplicaId<'a> {
    replica_uuid: &'a str,
}

const DISK: &str = "/v1/storage/disks/{disk_uuid}";
const VM_STORAGE: &str = "/v1/[{slug}/]user-resource/vm/storage";
const REPLICA: &str = "/v1/[{slug}/]user-resource/vm/replica";

impl ThreenvClient {
    /// `POST /v1/storage/disks` (a create: never retried).
    pub async fn create_disk(&self, disk: &CreateDisk) -> Result<Disk, ApiError> {
        let req = Request::post("/v1/storage/disks", "/v1/storage/disks").form(disk);
        self.core.json(req).await
    }

    pub async fn get_disk(&self, uuid: &str) -> Result<Disk, ApiError> {
        let req = Request::get(DISK, format!("/v1/storage/disks/{}", seg(uuid)));
        self.core.json(req).await
    }

    /// All disks; `read_only_bootable: true` lists bootable media disks only.
    pub async fn list_disks(&self, read_only_bootable: bool) -> Result<Vec<Disk>, ApiError> {
        let mut req = Request::get("/v1/storage/disks", "/v1/storage/disks");
        if read_only_bootable {
            req = req.query(&Bootable {
                read_only_bootable: true,
            });
        }
        self.core.json(req).await
    }

    pub async fn modify_disk(&self, uuid: &str, m: &ModifyDisk) -> Result<Disk, ApiError> {
        let req = Request::patch(DISK, format!("/v1/storage/disks/{}", seg(uuid))).form(m);
        self.core.json(req).await
    }

    /// Deletes a disk and its snapshots (204).
    pub async fn delete_disk(&self, uuid: &str) -> Result<(), ApiError> {
        let req = Request::delete(DISK, format!("/v1/storage/disks/{}", seg(uuid)));
        self.core.empty(req).await
    }

    pub async fn attach_disk(
        &self,
        loc: Option<&str>,
        vm_uuid: &str,
        disk_uuid: &str,
    ) -> Result<VmStorage, ApiError> {
        let req = Request::post(
            "/v1/[{slug}/]user-resource/vm/storage/attach",
            located(loc, "/user-resource/vm/storage/attach"),
        )
        .form(&VmDisk {
            uuid: vm_uuid,
            storage_uuid: disk_uuid,
        });
        self.core.json(req).await
    }

    pub async fn detach_disk(
        &self,
        loc: Option<&str>,
        vm_uuid: &str,
        disk_uuid: &str,
    ) -> Result<Success, ApiError> {
        let req = Request::post(
            "/v1/[{slug}/]user-resource/vm/storage/detach",
            located(loc, "/user-resource/vm/storage/detach"),
        )
        .form(&VmDisk {
            uuid: vm_uuid,
            storage_uuid: disk_uuid,
        });
        self.core.json(req).await
    }

    /// Creates a new disk of `size_gb` and attaches it to the VM (a create: never retried).
    pub async fn add_vm_disk(
        &self,
        loc: Option<&str>,
        vm_uuid: &str,
        size_gb: i64,
    ) -> Result<VmStorage, ApiError> {
        let req =
            Request::post(VM_STORAGE, located(loc, "/user-resource/vm/storage")).form(&AddDisk {
                uuid: vm_uuid,
                size_gb,
            });
        self.core.json(req).await
    }

    /// Grows a VM disk (it cannot shrink).
    pub async fn resize_vm_disk(
        &self,
        loc: Option<&str>,
        vm_uuid: &str,
        disk_uuid: &str,
        size_gb: i64,
    ) -> Result<VmStorage, ApiError> {
        let req =
            Request::patch(VM_STORAGE, located(loc, "/user-resource/vm/storage")).form(&Resize {
                uuid: vm_uuid,
                disk_uuid,
                size_gb,
            });
        self.core.json(req).await
    }

    /// Removes and destroys a non-primary VM disk.
    pub async fn delete_vm_disk(
        &self,
        loc: Option<&str>,
        vm_uuid: &str,
        disk_uuid: &str,
    ) -> Result<(), ApiError> {
        let req =
            Request::delete(VM_STORAGE, located(loc, "/user-resource/vm/storage")).form(&VmDisk {
                uuid: vm_uuid,
                storage_uuid: disk_uuid,
            });
        self.core.empty(req).await
    }

    /// Replicas of a VM's (or one disk's) storage; `r_type` `snapshot` (default) or `backup`.
    pub async fn list_replicas(
        &self,
        loc: Option<&str>,
        uuid: &str,
        r_type: Option<&str>,
    ) -> Result<Vec<Replica>, ApiError> {
        let req = Request::get(REPLICA, located(loc, "/user-resource/vm/replica"))
            .query(&ReplicaQuery { uuid, r_type });
        self.core.json(req).await
    }

    /// Snapshots a disk (`uuid` = storage uuid; a VM's primary disk has the VM's uuid).
    pub async fn create_replica(
        &self,
        loc: Option<&str>,
        uuid: &str,
    ) -> Result<VmStorage, ApiError> {
        let req =
            Request::post(REPLICA, located(loc, "/user-resource/vm/replica")).form(&Uuid { uuid });
        self.core.json(req).await
    }

    pub async fn delete_replica(
        &self,
        loc: Option<&str>,
        replica_uuid: &str,
    ) -> Result<(), ApiError> {
        let req = Request::delete(REPLICA, located(loc, "/user-resource/vm/replica"))
            .form(&ReplicaId { replica_uuid });
        self.core.empty(req).await
    }
}
