//! The embedded SQLite store (`sqlite:PATH`), the default durable backend.
//!
//! # Layout and durability
//!
//! One file (plus SQLite's `-wal` and `-shm` beside it) with three tables:
//!
//! * `events(global_position INTEGER PRIMARY KEY AUTOINCREMENT, stream_id, stream_version,
//!   event_id UNIQUE, message_name, recorded_at, correlation_id, causation_id, headers, payload)`
//!   with `UNIQUE(stream_id, stream_version)`; the payload is the JSON bytes as appended.
//! * `checkpoints(name PRIMARY KEY, position, updated_at)`.
//! * `snapshots(stream_id, state_name, schema_version, stream_version, state)`.
//!
//! The database runs in WAL mode. Every append is one `BEGIN IMMEDIATE` transaction: the
//! idempotency check, the expected-version check and the inserts see and write one consistent
//! state, and a batch is committed whole or not at all. Write transactions are serialized, so
//! global positions become visible in increasing order and a catch-up reader never skips one.
//!
//! `synchronous` is `FULL` by default: SQLite syncs the WAL to disk before a commit returns, so an
//! append that returned `Ok` survives a killed process *and* a power loss. [`Synchronous::Normal`]
//! (`?synchronous=normal`) skips that sync: still atomic and never corrupt, and still safe when
//! only the process dies, but the last commits may be lost if the machine loses power.
//!
//! rusqlite is synchronous: writes run on Tokio's blocking pool (`spawn_blocking`); reads run in
//! place (`block_in_place`) on a multi-threaded runtime and on the blocking pool otherwise. One
//! connection for writes and one for reads (WAL lets reads proceed while a write commits).
//! Other processes may write the same file; their appends are noticed by polling (see
//! [`SqliteOptions::poll_interval`]), this process's own appends wake subscribers at once.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::{
    check_batch, idempotent_result, AppendResult, CheckpointStore, EventStore, ExpectedVersion, NewEvent, Notifier,
    RecordedEvent, SnapshotStore, StoredAt, StoredSnapshot,
};
use crate::error::Error;
use crate::message::Headers;

const BACKEND: &str = "sqlite";
/// The schema version this code writes, kept in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    global_position INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id       TEXT    NOT NULL,
    stream_version  INTEGER NOT NULL,
    event_id        TEXT    NOT NULL UNIQUE,
    message_name    TEXT    NOT NULL,
    recorded_at     INTEGER NOT NULL,
    correlation_id  TEXT,
    causation_id    TEXT,
    headers         TEXT    NOT NULL,
    payload         BLOB    NOT NULL,
    UNIQUE (stream_id, stream_version)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    name       TEXT    PRIMARY KEY,
    position   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshots (
    stream_id      TEXT    NOT NULL,
    state_name     TEXT    NOT NULL,
    schema_version INTEGER NOT NULL,
    stream_version INTEGER NOT NULL,
    state          BLOB    NOT NULL,
    PRIMARY KEY (stream_id, state_name)
);
";

const SELECT_EVENT: &str = "SELECT global_position, stream_id, stream_version, event_id, message_name, recorded_at, \
                            correlation_id, causation_id, headers, payload FROM events";

/// How hard SQLite works to make a commit durable (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Synchronous {
    /// `FULL`: a commit is on disk when the append returns; survives power loss. The default.
    #[default]
    Full,
    /// `NORMAL` (with WAL): atomic and crash-safe for the process, but the last commits may be
    /// lost on power loss or an OS crash. Faster.
    Normal,
}

/// Where and how to open a SQLite store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// The database file; `None` for a private in-memory database.
    pub path: Option<PathBuf>,
    /// Durability of commits.
    pub synchronous: Synchronous,
    /// How long a write waits for another process's write lock before failing.
    pub busy_timeout: Duration,
    /// How often an idle subscription re-reads, to see other processes' appends.
    pub poll_interval: Duration,
}

impl SqliteOptions {
    /// Options for the database file at `path`, with the defaults.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteOptions { path: Some(path.into()), ..Self::in_memory() }
    }

    /// Options for a private in-memory database (no durability; for tests).
    pub fn in_memory() -> Self {
        SqliteOptions {
            path: None,
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_secs(5),
            poll_interval: Duration::from_millis(200),
        }
    }

    /// Sets [`SqliteOptions::synchronous`].
    pub fn synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }

    /// Sets [`SqliteOptions::poll_interval`].
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Parses what follows `sqlite:` in a store URL.
    pub(crate) fn from_url_rest(rest: &str) -> Result<Self, String> {
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        let path = path.strip_prefix("//").unwrap_or(path);
        let mut options = match path {
            "" => return Err("expected a path, e.g. `sqlite:events.db`".to_owned()),
            ":memory:" => Self::in_memory(),
            path => Self::new(path),
        };
        for pair in query.into_iter().flat_map(|query| query.split('&')).filter(|pair| !pair.is_empty()) {
            match pair.split_once('=') {
                Some(("synchronous", value)) => {
                    options.synchronous = match value.to_ascii_lowercase().as_str() {
                        "full" => Synchronous::Full,
                        "normal" => Synchronous::Normal,
                        _ => return Err(format!("synchronous must be `full` or `normal`, not `{value}`")),
                    }
                }
                Some(("poll_ms", value)) => {
                    let millis: u64 = value.parse().map_err(|_| format!("poll_ms must be a number, not `{value}`"))?;
                    options.poll_interval = Duration::from_millis(millis.max(1));
                }
                _ => return Err(format!("unknown option `{pair}`; known: synchronous=full|normal, poll_ms=N")),
            }
        }
        Ok(options)
    }
}

/// The SQLite store; clones share its connections.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    writer: Mutex<Connection>,
    /// A second connection for reads; `None` for an in-memory database (one connection only).
    reader: Option<Mutex<Connection>>,
    notifier: Notifier,
    poll_interval: Duration,
    options: SqliteOptions,
}

fn sql(error: rusqlite::Error) -> Error {
    Error::storage(BACKEND, error)
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn lock(mutex: &Mutex<Connection>) -> std::sync::MutexGuard<'_, Connection> {
    // A panic while the lock was held rolled back any open transaction (rusqlite rolls back on
    // drop), so the connection is still usable.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn configure(conn: &Connection, options: &SqliteOptions) -> Result<(), Error> {
    conn.busy_timeout(options.busy_timeout).map_err(sql)?;
    if options.path.is_some() {
        let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)).map_err(sql)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::storage(BACKEND, format!("cannot switch the database to WAL mode (got `{mode}`)")));
        }
    }
    let synchronous = match options.synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", synchronous).map_err(sql)?;
    Ok(())
}

fn open_connection(options: &SqliteOptions) -> Result<Connection, Error> {
    let conn = match &options.path {
        Some(path) => Connection::open(path),
        None => Connection::open_in_memory(),
    }
    .map_err(sql)?;
    configure(&conn, options)?;
    Ok(conn)
}

fn init_schema(conn: &mut Connection) -> Result<(), Error> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(sql)?;
    if version > SCHEMA_VERSION {
        return Err(Error::storage(
            BACKEND,
            format!("the database has schema version {version}, newer than this eventfold's {SCHEMA_VERSION}"),
        ));
    }
    tx.execute_batch(SCHEMA).map_err(sql)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(sql)?;
    tx.commit().map_err(sql)
}

fn head(conn: &Connection) -> Result<u64, Error> {
    let head: i64 =
        conn.query_row("SELECT COALESCE(MAX(global_position), 0) FROM events", [], |row| row.get(0)).map_err(sql)?;
    Ok(u64::try_from(head).unwrap_or(0))
}

/// A string column of a row, borrowed (no copy) from the row.
fn text<'r>(row: &'r rusqlite::Row<'_>, index: usize) -> Result<&'r str, Error> {
    row.get_ref(index).map_err(sql)?.as_str().map_err(|error| {
        sql(rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(error)))
    })
}

/// A row of `events` (in `SELECT_EVENT`'s column order), checked. The event id and the headers
/// are parsed from the row's own text, without copying it first; a damaged value is
/// [`Error::Corrupt`] naming the stream and version.
fn read_event(row: &rusqlite::Row<'_>) -> Result<RecordedEvent, Error> {
    let raw_position: i64 = row.get(0).map_err(sql)?;
    let stream_id: String = row.get(1).map_err(sql)?;
    let raw_version: i64 = row.get(2).map_err(sql)?;
    let stream_version = u64::try_from(raw_version).unwrap_or(0);
    let corrupt = |reason: String| Error::Corrupt { stream_id: stream_id.clone(), stream_version, reason };
    let global_position =
        u64::try_from(raw_position).map_err(|_| corrupt(format!("negative position {raw_position}")))?;
    let event_id = text(row, 3)?;
    let event_id =
        uuid::Uuid::parse_str(event_id).map_err(|error| corrupt(format!("event id `{event_id}`: {error}")))?;
    let message_name: String = row.get(4).map_err(sql)?;
    let recorded_at: i64 = row.get(5).map_err(sql)?;
    let timestamp = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(recorded_at))
        .map_err(|error| corrupt(format!("timestamp {recorded_at}: {error}")))?;
    let correlation_id: Option<String> = row.get(6).map_err(sql)?;
    let causation_id: Option<String> = row.get(7).map_err(sql)?;
    let headers = match text(row, 8)? {
        "{}" => Headers::new(),
        headers => {
            serde_json::from_str(headers).map_err(|error| corrupt(format!("headers are not a JSON object: {error}")))?
        }
    };
    let payload: Vec<u8> = row.get(9).map_err(sql)?;
    Ok(RecordedEvent {
        stream_id,
        stream_version,
        global_position,
        event_id,
        message_name,
        timestamp,
        correlation_id,
        causation_id,
        headers,
        payload,
    })
}

fn query_events(
    conn: &Connection,
    sql_text: &str,
    params: impl rusqlite::Params,
    limit: usize,
) -> Result<Vec<RecordedEvent>, Error> {
    let mut statement = conn.prepare_cached(sql_text).map_err(sql)?;
    let mut rows = statement.query(params).map_err(sql)?;
    let mut out = Vec::with_capacity(limit.min(1024));
    while let Some(row) = rows.next().map_err(sql)? {
        out.push(read_event(row)?);
    }
    Ok(out)
}

fn append_tx(
    conn: &mut Connection,
    stream_id: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> Result<AppendResult, Error> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
    let mut found = Vec::with_capacity(events.len());
    {
        let mut by_id = tx
            .prepare_cached("SELECT stream_id, stream_version, global_position FROM events WHERE event_id = ?1")
            .map_err(sql)?;
        for event in &events {
            let at = by_id
                .query_row([event.event_id.to_string()], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
                })
                .optional()
                .map_err(sql)?;
            found.push(at.map(|(stream_id, version, position)| StoredAt {
                stream_id,
                stream_version: u64::try_from(version).unwrap_or(0),
                global_position: u64::try_from(position).unwrap_or(0),
            }));
        }
    }
    if let Some(result) = idempotent_result(stream_id, &events, &found)? {
        return Ok(result);
    }
    let actual: i64 = tx
        .query_row("SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = ?1", [stream_id], |row| {
            row.get(0)
        })
        .map_err(sql)?;
    let actual = u64::try_from(actual).unwrap_or(0);
    if !expected.allows(actual) {
        return Err(Error::Conflict { stream_id: stream_id.to_owned(), expected, actual });
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    let recorded_at = i64::try_from(now).map_err(|_| Error::storage(BACKEND, "the clock is past the year 2262"))?;
    let count = events.len() as u64;
    let mut first_position = 0;
    let mut last_position = 0;
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO events (stream_id, stream_version, event_id, message_name, recorded_at, correlation_id, \
                 causation_id, headers, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .map_err(sql)?;
        for (offset, event) in events.into_iter().enumerate() {
            let headers = serde_json::to_string(&event.headers)
                .map_err(|source| Error::Encode { name: event.message_name.clone(), source })?;
            insert
                .execute(rusqlite::params![
                    stream_id,
                    to_i64(actual + offset as u64 + 1),
                    event.event_id.to_string(),
                    event.message_name,
                    recorded_at,
                    event.correlation_id,
                    event.causation_id,
                    headers,
                    event.payload,
                ])
                .map_err(sql)?;
            let position = u64::try_from(tx.last_insert_rowid()).unwrap_or(0);
            if offset == 0 {
                first_position = position;
            }
            last_position = position;
        }
    }
    tx.commit().map_err(sql)?;
    Ok(AppendResult {
        stream_id: stream_id.to_owned(),
        first_version: actual + 1,
        version: actual + count,
        first_position,
        last_position,
    })
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` with the default options.
    pub async fn open(path: impl Into<PathBuf>) -> Result<Self, Error> {
        Self::open_with(SqliteOptions::new(path)).await
    }

    /// Opens a store with `options`.
    pub async fn open_with(options: SqliteOptions) -> Result<Self, Error> {
        let shared = tokio::task::spawn_blocking(move || -> Result<Shared, Error> {
            let mut writer = open_connection(&options)?;
            init_schema(&mut writer)?;
            let reader = match options.path {
                Some(_) => Some(Mutex::new(open_connection(&options)?)),
                None => None,
            };
            let notifier = Notifier::new(head(&writer)?);
            Ok(Shared { writer: Mutex::new(writer), reader, notifier, poll_interval: options.poll_interval, options })
        })
        .await
        .map_err(|error| Error::storage(BACKEND, error))??;
        Ok(SqliteStore { shared: Arc::new(shared) })
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &SqliteOptions {
        &self.shared.options
    }

    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || work(&mut lock(&shared.writer)))
            .await
            .map_err(|error| Error::storage(BACKEND, error))?
    }

    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let shared = self.shared.clone();
        let run = move || match &shared.reader {
            Some(reader) => work(&lock(reader)),
            None => work(&lock(&shared.writer)),
        };
        // On a multi-threaded runtime a read runs in place (`block_in_place`): no hop to the
        // blocking pool and back, and the rows are allocated and dropped on the same thread,
        // which a replay of many pages notices. Elsewhere it goes to the blocking pool.
        let in_place = tokio::runtime::Handle::try_current()
            .is_ok_and(|handle| handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if in_place {
            return tokio::task::block_in_place(run);
        }
        tokio::task::spawn_blocking(run).await.map_err(|error| Error::storage(BACKEND, error))?
    }
}

impl EventStore for SqliteStore {
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, Error> {
        check_batch(stream_id, &events)?;
        let stream_id = stream_id.to_owned();
        let result = self.write(move |conn| append_tx(conn, &stream_id, expected, events)).await?;
        self.shared.notifier.advance(result.last_position);
        Ok(result)
    }

    async fn read_stream(&self, stream_id: &str, from_version: u64, limit: usize) -> Result<Vec<RecordedEvent>, Error> {
        let stream_id = stream_id.to_owned();
        let from = to_i64(from_version);
        self.read(move |conn| {
            query_events(
                conn,
                &format!(
                    "{SELECT_EVENT} WHERE stream_id = ?1 AND stream_version >= ?2 ORDER BY stream_version LIMIT ?3"
                ),
                rusqlite::params![stream_id, from, to_i64(limit as u64)],
                limit,
            )
        })
        .await
    }

    async fn read_all(&self, from_position: u64, limit: usize) -> Result<Vec<RecordedEvent>, Error> {
        let from = to_i64(from_position);
        self.read(move |conn| {
            query_events(
                conn,
                &format!("{SELECT_EVENT} WHERE global_position >= ?1 ORDER BY global_position LIMIT ?2"),
                rusqlite::params![from, to_i64(limit as u64)],
                limit,
            )
        })
        .await
    }

    async fn stream_version(&self, stream_id: &str) -> Result<u64, Error> {
        let stream_id = stream_id.to_owned();
        self.read(move |conn| {
            let version: i64 = conn
                .query_row(
                    "SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = ?1",
                    [stream_id],
                    |row| row.get(0),
                )
                .map_err(sql)?;
            Ok(u64::try_from(version).unwrap_or(0))
        })
        .await
    }

    async fn head_position(&self) -> Result<u64, Error> {
        self.read(head).await
    }

    async fn wait_for_new(&self, position: u64) -> Result<(), Error> {
        // Our own appends wake us at once; other processes' are seen at the next poll.
        let _ = tokio::time::timeout(self.shared.poll_interval, self.shared.notifier.wait_past(position)).await;
        Ok(())
    }
}

impl CheckpointStore for SqliteStore {
    async fn load_checkpoint(&self, name: &str) -> Result<Option<u64>, Error> {
        let name = name.to_owned();
        self.read(move |conn| {
            let position: Option<i64> = conn
                .query_row("SELECT position FROM checkpoints WHERE name = ?1", [name], |row| row.get(0))
                .optional()
                .map_err(sql)?;
            Ok(position.map(|position| u64::try_from(position).unwrap_or(0)))
        })
        .await
    }

    async fn save_checkpoint(&self, name: &str, position: u64) -> Result<(), Error> {
        let name = name.to_owned();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO checkpoints (name, position, updated_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at",
                rusqlite::params![name, to_i64(position), now],
            )
            .map_err(sql)?;
            Ok(())
        })
        .await
    }
}

impl SnapshotStore for SqliteStore {
    async fn load_snapshot(&self, stream_id: &str, state_name: &str) -> Result<Option<StoredSnapshot>, Error> {
        let (stream_id, state_name) = (stream_id.to_owned(), state_name.to_owned());
        self.read(move |conn| {
            let row: Option<(i64, i64, Vec<u8>)> = conn
                .query_row(
                    "SELECT schema_version, stream_version, state FROM snapshots WHERE stream_id = ?1 AND state_name = ?2",
                    [stream_id, state_name],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .optional()
                .map_err(sql)?;
            // A snapshot with numbers out of range is as good as none: it is only a cache.
            Ok(row.and_then(|(schema_version, stream_version, state)| {
                Some(StoredSnapshot {
                    schema_version: u32::try_from(schema_version).ok()?,
                    stream_version: u64::try_from(stream_version).ok()?,
                    state,
                })
            }))
        })
        .await
    }

    async fn save_snapshot(&self, stream_id: &str, state_name: &str, snapshot: StoredSnapshot) -> Result<(), Error> {
        let (stream_id, state_name) = (stream_id.to_owned(), state_name.to_owned());
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO snapshots (stream_id, state_name, schema_version, stream_version, state) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (stream_id, state_name) DO UPDATE SET \
                 schema_version = excluded.schema_version, stream_version = excluded.stream_version, state = excluded.state",
                rusqlite::params![
                    stream_id,
                    state_name,
                    i64::from(snapshot.schema_version),
                    to_i64(snapshot.stream_version),
                    snapshot.state
                ],
            )
            .map_err(sql)?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_run_in_place_on_a_multi_threaded_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_with(SqliteOptions::new(dir.path().join("m.db"))).await.unwrap();
        let events = vec![NewEvent::new("A", b"{}".to_vec()), NewEvent::new("B", b"{\"n\":1}".to_vec())];
        store.append("S-1", ExpectedVersion::NoStream, events).await.unwrap();
        // From a worker thread (a spawned task) and from the thread that blocks on the runtime.
        let other = store.clone();
        let names = tokio::spawn(async move {
            let page = other.read_stream("S-1", 1, 10).await.unwrap();
            page.into_iter().map(|record| record.message_name).collect::<Vec<_>>()
        })
        .await
        .unwrap();
        assert_eq!(names, ["A", "B"]);
        assert_eq!(store.read_all(2, 10).await.unwrap()[0].payload, b"{\"n\":1}");
        assert_eq!(store.head_position().await.unwrap(), 2);
    }
}
