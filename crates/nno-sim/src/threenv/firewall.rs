//! Firewalls (`/v1/network/firewalls…`): list, create, update, delete, assign to / unassign from
//! VMs, with the documented "FirewallRule objects validation".
//!
//! Choices where the reference is silent: `protocol` is one of tcp, udp, icmp; a rule with
//! `port_start: null` (all ports) may not set `port_end`; `ip_prefixes` needs a non-empty list; a
//! rule `uuid` given on update must belong to the firewall; create takes `display_name` (or
//! `name`); deleting a firewall still assigned to VMs is a 409; un-assigning a VM that is not
//! assigned is a 404. Responses carry both `name` and `display_name` (the reference uses both).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::ThreenvSim;
use super::errors::{ApiErr, ApiResult};
use super::request::{Params, Req, parse_uuid};
use super::state::{Firewall, FirewallRule, Ids, State as St, ts};
use super::validate::ip_or_cidr_ok;

fn rule_err(i: usize, why: &str) -> ApiErr {
    ApiErr::bad_request(format!("Invalid firewall rule #{}: {why}", i + 1))
}

fn port(i: usize, v: Option<&Value>, name: &str) -> ApiResult<Option<i64>> {
    let n = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(_) => None,
    };
    match n {
        Some(p) if (1..=65535).contains(&p) => Ok(Some(p)),
        _ => Err(rule_err(i, &format!("{name} must be between 1 and 65535"))),
    }
}

fn text<'a>(i: usize, r: &'a Value, name: &str) -> ApiResult<&'a str> {
    match r.get(name) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(rule_err(i, &format!("{name} is required"))),
        Some(_) => Err(rule_err(i, &format!("{name} must be a string"))),
    }
}

/// Validates one rule; `known` are the uuids a rule may keep (update).
fn parse_rule(ids: &mut Ids, i: usize, r: &Value, known: &[String]) -> ApiResult<FirewallRule> {
    if !r.is_object() {
        return Err(rule_err(i, "must be an object"));
    }
    let uuid = match r.get("uuid") {
        None | Some(Value::Null) => ids.uuid(),
        Some(Value::String(u)) if known.contains(u) => u.clone(),
        Some(_) => return Err(rule_err(i, "uuid does not name a rule of this firewall")),
    };
    let protocol = text(i, r, "protocol")?.to_ascii_lowercase();
    if !["tcp", "udp", "icmp"].contains(&protocol.as_str()) {
        return Err(rule_err(i, "protocol must be one of: tcp, udp, icmp"));
    }
    let direction = text(i, r, "direction")?.to_string();
    if direction != "inbound" && direction != "outbound" {
        return Err(rule_err(
            i,
            "direction must be one of: \"inbound\" or \"outbound\"",
        ));
    }
    let port_start = port(i, r.get("port_start"), "port_start")?;
    let port_end = port(i, r.get("port_end"), "port_end")?;
    match (port_start, port_end) {
        (None, Some(_)) => {
            return Err(rule_err(
                i,
                "port_end cannot be set when port_start is null",
            ));
        }
        (Some(s), Some(e)) if s > e => {
            return Err(rule_err(i, "port_start cannot be greater than port_end"));
        }
        _ => {}
    }
    let kind = text(i, r, "endpoint_spec_type")?.to_string();
    let spec = match kind.as_str() {
        "any" => Vec::new(),
        "ip_prefixes" => {
            let Some(Value::Array(items)) = r.get("endpoint_spec") else {
                return Err(rule_err(
                    i,
                    "endpoint_spec must be an array of IP addresses or CIDR ranges",
                ));
            };
            let mut out = Vec::new();
            for it in items {
                match it {
                    Value::String(s) if ip_or_cidr_ok(s) => out.push(s.clone()),
                    other => {
                        return Err(rule_err(
                            i,
                            &format!(
                                "endpoint_spec entry {other} is not an IP address or CIDR range"
                            ),
                        ));
                    }
                }
            }
            if out.is_empty() {
                return Err(rule_err(i, "endpoint_spec must not be empty"));
            }
            out
        }
        _ => {
            return Err(rule_err(
                i,
                "endpoint_spec_type must be one of: \"any\" or \"ip_prefixes\"",
            ));
        }
    };
    Ok(FirewallRule {
        uuid,
        protocol,
        direction,
        port_start,
        port_end: port_end.or(port_start),
        endpoint_spec_type: kind,
        endpoint_spec: spec,
    })
}

fn parse_rules(
    ids: &mut Ids,
    p: &Params,
    known: &[String],
) -> ApiResult<Option<Vec<FirewallRule>>> {
    match p.raw("rules") {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, r)| parse_rule(ids, i, r, known))
            .collect::<ApiResult<Vec<_>>>()
            .map(Some),
        Some(_) => Err(ApiErr::invalid("rules", "expected an array of rules")),
    }
}

fn render_rule(r: &FirewallRule) -> Value {
    let mut v = json!({
        "uuid": r.uuid,
        "protocol": r.protocol,
        "direction": r.direction,
        "port_start": r.port_start,
        "port_end": r.port_end,
        "endpoint_spec_type": r.endpoint_spec_type,
    });
    if r.endpoint_spec_type == "ip_prefixes" {
        v["endpoint_spec"] = json!(r.endpoint_spec);
    }
    v
}

fn assignments(fw: &Firewall) -> Value {
    Value::Array(
        fw.vms
            .iter()
            .map(|v| json!({"resource_type": "vm", "resource_uuid": v}))
            .collect(),
    )
}

fn render(fw: &Firewall) -> Value {
    json!({
        "uuid": fw.uuid,
        "name": fw.name,
        "display_name": fw.name,
        "description": fw.description,
        "user_id": fw.user_id,
        "billing_account_id": fw.billing_account_id,
        "rules": fw.rules.iter().map(render_rule).collect::<Vec<_>>(),
        "resources_assigned": assignments(fw),
        "created_at": ts(&fw.created),
        "deleted_at": null,
    })
}

fn fw_mut<'a>(st: &'a mut St, user: i64, uuid: &str) -> ApiResult<&'a mut Firewall> {
    st.firewalls
        .get_mut(uuid)
        .filter(|f| f.user_id == user)
        .ok_or_else(|| ApiErr::not_found(format!("No such firewall exists. {uuid}")))
}

fn path_uuid(req: &Req) -> ApiResult<String> {
    let raw = req.path("firewall_uuid")?;
    parse_uuid("firewallUuid", raw)
        .map_err(|_| ApiErr::not_found(format!("No such firewall exists. {raw}")))
}

fn display_name(p: &Params) -> ApiResult<Option<String>> {
    Ok(p.str("display_name")?.or(p.str("name")?))
}

pub async fn list(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    sim.with(|st, _| {
        let mut fws: Vec<&Firewall> = st
            .firewalls
            .values()
            .filter(|f| f.user_id == req.user)
            .collect();
        fws.sort_by_key(|f| f.id);
        Ok(Json(fws.into_iter().map(render).collect::<Vec<_>>()).into_response())
    })
}

pub async fn create(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.json()?;
    let name = display_name(&p)?.ok_or_else(|| ApiErr::missing("display_name"))?;
    let billing = p.req_billing_account("billing_account_id")?;
    let description = p.str("description")?.unwrap_or_default();
    sim.with(|st, now| {
        let rules = parse_rules(&mut st.ids, &p, &[])?.unwrap_or_default();
        let uuid = st.ids.uuid();
        let fw = Firewall {
            id: st.next_id(),
            uuid: uuid.clone(),
            user_id: req.user,
            name,
            description,
            billing_account_id: billing,
            rules,
            vms: Vec::new(),
            created: now,
        };
        let out = render(&fw);
        st.firewalls.insert(uuid, fw);
        Ok(Json(out).into_response())
    })
}

pub async fn update(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = path_uuid(&req)?;
    let p = req.json()?;
    let name = display_name(&p)?;
    let description = p.str("description")?;
    let billing = p.billing_account("billing_account_id")?;
    sim.with(|st, _| {
        let known: Vec<String> = fw_mut(st, req.user, &uuid)?
            .rules
            .iter()
            .map(|r| r.uuid.clone())
            .collect();
        let rules = parse_rules(&mut st.ids, &p, &known)?;
        let fw = fw_mut(st, req.user, &uuid)?;
        if let Some(n) = name {
            fw.name = n;
        }
        if let Some(d) = description {
            fw.description = d;
        }
        if let Some(b) = billing {
            fw.billing_account_id = b;
        }
        if let Some(r) = rules {
            fw.rules = r;
        }
        Ok(Json(render(fw)).into_response())
    })
}

pub async fn delete(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = path_uuid(&req)?;
    sim.with(|st, _| {
        let fw = fw_mut(st, req.user, &uuid)?;
        if !fw.vms.is_empty() {
            return Err(ApiErr::conflict(format!(
                "Firewall is assigned to {} virtual machine(s); unassign it first. {uuid}",
                fw.vms.len()
            )));
        }
        st.firewalls.remove(&uuid);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

pub async fn assign(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = path_uuid(&req)?;
    let vm = req.form()?.req_uuid("vm_uuid")?;
    sim.with(|st, _| {
        fw_mut(st, req.user, &uuid)?;
        if st.find_vm(req.user, &vm).is_none() {
            return Err(ApiErr::no_vm(&vm));
        }
        let fw = fw_mut(st, req.user, &uuid)?;
        if !fw.vms.contains(&vm) {
            fw.vms.push(vm);
        }
        Ok(Json(assignments(fw)).into_response())
    })
}

pub async fn unassign(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = path_uuid(&req)?;
    let vm = req.form()?.req_uuid("vm_uuid")?;
    sim.with(|st, _| {
        let fw = fw_mut(st, req.user, &uuid)?;
        if !fw.vms.contains(&vm) {
            return Err(ApiErr::not_found(format!(
                "Firewall is not assigned to virtual machine {vm}."
            )));
        }
        fw.vms.retain(|v| v != &vm);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
