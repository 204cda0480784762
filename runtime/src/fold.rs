//! State rebuilt from events: fold, replay, rebuild by correlation id, snapshots, decide.
//!
//! An [`Aggregate`] is a state that one channel's messages evolve. Folding is pure
//! ([`fold`], [`fold_by_correlation`]); the async functions read a store and fold what they read
//! ([`replay`], [`rebuild_all`], [`replay_snapshotted`], [`execute`]).

use std::borrow::Borrow;
use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::envelope::Envelope;
use crate::error::{Error, HandlerError};
use crate::message::ChannelMessage;
use crate::store::{
    DecodePolicy, EventStore, ExpectedVersion, Filter, NewEvent, RecordedEvent, SnapshotStore, StoredSnapshot,
};

/// How many events a replay reads per page.
const PAGE: usize = 512;

/// A state rebuilt from the messages of one channel: `Default` is the state before any event.
pub trait Aggregate: Default + Send {
    /// The channel's generated `Message` enum.
    type Message: ChannelMessage;

    /// Evolves the state by one event. Folding must not fail: an event is a fact.
    fn apply(&mut self, envelope: &Envelope<Self::Message>);
}

/// Folds `events` onto the default state.
pub fn fold<A, E>(events: impl IntoIterator<Item = E>) -> A
where
    A: Aggregate,
    E: Borrow<Envelope<A::Message>>,
{
    fold_onto(A::default(), events)
}

/// Folds `events` onto `state`.
pub fn fold_onto<A, E>(mut state: A, events: impl IntoIterator<Item = E>) -> A
where
    A: Aggregate,
    E: Borrow<Envelope<A::Message>>,
{
    for event in events {
        state.apply(event.borrow());
    }
    state
}

/// The entity key of an envelope: its correlation id, else what follows `"{CHANNEL}-"` in its
/// stream id, else the whole stream id.
pub fn entity_key<M: ChannelMessage>(envelope: &Envelope<M>) -> String {
    if let Some(id) = &envelope.correlation_id {
        return id.clone();
    }
    envelope
        .stream_id
        .strip_prefix(M::CHANNEL)
        .and_then(|rest| rest.strip_prefix('-'))
        .unwrap_or(&envelope.stream_id)
        .to_owned()
}

/// Folds `events` into one state per entity ([`entity_key`]), in event order per entity.
pub fn fold_by_correlation<A, E>(events: impl IntoIterator<Item = E>) -> BTreeMap<String, A>
where
    A: Aggregate,
    E: Borrow<Envelope<A::Message>>,
{
    let mut states: BTreeMap<String, A> = BTreeMap::new();
    for event in events {
        let event = event.borrow();
        states.entry(entity_key(event)).or_default().apply(event);
    }
    states
}

/// Replays one stream into a state and the stream's version (0 for a stream that does not exist).
///
/// Records that do not decode are an error naming stream and version ([`DecodePolicy::Fail`]).
pub async fn replay<A: Aggregate, S: EventStore>(store: &S, stream_id: &str) -> Result<(A, u64), Error> {
    replay_with(store, stream_id, DecodePolicy::Fail).await
}

/// [`replay`] under a decode policy. The version returned is always the stream's last stored
/// version, skipped records included, so it is the right `ExpectedVersion::Exact` for a next append.
pub async fn replay_with<A: Aggregate, S: EventStore>(
    store: &S,
    stream_id: &str,
    policy: DecodePolicy,
) -> Result<(A, u64), Error> {
    replay_from(store, stream_id, A::default(), 0, policy).await
}

async fn replay_from<A: Aggregate, S: EventStore>(
    store: &S,
    stream_id: &str,
    mut state: A,
    mut version: u64,
    policy: DecodePolicy,
) -> Result<(A, u64), Error> {
    loop {
        let page = store.read_stream(stream_id, version.saturating_add(1), PAGE).await?;
        let full = page.len() == PAGE;
        for record in page {
            version = record.stream_version;
            if let Some(envelope) = record.into_decoded_with::<A::Message>(policy)? {
                state.apply(&envelope);
            }
        }
        if !full {
            return Ok((state, version));
        }
    }
}

/// Rebuilds every entity of `A`'s channel from the whole store: the events of the channel's
/// streams, folded by [`entity_key`] (the correlation id) in global order.
pub async fn rebuild_all<A: Aggregate, S: EventStore>(
    store: &S,
    policy: DecodePolicy,
) -> Result<BTreeMap<String, A>, Error> {
    let filter = Filter::Channel(<A::Message as ChannelMessage>::CHANNEL.to_owned());
    let mut states: BTreeMap<String, A> = BTreeMap::new();
    let mut from = 1;
    loop {
        let page: Vec<RecordedEvent> = store.read_all(from, PAGE).await?;
        let Some(last) = page.last() else { return Ok(states) };
        from = last.global_position.saturating_add(1);
        for record in page.into_iter().filter(|record| filter.matches(record)) {
            if let Some(envelope) = record.into_decoded_with::<A::Message>(policy)? {
                states.entry(entity_key(&envelope)).or_default().apply(&envelope);
            }
        }
    }
}

/// A state that can be saved as a snapshot.
///
/// Bump [`SCHEMA_VERSION`](Self::SCHEMA_VERSION) whenever the state's serialized form or its
/// meaning changes: snapshots written with another version are ignored (the stream is replayed
/// from the start) instead of being misread.
pub trait SnapshotState: Aggregate + Serialize + DeserializeOwned {
    /// The name snapshots of this state are stored under, e.g. `OrderState`.
    const STATE_NAME: &'static str;
    /// The version of the state's schema.
    const SCHEMA_VERSION: u32;
}

/// Replays a stream starting from its snapshot, and saves a new snapshot when at least `every`
/// events were applied since the last one (`every == 0`: never save).
///
/// A snapshot is used only when its schema version is `A::SCHEMA_VERSION`, it decodes, and the
/// stream still holds the version it was taken at; otherwise it is ignored. Snapshots are a
/// cache: the events stay the truth.
pub async fn replay_snapshotted<A, S>(
    store: &S,
    stream_id: &str,
    every: u64,
    policy: DecodePolicy,
) -> Result<(A, u64), Error>
where
    A: SnapshotState,
    S: EventStore + SnapshotStore,
{
    let (state, snapshot_version) = match load_usable_snapshot::<A, S>(store, stream_id).await? {
        Some((state, version)) => (state, version),
        None => (A::default(), 0),
    };
    let (state, version) = replay_from(store, stream_id, state, snapshot_version, policy).await?;
    if every > 0 && version >= snapshot_version.saturating_add(every) {
        let bytes =
            serde_json::to_vec(&state).map_err(|source| Error::Encode { name: A::STATE_NAME.to_owned(), source })?;
        let snapshot = StoredSnapshot { schema_version: A::SCHEMA_VERSION, stream_version: version, state: bytes };
        store.save_snapshot(stream_id, A::STATE_NAME, snapshot).await?;
    }
    Ok((state, version))
}

async fn load_usable_snapshot<A, S>(store: &S, stream_id: &str) -> Result<Option<(A, u64)>, Error>
where
    A: SnapshotState,
    S: EventStore + SnapshotStore,
{
    let Some(snapshot) = store.load_snapshot(stream_id, A::STATE_NAME).await? else { return Ok(None) };
    if snapshot.schema_version != A::SCHEMA_VERSION || snapshot.stream_version == 0 {
        return Ok(None);
    }
    let Ok(state) = serde_json::from_slice::<A>(&snapshot.state) else { return Ok(None) };
    let at = store.read_stream(stream_id, snapshot.stream_version, 1).await?;
    if at.first().map(|record| record.stream_version) != Some(snapshot.stream_version) {
        return Ok(None);
    }
    Ok(Some((state, snapshot.stream_version)))
}

/// An aggregate that decides which events a command produces (the decide/evolve pattern, with
/// [`Aggregate::apply`] as evolve).
pub trait Decide: Aggregate {
    /// What is asked of the entity.
    type Command: Send + Sync;
    /// Why a command is refused.
    type Rejection: std::error::Error + Send + Sync + 'static;

    /// The messages that `command` produces from the current state, or why it is refused.
    fn decide(&self, command: &Self::Command) -> Result<Vec<Self::Message>, Self::Rejection>;
}

/// The outcome of [`execute`].
#[derive(Debug)]
pub struct Executed<A> {
    /// The state after the new events.
    pub state: A,
    /// The stream's version after the new events.
    pub version: u64,
    /// The new events, as stored.
    pub events: Vec<RecordedEvent>,
}

/// Runs `command` against the entity `correlation_id` of `A`'s channel: replays its stream,
/// decides, and appends the new events expecting the version it replayed — retrying from the
/// replay (up to `retries` times) when another writer got there first.
///
/// A refused command is [`Error::Rejected`]; nothing is appended.
pub async fn execute<A, S>(
    store: &S,
    correlation_id: &str,
    command: &A::Command,
    retries: usize,
) -> Result<Executed<A>, Error>
where
    A: Decide,
    S: EventStore,
{
    let stream_id = crate::store::stream_id_for::<A::Message>(correlation_id);
    let mut attempt = 0;
    loop {
        let (state, version): (A, u64) = replay(store, &stream_id).await?;
        let messages = state.decide(command).map_err(|rejection| Error::Rejected {
            stream_id: stream_id.clone(),
            source: HandlerError::from(rejection),
        })?;
        if messages.is_empty() {
            return Ok(Executed { state, version, events: Vec::new() });
        }
        let mut batch = Vec::with_capacity(messages.len());
        for message in &messages {
            let options =
                crate::transport::SendOptions { correlation_id: Some(correlation_id.to_owned()), ..Default::default() };
            batch.push(NewEvent::from_message(message, options)?);
        }
        match store.append(&stream_id, ExpectedVersion::Exact(version), batch).await {
            Ok(result) => {
                let events = store.read_stream(&stream_id, result.first_version, messages.len()).await?;
                let mut state = state;
                for record in &events {
                    state.apply(&record.decode::<A::Message>()?);
                }
                return Ok(Executed { state, version: result.version, events });
            }
            Err(Error::Conflict { .. }) if attempt < retries => attempt += 1,
            Err(error) => return Err(error),
        }
    }
}
