//! Creates retried through a storm of refused and lost replies on the create endpoint itself:
//! each object ends with exactly one cloud object, at every sample, however quickly the retries
//! follow each other (here: woken by a VM whose labels change every 100 ms). A regression test: a
//! retry reading a cached copy that still showed an earlier attempt's create-pending mark skipped
//! re-marking, and after a lost reply the object was created again (about one run in six of 60
//! objects failed before the fix).

use crate::net_kit;
use crate::operator_kit;

use std::time::Duration;

use kube::api::{Patch, PatchParams};
use net_kit::*;
use operator_kit::{Env, EnvOptions};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rapid_create_retries_through_lost_replies_never_duplicate() {
    let env = Env::with(EnvOptions {
        faults: nno_sim::faults::FaultConfig {
            error_rate: 0.35,
            throttle_rate: 0.15,
            retry_after_secs: 0,
            lost_reply_rate: 0.30,
            methods: vec!["POST".into()],
            path_prefix: Some("/v1/network/firewalls".into()),
            ..Default::default()
        },
        ..EnvOptions::default()
    })
    .await;
    env.platform().await;
    // Every label change of a VM wakes every Firewall with a selector: churning one VM's
    // labels makes each Firewall reconcile again right after the last attempt ended.
    env.apply(vm("churn-vm", json!({"tier": "web"}))).await;
    let vms = env.vms();
    let churn = tokio::spawn(async move {
        for i in 0u64.. {
            let patch = json!({"metadata": {"labels": {"churn": i.to_string()}}});
            let _ = vms
                .patch("churn-vm", &PatchParams::default(), &Patch::Merge(&patch))
                .await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    // Rounds of ten, each deleted before the next, so that the wake-ups never saturate the
    // controller.
    const N: usize = 10;
    const ROUNDS: usize = 10;
    let sel = json!({"vmSelector": {"matchLabels": {"tier": "web"}}});
    let f = fws(&env);
    for round in 1..=ROUNDS {
        for i in 0..N {
            env.apply(fw(&format!("storm-{round}-{i}"), sel.clone()))
                .await;
        }
        operator_kit::wait_for("every firewall Ready", Duration::from_secs(180), || async {
            let n = count(&env, "firewalls").await;
            assert!(
                n <= N as u64,
                "round {round}: {n} cloud firewalls for {N} objects"
            );
            let l = f.list(&Default::default()).await.ok()?;
            (l.items.iter().filter(|o| is_ready(*o)).count() == N).then_some(())
        })
        .await;
        assert_eq!(count(&env, "firewalls").await, N as u64, "round {round}");
        for i in 0..N {
            delete(&f, &format!("storm-{round}-{i}")).await;
        }
        operator_kit::wait_for(
            "every firewall deleted",
            Duration::from_secs(180),
            || async {
                let l = f.list(&Default::default()).await.ok()?;
                l.items.is_empty().then_some(())
            },
        )
        .await;
        assert_eq!(
            count(&env, "firewalls").await,
            0,
            "round {round}: left behind"
        );
    }
    churn.abort();
    env.stop().await;
}
