//! In-memory state of the 3nv.io simulator: the stored objects, id and address allocation,
//! timestamps in the API's formats and the provisioning clock.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rand::RngExt;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const DEFAULT_LOCATION: &str = "cyc01";

/// A location as listed by `GET /v1/config/locations`.
pub struct LocationInfo {
    pub slug: &'static str,
    pub display_name: &'static str,
    pub description: &'static str,
    pub is_default: bool,
    pub is_preferred: bool,
    pub order_nr: i64,
    pub country_code: &'static str,
    /// First octet pair of public IPv4 addresses handed out here.
    pub public_prefix: [u8; 2],
}

pub const LOCATIONS: &[LocationInfo] = &[
    LocationInfo {
        slug: "cyc01",
        display_name: "Cycletown",
        description: "The original location",
        is_default: true,
        is_preferred: false,
        order_nr: 1,
        country_code: "est",
        public_prefix: [185, 194],
    },
    LocationInfo {
        slug: "bus02",
        display_name: "Busburg",
        description: "Secondary location",
        is_default: false,
        is_preferred: true,
        order_nr: 2,
        country_code: "est",
        public_prefix: [185, 195],
    },
];

/// `2018-02-22 14:24:03`
pub fn ts(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// `2018-02-22 14:24:13.766985` (VM storage entries)
pub fn ts_micro(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// `2022-09-01T12:03:14.355+0000` (block and object storage)
pub fn ts_iso(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// Deterministic (seeded) or random id source.
pub struct Ids(StdRng);

impl Default for Ids {
    fn default() -> Self {
        Ids(rand::make_rng())
    }
}

impl Ids {
    pub fn from_rng(rng: StdRng) -> Self {
        Ids(rng)
    }

    pub fn uuid(&mut self) -> String {
        let bytes: [u8; 16] = self.0.random();
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .to_string()
    }

    pub fn mac(&mut self) -> String {
        let b: [u8; 3] = self.0.random();
        format!("52:54:00:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2])
    }

    /// Random text from an alphabet (S3 keys, generated passwords).
    pub fn text(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| {
                let i = self.0.random_range(0..alphabet.len());
                char::from(alphabet[i])
            })
            .collect()
    }

    pub fn below(&mut self, n: u32) -> u32 {
        self.0.random_range(0..n.max(1))
    }
}

/// A VM's storage replica (snapshot).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Replica {
    pub id: i64,
    pub uuid: String,
    pub size: i64,
    pub r_type: String,
    pub display_name: Option<String>,
    pub created: DateTime<Utc>,
}

/// Where a disk is attached.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attachment {
    pub location: String,
    pub vm_uuid: String,
    pub device: String,
}

/// A block storage disk; VM disks (primary and added) are disks too.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Disk {
    pub id: i64,
    pub uuid: String,
    pub user_id: i64,
    pub billing_account_id: Option<i64>,
    pub size_gb: i64,
    pub display_name: Option<String>,
    pub source_image_type: String,
    pub source_image: Option<String>,
    pub primary: bool,
    pub read_only_bootable: bool,
    pub attached: Option<Attachment>,
    pub replicas: Vec<Replica>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub updated_set: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Vm {
    pub id: i64,
    pub uuid: String,
    pub user_id: i64,
    pub name: String,
    pub description: String,
    pub hostname: String,
    pub os_name: String,
    pub os_version: String,
    pub vcpu: i64,
    pub memory: i64,
    pub username: String,
    /// Kept to model the guest; never rendered.
    pub password: String,
    pub status: String,
    /// Unix ms when a `provisioning` VM becomes `running`.
    pub ready_at_ms: i64,
    pub backup: bool,
    pub billing_account: i64,
    pub designated_pool_uuid: String,
    pub mac: String,
    pub private_ipv4: String,
    pub public_ipv6: String,
    pub network_uuid: String,
    /// Disk uuids; the first one is the primary (boot) disk.
    pub disks: Vec<String>,
    pub boot_media: Option<String>,
    pub cloud_init: Option<Value>,
    pub public_key: Option<String>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FloatingIp {
    pub id: i64,
    pub uuid: String,
    pub address: String,
    pub user_id: i64,
    pub billing_account_id: i64,
    pub name: String,
    pub assigned_to: Option<String>,
    pub assigned_type: Option<String>,
    /// Reserved implicitly for a VM (create with `reserve_public_ip`); released with the VM.
    pub implicit: bool,
    pub unassigned: Option<DateTime<Utc>>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LocationState {
    pub vms: BTreeMap<String, Vm>,
    pub ips: BTreeMap<String, FloatingIp>,
    pub next_ip: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bucket {
    pub name: String,
    pub user_id: i64,
    pub billing_account_id: i64,
    pub num_objects: i64,
    pub size_bytes: i64,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct S3Key {
    pub access_key: String,
    pub secret_key: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct S3User {
    pub keys: Vec<S3Key>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Network {
    pub id: i64,
    pub uuid: String,
    pub user_id: i64,
    pub name: String,
    pub vlan_id: i64,
    pub is_default: bool,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FirewallRule {
    pub uuid: String,
    pub protocol: String,
    pub direction: String,
    pub port_start: Option<i64>,
    pub port_end: Option<i64>,
    pub endpoint_spec_type: String,
    pub endpoint_spec: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Firewall {
    pub id: i64,
    pub uuid: String,
    pub user_id: i64,
    pub name: String,
    pub description: String,
    pub billing_account_id: i64,
    pub rules: Vec<FirewallRule>,
    pub vms: Vec<String>,
    pub created: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LbRule {
    pub uuid: String,
    pub protocol: String,
    pub source_port: i64,
    pub target_port: i64,
    pub created: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LbTarget {
    pub target_uuid: String,
    pub target_type: String,
    pub created: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadBalancer {
    pub id: i64,
    pub uuid: String,
    pub user_id: i64,
    pub display_name: String,
    pub network_uuid: String,
    pub billing_account_id: i64,
    pub private_address: String,
    pub reserve_public_ip: bool,
    pub rules: Vec<LbRule>,
    pub targets: Vec<LbTarget>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PackageNode {
    pub resource_id: String,
    pub resource_type: String,
    pub disk_uuid: String,
    pub address: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServicePackage {
    pub id: i64,
    pub uuid: String,
    pub user_id: i64,
    pub billing_account_id: i64,
    pub service: String,
    pub version: String,
    pub display_name: String,
    pub vm_cpu: i64,
    pub vm_ram: i64,
    pub vm_disk_gb: i64,
    pub is_multi_node: bool,
    pub package_parameters: Option<Value>,
    pub status: String,
    pub ready_at_ms: i64,
    pub service_ip: String,
    pub sql_user: String,
    /// Kept to answer `/secrets`; never rendered elsewhere.
    pub sql_pass: String,
    pub nodes: Vec<PackageNode>,
    pub whitelist: Vec<String>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// The whole simulated account database (all users).
#[derive(Default, Serialize, Deserialize)]
pub struct State {
    pub next_id: i64,
    pub next_vlan: i64,
    pub locations: BTreeMap<String, LocationState>,
    pub disks: BTreeMap<String, Disk>,
    pub buckets: BTreeMap<String, Bucket>,
    pub s3_users: BTreeMap<i64, S3User>,
    pub networks: BTreeMap<String, Network>,
    pub firewalls: BTreeMap<String, Firewall>,
    pub load_balancers: BTreeMap<String, LoadBalancer>,
    pub packages: BTreeMap<String, ServicePackage>,
    #[serde(skip)]
    pub ids: Ids,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field(
                "vms",
                &self.locations.values().map(|l| l.vms.len()).sum::<usize>(),
            )
            .field("disks", &self.disks.len())
            .field("buckets", &self.buckets.len())
            .finish_non_exhaustive()
    }
}

impl State {
    pub fn new(ids: Ids) -> Self {
        let mut st = State {
            ids,
            next_id: 1,
            next_vlan: 100,
            ..State::default()
        };
        for l in LOCATIONS {
            st.locations
                .insert(l.slug.to_string(), LocationState::default());
        }
        st
    }

    pub fn next_id(&mut self) -> i64 {
        let id = self.next_id.max(1);
        self.next_id = id + 1;
        id
    }

    /// The state of a location (slugs are validated by the request extractor).
    pub fn loc(&mut self, slug: &str) -> &mut LocationState {
        self.locations.entry(slug.to_string()).or_default()
    }

    /// Moves objects whose provisioning delay has passed to their ready state.
    pub fn advance(&mut self, now: DateTime<Utc>) {
        let now_ms = now.timestamp_millis();
        for l in self.locations.values_mut() {
            for vm in l.vms.values_mut() {
                if vm.status == "provisioning" && vm.ready_at_ms <= now_ms {
                    vm.status = "running".to_string();
                }
            }
        }
        for p in self.packages.values_mut() {
            if p.status == "provisioning" && p.ready_at_ms <= now_ms {
                p.status = "active".to_string();
            }
        }
    }

    /// Allocates a public IPv4 address in a location.
    pub fn public_address(&mut self, slug: &str) -> String {
        let prefix = LOCATIONS
            .iter()
            .find(|l| l.slug == slug)
            .map_or([185, 199], |l| l.public_prefix);
        let l = self.loc(slug);
        l.next_ip += 1;
        let n = l.next_ip;
        format!(
            "{}.{}.{}.{}",
            prefix[0],
            prefix[1],
            (n / 250) % 250,
            n % 250 + 2
        )
    }

    /// Finds a VM of `user` in any location.
    pub fn find_vm(&self, user: i64, uuid: &str) -> Option<(&str, &Vm)> {
        self.locations.iter().find_map(|(slug, l)| {
            l.vms
                .get(uuid)
                .filter(|vm| vm.user_id == user)
                .map(|vm| (slug.as_str(), vm))
        })
    }

    pub fn ready_at(now: DateTime<Utc>, delay: std::time::Duration) -> i64 {
        let d = Duration::from_std(delay).unwrap_or(Duration::zero());
        (now + d).timestamp_millis()
    }
}
