//! VM storage endpoints: replicas (snapshots) and rebuild, disk add / resize / delete,
//! attach / detach of block storage disks.
//!
//! Choices where the reference is silent: a replica's uuid is the disk uuid followed by the
//! creation time (`…-2018-12-21-14-05-33`, as in the examples); `uuid` of the replica endpoints
//! may name a VM (all its disks) or one disk; added disks are 1..=10240 GB; deleting or detaching
//! the primary disk is a 409; a disk attached elsewhere cannot be attached again (409).

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use chrono::Duration;
use serde_json::Value;

use super::ThreenvSim;
use super::errors::{ApiErr, ApiResult};
use super::request::Req;
use super::state::{Attachment, Replica, State as St};
use super::validate::check_range;
use super::vm::{
    new_disk, next_device, render_replica, render_storage, success, vm_mut, vm_response, vm_uuid,
};

pub const EXTRA_DISK_MAX: i64 = 10240;

fn no_disk(uuid: &str) -> ApiErr {
    ApiErr::not_found(format!("No such disk exists. {uuid}"))
}

fn no_replica(uuid: &str) -> ApiErr {
    ApiErr::not_found(format!("No such replica exists. {uuid}"))
}

/// Checks that `disk` is attached to VM `vm` and returns its index in the VM's disk list.
fn attached_index(st: &mut St, loc: &str, user: i64, vm: &str, disk: &str) -> ApiResult<usize> {
    let v = vm_mut(st, loc, user, vm)?;
    v.disks
        .iter()
        .position(|d| d == disk)
        .ok_or_else(|| no_disk(disk))
}

pub async fn create_replica(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let uuid = p.req_uuid("uuid")?;
    sim.with(|st, now| {
        let replica_id = st.next_id();
        let taken: Vec<String> = st
            .disks
            .values()
            .flat_map(|d| d.replicas.iter().map(|r| r.uuid.clone()))
            .collect();
        let disk = st
            .disks
            .get_mut(&uuid)
            .filter(|d| d.user_id == req.user)
            .ok_or_else(|| no_disk(&uuid))?;
        let mut at = now;
        let mut rid = format!("{}{}", disk.uuid, at.format("%Y-%m-%d-%H-%M-%S"));
        while taken.contains(&rid) {
            at += Duration::seconds(1);
            rid = format!("{}{}", disk.uuid, at.format("%Y-%m-%d-%H-%M-%S"));
        }
        disk.replicas.push(Replica {
            id: replica_id,
            uuid: rid,
            size: disk.size_gb,
            r_type: "snapshot".to_string(),
            display_name: None,
            created: now,
        });
        Ok(Json(render_storage(disk)).into_response())
    })
}

pub async fn list_replicas(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let uuid = p.req_uuid("uuid")?;
    let r_type = p.str("r_type")?.unwrap_or_else(|| "snapshot".to_string());
    if r_type != "snapshot" && r_type != "backup" {
        return Err(ApiErr::invalid("r_type", "must be snapshot or backup"));
    }
    sim.with(|st, _| {
        let vm_disks = st
            .loc(&req.loc)
            .vms
            .get(&uuid)
            .filter(|vm| vm.user_id == req.user)
            .map(|vm| vm.disks.clone());
        let disks: Vec<String> = match vm_disks {
            Some(d) => d,
            _ if st.disks.get(&uuid).is_some_and(|d| d.user_id == req.user) => vec![uuid.clone()],
            _ => return Err(ApiErr::no_vm(&uuid)),
        };
        let out: Vec<Value> = disks
            .iter()
            .filter_map(|d| st.disks.get(d))
            .flat_map(|d| {
                d.replicas
                    .iter()
                    .filter(|r| r.r_type == r_type)
                    .map(move |r| render_replica(d, r))
            })
            .collect();
        Ok(Json(out).into_response())
    })
}

pub async fn delete_replica(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let rid = p.req_str("replica_uuid")?;
    sim.with(|st, _| {
        let disk = st
            .disks
            .values_mut()
            .filter(|d| d.user_id == req.user)
            .find(|d| d.replicas.iter().any(|r| r.uuid == rid))
            .ok_or_else(|| no_replica(&rid))?;
        disk.replicas.retain(|r| r.uuid != rid);
        Ok(success())
    })
}

pub async fn rebuild(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let uuid = vm_uuid(&p)?;
    let rid = p.req_str("replica_uuid")?;
    sim.with(|st, now| {
        let vm = vm_mut(st, &req.loc, req.user, &uuid)?;
        if vm.status == "provisioning" {
            return Err(ApiErr::conflict(format!(
                "Virtual machine is still being provisioned. {uuid}"
            )));
        }
        vm.updated = now;
        let disks = vm.disks.clone();
        let disk = disks
            .iter()
            .filter_map(|d| st.disks.get(d))
            .find(|d| d.replicas.iter().any(|r| r.uuid == rid))
            .map(|d| d.uuid.clone())
            .ok_or_else(|| no_replica(&rid))?;
        if let Some(d) = st.disks.get_mut(&disk) {
            d.updated = now;
            d.updated_set = true;
        }
        vm_response(st, &req.loc, req.user, &uuid)
    })
}

pub async fn add_storage(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let uuid = vm_uuid(&p)?;
    let size = p.req_int("size_gb")?;
    check_range("size_gb", size, 1, EXTRA_DISK_MAX)?;
    sim.with(|st, now| {
        let vm = vm_mut(st, &req.loc, req.user, &uuid)?.clone();
        let device = next_device(st, &vm);
        let disk_uuid = st.ids.uuid();
        let mut disk = new_disk(
            st,
            disk_uuid.clone(),
            req.user,
            Some(vm.billing_account),
            size,
            None,
            false,
            now,
        );
        disk.attached = Some(Attachment {
            location: req.loc.clone(),
            vm_uuid: uuid.clone(),
            device,
        });
        let out = render_storage(&disk);
        st.disks.insert(disk_uuid.clone(), disk);
        vm_mut(st, &req.loc, req.user, &uuid)?.disks.push(disk_uuid);
        Ok(Json(out).into_response())
    })
}

pub async fn resize_storage(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let uuid = vm_uuid(&p)?;
    let disk_uuid = p.req_uuid("disk_uuid")?;
    let size = p.req_int("size_gb")?;
    sim.with(|st, now| {
        attached_index(st, &req.loc, req.user, &uuid, &disk_uuid)?;
        let disk = st
            .disks
            .get_mut(&disk_uuid)
            .ok_or_else(|| no_disk(&disk_uuid))?;
        if size < disk.size_gb {
            return Err(ApiErr::bad_request(format!(
                "New disk size cannot be smaller than current size ({} GB).",
                disk.size_gb
            )));
        }
        check_range("size_gb", size, 1, EXTRA_DISK_MAX)?;
        disk.size_gb = size;
        disk.updated = now;
        disk.updated_set = true;
        Ok(Json(render_storage(disk)).into_response())
    })
}

pub async fn delete_storage(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let uuid = vm_uuid(&p)?;
    let disk_uuid = p.req_uuid("storage_uuid")?;
    sim.with(|st, _| {
        let idx = attached_index(st, &req.loc, req.user, &uuid, &disk_uuid)?;
        if idx == 0 || st.disks.get(&disk_uuid).is_some_and(|d| d.primary) {
            return Err(ApiErr::conflict(format!(
                "Primary/boot disks cannot be deleted. {disk_uuid}"
            )));
        }
        st.disks.remove(&disk_uuid);
        vm_mut(st, &req.loc, req.user, &uuid)?
            .disks
            .retain(|d| d != &disk_uuid);
        Ok(success())
    })
}

pub async fn attach(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let uuid = vm_uuid(&p)?;
    let disk_uuid = p.req_uuid("storage_uuid")?;
    sim.with(|st, _| {
        let vm = vm_mut(st, &req.loc, req.user, &uuid)?.clone();
        let device = next_device(st, &vm);
        let disk = st
            .disks
            .get_mut(&disk_uuid)
            .filter(|d| d.user_id == req.user)
            .ok_or_else(|| no_disk(&disk_uuid))?;
        if let Some(a) = &disk.attached {
            return Err(ApiErr::conflict(format!(
                "Disk is already attached to a virtual machine. {}",
                a.vm_uuid
            )));
        }
        disk.attached = Some(Attachment {
            location: req.loc.clone(),
            vm_uuid: uuid.clone(),
            device,
        });
        disk.primary = false;
        let out = render_storage(disk);
        vm_mut(st, &req.loc, req.user, &uuid)?.disks.push(disk_uuid);
        Ok(Json(out).into_response())
    })
}

pub async fn detach(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let uuid = vm_uuid(&p)?;
    let disk_uuid = p.req_uuid("storage_uuid")?;
    sim.with(|st, _| {
        let idx = attached_index(st, &req.loc, req.user, &uuid, &disk_uuid)?;
        if idx == 0 {
            return Err(ApiErr::conflict(format!(
                "Primary/boot disks cannot be detached. {disk_uuid}"
            )));
        }
        if let Some(d) = st.disks.get_mut(&disk_uuid) {
            d.attached = None;
        }
        vm_mut(st, &req.loc, req.user, &uuid)?
            .disks
            .retain(|d| d != &disk_uuid);
        Ok(success())
    })
}
