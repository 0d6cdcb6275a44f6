//! Two `nno-operator run` processes against one devcluster: exactly one leads and reconciles;
//! killing it (SIGKILL, no release) hands over once the lease expires, and the new leader converges
//! a VM created after the kill. Also the `run` flag checks and `--help`.

use crate::operator_kit;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use operator_kit::{Env, EnvOptions, WAIT, wait_for};
use serde_json::json;

struct Replica {
    child: Child,
    metrics_url: String,
}

fn spawn(kubeconfig: &std::path::Path, threenv: &str, identity: &str) -> Replica {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nno-operator"))
        .args(["--log-format", "json", "run", "--http-addr", "127.0.0.1:0"])
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--threenv-url", threenv, "--identity", identity])
        .args([
            "--lease-duration",
            "3s",
            "--lease-renew-deadline",
            "2s",
            "--lease-retry-period",
            "300ms",
        ])
        .args([
            "--poll-interval",
            "2s",
            "--transition-poll-interval",
            "200ms",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn nno-operator run");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !sent
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                && v["message"] == "nno-operator running"
            {
                let _ = tx.send(v["addr"].as_str().unwrap_or_default().to_owned());
                sent = true;
            }
        }
    });
    let addr = rx
        .recv_timeout(WAIT)
        .expect("the operator logs its address");
    Replica {
        child,
        metrics_url: format!("http://{addr}/metrics"),
    }
}

async fn metric(r: &Replica, name: &str) -> Option<f64> {
    let text = reqwest::get(&r.metrics_url).await.ok()?.text().await.ok()?;
    let mut total = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ')?;
        if series == name || series.starts_with(&format!("{name}{{")) {
            *total.get_or_insert(0.0) += value.parse::<f64>().ok()?;
        }
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_leads_and_a_killed_leader_hands_over() {
    let env = Env::with(EnvOptions {
        operator: false,
        ..EnvOptions::default()
    })
    .await;
    env.platform().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, env.dc.kubeconfig()).unwrap();
    let threenv = env.sims.threenv_url().to_owned();
    let mut a = spawn(&kubeconfig, &threenv, "replica-a");
    let mut b = spawn(&kubeconfig, &threenv, "replica-b");

    let leader = wait_for("one leader", WAIT, || async {
        let la = metric(&a, "nno_leader").await.unwrap_or(0.0);
        let lb = metric(&b, "nno_leader").await.unwrap_or(0.0);
        match (la as u8, lb as u8) {
            (1, 0) => Some('a'),
            (0, 1) => Some('b'),
            _ => None,
        }
    })
    .await;
    env.apply(Env::vm("lead-1", json!({}))).await;
    env.wait_ready("lead-1").await;
    let (leading, standby) = if leader == 'a' {
        (&mut a, &b)
    } else {
        (&mut b, &a)
    };
    assert_eq!(metric(standby, "nno_leader").await, Some(0.0));
    assert!(
        metric(standby, "nno_reconciles_total").await.unwrap_or(0.0) == 0.0,
        "the standby never reconciles"
    );
    assert!(metric(leading, "nno_reconciles_total").await.unwrap_or(0.0) > 0.0);

    leading.child.kill().unwrap();
    let _ = leading.child.wait();
    let killed = Instant::now();
    wait_for("standby takes over", Duration::from_secs(30), || async {
        (metric(standby, "nno_leader").await == Some(1.0)).then_some(())
    })
    .await;
    println!("handover {:?} after SIGKILL (lease 3s)", killed.elapsed());
    env.apply(Env::vm("lead-2", json!({}))).await;
    env.wait_ready("lead-2").await;
    assert!(metric(standby, "nno_reconciles_total").await.unwrap_or(0.0) > 0.0);
    assert_eq!(env.counts().await["vms"], 2);
    for r in [&mut a, &mut b] {
        let _ = r.child.kill();
        let _ = r.child.wait();
    }
    env.stop().await;
}

#[test]
fn run_rejects_bad_flags_with_clear_messages() {
    let out = Command::new(env!("CARGO_BIN_EXE_nno-operator"))
        .args([
            "run",
            "--lease-duration",
            "2s",
            "--lease-renew-deadline",
            "5s",
            "--kubeconfig",
            "/nonexistent",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--lease-renew-deadline"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_nno-operator"))
        .args(["run", "--poll-interval", "soon"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("60s"));
    // Pax8 intake half configured: the process refuses to start and names the missing flag.
    let out = Command::new(env!("CARGO_BIN_EXE_nno-operator"))
        .args(["run", "--pax8-client-id", "id"])
        .env_remove("NNO_PAX8_CLIENT_SECRET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--pax8-client-secret"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_nno-operator"))
        .args(["run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--threenv-url",
        "--poll-interval",
        "--max-concurrent-reconciles",
        "--http-addr",
        "--leader-election",
        "--lease-name",
        "NNO_THREENV_URL",
        "--pax8-client-id",
        "--pax8-client-secret",
        "--pax8-provisioner-id",
        "--pax8-webhook-url",
        "--pax8-namespace",
        "--pax8-products",
        "--pax8-poll-interval",
        "NNO_PAX8_POLL_INTERVAL",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}
