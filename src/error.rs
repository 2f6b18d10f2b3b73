//! One error type for the library, with a variant per kind of failure.
//!
//! Every variant carries what a person needs to act on it (the path, the key, the reason), and
//! maps to an HTTP status so the service layer never has to guess.

use std::path::PathBuf;

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in kefu's library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid: `key` is the dotted path of the offending key.
    #[error("configuration error at `{key}`: {message}")]
    Config { key: String, message: String },

    /// A request or command-line argument from a user is invalid.
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// A source file could not be ingested; `reason` says why.
    #[error("{}: {reason}", path.display())]
    BadFile { path: PathBuf, reason: String },

    /// An operating-system I/O error on a path.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// There is no index generation yet in the index folder.
    #[error("no index in {}: run `kefu index` first", dir.display())]
    NoIndex { dir: PathBuf },

    /// Something the user asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),

    /// A feature that a later stage of kefu will provide.
    #[error("not available yet: {0}")]
    NotAvailable(String),

    /// Another process holds a lock that this operation needs.
    #[error("{} is in use by another kefu process ({detail})", path.display())]
    Locked { path: PathBuf, detail: String },

    /// The embedded store failed.
    #[error("store error: {0}")]
    Store(String),

    /// The lexical index failed.
    #[error("index error: {0}")]
    Index(String),

    /// The request conflicts with what exists (a document owned by a corpus file, say).
    #[error("conflict: {0}")]
    Conflict(String),

    /// The service has as much of this kind of work queued as it takes; retry later.
    #[error("busy: {0}")]
    Busy(String),

    /// An external service kefu depends on (the CRM) failed or answered nonsense; the
    /// message says which lookup and why, never the personal data asked about.
    #[error("{service} unavailable: {message}")]
    Upstream { service: String, message: String },

    /// The work was cancelled (its deadline passed, its client left, or a newer request
    /// superseded it) before it finished; the field says where it stopped.
    #[error("cancelled during {0}")]
    Cancelled(String),

    /// A bug or an impossible state.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Builds an [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Builds an [`Error::BadFile`] for `path`.
    pub fn bad_file(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::BadFile {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// Builds an [`Error::Config`] for the dotted `key`.
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The HTTP status this error maps to. Every variant is named: adding one forces a decision.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::Config { .. } => 500,
            Error::InvalidRequest(_) => 400,
            Error::BadFile { .. } => 422,
            Error::Io { .. } => 500,
            Error::NoIndex { .. } => 503,
            Error::NotFound(_) => 404,
            Error::NotAvailable(_) => 501,
            Error::Locked { .. } => 409,
            Error::Store(_) => 500,
            Error::Index(_) => 500,
            Error::Conflict(_) => 409,
            Error::Upstream { .. } => 502,
            Error::Cancelled(_) => 503,
            Error::Busy(_) => 503,
            Error::Internal(_) => 500,
        }
    }

    /// A short machine-readable code for the error, used in JSON error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Config { .. } => "config",
            Error::InvalidRequest(_) => "invalid_request",
            Error::BadFile { .. } => "bad_file",
            Error::Io { .. } => "io",
            Error::NoIndex { .. } => "no_index",
            Error::NotFound(_) => "not_found",
            Error::NotAvailable(_) => "not_available",
            Error::Locked { .. } => "locked",
            Error::Conflict(_) => "conflict",
            Error::Store(_) => "store",
            Error::Index(_) => "index",
            Error::Upstream { .. } => "upstream",
            Error::Cancelled(_) => "cancelled",
            Error::Busy(_) => "busy",
            Error::Internal(_) => "internal",
        }
    }
}

/// `s` fit to quote in a message or a log line: control characters (C0, DEL, C1, and the
/// Unicode line and paragraph separators) escaped, so an echoed value can neither inject
/// terminal escapes nor split a log line, and at most 100 characters.
pub fn printable(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == 100 {
            out.push('…');
            break;
        }
        if is_control(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `c` is a control character that text shown to people must not carry raw: C0
/// (including tab and line breaks), DEL, C1 (including NEL), U+2028 and U+2029.
pub fn is_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_terminal_escapes_and_line_breaks() {
        assert_eq!(printable("a\u{1b}[31mb\n"), "a\\u{1b}[31mb\\u{a}");
        assert_eq!(printable("屏幕"), "屏幕");
        assert_eq!(printable(&"x".repeat(150)).chars().count(), 101);
    }
}
