//! Read-only catalog endpoints (locations, host pools, VM parameters, VM and boot images, pricing
//! policy) and the billing views (usage, billing resources, resource billing).
//!
//! `/v1/api/parameters/vm` and `/v1/pricing/policy` answer exactly the documented documents. The
//! VM image catalog holds the documented images plus the OS versions used elsewhere in the
//! reference (ubuntu 16.04 / 20.04 / 22.04-lts, debian 9.1, windows 2016).

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::ThreenvSim;
use super::errors::{ApiErr, ApiResult};
use super::request::Req;
use super::state::{LOCATIONS, Vm};
use super::validate::OS_VERSIONS;
use super::vm::{render_vm, vm_response};

pub struct HostPool {
    pub uuid: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub is_default: bool,
}

pub const HOST_POOLS: &[HostPool] = &[
    HostPool {
        uuid: "4820b11f-82c9-4313-a1ef-14d6039981db",
        name: "General",
        description: "A server class for a wide range of purposes",
        is_default: true,
    },
    HostPool {
        uuid: "d2fc6881-9316-46d7-b515-b6cddaeee927",
        name: "Performance",
        description: "another fine server class",
        is_default: false,
    },
];

pub fn default_pool() -> &'static str {
    HOST_POOLS
        .iter()
        .find(|p| p.is_default)
        .map_or(HOST_POOLS[0].uuid, |p| p.uuid)
}

pub struct BootImage {
    pub uuid: &'static str,
    pub image_name: &'static str,
    pub description: &'static str,
    pub is_installation_media: bool,
}

pub const BOOT_IMAGES: &[BootImage] = &[
    BootImage {
        uuid: "e3a5f2d6-7d15-11f0-85ba-047bcbc1cb26",
        image_name: "systemrescue-12.x-amd64.iso",
        description: "SystemRescue 12",
        is_installation_media: false,
    },
    BootImage {
        uuid: "5b0c7a3e-7d16-11f0-85ba-047bcbc1cb26",
        image_name: "ubuntu-22.04-live-server-amd64.iso",
        description: "Ubuntu 22.04 installer",
        is_installation_media: true,
    },
];

/// (os_name, display_name, is_app_catalog, versions)
const IMAGES: &[(&str, &str, bool, &[&str])] = &[
    ("almalinux", "Almalinux", false, &["8"]),
    ("centos", "Centos", true, &["7.3.1611", "7.6", "8.2"]),
    ("ubuntu", "Ubuntu", false, &["16.04", "20.04", "22.04-lts"]),
    ("debian", "Debian", false, &["9.1"]),
    ("windows", "Windows", false, &["2016"]),
];

/// Whether an image `os_name`/`os_version` is published (catalog or VM parameters).
pub fn image_known(os_name: &str, os_version: &str) -> bool {
    IMAGES
        .iter()
        .any(|(n, _, _, vs)| *n == os_name && vs.contains(&os_version))
        || OS_VERSIONS
            .iter()
            .any(|(n, vs)| *n == os_name && vs.contains(&os_version))
}

fn images(filter: Option<bool>) -> Value {
    let out: Vec<Value> = IMAGES
        .iter()
        .enumerate()
        .filter(|(_, (_, _, app, _))| filter.is_none_or(|f| f == *app))
        .map(|(i, (n, d, app, vs))| {
            json!({
                "os_name": n,
                "display_name": d,
                "ui_position": i + 1,
                "is_default": i == 0,
                "is_app_catalog": app,
                "icon": "...",
                "versions": vs.iter().map(|v| json!({
                    "os_version": v, "display_name": v, "published": true
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Value::Array(out)
}

pub async fn vm_images(_req: Req) -> ApiResult {
    Ok(Json(images(None)).into_response())
}

pub async fn vm_images_plain(_req: Req) -> ApiResult {
    Ok(Json(images(Some(false))).into_response())
}

pub async fn vm_images_app(_req: Req) -> ApiResult {
    Ok(Json(images(Some(true))).into_response())
}

pub async fn boot_images(_req: Req) -> ApiResult {
    let out: Vec<Value> = BOOT_IMAGES
        .iter()
        .map(|b| {
            json!({
                "uuid": b.uuid,
                "image_name": b.image_name,
                "is_installation_media": b.is_installation_media,
                "description": b.description,
                "is_published": true,
            })
        })
        .collect();
    Ok(Json(out).into_response())
}

pub async fn locations(_req: Req) -> ApiResult {
    let out: Vec<Value> = LOCATIONS
        .iter()
        .map(|l| {
            json!({
                "display_name": l.display_name,
                "is_default": l.is_default,
                "is_preferred": l.is_preferred,
                "description": l.description,
                "order_nr": l.order_nr,
                "slug": l.slug,
                "country_code": l.country_code,
            })
        })
        .collect();
    Ok(Json(out).into_response())
}

pub async fn host_pools(_req: Req) -> ApiResult {
    let out: Vec<Value> = HOST_POOLS
        .iter()
        .map(|p| {
            json!({
                "created_at": "2022-12-28 13:50:52",
                "description": p.description,
                "is_default_designated": p.is_default,
                "name": p.name,
                "updated_at": "2023-02-21 08:17:13",
                "uuid": p.uuid,
            })
        })
        .collect();
    Ok(Json(out).into_response())
}

const VM_PARAMETERS: &str = r#"[
{"constraint":"range","description":"Size of main storage in gigabytes.","mandatory":true,"max":240,"min":20,"parameter":"disks","type":"integer"},
{"constraint":"regexp","description":"Name of the VM","expression":"^[0-9a-zA-Z][-0-9a-zA-Z]{2,}[0-9a-zA-Z]$","mandatory":true,"parameter":"name","type":"string"},
{"constraint":"enum","description":"OS name of VM base image.","mandatory":true,"parameter":"os_name","type":"string","values":["centos","ubuntu","windows","debian"]},
{"constraint":"enum","description":"OS version of VM base image.","limited_by":"os_name","limits":[{"os_name":"centos","values":["7.3.1611","6.9.1611"]},{"os_name":"ubuntu","values":["16.04"]},{"os_name":"windows","values":["2016"]},{"os_name":"debian","values":["9.1"]}],"mandatory":true,"parameter":"os_version","type":"string"},
{"constraint":"regexp","description":"Password for logging in to the VM.","expression":"^(?=.*[a-z])(?=.*[A-Z])(?=.*\\d).{8,}$","mandatory":true,"parameter":"password","type":"string"},
{"constraint":"range","description":"Amount of RAM.","limited_by":"os_name","limits":[{"min":1024,"os_name":"windows"}],"mandatory":true,"max":65536,"min":512,"parameter":"ram","type":"integer"},
{"constraint":"regexp","description":"Username for logging in to the VM.","expression":"^(?=.{1,30}$)[a-zA-Z_][0-9a-zA-Z_-]*$","limited_by":"os_name","limits":[{"mandatory":false,"os_name":"windows"}],"mandatory":true,"parameter":"username","type":"string"},
{"constraint":"range","description":"Number of CPUs.","limited_by":"os_name","limits":[{"min":2,"os_name":"windows"}],"mandatory":true,"max":16,"min":1,"parameter":"vcpu","type":"integer"}
]"#;

pub async fn vm_parameters(_req: Req) -> ApiResult {
    let v: Value = serde_json::from_str(VM_PARAMETERS)
        .map_err(|e| ApiErr::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(v).into_response())
}

const PRICING: &str = r#"{"policy":[
{"numCpus":1,"policyId":1001,"price":0.00521,"resourceType":"CPU","serviceNameUserFriendly":"1 CPU"},
{"megsRam":512,"policyId":1010,"price":0.001645,"resourceType":"RAM","serviceNameUserFriendly":"0.5 GB RAM"},
{"megsRam":1024,"policyId":1011,"price":0.00329,"resourceType":"RAM","serviceNameUserFriendly":"1 GB RAM"},
{"policyId":1021,"price":3.42e-05,"resourceType":"STORAGE","serviceNameInUptime":"backup","serviceNameUserFriendly":"Backup"},
{"policyId":1022,"price":0.0001,"resourceType":"STORAGE","serviceNameInUptime":"snapshot","serviceNameUserFriendly":"Snapshot"},
{"policyId":1023,"price":0.0001,"resourceType":"STORAGE","serviceNameInUptime":"main","serviceNameUserFriendly":"Storage"},
{"policyId":1030,"price":0.00548,"resourceType":"LICENSE","serviceNameInUptime":"windows","serviceNameUserFriendly":"Windows license per core per hour"},
{"policyId":1040,"price":3.42e-05,"resourceType":"OBJECT_STORAGE","serviceNameInUptime":"object_storage","serviceNameUserFriendly":"Object storage per gigabyte per hour"}
]}"#;

pub async fn pricing_policy(_req: Req) -> ApiResult {
    let v: Value = serde_json::from_str(PRICING)
        .map_err(|e| ApiErr::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(v).into_response())
}

/// Hourly price of a VM under the published policy.
#[allow(clippy::cast_precision_loss)]
fn hourly_price(vm: &Vm, disk_gb: i64) -> f64 {
    let mut p = vm.vcpu as f64 * 0.00521 + vm.memory as f64 / 1024.0 * 0.00329;
    p += disk_gb as f64 * 0.0001;
    if vm.os_name == "windows" {
        p += vm.vcpu as f64 * 0.00548;
    }
    (p * 100_000.0).round() / 100_000.0
}

pub async fn usage(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let q = req.form()?;
    let billing = q.req_billing_account("billing_account_id")?;
    sim.with(|st, now| {
        let mut vms: Vec<&Vm> = st
            .locations
            .values()
            .flat_map(|l| l.vms.values())
            .filter(|v| v.user_id == req.user && v.billing_account == billing)
            .collect();
        vms.sort_by_key(|v| v.id);
        let out: Vec<Value> = vms
            .into_iter()
            .map(|vm| {
                let disk_gb = vm
                    .disks
                    .first()
                    .and_then(|d| st.disks.get(d))
                    .map_or(0, |d| d.size_gb);
                let price = hourly_price(vm, disk_gb);
                #[allow(clippy::cast_precision_loss)]
                let hours = ((now - vm.created).num_seconds().max(0) as f64 / 3600.0).ceil();
                json!({
                    "billing_account_id": billing,
                    "configurations": [{
                        "cpus": vm.vcpu,
                        "disk_size_GB": disk_gb,
                        "os_name": vm.os_name,
                        "ram_MB": vm.memory,
                        "vm_name": vm.name,
                    }],
                    "cost": (price * hours * 100_000.0).round() / 100_000.0,
                    "description": format!("{}, {} CPUs, {} GB RAM, {} GB disk",
                        vm.name, vm.vcpu, vm.memory / 1024, disk_gb),
                    "hours": hours,
                    "owner_uuid": vm.uuid,
                    "price": price,
                    "price_unit": "h",
                    "uptime_types": ["VM_COMPUTE", "VM_RUNNING", "MAIN_STORAGE"],
                    "user_id": vm.user_id,
                })
            })
            .collect();
        Ok(Json(out).into_response())
    })
}

pub async fn billing_resources(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let q = req.form()?;
    let billing = q.req_billing_account("id")?;
    let kind = q.str("resource_type")?.unwrap_or_else(|| "vm".to_string());
    if kind != "vm" {
        return Err(ApiErr::invalid("resource_type", "must be vm"));
    }
    sim.with(|st, _| {
        let mut vms: Vec<Vm> = st
            .loc(&req.loc)
            .vms
            .values()
            .filter(|v| v.user_id == req.user && v.billing_account == billing)
            .cloned()
            .collect();
        vms.sort_by_key(|v| v.id);
        let out: Vec<Value> = vms.iter().map(|v| render_vm(st, &req.loc, v)).collect();
        Ok(Json(out).into_response())
    })
}

pub async fn resource_billing(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let uuid = p.req_uuid("uuid")?;
    let kind = p.str("resource_type")?.unwrap_or_else(|| "vm".to_string());
    if kind != "vm" {
        return Err(ApiErr::invalid("resource_type", "must be vm"));
    }
    sim.with(|st, now| {
        super::vm::vm_ref(st, &req.loc, req.user, &uuid)?;
        let billing = p.req_billing_account("billing_account_id")?;
        let vm = super::vm::vm_mut(st, &req.loc, req.user, &uuid)?;
        vm.billing_account = billing;
        vm.updated = now;
        vm_response(st, &req.loc, req.user, &uuid)
    })
}
