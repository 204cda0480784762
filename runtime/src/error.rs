//! The runtime's error type.

/// The error a message handler returns; any error type converts into it.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in the runtime.
///
/// Errors about a stored event name its stream and version, so a bad record can be found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A handler driven by a generated consumer runner (or a projection) failed.
    #[error("handler failed on {stream_id} version {stream_version}: {source}")]
    Handler {
        /// The stream of the event being handled.
        stream_id: String,
        /// The version of the event being handled.
        stream_version: u64,
        /// What the handler returned.
        #[source]
        source: HandlerError,
    },
    /// The replies of a request ended before its reply came.
    #[error("no reply to event {event_id} on stream {stream_id}: the reply subscription ended")]
    NoReply {
        /// The stream the request was appended to.
        stream_id: String,
        /// The request's event id, which its reply names as causation id.
        event_id: uuid::Uuid,
    },
    /// A payload could not be encoded.
    #[error("cannot encode message `{name}`: {source}")]
    Encode {
        /// The message (or state) name.
        name: String,
        /// What serde_json said.
        #[source]
        source: serde_json::Error,
    },
    /// An append's expected version did not match the stream's actual version.
    #[error("version conflict on stream {stream_id}: expected {expected}, actual version {actual}")]
    Conflict {
        /// The stream appended to.
        stream_id: String,
        /// What the append expected.
        expected: crate::store::ExpectedVersion,
        /// The stream's version when the append was tried (0: the stream does not exist).
        actual: u64,
    },
    /// An event id was appended before, but not as the same batch of the same stream.
    #[error("event id {event_id} already stored ({detail}); an idempotent retry must repeat the same batch on stream {stream_id}")]
    DuplicateEventId {
        /// The stream appended to.
        stream_id: String,
        /// The event id that was seen before.
        event_id: uuid::Uuid,
        /// Where it was seen.
        detail: String,
    },
    /// An append batch was rejected before it reached the store (empty, or repeats an event id).
    #[error("invalid append to stream {stream_id}: {reason}")]
    InvalidAppend {
        /// The stream appended to.
        stream_id: String,
        /// What is wrong with the batch.
        reason: String,
    },
    /// A stored event's message name is not one of the channel's messages.
    #[error("unknown message `{message_name}` for channel {channel} at {stream_id} version {stream_version}")]
    UnknownMessage {
        /// The stream of the record.
        stream_id: String,
        /// The version of the record.
        stream_version: u64,
        /// The channel the reader expected.
        channel: &'static str,
        /// The name stored with the record.
        message_name: String,
    },
    /// A stored event's payload did not decode as its message.
    #[error("cannot decode message `{message_name}` at {stream_id} version {stream_version}: {source}")]
    Decode {
        /// The stream of the record.
        stream_id: String,
        /// The version of the record.
        stream_version: u64,
        /// The name stored with the record.
        message_name: String,
        /// What serde_json said.
        #[source]
        source: serde_json::Error,
    },
    /// A stored record is damaged outside its payload (event id, headers, timestamp, numbers).
    #[error("corrupt record at {stream_id} version {stream_version}: {reason}")]
    Corrupt {
        /// The stream of the record.
        stream_id: String,
        /// The version of the record.
        stream_version: u64,
        /// What is damaged.
        reason: String,
    },
    /// A store URL names a scheme this build does not support, or is malformed.
    #[error("unsupported store url `{url}`: {reason}")]
    UnsupportedStore {
        /// The URL given.
        url: String,
        /// Why it cannot be opened.
        reason: String,
    },
    /// A command was refused by [`crate::fold::Decide::decide`]; nothing was appended.
    #[error("command rejected for stream {stream_id}: {source}")]
    Rejected {
        /// The entity's stream.
        stream_id: String,
        /// The rejection `decide` returned.
        #[source]
        source: HandlerError,
    },
    /// The storage backend failed (I/O, SQLite, a lost worker thread).
    #[error("{backend} store failed: {source}")]
    Storage {
        /// The backend, e.g. `sqlite`.
        backend: &'static str,
        /// The backend's error.
        #[source]
        source: HandlerError,
    },
}

impl Error {
    /// Wraps a backend failure.
    #[cfg_attr(not(any(feature = "sqlite", feature = "nats", feature = "postgres")), allow(dead_code))]
    pub(crate) fn storage(backend: &'static str, source: impl Into<HandlerError>) -> Self {
        Error::Storage { backend, source: source.into() }
    }
}
