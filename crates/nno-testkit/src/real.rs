//! The real backend: etcd, kube-apiserver and (optionally) kube-controller-manager, built from the
//! upstream Go modules pinned in `tests/k8s/` by `tests/k8s/build`, started on loopback for one
//! test and killed when the [`RealCluster`] is dropped.
//!
//! The API server runs with `--authorization-mode=RBAC`, a serving certificate from a throw-away CA,
//! service-account signing keys (so TokenRequest works) and a static token for the test's own admin
//! user in `system:masters`.

use super::pki::Pki;
use anyhow::{Context, bail};
use base64::Engine;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::time::Instant;

/// Path of the kube-apiserver binary; with [`ENV_ETCD`] it selects the real backend.
pub const ENV_APISERVER: &str = "NNO_TEST_KUBE_APISERVER";
/// Path of the etcd binary.
pub const ENV_ETCD: &str = "NNO_TEST_ETCD";
/// Optional path of kube-controller-manager (garbage collection, namespace deletion, default
/// ServiceAccounts); without it those controllers do not run.
pub const ENV_CONTROLLER_MANAGER: &str = "NNO_TEST_KUBE_CONTROLLER_MANAGER";

/// How long a component may take to come up on a loaded 2-core machine.
const START_DEADLINE: Duration = Duration::from_secs(120);
/// Start attempts when a picked free port was taken by someone else in the meantime.
const START_ATTEMPTS: usize = 3;

/// The upstream binaries the real backend runs.
#[derive(Clone, Debug)]
pub struct Binaries {
    pub apiserver: PathBuf,
    pub etcd: PathBuf,
    pub controller_manager: Option<PathBuf>,
}

impl Binaries {
    /// `None` when the real backend is not selected (neither variable set); an error when it is
    /// selected half-way or a binary is missing, so a misconfigured run fails instead of falling
    /// back to the devcluster.
    pub fn from_env() -> Option<anyhow::Result<Self>> {
        let apiserver = std::env::var_os(ENV_APISERVER).filter(|v| !v.is_empty());
        let etcd = std::env::var_os(ENV_ETCD).filter(|v| !v.is_empty());
        if apiserver.is_none() && etcd.is_none() {
            return None;
        }
        Some((|| {
            let (Some(apiserver), Some(etcd)) = (apiserver, etcd) else {
                bail!("set both {ENV_APISERVER} and {ENV_ETCD} (or neither, for the devcluster)");
            };
            let controller_manager = std::env::var_os(ENV_CONTROLLER_MANAGER)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from);
            let bins = Self {
                apiserver: apiserver.into(),
                etcd: etcd.into(),
                controller_manager,
            };
            for bin in [
                Some(&bins.apiserver),
                Some(&bins.etcd),
                bins.controller_manager.as_ref(),
            ]
            .into_iter()
            .flatten()
            {
                if !bin.is_file() {
                    bail!("{} does not exist (run tests/k8s/build)", bin.display());
                }
            }
            Ok(bins)
        })())
    }
}

/// One running component; killed (and reaped) on drop.
struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &'static str, bin: &Path, args: &[String], dir: &Path) -> anyhow::Result<Self> {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log)?;
        let child = Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        Ok(Self { name, child, log })
    }

    /// Fails with the log's tail when the process has exited.
    fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited ({status}):\n{}", self.name, self.log_tail());
        }
        Ok(())
    }

    /// The log's error lines (klog `E`/`F`, etcd's JSON `error`/`fatal`) and its last lines.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let errors = lines.iter().filter(|l| {
            l.starts_with('E')
                || l.starts_with('F')
                || l.contains(r#""level":"error""#)
                || l.contains(r#""level":"fatal""#)
        });
        let tail = &lines[lines.len().saturating_sub(15)..];
        errors
            .take(20)
            .chain(std::iter::once(&"..."))
            .chain(tail)
            .copied()
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// etcd + kube-apiserver (+ kube-controller-manager) for one test.
pub struct RealCluster {
    /// Started first to last; stopped last to first.
    procs: Vec<Proc>,
    server: String,
    pki: Pki,
    kubeconfig_path: PathBuf,
    dir: tempfile::TempDir,
}

/// Three distinct free loopback ports (held together while picked, so they differ).
fn free_ports() -> anyhow::Result<(u16, u16, u16)> {
    let bind = || std::net::TcpListener::bind("127.0.0.1:0");
    let (a, b, c) = (bind()?, bind()?, bind()?);
    Ok((
        a.local_addr()?.port(),
        b.local_addr()?.port(),
        c.local_addr()?.port(),
    ))
}

impl RealCluster {
    /// Starts the components and waits until the API server's `/readyz` is ok.
    pub async fn start(bins: &Binaries) -> anyhow::Result<Self> {
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            match Self::start_once(bins).await {
                Ok(c) => return Ok(c),
                Err(e) if format!("{e:#}").contains("address already in use") => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("no start attempt")))
    }

    async fn start_once(bins: &Binaries) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("nno-real-k8s-").tempdir()?;
        let path = |name: &str| dir.path().join(name);
        let pki = Pki::generate()?;
        std::fs::write(path("ca.crt"), &pki.ca_pem)?;
        std::fs::write(path("serving.crt"), &pki.serving_cert_pem)?;
        std::fs::write(path("serving.key"), &pki.serving_key_pem)?;
        std::fs::write(path("sa.key"), &pki.service_account_key_pem)?;
        std::fs::write(path("sa.pub"), &pki.service_account_pub_pem)?;
        std::fs::write(
            path("tokens.csv"),
            format!(
                "{},nno-test-admin,nno-test-admin,\"system:masters\"\n",
                pki.admin_token
            ),
        )?;

        let (etcd_port, peer_port, api_port) = free_ports()?;
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let server = format!("https://127.0.0.1:{api_port}");
        let p = |name: &str| path(name).display().to_string();
        let mut procs = Vec::new();

        let etcd_args = [
            "--name=nno-test".to_string(),
            format!("--data-dir={}", p("etcd")),
            format!("--listen-client-urls={etcd_url}"),
            format!("--advertise-client-urls={etcd_url}"),
            format!("--listen-peer-urls={peer_url}"),
            format!("--initial-advertise-peer-urls={peer_url}"),
            format!("--initial-cluster=nno-test={peer_url}"),
            "--unsafe-no-fsync=true".to_string(),
            "--log-level=warn".to_string(),
        ];
        procs.push(Proc::spawn("etcd", &bins.etcd, &etcd_args, dir.path())?);
        wait_for_tcp(&mut procs[0], etcd_port).await?;

        let api_args = [
            format!("--etcd-servers={etcd_url}"),
            "--bind-address=127.0.0.1".to_string(),
            "--advertise-address=127.0.0.1".to_string(),
            // The `kubernetes` Service's endpoints would be the advertised loopback address,
            // which the endpoint reconciler refuses.
            "--endpoint-reconciler-type=none".to_string(),
            format!("--secure-port={api_port}"),
            format!("--cert-dir={}", p("certs")),
            format!("--tls-cert-file={}", p("serving.crt")),
            format!("--tls-private-key-file={}", p("serving.key")),
            format!("--client-ca-file={}", p("ca.crt")),
            format!("--token-auth-file={}", p("tokens.csv")),
            "--authorization-mode=RBAC".to_string(),
            format!("--service-account-issuer={server}"),
            format!("--service-account-key-file={}", p("sa.pub")),
            format!("--service-account-signing-key-file={}", p("sa.key")),
            "--service-cluster-ip-range=10.0.0.0/24".to_string(),
            "--profiling=false".to_string(),
        ];
        procs.push(Proc::spawn(
            "kube-apiserver",
            &bins.apiserver,
            &api_args,
            dir.path(),
        )?);

        let kubeconfig_path = path("kubeconfig");
        let mut cluster = Self {
            procs,
            server,
            pki,
            kubeconfig_path,
            dir,
        };
        std::fs::write(&cluster.kubeconfig_path, cluster.kubeconfig())?;
        cluster.wait_ready().await?;

        if let Some(kcm) = &bins.controller_manager {
            let kcm_args = [
                format!("--kubeconfig={}", cluster.kubeconfig_path.display()),
                "--controllers=garbage-collector-controller,namespace-controller,serviceaccount-controller".to_string(),
                "--leader-elect=false".to_string(),
                "--secure-port=0".to_string(),
                "--concurrent-gc-syncs=5".to_string(),
            ];
            let proc = Proc::spawn(
                "kube-controller-manager",
                kcm,
                &kcm_args,
                cluster.dir.path(),
            )?;
            cluster.procs.push(proc);
        }
        Ok(cluster)
    }

    /// Polls `/readyz` until it answers `ok`, failing early when a component exits.
    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let client = self.client().await?;
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            for proc in &mut self.procs {
                proc.check_alive()?;
            }
            let req = http::Request::get("/readyz").body(Vec::new())?;
            let last = match client.request_text(req).await {
                Ok(body) if body.trim() == "ok" => return Ok(()),
                Ok(body) => body,
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                bail!(
                    "kube-apiserver not ready after {START_DEADLINE:?}: {last}\n{}",
                    self.procs[1].log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Kubeconfig for the admin user (bearer token, group `system:masters`).
    pub fn kubeconfig(&self) -> String {
        self.kubeconfig_for_token(&self.pki.admin_token)
    }

    /// The admin kubeconfig as a file (for kubectl and kube-controller-manager).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig_path
    }

    /// Kubeconfig for another bearer token, e.g. a ServiceAccount's from TokenRequest.
    pub fn kubeconfig_for_token(&self, token: &str) -> String {
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.pki.ca_pem);
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: real\n  cluster:\n    server: {}\n    \
             certificate-authority-data: {ca}\ncontexts:\n- name: real\n  context:\n    cluster: real\n    \
             user: user\n    namespace: default\ncurrent-context: real\nusers:\n- name: user\n  user:\n    \
             token: {token}\npreferences: {{}}\n",
            self.server
        )
    }

    /// A client of the admin user.
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        client_from_kubeconfig(&self.kubeconfig()).await
    }

    /// The tail of a component's log (`etcd`, `kube-apiserver`, `kube-controller-manager`).
    pub fn log_tail(&self, name: &str) -> String {
        self.procs
            .iter()
            .find(|p| p.name == name)
            .map(Proc::log_tail)
            .unwrap_or_default()
    }
}

impl Drop for RealCluster {
    fn drop(&mut self) {
        while let Some(proc) = self.procs.pop() {
            drop(proc);
        }
    }
}

/// A kube client for a kubeconfig document.
pub async fn client_from_kubeconfig(yaml: &str) -> anyhow::Result<kube::Client> {
    let kc = kube::config::Kubeconfig::from_yaml(yaml)?;
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await?;
    Ok(kube::Client::try_from(cfg)?)
}

async fn wait_for_tcp(proc: &mut Proc, port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        proc.check_alive()?;
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "{} not listening on {port} after {START_DEADLINE:?}\n{}",
                proc.name,
                proc.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
