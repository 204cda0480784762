//! SQLite specifics: pragmas, damaged rows, a database from a newer version.

mod common;

use common::added_event;
use eventfold::{Error, EventStore, ExpectedVersion, SqliteOptions, SqliteStore, Synchronous};

fn pragma(path: &std::path::Path, name: &str) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row(&format!("PRAGMA {name}"), [], |row| row.get::<_, rusqlite::types::Value>(0))
        .map(|value| format!("{value:?}"))
        .unwrap()
}

#[tokio::test]
async fn wal_mode_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let store = SqliteStore::open_with(SqliteOptions::new(&path).synchronous(Synchronous::Normal)).await.unwrap();
    assert_eq!(store.options().synchronous, Synchronous::Normal);
    store.append("Counters-a", ExpectedVersion::Any, vec![added_event("a", 1)]).await.unwrap();
    assert_eq!(pragma(&path, "journal_mode"), "Text(\"wal\")");
    assert_eq!(pragma(&path, "user_version"), "Integer(1)");
    // The unique constraints hold even for a writer that bypasses the store.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let duplicate = conn.execute(
        "INSERT INTO events (stream_id, stream_version, event_id, message_name, recorded_at, headers, payload) \
         VALUES ('Counters-a', 1, 'x', 'Added', 0, '{}', x'7b7d')",
        [],
    );
    assert!(duplicate.is_err());
}

#[tokio::test]
async fn damaged_rows_are_errors_naming_stream_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.db");
    let store = SqliteStore::open(&path).await.unwrap();
    store.append("Counters-a", ExpectedVersion::Any, vec![added_event("a", 1)]).await.unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO events (stream_id, stream_version, event_id, message_name, recorded_at, headers, payload) \
         VALUES ('Counters-a', 2, 'not-a-uuid', 'Added', 0, '{}', x'7b7d')",
        [],
    )
    .unwrap();
    match store.read_stream("Counters-a", 1, 10).await {
        Err(error @ Error::Corrupt { .. }) => {
            let text = error.to_string();
            assert!(text.contains("Counters-a") && text.contains("version 2"), "{text}");
        }
        other => panic!("expected a corrupt-record error, got {other:?}"),
    }
    // The good record before it still reads.
    assert_eq!(store.read_stream("Counters-a", 1, 1).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.db");
    drop(SqliteStore::open(&path).await.unwrap());
    rusqlite::Connection::open(&path).unwrap().pragma_update(None, "user_version", 7).unwrap();
    let error = SqliteStore::open(&path).await.unwrap_err();
    assert!(matches!(error, Error::Storage { backend: "sqlite", .. }), "{error}");
    assert!(error.to_string().contains("newer"), "{error}");
}
