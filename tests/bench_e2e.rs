//! `nno-operator bench`, small: the fault soak (30 objects of six kinds and Pax8 orders through
//! 5xx, lost replies and 429s) and the crash soak (30 objects while the operator is SIGKILLed every
//! two seconds) run the real harness end to end; its exit code and its JSON report must show every
//! invariant PASS.

use std::process::Command;

use serde_json::Value;

const INVARIANTS: [&str; 5] = [
    "every object Ready",
    "exactly one cloud object per Kubernetes object",
    "every Pax8 order answered exactly once",
    "no cloud objects left after deletion",
    "no object stuck with a finalizer",
];

/// Runs `nno-operator bench <args>` in a temporary directory; returns the JSON report.
fn bench(name: &str, args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join(name);
    let work = dir.path().join("work");
    let out = Command::new(env!("CARGO_BIN_EXE_nno-operator"))
        .arg("bench")
        .args(args)
        .args([
            "--poll-interval",
            "2s",
            "--transition-poll-interval",
            "500ms",
        ])
        .args(["--provision-delay-ms", "1000", "--timeout", "5m"])
        .arg("--report")
        .arg(&report)
        .arg("--work-dir")
        .arg(&work)
        .env("NO_COLOR", "1")
        .output()
        .expect("run nno-operator bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let log = std::fs::read_to_string(work.join("operator.log")).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(40).collect();
    assert!(
        out.status.success(),
        "bench {name} failed ({}):\n{stdout}\n{stderr}\noperator.log (last lines, newest first):\n{}",
        out.status,
        tail.join("\n")
    );
    assert!(stdout.contains("**PASS** every object Ready"), "{stdout}");
    let md = std::fs::read_to_string(report.with_extension("md")).unwrap();
    assert_eq!(
        md.trim(),
        stdout.split("report written to").next().unwrap().trim()
    );
    serde_json::from_str(&std::fs::read_to_string(report.with_extension("json")).unwrap()).unwrap()
}

fn assert_all_pass(report: &Value, expected: &[&str]) {
    let invariants = report["invariants"].as_array().unwrap();
    let names: Vec<&str> = invariants
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, expected, "{report:#}");
    for i in invariants {
        assert_eq!(i["pass"], true, "{i}");
    }
}

#[test]
fn fault_soak_small_passes_every_invariant() {
    let r = bench(
        "fault",
        &[
            "--mix",
            "vm=5,disk=5,bucket=5,fw=5,lb=5,svc=5",
            "--orders",
            "3",
            "--error-rate",
            "0.1",
            "--lost-reply-rate",
            "0.05",
            "--throttle-rate",
            "0.05",
            "--seed",
            "7",
        ],
    );
    assert_all_pass(&r, &INVARIANTS);
    assert_eq!(r["scenario"]["objects"], 30);
    // Faults were really injected: some calls were answered 503/429 or lost, so more calls than
    // objects went out, and the report shows each endpoint.
    assert!(r["convergence"]["calls"].as_array().unwrap().len() > 6);
    assert!(r["resources"]["operator_peak_rss_mib"].as_f64().unwrap() > 0.0);
}

#[test]
fn crash_soak_small_passes_every_invariant() {
    let r = bench(
        "crash",
        &[
            "--objects",
            "30",
            "--kill-every",
            "2",
            "--threenv-rate-limit",
            "10",
            "--threenv-burst",
            "5",
            "--touch-rate",
            "0",
        ],
    );
    let expected: Vec<&str> = INVARIANTS
        .iter()
        .copied()
        .filter(|i| !i.contains("Pax8"))
        .collect();
    assert_all_pass(&r, &expected);
    let kills = r["resources"]["operator_kills"].as_u64().unwrap();
    assert!(
        kills >= 2,
        "the operator was killed during the run: {kills}"
    );
    assert_eq!(
        r["resources"]["operator_processes"].as_u64().unwrap(),
        kills + 1
    );
}

#[test]
fn a_bad_mix_is_refused_with_the_kinds_it_knows() {
    let out = Command::new(env!("CARGO_BIN_EXE_nno-operator"))
        .args(["bench", "--mix", "vm=2,gpu=1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown kind \"gpu\"")
            && err.contains("vm, disk, bucket, fw, lb, svc, platform"),
        "{err}"
    );
}

#[test]
fn an_invariant_that_fails_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    // 3nv.io objects (and the base Platform, before the clock starts) take five seconds to
    // provision; the bench waits two.
    let out = Command::new(env!("CARGO_BIN_EXE_nno-operator"))
        .args([
            "bench",
            "--mix",
            "vm=2",
            "--timeout",
            "2s",
            "--touch-rate",
            "0",
        ])
        .args(["--provision-delay-ms", "5000"])
        .arg("--report")
        .arg(dir.path().join("r"))
        .arg("--work-dir")
        .arg(dir.path().join("work"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("**FAIL** every object Ready"), "{stdout}");
    assert!(
        stderr.contains("invariant(s) failed: every object Ready"),
        "{stderr}"
    );
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(r["convergence"]["time_to_ready_s"], Value::Null);
}
