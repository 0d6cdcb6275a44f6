//! Registry of served resources: the built-in kinds plus every kind registered by a CRD.

use crate::schema::CompiledSchema;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// One served version of a resource.
#[derive(Debug, Clone)]
pub struct VersionInfo {
    pub name: String,
    /// openAPIV3Schema (CRDs only).
    pub schema: Option<Value>,
    /// additionalPrinterColumns in CRD form (`name`, `type`, `jsonPath`, ...).
    pub columns: Vec<Value>,
    /// The schema compiled once for validation.
    pub compiled: Option<Arc<CompiledSchema>>,
}

/// Everything the server needs to know to serve one resource.
#[derive(Debug, Clone)]
pub struct ResourceInfo {
    pub group: String,
    /// Served versions; the first one is the preferred and storage version.
    pub versions: Vec<VersionInfo>,
    pub kind: String,
    pub list_kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub status_subresource: bool,
    /// Built-in kinds accept strategic merge patches; custom resources get CR semantics.
    pub builtin: bool,
}

impl ResourceInfo {
    /// Key under which objects of this resource are stored; events.k8s.io Events share the core ones.
    pub fn storage_key(&self) -> String {
        if self.group == "events.k8s.io" {
            return "/events".to_string();
        }
        self.id()
    }

    /// `group/plural`, unique per served resource.
    pub fn id(&self) -> String {
        format!("{}/{}", self.group, self.plural)
    }

    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{}", self.group, version)
        }
    }

    pub fn version(&self, v: &str) -> Option<&VersionInfo> {
        self.versions.iter().find(|x| x.name == v)
    }

    pub fn storage_version(&self) -> &str {
        self.versions
            .first()
            .map(|v| v.name.as_str())
            .unwrap_or("v1")
    }

    /// `plural.group` (or `plural` for core), the name used in error messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `Kind.group` as used in 422 messages.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
}

fn col(name: &str, ty: &str, path: &str, priority: i64) -> Value {
    json!({"name": name, "type": ty, "jsonPath": path, "priority": priority})
}

#[allow(clippy::too_many_arguments)]
fn builtin(
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    namespaced: bool,
    short: &[&str],
    status: bool,
    columns: Vec<Value>,
) -> ResourceInfo {
    ResourceInfo {
        group: group.into(),
        versions: vec![VersionInfo {
            name: version.into(),
            schema: None,
            columns,
            compiled: None,
        }],
        kind: kind.into(),
        list_kind: format!("{kind}List"),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        namespaced,
        short_names: short.iter().map(|s| s.to_string()).collect(),
        categories: vec![],
        status_subresource: status,
        builtin: true,
    }
}

fn age() -> Value {
    col("Age", "date", ".metadata.creationTimestamp", 0)
}

/// The built-in resources every devcluster serves.
pub fn builtins() -> Vec<ResourceInfo> {
    vec![
        builtin(
            "",
            "v1",
            "Namespace",
            "namespaces",
            false,
            &["ns"],
            true,
            vec![col("Status", "string", ".status.phase", 0), age()],
        ),
        builtin(
            "",
            "v1",
            "Secret",
            "secrets",
            true,
            &[],
            false,
            vec![col("Type", "string", ".type", 0), age()],
        ),
        builtin(
            "",
            "v1",
            "ConfigMap",
            "configmaps",
            true,
            &["cm"],
            false,
            vec![age()],
        ),
        builtin(
            "",
            "v1",
            "ServiceAccount",
            "serviceaccounts",
            true,
            &["sa"],
            false,
            vec![age()],
        ),
        builtin(
            "",
            "v1",
            "Event",
            "events",
            true,
            &["ev"],
            false,
            vec![
                col("Last Seen", "date", ".lastTimestamp", 0),
                col("Type", "string", ".type", 0),
                col("Reason", "string", ".reason", 0),
                col("Object", "string", ".involvedObject.kindName", 0),
                col("Message", "string", ".message", 0),
                // As the API server prints events: Name last, with -o wide only.
                col("Name", "string", ".metadata.name", 1),
            ],
        ),
        builtin(
            "events.k8s.io",
            "v1",
            "Event",
            "events",
            true,
            &["ev"],
            false,
            vec![
                col("Type", "string", ".type", 0),
                col("Reason", "string", ".reason", 0),
                col("Object", "string", ".regarding.name", 0),
                col("Note", "string", ".note", 0),
                age(),
                col("Name", "string", ".metadata.name", 1),
            ],
        ),
        builtin(
            "coordination.k8s.io",
            "v1",
            "Lease",
            "leases",
            true,
            &[],
            false,
            vec![col("Holder", "string", ".spec.holderIdentity", 0), age()],
        ),
        builtin(
            "rbac.authorization.k8s.io",
            "v1",
            "Role",
            "roles",
            true,
            &[],
            false,
            vec![age()],
        ),
        builtin(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            "rolebindings",
            true,
            &[],
            false,
            vec![age()],
        ),
        builtin(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            "clusterroles",
            false,
            &[],
            false,
            vec![age()],
        ),
        // Stored and served, never enforced (the devcluster authorizes everything).
        builtin(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            false,
            &[],
            false,
            vec![age()],
        ),
        // What an operator's install manifests hold (the Helm chart and kustomize config are
        // applied here with --dry-run=server); stored as given, with no controller behind them.
        builtin(
            "",
            "v1",
            "Service",
            "services",
            true,
            &["svc"],
            true,
            vec![col("Type", "string", ".spec.type", 0), age()],
        ),
        builtin(
            "apps",
            "v1",
            "Deployment",
            "deployments",
            true,
            &["deploy"],
            true,
            vec![age()],
        ),
        builtin(
            "policy",
            "v1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            true,
            &["pdb"],
            true,
            vec![age()],
        ),
        builtin(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
            &["crd", "crds"],
            true,
            vec![col("Created At", "date", ".metadata.creationTimestamp", 0)],
        ),
    ]
}

/// Errors turning a CRD object into a served resource.
#[derive(Debug, thiserror::Error)]
pub enum CrdError {
    #[error("{0}")]
    Invalid(String),
}

fn str_list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Reads the served kind out of a `CustomResourceDefinition` object.
pub fn from_crd(crd: &Value) -> Result<ResourceInfo, CrdError> {
    let spec = &crd["spec"];
    let names = &spec["names"];
    let group = spec["group"].as_str().unwrap_or_default().to_string();
    let plural = names["plural"].as_str().unwrap_or_default().to_string();
    let kind = names["kind"].as_str().unwrap_or_default().to_string();
    if group.is_empty() || plural.is_empty() || kind.is_empty() {
        return Err(CrdError::Invalid(
            "spec.group, spec.names.plural and spec.names.kind are required".into(),
        ));
    }
    let name = crd["metadata"]["name"].as_str().unwrap_or_default();
    if name != format!("{plural}.{group}") {
        return Err(CrdError::Invalid(format!(
            "metadata.name: Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"
        )));
    }
    let mut versions = Vec::new();
    let mut status_subresource = false;
    let mut storage: Option<VersionInfo> = None;
    for v in spec["versions"].as_array().into_iter().flatten() {
        if v["served"].as_bool() == Some(false) {
            continue;
        }
        if v["subresources"]["status"].is_object() {
            status_subresource = true;
        }
        let name = v["name"].as_str().unwrap_or_default().to_string();
        let schema = v["schema"].get("openAPIV3Schema").cloned();
        let compiled = match &schema {
            Some(s) => Some(Arc::new(CompiledSchema::compile(s).map_err(|e| {
                CrdError::Invalid(format!(
                    "spec.versions[{name}].schema.openAPIV3Schema: Invalid value: {e}"
                ))
            })?)),
            None => None,
        };
        let info = VersionInfo {
            name,
            schema,
            compiled,
            columns: v["additionalPrinterColumns"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        };
        if v["storage"].as_bool() == Some(true) && storage.is_none() {
            storage = Some(info);
        } else {
            versions.push(info);
        }
    }
    if let Some(s) = storage {
        versions.insert(0, s);
    }
    if versions.is_empty() {
        return Err(CrdError::Invalid(
            "spec.versions: Invalid value: must have exactly one version marked as storage version"
                .into(),
        ));
    }
    Ok(ResourceInfo {
        group,
        versions,
        list_kind: names["listKind"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| format!("{kind}List")),
        singular: names["singular"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| kind.to_lowercase()),
        kind,
        plural,
        namespaced: spec["scope"].as_str() != Some("Cluster"),
        short_names: str_list(&names["shortNames"]),
        categories: str_list(&names["categories"]),
        status_subresource,
        builtin: false,
    })
}

/// Thread-safe set of served resources.
#[derive(Debug)]
pub struct Registry {
    inner: RwLock<BTreeMap<String, Arc<ResourceInfo>>>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    pub fn new() -> Self {
        let mut map = BTreeMap::new();
        for r in builtins() {
            map.insert(r.id(), Arc::new(r));
        }
        Self {
            inner: RwLock::new(map),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<ResourceInfo>>> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The resource served at `/apis/{group}/{version}/{plural}`.
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceInfo>> {
        self.read()
            .get(&format!("{group}/{plural}"))
            .filter(|r| r.version(version).is_some())
            .cloned()
    }

    pub fn by_storage_key(&self, key: &str) -> Option<Arc<ResourceInfo>> {
        self.read().get(key).cloned()
    }

    pub fn all(&self) -> Vec<Arc<ResourceInfo>> {
        self.read().values().cloned().collect()
    }

    /// Registers (or replaces) a CRD-defined resource.
    pub fn register(&self, info: ResourceInfo) {
        let mut w = self.inner.write().unwrap_or_else(|p| p.into_inner());
        w.insert(info.id(), Arc::new(info));
    }

    /// Removes a CRD-defined resource; built-ins stay.
    pub fn unregister(&self, key: &str) {
        let mut w = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if w.get(key).is_some_and(|r| !r.builtin) {
            w.remove(key);
        }
    }

    /// Group → versions (preferred first), sorted with the core group excluded.
    pub fn groups(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in self.read().values() {
            if r.group.is_empty() {
                continue;
            }
            let entry = out.entry(r.group.clone()).or_default();
            for v in &r.versions {
                if !entry.contains(&v.name) {
                    entry.push(v.name.clone());
                }
            }
        }
        out
    }
}
