//! The library's typed errors. Front ends add context; the library says what
//! went wrong and where.

use std::path::PathBuf;

use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum Error {
    /// Not the error's `source`: its text is in the message already, and
    /// `{:#}` would print it (and SQLite's code under it) twice more.
    #[error("database: {0}")]
    Db(rusqlite::Error),

    #[error("database migration: {0}")]
    Migration(#[from] rusqlite_migration::Error),

    // The reason is in the message; not also a `source`, or the
    // command line's error chain prints it twice.
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },

    #[error(transparent)]
    Config(#[from] ConfigError),

    #[error(transparent)]
    Query(#[from] QueryError),

    #[error(transparent)]
    Workflow(#[from] crate::workflow::WorkflowError),

    #[error(transparent)]
    Canned(#[from] CannedError),

    #[error(transparent)]
    Field(#[from] crate::fields::FieldError),

    #[error("ticket #{0} not found")]
    TicketNotFound(i64),

    #[error("customer {0} not found")]
    CustomerNotFound(String),

    #[error("{what} `{value}` is not valid: {why}")]
    Invalid {
        what: &'static str,
        value: String,
        why: String,
    },

    #[error(
        "ticket #{id} was changed by someone else (version {expected} expected, {found} found)"
    )]
    Conflict { id: i64, expected: i64, found: i64 },

    /// The user did not confirm (or could not be asked).
    #[error("{0}")]
    Refused(String),

    /// Another process holds what this one needs (the daemon lease).
    #[error("busy: {0}")]
    Busy(String),

    /// Sending left entries failed or of unknown fate.
    #[error("{0}")]
    Undelivered(String),

    /// An import applied its good rows and refused others.
    #[error("{0}")]
    RowsRefused(String),

    #[error("{0}")]
    Other(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            cause: source,
        }
    }

    pub fn invalid(what: &'static str, value: impl Into<String>, why: impl Into<String>) -> Self {
        Error::Invalid {
            what,
            value: value.into(),
            why: why.into(),
        }
    }

    /// The process exit code a front end should use for this error; the
    /// table lives in docs/scripting.md.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::TicketNotFound(_) | Error::CustomerNotFound(_) => 3,
            Error::Workflow(_) | Error::Conflict { .. } => 4,
            Error::Config(_) => 5,
            Error::Query(_) | Error::Invalid { .. } | Error::Canned(_) | Error::Field(_) => 6,
            Error::Db(_) | Error::Migration(_) => 7,
            Error::Busy(_) => 8,
            Error::Refused(_) => 9,
            Error::Undelivered(_) => 10,
            Error::RowsRefused(_) => 11,
            Error::Io { .. } | Error::Other(_) => 1,
        }
    }
}

/// A config file that cannot be read or is not valid (`config`).
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{path}:{line}:{column}: key `{key}`: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        key: String,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    // The reason is in the message; not also a `source`, or the
    // command line's error chain prints it twice.
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("cannot find a home directory for the default config and data paths; pass --config and --db")]
    NoHome,
}

/// A parse error, with the 1-based character column of the offending token.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
#[error("query error at column {column}: {message}")]
pub struct QueryError {
    pub column: usize,
    pub message: String,
}

/// A canned answer that cannot be read or rendered (`canned`).
#[derive(Debug, Error)]
pub enum CannedError {
    #[error("{path}:{line}: {message}")]
    At {
        path: PathBuf,
        line: usize,
        message: String,
    },
    // The reason is in the message; not also a `source`, or the
    // command line's error chain prints it twice.
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("no canned answer named `{0}` (try `echodesk canned list`)")]
    NotFound(String),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Db(e)
    }
}

#[cfg(test)]
mod tests {
    /// What a person reads for a database error: its message once, not
    /// again with SQLite's code under it.
    #[test]
    fn a_database_error_reads_once() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let e: super::Error = conn
            .execute("SELECT nope FROM nowhere", [])
            .unwrap_err()
            .into();
        let shown = format!("{:#}", anyhow::Error::from(e));
        assert_eq!(shown.matches("no such table").count(), 1, "{shown}");
        assert!(shown.starts_with("database: "), "{shown}");
        assert!(!shown.contains("Error code"), "{shown}");
    }
}
