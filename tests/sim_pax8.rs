//! Pax8 vendor provisioning simulator over real HTTP: one valid request per OpenAPI operation
//! checked against the documented response schema, OAuth2 tokens, webhook delivery, results,
//! paging and bad input.

mod simkit;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use nno_operator::sim::{SimConfig, Simulators};
use serde_json::{Value, json};
use simkit::*;

const WAIT: Duration = Duration::from_secs(20);

fn spec() -> Value {
    serde_json::from_str(include_str!(
        "fixtures/pax8-vendor-provisioning-openapi.json"
    ))
    .unwrap()
}

fn fast_cfg() -> SimConfig {
    SimConfig {
        webhook_retry_delays: vec![Duration::from_millis(50); 3],
        ..SimConfig::default()
    }
}

/// A webhook receiver that fails the first `fail_first` deliveries with 500.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
    fail_first: Arc<Mutex<usize>>,
}

async fn receive(
    State(r): State<Receiver>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    r.got.lock().unwrap().push((headers, v));
    let mut f = r.fail_first.lock().unwrap();
    if *f > 0 {
        *f -= 1;
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

async fn receiver(fail_first: usize) -> (String, Receiver) {
    let r = Receiver {
        fail_first: Arc::new(Mutex::new(fail_first)),
        ..Receiver::default()
    };
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), r)
}

struct Api {
    base: String,
    token: String,
}

impl Api {
    async fn new(sims: &Simulators) -> Self {
        Self {
            base: sims.pax8_url().to_owned(),
            token: pax8_token(sims).await,
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = http()
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let s = resp.status().as_u16();
        (s, resp.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Value {
        let (s, v) = self.call("GET", path, None).await;
        assert_eq!(s, 200, "GET {path}: {v}");
        v
    }

    async fn provisioner(&self) -> String {
        self.get("/v2/provisioners").await["content"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

fn full_order_event() -> Value {
    let addr = json!({"street": "1 Main St", "street2": "Suite 2", "city": "Denver", "postcode": "80202", "country": "US", "stateOrProvince": "CO"});
    json!({
        "provisionRequest": {
            "partnerId": "5a0b1c2d-0000-4000-8000-000000000001",
            "partnerName": "Partner Inc",
            "partnerDomain": "partner.example.com",
            "partnerAddress": addr,
            "partnerEnrollmentId": "5a0b1c2d-0000-4000-8000-000000000002",
            "companyId": "5a0b1c2d-0000-4000-8000-000000000003",
            "companyName": "Acme",
            "companyDomain": "acme.example.com",
            "companyAddress": addr,
            "productId": "5a0b1c2d-0000-4000-8000-000000000004",
            "oldProductId": "5a0b1c2d-0000-4000-8000-000000000005",
            "productName": "NNO Platform Growth",
            "quantity": 5,
            "subscriptionId": "5a0b1c2d-0000-4000-8000-000000000006",
            "type": "ChangeProduct",
            "createdDate": "2026-01-02T03:04:05Z",
            "trialEndDate": "2026-02-01T00:00:00Z",
            "trialAutoConverts": true,
            "commitmentTermMonths": 12,
            "commitmentTermEndDate": "2027-01-01T00:00:00Z",
            "commitment": {
                "term": {"months": 12, "endDate": "2027-01-01T00:00:00Z"},
                "volume": {"minAmount": 1, "maxAmount": 10.5, "unitOfMeasure": "Users", "months": 12}
            },
            "billingTerm": "Annual"
        },
        "provisionDetail": {"details": {"platform": {"slug": "acme", "planTier": "growth"}}}
    })
}

fn full_result(attempt: &str) -> Value {
    json!({
        "provisionAttemptId": attempt,
        "status": "Fail",
        "errorMessage": "Unable to provision: slug already in use",
        "metadata": {"platform": {"id": "acme"}},
        "externalProvisionerSubscriptionId": "sub_1",
        "externalProvisionerPartnerId": "partner-1",
        "externalProvisionerCompanyId": "company_1",
        "externalProvisionerPartnerEnrollmentId": "enr-1"
    })
}

/// Checks `v` against schema `s` of the spec: required fields present and non-null, every
/// documented property present, types, formats and enums.
fn check(spec: &Value, s: &Value, v: &Value, at: &str) {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap();
        return check(spec, &spec["components"]["schemas"][name], v, at);
    }
    match s["type"].as_str() {
        Some("object") => {
            let obj = v
                .as_object()
                .unwrap_or_else(|| panic!("{at}: expected object, got {v}"));
            let required: Vec<&str> = s["required"]
                .as_array()
                .map(|a| a.iter().map(|x| x.as_str().unwrap()).collect())
                .unwrap_or_default();
            if let Some(props) = s["properties"].as_object() {
                for (k, ps) in props {
                    let field = obj
                        .get(k)
                        .unwrap_or_else(|| panic!("{at}.{k}: documented field missing in {v}"));
                    if field.is_null() {
                        assert!(
                            !required.contains(&k.as_str()),
                            "{at}.{k}: required but null"
                        );
                        continue;
                    }
                    check(spec, ps, field, &format!("{at}.{k}"));
                }
            }
            if let Some(ap) = s.get("additionalProperties") {
                for (k, x) in obj {
                    check(spec, ap, x, &format!("{at}.{k}"));
                }
            }
        }
        Some("array") => {
            let arr = v
                .as_array()
                .unwrap_or_else(|| panic!("{at}: expected array, got {v}"));
            for (i, x) in arr.iter().enumerate() {
                check(spec, &s["items"], x, &format!("{at}[{i}]"));
            }
        }
        Some("string") => {
            let t = v
                .as_str()
                .unwrap_or_else(|| panic!("{at}: expected string, got {v}"));
            match s["format"].as_str() {
                Some("uuid") => assert!(uuid::Uuid::parse_str(t).is_ok(), "{at}: not a uuid: {t}"),
                Some("date-time") => assert!(
                    chrono::DateTime::parse_from_rfc3339(t).is_ok(),
                    "{at}: not a date-time: {t}"
                ),
                _ => {}
            }
            if let Some(e) = s["enum"].as_array() {
                assert!(e.contains(v), "{at}: {v} not in {e:?}");
            }
        }
        Some("integer") => assert!(v.is_i64() || v.is_u64(), "{at}: expected integer, got {v}"),
        Some("number") => assert!(v.is_number(), "{at}: expected number, got {v}"),
        Some("boolean") => assert!(v.is_boolean(), "{at}: expected boolean, got {v}"),
        other => panic!("{at}: schema type {other:?} not handled"),
    }
}

#[tokio::test]
async fn every_openapi_operation_answers_200_with_the_documented_schema() {
    let spec = spec();
    let sims = start(fast_cfg()).await;
    let api = Api::new(&sims).await;
    let (hook_url, _rx) = receiver(0).await;
    let pid = api.provisioner().await;

    // Writes first (in dependency order), then every read, each once.
    let (s, webhook) = api
        .call(
            "POST",
            &format!("/v2/provisioners/{pid}/webhooks"),
            Some(json!({"url": hook_url, "sharedSecret": {"header": "X-Vendor-Secret"}})),
        )
        .await;
    assert_eq!(s, 200, "{webhook}");
    let wid = webhook["id"].as_str().unwrap().to_owned();
    let (s, event) = api
        .call(
            "POST",
            "/v2/provision-simulations/order-events",
            Some(full_order_event()),
        )
        .await;
    assert_eq!(s, 200, "{event}");
    let rid = event["provisionRequest"]["id"].as_str().unwrap().to_owned();
    let did = event["provisionDetail"]["id"].as_str().unwrap().to_owned();
    let (s, attempt) = api
        .call(
            "POST",
            &format!("/v2/provision-requests/{rid}/attempts"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{attempt}");
    let aid = attempt["id"].as_str().unwrap().to_owned();
    let (s, result) = api
        .call(
            "POST",
            &format!("/v2/provision-requests/{rid}/results"),
            Some(full_result(&aid)),
        )
        .await;
    assert_eq!(s, 200, "{result}");
    let xid = result["id"].as_str().unwrap().to_owned();
    let mut answers = vec![
        ("createWebhookForProvisioner", webhook),
        ("createOrderEvent", event),
        ("createAttemptForRequest", attempt),
        ("createProvisionResult", result),
    ];
    let reads = [
        ("getAllProvisioners", "/v2/provisioners".to_owned()),
        ("getOneProvisioner", format!("/v2/provisioners/{pid}")),
        (
            "getAllWebhooksForProvisioner",
            format!("/v2/provisioners/{pid}/webhooks"),
        ),
        (
            "getOneWebhookForProvisioner",
            format!("/v2/provisioners/{pid}/webhooks/{wid}"),
        ),
        (
            "getLatestWebhookForProvisioner",
            format!("/v2/provisioners/{pid}/webhooks/latest"),
        ),
        (
            "getAllProvisionRequests",
            "/v2/provision-requests".to_owned(),
        ),
        (
            "getAllUnfulfilledProvisionRequests",
            "/v2/provision-requests/unfulfilled".to_owned(),
        ),
        (
            "getOneProvisionRequest",
            format!("/v2/provision-requests/{rid}"),
        ),
        (
            "getAllProvisionDetails",
            format!("/v2/provision-requests/{rid}/details"),
        ),
        (
            "getOneProvisionDetail",
            format!("/v2/provision-requests/{rid}/details/{did}"),
        ),
        (
            "getLatestProvisionDetail",
            format!("/v2/provision-requests/{rid}/details/latest"),
        ),
        (
            "getAllProvisionAttempts",
            format!("/v2/provision-requests/{rid}/attempts?provisionDetailId={did}"),
        ),
        (
            "getOneProvisionAttempt",
            format!("/v2/provision-requests/{rid}/attempts/{aid}"),
        ),
        (
            "getLatestProvisionAttempt",
            format!("/v2/provision-requests/{rid}/attempts/latest"),
        ),
        (
            "getAllProvisionResults",
            format!("/v2/provision-requests/{rid}/results?provisionAttemptId={aid}"),
        ),
        (
            "getOneProvisionResult",
            format!("/v2/provision-requests/{rid}/results/{xid}"),
        ),
        (
            "getLatestProvisionResult",
            format!("/v2/provision-requests/{rid}/results/latest"),
        ),
    ];
    for (op, path) in reads {
        answers.push((op, api.get(&path).await));
    }

    let mut documented = BTreeSet::new();
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            documented.insert(id.to_owned());
            let responses = op["responses"].as_object().unwrap();
            assert_eq!(
                responses.keys().collect::<Vec<_>>(),
                ["200"],
                "{method} {path}"
            );
            let schema = &op["responses"]["200"]["content"]["*/*"]["schema"];
            let (_, body) = answers
                .iter()
                .find(|(o, _)| *o == id)
                .unwrap_or_else(|| panic!("{id} not exercised"));
            check(&spec, schema, body, id);
        }
    }
    let exercised: BTreeSet<String> = answers.iter().map(|(o, _)| (*o).to_owned()).collect();
    assert_eq!(documented, exercised);
    // Lists really contain the objects (not just an empty page).
    for (op, body) in &answers {
        if let Some(c) = body.get("content") {
            if *op == "getAllUnfulfilledProvisionRequests" {
                assert_eq!(
                    c,
                    &json!([]),
                    "a result was posted, so nothing is unfulfilled"
                );
            } else {
                assert!(!c.as_array().unwrap().is_empty(), "{op}: empty page");
            }
        }
    }
    sims.stop().await;
}

#[tokio::test]
async fn token_endpoint_checks_credentials_audience_and_grant() {
    let sims = start(SimConfig {
        pax8_token_ttl: Duration::from_secs(1),
        ..fast_cfg()
    })
    .await;
    let url = format!("{}/v1/token", sims.pax8_url());
    let good = json!({"client_id": "dev-client-id", "client_secret": "dev-client-secret", "audience": "api://provisioning", "grant_type": "client_credentials"});
    let r = http().post(&url).json(&good).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert!(v["access_token"].as_str().is_some_and(|t| t.len() > 20));
    assert_eq!(v["expires_in"], 1);
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
