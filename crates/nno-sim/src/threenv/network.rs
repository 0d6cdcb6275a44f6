//! Private networks (`/v1/network/network…`): list, get, create-or-get-default, delete, set
//! default, rename; plus private address allocation for VMs and load balancers.
//!
//! A VM created without `network_uuid` lands in the default network, which is created ("Default
//! network") when the user has none, as `POST /v1/network/network` without a name would do.
//! Deleting the default network or one with resources (VMs or load balancers) is a 409.

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::ThreenvSim;
use super::errors::{ApiErr, ApiResult};
use super::request::{Req, parse_uuid};
use super::state::{Network, State as St, ts};

fn subnet_prefix(vlan: i64) -> String {
    format!("10.{}.{}", 1 + vlan / 250, vlan % 250)
}

/// Creates a network for `user`; the user's first network becomes the default.
pub fn create_network(st: &mut St, user: i64, name: &str, now: DateTime<Utc>) -> String {
    let first = !st.networks.values().any(|n| n.user_id == user);
    let uuid = st.ids.uuid();
    let id = st.next_id();
    st.next_vlan += 1;
    let net = Network {
        id,
        uuid: uuid.clone(),
        user_id: user,
        name: name.to_string(),
        vlan_id: st.next_vlan,
        is_default: first,
        created: now,
        updated: now,
    };
    st.networks.insert(uuid.clone(), net);
    uuid
}

/// The user's default network, created when missing.
pub fn ensure_default_network(st: &mut St, user: i64, now: DateTime<Utc>) -> String {
    match st
        .networks
        .values()
        .find(|n| n.user_id == user && n.is_default)
    {
        Some(n) => n.uuid.clone(),
        None => {
            let uuid = create_network(st, user, "Default network", now);
            if let Some(n) = st.networks.get_mut(&uuid) {
                n.is_default = true;
            }
            uuid
        }
    }
}

/// A free private address in the network (`""` if the network is unknown or full).
pub fn allocate_private_ip(st: &St, network: &str) -> String {
    let Some(net) = st.networks.get(network) else {
        return String::new();
    };
    let prefix = subnet_prefix(net.vlan_id);
    let used: Vec<&str> = st
        .locations
        .values()
        .flat_map(|l| l.vms.values())
        .filter(|v| v.network_uuid == network)
        .map(|v| v.private_ipv4.as_str())
        .chain(
            st.load_balancers
                .values()
                .filter(|lb| lb.network_uuid == network)
                .map(|lb| lb.private_address.as_str()),
        )
        .collect();
    (10..=254)
        .map(|h| format!("{prefix}.{h}"))
        .find(|a| !used.contains(&a.as_str()))
        .unwrap_or_default()
}

fn members(st: &St, uuid: &str) -> (Vec<String>, usize) {
    let mut vms: Vec<(i64, String)> = st
        .locations
        .values()
        .flat_map(|l| l.vms.values())
        .filter(|v| v.network_uuid == uuid)
        .map(|v| (v.id, v.uuid.clone()))
        .collect();
    vms.sort();
    let lbs = st
        .load_balancers
        .values()
        .filter(|lb| lb.network_uuid == uuid)
        .count();
    let count = vms.len() + lbs;
    (vms.into_iter().map(|(_, u)| u).collect(), count)
}

pub fn render_network(st: &St, n: &Network) -> Value {
    let (vm_uuids, count) = members(st, &n.uuid);
    json!({
        "vlan_id": n.vlan_id,
        "subnet": format!("{}.0/24", subnet_prefix(n.vlan_id)),
        "subnet_ipv6": format!("2a05:1cc0:10:30::{:x}:0/112", n.vlan_id),
        "name": n.name,
        "created_at": ts(&n.created),
        "updated_at": ts(&n.updated),
        "uuid": n.uuid,
        "type": "private",
        "is_default": n.is_default,
        "vm_uuids": vm_uuids,
        "resources_count": count,
    })
}

fn no_network(uuid: &str) -> ApiErr {
    ApiErr::not_found(format!("No such network exists. {uuid}"))
}

fn network_of(st: &St, user: i64, uuid: &str) -> ApiResult<Network> {
    st.networks
        .get(uuid)
        .filter(|n| n.user_id == user)
        .cloned()
        .ok_or_else(|| no_network(uuid))
}

fn path_uuid(req: &Req) -> ApiResult<String> {
    let raw = req.path("network_uuid")?;
    parse_uuid("network_uuid", raw).map_err(|_| no_network(raw))
}

pub async fn list(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    sim.with(|st, _| {
        let mut nets: Vec<&Network> = st
            .networks
            .values()
            .filter(|n| n.user_id == req.user)
            .collect();
        nets.sort_by_key(|n| n.id);
        let out: Vec<Value> = nets.into_iter().map(|n| render_network(st, n)).collect();
        Ok(Json(out).into_response())
    })
}

pub async fn get(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = path_uuid(&req)?;
    sim.with(|st, _| {
        let n = network_of(st, req.user, &uuid)?;
        Ok(Json(render_network(st, &n)).into_response())
    })
}

pub async fn create(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let name = p.str("name")?;
    sim.with(|st, now| {
        let uuid = match name {
            None => ensure_default_network(st, req.user, now),
            Some(n) => create_network(st, req.user, &n, now),
        };
        let n = network_of(st, req.user, &uuid)?;
        Ok(Json(render_network(st, &n)).into_response())
    })
}

pub async fn delete(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = path_uuid(&req)?;
    sim.with(|st, _| {
        let n = network_of(st, req.user, &uuid)?;
        if n.is_default {
            return Err(ApiErr::conflict(format!(
                "The default network cannot be deleted. {uuid}"
            )));
        }
        if members(st, &uuid).1 > 0 {
            return Err(ApiErr::conflict(format!(
                "The network contains resources and cannot be deleted. {uuid}"
            )));
        }
        st.networks.remove(&uuid);
        Ok(().into_response())
    })
}

pub async fn set_default(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = path_uuid(&req)?;
    sim.with(|st, now| {
        network_of(st, req.user, &uuid)?;
        for n in st.networks.values_mut().filter(|n| n.user_id == req.user) {
            let make_default = n.uuid == uuid;
            if n.is_default != make_default {
                n.is_default = make_default;
                n.updated = now;
            }
        }
        let n = network_of(st, req.user, &uuid)?;
        Ok(Json(render_network(st, &n)).into_response())
    })
}

pub async fn rename(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = path_uuid(&req)?;
    let p = req.json()?;
    let name = p.str("name")?;
    sim.with(|st, now| {
        network_of(st, req.user, &uuid)?;
        if let (Some(name), Some(n)) = (name, st.networks.get_mut(&uuid)) {
            n.name = name;
            n.updated = now;
        }
        let n = network_of(st, req.user, &uuid)?;
        Ok(Json(render_network(st, &n)).into_response())
    })
}
