//! Serving one simulator on a TCP port: bind (port 0 works), wrap with faults and `/_sim/`,
//! stop gracefully.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use nno_support::serve::Server;

use super::faults::{FaultConfig, Faults};
use super::introspect::{RequestCounters, SimBackend, Simulator, wrap};

/// Errors starting a simulator.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("invalid fault settings: {0}")]
    Faults(String),
}

/// One running simulator.
pub struct SimServer {
    name: &'static str,
    addr: SocketAddr,
    url: String,
    backend: Arc<dyn SimBackend>,
    faults: Arc<Faults>,
    counters: Arc<RequestCounters>,
    server: Server,
}

impl std::fmt::Debug for SimServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimServer")
            .field("name", &self.name)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// A per-simulator stream number for the fault RNG (FNV-1a of the name).
fn fault_stream(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl SimServer {
    /// Binds `addr` and serves `sim` with the given initial faults until [`SimServer::stop`].
    pub async fn start(
        sim: Simulator,
        addr: SocketAddr,
        faults: FaultConfig,
        seed: Option<u64>,
    ) -> Result<Self, ServerError> {
        faults.validate().map_err(ServerError::Faults)?;
        let name = sim.backend.name();
        let backend = sim.backend.clone();
        let faults = Arc::new(Faults::new(
            faults,
            super::seeded_rng(seed, fault_stream(name)),
        ));
        let (router, counters) = wrap(sim, faults.clone());
        let server = Server::bind(addr, router, name)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        let addr = server.addr();
        Ok(Self {
            name,
            addr,
            url: format!("http://{addr}"),
            backend,
            faults,
            counters,
            server,
        })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The bound address (the real port when started on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://host:port`, the base URL clients take.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> &Arc<dyn SimBackend> {
        &self.backend
    }

    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }

    pub fn counters(&self) -> &Arc<RequestCounters> {
        &self.counters
    }

    /// Stops accepting, ends requests hung by the timeout fault (504), lets in-flight requests
    /// finish for up to two seconds, then aborts.
    pub async fn stop(self) {
        self.faults.release_hung();
        self.server.stop(Duration::from_secs(2)).await;
    }
}
