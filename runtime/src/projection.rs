//! Projections: consumers that apply a channel's events in global order and keep a checkpoint.
//!
//! A [`Projector`] reads the store after its checkpoint, applies each event of its channel to a
//! [`Projection`], and saves the checkpoint — in the same store (a table of the SQLite file, a
//! map of the memory store) — after each page of applied events. A restarted projector resumes
//! after the saved checkpoint, so it never leaves a gap.
//!
//! Delivery is *at least once*: when the process dies after applying events but before saving
//! the checkpoint, those events are applied again after the restart. Each envelope carries its
//! `event_id` and `global_position`, so a projection that must not double-apply can detect a
//! repeat: keep the last applied `global_position` (or the event ids) with the read model, in
//! the same transaction as the read model's change, and ignore envelopes at or before it.

use std::future::Future;

use crate::envelope::Envelope;
use crate::error::{Error, HandlerError};
use crate::message::ChannelMessage;
use crate::store::{CheckpointStore, DecodePolicy, EventStore, Filter};

/// A read model fed by the events of one channel.
pub trait Projection: Send {
    /// The channel's generated `Message` enum.
    type Message: ChannelMessage;

    /// Applies one event. An error stops the projector before this event's checkpoint.
    fn apply(&mut self, envelope: &Envelope<Self::Message>) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// Drives a [`Projection`] from a store, with a named checkpoint.
#[derive(Debug)]
pub struct Projector<S, P> {
    store: S,
    name: String,
    projection: P,
    policy: DecodePolicy,
    /// The last global position handled (applied, skipped, or of another channel).
    position: u64,
    page: usize,
}

impl<S: EventStore + CheckpointStore, P: Projection> Projector<S, P> {
    /// A projector called `name` (its checkpoint's name), resuming after its saved checkpoint.
    pub async fn new(store: S, name: impl Into<String>, projection: P) -> Result<Self, Error> {
        let name = name.into();
        let position = store.load_checkpoint(&name).await?.unwrap_or(0);
        Ok(Projector { store, name, projection, policy: DecodePolicy::Fail, position, page: 256 })
    }

    /// Sets what happens to records that do not decode (default [`DecodePolicy::Fail`]: stop
    /// with an error naming stream and version, checkpoint before it).
    pub fn with_policy(mut self, policy: DecodePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets how many events are read, applied and checkpointed at a time (at least 1).
    pub fn with_page_size(mut self, page: usize) -> Self {
        self.page = page.max(1);
        self
    }

    /// The last global position handled.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The checkpoint's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The projection.
    pub fn projection(&self) -> &P {
        &self.projection
    }

    /// The projection, mutably.
    pub fn projection_mut(&mut self) -> &mut P {
        &mut self.projection
    }

    /// The projection, giving up the projector.
    pub fn into_projection(self) -> P {
        self.projection
    }

    /// Applies every stored event after the checkpoint; returns how many were applied.
    ///
    /// On an error the checkpoint is saved at the last event handled before it, then the error
    /// is returned: [`Error::Handler`] for a failed `apply`, naming stream and version.
    pub async fn catch_up(&mut self) -> Result<usize, Error> {
        let filter = Filter::Channel(<P::Message as ChannelMessage>::CHANNEL.to_owned());
        let mut applied = 0;
        loop {
            let page = self.store.read_all(self.position.saturating_add(1), self.page).await?;
            if page.is_empty() {
                return Ok(applied);
            }
            let start = self.position;
            for record in &page {
                if filter.matches(record) {
                    let outcome = match record.decode_with::<P::Message>(self.policy) {
                        Ok(Some(envelope)) => {
                            self.projection.apply(&envelope).await.map(|()| 1).map_err(|source| Error::Handler {
                                stream_id: record.stream_id.clone(),
                                stream_version: record.stream_version,
                                source,
                            })
                        }
                        Ok(None) => Ok(0),
                        Err(error) => Err(error),
                    };
                    match outcome {
                        Ok(count) => applied += count,
                        Err(error) => {
                            if self.position > start {
                                self.store.save_checkpoint(&self.name, self.position).await?;
                            }
                            return Err(error);
                        }
                    }
                }
                self.position = record.global_position;
            }
            self.store.save_checkpoint(&self.name, self.position).await?;
        }
    }

    /// Catches up, then keeps applying new events as they are appended, until an error.
    pub async fn run(&mut self) -> Result<(), Error> {
        loop {
            self.catch_up().await?;
            self.store.wait_for_new(self.position).await?;
        }
    }

    /// Catches up and follows new events until the checkpoint reaches `position`.
    pub async fn run_until(&mut self, position: u64) -> Result<(), Error> {
        loop {
            self.catch_up().await?;
            if self.position >= position {
                return Ok(());
            }
            self.store.wait_for_new(self.position).await?;
        }
    }
}
