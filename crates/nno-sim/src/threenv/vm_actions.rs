//! VM actions: password change, start/stop, reinstall, backup toggle, boot media and the
//! deprecated public IP reserve/release endpoints.
//!
//! State rules: a VM still `provisioning` refuses actions with 409; password change needs a
//! `running` VM (409 otherwise); start/stop of a VM already in the target state is a no-op.
//! Boot media and reinstall leave the VM `running`. Reinstall accepts any image published by
//! `/v1/config/vm_images` or `/v1/api/parameters/vm` (the reference reinstalls to `22.04-lts`).
//! Boot media without `boot_image_uuid` boots the platform rescue image (the reference's example
//! sends only `uuid`).

use axum::extract::State;

use super::ThreenvSim;
use super::catalog::{BOOT_IMAGES, image_known};
use super::errors::{ApiErr, ApiResult};
use super::request::Req;
use super::state::Vm;
use super::validate::{check_password, check_username};
use super::vm::{public_ipv4, success, vm_mut, vm_response, vm_uuid};

fn not_provisioning(vm: &Vm) -> ApiResult<()> {
    if vm.status == "provisioning" {
        Err(ApiErr::conflict(format!(
            "Virtual machine is still being provisioned. {}",
            vm.uuid
        )))
    } else {
        Ok(())
    }
}

pub async fn change_password(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let uuid = vm_uuid(&p)?;
    let username = p.req_str("username")?;
    check_username(&username)?;
    let password = p.req_str("password")?;
    check_password(&password)?;
    sim.with(|st, now| {
        let vm = vm_mut(st, &req.loc, req.user, &uuid)?;
        if vm.status != "running" {
            return Err(ApiErr::conflict(format!(
                "The virtual machine must be running to change the password (status: {}).",
                vm.status
            )));
        }
        if vm.username == username {
            vm.password = password;
        }
        vm.updated = now;
        Ok(success())
    })
}

pub async fn start(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let uuid = vm_uuid(&p)?;
    sim.with(|st, now| {
        let vm = vm_mut(st, &req.loc, req.user, &uuid)?;
        not_provisioning(vm)?;
        if vm.status != "running" {
            vm.status = "running".to_string();
            vm.updated = now;
        }
        vm_response(st, &req.loc, req.user, &uuid)
    })
}

pub async fn stop(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let uuid = vm_uuid(&p)?;
    let _force = p.bool("force")?.unwrap_or(false);
    sim.with(|st, now| {
        let vm = vm_mut(st, &req.loc, req.user, &uuid)?;
        not_provisioning(vm)?;
        if vm.status != "stopped" {
            vm.status = "stopped".to_string();
            vm.boot_media = None;
            vm.updated = now;
        }
        vm_response(st, &req.loc, req.user, &uuid)
    })
}

pub async fn reinstall(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let uuid = vm_uuid(&p)?;
    let os_name = p.str("os_name")?;
    let os_version = p.str("os_version")?;
    sim.with(|st, now| {
        let vm = vm_mut(st, &req.loc, req.user, &uuid)?;
        not_provisioning(vm)?;
        let name = os_name.unwrap_or_else(|| vm.os_name.clone());
        let version = os_version.unwrap_or_else(|| vm.os_version.clone());
        if !image_known(&name, &version) {
            return Err(ApiErr::invalid(
                "os_version",
                &format!("no published image {name} {version}"),
            ));
        }
        vm.os_name = name.clone();
        vm.os_version = version.clone();
        vm.status = "running".to_string();
        vm.updated = now;
        let primary = vm.disks.first().cloned();
        if let Some(d) = primary.and_then(|d| st.disks.get_mut(&d)) {
            d.source_image_type = "OS_BASE".to_string();
            d.source_image = Some(format!("{name}_{version}"));
            d.updated = now;
            d.updated_set = true;
        }
        vm_response(st, &req.loc, req.user, &uuid)
    })
}

pub async fn toggle_backup(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let uuid = vm_uuid(&p)?;
    sim.with(|st, now| {
        let vm = vm_mut(st, &req.loc, req.user, &uuid)?;
        vm.backup = !vm.backup;
        vm.updated = now;
        vm_response(st, &req.loc, req.user, &uuid)
    })
}

pub async fn boot_iso_media(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let uuid = vm_uuid(&p)?;
    let image = match p.uuid("boot_image_uuid")? {
        Some(i) => i,
        // The reference's example omits it: the platform's rescue image is the default.
        None => BOOT_IMAGES
            .iter()
            .find(|b| !b.is_installation_media)
            .map_or_else(String::new, |b| b.uuid.to_string()),
    };
    let repo = p
        .str("boot_image_repository")?
        .unwrap_or_else(|| "platform".to_string());
    sim.with(|st, now| {
        match repo.as_str() {
            "platform" => {
                if !BOOT_IMAGES.iter().any(|b| b.uuid == image) {
                    return Err(ApiErr::not_found(format!(
                        "No such boot image exists. {image}"
                    )));
                }
            }
            "private" => {
                let disk = st
                    .disks
                    .get(&image)
                    .filter(|d| d.user_id == req.user)
                    .ok_or_else(|| ApiErr::not_found(format!("No such disk exists. {image}")))?;
                if !disk.read_only_bootable {
                    return Err(ApiErr::invalid(
                        "boot_image_uuid",
                        "the disk is not marked read_only_bootable",
                    ));
                }
            }
            _ => {
                return Err(ApiErr::invalid(
                    "boot_image_repository",
                    "must be one of private, platform",
                ));
            }
        }
        let vm = vm_mut(st, &req.loc, req.user, &uuid)?;
        not_provisioning(vm)?;
        vm.boot_media = Some(image);
        vm.status = "running".to_string();
        vm.updated = now;
        vm_response(st, &req.loc, req.user, &uuid)
    })
}

pub async fn reserve_public_ip(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let uuid = vm_uuid(&p)?;
    sim.with(|st, now| {
        let billing = vm_mut(st, &req.loc, req.user, &uuid)?.billing_account;
        if public_ipv4(st, &req.loc, &uuid).is_some() {
            return Err(ApiErr::conflict(format!(
                "Virtual machine already has a public IPv4 address. {uuid}"
            )));
        }
        super::floating_ip::reserve_for_vm(st, &req.loc, req.user, billing, &uuid, now);
        vm_response(st, &req.loc, req.user, &uuid)
    })
}

pub async fn release_public_ip(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let uuid = vm_uuid(&p)?;
    sim.with(|st, now| {
        vm_mut(st, &req.loc, req.user, &uuid)?;
        let l = st.loc(&req.loc);
        let Some(ip) = l
            .ips
            .values_mut()
            .find(|ip| ip.assigned_to.as_deref() == Some(uuid.as_str()))
        else {
            return Err(ApiErr::conflict(format!(
                "Virtual machine has no public IPv4 address. {uuid}"
            )));
        };
        ip.assigned_to = None;
        ip.assigned_type = None;
        ip.unassigned = Some(now);
        ip.updated = now;
        vm_response(st, &req.loc, req.user, &uuid)
    })
}
