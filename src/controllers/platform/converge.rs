//! One pass over a Platform: follow the recorded jobs, plan the changes, submit (recording each
//! job before it is sent), retry failed jobs with backoff up to `maxJobRetries`, read the DLQ,
//! and conclude the conditions; and the deletion pass built from the same steps.

use std::time::{Duration, Instant};

use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use serde_json::{Map, Value};

use crate::api::common::DeletionPolicy;
use crate::api::platform::{Platform, PlatformPhase, PlatformStatus};
use crate::cloud::ApiError;

use super::super::conditions::{State, Verdict};
use super::super::error::ReconcileError;
use super::super::report;
use super::cloud::{self, CONDITION_CLOUD_READY};
use super::delete;
use super::jobs::{self, Decision};
use super::plan::{self, Change, Op};
use super::{PlatformContext, RETRY_ANNOTATION, Report, write};

/// What acting on a decision left to wait for.
#[derive(Default)]
struct Acted {
    /// The earliest time a failed job may be retried.
    next_retry: Option<Instant>,
    /// Something was submitted or retried.
    moved: bool,
}

fn in_progress_state(op: Op) -> &'static str {
    match op {
        Op::FeatureDeactivate | Op::StackDeactivate => "Deactivating",
        Op::AppCreate => "Creating",
        Op::DomainAdd => "Adding",
        _ => "Activating",
    }
}

/// Whether the retry annotation carries a value not acted on yet (and records it).
fn take_rearm(p: &Platform, st: &mut PlatformStatus) -> bool {
    let v = p.annotations().get(RETRY_ANNOTATION).cloned();
    if v.is_some() && v != st.retry_annotation {
        st.retry_annotation = v;
        return true;
    }
    false
}

/// Follows recorded jobs, counting transitions and scheduling retries of new failures.
async fn follow(
    p: &Platform,
    ctx: &PlatformContext,
    st: &mut PlatformStatus,
) -> Result<bool, ApiError> {
    let followed = jobs::follow(&ctx.nno, &p.spec, st).await?;
    for (op, status) in &followed.transitions {
        let op = Op::parse(op).map_or("unknown", Op::as_str);
        let result = match status.as_str() {
            jobs::COMPLETED => "completed",
            jobs::FAILED => "failed",
            jobs::LOST => "lost",
            _ => continue,
        };
        ctx.shared.metrics.platform_job(op, result);
    }
    let mut retry_at = ctx.retry_at.lock().unwrap_or_else(|e| e.into_inner());
    for id in &followed.newly_failed {
        let retries = st
            .jobs
            .iter()
            .find(|j| &j.job_id == id)
            .map_or(0, |j| j.retries);
        retry_at.insert(id.clone(), Instant::now() + ctx.retry_delay(retries));
    }
    Ok(!followed.transitions.is_empty())
}

/// Retries and submits what `d` asks for. Every submission is first recorded as `SUBMITTING`
/// in the status (written before the POST), so a crash right after the POST is adopted later.
async fn act(
    p: &Platform,
    ctx: &PlatformContext,
    api: &Api<Platform>,
    current: &mut Map<String, Value>,
    st: &mut PlatformStatus,
    d: &Decision,
    rearm: bool,
) -> Result<Acted, ReconcileError> {
    let generation = p.metadata.generation.unwrap_or(0);
    let max = p.spec.max_job_retries;
    let mut out = Acted::default();
    for &i in &d.retry {
        let now = Instant::now();
        let id = st.jobs[i].job_id.clone();
        let rearmed = rearm
            || st.jobs[i].retries >= max
            || st.jobs[i].generation.is_some_and(|g| g < generation);
        let due = {
            let mut map = ctx.retry_at.lock().unwrap_or_else(|e| e.into_inner());
            if rearmed {
                map.remove(&id);
                None
            } else {
                let delay = ctx.retry_delay(st.jobs[i].retries);
                Some(*map.entry(id.clone()).or_insert(now + delay))
            }
        };
        if let Some(t) = due.filter(|t| *t > now) {
            out.next_retry = Some(out.next_retry.map_or(t, |n: Instant| n.min(t)));
            continue;
        }
        if rearmed {
            st.jobs[i].retries = 0;
            st.jobs[i].generation = Some(generation);
        }
        match ctx.nno.retry_job(&id).await {
            Ok(_) => {
                let r = &mut st.jobs[i];
                r.status = jobs::QUEUED.into();
                r.retries += 1;
                ctx.retry_at
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
                ctx.shared.metrics.platform_job(
                    Op::parse(&r.operation).map_or("unknown", Op::as_str),
                    "retried",
                );
                tracing::info!(namespace = %p.namespace().unwrap_or_default(), name = %p.name_any(), job = %id, retry = r.retries, "retrying a failed job");
                out.moved = true;
            }
            // No longer FAILED (retried or completed by someone else): the next read shows it.
            Err(e) if e.is_conflict() => out.moved = true,
            Err(e) => return Err(e.into()),
        }
    }
    if d.submit.is_empty() {
        return Ok(out);
    }
    let pid = jobs::platform_id(&p.spec, st).to_owned();
    let mut bodies = Vec::new();
    for change in &d.submit {
        let body = jobs::request(&p.spec, &pid, change).map_err(ReconcileError::InvalidSpec)?;
        st.jobs.push(jobs::intent(change, generation));
        bodies.push((st.jobs.len() - 1, change.clone(), body));
    }
    let progress = Report {
        verdict: provisioning("submitting jobs".into()),
        phase: PlatformPhase::Provisioning,
        extra: Vec::new(),
    };
    write(api, p, current, st, &progress).await?;
    let mut first_err = None;
    for (i, change, body) in bodies {
        let op = change.op.as_str();
        match jobs::submit(&ctx.nno, change.op, &body).await {
            Ok(id) => {
                let r = &mut st.jobs[i];
                r.job_id = id.clone();
                r.status = jobs::QUEUED.into();
                let rec = r.clone();
                plan::mark(st, &rec, in_progress_state(change.op));
                ctx.shared.metrics.platform_job(op, "submitted");
                tracing::info!(namespace = %p.namespace().unwrap_or_default(), name = %p.name_any(), job = %id, change = %change.describe(), "submitted a provisioning job");
                report::event(
                    &ctx.shared.recorder,
                    p,
                    false,
                    "JobSubmitted",
                    "Provision",
                    format!("{} → job {id}", change.describe()),
                )
                .await;
                out.moved = true;
            }
            Err(
                e @ (ApiError::Rejected { .. }
                | ApiError::Conflict { .. }
                | ApiError::NotFound { .. }),
            ) => {
                let r = &mut st.jobs[i];
                r.status = jobs::REJECTED.into();
                r.reason = Some(e.message());
                if let ApiError::Rejected { request_id, .. } = &e {
                    r.request_id = request_id.clone();
                }
                ctx.shared.metrics.platform_job(op, "rejected");
                report::event(
                    &ctx.shared.recorder,
                    p,
                    true,
                    "InvalidSpec",
                    "Provision",
                    format!("{} refused: {}", change.describe(), e.message()),
                )
                .await;
            }
            Err(e) => {
                // Unauthorized: nothing was queued. Otherwise the outcome is unknown: the
                // record stays SUBMITTING and the next pass adopts or resubmits it.
                if e.is_unauthorized() {
                    st.jobs[i].status = jobs::LOST.into();
                    st.jobs[i].reason = Some(e.message());
                }
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e.into()),
        None => Ok(out),
    }
}

fn provisioning(message: String) -> Verdict {
    Verdict {
        synced: State::yes(
            "ReconcileSuccess",
            "the changes of this generation are submitted",
        ),
        ready: State::no("Provisioning", message),
        stalled: false,
    }
}

fn failure(e: &ReconcileError) -> Verdict {
    let s = State::no(e.reason(), e.to_string());
    Verdict {
        synced: s.clone(),
        ready: s,
        stalled: e.is_terminal(),
    }
}

/// The verdict of a normal pass.
fn conclude(st: &PlatformStatus, p: &plan::Plan, d: &Decision) -> (Verdict, PlatformPhase) {
    if !d.invalid.is_empty() {
        let s = State::no("InvalidSpec", d.invalid.join("; "));
        let v = Verdict {
            synced: s.clone(),
            ready: s,
            stalled: true,
        };
        return (v, PlatformPhase::Failed);
    }
    if !d.failed.is_empty() {
        let msg = format!(
            "{}; change the spec or set the annotation {RETRY_ANNOTATION} to a new value to try again",
            d.failed.join("; ")
        );
        let s = State::no("ProvisioningFailed", msg);
        let v = Verdict {
            synced: s.clone(),
            ready: s,
            stalled: true,
        };
        return (v, PlatformPhase::Failed);
    }
    let mut waiting: Vec<String> = st
        .jobs
        .iter()
        .filter(|j| jobs::in_flight(j))
        .map(|j| {
            let mut s = format!("{} {}", j.operation, j.target);
            s = s.trim_end().to_owned();
            format!("{s} (job {} {})", j.job_id, j.status)
        })
        .collect();
    waiting.extend(
        d.waiting
            .iter()
            .filter(|w| w.ends_with("(retrying)"))
            .cloned(),
    );
    waiting.extend(p.waiting.iter().cloned());
    waiting.extend(d.submit.iter().map(Change::describe));
    let phase = if st.common.external_id.is_none() {
        PlatformPhase::Provisioning
    } else if waiting.is_empty() {
        PlatformPhase::Ready
    } else {
        PlatformPhase::Provisioning
    };
    if waiting.is_empty() {
        let v = Verdict {
            synced: State::yes("ReconcileSuccess", "the spec is applied"),
            ready: State::yes(
                "Available",
                format!(
                    "platform {} is provisioned and converged",
                    st.common.external_id.as_deref().unwrap_or_default()
                ),
            ),
            stalled: false,
        };
        return (v, phase);
    }
    (
        provisioning(format!("waiting for {}", waiting.join(", "))),
        phase,
    )
}

/// Reads the DLQ when a job failed or entries are shown; updates the metric.
async fn refresh_dead_letters(
    p: &Platform,
    ctx: &PlatformContext,
    st: &mut PlatformStatus,
) -> Result<(), ApiError> {
    let failing = st.jobs.iter().any(|j| j.status == jobs::FAILED);
    if failing || !st.dead_letters.is_empty() {
        let pid = jobs::platform_id(&p.spec, st).to_owned();
        st.dead_letters = jobs::dead_letters(&ctx.nno, &pid).await?;
    }
    ctx.shared
        .metrics
        .platform_dead_letters(key(p), st.dead_letters.len());
    Ok(())
}

fn key(p: &Platform) -> String {
    format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any())
}

/// The create/update pass.
pub async fn apply(p: &Platform, ctx: &PlatformContext) -> Result<Action, ReconcileError> {
    let ns = p.namespace().unwrap_or_default();
    let api: Api<Platform> = Api::namespaced(ctx.shared.kube.clone(), &ns);
    let objref = ObjectRef::from_obj(p);
    let mut current = report::current_status(p);
    let mut st: PlatformStatus = p.status.clone().unwrap_or_default();
    let cloud_state = cloud::check(
        &ctx.shared.kube,
        &ctx.shared.clouds,
        &ctx.checks,
        p,
        ctx.resync,
    )
    .await?;
    let mut extra: Vec<(&'static str, State)> = Vec::new();
    if let Some(s) = cloud_state {
        extra.push((CONDITION_CLOUD_READY, s));
    }
    let rearm = take_rearm(p, &mut st);
    let pass = async {
        let moved = follow(p, ctx, &mut st).await?;
        let planned = plan::plan(&p.spec, &st).map_err(ReconcileError::InvalidSpec)?;
        let generation = p.metadata.generation.unwrap_or(0);
        let d = jobs::decide(
            &st,
            &planned.changes,
            generation,
            p.spec.max_job_retries,
            rearm,
        );
        for msg_job in st
            .jobs
            .clone()
            .iter()
            .filter(|j| j.status == jobs::FAILED && j.retries >= p.spec.max_job_retries)
        {
            if d.failed.iter().any(|m| m.contains(&msg_job.job_id)) {
                plan::mark(&mut st, msg_job, "Failed");
            }
        }
        let acted = act(p, ctx, &api, &mut current, &mut st, &d, rearm).await?;
        refresh_dead_letters(p, ctx, &mut st).await?;
        Ok::<_, ReconcileError>((planned, d, acted, moved))
    }
    .await;
    jobs::trim(&mut st);
    match pass {
        Ok((planned, d, acted, moved)) => {
            let (verdict, phase) = conclude(&st, &planned, &d);
            if !planned.unremovable.is_empty() {
                extra.push((
                    "RemovalNotSupported",
                    State::yes(
                        "NoDeleteApi",
                        format!(
                            "{} removed from the spec, but the NNO provisioning API cannot delete them: they stay provisioned",
                            planned.unremovable.join(", ")
                        ),
                    ),
                ));
            }
            let ready = verdict.ready.ok;
            let stalled = verdict.stalled;
            let r = Report {
                verdict,
                phase,
                extra,
            };
            write(&api, p, &mut current, &st, &r).await?;
            ctx.shared
                .metrics
                .object_state(super::KIND, key(p), ready, false);
            ctx.backoff.reset(&objref);
            let any_in_flight = st.jobs.iter().any(jobs::in_flight);
            let action = if any_in_flight || acted.moved {
                if moved || acted.moved {
                    ctx.polls.reset(&objref);
                }
                Action::requeue(ctx.polls.next(objref, None))
            } else if let Some(t) = acted.next_retry {
                Action::requeue(
                    t.saturating_duration_since(Instant::now())
                        .max(Duration::from_millis(50)),
                )
            } else if stalled {
                Action::requeue(ctx.resync.max(Duration::from_secs(60)))
            } else {
                Action::requeue(ctx.resync)
            };
            Ok(action)
        }
        Err(ReconcileError::Kube(e)) => Err(ReconcileError::Kube(e)),
        Err(e) => {
            let r = Report {
                verdict: failure(&e),
                phase: if e.is_terminal() {
                    PlatformPhase::Failed
                } else {
                    PlatformPhase::Provisioning
                },
                extra,
            };
            write(&api, p, &mut current, &st, &r).await?;
            ctx.shared
                .metrics
                .object_state(super::KIND, key(p), false, false);
            tracing::warn!(namespace = %ns, name = %p.name_any(), reason = e.reason(), error = %e, "Platform reconcile failed");
            ctx.shared.metrics.error(super::KIND, e.category());
            let delay = if e.is_terminal() {
                Duration::from_secs(600)
            } else {
                ctx.backoff.next(objref, e.retry_after())
            };
            Ok(Action::requeue(delay))
        }
    }
}

/// Keeps the finalizer with `state` shown; `Err(Pending)` keeps it through the finalizer helper.
async fn hold(
    api: &Api<Platform>,
    p: &Platform,
    current: &mut Map<String, Value>,
    st: &PlatformStatus,
    state: State,
    delay: Duration,
) -> Result<Action, ReconcileError> {
    let r = Report {
        verdict: Verdict {
            synced: state.clone(),
            ready: state.clone(),
            stalled: false,
        },
        phase: PlatformPhase::Deprovisioning,
        extra: Vec::new(),
    };
    write(api, p, current, st, &r).await?;
    Err(ReconcileError::Pending(
        state.reason,
        state.message,
        Some(delay),
    ))
}

fn release(p: &Platform, ctx: &PlatformContext) -> Action {
    let objref = ObjectRef::from_obj(p);
    ctx.backoff.reset(&objref);
    ctx.polls.reset(&objref);
    ctx.checks.forget(&p.uid().unwrap_or_default());
    ctx.shared.metrics.platform_dead_letters(key(p), 0);
    ctx.shared.metrics.object_gone(super::KIND, key(p));
    Action::await_change()
}

/// The deletion pass: dependents first, then deprovision (unless Orphan), then release.
pub async fn cleanup(p: &Platform, ctx: &PlatformContext) -> Result<Action, ReconcileError> {
    let ns = p.namespace().unwrap_or_default();
    let api: Api<Platform> = Api::namespaced(ctx.shared.kube.clone(), &ns);
    let mut current = report::current_status(p);
    let mut st: PlatformStatus = p.status.clone().unwrap_or_default();
    let poll = ctx
        .shared
        .observer
        .transition_interval
        .max(Duration::from_millis(200));
    let left = delete::delete_dependents(&ctx.shared.kube, p).await?;
    if !left.is_empty() {
        let msg = format!(
            "waiting for {} infrastructure object(s) to be deleted first: {}",
            left.len(),
            delete::describe(&left)
        );
        return hold(
            &api,
            p,
            &mut current,
            &st,
            State::no("DeletingDependents", msg),
            poll.max(Duration::from_secs(1)),
        )
        .await;
    }
    if p.spec.deletion_policy == DeletionPolicy::Orphan {
        tracing::info!(namespace = %ns, name = %p.name_any(), "released; the platform stays provisioned (deletionPolicy Orphan)");
        return Ok(release(p, ctx));
    }
    let rearm = take_rearm(p, &mut st);
    let step = async {
        follow(p, ctx, &mut st).await?;
        if st.jobs.iter().any(|j| j.operation == Op::Deprovision.as_str() && j.status == jobs::COMPLETED) {
            return Ok(None);
        }
        let submitted_provision = st.jobs.iter().any(|j| {
            matches!(Op::parse(&j.operation), Some(Op::Provision | Op::Onboard))
                && !j.job_id.is_empty()
        });
        if st.common.external_id.is_none() && !submitted_provision {
            return Ok(None);
        }
        let others: Vec<String> = st
            .jobs
            .iter()
            .filter(|j| jobs::in_flight(j) && j.operation != Op::Deprovision.as_str())
            .map(|j| format!("{} {} (job {})", j.operation, j.target, j.job_id))
            .collect();
        if !others.is_empty() {
            return Ok(Some(State::no(
                "WaitingForJobs",
                format!("deprovisioning waits for running jobs: {}", others.join(", ")),
            )));
        }
        let change = Change { op: Op::Deprovision, target: String::new(), detail: None };
        let generation = p.metadata.generation.unwrap_or(0);
        let d = jobs::decide(&st, std::slice::from_ref(&change), generation, p.spec.max_job_retries, rearm);
        act(p, ctx, &api, &mut current, &mut st, &d, rearm).await?;
        refresh_dead_letters(p, ctx, &mut st).await?;
        if let Some(m) = d.failed.first().or(d.invalid.first()) {
            return Ok(Some(State::no(
                "DeprovisioningFailed",
                format!("{m}; set the annotation {RETRY_ANNOTATION} to a new value to try again, or set deletionPolicy: Orphan"),
            )));
        }
        Ok::<_, ReconcileError>(Some(State::no("Deprovisioning", "waiting for the deprovisioning job".to_owned())))
    }
    .await;
    match step {
        Ok(None) => {
            report::event(
                &ctx.shared.recorder,
                p,
                false,
                "Deprovisioned",
                "Delete",
                format!("platform {} deprovisioned", jobs::platform_id(&p.spec, &st)),
            )
            .await;
            tracing::info!(namespace = %ns, name = %p.name_any(), "deprovisioned; finalizer released");
            Ok(release(p, ctx))
        }
        Ok(Some(state)) => {
            let delay = ctx.polls.next(ObjectRef::from_obj(p), None);
            hold(&api, p, &mut current, &st, state, delay).await
        }
        Err(ReconcileError::Kube(e)) => Err(ReconcileError::Kube(e)),
        Err(e) => {
            let delay = ctx.backoff.next(ObjectRef::from_obj(p), e.retry_after());
            let state = State::no(e.reason(), format!("deprovisioning is blocked: {e}"));
            hold(&api, p, &mut current, &st, state, delay).await
        }
    }
}
