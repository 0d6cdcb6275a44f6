//! Client-side helpers of the 3nv.io client tests.
#![allow(dead_code)]

use std::time::Duration;

use nno_operator::cloud::threenv::ThreenvClient;
use nno_operator::cloud::threenv::vm::CreateVm;
use nno_operator::cloud::{CoreConfig, Secret};
use nno_support::testing::wait_until;

use crate::sim_threenv_common::{KEY, Running};
pub fn client(r: &Running) -> ThreenvClient {
    ThreenvClient::new(r.server.url(), Secret::new(KEY)).unwrap()
}

pub fn client_with(r: &Running, f: impl FnOnce(&mut CoreConfig)) -> ThreenvClient {
    let mut cfg = ThreenvClient::config(r.server.url(), Secret::new(KEY));
    f(&mut cfg);
    ThreenvClient::from_config(cfg).unwrap()
}

pub fn new_vm(name: &str) -> CreateVm {
    CreateVm {
        name: name.to_string(),
        os_name: Some("ubuntu".into()),
        os_version: Some("16.04".into()),
        disks: Some(20),
        vcpu: 2,
        ram: 2048,
        username: Some("example".into()),
        password: "Password123".into(),
        billing_account_id: Some(6),
        ..CreateVm::default()
    }
}

pub fn count(r: &Running, method: &str, path: &str, status: u16) -> u64 {
    r.server
        .counters()
        .rows()
        .iter()
        .filter(|c| c.method == method && c.path == path && c.status == status)
        .map(|c| c.count)
        .sum()
}

/// Polls the synchronous `cond` until it holds, for up to 30 seconds.
pub async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    wait_until(Duration::from_secs(30), what, || std::future::ready(cond())).await;
}
