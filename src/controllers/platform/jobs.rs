//! NNO job tracking: the request of each change, following recorded jobs (`GET /jobs/{id}`),
//! adopting a job whose submission outcome is unknown, deciding what to submit, retry or wait
//! for, and the platform's dead-letter entries.

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use crate::api::platform::{self as api, DeadLetter, JobStatus, PlatformSpec, PlatformStatus};
use crate::cloud::ApiError;
use crate::cloud::nno::{self, Job, JobQuery, NnoClient};

use super::plan::{self, Change, Op};

pub const SUBMITTING: &str = "SUBMITTING";
pub const QUEUED: &str = "QUEUED";
pub const RUNNING: &str = "RUNNING";
pub const COMPLETED: &str = "COMPLETED";
pub const FAILED: &str = "FAILED";
pub const REJECTED: &str = "REJECTED";
pub const LOST: &str = "LOST";

/// How many job records `status.jobs` keeps (finished ones go first).
const KEEP_JOBS: usize = 50;

pub fn in_flight(r: &JobStatus) -> bool {
    matches!(r.status.as_str(), SUBMITTING | QUEUED | RUNNING)
}

fn env(e: api::Environment) -> nno::Environment {
    match e {
        api::Environment::Dev => nno::Environment::Dev,
        api::Environment::Stg => nno::Environment::Stg,
        api::Environment::Prod => nno::Environment::Prod,
    }
}

/// The platform id the service knows (reported by provisioning), else the spec's.
pub fn platform_id<'a>(spec: &'a PlatformSpec, status: &'a PlatformStatus) -> &'a str {
    status
        .common
        .external_id
        .as_deref()
        .unwrap_or(&spec.platform_id)
}

/// The documented request body of `change`.
pub fn request(spec: &PlatformSpec, pid: &str, change: &Change) -> Result<Value, String> {
    let e = env(spec.environment);
    let delete_data = spec.delete_data.then_some(true);
    let v = match change.op {
        Op::Provision => serde_json::to_value(nno::ProvisionPlatform {
            platform_id: spec.platform_id.clone(),
            plan_tier: spec.plan_tier.clone(),
            billing_email: spec.billing_email.clone(),
            default_entity_id: spec.default_entity_id.clone(),
            environment: Some(e),
        }),
        Op::Onboard => {
            let o = spec.onboarding.clone().unwrap_or_default();
            serde_json::to_value(nno::Onboard {
                onboarding_id: o.onboarding_id,
                platform_name: o.platform_name,
                slug: o.slug,
                stack_template_id: o.stack_template_id,
                tier: Some(match o.tier {
                    api::OnboardingTier::Starter => nno::Tier::Starter,
                    api::OnboardingTier::Growth => nno::Tier::Growth,
                    api::OnboardingTier::Scale => nno::Tier::Scale,
                }),
                user_id: o.user_id,
                billing_email: Some(spec.billing_email.clone()),
            })
        }
        Op::FeatureActivate | Op::FeatureDeactivate => {
            let (entity, feature) = change
                .target
                .split_once('/')
                .unwrap_or(("", &change.target));
            if change.op == Op::FeatureActivate {
                serde_json::to_value(nno::ActivateFeature {
                    platform_id: pid.to_owned(),
                    entity_id: entity.to_owned(),
                    feature_id: feature.to_owned(),
                    feature_version: change.detail.clone().unwrap_or_default(),
                    environment: e,
                })
            } else {
                serde_json::to_value(nno::DeactivateFeature {
                    platform_id: pid.to_owned(),
                    entity_id: entity.to_owned(),
                    feature_id: feature.to_owned(),
                    environment: e,
                    delete_data,
                })
            }
        }
        Op::StackActivate => {
            let entity = spec
                .stacks
                .iter()
                .find(|s| s.stack_id == change.target)
                .and_then(|s| s.entity_id.clone());
            serde_json::to_value(nno::ActivateStack {
                platform_id: pid.to_owned(),
                stack_id: change.target.clone(),
                stack_version: change.detail.clone().unwrap_or_default(),
                entity_id: entity,
                environment: Some(e),
            })
        }
        Op::StackDeactivate => serde_json::to_value(nno::DeactivateStack {
            platform_id: pid.to_owned(),
            stack_instance_id: change.detail.clone().unwrap_or_default(),
            environment: Some(e),
            delete_data,
        }),
        Op::AppCreate => {
            let app = spec
                .apps
                .iter()
                .find(|a| a.app_name == change.target)
                .ok_or_else(|| format!("app {} is no longer in the spec", change.target))?;
            serde_json::to_value(nno::CreateApp {
                platform_id: pid.to_owned(),
                stack_id: app.stack_id.clone(),
                app_name: app.app_name.clone(),
                app_type: match app.app_type {
                    api::AppType::App => nno::AppType::App,
                    api::AppType::Svc => nno::AppType::Svc,
                    api::AppType::Fullstack => nno::AppType::Fullstack,
                },
                with_database: Some(app.with_database),
            })
        }
        Op::DomainAdd => {
            let d = spec
                .domains
                .iter()
                .find(|d| d.custom_hostname == change.target)
                .ok_or_else(|| format!("domain {} is no longer in the spec", change.target))?;
            serde_json::to_value(nno::AddDomain {
                platform_id: pid.to_owned(),
                custom_hostname: d.custom_hostname.clone(),
                target_dns_record_id: d.target_dns_record_id.clone(),
            })
        }
        Op::AuthUpgrade => Ok(serde_json::json!({ "platformId": pid })),
        Op::Deprovision => serde_json::to_value(nno::DeprovisionPlatform {
            platform_id: pid.to_owned(),
            environment: Some(e),
        }),
    };
    v.map_err(|e| e.to_string())
}

/// POSTs the change; returns the job id.
pub async fn submit(nno: &NnoClient, op: Op, body: &Value) -> Result<String, ApiError> {
    fn typed<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, ApiError> {
        serde_json::from_value(v.clone()).map_err(|e| ApiError::InvalidRequest {
            api: "nno",
            message: e.to_string(),
        })
    }
    let accepted = match op {
        Op::Provision => nno.provision_platform(&typed(body)?).await?,
        Op::Onboard => nno.onboard(&typed(body)?).await?,
        Op::FeatureActivate => nno.activate_feature(&typed(body)?).await?,
        Op::FeatureDeactivate => nno.deactivate_feature(&typed(body)?).await?,
        Op::StackActivate => nno.activate_stack(&typed(body)?).await?,
        Op::StackDeactivate => nno.deactivate_stack(&typed(body)?).await?,
        Op::AppCreate => nno.create_app(&typed(body)?).await?,
        Op::DomainAdd => nno.add_domain(&typed(body)?).await?,
        Op::Deprovision => nno.deprovision_platform(&typed(body)?).await?,
        Op::AuthUpgrade => {
            let pid = body["platformId"].as_str().unwrap_or_default();
            return Ok(nno.upgrade_auth(pid).await?.job_id);
        }
    };
    Ok(accepted.job_id)
}

/// Copies the service's view of a job into its record.
fn observe(rec: &mut JobStatus, job: &Job) {
    rec.job_id = job.job_id.clone();
    rec.status = job.status.as_str().to_owned();
    rec.attempts = job.attempts.map_or(rec.attempts, |a| a as i32);
    rec.reason = job.reason.clone();
}

/// What following the recorded jobs changed.
#[derive(Debug, Default)]
pub struct Followed {
    /// (operation, new status) of every record whose status moved.
    pub transitions: Vec<(String, String)>,
    /// Records found FAILED for the first time.
    pub newly_failed: Vec<String>,
}

/// Follows every in-flight record: a `SUBMITTING` one is adopted from the job list or dropped
/// (to be submitted again), the others are read with `GET /jobs/{id}`. Completed jobs are applied.
pub async fn follow(
    nno: &NnoClient,
    spec: &PlatformSpec,
    st: &mut PlatformStatus,
) -> Result<Followed, ApiError> {
    let mut out = Followed::default();
    let mut i = 0;
    while i < st.jobs.len() {
        let rec = st.jobs[i].clone();
        let mut fetched = None;
        if rec.status == SUBMITTING {
            match adopt(nno, spec, st, &rec).await? {
                Some(job) => {
                    tracing::info!(job = %job.job_id, operation = %rec.operation, "adopted a job whose submission outcome was unknown");
                    observe(&mut st.jobs[i], &job);
                    fetched = Some(job);
                }
                None => {
                    // Never reached the service: forget the intent; the plan submits it again.
                    st.jobs.remove(i);
                    continue;
                }
            }
        } else if matches!(rec.status.as_str(), QUEUED | RUNNING) && !rec.job_id.is_empty() {
            match nno.get_job(&rec.job_id).await {
                Ok(job) => {
                    observe(&mut st.jobs[i], &job);
                    fetched = Some(job);
                }
                Err(e) if e.is_not_found() => {
                    let r = &mut st.jobs[i];
                    r.status = LOST.into();
                    r.reason = Some(format!(
                        "the provisioning service no longer knows job {}",
                        r.job_id
                    ));
                }
                Err(e) => return Err(e),
            }
        }
        let now = st.jobs[i].clone();
        if now.status != rec.status {
            out.transitions
                .push((now.operation.clone(), now.status.clone()));
            match now.status.as_str() {
                COMPLETED => {
                    if let Some(job) = &fetched {
                        plan::complete(spec, st, &now, job);
                    }
                }
                FAILED => out.newly_failed.push(now.job_id.clone()),
                _ => {}
            }
        }
        i += 1;
    }
    Ok(out)
}

/// Finds the job a `SUBMITTING` record stands for: same type and request, created since the
/// record was written, not recorded yet.
async fn adopt(
    nno: &NnoClient,
    spec: &PlatformSpec,
    st: &PlatformStatus,
    rec: &JobStatus,
) -> Result<Option<Job>, ApiError> {
    let Some(op) = Op::parse(&rec.operation) else {
        return Ok(None);
    };
    let change = Change {
        op,
        target: rec.target.clone(),
        detail: rec.detail.clone(),
    };
    let pid = platform_id(spec, st);
    let Ok(body) = request(spec, pid, &change) else {
        return Ok(None);
    };
    let since = rec
        .submitted_at
        .as_deref()
        .and_then(|t| t.parse::<Timestamp>().ok())
        .and_then(|t| t.checked_sub(SignedDuration::from_secs(30)).ok());
    let query = JobQuery {
        // Onboarding jobs belong to no platform yet.
        platform_id: (op != Op::Onboard).then(|| pid.to_owned()),
        limit: Some(100),
        ..JobQuery::default()
    };
    let jobs = nno.list_all_jobs(&query, 10).await?;
    let known: Vec<&str> = st.jobs.iter().map(|j| j.job_id.as_str()).collect();
    let found = jobs
        .into_iter()
        .filter(|j| j.kind.as_deref() == Some(op.job_type()))
        .filter(|j| !known.contains(&j.job_id.as_str()))
        .filter(|j| {
            let created = j
                .created_at
                .as_deref()
                .and_then(|t| t.parse::<Timestamp>().ok());
            since.is_none_or(|s| created.is_none_or(|c| c >= s))
        })
        // The list is newest first: the oldest match is the one this record submitted.
        .rfind(|j| payload_matches(&body, j.payload.as_ref()));
    Ok(found)
}

/// Every field of the request is in the job's payload with the same value (the service adds defaults).
fn payload_matches(body: &Value, payload: Option<&Value>) -> bool {
    let (Some(b), Some(p)) = (body.as_object(), payload.and_then(Value::as_object)) else {
        return false;
    };
    b.iter().all(|(k, v)| p.get(k) == Some(v))
}

/// What to do about the planned changes.
#[derive(Debug, Default, PartialEq)]
pub struct Decision {
    pub submit: Vec<Change>,
    /// Indexes into `status.jobs` of FAILED jobs to retry.
    pub retry: Vec<usize>,
    /// Given-up jobs: the message for `ProvisioningFailed`.
    pub failed: Vec<String>,
    /// Refused requests of this generation: the message for `InvalidSpec`.
    pub invalid: Vec<String>,
    /// Changes waiting for a job.
    pub waiting: Vec<String>,
}

/// Decides per change: submit, follow, retry, or wait for a person. `rearm` re-arms given-up jobs.
pub fn decide(
    st: &PlatformStatus,
    changes: &[Change],
    generation: i64,
    max_retries: i32,
    rearm: bool,
) -> Decision {
    let mut d = Decision::default();
    let mut busy: Vec<(&'static str, String)> = st
        .jobs
        .iter()
        .filter(|j| in_flight(j))
        .filter_map(plan::job_resource)
        .map(|(f, t)| (f, t.to_owned()))
        .collect();
    for change in changes {
        let latest = st
            .jobs
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, j)| !matches!(j.status.as_str(), COMPLETED | LOST))
            .find(|(_, j)| change.matches(j));
        let (family, target) = change.resource();
        match latest {
            Some((_, j)) if in_flight(j) => {
                d.waiting
                    .push(format!("{} ({})", change.describe(), j.status));
            }
            Some((i, j)) if j.status == FAILED => {
                let rearmed = rearm || j.generation.is_some_and(|g| g < generation);
                if j.retries >= max_retries && !rearmed {
                    d.failed.push(format!(
                        "job {} ({}) failed after {} attempts: {}",
                        j.job_id,
                        change.describe(),
                        j.attempts,
                        j.reason.as_deref().unwrap_or("no reason given")
                    ));
                } else {
                    d.retry.push(i);
                    d.waiting.push(format!("{} (retrying)", change.describe()));
                }
            }
            Some((_, j)) if j.status == REJECTED && j.generation == Some(generation) => {
                let mut m = format!(
                    "{}: {}",
                    change.describe(),
                    j.reason.as_deref().unwrap_or("refused")
                );
                if let Some(r) = &j.request_id {
                    m.push_str(&format!(" (requestId {r})"));
                }
                d.invalid.push(m);
            }
            _ => {
                if busy.iter().any(|(f, t)| *f == family && t == target) {
                    d.waiting
                        .push(format!("{} (after the running job)", change.describe()));
                } else {
                    busy.push((family, target.to_owned()));
                    d.submit.push(change.clone());
                }
            }
        }
    }
    d
}

/// A new `SUBMITTING` record of `change`.
pub fn intent(change: &Change, generation: i64) -> JobStatus {
    JobStatus {
        job_id: String::new(),
        operation: change.op.as_str().to_owned(),
        target: change.target.clone(),
        status: SUBMITTING.to_owned(),
        attempts: 0,
        reason: None,
        detail: change.detail.clone(),
        retries: 0,
        generation: Some(generation),
        submitted_at: Some(
            Timestamp::now()
                .round(k8s_openapi::jiff::Unit::Millisecond)
                .map_or_else(|_| Timestamp::now().to_string(), |t| t.to_string()),
        ),
        request_id: None,
    }
}

/// Drops the oldest finished records beyond the history limit.
pub fn trim(st: &mut PlatformStatus) {
    while st.jobs.len() > KEEP_JOBS {
        let Some(i) = st
            .jobs
            .iter()
            .position(|j| matches!(j.status.as_str(), COMPLETED | LOST | REJECTED))
        else {
            break;
        };
        st.jobs.remove(i);
    }
}

/// The platform's entries in the dead-letter queue.
pub async fn dead_letters(nno: &NnoClient, pid: &str) -> Result<Vec<DeadLetter>, ApiError> {
    let all = nno.list_all_dlq(20).await?;
    Ok(all
        .into_iter()
        .filter(|e| e.platform_id.as_deref() == Some(pid))
        .map(|e| DeadLetter {
            entry_id: e.entry_id,
            job_id: e.job_id.unwrap_or_default(),
            operation: e.kind.unwrap_or_default(),
            reason: e.reason,
            attempts: e.attempts.map_or(0, |a| a as i32),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(op: Op, target: &str, status: &str) -> JobStatus {
        JobStatus {
            job_id: format!("job-{target}"),
            operation: op.as_str().into(),
            target: target.into(),
            status: status.into(),
            generation: Some(1),
            ..Default::default()
        }
    }

    fn change(op: Op, target: &str) -> Change {
        Change {
            op,
            target: target.into(),
            detail: None,
        }
    }

    #[test]
    fn running_jobs_are_never_submitted_again() {
        let mut st = PlatformStatus::default();
        st.jobs.push(rec(Op::DomainAdd, "a.example", RUNNING));
        let d = decide(&st, &[change(Op::DomainAdd, "a.example")], 1, 3, false);
        assert!(d.submit.is_empty());
        assert_eq!(d.waiting.len(), 1);
        // A completed record does not block a new change of the same kind.
        st.jobs[0].status = COMPLETED.into();
        let d = decide(&st, &[change(Op::DomainAdd, "a.example")], 1, 3, false);
        assert_eq!(d.submit.len(), 1);
    }

    #[test]
    fn one_job_per_resource_at_a_time() {
        let st = PlatformStatus::default();
        let d = decide(
            &st,
            &[
                Change {
                    op: Op::StackActivate,
                    target: "crm".into(),
                    detail: Some("2".into()),
                },
                Change {
                    op: Op::StackDeactivate,
                    target: "crm".into(),
                    detail: Some("si_1".into()),
                },
            ],
            1,
            3,
            false,
        );
        assert_eq!(d.submit.len(), 1);
        assert_eq!(d.waiting.len(), 1);
    }

    #[test]
    fn failed_jobs_are_retried_then_given_up_until_rearmed() {
        let mut st = PlatformStatus::default();
        let mut r = rec(Op::Provision, "", FAILED);
        r.retries = 2;
        r.attempts = 3;
        r.reason = Some("boom".into());
        st.jobs.push(r);
        let c = [change(Op::Provision, "")];
        assert_eq!(decide(&st, &c, 1, 3, false).retry, vec![0]);
        st.jobs[0].retries = 3;
        let d = decide(&st, &c, 1, 3, false);
        assert!(d.retry.is_empty() && d.submit.is_empty());
        assert!(d.failed[0].contains("boom"), "{:?}", d.failed);
        assert_eq!(decide(&st, &c, 1, 3, true).retry, vec![0]);
        assert_eq!(decide(&st, &c, 2, 3, false).retry, vec![0]);
    }

    #[test]
    fn rejected_requests_wait_for_a_spec_change() {
        let mut st = PlatformStatus::default();
        let mut r = rec(Op::AppCreate, "web", REJECTED);
        r.reason = Some("Invalid request body: appName".into());
        r.request_id = Some("req_1".into());
        st.jobs.push(r);
        let c = [change(Op::AppCreate, "web")];
        let d = decide(&st, &c, 1, 3, true);
        assert!(d.submit.is_empty());
        assert!(d.invalid[0].contains("req_1"));
        assert_eq!(decide(&st, &c, 2, 3, false).submit.len(), 1);
    }

    #[test]
    fn adoption_matches_the_request_fields() {
        let body = serde_json::json!({"platformId": "p", "stackId": "crm"});
        let payload =
            serde_json::json!({"platformId": "p", "stackId": "crm", "environment": "prod"});
        assert!(payload_matches(&body, Some(&payload)));
        let other = serde_json::json!({"platformId": "p", "stackId": "erp"});
        assert!(!payload_matches(&body, Some(&other)));
    }
}
