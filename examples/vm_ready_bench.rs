//! Benchmark (not a test): time for N VirtualMachines to become Ready against the floor that the
//! simulator's delays imply, and cloud calls per VM. Devcluster, 3nv.io simulator and the operator's
//! real `run` code path in one process, all on loopback.
//!
//! `cargo run --release --example vm_ready_bench -- [VMS] [CREATE_LATENCY_MS] [PROVISION_DELAY_MS]`
//! (defaults 200, 100, 2000). The operator runs with its defaults: rate limit 20/s (burst 40),
//! 16 concurrent reconciles, transition poll interval 2s.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Parser;
use kube::Api;
use kube::api::{Patch, PatchParams};
use nno_devcluster::{DevCluster, Options};
use nno_operator::api::virtual_machine::VirtualMachine;
use nno_operator::run::{RunArgs, run_with};
use nno_sim::faults::FaultConfig;
use nno_sim::{SimConfig, Simulators};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct Wrap {
    #[command(flatten)]
    run: RunArgs,
}

async fn requests(url: &str) -> anyhow::Result<BTreeMap<(String, String), u64>> {
    let body: Value = reqwest::get(format!("{url}/_sim/requests"))
        .await?
        .json()
        .await?;
    let mut out = BTreeMap::new();
    for r in body["requests"].as_array().cloned().unwrap_or_default() {
        let key = (
            r["method"].as_str().unwrap_or("").to_owned(),
            r["path"].as_str().unwrap_or("").to_owned(),
        );
        *out.entry(key).or_insert(0) += r["count"].as_u64().unwrap_or(0);
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut argv = std::env::args().skip(1);
    let n: usize = argv.next().map(|s| s.parse()).transpose()?.unwrap_or(200);
    let latency_ms: u64 = argv.next().map(|s| s.parse()).transpose()?.unwrap_or(100);
    let provision_ms: u64 = argv.next().map(|s| s.parse()).transpose()?.unwrap_or(2000);

    let sims = Simulators::start(SimConfig {
        provision_delay: Duration::from_millis(provision_ms),
        faults: FaultConfig {
            latency_ms,
            methods: vec!["POST".into()],
            ..FaultConfig::default()
        },
        ..SimConfig::default()
    })
    .await?;
    let dc = DevCluster::start(Options {
        crds_dir: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/crds").into()),
        ..Options::default()
    })
    .await?;
    let kube = dc.client()?;
    let args = Wrap::parse_from([
        "run",
        "--threenv-url",
        sims.threenv_url(),
        "--http-addr",
        "127.0.0.1:0",
        "--leader-election=false",
    ])
    .run;
    let (rate, burst, concurrency, transition) = (
        args.threenv_rate_limit,
        args.threenv_burst,
        args.max_concurrent_reconciles,
        args.transition_poll_interval,
    );
    let shutdown = CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let operator = tokio::spawn(run_with(kube.clone(), args, shutdown.clone(), tx));
    rx.await?;

    dc.apply_yaml(&serde_yaml::to_string(
        &json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "acme-3nv-credentials", "namespace": "default"},
        "stringData": {"apiKey": "dev-api-key"}}),
    )?)?;
    dc.apply_yaml(&serde_yaml::to_string(&json!({"apiVersion": "nno.app/v1alpha1", "kind": "Platform",
        "metadata": {"name": "acme", "namespace": "default"},
        "spec": {"platformId": "acme", "planTier": "growth", "billingEmail": "b@acme.example",
                 "cloud": {"credentialsSecretRef": {"name": "acme-3nv-credentials", "key": "apiKey"},
                           "location": "cyc01", "billingAccountId": 129673}}}))?)?;
    let vms: Api<VirtualMachine> = Api::namespaced(kube.clone(), "default");
    let started = Instant::now();
    for i in 0..n {
        let name = format!("bench-{i:05}");
        let obj = json!({"apiVersion": "nno.app/v1alpha1", "kind": "VirtualMachine", "metadata": {"name": name},
            "spec": {"platformRef": {"name": "acme"}, "osName": "ubuntu", "osVersion": "16.04",
                     "vcpu": 1, "ramMb": 512, "diskGb": 20, "username": "bench"}});
        vms.patch(&name, &PatchParams::apply("bench"), &Patch::Apply(obj))
            .await?;
    }
    let applied = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(1800);
    let mut last_print = Instant::now();
    loop {
        let list = vms.list(&Default::default()).await?;
        let ready = list
            .items
            .iter()
            .filter(|v| {
                v.status.as_ref().is_some_and(|s| {
                    s.common
                        .conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && format!("{:?}", c.status) == "True")
                })
            })
            .count();
        if ready == n {
            break;
        }
        if last_print.elapsed() > Duration::from_secs(2) {
            eprintln!(
                "  {ready}/{n} Ready after {:.1}s",
                started.elapsed().as_secs_f64()
            );
            last_print = Instant::now();
        }
        anyhow::ensure!(Instant::now() < deadline, "not all Ready after 30 minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = started.elapsed();
    let calls = requests(sims.threenv_url()).await?;
    let total: u64 = calls.values().sum();
    let lists: u64 = calls
        .iter()
        .filter(|((m, p), _)| m == "GET" && p.ends_with("/list"))
        .map(|(_, c)| c)
        .sum();

    // The floor: creates can go no faster than the rate limit (after the burst) nor than the
    // create latency at the reconcile concurrency; then one provisioning delay, plus at most one
    // transition poll interval to see it.
    let by_rate = (n.saturating_sub(burst as usize)) as f64 / rate;
    let by_latency = n as f64 * latency_ms as f64 / 1000.0 / f64::from(concurrency);
    let floor = by_rate.max(by_latency) + provision_ms as f64 / 1000.0;
    let floor_seen = floor + transition.as_secs_f64();
    println!(
        "VMs:                      {n} (create latency {latency_ms} ms, provision delay {provision_ms} ms)"
    );
    println!(
        "operator:                 rate limit {rate}/s burst {burst}, {concurrency} concurrent reconciles, transition poll {transition:?}"
    );
    println!("objects applied in:       {:.2}s", applied.as_secs_f64());
    println!("time to all Ready:        {:.2}s", took.as_secs_f64());
    println!(
        "floor:                    {floor:.2}s (creates {:.2}s + provisioning {:.2}s); with one transition poll {floor_seen:.2}s",
        by_rate.max(by_latency),
        provision_ms as f64 / 1000.0
    );
    println!(
        "ratio to floor:           {:.2}x",
        took.as_secs_f64() / floor
    );
    println!(
        "cloud calls to Ready:     {total} = {:.2} per VM ({lists} shared lists, {:.2} per VM without them)",
        total as f64 / n as f64,
        (total - lists) as f64 / n as f64
    );
    for ((m, p), c) in &calls {
        println!("  {m:6} {p:45} {c}");
    }
    shutdown.cancel();
    let _ = operator.await;
    sims.stop().await;
    dc.stop().await;
    Ok(())
}
