//! Append and replay throughput of the NATS JetStream and PostgreSQL stores, each against its raw
//! client doing the same writes and reads in the same run.
//!
//! `cargo bench -p eventfold --features nats,postgres --bench backends` with the servers of
//! `EVENTFOLD_NATS_URL` (default `nats://127.0.0.1:4222`) and `EVENTFOLD_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). Each measurement runs in a fresh namespace /
//! schema, which is deleted afterwards. Prints events per second and the store / raw ratio.

use std::time::{Duration, Instant};

use eventfold::store::nats::async_nats;
use eventfold::store::postgres::tokio_postgres;
use eventfold::{EventStore, ExpectedVersion, NatsStore, NewEvent, PostgresStore};
use futures_util::StreamExt;

const BATCH: usize = 100;
const BATCHES: usize = 20;
const ROUNDS: usize = 3;

fn event(n: usize) -> NewEvent {
    let payload = format!(r#"{{"counter":"bench","amount":{n},"note":"a payload of a typical small event"}}"#);
    NewEvent::new("Added", payload.into_bytes()).with_correlation_id("bench")
}

fn batches() -> Vec<Vec<NewEvent>> {
    (0..BATCHES).map(|b| (0..BATCH).map(|i| event(b * BATCH + i)).collect()).collect()
}

fn rate(events: usize, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64()
}

/// The best of `ROUNDS` runs of `run` (each gets a fresh round number).
async fn best<F, Fut>(mut run: F) -> Duration
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Duration>,
{
    let mut best = Duration::MAX;
    for round in 0..ROUNDS {
        best = best.min(run(round).await);
    }
    best
}

struct Row {
    backend: &'static str,
    operation: &'static str,
    store: f64,
    raw: f64,
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", eventfold::uuid::Uuid::now_v7().simple())
}

// ---------------------------------------------------------------- NATS

async fn nats_rows(url: &str) -> Vec<Row> {
    let events = BATCH * BATCHES;
    let client = async_nats::connect(url).await.expect("connect to NATS (EVENTFOLD_NATS_URL)");
    let js = async_nats::jetstream::new(client);

    let store_append = best(|_| async {
        let namespace = unique("efbench_");
        let store = NatsStore::open(&format!("{url}?namespace={namespace}")).await.expect("open the NATS store");
        let start = Instant::now();
        for batch in batches() {
            store.append("Counters-bench", ExpectedVersion::Any, batch).await.expect("append");
        }
        let elapsed = start.elapsed();
        store.destroy().await.expect("delete the namespace");
        elapsed
    })
    .await;

    // Raw: the same messages (subject, Msg-Id, expected subject sequence, metadata header)
    // published one after another, each waiting for its ack, as the store must.
    let raw_append = best(|_| {
        let js = js.clone();
        async move {
            let name = unique("efraw_");
            js.create_stream(async_nats::jetstream::stream::Config {
                name: name.clone(),
                subjects: vec![format!("{name}.>")],
                ..Default::default()
            })
            .await
            .expect("create a stream");
            let subject = format!("{name}.Counters.bench");
            let start = Instant::now();
            let mut last = 0u64;
            for (version, event) in batches().into_iter().flatten().enumerate() {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("Nats-Msg-Id", event.event_id.to_string());
                headers.insert("Nats-Expected-Last-Subject-Sequence", last.to_string());
                headers.insert(
                    "Eventfold-Meta",
                    format!(
                        r#"{{"stream":"Counters-bench","version":{},"name":"Added","correlation_id":"bench"}}"#,
                        version + 1
                    ),
                );
                let ack = js
                    .publish_with_headers(subject.clone(), headers, event.payload.into())
                    .await
                    .expect("publish")
                    .await
                    .expect("ack");
                last = ack.sequence;
            }
            let elapsed = start.elapsed();
            js.delete_stream(&name).await.expect("delete the stream");
            elapsed
        }
    })
    .await;

    // Replay of one stream of `events` events.
    let namespace = unique("efbench_");
    let store = NatsStore::open(&format!("{url}?namespace={namespace}")).await.expect("open the NATS store");
    for batch in batches() {
        store.append("Counters-bench", ExpectedVersion::Any, batch).await.expect("append");
    }
    let store_replay = best(|_| {
        let store = store.clone();
        async move {
            let start = Instant::now();
            let read = eventfold::store::read_stream_to_end(&store, "Counters-bench", 1).await.expect("replay");
            assert_eq!(read.len(), events);
            start.elapsed()
        }
    })
    .await;
    let raw_replay = best(|_| {
        let js = js.clone();
        let namespace = namespace.clone();
        async move {
            let start = Instant::now();
            let stream = js.get_stream(format!("{namespace}_events")).await.expect("stream");
            let consumer = stream
                .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig {
                    filter_subject: format!("{namespace}.Counters.bench"),
                    ..Default::default()
                })
                .await
                .expect("ordered consumer");
            let mut messages = consumer.messages().await.expect("messages");
            let mut bytes = 0;
            for _ in 0..events {
                let message = messages.next().await.expect("a message").expect("no error");
                bytes += message.payload.len();
            }
            assert!(bytes > 0);
            start.elapsed()
        }
    })
    .await;
    store.destroy().await.expect("delete the namespace");

    vec![
        Row {
            backend: "nats",
            operation: "append (batches of 100)",
            store: rate(events, store_append),
            raw: rate(events, raw_append),
        },
        Row {
            backend: "nats",
            operation: "replay one stream",
            store: rate(events, store_replay),
            raw: rate(events, raw_replay),
        },
    ]
}

// ---------------------------------------------------------------- PostgreSQL

async fn pg_client(url: &str) -> tokio_postgres::Client {
    let (client, connection) =
        tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connect to PostgreSQL (EVENTFOLD_PG_URL)");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

fn with_schema(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}schema={schema}")
}

async fn pg_rows(url: &str) -> Vec<Row> {
    let events = BATCH * BATCHES;
    let mut admin = pg_client(url).await;

    let store_append = best(|_| async {
        let schema = unique("efbench_");
        let store = PostgresStore::open(&with_schema(url, &schema)).await.expect("open the PostgreSQL store");
        let start = Instant::now();
        for batch in batches() {
            store.append("Counters-bench", ExpectedVersion::Any, batch).await.expect("append");
        }
        let elapsed = start.elapsed();
        drop(store);
        let client = pg_client(url).await;
        client.batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE")).await.expect("drop schema");
        elapsed
    })
    .await;

    // Raw: the same rows into the same table, one transaction per batch, one multi-row INSERT.
    let mut raw_append = Duration::MAX;
    for _ in 0..ROUNDS {
        let schema = unique("efraw_");
        // The store's table, created by the store.
        drop(PostgresStore::open(&with_schema(url, &schema)).await.expect("create the schema"));
        let insert = admin
            .prepare(&format!(
                "INSERT INTO \"{schema}\".events (global_position, stream_id, stream_version, event_id, message_name, \
                 recorded_at, correlation_id, causation_id, headers, payload) \
                 SELECT p, $1, v, e, 'Added', now(), 'bench', NULL, '{{}}', b FROM UNNEST($2::BIGINT[], $3::BIGINT[], \
                 $4::UUID[], $5::BYTEA[]) AS t(p, v, e, b)"
            ))
            .await
            .expect("prepare");
        let start = Instant::now();
        for (index, batch) in batches().into_iter().enumerate() {
            let base = (index * BATCH) as i64;
            let positions: Vec<i64> = (1..=BATCH as i64).map(|i| base + i).collect();
            let ids: Vec<eventfold::uuid::Uuid> = batch.iter().map(|e| e.event_id).collect();
            let payloads: Vec<Vec<u8>> = batch.into_iter().map(|e| e.payload).collect();
            let tx = admin.transaction().await.expect("begin");
            tx.execute(&insert, &[&"Counters-bench", &positions, &positions, &ids, &payloads]).await.expect("insert");
            tx.commit().await.expect("commit");
        }
        raw_append = raw_append.min(start.elapsed());
        admin.batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE")).await.expect("drop schema");
    }

    let schema = unique("efbench_");
    let store = PostgresStore::open(&with_schema(url, &schema)).await.expect("open the PostgreSQL store");
    for batch in batches() {
        store.append("Counters-bench", ExpectedVersion::Any, batch).await.expect("append");
    }
    let store_replay = best(|_| {
        let store = store.clone();
        async move {
            let start = Instant::now();
            let read = eventfold::store::read_stream_to_end(&store, "Counters-bench", 1).await.expect("replay");
            assert_eq!(read.len(), events);
            start.elapsed()
        }
    })
    .await;
    let select = admin
        .prepare(&format!(
            "SELECT global_position, stream_id, stream_version, event_id, message_name, recorded_at, correlation_id, \
             causation_id, headers, payload FROM \"{schema}\".events WHERE stream_id = $1 ORDER BY stream_version"
        ))
        .await
        .expect("prepare");
    let mut raw_replay = Duration::MAX;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let rows = admin.query(&select, &[&"Counters-bench"]).await.expect("select");
        let bytes: usize = rows.iter().map(|row| row.get::<_, Vec<u8>>(9).len()).sum();
        assert!(rows.len() == events && bytes > 0);
        raw_replay = raw_replay.min(start.elapsed());
    }
    drop(store);
    admin.batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE")).await.expect("drop schema");

    vec![
        Row {
            backend: "postgres",
            operation: "append (batches of 100)",
            store: rate(events, store_append),
            raw: rate(events, raw_append),
        },
        Row {
            backend: "postgres",
            operation: "replay one stream",
            store: rate(events, store_replay),
            raw: rate(events, raw_replay),
        },
    ]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let nats = std::env::var("EVENTFOLD_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    let pg = std::env::var("EVENTFOLD_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    println!("{} events per measurement, best of {ROUNDS}; NATS {nats}, PostgreSQL {pg}", BATCH * BATCHES);
    let mut rows = nats_rows(&nats).await;
    rows.extend(pg_rows(&pg).await);
    println!("| backend | operation | store (events/s) | raw client (events/s) | store / raw |");
    println!("| --- | --- | ---: | ---: | ---: |");
    for row in rows {
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.2} |",
            row.backend,
            row.operation,
            row.store,
            row.raw,
            row.store / row.raw
        );
    }
}
