//! The store conformance suite: written once, run against every backend.
//!
//! Each backend is one [`Backend`] factory plus one `conformance!` line; the macro makes a module
//! `conformance_<backend>` whose tests are `conformance_<backend>::<case>`. A later backend adds,
//! for example:
//!
//! ```ignore
//! #[cfg(feature = "nats")]
//! conformance!(conformance_nats, NatsBackend::from_env().await);
//! ```

mod common;

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use common::{added_event, within, Counter};
use eventfold::{
    CheckpointStore, DecodePolicy, Error, EventStore, ExpectedVersion, Filter, MemoryStore, NewEvent, SendOptions,
    Sink, SnapshotStore, StartFrom, StoredSnapshot, Subscription, TypedSubscription,
};

/// A place events are stored, which can be opened again as after a restart.
pub trait Backend: Send + Sync + 'static {
    type Store: EventStore + CheckpointStore + SnapshotStore + Sink<Counter>;
    /// A handle onto the backend's store; a second call is "the process restarted".
    fn open(&self) -> impl Future<Output = Self::Store> + Send;
}

/// The in-memory store: "reopening" returns the same store (it cannot outlive the process).
pub struct MemoryBackend(MemoryStore);

impl MemoryBackend {
    fn new() -> Self {
        MemoryBackend(MemoryStore::new())
    }
}

impl Backend for MemoryBackend {
    type Store = MemoryStore;
    async fn open(&self) -> MemoryStore {
        self.0.clone()
    }
}

#[cfg(feature = "sqlite")]
use eventfold::{SqliteOptions, SqliteStore};

/// A SQLite file in a fresh temporary directory; reopening opens new connections to the file.
#[cfg(feature = "sqlite")]
pub struct SqliteBackend {
    dir: tempfile::TempDir,
}

#[cfg(feature = "sqlite")]
impl SqliteBackend {
    fn new() -> Self {
        SqliteBackend { dir: tempfile::tempdir().unwrap() }
    }
}

#[cfg(feature = "sqlite")]
impl Backend for SqliteBackend {
    type Store = SqliteStore;
    async fn open(&self) -> SqliteStore {
        let options = SqliteOptions::new(self.dir.path().join("events.db")).poll_interval(Duration::from_millis(20));
        SqliteStore::open_with(options).await.unwrap()
    }
}

#[cfg(feature = "postgres")]
use eventfold::PostgresStore;

/// A PostgreSQL schema of its own per test (`EVENTFOLD_PG_URL`), dropped when the test ends;
/// reopening opens a new connection pool onto it.
#[cfg(feature = "postgres")]
pub struct PostgresBackend {
    url: String,
    schema: String,
}

#[cfg(feature = "postgres")]
impl PostgresBackend {
    async fn from_env() -> Self {
        let schema = common::pg::unique_schema();
        let url = common::pg::with_param(&common::pg::url(), "schema", &schema);
        let backend = PostgresBackend { url, schema };
        // Fail here, loudly, when the server is not there.
        backend.open().await;
        backend
    }
}

#[cfg(feature = "postgres")]
impl Drop for PostgresBackend {
    fn drop(&mut self) {
        common::pg::drop_schema(std::mem::take(&mut self.schema));
    }
}

#[cfg(feature = "postgres")]
impl Backend for PostgresBackend {
    type Store = PostgresStore;
    async fn open(&self) -> PostgresStore {
        match PostgresStore::open(&self.url).await {
            Ok(store) => store,
            Err(error) => panic!("cannot open the PostgreSQL store at {} (EVENTFOLD_PG_URL): {error}", self.url),
        }
    }
}

#[cfg(feature = "nats")]
use eventfold::NatsStore;

/// A NATS JetStream namespace of its own per test (`EVENTFOLD_NATS_URL`), deleted when the test
/// ends; reopening opens a new connection onto it.
#[cfg(feature = "nats")]
pub struct NatsBackend {
    url: String,
}

#[cfg(feature = "nats")]
impl NatsBackend {
    async fn from_env() -> Self {
        let namespace = common::nats::unique_namespace();
        let url = common::nats::with_param(&common::nats::url(), "namespace", &namespace);
        let backend = NatsBackend { url };
        // Fail here, loudly, when the server is not there.
        backend.open().await;
        backend
    }
}

#[cfg(feature = "nats")]
impl Drop for NatsBackend {
    fn drop(&mut self) {
        common::nats::destroy(std::mem::take(&mut self.url));
    }
}

#[cfg(feature = "nats")]
impl Backend for NatsBackend {
    type Store = NatsStore;
    async fn open(&self) -> NatsStore {
        common::nats::open(&self.url).await
    }
}

mod suite {
    use super::*;

    fn names(events: &[eventfold::RecordedEvent]) -> Vec<(String, u64)> {
        events.iter().map(|e| (e.stream_id.clone(), e.stream_version)).collect()
    }

    pub async fn ordering<B: Backend>(backend: B) {
        let store = backend.open().await;
        assert_eq!(store.stream_version("Counters-a").await.unwrap(), 0);
        assert!(store.read_stream("Counters-a", 1, 10).await.unwrap().is_empty());
        let first = store
            .append("Counters-a", ExpectedVersion::Any, vec![added_event("a", 1), added_event("a", 2)])
            .await
            .unwrap();
        assert_eq!((first.first_version, first.version), (1, 2));
        store.append("Counters-b", ExpectedVersion::Any, vec![added_event("b", 10)]).await.unwrap();
        let third = store.append("Counters-a", ExpectedVersion::Any, vec![added_event("a", 3)]).await.unwrap();
        assert_eq!((third.first_version, third.version), (3, 3));
        assert!(third.first_position > first.last_position);

        let a = store.read_stream("Counters-a", 1, 100).await.unwrap();
        assert_eq!(a.iter().map(|e| e.stream_version).collect::<Vec<_>>(), vec![1, 2, 3]);
        let amounts: Vec<i64> = a
            .iter()
            .map(|e| match e.decode::<Counter>().unwrap().message {
                Counter::Added(m) => m.amount,
                Counter::Reset(_) => 0,
            })
            .collect();
        assert_eq!(amounts, vec![1, 2, 3]);
        assert!(a.iter().all(|e| e.correlation_id.as_deref() == Some("a") && e.message_name == "Added"));
        let from_two = store.read_stream("Counters-a", 2, 1).await.unwrap();
        assert_eq!(names(&from_two), vec![("Counters-a".to_owned(), 2)]);
        assert_eq!(store.stream_version("Counters-a").await.unwrap(), 3);
        assert_eq!(store.stream_version("Counters-b").await.unwrap(), 1);
        assert_eq!(store.head_position().await.unwrap(), third.last_position);
    }

    pub async fn expected_version<B: Backend>(backend: B) {
        let store = backend.open().await;
        let s = "Counters-x";
        store.append(s, ExpectedVersion::NoStream, vec![added_event("x", 1), added_event("x", 1)]).await.unwrap();
        match store.append(s, ExpectedVersion::NoStream, vec![added_event("x", 1)]).await {
            Err(Error::Conflict { stream_id, expected, actual }) => {
                assert_eq!((stream_id.as_str(), expected, actual), (s, ExpectedVersion::NoStream, 2));
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        let err = store.append(s, ExpectedVersion::Exact(1), vec![added_event("x", 1)]).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains(s) && text.contains("version 1") && text.contains("actual version 2"), "{text}");
        assert_eq!(store.append(s, ExpectedVersion::Exact(2), vec![added_event("x", 1)]).await.unwrap().version, 3);
        assert!(matches!(
            store.append("Counters-new", ExpectedVersion::Exact(3), vec![added_event("n", 1)]).await,
            Err(Error::Conflict { actual: 0, .. })
        ));
        assert_eq!(
            store.append("Counters-new", ExpectedVersion::Exact(0), vec![added_event("n", 1)]).await.unwrap().version,
            1
        );
        // Conflicts wrote nothing.
        assert_eq!(store.stream_version(s).await.unwrap(), 3);
        assert_eq!(store.read_all(1, 100).await.unwrap().len(), 4);
        // Bad batches are rejected before the store.
        assert!(matches!(store.append(s, ExpectedVersion::Any, vec![]).await, Err(Error::InvalidAppend { .. })));
        let twice = added_event("x", 1);
        assert!(matches!(
            store.append(s, ExpectedVersion::Any, vec![twice.clone(), twice]).await,
            Err(Error::InvalidAppend { .. })
        ));
    }

    pub async fn concurrent_writers<B: Backend>(backend: B) {
        const WRITERS: usize = 16;
        const EACH: usize = 4;
        let store = backend.open().await;
        let stream = "Counters-race";
        let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS));
        let mut tasks = Vec::new();
        for writer in 0..WRITERS {
            let store = store.clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                let mut written = Vec::new();
                let mut conflicts = 0;
                let mut first_round = None;
                while written.len() < EACH {
                    let version = store.stream_version(stream).await.unwrap();
                    let event = added_event("race", writer as i64);
                    let id = event.event_id;
                    if first_round.is_none() {
                        barrier.wait().await;
                    }
                    let expected =
                        if first_round.is_none() { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(version) };
                    let result = store.append(stream, expected, vec![event]).await;
                    first_round.get_or_insert(result.is_ok());
                    match result {
                        Ok(r) => written.push((r.version, id)),
                        Err(Error::Conflict { actual, .. }) => {
                            assert!(actual > 0);
                            conflicts += 1;
                        }
                        Err(other) => panic!("unexpected error {other}"),
                    }
                }
                (written, conflicts, first_round == Some(true))
            }));
        }
        let mut all = Vec::new();
        let mut first_round_winners = 0;
        for task in tasks {
            let (written, _conflicts, won_first) = within(task).await.unwrap();
            first_round_winners += usize::from(won_first);
            all.extend(written);
        }
        assert_eq!(first_round_winners, 1, "exactly one writer creates the stream");
        let total = (WRITERS * EACH) as u64;
        let mut versions: Vec<u64> = all.iter().map(|(v, _)| *v).collect();
        versions.sort_unstable();
        assert_eq!(versions, (1..=total).collect::<Vec<_>>(), "one winner per version, contiguous");
        let stored = eventfold::store::read_stream_to_end(&store, stream, 1).await.unwrap();
        assert_eq!(stored.len() as u64, total);
        for (event, version) in stored.iter().zip(1..) {
            assert_eq!(event.stream_version, version);
        }
        let stored_ids: HashSet<_> = stored.iter().map(|e| e.event_id).collect();
        let written_ids: HashSet<_> = all.iter().map(|(_, id)| *id).collect();
        assert_eq!(stored_ids, written_ids, "nothing lost, nothing extra");
    }

    pub async fn idempotent_retry<B: Backend>(backend: B) {
        let store = backend.open().await;
        let batch = vec![added_event("i", 1), added_event("i", 2), added_event("i", 3)];
        let first = store.append("Counters-i", ExpectedVersion::NoStream, batch.clone()).await.unwrap();
        store.append("Counters-other", ExpectedVersion::Any, vec![added_event("o", 1)]).await.unwrap();
        // The same batch again, even with an expectation that no longer holds: the original result.
        assert_eq!(store.append("Counters-i", ExpectedVersion::NoStream, batch.clone()).await.unwrap(), first);
        assert_eq!(store.append("Counters-i", ExpectedVersion::Any, batch.clone()).await.unwrap(), first);
        assert_eq!(store.stream_version("Counters-i").await.unwrap(), 3);
        assert_eq!(store.read_all(1, 100).await.unwrap().len(), 4);
        // A batch that only partly repeats, or repeats on another stream, is refused.
        let partial = vec![batch[0].clone(), added_event("i", 9)];
        assert!(matches!(
            store.append("Counters-i", ExpectedVersion::Any, partial).await,
            Err(Error::DuplicateEventId { .. })
        ));
        assert!(matches!(
            store.append("Counters-elsewhere", ExpectedVersion::Any, vec![batch[1].clone()]).await,
            Err(Error::DuplicateEventId { .. })
        ));
        let reordered = vec![batch[1].clone(), batch[0].clone()];
        assert!(matches!(
            store.append("Counters-i", ExpectedVersion::Any, reordered).await,
            Err(Error::DuplicateEventId { .. })
        ));
        assert_eq!(store.read_all(1, 100).await.unwrap().len(), 4);

        // Through the Sink: the same event id sends once and returns the first receipt.
        let options = SendOptions { event_id: Some(eventfold::uuid::Uuid::now_v7()), ..SendOptions::default() };
        let receipt = store.send(Counter::added("s", 5), options.clone()).await.unwrap();
        assert_eq!(receipt.stream_id, "Counters-s");
        assert_eq!(receipt.stream_version, 1);
        assert_eq!(store.send(Counter::added("s", 5), options).await.unwrap(), receipt);
        assert_eq!(store.stream_version("Counters-s").await.unwrap(), 1);
    }

    pub async fn read_all_order<B: Backend>(backend: B) {
        let store = backend.open().await;
        let mut expected = Vec::new();
        for round in 0..5 {
            for stream in ["p", "q", "r"] {
                let events: Vec<NewEvent> = (0..=round % 2).map(|_| added_event(stream, round)).collect();
                for event in &events {
                    expected.push(event.event_id);
                }
                store.append(&format!("Counters-{stream}"), ExpectedVersion::Any, events).await.unwrap();
            }
        }
        let all = store.read_all(1, 1000).await.unwrap();
        assert_eq!(all.iter().map(|e| e.event_id).collect::<Vec<_>>(), expected);
        assert!(all.windows(2).all(|w| w[0].global_position < w[1].global_position));
        // Paging from a position gives the same sequence.
        let mut paged = Vec::new();
        let mut from = 1;
        loop {
            let page = store.read_all(from, 4).await.unwrap();
            let Some(last) = page.last() else { break };
            from = last.global_position + 1;
            paged.extend(page.into_iter().map(|e| e.event_id));
        }
        assert_eq!(paged, expected);
        let tail = store.read_all(all[5].global_position, 1000).await.unwrap();
        assert_eq!(tail.len(), all.len() - 5);
    }

    pub async fn subscription_catch_up_then_live<B: Backend>(backend: B) {
        let store = backend.open().await;
        for n in 0..5 {
            store.append("Counters-live", ExpectedVersion::Any, vec![added_event("live", n)]).await.unwrap();
            store
                .append("Other-live", ExpectedVersion::Any, vec![NewEvent::new("Noise", b"{}".to_vec())])
                .await
                .unwrap();
        }
        let mut all = store.subscribe(StartFrom::Beginning, Filter::All);
        let mut counters = store.subscribe(StartFrom::Beginning, Filter::Channel("Counters".to_owned()));
        let mut live_only = store.subscribe(StartFrom::End, Filter::All);
        let mut seen = Vec::new();
        for _ in 0..5 {
            seen.push(within(counters.next()).await.unwrap().stream_version);
        }
        assert_eq!(seen, vec![1, 2, 3, 4, 5]);
        for _ in 0..10 {
            within(all.next()).await.unwrap();
        }
        assert!(all.try_next().await.unwrap().is_none());
        // StartFrom::End resolves to the head on first use.
        assert!(live_only.try_next().await.unwrap().is_none());

        let writer = {
            let store = store.clone();
            tokio::spawn(async move {
                for n in 5..10 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    store.append("Counters-live", ExpectedVersion::Any, vec![added_event("live", n)]).await.unwrap();
                }
            })
        };
        for version in 6..=10 {
            let event = within(counters.next()).await.unwrap();
            assert_eq!((event.stream_id.as_str(), event.stream_version), ("Counters-live", version));
        }
        for version in 6..=10 {
            assert_eq!(within(live_only.next()).await.unwrap().stream_version, version);
        }
        within(writer).await.unwrap();
        let mut last = 0;
        for _ in 0..5 {
            let event = within(all.next()).await.unwrap();
            assert!(event.global_position > last);
            last = event.global_position;
        }
        assert_eq!(all.last_delivered(), Some(store.head_position().await.unwrap()));
    }

    pub async fn resume_from_checkpoint<B: Backend>(backend: B) {
        {
            let store = backend.open().await;
            for n in 1..=6 {
                store.send(Counter::added(&format!("c{}", n % 2), n), SendOptions::default()).await.unwrap();
            }
            let mut sub = TypedSubscription::<_, Counter>::durable(store.clone(), "resume-test").await.unwrap();
            for expected in 1..=3 {
                let envelope = within(sub.next()).await.unwrap().unwrap();
                assert!(matches!(&envelope.message, Counter::Added(m) if m.amount == expected));
                sub.ack(&envelope).await.unwrap();
            }
            // The fourth is received but not acknowledged: it comes again after the restart.
            let unacked = within(sub.next()).await.unwrap().unwrap();
            assert!(matches!(&unacked.message, Counter::Added(m) if m.amount == 4));
        }
        let store = backend.open().await;
        assert_eq!(store.load_checkpoint("resume-test").await.unwrap(), Some(3));
        assert_eq!(store.load_checkpoint("never-saved").await.unwrap(), None);
        let mut sub = TypedSubscription::<_, Counter>::durable(store.clone(), "resume-test").await.unwrap();
        let mut amounts = Vec::new();
        for _ in 0..3 {
            let envelope = within(sub.next()).await.unwrap().unwrap();
            if let Counter::Added(m) = &envelope.message {
                amounts.push(m.amount);
            }
            sub.ack(&envelope).await.unwrap();
        }
        assert_eq!(amounts, vec![4, 5, 6], "no gap and no repeat of acknowledged events");
        store.send(Counter::reset("c0"), SendOptions::default()).await.unwrap();
        let live = within(sub.next()).await.unwrap().unwrap();
        assert_eq!(live.message, Counter::reset("c0"));
        assert_eq!(live.stream_id, "Counters-c0");
    }

    pub async fn undecodable_records<B: Backend>(backend: B) {
        let store = backend.open().await;
        let s = "Counters-bad";
        store.append(s, ExpectedVersion::Any, vec![added_event("bad", 1)]).await.unwrap();
        store
            .append(s, ExpectedVersion::Any, vec![NewEvent::new("Renamed", br#"{"counter":"bad"}"#.to_vec())])
            .await
            .unwrap();
        store
            .append(s, ExpectedVersion::Any, vec![NewEvent::new("Added", br#"{"counter":5}"#.to_vec())])
            .await
            .unwrap();
        store.append(s, ExpectedVersion::Any, vec![NewEvent::new("Added", b"not json".to_vec())]).await.unwrap();
        store.append(s, ExpectedVersion::Any, vec![added_event("bad", 2)]).await.unwrap();

        let mut strict = TypedSubscription::<_, Counter>::new(store.clone(), StartFrom::Beginning);
        assert!(within(strict.next()).await.unwrap().is_ok());
        match within(strict.next()).await.unwrap() {
            Err(Error::UnknownMessage { stream_id, stream_version, message_name, .. }) => {
                assert_eq!((stream_id.as_str(), stream_version, message_name.as_str()), (s, 2, "Renamed"));
            }
            other => panic!("expected an unknown message error, got {other:?}"),
        }
        match within(strict.next()).await.unwrap() {
            Err(error @ Error::Decode { .. }) => {
                let text = error.to_string();
                assert!(text.contains(s) && text.contains("version 3"), "{text}");
            }
            other => panic!("expected a decode error, got {other:?}"),
        }
        assert!(matches!(within(strict.next()).await.unwrap(), Err(Error::Decode { stream_version: 4, .. })));
        assert!(within(strict.next()).await.unwrap().is_ok());

        let mut lenient =
            TypedSubscription::<_, Counter>::new(store.clone(), StartFrom::Beginning).with_policy(DecodePolicy::Skip);
        let first = within(lenient.next()).await.unwrap().unwrap();
        let second = within(lenient.next()).await.unwrap().unwrap();
        assert_eq!((first.stream_version, second.stream_version), (1, 5));
        assert_eq!(lenient.skipped(), 3);
        // Nothing stored was changed or lost.
        let raw = store.read_stream(s, 1, 10).await.unwrap();
        assert_eq!(raw.len(), 5);
        assert_eq!(raw[3].payload, b"not json");
    }

    pub async fn snapshots<B: Backend>(backend: B) {
        let store = backend.open().await;
        assert_eq!(store.load_snapshot("Counters-a", "State").await.unwrap(), None);
        let snapshot = StoredSnapshot { schema_version: 2, stream_version: 7, state: br#"{"total":3}"#.to_vec() };
        store.save_snapshot("Counters-a", "State", snapshot.clone()).await.unwrap();
        let newer = StoredSnapshot { stream_version: 9, ..snapshot.clone() };
        store.save_snapshot("Counters-a", "Other", newer.clone()).await.unwrap();
        let store = backend.open().await;
        assert_eq!(store.load_snapshot("Counters-a", "State").await.unwrap(), Some(snapshot));
        store.save_snapshot("Counters-a", "State", newer.clone()).await.unwrap();
        assert_eq!(store.load_snapshot("Counters-a", "State").await.unwrap(), Some(newer));
    }
}

macro_rules! conformance {
    ($module:ident, $backend:expr) => {
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn ordering() {
                suite::ordering($backend).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn expected_version() {
                suite::expected_version($backend).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_writers() {
                suite::concurrent_writers($backend).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn idempotent_retry() {
                suite::idempotent_retry($backend).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn read_all_order() {
                suite::read_all_order($backend).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn subscription_catch_up_then_live() {
                suite::subscription_catch_up_then_live($backend).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn resume_from_checkpoint() {
                suite::resume_from_checkpoint($backend).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn undecodable_records() {
                suite::undecodable_records($backend).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn snapshots() {
                suite::snapshots($backend).await
            }
        }
    };
}

conformance!(conformance_memory, MemoryBackend::new());
#[cfg(feature = "sqlite")]
conformance!(conformance_sqlite, SqliteBackend::new());
#[cfg(feature = "nats")]
conformance!(conformance_nats, NatsBackend::from_env().await);
#[cfg(feature = "postgres")]
conformance!(conformance_postgres, PostgresBackend::from_env().await);
