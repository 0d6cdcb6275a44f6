//! One bench run: the set-up (devcluster and operator processes, simulators, the base Platform),
//! then the phases in order — converge, idle, drift, latency, delete — each feeding the report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use nno_sim::{FaultConfig, SimConfig, Simulators};
use serde_json::json;

use super::BenchArgs;
use super::mix::{BenchKind, CREDENTIALS_SECRET, LOCATION, Mix, PLATFORM, platform_manifest};
use super::operator::Operator;
use super::probe::{self, Requests, Watched};
use super::procs::{ChildProc, free_port};
use super::progress::Progress;
use super::report::{
    Convergence, Drift, EndpointCalls, Idle, Invariant, Machine, Report, Resources, Scenario,
    WakeLatency,
};
use crate::cloud::Secret;
use crate::cloud::pax8::{OrderEvent, PageRequest, Pax8Client, Pax8Credentials, ProvisionRequest};
use crate::cloud::threenv::ThreenvClient;
use crate::cloud::threenv::vm::ModifyVm;

const NS: &str = "bench";
const PAX8_NS: &str = "pax8";
const MANAGER: &str = "nno-bench";
const PRODUCT_ID: &str = "0b6f6a1e-8a35-4c7c-9b59-3f1f4b2a0001";
const TICK: Duration = Duration::from_millis(250);
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Paths of requests the bench itself makes (placing orders), left out of the operator's calls.
const BENCH_PATHS: &[&str] = &["/provision-simulations/"];

/// Everything a run holds while its phases go.
struct Bench<'a> {
    args: &'a BenchArgs,
    mix: Mix,
    sims: Simulators,
    client: kube::Client,
    devcluster: ChildProc,
    devcluster_peak: u64,
    operator: Operator,
    watched: Vec<(Watched, usize)>,
    progress: Progress,
    /// The most cloud objects of each kind seen at any sample.
    most_seen: BTreeMap<BenchKind, usize>,
    last_sample: Instant,
    notes: Vec<String>,
}

pub async fn run(args: &BenchArgs) -> anyhow::Result<Report> {
    let machine = Machine::read();
    let dir = args
        .work_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("target/bench/work"));
    if dir.exists() && args.work_dir.is_none() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut bench = Bench::start(args, &dir).await?;
    let outcome = bench.phases().await;
    let resources = bench.stop().await;
    let (convergence, idle, drift, wake, deleted, invariants, notes) = outcome?;
    Ok(Report {
        scenario: scenario(args),
        machine,
        convergence,
        idle,
        drift,
        wake_latency: wake,
        time_to_deleted_s: deleted,
        resources,
        invariants,
        notes,
    })
}

fn scenario(args: &BenchArgs) -> Scenario {
    let mix = args.mix();
    Scenario {
        command: std::iter::once("nno-operator".to_owned())
            .chain(std::env::args().skip(1))
            .collect::<Vec<_>>()
            .join(" "),
        mix: mix.to_string(),
        objects: mix.total(),
        orders: args.orders,
        latency_ms: args.latency_ms,
        provision_delay_ms: args.provision_delay_ms,
        error_rate: args.error_rate,
        lost_reply_rate: args.lost_reply_rate,
        throttle_rate: args.throttle_rate,
        kill_every_s: args.kill_every,
        poll_interval_s: args.poll_interval.as_secs_f64(),
        transition_poll_interval_s: args.transition_poll_interval.as_secs_f64(),
        max_concurrent_reconciles: args.max_concurrent_reconciles,
        threenv_rate_limit: args.threenv_rate_limit,
        threenv_burst: args.threenv_burst,
    }
}

async fn kube_client(kubeconfig: &Path) -> anyhow::Result<kube::Client> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)?;
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await?;
    Ok(kube::Client::try_from(cfg)?)
}

async fn apply(client: &kube::Client, ns: &str, obj: serde_json::Value) -> anyhow::Result<()> {
    let kind = obj["kind"].as_str().unwrap_or_default();
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (group, version) = obj["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .split_once('/')
        .unwrap_or(("", "v1"));
    let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
    let plural = format!("{}s", kind.to_lowercase());
    let ar = kube::api::ApiResource::from_gvk_with_plural(&gvk, &plural);
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
    api.patch(
        &name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&obj),
    )
    .await
    .with_context(|| format!("applying {kind} {name}"))?;
    Ok(())
}

async fn namespace(client: &kube::Client, name: &str) -> anyhow::Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))?;
    match api.create(&PostParams::default(), &ns).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e).with_context(|| format!("creating namespace {name}")),
    }
}

/// Starts the devcluster process and waits until it answers.
async fn start_devcluster(dir: &Path) -> anyhow::Result<(ChildProc, kube::Client)> {
    let crds = dir.join("crds");
    crate::api::crds::write_crds(&crds)?;
    let kubeconfig = dir.join("kubeconfig");
    // One left by an earlier run in the same --work-dir would point at a devcluster that is gone.
    let _ = std::fs::remove_file(&kubeconfig);
    let addr = format!("127.0.0.1:{}", free_port()?);
    let args: Vec<String> = [
        "devcluster",
        "--addr",
        &addr,
        "--kubeconfig-out",
        &kubeconfig.display().to_string(),
        "--crds",
        &crds.display().to_string(),
        "--watch-history",
        "200000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut proc = ChildProc::spawn("the devcluster", &args, &[], &dir.join("devcluster.log"))?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        proc.check_alive()?;
        if kubeconfig.exists()
            && let Ok(client) = kube_client(&kubeconfig).await
            && client.apiserver_version().await.is_ok()
        {
            return Ok((proc, client));
        }
        if Instant::now() >= deadline {
            return Err(proc.timeout(START_TIMEOUT).into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn pax8_client(sims: &Simulators) -> anyhow::Result<Pax8Client> {
    Ok(Pax8Client::new(
        sims.pax8_url(),
        Pax8Credentials {
            client_id: sims.pax8_client_id().to_owned(),
            client_secret: Secret::new(sims.pax8_client_secret()),
        },
    )?)
}

/// The operator's flags and environment (secrets go by environment, not on the command line).
async fn operator_command(
    args: &BenchArgs,
    sims: &Simulators,
    dir: &Path,
    http: &str,
) -> anyhow::Result<(Vec<String>, Vec<(String, String)>)> {
    let humane = |d: Duration| humantime::format_duration(d).to_string();
    let mut a: Vec<String> = vec![
        "run".into(),
        "--kubeconfig".into(),
        dir.join("kubeconfig").display().to_string(),
        "--threenv-url".into(),
        sims.threenv_url().into(),
        "--nno-url".into(),
        sims.nno_url().into(),
        "--http-addr".into(),
        http.into(),
        "--leader-election=false".into(),
        "--poll-interval".into(),
        humane(args.poll_interval),
        "--transition-poll-interval".into(),
        humane(args.transition_poll_interval),
        "--max-concurrent-reconciles".into(),
        args.max_concurrent_reconciles.to_string(),
        "--threenv-rate-limit".into(),
        args.threenv_rate_limit.to_string(),
        "--threenv-burst".into(),
        args.threenv_burst.to_string(),
    ];
    let mut env = vec![(
        "RUST_LOG".to_owned(),
        std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
    )];
    if args.orders > 0 {
        let products = dir.join("products.yaml");
        std::fs::write(
            &products,
            format!("products:\n- productId: {PRODUCT_ID}\n  planTier: growth\n"),
        )?;
        let page = pax8_client(sims)?
            .list_provisioners(PageRequest::default())
            .await?;
        let provisioner = page
            .content
            .first()
            .and_then(|p| p.id.clone())
            .context("the Pax8 simulator lists no provisioner")?;
        a.extend(
            [
                "--pax8-url",
                sims.pax8_url(),
                "--pax8-client-id",
                sims.pax8_client_id(),
                "--pax8-provisioner-id",
                &provisioner,
                "--pax8-webhook-url",
                &format!("http://{http}/pax8/webhook"),
                "--pax8-products",
                &products.display().to_string(),
                "--pax8-namespace",
                PAX8_NS,
                "--pax8-poll-interval",
                &humane(args.poll_interval),
            ]
            .map(str::to_owned),
        );
        env.push((
            "NNO_PAX8_CLIENT_SECRET".into(),
            sims.pax8_client_secret().into(),
        ));
    }
    Ok((a, env))
}

fn floor(args: &BenchArgs, mix: &Mix) -> (f64, String) {
    let cloud = (mix.total() - mix.count(BenchKind::Platform)) as f64;
    let platforms = (mix.count(BenchKind::Platform) + args.orders) as f64;
    let latency = args.latency_ms as f64 / 1000.0;
    let delay = args.provision_delay_ms as f64 / 1000.0;
    let c = f64::from(args.max_concurrent_reconciles);
    let rated = (cloud - f64::from(args.threenv_burst)).max(0.0) / args.threenv_rate_limit;
    let concurrent = cloud * latency / c;
    let threenv = if cloud > 0.0 {
        rated.max(concurrent) + latency + delay
    } else {
        0.0
    };
    let nno = if platforms > 0.0 {
        platforms * latency / c + latency + delay
    } else {
        0.0
    };
    let text = format!(
        "{cloud} 3nv.io creates (one call each) go out at most at {} /s after a burst of {} ({rated:.2} s) and at most {c} at a time at {latency} s each ({concurrent:.2} s); the slower of the two, plus one call's latency and the {delay} s provision delay, is {threenv:.2} s. {platforms} NNO jobs: {nno:.2} s. Observer lists, status writes and faults come on top, so the floor is a lower bound.",
        args.threenv_rate_limit, args.threenv_burst
    );
    (threenv.max(nno), text)
}

fn endpoint_rows(calls: &Requests, divisor: f64) -> Vec<EndpointCalls> {
    let mut rows: Vec<EndpointCalls> = calls
        .iter()
        .filter(|((_, _, path), _)| !BENCH_PATHS.iter().any(|b| path.contains(b)))
        .map(|((api, method, path), n)| EndpointCalls {
            api: api.clone(),
            method: method.clone(),
            path: path.clone(),
            calls: *n,
            per_unit: *n as f64 / divisor.max(1.0),
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.calls));
    rows
}

fn sum(rows: &[EndpointCalls], api: Option<&str>) -> u64 {
    rows.iter()
        .filter(|r| api.is_none_or(|a| r.api == a))
        .map(|r| r.calls)
        .sum()
}

type Outcome = (
    Convergence,
    Option<Idle>,
    Option<Drift>,
    Option<WakeLatency>,
    Option<f64>,
    Vec<Invariant>,
    Vec<String>,
);

impl<'a> Bench<'a> {
    async fn start(args: &'a BenchArgs, dir: &Path) -> anyhow::Result<Bench<'a>> {
        let progress = Progress::new();
        progress.println(&format!("work directory {}", dir.display()));
        let (devcluster, client) = start_devcluster(dir).await?;
        let sims = Simulators::start(SimConfig {
            provision_delay: Duration::from_millis(args.provision_delay_ms),
            seed: args.seed,
            ..SimConfig::default()
        })
        .await
        .context("starting the simulators")?;
        let http = format!("127.0.0.1:{}", free_port()?);
        let (op_args, op_env) = operator_command(args, &sims, dir, &http).await?;
        let kill_every = args.kill_every.map(Duration::from_secs_f64);
        let operator = Operator::start(
            op_args,
            op_env,
            http.parse()?,
            dir.join("operator.log"),
            kill_every,
        )?;
        let mix = args.mix();
        let mut watched: Vec<(Watched, usize)> = mix
            .kinds()
            .map(|(k, n)| (Watched::start(&client, NS, k, &k.name_prefix()), n))
            .collect();
        if args.orders > 0 {
            watched.push((
                Watched::start(&client, PAX8_NS, BenchKind::Platform, "pax8-"),
                args.orders,
            ));
        }
        let mut bench = Bench {
            args,
            mix,
            sims,
            client,
            devcluster,
            devcluster_peak: 0,
            operator,
            watched,
            progress,
            most_seen: BTreeMap::new(),
            last_sample: Instant::now(),
            notes: Vec::new(),
        };
        bench.set_up().await?;
        Ok(bench)
    }

    /// Namespaces, the credentials Secret and the base Platform, Ready before anything is timed.
    async fn set_up(&mut self) -> anyhow::Result<()> {
        namespace(&self.client, NS).await?;
        if self.args.orders > 0 {
            namespace(&self.client, PAX8_NS).await?;
        }
        apply(
            &self.client,
            NS,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": CREDENTIALS_SECRET},
                   "stringData": {"apiKey": self.sims.api_key()}}),
        )
        .await?;
        self.operator.wait_healthy(START_TIMEOUT).await?;
        apply(&self.client, NS, platform_manifest()).await?;
        let base = Watched::start(&self.client, NS, BenchKind::Platform, PLATFORM);
        let deadline = Instant::now() + START_TIMEOUT;
        while base.tally().ready < 1 {
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "the base Platform {PLATFORM} was not Ready within {START_TIMEOUT:?}: {:?}",
                    base.not_ready(1)
                );
            }
            self.tick()?;
            tokio::time::sleep(TICK).await;
        }
        for (w, _) in &self.watched {
            w.synced().await;
        }
        self.progress
            .println("set-up done: devcluster, simulators, operator, base Platform Ready");
        Ok(())
    }

    /// Samples the processes and the cloud; kills the operator when due.
    fn tick(&mut self) -> anyhow::Result<()> {
        self.operator.tick()?;
        if let Some(u) = self.devcluster.usage() {
            self.devcluster_peak = self.devcluster_peak.max(u.peak_rss_bytes);
        }
        if self.last_sample.elapsed() >= Duration::from_secs(1) {
            self.last_sample = Instant::now();
            let counts = probe::threenv_counts(&self.sims);
            for (k, _) in self.mix.kinds() {
                if let Some(n) = k.cloud_count(&counts) {
                    let e = self.most_seen.entry(k).or_default();
                    *e = (*e).max(n);
                }
            }
        }
        Ok(())
    }

    fn tallies(&self) -> (usize, usize, usize) {
        self.watched.iter().fold((0, 0, 0), |(t, r, x), (w, n)| {
            let tl = w.tally();
            (t + tl.total, r + tl.ready.min(*n), x + n)
        })
    }

    fn set_faults(&self) -> anyhow::Result<()> {
        let f = FaultConfig {
            error_rate: self.args.error_rate,
            lost_reply_rate: self.args.lost_reply_rate,
            throttle_rate: self.args.throttle_rate,
            latency_ms: self.args.latency_ms,
            retry_after_secs: 1,
            ..FaultConfig::default()
        };
        for s in [self.sims.threenv(), self.sims.nno(), self.sims.pax8()] {
            s.faults().set(f.clone()).map_err(anyhow::Error::msg)?;
        }
        Ok(())
    }

    async fn phases(&mut self) -> anyhow::Result<Outcome> {
        let (convergence, ready) = self.converge().await?;
        let mut invariants = Vec::new();
        invariants.push(self.ready_invariant(convergence.time_to_ready_s));
        let exact = self.exact_counts();
        let (idle, drift, wake) = if ready {
            let idle = self.idle().await?;
            // The bench's own calls go through the faults too: a failed attempt is noted, not fatal.
            let drift = match self.drift().await {
                Ok(d) => d,
                Err(e) => {
                    self.notes.push(format!("drift was not measured: {e:#}"));
                    None
                }
            };
            let wake = self.wake_latency().await?;
            (Some(idle), drift, wake)
        } else {
            (None, None, None)
        };
        invariants.push(self.duplicates_invariant(&exact));
        if self.args.orders > 0 {
            invariants.push(self.orders_invariant());
        }
        let (deleted, stuck) = self.delete_all().await?;
        invariants.push(self.leak_invariant());
        invariants.push(Invariant {
            name: "no object stuck with a finalizer".into(),
            pass: stuck.is_empty(),
            detail: if stuck.is_empty() {
                "every object was gone after deletion".into()
            } else {
                format!("still present: {}", stuck.join("; "))
            },
        });
        let notes = std::mem::take(&mut self.notes);
        Ok((convergence, idle, drift, wake, deleted, invariants, notes))
    }
}

mod phases;
