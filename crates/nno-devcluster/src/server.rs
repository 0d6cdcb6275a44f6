//! The HTTP server: routes, start-up (bootstrap namespaces, CRDs from the store and from `--crds`),
//! the garbage collector task, and the handle tests and the CLI use.

use crate::handlers::{App, put_internal, resource_handler};
use crate::registry::{Registry, from_crd};
use crate::store::{Store, StoreError};
use crate::{discovery, gc, kubeconfig, openapi_docs};
use axum::Router;
use axum::routing::{any, get};
use nno_support::serve::Server;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Start-up options.
#[derive(Debug, Clone)]
pub struct Options {
    pub addr: SocketAddr,
    pub state_file: Option<PathBuf>,
    pub crds_dir: Option<PathBuf>,
    /// Events kept for watches to resume from.
    pub history_limit: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            state_file: None,
            crds_dir: None,
            history_limit: 10_000,
        }
    }
}

/// Errors starting the devcluster.
#[derive(Debug, thiserror::Error)]
pub enum DevClusterError {
    #[error(
        "refusing to listen on {0}: the devcluster serves plain HTTP without authentication, loopback only"
    )]
    NotLoopback(SocketAddr),
    #[error("binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("reading CRDs from {path}: {message}")]
    Crds { path: PathBuf, message: String },
    #[error("bootstrapping {what}: {message}")]
    Bootstrap { what: String, message: String },
    #[error("building a kube client: {0}")]
    Client(String),
}

/// A running devcluster.
#[derive(Debug)]
pub struct DevCluster {
    addr: SocketAddr,
    app: Arc<App>,
    server: Server,
    gc: JoinHandle<()>,
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/version", get(|| async { discovery::version() }))
        .route("/healthz", get(|| async { "ok" }))
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .route("/openapi/v3", get(openapi_docs::index))
        .route("/openapi/v3/{*path}", get(openapi_docs::group_version))
        .route("/api", any(resource_handler))
        .route("/api/{*rest}", any(resource_handler))
        .route("/apis", any(resource_handler))
        .route("/apis/{*rest}", any(resource_handler))
        .fallback(|| async { crate::status::ApiError::no_route() })
        // The API server's request size limit.
        .layer(axum::extract::DefaultBodyLimit::max(3 * 1024 * 1024))
        .with_state(app)
}

fn yaml_docs(text: &str) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let v: Value = serde::Deserialize::deserialize(doc).map_err(|e| e.to_string())?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

fn load_crd_files(dir: &std::path::Path) -> Result<Vec<Value>, DevClusterError> {
    let err = |message: String| DevClusterError::Crds {
        path: dir.to_path_buf(),
        message,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| err(e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| err(format!("{}: {e}", f.display())))?;
        let docs = yaml_docs(&text).map_err(|e| err(format!("{}: {e}", f.display())))?;
        out.extend(
            docs.into_iter()
                .filter(|v| v["kind"] == "CustomResourceDefinition"),
        );
    }
    Ok(out)
}

impl DevCluster {
    /// Loads state, bootstraps, binds and serves.
    pub async fn start(opts: Options) -> Result<Self, DevClusterError> {
        if !opts.addr.ip().is_loopback() {
            return Err(DevClusterError::NotLoopback(opts.addr));
        }
        let store = Store::open(opts.state_file.as_deref(), opts.history_limit)?;
        let registry = Registry::new();
        let (crds, _, _) = store.list(
            "apiextensions.k8s.io/customresourcedefinitions",
            None,
            None,
            None,
            &|_| true,
        );
        for crd in crds {
            if let Ok(info) = from_crd(&crd) {
                registry.register(info);
            }
        }
        let app = Arc::new(App {
            store,
            registry,
            shutdown: tokio_util::sync::CancellationToken::new(),
        });
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            if app.store.get("/namespaces", "", ns).is_none() {
                put_internal(
                    &app,
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                )
                .map_err(|e| DevClusterError::Bootstrap {
                    what: format!("namespace {ns}"),
                    message: e.message,
                })?;
            }
        }
        if let Some(dir) = &opts.crds_dir {
            for crd in load_crd_files(dir)? {
                let name = crd["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                put_internal(&app, crd).map_err(|e| DevClusterError::Bootstrap {
                    what: format!("CRD {name}"),
                    message: e.message,
                })?;
            }
        }
        let server = Server::bind(opts.addr, router(app.clone()), "devcluster")
            .await
            .map_err(|source| DevClusterError::Bind {
                addr: opts.addr,
                source,
            })?;
        let addr = server.addr();
        let gc = tokio::spawn(gc::run(Arc::downgrade(&app)));
        tracing::info!(%addr, "devcluster serving");
        Ok(Self {
            addr,
            app,
            server,
            gc,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kube client for this cluster (default namespace `default`).
    pub fn client(&self) -> Result<kube::Client, DevClusterError> {
        let uri: http::Uri = self
            .url()
            .parse()
            .map_err(|e: http::uri::InvalidUri| DevClusterError::Client(e.to_string()))?;
        let mut config = kube::Config::new(uri);
        config.default_namespace = "default".into();
        config.read_timeout = None;
        kube::Client::try_from(config).map_err(|e| DevClusterError::Client(e.to_string()))
    }

    /// Kubeconfig YAML for this cluster.
    pub fn kubeconfig(&self) -> String {
        kubeconfig::render(&self.url())
    }

    /// Creates or replaces every object of a multi-document YAML (CRDs first, so a single
    /// `crds + samples` document works), as `kubectl apply` would without the last-applied annotation.
    pub fn apply_yaml(&self, yaml: &str) -> Result<usize, DevClusterError> {
        let mut docs = yaml_docs(yaml).map_err(|message| DevClusterError::Bootstrap {
            what: "YAML".into(),
            message,
        })?;
        docs.sort_by_key(|d| d["kind"] != "CustomResourceDefinition");
        for d in &docs {
            let what = format!(
                "{} {}",
                d["kind"].as_str().unwrap_or("object"),
                d["metadata"]["name"].as_str().unwrap_or_default()
            );
            put_internal(&self.app, d.clone()).map_err(|e| DevClusterError::Bootstrap {
                what,
                message: e.message,
            })?;
        }
        Ok(docs.len())
    }

    /// The server state (for in-process inspection, e.g. the benchmark).
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Stops serving (open watches end) and the garbage collector.
    pub async fn stop(self) {
        self.app.shutdown.cancel();
        self.gc.abort();
        self.server.stop(std::time::Duration::from_secs(5)).await;
    }
}
