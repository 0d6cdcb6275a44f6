//! Manifests onto a cluster through a kube client, as `kubectl apply --server-side` would: every
//! YAML document, of any kind (resolved by discovery), applied by the field manager `nno-testkit`;
//! then waits for CustomResourceDefinitions to become Established; and a ServiceAccount token from
//! TokenRequest.

use anyhow::{Context, bail};
use kube::api::{Api, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::discovery::Scope;
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use tokio::time::Instant;

/// The documents of a (multi-document) YAML text, empty ones skipped.
pub fn documents(yaml: &str) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let v = Value::deserialize(doc)?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

/// The YAML documents of every `*.yaml` file in `dir`, in file-name order.
pub fn dir_documents(dir: &Path) -> anyhow::Result<Vec<Value>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f)?;
        out.extend(documents(&text).with_context(|| f.display().to_string())?);
    }
    Ok(out)
}

/// Server-side applies each object (kustomization files are skipped); returns how many.
pub async fn apply(client: &kube::Client, objs: &[Value]) -> anyhow::Result<usize> {
    let mut n = 0;
    for obj in objs {
        let (Some(av), Some(kind), Some(name)) = (
            obj["apiVersion"].as_str(),
            obj["kind"].as_str(),
            obj["metadata"]["name"].as_str(),
        ) else {
            if obj["kind"] == "Kustomization" {
                continue;
            }
            bail!("not a Kubernetes object: {obj}");
        };
        if kind == "Kustomization" {
            continue;
        }
        let (group, version) = av.split_once('/').unwrap_or(("", av));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (ar, caps) = kube::discovery::pinned_kind(client, &gvk)
            .await
            .with_context(|| format!("discovering {av} {kind}"))?;
        let api: Api<DynamicObject> = match caps.scope {
            Scope::Namespaced => {
                let ns = obj["metadata"]["namespace"].as_str().unwrap_or("default");
                Api::namespaced_with(client.clone(), ns, &ar)
            }
            Scope::Cluster => Api::all_with(client.clone(), &ar),
        };
        api.patch(
            name,
            &PatchParams::apply("nno-testkit").force(),
            &Patch::Apply(obj),
        )
        .await
        .with_context(|| format!("applying {kind} {name}"))?;
        n += 1;
    }
    Ok(n)
}

/// Waits until every CustomResourceDefinition among `objs` reports Established.
pub async fn wait_established(
    client: &kube::Client,
    objs: &[Value],
    deadline: Duration,
) -> anyhow::Result<()> {
    let gvk = GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition");
    let ar = kube::api::ApiResource::from_gvk_with_plural(&gvk, "customresourcedefinitions");
    let crds: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
    let until = Instant::now() + deadline;
    for obj in objs
        .iter()
        .filter(|o| o["kind"] == "CustomResourceDefinition")
    {
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        loop {
            let crd = crds.get(name).await?;
            let established = crd.data["status"]["conditions"]
                .as_array()
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Established" && c["status"] == "True")
                });
            if established {
                break;
            }
            if Instant::now() >= until {
                bail!("CRD {name} not Established after {deadline:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// A token of ServiceAccount `namespace/name` from TokenRequest, valid for an hour.
pub async fn service_account_token(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> anyhow::Result<String> {
    let body = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {"expirationSeconds": 3600}});
    let req = http::Request::post(format!(
        "/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"
    ))
    .header(http::header::CONTENT_TYPE, "application/json")
    .body(serde_json::to_vec(&body)?)?;
    let resp: Value = client.request(req).await?;
    resp["status"]["token"]
        .as_str()
        .map(str::to_string)
        .context("TokenRequest answered without a token")
}
