//! `nno-operator run`: the operator process — flags, the Kubernetes client, the HTTP server
//! (health, readiness, metrics), leader election, and the controllers while this replica leads.

pub mod http;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use futures::FutureExt;
use kube::runtime::events::{Recorder, Reporter};
use kube::{Api, Client};
use tokio_util::sync::CancellationToken;

use crate::api::bucket::Bucket;
use crate::api::disk::Disk;
use crate::api::firewall::Firewall;
use crate::api::load_balancer::LoadBalancer;
use crate::api::platform::Platform;
use crate::api::service_package::ServicePackage;
use crate::api::virtual_machine::VirtualMachine;
use crate::cloud::nno::NnoClient;
use crate::cloud::ratelimit::RateLimit;
use crate::cloud::{CallRecord, Secret};
use crate::controllers::driver::Shared;
use crate::controllers::metrics::Metrics;
use crate::controllers::observer::ObserverConfig;
use crate::controllers::platform;
use crate::controllers::refs::Caches;
use crate::controllers::runner::{self, RunnerConfig};
use crate::controllers::shared_watch::SharedWatch;
use crate::controllers::target::CloudClients;
use crate::intake::{Intake, IntakeConfig, IntakeFlags};
use crate::leader::{LeaderElector, LeaseConfig};
use kube::core::DeserializeGuard;

use self::http::Health;

fn parse_secret(s: &str) -> Result<Secret, String> {
    Ok(Secret::new(s.trim()))
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 60s, 2m, 500ms)"))
}

/// Flags of `nno-operator run`. Every flag also reads an environment variable.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Kubeconfig file; default: $KUBECONFIG, ~/.kube/config, else the in-cluster service account.
    #[arg(long, env = "NNO_KUBECONFIG")]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// Watch and reconcile only this namespace (default: all namespaces).
    #[arg(long, env = "NNO_NAMESPACE")]
    pub namespace: Option<String>,
    /// 3nv.io API root, `scheme://host[:port]` (the client adds `/v1/...`).
    #[arg(long, env = "NNO_THREENV_URL", default_value = "https://api.3nv.io")]
    pub threenv_url: String,
    /// NNO provisioning API root, `scheme://host[:port]` (the client adds `/api/v1/provision/...`).
    #[arg(
        long,
        env = "NNO_URL",
        default_value = "https://provisioning.svc.nno.app"
    )]
    pub nno_url: String,
    /// Bearer token of the NNO provisioning API (optional; never logged).
    #[arg(long, env = "NNO_PROVISIONING_TOKEN", hide_env_values = true, value_parser = parse_secret)]
    pub nno_token: Option<Secret>,
    /// Pax8 API root, `scheme://host[:port]` (the client adds `/v1/token`, `/v2/...`).
    #[arg(long, env = "NNO_PAX8_URL", default_value = "https://api.pax8.com")]
    pub pax8_url: String,
    /// How often each observer lists the cloud (one call per kind, location and account).
    #[arg(long, env = "NNO_POLL_INTERVAL", default_value = "60s", value_parser = parse_duration)]
    pub poll_interval: Duration,
    /// How often an observer lists while some object is in transition (e.g. a VM provisioning).
    #[arg(long, env = "NNO_TRANSITION_POLL_INTERVAL", default_value = "2s", value_parser = parse_duration)]
    pub transition_poll_interval: Duration,
    /// Reconciles of one kind running at once.
    #[arg(long, env = "NNO_MAX_CONCURRENT_RECONCILES", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_concurrent_reconciles: u16,
    /// Sustained 3nv.io requests per second per API key (client-side rate limit).
    #[arg(long, env = "NNO_THREENV_RATE_LIMIT", default_value_t = 20.0)]
    pub threenv_rate_limit: f64,
    /// Requests per API key that may go out at once after a quiet period.
    #[arg(long, env = "NNO_THREENV_BURST", default_value_t = 40)]
    pub threenv_burst: u32,
    /// Address of the HTTP server: /healthz, /readyz, /metrics.
    #[arg(long, env = "NNO_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: SocketAddr,
    /// Elect a leader through a Lease so that only one replica reconciles (`--leader-election=false` to disable).
    #[arg(long, env = "NNO_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,
    /// Name of the leader election Lease.
    #[arg(long, env = "NNO_LEASE_NAME", default_value = "nno-operator")]
    pub lease_name: String,
    /// Namespace of the Lease (default: $POD_NAMESPACE, else `default`).
    #[arg(long, env = "NNO_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// How long a lease stays valid after its last renewal.
    #[arg(long, env = "NNO_LEASE_DURATION", default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,
    /// A leader that has not renewed for this long stops reconciling (< lease duration).
    #[arg(long, env = "NNO_LEASE_RENEW_DEADLINE", default_value = "10s", value_parser = parse_duration)]
    pub lease_renew_deadline: Duration,
    /// How often the leader renews and a standby retries.
    #[arg(long, env = "NNO_LEASE_RETRY_PERIOD", default_value = "2s", value_parser = parse_duration)]
    pub lease_retry_period: Duration,
    /// This replica's identity in the Lease and in Events (default: $POD_NAME, else host name and pid).
    #[arg(long, env = "NNO_IDENTITY")]
    pub identity: Option<String>,
    /// Pax8 OAuth2 client id; with --pax8-client-secret it turns the Pax8 order intake on.
    #[arg(long, env = "NNO_PAX8_CLIENT_ID")]
    pub pax8_client_id: Option<String>,
    /// Pax8 OAuth2 client secret (never logged).
    #[arg(long, env = "NNO_PAX8_CLIENT_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub pax8_client_secret: Option<Secret>,
    /// Pax8 provisioner id (needed to register --pax8-webhook-url).
    #[arg(long, env = "NNO_PAX8_PROVISIONER_ID")]
    pub pax8_provisioner_id: Option<String>,
    /// Public URL of this operator's `POST /pax8/webhook`, registered with Pax8 by the leader.
    #[arg(long, env = "NNO_PAX8_WEBHOOK_URL")]
    pub pax8_webhook_url: Option<String>,
    /// Namespace of the Platforms created from Pax8 orders and of the webhook secret.
    #[arg(long, env = "NNO_PAX8_NAMESPACE", default_value = "pax8")]
    pub pax8_namespace: String,
    /// YAML product mapping: `products: [{productId, planTier, features: [...]}]` (reloaded on change).
    #[arg(long, env = "NNO_PAX8_PRODUCTS")]
    pub pax8_products: Option<std::path::PathBuf>,
    /// How often the leader lists unfulfilled Pax8 provision requests (missed webhooks).
    #[arg(long, env = "NNO_PAX8_POLL_INTERVAL", default_value = "5m", value_parser = parse_duration)]
    pub pax8_poll_interval: Duration,
}

impl RunArgs {
    fn check(&self) -> anyhow::Result<()> {
        if self.lease_renew_deadline >= self.lease_duration {
            anyhow::bail!(
                "--lease-renew-deadline ({:?}) must be shorter than --lease-duration ({:?})",
                self.lease_renew_deadline,
                self.lease_duration
            );
        }
        if self.lease_retry_period >= self.lease_renew_deadline {
            anyhow::bail!("--lease-retry-period must be shorter than --lease-renew-deadline");
        }
        if !(self.threenv_rate_limit.is_finite() && self.threenv_rate_limit > 0.0) {
            anyhow::bail!("--threenv-rate-limit must be a positive number of requests per second");
        }
        if self.poll_interval.is_zero() || self.transition_poll_interval.is_zero() {
            anyhow::bail!("poll intervals must be positive");
        }
        for (flag, url) in [("--nno-url", &self.nno_url), ("--pax8-url", &self.pax8_url)] {
            let parsed = reqwest::Url::parse(url).with_context(|| format!("{flag} {url:?}"))?;
            if parsed.path() != "/" || !matches!(parsed.scheme(), "http" | "https") {
                anyhow::bail!("{flag} {url:?}: give only scheme://host[:port]");
            }
        }
        if self.pax8_poll_interval.is_zero() {
            anyhow::bail!("--pax8-poll-interval must be positive");
        }
        if self.intake_flags().check()?.is_some()
            && let Some(ns) = &self.namespace
            && *ns != self.pax8_namespace
        {
            anyhow::bail!(
                "--namespace {ns:?} is the only namespace reconciled, but the Pax8 intake creates its Platforms in --pax8-namespace {:?}, where they would never converge: set --pax8-namespace {ns:?} or drop --namespace",
                self.pax8_namespace
            );
        }
        Ok(())
    }

    fn intake_flags(&self) -> IntakeFlags {
        IntakeFlags {
            client_id: self.pax8_client_id.clone(),
            client_secret: self.pax8_client_secret.clone(),
            provisioner_id: self.pax8_provisioner_id.clone(),
            webhook_url: self.pax8_webhook_url.clone(),
            products: self.pax8_products.clone(),
        }
    }

    /// The intake's settings when it is on.
    fn intake(&self) -> anyhow::Result<Option<IntakeConfig>> {
        let flags = self.intake_flags();
        if flags.check()?.is_none() {
            return Ok(None);
        }
        let (Some(client_id), Some(client_secret), Some(products)) =
            (flags.client_id, flags.client_secret, flags.products)
        else {
            return Ok(None);
        };
        Ok(Some(IntakeConfig {
            pax8_url: self.pax8_url.clone(),
            client_id,
            client_secret,
            provisioner_id: flags.provisioner_id,
            webhook_url: flags.webhook_url,
            namespace: self.pax8_namespace.clone(),
            products,
            poll_interval: self.pax8_poll_interval,
        }))
    }

    fn identity(&self) -> String {
        self.identity
            .clone()
            .or_else(|| std::env::var("POD_NAME").ok())
            .unwrap_or_else(|| {
                let host = std::env::var("HOSTNAME")
                    .ok()
                    .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
                    .map(|h| h.trim().to_owned())
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| "nno-operator".into());
                format!("{host}-{}", std::process::id())
            })
    }
}

/// The CLI entry: builds the client, runs until SIGINT/SIGTERM.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    args.check()?;
    let config = match &args.kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .with_context(|| format!("kubeconfig {}", path.display()))?
        }
        None => kube::Config::infer().await.context(
            "no Kubernetes configuration: pass --kubeconfig, set KUBECONFIG, or run in a cluster",
        )?,
    };
    let client = Client::try_from(config).context("building the Kubernetes client")?;
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested: finishing reconciles in flight");
        on_signal.cancel();
    });
    let (addr_tx, _addr_rx) = tokio::sync::oneshot::channel();
    run_with(client, args, shutdown, addr_tx).await
}

async fn wait_for_signal() {
    if let Err(e) = nno_support::shutdown::signal().await {
        tracing::warn!(error = %e, "cannot watch SIGINT/SIGTERM; stop the process with SIGKILL");
        std::future::pending::<()>().await;
    }
}

/// Runs the operator with `client` until `shutdown`; `http_addr` receives the bound HTTP address.
/// This is the code path of `run`, also used in-process by tests and `dev`.
pub async fn run_with(
    client: Client,
    args: RunArgs,
    shutdown: CancellationToken,
    http_addr: tokio::sync::oneshot::Sender<SocketAddr>,
) -> anyhow::Result<()> {
    args.check()?;
    let identity = args.identity();
    let metrics = Arc::new(Metrics::new());
    let limit = RateLimit {
        per_second: args.threenv_rate_limit,
        burst: args.threenv_burst,
    };
    let clouds = CloudClients::new(&args.threenv_url, limit, metrics.clone())
        .with_context(|| format!("--threenv-url {:?}", args.threenv_url))?;
    let nno = {
        let mut cfg = NnoClient::config(
            &args.nno_url,
            args.nno_token.clone().filter(|t| !t.is_empty()),
        );
        let m = metrics.clone();
        cfg.observer = Some(Arc::new(move |r: &CallRecord| m.cloud_call(r)));
        NnoClient::with_config(cfg).with_context(|| format!("--nno-url {:?}", args.nno_url))?
    };
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "nno-operator".into(),
            instance: Some(identity.clone()),
        },
    );
    let intake = match args.intake()? {
        Some(cfg) => {
            tracing::info!(namespace = %cfg.namespace, webhook = ?cfg.webhook_url, "Pax8 order intake on");
            Some(Intake::new(cfg, client.clone(), metrics.clone()).context("Pax8 order intake")?)
        }
        None => None,
    };
    let shared = Base {
        intake,
        kube: client.clone(),
        clouds: Arc::new(clouds),
        nno,
        metrics: metrics.clone(),
        recorder,
        observer: ObserverConfig {
            poll_interval: args.poll_interval,
            transition_interval: args.transition_poll_interval,
            ..ObserverConfig::default()
        },
    };
    let health = Arc::new(Health::default());
    let server = http::serve(
        args.http_addr,
        metrics.clone(),
        health.clone(),
        shared.intake.clone().map(crate::intake::webhook::router),
        shutdown.clone(),
    )
    .await
    .with_context(|| format!("--http-addr {}", args.http_addr))?;
    tracing::info!(addr = %server.0, identity = %identity, threenv = %args.threenv_url, nno = %args.nno_url, namespace = ?args.namespace, "nno-operator running");
    let _ = http_addr.send(server.0);

    if !args.leader_election {
        health.standby.store(true, Ordering::SeqCst);
        metrics.set_leader(true);
        controllers(shared, &args, shutdown.clone(), health.clone()).await;
        let _ = server.1.await;
        return Ok(());
    }
    let lease_ns = args
        .lease_namespace
        .clone()
        .or_else(|| std::env::var("POD_NAMESPACE").ok())
        .unwrap_or_else(|| "default".into());
    let elector = LeaderElector::new(
        client,
        LeaseConfig {
            lease_duration: args.lease_duration,
            renew_deadline: args.lease_renew_deadline,
            retry_period: args.lease_retry_period,
            ..LeaseConfig::new(lease_ns, args.lease_name.clone(), identity)
        },
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (mut leading, election) = elector.spawn(stop_rx);
    health.standby.store(true, Ordering::SeqCst);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            r = leading.wait_for(|l| *l) => if r.is_err() { break },
        }
        metrics.set_leader(true);
        let term = shutdown.child_token();
        let task = tokio::spawn({
            let (shared, args, term, health) =
                (shared.clone(), args.clone(), term.clone(), health.clone());
            async move { controllers(shared, &args, term, health).await }
        });
        let lost = tokio::select! {
            _ = shutdown.cancelled() => false,
            r = leading.wait_for(|l| !*l) => r.is_ok(),
        };
        metrics.set_leader(false);
        health.synced.store(false, Ordering::SeqCst);
        term.cancel();
        if lost {
            // Another replica may take over now: stop at once rather than finish in-flight work.
            task.abort();
            tracing::warn!("leadership lost: stopped reconciling");
            continue;
        }
        let _ = task.await;
        break;
    }
    let _ = stop_tx.send(true);
    let _ = election.await;
    let _ = server.1.await;
    Ok(())
}

/// What outlives a leadership term: clients, rate limiters, metrics, the event recorder.
#[derive(Clone)]
struct Base {
    intake: Option<Arc<Intake>>,
    kube: Client,
    clouds: Arc<CloudClients>,
    nno: NnoClient,
    metrics: Arc<Metrics>,
    recorder: Recorder,
    observer: ObserverConfig,
}

fn scoped<R>(kube: &Client, ns: Option<&str>) -> Api<R>
where
    R: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>,
{
    match ns {
        Some(ns) => Api::namespaced(kube.clone(), ns),
        None => Api::all(kube.clone()),
    }
}

/// Runs every kind's controller until `shutdown`; marks `health.synced` once their caches are.
async fn controllers(base: Base, args: &RunArgs, shutdown: CancellationToken, health: Arc<Health>) {
    let ns = args.namespace.as_deref();
    // One watch each for Platforms and VirtualMachines, shared by every controller (see
    // controllers::shared_watch for why the cache and the wake-ups come from the same watch).
    let (platforms, platform_watch) = SharedWatch::new(scoped::<Platform>(&base.kube, ns));
    let (vms, vm_watch) =
        SharedWatch::new(scoped::<DeserializeGuard<VirtualMachine>>(&base.kube, ns));
    let caches = Caches {
        platforms: platforms.clone(),
        vms: vms.clone(),
    };
    let nno = base.nno;
    let intake = base.intake.clone();
    let shared = Arc::new(Shared {
        kube: base.kube,
        caches,
        clouds: base.clouds,
        metrics: base.metrics,
        recorder: base.recorder,
        observer: base.observer,
    });
    let cfg = RunnerConfig {
        namespace: args.namespace.clone(),
        concurrency: args.max_concurrent_reconciles,
    };
    let mut kinds = Vec::new();
    // Pax8 registration, polling and result reports: only while this replica leads.
    if let Some(intake) = intake {
        kinds.push(crate::intake::poller::run_leader(intake, shutdown.clone()).boxed());
    }
    let mut synced = Vec::new();
    macro_rules! kind {
        ($k:ty) => {{
            let (tx, rx) = tokio::sync::oneshot::channel();
            synced.push(rx);
            kinds
                .push(runner::run::<$k>(shared.clone(), cfg.clone(), shutdown.clone(), tx).boxed());
        }};
    }
    // One line per managed kind.
    kind!(VirtualMachine);
    kind!(Bucket);
    kind!(ServicePackage);
    kind!(Disk);
    kind!(Firewall);
    kind!(LoadBalancer);
    // The Platform controller tracks NNO jobs rather than listed cloud objects.
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        synced.push(rx);
        kinds.push(
            platform::run(
                shared.clone(),
                nno.clone(),
                cfg.clone(),
                shutdown.clone(),
                tx,
            )
            .boxed(),
        );
    }
    let mark = async {
        let _ = platforms.store().wait_until_ready().await;
        let _ = vms.store().wait_until_ready().await;
        for rx in synced {
            let _ = rx.await;
        }
        health.synced.store(true, Ordering::SeqCst);
        tracing::info!("caches synced; reconciling");
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = futures::future::join_all(kinds) => {}
        _ = platform_watch => {}
        _ = vm_watch => {}
        _ = mark => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        run: RunArgs,
    }

    fn check(extra: &[&str]) -> Result<(), String> {
        let mut argv = vec!["run"];
        argv.extend_from_slice(extra);
        let w = Wrap::try_parse_from(argv).map_err(|e| e.to_string())?;
        w.run.check().map_err(|e| e.to_string())
    }

    #[test]
    fn the_pax8_intake_is_off_by_default_and_partial_configuration_is_refused() {
        check(&[]).unwrap();
        let e = check(&["--pax8-client-id", "id"]).unwrap_err();
        assert!(e.contains("--pax8-client-secret"), "{e}");
        let e = check(&["--pax8-client-secret", "s3cret-value"]).unwrap_err();
        assert!(e.contains("--pax8-client-id"), "{e}");
        assert!(!e.contains("s3cret-value"), "{e}");
        let e = check(&["--pax8-client-id", "id", "--pax8-client-secret", "s"]).unwrap_err();
        assert!(e.contains("--pax8-products"), "{e}");
        let full = [
            "--pax8-client-id",
            "id",
            "--pax8-client-secret",
            "s",
            "--pax8-products",
            "/p.yaml",
        ];
        check(&full).unwrap();
        let mut with_url = full.to_vec();
        with_url.extend(["--pax8-webhook-url", "http://127.0.0.1:1/pax8/webhook"]);
        let e = check(&with_url).unwrap_err();
        assert!(e.contains("--pax8-provisioner-id"), "{e}");
        with_url.extend(["--pax8-provisioner-id", "p"]);
        check(&with_url).unwrap();
        let mut scoped = full.to_vec();
        scoped.extend(["--namespace", "team-a"]);
        let e = check(&scoped).unwrap_err();
        assert!(
            e.contains("--pax8-namespace") && e.contains("team-a"),
            "{e}"
        );
        scoped.extend(["--pax8-namespace", "team-a"]);
        check(&scoped).unwrap();
        let e = check(&["--pax8-poll-interval", "0s"]).unwrap_err();
        assert!(e.contains("--pax8-poll-interval"), "{e}");
    }
}
