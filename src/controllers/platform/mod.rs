//! The Platform controller: converges a customer platform in the NNO provisioning service by
//! submitting one job per change and following it (status is the record of every job, so a
//! restart resumes rather than resubmits), checks the `spec.cloud` 3nv.io account (`CloudReady`),
//! and on deletion removes the platform's infrastructure objects before deprovisioning it.

pub mod cloud;
pub mod converge;
pub mod delete;
pub mod jobs;
pub mod plan;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::core::DeserializeGuard;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{self, Event as Finalizer};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::utils::{PredicateConfig, WatchStreamExt};
use kube::runtime::watcher;
use kube::{Api, Resource, ResourceExt};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::api::common::FINALIZER;
use crate::api::platform::{Platform, PlatformPhase, PlatformStatus};
use crate::cloud::nno::NnoClient;

use super::backoff::Backoff;
use super::conditions::{self, State, Verdict};
use super::driver::Shared;
use super::error::ReconcileError;
use super::report;
use super::runner::RunnerConfig;

pub const KIND: &str = "Platform";
/// Annotation: any new value re-arms jobs the operator gave up on.
pub const RETRY_ANNOTATION: &str = "nno.app/retry";

/// The Platform controller's context.
pub struct PlatformContext {
    pub shared: Arc<Shared>,
    pub nno: NnoClient,
    /// Delays after failed reconciles.
    pub backoff: Backoff<ObjectRef<Platform>>,
    /// Delays between reads of running jobs (grow while nothing moves).
    pub polls: Backoff<ObjectRef<Platform>>,
    /// Job id → earliest time of its next retry.
    pub retry_at: Mutex<HashMap<String, Instant>>,
    pub checks: cloud::CloudChecks,
    /// How often a converged Platform is looked at again (CloudReady, DLQ).
    pub resync: Duration,
}

impl PlatformContext {
    pub fn new(shared: Arc<Shared>, nno: NnoClient) -> Self {
        let transition = shared.observer.transition_interval;
        let resync = shared.observer.poll_interval;
        Self {
            shared,
            nno,
            backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(300)),
            polls: Backoff::new(transition, Duration::from_secs(10).max(transition)),
            retry_at: Mutex::new(HashMap::new()),
            checks: cloud::CloudChecks::default(),
            resync,
        }
    }

    /// The delay before retry number `retries + 1` of a failed job.
    pub fn retry_delay(&self, retries: i32) -> Duration {
        let exp = retries.clamp(0, 6) as u32;
        Duration::from_millis(500)
            .saturating_mul(1 << exp)
            .min(Duration::from_secs(60))
    }
}

type Guarded = DeserializeGuard<Platform>;

/// Runs the Platform controller until `shutdown`; `synced` fires once its cache is.
pub async fn run(
    shared: Arc<Shared>,
    nno: NnoClient,
    cfg: RunnerConfig,
    shutdown: CancellationToken,
    synced: tokio::sync::oneshot::Sender<()>,
) {
    let ns = cfg.namespace.as_deref();
    let platforms: Api<Guarded> = match ns {
        Some(ns) => Api::namespaced(shared.kube.clone(), ns),
        None => Api::all(shared.kube.clone()),
    };
    let secrets: Api<Secret> = match ns {
        Some(ns) => Api::namespaced(shared.kube.clone(), ns),
        None => Api::all(shared.kube.clone()),
    };
    let ctx = Arc::new(PlatformContext::new(shared.clone(), nno));
    let (store, writer) = reflector::store();
    let own = watcher::watcher(platforms, watcher::Config::default())
        .default_backoff()
        // Nothing reads managedFields from the cache, and they are often most of an object.
        .modify(|o| o.managed_fields_mut().clear())
        .reflect(writer)
        .applied_objects()
        .predicate_filter(relevant, PredicateConfig::default());
    let ready_store = store.clone();
    tokio::spawn(async move {
        if ready_store.wait_until_ready().await.is_ok() {
            let _ = synced.send(());
        }
    });
    let by_secret = store.clone();
    let stop = shutdown.clone();
    Controller::for_stream(own, store)
        .with_config(kube::runtime::controller::Config::default().concurrency(cfg.concurrency))
        .watches(
            secrets,
            watcher::Config::default().labels("app.kubernetes.io/managed-by!=nno-operator"),
            move |s| {
                let ns = s.namespace().unwrap_or_default();
                let name = s.name_any();
                by_secret
                    .state()
                    .iter()
                    .filter(|g| g.meta().namespace.as_deref() == Some(ns.as_str()))
                    .filter(|g| {
                        g.0.as_ref().is_ok_and(|p| {
                            p.spec
                                .cloud
                                .as_ref()
                                .is_some_and(|c| c.credentials_secret_ref.name == name)
                        })
                    })
                    .map(|g| ObjectRef::from_obj(&**g))
                    .collect::<Vec<_>>()
            },
        )
        .graceful_shutdown_on(async move { stop.cancelled().await })
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            match res {
                Ok(_)
                | Err(kube::runtime::controller::Error::ReconcilerFailed(
                    ReconcileError::Pending(..),
                    _,
                ))
                | Err(kube::runtime::controller::Error::ObjectNotFound(_)) => {}
                Err(kube::runtime::controller::Error::ReconcilerFailed(e, obj)) => {
                    tracing::warn!(kind = KIND, object = %obj, error = %e, "reconcile failed");
                }
                Err(e) => tracing::warn!(kind = KIND, error = %e, "controller error"),
            }
        })
        .await;
    tracing::info!(kind = KIND, "controller stopped");
}

/// What may need a reconcile: spec, deletion, finalizers, annotations (not status writes).
fn relevant(obj: &Guarded) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let m = obj.meta();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    m.uid.hash(&mut h);
    m.generation.hash(&mut h);
    m.deletion_timestamp
        .as_ref()
        .map(|t| t.0.as_millisecond())
        .hash(&mut h);
    m.finalizers.hash(&mut h);
    for (k, v) in m.annotations.iter().flatten() {
        if k != "kubectl.kubernetes.io/last-applied-configuration" {
            (k, v).hash(&mut h);
        }
    }
    Some(h.finish())
}

async fn reconcile(
    guard: Arc<Guarded>,
    ctx: Arc<PlatformContext>,
) -> Result<Action, ReconcileError> {
    let started = Instant::now();
    let obj = match &guard.0 {
        Ok(p) => Arc::new(p.clone()),
        Err(invalid) => {
            tracing::warn!(kind = KIND, name = %guard.name_any(), error = %invalid.error, "Platform cannot be read");
            ctx.shared.metrics.error(KIND, "invalid");
            return Ok(Action::await_change());
        }
    };
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<Platform> = Api::namespaced(ctx.shared.kube.clone(), &ns);
    let result = finalizer::finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            Finalizer::Apply(p) => converge::apply(&p, &ctx).await,
            Finalizer::Cleanup(p) => converge::cleanup(&p, &ctx).await,
        }
    })
    .await
    .map_err(|e| match e {
        finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e) => e,
        finalizer::Error::AddFinalizer(e) | finalizer::Error::RemoveFinalizer(e) => {
            ReconcileError::Kube(e)
        }
        other => ReconcileError::Malformed(other.to_string()),
    });
    let outcome = match &result {
        Ok(_) => "ok",
        Err(ReconcileError::Pending(..)) => "pending",
        Err(e) => {
            ctx.shared.metrics.error(KIND, e.category());
            "error"
        }
    };
    ctx.shared
        .metrics
        .reconciled(KIND, outcome, started.elapsed());
    result
}

fn error_policy(guard: Arc<Guarded>, err: &ReconcileError, ctx: Arc<PlatformContext>) -> Action {
    match err {
        ReconcileError::Pending(_, _, Some(delay)) => Action::requeue(*delay),
        ReconcileError::Pending(_, _, None) => Action::await_change(),
        other => {
            let objref = ObjectRef::<Platform>::new(&guard.name_any())
                .within(&guard.namespace().unwrap_or_default());
            Action::requeue(
                ctx.backoff
                    .next(objref, other.retry_after())
                    .max(Duration::from_millis(200)),
            )
        }
    }
}

/// What one pass concluded, for the status.
pub struct Report {
    pub verdict: Verdict,
    pub phase: PlatformPhase,
    /// Conditions of the Platform's own types (`CloudReady`, `RemovalNotSupported`, `Deleting`).
    pub extra: Vec<(&'static str, State)>,
}

/// Writes `st` plus the report's conditions; `current` becomes what was written.
pub async fn write(
    api: &Api<Platform>,
    p: &Platform,
    current: &mut Map<String, Value>,
    st: &PlatformStatus,
    r: &Report,
) -> Result<(), kube::Error> {
    let mut st = st.clone();
    st.phase = Some(r.phase);
    let kind_fields = serde_json::to_value(&st).unwrap_or(Value::Null);
    let generation = p.metadata.generation;
    let mut status = report::compose(
        current,
        Some(kind_fields),
        &r.verdict,
        generation,
        st.common.external_id.clone(),
        Vec::new(),
    );
    let previous = report::current_conditions(current);
    let now = Time(Timestamp::now());
    let mut conds: Vec<Value> = status
        .get("conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (type_, state) in &r.extra {
        let c = conditions::extra(&previous, type_, state, generation, &now);
        conds.push(json!(c));
    }
    status.insert("conditions".into(), Value::Array(conds));
    report::write_status(api, &p.name_any(), current, status.clone()).await?;
    *current = status;
    Ok(())
}
