//! Finds the `kubectl` the end-to-end tests drive (see `nno_testkit::kubectl::kubectl`).

pub use nno_testkit::kubectl::kubectl;
