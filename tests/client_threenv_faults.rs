//! The typed 3nv.io client under injected faults: error classification, retries of GETs
//! (backoff, Retry-After), timeouts, rate limiting, retried deletes and the "never blindly
//! retry a create" rule.

use crate::sim_threenv_common;
use crate::threenv_client;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nno_operator::cloud::threenv::ThreenvClient;
use nno_operator::cloud::threenv::vm::{CreateVm, ModifyVm};
use nno_operator::cloud::{ApiError, CallObserver, RateLimit, RetryPolicy, Secret};
use nno_sim::{FaultConfig, LostReplyMode};
use sim_threenv_common::*;
use threenv_client::*;

#[tokio::test]
async fn errors_are_classified_with_the_api_message() {
    let r = start().await;
    let c = client_with(&r, |cfg| cfg.retry = RetryPolicy::none());
    let missing = "aaaaaaaa-0000-bbbb-1111-cccccccccccc";
    let e = c.get_vm(None, missing).await.unwrap_err();
    assert!(e.is_not_found() && !e.is_transient());
    assert_eq!(
        e.message(),
        format!("No such virtual machine exists. {missing}")
    );
    let e = c
        .create_vm(
            None,
            &CreateVm {
                vcpu: 99,
                ..new_vm("web-1")
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ApiError::Rejected { status: 400, .. }) && !e.is_transient(),
        "{e:?}"
    );
    assert!(e.message().contains("vcpu"));
    let vm = c.create_vm(None, &new_vm("web-1")).await.unwrap();
    let e = c
        .modify_vm(
            None,
            &ModifyVm {
                uuid: vm.uuid.clone(),
                vcpu: Some(4),
                ..ModifyVm::default()
            },
        )
        .await
        .unwrap_err();
    assert!(e.is_conflict(), "{e:?}");
    let bad_key = ThreenvClient::new(r.server.url(), Secret::new("wrong")).unwrap();
    let e = bad_key.list_vms(None).await.unwrap_err();
    assert!(e.is_unauthorized());
    assert_eq!(e.message(), "Invalid authentication credentials");
    assert!(!format!("{bad_key:?}").contains("wrong"));

    r.server
        .faults()
        .set(FaultConfig {
            error_rate: 1.0,
            ..FaultConfig::default()
        })
        .unwrap();
    let e = c.list_vms(None).await.unwrap_err();
    assert!(
        matches!(e, ApiError::Server { status: 503, .. })
            && e.is_transient()
            && e.outcome_unknown()
    );
    r.server
        .faults()
        .set(FaultConfig {
            throttle_rate: 1.0,
            retry_after_secs: 3,
            ..FaultConfig::default()
        })
        .unwrap();
    let e = c.list_vms(None).await.unwrap_err();
    assert!(e.is_transient() && !e.outcome_unknown());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
    r.server
        .faults()
        .set(FaultConfig {
            timeout_rate: 1.0,
            hang_ms: 10_000,
            ..FaultConfig::default()
        })
        .unwrap();
    let quick = client_with(&r, |cfg| {
        cfg.retry = RetryPolicy::none();
        cfg.request_timeout = Duration::from_millis(300);
    });
    let e = quick.list_vms(None).await.unwrap_err();
    assert!(
        matches!(e, ApiError::Timeout { .. }) && e.is_transient() && e.outcome_unknown(),
        "{e:?}"
    );
    r.server.faults().set(FaultConfig::default()).unwrap();
    r.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gets_are_retried_with_backoff_until_the_fault_clears() {
    let r = start().await;
    let attempts = Arc::new(AtomicU32::new(0));
    let seen = attempts.clone();
    let observer: CallObserver = Arc::new(move |rec| {
        seen.fetch_max(rec.attempt, Ordering::SeqCst);
    });
    let c = client_with(&r, |cfg| {
        cfg.retry = RetryPolicy {
            max_attempts: 50,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
            ..RetryPolicy::default()
        };
        cfg.observer = Some(observer);
    });
    c.create_vm(None, &new_vm("web-1")).await.unwrap();
    r.server
        .faults()
        .set(FaultConfig {
            error_rate: 1.0,
            ..FaultConfig::default()
        })
        .unwrap();
    let call = tokio::spawn({
        let c = c.clone();
        async move { c.list_vms(None).await }
    });
    wait_for("three failed attempts", || {
        count(&r, "GET", "/v1/user-resource/vm/list", 503) >= 3
    })
    .await;
    r.server.faults().set(FaultConfig::default()).unwrap();
    let vms = call.await.unwrap().unwrap();
    assert_eq!(vms.len(), 1);
    assert!(attempts.load(Ordering::SeqCst) >= 4);
    assert_eq!(count(&r, "GET", "/v1/user-resource/vm/list", 200), 1);
    r.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured() {
    let r = start().await;
    let c = client_with(&r, |cfg| {
        cfg.retry = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
            ..RetryPolicy::default()
        };
    });
    r.server
        .faults()
        .set(FaultConfig {
            throttle_rate: 1.0,
            retry_after_secs: 1,
            ..FaultConfig::default()
        })
        .unwrap();
    let started = Instant::now();
    let call = tokio::spawn({
        let c = c.clone();
        async move { c.locations().await }
    });
    wait_for("a 429", || {
        count(&r, "GET", "/v1/config/locations", 429) >= 1
    })
    .await;
    r.server.faults().set(FaultConfig::default()).unwrap();
    assert_eq!(call.await.unwrap().unwrap().len(), 2);
    // The base delay is 1 ms: only the server's Retry-After (1 s) explains the wait.
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    // A Retry-After longer than the policy accepts ends the retries with the 429.
    let impatient = client_with(&r, |cfg| {
        cfg.retry = RetryPolicy {
            max_attempts: 5,
            max_retry_after: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
    });
    r.server
        .faults()
        .set(FaultConfig {
            throttle_rate: 1.0,
            retry_after_secs: 30,
            ..FaultConfig::default()
        })
        .unwrap();
    let e = impatient.locations().await.unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    r.server.faults().set(FaultConfig::default()).unwrap();
    r.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_are_never_retried_blindly_under_lost_replies() {
    for mode in [LostReplyMode::Drop, LostReplyMode::Error] {
        let r = start().await;
        let c = client_with(&r, |cfg| {
            cfg.retry = RetryPolicy {
                max_attempts: 5,
                base_delay: Duration::from_millis(5),
                ..RetryPolicy::default()
            };
        });
        r.server
            .faults()
            .set(FaultConfig {
                lost_reply_rate: 1.0,
                lost_reply_mode: mode,
                methods: vec!["POST".into(), "PUT".into()],
                ..FaultConfig::default()
            })
            .unwrap();
        let e = c.create_vm(None, &new_vm("web-1")).await.unwrap_err();
        assert!(e.is_transient() && e.outcome_unknown(), "{mode:?}: {e:?}");
        let e = c.create_bucket("lost-bucket", Some(1)).await.unwrap_err();
        assert!(e.outcome_unknown(), "{mode:?}: {e:?}");
        r.server.faults().set(FaultConfig::default()).unwrap();
        // The writes were committed exactly once; the client sent each exactly once.
        assert_eq!(c.list_vms(None).await.unwrap().len(), 1, "{mode:?}");
        assert_eq!(c.list_buckets(None).await.unwrap().len(), 1, "{mode:?}");
        let posts: u64 = r
            .server
            .counters()
            .rows()
            .iter()
            .filter(|c| c.method == "POST" && c.path == "/v1/user-resource/vm")
            .map(|c| c.count)
            .sum();
        assert_eq!(posts, 1, "{mode:?}");
        r.server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_are_retried_and_a_lost_delete_reply_surfaces_as_not_found() {
    let r = start().await;
    let c = client_with(&r, |cfg| {
        cfg.retry = RetryPolicy {
            max_attempts: 50,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
            ..RetryPolicy::default()
        };
    });
    let vm = c.create_vm(None, &new_vm("web-1")).await.unwrap();
    r.server
        .faults()
        .set(FaultConfig {
            lost_reply_rate: 1.0,
            methods: vec!["DELETE".into()],
            ..FaultConfig::default()
        })
        .unwrap();
    let call = tokio::spawn({
        let c = c.clone();
        let uuid = vm.uuid.clone();
        async move { c.delete_vm(None, &uuid).await }
    });
    wait_for("the lost delete", || r.sim.counts()["vms"] == 0).await;
    r.server.faults().set(FaultConfig::default()).unwrap();
    let e = call.await.unwrap().unwrap_err();
    assert!(
        e.is_not_found(),
        "the retry finds the VM already gone: {e:?}"
    );
    r.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_rate_limit_spaces_calls() {
    let r = start().await;
    let c = client_with(&r, |cfg| {
        cfg.rate_limit = Some(RateLimit {
            per_second: 10.0,
            burst: 1,
        })
    });
    let started = Instant::now();
    for _ in 0..6 {
        c.locations().await.unwrap();
    }
    // Burst 1 at 10/s: five waits of ~100 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(450),
        "{:?}",
        started.elapsed()
    );
    // With latency injected the limiter still holds (and requests are not lost).
    r.server
        .faults()
        .set(FaultConfig {
            latency_ms: 20,
            ..FaultConfig::default()
        })
        .unwrap();
    c.locations().await.unwrap();
    assert_eq!(count(&r, "GET", "/v1/config/locations", 200), 7);
    r.server.stop().await;
}
