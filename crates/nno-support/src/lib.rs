//! Small runtime pieces shared by the operator, the simulators and the devcluster: atomic file
//! writes ([`fsutil`]), waiting for a shutdown signal ([`shutdown`]), serving a router until stopped
//! ([`serve`]), and, behind the `testing` feature, the tests' wait helpers ([`testing`]).

pub mod fsutil;
pub mod serve;
pub mod shutdown;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
