//! The `CloudReady` condition: the `spec.cloud` block's Secret exists and holds the key, and one
//! cheap authenticated 3nv.io call (`GET /v1/config/locations`) succeeds with it. Results are
//! cached per Platform until the spec or the Secret changes; a settled answer is re-checked every
//! [`recheck`] (a key revoked in 3nv.io shows up), an unavailable cloud every poll interval, so an
//! idle Platform does not add a call to every poll interval.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret as KubeSecret;
use kube::{Api, Client, ResourceExt};

use crate::api::platform::Platform;

use super::super::conditions::State;
use super::super::target::CloudClients;

/// Condition type of the 3nv.io account check.
pub const CONDITION_CLOUD_READY: &str = "CloudReady";

/// Last check per Platform uid: (fingerprint of generation + Secret version, when, result).
#[derive(Default)]
pub struct CloudChecks {
    last: Mutex<HashMap<String, (String, Instant, State)>>,
}

impl CloudChecks {
    pub fn forget(&self, uid: &str) {
        self.last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(uid);
    }
}

/// How long a settled answer (valid, rejected, unknown location) stands without a change:
/// ten poll intervals, at least five minutes.
pub fn recheck(poll: Duration) -> Duration {
    (poll * 10).max(Duration::from_secs(300))
}

/// The CloudReady state of `p`, `None` when it has no `spec.cloud` block; `every` is the poll
/// interval.
pub async fn check(
    kube: &Client,
    clouds: &CloudClients,
    checks: &CloudChecks,
    p: &Platform,
    every: Duration,
) -> Result<Option<State>, kube::Error> {
    let Some(cloud) = &p.spec.cloud else {
        return Ok(None);
    };
    let ns = p.namespace().unwrap_or_default();
    let r = &cloud.credentials_secret_ref;
    let secrets: Api<KubeSecret> = Api::namespaced(kube.clone(), &ns);
    let Some(secret) = secrets.get_opt(&r.name).await? else {
        return Ok(Some(State::no(
            "SecretNotFound",
            format!(
                "Secret {:?} (spec.cloud.credentialsSecretRef) does not exist in namespace {ns:?}",
                r.name
            ),
        )));
    };
    let Some(key) = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&r.key))
        .map(|b| String::from_utf8_lossy(&b.0).trim().to_owned())
        .filter(|k| !k.is_empty())
    else {
        return Ok(Some(State::no(
            "SecretKeyMissing",
            format!("Secret {:?} has no non-empty key {:?}", r.name, r.key),
        )));
    };
    let uid = p.uid().unwrap_or_default();
    let fingerprint = format!(
        "{:?}/{:?}",
        p.metadata.generation, secret.metadata.resource_version
    );
    if let Some((f, at, state)) = checks
        .last
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&uid)
        && *f == fingerprint
        && at.elapsed()
            < if state.reason == "CloudUnavailable" {
                every
            } else {
                recheck(every)
            }
    {
        return Ok(Some(state.clone()));
    }
    let state = match clouds.threenv(&key) {
        Err(e) => State::no("CloudUnavailable", e.to_string()),
        Ok((client, _)) => match client.locations().await {
            Ok(locs) => match &cloud.location {
                Some(want) if !locs.iter().any(|l| &l.slug == want) => State::no(
                    "UnknownLocation",
                    format!(
                        "3nv.io has no location {want:?} (spec.cloud.location); known: {}",
                        locs.iter()
                            .map(|l| l.slug.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                _ => State::yes(
                    "CredentialsValid",
                    "the 3nv.io API key is accepted".to_owned(),
                ),
            },
            Err(e) if e.is_unauthorized() => State::no(
                "CredentialsRejected",
                format!(
                    "3nv.io rejected the API key in Secret {:?} key {:?}: {}",
                    r.name,
                    r.key,
                    e.message()
                ),
            ),
            Err(e) => State::no("CloudUnavailable", e.to_string()),
        },
    };
    checks
        .last
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(uid, (fingerprint, Instant::now(), state.clone()));
    Ok(Some(state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settled_answers_are_rechecked_far_less_often_than_the_poll() {
        assert_eq!(recheck(Duration::from_secs(2)), Duration::from_secs(300));
        assert_eq!(recheck(Duration::from_secs(60)), Duration::from_secs(600));
    }
}
