//! The crate's error type.
//!
//! One enum for the whole crate (the backends share the file helpers, so their failures are the same kinds);
//! every io error carries the operation and the path it failed on.

use std::io;
use std::path::PathBuf;

/// `Result` with [`CgroupError`].
pub type Result<T, E = CgroupError> = std::result::Result<T, E>;

/// What can go wrong managing cgroups.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A cgroupfs or procfs operation failed.
    #[error("cgroup: {op} {path}: {source}")]
    Io {
        /// What was being done ("read", "write 100000", "mkdir", "rmdir", …).
        op: String,
        /// The file or directory.
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A unit or slice name that can't be a cgroup directory.
    #[error("cgroup: invalid {kind} name {name:?}")]
    InvalidName {
        /// "unit" or "slice".
        kind: &'static str,
        /// The name as given.
        name: String,
    },
    /// A limit outside what the kernel accepts.
    #[error("cgroup: invalid limit: {0}")]
    InvalidLimit(String),
    /// A cgroup file held something we couldn't parse.
    #[error("cgroup: unexpected content in {path}: {content:?}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What it held (or the offending part).
        content: String,
    },
    /// Neither a cgroup2 mount at /sys/fs/cgroup nor any usable v1 controller mount was found.
    #[error("cgroup: no usable cgroup hierarchy mounted")]
    NoHierarchy,
}

impl CgroupError {
    /// An [`CgroupError::Io`] for `op` on `path`.
    pub(crate) fn io(op: impl Into<String>, path: impl Into<PathBuf>, source: io::Error) -> Self {
        CgroupError::Io {
            op: op.into(),
            path: path.into(),
            source,
        }
    }

    /// The raw OS error number, if this is an io error.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            CgroupError::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}
