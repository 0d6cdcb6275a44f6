//! The project's CustomResourceDefinitions: the list, their YAML rendering and the `crds` subcommand.

use std::path::{Path, PathBuf};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use super::{Bucket, Disk, Firewall, LoadBalancer, Platform, ServicePackage, VirtualMachine};

/// Arguments of `nno-operator crds`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CrdsArgs {
    /// Write one file per CRD (`<plural>.nno.app.yaml`) into this directory instead of printing
    /// multi-document YAML to stdout. Existing files of the same name are replaced.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// Errors of the `crds` subcommand.
#[derive(Debug, thiserror::Error)]
pub enum CrdsError {
    #[error("cannot render CRD {name} as YAML: {source}")]
    Render {
        name: String,
        source: serde_yaml::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write to stdout: {0}")]
    Stdout(std::io::Error),
}

/// Every CRD of the project, in a stable order (the order of `nno-operator crds`).
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        Platform::crd(),
        VirtualMachine::crd(),
        Disk::crd(),
        Bucket::crd(),
        Firewall::crd(),
        LoadBalancer::crd(),
        ServicePackage::crd(),
    ]
}

/// File name of a CRD under `crds/`, e.g. `virtualmachines.nno.app.yaml`.
pub fn crd_file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}.yaml", crd_name(crd))
}

fn crd_name(crd: &CustomResourceDefinition) -> &str {
    crd.metadata.name.as_deref().unwrap_or("unnamed")
}

/// One CRD rendered as a YAML document (the content of its file under `crds/`).
pub fn crd_yaml(crd: &CustomResourceDefinition) -> Result<String, CrdsError> {
    let body = serde_yaml::to_string(crd).map_err(|source| CrdsError::Render {
        name: crd_name(crd).to_string(),
        source,
    })?;
    Ok(format!("---\n{body}"))
}

/// Every CRD of the project, rendered as multi-document YAML in a stable order.
pub fn crds_yaml() -> Result<String, CrdsError> {
    crds().iter().map(crd_yaml).collect()
}

/// Writes every CRD into `dir`, one file each; returns the paths written.
pub fn write_crds(dir: &Path) -> Result<Vec<PathBuf>, CrdsError> {
    std::fs::create_dir_all(dir).map_err(|source| CrdsError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    crds()
        .iter()
        .map(|crd| {
            let path = dir.join(crd_file_name(crd));
            std::fs::write(&path, crd_yaml(crd)?).map_err(|source| CrdsError::Write {
                path: path.clone(),
                source,
            })?;
            Ok(path)
        })
        .collect()
}

/// Runs `nno-operator crds`.
pub fn run(args: &CrdsArgs) -> Result<(), CrdsError> {
    match &args.out_dir {
        Some(dir) => {
            let written: String = write_crds(dir)?
                .iter()
                .map(|path| format!("wrote {}\n", path.display()))
                .collect();
            crate::cli::write_stdout(&written).map_err(CrdsError::Stdout)
        }
        None => crate::cli::write_stdout(&crds_yaml()?).map_err(CrdsError::Stdout),
    }
}
