//! Lease-based leader election (coordination.k8s.io/v1): acquire, renew and release a Lease with
//! `holderIdentity`, `leaseDurationSeconds`, `acquireTime`, `renewTime` and `leaseTransitions`,
//! using the Lease's resourceVersion for optimistic concurrency so two candidates never both win.
//!
//! As in client-go, another holder's lease is judged on this process's monotonic clock: it has
//! expired when its record (holder, renewTime) has not changed for `lease_duration` since we first
//! saw it, whatever the two clocks say. Every API call has a deadline, and a holder that has not
//! renewed within `renew_deadline` (shorter than `lease_duration`) stops calling itself leader
//! before anyone else may take over. Hand-written because the published kube-rs election crates
//! track older kube releases; it is small and tested against the devcluster and a real API server.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Errors talking to the API server (conflicts are not errors: they mean "not leader this round").
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("leader election API call failed: {0}")]
    Kube(#[from] kube::Error),
    #[error("leader election API call timed out after {0:?}")]
    Timeout(Duration),
}

/// Who competes for which Lease, and how.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    /// This candidate's identity (pod name, hostname+pid, ...).
    pub identity: String,
    /// How long a lease is valid after its last renewal.
    pub lease_duration: Duration,
    /// A holder that has not renewed for this long stops leading (must be < `lease_duration`).
    pub renew_deadline: Duration,
    /// How often the holder renews (and a candidate retries); well under `renew_deadline`.
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// The client-go defaults: 15 s lease, 10 s renew deadline, 2 s retry period.
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// The other holder's record as we last saw it, and when (on our monotonic clock).
#[derive(Debug, Clone, PartialEq)]
struct Observed {
    holder: String,
    renew: Option<MicroTime>,
    seen_at: Instant,
}

/// One candidate.
#[derive(Clone)]
pub struct LeaderElector {
    api: Api<Lease>,
    cfg: LeaseConfig,
    observed: Arc<Mutex<Option<Observed>>>,
}

impl std::fmt::Debug for LeaderElector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderElector")
            .field("cfg", &self.cfg)
            .finish()
    }
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

impl LeaderElector {
    pub fn new(client: kube::Client, cfg: LeaseConfig) -> Self {
        Self {
            api: Api::namespaced(client, &cfg.namespace),
            cfg,
            observed: Arc::new(Mutex::new(None)),
        }
    }

    fn duration_secs(&self) -> i32 {
        i32::try_from(self.cfg.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX)
    }

    /// Whether `spec` (held by someone else) has gone unrenewed for its duration, measured from
    /// when we first saw this exact record.
    fn expired(&self, spec: &LeaseSpec) -> bool {
        let record = Observed {
            holder: spec.holder_identity.clone().unwrap_or_default(),
            renew: spec.renew_time.clone(),
            seen_at: Instant::now(),
        };
        let mut seen = self.observed.lock().unwrap_or_else(|p| p.into_inner());
        let since = match seen.as_ref() {
            Some(prev) if prev.holder == record.holder && prev.renew == record.renew => {
                prev.seen_at
            }
            _ => {
                let at = record.seen_at;
                *seen = Some(record);
                at
            }
        };
        let secs = spec
            .lease_duration_seconds
            .map(|s| u64::try_from(s.max(1)).unwrap_or(1))
            .map(Duration::from_secs)
            .unwrap_or(self.cfg.lease_duration);
        since.elapsed() > secs
    }

    async fn bounded<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, LeaderError> {
        let limit = self.cfg.renew_deadline.min(self.cfg.lease_duration);
        match tokio::time::timeout(limit, call).await {
            Ok(r) => r.map_err(LeaderError::from),
            Err(_) => Err(LeaderError::Timeout(limit)),
        }
    }

    /// One round: acquire the lease if free or expired, renew it if held. Returns whether this
    /// candidate holds it now. Each API call is bounded by the renew deadline.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, LeaderError> {
        let now = MicroTime(Timestamp::now());
        let me = self.cfg.identity.clone();
        let Some(mut lease) = self.bounded(self.api.get_opt(&self.cfg.name)).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.cfg.name.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(me),
                    lease_duration_seconds: Some(self.duration_secs()),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match self
                .bounded(self.api.create(&PostParams::default(), &lease))
                .await
            {
                Ok(_) => Ok(true),
                Err(LeaderError::Kube(e)) if is_conflict(&e) => Ok(false),
                Err(e) => Err(e),
            };
        };
        let mut spec = lease.spec.take().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        if holder == me {
            spec.renew_time = Some(now);
            spec.lease_duration_seconds = Some(self.duration_secs());
        } else if holder.is_empty() || self.expired(&spec) {
            spec.holder_identity = Some(me);
            spec.acquire_time = Some(now.clone());
            spec.renew_time = Some(now);
            spec.lease_duration_seconds = Some(self.duration_secs());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        } else {
            return Ok(false);
        }
        lease.spec = Some(spec);
        match self
            .bounded(
                self.api
                    .replace(&self.cfg.name, &PostParams::default(), &lease),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(LeaderError::Kube(e)) if is_conflict(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives the lease up (if held) so another candidate can take it at once.
    pub async fn release(&self) -> Result<(), LeaderError> {
        let Some(mut lease) = self.bounded(self.api.get_opt(&self.cfg.name)).await? else {
            return Ok(());
        };
        let Some(spec) = lease.spec.as_mut() else {
            return Ok(());
        };
        if spec.holder_identity.as_deref() != Some(self.cfg.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.renew_time = None;
        match self
            .bounded(
                self.api
                    .replace(&self.cfg.name, &PostParams::default(), &lease),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(LeaderError::Kube(e)) if is_conflict(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Competes until `stop` flips to true, publishing leadership on the returned channel; releases
    /// the lease on stop. A failed round keeps leadership only until the renew deadline has passed
    /// since the last successful renewal; losing the lease to someone else ends it at once.
    pub fn spawn(
        self,
        mut stop: watch::Receiver<bool>,
    ) -> (watch::Receiver<bool>, tokio::task::JoinHandle<()>) {
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut renewed_at: Option<Instant> = None;
            loop {
                // The whole round must finish before our lease would lapse.
                let budget = match renewed_at {
                    Some(t) => self
                        .cfg
                        .renew_deadline
                        .saturating_sub(t.elapsed())
                        .max(Duration::from_millis(1)),
                    None => self.cfg.renew_deadline,
                };
                let round = tokio::time::timeout(budget, self.try_acquire_or_renew())
                    .await
                    .unwrap_or(Err(LeaderError::Timeout(budget)));
                let leading = match round {
                    Ok(true) => {
                        renewed_at = Some(Instant::now());
                        true
                    }
                    Ok(false) => {
                        renewed_at = None;
                        false
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, lease = %self.cfg.name, "leader election round failed");
                        renewed_at.is_some_and(|t| t.elapsed() < self.cfg.renew_deadline)
                    }
                };
                let was = *tx.borrow();
                if was != leading {
                    if leading {
                        tracing::info!(identity = %self.cfg.identity, lease = %self.cfg.name, "became leader");
                    } else {
                        tracing::warn!(identity = %self.cfg.identity, lease = %self.cfg.name, "lost leadership");
                    }
                }
                tx.send_if_modified(|cur| std::mem::replace(cur, leading) != leading);
                // Wake up in time to drop leadership at the renew deadline even if a call hangs.
                let wait = match renewed_at {
                    Some(t) if leading => self
                        .cfg
                        .retry_period
                        .min(self.cfg.renew_deadline.saturating_sub(t.elapsed())),
                    _ => self.cfg.retry_period,
                };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    r = stop.changed() => {
                        if r.is_err() || *stop.borrow() {
                            break;
                        }
                    }
                }
            }
            if *tx.borrow() {
                if let Err(e) = self.release().await {
                    tracing::warn!(error = %e, "releasing the lease failed");
                }
                let _ = tx.send(false);
            }
        });
        (rx, task)
    }
}
