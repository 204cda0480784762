//! The NATS JetStream store (`nats://HOST:PORT`), with async-nats.
//!
//! # Layout
//!
//! A store is a *namespace* `N` (default `eventfold`, `?namespace=N` in the URL):
//!
//! * one JetStream stream `N_events` capturing the subjects `N.>`; each event is one message;
//! * one subject per entity stream: `N.{channel}.{entity}` for a stream id `"{channel}-{entity}"`
//!   (split at the first `-`, as [`Sink::send`](crate::Sink::send) names streams), `N.{id}` for a
//!   stream id without `-`. Each part is escaped into one subject token ([`subject_token`]):
//!   ASCII letters, digits and `-` stay, every other byte (`.`, space, `*`, `>`, `_`, non-ASCII)
//!   becomes `_XX` (hex), so the mapping is injective and a token never holds a wildcard or a
//!   separator;
//! * the JetStream stream `N_state` for checkpoints and snapshots, laid out as a key-value bucket
//!   is (one subject per key, `max_msgs_per_subject = 1`, read by last message per subject):
//!   `N_state.checkpoint.{name}` holds a position, `N_state.snapshot.{stream}.{state}` a snapshot.
//!   (async-nats 0.52's own KV bucket creation cannot parse a NATS 2.9 server's reply, so the
//!   store lays the bucket out itself.)
//!
//! # Positions and read-all across channels
//!
//! The global position of an event is its JetStream *stream sequence*. All channels of a namespace
//! share the one JetStream stream on purpose: JetStream orders messages only within a stream, so a
//! stream per channel would give every channel its own sequence 1, 2, 3... and there would be no
//! single order for `read_all`, no one-number checkpoint across channels, and no way to tell a
//! reader that position 8 of one channel comes after position 7 of another. With one stream per
//! namespace, `read_all` is the stream in sequence order, a channel's events are the subjects
//! `N.{channel}.>` of it (what a durable consumer filters on), and sequences become visible in
//! order (the stream leader assigns them serially). Separate namespaces are separate stores, each
//! with its own order.
//!
//! # Appends
//!
//! Each message carries `Nats-Msg-Id` (the event id: JetStream drops a repeat within the stream's
//! duplicate window and answers with the original sequence) and
//! `Nats-Expected-Last-Subject-Sequence` (the sequence of the entity's last event, 0 for a new
//! stream): a writer that lost a race is refused by the server, so versions stay contiguous.
//! Metadata (stream id, version, message name, correlation and causation ids, headers) travels
//! in the `Eventfold-Meta` header as JSON; the payload is the JSON bytes as appended.
//!
//! **A batch is not atomic on JetStream.** NATS server 2.9 has no atomic batch publish (ADR-50
//! arrived in server 2.12), so a batch is published message by message, each with its own
//! expected-sequence check against the previous one. What holds:
//!
//! * the expectation of the append is checked before the first event; a conflict writes nothing;
//! * events of a batch get consecutive versions; a failure part-way (connection lost, a message
//!   refused) leaves the *prefix* of the batch stored and visible to readers, and the error says
//!   which versions were written;
//! * re-sending the same batch (same event ids, within the duplicate window) finds the stored
//!   prefix and appends only the rest, so a retried batch ends up stored exactly once;
//! * another writer can append to the same entity between two events of a batch only if it read
//!   the stream mid-batch; the batch then stops at that point with a conflict.
//!
//! Idempotency by event id holds within the duplicate window (`?dedupe_secs=N`, default 120);
//! an event id reused in a new batch after its first event is found only when it is published,
//! after the events before it.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::time::Duration;

use async_nats::header::{HeaderMap, HeaderValue, NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, NATS_MESSAGE_ID};
use async_nats::jetstream::stream::{LastRawMessageError, LastRawMessageErrorKind};
use async_nats::jetstream::{self, consumer, context::PublishErrorKind};
use futures_util::StreamExt;

use super::{
    check_batch, AppendResult, CheckpointStore, DecodePolicy, EventStore, ExpectedVersion, Failed, NewEvent, Notifier,
    RecordedEvent, SnapshotStore, StoredSnapshot,
};
use crate::envelope::Envelope;
use crate::error::Error;
use crate::message::{ChannelMessage, Headers};
use crate::transport::Subscription;

/// The client this store is built on.
pub use async_nats;

const BACKEND: &str = "nats";
/// The header holding an event's metadata as JSON.
pub const META_HEADER: &str = "Eventfold-Meta";
/// The header holding the message name.
pub const MESSAGE_HEADER: &str = "Eventfold-Message";

/// Where and how to open a NATS JetStream store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsOptions {
    /// The server, e.g. `nats://127.0.0.1:4222`.
    pub server: String,
    /// The namespace: names the JetStream stream, its subjects and the key-value buckets.
    pub namespace: String,
    /// JetStream's duplicate window: how long an event id is remembered for idempotent appends.
    pub duplicate_window: Duration,
    /// How long an idle subscription waits for a new message before re-reading.
    pub poll_interval: Duration,
    /// How long a durable consumer waits for an acknowledgement before redelivering.
    pub ack_wait: Duration,
}

impl NatsOptions {
    /// Options for `server` with the defaults.
    pub fn new(server: impl Into<String>) -> Self {
        NatsOptions {
            server: server.into(),
            namespace: "eventfold".to_owned(),
            duplicate_window: Duration::from_secs(120),
            poll_interval: Duration::from_secs(1),
            ack_wait: Duration::from_secs(30),
        }
    }

    /// Parses a store URL: `nats://HOST:PORT[?namespace=N&dedupe_secs=N&poll_ms=N&ack_wait_ms=N]`.
    pub fn from_url(url: &str) -> Result<Self, String> {
        let (server, query) = url.split_once('?').unwrap_or((url, ""));
        let host = server.strip_prefix("nats://").unwrap_or("");
        if host.is_empty() || host.contains('/') {
            return Err("expected nats://HOST:PORT".to_owned());
        }
        let mut options = NatsOptions::new(server);
        let number =
            |key: &str, value: &str| value.parse::<u64>().map_err(|_| format!("{key} must be a number, not `{value}`"));
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            match pair.split_once('=') {
                Some(("namespace", value)) => options.namespace = value.to_owned(),
                Some((key @ "dedupe_secs", value)) => {
                    options.duplicate_window = Duration::from_secs(number(key, value)?.max(1))
                }
                Some((key @ "poll_ms", value)) => {
                    options.poll_interval = Duration::from_millis(number(key, value)?.max(1))
                }
                Some((key @ "ack_wait_ms", value)) => {
                    options.ack_wait = Duration::from_millis(number(key, value)?.max(1))
                }
                _ => {
                    return Err(format!("unknown option `{pair}`; known: namespace, dedupe_secs, poll_ms, ack_wait_ms"))
                }
            }
        }
        check_namespace(&options.namespace)?;
        Ok(options)
    }

    /// Sets [`NatsOptions::namespace`].
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Sets [`NatsOptions::ack_wait`].
    pub fn ack_wait(mut self, ack_wait: Duration) -> Self {
        self.ack_wait = ack_wait;
        self
    }

    /// The JetStream stream holding the events.
    pub fn stream_name(&self) -> String {
        format!("{}_events", self.namespace)
    }

    /// The JetStream stream holding checkpoints and snapshots, one subject per key.
    pub fn state_stream_name(&self) -> String {
        format!("{}_state", self.namespace)
    }

    /// The subject of the entity stream `stream_id`.
    pub fn subject(&self, stream_id: &str) -> String {
        match stream_id.split_once('-') {
            Some((channel, entity)) => {
                format!("{}.{}.{}", self.namespace, subject_token(channel), subject_token(entity))
            }
            None => format!("{}.{}", self.namespace, subject_token(stream_id)),
        }
    }

    /// The subjects of every entity stream of `channel` (`N.{channel}.>`).
    pub fn channel_subjects(&self, channel: &str) -> String {
        format!("{}.{}.>", self.namespace, subject_token(channel))
    }
}

fn check_namespace(namespace: &str) -> Result<(), String> {
    let plain = !namespace.is_empty()
        && namespace.len() <= 64
        && namespace.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        Ok(())
    } else {
        Err(format!("namespace `{namespace}` must be 1 to 64 of [A-Za-z0-9_-]"))
    }
}

/// One subject token for `text`: ASCII letters, digits and `-` as they are, every other byte as
/// `_XX` (upper-case hex); the empty string is `_`. Injective, and never `.`, `*`, `>` or space.
pub fn subject_token(text: &str) -> String {
    if text.is_empty() {
        return "_".to_owned();
    }
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("_{byte:02X}"));
        }
    }
    out
}

/// An event's metadata, as the `Eventfold-Meta` header carries it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Meta {
    stream: String,
    version: u64,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    correlation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    causation_id: Option<String>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    headers: Headers,
}

/// JSON with every non-ASCII character escaped, so it is a safe header value.
pub(crate) fn ascii_json(value: &impl serde::Serialize) -> Result<String, serde_json::Error> {
    let text = serde_json::to_string(value)?;
    if text.is_ascii() {
        return Ok(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    Ok(out)
}

fn failed(what: impl Into<String>) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> Error {
    let what = what.into();
    move |source| Error::storage(BACKEND, Failed { what, source })
}

fn storage<E: std::error::Error + Send + Sync + 'static>(what: impl Into<String>) -> impl FnOnce(E) -> Error {
    let what = what.into();
    move |source| failed(what)(Box::new(source))
}

/// Decodes one stored message into a record.
fn to_recorded(
    subject: &str,
    position: u64,
    headers: Option<&HeaderMap>,
    payload: &[u8],
    timestamp: time::OffsetDateTime,
) -> Result<RecordedEvent, Error> {
    let corrupt = |stream_id: &str, version: u64, reason: String| Error::Corrupt {
        stream_id: stream_id.to_owned(),
        stream_version: version,
        reason: format!("position {position}: {reason}"),
    };
    let meta_text = headers
        .and_then(|headers| headers.get(META_HEADER))
        .ok_or_else(|| corrupt(subject, 0, format!("no {META_HEADER} header: not written by eventfold")))?;
    let meta: Meta = serde_json::from_str(meta_text.as_str())
        .map_err(|error| corrupt(subject, 0, format!("{META_HEADER} is not eventfold metadata: {error}")))?;
    let id_text = headers.and_then(|headers| headers.get(NATS_MESSAGE_ID)).map(HeaderValue::as_str).unwrap_or("");
    let event_id = uuid::Uuid::parse_str(id_text)
        .map_err(|error| corrupt(&meta.stream, meta.version, format!("event id `{id_text}`: {error}")))?;
    Ok(RecordedEvent {
        stream_id: meta.stream,
        stream_version: meta.version,
        global_position: position,
        event_id,
        message_name: meta.name,
        timestamp,
        correlation_id: meta.correlation_id,
        causation_id: meta.causation_id,
        headers: meta.headers,
        payload: payload.to_vec(),
    })
}

#[derive(Debug)]
struct Shared {
    client: async_nats::Client,
    context: jetstream::Context,
    stream: jetstream::stream::Stream,
    state: Bucket,
    options: NatsOptions,
    notifier: Notifier,
    /// Where recent reads of a stream ended: stream id → (version, position). A read from a later
    /// version starts its consumer after that position instead of at the stream's start.
    read_marks: std::sync::Mutex<HashMap<String, (u64, u64)>>,
}

/// The NATS JetStream store; clones share one connection.
#[derive(Debug, Clone)]
pub struct NatsStore {
    shared: std::sync::Arc<Shared>,
}

/// The last event of an entity stream: its stream sequence and version.
#[derive(Debug, Clone, Copy)]
struct Tail {
    sequence: u64,
    version: u64,
}

/// What publishing one event gave.
enum Published {
    /// Stored now at this position.
    New(u64),
    /// Its event id was stored before, at this position.
    Duplicate(u64),
    /// The entity's last sequence was not the expected one.
    WrongSequence,
}

/// Creates (or finds) a JetStream stream.
async fn ensure_stream(
    context: &jetstream::Context,
    config: jetstream::stream::Config,
) -> Result<jetstream::stream::Stream, Error> {
    let name = config.name.clone();
    match context.get_stream(&name).await {
        Ok(stream) => Ok(stream),
        Err(_) => {
            context.get_or_create_stream(config).await.map_err(storage(format!("creating JetStream stream {name}")))
        }
    }
}

/// The state stream, used as a key-value bucket: one subject per key, one message per subject.
#[derive(Debug)]
struct Bucket {
    stream: jetstream::stream::Stream,
    prefix: String,
}

impl Bucket {
    fn subject(&self, kind: &str, key: &str) -> String {
        format!("{}.{kind}.{key}", self.prefix)
    }

    async fn get(&self, kind: &str, key: &str) -> Result<Option<bytes::Bytes>, LastRawMessageError> {
        match self.stream.get_last_raw_message_by_subject(&self.subject(kind, key)).await {
            Ok(message) => Ok(Some(message.payload)),
            Err(error) if error.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn put(&self, context: &jetstream::Context, kind: &str, key: &str, value: Vec<u8>) -> Result<(), Error> {
        let what = || format!("writing {kind} `{key}`");
        context
            .publish(self.subject(kind, key), value.into())
            .await
            .map_err(storage(what()))?
            .await
            .map_err(storage(what()))?;
        Ok(())
    }
}

impl NatsStore {
    /// Opens the store named by a `nats://` URL (see [`NatsOptions::from_url`]).
    pub async fn open(url: &str) -> Result<Self, Error> {
        let options =
            NatsOptions::from_url(url).map_err(|reason| Error::UnsupportedStore { url: url.to_owned(), reason })?;
        Self::open_with(options).await
    }

    /// Opens a store with `options`, creating its JetStream stream and buckets if needed.
    pub async fn open_with(options: NatsOptions) -> Result<Self, Error> {
        check_namespace(&options.namespace).map_err(|reason| Error::storage(BACKEND, reason))?;
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(options.server.as_str())
            .await
            .map_err(storage(format!("connecting to {}", options.server)))?;
        let context = jetstream::new(client.clone());
        let name = options.stream_name();
        let config = jetstream::stream::Config {
            name: name.clone(),
            subjects: vec![format!("{}.>", options.namespace)],
            duplicate_window: options.duplicate_window,
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        };
        let mut stream = ensure_stream(&context, config).await?;
        let head =
            stream.info().await.map_err(storage(format!("reading JetStream stream {name}")))?.state.last_sequence;
        let prefix = options.state_stream_name();
        let state_config = jetstream::stream::Config {
            name: prefix.clone(),
            subjects: vec![format!("{prefix}.>")],
            max_messages_per_subject: 1,
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        };
        let state = Bucket { stream: ensure_stream(&context, state_config).await?, prefix };
        Ok(NatsStore {
            shared: std::sync::Arc::new(Shared {
                client,
                context,
                stream,
                state,
                options,
                notifier: Notifier::new(head),
                read_marks: std::sync::Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &NatsOptions {
        &self.shared.options
    }

    /// The NATS connection, e.g. to build a [`NatsTransport`](crate::transport::nats::NatsTransport) on.
    pub fn client(&self) -> &async_nats::Client {
        &self.shared.client
    }

    /// The JetStream context of the connection.
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.shared.context
    }

    async fn tail(&self, stream_id: &str, subject: &str) -> Result<Option<Tail>, Error> {
        match self.shared.stream.get_last_raw_message_by_subject(subject).await {
            Ok(message) => {
                let record =
                    to_recorded(subject, message.sequence, Some(&message.headers), &message.payload, message.time)?;
                Ok(Some(Tail { sequence: message.sequence, version: record.stream_version }))
            }
            Err(error) if error.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
            Err(error) => Err(storage(format!("reading the last event of stream {stream_id}"))(error)),
        }
    }

    async fn publish(
        &self,
        stream_id: &str,
        subject: &str,
        version: u64,
        event: &NewEvent,
        expected_sequence: u64,
    ) -> Result<Published, Error> {
        let what = || format!("appending to stream {stream_id} at version {version}");
        let meta = Meta {
            stream: stream_id.to_owned(),
            version,
            name: event.message_name.clone(),
            correlation_id: event.correlation_id.clone(),
            causation_id: event.causation_id.clone(),
            headers: event.headers.clone(),
        };
        let meta = ascii_json(&meta).map_err(|source| Error::Encode { name: event.message_name.clone(), source })?;
        let mut headers = HeaderMap::new();
        headers.insert(NATS_MESSAGE_ID, event.event_id.to_string());
        headers.insert(NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, expected_sequence.to_string());
        headers
            .insert(MESSAGE_HEADER, ascii_json(&event.message_name).unwrap_or_default().trim_matches('"').to_owned());
        headers.insert(META_HEADER, meta);
        let payload = bytes::Bytes::from(event.payload.clone());
        let ack = match self.shared.context.publish_with_headers(subject.to_owned(), headers, payload).await {
            Ok(future) => future.await,
            Err(error) => Err(error),
        };
        match ack {
            Ok(ack) if ack.duplicate => Ok(Published::Duplicate(ack.sequence)),
            Ok(ack) => Ok(Published::New(ack.sequence)),
            Err(error) if error.kind() == PublishErrorKind::WrongLastSequence => Ok(Published::WrongSequence),
            Err(error) => Err(storage(what())(error)),
        }
    }

    /// Publishes `events` one by one after the event at (`sequence`, `version`); returns the last
    /// event's position and version. `first_version` is where the batch began, for errors.
    async fn publish_chain(
        &self,
        stream_id: &str,
        subject: &str,
        events: &[NewEvent],
        mut sequence: u64,
        mut version: u64,
        first_version: u64,
    ) -> Result<(u64, u64), Error> {
        for event in events {
            let partial = |version: u64| {
                if version > first_version {
                    format!(
                        "; versions {first_version}..={} of the batch are stored (a JetStream batch is checked per \
                         message, not atomic: retry the same batch to complete it)",
                        version - 1
                    )
                } else {
                    String::new()
                }
            };
            let next = version + 1;
            match self.publish(stream_id, subject, next, event, sequence).await {
                Ok(Published::New(position)) => {
                    sequence = position;
                    version = next;
                }
                Ok(Published::Duplicate(position)) => {
                    return Err(Error::DuplicateEventId {
                        stream_id: stream_id.to_owned(),
                        event_id: event.event_id,
                        detail: format!("at position {position}{}", partial(next)),
                    });
                }
                Ok(Published::WrongSequence) => {
                    let actual = self.tail(stream_id, subject).await?.map_or(0, |tail| tail.version);
                    return Err(Error::Storage {
                        backend: BACKEND,
                        source: format!(
                            "appending to stream {stream_id}: another writer appended at version {next}, now at \
                             version {actual}{}",
                            partial(next)
                        )
                        .into(),
                    });
                }
                Err(Error::Storage { source, .. }) => {
                    return Err(failed(format!("appending to stream {stream_id} at version {next}{}", partial(next)))(
                        source,
                    ));
                }
                Err(other) => return Err(other),
            }
        }
        Ok((sequence, version))
    }

    /// The batch's first event was stored before, at `position`: checks that the batch was, and
    /// completes it if only a prefix was stored.
    async fn retried(
        &self,
        stream_id: &str,
        subject: &str,
        events: &[NewEvent],
        position: u64,
    ) -> Result<AppendResult, Error> {
        let duplicate = |event: &NewEvent, detail: String| Error::DuplicateEventId {
            stream_id: stream_id.to_owned(),
            event_id: event.event_id,
            detail,
        };
        let first =
            self.shared.stream.get_raw_message(position).await.map_err(storage(format!(
                "reading position {position} for an idempotent retry on stream {stream_id}"
            )))?;
        let first = to_recorded(&first.subject, position, Some(&first.headers), &first.payload, first.time)?;
        let (Some(head), rest) = (events.first(), events.get(1..).unwrap_or_default()) else {
            return Err(Error::InvalidAppend {
                stream_id: stream_id.to_owned(),
                reason: "the batch is empty".to_owned(),
            });
        };
        if first.stream_id != stream_id {
            return Err(duplicate(head, format!("in stream {} at version {}", first.stream_id, first.stream_version)));
        }
        let (mut sequence, mut version) = (position, first.stream_version);
        for (index, event) in rest.iter().enumerate() {
            match self.shared.stream.get_first_raw_message_by_subject(subject, sequence + 1).await {
                Ok(next) => {
                    let record =
                        to_recorded(&next.subject, next.sequence, Some(&next.headers), &next.payload, next.time)?;
                    if record.event_id != event.event_id {
                        return Err(duplicate(
                            event,
                            format!(
                                "the batch's first event is stored at version {}, but version {} holds event {}, not this one",
                                first.stream_version, record.stream_version, record.event_id
                            ),
                        ));
                    }
                    sequence = next.sequence;
                    version = record.stream_version;
                }
                Err(error) if error.kind() == LastRawMessageErrorKind::NoMessageFound => {
                    // Only a prefix was stored: append the rest after it.
                    let remaining = events.get(index + 1..).unwrap_or_default();
                    let (last, last_version) =
                        self.publish_chain(stream_id, subject, remaining, sequence, version, version + 1).await?;
                    (sequence, version) = (last, last_version);
                    break;
                }
                Err(error) => {
                    return Err(storage(format!(
                        "reading stream {stream_id} after version {version} for an idempotent retry"
                    ))(error));
                }
            }
        }
        Ok(AppendResult {
            stream_id: stream_id.to_owned(),
            first_version: first.stream_version,
            version,
            first_position: position,
            last_position: sequence,
        })
    }

    async fn append_events(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<AppendResult, Error> {
        let subject = self.shared.options.subject(stream_id);
        let Some(head) = events.first() else {
            return Err(Error::InvalidAppend {
                stream_id: stream_id.to_owned(),
                reason: "the batch is empty".to_owned(),
            });
        };
        let rest = events.get(1..).unwrap_or_default();
        let mut races = 0;
        loop {
            let tail = self.tail(stream_id, &subject).await?;
            let (sequence, actual) = tail.map_or((0, 0), |tail| (tail.sequence, tail.version));
            if !expected.allows(actual) {
                // Perhaps a retry of a stored batch: publish the first event with an expectation no
                // stream can meet. JetStream answers a known event id as a duplicate before it
                // checks the expectation, and refuses (stores nothing) otherwise.
                return match self.publish(stream_id, &subject, actual + 1, head, u64::MAX).await? {
                    Published::Duplicate(position) => self.retried(stream_id, &subject, events, position).await,
                    Published::WrongSequence => Err(Error::Conflict { stream_id: stream_id.to_owned(), expected, actual }),
                    Published::New(position) => Err(Error::storage(
                        BACKEND,
                        format!("stream {stream_id}: an event was stored at position {position} against an impossible expectation"),
                    )),
                };
            }
            match self.publish(stream_id, &subject, actual + 1, head, sequence).await? {
                Published::Duplicate(position) => return self.retried(stream_id, &subject, events, position).await,
                Published::New(first_position) => {
                    let (last_position, version) =
                        self.publish_chain(stream_id, &subject, rest, first_position, actual + 1, actual + 1).await?;
                    return Ok(AppendResult {
                        stream_id: stream_id.to_owned(),
                        first_version: actual + 1,
                        version,
                        first_position,
                        last_position,
                    });
                }
                Published::WrongSequence if expected == ExpectedVersion::Any && races < 100 => races += 1,
                Published::WrongSequence => {
                    let actual = self.tail(stream_id, &subject).await?.map_or(0, |tail| tail.version);
                    return Err(Error::Conflict { stream_id: stream_id.to_owned(), expected, actual });
                }
            }
        }
    }

    /// Reads with an ordered consumer from `start` until `last` (inclusive) or `limit` records
    /// passing `keep`.
    async fn read_ordered(
        &self,
        filter_subject: String,
        start: u64,
        last: u64,
        limit: usize,
        keep: impl Fn(&RecordedEvent) -> bool,
    ) -> Result<Vec<RecordedEvent>, Error> {
        let what = || format!("reading `{filter_subject}` from position {start}");
        let config = consumer::pull::OrderedConfig {
            filter_subject: filter_subject.clone(),
            deliver_policy: if start <= 1 {
                consumer::DeliverPolicy::All
            } else {
                consumer::DeliverPolicy::ByStartSequence { start_sequence: start }
            },
            ..Default::default()
        };
        let consumer = self.shared.stream.create_consumer(config).await.map_err(storage(what()))?;
        let mut messages = consumer.messages().await.map_err(storage(what()))?;
        let mut out = Vec::new();
        while out.len() < limit {
            let message = match tokio::time::timeout(Duration::from_secs(10), messages.next()).await {
                Ok(Some(Ok(message))) => message,
                Ok(Some(Err(error))) => return Err(storage(what())(error)),
                Ok(None) => break,
                Err(_) => return Err(Error::storage(BACKEND, format!("{}: no message within 10 s", what()))),
            };
            let info = message.info().map_err(failed(what()))?;
            let (position, published) = (info.stream_sequence, info.published);
            let record =
                to_recorded(&message.subject, position, message.headers.as_ref(), &message.payload, published)?;
            if keep(&record) {
                out.push(record);
            }
            if position >= last {
                break;
            }
        }
        Ok(out)
    }

    /// A durable subscription called `name` to the messages of channel `M`, through a JetStream
    /// durable consumer (filtered on the channel's subjects, explicit acks).
    ///
    /// It resumes after the last acknowledged message: the server keeps the consumer's state, so
    /// a restarted process (or a restarted server) continues where the consumer was. Delivery is
    /// at least once: a message not acknowledged within [`NatsOptions::ack_wait`] comes again, so
    /// a handler should tolerate seeing an event id twice.
    pub async fn durable_subscription<M: ChannelMessage>(&self, name: &str) -> Result<NatsSubscription<M>, Error> {
        let durable = subject_token(name).replace('_', "-");
        let filter = if M::CHANNEL.contains('-') {
            // The stream id is split at its first `-`: such a channel spans several subject tokens.
            format!("{}.>", self.shared.options.namespace)
        } else {
            self.shared.options.channel_subjects(M::CHANNEL)
        };
        let config = consumer::pull::Config {
            durable_name: Some(durable.clone()),
            filter_subject: filter,
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: self.shared.options.ack_wait,
            deliver_policy: consumer::DeliverPolicy::All,
            ..Default::default()
        };
        let consumer = self
            .shared
            .stream
            .get_or_create_consumer(&durable, config)
            .await
            .map_err(storage(format!("creating durable consumer {name}")))?;
        Ok(NatsSubscription {
            store: self.clone(),
            name: name.to_owned(),
            consumer,
            messages: None,
            pending: HashMap::new(),
            policy: DecodePolicy::default(),
            skipped: 0,
            channel: PhantomData,
        })
    }

    /// Deletes the store: its JetStream stream and buckets, with every event in them.
    pub async fn destroy(self) -> Result<(), Error> {
        let namespace = &self.shared.options.namespace;
        let context = &self.shared.context;
        context
            .delete_stream(self.shared.options.stream_name())
            .await
            .map_err(storage(format!("deleting the stream of namespace {namespace}")))?;
        context
            .delete_stream(self.shared.options.state_stream_name())
            .await
            .map_err(storage(format!("deleting the state stream of namespace {namespace}")))?;
        Ok(())
    }
}

impl EventStore for NatsStore {
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, Error> {
        check_batch(stream_id, &events)?;
        let result = self.append_events(stream_id, expected, &events).await?;
        self.shared.notifier.advance(result.last_position);
        Ok(result)
    }

    async fn read_stream(&self, stream_id: &str, from_version: u64, limit: usize) -> Result<Vec<RecordedEvent>, Error> {
        let subject = self.shared.options.subject(stream_id);
        let Some(tail) = self.tail(stream_id, &subject).await? else { return Ok(Vec::new()) };
        if tail.version < from_version.max(1) || limit == 0 {
            return Ok(Vec::new());
        }
        let start = {
            let marks = self.shared.read_marks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match marks.get(stream_id) {
                Some(&(version, position)) if version < from_version => position + 1,
                _ => 1,
            }
        };
        let records = self
            .read_ordered(subject, start, tail.sequence, limit, |record| record.stream_version >= from_version)
            .await?;
        if let Some(last) = records.last() {
            let mut marks = self.shared.read_marks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if marks.len() >= 4096 {
                marks.clear();
            }
            marks.insert(stream_id.to_owned(), (last.stream_version, last.global_position));
        }
        Ok(records)
    }

    async fn read_all(&self, from_position: u64, limit: usize) -> Result<Vec<RecordedEvent>, Error> {
        let head = self.head_position().await?;
        let from = from_position.max(1);
        if from > head || limit == 0 {
            return Ok(Vec::new());
        }
        self.read_ordered(format!("{}.>", self.shared.options.namespace), from, head, limit, |_| true).await
    }

    async fn stream_version(&self, stream_id: &str) -> Result<u64, Error> {
        let subject = self.shared.options.subject(stream_id);
        Ok(self.tail(stream_id, &subject).await?.map_or(0, |tail| tail.version))
    }

    async fn head_position(&self) -> Result<u64, Error> {
        let mut stream = self.shared.stream.clone();
        let info = stream.info().await.map_err(storage("reading the head position"))?;
        let head = info.state.last_sequence;
        self.shared.notifier.advance(head);
        Ok(head)
    }

    async fn wait_for_new(&self, position: u64) -> Result<(), Error> {
        // Every publish to the namespace's subjects reaches a core subscriber too: a hint to
        // re-read (it may be a refused publish: wake-ups may be spurious).
        let subjects = format!("{}.>", self.shared.options.namespace);
        let mut hint = self.shared.client.subscribe(subjects).await.map_err(storage("subscribing for new events"))?;
        if self.head_position().await? > position {
            return Ok(());
        }
        let _ = tokio::time::timeout(self.shared.options.poll_interval, async {
            tokio::select! {
                _ = hint.next() => {}
                _ = self.shared.notifier.wait_past(position) => {}
            }
        })
        .await;
        Ok(())
    }
}

impl CheckpointStore for NatsStore {
    async fn load_checkpoint(&self, name: &str) -> Result<Option<u64>, Error> {
        let value = self
            .shared
            .state
            .get("checkpoint", &subject_token(name))
            .await
            .map_err(storage(format!("loading checkpoint {name}")))?;
        let Some(value) = value else { return Ok(None) };
        let text = String::from_utf8_lossy(&value);
        text.trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| Error::storage(BACKEND, format!("checkpoint {name} holds `{text}`, not a position")))
    }

    async fn save_checkpoint(&self, name: &str, position: u64) -> Result<(), Error> {
        self.shared
            .state
            .put(&self.shared.context, "checkpoint", &subject_token(name), position.to_string().into_bytes())
            .await
    }
}

fn snapshot_key(stream_id: &str, state_name: &str) -> String {
    format!("{}.{}", subject_token(stream_id), subject_token(state_name))
}

impl SnapshotStore for NatsStore {
    async fn load_snapshot(&self, stream_id: &str, state_name: &str) -> Result<Option<StoredSnapshot>, Error> {
        let value = self
            .shared
            .state
            .get("snapshot", &snapshot_key(stream_id, state_name))
            .await
            .map_err(storage(format!("loading snapshot {state_name} of stream {stream_id}")))?;
        // `{schema_version} {stream_version}\n{state}`; anything else is as good as no snapshot.
        Ok(value.and_then(|value| {
            let newline = value.iter().position(|&byte| byte == b'\n')?;
            let header = std::str::from_utf8(value.get(..newline)?).ok()?;
            let (schema_version, stream_version) = header.split_once(' ')?;
            Some(StoredSnapshot {
                schema_version: schema_version.parse().ok()?,
                stream_version: stream_version.parse().ok()?,
                state: value.get(newline + 1..)?.to_vec(),
            })
        }))
    }

    async fn save_snapshot(&self, stream_id: &str, state_name: &str, snapshot: StoredSnapshot) -> Result<(), Error> {
        let mut value = format!("{} {}\n", snapshot.schema_version, snapshot.stream_version).into_bytes();
        value.extend_from_slice(&snapshot.state);
        self.shared.state.put(&self.shared.context, "snapshot", &snapshot_key(stream_id, state_name), value).await
    }
}

/// A [`Subscription`] to channel `M` through a JetStream durable consumer; see
/// [`NatsStore::durable_subscription`].
///
/// When the connection drops or the server restarts, `next` keeps waiting: the client reconnects
/// and the consumer resumes after its last acknowledged message. Undecodable records follow the
/// [`DecodePolicy`]: under `Fail`, `next` returns the error (the message stays unacknowledged and
/// is redelivered after the ack wait); under `Skip` they are acknowledged and counted.
pub struct NatsSubscription<M> {
    store: NatsStore,
    name: String,
    consumer: consumer::Consumer<consumer::pull::Config>,
    messages: Option<consumer::pull::Stream>,
    /// Delivered, not yet acknowledged messages, by global position.
    pending: HashMap<u64, jetstream::Message>,
    policy: DecodePolicy,
    skipped: u64,
    channel: PhantomData<fn() -> M>,
}

impl<M> std::fmt::Debug for NatsSubscription<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsSubscription")
            .field("name", &self.name)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl<M: ChannelMessage> NatsSubscription<M> {
    /// Sets what happens to records that do not decode.
    pub fn with_policy(mut self, policy: DecodePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// How many records were skipped under [`DecodePolicy::Skip`].
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The durable consumer's name as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Deletes the durable consumer on the server (its position is forgotten).
    pub async fn delete(self) -> Result<(), Error> {
        let durable = subject_token(&self.name).replace('_', "-");
        self.store
            .shared
            .stream
            .delete_consumer(&durable)
            .await
            .map_err(storage(format!("deleting durable consumer {}", self.name)))?;
        Ok(())
    }

    async fn next_message(&mut self) -> jetstream::Message {
        loop {
            let messages = match self.messages.as_mut() {
                Some(messages) => messages,
                None => {
                    let stream = self
                        .consumer
                        .stream()
                        .heartbeat(Duration::from_millis(500))
                        .expires(Duration::from_secs(2))
                        .messages()
                        .await;
                    match stream {
                        Ok(stream) => self.messages.insert(stream),
                        Err(_) => {
                            // The server is away; the client reconnects by itself.
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            continue;
                        }
                    }
                }
            };
            match messages.next().await {
                Some(Ok(message)) => return message,
                Some(Err(_)) | None => {
                    self.messages = None;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

impl<M: ChannelMessage> Subscription<M> for NatsSubscription<M> {
    async fn next(&mut self) -> Option<Result<Envelope<M>, Error>> {
        loop {
            let message = self.next_message().await;
            let (position, published) = match message.info() {
                Ok(info) => (info.stream_sequence, info.published),
                Err(error) => return Some(Err(failed(format!("durable consumer {}", self.name))(error))),
            };
            let record =
                match to_recorded(&message.subject, position, message.headers.as_ref(), &message.payload, published) {
                    Ok(record) => record,
                    Err(error) => return Some(Err(error)),
                };
            if !super::Filter::Channel(M::CHANNEL.to_owned()).matches(&record) {
                let _ = message.ack().await;
                continue;
            }
            match record.decode_with::<M>(self.policy) {
                Ok(Some(envelope)) => {
                    self.pending.insert(position, message);
                    return Some(Ok(envelope));
                }
                Ok(None) => {
                    self.skipped += 1;
                    let _ = message.ack().await;
                }
                Err(error) => return Some(Err(error)),
            }
        }
    }

    async fn ack(&mut self, envelope: &Envelope<M>) -> Result<(), Error> {
        let Some(message) = self.pending.remove(&envelope.global_position) else { return Ok(()) };
        message.double_ack().await.map_err(failed(format!(
            "acknowledging {} version {} (position {}) on durable consumer {}",
            envelope.stream_id, envelope.stream_version, envelope.global_position, self.name
        )))
    }
}
