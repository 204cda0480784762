//! Event stores: append with optimistic concurrency, read, and subscribe (catch up, then live).
//!
//! Every backend implements [`EventStore`] (events), [`CheckpointStore`] (where a named consumer
//! got to) and [`SnapshotStore`] (saved states), and passes the same conformance suite
//! (`runtime/tests/conformance.rs`). [`open`] picks a backend by URL and returns an [`AnyStore`].
//!
//! # Guarantees
//!
//! * A batch is appended atomically: all of its events or none.
//! * Versions of a stream are contiguous from 1; global positions strictly increase in commit
//!   order, so a reader never sees position `n + 1` before position `n` becomes visible.
//! * An append whose [`ExpectedVersion`] does not hold fails with [`Error::Conflict`] naming the
//!   stream, the expectation and the actual version, and writes nothing.
//! * Appends are idempotent by event id: re-sending a batch whose event ids are already stored,
//!   as the same batch of the same stream, writes nothing and returns the original
//!   [`AppendResult`] (even when its expected version no longer holds). Reusing an event id in
//!   any other way is [`Error::DuplicateEventId`].
//! * Stored payloads are kept as the JSON bytes they were appended with, plus the message name:
//!   a record that a reader cannot decode is reported (or skipped, see [`DecodePolicy`]), never
//!   rewritten or lost.

use std::collections::VecDeque;
use std::future::Future;

use crate::envelope::Envelope;
use crate::error::Error;
use crate::message::{decode_json, encode_json, ChannelMessage, Headers};
use crate::transport::SendOptions;

pub mod memory;
#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;
mod typed;

pub use memory::MemoryStore;
#[cfg(feature = "nats")]
pub use nats::{NatsOptions, NatsStore};
#[cfg(feature = "postgres")]
pub use postgres::{PostgresOptions, PostgresStore};
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteOptions, SqliteStore, Synchronous};
pub use typed::{request_from_store, send_to_store, TypedSubscription};

/// What an append expects the stream's version to be before it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExpectedVersion {
    /// No expectation: append after whatever is there.
    #[default]
    Any,
    /// The stream must not exist yet (version 0).
    NoStream,
    /// The stream's version must be exactly this (0 means it must not exist).
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream currently at `actual` satisfies this expectation.
    pub fn allows(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::Exact(n) => actual == n,
        }
    }
}

impl std::fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(n) => write!(f, "version {n}"),
        }
    }
}

/// One event to append: the payload as JSON bytes, its message name and metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Unique id; appends are idempotent on it.
    pub event_id: uuid::Uuid,
    /// The message name, e.g. `OrderNew`.
    pub message_name: String,
    /// The JSON payload, stored as given.
    pub payload: Vec<u8>,
    /// The id of the entity the event belongs to.
    pub correlation_id: Option<String>,
    /// The id of the event or command that caused this one.
    pub causation_id: Option<String>,
    /// Headers stored beside the payload.
    pub headers: Headers,
}

impl NewEvent {
    /// An event with a fresh (time-ordered, v7) event id and no metadata.
    pub fn new(message_name: impl Into<String>, payload: impl Into<Vec<u8>>) -> Self {
        NewEvent {
            event_id: uuid::Uuid::now_v7(),
            message_name: message_name.into(),
            payload: payload.into(),
            correlation_id: None,
            causation_id: None,
            headers: Headers::new(),
        }
    }

    /// Encodes a channel message with the metadata of `options`.
    ///
    /// The correlation id is `options.correlation_id`, else the one the message carries
    /// ([`ChannelMessage::correlation_id`]); when neither exists it stays `None`. A fresh event id
    /// is chosen when `options.event_id` is `None`.
    pub fn from_message<M: ChannelMessage>(message: &M, options: SendOptions) -> Result<Self, Error> {
        let payload =
            encode_json(message).map_err(|source| Error::Encode { name: message.name().to_owned(), source })?;
        let correlation_id = options.correlation_id.or_else(|| message.correlation_id(&options.headers));
        Ok(NewEvent {
            event_id: options.event_id.unwrap_or_else(uuid::Uuid::now_v7),
            message_name: message.name().to_owned(),
            payload,
            correlation_id,
            causation_id: options.causation_id,
            headers: options.headers,
        })
    }

    /// Sets the event id.
    pub fn with_event_id(mut self, event_id: uuid::Uuid) -> Self {
        self.event_id = event_id;
        self
    }

    /// Sets the correlation id.
    pub fn with_correlation_id(mut self, correlation_id: impl Into<String>) -> Self {
        self.correlation_id = Some(correlation_id.into());
        self
    }

    /// Sets the causation id.
    pub fn with_causation_id(mut self, causation_id: impl Into<String>) -> Self {
        self.causation_id = Some(causation_id.into());
        self
    }
}

/// An event as stored: metadata plus the undecoded JSON payload.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    /// The stream the event belongs to.
    pub stream_id: String,
    /// Its version in the stream, from 1.
    pub stream_version: u64,
    /// Its position in the whole store, from 1, increasing in commit order.
    pub global_position: u64,
    /// Its event id.
    pub event_id: uuid::Uuid,
    /// Its message name.
    pub message_name: String,
    /// When the store recorded it.
    pub timestamp: time::OffsetDateTime,
    /// Its correlation id.
    pub correlation_id: Option<String>,
    /// Its causation id.
    pub causation_id: Option<String>,
    /// Its headers.
    pub headers: Headers,
    /// Its JSON payload, as appended.
    pub payload: Vec<u8>,
}

impl RecordedEvent {
    /// Decodes the payload as a message of channel `M`.
    ///
    /// A name that is not one of `M::NAMES` is [`Error::UnknownMessage`]; a payload that does
    /// not decode is [`Error::Decode`]. Both name the stream and version.
    pub fn decode<M: ChannelMessage>(&self) -> Result<Envelope<M>, Error> {
        if !M::NAMES.contains(&self.message_name.as_str()) {
            return Err(Error::UnknownMessage {
                stream_id: self.stream_id.clone(),
                stream_version: self.stream_version,
                channel: M::CHANNEL,
                message_name: self.message_name.clone(),
            });
        }
        let message = decode_json::<M>(&self.message_name, &self.payload).map_err(|source| Error::Decode {
            stream_id: self.stream_id.clone(),
            stream_version: self.stream_version,
            message_name: self.message_name.clone(),
            source,
        })?;
        Ok(Envelope {
            stream_id: self.stream_id.clone(),
            stream_version: self.stream_version,
            global_position: self.global_position,
            event_id: self.event_id,
            message_name: self.message_name.clone(),
            timestamp: self.timestamp,
            correlation_id: self.correlation_id.clone(),
            causation_id: self.causation_id.clone(),
            headers: self.headers.clone(),
            message,
        })
    }

    /// [`RecordedEvent::decode`], consuming the record: its metadata moves into the envelope
    /// instead of being copied (what a replay, which drops the record, wants).
    pub fn into_decoded<M: ChannelMessage>(self) -> Result<Envelope<M>, Error> {
        if !M::NAMES.contains(&self.message_name.as_str()) {
            return Err(Error::UnknownMessage {
                stream_id: self.stream_id,
                stream_version: self.stream_version,
                channel: M::CHANNEL,
                message_name: self.message_name,
            });
        }
        let message = match decode_json::<M>(&self.message_name, &self.payload) {
            Ok(message) => message,
            Err(source) => {
                return Err(Error::Decode {
                    stream_id: self.stream_id,
                    stream_version: self.stream_version,
                    message_name: self.message_name,
                    source,
                })
            }
        };
        Ok(Envelope {
            stream_id: self.stream_id,
            stream_version: self.stream_version,
            global_position: self.global_position,
            event_id: self.event_id,
            message_name: self.message_name,
            timestamp: self.timestamp,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            headers: self.headers,
            message,
        })
    }

    /// [`RecordedEvent::decode_with`], consuming the record.
    pub fn into_decoded_with<M: ChannelMessage>(self, policy: DecodePolicy) -> Result<Option<Envelope<M>>, Error> {
        match (self.into_decoded::<M>(), policy) {
            (Ok(envelope), _) => Ok(Some(envelope)),
            (Err(Error::UnknownMessage { .. } | Error::Decode { .. }), DecodePolicy::Skip) => Ok(None),
            (Err(error), _) => Err(error),
        }
    }

    /// Decodes under `policy`: `Ok(None)` when the record is skipped.
    pub fn decode_with<M: ChannelMessage>(&self, policy: DecodePolicy) -> Result<Option<Envelope<M>>, Error> {
        match (self.decode::<M>(), policy) {
            (Ok(envelope), _) => Ok(Some(envelope)),
            (Err(Error::UnknownMessage { .. } | Error::Decode { .. }), DecodePolicy::Skip) => Ok(None),
            (Err(error), _) => Err(error),
        }
    }
}

/// What a typed reader does with a stored event it cannot decode.
///
/// The stored record is never changed either way: a newer reader can still decode it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DecodePolicy {
    /// Stop with [`Error::UnknownMessage`] or [`Error::Decode`], naming stream and version.
    #[default]
    Fail,
    /// Pass over events whose message name is unknown or whose payload does not decode (e.g.
    /// written by a newer producer). A replay under this policy still reports the stream's real
    /// version, so a following append with [`ExpectedVersion::Exact`] stays correct.
    Skip,
}

/// The result of an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendResult {
    /// The stream appended to.
    pub stream_id: String,
    /// The version of the batch's first event.
    pub first_version: u64,
    /// The stream's version after the append: the version of the batch's last event.
    pub version: u64,
    /// The global position of the batch's first event.
    pub first_position: u64,
    /// The global position of the batch's last event.
    pub last_position: u64,
}

/// Which stored events a subscription delivers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Filter {
    /// Every event.
    #[default]
    All,
    /// Events of streams whose id starts with this prefix.
    StreamPrefix(String),
    /// Events of one channel: streams named `"{channel}-..."`, as [`Sink::send`] names them.
    ///
    /// [`Sink::send`]: crate::Sink::send
    Channel(String),
}

impl Filter {
    /// Whether `event` passes the filter.
    pub fn matches(&self, event: &RecordedEvent) -> bool {
        match self {
            Filter::All => true,
            Filter::StreamPrefix(prefix) => event.stream_id.starts_with(prefix.as_str()),
            Filter::Channel(channel) => {
                event.stream_id.strip_prefix(channel.as_str()).is_some_and(|rest| rest.starts_with('-'))
            }
        }
    }
}

/// Where a subscription starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StartFrom {
    /// From the first stored event.
    #[default]
    Beginning,
    /// After this global position (a checkpoint: the last position handled).
    After(u64),
    /// After the events stored when the subscription first reads (its first `next`): live
    /// events only.
    End,
}

/// A state saved for a stream at a version, so a replay can start from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSnapshot {
    /// The version of the state's type; a snapshot with another version is ignored.
    pub schema_version: u32,
    /// The stream version the state was folded up to.
    pub stream_version: u64,
    /// The state, as JSON.
    pub state: Vec<u8>,
}

/// Events: append, read and wait for new ones.
///
/// Implementations are cheap to clone handles onto one store.
pub trait EventStore: Clone + Send + Sync + 'static {
    /// Appends `events` to `stream_id` atomically, if `expected` holds.
    ///
    /// Returns the versions and positions written, or [`Error::Conflict`], or the original
    /// result when the batch was appended before (see the module's guarantees).
    fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> impl Future<Output = Result<AppendResult, Error>> + Send;

    /// Up to `limit` events of `stream_id` with version `>= from_version`, in version order.
    fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, Error>> + Send;

    /// Up to `limit` events with global position `>= from_position`, in position order.
    fn read_all(
        &self,
        from_position: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, Error>> + Send;

    /// The current version of `stream_id` (0 when it does not exist).
    fn stream_version(&self, stream_id: &str) -> impl Future<Output = Result<u64, Error>> + Send;

    /// The global position of the last stored event (0 when the store is empty).
    fn head_position(&self) -> impl Future<Output = Result<u64, Error>> + Send;

    /// Resolves once events after `position` may exist. Wake-ups may be spurious (a backend that
    /// cannot be notified of other processes' writes polls); callers re-read and wait again.
    fn wait_for_new(&self, position: u64) -> impl Future<Output = Result<(), Error>> + Send;

    /// A subscription to the events passing `filter`, from `from`: it catches up on stored
    /// events, then delivers new ones as they are appended, in global order.
    fn subscribe(&self, from: StartFrom, filter: Filter) -> StoreSubscription<Self> {
        StoreSubscription::new(self.clone(), from, filter)
    }
}

/// Named checkpoints: the last global position a consumer handled.
pub trait CheckpointStore: Send + Sync {
    /// The checkpoint saved under `name`, if any.
    fn load_checkpoint(&self, name: &str) -> impl Future<Output = Result<Option<u64>, Error>> + Send;
    /// Saves `position` as the checkpoint `name` (durably, for a durable store).
    fn save_checkpoint(&self, name: &str, position: u64) -> impl Future<Output = Result<(), Error>> + Send;
}

/// Saved states of streams, one per stream and state name.
pub trait SnapshotStore: Send + Sync {
    /// The snapshot of `state_name` saved for `stream_id`, if any.
    fn load_snapshot(
        &self,
        stream_id: &str,
        state_name: &str,
    ) -> impl Future<Output = Result<Option<StoredSnapshot>, Error>> + Send;
    /// Saves (replaces) the snapshot of `state_name` for `stream_id`.
    fn save_snapshot(
        &self,
        stream_id: &str,
        state_name: &str,
        snapshot: StoredSnapshot,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// How many events a subscription reads per page.
const PAGE: usize = 256;

/// A raw subscription: stored events passing a filter, catch-up then live, in global order.
#[derive(Debug)]
pub struct StoreSubscription<S> {
    store: S,
    filter: Filter,
    start: StartFrom,
    /// The next global position to read; `None` until [`StartFrom::End`] is resolved.
    next_position: Option<u64>,
    buffer: VecDeque<RecordedEvent>,
    last_delivered: Option<u64>,
}

impl<S: EventStore> StoreSubscription<S> {
    /// A subscription to `store` from `from`, delivering events that pass `filter`.
    pub fn new(store: S, from: StartFrom, filter: Filter) -> Self {
        let next_position = match from {
            StartFrom::Beginning => Some(1),
            StartFrom::After(position) => Some(position.saturating_add(1)),
            StartFrom::End => None,
        };
        StoreSubscription { store, filter, start: from, next_position, buffer: VecDeque::new(), last_delivered: None }
    }

    /// The next event, waiting for one to be appended when caught up.
    pub async fn next(&mut self) -> Result<RecordedEvent, Error> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                self.last_delivered = Some(event.global_position);
                return Ok(event);
            }
            let from = self.resolve_start().await?;
            let page = self.store.read_all(from, PAGE).await?;
            match page.last() {
                None => self.store.wait_for_new(from.saturating_sub(1)).await?,
                Some(last) => {
                    self.next_position = Some(last.global_position.saturating_add(1));
                    let filter = &self.filter;
                    self.buffer.extend(page.into_iter().filter(|event| filter.matches(event)));
                }
            }
        }
    }

    /// The next event if one is stored, without waiting for new appends.
    pub async fn try_next(&mut self) -> Result<Option<RecordedEvent>, Error> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                self.last_delivered = Some(event.global_position);
                return Ok(Some(event));
            }
            let from = self.resolve_start().await?;
            let page = self.store.read_all(from, PAGE).await?;
            match page.last() {
                None => return Ok(None),
                Some(last) => {
                    self.next_position = Some(last.global_position.saturating_add(1));
                    let filter = &self.filter;
                    self.buffer.extend(page.into_iter().filter(|event| filter.matches(event)));
                }
            }
        }
    }

    /// The global position of the last event delivered, if any.
    pub fn last_delivered(&self) -> Option<u64> {
        self.last_delivered
    }

    /// Where the subscription started.
    pub fn start(&self) -> StartFrom {
        self.start
    }

    /// The store subscribed to.
    pub fn store(&self) -> &S {
        &self.store
    }

    async fn resolve_start(&mut self) -> Result<u64, Error> {
        match self.next_position {
            Some(position) => Ok(position),
            None => {
                let position = self.store.head_position().await?.saturating_add(1);
                self.next_position = Some(position);
                Ok(position)
            }
        }
    }
}

/// Reads the whole of `stream_id` from `from_version`, page by page.
pub async fn read_stream_to_end<S: EventStore>(
    store: &S,
    stream_id: &str,
    from_version: u64,
) -> Result<Vec<RecordedEvent>, Error> {
    let mut out = Vec::new();
    let mut from = from_version.max(1);
    loop {
        let page = store.read_stream(stream_id, from, PAGE).await?;
        let Some(last) = page.last() else { break };
        from = last.stream_version.saturating_add(1);
        let full = page.len() == PAGE;
        out.extend(page);
        if !full {
            break;
        }
    }
    Ok(out)
}

/// Checks a batch before it is written: non-empty, no event id twice.
pub(crate) fn check_batch(stream_id: &str, events: &[NewEvent]) -> Result<(), Error> {
    if events.is_empty() {
        return Err(Error::InvalidAppend { stream_id: stream_id.to_owned(), reason: "the batch is empty".to_owned() });
    }
    if stream_id.is_empty() {
        return Err(Error::InvalidAppend { stream_id: String::new(), reason: "the stream id is empty".to_owned() });
    }
    let mut seen = std::collections::HashSet::with_capacity(events.len());
    for event in events {
        if !seen.insert(event.event_id) {
            return Err(Error::InvalidAppend {
                stream_id: stream_id.to_owned(),
                reason: format!("event id {} appears twice in the batch", event.event_id),
            });
        }
    }
    Ok(())
}

/// Where an already stored event id lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredAt {
    pub stream_id: String,
    pub stream_version: u64,
    pub global_position: u64,
}

/// Decides what a batch whose event ids were (partly) seen before means.
///
/// `found[i]` is where `events[i]`'s id is stored. `Ok(Some(result))`: the whole batch is a
/// retry, answer with the original result. `Ok(None)`: no id is stored, append normally.
pub(crate) fn idempotent_result(
    stream_id: &str,
    events: &[NewEvent],
    found: &[Option<StoredAt>],
) -> Result<Option<AppendResult>, Error> {
    if found.iter().all(Option::is_none) {
        return Ok(None);
    }
    let duplicate = |event: &NewEvent, detail: String| Error::DuplicateEventId {
        stream_id: stream_id.to_owned(),
        event_id: event.event_id,
        detail,
    };
    let mut first: Option<&StoredAt> = None;
    for (index, (event, at)) in events.iter().zip(found).enumerate() {
        let Some(at) = at else {
            return Err(duplicate(event, "another event of the batch is already stored, this one is not".to_owned()));
        };
        if at.stream_id != stream_id {
            return Err(duplicate(event, format!("in stream {} at version {}", at.stream_id, at.stream_version)));
        }
        let base = *first.get_or_insert(at);
        if at.stream_version != base.stream_version + index as u64 {
            return Err(duplicate(event, format!("at version {}, not in the same batch order", at.stream_version)));
        }
    }
    match (first, found.last()) {
        (Some(first), Some(Some(last))) => Ok(Some(AppendResult {
            stream_id: stream_id.to_owned(),
            first_version: first.stream_version,
            version: last.stream_version,
            first_position: first.global_position,
            last_position: last.global_position,
        })),
        _ => Ok(None),
    }
}

/// The stream a channel message is appended to: `"{CHANNEL}-{correlation id}"`.
pub fn stream_id_for<M: ChannelMessage>(correlation_id: &str) -> String {
    format!("{}-{}", M::CHANNEL, correlation_id)
}

/// A backend failure together with what the store was doing (which stream, which position).
#[derive(Debug)]
#[cfg_attr(not(any(feature = "nats", feature = "postgres")), allow(dead_code))]
pub(crate) struct Failed {
    /// What was being done, e.g. `appending to stream Orders-42`.
    pub what: String,
    /// The client's error.
    pub source: crate::error::HandlerError,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.what, self.source)
    }
}

impl std::error::Error for Failed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// A store chosen at run time, by URL; see [`open`].
///
/// One variant per backend compiled in: `Sqlite` with cargo feature `sqlite` (on by default),
/// `Nats` with `nats`, `Postgres` with `postgres`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyStore {
    /// The in-process store (`memory:`).
    Memory(MemoryStore),
    /// The embedded SQLite store (`sqlite:PATH`).
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteStore),
    /// The NATS JetStream store (`nats://HOST:PORT`).
    #[cfg(feature = "nats")]
    Nats(NatsStore),
    /// The PostgreSQL store (`postgres://...`).
    #[cfg(feature = "postgres")]
    Postgres(PostgresStore),
}

/// Opens the store named by `url`.
///
/// * `memory:` — a new, empty in-process store; nothing survives the process.
/// * `sqlite:PATH` — the SQLite database at `PATH` (created if missing); `sqlite://PATH` and
///   `sqlite:///abs/path` are accepted too, and `sqlite::memory:` opens a private in-memory
///   database. A query `?synchronous=full|normal` chooses the durability (default `full`, see
///   [`Synchronous`]).
/// * `nats://HOST:PORT[?namespace=NAME&...]` — NATS JetStream (cargo feature `nats`; options in
///   `NatsOptions::from_url`).
/// * `postgres://USER@HOST:PORT/DATABASE[?schema=NAME&...]` (or `postgresql://`) — PostgreSQL
///   (cargo feature `postgres`; options in `PostgresOptions::from_url`).
///
/// A scheme whose backend is not compiled in is an [`Error::UnsupportedStore`] naming the cargo
/// feature to enable. Every store must be used inside a Tokio runtime.
pub async fn open(url: &str) -> Result<AnyStore, Error> {
    let unsupported = |reason: &str| Error::UnsupportedStore { url: url.to_owned(), reason: reason.to_owned() };
    let Some((scheme, rest)) = url.split_once(':') else {
        return Err(unsupported("expected SCHEME:..., e.g. `memory:` or `sqlite:events.db`"));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "memory" => {
            if rest.trim_start_matches('/').is_empty() {
                Ok(AnyStore::Memory(MemoryStore::new()))
            } else {
                Err(unsupported("`memory:` takes no path"))
            }
        }
        #[cfg(feature = "sqlite")]
        "sqlite" => {
            let options = SqliteOptions::from_url_rest(rest).map_err(|reason| unsupported(&reason))?;
            Ok(AnyStore::Sqlite(SqliteStore::open_with(options).await?))
        }
        #[cfg(not(feature = "sqlite"))]
        "sqlite" => Err(unsupported("this build of eventfold has no SQLite support (cargo feature `sqlite`)")),
        #[cfg(feature = "nats")]
        "nats" => Ok(AnyStore::Nats(NatsStore::open(url).await?)),
        #[cfg(not(feature = "nats"))]
        "nats" => Err(unsupported(
            "this build of eventfold has no NATS JetStream support: enable cargo feature `nats` of eventfold",
        )),
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => Ok(AnyStore::Postgres(PostgresStore::open(url).await?)),
        #[cfg(not(feature = "postgres"))]
        "postgres" | "postgresql" => Err(unsupported(
            "this build of eventfold has no PostgreSQL support: enable cargo feature `postgres` of eventfold",
        )),
        _ => Err(unsupported(
            "unknown scheme; supported: `memory:`, `sqlite:PATH`, `nats://HOST:PORT`, `postgres://...`",
        )),
    }
}

macro_rules! dispatch {
    ($self:ident, $store:ident => $body:expr) => {
        match $self {
            AnyStore::Memory($store) => $body,
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite($store) => $body,
            #[cfg(feature = "nats")]
            AnyStore::Nats($store) => $body,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres($store) => $body,
        }
    };
}

impl AnyStore {
    /// The backend's name: `memory`, `sqlite`, `nats` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            AnyStore::Memory(_) => "memory",
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite(_) => "sqlite",
            #[cfg(feature = "nats")]
            AnyStore::Nats(_) => "nats",
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(_) => "postgres",
        }
    }
}

impl EventStore for AnyStore {
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, Error> {
        dispatch!(self, s => s.append(stream_id, expected, events).await)
    }

    async fn read_stream(&self, stream_id: &str, from_version: u64, limit: usize) -> Result<Vec<RecordedEvent>, Error> {
        dispatch!(self, s => s.read_stream(stream_id, from_version, limit).await)
    }

    async fn read_all(&self, from_position: u64, limit: usize) -> Result<Vec<RecordedEvent>, Error> {
        dispatch!(self, s => s.read_all(from_position, limit).await)
    }

    async fn stream_version(&self, stream_id: &str) -> Result<u64, Error> {
        dispatch!(self, s => s.stream_version(stream_id).await)
    }

    async fn head_position(&self) -> Result<u64, Error> {
        dispatch!(self, s => s.head_position().await)
    }

    async fn wait_for_new(&self, position: u64) -> Result<(), Error> {
        dispatch!(self, s => s.wait_for_new(position).await)
    }
}

impl CheckpointStore for AnyStore {
    async fn load_checkpoint(&self, name: &str) -> Result<Option<u64>, Error> {
        dispatch!(self, s => s.load_checkpoint(name).await)
    }

    async fn save_checkpoint(&self, name: &str, position: u64) -> Result<(), Error> {
        dispatch!(self, s => s.save_checkpoint(name, position).await)
    }
}

impl SnapshotStore for AnyStore {
    async fn load_snapshot(&self, stream_id: &str, state_name: &str) -> Result<Option<StoredSnapshot>, Error> {
        dispatch!(self, s => s.load_snapshot(stream_id, state_name).await)
    }

    async fn save_snapshot(&self, stream_id: &str, state_name: &str, snapshot: StoredSnapshot) -> Result<(), Error> {
        dispatch!(self, s => s.save_snapshot(stream_id, state_name, snapshot).await)
    }
}

/// Notifies waiting subscriptions of the store's head position.
#[derive(Debug, Clone)]
pub(crate) struct Notifier {
    sender: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
}

impl Default for Notifier {
    fn default() -> Self {
        Notifier::new(0)
    }
}

impl Notifier {
    pub(crate) fn new(head: u64) -> Self {
        Notifier { sender: std::sync::Arc::new(tokio::sync::watch::Sender::new(head)) }
    }

    /// Records that the head moved to `position` (never backwards).
    pub(crate) fn advance(&self, position: u64) {
        self.sender.send_if_modified(|head| {
            if position > *head {
                *head = position;
                true
            } else {
                false
            }
        });
    }

    /// Waits until the head is past `position`.
    pub(crate) async fn wait_past(&self, position: u64) {
        let mut receiver = self.sender.subscribe();
        loop {
            if *receiver.borrow_and_update() > position {
                return;
            }
            if receiver.changed().await.is_err() {
                return;
            }
        }
    }
}
