//! NNO provisioning simulator over real HTTP: every kind of bad input gets the documented error
//! envelope, never a 500.

mod simkit;

use serde_json::{Value, json};
use simkit::nno::*;
use simkit::*;

#[tokio::test]
async fn bad_input_gets_the_envelope_and_never_a_500() {
    let sims = start(cfg(60_000, 0.0)).await;
    let base = sims.nno_url();
    let raw = |path: &'static str, ct: Option<&'static str>, body: &'static str| {
        let mut r = http().post(format!("{base}{P}{path}")).body(body);
        if let Some(ct) = ct {
            r = r.header("Content-Type", ct);
        }
        async move {
            let resp = r.send().await.unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    let (s, v) = raw("/platform", Some("application/json"), "{not json").await;
    assert_eq!(s, 400);
    assert_eq!(assert_nno_envelope(&v)["code"], "INVALID_JSON");
    let (s, v) = raw("/platform", Some("application/json"), "[1,2]").await;
    assert_eq!(s, 400);
    assert_nno_envelope(&v);
    let (s, v) = raw(
        "/platform",
        Some("application/x-www-form-urlencoded"),
        "platformId=p",
    )
    .await;
    assert_eq!(s, 415);
    assert_nno_envelope(&v);
    let (s, v) = raw("/platform", None, "").await;
    assert_eq!(s, 415, "{v}");

    let cases = [
        (
            "/platform",
            json!({}),
            vec!["platformId", "planTier", "billingEmail"],
        ),
        (
            "/platform",
            json!({"platformId": 7, "planTier": "", "billingEmail": "not-an-email", "environment": "qa"}),
            vec!["platformId", "planTier", "billingEmail", "environment"],
        ),
        (
            "/feature/activate",
            json!({"platformId": "p", "entityId": "e", "featureId": "f", "featureVersion": "1"}),
            vec!["environment"],
        ),
        (
            "/feature/deactivate",
            json!({"platformId": "p", "entityId": "e", "featureId": "f", "environment": "dev", "deleteData": "yes"}),
            vec!["deleteData"],
        ),
        (
            "/stack/activate",
            json!({"platformId": "p", "stackId": "s"}),
            vec!["stackVersion"],
        ),
        (
            "/stack/deactivate",
            json!({"platformId": "p", "stackInstanceId": null}),
            vec!["stackInstanceId"],
        ),
        (
            "/onboard",
            json!({"onboardingId": "o", "platformName": "n", "slug": "s", "userId": "u", "tier": "huge", "billingEmail": "x@"}),
            vec!["tier", "billingEmail"],
        ),
        (
            "/app/create",
            json!({"platformId": "p", "stackId": "s", "appName": "Bad_Name", "appType": "lambda"}),
            vec!["appName", "appType"],
        ),
        (
            "/domain/add",
            json!({"platformId": "p", "customHostname": "a.example.com"}),
            vec!["targetDnsRecordId"],
        ),
        (
            "/platform/deprovision",
            json!({"platformId": ""}),
            vec!["platformId"],
        ),
        (
            "/auth/upgrade",
            json!({"platformId": ["p"]}),
            vec!["platformId"],
        ),
    ];
    for (path, body, fields) in cases {
        let (s, v) = post(base, path, body.clone()).await;
        assert_eq!(s, 400, "{path} {body}: {v}");
        let e = assert_nno_envelope(&v);
        assert_eq!(e["code"], "VALIDATION_ERROR");
        let paths: Vec<&str> = e["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["path"].as_str().unwrap())
            .collect();
        assert_eq!(paths, fields, "{path} {body}");
    }
    let (s, v) = post(
        base,
        "/stack/activate",
        json!({"platformId": "p", "stackId": "s", "stackVersion": "1", "unknownField": true}),
    )
    .await;
    assert_eq!(s, 202, "unknown fields are ignored: {v}");
    let (s, v) = get(base, "/no/such/route").await;
    assert_eq!(s, 404);
    assert_nno_envelope(&v);
    let r = http()
        .delete(format!("{base}{P}/jobs"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_nno_envelope(&r.json().await.unwrap());
    assert_eq!(counts(base).await["jobs"], 1, "nothing invalid was queued");
    let v = get_json(&format!("{base}/_sim/requests")).await;
    assert!(
        v["requests"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"].as_u64().unwrap() < 500),
        "{v}"
    );
    sims.stop().await;
}
