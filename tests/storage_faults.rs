//! Buckets and service packages through 20% 5xx, 5% lost replies and 5% 429s: all become Ready with
//! exactly one cloud object each and exactly one S3 key per Bucket object (a lost key-creation
//! reply neither leaves a key behind nor makes a second one), and after deleting them all the
//! simulator holds no bucket, no package and no key the operator made.

use crate::net_kit;
use crate::operator_kit;
use crate::storage_kit;

use std::collections::BTreeSet;
use std::time::Duration;

use kube::ResourceExt;
use kube::api::{DeleteParams, ListParams};
use net_kit::{count, is_ready};
use nno_sim::faults::FaultConfig;
use operator_kit::{Env, EnvOptions, wait_for};
use serde_json::json;
use storage_kit::*;

const BUCKETS: usize = 10;
const PACKAGES: usize = 5;
const LONG: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn buckets_and_packages_through_faults_without_duplicates_or_leaks() {
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
    // The account's S3 user and its first key exist before the operator makes any (the list call
    // creates them); read without faults' help, retried until it answers.
    let before: BTreeSet<String> = wait_for("key list", LONG, || async {
        env.cloud().list_s3_keys().await.ok()
    })
    .await
    .into_iter()
    .map(|k| k.access_key)
    .collect();
    for i in 0..BUCKETS {
        env.apply(bucket(&format!("flaky-b-{i:02}"), json!({})))
            .await;
    }
    for i in 0..PACKAGES {
        env.apply(package(
            &format!("flaky-p-{i:02}"),
            json!({"whitelist": ["203.0.113.0/24"]}),
        ))
        .await;
    }
    let (b_api, p_api) = (buckets(&env), packages(&env));
    let recorded = wait_for("every object Ready with its key", LONG, || async {
        let counts = env.counts().await;
        assert!(
            counts["buckets"] <= BUCKETS as u64,
            "duplicate buckets: {counts:?}"
        );
        assert!(
            counts["service_packages"] <= PACKAGES as u64,
            "duplicate packages: {counts:?}"
        );
        let bs = b_api.list(&ListParams::default()).await.ok()?.items;
        let ps = p_api.list(&ListParams::default()).await.ok()?.items;
        let keys: BTreeSet<String> = bs
            .iter()
            .filter_map(|b| b.annotations().get("nno.app/s3-access-key").cloned())
            .collect();
        let done = bs.len() == BUCKETS
            && bs.iter().all(is_ready)
            && keys.len() == BUCKETS
            && ps.len() == PACKAGES
            && ps
                .iter()
                .all(|p| is_ready(p) && p.status.as_ref().is_some_and(|s| s.whitelist.len() == 1));
        done.then_some(keys)
    })
    .await;
    assert_eq!(count(&env, "buckets").await, BUCKETS as u64);
    assert_eq!(count(&env, "service_packages").await, PACKAGES as u64);
    // Exactly the recorded keys were made: none left behind by a lost reply.
    let now: BTreeSet<String> = wait_for("key list", LONG, || async {
        env.cloud().list_s3_keys().await.ok()
    })
    .await
    .into_iter()
    .map(|k| k.access_key)
    .collect();
    let made: BTreeSet<String> = now.difference(&before).cloned().collect();
    assert_eq!(made, recorded, "one key per Bucket object, no stray key");
    for i in 0..BUCKETS {
        let name = format!("flaky-b-{i:02}");
        let data = secret_data(&env, &format!("{name}-s3"))
            .await
            .unwrap_or_default();
        let access = data.get("accessKey").cloned().unwrap_or_default();
        assert!(
            recorded.contains(&access),
            "{name}: the Secret holds its recorded key"
        );
    }

    let _ = b_api
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await;
    let _ = p_api
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await;
    wait_for("every object deleted", LONG, || async {
        let b = b_api.list(&ListParams::default()).await.ok()?.items.len();
        let p = p_api.list(&ListParams::default()).await.ok()?.items.len();
        (b + p == 0).then_some(())
    })
    .await;
    assert_eq!(count(&env, "buckets").await, 0);
    assert_eq!(count(&env, "service_packages").await, 0);
    let left: BTreeSet<String> = wait_for("key list", LONG, || async {
        env.cloud().list_s3_keys().await.ok()
    })
    .await
    .into_iter()
    .map(|k| k.access_key)
    .collect();
    assert_eq!(left, before, "every key the operator made is gone");
    env.stop().await;
}
