//! The optional state file: one JSON snapshot of all simulators, written atomically.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Errors reading or writing the state file.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("state file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {path}: not valid JSON: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// Reads the snapshot; `Ok(None)` when the file does not exist yet.
pub fn load(path: &Path) -> Result<Option<Value>, PersistError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| PersistError::Json {
                    path: path.to_owned(),
                    source,
                })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PersistError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Replaces the state file with `text` durably (temp file, fsync, rename, directory fsync).
pub fn save(path: &Path, text: &str) -> Result<(), PersistError> {
    nno_support::fsutil::write_atomic_bytes(path, text.as_bytes()).map_err(|source| {
        PersistError::Io {
            path: path.to_owned(),
            source,
        }
    })
}
