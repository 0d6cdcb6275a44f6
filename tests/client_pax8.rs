//! The Pax8 client against the simulator: every method, the token cache and refresh, errors.

use crate::simkit;

use std::time::Duration;

use nno_operator::cloud::pax8::*;
use nno_operator::cloud::{ApiError, Secret};
use nno_sim::{SimConfig, Simulators};
use simkit::*;

fn client(sims: &Simulators) -> Pax8Client {
    Pax8Client::new(
        sims.pax8_url(),
        Pax8Credentials {
            client_id: sims.pax8_client_id().into(),
            client_secret: Secret::new(sims.pax8_client_secret()),
        },
    )
    .unwrap()
}

async fn tokens_issued(sims: &Simulators) -> u64 {
    served(sims.pax8_url(), "POST", "/v1/token", Some(200)).await
}

#[tokio::test]
async fn every_operation_round_trips() {
    let sims = start(SimConfig {
        webhook_retry_delays: vec![Duration::from_millis(50); 2],
        ..SimConfig::default()
    })
    .await;
    let c = client(&sims);
    let provs = c.list_provisioners(PageRequest::default()).await.unwrap();
    assert_eq!(provs.page.total_elements, 1);
    let pid = provs.content[0].id.clone().unwrap();
    assert_eq!(c.get_provisioner(&pid).await.unwrap(), provs.content[0]);

    let hook = c
        .create_webhook(
            &pid,
            &WebhookCreate {
                url: "http://127.0.0.1:9/orders".into(),
                shared_secret: Some(SharedSecretCreate {
                    header: Some("X-Order-Secret".into()),
                }),
            },
        )
        .await
        .unwrap();
    let wid = hook.id.clone().unwrap();
    assert_eq!(hook.shared_secret.header.as_deref(), Some("X-Order-Secret"));
    assert!(
        !format!("{hook:?}").contains(hook.shared_secret.credential.expose()),
        "credential redacted in Debug"
    );
    assert_eq!(
        c.latest_webhook(&pid).await.unwrap().id.as_deref(),
        Some(wid.as_str())
    );
    assert_eq!(
        c.get_webhook(&pid, &wid).await.unwrap().url,
        "http://127.0.0.1:9/orders"
    );
    assert_eq!(
        c.list_webhooks(&pid, PageRequest::default())
            .await
            .unwrap()
            .content
            .len(),
        1
    );

    let event = OrderEvent {
        provision_request: Some(ProvisionRequest {
            kind: Some(ProvisionRequestType::TrialCreate),
            quantity: Some(3),
            billing_term: Some("Trial".into()),
            ..ProvisionRequest::default()
        }),
        provision_detail: Some(ProvisionDetail {
            details: serde_json::from_value(serde_json::json!({"platform": {"slug": "acme"}}))
                .unwrap(),
            ..ProvisionDetail::default()
        }),
        provision_attempt: None,
    };
    let created = c.create_order_event(&event).await.unwrap();
    let req = created.provision_request.unwrap();
    let rid = req.id.clone().unwrap();
    assert_eq!(req.kind, Some(ProvisionRequestType::TrialCreate));
    assert_eq!(req.quantity, Some(3));
    assert_eq!(c.get_provision_request(&rid).await.unwrap(), req);
    assert_eq!(
        c.list_provision_requests(PageRequest {
            page: Some(0),
            size: Some(5)
        })
        .await
        .unwrap()
        .page
        .size,
        5
    );
    assert_eq!(
        c.list_unfulfilled(PageRequest::default())
            .await
            .unwrap()
            .content
            .len(),
        1
    );
    assert_eq!(c.all_unfulfilled(10).await.unwrap().len(), 1);

    let detail = c.latest_detail(&rid).await.unwrap();
    let did = detail.id.clone().unwrap();
    assert_eq!(detail.details["platform"]["slug"], "acme");
    assert_eq!(c.get_detail(&rid, &did).await.unwrap(), detail);
    assert_eq!(
        c.list_details(&rid, PageRequest::default())
            .await
            .unwrap()
            .content,
        vec![detail]
    );

    let first = created.provision_attempt.unwrap();
    assert_eq!(first.webhook_id.as_deref(), Some(wid.as_str()));
    let again = c.create_attempt(&rid).await.unwrap();
    let aid = again.id.clone().unwrap();
    assert_eq!(c.latest_attempt(&rid).await.unwrap().id, again.id);
    assert_eq!(
        c.get_attempt(&rid, &aid)
            .await
            .unwrap()
            .provision_detail_id
            .as_deref(),
        Some(did.as_str())
    );
    assert_eq!(
        c.list_attempts(&rid, Some(&did), PageRequest::default())
            .await
            .unwrap()
            .content
            .len(),
        2
    );
    // The webhook URL is dead, so the delivery ends Failed with a reason.
    let failed = eventually(WAIT, "delivery failure", || async {
        let a = c.get_attempt(&rid, &aid).await.unwrap();
        (a.status.as_deref() == Some("Failed")).then_some(a)
    })
    .await;
    assert!(failed.error_detail.is_some());

    let mut result = ProvisionResult::fail("Slug already taken");
    result.provision_attempt_id = Some(aid.clone());
    result.external_provisioner_subscription_id = Some("plat-acme".into());
    let stored = c.create_result(&rid, &result).await.unwrap();
    let xid = stored.id.clone().unwrap();
    assert_eq!(stored.status, ResultStatus::Fail);
    assert_eq!(c.latest_result(&rid).await.unwrap(), stored);
    assert_eq!(c.get_result(&rid, &xid).await.unwrap(), stored);
    assert_eq!(
        c.list_results(&rid, Some(&aid), PageRequest::default())
            .await
            .unwrap()
            .content,
        vec![stored.clone()]
    );
    assert!(
        c.list_results(
            &rid,
            Some(first.id.as_deref().unwrap()),
            PageRequest::default()
        )
        .await
        .unwrap()
        .content
        .is_empty()
    );
    let ok = c
        .create_result(&rid, &ProvisionResult::success())
        .await
        .unwrap();
    assert_eq!(
        ok.provision_attempt_id.as_deref(),
        Some(aid.as_str()),
        "defaults to the latest attempt"
    );
    assert!(c.all_unfulfilled(10).await.unwrap().is_empty());
    assert_eq!(tokens_issued(&sims).await, 1, "one token serves every call");
    sims.stop().await;
}

#[tokio::test]
async fn token_is_refreshed_before_expiry_and_after_a_401() {
    let sims = start(SimConfig {
        pax8_token_ttl: Duration::from_secs(5),
        ..SimConfig::default()
    })
    .await;
    let c = client(&sims);
    c.list_provisioners(PageRequest::default()).await.unwrap();
    c.list_provision_requests(PageRequest::default())
        .await
        .unwrap();
    assert_eq!(tokens_issued(&sims).await, 1);
    // Revoke every token behind the client's back: the next call gets 401, refreshes, succeeds.
    reset(sims.pax8_url()).await;
    c.list_provisioners(PageRequest::default()).await.unwrap();
    assert_eq!(
        tokens_issued(&sims).await,
        1,
        "counters were reset with the state"
    );
    assert_eq!(
        served(sims.pax8_url(), "GET", "/v2/provisioners", Some(401)).await,
        1
    );
    assert_eq!(
        served(sims.pax8_url(), "GET", "/v2/provisioners", Some(200)).await,
        1
    );
    // Near expiry the cached token is replaced without a 401.
    eventually(WAIT, "a proactive refresh", || async {
        c.list_provision_requests(PageRequest::default())
            .await
            .unwrap();
        (tokens_issued(&sims).await == 2).then_some(())
    })
    .await;
    assert_eq!(
        served(sims.pax8_url(), "GET", "/v2/provision-requests", Some(401)).await,
        0
    );
    sims.stop().await;
}

#[tokio::test]
async fn bad_credentials_and_bad_requests_are_terminal_errors() {
    let sims = start_default().await;
    let bad = Pax8Client::new(
        sims.pax8_url(),
        Pax8Credentials {
            client_id: "dev-client-id".into(),
            client_secret: Secret::new("guess-123"),
        },
    )
    .unwrap();
    match bad
        .list_provisioners(PageRequest::default())
        .await
        .unwrap_err()
    {
        ApiError::Unauthorized {
            status, message, ..
        } => {
            assert_eq!(status, 401);
            assert_eq!(message, "Unauthorized");
        }
        e => panic!("expected unauthorized, got {e:?}"),
    }
    assert!(!format!("{bad:?}").contains("guess-123"));
    let c = client(&sims);
    let e = c
        .get_provision_request("00000000-0000-4000-8000-000000000000")
        .await
        .unwrap_err();
    assert!(e.is_not_found());
    assert!(e.message().contains("Provision request not found"));
    let e = c.get_provision_request("not-a-uuid").await.unwrap_err();
    assert_eq!(e.status(), Some(400));
    let created = c.create_order_event(&OrderEvent::default()).await.unwrap();
    let rid = created.provision_request.unwrap().id.unwrap();
    let mut r = ProvisionResult::success();
    r.external_provisioner_company_id = Some("has space".into());
    let e = c.create_result(&rid, &r).await.unwrap_err();
    assert!(!e.is_transient());
    assert!(e.message().contains("externalProvisionerCompanyId"), "{e}");
    let e = c
        .create_webhook(
            &created.provision_detail.unwrap().id.unwrap(),
            &WebhookCreate {
                url: "http://x".into(),
                shared_secret: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        e.is_not_found(),
        "webhooks belong to a known provisioner: {e}"
    );
    sims.stop().await;
}

#[tokio::test]
async fn token_requests_are_retried_but_creates_are_not() {
    let sims = start_default().await;
    let url = sims.pax8_url();
    let mut cfg = Pax8Client::config(
        url,
        &Pax8Credentials {
            client_id: "dev-client-id".into(),
            client_secret: Secret::new("dev-client-secret"),
        },
    );
    cfg.rate_limit = None;
    cfg.retry.base_delay = Duration::from_millis(10);
    let c = Pax8Client::with_config(
        cfg,
        Pax8Credentials {
            client_id: "dev-client-id".into(),
            client_secret: Secret::new("dev-client-secret"),
        },
    )
    .unwrap();
    put_faults(url, serde_json::json!({"throttle_rate": 1.0, "retry_after_secs": 0, "path_prefix": "/v1/token"})).await;
    let e = c.access_token().await.unwrap_err();
    assert!(matches!(e, ApiError::Throttled { .. }), "{e:?}");
    assert_eq!(
        served(url, "POST", "/v1/token", Some(429)).await,
        4,
        "the token request is retried"
    );
    clear_faults(url).await;
    let pid = c
        .list_provisioners(PageRequest::default())
        .await
        .unwrap()
        .content[0]
        .id
        .clone()
        .unwrap();

    put_faults(
        url,
        serde_json::json!({"lost_reply_rate": 1.0, "methods": ["POST"], "path_prefix": "/v2/"}),
    )
    .await;
    let e = c
        .create_webhook(
            &pid,
            &WebhookCreate {
                url: "http://127.0.0.1:9/x".into(),
                shared_secret: None,
            },
        )
        .await
        .unwrap_err();
    assert!(e.outcome_unknown(), "{e:?}");
    assert_eq!(
        served(
            url,
            "POST",
            "/v2/provisioners/{provisionerId}/webhooks",
            None
        )
        .await,
        1
    );
    clear_faults(url).await;
    // The webhook exists although the reply was lost: look before creating again.
    assert_eq!(
        c.list_webhooks(&pid, PageRequest::default())
            .await
            .unwrap()
            .content
            .len(),
        1
    );
    sims.stop().await;
}
