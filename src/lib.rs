//! nno-operator: Kubernetes operator for NNO platforms and 3nv.io cloud infrastructure.

pub mod api;
pub mod bench;
pub mod cli;
pub mod cloud;
pub mod controllers;
pub mod dev;
pub mod intake;
pub mod jobs_cli;
pub mod leader;
pub mod run;
pub mod telemetry;
