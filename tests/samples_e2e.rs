//! The samples under config/samples/, applied with the real kubectl to the devcluster with the
//! operator running against the simulators: every object becomes Ready, and deleting them all
//! leaves the 3nv.io simulator with no object of the six cloud kinds and no S3 key the operator made.

use crate::operator_kit;

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use operator_kit::{Env, wait_for};

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/samples");

/// Runs the real kubectl (`$KUBECTL`, else `kubectl` on PATH) against the test cluster.
struct Kubectl {
    bin: String,
    kubeconfig: PathBuf,
}

impl Kubectl {
    fn new(env: &Env) -> Self {
        Self {
            bin: nno_testkit::kubectl::kubectl(),
            kubeconfig: env.dc.kubeconfig_path().to_path_buf(),
        }
    }

    async fn run(&self, args: &[&str]) -> Output {
        tokio::process::Command::new(&self.bin)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .env_remove("KUBECONFIG")
            .args(args)
            .output()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run kubectl ({}): {e}; install it or set $KUBECTL",
                    self.bin
                )
            })
    }

    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

async fn s3_keys(env: &Env) -> Vec<String> {
    env.cloud()
        .list_s3_keys()
        .await
        .expect("list S3 keys")
        .into_iter()
        .map(|k| k.access_key)
        .collect()
}

const CLOUD_COUNTERS: &[&str] = &[
    "vms",
    "disks",
    "buckets",
    "firewalls",
    "load_balancers",
    "service_packages",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn samples_become_ready_and_leave_nothing_behind() {
    let env = Env::start().await;
    let k = Kubectl::new(&env);
    k.ok(&["apply", "-f", SAMPLES]).await;
    let names = k.ok(&["get", "nno", "-o", "name"]).await;
    let objects: Vec<&str> = names.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(objects.len(), 7, "one object per kind: {objects:?}");
    wait_for(
        "every sample Ready",
        Duration::from_secs(300),
        || async {
            let out = k
                .run(&[
                    "get",
                    "nno",
                    "-o",
                    "jsonpath={range .items[*]}{.kind}/{.metadata.name}={.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}",
                ])
                .await;
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let ready = text.lines().filter(|l| l.ends_with("=True")).count();
            (out.status.success() && ready == 7).then_some(())
        },
    )
    .await;
    // `kubectl wait` agrees, as a user would check it.
    let mut wait = vec!["wait", "--for=condition=Ready", "--timeout=30s"];
    wait.extend(objects.iter().copied());
    k.ok(&wait).await;
    let counts = env.counts().await;
    for c in [
        "vms",
        "buckets",
        "firewalls",
        "load_balancers",
        "service_packages",
    ] {
        assert_eq!(
            counts[c], 1,
            "{c}: one cloud object per sample ({counts:?})"
        );
    }
    assert_eq!(counts["disks"] - counts["disks.primary"], 1, "{counts:?}");

    // The Bucket's own S3 key (the connection Secret's); 3nv.io's S3 user also has a first key of its
    // own, generated with the user, which the operator neither created nor deletes.
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(env.kube.clone(), operator_kit::NS);
    let secret = secrets.get("acme-media-s3").await.unwrap();
    let access = secret
        .data
        .and_then(|d| {
            d.get("accessKey")
                .map(|v| String::from_utf8_lossy(&v.0).into_owned())
        })
        .expect("the Bucket's connection Secret has accessKey");
    let keys = s3_keys(&env).await;
    assert!(keys.contains(&access), "the Bucket's key exists: {keys:?}");

    // The Bucket sample keeps its bucket on deletion (Orphan protects data); this test wants
    // everything gone.
    k.ok(&[
        "patch",
        "bucket",
        "acme-media",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"deletionPolicy":"Delete"}}"#,
    ])
    .await;
    k.ok(&["delete", "-f", SAMPLES, "--wait=true", "--timeout=300s"])
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let counts = env.counts().await;
        let left: Vec<_> = CLOUD_COUNTERS
            .iter()
            .filter(|c| counts.get(**c).copied().unwrap_or(0) > 0)
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "cloud objects left 120s after deletion: {left:?} ({counts:?})"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let keys = s3_keys(&env).await;
    assert!(
        !keys.contains(&access),
        "the Bucket's S3 key is deleted with it: {keys:?}"
    );
    let left = k.ok(&["get", "nno", "-o", "name"]).await;
    assert!(left.trim().is_empty(), "objects left: {left}");
    env.stop().await;
}
