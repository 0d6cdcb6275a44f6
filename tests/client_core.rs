//! The shared HTTP core under injected faults: error classification, retries of idempotent
//! calls only, Retry-After, timeouts, client-side rate limiting, the metrics hook, redaction.

use crate::simkit;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nno_operator::cloud::nno::{JobQuery, NnoClient, ProvisionPlatform};
use nno_operator::cloud::{ApiError, CallRecord, RateLimit, RetryPolicy, Secret};
use nno_sim::{SimConfig, Simulators};
use serde_json::json;
use simkit::*;

const JOBS: &str = "/api/v1/provision/jobs";
const PLATFORM: &str = "/api/v1/provision/platform";

async fn slow_sims() -> Simulators {
    start(SimConfig {
        provision_delay: Duration::from_secs(60),
        ..SimConfig::default()
    })
    .await
}

/// A client with fast retries, no rate limit and a metrics hook recording every attempt.
fn client(
    url: &str,
    attempts: u32,
    tweak: impl FnOnce(&mut nno_operator::cloud::CoreConfig),
) -> (NnoClient, Arc<Mutex<Vec<CallRecord>>>) {
    let records = Arc::new(Mutex::new(Vec::new()));
    let sink = records.clone();
    let mut cfg = NnoClient::config(url, None);
    cfg.retry = RetryPolicy {
        max_attempts: attempts,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        max_retry_after: Duration::from_secs(5),
    };
    cfg.rate_limit = None;
    cfg.observer = Some(Arc::new(move |r: &CallRecord| {
        sink.lock().unwrap().push(r.clone())
    }));
    tweak(&mut cfg);
    (NnoClient::with_config(cfg).unwrap(), records)
}

fn platform(id: &str) -> ProvisionPlatform {
    ProvisionPlatform {
        platform_id: id.into(),
        plan_tier: "pro".into(),
        billing_email: "b@example.com".into(),
        default_entity_id: None,
        environment: None,
    }
}

#[tokio::test]
async fn errors_are_classified() {
    let sims = slow_sims().await;
    let url = sims.nno_url();
    let (c, _) = client(url, 1, |_| {});

    put_faults(url, json!({"error_rate": 1.0})).await;
    let e = c.list_jobs(&JobQuery::default()).await.unwrap_err();
    assert!(matches!(e, ApiError::Server { status: 503, .. }), "{e:?}");
    assert!(e.is_transient() && e.outcome_unknown());
    assert_eq!(
        e.message(),
        "Injected fault: service unavailable",
        "message from the NNO envelope"
    );

    put_faults(url, json!({"throttle_rate": 1.0, "retry_after_secs": 7})).await;
    let e = c.list_jobs(&JobQuery::default()).await.unwrap_err();
    assert!(matches!(e, ApiError::Throttled { .. }), "{e:?}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    assert!(e.is_transient() && !e.outcome_unknown());

    put_faults(
        url,
        json!({"lost_reply_rate": 1.0, "lost_reply_mode": "error"}),
    )
    .await;
    let e = c.get_job("x").await.unwrap_err();
    assert_eq!(e.status(), Some(502));
    assert!(e.is_transient());
    clear_faults(url).await;

    let e = c
        .provision_platform(&ProvisionPlatform {
            billing_email: "x".into(),
            ..platform("p")
        })
        .await
        .unwrap_err();
    assert!(
        matches!(e, ApiError::Rejected { status: 400, .. }) && !e.is_transient(),
        "{e:?}"
    );
    let e = c.get_job("nope").await.unwrap_err();
    assert!(e.is_not_found() && !e.is_transient());
    let id = c.provision_platform(&platform("p")).await.unwrap().job_id;
    c.force_complete_job(&id).await.unwrap();
    let e = c.force_complete_job(&id).await.unwrap_err();
    assert!(e.is_conflict() && !e.is_transient());

    let (dead, _) = client("http://127.0.0.1:9", 1, |_| {});
    let e = dead.list_jobs(&JobQuery::default()).await.unwrap_err();
    assert!(
        matches!(e, ApiError::Connection { .. }) && e.is_transient(),
        "{e:?}"
    );
    sims.stop().await;
}

#[tokio::test]
async fn retry_after_is_honoured_and_long_waits_are_not() {
    let sims = slow_sims().await;
    let url = sims.nno_url();
    put_faults(url, json!({"throttle_rate": 1.0, "retry_after_secs": 1})).await;
    let (c, records) = client(url, 2, |_| {});
    let started = Instant::now();
    let e = c.list_jobs(&JobQuery::default()).await.unwrap_err();
    assert!(matches!(e, ApiError::Throttled { .. }));
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(served(url, "GET", JOBS, Some(429)).await, 2);
    assert_eq!(
        records
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.attempt)
            .collect::<Vec<_>>(),
        [1, 2]
    );

    // A Retry-After longer than the policy's cap ends the retries at once.
    put_faults(url, json!({"throttle_rate": 1.0, "retry_after_secs": 120})).await;
    let started = Instant::now();
    let e = c.list_jobs(&JobQuery::default()).await.unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(120)));
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(served(url, "GET", JOBS, Some(429)).await, 3);
    sims.stop().await;
}

#[tokio::test]
async fn idempotent_calls_are_retried_until_the_fault_clears() {
    let sims = slow_sims().await;
    let url = sims.nno_url().to_owned();
    put_faults(&url, json!({"error_rate": 1.0, "methods": ["GET"]})).await;
    let (c, _) = client(&url, 50, |cfg| {
        cfg.retry.base_delay = Duration::from_millis(100);
        cfg.retry.max_delay = Duration::from_millis(250);
    });
    let healer = tokio::spawn({
        let url = url.clone();
        async move {
            eventually(Duration::from_secs(20), "a 503", || async {
                (served(&url, "GET", JOBS, Some(503)).await >= 2).then_some(())
            })
            .await;
            clear_faults(&url).await;
        }
    });
    let page = c.list_jobs(&JobQuery::default()).await.unwrap();
    assert!(page.data.is_empty());
    healer.await.unwrap();
    assert!(served(&url, "GET", JOBS, Some(503)).await >= 2);
    assert_eq!(served(&url, "GET", JOBS, Some(200)).await, 1);
    sims.stop().await;
}

#[tokio::test]
async fn creates_are_never_retried_blindly_after_a_lost_reply() {
    let sims = slow_sims().await;
    let url = sims.nno_url();
    let (c, records) = client(url, 5, |_| {});
    for mode in ["drop", "error"] {
        reset(url).await;
        records.lock().unwrap().clear();
        put_faults(
            url,
            json!({"lost_reply_rate": 1.0, "lost_reply_mode": mode, "methods": ["POST"]}),
        )
        .await;
        let e = c.provision_platform(&platform("lost")).await.unwrap_err();
        assert!(e.outcome_unknown(), "{mode}: {e:?}");
        assert_eq!(
            records.lock().unwrap().len(),
            1,
            "{mode}: the create was sent once"
        );
        assert_eq!(served(url, "POST", PLATFORM, None).await, 1, "{mode}");
        // The write was committed: the caller looks before creating again and finds it.
        clear_faults(url).await;
        let found = c
            .list_all_jobs(
                &JobQuery {
                    platform_id: Some("lost".into()),
                    ..JobQuery::default()
                },
                5,
            )
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "{mode}");
        assert_eq!(counts(url).await["jobs"], 1);
    }
    // A lost reply on a read is simply retried.
    put_faults(
        url,
        json!({"lost_reply_rate": 1.0, "lost_reply_mode": "error", "methods": ["GET"]}),
    )
    .await;
    records.lock().unwrap().clear();
    assert!(
        c.list_jobs(&JobQuery::default())
            .await
            .unwrap_err()
            .is_transient()
    );
    assert_eq!(records.lock().unwrap().len(), 5);
    sims.stop().await;
}

#[tokio::test]
async fn every_call_has_a_timeout() {
    let sims = slow_sims().await;
    let url = sims.nno_url();
    put_faults(url, json!({"timeout_rate": 1.0, "hang_ms": 120000})).await;
    let (c, records) = client(url, 2, |cfg| {
        cfg.request_timeout = Duration::from_millis(300)
    });
    let started = Instant::now();
    let e = c.list_jobs(&JobQuery::default()).await.unwrap_err();
    assert!(
        matches!(e, ApiError::Timeout { .. }) && e.outcome_unknown(),
        "{e:?}"
    );
    let e = c.provision_platform(&platform("t")).await.unwrap_err();
    assert!(matches!(e, ApiError::Timeout { .. }), "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "did not wait for the hang"
    );
    let classes: Vec<(String, u32, &str)> = records
        .lock()
        .unwrap()
        .iter()
        .map(|r| (r.method.to_string(), r.attempt, r.status_class))
        .collect();
    assert_eq!(
        classes,
        [
            ("GET".into(), 1, "timeout"),
            ("GET".into(), 2, "timeout"),
            ("POST".into(), 1, "timeout")
        ]
    );
    sims.stop().await;
}

#[tokio::test]
async fn rate_limit_is_per_credential_and_shared_between_clients() {
    let sims = slow_sims().await;
    let url = sims.nno_url();
    let limiters = nno_operator::cloud::ratelimit::RateLimiters::new(RateLimit {
        per_second: 5.0,
        burst: 1,
    });
    let limit = |key: &'static str| {
        let bucket = limiters.bucket("nno", key);
        move |cfg: &mut nno_operator::cloud::CoreConfig| {
            cfg.bucket = Some(bucket);
        }
    };
    let (a, _) = client(url, 1, limit("key-shared-by-two"));
    let (b, _) = client(url, 1, limit("key-shared-by-two"));
    let started = Instant::now();
    let (ra, rb) = tokio::join!(
        async {
            for _ in 0..3 {
                a.list_jobs(&JobQuery::default()).await.unwrap();
            }
        },
        async {
            for _ in 0..3 {
                b.list_jobs(&JobQuery::default()).await.unwrap();
            }
        }
    );
    let _ = (ra, rb);
    // Six calls through one bucket of 5/s with burst 1: at least five waits of 200 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "took {:?}",
        started.elapsed()
    );

    // (That another key gets its own bucket is covered by the ratelimit unit tests.)
    assert_eq!(served(url, "GET", JOBS, Some(200)).await, 6);
    sims.stop().await;
}

#[tokio::test]
async fn metrics_hook_sees_templates_and_debug_hides_secrets() {
    let sims = slow_sims().await;
    let (c, records) = client(sims.nno_url(), 1, |cfg| {
        cfg.auth = nno_operator::cloud::Auth::Bearer(Secret::new("bearer-xyz-123"));
    });
    let _ = c.get_job("job_abc").await;
    let r = records.lock().unwrap()[0].clone();
    assert_eq!(r.endpoint, "/api/v1/provision/jobs/{jobId}");
    assert_eq!((r.status, r.status_class, r.api), (Some(404), "4xx", "nno"));
    let dbg = format!("{c:?}");
    assert!(
        !dbg.contains("bearer-xyz-123") && dbg.contains("redacted"),
        "{dbg}"
    );
    sims.stop().await;
}
