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
    /// Run the operator: watch the nno.app objects and converge 3nv.io (and, later, NNO and Pax8)
    /// toward them. Serves /healthz, /readyz and /metrics; elects a leader through a Lease.
    Run(crate::run::RunArgs),
    /// Try it on one machine: the devcluster, the three simulators and the operator in one process,
    /// the samples applied, a kubeconfig in .nno-dev/kubeconfig, and a live view of every object
    /// converging. Ctrl-C stops it.
    Dev(crate::dev::DevArgs),
    /// Measure it: the devcluster and the operator as processes of their own, the simulators with
    /// latency and faults; creates a workload, waits for it to converge, idles, deletes it, and
    /// writes a Markdown + JSON report. Exits non-zero when an invariant fails (not every object
    /// Ready, a duplicate or leaked cloud object, a stuck finalizer, a Pax8 order not answered once).
    Bench(crate::bench::BenchArgs),
    /// Print every CustomResourceDefinition as multi-document YAML (pipe into `kubectl apply -f -`),
    /// or write one file per CRD with `--out-dir`.
    Crds(crate::api::crds::CrdsArgs),
    /// Run the simulators of the 3nv.io, NNO provisioning and Pax8 APIs on loopback.
    Sim(nno_sim::SimArgs),
    /// Serve an embedded Kubernetes API server on loopback for development and tests.
    Devcluster(nno_devcluster::DevClusterArgs),
    /// Inspect and repair NNO provisioning jobs (operator-only endpoints): list, get, retry,
    /// cancel, force-complete, and the dead-letter queue.
    Jobs(crate::jobs_cli::JobsArgs),
}

/// Runs the selected subcommand.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Dev(args) => {
            let path = args.log_file();
            crate::telemetry::init_logging_to_file(cli.log_format, &path)
                .map_err(|e| anyhow::anyhow!("cannot open the log file {}: {e}", path.display()))?;
        }
        _ => crate::telemetry::init_logging(cli.log_format),
    }
    match cli.command {
        Command::Run(args) => crate::run::run(args).await,
        Command::Dev(args) => crate::dev::run(args).await,
        Command::Bench(args) => crate::bench::run(args).await,
        Command::Crds(args) => Ok(crate::api::crds::run(&args)?),
        Command::Sim(args) => nno_sim::run(args).await,
        Command::Devcluster(args) => nno_devcluster::run(args).await,
        Command::Jobs(args) => crate::jobs_cli::run(args).await,
    }
}

/// Writes a command's output to stdout. A reader that stopped early (`nno-operator crds | head`)
/// is not an error: the output was not wanted any more. (`print!` panics on a closed pipe.)
pub fn write_stdout(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}
