//! Finding the cloud object of an object whose id is unknown or gone: adoption by create token
//! (guarded by the create-pending mark, read from the API server) or a create; never a second one.

use kube::ResourceExt;

use crate::api::common::EXTERNAL_ID_ANNOTATION;

use super::drift::{self, APPLIED_ANNOTATION};
use super::driver::{Context, Resolved, external_id, policies_correct};
use super::error::ReconcileError;
use super::managed::ManagedKind;
use super::report::{self, AnnotationChanges};
use super::token::CREATE_PENDING_ANNOTATION;
use super::{pending, secrets};

/// Finds the cloud object of an object whose id is unknown or gone: adopt by token, else create.
/// `Ok(None)` when paused before anything exists.
pub(super) async fn locate_or_create<K: ManagedKind>(
    r: &mut Resolved<'_, K>,
    known: Option<&str>,
    token: &str,
    observe_only: bool,
    paused: bool,
    changes: &mut AnnotationChanges,
    ctx: &Context<K>,
) -> Result<Option<K::Observed>, ReconcileError> {
    let obj = r.obj;
    let loc = match r.target.location.as_deref() {
        Some(slug) if K::LOCATED => slug,
        _ if K::LOCATED => "the account's default location",
        _ => "the account",
    };
    if let Some(id) = known {
        // Named but not listed. An id the user set (adoption, Observe) must exist; one the operator
        // recorded means the object was deleted behind its back.
        let ours = obj.common_status().and_then(|s| s.external_id.as_deref()) == Some(id);
        let recreate = ours && !observe_only && policies_correct(obj);
        if !recreate {
            return Err(ReconcileError::ExternalNotFound(format!(
                "3nv.io has no {} {id:?} in {loc} (from the nno.app/external-id annotation or status.externalId)",
                K::KIND
            )));
        }
        tracing::info!(kind = K::KIND, name = %obj.name_any(), id, "cloud object gone; creating it again");
    }
    if observe_only {
        return Err(ReconcileError::InvalidSpec(
            "managementPolicy Observe imports an existing cloud object read-only: set the nno.app/external-id annotation to its id".into(),
        ));
    }
    // A quorum read: the cached copy may not show this operator's last writes to the object yet.
    let latest = r.api.get(&obj.name_any()).await?;
    let marked = pending::is_marked(&latest);
    if marked && !pending::is_marked(obj) {
        // An earlier attempt's create, of unknown outcome, that the cached copy does not show.
        r.observer.sync(true).await?;
    }
    r.observer.own(token, &r.objref);
    if let Some(o) = r.observer.find_token(token) {
        let ours = marked || external_id(&latest) == Some(K::external_id(&o));
        if K::TOKEN_IS_NAME && !ours {
            // The name is taken by an object this one never asked for (created in the console,
            // or by another Kubernetes object): adopting it silently could hand it over, and
            // later delete it. Adoption of an existing object is explicit.
            return Err(ReconcileError::InvalidSpec(format!(
                "{kind} {token:?} already exists in this 3nv.io account and was not created for this object: \
                 choose another name, or adopt it by setting the annotation {EXTERNAL_ID_ANNOTATION}: {token}",
                kind = K::KIND,
            )));
        }
        tracing::info!(kind = K::KIND, name = %obj.name_any(), id = %K::external_id(&o), "adopted the cloud object carrying this object's create token");
        changes.insert(CREATE_PENDING_ANNOTATION.into(), None);
        report::event(
            &ctx.shared.recorder,
            obj,
            false,
            "Adopted",
            "Create",
            format!(
                "found {} {} created for this object; adopted it",
                K::KIND,
                K::external_id(&o)
            ),
        )
        .await;
        return Ok(Some(o));
    }
    if paused {
        return Ok(None);
    }
    let ns = obj.namespace().unwrap_or_default();
    if let (Some(name), Some(details)) = (
        obj.connection_secret_name(),
        obj.connection_details(None, &r.inputs),
    ) {
        // Stored before the create, so a generated credential is never lost with a lost reply.
        secrets::write(
            &ctx.shared.kube,
            obj,
            &ns,
            name,
            &details,
            r.connection.as_ref(),
        )
        .await?;
        r.connection = Some(details);
    }
    pending::mark(&r.api, &obj.name_any(), token).await?;
    match obj.create(&r.target, &r.inputs, token).await {
        Ok(o) => {
            r.observer.put(o.clone());
            r.observer.own(&K::external_id(&o), &r.objref);
            changes.insert(CREATE_PENDING_ANNOTATION.into(), None);
            let applied = drift::record_created(&obj.fields(&o, &r.inputs));
            changes.insert(
                APPLIED_ANNOTATION.into(),
                serde_json::to_string(&applied).ok(),
            );
            tracing::info!(kind = K::KIND, namespace = %ns, name = %obj.name_any(), id = %K::external_id(&o), "created");
            report::event(
                &ctx.shared.recorder,
                obj,
                false,
                "Created",
                "Create",
                format!("created {} {}", K::KIND, K::external_id(&o)),
            )
            .await;
            Ok(Some(o))
        }
        Err(e) => {
            if !e.outcome_unknown() {
                // Definitely not created: the next attempt need not list afresh.
                pending::clear(&r.api, &obj.name_any()).await?;
            }
            Err(ReconcileError::Cloud(e))
        }
    }
}
