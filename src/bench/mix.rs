//! The bench's workload: `--mix vm=…,disk=…` parsed into counts per kind, each kind's manifest,
//! and which simulator counter holds its cloud objects.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Value, json};

/// The Platform every cloud object of the bench refers to.
pub const PLATFORM: &str = "bench-platform";
pub const CREDENTIALS_SECRET: &str = "bench-3nv-credentials";
pub const LOCATION: &str = "cyc01";

/// One kind the bench can create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BenchKind {
    Vm,
    Disk,
    Bucket,
    Firewall,
    LoadBalancer,
    ServicePackage,
    Platform,
}

impl BenchKind {
    pub const ALL: [BenchKind; 7] = [
        BenchKind::Vm,
        BenchKind::Disk,
        BenchKind::Bucket,
        BenchKind::Firewall,
        BenchKind::LoadBalancer,
        BenchKind::ServicePackage,
        BenchKind::Platform,
    ];

    /// The key in `--mix`.
    pub fn key(self) -> &'static str {
        match self {
            BenchKind::Vm => "vm",
            BenchKind::Disk => "disk",
            BenchKind::Bucket => "bucket",
            BenchKind::Firewall => "fw",
            BenchKind::LoadBalancer => "lb",
            BenchKind::ServicePackage => "svc",
            BenchKind::Platform => "platform",
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            BenchKind::Vm => "VirtualMachine",
            BenchKind::Disk => "Disk",
            BenchKind::Bucket => "Bucket",
            BenchKind::Firewall => "Firewall",
            BenchKind::LoadBalancer => "LoadBalancer",
            BenchKind::ServicePackage => "ServicePackage",
            BenchKind::Platform => "Platform",
        }
    }

    pub fn plural(self) -> String {
        format!("{}s", self.kind().to_lowercase())
    }

    /// The 3nv.io simulator's count of this kind's cloud objects (`None`: not a 3nv.io kind).
    /// Disks count without the VMs' own boot disks.
    pub fn cloud_count(self, counts: &BTreeMap<String, usize>) -> Option<usize> {
        let get = |k: &str| counts.get(k).copied().unwrap_or(0);
        match self {
            BenchKind::Vm => Some(get("vms")),
            BenchKind::Disk => Some(get("disks").saturating_sub(get("disks.primary"))),
            BenchKind::Bucket => Some(get("buckets")),
            BenchKind::Firewall => Some(get("firewalls")),
            BenchKind::LoadBalancer => Some(get("load_balancers")),
            BenchKind::ServicePackage => Some(get("service_packages")),
            BenchKind::Platform => None,
        }
    }

    /// What the names of this kind's objects start with.
    pub fn name_prefix(self) -> String {
        format!("bench-{}-", self.key())
    }

    /// Object `i` of this kind.
    pub fn name(self, i: usize) -> String {
        format!("{}{i:05}", self.name_prefix())
    }

    /// The manifest of object `i` (no namespace: the bench applies it to its own).
    pub fn manifest(self, i: usize) -> Value {
        let name = self.name(i);
        let spec = match self {
            BenchKind::Vm => json!({"osName": "ubuntu", "osVersion": "16.04", "vcpu": 2,
                "ramMb": 2048, "diskGb": 20, "username": "deploy",
                "writeConnectionSecretToRef": {"name": format!("{name}-conn")}}),
            BenchKind::Disk => json!({"sizeGb": 10, "sourceImageType": "EMPTY"}),
            BenchKind::Bucket => json!({}),
            BenchKind::Firewall => json!({"rules": [{"protocol": "tcp", "direction": "inbound",
                "portStart": 443, "portEnd": 443, "endpointSpecType": "any"}]}),
            BenchKind::LoadBalancer => json!({"rules": [{"sourcePort": 80, "targetPort": 8080}]}),
            BenchKind::ServicePackage => json!({"service": "postgresql", "version": "14.0",
                "vmCpu": 2, "vmRam": 4096, "vmDiskGb": 50, "whitelist": ["203.0.113.0/24"]}),
            BenchKind::Platform => {
                return json!({"apiVersion": "nno.app/v1alpha1", "kind": "Platform",
                    "metadata": {"name": name},
                    "spec": {"platformId": name, "planTier": "growth",
                             "billingEmail": "billing@bench.example"}});
            }
        };
        let mut spec = spec;
        if let Some(m) = spec.as_object_mut() {
            m.insert("platformRef".into(), json!({"name": PLATFORM}));
        }
        json!({"apiVersion": "nno.app/v1alpha1", "kind": self.kind(),
               "metadata": {"name": name}, "spec": spec})
    }
}

/// The Platform the cloud objects use (with 3nv.io credentials and a location).
pub fn platform_manifest() -> Value {
    json!({"apiVersion": "nno.app/v1alpha1", "kind": "Platform",
        "metadata": {"name": PLATFORM},
        "spec": {"platformId": PLATFORM, "planTier": "growth", "billingEmail": "billing@bench.example",
                 "cloud": {"credentialsSecretRef": {"name": CREDENTIALS_SECRET, "key": "apiKey"},
                           "location": LOCATION, "billingAccountId": 129673}}})
}

/// Objects per kind. Parsed from `vm=600,disk=100,…`; the counts of the kinds left out are 0.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mix(pub BTreeMap<BenchKind, usize>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MixError {
    #[error("{0:?} is not KIND=COUNT (kinds: vm, disk, bucket, fw, lb, svc, platform)")]
    Entry(String),
    #[error("unknown kind {0:?} (kinds: vm, disk, bucket, fw, lb, svc, platform)")]
    Kind(String),
    #[error("{0:?} is given twice")]
    Twice(String),
    #[error("the mix holds no objects")]
    Empty,
}

impl std::str::FromStr for Mix {
    type Err = MixError;

    fn from_str(s: &str) -> Result<Self, MixError> {
        let mut out = BTreeMap::new();
        for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (k, n) = entry
                .split_once('=')
                .ok_or_else(|| MixError::Entry(entry.into()))?;
            let kind = BenchKind::ALL
                .into_iter()
                .find(|b| b.key() == k.trim())
                .ok_or_else(|| MixError::Kind(k.trim().into()))?;
            let n: usize = n
                .trim()
                .parse()
                .map_err(|_| MixError::Entry(entry.into()))?;
            if out.insert(kind, n).is_some() {
                return Err(MixError::Twice(k.trim().into()));
            }
        }
        if out.values().sum::<usize>() == 0 {
            return Err(MixError::Empty);
        }
        Ok(Mix(out))
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .kinds()
            .map(|(k, n)| format!("{}={n}", k.key()))
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl Mix {
    /// Only VirtualMachines.
    pub fn vms(n: usize) -> Self {
        Mix(BTreeMap::from([(BenchKind::Vm, n)]))
    }

    /// `n` objects spread over the six cloud kinds as evenly as possible.
    pub fn even(n: usize) -> Self {
        let kinds = &BenchKind::ALL[..6];
        let mut out = BTreeMap::new();
        for (i, k) in kinds.iter().enumerate() {
            out.insert(*k, n / kinds.len() + usize::from(i < n % kinds.len()));
        }
        Mix(out)
    }

    /// The kinds with at least one object, and their counts.
    pub fn kinds(&self) -> impl Iterator<Item = (BenchKind, usize)> + '_ {
        self.0
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| (*k, *n))
    }

    pub fn total(&self) -> usize {
        self.0.values().sum()
    }

    pub fn count(&self, k: BenchKind) -> usize {
        self.0.get(&k).copied().unwrap_or(0)
    }

    /// The 3nv.io kinds in the mix: each is one observer list per poll interval (one location).
    pub fn cloud_kinds(&self) -> usize {
        self.kinds()
            .filter(|(k, _)| *k != BenchKind::Platform)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_a_mix() {
        let m: Mix = "vm=10, disk=2,platform=1".parse().unwrap();
        assert_eq!(m.total(), 13);
        assert_eq!(m.count(BenchKind::Disk), 2);
        assert_eq!(m.to_string(), "vm=10,disk=2,platform=1");
        assert_eq!(m.cloud_kinds(), 2);
    }

    #[test]
    fn refuses_bad_mixes() {
        assert_eq!("vm".parse::<Mix>(), Err(MixError::Entry("vm".into())));
        assert_eq!("gpu=1".parse::<Mix>(), Err(MixError::Kind("gpu".into())));
        assert_eq!(
            "vm=1,vm=2".parse::<Mix>(),
            Err(MixError::Twice("vm".into()))
        );
        assert_eq!("vm=0".parse::<Mix>(), Err(MixError::Empty));
        assert!("vm=-1".parse::<Mix>().is_err());
    }

    #[test]
    fn even_spreads_over_the_cloud_kinds() {
        let m = Mix::even(500);
        assert_eq!(m.total(), 500);
        assert_eq!(m.count(BenchKind::Vm), 84);
        assert_eq!(m.count(BenchKind::ServicePackage), 83);
        assert_eq!(m.count(BenchKind::Platform), 0);
    }

    #[test]
    fn cloud_counts_leave_boot_disks_out() {
        let c = BTreeMap::from([("disks".to_string(), 5), ("disks.primary".to_string(), 3)]);
        assert_eq!(BenchKind::Disk.cloud_count(&c), Some(2));
        assert_eq!(BenchKind::Platform.cloud_count(&c), None);
    }
}
