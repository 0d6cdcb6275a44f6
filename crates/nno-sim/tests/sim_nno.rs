//! NNO provisioning simulator over real HTTP: job life cycle, DLQ, operator actions,
//! pagination, auth, defaults, introspection and the state file (bad input: sim_nno_validation.rs).

mod simkit;

use nno_sim::{SimConfig, Simulators};
use serde_json::{Value, json};
use simkit::nno::*;
use simkit::*;

#[tokio::test]
async fn jobs_run_to_completion_and_stack_activation_yields_an_instance() {
    let sims = start(cfg(300, 0.0)).await;
    let base = sims.nno_url();
    let (s, v) = post(
        base,
        "/stack/activate",
        json!({"platformId": "p1", "stackId": "crm", "stackVersion": "1.2.0"}),
    )
    .await;
    assert_eq!(s, 202);
    assert_eq!(v["status"], "QUEUED");
    let id = v["jobId"].as_str().unwrap();
    // Poll and record what is seen: the order must be QUEUED → RUNNING → COMPLETED (a loaded
    // machine may skip observing a phase, never reorder them).
    let order = ["QUEUED", "RUNNING", "COMPLETED"];
    let mut seen: Vec<String> = Vec::new();
    let deadline = std::time::Instant::now() + WAIT;
    while seen.last().map(String::as_str) != Some("COMPLETED") {
        assert!(
            std::time::Instant::now() < deadline,
            "no completion: {seen:?}"
        );
        let (_, v) = get(base, &format!("/jobs/{id}")).await;
        let st = v["status"].as_str().unwrap().to_owned();
        if seen.last() != Some(&st) {
            seen.push(st);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let ranks: Vec<usize> = seen
        .iter()
        .map(|s| order.iter().position(|o| o == s).unwrap())
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    let done = wait_status(base, id, "COMPLETED").await;
    assert_eq!(done["jobId"], id);
    assert_eq!(done["type"], "stack.activate");
    assert_eq!(done["platformId"], "p1");
    assert_eq!(done["attempts"], 1);
    assert!(done["reason"].is_null());
    assert!(
        done["result"]["stackInstanceId"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{done}"
    );
    assert_eq!(
        done["payload"]["environment"], "prod",
        "default environment applied"
    );
    let at = |k: &str| chrono::DateTime::parse_from_rfc3339(done[k].as_str().unwrap()).unwrap();
    // Transitions happen on schedule (half the delay each), however late they are observed.
    assert_eq!((at("startedAt") - at("createdAt")).num_milliseconds(), 150);
    assert_eq!(
        (at("completedAt") - at("startedAt")).num_milliseconds(),
        150
    );
    assert_eq!(at("updatedAt"), at("completedAt"));
    sims.stop().await;
}

#[tokio::test]
async fn failed_jobs_land_in_the_dlq_and_retry_or_replay_requeue_them() {
    let sims = start(cfg(0, 1.0)).await;
    let base = sims.nno_url();
    let a = new_job(base, "pa").await;
    let b = new_job(base, "pb").await;
    let failed = wait_status(base, &a, "FAILED").await;
    assert!(
        failed["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{failed}"
    );
    wait_status(base, &b, "FAILED").await;
    let (s, dlq) = get(base, "/dlq").await;
    assert_eq!(s, 200);
    assert_eq!(dlq["data"].as_array().unwrap().len(), 2, "{dlq}");
    let entry_a = dlq["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["jobId"] == a.as_str())
        .unwrap();
    assert!(entry_a["reason"].is_string());

    // Replay re-queues the job and removes the entry; it fails again (rate 1) with 2 attempts.
    let entry = entry_a["entryId"].as_str().unwrap().to_owned();
    let (s, v) = post_empty(base, &format!("/dlq/{entry}/replay")).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v, json!({"jobId": a, "status": "QUEUED", "entryId": entry}));
    let (s, _) = post_empty(base, &format!("/dlq/{entry}/replay")).await;
    assert_eq!(s, 404, "an entry is replayed once");
    let again = eventually(WAIT, "second failure", || async {
        let (_, v) = get(base, &format!("/jobs/{a}")).await;
        (v["status"] == "FAILED" && v["attempts"] == 2).then_some(v)
    })
    .await;
    assert_eq!(again["attempts"], 2);

    // Retry of b removes its DLQ entry; force-complete ends the story.
    let (s, v) = post_empty(base, &format!("/jobs/{b}/retry")).await;
    assert_eq!((s, v["status"].as_str()), (202, Some("QUEUED")));
    wait_status(base, &b, "FAILED").await;
    let (s, v) = post_empty(base, &format!("/jobs/{b}/force-complete")).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("COMPLETED")));
    let (_, dlq) = get(base, "/dlq").await;
    assert!(
        dlq["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["jobId"] != b.as_str()),
        "{dlq}"
    );
    let c = counts(base).await;
    assert_eq!(c["jobs"], 2);
    assert_eq!(c["jobsCompleted"], 1);
    sims.stop().await;
}

#[tokio::test]
async fn operator_actions_in_the_wrong_state_are_conflicts() {
    let sims = start(cfg(60_000, 0.0)).await;
    let base = sims.nno_url();
    let job = new_job(base, "p").await;
    let (s, v) = post_empty(base, &format!("/jobs/{job}/retry")).await;
    assert_eq!(s, 409);
    assert_eq!(assert_nno_envelope(&v)["code"], "INVALID_JOB_STATE");
    let (s, v) = post_empty(base, &format!("/jobs/{job}/cancel")).await;
    assert_eq!(s, 200);
    assert_eq!(v["status"], "FAILED");
    assert_eq!(v["reason"], "Cancelled by operator");
    let (s, v) = post_empty(base, &format!("/jobs/{job}/cancel")).await;
    assert_eq!(s, 409, "{v}");
    assert_nno_envelope(&v);
    let (_, dlq) = get(base, "/dlq").await;
    assert_eq!(
        dlq["data"],
        json!([]),
        "a cancelled job is not dead-lettered"
    );
    let (s, _) = post_empty(base, &format!("/jobs/{job}/force-complete")).await;
    assert_eq!(s, 200);
    let (s, v) = post_empty(base, &format!("/jobs/{job}/force-complete")).await;
    assert_eq!(s, 409);
    assert!(
        assert_nno_envelope(&v)["message"]
            .as_str()
            .unwrap()
            .contains("COMPLETED")
    );
    let (_, v) = get(base, &format!("/jobs/{job}")).await;
    assert_eq!(v["status"], "COMPLETED");
    assert!(v["result"].is_object());
    for path in [
        "/jobs/nope/retry",
        "/jobs/nope/cancel",
        "/jobs/nope/force-complete",
        "/dlq/nope/replay",
    ] {
        let (s, v) = post_empty(base, path).await;
        assert_eq!(s, 404, "{path}");
        assert_eq!(assert_nno_envelope(&v)["code"], "NOT_FOUND");
    }
    let (s, v) = get(base, "/jobs/nope").await;
    assert_eq!(s, 404);
    assert!(
        assert_nno_envelope(&v)["message"]
            .as_str()
            .unwrap()
            .contains("nope")
    );
    sims.stop().await;
}

#[tokio::test]
async fn job_list_filters_and_follows_cursors() {
    let sims = start(cfg(60_000, 0.0)).await;
    let base = sims.nno_url();
    let mut p1 = Vec::new();
    for _ in 0..5 {
        p1.push(new_job(base, "p1").await);
    }
    for _ in 0..3 {
        new_job(base, "p2").await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &cursor {
            Some(c) => format!("/jobs?platformId=p1&limit=2&cursor={c}"),
            None => "/jobs?platformId=p1&limit=2".to_owned(),
        };
        let (s, v) = get(base, &q).await;
        assert_eq!(s, 200, "{v}");
        let data = v["data"].as_array().unwrap();
        assert_eq!(v["pagination"]["limit"], 2);
        assert_eq!(v["pagination"]["count"], data.len());
        assert_eq!(v["pagination"]["cursor"].as_str(), cursor.as_deref());
        seen.extend(data.iter().map(|j| j["jobId"].as_str().unwrap().to_owned()));
        pages += 1;
        match v["pagination"]["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    p1.reverse();
    assert_eq!(seen, p1, "newest first, each job once");
    let (_, v) = get(base, "/jobs?status=QUEUED").await;
    assert_eq!(v["data"].as_array().unwrap().len(), 8);
    let (_, v) = get(base, "/jobs?status=COMPLETED").await;
    assert_eq!(v["data"], json!([]));
    for bad in [
        "/jobs?limit=0",
        "/jobs?limit=abc",
        "/jobs?limit=101",
        "/jobs?status=DONE",
        "/jobs?cursor=%%%",
        "/dlq?limit=-1",
    ] {
        let (s, v) = get(base, bad).await;
        assert_eq!(s, 400, "{bad}: {v}");
        assert_nno_envelope(&v);
    }
    sims.stop().await;
}

#[tokio::test]
async fn bearer_token_is_required_when_configured() {
    let sims = start(SimConfig {
        nno_token: Some("s3cret-token".into()),
        ..cfg(60_000, 0.0)
    })
    .await;
    let base = sims.nno_url();
    let body = json!({"platformId": "p"});
    let (s, v) = post(base, "/auth/upgrade", body.clone()).await;
    assert_eq!(s, 401);
    assert_eq!(assert_nno_envelope(&v)["code"], "UNAUTHORIZED");
    let r = http()
        .get(format!("{base}{P}/jobs"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http()
        .post(format!("{base}{P}/auth/upgrade"))
        .bearer_auth("s3cret-token")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["platformId"], "p");
    assert!(v["jobId"].is_string());
    assert_eq!(
        counts(base).await["jobs"],
        1,
        "introspection needs no token"
    );
    sims.stop().await;
}

#[tokio::test]
async fn documented_defaults_are_applied() {
    let sims = start(cfg(60_000, 0.0)).await;
    let base = sims.nno_url();
    let ops = [
        (
            "/onboard",
            json!({"onboardingId": "o", "platformName": "n", "slug": "acme", "userId": "u"}),
            "tier",
            json!("starter"),
        ),
        (
            "/feature/deactivate",
            json!({"platformId": "p", "entityId": "e", "featureId": "f", "environment": "stg"}),
            "deleteData",
            json!(false),
        ),
        (
            "/app/create",
            json!({"platformId": "p", "stackId": "s", "appName": "shop-1", "appType": "svc"}),
            "withDatabase",
            json!(false),
        ),
        (
            "/platform/deprovision",
            json!({"platformId": "p"}),
            "environment",
            json!("prod"),
        ),
        (
            "/onboard",
            json!({"onboardingId": "o", "platformName": "n", "slug": "acme", "userId": "u", "stackTemplateId": null}),
            "stackTemplateId",
            Value::Null,
        ),
    ];
    for (path, body, field, expected) in ops {
        let (s, v) = post(base, path, body).await;
        assert_eq!(s, 202, "{path}: {v}");
        let (_, job) = get(base, &format!("/jobs/{}", v["jobId"].as_str().unwrap())).await;
        assert_eq!(job["payload"][field], expected, "{path}: {job}");
    }
    sims.stop().await;
}

#[tokio::test]
async fn introspection_counts_by_template_and_reset_clears() {
    let sims = start(cfg(60_000, 0.0)).await;
    let base = sims.nno_url();
    let job = new_job(base, "p").await;
    get(base, &format!("/jobs/{job}")).await;
    get(base, "/jobs/missing").await;
    assert_eq!(
        served(base, "GET", "/api/v1/provision/jobs/{jobId}", Some(200)).await,
        1
    );
    assert_eq!(
        served(base, "GET", "/api/v1/provision/jobs/{jobId}", Some(404)).await,
        1
    );
    assert_eq!(
        served(base, "POST", "/api/v1/provision/platform", Some(202)).await,
        1
    );
    let c = counts(base).await;
    assert_eq!(
        (
            c["jobs"].as_u64(),
            c["jobsQueued"].as_u64(),
            c["dlq"].as_u64()
        ),
        (Some(1), Some(1), Some(0))
    );
    reset(base).await;
    assert_eq!(counts(base).await["jobs"], 0);
    assert_eq!(
        served(base, "POST", "/api/v1/provision/platform", None).await,
        0
    );
    let (s, _) = get(base, &format!("/jobs/{job}")).await;
    assert_eq!(s, 404);
    sims.stop().await;
}

#[tokio::test]
async fn state_file_keeps_jobs_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sim-state.json");
    let config = SimConfig {
        state_file: Some(file.clone()),
        ..cfg(0, 0.0)
    };
    let sims = start(config.clone()).await;
    let job = new_job(sims.nno_url(), "persisted").await;
    wait_status(sims.nno_url(), &job, "COMPLETED").await;
    // Saved while running, not only at shutdown.
    eventually(WAIT, "the state file to hold the completed job", || async {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        (text.contains(&job) && text.contains("COMPLETED")).then_some(())
    })
    .await;
    sims.stop().await;
    let saved: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(saved["nno"].is_object() && saved["pax8"].is_object() && saved["threenv"].is_object());
    let sims = Simulators::start(config).await.unwrap();
    let (s, v) = get(sims.nno_url(), &format!("/jobs/{job}")).await;
    assert_eq!(s, 200);
    assert_eq!(v["status"], "COMPLETED");
    assert_eq!(v["platformId"], "persisted");
    sims.stop().await;
}

#[tokio::test]
async fn a_seed_makes_ids_reproducible() {
    let mut ids = Vec::new();
    for _ in 0..2 {
        let sims = start(SimConfig {
            seed: Some(42),
            ..cfg(60_000, 0.0)
        })
        .await;
        ids.push((
            new_job(sims.nno_url(), "a").await,
            new_job(sims.nno_url(), "b").await,
        ));
        sims.stop().await;
    }
    assert_eq!(ids[0], ids[1]);
    assert_ne!(ids[0].0, ids[0].1);
}

#[tokio::test]
async fn invalid_settings_are_refused() {
    let e = Simulators::start(cfg(0, 1.5)).await.unwrap_err();
    assert!(e.to_string().contains("job failure rate"), "{e}");
    let mut bad = cfg(0, 0.0);
    bad.faults.error_rate = 2.0;
    let e = Simulators::start(bad).await.unwrap_err();
    assert!(e.to_string().contains("error_rate"), "{e}");
    let sims = start_default().await;
    let r = http()
        .put(format!("{}/_sim/faults", sims.nno_url()))
        .json(&json!({"throttle_rate": 0.7, "error_rate": 0.7}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = http()
        .put(format!("{}/_sim/faults", sims.nno_url()))
        .json(&json!({"no_such_knob": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let f = get_json(&format!("{}/_sim/faults", sims.nno_url())).await;
    assert_eq!(f["error_rate"], 0.0, "refused settings are not applied");
    sims.stop().await;
}

#[tokio::test]
async fn scripted_failures_fail_the_first_attempts_of_matching_jobs_only() {
    let sims = start(cfg(100, 0.0)).await;
    let base = sims.nno_url();
    let r = http()
        .put(format!("{base}/_sim/nno/job-failures"))
        .json(&json!({"rules": [{"type": "platform.provision", "payload": {"platformId": "pf"}, "failAttempts": 2, "reason": "quota exceeded"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let bad = http()
        .put(format!("{base}/_sim/nno/job-failures"))
        .json(&json!({"rules": [{"failAttempts": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let ok = new_job(base, "pok").await;
    let failing = new_job(base, "pf").await;
    assert_eq!(wait_status(base, &ok, "COMPLETED").await["attempts"], 1);
    for attempt in 1..=2 {
        let v = wait_status(base, &failing, "FAILED").await;
        assert_eq!(v["attempts"], attempt);
        assert_eq!(v["reason"], "quota exceeded");
        let (s, _) = post_empty(base, &format!("/jobs/{failing}/retry")).await;
        assert_eq!(s, 202);
    }
    assert_eq!(
        wait_status(base, &failing, "COMPLETED").await["attempts"],
        3
    );
    let rules = get_json(&format!("{base}/_sim/nno/job-failures")).await;
    assert_eq!(rules["rules"][0]["failAttempts"], 2);
    sims.stop().await;
}
