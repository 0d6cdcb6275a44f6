//! The NNO client against the simulator: every method, typed errors, bearer auth.

use crate::simkit;

use std::time::Duration;

use nno_operator::cloud::nno::*;
use nno_operator::cloud::{ApiError, Secret};
use nno_sim::SimConfig;
use simkit::*;

fn cfg(delay_ms: u64, failure_rate: f64) -> SimConfig {
    SimConfig {
        provision_delay: Duration::from_millis(delay_ms),
        job_failure_rate: failure_rate,
        ..SimConfig::default()
    }
}

async fn wait_job(c: &NnoClient, id: &str, status: JobStatus) -> Job {
    eventually(WAIT, status.as_str(), || async {
        let j = c.get_job(id).await.unwrap();
        (j.status == status).then_some(j)
    })
    .await
}

fn platform(id: &str) -> ProvisionPlatform {
    ProvisionPlatform {
        platform_id: id.into(),
        plan_tier: "growth".into(),
        billing_email: "billing@example.com".into(),
        default_entity_id: None,
        environment: Some(Environment::Stg),
    }
}

#[tokio::test]
async fn every_job_creating_operation_runs_to_completion() {
    let sims = start(cfg(100, 0.0)).await;
    let c = NnoClient::new(sims.nno_url(), None).unwrap();
    let mut ids = vec![c.provision_platform(&platform("acme")).await.unwrap()];
    ids.push(
        c.activate_feature(&ActivateFeature {
            platform_id: "acme".into(),
            entity_id: "e1".into(),
            feature_id: "crm".into(),
            feature_version: "2.0.0".into(),
            environment: Environment::Prod,
        })
        .await
        .unwrap(),
    );
    ids.push(
        c.deactivate_feature(&DeactivateFeature {
            platform_id: "acme".into(),
            entity_id: "e1".into(),
            feature_id: "old".into(),
            environment: Environment::Dev,
            delete_data: Some(true),
        })
        .await
        .unwrap(),
    );
    ids.push(
        c.onboard(&Onboard {
            onboarding_id: "o1".into(),
            platform_name: "Acme".into(),
            slug: "acme".into(),
            stack_template_id: None,
            tier: Some(Tier::Growth),
            user_id: "u1".into(),
            billing_email: Some("a@example.com".into()),
        })
        .await
        .unwrap(),
    );
    ids.push(
        c.create_app(&CreateApp {
            platform_id: "acme".into(),
            stack_id: "s1".into(),
            app_name: "shop-api".into(),
            app_type: AppType::Fullstack,
            with_database: Some(true),
        })
        .await
        .unwrap(),
    );
    ids.push(
        c.add_domain(&AddDomain {
            platform_id: "acme".into(),
            custom_hostname: "shop.acme.com".into(),
            target_dns_record_id: "dns1".into(),
        })
        .await
        .unwrap(),
    );
    ids.push(
        c.deprovision_platform(&DeprovisionPlatform {
            platform_id: "old".into(),
            environment: None,
        })
        .await
        .unwrap(),
    );
    let stack = c
        .activate_stack(&ActivateStack {
            platform_id: "acme".into(),
            stack_id: "crm".into(),
            stack_version: "1.0.0".into(),
            entity_id: None,
            environment: Some(Environment::Prod),
        })
        .await
        .unwrap();
    assert_eq!(stack.status, JobStatus::Queued);
    for a in &ids {
        assert_eq!(a.status, JobStatus::Queued);
    }
    let upgrade = c.upgrade_auth("acme").await.unwrap();
    assert_eq!(upgrade.platform_id.as_deref(), Some("acme"));

    let done = wait_job(&c, &stack.job_id, JobStatus::Completed).await;
    let instance = done
        .stack_instance_id()
        .expect("stackInstanceId")
        .to_owned();
    assert_eq!(done.kind.as_deref(), Some("stack.activate"));
    assert_eq!(done.attempts, Some(1));
    let deact = c
        .deactivate_stack(&DeactivateStack {
            platform_id: "acme".into(),
            stack_instance_id: instance.clone(),
            environment: None,
            delete_data: None,
        })
        .await
        .unwrap();
    let d = wait_job(&c, &deact.job_id, JobStatus::Completed).await;
    assert_eq!(d.result.unwrap()["stackInstanceId"], instance.as_str());
    for a in ids.iter().chain([&JobAccepted {
        job_id: upgrade.job_id.clone(),
        status: JobStatus::Queued,
    }]) {
        let j = wait_job(&c, &a.job_id, JobStatus::Completed).await;
        assert!(j.created_at.is_some() && j.updated_at.is_some());
    }
    let platform = c.get_job(&ids[0].job_id).await.unwrap();
    assert_eq!(platform.payload.unwrap()["environment"], "stg");

    // Cursor pagination helper collects every page.
    let all = c
        .list_all_jobs(
            &JobQuery {
                limit: Some(3),
                ..JobQuery::default()
            },
            100,
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 10);
    let page = c
        .list_jobs(&JobQuery {
            limit: Some(3),
            ..JobQuery::default()
        })
        .await
        .unwrap();
    assert_eq!((page.data.len(), page.pagination.count), (3, Some(3)));
    assert!(page.pagination.next_cursor.is_some());
    let acme = c
        .list_all_jobs(
            &JobQuery {
                platform_id: Some("acme".into()),
                status: Some("COMPLETED".into()),
                ..JobQuery::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        acme.len(),
        8,
        "all but onboard (no platformId) and deprovision of `old`"
    );
    sims.stop().await;
}

#[tokio::test]
async fn dlq_retry_replay_cancel_and_force_complete() {
    let failing = start(cfg(0, 1.0)).await;
    let c = NnoClient::new(failing.nno_url(), None).unwrap();
    let mut jobs = Vec::new();
    for p in ["a", "b", "c"] {
        jobs.push(c.provision_platform(&platform(p)).await.unwrap().job_id);
    }
    for j in &jobs {
        let f = wait_job(&c, j, JobStatus::Failed).await;
        assert!(f.reason.is_some());
    }
    let first = c.list_dlq(Some(1), None).await.unwrap();
    assert_eq!(first.data.len(), 1);
    let second = c
        .list_dlq(Some(1), first.pagination.cursor.as_deref())
        .await
        .unwrap();
    assert_eq!(second.data.len(), 1);
    assert_ne!(first.data[0].entry_id, second.data[0].entry_id);
    let all = c.list_all_dlq(10).await.unwrap();
    assert_eq!(all.len(), 3);

    let entry = &all[0];
    let replayed = c.replay_dlq(&entry.entry_id).await.unwrap();
    assert_eq!(replayed.entry_id, entry.entry_id);
    assert_eq!(Some(replayed.job_id.clone()), entry.job_id);
    assert_eq!(replayed.status, JobStatus::Queued);
    let retried = c.retry_job(&jobs[1]).await.unwrap();
    assert_eq!(retried.status, JobStatus::Queued);
    let forced = c.force_complete_job(&jobs[2]).await.unwrap();
    assert_eq!(forced.status, JobStatus::Completed);
    assert_eq!(
        c.get_job(&jobs[2]).await.unwrap().status,
        JobStatus::Completed
    );
    let e = c.replay_dlq(&entry.entry_id).await.unwrap_err();
    assert!(e.is_not_found(), "{e}");
    failing.stop().await;

    let slow = start(cfg(60_000, 0.0)).await;
    let c = NnoClient::new(slow.nno_url(), None).unwrap();
    let id = c.provision_platform(&platform("x")).await.unwrap().job_id;
    let cancelled = c.cancel_job(&id).await.unwrap();
    assert_eq!(cancelled.status, JobStatus::Failed);
    assert_eq!(cancelled.reason.as_deref(), Some("Cancelled by operator"));
    match c.cancel_job(&id).await.unwrap_err() {
        ApiError::Conflict { code, message, .. } => {
            assert_eq!(code.as_deref(), Some("INVALID_JOB_STATE"));
            assert!(message.contains("FAILED"), "{message}");
        }
        e => panic!("expected a conflict, got {e:?}"),
    }
    slow.stop().await;
}

#[tokio::test]
async fn errors_carry_the_api_message_code_and_request_id() {
    let sims = start(cfg(60_000, 0.0)).await;
    let c = NnoClient::new(sims.nno_url(), None).unwrap();
    let e = c.get_job("job_missing").await.unwrap_err();
    assert!(e.is_not_found() && !e.is_transient());
    assert!(e.message().contains("job_missing"));
    let mut bad = platform("p");
    bad.billing_email = "nope".into();
    match c.provision_platform(&bad).await.unwrap_err() {
        ApiError::Rejected {
            status,
            code,
            message,
            request_id,
            ..
        } => {
            assert_eq!(status, 400);
            assert_eq!(code.as_deref(), Some("VALIDATION_ERROR"));
            assert!(message.contains("billingEmail: Invalid email"), "{message}");
            assert!(request_id.is_some_and(|r| r.starts_with("req_")));
        }
        e => panic!("expected a rejection, got {e:?}"),
    }
    let e = c
        .create_app(&CreateApp {
            platform_id: "p".into(),
            stack_id: "s".into(),
            app_name: "-x".into(),
            app_type: AppType::App,
            with_database: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(e.message().contains("appName"));
    sims.stop().await;
}

#[tokio::test]
async fn bearer_token_is_sent_and_never_printed() {
    let sims = start(SimConfig {
        nno_token: Some("tok-very-secret".into()),
        ..cfg(60_000, 0.0)
    })
    .await;
    let anon = NnoClient::new(sims.nno_url(), None).unwrap();
    let e = anon.list_jobs(&JobQuery::default()).await.unwrap_err();
    assert!(e.is_unauthorized(), "{e}");
    assert_eq!(e.message(), "Missing bearer token");
    let wrong = NnoClient::new(sims.nno_url(), Some(Secret::new("other"))).unwrap();
    assert!(wrong.get_job("x").await.unwrap_err().is_unauthorized());
    let c = NnoClient::new(sims.nno_url(), Some(Secret::new("tok-very-secret"))).unwrap();
    let a = c.provision_platform(&platform("p")).await.unwrap();
    assert_eq!(
        c.get_job(&a.job_id).await.unwrap().platform_id.as_deref(),
        Some("p")
    );
    assert!(!format!("{c:?}").contains("tok-very-secret"));
    assert!(
        NnoClient::new("http://127.0.0.1:1/api", None).is_err(),
        "base URL is a root"
    );
    sims.stop().await;
}
