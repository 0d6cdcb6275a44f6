//! Embedded Kubernetes API server (devcluster) for dev and tests.

pub mod schema;
