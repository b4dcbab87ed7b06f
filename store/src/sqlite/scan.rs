//! The verifier's full-table scan of `events` on a raw sqlite3 statement.
//!
//! Verifying reads every stored event once, so per-row overhead sets its speed. rusqlite's
//! row API checks the column count and type on each access; here each row costs one step
//! and one value look-up per column, and the canonical bytes are borrowed, not copied.

use std::ffi::{c_int, CStr, CString};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use rusqlite::{ffi, Connection};

use crate::error::{Result, StoreError};

/// One row of [`RawScan`]: `SELECT container, container_seq, canonical, id ...`.
pub(super) struct ScanRow<'s> {
    pub container: i64,
    pub container_seq: u64,
    pub canonical: &'s [u8],
}

/// A prepared statement stepped by hand; finalized on drop.
pub(super) struct RawScan<'c> {
    db: *mut ffi::sqlite3,
    stmt: *mut ffi::sqlite3_stmt,
    path: PathBuf,
    _conn: PhantomData<&'c Connection>,
}

impl<'c> RawScan<'c> {
    /// Prepares `sql`, whose first four columns must be container, container_seq,
    /// canonical and the row id.
    pub(super) fn new(conn: &'c Connection, path: &Path, sql: &str) -> Result<RawScan<'c>> {
        // SAFETY: the handle stays valid while `conn` is borrowed, which `'c` guarantees;
        // the connection is not shared with another thread (`Connection` is not `Sync`).
        let db = unsafe { conn.handle() };
        let sql = CString::new(sql).map_err(|_| StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: "scan SQL contains NUL".into(),
        })?;
        let mut stmt = std::ptr::null_mut();
        // SAFETY: `db` is open, `sql` is NUL-terminated, `stmt` receives the statement.
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(db, sql.as_ptr(), -1, &mut stmt, std::ptr::null_mut())
        };
        let scan = RawScan {
            db,
            stmt,
            path: path.to_path_buf(),
            _conn: PhantomData,
        };
        if rc != ffi::SQLITE_OK {
            return Err(scan.error(rc));
        }
        Ok(scan)
    }

    fn error(&self, rc: c_int) -> StoreError {
        // SAFETY: sqlite3_errmsg returns a NUL-terminated string owned by the connection.
        let msg = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(self.db)) }
            .to_string_lossy()
            .into_owned();
        let code = ffi::Error::new(rc);
        match code.code {
            ffi::ErrorCode::DatabaseCorrupt | ffi::ErrorCode::NotADatabase => StoreError::Corrupt {
                path: self.path.clone(),
                reason: msg,
            },
            _ => StoreError::Sqlite {
                path: self.path.clone(),
                source: rusqlite::Error::SqliteFailure(code, Some(msg)),
            },
        }
    }

    /// The next row; `None` at the end of the table.
    pub(super) fn next(&mut self) -> Result<Option<ScanRow<'_>>> {
        // SAFETY: `stmt` is a live prepared statement; the values read below are only used
        // until the next step, which the borrow of `self` in `ScanRow<'_>` enforces. The
        // connection is opened with SQLITE_OPEN_NO_MUTEX, so column values need no mutex.
        unsafe {
            let rc = ffi::sqlite3_step(self.stmt);
            if rc == ffi::SQLITE_DONE {
                return Ok(None);
            }
            if rc != ffi::SQLITE_ROW {
                return Err(self.error(rc));
            }
            let value = |i: c_int| ffi::sqlite3_column_value(self.stmt, i);
            let (container, seq, canonical) = (value(0), value(1), value(2));
            let corrupt = |what: &str| {
                let id = ffi::sqlite3_value_int64(value(3));
                StoreError::Corrupt {
                    path: self.path.clone(),
                    reason: format!("events row {id}: {what}"),
                }
            };
            if ffi::sqlite3_value_type(container) != ffi::SQLITE_INTEGER {
                return Err(corrupt("container is not an integer"));
            }
            if ffi::sqlite3_value_type(seq) != ffi::SQLITE_INTEGER {
                return Err(corrupt("container_seq is not an integer"));
            }
            let ty = ffi::sqlite3_value_type(canonical);
            if ty != ffi::SQLITE_BLOB && ty != ffi::SQLITE_TEXT {
                return Err(corrupt("canonical is neither bytes nor text"));
            }
            // For text, sqlite3_value_blob returns its bytes unconverted.
            let ptr = ffi::sqlite3_value_blob(canonical).cast::<u8>();
            let len = usize::try_from(ffi::sqlite3_value_bytes(canonical)).unwrap_or(0);
            let canonical = if ptr.is_null() || len == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(ptr, len)
            };
            Ok(Some(ScanRow {
                container: ffi::sqlite3_value_int64(container),
                container_seq: ffi::sqlite3_value_int64(seq) as u64,
                canonical,
            }))
        }
    }
}

impl Drop for RawScan<'_> {
    fn drop(&mut self) {
        // SAFETY: `stmt` came from sqlite3_prepare_v2 (or is null, which finalize accepts)
        // and is finalized exactly once, before the connection it belongs to can close.
        unsafe {
            ffi::sqlite3_finalize(self.stmt);
        }
    }
}
