//! The one error type of the generator: what went wrong, and where in which file.

use std::fmt;
use std::path::PathBuf;

/// What kind of problem a document has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file could not be read.
    Io,
    /// A file is not valid JSON or YAML.
    Parse,
    /// A `$ref` names a file or pointer that does not exist.
    Ref,
    /// A `$ref` points at a remote document; eventfold never fetches them.
    RemoteRef,
    /// A chain of `$ref`s leads back to itself.
    RefCycle,
    /// The document is not AsyncAPI, or of a version eventfold does not read.
    Version,
    /// The document breaks a rule of the AsyncAPI or JSON Schema specification.
    Invalid,
    /// The document uses something valid that eventfold does not support yet.
    Unsupported,
    /// Schemas are nested deeper than eventfold follows.
    TooDeep,
    /// Two names cannot be told apart after conversion.
    NameCollision,
    /// Generated tokens did not parse as Rust (a bug in eventfold).
    Internal,
    /// The output could not be written.
    Output,
}

impl ErrorKind {
    /// A short, stable name for the kind, as printed in diagnostics.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Io => "io",
            ErrorKind::Parse => "parse",
            ErrorKind::Ref => "ref",
            ErrorKind::RemoteRef => "remote-ref",
            ErrorKind::RefCycle => "ref-cycle",
            ErrorKind::Version => "version",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::TooDeep => "too-deep",
            ErrorKind::NameCollision => "name-collision",
            ErrorKind::Internal => "internal",
            ErrorKind::Output => "output",
        }
    }
}

/// Where in the input a problem is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// The file, as the loader opened it.
    pub file: Option<PathBuf>,
    /// JSON pointer into the file (`""` is the whole document).
    pub pointer: String,
    /// 1-based line and column, where the parser or the locator knows them.
    pub line_col: Option<(usize, usize)>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}", file.display())?,
            None => f.write_str("<input>")?,
        }
        if let Some((line, col)) = self.line_col {
            write!(f, ":{line}:{col}")?;
        }
        write!(f, "#{}", self.pointer)
    }
}

/// An error of the generator, naming the file and JSON pointer it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What kind of problem it is.
    pub kind: ErrorKind,
    /// Where it is.
    pub location: Location,
    /// What is wrong, in a sentence.
    pub message: String,
    /// A second place the problem involves (e.g. the other side of a name collision).
    pub related: Option<Box<Location>>,
}

impl Error {
    /// A new error of `kind` at `location`.
    pub fn new(kind: ErrorKind, location: Location, message: impl Into<String>) -> Self {
        Error { kind, location, message: message.into(), related: None }
    }

    /// The same error, also naming `other`.
    pub fn with_related(mut self, other: Location) -> Self {
        self.related = Some(Box::new(other));
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: error[{}]: {}", self.location, self.kind.as_str(), self.message)?;
        if let Some(related) = &self.related {
            write!(f, " (see also {related})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// Results of the generator.
pub type Result<T, E = Error> = std::result::Result<T, E>;
