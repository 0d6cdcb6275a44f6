//! The product mapping file (`--pax8-products`): Pax8 product id → plan tier and default
//! features. Re-read whenever the file's modification time or size changes; a file that no
//! longer parses keeps the last good mapping (and says so in the log).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::Deserialize;

use super::IntakeError;
use crate::api::platform::PlatformFeature;

/// One product of the mapping file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Product {
    pub product_id: String,
    pub plan_tier: String,
    #[serde(default)]
    pub features: Vec<PlatformFeature>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductFile {
    #[serde(default)]
    products: Vec<Product>,
}

type Stamp = Option<(SystemTime, u64)>;

#[derive(Debug)]
struct Loaded {
    stamp: Stamp,
    by_id: HashMap<String, Product>,
}

/// The mapping, reloaded on change.
#[derive(Debug)]
pub struct ProductMap {
    path: PathBuf,
    loaded: Mutex<Loaded>,
}

fn stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

fn parse(path: &Path) -> Result<HashMap<String, Product>, IntakeError> {
    let err = |message: String| IntakeError::Products {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let file: ProductFile = serde_yaml::from_str(&text).map_err(|e| err(e.to_string()))?;
    let mut by_id = HashMap::new();
    for p in file.products {
        if p.plan_tier.trim().is_empty() {
            return Err(err(format!(
                "product {} has an empty planTier",
                p.product_id
            )));
        }
        let key = p.product_id.to_ascii_lowercase();
        if by_id.insert(key, p.clone()).is_some() {
            return Err(err(format!("product {} is listed twice", p.product_id)));
        }
    }
    Ok(by_id)
}

impl ProductMap {
    /// Reads `path`; an unreadable or invalid file is an error at start.
    pub fn load(path: &Path) -> Result<Self, IntakeError> {
        let st = stamp(path);
        let by_id = parse(path)?;
        Ok(Self {
            path: path.to_owned(),
            loaded: Mutex::new(Loaded { stamp: st, by_id }),
        })
    }

    /// The product with id `id` (case-insensitive), after reloading the file if it changed.
    pub fn get(&self, id: &str) -> Option<Product> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        let now = stamp(&self.path);
        if now != loaded.stamp {
            match parse(&self.path) {
                Ok(by_id) => {
                    tracing::info!(path = %self.path.display(), products = by_id.len(), "product mapping reloaded");
                    loaded.by_id = by_id;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "product mapping not reloaded; keeping the last good one")
                }
            }
            loaded.stamp = now;
        }
        loaded.by_id.get(&id.to_ascii_lowercase()).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "11111111-1111-4111-8111-111111111111";

    #[test]
    fn loads_and_reloads_when_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("products.yaml");
        std::fs::write(
            &path,
            format!("products:\n- productId: {A}\n  planTier: growth\n  features:\n  - featureId: sso\n    featureVersion: '1'\n"),
        )
        .unwrap();
        let m = ProductMap::load(&path).unwrap();
        let p = m.get(&A.to_uppercase()).unwrap();
        assert_eq!((p.plan_tier.as_str(), p.features.len()), ("growth", 1));
        assert!(m.get("nope").is_none());
        // A different size changes the stamp even within one mtime tick.
        std::fs::write(
            &path,
            format!("products:\n- productId: {A}\n  planTier: enterprise\n"),
        )
        .unwrap();
        assert_eq!(m.get(A).unwrap().plan_tier, "enterprise");
        // A broken file keeps the last good mapping.
        std::fs::write(&path, "products: [oops").unwrap();
        assert_eq!(m.get(A).unwrap().plan_tier, "enterprise");
    }

    #[test]
    fn rejects_invalid_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yaml");
        std::fs::write(
            &path,
            format!("products:\n- productId: {A}\n  planTier: ''\n"),
        )
        .unwrap();
        assert!(
            ProductMap::load(&path)
                .unwrap_err()
                .to_string()
                .contains("empty planTier")
        );
        std::fs::write(&path, "products:\n- productId: x\n  tier: a\n").unwrap();
        assert!(ProductMap::load(&path).is_err());
        assert!(ProductMap::load(&dir.path().join("missing.yaml")).is_err());
    }
}
