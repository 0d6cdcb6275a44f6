//! Platform end to end: devcluster + NNO and 3nv.io simulators + the operator's real `run` code
//! path, over HTTP. Convergence with exactly the expected jobs, retries, giving up and the retry
//! annotation, deletion order, CloudReady, and a SIGKILL in the middle of a job.

use crate::operator_kit;
use crate::platform_kit;

use std::time::Duration;

use kube::api::{DeleteParams, Patch, PatchParams};
use nno_operator::cloud::nno::Job;
use operator_kit::{Env, EnvOptions, WAIT, wait_for};
use platform_kit::*;
use serde_json::{Value, json};

#[tokio::test]
async fn a_full_platform_becomes_ready_and_a_spec_change_converges_with_exactly_the_expected_jobs()
{
    let env = Env::start().await;
    env.secret("acme-3nv-credentials", &[("apiKey", "dev-api-key")])
        .await;
    env.apply(manifest("acme", "acme-prod", everything())).await;
    let p = wait_platform(&env, "acme", "Ready", ready).await;
    let st = p.status.clone().unwrap();
    assert_eq!(st.common.external_id.as_deref(), Some("acme-prod"));
    assert_eq!(format!("{:?}", st.phase), "Some(Ready)");
    assert_eq!(st.features.len(), 2);
    assert!(
        st.features.iter().all(|f| f.state == "Active"),
        "{:?}",
        st.features
    );
    let stack = &st.stacks[0];
    assert_eq!(stack.state, "Active");
    let instance = stack
        .stack_instance_id
        .clone()
        .expect("stack instance id kept");
    assert!(instance.starts_with("si_"), "{instance}");
    assert_eq!(
        (st.apps[0].app_name.as_str(), st.apps[0].state.as_str()),
        ("storefront", "Created")
    );
    assert_eq!(st.domains[0].state, "Added");
    assert_eq!(
        st.auth_worker_revision,
        Some(1),
        "the first revision is the baseline"
    );
    assert_eq!(cond(&p, "CloudReady").unwrap().0, "True");
    assert!(
        st.jobs
            .iter()
            .all(|j| j.status == "COMPLETED" && j.attempts == 1),
        "{:?}",
        st.jobs
    );
    let before = job_types(&env, "acme-prod").await;
    assert_eq!(
        before,
        counts(&[
            ("platform.provision", 1),
            ("feature.activate", 2),
            ("stack.activate", 1),
            ("app.create", 1),
            ("domain.add", 1),
        ])
    );
    // Every job the sim knows is recorded in status, and vice versa.
    let mut sim_ids: Vec<String> = sim_jobs(&env, "acme-prod")
        .await
        .into_iter()
        .map(|j| j.job_id)
        .collect();
    let mut status_ids: Vec<String> = st.jobs.iter().map(|j| j.job_id.clone()).collect();
    sim_ids.sort();
    status_ids.sort();
    assert_eq!(sim_ids, status_ids);

    // Change: drop a feature, bump the stack, add a domain, drop the app, bump the auth worker.
    patch_spec(
        &env,
        "acme",
        json!({
            "features": [{"featureId": "billing", "featureVersion": "1.0.0"}],
            "stacks": [{"stackId": "crm", "stackVersion": "1.1.0"}],
            "apps": [],
            "domains": [
                {"customHostname": "shop.acme.example", "targetDnsRecordId": "rec-1"},
                {"customHostname": "www.acme.example", "targetDnsRecordId": "rec-2"}
            ],
            "authWorker": {"revision": 2},
            "deleteData": true
        }),
    )
    .await;
    let p = wait_platform(&env, "acme", "Ready after the change", ready).await;
    let st = p.status.clone().unwrap();
    let after = job_types(&env, "acme-prod").await;
    assert_eq!(
        diff(&after, &before),
        counts(&[
            ("feature.deactivate", 1),
            ("stack.activate", 1),
            ("stack.deactivate", 1),
            ("domain.add", 1),
            ("auth.upgrade", 1),
        ])
    );
    let deact = sim_jobs(&env, "acme-prod")
        .await
        .into_iter()
        .find(|j| j.kind.as_deref() == Some("stack.deactivate"))
        .unwrap();
    let payload = deact.payload.unwrap();
    assert_eq!(
        payload["stackInstanceId"],
        instance.as_str(),
        "the old instance is deactivated by id"
    );
    assert_eq!(payload["deleteData"], true);
    assert_eq!(st.stacks.len(), 1);
    assert_eq!(st.stacks[0].stack_version, "1.1.0");
    assert_ne!(
        st.stacks[0].stack_instance_id.as_deref(),
        Some(instance.as_str())
    );
    assert_eq!(st.features.len(), 1);
    assert_eq!(st.auth_worker_revision, Some(2));
    let removal = cond(&p, "RemovalNotSupported").expect("app removal reported");
    assert!(removal.2.contains("app storefront"), "{removal:?}");

    // Steady state: nothing more is submitted.
    let settled = job_types(&env, "acme-prod").await;
    patch_spec(
        &env,
        "acme",
        json!({"billingEmail": "billing2@acme.example"}),
    )
    .await;
    wait_platform(&env, "acme", "Ready for the new generation", ready).await;
    assert_eq!(job_types(&env, "acme-prod").await, settled);
    env.stop().await;
}

#[tokio::test]
async fn a_job_failing_twice_then_succeeding_ends_ready_with_its_attempts_recorded() {
    let env = Env::start().await;
    set_failures(
        &env,
        json!([{"type": "domain.add", "failAttempts": 2, "reason": "DNS not ready"}]),
    )
    .await;
    env.apply(manifest(
        "retrying",
        "retrying-prod",
        json!({"domains": [{"customHostname": "a.example", "targetDnsRecordId": "r1"}]}),
    ))
    .await;
    let p = wait_platform(&env, "retrying", "Ready", ready).await;
    let st = p.status.unwrap();
    let job = st
        .jobs
        .iter()
        .find(|j| j.operation == "domain.add")
        .unwrap();
    assert_eq!(
        (job.status.as_str(), job.attempts, job.retries),
        ("COMPLETED", 3, 2),
        "{job:?}"
    );
    assert_eq!(
        job_types(&env, "retrying-prod").await["domain.add"],
        1,
        "retried, never resubmitted"
    );
    assert!(
        st.dead_letters.is_empty(),
        "retries clear the DLQ: {:?}",
        st.dead_letters
    );
    let m = env.metrics().await;
    assert!(
        m.contains(r#"nno_platform_jobs_total{operation="domain.add",result="retried"} 2"#),
        "{m}"
    );
    env.stop().await;
}

#[tokio::test]
async fn past_max_job_retries_is_provisioning_failed_until_the_retry_annotation() {
    let env = Env::start().await;
    set_failures(
        &env,
        json!([{"type": "feature.activate", "failAttempts": 10, "reason": "license server down"}]),
    )
    .await;
    env.apply(manifest(
        "failing",
        "failing-prod",
        json!({"maxJobRetries": 1, "features": [{"featureId": "billing", "featureVersion": "1"}]}),
    ))
    .await;
    let p = wait_platform(&env, "failing", "ProvisioningFailed", |p| {
        cond(p, "Ready").is_some_and(|c| c.1 == "ProvisioningFailed")
    })
    .await;
    let (_, _, msg) = cond(&p, "Ready").unwrap();
    assert!(
        msg.contains("license server down") && msg.contains("nno.app/retry"),
        "{msg}"
    );
    assert!(cond(&p, "Stalled").is_some_and(|c| c.0 == "True"));
    let st = p.status.clone().unwrap();
    let job = st
        .jobs
        .iter()
        .find(|j| j.operation == "feature.activate")
        .unwrap();
    assert_eq!(
        (job.status.as_str(), job.attempts, job.retries),
        ("FAILED", 2, 1)
    );
    let p = wait_platform(&env, "failing", "dead letter shown", |p| {
        p.status
            .as_ref()
            .is_some_and(|s| !s.dead_letters.is_empty())
    })
    .await;
    let dl = &p.status.unwrap().dead_letters[0];
    assert_eq!(
        (dl.job_id.as_str(), dl.operation.as_str()),
        (job.job_id.as_str(), "feature.activate")
    );
    let m = env.metrics().await;
    assert!(m.contains("nno_platform_dead_letters 1"), "{m}");
    // It stays failed: no more retries without a person.
    assert_eq!(
        sim_jobs(&env, "failing-prod")
            .await
            .iter()
            .find(|j| j.kind.as_deref() == Some("feature.activate"))
            .unwrap()
            .attempts,
        Some(2)
    );

    set_failures(&env, json!([])).await;
    platforms(&env)
        .patch(
            "failing",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"nno.app/retry": "1"}}})),
        )
        .await
        .unwrap();
    let p = wait_platform(&env, "failing", "Ready after nno.app/retry", ready).await;
    let st = p.status.unwrap();
    let job = st
        .jobs
        .iter()
        .find(|j| j.operation == "feature.activate")
        .unwrap();
    assert_eq!((job.status.as_str(), job.attempts), ("COMPLETED", 3));
    assert_eq!(st.retry_annotation.as_deref(), Some("1"));
    assert!(st.dead_letters.is_empty());
    assert_eq!(job_types(&env, "failing-prod").await["feature.activate"], 1);
    assert!(env.metrics().await.contains("nno_platform_dead_letters 0"));
    env.stop().await;
}

/// The infrastructure kinds on the runtime, with a manifest of each on Platform `acme`.
fn infrastructure() -> Vec<(&'static str, &'static str, Value)> {
    let obj = |kind: &str, name: &str, spec: Value| json!({"apiVersion": "nno.app/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec});
    vec![
        ("VirtualMachine", "web-1", Env::vm("web-1", json!({}))),
        (
            "Disk",
            "data",
            obj(
                "Disk",
                "data",
                json!({"platformRef": {"name": "acme"}, "sizeGb": 3}),
            ),
        ),
        (
            "Firewall",
            "edge",
            obj(
                "Firewall",
                "edge",
                json!({"platformRef": {"name": "acme"}, "rules": [
                    {"protocol": "tcp", "direction": "inbound", "portStart": 443, "portEnd": 443, "endpointSpecType": "any"}
                ]}),
            ),
        ),
        (
            "LoadBalancer",
            "front",
            obj(
                "LoadBalancer",
                "front",
                json!({"platformRef": {"name": "acme"}, "rules": [{"sourcePort": 80, "targetPort": 8080}]}),
            ),
        ),
    ]
}

#[tokio::test]
async fn deletion_removes_the_infrastructure_first_then_deprovisions() {
    let env = Env::start().await;
    env.platform().await;
    for (_, _, manifest) in infrastructure() {
        env.apply(manifest).await;
    }
    // Another platform's VM in the same namespace is not touched.
    let mut other = Env::vm("other-1", json!({}));
    other["spec"]["platformRef"]["name"] = json!("other");
    env.apply(other).await;
    for (kind, name, _) in infrastructure() {
        wait_kind_ready(&env, kind, name).await;
    }
    wait_platform(&env, "acme", "Ready", ready).await;
    // A finalizer of the test's own keeps the VM around so the wait is observable.
    env.vms()
        .patch(
            "web-1",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"finalizers": ["nno.app/cleanup", "test.example/hold"]}}),
            ),
        )
        .await
        .unwrap();
    platforms(&env)
        .delete("acme", &DeleteParams::default())
        .await
        .unwrap();
    let p = wait_platform(&env, "acme", "waiting for its VM", |p| {
        cond(p, "Ready").is_some_and(|c| c.1 == "DeletingDependents")
    })
    .await;
    assert!(
        cond(&p, "Ready")
            .unwrap()
            .2
            .contains("VirtualMachine/web-1"),
        "{:?}",
        cond(&p, "Ready")
    );
    // Every kind was asked to go and its cloud object is deleted; no deprovision yet.
    wait_for("the infrastructure deleted in 3nv.io", WAIT, || async {
        let c = env.counts().await;
        let n = |k: &str| c.get(k).copied().unwrap_or(0);
        // The other platform's VM stays (it never got a cloud object: its Platform is missing).
        (n("vms") == 0 && n("disks") == 0 && n("firewalls") == 0 && n("load_balancers") == 0)
            .then_some(())
    })
    .await;
    wait_for("Disk, Firewall, LoadBalancer gone", WAIT, || async {
        let mut left = 0;
        for (kind, name, _) in infrastructure().into_iter().skip(1) {
            left += usize::from(exists(&env, kind, name).await);
        }
        (left == 0).then_some(())
    })
    .await;
    assert!(
        !job_types(&env, "acme-prod")
            .await
            .contains_key("platform.deprovision")
    );
    env.vms()
        .patch(
            "web-1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    env.wait_gone("web-1").await;
    wait_for("Platform gone", WAIT, || async {
        matches!(platforms(&env).get_opt("acme").await, Ok(None)).then_some(())
    })
    .await;
    let deprov: Vec<Job> = sim_jobs(&env, "acme-prod")
        .await
        .into_iter()
        .filter(|j| j.kind.as_deref() == Some("platform.deprovision"))
        .collect();
    assert_eq!(deprov.len(), 1);
    assert_eq!(
        deprov[0].status.as_str(),
        "COMPLETED",
        "released only after the job completed"
    );
    assert!(
        exists(&env, "VirtualMachine", "other-1").await,
        "another platform's VM is kept"
    );

    // Orphan: released without a deprovision job.
    env.apply(manifest(
        "kept",
        "kept-prod",
        json!({"deletionPolicy": "Orphan"}),
    ))
    .await;
    wait_platform(&env, "kept", "Ready", ready).await;
    platforms(&env)
        .delete("kept", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("Orphan Platform gone", WAIT, || async {
        matches!(platforms(&env).get_opt("kept").await, Ok(None)).then_some(())
    })
    .await;
    assert_eq!(
        job_types(&env, "kept-prod").await,
        counts(&[("platform.provision", 1)])
    );
    env.stop().await;
}

#[tokio::test]
async fn a_wrong_cloud_credential_shows_cloud_ready_false_on_the_platform() {
    let env = Env::start().await;
    env.secret("bad-creds", &[("apiKey", "not-the-key")]).await;
    env.apply(manifest(
        "broken",
        "broken-prod",
        json!({"cloud": {"credentialsSecretRef": {"name": "bad-creds", "key": "apiKey"}}}),
    ))
    .await;
    let p = wait_platform(&env, "broken", "CloudReady=False", |p| {
        cond(p, "CloudReady").is_some_and(|c| c.0 == "False")
    })
    .await;
    let (_, reason, msg) = cond(&p, "CloudReady").unwrap();
    assert_eq!(reason, "CredentialsRejected", "{msg}");
    assert!(
        msg.contains("bad-creds") && !msg.contains("not-the-key"),
        "{msg}"
    );
    // The NNO side is unaffected.
    wait_platform(&env, "broken", "Ready", ready).await;
    // Fixing the Secret wakes the Platform.
    env.secret("bad-creds", &[("apiKey", "dev-api-key")]).await;
    wait_platform(&env, "broken", "CloudReady=True", |p| {
        cond(p, "CloudReady").is_some_and(|c| c.0 == "True")
    })
    .await;
    // A missing Secret and a missing key are named.
    patch_spec(
        &env,
        "broken",
        json!({"cloud": {"credentialsSecretRef": {"name": "nope", "key": "apiKey"}}}),
    )
    .await;
    wait_platform(&env, "broken", "SecretNotFound", |p| {
        cond(p, "CloudReady").is_some_and(|c| c.1 == "SecretNotFound")
    })
    .await;
    env.stop().await;
}

#[tokio::test]
async fn a_spec_the_operator_cannot_apply_is_invalid_spec_without_jobs() {
    let env = Env::start().await;
    env.apply(
        json!({"apiVersion": "nno.app/v1alpha1", "kind": "Platform", "metadata": {"name": "noent"},
        "spec": {"platformId": "noent-prod", "planTier": "growth", "billingEmail": "b@acme.example",
                 "features": [{"featureId": "billing", "featureVersion": "1"}]}}),
    )
    .await;
    let p = wait_platform(&env, "noent", "InvalidSpec", |p| {
        cond(p, "Ready").is_some_and(|c| c.1 == "InvalidSpec")
    })
    .await;
    assert!(cond(&p, "Ready").unwrap().2.contains("defaultEntityId"));
    assert_eq!(
        job_types(&env, "noent-prod").await,
        counts(&[("platform.provision", 1)])
    );
    patch_spec(&env, "noent", json!({"defaultEntityId": "ent-1"})).await;
    wait_platform(&env, "noent", "Ready after the fix", ready).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_in_the_middle_of_a_job_neither_resubmits_nor_loses_it() {
    let token = "nno-secret-token-4711";
    let env = Env::with(EnvOptions {
        operator: false,
        provision_delay: Duration::from_secs(6),
        nno_token: Some(token.into()),
        ..EnvOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, env.dc.kubeconfig()).unwrap();
    let mut first = spawn_operator(&kubeconfig, &env, token);
    env.apply(manifest("killed", "killed-prod", json!({})))
        .await;
    let p = wait_platform(&env, "killed", "provision job recorded and running", |p| {
        p.status.as_ref().is_some_and(|s| {
            s.jobs
                .iter()
                .any(|j| j.operation == "provision" && j.status == "RUNNING")
        })
    })
    .await;
    let recorded = p.status.unwrap().jobs[0].job_id.clone();
    first.child.kill().unwrap();
    let _ = first.child.wait();
    let sim = sim_jobs(&env, "killed-prod").await;
    assert_eq!(sim.len(), 1);
    assert_eq!(sim[0].status.as_str(), "RUNNING", "killed mid-job");

    let mut second = spawn_operator(&kubeconfig, &env, token);
    let p = wait_platform(&env, "killed", "Ready after the restart", ready).await;
    let st = p.status.unwrap();
    assert_eq!(st.jobs.len(), 1, "{:?}", st.jobs);
    assert_eq!(
        st.jobs[0].job_id, recorded,
        "the restart followed the recorded job"
    );
    let sim = sim_jobs(&env, "killed-prod").await;
    assert_eq!(sim.len(), 1, "never submitted again: {sim:?}");
    assert_eq!(sim[0].status.as_str(), "COMPLETED");
    let _ = second.child.kill();
    let _ = second.child.wait();
    for p in [&first, &second] {
        let lines = p.lines.lock().unwrap();
        assert!(!lines.is_empty());
        assert!(
            lines.iter().all(|l| !l.contains(token)),
            "the token never reaches the logs"
        );
    }
    env.stop().await;
}
