//! Objects of every cloud kind at once: through 20% 5xx, 5% lost replies and 5% 429s they all
//! converge with exactly one cloud object each and none left after deletion; idle, the cloud calls
//! per poll interval equal the number of (kind, location) observers, whatever the object count.

use crate::operator_kit;

use crate::mixed_kit;

use std::collections::BTreeMap;
use std::time::Duration;

use mixed_kit::{KINDS, assert_one_cloud_object_each, cloud_counts, create_mix, delete_all, tally};
use nno_sim::faults::FaultConfig;
use operator_kit::{Env, EnvOptions, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_kinds_converge_through_faults_without_duplicates_or_leaks() {
    const PER_KIND: usize = 9; // 54 objects of 6 kinds
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
    create_mix(&env, "flaky", PER_KIND).await;
    wait_for(
        "every object of every kind Ready",
        Duration::from_secs(300),
        || async {
            let counts = cloud_counts(&env).await;
            for k in KINDS {
                let n = counts[k.counter];
                assert!(
                    n <= PER_KIND as u64,
                    "duplicate {} in the cloud: {n}",
                    k.kind
                );
            }
            let t = tally(&env).await;
            t.values()
                .all(|(n, r)| *n == PER_KIND && *r == PER_KIND)
                .then_some(())
        },
    )
    .await;
    assert_one_cloud_object_each(&env, PER_KIND as u64).await;
    delete_all(&env).await;
    assert_one_cloud_object_each(&env, 0).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_mixed_kinds_cost_one_list_per_observer_per_interval() {
    const PER_KIND: usize = 84; // 504 objects of 6 kinds
    let poll = Duration::from_secs(2);
    let env = Env::with(EnvOptions {
        poll_interval: poll,
        rate_limit: 1000.0,
        concurrency: 32,
        ..EnvOptions::default()
    })
    .await;
    env.platform().await;
    create_mix(&env, "idle", PER_KIND).await;
    wait_for("504 objects Ready", Duration::from_secs(600), || async {
        let t = tally(&env).await;
        t.values().all(|(_, r)| *r == PER_KIND).then_some(())
    })
    .await;
    assert_one_cloud_object_each(&env, PER_KIND as u64).await;
    // Let the last writes settle, then count every request over ten poll intervals.
    tokio::time::sleep(poll * 2).await;
    let before = env.requests().await;
    let window = 10u64;
    tokio::time::sleep(poll * window as u32).await;
    let after = env.requests().await;
    let mut delta = BTreeMap::new();
    for (k, n) in &after {
        let d = n - before.get(k).copied().unwrap_or(0);
        if d > 0 {
            delta.insert(k.clone(), d);
        }
    }
    println!(
        "idle window of {window} poll intervals, {PER_KIND} objects of each of {} kinds: {delta:?}",
        KINDS.len()
    );
    let total: u64 = delta.values().sum();
    let lists: u64 = KINDS
        .iter()
        .map(|k| {
            delta
                .get(&("GET".to_owned(), k.list.to_owned()))
                .copied()
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(
        total, lists,
        "only the observers' list calls while idle: {delta:?}"
    );
    // One platform, one location: one observer per kind, so one list per kind per interval (±2 per
    // kind for the window edges and the ±10% jitter).
    for k in KINDS {
        let n = delta
            .get(&("GET".to_owned(), k.list.to_owned()))
            .copied()
            .unwrap_or(0);
        assert!(
            (window - 2..=window + 2).contains(&n),
            "{}: {n} lists in {window} intervals ({delta:?})",
            k.kind
        );
    }
    env.stop().await;
}
