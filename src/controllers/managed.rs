//! The one trait a 3nv.io kind implements: the mapping between its spec and the cloud API
//! (list/get, fields to compare, create, update, delete, status, connection details). Everything
//! else (finalizer, policies, adoption, create token, conditions, events, status, drift, backoff,
//! metrics, the observer) is the generic driver's.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;

use kube::core::NamespaceResourceScope;
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::common::{CloudPolicies, CommonStatus, DriftEntry};
use crate::cloud::ApiError;
use crate::cloud::threenv::ThreenvClient;

use super::error::ReconcileError;
use super::refs::{Caches, VmRefs};
use super::report::AnnotationChanges;
use super::token;

/// Where one object lives in the cloud, resolved from its `platformRef` (and overrides).
#[derive(Debug, Clone)]
pub struct Target {
    /// Client of the account (shared pool and rate limiter).
    pub client: ThreenvClient,
    /// Location slug for location-specific endpoints; `None` is the account's default location.
    pub location: Option<String>,
    /// Billing account for creates and billing-account fields.
    pub billing_account_id: Option<i64>,
    /// Identity of the account (a hash of its API key, never the key itself), for per-account
    /// state such as locks and caches.
    pub account: u64,
}

impl Target {
    pub fn loc(&self) -> Option<&str> {
        self.location.as_deref()
    }
}

/// Whether a field can be written to the cloud once the object exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Writable {
    /// The update endpoint changes it.
    Yes,
    /// Only set at creation (the API cannot change it); a difference is always reported.
    CreateOnly,
}

/// One compared field: the spec's value and the cloud's, both rendered as text (never secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Spec field path, e.g. `vcpu`, as users write it in `ignoreChanges`.
    pub path: &'static str,
    pub desired: String,
    pub observed: String,
    pub writable: Writable,
    /// The create cannot set it (an update right after the create does, e.g. a disk's attachment):
    /// a difference right after the create counts as the user's change, also under `Report`.
    pub after_create: bool,
}

impl Field {
    pub fn new(path: &'static str, desired: impl ToString, observed: impl ToString) -> Self {
        Self {
            path,
            desired: desired.to_string(),
            observed: observed.to_string(),
            writable: Writable::Yes,
            after_create: false,
        }
    }

    pub fn after_create(mut self) -> Self {
        self.after_create = true;
        self
    }

    pub fn create_only(mut self) -> Self {
        self.writable = Writable::CreateOnly;
        self
    }

    pub fn differs(&self) -> bool {
        self.desired != self.observed
    }
}

/// A change the kind could not make yet, and why (shown in the `Synced` condition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub field: &'static str,
    /// CamelCase reason, e.g. `RestartRequired`.
    pub reason: &'static str,
    pub message: String,
}

/// What an update achieved.
#[derive(Debug, Clone)]
pub struct UpdateOutcome<O> {
    /// The cloud object after the writes, when an answer carried it.
    pub observed: Option<O>,
    /// Fields that were written.
    pub applied: Vec<&'static str>,
    /// Fields that wait for something (a restart permission, a state).
    pub pending: Vec<Pending>,
}

impl<O> Default for UpdateOutcome<O> {
    fn default() -> Self {
        Self {
            observed: None,
            applied: Vec::new(),
            pending: Vec::new(),
        }
    }
}

/// Whether the cloud object is usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Still settling (e.g. `provisioning`); the observer lists faster meanwhile.
    InTransition {
        state: String,
    },
    /// Settled but not usable (e.g. `error`).
    Unavailable {
        state: String,
    },
}

/// Kubernetes-side inputs a kind may need besides its spec (resolved before the cloud is called).
pub struct InputContext<'a> {
    pub client: &'a Client,
    pub namespace: &'a str,
    /// Watch-fed caches to resolve references (`caches.vm(..)`, `caches.vms_matching(..)`).
    pub caches: &'a Caches,
    /// Current data of the object's connection Secret, if it has one and it exists.
    pub connection_secret: Option<&'a BTreeMap<String, String>>,
    /// Where the object lives (account, location, billing account), already resolved.
    pub target: &'a Target,
}

/// What [`ManagedKind::credentials`] may use.
pub struct CredentialContext<'a, K: ManagedKind> {
    /// The object's API, for write-ahead annotations (e.g. "a key is being created") that must be
    /// stored before a cloud write whose reply may be lost.
    pub api: &'a Api<K>,
    pub target: &'a Target,
    /// Current data of the connection Secret.
    pub current: Option<&'a BTreeMap<String, String>>,
    /// `false` under `managementPolicy: Observe` or the paused annotation: nothing may be created.
    pub can_write: bool,
    /// The observers' poll interval (how stale a cached cloud read may be).
    pub poll_interval: std::time::Duration,
}

/// Credentials the cloud hands out for an object, for its connection Secret. `Debug` is not
/// implemented: `data` holds secrets.
#[derive(Default)]
pub struct Credentials {
    /// Entries for the connection Secret, merged over [`ManagedKind::connection_details`].
    pub data: BTreeMap<String, String>,
    /// Annotations to set (`Some`) or remove (`None`) once the Secret holds `data`.
    pub annotations: AnnotationChanges,
    /// Differences that stay (e.g. a key deleted in the cloud under `driftPolicy: Report`).
    pub drift: Vec<DriftEntry>,
    /// Normal events to publish: (reason, note).
    pub events: Vec<(&'static str, String)>,
}

/// A 3nv.io kind managed by the generic driver.
pub trait ManagedKind:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The cloud object as the list endpoint returns it.
    type Observed: Clone + PartialEq + Debug + Send + Sync + 'static;
    /// Inputs read from Kubernetes besides the spec (e.g. a password Secret). `Debug` must not
    /// show secrets.
    type Inputs: Debug + Send + Sync;

    /// Kind name for logs, metrics and events.
    const KIND: &'static str;
    /// Whether the spec refers to VirtualMachines ([`ManagedKind::vm_refs`]), so that the
    /// controller watches them and wakes the dependents through the reverse index.
    const WATCHES_VMS: bool = false;
    /// Whether the kind's endpoints are location specific (`/v1/{slug}/…`). Objects of a
    /// location-independent kind (disks, firewalls, load balancers) share one observer per account
    /// whatever their Platform's location, and `list`/`get` are called with no slug.
    const LOCATED: bool = true;
    /// Whether the create token is the cloud object's own name (a bucket name) rather than a
    /// marker only this object's create can have written. Such a name may belong to an object
    /// created outside Kubernetes, so a match is adopted only after this object sent a create
    /// (the create-pending annotation); otherwise it is adopted only through `nno.app/external-id`.
    const TOKEN_IS_NAME: bool = false;

    fn policies(&self) -> &CloudPolicies;
    fn platform_ref(&self) -> &str;
    fn location_override(&self) -> Option<&str>;
    fn billing_account_override(&self) -> Option<i64>;
    fn common_status(&self) -> Option<&CommonStatus>;
    /// Name of the connection Secret (`writeConnectionSecretToRef`).
    fn connection_secret_name(&self) -> Option<&str>;
    /// Secrets (same namespace) the spec reads, so that a change to one wakes this object.
    fn secret_refs(&self) -> Vec<&str> {
        Vec::new()
    }
    /// VirtualMachines the spec refers to; a change of one of them wakes this object.
    fn vm_refs(&self) -> VmRefs {
        VmRefs::default()
    }

    /// Every cloud object of this kind in one location (the observer's one call per interval).
    fn list(
        client: &ThreenvClient,
        loc: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Self::Observed>, ApiError>> + Send;
    /// One cloud object (used to confirm a deletion).
    fn get(
        client: &ThreenvClient,
        loc: Option<&str>,
        id: &str,
    ) -> impl Future<Output = Result<Self::Observed, ApiError>> + Send;
    /// Completes what [`ManagedKind::list`] answered with details the list endpoint leaves out,
    /// given the previous round's item for an id (so that only changed objects cost a call).
    /// Runs in the observer after every list. Default: the list as it is.
    fn complete_list(
        client: &ThreenvClient,
        loc: Option<&str>,
        listed: Vec<Self::Observed>,
        previous: &(dyn Fn(&str) -> Option<Self::Observed> + Send + Sync),
    ) -> impl Future<Output = Result<Vec<Self::Observed>, ApiError>> + Send {
        let _ = (client, loc, previous);
        async move { Ok(listed) }
    }
    fn external_id(observed: &Self::Observed) -> String;
    /// The create token the object carries, if any (see [`super::token`]).
    fn token_of(observed: &Self::Observed) -> Option<String>;
    /// The token this object's cloud object carries: derived from the UID by default, the
    /// deterministic name for kinds with [`ManagedKind::TOKEN_IS_NAME`].
    fn create_token(&self) -> String {
        token::for_uid(&self.uid().unwrap_or_default())
    }
    fn readiness(observed: &Self::Observed) -> Readiness;

    /// Completes the cached cloud object with what the inputs know besides the kind's own list
    /// (e.g. the VM a disk is attached to, which 3nv.io shows on the VM). Called before the fields,
    /// updates, status and deletion see it.
    fn complete(&self, observed: Self::Observed, _inputs: &Self::Inputs) -> Self::Observed {
        observed
    }
    /// Checks the spec against the cloud object (e.g. a disk cannot shrink); `Err` is an
    /// `InvalidSpec` message a person can act on.
    fn check(&self, _observed: &Self::Observed, _inputs: &Self::Inputs) -> Result<(), String> {
        Ok(())
    }

    /// Reads what the spec refers to in Kubernetes (Secrets, ...). Also called while the object is
    /// being deleted: then it must not wait for what deletion does not need.
    fn inputs(
        &self,
        ctx: InputContext<'_>,
    ) -> impl Future<Output = Result<Self::Inputs, ReconcileError>> + Send;
    /// Checks the spec against rules the CRD cannot express; `Err` is a message a person can act on.
    fn validate(&self, target: &Target, inputs: &Self::Inputs) -> Result<(), String>;
    /// The compared fields (desired from spec and inputs, observed from the cloud object).
    fn fields(&self, observed: &Self::Observed, inputs: &Self::Inputs) -> Vec<Field>;
    /// Creates the cloud object carrying `token`. Sent once: the driver adopts by token after an
    /// unknown outcome.
    fn create(
        &self,
        target: &Target,
        inputs: &Self::Inputs,
        token: &str,
    ) -> impl Future<Output = Result<Self::Observed, ApiError>> + Send;
    /// Writes the given differing fields.
    fn update(
        &self,
        target: &Target,
        observed: &Self::Observed,
        inputs: &Self::Inputs,
        fields: &[Field],
    ) -> impl Future<Output = Result<UpdateOutcome<Self::Observed>, ApiError>> + Send;
    fn delete(
        &self,
        target: &Target,
        observed: &Self::Observed,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// When the cloud refuses a deletion until someone acts (e.g. a bucket that still holds
    /// objects): the condition reason and message. Such a deletion is retried with backoff.
    fn deletion_blocked(error: &ApiError) -> Option<(&'static str, String)> {
        let _ = error;
        None
    }
    /// Cleans up what [`ManagedKind::credentials`] created (e.g. an S3 key), once the cloud object
    /// is gone or orphaned. Default: nothing.
    fn release(&self, target: &Target) -> impl Future<Output = Result<(), ApiError>> + Send {
        let _ = target;
        async { Ok(()) }
    }
    /// The kind's own status fields (a serialized status without the common/drift parts).
    fn status(&self, observed: &Self::Observed, target: &Target) -> serde_json::Value;
    /// Connection Secret contents; `observed` is `None` before the create (so that a generated
    /// password is stored before it is sent).
    fn connection_details(
        &self,
        observed: Option<&Self::Observed>,
        inputs: &Self::Inputs,
    ) -> Option<BTreeMap<String, String>>;
    /// Credentials the cloud hands out (an S3 key, a service password), fetched or created once
    /// the cloud object has settled, for the connection Secret. Only called when the object has
    /// a connection Secret. Default: none.
    fn credentials(
        &self,
        cx: CredentialContext<'_, Self>,
        observed: &Self::Observed,
        inputs: &Self::Inputs,
    ) -> impl Future<Output = Result<Credentials, ReconcileError>> + Send {
        let _ = (cx, observed, inputs);
        async { Ok(Credentials::default()) }
    }
}
