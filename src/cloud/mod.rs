//! Typed HTTP clients of the external APIs (3nv.io, NNO provisioning, Pax8) and their shared core.

pub mod error;
pub mod http;
pub mod nno;
pub mod pax8;
pub mod ratelimit;
pub mod retry;
pub mod secret;
pub mod threenv;

pub use error::{ApiError, ErrorBody, ErrorParser};
pub use http::{Auth, Body, CallObserver, CallRecord, CoreConfig, HttpCore, Request, Response};
pub use ratelimit::RateLimit;
pub use retry::RetryPolicy;
pub use secret::Secret;
