//! Stores as [`Sink`]s and typed [`Subscription`]s of a channel's messages.

use std::future::Future;
use std::marker::PhantomData;

use super::{
    stream_id_for, AnyStore, CheckpointStore, DecodePolicy, EventStore, ExpectedVersion, Filter, MemoryStore, NewEvent,
    StartFrom, StoreSubscription,
};
use crate::envelope::Envelope;
use crate::error::Error;
use crate::message::ChannelMessage;
use crate::transport::{Receipt, Requester, SendOptions, Sink, Subscription};

/// Appends one message to its entity's stream, as every store's [`Sink::send`] does.
///
/// The stream is `"{M::CHANNEL}-{correlation id}"` ([`stream_id_for`]); the correlation id is
/// `options.correlation_id`, else the message's own ([`ChannelMessage::correlation_id`]). A message
/// with neither is its own entity: its event id becomes its correlation id. The append expects
/// [`ExpectedVersion::Any`]; re-sending with the same `options.event_id` stores the message once
/// and returns the first receipt.
pub async fn send_to_store<S: EventStore, M: ChannelMessage>(
    store: &S,
    message: M,
    options: SendOptions,
) -> Result<Receipt, Error> {
    let mut event = NewEvent::from_message(&message, options)?;
    let event_id = event.event_id;
    let correlation_id = event.correlation_id.get_or_insert_with(|| event_id.to_string()).clone();
    let stream_id = stream_id_for::<M>(&correlation_id);
    let result = store.append(&stream_id, ExpectedVersion::Any, vec![event]).await?;
    Ok(Receipt {
        stream_id: result.stream_id,
        stream_version: result.version,
        global_position: result.last_position,
        event_id,
    })
}

/// Appends `message` to `store` and waits for the first message of channel `R` appended after
/// it whose causation id is its event id.
pub async fn request_from_store<S, M, R>(store: &S, message: M, options: SendOptions) -> Result<Envelope<R>, Error>
where
    S: EventStore + CheckpointStore + Sink<M>,
    M: ChannelMessage,
    R: ChannelMessage,
{
    let receipt = store.send(message, options).await?;
    let request = receipt.event_id.to_string();
    let mut replies = TypedSubscription::<S, R>::new(store.clone(), StartFrom::After(receipt.global_position));
    while let Some(next) = replies.next().await {
        let envelope = next?;
        if envelope.causation_id.as_deref() == Some(request.as_str()) {
            return Ok(envelope);
        }
    }
    Err(Error::NoReply { stream_id: receipt.stream_id, event_id: receipt.event_id })
}

macro_rules! sink_for {
    ($($(#[$attr:meta])* $store:ty),*) => {$(
        $(#[$attr])*
        impl<M: ChannelMessage> Sink<M> for $store {
            fn send(&self, message: M, options: SendOptions) -> impl Future<Output = Result<Receipt, Error>> + Send {
                send_to_store(self, message, options)
            }
        }

        $(#[$attr])*
        impl<M: ChannelMessage, R: ChannelMessage> Requester<M, R> for $store {
            fn request(&self, message: M, options: SendOptions) -> impl Future<Output = Result<Envelope<R>, Error>> + Send {
                request_from_store(self, message, options)
            }
        }
    )*};
}

sink_for!(
    MemoryStore,
    AnyStore,
    #[cfg(feature = "sqlite")]
    super::SqliteStore,
    #[cfg(feature = "nats")]
    super::NatsStore,
    #[cfg(feature = "postgres")]
    super::PostgresStore
);

/// A [`Subscription`] to the messages of channel `M` in a store, decoding each record.
///
/// It delivers the events of the channel's streams (`"{M::CHANNEL}-..."`) in global order:
/// first those stored, then new ones as they are appended. A *durable* subscription has a name;
/// its [`ack`](Subscription::ack) saves the envelope's global position as the checkpoint of that
/// name, and [`TypedSubscription::durable`] resumes after it.
///
/// Undecodable records follow the [`DecodePolicy`]: under `Fail` (the default) `next` returns the
/// error, naming stream and version, once; the following `next` moves past the record (it is not
/// acknowledged, so a restart from the checkpoint meets it again). Under `Skip` they are counted
/// ([`TypedSubscription::skipped`]) and passed over.
#[derive(Debug)]
pub struct TypedSubscription<S, M> {
    inner: StoreSubscription<S>,
    policy: DecodePolicy,
    checkpoint: Option<String>,
    skipped: u64,
    channel: PhantomData<fn() -> M>,
}

impl<S: EventStore + CheckpointStore, M: ChannelMessage> TypedSubscription<S, M> {
    /// A subscription without a checkpoint, from `from`.
    pub fn new(store: S, from: StartFrom) -> Self {
        TypedSubscription {
            inner: StoreSubscription::new(store, from, Filter::Channel(M::CHANNEL.to_owned())),
            policy: DecodePolicy::default(),
            checkpoint: None,
            skipped: 0,
            channel: PhantomData,
        }
    }

    /// A durable subscription called `name`: it resumes after the checkpoint saved under `name`
    /// (from the beginning when there is none) and `ack` saves the checkpoint.
    pub async fn durable(store: S, name: &str) -> Result<Self, Error> {
        let from = match store.load_checkpoint(name).await? {
            Some(position) => StartFrom::After(position),
            None => StartFrom::Beginning,
        };
        let mut subscription = Self::new(store, from);
        subscription.checkpoint = Some(name.to_owned());
        Ok(subscription)
    }

    /// Sets what happens to records that do not decode.
    pub fn with_policy(mut self, policy: DecodePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// How many records were skipped under [`DecodePolicy::Skip`].
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The checkpoint name of a durable subscription.
    pub fn name(&self) -> Option<&str> {
        self.checkpoint.as_deref()
    }
}

impl<S: EventStore + CheckpointStore, M: ChannelMessage> Subscription<M> for TypedSubscription<S, M> {
    async fn next(&mut self) -> Option<Result<Envelope<M>, Error>> {
        loop {
            let record = match self.inner.next().await {
                Ok(record) => record,
                Err(error) => return Some(Err(error)),
            };
            match record.decode_with::<M>(self.policy) {
                Ok(Some(envelope)) => return Some(Ok(envelope)),
                Ok(None) => self.skipped += 1,
                Err(error) => return Some(Err(error)),
            }
        }
    }

    async fn ack(&mut self, envelope: &Envelope<M>) -> Result<(), Error> {
        match &self.checkpoint {
            Some(name) => self.inner.store().save_checkpoint(name, envelope.global_position).await,
            None => Ok(()),
        }
    }
}
