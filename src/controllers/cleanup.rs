//! Deletion under the finalizer: delete in the cloud (unless `Orphan` or `Observe`), wait until it
//! is gone, then let the finalizer go. A cloud object already gone lets it go at once.

use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use crate::api::common::{DeletionPolicy, ManagementPolicy};

use std::sync::Arc;

use super::conditions::{State, Verdict};
use super::driver::{Context, external_id, is_paused, read_inputs};
use super::error::ReconcileError;
use super::managed::{ManagedKind, Target};
use super::observer::Observer;
use super::pending;
use super::report;
use super::target;

/// Cleans up; `Ok(await_change)` releases the finalizer, a requeue keeps it.
pub async fn cleanup<K: ManagedKind>(obj: &K, ctx: &Context<K>) -> Result<Action, ReconcileError> {
    let objref = ObjectRef::from_obj(obj);
    let policies = obj.policies();
    let keep = policies.deletion_policy == DeletionPolicy::Orphan
        || policies.management_policy == ManagementPolicy::Observe;
    let mut id = external_id(obj);
    let mut pending = pending::is_marked(obj);
    if !keep && id.is_none() && !pending {
        // Released only on the API server's word: the cached copy may not show yet a create
        // marked (or an id recorded) just before the deletion.
        let ns = obj.namespace().unwrap_or_default();
        let latest = kube::Api::<K>::namespaced(ctx.shared.kube.clone(), &ns)
            .get(&obj.name_any())
            .await?;
        id = external_id(&latest);
        pending = pending::is_marked(&latest);
    }
    if keep || (id.is_none() && !pending) {
        if keep {
            tracing::info!(kind = K::KIND, name = %obj.name_any(), id = ?id, "released; the cloud object stays (Orphan or Observe)");
        }
        // What was created for the object alone (an S3 key) goes with it, unless nothing may be
        // written (Observe, paused).
        let observe = policies.management_policy == ManagementPolicy::Observe;
        if !observe && !is_paused(obj) {
            release_extras(obj, ctx).await?;
        }
        return Ok(release(obj, ctx, &objref));
    }
    if is_paused(obj) {
        return hold(
            obj,
            ctx,
            State::no(
                "Paused",
                "deletion waits: the nno.app/paused annotation stops every write to 3nv.io",
            ),
            None,
        )
        .await;
    }
    let outcome = match delete(obj, ctx, id.as_deref(), pending).await {
        Ok(true) => release_extras(obj, ctx).await.map(|()| true),
        other => other,
    };
    match outcome {
        Ok(true) => {
            report::event(
                &ctx.shared.recorder,
                obj,
                false,
                "Deleted",
                "Delete",
                format!("deleted {} {}", K::KIND, id.unwrap_or_default()),
            )
            .await;
            tracing::info!(kind = K::KIND, namespace = %obj.namespace().unwrap_or_default(), name = %obj.name_any(), "deleted");
            Ok(release(obj, ctx, &objref))
        }
        Ok(false) => {
            hold(
                obj,
                ctx,
                State::no("Deleting", "waiting for 3nv.io to finish deleting"),
                Some(ctx.shared.observer.transition_interval),
            )
            .await
        }
        Err(ReconcileError::Kube(e)) => Err(ReconcileError::Kube(e)),
        Err(e) => {
            let delay = ctx.backoff.next(objref, e.retry_after());
            let state = State::no(e.reason(), format!("deletion is blocked: {e}"));
            let before = report::current_conditions(&report::current_status(obj));
            let changed = super::conditions::find(&before, "Synced")
                .is_none_or(|c| c.reason != state.reason || c.message != state.message);
            if changed {
                tracing::warn!(kind = K::KIND, name = %obj.name_any(), reason = e.reason(), error = %e, "deletion failed");
                report::event(
                    &ctx.shared.recorder,
                    obj,
                    true,
                    e.reason(),
                    "Delete",
                    state.message.clone(),
                )
                .await;
            } else {
                tracing::debug!(kind = K::KIND, name = %obj.name_any(), error = %e, "deletion failed again");
            }
            hold(obj, ctx, state, Some(delay)).await
        }
    }
}

/// Deletes the cloud object; `Ok(true)` once it is gone.
async fn delete<K: ManagedKind>(
    obj: &K,
    ctx: &Context<K>,
    id: Option<&str>,
    pending: bool,
) -> Result<bool, ReconcileError> {
    let (target, observer) = reach(obj, ctx).await?;
    let ns = obj.namespace().unwrap_or_default();
    let (inputs, _) = read_inputs(obj, ctx, &target, &ns).await?;
    observer.sync(pending).await?;
    let observed = match id {
        Some(id) => observer.get(id),
        None => observer.find_token(&obj.create_token()),
    };
    let Some(observed) = observed else {
        return Ok(true);
    };
    let observed = obj.complete(observed, &inputs);
    let cloud_id = K::external_id(&observed);
    match obj.delete(&target, &observed).await {
        Ok(()) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => {
            return Err(match K::deletion_blocked(&e) {
                Some((reason, message)) => ReconcileError::Pending(reason, message, None),
                None => e.into(),
            });
        }
    }
    match K::get(
        &target.client,
        observer.key().location.as_deref(),
        &cloud_id,
    )
    .await
    {
        Err(e) if e.is_not_found() => {
            observer.remove(&cloud_id);
            Ok(true)
        }
        Err(e) => Err(e.into()),
        Ok(o) => {
            observer.put(o);
            Ok(false)
        }
    }
}

/// The account and observer to delete through. When the Platform or its credentials Secret went
/// first (a namespace being deleted takes everything at once), the client this object last used
/// still reaches the account.
async fn reach<K: ManagedKind>(
    obj: &K,
    ctx: &Context<K>,
) -> Result<(Target, Arc<Observer<K>>), ReconcileError> {
    let ns = obj.namespace().unwrap_or_default();
    let objref = ObjectRef::from_obj(obj);
    match target::resolve(&ctx.shared.kube, &ctx.shared.clouds, obj, &ns).await {
        Ok((target, account)) => {
            let observer = ctx.observers.for_object(&objref, &target, account);
            Ok((target, observer))
        }
        Err(
            e @ (ReconcileError::ReferenceNotReady(_) | ReconcileError::CredentialsNotReady(_)),
        ) => {
            let Some(observer) = ctx.observers.last_used(&objref) else {
                return Err(e);
            };
            tracing::info!(kind = K::KIND, name = %obj.name_any(), reason = %e, "deleting with the credentials this object last used");
            let target = Target {
                client: observer.client().clone(),
                location: observer.key().location.clone(),
                billing_account_id: None,
                account: observer.key().account,
            };
            Ok((target, observer))
        }
        Err(e) => Err(e),
    }
}

/// Releases what the kind created besides the cloud object (credentials), through the same
/// account [`reach`] finds. With neither the Platform nor a client this object used, nothing can
/// be cleaned up, and deletion must not wait for a Platform that is gone.
async fn release_extras<K: ManagedKind>(obj: &K, ctx: &Context<K>) -> Result<(), ReconcileError> {
    let target = match reach(obj, ctx).await {
        Ok((target, _)) => target,
        Err(ReconcileError::ReferenceNotReady(_) | ReconcileError::CredentialsNotReady(_)) => {
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    match obj.release(&target).await {
        Err(e) if !e.is_not_found() => Err(e.into()),
        _ => Ok(()),
    }
}

fn release<K: ManagedKind>(obj: &K, ctx: &Context<K>, objref: &ObjectRef<K>) -> Action {
    ctx.observers.forget(objref);
    ctx.refs.forget(objref);
    ctx.backoff.reset(objref);
    ctx.shared.metrics.object_gone(
        K::KIND,
        format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any()),
    );
    Action::await_change()
}

/// Keeps the finalizer, showing why in the conditions. A `hold` requeue goes through the
/// finalizer helper as an `Err`, so the finalizer is not removed.
async fn hold<K: ManagedKind>(
    obj: &K,
    ctx: &Context<K>,
    state: State,
    requeue: Option<std::time::Duration>,
) -> Result<Action, ReconcileError> {
    let api = kube::Api::<K>::namespaced(
        ctx.shared.kube.clone(),
        &obj.namespace().unwrap_or_default(),
    );
    let current = report::current_status(obj);
    let verdict = Verdict {
        synced: state.clone(),
        ready: state.clone(),
        stalled: false,
    };
    let status = report::compose(
        &current,
        None,
        &verdict,
        obj.meta().generation,
        None,
        Vec::new(),
    );
    report::write_status(&api, &obj.name_any(), &current, status).await?;
    Err(ReconcileError::Pending(
        state.reason,
        state.message,
        requeue,
    ))
}
