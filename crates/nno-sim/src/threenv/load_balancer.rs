//! Network load balancers (`/v1/network/load_balancers…`): list, get, create, rename, delete,
//! targets add/remove, forwarding rules add/remove, billing account change.
//!
//! Choices where the reference is silent: ports are 1..=65535 and a source port is used by at most
//! one rule (400 on create, 409 on add); targets are VMs (`target_type: "vm"`) of the same user in
//! any location, each at most once (409); without `billing_account_id` the load balancer takes the
//! first target VM's billing account (400 if there is none); protocol defaults to `TCP`.

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::ThreenvSim;
use super::errors::{ApiErr, ApiResult};
use super::network::{allocate_private_ip, ensure_default_network};
use super::request::{Params, Req, parse_uuid};
use super::state::{LbRule, LbTarget, LoadBalancer, State as St, ts};

fn no_lb(uuid: &str) -> ApiErr {
    ApiErr::not_found(format!("No such load balancer exists. {uuid}"))
}

fn lb_mut<'a>(st: &'a mut St, user: i64, uuid: &str) -> ApiResult<&'a mut LoadBalancer> {
    st.load_balancers
        .get_mut(uuid)
        .filter(|l| l.user_id == user)
        .ok_or_else(|| no_lb(uuid))
}

fn path_lb(req: &Req) -> ApiResult<String> {
    let raw = req.path("lb_uuid")?;
    parse_uuid("lb_uuid", raw).map_err(|_| no_lb(raw))
}

fn render_rule(r: &LbRule) -> Value {
    json!({
        "uuid": r.uuid,
        "protocol": r.protocol,
        "created_at": ts(&r.created),
        "source_port": r.source_port,
        "target_port": r.target_port,
        "settings": {"connection_limit": 10000, "session_persistence": "SOURCE_IP"},
    })
}

fn render_target(st: &St, user: i64, t: &LbTarget) -> Value {
    let ip = st
        .find_vm(user, &t.target_uuid)
        .map(|(_, vm)| vm.private_ipv4.clone());
    json!({
        "created_at": ts(&t.created),
        "target_uuid": t.target_uuid,
        "target_type": t.target_type,
        "target_ip_address": ip,
    })
}

fn render(st: &St, lb: &LoadBalancer) -> Value {
    json!({
        "uuid": lb.uuid,
        "display_name": lb.display_name,
        "network_uuid": lb.network_uuid,
        "user_id": lb.user_id,
        "billing_account_id": lb.billing_account_id,
        "created_at": ts(&lb.created),
        "updated_at": ts(&lb.updated),
        "is_deleted": false,
        "private_address": lb.private_address,
        "forwarding_rules": lb.rules.iter().map(render_rule).collect::<Vec<_>>(),
        "targets": lb.targets.iter().map(|t| render_target(st, lb.user_id, t)).collect::<Vec<_>>(),
    })
}

fn respond(st: &mut St, user: i64, uuid: &str) -> ApiResult {
    let lb = lb_mut(st, user, uuid)?.clone();
    Ok(Json(render(st, &lb)).into_response())
}

fn port_of(p: &Params, name: &str) -> ApiResult<i64> {
    let v = p.req_int(name)?;
    if (1..=65535).contains(&v) {
        Ok(v)
    } else {
        Err(ApiErr::invalid(name, "must be between 1 and 65535"))
    }
}

fn parse_rule(st: &mut St, p: &Params, now: chrono::DateTime<chrono::Utc>) -> ApiResult<LbRule> {
    let protocol = p
        .str("protocol")?
        .unwrap_or_else(|| "TCP".to_string())
        .to_uppercase();
    if protocol != "TCP" && protocol != "UDP" {
        return Err(ApiErr::invalid("protocol", "must be TCP or UDP"));
    }
    Ok(LbRule {
        uuid: st.ids.uuid(),
        protocol,
        source_port: port_of(p, "source_port")?,
        target_port: port_of(p, "target_port")?,
        created: now,
    })
}

fn parse_target(
    st: &St,
    user: i64,
    p: &Params,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<LbTarget> {
    let target = p.req_uuid("target_uuid")?;
    let kind = p.req_str("target_type")?;
    if kind != "vm" {
        return Err(ApiErr::invalid("target_type", "must be vm"));
    }
    if st.find_vm(user, &target).is_none() {
        return Err(ApiErr::no_vm(&target));
    }
    Ok(LbTarget {
        target_uuid: target,
        target_type: kind,
        created: now,
    })
}

fn objects(p: &Params, name: &str) -> ApiResult<Vec<Params>> {
    match p.raw(name) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::Object(m) => Ok(Params(m.clone())),
                _ => Err(ApiErr::invalid(name, "expected an array of objects")),
            })
            .collect(),
        Some(_) => Err(ApiErr::invalid(name, "expected an array of objects")),
    }
}

pub async fn list(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    sim.with(|st, _| {
        let mut lbs: Vec<&LoadBalancer> = st
            .load_balancers
            .values()
            .filter(|l| l.user_id == req.user)
            .collect();
        lbs.sort_by_key(|l| l.id);
        let out: Vec<Value> = lbs.into_iter().map(|l| render(st, l)).collect();
        Ok(Json(out).into_response())
    })
}

pub async fn get(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = path_lb(&req)?;
    sim.with(|st, _| respond(st, req.user, &uuid))
}

pub async fn create(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.json()?;
    let display_name = p.str("display_name")?.unwrap_or_default();
    let billing = p.billing_account("billing_account_id")?;
    let network = p.uuid("network_uuid")?;
    let reserve = p.bool("reserve_public_ip")?.unwrap_or(false);
    let rules = objects(&p, "rules")?;
    let targets = objects(&p, "targets")?;
    sim.with(|st, now| {
        let mut parsed_rules: Vec<LbRule> = Vec::new();
        for r in &rules {
            let rule = parse_rule(st, r, now)?;
            if parsed_rules
                .iter()
                .any(|x| x.source_port == rule.source_port)
            {
                return Err(ApiErr::invalid("rules", "duplicate source_port"));
            }
            parsed_rules.push(rule);
        }
        let mut parsed_targets: Vec<LbTarget> = Vec::new();
        for t in &targets {
            let target = parse_target(st, req.user, t, now)?;
            if !parsed_targets
                .iter()
                .any(|x| x.target_uuid == target.target_uuid)
            {
                parsed_targets.push(target);
            }
        }
        let billing = match billing {
            Some(b) => b,
            None => parsed_targets
                .first()
                .and_then(|t| st.find_vm(req.user, &t.target_uuid))
                .map(|(_, vm)| vm.billing_account)
                .ok_or_else(ApiErr::billing_account)?,
        };
        let network_uuid = match network {
            Some(n) if st.networks.get(&n).is_some_and(|x| x.user_id == req.user) => n,
            Some(n) => return Err(ApiErr::not_found(format!("No such network exists. {n}"))),
            None => ensure_default_network(st, req.user, now),
        };
        let uuid = st.ids.uuid();
        let lb = LoadBalancer {
            id: st.next_id(),
            uuid: uuid.clone(),
            user_id: req.user,
            display_name,
            private_address: allocate_private_ip(st, &network_uuid),
            network_uuid,
            billing_account_id: billing,
            reserve_public_ip: reserve,
            rules: parsed_rules,
            targets: parsed_targets,
            created: now,
            updated: now,
        };
        st.load_balancers.insert(uuid.clone(), lb);
        respond(st, req.user, &uuid)
    })
}

pub async fn rename(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = path_lb(&req)?;
    let name = req.json()?.req_str("display_name")?;
    sim.with(|st, now| {
        let lb = lb_mut(st, req.user, &uuid)?;
        lb.display_name = name;
        lb.updated = now;
        respond(st, req.user, &uuid)
    })
}

pub async fn delete(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = path_lb(&req)?;
    sim.with(|st, _| {
        lb_mut(st, req.user, &uuid)?;
        st.load_balancers.remove(&uuid);
        Ok(().into_response())
    })
}

pub async fn add_target(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = path_lb(&req)?;
    let p = req.json()?;
    sim.with(|st, now| {
        lb_mut(st, req.user, &uuid)?;
        let target = parse_target(st, req.user, &p, now)?;
        let out = render_target(st, req.user, &target);
        let lb = lb_mut(st, req.user, &uuid)?;
        if lb
            .targets
            .iter()
            .any(|t| t.target_uuid == target.target_uuid)
        {
            return Err(ApiErr::conflict(format!(
                "Target is already linked to the load balancer. {}",
                target.target_uuid
            )));
        }
        lb.targets.push(target);
        lb.updated = now;
        Ok(Json(out).into_response())
    })
}

pub async fn remove_target(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = path_lb(&req)?;
    let target = req.path("target_uuid")?.to_string();
    sim.with(|st, now| {
        let lb = lb_mut(st, req.user, &uuid)?;
        if !lb.targets.iter().any(|t| t.target_uuid == target) {
            return Err(ApiErr::not_found(format!(
                "No such load balancer target exists. {target}"
            )));
        }
        lb.targets.retain(|t| t.target_uuid != target);
        lb.updated = now;
        Ok(().into_response())
    })
}

pub async fn add_rule(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = path_lb(&req)?;
    let p = req.json()?;
    sim.with(|st, now| {
        lb_mut(st, req.user, &uuid)?;
        let rule = parse_rule(st, &p, now)?;
        let lb = lb_mut(st, req.user, &uuid)?;
        if lb.rules.iter().any(|r| r.source_port == rule.source_port) {
            return Err(ApiErr::conflict(format!(
                "A forwarding rule for source port {} already exists.",
                rule.source_port
            )));
        }
        let out = render_rule(&rule);
        lb.rules.push(rule);
        lb.updated = now;
        Ok(Json(out).into_response())
    })
}

pub async fn remove_rule(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = path_lb(&req)?;
    let rule = req.path("rule_uuid")?.to_string();
    sim.with(|st, now| {
        let lb = lb_mut(st, req.user, &uuid)?;
        if !lb.rules.iter().any(|r| r.uuid == rule) {
            return Err(ApiErr::not_found(format!(
                "No such forwarding rule exists. {rule}"
            )));
        }
        lb.rules.retain(|r| r.uuid != rule);
        lb.updated = now;
        Ok(().into_response())
    })
}

pub async fn set_billing_account(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = path_lb(&req)?;
    let billing = req.json()?.req_billing_account("set_id")?;
    sim.with(|st, now| {
        let lb = lb_mut(st, req.user, &uuid)?;
        lb.billing_account_id = billing;
        lb.updated = now;
        respond(st, req.user, &uuid)
    })
}
