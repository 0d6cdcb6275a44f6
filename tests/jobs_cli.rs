//! `nno-operator jobs …` against the NNO simulator over HTTP: aligned tables with relative
//! times, JSON output, every operator action, and non-zero exits with the API's message.

use std::time::Duration;

use nno_operator::cloud::Secret;
use nno_operator::cloud::nno::{JobStatus, NnoClient, ProvisionPlatform};
use nno_sim::{SimConfig, Simulators};
use nno_support::testing::eventually;
use serde_json::{Value, json};

const TOKEN: &str = "cli-token-123";
const WAIT: Duration = Duration::from_secs(30);

async fn sims(delay_ms: u64) -> Simulators {
    Simulators::start(SimConfig {
        provision_delay: Duration::from_millis(delay_ms),
        nno_token: Some(TOKEN.into()),
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

async fn cli(sims: &Simulators, args: &[&str]) -> Out {
    cli_with_token(sims, Some(TOKEN), args).await
}

async fn cli_with_token(sims: &Simulators, token: Option<&str>, args: &[&str]) -> Out {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_nno-operator"));
    cmd.env_remove("RUST_BACKTRACE");
    cmd.arg("jobs")
        .args(args)
        .args(["--nno-url", sims.nno_url()]);
    cmd.env_remove("NNO_PROVISIONING_TOKEN");
    if let Some(t) = token {
        cmd.env("NNO_PROVISIONING_TOKEN", t);
    }
    let out = nno_support::testing::within(WAIT, "the jobs command", cmd.output())
        .await
        .unwrap();
    Out {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn client(sims: &Simulators) -> NnoClient {
    NnoClient::new(sims.nno_url(), Some(Secret::new(TOKEN))).unwrap()
}

async fn provision(c: &NnoClient, platform: &str) -> String {
    c.provision_platform(&ProvisionPlatform {
        platform_id: platform.into(),
        plan_tier: "growth".into(),
        billing_email: "ops@example.com".into(),
        default_entity_id: None,
        environment: None,
    })
    .await
    .unwrap()
    .job_id
}

async fn wait_status(c: &NnoClient, id: &str, s: JobStatus) {
    eventually(WAIT, &format!("{id} {s:?}"), || async {
        (c.get_job(id).await.ok()?.status == s).then_some(())
    })
    .await
}

#[tokio::test]
async fn list_and_get_as_tables_and_json() {
    let sims = sims(200).await;
    let c = client(&sims);
    let a = provision(&c, "alpha").await;
    let b = provision(&c, "beta").await;
    wait_status(&c, &a, JobStatus::Completed).await;
    wait_status(&c, &b, JobStatus::Completed).await;

    let out = cli(&sims, &["list"]).await;
    assert!(out.ok, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    assert!(lines[0].starts_with("JOB ID"), "{}", lines[0]);
    // Aligned: every column starts at the same offset in every line.
    let col = lines[0].find("STATUS").unwrap();
    for l in &lines[1..] {
        assert_eq!(&l[col..col + 9], "COMPLETED", "{}", out.stdout);
        assert!(l.contains("s ago"), "relative times: {l}");
    }
    assert!(out.stdout.contains(&a) && out.stdout.contains(&b));

    let out = cli(&sims, &["list", "--platform", "alpha", "-o", "json"]).await;
    assert!(out.ok, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 1);
    assert_eq!(arr[0]["jobId"], a.as_str());
    assert_eq!(arr[0]["platformId"], "alpha");

    let out = cli(&sims, &["list", "--status", "failed"]).await;
    assert!(out.ok);
    assert_eq!(out.stdout, "No jobs.\n");

    let out = cli(&sims, &["get", &a]).await;
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!("Job ID:      {a}")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Status:      COMPLETED"));
    assert!(out.stdout.contains("Type:        platform.provision"));
    let out = cli(&sims, &["-o", "json", "get", &a]).await;
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (v["jobId"].as_str(), v["status"].as_str()),
        (Some(a.as_str()), Some("COMPLETED"))
    );
    sims.stop().await;
}

#[tokio::test]
async fn retry_cancel_force_complete_and_the_dlq() {
    let sims = sims(1500).await;
    let c = client(&sims);
    let r = reqwest::Client::new()
        .put(format!("{}/_sim/nno/job-failures", sims.nno_url()))
        .json(&json!({"rules": [{"platformId": "failing", "failAttempts": 1, "reason": "quota exceeded"}]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let queued = provision(&c, "slow").await;
    let out = cli(&sims, &["cancel", &queued]).await;
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("cancelled: FAILED (Cancelled by operator)"),
        "{}",
        out.stdout
    );
    let out = cli(&sims, &["force-complete", &queued, "-o", "json"]).await;
    assert!(out.ok, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["status"], "COMPLETED");

    let failing = provision(&c, "failing").await;
    wait_status(&c, &failing, JobStatus::Failed).await;
    let out = cli(&sims, &["dlq", "list"]).await;
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stdout.starts_with("ENTRY ID"), "{}", out.stdout);
    assert!(out.stdout.contains("quota exceeded") && out.stdout.contains(&failing));
    let json_out = cli(&sims, &["dlq", "list", "-o", "json"]).await;
    let entries: Value = serde_json::from_str(&json_out.stdout).unwrap();
    let entry = entries[0]["entryId"].as_str().unwrap().to_owned();
    let out = cli(&sims, &["dlq", "replay", &entry]).await;
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!("job {failing} QUEUED")),
        "{}",
        out.stdout
    );
    let out = cli(&sims, &["dlq", "list"]).await;
    assert_eq!(out.stdout, "The dead-letter queue is empty.\n");
    wait_status(&c, &failing, JobStatus::Completed).await;

    // Retry of a job that is not FAILED: the API's own message, non-zero exit.
    let out = cli(&sims, &["retry", &failing]).await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("only FAILED jobs can be retried"),
        "{}",
        out.stderr
    );
    let failing2 = provision(&c, "failing").await;
    wait_status(&c, &failing2, JobStatus::Failed).await;
    let out = cli(&sims, &["retry", &failing2]).await;
    assert!(out.ok, "{}", out.stderr);
    assert_eq!(out.stdout, format!("job {failing2} re-queued: QUEUED\n"));
    sims.stop().await;
}

#[tokio::test]
async fn failures_exit_non_zero_with_the_api_message() {
    let sims = sims(200).await;
    let out = cli(&sims, &["get", "job_nope"]).await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("Job not found: job_nope"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
    let out = cli(&sims, &["dlq", "replay", "dlq_nope"]).await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("DLQ entry not found: dlq_nope"),
        "{}",
        out.stderr
    );
    let out = cli_with_token(&sims, None, &["list"]).await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("Missing bearer token"),
        "{}",
        out.stderr
    );
    let out = cli_with_token(&sims, Some("wrong-token"), &["list"]).await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("Invalid bearer token"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("wrong-token"),
        "the token is never printed"
    );
    let out = cli(&sims, &["list", "--status", "PAUSED"]).await;
    assert!(!out.ok);
    assert!(out.stderr.contains("Invalid status"), "{}", out.stderr);
    sims.stop().await;
}

/// `--help` of the binary itself (no API involved).
fn help(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nno-operator"))
        .arg("jobs")
        .args(args)
        .arg("--help")
        .env("NNO_PROVISIONING_TOKEN", "help-token-secret")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?} --help");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn help_explains_every_command_and_flag() {
    let top = help(&[]);
    for (cmd, words) in [
        ("list", "List jobs"),
        ("get", "Show one job"),
        ("retry", "Re-queue a FAILED job"),
        ("cancel", "QUEUED or RUNNING"),
        ("force-complete", "COMPLETED"),
        ("dlq", "dead-letter queue"),
    ] {
        let line = top
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{cmd} ")))
            .unwrap_or_else(|| panic!("{cmd} in\n{top}"));
        assert!(line.contains(words), "{cmd}: {line}");
    }
    for flag in ["--nno-url", "--nno-token", "--output"] {
        assert!(top.contains(flag), "{flag} in\n{top}");
    }
    assert!(top.contains("[env: NNO_PROVISIONING_TOKEN]"), "{top}");
    assert!(
        !top.contains("help-token-secret"),
        "the token is never printed"
    );
    let list = help(&["list"]);
    for (flag, words) in [
        ("--platform <ID>", "platform id"),
        ("--status <S>", "QUEUED, RUNNING, COMPLETED or FAILED"),
        ("--limit <N>", "at most"),
        ("--output <OUTPUT>", "table"),
    ] {
        let at = list
            .find(flag)
            .unwrap_or_else(|| panic!("{flag} in\n{list}"));
        assert!(
            list[at..].lines().take(3).any(|l| l.contains(words)),
            "{flag}: {list}"
        );
    }
    for cmd in ["get", "retry", "cancel", "force-complete"] {
        let h = help(&[cmd]);
        assert!(h.contains("<ID>") && h.contains("The job id"), "{cmd}: {h}");
    }
    let dlq = help(&["dlq"]);
    assert!(dlq.contains("list") && dlq.contains("replay"), "{dlq}");
    let replay = help(&["dlq", "replay"]);
    assert!(
        replay.contains("<ENTRY>") && replay.contains("entry id"),
        "{replay}"
    );
}

#[tokio::test]
async fn a_rejected_call_names_the_request_id() {
    let sims = sims(200).await;
    let out = cli(&sims, &["list", "--status", "PAUSED"]).await;
    assert!(!out.ok);
    assert!(out.stderr.contains("(requestId req_"), "{}", out.stderr);
    assert_eq!(
        out.stderr.matches("Invalid status").count(),
        1,
        "said once: {}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
    sims.stop().await;
}
