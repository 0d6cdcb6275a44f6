//! Lease-based leader election (coordination.k8s.io/v1): acquire, renew and release a Lease with
//! `holderIdentity`, `leaseDurationSeconds`, `acquireTime`, `renewTime` and `leaseTransitions`,
//! using the Lease's resourceVersion for optimistic concurrency so two candidates never both win.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use std::time::Duration;
use tokio::sync::watch;

/// Errors talking to the API server (conflicts are not errors: they mean "not leader this round").
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("leader election API call failed: {0}")]
    Kube(#[from] kube::Error),
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
    /// How often the holder renews (and a candidate retries); well under `lease_duration`.
    pub retry_period: Duration,
}

/// One candidate.
#[derive(Clone)]
pub struct LeaderElector {
    api: Api<Lease>,
    cfg: LeaseConfig,
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
        }
    }

    fn duration_secs(&self) -> i32 {
        i32::try_from(self.cfg.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX)
    }

    fn expired(&self, spec: &LeaseSpec, now: Timestamp) -> bool {
        let Some(renew) = spec.renew_time.as_ref().or(spec.acquire_time.as_ref()) else {
            return true;
        };
        let secs = i64::from(spec.lease_duration_seconds.unwrap_or(self.duration_secs()));
        renew.0.as_millisecond() + secs * 1000 < now.as_millisecond()
    }

    /// One round: acquire the lease if free or expired, renew it if held. Returns whether this
    /// candidate holds it now.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, LeaderError> {
        let now = Timestamp::now();
        let me = self.cfg.identity.clone();
        let Some(mut lease) = self.api.get_opt(&self.cfg.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.cfg.name.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(me),
                    lease_duration_seconds: Some(self.duration_secs()),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(e) if is_conflict(&e) => Ok(false),
                Err(e) => Err(e.into()),
            };
        };
        let mut spec = lease.spec.take().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        if holder == me {
            spec.renew_time = Some(MicroTime(now));
            spec.lease_duration_seconds = Some(self.duration_secs());
        } else if holder.is_empty() || self.expired(&spec, now) {
            spec.holder_identity = Some(me);
            spec.acquire_time = Some(MicroTime(now));
            spec.renew_time = Some(MicroTime(now));
            spec.lease_duration_seconds = Some(self.duration_secs());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        } else {
            return Ok(false);
        }
        lease.spec = Some(spec);
        match self
            .api
            .replace(&self.cfg.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Gives the lease up (if held) so another candidate can take it at once.
    pub async fn release(&self) -> Result<(), LeaderError> {
        let Some(mut lease) = self.api.get_opt(&self.cfg.name).await? else {
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
            .api
            .replace(&self.cfg.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_conflict(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Competes until `stop` flips to true, publishing leadership on the returned channel; releases
    /// the lease on stop. API errors count as "not leader" for that round and are logged.
    pub fn spawn(
        self,
        mut stop: watch::Receiver<bool>,
    ) -> (watch::Receiver<bool>, tokio::task::JoinHandle<()>) {
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let leading = match self.try_acquire_or_renew().await {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(error = %e, lease = %self.cfg.name, "leader election round failed");
                        false
                    }
                };
                tx.send_if_modified(|cur| std::mem::replace(cur, leading) != leading);
                tokio::select! {
                    _ = tokio::time::sleep(self.cfg.retry_period) => {}
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
