//! The NNO job engine: job records, the QUEUED → RUNNING → COMPLETED/FAILED life (advanced
//! lazily from timestamps), the DLQ, and the operator actions (retry, cancel, force-complete,
//! replay).

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::RngExt;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub const STATUSES: [&str; 4] = ["QUEUED", "RUNNING", "COMPLETED", "FAILED"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    Queued,
    Running,
    Completed,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "QUEUED",
            Self::Running => "RUNNING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
        }
    }
}

/// A provisioning job as stored (and as written to the state file).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub seq: u64,
    pub job_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub platform_id: Option<String>,
    pub status: JobStatus,
    pub attempts: u32,
    pub reason: Option<String>,
    pub payload: Value,
    pub result: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// When the next automatic transition is due.
    pub due_at: Option<DateTime<Utc>>,
}

impl Job {
    /// The job record as `GET /jobs/{jobId}` returns it.
    pub fn view(&self) -> Value {
        json!({
            "jobId": self.job_id,
            "type": self.kind,
            "platformId": self.platform_id,
            "status": self.status.as_str(),
            "attempts": self.attempts,
            "reason": self.reason,
            "payload": self.payload,
            "result": self.result,
            "createdAt": ts(self.created_at),
            "updatedAt": ts(self.updated_at),
            "startedAt": self.started_at.map(ts),
            "completedAt": self.completed_at.map(ts),
        })
    }
}

/// A failed job waiting in the dead-letter queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DlqEntry {
    pub seq: u64,
    pub entry_id: String,
    pub job_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub platform_id: Option<String>,
    pub reason: String,
    pub attempts: u32,
    pub payload: Value,
    pub created_at: DateTime<Utc>,
}

impl DlqEntry {
    pub fn view(&self) -> Value {
        json!({
            "entryId": self.entry_id,
            "jobId": self.job_id,
            "type": self.kind,
            "platformId": self.platform_id,
            "reason": self.reason,
            "attempts": self.attempts,
            "payload": self.payload,
            "createdAt": ts(self.created_at),
        })
    }
}

pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Why an operator action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    #[error("Job not found: {0}")]
    NotFound(String),
    #[error("DLQ entry not found: {0}")]
    EntryNotFound(String),
    #[error("Job {id} is {status}; {action}")]
    InvalidState {
        id: String,
        status: &'static str,
        action: &'static str,
    },
}

/// A scripted failure (test hook `PUT /_sim/nno/job-failures`): the first `fail_attempts`
/// attempts of every job matching `type`, `platformId` and each key of `payload` end FAILED.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FailureRule {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub platform_id: Option<String>,
    /// Payload fields the job must have with these exact values.
    #[serde(default)]
    pub payload: serde_json::Map<String, Value>,
    pub fail_attempts: u32,
    #[serde(default)]
    pub reason: Option<String>,
}

impl FailureRule {
    fn matches(&self, job: &Job) -> bool {
        self.kind.as_deref().is_none_or(|k| k == job.kind)
            && self
                .platform_id
                .as_deref()
                .is_none_or(|p| job.platform_id.as_deref() == Some(p))
            && self
                .payload
                .iter()
                .all(|(k, v)| job.payload.get(k) == Some(v))
            && job.attempts <= self.fail_attempts
    }
}

/// All NNO state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Engine {
    next_seq: u64,
    jobs: Vec<Job>,
    dlq: Vec<DlqEntry>,
    #[serde(default)]
    failure_rules: Vec<FailureRule>,
    #[serde(skip)]
    index: HashMap<String, usize>,
}

/// Timing and failure settings the engine runs with.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub delay: Duration,
    pub failure_rate: f64,
}

impl Timing {
    fn half(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.delay / 2).unwrap_or_else(|_| chrono::Duration::zero())
    }
}

pub fn new_id(rng: &mut StdRng, prefix: &str) -> String {
    let bytes: [u8; 16] = rng.random();
    format!(
        "{prefix}{}",
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    )
}

impl Engine {
    pub fn rebuild_index(&mut self) {
        self.index = self
            .jobs
            .iter()
            .enumerate()
            .map(|(i, j)| (j.job_id.clone(), i))
            .collect();
    }

    pub fn failure_rules(&self) -> &[FailureRule] {
        &self.failure_rules
    }

    pub fn set_failure_rules(&mut self, rules: Vec<FailureRule>) {
        self.failure_rules = rules;
    }

    pub fn job_count(&self) -> usize {
        self.jobs.len()
    }

    pub fn count_status(&self, s: JobStatus) -> usize {
        self.jobs.iter().filter(|j| j.status == s).count()
    }

    pub fn dlq_count(&self) -> usize {
        self.dlq.len()
    }

    /// Queues a new job and returns its id.
    pub fn enqueue(
        &mut self,
        rng: &mut StdRng,
        timing: Timing,
        kind: &str,
        platform_id: Option<String>,
        payload: Value,
    ) -> String {
        let now = Utc::now();
        self.next_seq += 1;
        let job_id = new_id(rng, "job_");
        self.index.insert(job_id.clone(), self.jobs.len());
        self.jobs.push(Job {
            seq: self.next_seq,
            job_id: job_id.clone(),
            kind: kind.to_owned(),
            platform_id,
            status: JobStatus::Queued,
            attempts: 0,
            reason: None,
            payload,
            result: None,
            created_at: now,
            updated_at: now,
            started_at: None,
            completed_at: None,
            due_at: Some(now + timing.half()),
        });
        job_id
    }

    /// Applies every transition that is due by `now`.
    pub fn advance(&mut self, rng: &mut StdRng, timing: Timing, now: DateTime<Utc>) {
        let mut failed = Vec::new();
        let rules = &self.failure_rules;
        for job in &mut self.jobs {
            while let Some(due) = job.due_at.filter(|d| *d <= now) {
                match job.status {
                    JobStatus::Queued => {
                        job.status = JobStatus::Running;
                        job.attempts += 1;
                        job.started_at = Some(due);
                        job.updated_at = due;
                        job.due_at = Some(due + timing.half());
                    }
                    JobStatus::Running => {
                        job.due_at = None;
                        job.updated_at = due;
                        if let Some(rule) = rules.iter().find(|r| r.matches(job)) {
                            job.status = JobStatus::Failed;
                            job.reason = Some(rule.reason.clone().unwrap_or_else(|| {
                                format!(
                                    "Provisioning step failed for {} (scripted failure, attempt {})",
                                    job.kind, job.attempts
                                )
                            }));
                            failed.push(job.seq);
                        } else if timing.failure_rate > 0.0
                            && rng.random_bool(timing.failure_rate.min(1.0))
                        {
                            job.status = JobStatus::Failed;
                            job.reason = Some(format!(
                                "Provisioning step failed for {} (simulated failure, attempt {})",
                                job.kind, job.attempts
                            ));
                            failed.push(job.seq);
                        } else {
                            complete(job, rng, due);
                        }
                    }
                    JobStatus::Completed | JobStatus::Failed => job.due_at = None,
                }
            }
        }
        for seq in failed {
            self.dead_letter(rng, seq);
        }
    }

    fn dead_letter(&mut self, rng: &mut StdRng, seq: u64) {
        let Some(job) = self.jobs.iter().find(|j| j.seq == seq) else {
            return;
        };
        self.next_seq += 1;
        self.dlq.push(DlqEntry {
            seq: self.next_seq,
            entry_id: new_id(rng, "dlq_"),
            job_id: job.job_id.clone(),
            kind: job.kind.clone(),
            platform_id: job.platform_id.clone(),
            reason: job.reason.clone().unwrap_or_default(),
            attempts: job.attempts,
            payload: job.payload.clone(),
            created_at: job.updated_at,
        });
    }

    pub fn get(&self, id: &str) -> Option<&Job> {
        self.index.get(id).and_then(|i| self.jobs.get(*i))
    }

    fn get_mut(&mut self, id: &str) -> Result<&mut Job, JobError> {
        let i = *self
            .index
            .get(id)
            .ok_or_else(|| JobError::NotFound(id.to_owned()))?;
        self.jobs
            .get_mut(i)
            .ok_or_else(|| JobError::NotFound(id.to_owned()))
    }

    /// Jobs newest first, filtered, starting below `before` (a sequence number from a cursor).
    pub fn list(
        &self,
        platform_id: Option<&str>,
        status: Option<&str>,
        before: Option<u64>,
        limit: usize,
    ) -> (Vec<&Job>, Option<u64>) {
        let mut iter = self
            .jobs
            .iter()
            .rev()
            .filter(|j| before.is_none_or(|b| j.seq < b))
            .filter(|j| platform_id.is_none_or(|p| j.platform_id.as_deref() == Some(p)))
            .filter(|j| status.is_none_or(|s| j.status.as_str() == s));
        let page: Vec<&Job> = iter.by_ref().take(limit).collect();
        let next = if iter.next().is_some() {
            page.last().map(|j| j.seq)
        } else {
            None
        };
        (page, next)
    }

    /// DLQ entries oldest first, starting above `after`.
    pub fn list_dlq(&self, after: Option<u64>, limit: usize) -> (Vec<&DlqEntry>, Option<u64>) {
        let mut iter = self.dlq.iter().filter(|e| after.is_none_or(|a| e.seq > a));
        let page: Vec<&DlqEntry> = iter.by_ref().take(limit).collect();
        let next = if iter.next().is_some() {
            page.last().map(|e| e.seq)
        } else {
            None
        };
        (page, next)
    }

    fn requeue(job: &mut Job, timing: Timing) {
        let now = Utc::now();
        job.status = JobStatus::Queued;
        job.reason = None;
        job.result = None;
        job.completed_at = None;
        job.updated_at = now;
        job.due_at = Some(now + timing.half());
    }

    /// Re-queues a FAILED job (and drops its DLQ entry).
    pub fn retry(&mut self, timing: Timing, id: &str) -> Result<(), JobError> {
        let job = self.get_mut(id)?;
        if job.status != JobStatus::Failed {
            return Err(JobError::InvalidState {
                id: id.to_owned(),
                status: job.status.as_str(),
                action: "only FAILED jobs can be retried",
            });
        }
        Self::requeue(job, timing);
        self.dlq.retain(|e| e.job_id != id);
        Ok(())
    }

    /// Fails a QUEUED or RUNNING job; returns the reason.
    pub fn cancel(&mut self, id: &str) -> Result<String, JobError> {
        let job = self.get_mut(id)?;
        if !matches!(job.status, JobStatus::Queued | JobStatus::Running) {
            return Err(JobError::InvalidState {
                id: id.to_owned(),
                status: job.status.as_str(),
                action: "only QUEUED or RUNNING jobs can be cancelled",
            });
        }
        let now = Utc::now();
        let reason = "Cancelled by operator".to_owned();
        job.status = JobStatus::Failed;
        job.reason = Some(reason.clone());
        job.due_at = None;
        job.updated_at = now;
        job.completed_at = Some(now);
        Ok(reason)
    }

    /// Marks any job that is not COMPLETED as COMPLETED (and drops its DLQ entry).
    pub fn force_complete(&mut self, rng: &mut StdRng, id: &str) -> Result<(), JobError> {
        let job = self.get_mut(id)?;
        if job.status == JobStatus::Completed {
            return Err(JobError::InvalidState {
                id: id.to_owned(),
                status: job.status.as_str(),
                action: "the job is already complete",
            });
        }
        complete(job, rng, Utc::now());
        job.reason = None;
        self.dlq.retain(|e| e.job_id != id);
        Ok(())
    }

    /// Re-queues the job of a DLQ entry and removes the entry; returns the job id.
    pub fn replay(&mut self, timing: Timing, entry_id: &str) -> Result<String, JobError> {
        let pos = self
            .dlq
            .iter()
            .position(|e| e.entry_id == entry_id)
            .ok_or_else(|| JobError::EntryNotFound(entry_id.to_owned()))?;
        let job_id = self.dlq[pos].job_id.clone();
        let job = self.get_mut(&job_id)?;
        Self::requeue(job, timing);
        self.dlq.remove(pos);
        Ok(job_id)
    }
}

fn complete(job: &mut Job, rng: &mut StdRng, at: DateTime<Utc>) {
    job.status = JobStatus::Completed;
    job.due_at = None;
    job.updated_at = at;
    job.completed_at = Some(at);
    job.result = Some(result_for(job, rng));
}

/// What a completed job reports, per operation.
fn result_for(job: &Job, rng: &mut StdRng) -> Value {
    let p = &job.payload;
    match job.kind.as_str() {
        "stack.activate" => json!({
            "stackInstanceId": new_id(rng, "si_"),
            "stackId": p["stackId"],
            "stackVersion": p["stackVersion"],
            "environment": p["environment"],
        }),
        "stack.deactivate" => json!({
            "stackInstanceId": p["stackInstanceId"],
            "dataDeleted": p["deleteData"],
        }),
        "feature.activate" => json!({
            "featureId": p["featureId"],
            "featureVersion": p["featureVersion"],
            "environment": p["environment"],
        }),
        "feature.deactivate" => json!({
            "featureId": p["featureId"],
            "dataDeleted": p["deleteData"],
        }),
        "platform.onboard" => json!({
            "platformId": p["slug"],
            "onboardingId": p["onboardingId"],
        }),
        "app.create" => json!({
            "appId": new_id(rng, "app_"),
            "appName": p["appName"],
        }),
        "domain.add" => json!({
            "customHostnameId": new_id(rng, "ch_"),
            "customHostname": p["customHostname"],
        }),
        _ => json!({ "platformId": job.platform_id }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn timing(failure_rate: f64) -> Timing {
        Timing {
            delay: Duration::from_millis(1000),
            failure_rate,
        }
    }

    #[test]
    fn jobs_move_through_their_states_on_schedule() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut e = Engine::default();
        let id = e.enqueue(
            &mut rng,
            timing(0.0),
            "stack.activate",
            Some("p".into()),
            json!({}),
        );
        let t0 = e.get(&id).unwrap().created_at;
        let ms = chrono::Duration::milliseconds;
        e.advance(&mut rng, timing(0.0), t0 + ms(499));
        assert_eq!(e.get(&id).unwrap().status, JobStatus::Queued);
        e.advance(&mut rng, timing(0.0), t0 + ms(500));
        assert_eq!(e.get(&id).unwrap().status, JobStatus::Running);
        assert_eq!(e.get(&id).unwrap().attempts, 1);
        e.advance(&mut rng, timing(0.0), t0 + ms(1000));
        let j = e.get(&id).unwrap();
        assert_eq!(j.status, JobStatus::Completed);
        assert!(j.result.as_ref().unwrap()["stackInstanceId"].is_string());
        assert_eq!(e.dlq_count(), 0);
    }

    #[test]
    fn failures_are_dead_lettered_and_replay_requeues() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut e = Engine::default();
        let id = e.enqueue(&mut rng, timing(1.0), "platform.provision", None, json!({}));
        let later = Utc::now() + chrono::Duration::seconds(5);
        e.advance(&mut rng, timing(1.0), later);
        assert_eq!(e.get(&id).unwrap().status, JobStatus::Failed);
        let (entries, next) = e.list_dlq(None, 10);
        assert_eq!((entries.len(), next), (1, None));
        let entry = entries[0].entry_id.clone();
        assert_eq!(e.replay(timing(1.0), &entry).unwrap(), id);
        assert_eq!(e.get(&id).unwrap().status, JobStatus::Queued);
        assert_eq!(e.dlq_count(), 0);
        assert_eq!(
            e.replay(timing(1.0), &entry),
            Err(JobError::EntryNotFound(entry))
        );
    }
}
