//! What generated publishers send to and generated consumer runners read from.

use std::future::Future;

#[cfg(feature = "nats")]
#[path = "transport_nats.rs"]
pub mod nats;

use crate::envelope::Envelope;
use crate::error::Error;
use crate::message::{ChannelMessage, Headers};

/// Metadata a publisher attaches to a message it sends.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SendOptions {
    /// Headers to send beside the payload.
    pub headers: Headers,
    /// The event id; a fresh one is chosen when absent. Sending twice with the same id stores once.
    pub event_id: Option<uuid::Uuid>,
    /// The correlation id; when absent, the one the message's document location gives.
    pub correlation_id: Option<String>,
    /// The id of the event or command that caused this message.
    pub causation_id: Option<String>,
}

/// Where a sent message ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The stream the message was appended to.
    pub stream_id: String,
    /// Its version in that stream.
    pub stream_version: u64,
    /// Its position in the whole store.
    pub global_position: u64,
    /// Its event id.
    pub event_id: uuid::Uuid,
}

/// A destination for the messages of channel `M`: an event store or a broker.
pub trait Sink<M: ChannelMessage>: Send + Sync {
    /// Sends one message.
    fn send(&self, message: M, options: SendOptions) -> impl Future<Output = Result<Receipt, Error>> + Send;
}

/// An ordered source of the messages of channel `M`, as a consumer runner reads it.
pub trait Subscription<M: ChannelMessage>: Send {
    /// The next message, `None` when the subscription has ended.
    fn next(&mut self) -> impl Future<Output = Option<Result<Envelope<M>, Error>>> + Send;

    /// Records that `envelope` was handled, so a restarted subscription resumes after it.
    fn ack(&mut self, envelope: &Envelope<M>) -> impl Future<Output = Result<(), Error>> + Send {
        let _ = envelope;
        std::future::ready(Ok(()))
    }
}

/// Sends a request message of channel `M` and waits for its reply, a message of channel `R`
/// (AsyncAPI `reply`): what generated publishers of operations with a reply use.
///
/// The reply is the first message of `R` whose causation id is the request's event id; the
/// generated consumer runner of the responding side sets it so.
pub trait Requester<M: ChannelMessage, R: ChannelMessage>: Send + Sync {
    /// Sends `message` and resolves to its reply. Wrap it in a timeout to bound the wait.
    fn request(&self, message: M, options: SendOptions) -> impl Future<Output = Result<Envelope<R>, Error>> + Send;
}
