//! Deleting a Platform: first every nno.app object in its namespace whose `spec.platformRef`
//! names it (every kind in `api::crds()` but Platform, read untyped so new kinds are covered) is
//! deleted and gone, then the platform is deprovisioned (unless `deletionPolicy: Orphan`).

use kube::api::{ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams};
use kube::{Api, Client, ResourceExt};

use crate::api::platform::Platform;

/// One infrastructure object of the Platform that still exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependent {
    pub kind: String,
    pub name: String,
}

/// The API resources of every nno.app kind that can refer to a Platform: every CRD of
/// [`crate::api::crds::crds`] but Platform's, so the one list of kinds to extend is that one.
pub fn dependent_kinds() -> Vec<ApiResource> {
    crate::api::crds::crds()
        .into_iter()
        .filter(|crd| crd.spec.names.kind != "Platform")
        .filter_map(|crd| {
            let version = crd
                .spec
                .versions
                .iter()
                .find(|v| v.storage)
                .or_else(|| crd.spec.versions.first())?
                .name
                .clone();
            let gvk = GroupVersionKind::gvk(&crd.spec.group, &version, &crd.spec.names.kind);
            Some(ApiResource::from_gvk_with_plural(
                &gvk,
                &crd.spec.names.plural,
            ))
        })
        .collect()
}

fn refers_to(obj: &DynamicObject, platform: &str) -> bool {
    obj.data
        .get("spec")
        .and_then(|s| s.get("platformRef"))
        .and_then(|r| r.get("name"))
        .and_then(|n| n.as_str())
        == Some(platform)
}

/// Deletes every object referring to `p` and returns those that still exist. A kind whose CRD
/// is not installed holds nothing.
pub async fn delete_dependents(kube: &Client, p: &Platform) -> Result<Vec<Dependent>, kube::Error> {
    let ns = p.namespace().unwrap_or_default();
    let name = p.name_any();
    let mut left = Vec::new();
    for ar in dependent_kinds() {
        let api: Api<DynamicObject> = Api::namespaced_with(kube.clone(), &ns, &ar);
        let list = match api.list(&ListParams::default()).await {
            Ok(l) => l,
            Err(kube::Error::Api(e)) if e.code == 404 => continue,
            Err(e) => return Err(e),
        };
        for obj in list.items.iter().filter(|o| refers_to(o, &name)) {
            let obj_name = obj.name_any();
            if obj.metadata.deletion_timestamp.is_none() {
                match api.delete(&obj_name, &DeleteParams::background()).await {
                    Ok(_) => {
                        tracing::info!(namespace = %ns, platform = %name, kind = %ar.kind, name = %obj_name, "deleting an infrastructure object of a Platform being deleted");
                    }
                    Err(kube::Error::Api(e)) if e.code == 404 => continue,
                    Err(e) => return Err(e),
                }
            }
            left.push(Dependent {
                kind: ar.kind.clone(),
                name: obj_name,
            });
        }
    }
    Ok(left)
}

/// "VirtualMachine/web-1, Disk/data" (at most ten, then a count).
pub fn describe(deps: &[Dependent]) -> String {
    let mut names: Vec<String> = deps
        .iter()
        .take(10)
        .map(|d| format!("{}/{}", d.kind, d.name))
        .collect();
    if deps.len() > 10 {
        names.push(format!("and {} more", deps.len() - 10));
    }
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_infrastructure_kind_is_covered() {
        let mut kinds: Vec<String> = dependent_kinds().into_iter().map(|a| a.kind).collect();
        kinds.sort();
        assert_eq!(
            kinds,
            [
                "Bucket",
                "Disk",
                "Firewall",
                "LoadBalancer",
                "ServicePackage",
                "VirtualMachine"
            ],
            "a new kind is covered by adding its CRD to api::crds::crds()"
        );
        let plurals: Vec<String> = dependent_kinds().into_iter().map(|a| a.plural).collect();
        assert!(plurals.contains(&"loadbalancers".to_owned()), "{plurals:?}");
    }

    #[test]
    fn descriptions_are_bounded() {
        let deps: Vec<Dependent> = (0..12)
            .map(|i| Dependent {
                kind: "Disk".into(),
                name: format!("d{i}"),
            })
            .collect();
        let s = describe(&deps);
        assert!(
            s.starts_with("Disk/d0, Disk/d1") && s.ends_with("and 2 more"),
            "{s}"
        );
    }
}
