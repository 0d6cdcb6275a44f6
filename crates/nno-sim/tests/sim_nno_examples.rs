//! Replays every curl example of the NNO provisioning reference against the simulator and
//! checks the status and that every documented response field is present with its type.

mod simkit;

use serde_json::Value;
use simkit::nno::*;
use simkit::*;

fn conforms(doc: &Value, actual: &Value, at: &str) -> Result<(), String> {
    let bad = |what: &str| Err(format!("{at}: expected {what}, got {actual}"));
    // A cursor that does not exist (first page / last page) is null rather than a made-up string.
    let nullable = at.ends_with(".cursor") || at.ends_with(".nextCursor");
    match doc {
        Value::Null => Ok(()),
        Value::String(_) if nullable && actual.is_null() => Ok(()),
        Value::Bool(_) if actual.is_boolean() => Ok(()),
        Value::Number(_) if actual.is_number() => Ok(()),
        Value::String(_) if actual.is_string() => Ok(()),
        Value::Array(items) => {
            let Some(arr) = actual.as_array() else {
                return bad("array");
            };
            if let Some(first) = items.first() {
                for (i, a) in arr.iter().enumerate() {
                    conforms(first, a, &format!("{at}[{i}]"))?;
                }
            }
            Ok(())
        }
        Value::Object(fields) => {
            let Some(obj) = actual.as_object() else {
                return bad("object");
            };
            // `property1`/`property2` is how the reference shows a free-form object.
            if fields.contains_key("property1") {
                return Ok(());
            }
            for (k, d) in fields {
                let Some(a) = obj.get(k) else {
                    return Err(format!("{at}.{k}: missing in {actual}"));
                };
                conforms(d, a, &format!("{at}.{k}"))?;
            }
            Ok(())
        }
        Value::Bool(_) => bad("boolean"),
        Value::Number(_) => bad("number"),
        Value::String(_) => bad("string"),
    }
}

struct Example {
    method: String,
    path: String,
    body: Option<Value>,
    response: Value,
}

/// Every curl example of the reference with the response documented right after it.
fn examples() -> Vec<Example> {
    let text = include_str!("fixtures/nno-provisioning-api.txt");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("curl -X ") {
        let line_end = rest[i..].find('\n').map_or(rest.len(), |e| i + e);
        let line = &rest[i..line_end];
        let method = line[8..].split_whitespace().next().unwrap().to_owned();
        let url = line.split('"').nth(1).unwrap();
        let path = url
            .strip_prefix("https://provisioning.svc.nno.app")
            .unwrap()
            .to_owned();
        let body = line.split_once("-d '").map(|(_, b)| {
            let raw = b.trim_end().trim_end_matches('\'');
            // The published page obfuscates e-mail addresses; use a real one.
            let raw = raw.replace("[email\u{a0}protected]", "billing@example.com");
            serde_json::from_str(&raw).unwrap()
        });
        let after = &rest[line_end..];
        let response = serde_json::Deserializer::from_str(after)
            .into_iter::<Value>()
            .next()
            .unwrap()
            .unwrap();
        out.push(Example {
            method,
            path,
            body,
            response,
        });
        rest = after;
    }
    out
}

/// The status this simulator answers for each documented operation (the reference names none).
fn expected_status(method: &str, path: &str) -> u16 {
    if method == "GET" || path.ends_with("/cancel") || path.ends_with("/force-complete") {
        200
    } else {
        202
    }
}

#[tokio::test]
async fn every_documented_curl_example_answers_as_documented() {
    let slow = start(cfg(60_000, 0.0)).await;
    let failing = start(cfg(0, 1.0)).await;
    let examples = examples();
    assert_eq!(examples.len(), 17, "the reference has 17 curl examples");
    for ex in &examples {
        let (base, path) = if ex.path.contains("/dlq/string/replay") {
            new_job(failing.nno_url(), "p-dlq").await;
            let entry = first_dlq_entry(failing.nno_url()).await;
            (
                failing.nno_url(),
                ex.path.replace("/string/", &format!("/{entry}/")),
            )
        } else if ex.path.contains("/jobs/string") {
            let job = new_job(slow.nno_url(), "p-ex").await;
            if ex.path.ends_with("/retry") {
                let (s, _) = post_empty(slow.nno_url(), &format!("/jobs/{job}/cancel")).await;
                assert_eq!(s, 200);
            }
            (
                slow.nno_url(),
                ex.path.replace("/jobs/string", &format!("/jobs/{job}")),
            )
        } else {
            (slow.nno_url(), ex.path.clone())
        };
        let url = format!("{base}{path}");
        let mut req = http().request(ex.method.parse().unwrap(), &url);
        if let Some(b) = &ex.body {
            req = req.header("Content-Type", "application/json").json(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            status,
            expected_status(&ex.method, &ex.path),
            "{} {path}: {body}",
            ex.method
        );
        conforms(&ex.response, &body, &format!("{} {path}", ex.method)).unwrap();
        if let Some(s) = ex.response.get("status") {
            assert_eq!(&body["status"], s, "{} {path}", ex.method);
        }
    }
    slow.stop().await;
    failing.stop().await;
}
