//! Command-line interface: the top-level parser and the dispatch to each subcommand's module.

use clap::{Parser, Subcommand};

/// Kubernetes operator for NNO platforms and their 3nv.io cloud infrastructure.
#[derive(Debug, Parser)]
#[command(name = "nno-operator", version, about, long_about = None)]
pub struct Cli {
    /// Format of the log lines on stderr: `text` or `json`. The level filter comes from RUST_LOG
    /// (default `info`, e.g. `RUST_LOG=nno_operator=debug`).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t,
        env = "NNO_LOG_FORMAT"
    )]
    pub log_format: crate::telemetry::LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process; boxing the argument structs would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print every CustomResourceDefinition as multi-document YAML (pipe into `kubectl apply -f -`),
    /// or write one file per CRD with `--out-dir`.
    Crds(crate::api::crds::CrdsArgs),
    /// Run the simulators of the 3nv.io, NNO provisioning and Pax8 APIs on loopback.
    Sim(crate::sim::SimArgs),
    /// Serve an embedded Kubernetes API server on loopback for development and tests.
    Devcluster(crate::devcluster::DevClusterArgs),
}

/// Runs the selected subcommand.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    crate::telemetry::init_logging(cli.log_format);
    match cli.command {
        Command::Crds(args) => Ok(crate::api::crds::run(&args)?),
        Command::Sim(args) => crate::sim::run(args).await,
        Command::Devcluster(args) => crate::devcluster::run(args).await,
    }
}
