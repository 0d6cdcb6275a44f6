//! Simulator of the 3nv.io cloud API (`/v1/…`): state handle, configuration and routing.
//!
//! Location-specific endpoints (VMs, billing resources, resource billing, floating IPs) answer both
//! without a slug (default location `cyc01`) and under `/v1/{slug}/…`; every other endpoint only
//! without a slug, as the reference's "Locations" section lists.
//!
//! Sim-only control (not part of the real API): `PUT /_sim/threenv/buckets/{name}` with JSON
//! `{"num_objects": N, "size_bytes": M}` sets a bucket's simulated content, so that "only empty
//! buckets can be deleted" is observable; [`ThreenvSim::set_bucket_content`] does the same in-process.

pub mod auth;
pub mod bucket;
pub mod catalog;
pub mod disk;
pub mod errors;
pub mod firewall;
pub mod floating_ip;
pub mod load_balancer;
pub mod network;
pub mod request;
pub mod service_package;
pub mod state;
pub mod validate;
pub mod vm;
pub mod vm_actions;
pub mod vm_storage;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use chrono::{DateTime, Utc};

use self::errors::ApiErr;
use self::state::{Ids, State};

/// Random stream of the 3nv.io simulator in [`crate::seeded_rng`].
const RNG_STREAM: u64 = 0x3E17;

/// Configuration of the 3nv.io simulator.
#[derive(Clone)]
pub struct ThreenvConfig {
    /// Accepted `apikey` values; each key is a separate user (user ids 1, 2, … in order).
    pub api_keys: Vec<String>,
    /// Time a new VM (or service package) stays `provisioning`.
    pub provision_delay: Duration,
    /// Seed for ids and generated values; `None` = random.
    pub seed: Option<u64>,
    /// Value answered by `GET /v1/storage/api/s3`.
    pub s3_url: String,
}

impl Default for ThreenvConfig {
    fn default() -> Self {
        Self {
            api_keys: vec!["dev-api-key".to_string()],
            provision_delay: Duration::from_millis(0),
            seed: None,
            s3_url: "https://s3.3nv.io:8080/".to_string(),
        }
    }
}

impl std::fmt::Debug for ThreenvConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreenvConfig")
            .field("api_keys", &format!("<{} redacted>", self.api_keys.len()))
            .field("provision_delay", &self.provision_delay)
            .field("seed", &self.seed)
            .field("s3_url", &self.s3_url)
            .finish()
    }
}

struct Inner {
    config: ThreenvConfig,
    state: Mutex<State>,
}

/// Shared handle to the simulator (cheap to clone).
#[derive(Clone)]
pub struct ThreenvSim {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ThreenvSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreenvSim")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Errors of the simulator's control interface.
#[derive(Debug, thiserror::Error)]
pub enum SimControlError {
    #[error("invalid snapshot: {0}")]
    Snapshot(#[from] serde_json::Error),
    #[error("no such bucket: {0}")]
    NoBucket(String),
}

impl ThreenvSim {
    pub fn new(config: ThreenvConfig) -> Self {
        let ids = Ids::from_rng(crate::seeded_rng(config.seed, RNG_STREAM));
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::new(ids)),
                config,
            }),
        }
    }

    pub fn config(&self) -> &ThreenvConfig {
        &self.inner.config
    }

    /// The user id an API key belongs to.
    pub fn user_for_key(&self, key: &str) -> Option<i64> {
        self.inner
            .config
            .api_keys
            .iter()
            .position(|k| k == key)
            .and_then(|i| i64::try_from(i + 1).ok())
    }

    /// Runs `f` on the state after advancing the provisioning clock.
    pub fn with<R>(&self, f: impl FnOnce(&mut State, DateTime<Utc>) -> R) -> R {
        let mut st = self
            .inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Utc::now();
        st.advance(now);
        f(&mut st, now)
    }

    pub fn provision_delay(&self) -> Duration {
        self.inner.config.provision_delay
    }

    /// Sets the simulated content of a bucket (sim-only; the real API fills buckets through S3).
    pub fn set_bucket_content(
        &self,
        name: &str,
        num_objects: i64,
        size_bytes: i64,
    ) -> Result<(), SimControlError> {
        self.with(|st, now| match st.buckets.get_mut(name) {
            Some(b) => {
                b.num_objects = num_objects.max(0);
                b.size_bytes = size_bytes.max(0);
                b.modified = now;
                Ok(())
            }
            None => Err(SimControlError::NoBucket(name.to_string())),
        })
    }

    /// Object counts per kind.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.with(|st, _| {
            let n = |x: usize| x;
            let mut m = BTreeMap::new();
            for (slug, l) in &st.locations {
                m.insert(format!("vms.{slug}"), n(l.vms.len()));
                m.insert(format!("floating_ips.{slug}"), n(l.ips.len()));
            }
            m.insert(
                "vms".to_string(),
                n(st.locations.values().map(|l| l.vms.len()).sum()),
            );
            m.insert("disks".to_string(), n(st.disks.len()));
            // VMs' own boot disks are disks too; tests of the Disk kind count the others.
            m.insert(
                "disks.primary".to_string(),
                n(st.disks.values().filter(|d| d.primary).count()),
            );
            m.insert("buckets".to_string(), n(st.buckets.len()));
            m.insert("networks".to_string(), n(st.networks.len()));
            m.insert("firewalls".to_string(), n(st.firewalls.len()));
            m.insert("load_balancers".to_string(), n(st.load_balancers.len()));
            m.insert("service_packages".to_string(), n(st.packages.len()));
            m.insert(
                "s3_keys".to_string(),
                n(st.s3_users.values().map(|u| u.keys.len()).sum()),
            );
            m
        })
    }

    /// Forgets every object (and restarts the seeded id sequence).
    pub fn reset(&self) {
        let ids = Ids::from_rng(crate::seeded_rng(self.inner.config.seed, RNG_STREAM));
        self.with(|st, _| *st = State::new(ids));
    }

    /// The whole state as JSON (includes generated secrets: for test and state files only).
    pub fn snapshot(&self) -> Result<serde_json::Value, SimControlError> {
        self.with(|st, _| serde_json::to_value(&*st).map_err(SimControlError::from))
    }

    /// Replaces the state by a snapshot.
    pub fn restore(&self, snapshot: serde_json::Value) -> Result<(), SimControlError> {
        let mut restored: State = serde_json::from_value(snapshot)?;
        self.with(|st, _| {
            restored.ids = std::mem::take(&mut st.ids);
            *st = restored;
        });
        Ok(())
    }
}

/// Registers `path` under `/v1` and, when `located`, under `/v1/{slug}` too.
fn at(
    r: Router<ThreenvSim>,
    located: bool,
    path: &str,
    m: MethodRouter<ThreenvSim>,
) -> Router<ThreenvSim> {
    let r = r.route(&format!("/v1{path}"), m.clone());
    if located {
        r.route(&format!("/v1/{{slug}}{path}"), m)
    } else {
        r
    }
}

async fn no_route() -> ApiErr {
    ApiErr::not_found("Not found")
}

async fn no_method() -> ApiErr {
    ApiErr::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed",
    )
}

/// The 3nv.io API router (with `apikey` authentication) plus the sim-only bucket control route.
pub fn router(sim: ThreenvSim) -> Router {
    use self::{
        bucket as b, catalog as c, disk as d, firewall as fw, floating_ip as ip,
        load_balancer as lb, network as n, service_package as sp, vm_actions as va,
        vm_storage as vs,
    };
    let mut r: Router<ThreenvSim> = Router::new();
    // Location-specific endpoints.
    let vm_routes: Vec<(&str, MethodRouter<ThreenvSim>)> = vec![
        (
            "/user-resource/vm",
            get(vm::get_vm)
                .post(vm::create_vm)
                .patch(vm::modify_vm)
                .delete(vm::delete_vm),
        ),
        ("/user-resource/vm/list", get(vm::list_vms)),
        ("/user-resource/vm/user", patch(va::change_password)),
        ("/user-resource/vm/reinstall", post(va::reinstall)),
        ("/user-resource/vm/backup", post(va::toggle_backup)),
        ("/user-resource/vm/clone", post(vm::clone_vm)),
        (
            "/user-resource/vm/ip/public",
            post(va::reserve_public_ip).delete(va::release_public_ip),
        ),
        ("/user-resource/vm/rebuild", post(vs::rebuild)),
        (
            "/user-resource/vm/replica",
            get(vs::list_replicas)
                .post(vs::create_replica)
                .delete(vs::delete_replica),
        ),
        ("/user-resource/vm/start", post(va::start)),
        ("/user-resource/vm/stop", post(va::stop)),
        ("/user-resource/vm/boot_iso_media", post(va::boot_iso_media)),
        (
            "/user-resource/vm/storage",
            post(vs::add_storage)
                .patch(vs::resize_storage)
                .delete(vs::delete_storage),
        ),
        ("/user-resource/vm/storage/attach", post(vs::attach)),
        ("/user-resource/vm/storage/detach", post(vs::detach)),
        (
            "/user-resource/billing_resources",
            get(c::billing_resources),
        ),
        ("/user-resource/resource_billing", post(c::resource_billing)),
        ("/network/ip_addresses", get(ip::list).post(ip::create)),
        ("/network/ip_addresses/", post(ip::create)),
        (
            "/network/ip_addresses/{address}",
            get(ip::get).patch(ip::update).delete(ip::delete),
        ),
        ("/network/ip_addresses/{address}/assign", post(ip::assign)),
        (
            "/network/ip_addresses/{address}/unassign",
            post(ip::unassign),
        ),
    ];
    for (p, m) in vm_routes {
        r = at(r, true, p, m);
    }
    let global: Vec<(&str, MethodRouter<ThreenvSim>)> = vec![
        ("/config/locations", get(c::locations)),
        ("/user-resource/host_pool/list", get(c::host_pools)),
        ("/api/parameters/vm", get(c::vm_parameters)),
        ("/config/vm_images", get(c::vm_images)),
        ("/config/vm_images/plain_os", get(c::vm_images_plain)),
        ("/config/vm_images/app_catalog", get(c::vm_images_app)),
        ("/config/boot_images", get(c::boot_images)),
        ("/pricing/policy", get(c::pricing_policy)),
        ("/charging/usage", get(c::usage)),
        ("/storage/disks", get(d::list).post(d::create)),
        (
            "/storage/disks/{disk_uuid}",
            get(d::get).patch(d::modify).delete(d::delete),
        ),
        ("/storage/api/s3", get(b::s3_url)),
        (
            "/storage/bucket",
            put(b::create)
                .patch(b::modify)
                .delete(b::delete)
                .get(b::get),
        ),
        ("/storage/bucket/list", get(b::list)),
        ("/storage/user", get(b::s3_user)),
        (
            "/storage/user/keys",
            get(b::list_keys).post(b::create_key).delete(b::delete_key),
        ),
        ("/network/networks", get(n::list)),
        ("/network/network", post(n::create)),
        (
            "/network/network/{network_uuid}",
            get(n::get).patch(n::rename).delete(n::delete),
        ),
        (
            "/network/network/{network_uuid}/default",
            put(n::set_default),
        ),
        ("/network/firewalls", get(fw::list).post(fw::create)),
        (
            "/network/firewalls/{firewall_uuid}",
            put(fw::update).delete(fw::delete),
        ),
        (
            "/network/firewalls/{firewall_uuid}/vms",
            post(fw::assign).delete(fw::unassign),
        ),
        ("/network/load_balancers", get(lb::list).post(lb::create)),
        (
            "/network/load_balancers/{lb_uuid}",
            get(lb::get).patch(lb::rename).delete(lb::delete),
        ),
        (
            "/network/load_balancers/{lb_uuid}/targets",
            post(lb::add_target),
        ),
        (
            "/network/load_balancers/{lb_uuid}/targets/{target_uuid}",
            delete(lb::remove_target),
        ),
        (
            "/network/load_balancers/{lb_uuid}/forwarding_rules",
            post(lb::add_rule),
        ),
        (
            "/network/load_balancers/{lb_uuid}/forwarding_rules/{rule_uuid}",
            delete(lb::remove_rule),
        ),
        (
            "/network/load_balancers/{lb_uuid}/billing_account",
            put(lb::set_billing_account),
        ),
        ("/user-resource/service/package", post(sp::create)),
        ("/user-resource/service/packages", get(sp::list)),
        (
            "/user-resource/service/package/{package_uuid}",
            get(sp::get).patch(sp::update).delete(sp::delete),
        ),
        (
            "/user-resource/service/package/{package_uuid}/secrets",
            get(sp::secrets),
        ),
        (
            "/user-resource/service/package/{package_uuid}/whitelist_addresses",
            get(sp::whitelist)
                .post(sp::whitelist_add)
                .delete(sp::whitelist_delete),
        ),
    ];
    for (p, m) in global {
        r = at(r, false, p, m);
    }
    let api = r
        .fallback(no_route)
        .method_not_allowed_fallback(no_method)
        .layer(axum::middleware::from_fn_with_state(
            sim.clone(),
            auth::require_api_key,
        ));
    Router::new()
        .route("/_sim/threenv/buckets/{name}", put(b::sim_set_content))
        .merge(api)
        .with_state(sim)
}

impl crate::SimBackend for ThreenvSim {
    fn name(&self) -> &'static str {
        "threenv"
    }

    fn counts(&self) -> BTreeMap<String, usize> {
        ThreenvSim::counts(self)
    }

    fn reset(&self) {
        ThreenvSim::reset(self);
    }

    fn snapshot(&self) -> serde_json::Value {
        ThreenvSim::snapshot(self).unwrap_or(serde_json::Value::Null)
    }

    fn restore(&self, snapshot: serde_json::Value) -> Result<(), serde_json::Error> {
        match ThreenvSim::restore(self, snapshot) {
            Ok(()) => Ok(()),
            Err(SimControlError::Snapshot(e)) => Err(e),
            Err(SimControlError::NoBucket(_)) => Ok(()),
        }
    }

    fn error_response(
        &self,
        status: axum::http::StatusCode,
        message: &str,
    ) -> axum::response::Response {
        axum::response::IntoResponse::into_response(ApiErr::new(status, message))
    }
}

/// The 3nv.io simulator for the harness, configured from the shared simulator settings.
pub fn build(cfg: &crate::SimConfig) -> crate::Simulator {
    let sim = ThreenvSim::new(ThreenvConfig {
        api_keys: vec![cfg.api_key.clone()],
        provision_delay: cfg.provision_delay,
        seed: cfg.seed,
        ..ThreenvConfig::default()
    });
    crate::Simulator {
        backend: Arc::new(sim.clone()),
        router: router(sim),
    }
}
