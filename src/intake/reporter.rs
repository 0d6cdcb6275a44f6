//! Result reporter (leader only): when a Pax8-managed Platform is Ready for its current
//! generation, `Success` for every request applied to it; when it failed (`ProvisioningFailed`,
//! `InvalidSpec`), `Fail` with the condition's message; when a deprovisioned Platform is gone,
//! `Success`. Pax8 is asked first whether the request already has a result, and the posted result
//! is remembered on the Platform, so a restart between the post and the record posts nothing new.
//! A post that fails is retried with exponential backoff.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Patch, PatchParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{Intake, IntakeError, MANAGED_LABEL, PENDING, REPORTED, REQUEST_TYPE, orders};
use crate::api::common::ConditionStatus;
use crate::api::platform::Platform;
use crate::cloud::pax8::{PageRequest, ProvisionRequest, ProvisionResult, ResultStatus};

/// Pax8 keeps at most this many characters of an error message.
pub const MAX_MESSAGE: usize = 500;
const TICK: Duration = Duration::from_millis(500);
const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(60);

/// `[A-Za-z0-9_-]+` form of an id for the `externalProvisioner…Id` fields.
pub fn external_id(s: &str) -> String {
    let v: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if v.is_empty() { "none".into() } else { v }
}

/// Whether Pax8 already holds a result for request `id` (an unknown request has none).
pub async fn has_result(intake: &Intake, id: &str) -> Result<bool, IntakeError> {
    let page = PageRequest {
        page: Some(0),
        size: Some(1),
    };
    match intake.pax8.list_results(id, None, page).await {
        Ok(p) => Ok(!p.content.is_empty() || p.page.total_elements > 0),
        Err(e) if e.status() == Some(404) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Posts `result` for request `id` unless Pax8 already has one. Returns whether it posted.
pub async fn post(
    intake: &Intake,
    id: &str,
    mut result: ProvisionResult,
) -> Result<bool, IntakeError> {
    if has_result(intake, id).await? {
        return Ok(false);
    }
    if let Some(m) = &mut result.error_message
        && m.chars().count() > MAX_MESSAGE
    {
        *m = m.chars().take(MAX_MESSAGE - 1).collect::<String>() + "…";
    }
    let status = match result.status {
        ResultStatus::Success => "Success",
        ResultStatus::Fail => "Fail",
    };
    intake.pax8.create_result(id, &result).await?;
    intake.metrics.pax8_result(status);
    tracing::info!(request = %id, status, "Pax8 provision result posted");
    Ok(true)
}

/// The `Success` result of a request for Platform `name`.
pub fn success(req: &ProvisionRequest, name: &str) -> ProvisionResult {
    let mut r = ProvisionResult::success();
    r.external_provisioner_subscription_id = Some(external_id(name));
    r.external_provisioner_partner_id = req.partner_id.as_deref().map(external_id);
    r.external_provisioner_company_id = req.company_id.as_deref().map(external_id);
    r
}

fn success_for(p: &Platform) -> ProvisionResult {
    let a = p.annotations();
    let req = ProvisionRequest {
        partner_id: a.get("pax8.nno.app/partner-id").cloned(),
        company_id: a.get("pax8.nno.app/company-id").cloned(),
        ..ProvisionRequest::default()
    };
    success(&req, &p.spec.platform_id)
}

/// `Some(Success|Fail)` once the Platform's current generation has an outcome.
fn verdict(p: &Platform) -> Option<ProvisionResult> {
    let st = p.status.as_ref()?;
    if st.common.observed_generation != p.metadata.generation {
        return None;
    }
    let ready = st.common.conditions.iter().find(|c| c.type_ == "Ready")?;
    if ready.status == ConditionStatus::True {
        return Some(success_for(p));
    }
    if matches!(ready.reason.as_str(), "ProvisioningFailed" | "InvalidSpec") {
        return Some(ProvisionResult::fail(format!(
            "Platform {}/{} could not be provisioned ({}): {}",
            p.namespace().unwrap_or_default(),
            p.name_any(),
            ready.reason,
            ready.message
        )));
    }
    None
}

#[derive(Default)]
struct Retries {
    at: HashMap<String, (Instant, Duration)>,
}

impl Retries {
    fn due(&self, id: &str) -> bool {
        self.at.get(id).is_none_or(|(t, _)| Instant::now() >= *t)
    }
    fn failed(&mut self, id: &str) -> Duration {
        let next = self
            .at
            .get(id)
            .map_or(FIRST_RETRY, |(_, d)| (*d * 2).min(MAX_RETRY));
        self.at.insert(id.to_owned(), (Instant::now() + next, next));
        next
    }
    fn done(&mut self, id: &str) {
        self.at.remove(id);
    }
}

/// Runs until `shutdown`.
pub async fn run(intake: Arc<Intake>, shutdown: CancellationToken) {
    let api: Api<Platform> = Api::namespaced(intake.kube.clone(), &intake.cfg.namespace);
    let (store, writer) = reflector::store();
    let cfg = watcher::Config::default().labels(&format!("{MANAGED_LABEL}=true"));
    // Deletions are passed on as they are seen: a Platform may be created-deleted-gone between
    // two ticks, and its Deprovision result must not wait for the next poll.
    let (deleted_tx, mut deleted) = tokio::sync::mpsc::unbounded_channel::<Platform>();
    let watch = reflector(writer, watcher(api.clone(), cfg))
        .default_backoff()
        .for_each(move |ev| {
            if let Ok(watcher::Event::Delete(p)) = ev {
                let _ = deleted_tx.send(p);
            }
            std::future::ready(())
        });
    tokio::pin!(watch);
    let mut retries = Retries::default();
    // Deleted for a Deprovision: name → (pending ids, the Success result to post once gone).
    let mut deleting = Deleting::new();
    tokio::select! {
        _ = shutdown.cancelled() => return,
        _ = &mut watch => return,
        r = store.wait_until_ready() => if r.is_err() { return },
    }
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = &mut watch => return,
            _ = tick.tick() => {}
        }
        while let Ok(p) = deleted.try_recv() {
            remember_deprovision(&mut deleting, &p);
        }
        let all = store.state();
        for p in &all {
            let ids = orders::pending(p);
            if ids.is_empty() {
                continue;
            }
            if p.metadata.deletion_timestamp.is_some() {
                remember_deprovision(&mut deleting, p);
                continue;
            }
            let Some(result) = verdict(p) else { continue };
            report(&intake, &api, p, &ids, result, &mut retries).await;
        }
        let gone: Vec<String> = deleting
            .keys()
            .filter(|n| !all.iter().any(|p| &p.name_any() == *n))
            .cloned()
            .collect();
        for name in gone {
            let Some((ids, result)) = deleting.get(&name).cloned() else {
                continue;
            };
            let mut left = Vec::new();
            for id in ids {
                if retries.due(&id) && attempt(&intake, &id, result.clone(), &mut retries).await {
                    continue;
                }
                left.push(id);
            }
            if left.is_empty() {
                deleting.remove(&name);
            } else {
                deleting.insert(name, (left, result));
            }
        }
    }
}

type Deleting = HashMap<String, (Vec<String>, ProvisionResult)>;

/// Remembers a Platform deleted for a Deprovision: its pending ids are reported once it is gone.
fn remember_deprovision(deleting: &mut Deleting, p: &Platform) {
    let ids = orders::pending(p);
    let deprovision = p
        .annotations()
        .get(REQUEST_TYPE)
        .is_some_and(|t| t == "Deprovision");
    if deprovision && !ids.is_empty() {
        deleting.insert(p.name_any(), (ids, success_for(p)));
    }
}

/// Posts (or finds) the result of one request; `true` when Pax8 holds it.
async fn attempt(
    intake: &Intake,
    id: &str,
    result: ProvisionResult,
    retries: &mut Retries,
) -> bool {
    match post(intake, id, result).await {
        Ok(_) => {
            retries.done(id);
            true
        }
        Err(e) => {
            let wait = retries.failed(id);
            tracing::warn!(request = %id, error = %e, retry_in = ?wait, "Pax8 result not posted; will retry");
            false
        }
    }
}

async fn report(
    intake: &Intake,
    api: &Api<Platform>,
    p: &Platform,
    ids: &[String],
    result: ProvisionResult,
    retries: &mut Retries,
) {
    let mut left = Vec::new();
    let mut last = None;
    for id in ids {
        if retries.due(id) && attempt(intake, id, result.clone(), retries).await {
            last = Some(id.clone());
        } else {
            left.push(id.clone());
        }
    }
    let Some(last) = last else { return };
    let status = match result.status {
        ResultStatus::Success => "Success",
        ResultStatus::Fail => "Fail",
    };
    let pending = if left.is_empty() {
        Value::Null
    } else {
        Value::from(left.join(" "))
    };
    let body = json!({"metadata": {
        "resourceVersion": p.resource_version().unwrap_or_default(),
        "annotations": {PENDING: pending, REPORTED: format!("{last}={status}")},
    }});
    // A conflict means the Platform changed meanwhile; the next tick sees the new version and
    // Pax8 already holds the result, so nothing is posted twice.
    if let Err(e) = api
        .patch(&p.name_any(), &PatchParams::default(), &Patch::Merge(body))
        .await
    {
        tracing::debug!(platform = %p.name_any(), error = %e, "recording the posted result failed; retrying");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_ids_match_the_pattern() {
        assert_eq!(external_id("pax8-ab_1"), "pax8-ab_1");
        assert_eq!(external_id("a b.c"), "a-b-c");
        assert_eq!(external_id(""), "none");
    }

    #[test]
    fn retries_back_off() {
        let mut r = Retries::default();
        assert!(r.due("a"));
        assert_eq!(r.failed("a"), FIRST_RETRY);
        assert!(!r.due("a"));
        assert_eq!(r.failed("a"), FIRST_RETRY * 2);
        r.done("a");
        assert!(r.due("a"));
    }
}
