//! Simulators of the three external APIs (3nv.io, NNO provisioning, Pax8) behind `nno-operator sim`.

pub mod config;
pub mod faults;
pub mod harness;
pub mod introspect;
pub mod nno;
pub mod pax8;
pub mod persist;
pub mod server;
pub mod threenv;
pub mod validate;

use rand::SeedableRng;
use rand::rngs::StdRng;

pub use config::{SimArgs, SimConfig};
pub use faults::{FaultConfig, Faults, LostReplyMode};
pub use harness::{SimError, Simulators, run};
pub use introspect::{RequestCount, SimBackend, Simulator};
pub use server::SimServer;

/// A random source: deterministic per `stream` when a seed is given, from the OS otherwise.
pub fn seeded_rng(seed: Option<u64>, stream: u64) -> StdRng {
    match seed {
        Some(seed) => StdRng::seed_from_u64(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        None => rand::make_rng(),
    }
}

/// The token of an `Authorization: Bearer <token>` header (the scheme is case-insensitive).
pub fn bearer_token(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}
