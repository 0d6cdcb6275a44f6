//! Pax8 vendor provisioning simulator over real HTTP: OAuth2 tokens, webhook delivery,
//! results, paging and bad input.

mod simkit;

use std::collections::BTreeSet;
use std::time::Duration;

use nno_sim::SimConfig;
use serde_json::{Value, json};
use simkit::pax8::*;
use simkit::*;

#[tokio::test]
async fn token_endpoint_checks_credentials_audience_and_grant() {
    let sims = start(SimConfig {
        pax8_token_ttl: Duration::from_secs(3),
        ..fast_cfg()
    })
    .await;
    let url = format!("{}/v1/token", sims.pax8_url());
    let good = json!({"client_id": "dev-client-id", "client_secret": "dev-client-secret", "audience": "api://provisioning", "grant_type": "client_credentials"});
    let r = http().post(&url).json(&good).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert!(v["access_token"].as_str().is_some_and(|t| t.len() > 20));
    assert_eq!(v["expires_in"], 3);
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["scope"], "vendorSimulation:provisioning");
    let token = v["access_token"].as_str().unwrap().to_owned();

    let form = "client_id=dev-client-id&client_secret=dev-client-secret&audience=api%3A%2F%2Fprovisioning&grant_type=client_credentials";
    let r = http()
        .post(&url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "form bodies work too");

    let mut bad = good.clone();
    bad["client_secret"] = json!("wrong");
    let r = http().post(&url).json(&bad).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "access_denied");
    let mut bad = good.clone();
    bad["audience"] = json!("api://other");
    assert_eq!(
        http().post(&url).json(&bad).send().await.unwrap().status(),
        403
    );
    let mut bad = good.clone();
    bad.as_object_mut().unwrap().remove("grant_type");
    assert_eq!(
        http().post(&url).json(&bad).send().await.unwrap().status(),
        400
    );
    let r = http()
        .post(&url)
        .body("{")
        .header("Content-Type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let prov = format!("{}/v2/provisioners", sims.pax8_url());
    let r = http().get(&prov).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_pax8_envelope(&r.json().await.unwrap(), 401);
    assert_eq!(
        http()
            .get(&prov)
            .bearer_auth("forged")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        http()
            .get(&prov)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    eventually(WAIT, "token expiry", || async {
        let s = http()
            .get(&prov)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status();
        (s == 401).then_some(())
    })
    .await;
    sims.stop().await;
}

#[tokio::test]
async fn order_events_reach_every_webhook_with_its_secret_header_and_failed_deliveries_are_retried()
{
    let sims = start(fast_cfg()).await;
    let api = Api::new(&sims).await;
    let pid = api.provisioner().await;

    // No webhook yet: the attempt fails at once.
    let (_, lonely) = api
        .call("POST", "/v2/provision-simulations/order-events", None)
        .await;
    assert_eq!(lonely["provisionAttempt"]["status"], "Failed");
    assert!(
        lonely["provisionAttempt"]["errorDetail"]
            .as_str()
            .unwrap()
            .contains("No webhook")
    );

    let (url_a, rx_a) = receiver(0).await;
    let (url_b, rx_b) = receiver(2).await;
    let (_, hook_a) = api
        .call(
            "POST",
            &format!("/v2/provisioners/{pid}/webhooks"),
            Some(json!({"url": url_a, "sharedSecret": {"header": "X-Vendor-Secret"}})),
        )
        .await;
    let (_, hook_b) = api
        .call(
            "POST",
            &format!("/v2/provisioners/{pid}/webhooks"),
            Some(json!({"url": url_b})),
        )
        .await;
    let secret_a = hook_a["sharedSecret"]["credential"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret_b = hook_b["sharedSecret"]["credential"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(secret_a, secret_b);
    assert_eq!(hook_b["sharedSecret"]["header"], "X-Pax8-Webhook-Secret");

    let (s, ev) = api
        .call(
            "POST",
            "/v2/provision-simulations/order-events",
            Some(json!({"provisionRequest": {"type": "NetNew", "quantity": 2}})),
        )
        .await;
    assert_eq!(s, 200);
    let rid = ev["provisionRequest"]["id"].as_str().unwrap().to_owned();
    assert_eq!(ev["provisionRequest"]["quantity"], 2);
    let attempts = eventually(WAIT, "both deliveries to succeed", || async {
        let v = api
            .get(&format!("/v2/provision-requests/{rid}/attempts"))
            .await;
        let all = v["content"].as_array().unwrap().clone();
        (all.len() == 2 && all.iter().all(|a| a["status"] == "Success")).then_some(all)
    })
    .await;
    let hooks: BTreeSet<&str> = attempts
        .iter()
        .map(|a| a["webhookId"].as_str().unwrap())
        .collect();
    assert_eq!(
        hooks,
        BTreeSet::from([
            hook_a["id"].as_str().unwrap(),
            hook_b["id"].as_str().unwrap()
        ])
    );

    let got_a = rx_a.got.lock().unwrap().clone();
    assert_eq!(got_a.len(), 1);
    assert_eq!(got_a[0].0["x-vendor-secret"], secret_a.as_str());
    assert_eq!(got_a[0].1["provisionRequest"]["id"], rid.as_str());
    assert!(got_a[0].1["provisionDetail"]["id"].is_string());
    let got_b = rx_b.got.lock().unwrap().clone();
    assert_eq!(got_b.len(), 3, "two failures, then success");
    assert!(
        got_b
            .iter()
            .all(|(h, _)| h["x-pax8-webhook-secret"] == secret_b.as_str())
    );

    // A webhook that never answers: the attempt ends Failed with the reason.
    let dead = "http://127.0.0.1:9/hook";
    api.call(
        "POST",
        &format!("/v2/provisioners/{pid}/webhooks"),
        Some(json!({"url": dead})),
    )
    .await;
    let (_, a) = api
        .call(
            "POST",
            &format!("/v2/provision-requests/{rid}/attempts"),
            None,
        )
        .await;
    let aid = a["id"].as_str().unwrap().to_owned();
    let failed = eventually(WAIT, "delivery to give up", || async {
        let v = api
            .get(&format!("/v2/provision-requests/{rid}/attempts/{aid}"))
            .await;
        (v["status"] == "Failed").then_some(v)
    })
    .await;
    assert!(
        failed["errorDetail"].as_str().unwrap().contains("failed"),
        "{failed}"
    );
    sims.stop().await;
}

#[tokio::test]
async fn a_request_stays_unfulfilled_until_a_result_is_posted() {
    let sims = start(fast_cfg()).await;
    let api = Api::new(&sims).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (_, ev) = api
            .call(
                "POST",
                "/v2/provision-simulations/order-events",
                Some(json!({})),
            )
            .await;
        ids.push(ev["provisionRequest"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        api.get("/v2/provision-requests/unfulfilled").await["page"]["totalElements"],
        2
    );
    let (s, r) = api
        .call(
            "POST",
            &format!("/v2/provision-requests/{}/results", ids[0]),
            Some(json!({"status": "Success", "externalProvisionerSubscriptionId": "plat-acme"})),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert!(
        r["provisionAttemptId"].is_string(),
        "defaults to the latest attempt"
    );
    let open = api.get("/v2/provision-requests/unfulfilled").await;
    assert_eq!(open["page"]["totalElements"], 1);
    assert_eq!(open["content"][0]["id"], ids[1].as_str());
    let latest = api
        .get(&format!("/v2/provision-requests/{}/results/latest", ids[0]))
        .await;
    assert_eq!(latest["id"], r["id"]);
    assert_eq!(latest["externalProvisionerSubscriptionId"], "plat-acme");
    let (s, _) = api
        .call(
            "GET",
            &format!("/v2/provision-requests/{}/results/latest", ids[1]),
            None,
        )
        .await;
    assert_eq!(s, 404);
    let c = counts(sims.pax8_url()).await;
    assert_eq!(
        (
            c["provisionRequests"].as_u64(),
            c["provisionRequestsUnfulfilled"].as_u64(),
            c["provisionResults"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    sims.stop().await;
}

#[tokio::test]
async fn lists_are_pages_with_page_info() {
    let sims = start(fast_cfg()).await;
    let api = Api::new(&sims).await;
    for q in 1..=5 {
        api.call(
            "POST",
            "/v2/provision-simulations/order-events",
            Some(json!({"provisionRequest": {"quantity": q}})),
        )
        .await;
    }
    let mut seen = Vec::new();
    for (n, len) in [(0, 2), (1, 2), (2, 1), (3, 0)] {
        let p = api
            .get(&format!("/v2/provision-requests?page={n}&size=2"))
            .await;
        assert_eq!(
            p["page"],
            json!({"size": 2, "totalElements": 5, "totalPages": 3, "number": n})
        );
        let c = p["content"].as_array().unwrap();
        assert_eq!(c.len(), len);
        seen.extend(c.iter().map(|r| r["quantity"].as_i64().unwrap()));
    }
    assert_eq!(seen, [5, 4, 3, 2, 1], "newest first");
    for bad in ["size=0", "size=201", "page=-1", "size=x"] {
        let (s, v) = api
            .call("GET", &format!("/v2/provision-requests?{bad}"), None)
            .await;
        assert_eq!(s, 400, "{bad}");
        assert_pax8_envelope(&v, 400);
    }
    sims.stop().await;
}

#[tokio::test]
async fn bad_input_gets_the_error_envelope_and_never_a_500() {
    let sims = start(fast_cfg()).await;
    let api = Api::new(&sims).await;
    let pid = api.provisioner().await;
    let (_, ev) = api
        .call("POST", "/v2/provision-simulations/order-events", None)
        .await;
    let rid = ev["provisionRequest"]["id"].as_str().unwrap().to_owned();
    let other = "00000000-0000-4000-8000-000000000000";

    let raw = |path: String, body: &'static str| {
        let r = http()
            .post(format!("{}{path}", api.base))
            .bearer_auth(&api.token)
            .header("Content-Type", "application/json")
            .body(body);
        async move {
            let resp = r.send().await.unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    for path in [
        format!("/v2/provisioners/{pid}/webhooks"),
        format!("/v2/provision-requests/{rid}/results"),
        "/v2/provision-simulations/order-events".to_owned(),
    ] {
        let (s, v) = raw(path.clone(), "{oops").await;
        assert_eq!(s, 400, "{path}");
        assert!(assert_pax8_envelope(&v, 400).contains("Malformed JSON"));
        let (s, _) = raw(path.clone(), "\"text\"").await;
        assert_eq!(s, 400, "{path}");
    }

    let cases: Vec<(String, Value, &str)> = vec![
        (format!("/v2/provisioners/{pid}/webhooks"), json!({}), "url"),
        (
            format!("/v2/provisioners/{pid}/webhooks"),
            json!({"url": 42}),
            "url",
        ),
        (
            format!("/v2/provisioners/{pid}/webhooks"),
            json!({"url": "not a url"}),
            "url",
        ),
        (
            format!("/v2/provisioners/{pid}/webhooks"),
            json!({"url": "http://h/x", "sharedSecret": {"header": "bad header"}}),
            "sharedSecret.header",
        ),
        (
            format!("/v2/provision-requests/{rid}/results"),
            json!({}),
            "status",
        ),
        (
            format!("/v2/provision-requests/{rid}/results"),
            json!({"status": "Maybe"}),
            "status",
        ),
        (
            format!("/v2/provision-requests/{rid}/results"),
            json!({"status": "Success", "externalProvisionerCompanyId": "a b"}),
            "externalProvisionerCompanyId",
        ),
        (
            format!("/v2/provision-requests/{rid}/results"),
            json!({"status": "Success", "externalProvisionerPartnerId": ""}),
            "externalProvisionerPartnerId",
        ),
        (
            format!("/v2/provision-requests/{rid}/results"),
            json!({"status": "Fail", "provisionAttemptId": "nope"}),
            "provisionAttemptId",
        ),
        (
            format!("/v2/provision-requests/{rid}/results"),
            json!({"status": "Fail", "metadata": {"k": 1}}),
            "metadata.k",
        ),
        (
            "/v2/provision-simulations/order-events".to_owned(),
            json!({"provisionRequest": {"type": "Upsell"}}),
            "provisionRequest.type",
        ),
        (
            "/v2/provision-simulations/order-events".to_owned(),
            json!({"provisionRequest": {"quantity": "two"}}),
            "provisionRequest.quantity",
        ),
        (
            "/v2/provision-simulations/order-events".to_owned(),
            json!({"provisionRequest": {"productId": "xyz"}}),
            "provisionRequest.productId",
        ),
        (
            "/v2/provision-simulations/order-events".to_owned(),
            json!({"provisionRequest": {"commitment": {"volume": {"minAmount": 5, "maxAmount": 1}}}}),
            "provisionRequest.commitment.volume.minAmount",
        ),
        (
            "/v2/provision-simulations/order-events".to_owned(),
            json!({"provisionDetail": {"details": {"x": "y"}}}),
            "provisionDetail.details.x",
        ),
    ];
    for (path, body, field) in cases {
        let (s, v) = api.call("POST", &path, Some(body.clone())).await;
        assert_eq!(s, 400, "{path} {body}: {v}");
        assert_pax8_envelope(&v, 400);
        let fields: Vec<&str> = v["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["path"].as_str().unwrap())
            .collect();
        assert_eq!(fields, [field], "{path} {body}");
    }
    let (s, v) = api
        .call(
            "POST",
            &format!("/v2/provision-requests/{rid}/results"),
            Some(json!({"status": "Fail", "provisionAttemptId": other})),
        )
        .await;
    assert_eq!(s, 400, "an attempt of another request: {v}");

    let long = "x".repeat(800);
    let (s, v) = api
        .call(
            "POST",
            &format!("/v2/provision-requests/{rid}/results"),
            Some(json!({"status": "Fail", "errorMessage": long})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        v["errorMessage"].as_str().unwrap().len(),
        500,
        "truncated as documented"
    );

    for (path, status) in [
        ("/v2/provisioners/not-a-uuid".to_owned(), 400),
        (format!("/v2/provisioners/{other}"), 404),
        (format!("/v2/provisioners/{other}/webhooks"), 404),
        (format!("/v2/provisioners/{pid}/webhooks/latest"), 404),
        (format!("/v2/provisioners/{pid}/webhooks/{other}"), 404),
        (format!("/v2/provision-requests/{other}"), 404),
        ("/v2/provision-requests/123".to_owned(), 400),
        (format!("/v2/provision-requests/{rid}/details/{other}"), 404),
        (
            format!("/v2/provision-requests/{rid}/attempts/{other}"),
            404,
        ),
        (format!("/v2/provision-requests/{rid}/results/{other}"), 404),
        (
            format!("/v2/provision-requests/{rid}/results?provisionAttemptId=bad"),
            400,
        ),
        ("/v2/nothing-here".to_owned(), 404),
    ] {
        let (s, v) = api.call("GET", &path, None).await;
        assert_eq!(s, status, "{path}: {v}");
        assert_pax8_envelope(&v, status);
    }
    let (s, v) = api.call("DELETE", "/v2/provisioners", None).await;
    assert_eq!(s, 405);
    assert_pax8_envelope(&v, 405);
    let reqs = get_json(&format!("{}/_sim/requests", sims.pax8_url())).await;
    assert!(
        reqs["requests"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"].as_u64().unwrap() < 500),
        "{reqs}"
    );
    sims.stop().await;
}

#[tokio::test]
async fn webhook_reads_mask_the_shared_secret() {
    let sims = start(fast_cfg()).await;
    let api = Api::new(&sims).await;
    let pid = api.provisioner().await;
    let (_, created) = api
        .call(
            "POST",
            &format!("/v2/provisioners/{pid}/webhooks"),
            Some(json!({"url": "http://127.0.0.1:9/x"})),
        )
        .await;
    let secret = created["sharedSecret"]["credential"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(secret.len() >= 32);
    let latest = api
        .get(&format!("/v2/provisioners/{pid}/webhooks/latest"))
        .await;
    let shown = latest["sharedSecret"]["credential"].as_str().unwrap();
    assert_ne!(shown, secret);
    assert!(shown.starts_with("****") && secret.ends_with(&shown[shown.len() - 4..]));
    let list = api.get(&format!("/v2/provisioners/{pid}/webhooks")).await;
    assert!(!list.to_string().contains(&secret));
    sims.stop().await;
}
