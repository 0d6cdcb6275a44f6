//! One harness, two Kubernetes backends for the end-to-end suites: the embedded devcluster (the
//! default: `cargo test` needs nothing else) or a real kube-apiserver + etcd, selected by
//! `NNO_TEST_KUBE_APISERVER` and `NNO_TEST_ETCD` pointing at the binaries `tests/k8s/build` makes
//! (`NNO_TEST_KUBE_CONTROLLER_MANAGER` adds garbage collection and namespace deletion).

pub mod kubectl;
pub mod manifests;
pub mod pki;
pub mod real;

use nno_devcluster::{DevCluster, Options};
use real::{Binaries, RealCluster};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long CRDs may take to become Established on a loaded machine.
const ESTABLISH_DEADLINE: Duration = Duration::from_secs(60);

/// Which API server a [`TestCluster`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Devcluster,
    Real,
}

/// The backend the environment selects (panics on a half-configured real backend).
pub fn selected() -> Backend {
    match Binaries::from_env() {
        None => Backend::Devcluster,
        Some(Ok(_)) => Backend::Real,
        Some(Err(e)) => panic!("real backend misconfigured: {e:#}"),
    }
}

enum Inner {
    Dev(DevCluster),
    Real(Box<RealCluster>),
}

/// A running API server for one test, with a kubeconfig file for kubectl; stopped on drop.
pub struct TestCluster {
    inner: Inner,
    kubeconfig_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestCluster {
    /// The backend the environment selects.
    pub async fn start() -> Self {
        match Binaries::from_env() {
            None => Self::start_dev(Options::default()).await,
            Some(bins) => {
                let bins = bins.unwrap_or_else(|e| panic!("real backend misconfigured: {e:#}"));
                let real = RealCluster::start(&bins)
                    .await
                    .unwrap_or_else(|e| panic!("real API server starts: {e:#}"));
                Self::wrap(Inner::Real(Box::new(real)))
            }
        }
    }

    /// The selected backend with every CRD in `dir` installed and Established.
    pub async fn start_with_crds(dir: &Path) -> Self {
        if selected() == Backend::Devcluster {
            return Self::start_dev(Options {
                crds_dir: Some(dir.to_path_buf()),
                ..Options::default()
            })
            .await;
        }
        let tc = Self::start().await;
        let objs = manifests::dir_documents(dir).expect("CRD manifests");
        let client = tc.client().await;
        manifests::apply(&client, &objs)
            .await
            .expect("CRDs applied");
        manifests::wait_established(&client, &objs, ESTABLISH_DEADLINE)
            .await
            .expect("CRDs established");
        tc
    }

    /// Applies every object of a (multi-document) YAML text; CRDs in it are Established on return.
    pub async fn apply_yaml(&self, yaml: &str) -> usize {
        match &self.inner {
            Inner::Dev(dc) => dc.apply_yaml(yaml).expect("manifests applied"),
            Inner::Real(_) => {
                let objs = manifests::documents(yaml).expect("YAML documents");
                let client = self.client().await;
                let n = manifests::apply(&client, &objs)
                    .await
                    .expect("manifests applied");
                manifests::wait_established(&client, &objs, ESTABLISH_DEADLINE)
                    .await
                    .expect("CRDs established");
                n
            }
        }
    }

    /// The client the operator under test runs with. On the real backend: a token of the
    /// ServiceAccount that the RBAC manifests in `rbac_dir` (config/rbac/) define and bind, so
    /// a permission missing there fails the test. The devcluster authorizes nothing, so there it
    /// is the admin client.
    pub async fn operator_client(&self, rbac_dir: &Path) -> kube::Client {
        let Inner::Real(real) = &self.inner else {
            return self.client().await;
        };
        let admin = self.client().await;
        let objs = manifests::dir_documents(rbac_dir).expect("RBAC manifests");
        let sa = objs
            .iter()
            .find(|o| o["kind"] == "ServiceAccount")
            .expect("a ServiceAccount in the RBAC manifests");
        let (ns, name) = (
            sa["metadata"]["namespace"].as_str().unwrap_or("default"),
            sa["metadata"]["name"]
                .as_str()
                .expect("ServiceAccount name"),
        );
        let namespace = serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns}});
        manifests::apply(&admin, &[namespace])
            .await
            .expect("operator namespace");
        manifests::apply(&admin, &objs).await.expect("RBAC applied");
        let token = manifests::service_account_token(&admin, ns, name)
            .await
            .expect("ServiceAccount token");
        real::client_from_kubeconfig(&real.kubeconfig_for_token(&token))
            .await
            .expect("operator client")
    }

    /// Always the devcluster, for tests of devcluster-only behaviour (each says why).
    pub async fn start_dev(opts: Options) -> Self {
        let dc = DevCluster::start(opts).await.expect("devcluster starts");
        Self::wrap(Inner::Dev(dc))
    }

    fn wrap(inner: Inner) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig_path = dir.path().join("kubeconfig");
        let mut tc = Self {
            inner,
            kubeconfig_path,
            _dir: dir,
        };
        std::fs::write(&tc.kubeconfig_path, tc.kubeconfig()).expect("kubeconfig written");
        if let Inner::Real(real) = &tc.inner {
            tc.kubeconfig_path = real.kubeconfig_path().to_path_buf();
        }
        tc
    }

    pub fn backend(&self) -> Backend {
        match self.inner {
            Inner::Dev(_) => Backend::Devcluster,
            Inner::Real(_) => Backend::Real,
        }
    }

    pub fn is_real(&self) -> bool {
        self.backend() == Backend::Real
    }

    /// Whether owner-reference garbage collection and namespace deletion run: always in the
    /// devcluster; on the real backend only with kube-controller-manager.
    pub fn has_controllers(&self) -> bool {
        match &self.inner {
            Inner::Dev(_) => true,
            Inner::Real(_) => Binaries::from_env()
                .and_then(Result::ok)
                .is_some_and(|b| b.controller_manager.is_some()),
        }
    }

    /// A client with full rights (the devcluster has no authorization; on the real backend the
    /// admin user is in `system:masters`).
    pub async fn client(&self) -> kube::Client {
        match &self.inner {
            Inner::Dev(dc) => dc.client().expect("devcluster client"),
            Inner::Real(real) => real.client().await.expect("real API server client"),
        }
    }

    pub fn kubeconfig(&self) -> String {
        match &self.inner {
            Inner::Dev(dc) => dc.kubeconfig(),
            Inner::Real(real) => real.kubeconfig(),
        }
    }

    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig_path
    }

    pub fn devcluster(&self) -> Option<&DevCluster> {
        match &self.inner {
            Inner::Dev(dc) => Some(dc),
            Inner::Real(_) => None,
        }
    }

    pub fn real(&self) -> Option<&RealCluster> {
        match &self.inner {
            Inner::Dev(_) => None,
            Inner::Real(real) => Some(real),
        }
    }
}
