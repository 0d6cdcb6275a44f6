//! State file: an append-only, fsynced log of object writes, compacted into a fresh file (temp file,
//! fsync, rename, directory fsync) on open and when it grows. A torn last line (kill -9 mid-write) is
//! dropped on load; every write acknowledged to a client was fsynced before the reply.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// Errors reading or writing the state file.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("state file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("encoding a state record: {0}")]
    Encode(#[from] serde_json::Error),
}

/// One log line.
#[derive(Debug, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Record<'a> {
    /// Start of a compacted file: the resourceVersion counter at compaction time.
    Base { rv: u64 },
    Put {
        rv: u64,
        key: &'a str,
        obj: &'a Value,
    },
    Del {
        rv: u64,
        key: &'a str,
        ns: &'a str,
        name: &'a str,
    },
}

#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum OwnedRecord {
    Base {
        rv: u64,
    },
    Put {
        rv: u64,
        key: String,
        obj: Value,
    },
    Del {
        rv: u64,
        key: String,
        ns: String,
        name: String,
    },
}

/// What a state file held.
#[derive(Debug, Default)]
pub struct Loaded {
    pub rv: u64,
    /// `(storage key, object)`.
    pub objects: Vec<(String, Value)>,
}

/// An open state file.
#[derive(Debug)]
pub struct Persist {
    path: PathBuf,
    file: File,
    lines: usize,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PersistError + '_ {
    move |source| PersistError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn load(path: &Path) -> Result<Loaded, PersistError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::default()),
        Err(e) => return Err(io_err(path)(e)),
    };
    let mut rv = 0;
    let mut map: std::collections::BTreeMap<(String, String, String), Value> = Default::default();
    for line in BufReader::new(file).lines() {
        let Ok(line) = line else { break };
        let Ok(rec) = serde_json::from_str::<OwnedRecord>(&line) else {
            tracing::warn!(path = %path.display(), "ignoring torn or unreadable tail of the state file");
            break;
        };
        match rec {
            OwnedRecord::Base { rv: r } => rv = rv.max(r),
            OwnedRecord::Put { rv: r, key, obj } => {
                rv = rv.max(r);
                let m = &obj["metadata"];
                let ns = m["namespace"].as_str().unwrap_or_default().to_string();
                let name = m["name"].as_str().unwrap_or_default().to_string();
                map.insert((key, ns, name), obj);
            }
            OwnedRecord::Del {
                rv: r,
                key,
                ns,
                name,
            } => {
                rv = rv.max(r);
                map.remove(&(key, ns, name));
            }
        }
    }
    Ok(Loaded {
        rv,
        objects: map.into_iter().map(|((k, _, _), o)| (k, o)).collect(),
    })
}

impl Persist {
    /// Loads `path` (missing = empty) and rewrites it compacted.
    pub fn open(path: &Path) -> Result<(Self, Loaded), PersistError> {
        let loaded = load(path)?;
        let file = write_compacted(
            path,
            loaded.rv,
            loaded.objects.iter().map(|(k, o)| (k.as_str(), o)),
        )?;
        Ok((
            Self {
                path: path.to_path_buf(),
                file,
                lines: loaded.objects.len() + 1,
            },
            loaded,
        ))
    }

    /// Appends one record and fsyncs it.
    pub fn append(&mut self, rec: &Record<'_>) -> Result<(), PersistError> {
        let mut line = serde_json::to_vec(rec)?;
        line.push(b'\n');
        self.file.write_all(&line).map_err(io_err(&self.path))?;
        self.file.sync_data().map_err(io_err(&self.path))?;
        self.lines += 1;
        Ok(())
    }

    /// True when the log holds many more lines than there are live objects.
    pub fn needs_compaction(&self, live: usize) -> bool {
        self.lines > 4 * live + 1000
    }

    /// Rewrites the file with only the live objects.
    pub fn compact<'a>(
        &mut self,
        rv: u64,
        objects: impl Iterator<Item = (&'a str, &'a Value)>,
    ) -> Result<(), PersistError> {
        let mut n = 0;
        let counted = objects.inspect(|_| n += 1);
        self.file = write_compacted(&self.path, rv, counted)?;
        self.lines = n + 1;
        Ok(())
    }
}

fn write_compacted<'a>(
    path: &Path,
    rv: u64,
    objects: impl Iterator<Item = (&'a str, &'a Value)>,
) -> Result<File, PersistError> {
    nno_support::fsutil::write_atomic(path, |w| {
        let mut put = |rec: &Record<'_>| -> std::io::Result<()> {
            serde_json::to_writer(&mut *w, rec)?;
            w.write_all(b"\n")
        };
        put(&Record::Base { rv })?;
        for (key, obj) in objects {
            put(&Record::Put { rv, key, obj })?;
        }
        Ok(())
    })
    .map_err(io_err(path))?;
    OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn torn_tail_is_ignored_and_rv_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.jsonl");
        {
            let (mut p, l) = Persist::open(&path).unwrap();
            assert_eq!(l.rv, 0);
            let o = json!({"metadata": {"name": "a", "namespace": "default"}});
            p.append(&Record::Put {
                rv: 5,
                key: "/configmaps",
                obj: &o,
            })
            .unwrap();
            p.append(&Record::Del {
                rv: 6,
                key: "/x",
                ns: "",
                name: "gone",
            })
            .unwrap();
        }
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"op\":\"put\",\"rv\":7,\"ke").unwrap();
        let (_p, l) = Persist::open(&path).unwrap();
        assert_eq!(l.rv, 6);
        assert_eq!(l.objects.len(), 1);
        let (_p, l) = Persist::open(&path).unwrap();
        assert_eq!(l.rv, 6, "compaction keeps the counter");
    }
}
