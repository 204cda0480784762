//! Fold, replay, rebuild, snapshots, decide, projections and store URLs, on memory and SQLite.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use common::{added_event, within, Counter};
use eventfold::{
    open, Aggregate, AnyStore, CheckpointStore, Decide, DecodePolicy, Envelope, Error, EventStore, ExpectedVersion,
    HandlerError, NewEvent, Projection, Projector, SendOptions, Sink, SnapshotState, SnapshotStore, StoredSnapshot,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct Tally {
    total: i64,
    resets: u32,
    events: u64,
}

impl Aggregate for Tally {
    type Message = Counter;
    fn apply(&mut self, envelope: &Envelope<Counter>) {
        self.events += 1;
        match &envelope.message {
            Counter::Added(m) => self.total += m.amount,
            Counter::Reset(_) => {
                self.total = 0;
                self.resets += 1;
            }
        }
    }
}

impl SnapshotState for Tally {
    const STATE_NAME: &'static str = "Tally";
    const SCHEMA_VERSION: u32 = 1;
}

/// The same state name with a new schema: must not read `Tally`'s snapshots.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct TallyV2 {
    sum: i64,
}

impl Aggregate for TallyV2 {
    type Message = Counter;
    fn apply(&mut self, envelope: &Envelope<Counter>) {
        match &envelope.message {
            Counter::Added(m) => self.sum += m.amount,
            Counter::Reset(_) => self.sum = 0,
        }
    }
}

impl SnapshotState for TallyV2 {
    const STATE_NAME: &'static str = "Tally";
    const SCHEMA_VERSION: u32 = 2;
}

#[derive(Debug, thiserror::Error)]
#[error("amount must be positive, got {0}")]
struct NotPositive(i64);

impl Decide for Tally {
    type Command = i64;
    type Rejection = NotPositive;
    fn decide(&self, amount: &i64) -> Result<Vec<Counter>, NotPositive> {
        if *amount <= 0 {
            return Err(NotPositive(*amount));
        }
        Ok(vec![Counter::added("cmd", *amount)])
    }
}

/// A memory store and a SQLite store (with the directory that holds it).
async fn stores() -> Vec<(AnyStore, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("fold.db").display());
    vec![(open("memory:").await.unwrap(), None), (open(&url).await.unwrap(), Some(dir))]
}

async fn send(store: &AnyStore, message: Counter) {
    store.send(message, SendOptions::default()).await.unwrap();
}

#[tokio::test]
async fn fold_over_an_iterator_and_by_correlation() {
    let store = open("memory:").await.unwrap();
    for message in [Counter::added("a", 2), Counter::added("b", 5), Counter::added("a", 3), Counter::reset("b")] {
        send(&store, message).await;
    }
    let envelopes: Vec<Envelope<Counter>> =
        store.read_all(1, 100).await.unwrap().iter().map(|r| r.decode::<Counter>().unwrap()).collect();
    let all: Tally = eventfold::fold(&envelopes);
    assert_eq!(all, Tally { total: 0, resets: 1, events: 4 });
    let by_entity = eventfold::fold_by_correlation::<Tally, _>(&envelopes);
    assert_eq!(by_entity.keys().collect::<Vec<_>>(), vec!["a", "b"]);
    assert_eq!(by_entity["a"].total, 5);
    assert_eq!(by_entity["b"], Tally { total: 0, resets: 1, events: 2 });
    let more = eventfold::fold_onto(by_entity["a"].clone(), envelopes.into_iter().take(1));
    assert_eq!(more.total, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_and_rebuild_all() {
    for (store, _dir) in stores().await {
        let (empty, version): (Tally, u64) = eventfold::replay(&store, "Counters-a").await.unwrap();
        assert_eq!((empty, version), (Tally::default(), 0));
        for message in [Counter::added("a", 1), Counter::added("b", 10), Counter::added("a", 2), Counter::added("c", 7)]
        {
            send(&store, message).await;
        }
        store.append("Elsewhere-a", ExpectedVersion::Any, vec![NewEvent::new("Noise", b"{}".to_vec())]).await.unwrap();
        let (a, version): (Tally, u64) = eventfold::replay(&store, "Counters-a").await.unwrap();
        assert_eq!((a.total, version), (3, 2), "{}", store.backend());
        let all = eventfold::rebuild_all::<Tally, _>(&store, DecodePolicy::Fail).await.unwrap();
        let totals: Vec<(&str, i64)> = all.iter().map(|(k, v)| (k.as_str(), v.total)).collect();
        assert_eq!(totals, vec![("a", 3), ("b", 10), ("c", 7)]);

        // A record from a newer producer: an error naming the place, or skipped by policy.
        store.append("Counters-a", ExpectedVersion::Any, vec![NewEvent::new("Renamed", b"{}".to_vec())]).await.unwrap();
        let err = eventfold::replay::<Tally, _>(&store, "Counters-a").await.unwrap_err();
        assert!(
            matches!(err, Error::UnknownMessage { ref stream_id, stream_version: 3, .. } if stream_id == "Counters-a")
        );
        assert!(eventfold::rebuild_all::<Tally, _>(&store, DecodePolicy::Fail).await.is_err());
        let (a, version): (Tally, u64) =
            eventfold::replay_with(&store, "Counters-a", DecodePolicy::Skip).await.unwrap();
        assert_eq!((a.total, version), (3, 3), "the version counts the skipped record");
        assert_eq!(eventfold::rebuild_all::<Tally, _>(&store, DecodePolicy::Skip).await.unwrap().len(), 3);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_every_n_events_with_schema_version() {
    for (store, _dir) in stores().await {
        let s = "Counters-snap";
        for n in 1..=5 {
            send(&store, Counter::added("snap", n)).await;
        }
        // Fewer than `every` events: no snapshot.
        let (state, version): (Tally, u64) =
            eventfold::replay_snapshotted(&store, s, 10, DecodePolicy::Fail).await.unwrap();
        assert_eq!((state.total, version), (15, 5));
        assert_eq!(store.load_snapshot(s, "Tally").await.unwrap(), None);
        let (_, _): (Tally, u64) = eventfold::replay_snapshotted(&store, s, 3, DecodePolicy::Fail).await.unwrap();
        let saved = store.load_snapshot(s, "Tally").await.unwrap().unwrap();
        assert_eq!((saved.schema_version, saved.stream_version), (1, 5));

        // The snapshot is used: plant a distinctive one and see it in the result.
        let planted = Tally { total: 1000, resets: 0, events: 5 };
        let state = serde_json::to_vec(&planted).unwrap();
        store.save_snapshot(s, "Tally", StoredSnapshot { schema_version: 1, stream_version: 5, state }).await.unwrap();
        send(&store, Counter::added("snap", 1)).await;
        let (state, version): (Tally, u64) =
            eventfold::replay_snapshotted(&store, s, 100, DecodePolicy::Fail).await.unwrap();
        assert_eq!((state.total, state.events, version), (1001, 6, 6));

        // A changed state type ignores the old schema's snapshot and replays everything.
        let (v2, version): (TallyV2, u64) =
            eventfold::replay_snapshotted(&store, s, 0, DecodePolicy::Fail).await.unwrap();
        assert_eq!((v2.sum, version), (16, 6));
        // A snapshot that does not decode, or is ahead of the stream, is ignored too.
        for bad in [
            StoredSnapshot { schema_version: 1, stream_version: 5, state: b"{\"total\":\"x\"}".to_vec() },
            StoredSnapshot { schema_version: 1, stream_version: 99, state: serde_json::to_vec(&planted).unwrap() },
        ] {
            store.save_snapshot(s, "Tally", bad).await.unwrap();
            let (state, _): (Tally, u64) =
                eventfold::replay_snapshotted(&store, s, 0, DecodePolicy::Fail).await.unwrap();
            assert_eq!(state.total, 16);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_decides_and_appends_with_optimistic_concurrency() {
    for (store, _dir) in stores().await {
        let done = eventfold::execute::<Tally, _>(&store, "cmd", &4, 0).await.unwrap();
        assert_eq!((done.state.total, done.version, done.events.len()), (4, 1, 1));
        assert!(matches!(eventfold::execute::<Tally, _>(&store, "cmd", &-1, 0).await, Err(Error::Rejected { .. })));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move { eventfold::execute::<Tally, _>(&store, "cmd", &1, 100).await }));
        }
        for task in tasks {
            within(task).await.unwrap().unwrap();
        }
        let (state, version): (Tally, u64) = eventfold::replay(&store, "Counters-cmd").await.unwrap();
        assert_eq!((state.total, version), (12, 9));
    }
}

/// A projection that records totals and every event id it was given.
#[derive(Default)]
struct Totals {
    totals: std::collections::BTreeMap<String, i64>,
    seen: Arc<Mutex<Vec<eventfold::uuid::Uuid>>>,
    fail_on_amount: Option<i64>,
}

impl Projection for Totals {
    type Message = Counter;
    async fn apply(&mut self, envelope: &Envelope<Counter>) -> Result<(), HandlerError> {
        if let Counter::Added(m) = &envelope.message {
            if Some(m.amount) == self.fail_on_amount {
                return Err("refusing this amount".into());
            }
            *self.totals.entry(m.counter.clone()).or_default() += m.amount;
        }
        self.seen.lock().unwrap().push(envelope.event_id);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projection_resumes_from_its_checkpoint() {
    for (store, _dir) in stores().await {
        let seen = Arc::new(Mutex::new(Vec::new()));
        for n in 1..=5 {
            send(&store, Counter::added(["x", "y"][n as usize % 2], n)).await;
        }
        store.append("Elsewhere-1", ExpectedVersion::Any, vec![NewEvent::new("Noise", b"{}".to_vec())]).await.unwrap();
        let projection = Totals { seen: seen.clone(), fail_on_amount: Some(7), ..Totals::default() };
        let mut projector = Projector::new(store.clone(), "totals", projection).await.unwrap().with_page_size(2);
        assert_eq!(projector.catch_up().await.unwrap(), 5);
        assert_eq!(store.load_checkpoint("totals").await.unwrap(), Some(6));
        send(&store, Counter::added("x", 6)).await;
        send(&store, Counter::added("x", 7)).await;
        send(&store, Counter::added("x", 8)).await;
        // The failing event stops the projector, checkpointed just before it.
        let err = projector.catch_up().await.unwrap_err();
        assert!(matches!(err, Error::Handler { stream_version: 4, .. }), "{err}");
        assert_eq!(store.load_checkpoint("totals").await.unwrap(), Some(7));
        drop(projector);

        // "Restart": a new projector resumes after the checkpoint, with no gap.
        let projection = Totals { seen: seen.clone(), ..Totals::default() };
        let mut projector = Projector::new(store.clone(), "totals", projection).await.unwrap();
        assert_eq!(projector.position(), 7);
        assert_eq!(projector.catch_up().await.unwrap(), 2);
        assert_eq!(projector.projection().totals.get("x"), Some(&15));
        let ids: Vec<_> = seen.lock().unwrap().clone();
        let unique: HashSet<_> = ids.iter().collect();
        assert_eq!((ids.len(), unique.len()), (8, 8), "every event once, none twice");

        // A crash after applying but before saving the checkpoint re-delivers: detectable by id.
        store.save_checkpoint("totals", 2).await.unwrap();
        let mut projector =
            Projector::new(store.clone(), "totals", Totals { seen: seen.clone(), ..Totals::default() }).await.unwrap();
        projector.catch_up().await.unwrap();
        let ids: Vec<_> = seen.lock().unwrap().clone();
        let unique: HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), 8, "the repeats carry the same event ids");
        assert_eq!(ids.len(), 8 + 6);

        // Live: run_until follows new appends.
        let head = store.head_position().await.unwrap();
        let writer = {
            let store = store.clone();
            tokio::spawn(async move { send(&store, Counter::added("z", 1)).await })
        };
        within(projector.run_until(head + 1)).await.unwrap();
        within(writer).await.unwrap();
        assert_eq!(projector.projection().totals.get("z"), Some(&1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_are_chosen_by_url() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("url.db");
    for url in [format!("sqlite:{}", path.display()), format!("sqlite://{}?synchronous=normal", path.display())] {
        let store = open(&url).await.unwrap();
        assert_eq!(store.backend(), "sqlite");
        store.append("Counters-u", ExpectedVersion::Any, vec![added_event("u", 1)]).await.unwrap();
    }
    let store = open(&format!("sqlite:{}", path.display())).await.unwrap();
    assert_eq!(store.stream_version("Counters-u").await.unwrap(), 2, "the file kept both runs' events");
    assert_eq!(open("sqlite::memory:").await.unwrap().head_position().await.unwrap(), 0);
    assert_eq!(open("memory:").await.unwrap().backend(), "memory");
    for url in ["redis://x", "no-scheme", "sqlite:", "sqlite:x.db?fsync=no"] {
        match open(url).await {
            Err(error @ Error::UnsupportedStore { .. }) => assert!(error.to_string().contains(url), "{error}"),
            other => panic!("{url}: expected UnsupportedStore, got {other:?}"),
        }
    }
    // A backend that is not compiled in says which cargo feature brings it.
    let absent: &[(&str, &str)] = &[
        #[cfg(not(feature = "nats"))]
        ("nats://localhost:4222", "feature `nats`"),
        #[cfg(not(feature = "postgres"))]
        ("postgres://localhost/db", "feature `postgres`"),
        #[cfg(not(feature = "postgres"))]
        ("postgresql://localhost/db", "feature `postgres`"),
    ];
    for (url, feature) in absent {
        match open(url).await {
            Err(error @ Error::UnsupportedStore { .. }) => {
                let text = error.to_string();
                assert!(text.contains(url) && text.contains(feature), "{text}");
            }
            other => panic!("{url}: expected UnsupportedStore, got {other:?}"),
        }
    }
}
