//! One valid request per operation of the Pax8 OpenAPI document against the simulator: the
//! documented status and every documented response field with its type, format and enum.

mod simkit;

use std::collections::BTreeSet;

use serde_json::{Value, json};
use simkit::pax8::*;
use simkit::*;

fn spec() -> Value {
    serde_json::from_str(include_str!(
        "fixtures/pax8-vendor-provisioning-openapi.json"
    ))
    .unwrap()
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
