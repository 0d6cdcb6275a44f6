//! The sample objects `dev` applies at start: `config/samples/` built into the binary (so `dev`
//! works from any directory), or the YAML files of a directory given on the command line.

use std::path::{Path, PathBuf};

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::Scope;
use kube::{Client, ResourceExt};
use serde_json::Value;

/// `config/samples/`, as built in: (file name, contents).
pub const BUILT_IN: &[(&str, &str)] = &[
    (
        "secret-3nv-credentials.yaml",
        include_str!("../../config/samples/secret-3nv-credentials.yaml"),
    ),
    (
        "platform.yaml",
        include_str!("../../config/samples/platform.yaml"),
    ),
    (
        "virtualmachine.yaml",
        include_str!("../../config/samples/virtualmachine.yaml"),
    ),
    ("disk.yaml", include_str!("../../config/samples/disk.yaml")),
    (
        "bucket.yaml",
        include_str!("../../config/samples/bucket.yaml"),
    ),
    (
        "firewall.yaml",
        include_str!("../../config/samples/firewall.yaml"),
    ),
    (
        "loadbalancer.yaml",
        include_str!("../../config/samples/loadbalancer.yaml"),
    ),
    (
        "servicepackage.yaml",
        include_str!("../../config/samples/servicepackage.yaml"),
    ),
];

/// The field manager of what `dev` applies.
const FIELD_MANAGER: &str = "nno-operator-dev";

/// Errors reading or applying samples.
#[derive(Debug, thiserror::Error)]
pub enum SamplesError {
    #[error("cannot read samples from {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: not valid YAML: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: a document without apiVersion, kind or metadata.name")]
    Incomplete { file: String },
    #[error("{file}: the API server does not serve {kind} ({api_version}): {source}")]
    Discover {
        file: String,
        kind: String,
        api_version: String,
        source: Box<kube::Error>,
    },
    #[error("{file}: applying {kind}/{name} failed: {source}")]
    Apply {
        file: String,
        kind: String,
        name: String,
        source: Box<kube::Error>,
    },
}

/// One sample document and the file it came from.
pub struct Sample {
    pub file: String,
    pub object: Value,
}

/// The built-in samples, or every `*.yaml`/`*.yml` file of `dir` in name order.
pub fn load(dir: Option<&Path>) -> Result<Vec<Sample>, SamplesError> {
    let files: Vec<(String, String)> = match dir {
        None => BUILT_IN
            .iter()
            .map(|(f, t)| ((*f).to_owned(), (*t).to_owned()))
            .collect(),
        Some(dir) => read_dir(dir)?,
    };
    let mut out = Vec::new();
    for (file, text) in files {
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let object: Value =
                serde::Deserialize::deserialize(doc).map_err(|e| SamplesError::Parse {
                    file: file.clone(),
                    message: e.to_string(),
                })?;
            if object.is_null() {
                continue;
            }
            if object["apiVersion"].as_str().is_none()
                || object["kind"].as_str().is_none()
                || object["metadata"]["name"].as_str().is_none()
            {
                return Err(SamplesError::Incomplete { file });
            }
            out.push(Sample {
                file: file.clone(),
                object,
            });
        }
    }
    Ok(out)
}

fn read_dir(dir: &Path) -> Result<Vec<(String, String)>, SamplesError> {
    let read = |path: &Path, e| SamplesError::Read {
        path: path.to_path_buf(),
        source: e,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| read(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).map_err(|e| read(&p, e))?;
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((name, text))
        })
        .collect()
}

/// Server-side applies every sample into `namespace` (namespaced kinds; a namespace a sample names
/// itself wins), returning `Kind/name` of each.
pub async fn apply(
    client: &Client,
    namespace: &str,
    samples: &[Sample],
) -> Result<Vec<String>, SamplesError> {
    let mut applied = Vec::new();
    for s in samples {
        let obj: DynamicObject =
            serde_json::from_value(s.object.clone()).map_err(|e| SamplesError::Parse {
                file: s.file.clone(),
                message: e.to_string(),
            })?;
        let types = obj.types.clone().unwrap_or_default();
        let gvk = GroupVersionKind::try_from(&types).map_err(|e| SamplesError::Parse {
            file: s.file.clone(),
            message: e.to_string(),
        })?;
        let (ar, caps) = kube::discovery::pinned_kind(client, &gvk)
            .await
            .map_err(|source| SamplesError::Discover {
                file: s.file.clone(),
                kind: types.kind.clone(),
                api_version: types.api_version.clone(),
                source: Box::new(source),
            })?;
        let name = obj.name_any();
        let api: Api<DynamicObject> = match caps.scope {
            Scope::Namespaced => {
                let ns = obj.namespace().unwrap_or_else(|| namespace.to_owned());
                Api::namespaced_with(client.clone(), &ns, &ar)
            }
            Scope::Cluster => Api::all_with(client.clone(), &ar),
        };
        api.patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&s.object),
        )
        .await
        .map_err(|source| SamplesError::Apply {
            file: s.file.clone(),
            kind: types.kind.clone(),
            name: name.clone(),
            source: Box::new(source),
        })?;
        applied.push(format!("{}/{name}", types.kind));
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_samples_are_exactly_config_samples() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/samples");
        let on_disk = read_dir(&dir).unwrap();
        let mut built_in: Vec<(String, String)> = BUILT_IN
            .iter()
            .map(|(f, t)| ((*f).to_owned(), (*t).to_owned()))
            .collect();
        built_in.sort();
        assert_eq!(built_in, on_disk, "add new sample files to BUILT_IN");
    }

    #[test]
    fn samples_parse_and_name_no_namespace() {
        let samples = load(None).unwrap();
        assert_eq!(samples.len(), BUILT_IN.len());
        for s in &samples {
            assert!(
                s.object["metadata"].get("namespace").is_none(),
                "{}: samples name no namespace, so `kubectl apply -n X -f config/samples/` works",
                s.file
            );
        }
    }

    #[test]
    fn a_document_without_a_name_is_refused_with_its_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("bad.yaml"),
            "apiVersion: v1\nkind: Secret\nmetadata: {}\n",
        )
        .unwrap();
        let err = load(Some(dir.path())).err().unwrap().to_string();
        assert!(err.starts_with("bad.yaml:"), "{err}");
    }
}
