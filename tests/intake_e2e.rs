//! Pax8 order intake end to end: devcluster + Pax8 and NNO simulators + the operator's real `run`
//! code path, over HTTP. NetNew → webhook → Platform → Ready → exactly one Success result; a
//! duplicate delivery changes nothing; ChangeProduct moves the tier; Deprovision removes the
//! Platform and deprovisions it in NNO; webhook rejections (401, 400, 413); an unknown product
//! is a Fail result with no Platform; a missed webhook is picked up by polling.

use crate::intake_kit;
use crate::operator_kit;
use crate::platform_kit;

use std::time::Duration;

use intake_kit::*;
use nno_operator::cloud::pax8::ResultStatus;
use operator_kit::{WAIT, wait_for};
use serde_json::json;

fn status(r: &nno_operator::cloud::pax8::ProvisionResult) -> ResultStatus {
    r.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_netnew_order_becomes_a_ready_platform_with_exactly_one_success_and_its_lifecycle_follows()
 {
    let t = Intake::start(true, Duration::from_secs(300)).await;
    namespace(&t.env.kube).await;
    t.webhook_secret().await;
    let (sub, partner, company) = (uuid(), uuid(), uuid());
    let req = t
        .order(
            json!({"type": "NetNew", "productId": GROWTH, "subscriptionId": sub,
                      "partnerId": partner, "companyId": company, "companyDomain": "acme.example"}),
        )
        .await;
    let rid = req.id.clone().unwrap();
    let name = format!("pax8-{sub}");
    let p = t.wait_platform(&name, "Ready", ready).await;
    assert_eq!(p.spec.plan_tier, "growth");
    assert_eq!(p.spec.platform_id, name);
    assert_eq!(p.spec.billing_email, "billing@acme.example");
    let labels = p.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("pax8.nno.app/subscription-id"), Some(&sub));
    assert_eq!(labels.get("pax8.nno.app/partner-id"), Some(&partner));
    assert_eq!(labels.get("pax8.nno.app/company-id"), Some(&company));
    assert_eq!(labels.get("pax8.nno.app/provision-request-id"), Some(&rid));

    let results = t.wait_results(&rid).await;
    assert_eq!(results.len(), 1, "{results:?}");
    let r = &results[0];
    assert_eq!(status(r), ResultStatus::Success);
    assert_eq!(
        r.external_provisioner_subscription_id.as_deref(),
        Some(name.as_str())
    );
    assert_eq!(
        r.external_provisioner_partner_id.as_deref(),
        Some(partner.as_str())
    );
    assert_eq!(
        r.external_provisioner_company_id.as_deref(),
        Some(company.as_str())
    );
    let recorded = t
        .wait_platform(&name, "result recorded", |p| {
            p.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("pax8.nno.app/reported-result"))
                == Some(&format!("{rid}=Success"))
        })
        .await;

    // A duplicate delivery (Pax8 delivers the request again as a new attempt).
    let attempt = t.pax8().create_attempt(&rid).await.unwrap();
    let aid = attempt.id.clone().unwrap();
    wait_for("the duplicate is delivered", WAIT, || async {
        let a = t.pax8().get_attempt(&rid, &aid).await.ok()?;
        (a.status.as_deref() == Some("Success")).then_some(())
    })
    .await;
    assert_eq!(t.results(&rid).await.len(), 1, "no second result");
    let after = t.platforms().get(&name).await.unwrap();
    assert_eq!(
        after.metadata.resource_version, recorded.metadata.resource_version,
        "nothing changed"
    );
    assert_eq!(
        t.platforms()
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );

    // ChangeProduct moves the plan tier; its own result follows once Ready again.
    let change = t
        .order(
            json!({"type": "ChangeProduct", "productId": ENTERPRISE, "oldProductId": GROWTH,
                      "subscriptionId": sub, "partnerId": partner, "companyId": company}),
        )
        .await;
    let cid = change.id.clone().unwrap();
    t.wait_platform(&name, "enterprise tier", |p| {
        p.spec.plan_tier == "enterprise"
    })
    .await;
    let results = t.wait_results(&cid).await;
    assert_eq!(results.len(), 1);
    assert_eq!(status(&results[0]), ResultStatus::Success);
    assert!(ready(&t.platforms().get(&name).await.unwrap()));

    // Deprovision removes the Platform, deprovisions it in NNO, then reports Success.
    let gone = t
        .order(
            json!({"type": "Deprovision", "productId": ENTERPRISE, "subscriptionId": sub,
                      "partnerId": partner, "companyId": company}),
        )
        .await;
    let did = gone.id.clone().unwrap();
    let api = t.platforms();
    wait_for("the Platform is deleted", WAIT, || {
        let api = api.clone();
        let name = name.clone();
        async move { matches!(api.get_opt(&name).await, Ok(None)).then_some(()) }
    })
    .await;
    let types = platform_kit::job_types(&t.env, &name).await;
    assert_eq!(types.get("platform.deprovision"), Some(&1), "{types:?}");
    let results = t.wait_results(&did).await;
    assert_eq!(results.len(), 1);
    assert_eq!(status(&results[0]), ResultStatus::Success);
    assert_eq!(
        t.results(&rid).await.len(),
        1,
        "still one result for the NetNew"
    );

    let m = t.metrics().await;
    assert!(
        m.contains("nno_pax8_orders_total{order_type=\"NetNew\",source=\"webhook\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("nno_pax8_results_total{status=\"Success\"} 3"),
        "{m}"
    );
    t.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_refuses_a_wrong_secret_a_malformed_body_and_an_oversized_one() {
    let t = Intake::start(true, Duration::from_secs(300)).await;
    namespace(&t.env.kube).await;
    let (header, secret) = t.webhook_secret().await;
    let url = t.webhook_url.clone().unwrap();
    let http = reqwest::Client::new();
    let sub = uuid();
    let order = json!({"provisionRequest": {"id": uuid(), "type": "NetNew", "productId": GROWTH, "subscriptionId": sub}});

    let r = http
        .post(&url)
        .header(&header, "wrong")
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http.post(&url).json(&order).send().await.unwrap();
    assert_eq!(r.status(), 401, "no header at all");
    let r = http
        .post(&url)
        .header(&header, &secret)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("not JSON"),
        "{body}"
    );
    let bogus =
        json!({"provisionRequest": {"id": uuid(), "type": "Upsell", "subscriptionId": sub}});
    let r = http
        .post(&url)
        .header(&header, &secret)
        .json(&bogus)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("type"), "{body}");
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(300 * 1024));
    let r = http
        .post(&url)
        .header(&header, &secret)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);

    assert!(
        t.platforms()
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty(),
        "nothing created"
    );
    let m = t.metrics().await;
    for (reason, n) in [("unauthorized", 2), ("malformed", 2), ("too_large", 1)] {
        let line = format!("nno_pax8_webhook_rejections_total{{reason=\"{reason}\"}} {n}");
        assert!(m.contains(&line), "{line} in {m}");
    }
    assert!(!m.contains(&secret), "the secret never reaches the metrics");
    t.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_product_is_a_fail_result_and_no_platform() {
    let t = Intake::start(true, Duration::from_secs(300)).await;
    namespace(&t.env.kube).await;
    t.webhook_secret().await;
    let product = uuid();
    let req = t
        .order(json!({"type": "NetNew", "productId": product, "productName": "Mystery", "subscriptionId": uuid()}))
        .await;
    let results = t.wait_results(req.id.as_deref().unwrap()).await;
    assert_eq!(results.len(), 1);
    assert_eq!(status(&results[0]), ResultStatus::Fail);
    let msg = results[0].error_message.clone().unwrap_or_default();
    assert!(
        msg.contains(&product) && msg.contains("--pax8-products"),
        "{msg}"
    );
    assert!(msg.chars().count() <= 500);
    assert!(
        t.platforms()
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    t.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_webhook_is_picked_up_by_polling() {
    // No webhook URL: the simulator's delivery fails ("No webhook is registered").
    let t = Intake::start(false, Duration::from_secs(1)).await;
    namespace(&t.env.kube).await;
    let sub = uuid();
    let req = t
        .order(json!({"type": "NetNew", "productId": GROWTH, "subscriptionId": sub}))
        .await;
    let rid = req.id.clone().unwrap();
    let first = t
        .pax8()
        .list_attempts(&rid, None, Default::default())
        .await
        .unwrap();
    assert_eq!(
        first.content[0].status.as_deref(),
        Some("Failed"),
        "the webhook was missed"
    );
    let name = format!("pax8-{sub}");
    t.wait_platform(&name, "Ready", ready).await;
    let results = t.wait_results(&rid).await;
    assert_eq!(results.len(), 1);
    assert_eq!(status(&results[0]), ResultStatus::Success);
    // The poller recorded its own attempt before acting.
    let attempts = t
        .pax8()
        .list_attempts(&rid, None, Default::default())
        .await
        .unwrap();
    assert!(attempts.content.len() >= 2, "{:?}", attempts.content);
    // Later polls see nothing unfulfilled and post nothing more.
    let m = wait_for("orders counted from the poll", WAIT, || async {
        let m = t.metrics().await;
        m.contains("nno_pax8_orders_total{order_type=\"NetNew\",source=\"poll\"} 1")
            .then_some(m)
    })
    .await;
    assert!(!m.contains("source=\"webhook\""), "{m}");
    assert_eq!(t.results(&rid).await.len(), 1);
    t.env.stop().await;
}

/// Sum of the operator's failed `POST …/results` calls (5xx) in its metrics.
fn failed_result_posts(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| {
            l.starts_with("nno_cloud_api_calls_total{")
                && l.contains("api=\"pax8\"")
                && l.contains("method=\"POST\"")
                && l.contains("/results\"")
                && l.contains("status_class=\"5xx\"")
        })
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_that_cannot_be_posted_is_retried_until_pax8_takes_it() {
    let t = Intake::start(true, Duration::from_secs(300)).await;
    namespace(&t.env.kube).await;
    t.webhook_secret().await;
    t.set_pax8_faults(
        json!({"error_rate": 1.0, "methods": ["POST"], "path_prefix": "/v2/provision-requests/"}),
    )
    .await;
    let sub = uuid();
    let req = t
        .order(json!({"type": "NetNew", "productId": GROWTH, "subscriptionId": sub}))
        .await;
    let rid = req.id.clone().unwrap();
    t.wait_platform(&format!("pax8-{sub}"), "Ready", ready)
        .await;
    wait_for("two failed result posts", WAIT, || async {
        (failed_result_posts(&t.metrics().await) >= 2.0).then_some(())
    })
    .await;
    assert!(
        t.results(&rid).await.is_empty(),
        "Pax8 is down: nothing posted yet"
    );
    t.set_pax8_faults(json!({})).await;
    let results = t.wait_results(&rid).await;
    assert_eq!(results.len(), 1);
    assert_eq!(status(&results[0]), ResultStatus::Success);
    t.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_that_fails_to_provision_is_one_fail_result_with_the_reason() {
    let t = Intake::start(true, Duration::from_secs(300)).await;
    namespace(&t.env.kube).await;
    t.webhook_secret().await;
    platform_kit::set_failures(
        &t.env,
        json!([{"type": "platform.provision", "failAttempts": 20, "reason": "capacity exhausted"}]),
    )
    .await;
    let sub = uuid();
    let req = t
        .order(json!({"type": "NetNew", "productId": GROWTH, "subscriptionId": sub}))
        .await;
    let rid = req.id.clone().unwrap();
    let results = t.wait_results(&rid).await;
    assert_eq!(results.len(), 1);
    assert_eq!(status(&results[0]), ResultStatus::Fail);
    let msg = results[0].error_message.clone().unwrap_or_default();
    assert!(
        msg.contains("ProvisioningFailed") && msg.contains("capacity exhausted"),
        "{msg}"
    );
    assert!(msg.chars().count() <= 500, "{msg}");
    let name = format!("pax8-{sub}");
    t.wait_platform(&name, "Fail recorded", |p| {
        p.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("pax8.nno.app/reported-result"))
            == Some(&format!("{rid}=Fail"))
    })
    .await;
    assert_eq!(t.results(&rid).await.len(), 1);
    t.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_enrollment_is_acknowledged_with_success_and_creates_nothing() {
    let t = Intake::start(true, Duration::from_secs(300)).await;
    namespace(&t.env.kube).await;
    t.webhook_secret().await;
    let partner = uuid();
    let req = t
        .order(json!({"type": "PartnerEnrollment", "partnerId": partner, "partnerEnrollmentId": uuid()}))
        .await;
    let results = t.wait_results(req.id.as_deref().unwrap()).await;
    assert_eq!(results.len(), 1);
    assert_eq!(status(&results[0]), ResultStatus::Success);
    assert_eq!(
        results[0].external_provisioner_partner_id.as_deref(),
        Some(partner.as_str())
    );
    assert!(
        t.platforms()
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    t.env.stop().await;
}
