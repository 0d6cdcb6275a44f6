//! VM create / get / list / modify / delete / clone and the VM JSON rendering.
//!
//! Choices where the reference is silent: the primary disk of a new VM has the VM's uuid (as in
//! the examples); deleting a VM deletes its primary disk, detaches other disks (they stay as block
//! storage), releases addresses reserved implicitly at create, un-assigns other floating IPs and
//! drops firewall and load-balancer references; the answer is `{"success": true}`. Name rules of
//! `/v1/api/parameters/vm` apply to create and modify; a clone's name is free text (the reference
//! clones to "Name of the Clone").

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::ThreenvSim;
use super::catalog::{HOST_POOLS, default_pool};
use super::errors::{ApiErr, ApiResult};
use super::network::{allocate_private_ip, ensure_default_network};
use super::request::{Params, Req};
use super::state::{Disk, State as St, Vm, ts, ts_micro};
use super::validate::{
    CUSTOM_OS, DISK_MAX, DISK_MIN, check_name, check_os, check_password, check_range, check_size,
    check_username,
};

/// The VM with this uuid in `loc`, owned by `user`.
pub fn vm_mut<'a>(st: &'a mut St, loc: &str, user: i64, uuid: &str) -> ApiResult<&'a mut Vm> {
    st.loc(loc)
        .vms
        .get_mut(uuid)
        .filter(|vm| vm.user_id == user)
        .ok_or_else(|| ApiErr::no_vm(uuid))
}

pub fn vm_ref<'a>(st: &'a mut St, loc: &str, user: i64, uuid: &str) -> ApiResult<&'a Vm> {
    vm_mut(st, loc, user, uuid).map(|v| &*v)
}

/// The `uuid` form parameter (required, a UUID).
pub fn vm_uuid(p: &Params) -> ApiResult<String> {
    p.req_uuid("uuid")
}

pub fn render_replica(disk: &Disk, r: &super::state::Replica) -> Value {
    json!({
        "created_at": ts_micro(&r.created),
        "id": r.id,
        "master_id": disk.id,
        "master_uuid": disk.uuid,
        "pool": "",
        "size": r.size,
        "type": r.r_type,
        "updated_at": null,
        "uuid": r.uuid,
    })
}

/// A disk as an entry of a VM's `storage` list.
pub fn render_storage(disk: &Disk) -> Value {
    json!({
        "created_at": ts_micro(&disk.created),
        "id": disk.id,
        "name": disk.attached.as_ref().map_or("", |a| a.device.as_str()),
        "pool": "default",
        "primary": disk.primary,
        "public_ipv4": null,
        "replica": disk.replicas.iter().map(|r| render_replica(disk, r)).collect::<Vec<_>>(),
        "shared": false,
        "size": disk.size_gb,
        "type": "block",
        "updated_at": disk.updated_set.then(|| ts(&disk.updated)),
        "user_id": disk.user_id,
        "uuid": disk.uuid,
    })
}

pub fn public_ipv4(st: &St, loc: &str, vm_uuid: &str) -> Option<String> {
    st.locations.get(loc).and_then(|l| {
        l.ips
            .values()
            .find(|ip| ip.assigned_to.as_deref() == Some(vm_uuid))
            .map(|ip| ip.address.clone())
    })
}

pub fn render_vm(st: &St, loc: &str, vm: &Vm) -> Value {
    let pool = HOST_POOLS
        .iter()
        .find(|p| p.uuid == vm.designated_pool_uuid)
        .map_or("", |p| p.name);
    let storage: Vec<Value> = vm
        .disks
        .iter()
        .filter_map(|d| st.disks.get(d))
        .map(render_storage)
        .collect();
    let mut v = json!({
        "backup": vm.backup,
        "billing_account": vm.billing_account,
        "created_at": ts(&vm.created),
        "description": vm.description,
        "designated_pool_name": pool,
        "designated_pool_uuid": vm.designated_pool_uuid,
        "hostname": vm.hostname,
        "hypervisor_id": null,
        "id": vm.id,
        "mac": vm.mac,
        "memory": vm.memory,
        "name": vm.name,
        "os_name": vm.os_name,
        "os_version": vm.os_version,
        "private_ipv4": vm.private_ipv4,
        "public_ipv4": public_ipv4(st, loc, &vm.uuid),
        "public_ipv6": vm.public_ipv6,
        "status": vm.status,
        "storage": storage,
        "tags": null,
        "updated_at": ts(&vm.updated),
        "user_id": vm.user_id,
        "username": vm.username,
        "uuid": vm.uuid,
        "vcpu": vm.vcpu,
    });
    if vm.os_name == "windows" {
        v["license_type"] = json!("WINDOWS");
    }
    v
}

/// Renders the VM `uuid` of `loc` as a JSON response.
pub fn vm_response(st: &mut St, loc: &str, user: i64, uuid: &str) -> ApiResult<Response> {
    let vm = vm_ref(st, loc, user, uuid)?.clone();
    Ok(Json(render_vm(st, loc, &vm)).into_response())
}

pub fn success() -> Response {
    Json(json!({ "success": true })).into_response()
}

/// Creates a new primary disk for a VM.
#[allow(clippy::too_many_arguments)]
pub fn new_disk(
    st: &mut St,
    uuid: String,
    user: i64,
    billing: Option<i64>,
    size: i64,
    image: Option<String>,
    primary: bool,
    now: DateTime<Utc>,
) -> Disk {
    Disk {
        id: st.next_id(),
        uuid,
        user_id: user,
        billing_account_id: billing,
        size_gb: size,
        display_name: None,
        source_image_type: if image.is_some() { "OS_BASE" } else { "EMPTY" }.to_string(),
        source_image: image,
        primary,
        read_only_bootable: false,
        attached: None,
        replicas: Vec::new(),
        created: now,
        updated: now,
        updated_set: false,
    }
}

/// First free device name (`vda` is the primary disk).
pub fn next_device(st: &St, vm: &Vm) -> String {
    let used: Vec<&str> = vm
        .disks
        .iter()
        .filter_map(|d| st.disks.get(d))
        .filter_map(|d| d.attached.as_ref().map(|a| a.device.as_str()))
        .collect();
    (b'a'..=b'z')
        .map(|c| format!("vd{}", char::from(c)))
        .find(|d| !used.contains(&d.as_str()))
        .unwrap_or_else(|| "vdz".to_string())
}

fn parse_cloud_init(p: &Params) -> ApiResult<Option<Value>> {
    let Some(raw) = p.raw("cloud_init") else {
        return Ok(None);
    };
    let parsed: Value = match raw {
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => serde_yaml::from_str(s)
            .map_err(|_| ApiErr::invalid("cloud_init", "expected a YAML or JSON object"))?,
        other => other.clone(),
    };
    if parsed.is_object() {
        Ok(Some(parsed))
    } else {
        Err(ApiErr::invalid(
            "cloud_init",
            "expected a YAML or JSON object",
        ))
    }
}

pub async fn create_vm(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let billing = p.req_billing_account("billing_account_id")?;
    let name = p.req_str("name")?;
    check_name(&name)?;
    let (os_name, os_version) = match (p.str("os_name")?, p.str("os_version")?) {
        (None, None) => (CUSTOM_OS.0.to_string(), CUSTOM_OS.1.to_string()),
        (Some(_), None) => return Err(ApiErr::missing("os_version")),
        (None, Some(_)) => return Err(ApiErr::missing("os_name")),
        (Some(n), Some(v)) => (n, v),
    };
    check_os(&os_name, &os_version)?;
    let disk_uuid = p.uuid("disk_uuid")?;
    let source = match (p.uuid("source_uuid")?, p.str("source_replica")?) {
        (None, None) => None,
        (Some(s), Some(r)) => Some((s, r)),
        (Some(_), None) => return Err(ApiErr::missing("source_replica")),
        (None, Some(_)) => return Err(ApiErr::missing("source_uuid")),
    };
    let disks = if disk_uuid.is_some() || source.is_some() {
        None
    } else {
        let d = p.req_int("disks")?;
        check_range("disks", d, DISK_MIN, DISK_MAX)?;
        Some(d)
    };
    let vcpu = p.req_int("vcpu")?;
    let ram = p.req_int("ram")?;
    check_size(&os_name, vcpu, ram)?;
    let username = match p.str("username")? {
        Some(u) => u,
        None if os_name == "windows" => "administrator".to_string(),
        None => return Err(ApiErr::missing("username")),
    };
    check_username(&username)?;
    let password = p.req_str("password")?;
    check_password(&password)?;
    let pool = match p.uuid("designated_pool_uuid")? {
        None => default_pool().to_string(),
        Some(u) if HOST_POOLS.iter().any(|hp| hp.uuid == u) => u,
        Some(_) => {
            return Err(ApiErr::invalid(
                "designated_pool_uuid",
                "no such resource pool",
            ));
        }
    };
    let network = p.uuid("network_uuid")?;
    let reserve_ip = p.bool("reserve_public_ip")?.unwrap_or(true);
    let backup = p.bool("backup")?.unwrap_or(false);
    let description = p.str("description")?.unwrap_or_default();
    let public_key = p.str("public_key")?;
    let cloud_init = parse_cloud_init(&p)?;
    let delay = sim.provision_delay();
    let (user, loc) = (req.user, req.loc.clone());
    sim.with(|st, now| {
        let network_uuid = match network {
            Some(n) => {
                if st.networks.get(&n).is_none_or(|x| x.user_id != user) {
                    return Err(ApiErr::not_found(format!("No such network exists. {n}")));
                }
                n
            }
            None => ensure_default_network(st, user, now),
        };
        // Resolve the boot disk source before changing anything.
        let (size, image) = match (&disk_uuid, &source) {
            (Some(d), _) => {
                let disk = st
                    .disks
                    .get(d)
                    .filter(|x| x.user_id == user)
                    .ok_or_else(|| ApiErr::not_found(format!("No such disk exists. {d}")))?;
                if disk.attached.is_some() {
                    return Err(ApiErr::conflict(format!(
                        "Disk is already attached to a virtual machine. {d}"
                    )));
                }
                (disk.size_gb, None)
            }
            (None, Some((src, replica))) => {
                st.find_vm(user, src).ok_or_else(|| ApiErr::no_vm(src))?;
                let size = st
                    .disks
                    .values()
                    .filter(|d| d.user_id == user)
                    .flat_map(|d| d.replicas.iter())
                    .find(|r| &r.uuid == replica)
                    .map(|r| r.size)
                    .ok_or_else(|| {
                        ApiErr::not_found(format!("No such replica exists. {replica}"))
                    })?;
                (size, None)
            }
            (None, None) => {
                let image = (os_name != CUSTOM_OS.0).then(|| format!("{os_name}_{os_version}"));
                (disks.unwrap_or(DISK_MIN), image)
            }
        };
        let uuid = st.ids.uuid();
        let primary_uuid = disk_uuid.clone().unwrap_or_else(|| uuid.clone());
        if disk_uuid.is_none() {
            let disk = new_disk(
                st,
                uuid.clone(),
                user,
                Some(billing),
                size,
                image,
                true,
                now,
            );
            st.disks.insert(uuid.clone(), disk);
        }
        if let Some(d) = st.disks.get_mut(&primary_uuid) {
            d.primary = true;
            d.attached = Some(super::state::Attachment {
                location: loc.clone(),
                vm_uuid: uuid.clone(),
                device: "vda".to_string(),
            });
        }
        let ready_at = St::ready_at(now, delay);
        let id = st.next_id();
        let private_ipv4 = allocate_private_ip(st, &network_uuid);
        let vm = Vm {
            id,
            uuid: uuid.clone(),
            user_id: user,
            hostname: name.to_lowercase(),
            name,
            description,
            os_name,
            os_version,
            vcpu,
            memory: ram,
            username,
            password,
            status: if ready_at <= now.timestamp_millis() {
                "running"
            } else {
                "provisioning"
            }
            .to_string(),
            ready_at_ms: ready_at,
            backup,
            billing_account: billing,
            designated_pool_uuid: pool,
            mac: st.ids.mac(),
            private_ipv4,
            public_ipv6: format!("2a05:1cc0:10:30::80:{:x}", id & 0xffff),
            network_uuid,
            disks: vec![primary_uuid],
            boot_media: None,
            cloud_init,
            public_key,
            created: now,
            updated: now,
        };
        st.loc(&loc).vms.insert(uuid.clone(), vm);
        if reserve_ip {
            super::floating_ip::reserve_for_vm(st, &loc, user, billing, &uuid, now);
        }
        vm_response(st, &loc, user, &uuid)
    })
}

pub async fn get_vm(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let uuid = vm_uuid(&p)?;
    sim.with(|st, _| vm_response(st, &req.loc, req.user, &uuid))
}

pub async fn list_vms(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    sim.with(|st, _| {
        let mut vms: Vec<Vm> = st
            .loc(&req.loc)
            .vms
            .values()
            .filter(|v| v.user_id == req.user)
            .cloned()
            .collect();
        vms.sort_by_key(|v| v.id);
        let out: Vec<Value> = vms.iter().map(|v| render_vm(st, &req.loc, v)).collect();
        Ok(Json(out).into_response())
    })
}

pub async fn modify_vm(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let uuid = vm_uuid(&p)?;
    let name = p.str("name")?;
    if let Some(n) = &name {
        check_name(n)?;
    }
    let vcpu = p.int("vcpu")?;
    let ram = p.int("ram")?;
    sim.with(|st, now| {
        let vm = vm_mut(st, &req.loc, req.user, &uuid)?;
        let new_vcpu = vcpu.unwrap_or(vm.vcpu);
        let new_ram = ram.unwrap_or(vm.memory);
        if new_vcpu != vm.vcpu || new_ram != vm.memory {
            check_size(&vm.os_name, new_vcpu, new_ram)?;
            if vm.status != "stopped" {
                return Err(ApiErr::conflict(format!(
                    "vcpu and ram can only be changed when the virtual machine is stopped (status: {}).",
                    vm.status
                )));
            }
        }
        if let Some(n) = name {
            vm.name = n;
        }
        vm.vcpu = new_vcpu;
        vm.memory = new_ram;
        vm.updated = now;
        vm_response(st, &req.loc, req.user, &uuid)
    })
}

/// Removes a VM and everything that only referred to it.
pub fn remove_vm(st: &mut St, loc: &str, uuid: &str) {
    let Some(vm) = st.loc(loc).vms.remove(uuid) else {
        return;
    };
    for (i, d) in vm.disks.iter().enumerate() {
        if i == 0 {
            st.disks.remove(d);
        } else if let Some(disk) = st.disks.get_mut(d) {
            disk.attached = None;
        }
    }
    let l = st.loc(loc);
    l.ips
        .retain(|_, ip| !(ip.implicit && ip.assigned_to.as_deref() == Some(uuid)));
    for ip in l.ips.values_mut() {
        if ip.assigned_to.as_deref() == Some(uuid) {
            ip.assigned_to = None;
            ip.assigned_type = None;
        }
    }
    for fw in st.firewalls.values_mut() {
        fw.vms.retain(|v| v != uuid);
    }
    for lb in st.load_balancers.values_mut() {
        lb.targets.retain(|t| t.target_uuid != uuid);
    }
}

pub async fn delete_vm(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let uuid = vm_uuid(&p)?;
    sim.with(|st, _| {
        vm_ref(st, &req.loc, req.user, &uuid)?;
        remove_vm(st, &req.loc, &uuid);
        Ok(success())
    })
}

pub async fn clone_vm(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let uuid = vm_uuid(&p)?;
    let name = p.req_str("name")?;
    let delay = sim.provision_delay();
    sim.with(|st, now| {
        let src = vm_ref(st, &req.loc, req.user, &uuid)?.clone();
        let had_ip = public_ipv4(st, &req.loc, &src.uuid).is_some();
        let src_disk = src.disks.first().and_then(|d| st.disks.get(d)).cloned();
        let new_uuid = st.ids.uuid();
        let mut disk = new_disk(
            st,
            new_uuid.clone(),
            req.user,
            Some(src.billing_account),
            src_disk.as_ref().map_or(DISK_MIN, |d| d.size_gb),
            src_disk.as_ref().and_then(|d| d.source_image.clone()),
            true,
            now,
        );
        disk.attached = Some(super::state::Attachment {
            location: req.loc.clone(),
            vm_uuid: new_uuid.clone(),
            device: "vda".to_string(),
        });
        st.disks.insert(new_uuid.clone(), disk);
        let id = st.next_id();
        let ready_at = St::ready_at(now, delay);
        let vm = Vm {
            id,
            uuid: new_uuid.clone(),
            name,
            status: if ready_at <= now.timestamp_millis() {
                "running"
            } else {
                "provisioning"
            }
            .to_string(),
            ready_at_ms: ready_at,
            backup: false,
            mac: st.ids.mac(),
            private_ipv4: allocate_private_ip(st, &src.network_uuid),
            public_ipv6: format!("2a05:1cc0:10:30::80:{:x}", id & 0xffff),
            disks: vec![new_uuid.clone()],
            boot_media: None,
            created: now,
            updated: now,
            ..src.clone()
        };
        st.loc(&req.loc).vms.insert(new_uuid.clone(), vm);
        if had_ip {
            super::floating_ip::reserve_for_vm(
                st,
                &req.loc,
                req.user,
                src.billing_account,
                &new_uuid,
                now,
            );
        }
        vm_response(st, &req.loc, req.user, &new_uuid)
    })
}
