//! Settings of the simulators: the `sim` subcommand's flags and the in-process [`SimConfig`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::faults::FaultConfig;

/// Flags of `nno-operator sim`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Listen address of the 3nv.io simulator (API under /v1/...). Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:18081")]
    pub threenv_addr: SocketAddr,
    /// Listen address of the NNO provisioning simulator (API under /api/v1/provision/...).
    #[arg(long, default_value = "127.0.0.1:18082")]
    pub nno_addr: SocketAddr,
    /// Listen address of the Pax8 simulator (API under /v2/..., token endpoint /v1/token).
    #[arg(long, default_value = "127.0.0.1:18083")]
    pub pax8_addr: SocketAddr,
    /// 3nv.io API key the simulator accepts in the `apikey` header (the reference's curl examples
    /// use `meowmeowmeow`: pass `--api-key meowmeowmeow` to replay them unchanged).
    #[arg(long, default_value = "dev-api-key")]
    pub api_key: String,
    /// Bearer token the NNO simulator requires; without it NNO accepts unauthenticated calls.
    #[arg(long)]
    pub nno_token: Option<String>,
    /// OAuth2 client id the Pax8 token endpoint accepts.
    #[arg(long, default_value = "dev-client-id")]
    pub pax8_client_id: String,
    /// OAuth2 client secret the Pax8 token endpoint accepts.
    #[arg(long, default_value = "dev-client-secret")]
    pub pax8_client_secret: String,
    /// Latency added to every API request, in milliseconds (all three servers).
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Probability (0..1) that a request is answered 503 without being handled.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Probability (0..1) that a request is answered 429 with a Retry-After header.
    #[arg(long, default_value_t = 0.0)]
    pub throttle_rate: f64,
    /// Probability (0..1) that a request is never answered (the client times out).
    #[arg(long, default_value_t = 0.0)]
    pub timeout_rate: f64,
    /// Probability (0..1) that a request is handled (writes commit) but its reply is lost.
    #[arg(long, default_value_t = 0.0)]
    pub lost_reply_rate: f64,
    /// Time a new VM stays provisioning and an NNO job takes from QUEUED to done, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub provision_delay_ms: u64,
    /// Probability (0..1) that an NNO job ends FAILED (and lands in the DLQ).
    #[arg(long, default_value_t = 0.0)]
    pub job_failure_rate: f64,
    /// JSON file holding the state of all simulators: loaded at start, saved on change and at exit.
    #[arg(long)]
    pub state_file: Option<PathBuf>,
    /// Seed of the random sources (ids, faults, job failures) for reproducible runs.
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Settings of [`super::Simulators::start`]. `Default` binds every server on 127.0.0.1:0
/// with the same development credentials as the CLI and no faults.
#[derive(Clone)]
pub struct SimConfig {
    pub threenv_addr: SocketAddr,
    pub nno_addr: SocketAddr,
    pub pax8_addr: SocketAddr,
    pub api_key: String,
    pub nno_token: Option<String>,
    pub pax8_client_id: String,
    pub pax8_client_secret: String,
    /// Lifetime of Pax8 access tokens.
    pub pax8_token_ttl: Duration,
    /// Initial fault settings of every server (changeable at runtime through `/_sim/faults`).
    pub faults: FaultConfig,
    pub provision_delay: Duration,
    pub job_failure_rate: f64,
    /// Delays between the attempts of one Pax8 webhook delivery (its length + 1 = attempts).
    pub webhook_retry_delays: Vec<Duration>,
    pub state_file: Option<PathBuf>,
    pub seed: Option<u64>,
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("threenv_addr", &self.threenv_addr)
            .field("nno_addr", &self.nno_addr)
            .field("pax8_addr", &self.pax8_addr)
            .field("faults", &self.faults)
            .field("provision_delay", &self.provision_delay)
            .field("job_failure_rate", &self.job_failure_rate)
            .field("state_file", &self.state_file)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            threenv_addr: any,
            nno_addr: any,
            pax8_addr: any,
            api_key: "dev-api-key".into(),
            nno_token: None,
            pax8_client_id: "dev-client-id".into(),
            pax8_client_secret: "dev-client-secret".into(),
            pax8_token_ttl: Duration::from_secs(3600),
            faults: FaultConfig::default(),
            provision_delay: Duration::from_millis(200),
            job_failure_rate: 0.0,
            webhook_retry_delays: [200, 400, 800, 1600]
                .into_iter()
                .map(Duration::from_millis)
                .collect(),
            state_file: None,
            seed: None,
        }
    }
}

impl From<SimArgs> for SimConfig {
    fn from(a: SimArgs) -> Self {
        Self {
            threenv_addr: a.threenv_addr,
            nno_addr: a.nno_addr,
            pax8_addr: a.pax8_addr,
            api_key: a.api_key,
            nno_token: a.nno_token.filter(|t| !t.is_empty()),
            pax8_client_id: a.pax8_client_id,
            pax8_client_secret: a.pax8_client_secret,
            faults: FaultConfig {
                latency_ms: a.latency_ms,
                error_rate: a.error_rate,
                throttle_rate: a.throttle_rate,
                timeout_rate: a.timeout_rate,
                lost_reply_rate: a.lost_reply_rate,
                ..FaultConfig::default()
            },
            provision_delay: Duration::from_millis(a.provision_delay_ms),
            job_failure_rate: a.job_failure_rate,
            state_file: a.state_file,
            seed: a.seed,
            ..Self::default()
        }
    }
}
