//! Runs one kind's kube-rs `Controller`: objects read through `DeserializeGuard` (a malformed one is
//! reported on itself), woken by their own watch, by the observers, by their Platform and by the
//! Secrets they use; the result stream is consumed here and each error logged once.

use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::core::DeserializeGuard;
use kube::core::PartialObjectMeta;
use kube::core::error_boundary::InvalidObject;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::utils::{PredicateConfig, WatchStreamExt};

use kube::runtime::watcher;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::api::platform::Platform;
use crate::api::virtual_machine::VirtualMachine;

use super::conditions::{self, State, Verdict};
use super::drift::APPLIED_ANNOTATION;
use super::driver::{self, Context, Shared};
use super::error::ReconcileError;
use super::managed::ManagedKind;
use super::observer::Observers;
use super::refs;
use super::token::CREATE_PENDING_ANNOTATION;
use super::wake_clock::WakeClock;
use super::{FIELD_MANAGER, report};

/// Settings of one kind's controller.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Watch only this namespace (`None`: all).
    pub namespace: Option<String>,
    pub concurrency: u16,
}

type Guarded<K> = DeserializeGuard<K>;

/// The Platform changes that matter to the objects referring to it: a new generation (its spec
/// supplies their credentials, location and billing account) and the start of its deletion.
/// Status and metadata writes (the Platform controller updates its jobs often) are dropped: they
/// would wake every dependent, and re-send a create the cloud refused, each time.
fn platform_key(p: &Platform) -> (Option<i64>, bool) {
    (
        p.metadata.generation,
        p.metadata.deletion_timestamp.is_some(),
    )
}

/// The VirtualMachine changes that matter to the objects referring to or selecting it: its labels
/// and what [`refs::VmTarget`] holds (3nv.io id, state, location, disks, deletion). Its other
/// status and annotation writes are dropped.
fn vm_key(
    vm: &Guarded<VirtualMachine>,
) -> Option<(
    std::collections::BTreeMap<String, String>,
    Option<refs::VmTarget>,
)> {
    vm.0.as_ref()
        .ok()
        .map(|vm| (vm.labels().clone(), refs::target(vm)))
}

fn api<R>(shared: &Shared, namespace: Option<&str>) -> Api<R>
where
    R: Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(shared.kube.clone(), ns),
        None => Api::all(shared.kube.clone()),
    }
}

/// Runs kind `K` until `shutdown` (finishing the reconciles in flight).
pub async fn run<K: ManagedKind>(
    shared: Arc<Shared>,
    cfg: RunnerConfig,
    shutdown: CancellationToken,
    synced: tokio::sync::oneshot::Sender<()>,
) {
    let (observers, wakes) = Observers::<K>::new(
        shared.observer,
        shared.metrics.clone(),
        shutdown.child_token(),
    );
    let ctx = Arc::new(Context::new(shared.clone(), observers));
    let platforms = shared.caches.platforms.store().clone();
    let index = ctx.refs.clone();
    let ns = cfg.namespace.as_deref();
    let (store, writer) = reflector::store();
    let clock = Arc::new(WakeClock::default());
    let arrivals = clock.clone();
    let own = watcher::watcher(api::<Guarded<K>>(&shared, ns), watcher::Config::default())
        .default_backoff()
        // Nothing reads managedFields from the cache, and they are often most of an object.
        .modify(|o| o.managed_fields_mut().clear())
        .reflect(writer)
        .applied_objects()
        .predicate_filter(relevant::<K>, PredicateConfig::default())
        .inspect_ok(move |obj| arrivals.arrived(obj));
    let controller = Controller::for_stream(own, store.clone())
        .with_config(kube::runtime::controller::Config::default().concurrency(cfg.concurrency));
    let by_platform = store.clone();
    let by_secret = store.clone();
    let ready_store = store.clone();
    let wake_stream = tokio_stream_from(wakes).map(|r: ObjectRef<K>| retarget::<K>(&r));
    let stop = shutdown.clone();
    tokio::spawn(async move {
        if ready_store.wait_until_ready().await.is_ok() {
            let _ = synced.send(());
        }
    });
    let mut controller = controller
        .watches_stream(shared.caches.platforms.changes(platform_key), move |p| {
            let ns = p.namespace().unwrap_or_default();
            let name = p.name_any();
            dependents::<K>(&by_platform, &ns, |o| o.platform_ref() == name)
        })
        // Secrets only wake their users (their data is read afresh when used), so their metadata
        // is enough: the watch carries no Secret data, and a data change moves resourceVersion.
        .watches_stream(
            watcher::watcher(
                api::<PartialObjectMeta<Secret>>(&shared, ns),
                watcher::Config::default().labels("app.kubernetes.io/managed-by!=nno-operator"),
            )
            .default_backoff()
            .touched_objects(),
            move |s| {
                let ns = s.namespace().unwrap_or_default();
                let name = s.name_any();
                let uses: Vec<String> = platforms
                    .state()
                    .iter()
                    .filter(|p| p.namespace().as_deref() == Some(ns.as_str()))
                    .filter(|p| {
                        p.spec
                            .cloud
                            .as_ref()
                            .is_some_and(|c| c.credentials_secret_ref.name == name)
                    })
                    .map(|p| p.name_any())
                    .collect();
                dependents::<K>(&by_secret, &ns, |o| {
                    uses.iter().any(|p| p == o.platform_ref())
                        || o.secret_refs().contains(&name.as_str())
                })
            },
        );
    if K::WATCHES_VMS {
        controller = controller.watches_stream(shared.caches.vms.changes(vm_key), move |vm| {
            let ns = vm.meta().namespace.clone().unwrap_or_default();
            index
                .dependents(&ns, &vm.name_any())
                .iter()
                .map(retarget::<K>)
                .collect::<Vec<_>>()
        });
    }
    controller
        .reconcile_on(wake_stream)
        .graceful_shutdown_on(async move { stop.cancelled().await })
        .run(
            move |obj, ctx: Arc<Context<K>>| {
                if let Some(waited) = clock.take(&*obj) {
                    ctx.shared.metrics.woken(K::KIND, waited);
                }
                reconcile::<K>(obj, ctx)
            },
            error_policy::<K>,
            ctx,
        )
        .for_each(|res| async move {
            match res {
                Ok(_) => {}
                Err(kube::runtime::controller::Error::ReconcilerFailed(
                    ReconcileError::Pending(..),
                    _,
                )) => {}
                Err(kube::runtime::controller::Error::ReconcilerFailed(e, obj)) => {
                    tracing::warn!(kind = K::KIND, object = %obj, error = %e, "reconcile failed");
                }
                Err(kube::runtime::controller::Error::ObjectNotFound(_)) => {}
                Err(e) => tracing::warn!(kind = K::KIND, error = %e, "controller error"),
            }
        })
        .await;
    tracing::info!(kind = K::KIND, "controller stopped");
}

/// What of an object may need a reconcile: its spec (generation), deletion, finalizers and the
/// annotations users set. The operator's own bookkeeping annotations and its status writes are left
/// out, so that they never wake the object they were written to (a terminal create failure would
/// otherwise loop through the create-pending annotation).
fn relevant<K: ManagedKind>(obj: &Guarded<K>) -> Option<u64> {
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
        if k != CREATE_PENDING_ANNOTATION
            && k != APPLIED_ANNOTATION
            && k != "kubectl.kubernetes.io/last-applied-configuration"
        {
            (k, v).hash(&mut h);
        }
    }
    Some(h.finish())
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

fn retarget<K: ManagedKind>(r: &ObjectRef<K>) -> ObjectRef<Guarded<K>> {
    let mut out = ObjectRef::<Guarded<K>>::new(&r.name);
    if let Some(ns) = &r.namespace {
        out = out.within(ns);
    }
    out
}

fn dependents<K: ManagedKind>(
    store: &Store<Guarded<K>>,
    ns: &str,
    uses: impl Fn(&K) -> bool,
) -> Vec<ObjectRef<Guarded<K>>> {
    store
        .state()
        .iter()
        .filter(|g| g.meta().namespace.as_deref() == Some(ns))
        .filter(|g| g.0.as_ref().is_ok_and(&uses))
        .map(|g| ObjectRef::from_obj(&**g))
        .collect()
}

async fn reconcile<K: ManagedKind>(
    guard: Arc<Guarded<K>>,
    ctx: Arc<Context<K>>,
) -> Result<Action, ReconcileError> {
    match &guard.0 {
        Ok(obj) => driver::reconcile(Arc::new(obj.clone()), ctx).await,
        Err(invalid) => {
            report_malformed(&guard, invalid, &ctx).await?;
            ctx.shared.metrics.error(K::KIND, "invalid");
            Ok(Action::await_change())
        }
    }
}

fn error_policy<K: ManagedKind>(
    guard: Arc<Guarded<K>>,
    err: &ReconcileError,
    ctx: Arc<Context<K>>,
) -> Action {
    match err {
        ReconcileError::Pending(_, _, Some(delay)) => Action::requeue(*delay),
        ReconcileError::Pending(_, _, None) => Action::await_change(),
        other => {
            let objref = ObjectRef::<K>::new(&guard.name_any())
                .within(&guard.namespace().unwrap_or_default());
            Action::requeue(
                ctx.backoff
                    .next(objref, other.retry_after())
                    .max(Duration::from_millis(200)),
            )
        }
    }
}

/// Shows the deserialization error on the object itself: conditions and a Warning event.
async fn report_malformed<K: ManagedKind>(
    guard: &Guarded<K>,
    invalid: &InvalidObject,
    ctx: &Context<K>,
) -> Result<(), ReconcileError> {
    let name = guard.name_any();
    let ns = guard.namespace().unwrap_or_default();
    tracing::warn!(kind = K::KIND, namespace = %ns, name = %name, error = %invalid.error, "object cannot be read; reported on the object");
    let message = format!(
        "this object cannot be read by the operator: {}",
        invalid.error
    );
    let s = State::no("MalformedObject", message.clone());
    let verdict = Verdict {
        synced: s.clone(),
        ready: s,
        stalled: true,
    };
    // The typed object cannot be read, so its current status comes from the untyped one.
    let resource = ApiResource::erase::<K>(&());
    let raw: Api<DynamicObject> = Api::namespaced_with(ctx.shared.kube.clone(), &ns, &resource);
    let current = raw
        .get_opt(&name)
        .await?
        .and_then(|o| o.data.get("status").cloned())
        .and_then(|s| match s {
            serde_json::Value::Object(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default();
    let now = Time(Timestamp::now());
    let previous = report::current_conditions(&current);
    let conds = conditions::build(&previous, &verdict, guard.meta().generation, &now);
    let mut status = current.clone();
    status.insert("conditions".into(), json!(conds));
    status.insert("observedGeneration".into(), json!(guard.meta().generation));
    if status == current {
        return Ok(());
    }
    let body = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    raw.patch_status(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(body),
    )
    .await?;
    report::event(
        &ctx.shared.recorder,
        guard,
        true,
        "MalformedObject",
        "Reconcile",
        message,
    )
    .await;
    Ok(())
}
