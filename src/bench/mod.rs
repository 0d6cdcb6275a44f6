//! `nno-operator bench`: the devcluster and the operator as child processes, the simulators in
//! this one; creates a workload, waits for it to converge, idles, measures drift detection and
//! watch→reconcile latency, deletes everything, and writes a Markdown + JSON report whose
//! invariants (all Ready, no duplicates, no leaks, no stuck finalizers, every Pax8 order answered
//! once) decide the exit code.

mod mix;
mod operator;
mod probe;
mod procs;
mod progress;
mod report;
mod scenario;

use std::path::PathBuf;
use std::time::Duration;

pub use self::mix::{BenchKind, Mix, MixError};
pub use self::probe::{histogram, quantile};
pub use self::report::Report;

use crate::dev::{parse_duration, probability};

/// Arguments of `nno-operator bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Objects to create, spread evenly over the six cloud kinds (without `--mix`).
    #[arg(long, default_value_t = 100, conflicts_with = "mix")]
    pub objects: usize,
    /// Objects per kind, e.g. `vm=600,disk=100,bucket=100,fw=50,lb=50,svc=50,platform=50`
    /// (kinds: vm, disk, bucket, fw, lb, svc, platform). Overrides `--objects`.
    #[arg(long)]
    pub mix: Option<Mix>,
    /// Pax8 orders placed during convergence (each becomes a Platform; each must be answered once).
    #[arg(long, default_value_t = 0)]
    pub orders: usize,
    /// Latency the simulators add to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// How long 3nv.io objects stay in transition and NNO jobs take, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub provision_delay_ms: u64,
    /// Probability of a 503 from every simulated API (switched on once the bench's own set-up is done).
    #[arg(long, default_value_t = 0.0, value_parser = probability)]
    pub error_rate: f64,
    /// Probability that a request is handled and its reply lost.
    #[arg(long, default_value_t = 0.0, value_parser = probability)]
    pub lost_reply_rate: f64,
    /// Probability of a 429 with Retry-After.
    #[arg(long, default_value_t = 0.0, value_parser = probability)]
    pub throttle_rate: f64,
    /// SIGKILL the operator every SECONDS (and restart it) while objects converge and while they
    /// are deleted.
    #[arg(long, value_name = "SECONDS")]
    pub kill_every: Option<f64>,
    /// The operator's --poll-interval (idle cloud lists).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub poll_interval: Duration,
    /// The operator's --transition-poll-interval.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub transition_poll_interval: Duration,
    /// The operator's --max-concurrent-reconciles.
    #[arg(long, default_value_t = 16)]
    pub max_concurrent_reconciles: u16,
    /// The operator's --threenv-rate-limit (requests per second).
    #[arg(long, default_value_t = 20.0)]
    pub threenv_rate_limit: f64,
    /// The operator's --threenv-burst.
    #[arg(long, default_value_t = 40)]
    pub threenv_burst: u32,
    /// Poll intervals measured while idle.
    #[arg(long, default_value_t = 3)]
    pub idle_intervals: u32,
    /// Poll intervals to wait at most, after all Ready, for the operator's calls to drop to the
    /// periodic lists before the idle measurement starts (the wait is reported).
    #[arg(long, default_value_t = 30)]
    pub settle_intervals: u32,
    /// Objects touched per second (an annotation) to measure watch→reconcile latency; 0 skips it.
    #[arg(long, default_value_t = 50.0)]
    pub touch_rate: f64,
    /// Longest wait for convergence and for deletion, each.
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Report path without extension: writes PATH.md and PATH.json.
    #[arg(long, default_value = "target/bench/report")]
    pub report: PathBuf,
    /// Keep the processes' logs (devcluster.log, operator.log) in DIR (default: a temporary
    /// directory, removed at exit).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Seed of the simulators' fault and id generators.
    #[arg(long)]
    pub seed: Option<u64>,
}

impl BenchArgs {
    pub fn mix(&self) -> Mix {
        self.mix.clone().unwrap_or_else(|| Mix::even(self.objects))
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.mix().total() + self.orders == 0 {
            anyhow::bail!("nothing to run: give --objects, --mix or --orders");
        }
        let faults = self.error_rate + self.lost_reply_rate + self.throttle_rate;
        if faults > 1.0 {
            anyhow::bail!("the fault rates add up to {faults}, more than 1");
        }
        if let Some(k) = self.kill_every
            && !(k.is_finite() && k > 0.0)
        {
            anyhow::bail!("--kill-every must be a positive number of seconds");
        }
        if !(self.threenv_rate_limit.is_finite() && self.threenv_rate_limit > 0.0) {
            anyhow::bail!("--threenv-rate-limit must be positive");
        }
        if self.touch_rate < 0.0 || !self.touch_rate.is_finite() {
            anyhow::bail!("--touch-rate must be 0 or positive");
        }
        Ok(())
    }
}

/// Runs the bench; an error when it could not run, or when an invariant failed.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    args.check()?;
    let report = scenario::run(&args).await?;
    let (md, json) = report.write(&args.report)?;
    println!("{}", report.markdown());
    println!("report written to {} and {}", md.display(), json.display());
    let failed = report.failed();
    if !failed.is_empty() {
        let names: Vec<&str> = failed.iter().map(|i| i.name.as_str()).collect();
        anyhow::bail!("{} invariant(s) failed: {}", failed.len(), names.join(", "));
    }
    Ok(())
}
