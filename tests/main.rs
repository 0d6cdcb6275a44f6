//! The operator's integration tests as one test binary: each `tests/*.rs` file is a module here
//! (its tests are named `file::test`, so `cargo test --test integration -- vm_e2e::` runs one file),
//! and the kits are shared. One binary instead of ~40 saves ~4 GB of target/ and ~40 links of a
//! 100 MB executable; `vm_secrets` and `storage_secrets` stay binaries of their own because they
//! install a process-wide log subscriber to capture every line.

mod disk_kit;
mod intake_kit;
mod mixed_kit;
mod net_kit;
mod operator_kit;
mod platform_kit;
#[path = "../crates/nno-sim/tests/sim_threenv_common/mod.rs"]
mod sim_threenv_common;
#[path = "../crates/nno-sim/tests/simkit/mod.rs"]
mod simkit;
mod storage_kit;
mod threenv_client;

mod bench_e2e;
mod bucket_e2e;
mod cli;
mod client_core;
mod client_nno;
mod client_pax8;
mod client_threenv;
mod client_threenv_faults;
mod config_reference;
mod crash_soak;
mod crds;
mod create_retry_e2e;
mod defaults;
mod dev_e2e;
mod devcluster_persist;
mod disk_e2e;
mod firewall_e2e;
mod gitops_health;
mod intake_e2e;
mod intake_restart;
mod jobs_cli;
mod k8s_crds_samples;
mod leader;
mod load_balancer_e2e;
mod mixed_e2e;
mod packaging;
mod platform_e2e;
mod run_leader;
mod samples;
mod samples_e2e;
mod service_package_e2e;
mod sim_cli;
mod storage_faults;
mod troubleshooting_reference;
mod vm_e2e;
mod vm_policies;
mod vm_scale;
