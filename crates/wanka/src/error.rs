//! Errors of the library. Every error a user can cause names the key, the value and
//! what would be valid; the binary maps them to exit status 2.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read {path}: {reason}")]
    Io { path: String, reason: String },
    /// The file is not valid TOML/JSON, or a key has the wrong type or is unknown.
    #[error("{}", if path.starts_with('[') { message.clone() } else { format!("{path}: {message}") })]
    Parse { path: String, message: String },
    /// A key holds a value that is not allowed. `fix` is a value (as TOML) of `fix_key`
    /// that would clear this error, when one follows from the rest of the scenario.
    #[error("{key} = {value}: {expected}")]
    Invalid { key: String, value: String, expected: String, fix: Option<(String, String)> },
    /// A required key is absent.
    #[error("{key} is missing: {expected}")]
    Missing { key: String, expected: String },
}

impl Error {
    pub fn invalid(key: impl Into<String>, value: impl std::fmt::Display, expected: impl Into<String>) -> Error {
        Error::Invalid { key: key.into(), value: value.to_string(), expected: expected.into(), fix: None }
    }

    /// [`Error::invalid`], with a value of `fix_key` that would clear it.
    pub fn fixable(
        key: impl Into<String>,
        value: impl std::fmt::Display,
        expected: impl Into<String>,
        fix_key: impl Into<String>,
        fix: impl std::fmt::Display,
    ) -> Error {
        Error::Invalid { key: key.into(), value: value.to_string(), expected: expected.into(), fix: Some((fix_key.into(), fix.to_string())) }
    }

    pub fn missing(key: impl Into<String>, expected: impl Into<String>) -> Error {
        Error::Missing { key: key.into(), expected: expected.into() }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Largest integer any size or count may take (2^24 = 16,777,216: above every real
/// model dimension and GPU count, and small enough that products of three never overflow).
pub const MAX_INT: u64 = 1 << 24;

/// Checks an integer against [`MAX_INT`]-style bounds.
pub(crate) fn at_most(key: &str, v: u64, max: u64) -> Result<u64> {
    if v > max {
        Err(Error::invalid(key, v, format!("must be at most {max}")))
    } else {
        Ok(v)
    }
}
