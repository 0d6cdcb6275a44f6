//! The generic driver: one reconcile for every cloud kind, as a pipeline — resolve references →
//! validate → observe (from the observer's cache) → create | adopt | update | nothing → write
//! status — wrapped in the finalizer, the policies (Observe, paused, drift, deletion) and backoff.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::runtime::controller::Action;
use kube::runtime::events::Recorder;
use kube::runtime::finalizer::{self, Event as Finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};

use crate::api::common::{EXTERNAL_ID_ANNOTATION, FINALIZER, ManagementPolicy, PAUSED_ANNOTATION};

use super::backoff::Backoff;
use super::conditions::{State, Verdict};
use super::drift::{self, APPLIED_ANNOTATION};
use super::error::ReconcileError;
use super::locate::locate_or_create;
use super::managed::{CredentialContext, InputContext, ManagedKind, Readiness, Target};
use super::metrics::Metrics;
use super::observer::{Observer, ObserverConfig, Observers};
use super::refs::{Caches, RefIndex};
use super::report::{self, AnnotationChanges};
use super::target::{self, CloudClients};
use super::token::CREATE_PENDING_ANNOTATION;
use super::{cleanup, pending, secrets};

/// What every kind's controller shares.
pub struct Shared {
    pub kube: Client,
    /// Watch-fed caches of Platforms and VirtualMachines.
    pub caches: Caches,
    pub clouds: Arc<CloudClients>,
    pub metrics: Arc<Metrics>,
    pub recorder: Recorder,
    pub observer: ObserverConfig,
}

/// One kind's reconcile context.
pub struct Context<K: ManagedKind> {
    pub shared: Arc<Shared>,
    pub observers: Arc<Observers<K>>,
    pub backoff: Backoff<ObjectRef<K>>,
    /// Which objects refer to which VirtualMachines.
    pub refs: Arc<RefIndex<K>>,
}

impl<K: ManagedKind> Context<K> {
    pub fn new(shared: Arc<Shared>, observers: Arc<Observers<K>>) -> Self {
        Self {
            shared,
            observers,
            backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(300)),
            refs: Arc::new(RefIndex::default()),
        }
    }
}

/// How long a terminal failure waits before it is tried again without a change to the object.
const TERMINAL_RETRY: Duration = Duration::from_secs(600);

/// Everything a pass over one object resolved.
pub(super) struct Resolved<'a, K: ManagedKind> {
    pub obj: &'a K,
    pub api: Api<K>,
    pub objref: ObjectRef<K>,
    pub target: Target,
    pub observer: Arc<Observer<K>>,
    pub inputs: K::Inputs,
    pub connection: Option<BTreeMap<String, String>>,
}

/// The result of a successful pass: the status to write and when to look again.
pub(super) struct Converged {
    pub verdict: Verdict,
    pub kind_status: Option<serde_json::Value>,
    pub external_id: Option<String>,
    pub drift: Vec<crate::api::common::DriftEntry>,
    pub action: Action,
}

pub(super) fn is_paused<K: ManagedKind>(obj: &K) -> bool {
    obj.annotations()
        .get(PAUSED_ANNOTATION)
        .is_some_and(|v| v == "true")
}

pub(super) fn external_id<K: ManagedKind>(obj: &K) -> Option<String> {
    obj.annotations()
        .get(EXTERNAL_ID_ANNOTATION)
        .filter(|s| !s.is_empty())
        .cloned()
        .or_else(|| obj.common_status().and_then(|s| s.external_id.clone()))
}

/// Entry point for the controller: runs the finalizer helper around apply / cleanup.
pub async fn reconcile<K: ManagedKind>(
    obj: Arc<K>,
    ctx: Arc<Context<K>>,
) -> Result<Action, ReconcileError> {
    let started = Instant::now();
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.shared.kube.clone(), &ns);
    let (name, cached_version) = (obj.name_any(), obj.resource_version());
    let deleting = obj.meta().deletion_timestamp.is_some();
    let result = finalizer::finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            Finalizer::Apply(obj) => apply(&*obj, &*ctx).await,
            Finalizer::Cleanup(obj) => cleanup::cleanup(&*obj, &*ctx).await,
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
    if let Err(ReconcileError::Kube(kube::Error::Api(status))) = &result
        && status.code == 422
        && stale_cache(&api, &name, cached_version.as_deref()).await
    {
        // The finalizer helper's JSON patch tests the finalizers it read from the watch cache;
        // the object has changed since (usually our own write not yet seen): not a failure, the
        // watch event of that change reconciles it again.
        tracing::debug!(kind = K::KIND, namespace = %ns, name = %name, "finalizer patch raced a newer version; retried on its watch event");
        return Ok(Action::requeue(Duration::from_secs(5)));
    }
    if let Err(ReconcileError::Kube(kube::Error::Api(status))) = &result
        && deleting
        && status.is_not_found()
    {
        // The object was gone by the time its deletion's last write went out (its finalizer had
        // been removed): the deletion is done, not failed.
        tracing::debug!(kind = K::KIND, namespace = %ns, name = %name, "object gone while its deletion finished");
        return Ok(Action::await_change());
    }
    let outcome = match &result {
        Ok(_) => "ok",
        Err(ReconcileError::Pending(..)) => "pending",
        Err(_) => "error",
    };
    ctx.shared
        .metrics
        .reconciled(K::KIND, outcome, started.elapsed());
    if let Err(e) = &result
        && !matches!(e, ReconcileError::Pending(..))
    {
        ctx.shared.metrics.error(K::KIND, e.category());
    }
    result
}

/// The object's inputs and its connection Secret's current data. Deletion reads them too, so a
/// kind's `inputs` must not require, while the object is being deleted, what deletion does not need.
pub(super) async fn read_inputs<K: ManagedKind>(
    obj: &K,
    ctx: &Context<K>,
    target: &Target,
    ns: &str,
) -> Result<(K::Inputs, Option<BTreeMap<String, String>>), ReconcileError> {
    let kube = &ctx.shared.kube;
    let connection = match obj.connection_secret_name() {
        Some(name) => secrets::read(kube, ns, name).await?,
        None => None,
    };
    let inputs = obj
        .inputs(InputContext {
            client: kube,
            namespace: ns,
            caches: &ctx.shared.caches,
            connection_secret: connection.as_ref(),
            target,
        })
        .await?;
    Ok((inputs, connection))
}

/// Resolves references, inputs and the observer (apply).
pub(super) async fn resolve<'a, K: ManagedKind>(
    obj: &'a K,
    ctx: &Context<K>,
) -> Result<Resolved<'a, K>, ReconcileError> {
    let ns = obj.namespace().unwrap_or_default();
    let kube = &ctx.shared.kube;
    let api: Api<K> = Api::namespaced(kube.clone(), &ns);
    let objref = ObjectRef::from_obj(obj);
    ctx.refs.record(&objref, &ns, obj.vm_refs());
    let (target, account) = target::resolve(kube, &ctx.shared.clouds, obj, &ns).await?;
    let (inputs, connection) = read_inputs(obj, ctx, &target, &ns).await?;
    let observer = ctx.observers.for_object(&objref, &target, account);
    Ok(Resolved {
        obj,
        api,
        objref,
        target,
        observer,
        inputs,
        connection,
    })
}

async fn apply<K: ManagedKind>(obj: &K, ctx: &Context<K>) -> Result<Action, ReconcileError> {
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.shared.kube.clone(), &ns);
    let objref = ObjectRef::from_obj(obj);
    let current = report::current_status(obj);
    let outcome = converge(obj, ctx).await;
    let (converged, failure) = match outcome {
        Ok(c) => (c, None),
        Err(ReconcileError::Kube(e)) => return Err(ReconcileError::Kube(e)),
        Err(e) => (failed(&e), Some(e)),
    };
    let status = report::compose(
        &current,
        converged.kind_status.clone(),
        &converged.verdict,
        obj.meta().generation,
        converged.external_id.clone(),
        converged.drift.clone(),
    );
    let before = report::current_conditions(&current);
    let synced_before =
        super::conditions::find(&before, "Synced").map(|c| (c.reason.clone(), c.message.clone()));
    report::write_status(&api, &obj.name_any(), &current, status).await?;
    let ready = converged.verdict.ready.ok && converged.verdict.synced.ok;
    ctx.shared.metrics.object_state(
        K::KIND,
        format!("{ns}/{}", obj.name_any()),
        ready,
        !converged.drift.is_empty(),
    );
    let Some(err) = failure else {
        ctx.backoff.reset(&objref);
        return Ok(converged.action);
    };
    let changed = synced_before
        != Some((
            converged.verdict.synced.reason.to_owned(),
            converged.verdict.synced.message.clone(),
        ));
    if changed {
        if matches!(err, ReconcileError::ReferenceNotReady(_)) {
            // Waiting for a referenced object (a VM still provisioning) is part of converging.
            tracing::info!(kind = K::KIND, namespace = %ns, name = %obj.name_any(), reason = err.reason(), error = %err, "waiting for a reference");
        } else {
            tracing::warn!(kind = K::KIND, namespace = %ns, name = %obj.name_any(), reason = err.reason(), error = %err, "reconcile failed");
        }
        report::event(
            &ctx.shared.recorder,
            obj,
            true,
            err.reason(),
            "Reconcile",
            err.to_string(),
        )
        .await;
    } else {
        tracing::debug!(kind = K::KIND, namespace = %ns, name = %obj.name_any(), error = %err, "reconcile failed again");
    }
    ctx.shared.metrics.error(K::KIND, err.category());
    let delay = if err.is_terminal() {
        TERMINAL_RETRY
    } else {
        ctx.backoff.next(objref, err.retry_after())
    };
    Ok(Action::requeue(delay))
}

/// The verdict for a failed pass.
fn failed(e: &ReconcileError) -> Converged {
    let s = State::no(e.reason(), e.to_string());
    Converged {
        verdict: Verdict {
            synced: s.clone(),
            ready: s,
            stalled: e.is_terminal(),
        },
        kind_status: None,
        external_id: None,
        drift: Vec::new(),
        action: Action::await_change(),
    }
}

async fn converge<K: ManagedKind>(obj: &K, ctx: &Context<K>) -> Result<Converged, ReconcileError> {
    let policies = obj.policies();
    let observe_only = policies.management_policy == ManagementPolicy::Observe;
    let paused = is_paused(obj);
    let mut r = resolve(obj, ctx).await?;
    obj.validate(&r.target, &r.inputs)
        .map_err(ReconcileError::InvalidSpec)?;
    let create_pending = pending::is_marked(obj);
    r.observer.sync(create_pending).await?;

    let token = obj.create_token();
    let mut changes = AnnotationChanges::new();
    let known = external_id(obj);
    let observed = match known.as_deref().and_then(|id| r.observer.get(id)) {
        Some(o) => {
            r.observer.own(&K::external_id(&o), &r.objref);
            if create_pending {
                changes.insert(CREATE_PENDING_ANNOTATION.into(), None);
            }
            o
        }
        None => {
            let Some(o) = locate_or_create(
                &mut r,
                known.as_deref(),
                &token,
                observe_only,
                paused,
                &mut changes,
                ctx,
            )
            .await?
            else {
                return Ok(paused_before_create());
            };
            o
        }
    };
    let observed = obj.complete(observed, &r.inputs);
    let id = K::external_id(&observed);
    changes.insert(EXTERNAL_ID_ANNOTATION.into(), Some(id.clone()));
    let result = settle(&r, observed, observe_only, paused, &mut changes, ctx).await;
    report::patch_annotations(&r.api, obj, &changes).await?;
    let mut converged = result?;
    converged.external_id = Some(id);
    Ok(converged)
}

fn paused_before_create() -> Converged {
    let s = State::no(
        "Paused",
        "creation waits: the nno.app/paused annotation stops every write to 3nv.io",
    );
    Converged {
        verdict: Verdict {
            synced: s.clone(),
            ready: s,
            stalled: false,
        },
        kind_status: None,
        external_id: None,
        drift: Vec::new(),
        action: Action::await_change(),
    }
}

pub(super) fn policies_correct<K: ManagedKind>(obj: &K) -> bool {
    obj.policies().drift_policy == crate::api::common::DriftPolicy::Correct
}

/// With the cloud object known: wait while it settles, else plan and write the differences.
async fn settle<K: ManagedKind>(
    r: &Resolved<'_, K>,
    observed: K::Observed,
    observe_only: bool,
    paused: bool,
    changes: &mut AnnotationChanges,
    ctx: &Context<K>,
) -> Result<Converged, ReconcileError> {
    let obj = r.obj;
    let poll = ctx.shared.observer.poll_interval;
    obj.check(&observed, &r.inputs)
        .map_err(ReconcileError::InvalidSpec)?;
    if let Readiness::InTransition { state } = K::readiness(&observed) {
        let s = State::no(
            "Creating",
            format!("3nv.io reports state {state:?}; waiting for it to settle"),
        );
        return Ok(Converged {
            verdict: Verdict {
                synced: State::yes("ReconcileSuccess", ""),
                ready: s,
                stalled: false,
            },
            kind_status: Some(obj.status(&observed, &r.target)),
            external_id: None,
            drift: Vec::new(),
            // The observer lists fast meanwhile and wakes us; this is only a safety net.
            action: Action::requeue(poll),
        });
    }
    let mut applied = match changes.get(APPLIED_ANNOTATION) {
        Some(Some(json)) => serde_json::from_str(json).unwrap_or_default(),
        _ => drift::applied_record(obj.annotations()),
    };
    let fields = obj.fields(&observed, &r.inputs);
    let can_write = !observe_only && !paused;
    let plan = drift::plan(&fields, obj.policies(), &applied, can_write);
    let mut observed = observed;
    let mut pending = Vec::new();
    if !plan.write.is_empty() {
        let out = obj
            .update(&r.target, &observed, &r.inputs, &plan.write)
            .await?;
        if let Some(o) = out.observed {
            r.observer.put(o.clone());
            observed = o;
        }
        pending = out.pending;
        if !out.applied.is_empty() {
            applied = drift::record(applied, &fields, &out.applied);
            changes.insert(
                APPLIED_ANNOTATION.into(),
                serde_json::to_string(&applied).ok(),
            );
            let corrected: Vec<&str> = plan
                .corrections
                .iter()
                .copied()
                .filter(|p| out.applied.contains(p))
                .collect();
            let user: Vec<&str> = out
                .applied
                .iter()
                .copied()
                .filter(|p| !corrected.contains(p))
                .collect();
            if !corrected.is_empty() {
                ctx.shared.metrics.drift_corrected(K::KIND, corrected.len());
                report::event(
                    &ctx.shared.recorder,
                    obj,
                    false,
                    "DriftCorrected",
                    "Update",
                    format!(
                        "reverted changes made outside Kubernetes: {}",
                        corrected.join(", ")
                    ),
                )
                .await;
            }
            if !user.is_empty() {
                report::event(
                    &ctx.shared.recorder,
                    obj,
                    false,
                    "Updated",
                    "Update",
                    format!("applied {}", user.join(", ")),
                )
                .await;
            }
            tracing::info!(kind = K::KIND, name = %obj.name_any(), fields = ?out.applied, "updated");
        }
    }
    let after = obj.fields(&observed, &r.inputs);
    let replan = drift::plan(&after, obj.policies(), &applied, can_write);
    let pending_paths: Vec<&str> = pending.iter().map(|p| p.field).collect();
    let mut drift: Vec<_> = replan
        .reported
        .into_iter()
        .filter(|d| !pending_paths.contains(&d.field.as_str()))
        .collect();
    let kind_status = Some(obj.status(&observed, &r.target));
    if let Some(name) = obj.connection_secret_name() {
        let credentials = obj
            .credentials(
                CredentialContext {
                    api: &r.api,
                    target: &r.target,
                    current: r.connection.as_ref(),
                    can_write,
                    poll_interval: poll,
                },
                &observed,
                &r.inputs,
            )
            .await?;
        let mut details = obj
            .connection_details(Some(&observed), &r.inputs)
            .unwrap_or_default();
        details.extend(credentials.data);
        if !details.is_empty() {
            let ns = obj.namespace().unwrap_or_default();
            secrets::write(
                &ctx.shared.kube,
                obj,
                &ns,
                name,
                &details,
                r.connection.as_ref(),
            )
            .await?;
        }
        // Recorded only once the Secret holds what they refer to.
        changes.extend(credentials.annotations);
        drift.extend(credentials.drift);
        for (reason, note) in credentials.events {
            report::event(&ctx.shared.recorder, obj, false, reason, "Update", note).await;
        }
    }
    let synced = if paused {
        State::no(
            "Paused",
            "the nno.app/paused annotation stops every write to 3nv.io",
        )
    } else if let Some(p) = pending.first() {
        let msg: Vec<String> = pending.iter().map(|p| p.message.clone()).collect();
        State::no(p.reason, msg.join("; "))
    } else {
        State::yes("ReconcileSuccess", "")
    };
    let unsettled = replan
        .write
        .iter()
        .any(|f| !pending_paths.contains(&f.path));
    let ready = match K::readiness(&observed) {
        Readiness::Unavailable { state } => {
            State::no("Unavailable", format!("3nv.io reports state {state:?}"))
        }
        Readiness::InTransition { state } => {
            State::no("Creating", format!("3nv.io reports state {state:?}"))
        }
        Readiness::Ready if unsettled => State::no(
            "Updating",
            "changes were sent; waiting for 3nv.io to show them",
        ),
        Readiness::Ready => State::yes("Available", ""),
    };
    let action = if unsettled || !ready.ok && pending.is_empty() {
        Action::requeue(poll)
    } else {
        Action::await_change()
    };
    Ok(Converged {
        verdict: Verdict {
            synced,
            ready,
            stalled: false,
        },
        kind_status,
        external_id: None,
        drift,
        action,
    })
}

/// Whether the API server has a newer version of the object than `cached` (or no object at all).
async fn stale_cache<K: ManagedKind>(api: &Api<K>, name: &str, cached: Option<&str>) -> bool {
    match api.get_opt(name).await {
        Ok(Some(fresh)) => fresh.resource_version().as_deref() != cached,
        Ok(None) => true,
        Err(_) => false,
    }
}
