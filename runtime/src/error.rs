//! The runtime's error type.

/// The error a message handler returns; any error type converts into it.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in the runtime.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A handler driven by a generated consumer runner failed.
    #[error("handler failed on {stream_id} version {stream_version}: {source}")]
    Handler {
        stream_id: String,
        stream_version: u64,
        #[source]
        source: HandlerError,
    },
    /// A payload could not be encoded.
    #[error("cannot encode message `{name}`: {source}")]
    Encode {
        name: String,
        #[source]
        source: serde_json::Error,
    },
    /// An append's expected version did not match the stream's actual version.
    #[error("version conflict on stream {stream_id}: expected {expected}, actual version {actual}")]
    Conflict {
        stream_id: String,
        expected: crate::store::ExpectedVersion,
        /// The stream's version when the append was tried (0: the stream does not exist).
        actual: u64,
    },
    /// An event id was appended before, but not as the same batch of the same stream.
    #[error("event id {event_id} already stored ({detail}); an idempotent retry must repeat the same batch on stream {stream_id}")]
    DuplicateEventId {
        stream_id: String,
        event_id: uuid::Uuid,
        detail: String,
    },
    /// An append batch was rejected before it reached the store (empty, or repeats an event id).
    #[error("invalid append to stream {stream_id}: {reason}")]
    InvalidAppend { stream_id: String, reason: String },
    /// A stored event's message name is not one of the channel's messages.
    #[error("unknown message `{message_name}` for channel {channel} at {stream_id} version {stream_version}")]
    UnknownMessage {
        stream_id: String,
        stream_version: u64,
        channel: &'static str,
        message_name: String,
    },
    /// A stored event's payload did not decode as its message.
    #[error("cannot decode message `{message_name}` at {stream_id} version {stream_version}: {source}")]
    Decode {
        stream_id: String,
        stream_version: u64,
        message_name: String,
        #[source]
        source: serde_json::Error,
    },
    /// A stored record is damaged outside its payload (event id, headers, timestamp, numbers).
    #[error("corrupt record at {stream_id} version {stream_version}: {reason}")]
    Corrupt {
        stream_id: String,
        stream_version: u64,
        reason: String,
    },
    /// A store URL names a scheme this build does not support, or is malformed.
    #[error("unsupported store url `{url}`: {reason}")]
    UnsupportedStore { url: String, reason: String },
    /// A command was refused by [`crate::fold::Decide::decide`]; nothing was appended.
    #[error("command rejected for stream {stream_id}: {source}")]
    Rejected {
        stream_id: String,
        #[source]
        source: HandlerError,
    },
    /// The storage backend failed (I/O, SQLite, a lost worker thread).
    #[error("{backend} store failed: {source}")]
    Storage {
        backend: &'static str,
        #[source]
        source: HandlerError,
    },
}

impl Error {
    /// Wraps a backend failure.
    pub(crate) fn storage(backend: &'static str, source: impl Into<HandlerError>) -> Self {
        Error::Storage { backend, source: source.into() }
    }
}
