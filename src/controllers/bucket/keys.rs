//! The dedicated S3 key pair of each Bucket object (`/v1/storage/user/keys`), for its connection
//! Secret.
//!
//! 3nv.io keys carry no name or description, and the answer to a key creation is the only place a
//! secret is guaranteed to appear. So the operator:
//! - records the key's access key id on the object (annotation `nno.app/s3-access-key`, only after
//!   the Secret holds the key), never creating a second key while that key exists;
//! - creates keys of one account one at a time (an in-process lock), and before sending a create
//!   stores the access key ids that exist (annotation `nno.app/s3-key-pending`): after a lost
//!   reply the new key is the one not in that list (and not recorded by another Bucket). It is
//!   adopted when the key list shows its secret, and deleted and replaced when it does not, so no
//!   key is ever left behind with nobody holding it;
//! - recovers a key whose Secret was deleted from the key list when the list shows secrets, else
//!   replaces it; replaces a key deleted in 3nv.io (drift `s3Key`, reported instead under
//!   `driftPolicy: Report` or `ignoreChanges: [s3Key]`), checking the account's keys at most once
//!   per poll interval (one shared list for every Bucket of the account);
//! - deletes the key with the Bucket object (also under `deletionPolicy: Orphan`: the bucket stays,
//!   but the key was this object's alone and its Secret goes with the object).
//!
//! S3 keys of a 3nv.io account are keys of the account's one S3 user: every key reaches every
//! bucket of the account. "Dedicated" means one key per Bucket object, rotated and deleted with it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use kube::ResourceExt;

use crate::api::bucket::Bucket;
use crate::api::common::{DriftEntry, DriftPolicy};
use crate::cloud::threenv::ThreenvClient;
use crate::cloud::threenv::bucket::S3Key;
use crate::cloud::{ApiError, Secret};

use super::super::error::ReconcileError;
use super::super::managed::{CredentialContext, Target};
use super::super::report::{self, AnnotationChanges};

/// Access key id of the S3 key created for this Bucket object.
pub const ACCESS_KEY_ANNOTATION: &str = "nno.app/s3-access-key";
/// Present while a key creation's outcome is unknown: the access key ids that existed before it.
pub const KEY_PENDING_ANNOTATION: &str = "nno.app/s3-key-pending";
/// The `ignoreChanges` / drift name of the key.
const KEY_FIELD: &str = "s3Key";

/// Per-account key bookkeeping of this process: the creation lock, a short-lived cache of the
/// account's access key ids, and which Bucket object recorded which key.
#[derive(Default)]
struct Keyring {
    create: tokio::sync::Mutex<()>,
    listed: Mutex<Option<(Instant, Vec<String>)>>,
    /// Access key id → UID of the Bucket object that recorded it.
    owners: Mutex<HashMap<String, String>>,
}

/// The keyrings of this process, per (3nv.io base URL, account).
type Keyrings = Mutex<HashMap<(String, u64), Arc<Keyring>>>;

fn keyring(target: &Target) -> Arc<Keyring> {
    static RINGS: OnceLock<Keyrings> = OnceLock::new();
    let key = (target.client.core().base_url().to_owned(), target.account);
    RINGS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(key)
        .or_default()
        .clone()
}

impl Keyring {
    fn set_listed(&self, keys: &[S3Key]) {
        let ids = keys.iter().map(|k| k.access_key.clone()).collect();
        *self.listed.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), ids));
    }

    fn edit_listed(&self, f: impl FnOnce(&mut Vec<String>)) {
        if let Some((_, ids)) = self
            .listed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            f(ids);
        }
    }

    /// A fresh list of the account's keys (secrets included, never cached).
    async fn list(&self, client: &ThreenvClient) -> Result<Vec<S3Key>, ApiError> {
        let keys = client.list_s3_keys().await?;
        self.set_listed(&keys);
        Ok(keys)
    }

    /// Whether the account has key `access`, from a list at most `max_age` old.
    async fn has(
        &self,
        client: &ThreenvClient,
        access: &str,
        max_age: Duration,
    ) -> Result<bool, ApiError> {
        let cached = self
            .listed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|(at, _)| at.elapsed() < max_age)
            .map(|(_, ids)| ids.iter().any(|k| k == access));
        match cached {
            Some(known) => Ok(known),
            None => Ok(self
                .list(client)
                .await?
                .iter()
                .any(|k| k.access_key == access)),
        }
    }

    fn own(&self, access: &str, uid: &str) {
        self.owners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(access.to_owned(), uid.to_owned());
    }

    fn disown(&self, access: &str) {
        self.owners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(access);
        self.edit_listed(|ids| ids.retain(|k| k != access));
    }

    /// Keys recorded by Bucket objects other than `uid`.
    fn owned_by_others(&self, uid: &str) -> Vec<String> {
        self.owners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(_, owner)| *owner != uid)
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// What a key list says about a creation whose reply was lost.
enum Lost {
    /// No new key: the creation did not happen.
    NotCreated,
    /// Exactly one new key: the one the creation made.
    Created(S3Key),
    /// Several new keys nobody recorded (keys created outside the operator meanwhile).
    Ambiguous(Vec<String>),
}

fn new_keys(listed: Vec<S3Key>, before: &[String], others: &[String]) -> Lost {
    let mut new: Vec<S3Key> = listed
        .into_iter()
        .filter(|k| !before.contains(&k.access_key) && !others.contains(&k.access_key))
        .collect();
    match new.len() {
        0 => Lost::NotCreated,
        1 => Lost::Created(new.remove(0)),
        _ => Lost::Ambiguous(new.into_iter().map(|k| k.access_key).collect()),
    }
}

/// A key pair for the connection Secret.
pub(super) struct KeyPair {
    pub(super) access: String,
    pub(super) secret: Secret,
}

/// Where the key work ended.
pub(super) struct KeyResult {
    pub(super) pair: Option<KeyPair>,
    pub(super) changes: AnnotationChanges,
    pub(super) drift: Vec<DriftEntry>,
    pub(super) event: Option<(&'static str, String)>,
}

impl KeyResult {
    fn keep(pair: Option<KeyPair>) -> Self {
        Self {
            pair,
            changes: AnnotationChanges::new(),
            drift: Vec::new(),
            event: None,
        }
    }
}

impl Bucket {
    fn recorded_key(&self) -> Option<String> {
        self.annotations()
            .get(ACCESS_KEY_ANNOTATION)
            .filter(|s| !s.is_empty())
            .cloned()
    }

    fn pending_keys(&self) -> Option<Vec<String>> {
        self.annotations()
            .get(KEY_PENDING_ANNOTATION)
            .map(|s| serde_json::from_str(s).unwrap_or_default())
    }

    fn corrects_key(&self) -> bool {
        let p = &self.spec.policies;
        p.drift_policy == DriftPolicy::Correct && !p.ignore_changes.iter().any(|f| f == KEY_FIELD)
    }

    /// The S3 key for the connection Secret: the recorded one while it exists, else a new one,
    /// never two (see the module documentation).
    pub(super) async fn ensure_key(
        &self,
        cx: &CredentialContext<'_, Bucket>,
    ) -> Result<KeyResult, ReconcileError> {
        let client = &cx.target.client;
        let ring = keyring(cx.target);
        let uid = self.uid().unwrap_or_default();
        let recorded = self.recorded_key();
        let pending = self.pending_keys();
        let held = cx.current.and_then(|d| {
            let access = d.get("accessKey").filter(|s| !s.is_empty())?;
            let secret = d.get("secretKey").filter(|s| !s.is_empty())?;
            Some(KeyPair {
                access: access.clone(),
                secret: Secret::new(secret.clone()),
            })
        });
        let mut replacing = false;
        if pending.is_none()
            && let (Some(rec), Some(pair)) = (&recorded, &held)
            && *rec == pair.access
        {
            ring.own(rec, &uid);
            if ring.has(client, rec, cx.poll_interval).await? {
                return Ok(KeyResult::keep(held));
            }
            // A cached list may predate the key; only a fresh one taken while no key is being
            // created says it is gone.
            {
                let _one_at_a_time = ring.create.lock().await;
                if ring
                    .list(client)
                    .await?
                    .iter()
                    .any(|k| k.access_key == *rec)
                {
                    return Ok(KeyResult::keep(held));
                }
            }
            if !cx.can_write || !self.corrects_key() {
                let mut out = KeyResult::keep(held);
                out.drift.push(DriftEntry {
                    field: KEY_FIELD.into(),
                    desired: "the key in the connection Secret".into(),
                    observed: "deleted in 3nv.io".into(),
                    action: "Reported".into(),
                });
                return Ok(out);
            }
            tracing::info!(bucket = %self.cloud_name(), "the S3 key of this bucket was deleted in 3nv.io; creating another");
            replacing = true;
        }
        if !cx.can_write {
            // Observe or paused: the Secret keeps what it has; nothing is created.
            return Ok(KeyResult::keep(held));
        }
        let _one_at_a_time = ring.create.lock().await;
        let mut changes = AnnotationChanges::new();
        // 1. A creation whose reply was lost.
        if let Some(before) = &pending {
            let listed = ring.list(client).await?;
            if let Some(pair) = self
                .settle_lost(&ring, client, listed, before, &uid)
                .await?
            {
                return Ok(self.recorded(&ring, &uid, pair, "S3KeyCreated", changes));
            }
            changes.insert(KEY_PENDING_ANNOTATION.into(), None);
        }
        // 2. The recorded key, when the Secret lost it.
        if let Some(rec) = recorded.as_deref().filter(|_| !replacing) {
            let listed = ring.list(client).await?;
            match listed.into_iter().find(|k| k.access_key == rec) {
                Some(k) if !k.secret_key.is_empty() => {
                    let pair = KeyPair {
                        access: k.access_key,
                        secret: Secret::new(k.secret_key),
                    };
                    return Ok(self.recorded(&ring, &uid, pair, "S3KeyRecovered", changes));
                }
                Some(_) => {
                    // Its secret cannot be read again: replace it rather than leave it unheld.
                    delete_key(&ring, client, rec).await?;
                }
                None => ring.disown(rec),
            }
            replacing = true;
        } else if let Some(rec) = recorded.as_deref() {
            ring.disown(rec);
        }
        // 3. A new key, announced on the object before it is asked for.
        let before: Vec<String> = ring
            .list(client)
            .await?
            .into_iter()
            .map(|k| k.access_key)
            .collect();
        let mut mark = AnnotationChanges::new();
        mark.insert(
            KEY_PENDING_ANNOTATION.into(),
            Some(serde_json::to_string(&before).unwrap_or_default()),
        );
        report::patch_annotations(cx.api, self, &mark).await?;
        let others = ring.owned_by_others(&uid);
        let created = match client.create_s3_key().await {
            Ok(all) => match new_keys(all, &before, &others) {
                Lost::Created(k) => k,
                Lost::NotCreated => {
                    return Err(ReconcileError::Cloud(ApiError::Decode {
                        api: crate::cloud::threenv::API,
                        status: 200,
                        message: "the key creation answered no new key".into(),
                    }));
                }
                Lost::Ambiguous(ids) => {
                    // Keep the pending mark: the next pass sorts it out from a fresh list.
                    return Err(ReconcileError::Pending(
                        "S3KeyAmbiguous",
                        format!(
                            "several S3 keys appeared at once ({}); waiting to tell which one is this bucket's",
                            ids.join(", ")
                        ),
                        Some(Duration::from_secs(5)),
                    ));
                }
            },
            Err(e) if e.outcome_unknown() => {
                tracing::warn!(bucket = %self.cloud_name(), error = %e, "S3 key creation outcome unknown; looking for the key");
                let listed = ring.list(client).await?;
                match self
                    .settle_lost(&ring, client, listed, &before, &uid)
                    .await?
                {
                    Some(pair) => {
                        return Ok(self.recorded(&ring, &uid, pair, "S3KeyCreated", changes));
                    }
                    None => {
                        let mut clear = AnnotationChanges::new();
                        clear.insert(KEY_PENDING_ANNOTATION.into(), None);
                        report::patch_annotations(cx.api, self, &clear).await?;
                        return Err(e.into());
                    }
                }
            }
            Err(e) => {
                let mut clear = AnnotationChanges::new();
                clear.insert(KEY_PENDING_ANNOTATION.into(), None);
                report::patch_annotations(cx.api, self, &clear).await?;
                return Err(e.into());
            }
        };
        ring.edit_listed(|ids| ids.push(created.access_key.clone()));
        let pair = KeyPair {
            access: created.access_key,
            secret: Secret::new(created.secret_key),
        };
        let reason = if replacing {
            "S3KeyReplaced"
        } else {
            "S3KeyCreated"
        };
        Ok(self.recorded(&ring, &uid, pair, reason, changes))
    }

    /// After a lost reply: the key the creation made, if it exists and its secret can be read.
    /// A new key whose secret the list does not show is deleted (nobody could ever hold it).
    async fn settle_lost(
        &self,
        ring: &Keyring,
        client: &ThreenvClient,
        listed: Vec<S3Key>,
        before: &[String],
        uid: &str,
    ) -> Result<Option<KeyPair>, ReconcileError> {
        match new_keys(listed, before, &ring.owned_by_others(uid)) {
            Lost::NotCreated => Ok(None),
            Lost::Created(k) if !k.secret_key.is_empty() => {
                tracing::info!(bucket = %self.cloud_name(), "found the S3 key whose creation reply was lost");
                Ok(Some(KeyPair {
                    access: k.access_key,
                    secret: Secret::new(k.secret_key),
                }))
            }
            Lost::Created(k) => {
                tracing::info!(bucket = %self.cloud_name(), "deleting the S3 key whose creation reply (its only copy of the secret) was lost");
                delete_key(ring, client, &k.access_key).await?;
                Ok(None)
            }
            Lost::Ambiguous(ids) => {
                tracing::warn!(bucket = %self.cloud_name(), keys = ?ids, "cannot tell which new S3 key a lost creation made; leaving them alone and creating another");
                Ok(None)
            }
        }
    }

    fn recorded(
        &self,
        ring: &Keyring,
        uid: &str,
        pair: KeyPair,
        reason: &'static str,
        mut changes: AnnotationChanges,
    ) -> KeyResult {
        ring.own(&pair.access, uid);
        changes.insert(ACCESS_KEY_ANNOTATION.into(), Some(pair.access.clone()));
        changes.insert(KEY_PENDING_ANNOTATION.into(), None);
        let note = match reason {
            "S3KeyRecovered" => "recovered this bucket's S3 key pair into the connection Secret",
            "S3KeyReplaced" => {
                "the S3 key pair of this bucket was gone; created another for the connection Secret"
            }
            _ => "created a dedicated S3 key pair for the connection Secret",
        };
        KeyResult {
            pair: Some(pair),
            changes,
            drift: Vec::new(),
            event: Some((reason, note.to_owned())),
        }
    }
}

async fn delete_key(ring: &Keyring, client: &ThreenvClient, access: &str) -> Result<(), ApiError> {
    match client.delete_s3_key(access).await {
        Ok(()) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e),
    }
    ring.disown(access);
    Ok(())
}

impl Bucket {
    /// Deletes the object's key (and one whose creation reply was lost).
    pub(super) async fn release_keys(&self, target: &Target) -> Result<(), ApiError> {
        let recorded = self.recorded_key();
        let pending = self.pending_keys();
        if recorded.is_none() && pending.is_none() {
            return Ok(());
        }
        let ring = keyring(target);
        let _one_at_a_time = ring.create.lock().await;
        let client = &target.client;
        let uid = self.uid().unwrap_or_default();
        if let Some(before) = &pending
            && let Lost::Created(k) = new_keys(
                ring.list(client).await?,
                before,
                &ring.owned_by_others(&uid),
            )
        {
            delete_key(&ring, client, &k.access_key).await?;
        }
        if let Some(rec) = &recorded {
            delete_key(&ring, client, rec).await?;
            tracing::info!(bucket = %self.cloud_name(), "deleted the bucket's S3 key");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(a: &str, s: &str) -> S3Key {
        S3Key {
            access_key: a.into(),
            secret_key: s.into(),
            user_id: "u".into(),
        }
    }

    #[test]
    fn the_new_key_is_the_one_nobody_had() {
        let before = vec!["A".to_owned(), "B".to_owned()];
        let listed = || vec![key("A", "a"), key("B", "b"), key("C", "c"), key("D", "d")];
        match new_keys(listed(), &before, &["D".to_owned()]) {
            Lost::Created(k) => assert_eq!(k.access_key, "C"),
            _ => panic!("one new key"),
        }
        assert!(matches!(
            new_keys(listed(), &before, &[]),
            Lost::Ambiguous(ids) if ids == ["C", "D"]
        ));
        assert!(matches!(
            new_keys(vec![key("A", "a")], &before, &[]),
            Lost::NotCreated
        ));
    }
}
