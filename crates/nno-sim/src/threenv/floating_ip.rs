//! Floating IPs (`/v1/[{slug}/]network/ip_addresses…`, location specific): create, list, get,
//! update, delete, assign, un-assign.
//!
//! Choices where the reference is silent: deleting an assigned address is a 409 (un-assign
//! first); assigning an address held by another VM, or to a VM that already has a public IPv4,
//! is a 409; un-assigning an unassigned address is a no-op. Addresses reserved implicitly when a
//! VM is created (`reserve_public_ip`) are released with the VM; others stay reserved.

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::ThreenvSim;
use super::errors::{ApiErr, ApiResult};
use super::request::Req;
use super::state::{FloatingIp, State as St, ts};
use super::vm::vm_ref;

/// Reserves a new public address in `loc` and assigns it to a VM.
pub fn reserve_for_vm(
    st: &mut St,
    loc: &str,
    user: i64,
    billing: i64,
    vm_uuid: &str,
    now: DateTime<Utc>,
) -> String {
    let address = st.public_address(loc);
    let id = st.next_id();
    let uuid = st.ids.uuid();
    st.loc(loc).ips.insert(
        address.clone(),
        FloatingIp {
            id,
            uuid,
            address: address.clone(),
            user_id: user,
            billing_account_id: billing,
            name: String::new(),
            assigned_to: Some(vm_uuid.to_string()),
            assigned_type: Some("virtual_machine".to_string()),
            implicit: true,
            unassigned: None,
            created: now,
            updated: now,
        },
    );
    address
}

fn render(st: &St, loc: &str, ip: &FloatingIp) -> Value {
    let mut v = json!({
        "id": ip.id,
        "uuid": ip.uuid,
        "address": ip.address,
        "user_id": ip.user_id,
        "billing_account_id": ip.billing_account_id,
        "type": "public",
        "network_id": null,
        "name": ip.name,
        "enabled": true,
        "created_at": ts(&ip.created),
        "updated_at": ts(&ip.updated),
        "is_deleted": false,
        "is_virtual": false,
        "assigned_to": ip.assigned_to,
    });
    if let Some(target) = &ip.assigned_to {
        let private = st
            .locations
            .get(loc)
            .and_then(|l| l.vms.get(target))
            .map(|vm| vm.private_ipv4.clone());
        v["assigned_to_resource_type"] = json!(ip.assigned_type);
        v["assigned_to_private_ip"] = json!(private);
    }
    if let Some(t) = &ip.unassigned {
        v["unassigned_at"] = json!(ts(t));
    }
    v
}

fn ip_mut<'a>(
    st: &'a mut St,
    loc: &str,
    user: i64,
    address: &str,
) -> ApiResult<&'a mut FloatingIp> {
    st.loc(loc)
        .ips
        .get_mut(address)
        .filter(|ip| ip.user_id == user)
        .ok_or_else(|| ApiErr::not_found(format!("No such floating IP exists. {address}")))
}

fn respond(st: &mut St, loc: &str, user: i64, address: &str) -> ApiResult {
    let ip = ip_mut(st, loc, user, address)?.clone();
    Ok(Json(render(st, loc, &ip)).into_response())
}

pub async fn create(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.json()?;
    let billing = p.req_billing_account("billing_account_id")?;
    let name = p.str("name")?.unwrap_or_default();
    sim.with(|st, now| {
        let address = st.public_address(&req.loc);
        let id = st.next_id();
        let uuid = st.ids.uuid();
        st.loc(&req.loc).ips.insert(
            address.clone(),
            FloatingIp {
                id,
                uuid,
                address: address.clone(),
                user_id: req.user,
                billing_account_id: billing,
                name,
                assigned_to: None,
                assigned_type: None,
                implicit: false,
                unassigned: None,
                created: now,
                updated: now,
            },
        );
        respond(st, &req.loc, req.user, &address)
    })
}

pub async fn list(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let q = req.form()?;
    let billing = q.int("billing_account_id")?;
    let vm = q.uuid("vm_uuid")?;
    sim.with(|st, _| {
        let mut ips: Vec<&FloatingIp> = st
            .locations
            .get(&req.loc)
            .map(|l| l.ips.values().collect())
            .unwrap_or_default();
        ips.retain(|ip| {
            ip.user_id == req.user
                && billing.is_none_or(|b| ip.billing_account_id == b)
                && vm
                    .as_ref()
                    .is_none_or(|v| ip.assigned_to.as_ref() == Some(v))
        });
        ips.sort_by_key(|ip| ip.id);
        let out: Vec<Value> = ips.into_iter().map(|ip| render(st, &req.loc, ip)).collect();
        Ok(Json(out).into_response())
    })
}

pub async fn get(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let address = req.path("address")?.to_string();
    sim.with(|st, _| respond(st, &req.loc, req.user, &address))
}

pub async fn update(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let address = req.path("address")?.to_string();
    let p = req.json()?;
    let billing = p.billing_account("billing_account_id")?;
    let name = p.str("name")?;
    sim.with(|st, now| {
        let ip = ip_mut(st, &req.loc, req.user, &address)?;
        if let Some(b) = billing {
            ip.billing_account_id = b;
        }
        if let Some(n) = name {
            ip.name = n;
        }
        ip.updated = now;
        respond(st, &req.loc, req.user, &address)
    })
}

pub async fn delete(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let address = req.path("address")?.to_string();
    sim.with(|st, _| {
        let ip = ip_mut(st, &req.loc, req.user, &address)?;
        if let Some(target) = &ip.assigned_to {
            return Err(ApiErr::conflict(format!(
                "Floating IP {address} is assigned to {target}; un-assign it first."
            )));
        }
        st.loc(&req.loc).ips.remove(&address);
        Ok(().into_response())
    })
}

pub async fn assign(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let address = req.path("address")?.to_string();
    let p = req.json()?;
    let vm_uuid = p.req_uuid("vm_uuid")?;
    sim.with(|st, now| {
        vm_ref(st, &req.loc, req.user, &vm_uuid)?;
        let current = ip_mut(st, &req.loc, req.user, &address)?
            .assigned_to
            .clone();
        match current {
            Some(t) if t == vm_uuid => return respond(st, &req.loc, req.user, &address),
            Some(t) => {
                return Err(ApiErr::conflict(format!(
                    "Floating IP {address} is already assigned to {t}."
                )));
            }
            None => {}
        }
        if st
            .loc(&req.loc)
            .ips
            .values()
            .any(|ip| ip.assigned_to.as_deref() == Some(vm_uuid.as_str()))
        {
            return Err(ApiErr::conflict(format!(
                "Virtual machine already has a public IPv4 address. {vm_uuid}"
            )));
        }
        let ip = ip_mut(st, &req.loc, req.user, &address)?;
        ip.assigned_to = Some(vm_uuid);
        ip.assigned_type = Some("virtual_machine".to_string());
        ip.unassigned = None;
        ip.updated = now;
        respond(st, &req.loc, req.user, &address)
    })
}

pub async fn unassign(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let address = req.path("address")?.to_string();
    sim.with(|st, now| {
        let ip = ip_mut(st, &req.loc, req.user, &address)?;
        if ip.assigned_to.is_some() {
            ip.assigned_to = None;
            ip.assigned_type = None;
            ip.unassigned = Some(now);
            ip.updated = now;
        }
        respond(st, &req.loc, req.user, &address)
    })
}
