//! Embedded Kubernetes API server (devcluster) for dev and tests: `nno-operator devcluster`, or
//! in-process via [`DevCluster::start`].

pub mod apply;
pub mod discovery;
pub mod events;
pub mod gc;
pub mod handlers;
pub mod kubeconfig;
pub mod objects;
pub mod openapi_docs;
pub mod patch;
pub mod persist;
pub mod protobuf;
pub mod registry;
pub mod schema;
pub mod selectors;
pub mod server;
pub mod status;
pub mod store;
pub mod wire;

pub use server::{DevCluster, DevClusterError, Options};

use std::net::SocketAddr;
use std::path::PathBuf;

/// `nno-operator devcluster`: serve the Kubernetes API on loopback.
#[derive(Debug, Clone, clap::Args)]
pub struct DevClusterArgs {
    /// Address to listen on; loopback only (plain HTTP, no auth). Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:6443")]
    pub addr: SocketAddr,
    /// Write a kubeconfig for kubectl and kube-rs to this path (its `server:` shows the real port).
    #[arg(long)]
    pub kubeconfig_out: Option<PathBuf>,
    /// Persist every acknowledged write to this file (fsynced) and reload it on start.
    #[arg(long)]
    pub state_file: Option<PathBuf>,
    /// Apply every CustomResourceDefinition found in the *.yaml/*.yml/*.json files of this directory at start.
    #[arg(long)]
    pub crds: Option<PathBuf>,
    /// Number of changes kept for watches to resume from; older resourceVersions get 410 Gone.
    #[arg(long, default_value_t = 10_000)]
    pub watch_history: usize,
}

/// Runs the devcluster until Ctrl-C (or SIGTERM).
pub async fn run(args: DevClusterArgs) -> anyhow::Result<()> {
    let dc = DevCluster::start(Options {
        addr: args.addr,
        state_file: args.state_file.clone(),
        crds_dir: args.crds.clone(),
        history_limit: args.watch_history,
    })
    .await?;
    if let Some(path) = &args.kubeconfig_out {
        kubeconfig::write(path, &dc.url())?;
        println!(
            "devcluster listening on {} (kubeconfig: {})",
            dc.url(),
            path.display()
        );
    } else {
        println!("devcluster listening on {}", dc.url());
    }
    nno_support::shutdown::signal().await?;
    println!("devcluster stopping");
    dc.stop().await;
    Ok(())
}
