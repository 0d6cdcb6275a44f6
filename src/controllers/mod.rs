//! The managed-resource runtime shared by every 3nv.io kind (driver, observer, conditions, drift,
//! references, secrets, metrics), one module per kind implementing [`managed::ManagedKind`], and
//! the Platform controller (`platform/`), which tracks NNO jobs instead.

pub mod backoff;
pub mod bucket;
pub mod cleanup;
pub mod conditions;
pub mod disk;
pub mod drift;
pub mod driver;
pub mod error;
pub mod firewall;
pub mod load_balancer;
pub mod locate;
pub mod managed;
pub mod metrics;
pub mod observer;
pub mod pending;
pub mod platform;
pub mod refs;
pub mod report;
pub mod runner;
pub mod secrets;
pub mod service_package;
pub mod shared_watch;
pub mod target;
pub mod token;
pub mod virtual_machine;
pub mod wake_clock;

/// The one field manager of every write the operator makes (status, Secrets, annotations).
pub const FIELD_MANAGER: &str = "nno-operator";
