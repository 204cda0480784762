//! PostgreSQL store: faults and properties beyond the conformance suite (`EVENTFOLD_PG_URL`).

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::pg;
use common::{added_event, within};
use eventfold::{EventStore, ExpectedVersion, Filter, PostgresStore, StartFrom};

/// A store in a fresh schema, dropped at the end of the test.
struct Fresh {
    schema: String,
    url: String,
}

impl Fresh {
    fn new(extra: &str) -> Self {
        let schema = pg::unique_schema();
        let url = pg::with_param(&pg::url(), "schema", &schema);
        let url = if extra.is_empty() { url } else { format!("{url}&{extra}") };
        Fresh { schema, url }
    }

    async fn open(&self) -> PostgresStore {
        match PostgresStore::open(&self.url).await {
            Ok(store) => store,
            Err(error) => panic!("cannot open the PostgreSQL store at {} (EVENTFOLD_PG_URL): {error}", self.url),
        }
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        pg::drop_schema(std::mem::take(&mut self.schema));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connection_dropped_mid_batch_is_all_or_nothing() {
    let fresh = Fresh::new("");
    let store = fresh.open().await;
    let s = &fresh.schema;
    let stream = "Counters-fault";
    store
        .append(stream, ExpectedVersion::NoStream, vec![added_event("fault", 1), added_event("fault", 2)])
        .await
        .unwrap();

    // Stall the append inside its transaction after two of its five rows are inserted.
    let admin = pg::client().await;
    admin
        .batch_execute(&format!(
            "CREATE FUNCTION \"{s}\".stall() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               IF NEW.stream_id = 'Counters-fault' AND NEW.stream_version = 5 THEN PERFORM pg_sleep(60); END IF; \
               RETURN NEW; END $$; \
             CREATE TRIGGER stall BEFORE INSERT ON \"{s}\".events FOR EACH ROW EXECUTE FUNCTION \"{s}\".stall();"
        ))
        .await
        .unwrap();
    let batch: Vec<_> = (3..=7).map(|n| added_event("fault", n)).collect();
    let append = {
        let (store, batch) = (store.clone(), batch.clone());
        tokio::spawn(async move { store.append(stream, ExpectedVersion::Exact(2), batch).await })
    };
    // Find the appending backend while it sleeps mid-batch, and kill its connection.
    let mut killed = false;
    for _ in 0..200 {
        let rows = admin
            .query(
                "SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND query LIKE $1",
                &[&format!("%\"{s}\".events%")],
            )
            .await
            .unwrap();
        if let Some(row) = rows.first() {
            let pid: i32 = row.get(0);
            let terminated: bool = admin.query_one("SELECT pg_terminate_backend($1)", &[&pid]).await.unwrap().get(0);
            assert!(terminated);
            killed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(killed, "the append never reached the stalled row");
    let result = within(append).await.unwrap();
    let error = result.expect_err("an append whose connection died before COMMIT must fail");
    assert!(error.to_string().contains(stream), "the error names the stream: {error}");

    // Nothing of the batch is stored: not the two rows inserted before the connection died.
    let stored = store.read_stream(stream, 1, 100).await.unwrap();
    assert_eq!(stored.iter().map(|e| e.stream_version).collect::<Vec<_>>(), vec![1, 2]);
    let rows: i64 = admin.query_one(&format!("SELECT COUNT(*) FROM \"{s}\".events"), &[]).await.unwrap().get(0);
    assert_eq!(rows, 2);

    // The store replaces the dead connection; retrying the batch writes it once, whole.
    admin.batch_execute(&format!("DROP TRIGGER stall ON \"{s}\".events")).await.unwrap();
    let retried = store.append(stream, ExpectedVersion::Exact(2), batch.clone()).await.unwrap();
    assert_eq!((retried.first_version, retried.version), (3, 7));
    assert_eq!(store.append(stream, ExpectedVersion::Exact(2), batch).await.unwrap(), retried);
    assert_eq!(store.read_all(1, 100).await.unwrap().len(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_schema_is_created_once_under_concurrent_first_use() {
    let fresh = Fresh::new("");
    let mut opens = Vec::new();
    for _ in 0..8 {
        let url = fresh.url.clone();
        opens.push(tokio::spawn(async move { PostgresStore::open(&url).await }));
    }
    let mut stores = Vec::new();
    for open in opens {
        stores.push(within(open).await.unwrap().expect("every concurrent first open succeeds"));
    }
    for (n, store) in stores.iter().enumerate() {
        store.append("Counters-first", ExpectedVersion::Exact(n as u64), vec![added_event("first", 1)]).await.unwrap();
    }
    assert_eq!(stores[0].stream_version("Counters-first").await.unwrap(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_read_all_has_no_gaps_under_concurrent_writers() {
    const WRITERS: usize = 8;
    const BATCHES: usize = 20;
    let fresh = Fresh::new("");
    let store = fresh.open().await;
    // A reader that follows the head while writers commit concurrently.
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut subscription = store.subscribe(StartFrom::Beginning, Filter::All);
            let mut positions = Vec::new();
            let total: usize = (0..WRITERS).map(|w| (0..BATCHES).map(|b| 1 + (w + b) % 3).sum::<usize>()).sum();
            while positions.len() < total {
                positions.push(subscription.next().await.unwrap().global_position);
            }
            positions
        })
    };
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for batch in 0..BATCHES {
                let events: Vec<_> = (0..1 + (writer + batch) % 3).map(|_| added_event("w", writer as i64)).collect();
                ids.extend(events.iter().map(|e| e.event_id));
                store.append(&format!("Counters-w{writer}"), ExpectedVersion::Any, events).await.unwrap();
            }
            ids
        }));
    }
    let mut written = HashSet::new();
    for writer in writers {
        written.extend(within(writer).await.unwrap());
    }
    let positions = tokio::time::timeout(Duration::from_secs(30), reader).await.unwrap().unwrap();
    let expected: Vec<u64> = (1..=written.len() as u64).collect();
    assert_eq!(positions, expected, "the live reader saw every position, in order, none skipped");
    let all = eventfold::store::read_stream_to_end(&store, "Counters-w0", 1).await.unwrap();
    assert_eq!(all.len(), (0..BATCHES).map(|b| 1 + b % 3).sum::<usize>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_notifications_wake_other_processes_subscriptions() {
    // Polling is an hour: only NOTIFY can deliver the event in time.
    let fresh = Fresh::new("poll_ms=3600000");
    let reader_store = fresh.open().await;
    let writer_store = fresh.open().await;
    let mut subscription = reader_store.subscribe(StartFrom::End, Filter::All);
    assert!(subscription.try_next().await.unwrap().is_none());
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        writer_store.append("Counters-n", ExpectedVersion::Any, vec![added_event("n", 1)]).await.unwrap()
    });
    let event = within(subscription.next()).await.unwrap();
    assert_eq!(event.stream_id, "Counters-n");
    assert_eq!(writer.await.unwrap().last_position, event.global_position);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_is_chosen_by_url() {
    let fresh = Fresh::new("");
    let store = eventfold::open(&fresh.url).await.unwrap();
    assert_eq!(store.backend(), "postgres");
    store.append("Counters-u", ExpectedVersion::Any, vec![added_event("u", 1)]).await.unwrap();
    let again = eventfold::open(&fresh.url.replacen("postgres://", "postgresql://", 1)).await.unwrap();
    assert_eq!(again.stream_version("Counters-u").await.unwrap(), 1);
    for bad in ["schema=Bad-Name", "schema=1abc", "max_connections=lots"] {
        let url = pg::with_param(&pg::url(), bad.split('=').next().unwrap(), bad.split('=').nth(1).unwrap());
        match eventfold::open(&url).await {
            Err(error @ eventfold::Error::UnsupportedStore { .. }) => {
                assert!(error.to_string().contains(bad.split('=').next().unwrap()))
            }
            other => panic!("{url}: expected UnsupportedStore, got {other:?}"),
        }
    }
}
