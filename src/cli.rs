//! Command-line interface: the top-level parser and the dispatch to each subcommand's module.

use clap::{Parser, Subcommand};

/// Kubernetes operator for NNO platforms and their 3nv.io cloud infrastructure.
#[derive(Debug, Parser)]
#[command(name = "nno-operator", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print every CustomResourceDefinition as multi-document YAML (pipe into `kubectl apply -f -`).
    Crds,
    /// Serve an embedded Kubernetes API server on loopback for development and tests.
    Devcluster(crate::devcluster::DevClusterArgs),
}

/// Runs the selected subcommand.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Crds => {
            print!("{}", crate::api::crds_yaml()?);
            Ok(())
        }
        Command::Devcluster(args) => crate::devcluster::run(args).await,
    }
}
