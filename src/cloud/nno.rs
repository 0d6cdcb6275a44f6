//! Typed client of the NNO Provisioning Service (`/api/v1/provision/…`): job-creating
//! operations, jobs (get, list with cursor pagination, retry, cancel, force-complete), DLQ
//! (list, replay) and auth upgrade; optional bearer token.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::http::{CoreConfig, HttpCore, Request, seg};
use super::{ApiError, Auth, ErrorBody, Secret};

const API: &str = "nno";
const PREFIX: &str = "/api/v1/provision";

/// Parses `{"error":{"code","message","requestId","details"}}`.
pub fn parse_error(body: &[u8]) -> Option<ErrorBody> {
    #[derive(Deserialize)]
    struct Envelope {
        error: Inner,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Inner {
        code: Option<String>,
        message: Option<String>,
        request_id: Option<String>,
    }
    let e: Envelope = serde_json::from_slice(body).ok()?;
    Some(ErrorBody {
        message: e
            .error
            .message
            .or_else(|| e.error.code.clone())
            .unwrap_or_default(),
        code: e.error.code,
        request_id: e.error.request_id,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Dev,
    Stg,
    Prod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Starter,
    Growth,
    Scale,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppType {
    App,
    Svc,
    Fullstack,
}

/// Job status; statuses this client does not know yet decode as `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    Queued,
    Running,
    Completed,
    Failed,
    #[serde(other)]
    Unknown,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "QUEUED",
            Self::Running => "RUNNING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Unknown => "UNKNOWN",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

/// `POST /platform`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionPlatform {
    pub platform_id: String,
    pub plan_tier: String,
    pub billing_email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_entity_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
}

/// `POST /feature/activate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivateFeature {
    pub platform_id: String,
    pub entity_id: String,
    pub feature_id: String,
    pub feature_version: String,
    pub environment: Environment,
}

/// `POST /feature/deactivate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeactivateFeature {
    pub platform_id: String,
    pub entity_id: String,
    pub feature_id: String,
    pub environment: Environment,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_data: Option<bool>,
}

/// `POST /stack/activate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivateStack {
    pub platform_id: String,
    pub stack_id: String,
    pub stack_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
}

/// `POST /stack/deactivate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeactivateStack {
    pub platform_id: String,
    pub stack_instance_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_data: Option<bool>,
}

/// `POST /onboard`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Onboard {
    pub onboarding_id: String,
    pub platform_name: String,
    pub slug: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack_template_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
    pub user_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_email: Option<String>,
}

/// `POST /app/create`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateApp {
    pub platform_id: String,
    pub stack_id: String,
    /// `^[a-z][a-z0-9-]*[a-z0-9]$`
    pub app_name: String,
    pub app_type: AppType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with_database: Option<bool>,
}

/// `POST /domain/add`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddDomain {
    pub platform_id: String,
    pub custom_hostname: String,
    pub target_dns_record_id: String,
}

/// `POST /platform/deprovision`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeprovisionPlatform {
    pub platform_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
}

/// `{"jobId","status"}`: a job was queued (or re-queued).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobAccepted {
    pub job_id: String,
    pub status: JobStatus,
}

/// Answer of auth upgrade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthUpgradeAccepted {
    pub job_id: String,
    pub platform_id: Option<String>,
}

/// Answer of cancel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobCancelled {
    pub job_id: String,
    pub status: JobStatus,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Answer of DLQ replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Replayed {
    pub job_id: String,
    pub status: JobStatus,
    pub entry_id: String,
}

/// A provisioning job record. The reference leaves its shape open, so everything but the id
/// and status is optional and unknown fields are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub job_id: String,
    pub status: JobStatus,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub platform_id: Option<String>,
    #[serde(default)]
    pub attempts: Option<u32>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub payload: Option<Value>,
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Job {
    /// `result.stackInstanceId` of a completed stack activation.
    pub fn stack_instance_id(&self) -> Option<&str> {
        self.result.as_ref()?.get("stackInstanceId")?.as_str()
    }
}

/// Filters and paging of `GET /jobs`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub next_cursor: Option<String>,
    #[serde(default)]
    pub count: Option<u32>,
}

/// One page of jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPage {
    pub data: Vec<Job>,
    #[serde(default)]
    pub pagination: Pagination,
}

/// A failed job in the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DlqEntry {
    pub entry_id: String,
    #[serde(default)]
    pub job_id: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub platform_id: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub attempts: Option<u32>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One page of DLQ entries; `pagination.cursor` is the next page's cursor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DlqPage {
    pub data: Vec<DlqEntry>,
    #[serde(default)]
    pub pagination: Pagination,
}

/// Client of the NNO Provisioning Service.
#[derive(Debug, Clone)]
pub struct NnoClient {
    core: HttpCore,
}

impl NnoClient {
    /// The default settings for `base_url` (`scheme://host[:port]`), to adjust before [`Self::with_config`].
    pub fn config(base_url: &str, token: Option<Secret>) -> CoreConfig {
        let mut cfg = CoreConfig::new(API, base_url, parse_error);
        if let Some(t) = token {
            cfg.auth = Auth::Bearer(t);
        }
        cfg
    }

    pub fn new(base_url: &str, token: Option<Secret>) -> Result<Self, ApiError> {
        Self::with_config(Self::config(base_url, token))
    }

    pub fn with_config(cfg: CoreConfig) -> Result<Self, ApiError> {
        Ok(Self {
            core: HttpCore::new(cfg)?,
        })
    }

    pub fn core(&self) -> &HttpCore {
        &self.core
    }

    async fn queue<T: Serialize>(
        &self,
        endpoint: &'static str,
        body: &T,
    ) -> Result<JobAccepted, ApiError> {
        let path = endpoint.to_owned();
        self.core
            .json(Request::post(endpoint, path).json(body))
            .await
    }

    pub async fn provision_platform(&self, b: &ProvisionPlatform) -> Result<JobAccepted, ApiError> {
        self.queue("/api/v1/provision/platform", b).await
    }

    pub async fn activate_feature(&self, b: &ActivateFeature) -> Result<JobAccepted, ApiError> {
        self.queue("/api/v1/provision/feature/activate", b).await
    }

    pub async fn deactivate_feature(&self, b: &DeactivateFeature) -> Result<JobAccepted, ApiError> {
        self.queue("/api/v1/provision/feature/deactivate", b).await
    }

    pub async fn activate_stack(&self, b: &ActivateStack) -> Result<JobAccepted, ApiError> {
        self.queue("/api/v1/provision/stack/activate", b).await
    }

    pub async fn deactivate_stack(&self, b: &DeactivateStack) -> Result<JobAccepted, ApiError> {
        self.queue("/api/v1/provision/stack/deactivate", b).await
    }

    pub async fn onboard(&self, b: &Onboard) -> Result<JobAccepted, ApiError> {
        self.queue("/api/v1/provision/onboard", b).await
    }

    pub async fn create_app(&self, b: &CreateApp) -> Result<JobAccepted, ApiError> {
        self.queue("/api/v1/provision/app/create", b).await
    }

    pub async fn add_domain(&self, b: &AddDomain) -> Result<JobAccepted, ApiError> {
        self.queue("/api/v1/provision/domain/add", b).await
    }

    pub async fn deprovision_platform(
        &self,
        b: &DeprovisionPlatform,
    ) -> Result<JobAccepted, ApiError> {
        self.queue("/api/v1/provision/platform/deprovision", b)
            .await
    }

    /// Upgrades the platform's auth worker (operator only).
    pub async fn upgrade_auth(&self, platform_id: &str) -> Result<AuthUpgradeAccepted, ApiError> {
        let body = serde_json::json!({ "platformId": platform_id });
        let ep = "/api/v1/provision/auth/upgrade";
        self.core.json(Request::post(ep, ep).json(&body)).await
    }

    pub async fn get_job(&self, job_id: &str) -> Result<Job, ApiError> {
        let path = format!("{PREFIX}/jobs/{}", seg(job_id));
        self.core
            .json(Request::get("/api/v1/provision/jobs/{jobId}", path))
            .await
    }

    pub async fn list_jobs(&self, q: &JobQuery) -> Result<JobPage, ApiError> {
        let ep = "/api/v1/provision/jobs";
        self.core.json(Request::get(ep, ep).query(q)).await
    }

    /// Every job matching the filters, following `nextCursor` (at most `max_pages` pages).
    pub async fn list_all_jobs(
        &self,
        q: &JobQuery,
        max_pages: usize,
    ) -> Result<Vec<Job>, ApiError> {
        let mut q = q.clone();
        let mut out = Vec::new();
        for _ in 0..max_pages.max(1) {
            let page = self.list_jobs(&q).await?;
            out.extend(page.data);
            match page.pagination.next_cursor.filter(|c| !c.is_empty()) {
                Some(next) => q.cursor = Some(next),
                None => break,
            }
        }
        Ok(out)
    }

    /// Re-queues a FAILED job (operator only).
    pub async fn retry_job(&self, job_id: &str) -> Result<JobAccepted, ApiError> {
        let path = format!("{PREFIX}/jobs/{}/retry", seg(job_id));
        self.core
            .json(Request::post("/api/v1/provision/jobs/{jobId}/retry", path))
            .await
    }

    /// Fails a QUEUED or RUNNING job (operator only).
    pub async fn cancel_job(&self, job_id: &str) -> Result<JobCancelled, ApiError> {
        let path = format!("{PREFIX}/jobs/{}/cancel", seg(job_id));
        self.core
            .json(Request::post("/api/v1/provision/jobs/{jobId}/cancel", path))
            .await
    }

    /// Marks a job COMPLETED (operator only).
    pub async fn force_complete_job(&self, job_id: &str) -> Result<JobAccepted, ApiError> {
        let path = format!("{PREFIX}/jobs/{}/force-complete", seg(job_id));
        self.core
            .json(Request::post(
                "/api/v1/provision/jobs/{jobId}/force-complete",
                path,
            ))
            .await
    }

    pub async fn list_dlq(
        &self,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<DlqPage, ApiError> {
        #[derive(Serialize)]
        struct Q<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            limit: Option<u32>,
            #[serde(skip_serializing_if = "Option::is_none")]
            cursor: Option<&'a str>,
        }
        let ep = "/api/v1/provision/dlq";
        self.core
            .json(Request::get(ep, ep).query(&Q { limit, cursor }))
            .await
    }

    /// Every DLQ entry, following the page cursors (at most `max_pages` pages).
    pub async fn list_all_dlq(&self, max_pages: usize) -> Result<Vec<DlqEntry>, ApiError> {
        let mut cursor: Option<String> = None;
        let mut out = Vec::new();
        for _ in 0..max_pages.max(1) {
            let page = self.list_dlq(None, cursor.as_deref()).await?;
            out.extend(page.data);
            match page.pagination.cursor.filter(|c| !c.is_empty()) {
                Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Re-queues the job of a DLQ entry (operator only).
    pub async fn replay_dlq(&self, entry_id: &str) -> Result<Replayed, ApiError> {
        let path = format!("{PREFIX}/dlq/{}/replay", seg(entry_id));
        self.core
            .json(Request::post(
                "/api/v1/provision/dlq/{entryId}/replay",
                path,
            ))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tolerant_decoding() {
        let job: Job = serde_json::from_value(json!({
            "jobId": "j1", "status": "PAUSED", "type": null, "attempts": null,
            "result": null, "somethingNew": {"x": 1}
        }))
        .unwrap();
        assert_eq!(job.status, JobStatus::Unknown);
        assert_eq!(job.kind, None);
        assert_eq!(job.extra["somethingNew"]["x"], 1);
        let page: JobPage = serde_json::from_value(json!({"data": []})).unwrap();
        assert_eq!(page.pagination, Pagination::default());
        let e =
            parse_error(br#"{"error":{"code":"X","message":"m","requestId":"r","details":null}}"#)
                .unwrap();
        assert_eq!(
            (
                e.code.as_deref(),
                e.message.as_str(),
                e.request_id.as_deref()
            ),
            (Some("X"), "m", Some("r"))
        );
        assert!(parse_error(b"<html>").is_none());
    }

    #[test]
    fn optional_fields_are_not_sent() {
        let body = serde_json::to_value(DeprovisionPlatform {
            platform_id: "p".into(),
            environment: None,
        })
        .unwrap();
        assert_eq!(body, json!({"platformId": "p"}));
    }
}
