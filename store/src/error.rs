//! The store's error type. Messages name the file and what to do about it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no evidence at {path}: expected conanchor.db (a data dir) or logs/ and batches/ (an export); check --data-dir")]
    NotFound { path: PathBuf },
    #[error("{path} is not a usable ConAnchor database ({reason}); restore it from a backup or an export (`conanchor-tui import`)")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path} has schema version {found}, newer than this build understands ({supported}); upgrade conanchor")]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("database error on {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    BadInput { path: PathBuf, reason: String },
    #[error("invalid container instance id {0:?}: use letters, digits, '-', '_', '.', ':' (no '/' and not '.' or '..')")]
    BadContainerId(String),
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Container instance ids become file names in an export, so they must be safe ones.
pub fn check_container_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 255
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadContainerId(id.to_string()))
    }
}
