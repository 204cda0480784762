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
}
