//! CRD types of the `nno.app/v1alpha1` API group: one module per kind plus shared types.

pub mod bucket;
pub mod common;
pub mod crds;
pub mod disk;
pub mod firewall;
pub mod load_balancer;
pub mod platform;
mod schema;
pub mod service_package;
pub mod virtual_machine;

pub use bucket::Bucket;
pub use crds::{crd_file_name, crd_yaml, crds, crds_yaml};
pub use disk::Disk;
pub use firewall::Firewall;
pub use load_balancer::LoadBalancer;
pub use platform::Platform;
pub use service_package::ServicePackage;
pub use virtual_machine::VirtualMachine;

/// API group of every kind.
pub const GROUP: &str = "nno.app";
/// API version of every kind.
pub const VERSION: &str = "v1alpha1";
