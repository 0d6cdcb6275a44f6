//! Managed service packages (`/v1/user-resource/service/package…`): create, list, get, update,
//! secrets, delete, and the IP whitelist (list, add, delete).
//!
//! Choices where the reference is silent: services are `postgresql` and `mariadb`; `vm_cpu`,
//! `vm_ram` and `vm_disk_gb` follow the VM parameter ranges; a new package is `provisioning` and
//! becomes `active` after the provision delay; a deleted package is answered once (status
//! `deleted`) and is gone afterwards (404); adding a whitelist entry twice is a no-op, deleting an
//! absent one a 404.

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::ThreenvSim;
use super::errors::{ApiErr, ApiResult};
use super::request::{Req, parse_uuid};
use super::state::{PackageNode, ServicePackage, State as St, ts};
use super::validate::{
    DISK_MAX, DISK_MIN, RAM_MAX, RAM_MIN, VCPU_MAX, VCPU_MIN, check_range, ip_or_cidr_ok,
};

const SERVICES: &[(&str, i64)] = &[("postgresql", 5432), ("mariadb", 3306)];
const PASS_CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

const PRICES: &str = r#"[
{"priceMultiplier":3.0,"resourceType":"CPU"},
{"priceMultiplier":3.0,"resourceType":"RAM"},
{"priceMultiplier":3.0,"resourceType":"STORAGE","serviceNameInUptime":"main"},
{"priceMultiplier":3.0,"resourceType":"STORAGE","serviceNameInUptime":"block"},
{"priceMultiplier":0.0,"resourceType":"STORAGE","serviceNameInUptime":"snapshot"},
{"priceMultiplier":0.0,"resourceType":"STORAGE","serviceNameInUptime":"backup"},
{"priceMultiplier":0.0,"resourceType":"OBJECT_STORAGE"},
{"priceMultiplier":0.0,"resourceType":"LICENSE","serviceNameInUptime":"windows"},
{"priceMultiplier":0.0,"resourceType":"UNASSIGNED_FLOATING_IP"}
]"#;

fn render(p: &ServicePackage, deleted_at: Option<&str>) -> Value {
    let port = SERVICES
        .iter()
        .find(|(s, _)| *s == p.service)
        .map_or(0, |(_, port)| *port);
    let vm_status = if p.status == "active" {
        "running"
    } else {
        "provisioning"
    };
    let resources: Vec<Value> = p
        .nodes
        .iter()
        .map(|n| {
            let alloc = match (deleted_at, n.resource_type.as_str()) {
                (Some(_), _) => json!({}),
                (None, "virtual_ip") => json!({ "address": n.address }),
                (None, _) => json!({
                    "memory": p.vm_ram,
                    "vcpu": p.vm_cpu,
                    "status": vm_status,
                    "storage": [{
                        "primary": true, "size": p.vm_disk_gb, "uuid": n.disk_uuid, "replica": []
                    }],
                }),
            };
            json!({
                "resource_allocation": alloc,
                "resource_id": n.resource_id,
                "resource_location": super::state::DEFAULT_LOCATION,
                "resource_type": n.resource_type,
            })
        })
        .collect();
    let mut v = json!({
        "billing_account_id": p.billing_account_id,
        "created_at": ts(&p.created),
        "display_name": p.display_name,
        "is_deleted": deleted_at.is_some(),
        "is_multi_node": p.is_multi_node,
        "prices": serde_json::from_str::<Value>(PRICES).unwrap_or_else(|_| json!([])),
        "properties": {
            "service_ip": p.service_ip,
            "location": super::state::DEFAULT_LOCATION,
            "sql_user": p.sql_user,
            "port": port,
        },
        "resources": resources,
        "service": p.service,
        "status": if deleted_at.is_some() { "deleted" } else { p.status.as_str() },
        "updated_at": ts(&p.updated),
        "user_id": p.user_id,
        "uuid": p.uuid,
        "version": p.version,
    });
    if let Some(d) = deleted_at {
        v["deleted_at"] = json!(d);
    }
    v
}

fn no_package(uuid: &str) -> ApiErr {
    ApiErr::not_found(format!("No such service package exists. {uuid}"))
}

fn pkg_mut<'a>(st: &'a mut St, user: i64, uuid: &str) -> ApiResult<&'a mut ServicePackage> {
    st.packages
        .get_mut(uuid)
        .filter(|p| p.user_id == user)
        .ok_or_else(|| no_package(uuid))
}

fn path_uuid(req: &Req) -> ApiResult<String> {
    let raw = req.path("package_uuid")?;
    parse_uuid("service_package_uuid", raw).map_err(|_| no_package(raw))
}

pub async fn create(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.json()?;
    let billing = p.req_billing_account("billing_account_id")?;
    let service = p.req_str("service")?;
    if !SERVICES.iter().any(|(s, _)| *s == service) {
        return Err(ApiErr::invalid(
            "service",
            "must be one of postgresql, mariadb",
        ));
    }
    let version = p.req_str("version")?;
    let display_name = p.req_str("display_name")?;
    let vm_cpu = p.req_int("vm_cpu")?;
    check_range("vm_cpu", vm_cpu, VCPU_MIN, VCPU_MAX)?;
    let vm_ram = p.req_int("vm_ram")?;
    check_range("vm_ram", vm_ram, RAM_MIN, RAM_MAX)?;
    let vm_disk_gb = p.req_int("vm_disk_gb")?;
    check_range("vm_disk_gb", vm_disk_gb, DISK_MIN, DISK_MAX)?;
    let params = match p.raw("package_parameters") {
        None => None,
        Some(Value::String(s)) => Some(
            serde_json::from_str::<Value>(s)
                .map_err(|_| ApiErr::invalid("package_parameters", "expected a JSON object"))?,
        ),
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(_) => {
            return Err(ApiErr::invalid(
                "package_parameters",
                "expected a JSON object",
            ));
        }
    };
    let multi = p.bool("is_multi_node")?.unwrap_or(false);
    let delay = sim.provision_delay();
    sim.with(|st, now| {
        let id = st.next_id();
        let net = st.ids.below(250);
        let host = st.ids.below(240) + 10;
        let service_ip = format!("10.2.{net}.{host}");
        let mut nodes = Vec::new();
        if multi {
            nodes.push(PackageNode {
                resource_id: st.ids.uuid(),
                resource_type: "virtual_ip".to_string(),
                disk_uuid: String::new(),
                address: service_ip.clone(),
            });
        }
        for _ in 0..(if multi { 2 } else { 1 }) {
            nodes.push(PackageNode {
                resource_id: st.ids.uuid(),
                resource_type: "vm".to_string(),
                disk_uuid: st.ids.uuid(),
                address: String::new(),
            });
        }
        let ready_at = St::ready_at(now, delay);
        let uuid = st.ids.uuid();
        let pkg = ServicePackage {
            id,
            uuid: uuid.clone(),
            user_id: req.user,
            billing_account_id: billing,
            service,
            version,
            display_name,
            vm_cpu,
            vm_ram,
            vm_disk_gb,
            is_multi_node: multi,
            package_parameters: params,
            status: if ready_at <= now.timestamp_millis() {
                "active"
            } else {
                "provisioning"
            }
            .to_string(),
            ready_at_ms: ready_at,
            service_ip,
            sql_user: "wadmin".to_string(),
            sql_pass: st.ids.text(PASS_CHARS, 16),
            nodes,
            whitelist: Vec::new(),
            created: now,
            updated: now,
        };
        let out = render(&pkg, None);
        st.packages.insert(uuid, pkg);
        Ok(Json(out).into_response())
    })
}

pub async fn list(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    sim.with(|st, _| {
        let mut pkgs: Vec<&ServicePackage> = st
            .packages
            .values()
            .filter(|p| p.user_id == req.user)
            .collect();
        pkgs.sort_by_key(|p| p.id);
        let out: Vec<Value> = pkgs.into_iter().map(|p| render(p, None)).collect();
        Ok(Json(out).into_response())
    })
}

pub async fn get(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = path_uuid(&req)?;
    sim.with(|st, _| Ok(Json(render(pkg_mut(st, req.user, &uuid)?, None)).into_response()))
}

pub async fn update(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = path_uuid(&req)?;
    let p = req.json()?;
    let billing = p.billing_account("billing_account_id")?;
    let name = p.str("display_name")?;
    sim.with(|st, now| {
        let pkg = pkg_mut(st, req.user, &uuid)?;
        if let Some(b) = billing {
            pkg.billing_account_id = b;
        }
        if let Some(n) = name {
            pkg.display_name = n;
        }
        pkg.updated = now;
        Ok(Json(render(pkg, None)).into_response())
    })
}

pub async fn secrets(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = path_uuid(&req)?;
    sim.with(|st, _| {
        let pkg = pkg_mut(st, req.user, &uuid)?;
        Ok(Json(json!({ "sql_pass": pkg.sql_pass })).into_response())
    })
}

pub async fn delete(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = path_uuid(&req)?;
    sim.with(|st, now| {
        pkg_mut(st, req.user, &uuid)?;
        let pkg = st.packages.remove(&uuid).ok_or_else(|| no_package(&uuid))?;
        Ok(Json(render(&pkg, Some(&ts(&now)))).into_response())
    })
}

pub async fn whitelist(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = path_uuid(&req)?;
    sim.with(|st, _| Ok(Json(pkg_mut(st, req.user, &uuid)?.whitelist.clone()).into_response()))
}

fn entry(req: &Req) -> ApiResult<String> {
    let ip = req.form()?.req_str("ip_address")?;
    if ip_or_cidr_ok(&ip) {
        Ok(ip)
    } else {
        Err(ApiErr::invalid(
            "ip_address",
            "expected an IP address or a subnet prefix in CIDR notation",
        ))
    }
}

pub async fn whitelist_add(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = path_uuid(&req)?;
    let ip = entry(&req)?;
    sim.with(|st, now| {
        let pkg = pkg_mut(st, req.user, &uuid)?;
        if !pkg.whitelist.contains(&ip) {
            pkg.whitelist.push(ip);
            pkg.updated = now;
        }
        Ok(Json(pkg.whitelist.clone()).into_response())
    })
}

pub async fn whitelist_delete(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = path_uuid(&req)?;
    let ip = entry(&req)?;
    sim.with(|st, now| {
        let pkg = pkg_mut(st, req.user, &uuid)?;
        if !pkg.whitelist.contains(&ip) {
            return Err(ApiErr::not_found(format!(
                "No such whitelist entry exists. {ip}"
            )));
        }
        pkg.whitelist.retain(|w| w != &ip);
        pkg.updated = now;
        Ok(Json(pkg.whitelist.clone()).into_response())
    })
}
