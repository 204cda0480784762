//! One message together with where it is stored and what it relates to.

use crate::message::Headers;

/// A message with its metadata, as read from a store or received from a transport.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope<M> {
    /// The entity stream the message belongs to, e.g. `EventSourceOrders-42`.
    pub stream_id: String,
    /// Position of the message in its stream; the first message has version 1.
    pub stream_version: u64,
    /// Position of the message across the whole store (0 where the transport has none).
    pub global_position: u64,
    /// Unique id of this event; appends are idempotent on it.
    pub event_id: uuid::Uuid,
    /// The message name, one of the channel's [`crate::ChannelMessage::NAMES`].
    pub message_name: String,
    /// When the event was recorded.
    pub timestamp: time::OffsetDateTime,
    /// The id that ties this message to its entity, e.g. the order id.
    pub correlation_id: Option<String>,
    /// The id of the event or command that caused this one.
    pub causation_id: Option<String>,
    /// Headers that travelled with the message.
    pub headers: Headers,
    /// The decoded message.
    pub message: M,
}
