//! 3nv.io virtual machines (location specific, form-encoded): create, get, list, modify, delete,
//! password, start/stop, reinstall, backup toggle, clone, rebuild, public IP, boot media.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::de::nd;
use super::{Success, ThreenvClient, located};
use crate::cloud::error::ApiError;
use crate::cloud::http::Request;

/// A storage replica (snapshot or backup) of a VM disk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Replica {
    #[serde(deserialize_with = "nd")]
    pub uuid: String,
    pub id: Option<i64>,
    pub master_id: Option<i64>,
    pub master_uuid: Option<String>,
    pub pool: Option<String>,
    pub size: Option<i64>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

/// One disk in a VM's `storage` list (also the answer of the VM storage endpoints).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VmStorage {
    #[serde(deserialize_with = "nd")]
    pub uuid: String,
    pub id: Option<i64>,
    /// Device name (`vda`, `sdb`, …).
    pub name: Option<String>,
    pub pool: Option<String>,
    #[serde(deserialize_with = "nd")]
    pub primary: bool,
    #[serde(deserialize_with = "nd")]
    pub shared: bool,
    #[serde(deserialize_with = "nd")]
    pub size: i64,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "nd")]
    pub replica: Vec<Replica>,
    pub user_id: Option<i64>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

/// A virtual machine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Vm {
    #[serde(deserialize_with = "nd")]
    pub uuid: String,
    pub id: Option<i64>,
    #[serde(deserialize_with = "nd")]
    pub name: String,
    #[serde(deserialize_with = "nd")]
    pub description: String,
    pub hostname: Option<String>,
    /// `provisioning`, `running`, `stopped`, …
    #[serde(deserialize_with = "nd")]
    pub status: String,
    #[serde(deserialize_with = "nd")]
    pub os_name: String,
    #[serde(deserialize_with = "nd")]
    pub os_version: String,
    #[serde(deserialize_with = "nd")]
    pub vcpu: i64,
    /// RAM in MB.
    #[serde(deserialize_with = "nd")]
    pub memory: i64,
    #[serde(deserialize_with = "nd")]
    pub username: String,
    #[serde(deserialize_with = "nd")]
    pub backup: bool,
    #[serde(alias = "billing_account_id")]
    pub billing_account: Option<i64>,
    pub designated_pool_name: Option<String>,
    pub designated_pool_uuid: Option<String>,
    pub license_type: Option<String>,
    pub mac: Option<String>,
    pub private_ipv4: Option<String>,
    pub public_ipv4: Option<String>,
    pub public_ipv6: Option<String>,
    #[serde(deserialize_with = "nd")]
    pub storage: Vec<VmStorage>,
    pub tags: Option<Value>,
    pub hypervisor_id: Option<Value>,
    pub user_id: Option<i64>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

/// Form of `POST /v1/user-resource/vm`. `Debug` redacts the password.
#[derive(Clone, Default, Serialize)]
pub struct CreateVm {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    /// Size of the main disk in GB (20..240); not used with `disk_uuid` / `source_uuid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disks: Option<i64>,
    pub vcpu: i64,
    pub ram: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    pub password: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_account_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub designated_pool_uuid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_uuid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_replica: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserve_public_ip: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_uuid: Option<String>,
    /// cloud-init user data as a YAML or JSON object text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_init: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_uuid: Option<String>,
}

impl std::fmt::Debug for CreateVm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateVm")
            .field("name", &self.name)
            .field("os_name", &self.os_name)
            .field("os_version", &self.os_version)
            .field("disks", &self.disks)
            .field("vcpu", &self.vcpu)
            .field("ram", &self.ram)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("billing_account_id", &self.billing_account_id)
            .field("network_uuid", &self.network_uuid)
            .field(
                "cloud_init",
                &self.cloud_init.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// Form of `PATCH /v1/user-resource/vm` (vcpu/ram only change on a stopped VM).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ModifyVm {
    pub uuid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vcpu: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ram: Option<i64>,
}

#[derive(Serialize)]
struct Uuid<'a> {
    uuid: &'a str,
}

#[derive(Serialize)]
struct Password<'a> {
    uuid: &'a str,
    username: &'a str,
    password: &'a str,
}

#[derive(Serialize)]
struct Stop<'a> {
    uuid: &'a str,
    force: bool,
}

#[derive(Serialize)]
struct Reinstall<'a> {
    uuid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    os_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    os_version: Option<&'a str>,
}

#[derive(Serialize)]
struct CloneForm<'a> {
    uuid: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct Rebuild<'a> {
    uuid: &'a str,
    replica_uuid: &'a str,
}

#[derive(Serialize)]
struct BootMedia<'a> {
    uuid: &'a str,
    boot_image_uuid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    boot_image_repository: Option<&'a str>,
}

const VM: &str = "/v1/[{slug}/]user-resource/vm";

impl ThreenvClient {
    /// `POST /v1/[{slug}/]user-resource/vm`. Never retried: on a transient error look for the VM
    /// (e.g. by a token in its description) before creating again.
    pub async fn create_vm(&self, loc: Option<&str>, vm: &CreateVm) -> Result<Vm, ApiError> {
        let req = Request::post(VM, located(loc, "/user-resource/vm")).form(vm);
        self.core.json(req).await
    }

    pub async fn get_vm(&self, loc: Option<&str>, uuid: &str) -> Result<Vm, ApiError> {
        let req = Request::get(VM, located(loc, "/user-resource/vm")).query(&Uuid { uuid });
        self.core.json(req).await
    }

    pub async fn list_vms(&self, loc: Option<&str>) -> Result<Vec<Vm>, ApiError> {
        let req = Request::get(
            "/v1/[{slug}/]user-resource/vm/list",
            located(loc, "/user-resource/vm/list"),
        );
        self.core.json(req).await
    }

    pub async fn modify_vm(&self, loc: Option<&str>, m: &ModifyVm) -> Result<Vm, ApiError> {
        let req = Request::patch(VM, located(loc, "/user-resource/vm")).form(m);
        self.core.json(req).await
    }

    pub async fn delete_vm(&self, loc: Option<&str>, uuid: &str) -> Result<(), ApiError> {
        let req = Request::delete(VM, located(loc, "/user-resource/vm")).form(&Uuid { uuid });
        self.core.empty(req).await
    }

    /// `PATCH …/vm/user`: sets a guest user's password (the VM must be running).
    pub async fn change_vm_password(
        &self,
        loc: Option<&str>,
        uuid: &str,
        username: &str,
        password: &str,
    ) -> Result<Success, ApiError> {
        let req = Request::patch(
            "/v1/[{slug}/]user-resource/vm/user",
            located(loc, "/user-resource/vm/user"),
        )
        .form(&Password {
            uuid,
            username,
            password,
        });
        self.core.json(req).await
    }

    async fn vm_action<T: Serialize + ?Sized>(
        &self,
        loc: Option<&str>,
        endpoint: &'static str,
        rest: &str,
        form: &T,
    ) -> Result<Vm, ApiError> {
        let req = Request::post(endpoint, located(loc, rest)).form(form);
        self.core.json(req).await
    }

    pub async fn start_vm(&self, loc: Option<&str>, uuid: &str) -> Result<Vm, ApiError> {
        self.vm_action(
            loc,
            "/v1/[{slug}/]user-resource/vm/start",
            "/user-resource/vm/start",
            &Uuid { uuid },
        )
        .await
    }

    /// Graceful ACPI stop, or `force` to cut the power.
    pub async fn stop_vm(
        &self,
        loc: Option<&str>,
        uuid: &str,
        force: bool,
    ) -> Result<Vm, ApiError> {
        self.vm_action(
            loc,
            "/v1/[{slug}/]user-resource/vm/stop",
            "/user-resource/vm/stop",
            &Stop { uuid, force },
        )
        .await
    }

    /// Overwrites the VM's disk with an OS image (same OS when both are `None`).
    pub async fn reinstall_vm(
        &self,
        loc: Option<&str>,
        uuid: &str,
        os_name: Option<&str>,
        os_version: Option<&str>,
    ) -> Result<Vm, ApiError> {
        self.vm_action(
            loc,
            "/v1/[{slug}/]user-resource/vm/reinstall",
            "/user-resource/vm/reinstall",
            &Reinstall {
                uuid,
                os_name,
                os_version,
            },
        )
        .await
    }

    /// Toggles automatic backups: call only when the observed value differs from the desired one.
    pub async fn toggle_vm_backup(&self, loc: Option<&str>, uuid: &str) -> Result<Vm, ApiError> {
        self.vm_action(
            loc,
            "/v1/[{slug}/]user-resource/vm/backup",
            "/user-resource/vm/backup",
            &Uuid { uuid },
        )
        .await
    }

    /// Clones a VM (a create: never retried).
    pub async fn clone_vm(
        &self,
        loc: Option<&str>,
        uuid: &str,
        name: &str,
    ) -> Result<Vm, ApiError> {
        self.vm_action(
            loc,
            "/v1/[{slug}/]user-resource/vm/clone",
            "/user-resource/vm/clone",
            &CloneForm { uuid, name },
        )
        .await
    }

    /// Restores the VM's storage from one of its replicas.
    pub async fn rebuild_vm(
        &self,
        loc: Option<&str>,
        uuid: &str,
        replica_uuid: &str,
    ) -> Result<Vm, ApiError> {
        self.vm_action(
            loc,
            "/v1/[{slug}/]user-resource/vm/rebuild",
            "/user-resource/vm/rebuild",
            &Rebuild { uuid, replica_uuid },
        )
        .await
    }

    /// Boots once from a platform ISO (`repository` `None`/`platform`) or a private bootable disk.
    pub async fn boot_vm_iso_media(
        &self,
        loc: Option<&str>,
        uuid: &str,
        boot_image_uuid: &str,
        repository: Option<&str>,
    ) -> Result<Vm, ApiError> {
        self.vm_action(
            loc,
            "/v1/[{slug}/]user-resource/vm/boot_iso_media",
            "/user-resource/vm/boot_iso_media",
            &BootMedia {
                uuid,
                boot_image_uuid,
                boot_image_repository: repository,
            },
        )
        .await
    }

    /// Deprecated API (see floating IPs): reserves and assigns a public IPv4.
    pub async fn reserve_vm_public_ip(
        &self,
        loc: Option<&str>,
        uuid: &str,
    ) -> Result<Vm, ApiError> {
        self.vm_action(
            loc,
            "/v1/[{slug}/]user-resource/vm/ip/public",
            "/user-resource/vm/ip/public",
            &Uuid { uuid },
        )
        .await
    }

    /// Deprecated API (see floating IPs): releases the VM's public IPv4 (it stays reserved).
    pub async fn release_vm_public_ip(
        &self,
        loc: Option<&str>,
        uuid: &str,
    ) -> Result<Vm, ApiError> {
        let req = Request::delete(
            "/v1/[{slug}/]user-resource/vm/ip/public",
            located(loc, "/user-resource/vm/ip/public"),
        )
        .form(&Uuid { uuid });
        self.core.json(req).await
    }
}
