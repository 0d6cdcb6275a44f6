//! The create-pending mark on the Kubernetes object, written and read against the API server
//! rather than the watch cache: whether a create may be sent depends on it, and the cache can lag
//! behind this operator's own last writes (a retry that starts right after a failed attempt).

use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::token::CREATE_PENDING_ANNOTATION;

/// Whether `obj` carries the mark.
pub fn is_marked<K: Resource>(obj: &K) -> bool {
    obj.annotations().contains_key(CREATE_PENDING_ANNOTATION)
}

/// Sets the mark to `token`. Always sent: a cached copy that already shows the mark may predate
/// the write that cleared it.
pub async fn mark<K>(api: &Api<K>, name: &str, token: &str) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    patch(api, name, json!(token)).await
}

/// Removes the mark (the create was definitely not performed).
pub async fn clear<K>(api: &Api<K>, name: &str) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    patch(api, name, serde_json::Value::Null).await
}

async fn patch<K>(api: &Api<K>, name: &str, value: serde_json::Value) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    let body = json!({"metadata": {"annotations": {CREATE_PENDING_ANNOTATION: value}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(body))
        .await?;
    Ok(())
}
