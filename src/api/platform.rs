//! `Platform`: a customer platform in the NNO provisioning service, and the 3nv.io account its infrastructure uses.

// kube's `printcolumn(name = .., type_ = ..)` repeats keys across columns by design.
#![allow(clippy::duplicated_attributes)]

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{CommonStatus, DeletionPolicy, SecretKeyRef};

/// Desired state of a customer platform in the NNO provisioning service.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "nno.app",
    version = "v1alpha1",
    kind = "Platform",
    plural = "platforms",
    namespaced,
    status = "PlatformStatus",
    shortname = "plat",
    category = "nno",
    doc = "A customer platform provisioned by the NNO provisioning service (features, stacks, apps, custom domains, auth worker), plus the 3nv.io account that the platform's infrastructure objects use.",
    printcolumn(
        name = "READY",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "SYNCED",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Synced\")].status"
    ),
    printcolumn(
        name = "EXTERNAL-ID",
        type_ = "string",
        json_path = ".status.externalId"
    ),
    printcolumn(name = "PLATFORM-ID", type_ = "string", json_path = ".spec.platformId"),
    printcolumn(name = "ENV", type_ = "string", json_path = ".spec.environment"),
    printcolumn(name = "PHASE", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "AGE",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct PlatformSpec {
    /// Identifier of the platform in the NNO provisioning service. Immutable.
    #[schemars(length(min = 1, max = 128))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "platformId is immutable"}]))]
    pub platform_id: String,
    /// Commercial plan tier of the platform, e.g. `starter`, `growth`, `enterprise`.
    #[schemars(length(min = 1))]
    pub plan_tier: String,
    /// Address that receives the platform's billing mail.
    #[schemars(email)]
    pub billing_email: String,
    /// Deployment environment: `dev`, `stg` or `prod` (default). Immutable.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "environment is immutable"}]))]
    pub environment: Environment,
    /// Entity that owns the platform's default resources; used for features that name no entity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub default_entity_id: Option<String>,
    /// When set, the platform is created through the onboarding endpoint (self-service sign-up) instead of plain provisioning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onboarding: Option<Onboarding>,
    /// Features to activate; removing an entry deactivates it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<PlatformFeature>,
    /// Stacks to activate; removing an entry deactivates its stack instance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stacks: Vec<PlatformStack>,
    /// Apps to create inside the platform's stacks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apps: Vec<PlatformApp>,
    /// Custom domains to attach to the platform.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<PlatformDomain>,
    /// Auth worker version control: bump `revision` to upgrade the platform's auth worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_worker: Option<AuthWorker>,
    /// How often the operator retries a failed provisioning job before it marks the platform Failed (default 3).
    #[serde(default = "default_max_job_retries")]
    #[schemars(range(min = 0, max = 20))]
    pub max_job_retries: i32,
    /// Whether deactivating features and stacks, and deprovisioning, also deletes their data (default false).
    #[serde(default)]
    pub delete_data: bool,
    /// `Delete` (default) deprovisions the platform when this object is deleted; `Orphan` leaves it provisioned.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// 3nv.io account settings that the platform's VirtualMachine, Disk, Bucket, Firewall, LoadBalancer and ServicePackage objects inherit through `platformRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<PlatformCloud>,
}

fn default_max_job_retries() -> i32 {
    3
}

/// Deployment environment of a platform in the NNO provisioning service.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Dev,
    Stg,
    #[default]
    Prod,
}

/// Onboarding tier of a self-service platform.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnboardingTier {
    #[default]
    Starter,
    Growth,
    Scale,
}

/// Parameters of the onboard endpoint (`POST /api/v1/provision/onboard`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Onboarding {
    /// Identifier of the onboarding request.
    #[schemars(length(min = 1))]
    pub onboarding_id: String,
    /// Display name of the new platform.
    #[schemars(length(min = 1))]
    pub platform_name: String,
    /// URL slug of the new platform.
    #[schemars(length(min = 1))]
    pub slug: String,
    /// Stack template to start the platform from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_template_id: Option<String>,
    /// Onboarding tier: `starter` (default), `growth` or `scale`.
    #[serde(default)]
    pub tier: OnboardingTier,
    /// User who signed up and owns the platform.
    #[schemars(length(min = 1))]
    pub user_id: String,
}

/// A feature to activate for an entity of the platform.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformFeature {
    /// Entity the feature is activated for; defaults to `spec.defaultEntityId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub entity_id: Option<String>,
    /// Identifier of the feature.
    #[schemars(length(min = 1))]
    pub feature_id: String,
    /// Version of the feature; changing it re-activates the feature at the new version.
    #[schemars(length(min = 1))]
    pub feature_version: String,
}

/// A stack to activate on the platform.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformStack {
    /// Identifier of the stack.
    #[schemars(length(min = 1))]
    pub stack_id: String,
    /// Version of the stack.
    #[schemars(length(min = 1))]
    pub stack_version: String,
    /// Entity that owns the stack instance, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub entity_id: Option<String>,
}

/// Kind of app created inside a stack.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AppType {
    #[default]
    App,
    Svc,
    Fullstack,
}

/// An app to create inside one of the platform's stacks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformApp {
    /// Name of the app: lower-case letters, digits and dashes, starting with a letter and not ending with a dash.
    #[schemars(
        length(min = 2, max = 63),
        regex(pattern = r"^[a-z][a-z0-9-]*[a-z0-9]$")
    )]
    pub app_name: String,
    /// Stack the app belongs to (one of `spec.stacks[].stackId`).
    #[schemars(length(min = 1))]
    pub stack_id: String,
    /// Kind of app: `app` (default), `svc` or `fullstack`.
    #[serde(default)]
    pub app_type: AppType,
    /// Whether the app gets its own database (default false).
    #[serde(default)]
    pub with_database: bool,
}

/// A custom domain pointing at the platform.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformDomain {
    /// The customer's host name, e.g. `app.example.com`.
    #[schemars(length(min = 1, max = 253))]
    pub custom_hostname: String,
    /// DNS record the host name should point at.
    #[schemars(length(min = 1))]
    pub target_dns_record_id: String,
}

/// Auth worker version control.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuthWorker {
    /// Bump to upgrade the platform's auth worker; the operator upgrades once per new revision.
    #[schemars(range(min = 0))]
    pub revision: i64,
}

/// 3nv.io account settings inherited by the platform's infrastructure objects.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformCloud {
    /// Secret key holding the 3nv.io API key.
    pub credentials_secret_ref: SecretKeyRef,
    /// Default 3nv.io location slug (e.g. `cyc01`, `bus02`); empty means the account's default location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z][a-z0-9]*$"))]
    pub location: Option<String>,
    /// Default 3nv.io billing account id; required when the API key is not restricted to one billing account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub billing_account_id: Option<i64>,
}

/// Lifecycle phase of a platform.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PlatformPhase {
    #[default]
    Pending,
    Provisioning,
    Ready,
    Failed,
    Deprovisioning,
}

/// Observed state of a platform.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
    /// Lifecycle phase: `Pending`, `Provisioning`, `Ready`, `Failed` or `Deprovisioning`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<PlatformPhase>,
    /// Provisioning jobs the operator submitted, newest last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jobs: Vec<JobStatus>,
    /// State of each feature activation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<FeatureState>,
    /// State of each stack activation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stacks: Vec<StackState>,
    /// State of each app.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apps: Vec<AppState>,
    /// State of each custom domain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<DomainState>,
    /// Auth worker revision that was last upgraded successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_worker_revision: Option<i64>,
    /// Dead-letter queue entries of this platform in the provisioning service (failed jobs waiting for a retry or replay).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dead_letters: Vec<DeadLetter>,
    /// The last value of the `nno.app/retry` annotation the operator acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_annotation: Option<String>,
}

/// A failed job of this platform in the provisioning service's dead-letter queue.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// DLQ entry id (`nno-operator jobs dlq replay ENTRY` re-queues it).
    pub entry_id: String,
    /// The failed job.
    #[serde(default)]
    pub job_id: String,
    /// Job type, e.g. `feature.activate`.
    #[serde(default)]
    pub operation: String,
    /// Failure reason reported by the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Attempts made before the job was dead-lettered.
    #[serde(default)]
    pub attempts: i32,
}

/// One provisioning job submitted to the NNO provisioning service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    /// Job identifier returned by the provisioning service (empty while `SUBMITTING` or when `REJECTED`).
    #[serde(default)]
    pub job_id: String,
    /// Operation, e.g. `provision`, `onboard`, `feature.activate`, `stack.activate`, `app.create`, `domain.add`, `auth.upgrade`, `deprovision`.
    pub operation: String,
    /// What the job acts on (feature id, stack id, app name, host name), empty for platform-wide jobs.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// Job status as reported by the service: `QUEUED`, `RUNNING`, `COMPLETED` or `FAILED`; or the operator's own `SUBMITTING` (recorded, not yet acknowledged), `REJECTED` (the service refused the request) and `LOST` (the service no longer knows the job).
    pub status: String,
    /// How many times the job has been attempted (1 + retries).
    #[serde(default)]
    pub attempts: i32,
    /// Failure reason reported by the service, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the change is about beyond its target: the feature or stack version, the stack instance id being deactivated, the auth worker revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// How often the operator asked the service to retry this job.
    #[serde(default)]
    pub retries: i32,
    /// The `metadata.generation` the job was submitted (or last re-armed) for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// When the operator recorded the job (before submitting it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<String>,
    /// Request id of the service's error answer when the submission was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// State of one feature activation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeatureState {
    /// Entity the feature is activated for.
    pub entity_id: String,
    /// Identifier of the feature.
    pub feature_id: String,
    /// Version that is active (or being activated).
    pub feature_version: String,
    /// `Activating`, `Active`, `Deactivating` or `Failed`.
    pub state: String,
}

/// State of one stack activation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StackState {
    /// Identifier of the stack.
    pub stack_id: String,
    /// Version that is active (or being activated).
    pub stack_version: String,
    /// Entity that owns the stack instance, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    /// Stack instance created by the activation job; needed to deactivate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_instance_id: Option<String>,
    /// `Activating`, `Active`, `Deactivating` or `Failed`.
    pub state: String,
}

/// State of one app.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppState {
    /// Name of the app.
    pub app_name: String,
    /// Stack the app belongs to.
    pub stack_id: String,
    /// `Creating`, `Created` or `Failed`.
    pub state: String,
}

/// State of one custom domain.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DomainState {
    /// The customer's host name.
    pub custom_hostname: String,
    /// `Adding`, `Added` or `Failed`.
    pub state: String,
}
