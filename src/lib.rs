//! nno-operator: Kubernetes operator for NNO platforms and 3nv.io cloud infrastructure.

pub mod api;
pub mod cli;
pub mod cloud;
pub mod devcluster;
pub mod leader;
pub mod sim;
pub mod telemetry;
