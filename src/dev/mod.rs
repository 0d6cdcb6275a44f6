//! `nno-operator dev`: the devcluster, the three simulators and the operator (the real `run` code
//! path) in one process, with the samples applied and a live view of everything converging.

mod board;
mod lock;
pub mod samples;
mod view;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use nno_devcluster::{DevCluster, Options as DevClusterOptions};
use nno_sim::{FaultConfig, SimConfig, Simulators};
use tokio_util::sync::CancellationToken;

use self::board::Board;
use self::lock::DirLock;
use self::view::Mode;
use crate::run::RunArgs;

/// Where `dev` keeps its kubeconfig and lock when `--state-dir` is not given.
pub const DEFAULT_DIR: &str = ".nno-dev";

/// A `--…` duration flag (humantime: 90s, 5m, 500ms).
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 90s, 5m)"))
}

/// A `--…-rate` flag: a probability between 0 and 1.
pub(crate) fn probability(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("{s:?} is not a probability between 0 and 1")),
    }
}

/// Arguments of `nno-operator dev`.
#[derive(Debug, Clone, clap::Args)]
pub struct DevArgs {
    /// Keep the devcluster's and the simulators' state in DIR across runs (also holds the
    /// kubeconfig and the lock). Without it the state lives in memory and is gone at exit; the
    /// kubeconfig and lock then go to `.nno-dev/`.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Do not apply the samples (config/samples/, built in) at start.
    #[arg(long)]
    pub no_samples: bool,
    /// Apply the YAML files of DIR at start instead of the built-in samples.
    #[arg(long, value_name = "DIR", conflicts_with = "no_samples")]
    pub samples_dir: Option<PathBuf>,
    /// Namespace the samples go to (the devcluster has `default`, `kube-system`, `kube-public`
    /// and `kube-node-lease`; others are created on demand).
    #[arg(long, default_value = "default")]
    pub namespace: String,
    /// Exit 0 once every nno.app object is Ready; exit 1 at TIMEOUT listing those that are not,
    /// with their reasons. Without a value, TIMEOUT is 5m.
    #[arg(long, value_name = "TIMEOUT", num_args = 0..=1, default_missing_value = "5m", value_parser = parse_duration)]
    pub exit_when_ready: Option<Duration>,
    /// One line per change instead of the live table (the default when stdout is not a terminal).
    #[arg(long)]
    pub plain: bool,
    /// Address of the devcluster (the Kubernetes API kubectl talks to); loopback only. Port 0
    /// picks a free port; the kubeconfig always shows the real one.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub kube_addr: SocketAddr,
    /// Address of the operator's /healthz, /readyz and /metrics.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub http_addr: SocketAddr,
    /// How often the operator lists each kind from 3nv.io when nothing is changing.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub poll_interval: Duration,
    /// How often it lists while some object is in transition.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub transition_poll_interval: Duration,
    /// Simulators: probability of answering 503 without handling the request.
    #[arg(long, default_value_t = 0.0, value_parser = probability)]
    pub sim_error_rate: f64,
    /// Simulators: probability of answering 429 with Retry-After.
    #[arg(long, default_value_t = 0.0, value_parser = probability)]
    pub sim_throttle_rate: f64,
    /// Simulators: probability of handling a request and then losing the reply.
    #[arg(long, default_value_t = 0.0, value_parser = probability)]
    pub sim_lost_reply_rate: f64,
    /// Simulators: probability of never answering (the client's timeout ends the call).
    #[arg(long, default_value_t = 0.0, value_parser = probability)]
    pub sim_timeout_rate: f64,
    /// Simulators: latency added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub sim_latency_ms: u64,
    /// Simulators: how long 3nv.io objects stay in transition (creating, resizing, ...) and NNO jobs
    /// take, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub sim_provision_delay_ms: u64,
    /// Simulators: probability that an NNO provisioning job fails.
    #[arg(long, default_value_t = 0.0, value_parser = probability)]
    pub sim_job_failure_rate: f64,
    /// Simulators: seed of the fault and id generators, for runs that repeat exactly.
    #[arg(long)]
    pub sim_seed: Option<u64>,
}

impl DevArgs {
    /// Where the operator's, the devcluster's and the simulators' logs go (the terminal shows the
    /// view); `RUST_LOG` filters them.
    pub fn log_file(&self) -> PathBuf {
        self.dir().join("dev.log")
    }

    fn dir(&self) -> PathBuf {
        self.state_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR))
    }

    fn sim_config(&self, dir: &Path) -> SimConfig {
        SimConfig {
            faults: FaultConfig {
                latency_ms: self.sim_latency_ms,
                error_rate: self.sim_error_rate,
                throttle_rate: self.sim_throttle_rate,
                timeout_rate: self.sim_timeout_rate,
                lost_reply_rate: self.sim_lost_reply_rate,
                ..FaultConfig::default()
            },
            provision_delay: Duration::from_millis(self.sim_provision_delay_ms),
            job_failure_rate: self.sim_job_failure_rate,
            state_file: self.state_dir.as_ref().map(|_| dir.join("simulators.json")),
            seed: self.sim_seed,
            ..SimConfig::default()
        }
    }

    /// The operator's flags: the `run` defaults, pointed at the simulators.
    fn run_args(&self, sims: &Simulators) -> anyhow::Result<RunArgs> {
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            run: RunArgs,
        }
        let http = self.http_addr.to_string();
        let poll = humantime::format_duration(self.poll_interval).to_string();
        let transition = humantime::format_duration(self.transition_poll_interval).to_string();
        let w = Wrap::try_parse_from([
            "run",
            "--threenv-url",
            sims.threenv_url(),
            "--nno-url",
            sims.nno_url(),
            "--http-addr",
            &http,
            "--leader-election=false",
            "--poll-interval",
            &poll,
            "--transition-poll-interval",
            &transition,
        ])
        .context("operator flags")?;
        Ok(w.run)
    }
}

/// Runs `dev` until Ctrl-C, or until everything is Ready with `--exit-when-ready`.
pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    let dir = args.dir();
    let _lock = DirLock::acquire(&dir)?;
    let mode = if args.plain || !std::io::stdout().is_terminal() {
        Mode::Plain
    } else {
        Mode::Live
    };
    let crds_dir = dir.join("crds");
    crate::api::crds::write_crds(&crds_dir).context("writing the CRDs")?;
    let samples = if args.no_samples {
        Vec::new()
    } else {
        samples::load(args.samples_dir.as_deref())?
    };
    let sims = Simulators::start(args.sim_config(&dir))
        .await
        .context("starting the simulators")?;
    let cluster = DevCluster::start(DevClusterOptions {
        addr: args.kube_addr,
        state_file: args.state_dir.as_ref().map(|_| dir.join("devcluster.json")),
        crds_dir: Some(crds_dir),
        ..DevClusterOptions::default()
    })
    .await
    .context("starting the devcluster")?;
    let kubeconfig = std::path::absolute(dir.join("kubeconfig")).context("kubeconfig path")?;
    nno_devcluster::kubeconfig::write(&kubeconfig, &cluster.url())
        .with_context(|| format!("writing {}", kubeconfig.display()))?;
    let client = cluster.client().context("devcluster client")?;
    let outcome = serve(&args, mode, &sims, &cluster, client, &samples, &kubeconfig).await;
    cluster.stop().await;
    sims.stop().await;
    match &args.state_dir {
        Some(d) => println!("stopped; state kept in {}", d.display()),
        None => println!("stopped"),
    }
    outcome
}

async fn serve(
    args: &DevArgs,
    mode: Mode,
    sims: &Simulators,
    cluster: &DevCluster,
    client: kube::Client,
    samples: &[samples::Sample],
    kubeconfig: &Path,
) -> anyhow::Result<()> {
    println!("devcluster   {}", cluster.url());
    println!(
        "simulators   3nv.io {}  NNO {}  Pax8 {}",
        sims.threenv_url(),
        sims.nno_url(),
        sims.pax8_url()
    );
    if !samples.is_empty() {
        let applied = samples::apply(&client, &args.namespace, samples).await?;
        println!(
            "applied      {} sample objects to namespace {}",
            applied.len(),
            args.namespace
        );
    }
    let shutdown = CancellationToken::new();
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let operator = tokio::spawn(crate::run::run_with(
        client.clone(),
        args.run_args(sims)?,
        shutdown.clone(),
        addr_tx,
    ));
    if let Ok(addr) = addr_rx.await {
        println!("operator     http://{addr}/metrics  (/healthz, /readyz)");
    }
    println!("logs         {}", args.log_file().display());
    println!();
    println!("export KUBECONFIG={}", kubeconfig.display());
    println!("kubectl get nno     # every nno.app object; Ctrl-C stops everything");
    println!();
    let board = Arc::new(Board::default());
    let outcome = tokio::select! {
        _ = board.watch(&client) => Err(anyhow::anyhow!("the view's watches ended")),
        _ = view::show(&board, mode) => Ok(()),
        r = wait_ready(&board, args.exit_when_ready) => r,
        r = nno_support::shutdown::signal() => r.context("waiting for Ctrl-C"),
    };
    // Only now: the view has let go of the terminal.
    println!("stopping…");
    shutdown.cancel();
    match operator.await {
        Ok(Err(e)) if outcome.is_ok() => return Err(e.context("the operator failed")),
        Err(e) if outcome.is_ok() => return Err(anyhow::anyhow!("the operator panicked: {e}")),
        _ => {}
    }
    outcome
}

/// With `--exit-when-ready`: resolves once everything is Ready (Ok), or at the timeout with the
/// objects that are not (Err). Without it: never.
async fn wait_ready(board: &Board, timeout: Option<Duration>) -> anyhow::Result<()> {
    let Some(timeout) = timeout else {
        return std::future::pending().await;
    };
    let mut changes = board.subscribe();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        changes.borrow_and_update();
        if board.all_ready() {
            let n = board.rows().len();
            println!("all {n} objects Ready");
            return Ok(());
        }
        if tokio::time::timeout_at(deadline, changes.changed())
            .await
            .is_err()
        {
            break;
        }
    }
    let mut report = format!(
        "not everything was Ready after {}:",
        humantime::format_duration(timeout)
    );
    if !board.listed() {
        report.push_str("\n  the objects could not be listed from the devcluster");
    }
    for r in board.rows().iter().filter(|r| !r.is_ready()) {
        report.push_str(&format!("\n  {}  {}: {}", r.id(), r.reason, r.message));
    }
    Err(anyhow::anyhow!(report))
}
