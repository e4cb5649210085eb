//! The toolkit's errors.

use std::path::PathBuf;

/// Errors of the toolkit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A source spec or format name was not understood.
    #[error("{0}")]
    Usage(String),
    /// The artifact was refused.
    #[error("{path}: not a usable parapet blocklist: {kind}")]
    Artifact {
        /// The file (empty for in-memory bytes).
        path: PathBuf,
        /// What check failed.
        kind: ArtifactError,
    },
}

/// Why an artifact was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArtifactError {
    /// The file is shorter than its header or its declared sections.
    #[error("truncated: {got} bytes, need {need}; rebuild it with `parapet-blocklist compile`")]
    Truncated {
        /// Bytes present.
        got: u64,
        /// Bytes needed.
        need: u64,
    },
    /// Wrong magic bytes: not a `.pbl` file.
    #[error("bad magic: this is not a .pbl file")]
    BadMagic,
    /// Format version this build does not read.
    #[error(
        "format version {got} is not supported (this build reads {expected}); upgrade parapet or recompile"
    )]
    Version {
        /// Version this build reads.
        expected: u32,
        /// Version in the file.
        got: u32,
    },
    /// The checksum does not match: the file is corrupt.
    #[error(
        "checksum mismatch (expected {expected:08x}, got {got:08x}): the file is corrupt; recompile or re-download it"
    )]
    Checksum {
        /// Stored checksum.
        expected: u32,
        /// Computed checksum.
        got: u32,
    },
    /// A section is inconsistent (bad offsets, invalid FST, unsorted ranges).
    #[error("corrupt {0}")]
    Corrupt(&'static str),
}
