//! The in-process store (`memory:`): for tests, examples and short-lived tools.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{
    check_batch, idempotent_result, AppendResult, CheckpointStore, EventStore, ExpectedVersion, NewEvent, Notifier,
    RecordedEvent, SnapshotStore, StoredAt, StoredSnapshot,
};
use crate::error::Error;

/// A store held in memory; clones share it. Nothing survives the process.
///
/// It gives the same guarantees as every store (atomic batches, optimistic concurrency,
/// idempotent appends, gap-free global order) and keeps checkpoints and snapshots beside the
/// events.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
    notifier: Notifier,
}

#[derive(Debug, Default)]
struct Inner {
    /// All events; the event at index `i` has global position `i + 1`.
    events: Vec<RecordedEvent>,
    /// For each stream, the indexes of its events in version order.
    streams: HashMap<String, Vec<usize>>,
    /// Event id to index.
    by_id: HashMap<uuid::Uuid, usize>,
    checkpoints: HashMap<String, u64>,
    snapshots: HashMap<(String, String), StoredSnapshot>,
}

impl MemoryStore {
    /// A new, empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock means a panic elsewhere while it was held; every mutation below is
        // completed before anything that could panic, so the data is still consistent.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn append_now(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, Error> {
        check_batch(stream_id, &events)?;
        let mut inner = self.lock();
        let found: Vec<Option<StoredAt>> = events
            .iter()
            .map(|event| {
                inner.by_id.get(&event.event_id).and_then(|&index| inner.events.get(index)).map(|stored| StoredAt {
                    stream_id: stored.stream_id.clone(),
                    stream_version: stored.stream_version,
                    global_position: stored.global_position,
                })
            })
            .collect();
        if let Some(result) = idempotent_result(stream_id, &events, &found)? {
            return Ok(result);
        }
        let actual = inner.streams.get(stream_id).map_or(0, |indexes| indexes.len() as u64);
        if !expected.allows(actual) {
            return Err(Error::Conflict { stream_id: stream_id.to_owned(), expected, actual });
        }
        let timestamp = time::OffsetDateTime::now_utc();
        let first_position = inner.events.len() as u64 + 1;
        let count = events.len() as u64;
        for (offset, event) in events.into_iter().enumerate() {
            let index = inner.events.len();
            inner.by_id.insert(event.event_id, index);
            inner.events.push(RecordedEvent {
                stream_id: stream_id.to_owned(),
                stream_version: actual + offset as u64 + 1,
                global_position: index as u64 + 1,
                event_id: event.event_id,
                message_name: event.message_name,
                timestamp,
                correlation_id: event.correlation_id,
                causation_id: event.causation_id,
                headers: event.headers,
                payload: event.payload,
            });
            inner.streams.entry(stream_id.to_owned()).or_default().push(index);
        }
        let last_position = first_position + count - 1;
        drop(inner);
        self.notifier.advance(last_position);
        Ok(AppendResult {
            stream_id: stream_id.to_owned(),
            first_version: actual + 1,
            version: actual + count,
            first_position,
            last_position,
        })
    }
}

fn to_index(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl EventStore for MemoryStore {
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, Error> {
        self.append_now(stream_id, expected, events)
    }

    async fn read_stream(&self, stream_id: &str, from_version: u64, limit: usize) -> Result<Vec<RecordedEvent>, Error> {
        let inner = self.lock();
        let Some(indexes) = inner.streams.get(stream_id) else { return Ok(Vec::new()) };
        let skip = to_index(from_version.max(1) - 1);
        Ok(indexes.iter().skip(skip).take(limit).filter_map(|&index| inner.events.get(index).cloned()).collect())
    }

    async fn read_all(&self, from_position: u64, limit: usize) -> Result<Vec<RecordedEvent>, Error> {
        let inner = self.lock();
        let skip = to_index(from_position.max(1) - 1);
        Ok(inner.events.iter().skip(skip).take(limit).cloned().collect())
    }

    async fn stream_version(&self, stream_id: &str) -> Result<u64, Error> {
        Ok(self.lock().streams.get(stream_id).map_or(0, |indexes| indexes.len() as u64))
    }

    async fn head_position(&self) -> Result<u64, Error> {
        Ok(self.lock().events.len() as u64)
    }

    async fn wait_for_new(&self, position: u64) -> Result<(), Error> {
        self.notifier.wait_past(position).await;
        Ok(())
    }
}

impl CheckpointStore for MemoryStore {
    async fn load_checkpoint(&self, name: &str) -> Result<Option<u64>, Error> {
        Ok(self.lock().checkpoints.get(name).copied())
    }

    async fn save_checkpoint(&self, name: &str, position: u64) -> Result<(), Error> {
        self.lock().checkpoints.insert(name.to_owned(), position);
        Ok(())
    }
}

impl SnapshotStore for MemoryStore {
    async fn load_snapshot(&self, stream_id: &str, state_name: &str) -> Result<Option<StoredSnapshot>, Error> {
        Ok(self.lock().snapshots.get(&(stream_id.to_owned(), state_name.to_owned())).cloned())
    }

    async fn save_snapshot(&self, stream_id: &str, state_name: &str, snapshot: StoredSnapshot) -> Result<(), Error> {
        self.lock().snapshots.insert((stream_id.to_owned(), state_name.to_owned()), snapshot);
        Ok(())
    }
}
