//! The PostgreSQL store (`postgres://...`), with tokio-postgres.
//!
//! # Layout
//!
//! All tables live in one schema (`eventfold` unless the URL says `?schema=NAME`), created on
//! first use:
//!
//! * `events(global_position BIGINT PRIMARY KEY, stream_id, stream_version, event_id UUID UNIQUE,
//!   message_name, recorded_at TIMESTAMPTZ, correlation_id, causation_id, headers, payload BYTEA)`
//!   with `UNIQUE(stream_id, stream_version)`; the payload is the JSON bytes as appended.
//! * `checkpoints(name PRIMARY KEY, position, updated_at)`.
//! * `snapshots(stream_id, state_name, schema_version, stream_version, state)`.
//! * `meta(key PRIMARY KEY, value)`, holding the schema version.
//!
//! Creating the schema runs in one transaction under a transaction-level advisory lock, so many
//! processes opening a fresh database at once do not race on `CREATE ... IF NOT EXISTS`.
//!
//! # Global order without gaps
//!
//! A `SERIAL`/sequence position is assigned when a row is inserted, but rows become visible when
//! their transaction *commits*, and transactions commit in any order: a reader could see
//! position 8 before 7 commits, move its checkpoint past 7 and never see it. This store instead
//! takes a transaction-level advisory lock, one per schema (`pg_advisory_xact_lock`), as the first
//! statement of every append, and assigns positions under it as `MAX(global_position) + 1`. The
//! lock is released only after the commit is visible, so appends of one store are serialized
//! and positions become visible strictly in order, dense and without holes. The price: appends
//! to one schema do not run in parallel (one commit at a time, like SQLite's single writer);
//! reads never take the lock.
//!
//! # Live subscriptions
//!
//! Every append sends `NOTIFY` (channel `eventfold_<schema>`, payload the last position) inside
//! its transaction, so it is delivered on commit. A store keeps one `LISTEN` connection that
//! wakes [`EventStore::wait_for_new`]; if that connection is lost, waiting falls back to polling
//! every [`PostgresOptions::poll_interval`] and the listener is reconnected on the next wait.
//!
//! # Connections
//!
//! A small pool ([`PostgresOptions::max_connections`], default 8): a connection that broke is
//! dropped and a new one opened for the next operation. An append whose connection drops before
//! `COMMIT` returns is rolled back by the server: all of the batch or nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::{AsyncMessage, Client, NoTls, Statement};

use super::{
    check_batch, idempotent_result, AppendResult, CheckpointStore, EventStore, ExpectedVersion, Failed, NewEvent,
    Notifier, RecordedEvent, SnapshotStore, StoredAt, StoredSnapshot,
};
use crate::error::Error;
use crate::message::Headers;

/// The client this store is built on, for building [`PostgresOptions::config`] by hand.
pub use tokio_postgres;

const BACKEND: &str = "postgres";
/// The schema version this code writes, kept in `meta`.
const SCHEMA_VERSION: i64 = 1;
/// The first key of every advisory lock this store takes (the second is per schema).
const LOCK_CLASS: i32 = 0x4546_4F4C; // "EFOL"
/// The second key of the lock that serializes schema creation.
const LOCK_SCHEMA_CREATION: i32 = 0;

/// Where and how to open a PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// The connection settings (host, port, user, database, ...).
    pub config: tokio_postgres::Config,
    /// The schema holding the store's tables.
    pub schema: String,
    /// How many connections the store opens at most.
    pub max_connections: usize,
    /// How often an idle subscription re-reads when no notification arrives.
    pub poll_interval: Duration,
}

impl PostgresOptions {
    /// Parses a store URL: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?OPTIONS]`.
    ///
    /// Besides libpq's options that tokio-postgres understands, the query may hold `schema=NAME`
    /// (default `eventfold`), `max_connections=N` (default 8) and `poll_ms=N` (default 1000).
    pub fn from_url(url: &str) -> Result<Self, String> {
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, query),
            None => (url, ""),
        };
        let mut schema = "eventfold".to_owned();
        let mut max_connections = 8;
        let mut poll_interval = Duration::from_millis(1000);
        let mut passed = Vec::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            match pair.split_once('=') {
                Some(("schema", value)) => schema = value.to_owned(),
                Some(("max_connections", value)) => {
                    max_connections = value
                        .parse::<usize>()
                        .map_err(|_| format!("max_connections must be a number, not `{value}`"))?
                        .max(1);
                }
                Some(("poll_ms", value)) => {
                    let millis: u64 = value.parse().map_err(|_| format!("poll_ms must be a number, not `{value}`"))?;
                    poll_interval = Duration::from_millis(millis.max(1));
                }
                _ => passed.push(pair),
            }
        }
        check_identifier(&schema)?;
        let rest = if passed.is_empty() { base.to_owned() } else { format!("{base}?{}", passed.join("&")) };
        let mut config: tokio_postgres::Config = rest.parse().map_err(|error| format!("{error}"))?;
        if config.get_application_name().is_none() {
            config.application_name("eventfold");
        }
        Ok(PostgresOptions { config, schema, max_connections, poll_interval })
    }

    /// Sets [`PostgresOptions::schema`].
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// Sets [`PostgresOptions::poll_interval`].
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }
}

/// Schema names are used unquoted in a NOTIFY channel and quoted in SQL: keep them plain.
fn check_identifier(name: &str) -> Result<(), String> {
    let plain = !name.is_empty()
        && name.len() <= 48
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        Ok(())
    } else {
        Err(format!("schema `{name}` must be 1 to 48 of [a-z0-9_], not starting with a digit"))
    }
}

/// FNV-1a of the schema name: the second key of its append lock.
fn lock_key(schema: &str) -> i32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in schema.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    // Never the schema-creation key.
    i32::from_ne_bytes(hash.max(1).to_ne_bytes())
}

fn failed(what: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> Error {
    let what = what.into();
    move |source| Error::storage(BACKEND, Failed { what, source: Box::new(source) })
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The statements of one connection, prepared once when it is opened.
struct Statements {
    lock: Statement,
    find_ids: Statement,
    stream_version: Statement,
    head: Statement,
    version_and_head: Statement,
    insert: Statement,
    notify: Statement,
    read_stream: Statement,
    read_all: Statement,
}

const SELECT_EVENT: &str = "SELECT global_position, stream_id, stream_version, event_id, message_name, recorded_at, \
                            correlation_id, causation_id, headers, payload FROM";

impl Statements {
    async fn prepare(client: &Client, schema: &str) -> Result<Self, tokio_postgres::Error> {
        let s = schema;
        Ok(Statements {
            lock: client.prepare(&format!("SELECT pg_advisory_xact_lock({LOCK_CLASS}, {})", lock_key(s))).await?,
            find_ids: client
                .prepare(&format!(
                    "SELECT event_id, stream_id, stream_version, global_position FROM \"{s}\".events WHERE event_id = ANY($1)"
                ))
                .await?,
            stream_version: client
                .prepare(&format!("SELECT COALESCE(MAX(stream_version), 0)::BIGINT FROM \"{s}\".events WHERE stream_id = $1"))
                .await?,
            head: client.prepare(&format!("SELECT COALESCE(MAX(global_position), 0)::BIGINT FROM \"{s}\".events")).await?,
            version_and_head: client
                .prepare(&format!(
                    "SELECT (SELECT COALESCE(MAX(stream_version), 0) FROM \"{s}\".events WHERE stream_id = $1)::BIGINT, \
                     (SELECT COALESCE(MAX(global_position), 0) FROM \"{s}\".events)::BIGINT"
                ))
                .await?,
            insert: client
                .prepare(&format!(
                    "INSERT INTO \"{s}\".events (global_position, stream_id, stream_version, event_id, message_name, \
                     recorded_at, correlation_id, causation_id, headers, payload) \
                     SELECT p, $1, v, e, n, $2, c, k, h, b FROM UNNEST($3::BIGINT[], $4::BIGINT[], $5::UUID[], $6::TEXT[], \
                     $7::TEXT[], $8::TEXT[], $9::TEXT[], $10::BYTEA[]) AS t(p, v, e, n, c, k, h, b)"
                ))
                .await?,
            notify: client.prepare(&format!("SELECT pg_notify('eventfold_{s}', $1)")).await?,
            read_stream: client
                .prepare(&format!(
                    "{SELECT_EVENT} \"{s}\".events WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version LIMIT $3"
                ))
                .await?,
            read_all: client
                .prepare(&format!(
                    "{SELECT_EVENT} \"{s}\".events WHERE global_position >= $1 ORDER BY global_position LIMIT $2"
                ))
                .await?,
        })
    }
}

/// One pooled connection.
struct Conn {
    client: Client,
    statements: Statements,
    /// Set when a call failed: the connection is closed rather than reused.
    broken: std::sync::atomic::AtomicBool,
}

impl Conn {
    fn new(client: Client, statements: Statements) -> Self {
        Conn { client, statements, broken: std::sync::atomic::AtomicBool::new(false) }
    }

    /// Like [`failed`], and marks the connection broken.
    fn failed(&self, what: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> Error + '_ {
        let what = what.into();
        move |source| {
            self.broken.store(true, std::sync::atomic::Ordering::Relaxed);
            failed(what)(source)
        }
    }
}

/// A connection taken from the pool; it goes back when dropped, unless it broke.
struct Pooled {
    conn: Option<Conn>,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if !conn.client.is_closed() && !conn.broken.load(std::sync::atomic::Ordering::Relaxed) {
                lock(&self.shared.idle).push(conn);
            }
        }
    }
}

impl Pooled {
    fn get(&mut self) -> Result<&mut Conn, Error> {
        self.conn.as_mut().ok_or_else(|| Error::storage(BACKEND, "pooled connection already returned"))
    }

    /// Passes `result` on; a client failure means the connection may be broken (its close may
    /// not be noticed yet), so it is closed instead of going back to the pool.
    fn check<T>(&mut self, result: Result<T, Error>) -> Result<T, Error> {
        if matches!(result, Err(Error::Storage { .. })) {
            self.conn = None;
        }
        result
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The live-notification listener: its client (kept open) and the task reading notifications.
struct Listener {
    _client: Client,
    task: tokio::task::JoinHandle<()>,
}

struct Shared {
    options: PostgresOptions,
    idle: Mutex<Vec<Conn>>,
    permits: Arc<Semaphore>,
    notifier: Notifier,
    listener: tokio::sync::Mutex<Option<Listener>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("schema", &self.options.schema).finish_non_exhaustive()
    }
}

/// The PostgreSQL store; clones share its connection pool.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    shared: Arc<Shared>,
}

async fn connect(config: &tokio_postgres::Config) -> Result<(Client, tokio::task::JoinHandle<()>), Error> {
    let (client, connection) = config.connect(NoTls).await.map_err(failed("connecting"))?;
    let task = tokio::spawn(async move {
        // Ends when the connection closes or breaks; the client then reports `is_closed`.
        let _ = connection.await;
    });
    Ok((client, task))
}

fn schema_sql(s: &str) -> String {
    format!(
        "CREATE SCHEMA IF NOT EXISTS \"{s}\";
CREATE TABLE IF NOT EXISTS \"{s}\".meta (
    key   TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS \"{s}\".events (
    global_position BIGINT      PRIMARY KEY,
    stream_id       TEXT        NOT NULL,
    stream_version  BIGINT      NOT NULL,
    event_id        UUID        NOT NULL UNIQUE,
    message_name    TEXT        NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    correlation_id  TEXT,
    causation_id    TEXT,
    headers         TEXT        NOT NULL,
    payload         BYTEA       NOT NULL,
    UNIQUE (stream_id, stream_version)
);
CREATE TABLE IF NOT EXISTS \"{s}\".checkpoints (
    name       TEXT        PRIMARY KEY,
    position   BIGINT      NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS \"{s}\".snapshots (
    stream_id      TEXT   NOT NULL,
    state_name     TEXT   NOT NULL,
    schema_version BIGINT NOT NULL,
    stream_version BIGINT NOT NULL,
    state          BYTEA  NOT NULL,
    PRIMARY KEY (stream_id, state_name)
);"
    )
}

async fn init_schema(client: &mut Client, schema: &str) -> Result<(), Error> {
    let what = || format!("creating schema {schema}");
    let tx = client.transaction().await.map_err(failed(what()))?;
    tx.execute(&format!("SELECT pg_advisory_xact_lock({LOCK_CLASS}, {LOCK_SCHEMA_CREATION})"), &[])
        .await
        .map_err(failed(what()))?;
    tx.batch_execute(&schema_sql(schema)).await.map_err(failed(what()))?;
    let row = tx
        .query_opt(&format!("SELECT value FROM \"{schema}\".meta WHERE key = 'schema_version'"), &[])
        .await
        .map_err(failed(what()))?;
    match row.map(|row| row.try_get::<_, i64>(0)).transpose().map_err(failed(what()))? {
        Some(version) if version > SCHEMA_VERSION => {
            return Err(Error::storage(
                BACKEND,
                format!("schema {schema} has version {version}, newer than this eventfold's {SCHEMA_VERSION}"),
            ));
        }
        Some(_) => {}
        None => {
            tx.execute(
                &format!("INSERT INTO \"{schema}\".meta (key, value) VALUES ('schema_version', $1)"),
                &[&SCHEMA_VERSION],
            )
            .await
            .map_err(failed(what()))?;
        }
    }
    tx.commit().await.map_err(failed(what()))
}

fn row_to_event(row: &tokio_postgres::Row) -> Result<RecordedEvent, Error> {
    let stream_id: String = row.try_get(1).map_err(failed("reading an event"))?;
    let version: i64 = row.try_get(2).map_err(failed(format!("reading an event of stream {stream_id}")))?;
    let stream_version = to_u64(version);
    let at = |what: &str| format!("reading {what} of {stream_id} version {stream_version}");
    let position: i64 = row.try_get(0).map_err(failed(at("the position")))?;
    let headers_text: String = row.try_get(8).map_err(failed(at("the headers")))?;
    let headers: Headers = serde_json::from_str(&headers_text).map_err(|error| Error::Corrupt {
        stream_id: stream_id.clone(),
        stream_version,
        reason: format!("headers are not a JSON object: {error}"),
    })?;
    Ok(RecordedEvent {
        global_position: to_u64(position),
        stream_version,
        event_id: row.try_get(3).map_err(failed(at("the event id")))?,
        message_name: row.try_get(4).map_err(failed(at("the message name")))?,
        timestamp: row.try_get(5).map_err(failed(at("the timestamp")))?,
        correlation_id: row.try_get(6).map_err(failed(at("the correlation id")))?,
        causation_id: row.try_get(7).map_err(failed(at("the causation id")))?,
        headers,
        payload: row.try_get(9).map_err(failed(at("the payload")))?,
        stream_id,
    })
}

impl PostgresStore {
    /// Opens the store named by a `postgres://` URL (see [`PostgresOptions::from_url`]).
    pub async fn open(url: &str) -> Result<Self, Error> {
        let options =
            PostgresOptions::from_url(url).map_err(|reason| Error::UnsupportedStore { url: url.to_owned(), reason })?;
        Self::open_with(options).await
    }

    /// Opens a store with `options`, creating its schema if needed.
    pub async fn open_with(options: PostgresOptions) -> Result<Self, Error> {
        check_identifier(&options.schema).map_err(|reason| Error::storage(BACKEND, reason))?;
        let (mut client, _task) = connect(&options.config).await?;
        init_schema(&mut client, &options.schema).await?;
        let statements = Statements::prepare(&client, &options.schema).await.map_err(failed("preparing statements"))?;
        let head: i64 = client
            .query_one(&statements.head, &[])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(failed("reading the head position"))?;
        let shared = Arc::new(Shared {
            permits: Arc::new(Semaphore::new(options.max_connections.max(1))),
            idle: Mutex::new(vec![Conn::new(client, statements)]),
            notifier: Notifier::new(to_u64(head)),
            listener: tokio::sync::Mutex::new(None),
            options,
        });
        let store = PostgresStore { shared };
        // Best effort: without a listener, subscriptions poll.
        let _ = store.ensure_listener().await;
        Ok(store)
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &PostgresOptions {
        &self.shared.options
    }

    /// The schema holding the store's tables.
    pub fn schema(&self) -> &str {
        &self.shared.options.schema
    }

    async fn conn(&self) -> Result<Pooled, Error> {
        let permit =
            self.shared.permits.clone().acquire_owned().await.map_err(|error| Error::storage(BACKEND, error))?;
        let idle = {
            let mut idle = lock(&self.shared.idle);
            loop {
                match idle.pop() {
                    Some(conn) if conn.client.is_closed() => continue,
                    other => break other,
                }
            }
        };
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let (client, _task) = connect(&self.shared.options.config).await?;
                let statements = Statements::prepare(&client, &self.shared.options.schema)
                    .await
                    .map_err(failed("preparing statements"))?;
                Conn::new(client, statements)
            }
        };
        Ok(Pooled { conn: Some(conn), shared: self.shared.clone(), _permit: permit })
    }

    /// Starts (or restarts) the LISTEN connection if it is not running.
    async fn ensure_listener(&self) -> Result<(), Error> {
        let mut guard = self.shared.listener.lock().await;
        if guard.as_ref().is_some_and(|listener| !listener.task.is_finished()) {
            return Ok(());
        }
        *guard = None;
        let (client, mut connection) =
            self.shared.options.config.connect(NoTls).await.map_err(failed("connecting the listener"))?;
        let notifier = self.shared.notifier.clone();
        let task = tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(notification)) => {
                        if let Ok(position) = notification.payload().parse::<u64>() {
                            notifier.advance(position);
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        });
        client
            .batch_execute(&format!("LISTEN eventfold_{}", self.shared.options.schema))
            .await
            .map_err(failed("listening for appends"))?;
        *guard = Some(Listener { _client: client, task });
        Ok(())
    }

    async fn append_tx(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, Error> {
        let mut pooled = self.conn().await?;
        let result = append_in(pooled.get()?, stream_id, expected, events).await;
        pooled.check(result)
    }
}

async fn append_in(
    conn: &mut Conn,
    stream_id: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> Result<AppendResult, Error> {
    let what = |step: &str| format!("appending to stream {stream_id} ({step})");
    let Conn { client, statements, .. } = conn;
    let tx = client.transaction().await.map_err(failed(what("begin")))?;
    // One round trip: the lock, then (under it, in pipeline order) the idempotency check and
    // the stream's version and the head position.
    let ids: Vec<uuid::Uuid> = events.iter().map(|event| event.event_id).collect();
    let (_, rows, numbers) = futures_util::future::try_join3(
        tx.execute(&statements.lock, &[]),
        tx.query(&statements.find_ids, &[&ids]),
        tx.query_one(&statements.version_and_head, &[&stream_id]),
    )
    .await
    .map_err(failed(what("lock and checks")))?;
    let mut stored: HashMap<uuid::Uuid, StoredAt> = HashMap::with_capacity(rows.len());
    for row in rows {
        let get = || -> Result<(uuid::Uuid, StoredAt), tokio_postgres::Error> {
            Ok((
                row.try_get(0)?,
                StoredAt {
                    stream_id: row.try_get(1)?,
                    stream_version: to_u64(row.try_get(2)?),
                    global_position: to_u64(row.try_get(3)?),
                },
            ))
        };
        let (id, at) = get().map_err(failed(what("idempotency check")))?;
        stored.insert(id, at);
    }
    let found: Vec<Option<StoredAt>> = ids.iter().map(|id| stored.remove(id)).collect();
    if let Some(result) = idempotent_result(stream_id, &events, &found)? {
        return Ok(result);
    }
    let (actual, head): (i64, i64) =
        (|| Ok((numbers.try_get(0)?, numbers.try_get(1)?)))().map_err(failed(what("version check")))?;
    let (actual, head) = (to_u64(actual), to_u64(head));
    if !expected.allows(actual) {
        return Err(Error::Conflict { stream_id: stream_id.to_owned(), expected, actual });
    }

    let count = events.len() as u64;
    let mut positions = Vec::with_capacity(events.len());
    let mut versions = Vec::with_capacity(events.len());
    let mut names = Vec::with_capacity(events.len());
    let mut correlations = Vec::with_capacity(events.len());
    let mut causations = Vec::with_capacity(events.len());
    let mut headers = Vec::with_capacity(events.len());
    let mut payloads = Vec::with_capacity(events.len());
    for (offset, event) in events.into_iter().enumerate() {
        let offset = offset as u64 + 1;
        positions.push(to_i64(head + offset));
        versions.push(to_i64(actual + offset));
        headers.push(
            serde_json::to_string(&event.headers)
                .map_err(|source| Error::Encode { name: event.message_name.clone(), source })?,
        );
        names.push(event.message_name);
        correlations.push(event.correlation_id);
        causations.push(event.causation_id);
        payloads.push(event.payload);
    }
    let now = time::OffsetDateTime::now_utc();
    let last_position = head + count;
    let notify = last_position.to_string();
    // Pipelined: NOTIFY is delivered only if the transaction commits.
    futures_util::future::try_join(
        tx.execute(
            &statements.insert,
            &[&stream_id, &now, &positions, &versions, &ids, &names, &correlations, &causations, &headers, &payloads],
        ),
        tx.execute(&statements.notify, &[&notify]),
    )
    .await
    .map_err(failed(what(&format!("insert at positions {}..={}", head + 1, head + count))))?;
    tx.commit().await.map_err(failed(what("commit")))?;
    Ok(AppendResult {
        stream_id: stream_id.to_owned(),
        first_version: actual + 1,
        version: actual + count,
        first_position: head + 1,
        last_position,
    })
}

impl EventStore for PostgresStore {
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, Error> {
        check_batch(stream_id, &events)?;
        let result = self.append_tx(stream_id, expected, events).await?;
        self.shared.notifier.advance(result.last_position);
        Ok(result)
    }

    async fn read_stream(&self, stream_id: &str, from_version: u64, limit: usize) -> Result<Vec<RecordedEvent>, Error> {
        let mut pooled = self.conn().await?;
        let conn = pooled.get()?;
        let rows = conn
            .client
            .query(&conn.statements.read_stream, &[&stream_id, &to_i64(from_version), &to_i64(limit as u64)])
            .await
            .map_err(conn.failed(format!("reading stream {stream_id} from version {from_version}")))?;
        rows.iter().map(row_to_event).collect()
    }

    async fn read_all(&self, from_position: u64, limit: usize) -> Result<Vec<RecordedEvent>, Error> {
        let mut pooled = self.conn().await?;
        let conn = pooled.get()?;
        let rows = conn
            .client
            .query(&conn.statements.read_all, &[&to_i64(from_position), &to_i64(limit as u64)])
            .await
            .map_err(conn.failed(format!("reading all from position {from_position}")))?;
        rows.iter().map(row_to_event).collect()
    }

    async fn stream_version(&self, stream_id: &str) -> Result<u64, Error> {
        let mut pooled = self.conn().await?;
        let conn = pooled.get()?;
        let version: i64 = conn
            .client
            .query_one(&conn.statements.stream_version, &[&stream_id])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(conn.failed(format!("reading the version of stream {stream_id}")))?;
        Ok(to_u64(version))
    }

    async fn head_position(&self) -> Result<u64, Error> {
        let mut pooled = self.conn().await?;
        let conn = pooled.get()?;
        let head: i64 = conn
            .client
            .query_one(&conn.statements.head, &[])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(conn.failed("reading the head position"))?;
        Ok(to_u64(head))
    }

    async fn wait_for_new(&self, position: u64) -> Result<(), Error> {
        // A lost listener is restarted; until it is, this polls.
        let _ = self.ensure_listener().await;
        let _ = tokio::time::timeout(self.shared.options.poll_interval, self.shared.notifier.wait_past(position)).await;
        Ok(())
    }
}

impl CheckpointStore for PostgresStore {
    async fn load_checkpoint(&self, name: &str) -> Result<Option<u64>, Error> {
        let mut pooled = self.conn().await?;
        let conn = pooled.get()?;
        let s = &self.shared.options.schema;
        let row = conn
            .client
            .query_opt(&format!("SELECT position FROM \"{s}\".checkpoints WHERE name = $1"), &[&name])
            .await
            .map_err(conn.failed(format!("loading checkpoint {name}")))?;
        let position: Option<i64> =
            row.map(|row| row.try_get(0)).transpose().map_err(conn.failed(format!("loading checkpoint {name}")))?;
        Ok(position.map(to_u64))
    }

    async fn save_checkpoint(&self, name: &str, position: u64) -> Result<(), Error> {
        let mut pooled = self.conn().await?;
        let conn = pooled.get()?;
        let s = &self.shared.options.schema;
        conn.client
            .execute(
                &format!(
                    "INSERT INTO \"{s}\".checkpoints (name, position, updated_at) VALUES ($1, $2, now()) \
                     ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at"
                ),
                &[&name, &to_i64(position)],
            )
            .await
            .map_err(conn.failed(format!("saving checkpoint {name} at position {position}")))?;
        Ok(())
    }
}

impl SnapshotStore for PostgresStore {
    async fn load_snapshot(&self, stream_id: &str, state_name: &str) -> Result<Option<StoredSnapshot>, Error> {
        let mut pooled = self.conn().await?;
        let conn = pooled.get()?;
        let s = &self.shared.options.schema;
        let row = conn
            .client
            .query_opt(
                &format!(
                    "SELECT schema_version, stream_version, state FROM \"{s}\".snapshots WHERE stream_id = $1 AND state_name = $2"
                ),
                &[&stream_id, &state_name],
            )
            .await
            .map_err(conn.failed(format!("loading snapshot {state_name} of stream {stream_id}")))?;
        let Some(row) = row else { return Ok(None) };
        let (schema_version, stream_version, state): (i64, i64, Vec<u8>) =
            (|| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))()
                .map_err(conn.failed(format!("loading snapshot {state_name} of stream {stream_id}")))?;
        // A snapshot with numbers out of range is as good as none: it is only a cache.
        Ok((|| {
            Some(StoredSnapshot {
                schema_version: u32::try_from(schema_version).ok()?,
                stream_version: u64::try_from(stream_version).ok()?,
                state,
            })
        })())
    }

    async fn save_snapshot(&self, stream_id: &str, state_name: &str, snapshot: StoredSnapshot) -> Result<(), Error> {
        let mut pooled = self.conn().await?;
        let conn = pooled.get()?;
        let s = &self.shared.options.schema;
        conn.client
            .execute(
                &format!(
                    "INSERT INTO \"{s}\".snapshots (stream_id, state_name, schema_version, stream_version, state) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (stream_id, state_name) DO UPDATE SET \
                     schema_version = excluded.schema_version, stream_version = excluded.stream_version, state = excluded.state"
                ),
                &[&stream_id, &state_name, &i64::from(snapshot.schema_version), &to_i64(snapshot.stream_version), &snapshot.state],
            )
            .await
            .map_err(conn.failed(format!("saving snapshot {state_name} of stream {stream_id}")))?;
        Ok(())
    }
}
