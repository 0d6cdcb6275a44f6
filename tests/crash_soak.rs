//! Crash soak, small: the operator (a real `nno-operator run` process) is SIGKILLed every few
//! seconds and restarted while 30 objects of six kinds converge and while they are deleted. At every
//! sample no kind has more cloud objects than Kubernetes objects; in the end there is exactly one
//! each, and after deletion none, with no object left holding its finalizer.

use crate::mixed_kit;
use crate::operator_kit;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kube::api::{DeleteParams, ListParams};
use mixed_kit::{KINDS, api, assert_one_cloud_object_each, cloud_counts, create_mix, tally};
use operator_kit::{Env, EnvOptions};

const PER_KIND: usize = 5; // 30 objects of 6 kinds
/// How long each operator process lives before it is killed (the scenario's fault cadence), in
/// turn, so that kills land in every phase: start-up, creates in flight, waits for provisioning.
const LIFETIMES_MS: [u64; 4] = [1500, 2500, 900, 3500];
const DEADLINE: Duration = Duration::from_secs(300);

/// A `run` process that is SIGKILLed when dropped, so a failing test leaves none behind.
struct Operator(Child);

impl Operator {
    fn spawn(kubeconfig: &std::path::Path, env: &Env) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_nno-operator"))
            .args([
                "run",
                "--http-addr",
                "127.0.0.1:0",
                "--leader-election=false",
            ])
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["--threenv-url", env.sims.threenv_url()])
            .args(["--nno-url", env.sims.nno_url()])
            // Few writes per second, so that creates are in flight across several kills.
            .args(["--threenv-rate-limit", "10", "--threenv-burst", "5"])
            .args([
                "--poll-interval",
                "2s",
                "--transition-poll-interval",
                "200ms",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nno-operator run");
        Self(child)
    }

    fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// No kind has more cloud objects than Kubernetes objects of it.
async fn assert_no_duplicates(env: &Env) {
    let counts = cloud_counts(env).await;
    for k in KINDS {
        assert!(
            counts[k.counter] <= PER_KIND as u64,
            "duplicate {} in the cloud: {} for {PER_KIND} objects ({counts:?})",
            k.kind,
            counts[k.counter]
        );
    }
}

/// Runs operator processes of `LIFETIMES_MS` each in turn, SIGKILLing every one, until `done` holds after a
/// kill; checks for duplicates at every kill. Returns the number of kills.
async fn kill_until<F, Fut>(env: &Env, kubeconfig: &std::path::Path, what: &str, done: F) -> u32
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    let mut kills = 0;
    loop {
        let op = Operator::spawn(kubeconfig, env);
        // Not a wait for a condition: how long this process gets before it is killed.
        let life = LIFETIMES_MS[kills as usize % LIFETIMES_MS.len()];
        tokio::time::sleep(Duration::from_millis(life)).await;
        op.kill();
        kills += 1;
        assert_no_duplicates(env).await;
        if done().await {
            return kills;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{what}: not reached after {kills} kills in {DEADLINE:?}: {:?}",
            tally(env).await
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_converge_and_go_while_the_operator_is_killed_every_few_seconds() {
    let env = Env::with(EnvOptions {
        operator: false,
        provision_delay: Duration::from_secs(2),
        ..EnvOptions::default()
    })
    .await;
    env.platform().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, env.dc.kubeconfig()).unwrap();
    create_mix(&env, "crash", PER_KIND).await;

    let kills = kill_until(&env, &kubeconfig, "every object Ready", || async {
        tally(&env)
            .await
            .values()
            .all(|(n, r)| *n == PER_KIND && *r == PER_KIND)
    })
    .await;
    println!(
        "all {} objects Ready after {kills} kills",
        PER_KIND * KINDS.len()
    );
    assert!(kills >= 2, "a kill landed during convergence ({kills})");
    assert_one_cloud_object_each(&env, PER_KIND as u64).await;

    for k in KINDS {
        api(&env, k.kind)
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await
            .unwrap();
    }
    let kills = kill_until(&env, &kubeconfig, "every object deleted", || async {
        tally(&env).await.values().all(|(n, _)| *n == 0)
    })
    .await;
    println!("all objects deleted after {kills} more kills");
    assert_one_cloud_object_each(&env, 0).await;
    env.stop().await;
}
