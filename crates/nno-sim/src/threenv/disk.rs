//! Block storage (`/v1/storage/disks`): create, get, list, modify, delete.
//!
//! Choices where the reference is silent: disks are 1..=10240 GB; `billing_account_id` is required
//! (the simulator's tokens are global); a disk attached to a VM cannot be deleted (409, detach it
//! first); `source_image` of `OS_BASE` must name a published image as `<os_name>_<os_version>`;
//! a copy cannot be smaller than its source.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::ThreenvSim;
use super::catalog::image_known;
use super::errors::{ApiErr, ApiResult};
use super::request::{Req, parse_uuid};
use super::state::{Disk, State as St, ts_iso};
use super::validate::check_range;
use super::vm::new_disk;
use super::vm_storage::EXTRA_DISK_MAX;

/// Storage pool every simulated disk lives in.
pub const STORAGE_POOL: &str = "57a219ef-83fd-412c-8b6a-953ac292bc37";

pub fn render_disk(d: &Disk) -> Value {
    let snapshots: Vec<Value> = d
        .replicas
        .iter()
        .map(|r| {
            let mut s = json!({
                "uuid": r.uuid,
                "size_gb": r.size,
                "created_at": ts_iso(&r.created),
                "disk_uuid": d.uuid,
            });
            if let Some(n) = &r.display_name {
                s["display_name"] = json!(n);
            }
            s
        })
        .collect();
    let mut v = json!({
        "uuid": d.uuid,
        "status": "Active",
        "snapshots": snapshots,
        "user_id": d.user_id,
        "billing_account_id": d.billing_account_id,
        "size_gb": d.size_gb,
        "source_image_type": d.source_image_type,
        "read_only_bootable": d.read_only_bootable,
        "created_at": ts_iso(&d.created),
        "updated_at": ts_iso(&d.updated),
        "storage_pool_uuid": STORAGE_POOL,
    });
    if let Some(n) = &d.display_name {
        v["display_name"] = json!(n);
    }
    if let Some(s) = &d.source_image {
        v["source_image"] = json!(s);
    }
    v
}

fn disk_mut<'a>(st: &'a mut St, user: i64, uuid: &str) -> ApiResult<&'a mut Disk> {
    st.disks
        .get_mut(uuid)
        .filter(|d| d.user_id == user)
        .ok_or_else(|| ApiErr::not_found(format!("No such disk exists. {uuid}")))
}

pub async fn create(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let p = req.form()?;
    let billing = p.req_billing_account("billing_account_id")?;
    let display_name = p.str("display_name")?;
    let kind = p
        .str("source_image_type")?
        .unwrap_or_else(|| "EMPTY".to_string());
    let source = p.str("source_image")?;
    let size = p.int("size_gb")?;
    if let Some(s) = size {
        check_range("size_gb", s, 1, EXTRA_DISK_MAX)?;
    }
    sim.with(|st, now| {
        let (source_size, image) = match kind.as_str() {
            "EMPTY" => (None, None),
            "OS_BASE" => {
                let s = source
                    .clone()
                    .ok_or_else(|| ApiErr::missing("source_image"))?;
                let known = s.split_once('_').is_some_and(|(n, v)| image_known(n, v));
                if !known {
                    return Err(ApiErr::invalid(
                        "source_image",
                        "expected a published image like ubuntu_20.04",
                    ));
                }
                (None, Some(s))
            }
            "DISK" => {
                let s = parse_uuid(
                    "source_image",
                    &source
                        .clone()
                        .ok_or_else(|| ApiErr::missing("source_image"))?,
                )?;
                let d = disk_mut(st, req.user, &s)?;
                (Some(d.size_gb), Some(s))
            }
            "SNAPSHOT" => {
                let s = source
                    .clone()
                    .ok_or_else(|| ApiErr::missing("source_image"))?;
                let r = st
                    .disks
                    .values()
                    .filter(|d| d.user_id == req.user)
                    .flat_map(|d| d.replicas.iter())
                    .find(|r| r.uuid == s)
                    .ok_or_else(|| ApiErr::not_found(format!("No such snapshot exists. {s}")))?;
                (Some(r.size), Some(s))
            }
            _ => {
                return Err(ApiErr::invalid(
                    "source_image_type",
                    "must be one of OS_BASE, DISK, SNAPSHOT, EMPTY",
                ));
            }
        };
        let size_gb = match (size, source_size) {
            (Some(s), Some(min)) if s < min => {
                return Err(ApiErr::invalid(
                    "size_gb",
                    &format!("cannot be smaller than the source ({min} GB)"),
                ));
            }
            (Some(s), _) => s,
            (None, Some(min)) => min,
            (None, None) if kind == "OS_BASE" => 20,
            (None, None) => return Err(ApiErr::missing("size_gb")),
        };
        let uuid = st.ids.uuid();
        let mut disk = new_disk(
            st,
            uuid.clone(),
            req.user,
            Some(billing),
            size_gb,
            image,
            false,
            now,
        );
        disk.source_image_type = kind.clone();
        disk.display_name = display_name;
        let out = render_disk(&disk);
        st.disks.insert(uuid, disk);
        Ok(Json(out).into_response())
    })
}

pub async fn get(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = parse_uuid("disk_uuid", req.path("disk_uuid")?)?;
    sim.with(|st, _| Ok(Json(render_disk(disk_mut(st, req.user, &uuid)?)).into_response()))
}

pub async fn list(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let q = req.form()?;
    let only_bootable = q.bool("read_only_bootable")?.unwrap_or(false);
    sim.with(|st, _| {
        let mut disks: Vec<&Disk> = st
            .disks
            .values()
            .filter(|d| d.user_id == req.user && (!only_bootable || d.read_only_bootable))
            .collect();
        disks.sort_by_key(|d| d.id);
        let out: Vec<Value> = disks.into_iter().map(render_disk).collect();
        Ok(Json(out).into_response())
    })
}

pub async fn modify(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = parse_uuid("disk_uuid", req.path("disk_uuid")?)?;
    let p = req.form()?;
    let billing = p.billing_account("billing_account_id")?;
    let display_name = p.str("display_name")?;
    let bootable = p.bool("read_only_bootable")?;
    sim.with(|st, now| {
        let d = disk_mut(st, req.user, &uuid)?;
        if let Some(b) = billing {
            d.billing_account_id = Some(b);
        }
        if let Some(n) = display_name {
            d.display_name = Some(n);
        }
        if let Some(b) = bootable {
            d.read_only_bootable = b;
        }
        d.updated = now;
        d.updated_set = true;
        Ok(Json(render_disk(d)).into_response())
    })
}

pub async fn delete(State(sim): State<ThreenvSim>, req: Req) -> ApiResult {
    let uuid = parse_uuid("disk_uuid", req.path("disk_uuid")?)?;
    sim.with(|st, _| {
        let d = disk_mut(st, req.user, &uuid)?;
        if let Some(a) = &d.attached {
            return Err(ApiErr::conflict(format!(
                "Disk is attached to virtual machine {}; detach it first.",
                a.vm_uuid
            )));
        }
        st.disks.remove(&uuid);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
