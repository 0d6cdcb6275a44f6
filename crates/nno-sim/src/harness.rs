//! All simulators together: start them (in-process for tests, or from `nno-operator sim`),
//! keep the state file up to date, stop them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::config::{SimArgs, SimConfig};
use super::introspect::SimBackend;
use super::persist::{self, PersistError};
use super::server::{ServerError, SimServer};

/// Errors starting the simulators.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error(transparent)]
    Persist(#[from] PersistError),
    #[error("invalid simulator settings: {0}")]
    Config(String),
    #[error("state file: cannot restore the {name} simulator: {source}")]
    Restore {
        name: &'static str,
        source: serde_json::Error,
    },
}

/// The running simulators.
pub struct Simulators {
    cfg: SimConfig,
    threenv: SimServer,
    nno: SimServer,
    pax8: SimServer,
    saver: Option<(watch::Sender<bool>, JoinHandle<()>)>,
}

impl std::fmt::Debug for Simulators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulators")
            .field("threenv", &self.threenv.url())
            .field("nno", &self.nno.url())
            .field("pax8", &self.pax8.url())
            .finish_non_exhaustive()
    }
}

impl Simulators {
    /// Starts every simulator; with a state file, restores it first and keeps it saved.
    pub async fn start(cfg: SimConfig) -> Result<Self, SimError> {
        if !(0.0..=1.0).contains(&cfg.job_failure_rate) {
            return Err(SimError::Config(format!(
                "job failure rate must be between 0 and 1, got {}",
                cfg.job_failure_rate
            )));
        }
        cfg.faults.validate().map_err(SimError::Config)?;
        let threenv_sim = super::threenv::build(&cfg);
        let nno_sim = super::nno::build(&cfg);
        let pax8_sim = super::pax8::build(&cfg);
        let backends: Vec<Arc<dyn SimBackend>> = vec![
            threenv_sim.backend.clone(),
            nno_sim.backend.clone(),
            pax8_sim.backend.clone(),
        ];
        if let Some(path) = &cfg.state_file
            && let Some(Value::Object(saved)) = persist::load(path)?
        {
            for b in &backends {
                if let Some(v) = saved.get(b.name()) {
                    b.restore(v.clone()).map_err(|source| SimError::Restore {
                        name: b.name(),
                        source,
                    })?;
                }
            }
        }
        let threenv =
            SimServer::start(threenv_sim, cfg.threenv_addr, cfg.faults.clone(), cfg.seed).await?;
        let nno = match SimServer::start(nno_sim, cfg.nno_addr, cfg.faults.clone(), cfg.seed).await
        {
            Ok(s) => s,
            Err(e) => {
                threenv.stop().await;
                return Err(e.into());
            }
        };
        let pax8 =
            match SimServer::start(pax8_sim, cfg.pax8_addr, cfg.faults.clone(), cfg.seed).await {
                Ok(s) => s,
                Err(e) => {
                    threenv.stop().await;
                    nno.stop().await;
                    return Err(e.into());
                }
            };
        let saver = cfg
            .state_file
            .clone()
            .map(|path| spawn_saver(path, backends));
        Ok(Self {
            cfg,
            threenv,
            nno,
            pax8,
            saver,
        })
    }

    pub fn threenv_url(&self) -> &str {
        self.threenv.url()
    }

    pub fn threenv(&self) -> &SimServer {
        &self.threenv
    }

    pub fn nno_url(&self) -> &str {
        self.nno.url()
    }

    pub fn pax8_url(&self) -> &str {
        self.pax8.url()
    }

    pub fn nno(&self) -> &SimServer {
        &self.nno
    }

    pub fn pax8(&self) -> &SimServer {
        &self.pax8
    }

    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// The 3nv.io API key accepted in the `apikey` header.
    pub fn api_key(&self) -> &str {
        &self.cfg.api_key
    }

    /// The bearer token NNO requires, if any.
    pub fn nno_token(&self) -> Option<&str> {
        self.cfg.nno_token.as_deref()
    }

    pub fn pax8_client_id(&self) -> &str {
        &self.cfg.pax8_client_id
    }

    pub fn pax8_client_secret(&self) -> &str {
        &self.cfg.pax8_client_secret
    }

    /// Stops every server and writes the state file one last time.
    pub async fn stop(self) {
        self.threenv.stop().await;
        self.nno.stop().await;
        self.pax8.stop().await;
        if let Some((tx, task)) = self.saver {
            let _ = tx.send(true);
            let _ = task.await;
        }
    }
}

fn snapshot_all(backends: &[Arc<dyn SimBackend>]) -> String {
    let mut all = Map::new();
    all.insert("version".into(), Value::from(1));
    for b in backends {
        all.insert(b.name().into(), b.snapshot());
    }
    serde_json::to_string_pretty(&Value::Object(all)).unwrap_or_default()
}

/// Saves the state file whenever a snapshot differs from the last one written, and at stop.
fn spawn_saver(
    path: PathBuf,
    backends: Vec<Arc<dyn SimBackend>>,
) -> (watch::Sender<bool>, JoinHandle<()>) {
    let (tx, mut rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        let mut last = String::new();
        loop {
            let stopping = tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => false,
                _ = rx.changed() => true,
            };
            let text = snapshot_all(&backends);
            if text != last {
                match persist::save(&path, &text) {
                    Ok(()) => last = text,
                    Err(e) => tracing::warn!(error = %e, "cannot save simulator state"),
                }
            }
            if stopping {
                break;
            }
        }
    });
    (tx, task)
}

/// `nno-operator sim`: starts the simulators, prints where they are, runs until Ctrl-C.
pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    let sims = Simulators::start(SimConfig::from(args)).await?;
    let cfg = sims.config();
    println!(
        "threenv: {}  (3nv.io API under /v1/; header \"apikey: {}\")",
        sims.threenv_url(),
        cfg.api_key
    );
    println!(
        "nno: {}  (NNO provisioning under /api/v1/provision/; {})",
        sims.nno_url(),
        match &cfg.nno_token {
            Some(t) => format!("header \"Authorization: Bearer {t}\""),
            None => "no token required".to_owned(),
        }
    );
    println!(
        "pax8: {}  (Pax8 vendor provisioning under /v2/; token: POST {}/v1/token with client_id={} client_secret={} audience=api://provisioning)",
        sims.pax8_url(),
        sims.pax8_url(),
        cfg.pax8_client_id,
        cfg.pax8_client_secret
    );
    println!("introspection and fault injection on every server under /_sim/; Ctrl-C stops");
    nno_support::shutdown::signal().await?;
    sims.stop().await;
    Ok(())
}
