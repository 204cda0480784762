//! The SQLite store against raw rusqlite doing the same reads and writes, in the same run
//! (`cargo bench -p eventfold-benches --bench sqlite`).
//!
//! * replay: `eventfold::replay` of one stream of 10k order events (read in pages, decoded by
//!   name, folded) against a rusqlite connection to the same file with the same pragmas running
//!   the same paged `SELECT` — once reading the rows only, once also decoding and folding them;
//! * append: 20k events in batches of 100 to one stream, each batch one durable commit
//!   (`synchronous=FULL`, WAL), against rusqlite doing the same transaction per batch (the
//!   idempotency look-ups, the version check and the inserts) on a fresh file of the same schema.
//!
//! Best of `EVENTFOLD_BENCH_ROUNDS` (default 5) rounds; databases live in a temporary directory
//! (`EVENTFOLD_BENCH_DIR` to choose the disk).

use std::path::Path;
use std::time::{Duration, Instant};

use eventfold::{Aggregate, Envelope, EventStore, ExpectedVersion, Headers, NewEvent, SqliteOptions, SqliteStore};
use eventfold_benches::orders::event_source_orders::Message;
use eventfold_benches::{env_usize, ms, order_events, Totals};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

const STREAM: &str = "EventSourceOrders-7d0b2c7e";
const REPLAY_EVENTS: usize = 10_000;
const APPEND_EVENTS: usize = 20_000;
const BATCH: usize = 100;
const PAGE: i64 = 512;

#[derive(Default)]
struct Order(Totals);

impl Aggregate for Order {
    type Message = Message;

    fn apply(&mut self, envelope: &Envelope<Message>) {
        self.0.apply(&envelope.message);
    }
}

/// `count` events of the orders channel with the headers a producer sets.
fn events(count: usize) -> Vec<NewEvent> {
    let (json, _) = order_events(count.div_ceil(4));
    let mut headers = Headers::new();
    headers.insert("producer".to_owned(), "orders-service".into());
    json.iter()
        .take(count)
        .map(|(_, name, payload)| {
            let mut event = NewEvent::new(name, payload.to_vec()).with_correlation_id("7d0b2c7e");
            event.headers = headers.clone();
            event
        })
        .collect()
}

/// The same pragmas as the store: WAL, `synchronous=FULL`, the same busy timeout.
fn raw_connection(path: &Path) -> Connection {
    let conn = Connection::open(path).expect("opens");
    conn.busy_timeout(Duration::from_secs(5)).expect("busy timeout");
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)).expect("WAL");
    assert_eq!(mode, "wal");
    conn.pragma_update(None, "synchronous", "FULL").expect("synchronous");
    conn
}

const SELECT: &str = "SELECT global_position, stream_id, stream_version, event_id, message_name, recorded_at, \
                      correlation_id, causation_id, headers, payload FROM events \
                      WHERE stream_id = ?1 AND stream_version >= ?2 ORDER BY stream_version LIMIT ?3";

/// Reads every row of the stream, page by page; with `decode`, decodes and folds each payload.
fn raw_replay(conn: &Connection, decode: bool) -> (Totals, i64) {
    let mut statement = conn.prepare_cached(SELECT).expect("prepares");
    let mut totals = Totals::default();
    let mut version = 0i64;
    loop {
        let mut rows = statement.query(rusqlite::params![STREAM, version + 1, PAGE]).expect("queries");
        let mut read = 0;
        while let Some(row) = rows.next().expect("reads") {
            let _position: i64 = row.get(0).expect("column");
            let _stream: String = row.get(1).expect("column");
            version = row.get(2).expect("column");
            let _event_id: String = row.get(3).expect("column");
            let name: String = row.get(4).expect("column");
            let _recorded_at: i64 = row.get(5).expect("column");
            let _correlation: Option<String> = row.get(6).expect("column");
            let _causation: Option<String> = row.get(7).expect("column");
            let _headers: String = row.get(8).expect("column");
            let payload: Vec<u8> = row.get(9).expect("column");
            if decode {
                totals.apply(&eventfold::decode_json::<Message>(&name, &payload).expect("decodes"));
            }
            read += 1;
        }
        if read < PAGE {
            return (totals, version);
        }
    }
}

const SCHEMA: &str = "
CREATE TABLE events (
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
);";

/// One batch as the store writes it: look up the event ids, check the version, insert, commit.
fn raw_append(conn: &mut Connection, expected: i64, batch: &[NewEvent]) -> i64 {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).expect("begins");
    {
        let mut by_id = tx
            .prepare_cached("SELECT stream_id, stream_version, global_position FROM events WHERE event_id = ?1")
            .expect("prepares");
        for event in batch {
            let found =
                by_id.query_row([event.event_id.to_string()], |row| row.get::<_, i64>(2)).optional().expect("looks up");
            assert!(found.is_none());
        }
    }
    let actual: i64 = tx
        .query_row("SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = ?1", [STREAM], |row| {
            row.get(0)
        })
        .expect("version");
    assert_eq!(actual, expected);
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64;
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO events (stream_id, stream_version, event_id, message_name, recorded_at, correlation_id, \
                 causation_id, headers, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .expect("prepares");
        for (offset, event) in batch.iter().enumerate() {
            let headers = serde_json::to_string(&event.headers).expect("encodes");
            insert
                .execute(rusqlite::params![
                    STREAM,
                    actual + offset as i64 + 1,
                    event.event_id.to_string(),
                    event.message_name,
                    now,
                    event.correlation_id,
                    event.causation_id,
                    headers,
                    event.payload,
                ])
                .expect("inserts");
        }
    }
    tx.commit().expect("commits");
    actual + batch.len() as i64
}

fn fresh(events: &[NewEvent]) -> Vec<NewEvent> {
    events.iter().map(|event| event.clone().with_event_id(uuid::Uuid::now_v7())).collect()
}

fn main() {
    let rounds = env_usize("EVENTFOLD_BENCH_ROUNDS", 5);
    let base = std::env::var_os("EVENTFOLD_BENCH_DIR").map(std::path::PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(base).expect("a temporary directory");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a Tokio runtime");

    // Replay: one stream of 10k events, written by the store.
    let path = dir.path().join("replay.db");
    let store = runtime.block_on(SqliteStore::open_with(SqliteOptions::new(&path))).expect("opens");
    let replay_events = events(REPLAY_EVENTS);
    for (n, batch) in replay_events.chunks(BATCH).enumerate() {
        runtime
            .block_on(store.append(STREAM, ExpectedVersion::Exact((n * BATCH) as u64), batch.to_vec()))
            .expect("appends");
    }
    let conn = raw_connection(&path);
    let (mut store_best, mut rows_best, mut raw_best) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for _ in 0..rounds {
        let start = Instant::now();
        let (state, version): (Order, u64) = runtime.block_on(eventfold::replay(&store, STREAM)).expect("replays");
        store_best = store_best.min(start.elapsed());
        assert_eq!(version, REPLAY_EVENTS as u64);

        let start = Instant::now();
        let (_, rows_version) = std::hint::black_box(raw_replay(&conn, false));
        rows_best = rows_best.min(start.elapsed());
        assert_eq!(rows_version, REPLAY_EVENTS as i64);

        let start = Instant::now();
        let (totals, _) = std::hint::black_box(raw_replay(&conn, true));
        raw_best = raw_best.min(start.elapsed());
        assert_eq!(totals, state.0);
    }
    drop(conn);

    // Append: 20k events in batches of 100, durable commits, fresh files each round.
    let append_events = events(APPEND_EVENTS);
    let (mut store_append, mut raw_append_best) = (Duration::MAX, Duration::MAX);
    for round in 0..rounds {
        let store_path = dir.path().join(format!("append-store-{round}.db"));
        let store = runtime.block_on(SqliteStore::open_with(SqliteOptions::new(&store_path))).expect("opens");
        let batches: Vec<Vec<NewEvent>> = fresh(&append_events).chunks(BATCH).map(<[NewEvent]>::to_vec).collect();
        let start = Instant::now();
        runtime.block_on(async {
            for (n, batch) in batches.into_iter().enumerate() {
                store.append(STREAM, ExpectedVersion::Exact((n * BATCH) as u64), batch).await.expect("appends");
            }
        });
        store_append = store_append.min(start.elapsed());
        drop(store);

        let raw_path = dir.path().join(format!("append-raw-{round}.db"));
        let mut conn = raw_connection(&raw_path);
        conn.execute_batch(SCHEMA).expect("creates the schema");
        let batch_events = fresh(&append_events);
        let start = Instant::now();
        let mut version = 0;
        for batch in batch_events.chunks(BATCH) {
            version = raw_append(&mut conn, version, batch);
        }
        raw_append_best = raw_append_best.min(start.elapsed());
    }

    let rate = |events: usize, time: Duration| events as f64 / time.as_secs_f64();
    println!("SQLite (WAL, synchronous=FULL), best of {rounds} rounds:");
    println!("  replay of one stream of {REPLAY_EVENTS} events:");
    println!("    {:<44} {:>8} {:>12} {:>10}", "", "ms", "events/s", "store/raw");
    let replay_ratio = store_best.as_secs_f64() / raw_best.as_secs_f64();
    let rows_ratio = store_best.as_secs_f64() / rows_best.as_secs_f64();
    println!(
        "    {:<44} {:>8.2} {:>12.0} {:>10}",
        "eventfold::replay (read, decode, fold)",
        ms(store_best),
        rate(REPLAY_EVENTS, store_best),
        ""
    );
    println!(
        "    {:<44} {:>8.2} {:>12.0} {:>9.2}x",
        "rusqlite: same SELECT, decode, fold",
        ms(raw_best),
        rate(REPLAY_EVENTS, raw_best),
        replay_ratio
    );
    println!(
        "    {:<44} {:>8.2} {:>12.0} {:>9.2}x",
        "rusqlite: same SELECT, rows only",
        ms(rows_best),
        rate(REPLAY_EVENTS, rows_best),
        rows_ratio
    );
    println!(
        "    target: replay within 1.5x of raw rusqlite (decode + fold): {replay_ratio:.2}x {}",
        if replay_ratio <= 1.5 { "(holds)" } else { "(FAILS)" }
    );
    println!("  append of {APPEND_EVENTS} events in batches of {BATCH}, one durable commit per batch:");
    let append_rate = rate(APPEND_EVENTS, store_append);
    println!(
        "    {:<44} {:>8.1} {:>12.0} {:>9.2}x",
        "eventfold SqliteStore::append",
        ms(store_append),
        append_rate,
        store_append.as_secs_f64() / raw_append_best.as_secs_f64()
    );
    println!(
        "    {:<44} {:>8.1} {:>12.0}",
        "rusqlite: same transaction per batch",
        ms(raw_append_best),
        rate(APPEND_EVENTS, raw_append_best)
    );
    println!(
        "    target: append >= 50000 events/s: {append_rate:.0} {}",
        if append_rate >= 50_000.0 { "(holds)" } else { "(FAILS)" }
    );
}
