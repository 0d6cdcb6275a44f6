//! VirtualMachines under faults and at scale: 30 VMs through 5xx, lost replies and 429s with no
//! duplicates and no leaks; 500 idle VMs cost one cloud call per poll interval (one kind, one
//! location), read from the simulator's own request counters.

use crate::operator_kit;

use std::time::Duration;

use nno_sim::faults::FaultConfig;
use operator_kit::{Env, EnvOptions, condition, wait_for};
use serde_json::json;

async fn create_many(env: &Env, prefix: &str, n: usize) {
    for i in 0..n {
        env.apply(Env::vm(&format!("{prefix}-{i:04}"), json!({})))
            .await;
    }
}

async fn ready_count(env: &Env) -> usize {
    let list = env.vms().list(&Default::default()).await.unwrap();
    list.items
        .iter()
        .filter(|v| condition(v, "Ready").is_some_and(|c| c.0 == "True"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_vms_converge_through_faults_without_duplicates_or_leaks() {
    let env = Env::with(EnvOptions {
        faults: FaultConfig {
            error_rate: 0.20,
            lost_reply_rate: 0.05,
            throttle_rate: 0.05,
            retry_after_secs: 1,
            ..FaultConfig::default()
        },
        ..EnvOptions::default()
    })
    .await;
    env.platform().await;
    create_many(&env, "flaky", 30).await;
    wait_for("30 VMs Ready", Duration::from_secs(240), || async {
        let vms = env.counts().await["vms"];
        assert!(vms <= 30, "duplicate VMs in the cloud: {vms}");
        (ready_count(&env).await == 30).then_some(())
    })
    .await;
    assert_eq!(
        env.counts().await["vms"],
        30,
        "exactly one cloud VM per object"
    );
    for i in 0..30 {
        env.delete_vm(&format!("flaky-{i:04}")).await;
    }
    wait_for("all VMs deleted", Duration::from_secs(240), || async {
        env.vms()
            .list(&Default::default())
            .await
            .ok()?
            .items
            .is_empty()
            .then_some(())
    })
    .await;
    assert_eq!(env.counts().await["vms"], 0, "no VM left behind");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_cloud_calls_per_poll_interval_do_not_grow_with_objects() {
    const N: usize = 500;
    let poll = Duration::from_secs(2);
    let env = Env::with(EnvOptions {
        poll_interval: poll,
        rate_limit: 1000.0,
        concurrency: 32,
        ..EnvOptions::default()
    })
    .await;
    env.platform().await;
    create_many(&env, "idle", N).await;
    wait_for("500 VMs Ready", Duration::from_secs(600), || async {
        (ready_count(&env).await == N).then_some(())
    })
    .await;
    assert_eq!(env.counts().await["vms"], N as u64);
    // Let the last writes settle, then count every request over ten poll intervals.
    tokio::time::sleep(poll * 2).await;
    let before = env.requests().await;
    let window = 10u32;
    tokio::time::sleep(poll * window).await;
    let after = env.requests().await;
    let mut delta = std::collections::BTreeMap::new();
    for (k, n) in &after {
        let d = n - before.get(k).copied().unwrap_or(0);
        if d > 0 {
            delta.insert(k.clone(), d);
        }
    }
    let lists = delta
        .get(&(
            "GET".to_owned(),
            "/v1/{slug}/user-resource/vm/list".to_owned(),
        ))
        .copied()
        .unwrap_or(0);
    let total: u64 = delta.values().sum();
    println!(
        "idle window of {window} poll intervals with {N} VMs: {total} cloud calls ({lists} lists) {delta:?}"
    );
    assert_eq!(
        total, lists,
        "only the observer's list calls while idle: {delta:?}"
    );
    // One (kind, location) pair: one list per interval (±1 for the window edges and ±10% jitter).
    assert!(
        (u64::from(window) - 2..=u64::from(window) + 2).contains(&lists),
        "{lists} lists in {window} intervals"
    );
    env.stop().await;
}
