//! Bucket end to end: devcluster + 3nv.io simulator + the operator's real `run` code path, over
//! HTTP. Create with the platform's billing account, status and a dedicated S3 key pair in the
//! connection Secret (never in status or events), billing account change, drift corrected or
//! reported, a non-empty bucket blocking deletion (never emptied), the key deleted with the object,
//! Orphan, adoption, a taken name, Observe, paused, and a missing Platform.

use crate::net_kit;
use crate::operator_kit;
use crate::storage_kit;

use kube::ResourceExt;
use net_kit::{
    cond, count, delete, drift_fields, ext_id, idle, is_ready, merge, served, synced_reason,
    wait_cloud, wait_gone, wait_obj,
};
use nno_operator::api::bucket::Bucket;
use operator_kit::{Env, WAIT, wait_for};
use serde_json::json;
use storage_kit::*;

const BUCKET: &str = "/v1/storage/bucket";

fn status_of(b: &Bucket) -> (Option<i64>, Option<i64>, Option<bool>, Option<String>) {
    let s = b.status.clone().unwrap_or_default();
    (s.num_objects, s.size_bytes, s.suspended, s.endpoint)
}

async fn billing(env: &Env, name: &str) -> Option<i64> {
    env.cloud()
        .get_bucket(name)
        .await
        .ok()
        .and_then(|b| b.billing_account_id)
}

#[tokio::test]
async fn create_status_dedicated_key_billing_change_and_drift_corrected() {
    let env = Env::start().await;
    env.platform().await;
    env.apply(bucket("media-1", json!({"bucketName": "acme-media-1"})))
        .await;
    let api = buckets(&env);
    let b = wait_obj(&api, "media-1", "Ready", is_ready).await;
    let cloud = env.cloud();
    let url = cloud.s3_api().await.unwrap().url;
    assert_eq!(
        status_of(&b),
        (Some(0), Some(0), Some(false), Some(url.clone()))
    );
    assert_eq!(ext_id(&b), "acme-media-1");
    assert_eq!(
        b.annotations()
            .get("nno.app/external-id")
            .map(String::as_str),
        Some("acme-media-1")
    );
    assert_eq!(billing(&env, "acme-media-1").await, Some(129673));

    // The connection Secret: endpoint, bucket name and a key pair made for this object.
    let data = wait_for("connection Secret with keys", WAIT, || async {
        secret_data(&env, "media-1-s3")
            .await
            .filter(|d| d.contains_key("secretKey"))
    })
    .await;
    assert_eq!(data.get("endpoint"), Some(&url));
    assert_eq!(data.get("bucket").map(String::as_str), Some("acme-media-1"));
    let access = data["accessKey"].clone();
    let secret = data["secretKey"].clone();
    let keys = cloud.list_s3_keys().await.unwrap();
    let k = keys
        .iter()
        .find(|k| k.access_key == access)
        .expect("key in 3nv.io");
    assert_eq!(k.secret_key, secret);
    assert_eq!(served(&env, "POST", "/v1/storage/user/keys").await, 1);
    let b = wait_obj(&api, "media-1", "key recorded", |b| {
        b.annotations().get("nno.app/s3-access-key") == Some(&access)
    })
    .await;
    let shown = serde_json::to_string(&b).unwrap();
    assert!(
        !shown.contains(&secret),
        "the secret key is not on the object"
    );
    let events = event_texts(&env, "media-1").await;
    assert!(
        events.iter().any(|e| e.starts_with("S3KeyCreated")),
        "{events:?}"
    );
    assert!(events.iter().all(|e| !e.contains(&secret)), "{events:?}");

    // Contents show in the status.
    set_content(&env, "acme-media-1", 3, 1234).await;
    wait_obj(&api, "media-1", "contents in status", |b| {
        status_of(b).0 == Some(3) && status_of(b).1 == Some(1234)
    })
    .await;

    // The one updatable field: the billing account.
    merge(
        &api,
        "media-1",
        json!({"spec": {"billingAccountId": 129072}}),
    )
    .await;
    wait_cloud("billing account changed", Some(129072), || {
        billing(&env, "acme-media-1")
    })
    .await;
    wait_obj(&api, "media-1", "Ready after the change", |b| {
        is_ready(b)
            && b.status.as_ref().and_then(|s| s.common.observed_generation) == b.metadata.generation
    })
    .await;

    // Drift: the billing account changed behind the operator's back is set back.
    cloud.modify_bucket("acme-media-1", 129673).await.unwrap();
    wait_cloud("billing account restored", Some(129072), || {
        billing(&env, "acme-media-1")
    })
    .await;
    wait_for("DriftCorrected event", WAIT, || async {
        event_texts(&env, "media-1")
            .await
            .iter()
            .any(|e| e.starts_with("DriftCorrected"))
            .then_some(())
    })
    .await;
    assert_eq!(served(&env, "PUT", BUCKET).await, 1, "created once");
    assert_eq!(count(&env, "buckets").await, 1);
    assert_eq!(
        served(&env, "POST", "/v1/storage/user/keys").await,
        1,
        "one key"
    );
    env.stop().await;
}

#[tokio::test]
async fn drift_reported_under_report_and_ignore_changes_without_writes() {
    let env = Env::start().await;
    env.platform().await;
    env.apply(bucket("rep-1", json!({"driftPolicy": "Report"})))
        .await;
    env.apply(bucket(
        "ign-1",
        json!({"ignoreChanges": ["billingAccountId"]}),
    ))
    .await;
    let api = buckets(&env);
    for n in ["rep-1", "ign-1"] {
        wait_obj(&api, n, "Ready with its key", |b| {
            is_ready(b) && b.annotations().contains_key("nno.app/s3-access-key")
        })
        .await;
    }
    let cloud = env.cloud();
    for n in ["rep-1", "ign-1"] {
        cloud.modify_bucket(n, 129072).await.unwrap();
    }
    for n in ["rep-1", "ign-1"] {
        let b = wait_obj(&api, n, "drift reported", |b| {
            drift_fields(b) == ["billingAccountId"]
        })
        .await;
        let d = &b.status.unwrap().drift.drift[0];
        assert_eq!(
            (d.desired.as_str(), d.observed.as_str()),
            ("129673", "129072")
        );
        assert_eq!(d.action, "Reported");
    }
    let writes = env.writes().await;
    idle().await;
    assert_eq!(
        env.writes().await,
        writes,
        "reported drift is never written"
    );
    for n in ["rep-1", "ign-1"] {
        assert_eq!(billing(&env, n).await, Some(129072));
    }
    env.stop().await;
}

#[tokio::test]
async fn a_non_empty_bucket_blocks_deletion_and_is_never_emptied() {
    let env = Env::start().await;
    env.platform().await;
    env.apply(bucket("full-1", json!({}))).await;
    let api = buckets(&env);
    let b = wait_obj(&api, "full-1", "Ready with its key", |b| {
        is_ready(b) && b.annotations().contains_key("nno.app/s3-access-key")
    })
    .await;
    let access = b.annotations()["nno.app/s3-access-key"].clone();
    assert!(s3_keys(&env).await.contains(&access));
    set_content(&env, "full-1", 2, 10).await;
    delete(&api, "full-1").await;
    let b = wait_obj(&api, "full-1", "BucketNotEmpty", |b| {
        synced_reason(b) == "BucketNotEmpty"
    })
    .await;
    let (status, _, msg) = cond(&b, "Synced").unwrap();
    assert_eq!(status, "False");
    assert!(msg.contains("empty the bucket"), "{msg}");
    // Retried with backoff, and the objects stay.
    wait_for("deletion retried", WAIT, || async {
        (served(&env, "DELETE", BUCKET).await >= 2).then_some(())
    })
    .await;
    let c = env.cloud().get_bucket("full-1").await.unwrap();
    assert_eq!(c.num_objects, 2, "the operator never empties a bucket");
    assert!(s3_keys(&env).await.contains(&access), "the key waits too");
    let events = event_texts(&env, "full-1").await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.starts_with("BucketNotEmpty"))
            .count(),
        1,
        "one warning, not one per retry: {events:?}"
    );

    // Emptied by its owner: the deletion finishes, the key goes with it.
    set_content(&env, "full-1", 0, 0).await;
    wait_gone(&api, "full-1").await;
    assert!(
        env.cloud()
            .get_bucket("full-1")
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(count(&env, "buckets").await, 0);
    assert!(!s3_keys(&env).await.contains(&access), "the key is deleted");
    env.stop().await;
}

#[tokio::test]
async fn adoption_taken_name_observe_paused_and_orphan() {
    let env = Env::start().await;
    env.platform().await;
    let cloud = env.cloud();
    for name in ["pre-existing-1", "taken-name-1", "imported-1"] {
        cloud.create_bucket(name, Some(129673)).await.unwrap();
    }
    let api = buckets(&env);
    let puts = served(&env, "PUT", BUCKET).await;

    // Adoption is explicit: the annotation names the bucket.
    let mut m = bucket("adopt-1", json!({"bucketName": "pre-existing-1"}));
    m["metadata"]["annotations"] = json!({"nno.app/external-id": "pre-existing-1"});
    env.apply(m).await;
    let b = wait_obj(&api, "adopt-1", "Ready with its key", |b| {
        is_ready(b) && b.annotations().contains_key("nno.app/s3-access-key")
    })
    .await;
    assert_eq!(ext_id(&b), "pre-existing-1");
    let adopted_key = b.annotations()["nno.app/s3-access-key"].clone();

    // A name that exists but was never created for this object is not taken over.
    env.apply(bucket("taken-1", json!({"bucketName": "taken-name-1"})))
        .await;
    let b = wait_obj(&api, "taken-1", "InvalidSpec", |b| {
        synced_reason(b) == "InvalidSpec"
    })
    .await;
    let msg = cond(&b, "Synced").unwrap().2;
    assert!(
        msg.contains("taken-name-1") && msg.contains("nno.app/external-id"),
        "{msg}"
    );
    assert_eq!(
        served(&env, "PUT", BUCKET).await,
        puts,
        "adopted, not created"
    );

    // Observe and paused: no writes at all (no bucket, no key).
    let writes = env.writes().await;
    let mut m = bucket(
        "observe-1",
        json!({"bucketName": "imported-1", "managementPolicy": "Observe", "billingAccountId": 129072}),
    );
    m["metadata"]["annotations"] = json!({"nno.app/external-id": "imported-1"});
    env.apply(m).await;
    let mut m = bucket("paused-1", json!({}));
    m["metadata"]["annotations"] = json!({"nno.app/paused": "true"});
    env.apply(m).await;
    wait_obj(&api, "observe-1", "billing difference reported", |b| {
        drift_fields(b) == ["billingAccountId"]
    })
    .await;
    wait_obj(&api, "paused-1", "Paused", |b| synced_reason(b) == "Paused").await;
    idle().await;
    assert_eq!(env.writes().await, writes, "Observe and paused never write");
    delete(&api, "observe-1").await;
    wait_gone(&api, "observe-1").await;
    assert!(
        cloud.get_bucket("imported-1").await.is_ok(),
        "Observe leaves it"
    );
    merge(
        &api,
        "paused-1",
        json!({"metadata": {"annotations": {"nno.app/paused": null}}}),
    )
    .await;
    wait_obj(&api, "paused-1", "Ready once unpaused", is_ready).await;
    assert!(cloud.get_bucket("paused-1").await.is_ok());

    // Orphan keeps the bucket; the object's own key goes with the object.
    merge(
        &api,
        "adopt-1",
        json!({"spec": {"deletionPolicy": "Orphan"}}),
    )
    .await;
    wait_obj(&api, "adopt-1", "Orphan seen", |b| {
        b.status.as_ref().and_then(|s| s.common.observed_generation) == b.metadata.generation
    })
    .await;
    delete(&api, "adopt-1").await;
    wait_gone(&api, "adopt-1").await;
    assert!(
        cloud.get_bucket("pre-existing-1").await.is_ok(),
        "orphaned bucket stays"
    );
    assert!(
        !s3_keys(&env).await.contains(&adopted_key),
        "its key does not"
    );
    let total = count(&env, "buckets").await;
    delete(&api, "paused-1").await;
    wait_gone(&api, "paused-1").await;
    assert_eq!(count(&env, "buckets").await, total - 1);
    delete(&api, "taken-1").await;
    wait_gone(&api, "taken-1").await;
    assert!(
        cloud.get_bucket("taken-name-1").await.is_ok(),
        "never ours to delete"
    );
    env.stop().await;
}

#[tokio::test]
async fn a_missing_platform_is_reference_not_ready_then_ready() {
    let env = Env::start().await;
    env.apply(bucket("early-1", json!({}))).await;
    let api = buckets(&env);
    let b = wait_obj(&api, "early-1", "ReferenceNotReady", |b| {
        synced_reason(b) == "ReferenceNotReady"
    })
    .await;
    let msg = cond(&b, "Synced").unwrap().2;
    assert!(msg.contains("acme"), "names the Platform: {msg}");
    assert_eq!(env.writes().await, 0);
    env.platform().await;
    wait_obj(&api, "early-1", "Ready", is_ready).await;
    assert!(env.cloud().get_bucket("early-1").await.is_ok());
    env.stop().await;
}

#[tokio::test]
async fn lost_replies_of_the_bucket_and_key_creations_make_neither_twice() {
    let env = Env::start().await;
    env.platform().await;
    let before = s3_keys(&env).await;
    // Every bucket and key creation happens in 3nv.io, but its reply never arrives.
    env.set_faults(
        json!({"lost_reply_rate": 1.0, "methods": ["PUT", "POST"], "path_prefix": "/v1/storage/"}),
    )
    .await;
    env.apply(bucket("lost-1", json!({}))).await;
    let api = buckets(&env);
    let b = wait_obj(&api, "lost-1", "Ready with its key", |b| {
        is_ready(b) && b.annotations().contains_key("nno.app/s3-access-key")
    })
    .await;
    env.set_faults(json!({})).await;
    assert_eq!(
        served(&env, "PUT", BUCKET).await,
        1,
        "the bucket is created once"
    );
    assert_eq!(
        served(&env, "POST", "/v1/storage/user/keys").await,
        1,
        "the key is created once"
    );
    let access = b.annotations()["nno.app/s3-access-key"].clone();
    let new: Vec<String> = s3_keys(&env)
        .await
        .into_iter()
        .filter(|k| !before.contains(k))
        .collect();
    assert_eq!(
        new,
        std::slice::from_ref(&access),
        "the one new key is the recorded one"
    );
    let data = secret_data(&env, "lost-1-s3").await.unwrap();
    assert_eq!(data.get("accessKey"), Some(&access));
    assert!(!b.annotations().contains_key("nno.app/s3-key-pending"));
    assert_eq!(count(&env, "buckets").await, 1);
    // Both replies were lost indeed: the bucket was adopted by its name after a fresh list.
    let events = event_texts(&env, "lost-1").await;
    assert!(
        events.iter().any(|e| e.starts_with("Adopted")),
        "{events:?}"
    );
    env.stop().await;
}
