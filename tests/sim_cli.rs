//! `nno-operator sim` as a real process: port 0, printed URLs, documented curl examples answered,
//! clean stop on SIGTERM with the state file written.

use std::process::Stdio;
use std::time::Duration;

use nno_support::testing::eventually;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn url_after(line: &str, name: &str) -> Option<String> {
    let rest = line.strip_prefix(&format!("{name}: "))?;
    Some(rest.split_whitespace().next()?.to_owned())
}

#[tokio::test]
async fn sim_binary_answers_and_stops_cleanly_on_ctrl_c() {
    run_sim_and_stop_with("-INT").await;
}

#[tokio::test]
async fn sim_binary_answers_and_stops_cleanly_on_sigterm() {
    run_sim_and_stop_with("-TERM").await;
}

async fn run_sim_and_stop_with(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_nno-operator"))
        .args([
            "sim",
            "--threenv-addr",
            "127.0.0.1:0",
            "--nno-addr",
            "127.0.0.1:0",
            "--pax8-addr",
            "127.0.0.1:0",
            "--provision-delay-ms",
            "100",
            "--nno-token",
            "cli-token",
            "--seed",
            "7",
        ])
        .arg("--state-file")
        .arg(&state)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let read = async {
        let (mut threenv, mut nno, mut pax8) = (None, None, None);
        while threenv.is_none() || nno.is_none() || pax8.is_none() {
            let line = lines.next_line().await.unwrap().expect("sim exited early");
            threenv = threenv.or(url_after(&line, "threenv"));
            nno = nno.or(url_after(&line, "nno"));
            pax8 = pax8.or(url_after(&line, "pax8"));
        }
        (threenv, nno, pax8)
    };
    let (threenv, nno, pax8) = tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("URLs printed");
    let (threenv, nno, pax8) = (threenv.unwrap(), nno.unwrap(), pax8.unwrap());
    for u in [&threenv, &nno, &pax8] {
        assert!(
            u.starts_with("http://127.0.0.1:") && !u.ends_with(":0"),
            "{u}"
        );
    }
    let http = reqwest::Client::new();

    // NNO: the documented "Activate a stack" example, host swapped, with the printed token.
    let r = http
        .post(format!("{nno}/api/v1/provision/stack/activate"))
        .header("Content-Type", "application/json")
        .bearer_auth("cli-token")
        .body(r#"{    "platformId": "string",    "stackId": "string",    "stackVersion": "string"  }"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let job: Value = r.json().await.unwrap();
    assert_eq!(job["status"], "QUEUED");
    let id = job["jobId"].as_str().unwrap();
    let done = eventually(
        Duration::from_secs(60),
        "the stack job to complete",
        || async {
            let v: Value = http
                .get(format!("{nno}/api/v1/provision/jobs/{id}"))
                .bearer_auth("cli-token")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (v["status"] == "COMPLETED").then_some(v)
        },
    )
    .await;
    assert!(done["result"]["stackInstanceId"].is_string());

    // Pax8: token with the printed credentials, then a documented read.
    let tok: Value = http
        .post(format!("{pax8}/v1/token"))
        .json(&json!({"client_id": "dev-client-id", "client_secret": "dev-client-secret", "audience": "api://provisioning", "grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = http
        .get(format!("{pax8}/v2/provisioners"))
        .bearer_auth(tok["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // 3nv.io: the documented "List Locations" example with the printed API key.
    let r = http
        .get(format!("{threenv}/v1/config/locations"))
        .header("apikey", "dev-api-key")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let locs: Value = r.json().await.unwrap();
    assert!(locs.to_string().contains("cyc01"));

    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("stops")
        .unwrap();
    assert!(status.success(), "clean exit on {signal}: {status}");
    let saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert!(
        saved["nno"].to_string().contains(id),
        "the job is in the state file"
    );
}
