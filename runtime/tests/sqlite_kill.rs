//! A process appending to SQLite is killed (SIGKILL) mid-append; the store must open intact,
//! hold every batch it acknowledged, and hold no partial batch.
//!
//! The writer is this test binary run again with `EVENTFOLD_KILL_TEST_DB` set: the
//! `kill_test_child_writer` test then appends batches forever, printing `ACK round batch` after
//! each append returned. Without the variable that test does nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use eventfold::{EventStore, ExpectedVersion, NewEvent, SqliteStore};

const CHILD_ENV: &str = "EVENTFOLD_KILL_TEST_DB";
const ROUND_ENV: &str = "EVENTFOLD_KILL_TEST_ROUND";
const BATCH: u128 = 8;
const ROUNDS: u128 = 3;
const ACKS_BEFORE_KILL: usize = 15;

fn event_id(round: u128, batch: u128, index: u128) -> eventfold::uuid::Uuid {
    eventfold::uuid::Uuid::from_u128((round << 96) | (batch << 32) | index | (1 << 127))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_test_child_writer() {
    let Ok(path) = std::env::var(CHILD_ENV) else { return };
    let round: u128 = std::env::var(ROUND_ENV).unwrap().parse().unwrap();
    let store = SqliteStore::open(path).await.unwrap();
    let mut out = std::io::stdout();
    for batch in 0u128.. {
        let events: Vec<NewEvent> = (0..BATCH)
            .map(|index| {
                let payload = format!(r#"{{"counter":"{round}-{batch}","amount":{index}}}"#);
                NewEvent::new("Added", payload.into_bytes())
                    .with_event_id(event_id(round, batch, index))
                    .with_correlation_id(format!("{round}-{batch}"))
            })
            .collect();
        store.append(&format!("Counters-{}", batch % 3), ExpectedVersion::Any, events).await.unwrap();
        writeln!(out, "ACK {round} {batch}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn sqlite_store_survives_kill_mid_append() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("killed.db");
    let mut acked: BTreeSet<(u128, u128)> = BTreeSet::new();
    for round in 0..ROUNDS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["kill_test_child_writer", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .env(ROUND_ENV, round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let parse = |line: &str, acked: &mut BTreeSet<(u128, u128)>| -> bool {
            let Some(rest) = line.strip_prefix("ACK ") else { return false };
            let mut parts = rest.split(' ').map(|n| n.parse::<u128>().unwrap());
            acked.insert((parts.next().unwrap(), parts.next().unwrap()));
            true
        };
        let mut this_round = 0;
        for line in lines.by_ref() {
            if parse(&line.unwrap(), &mut acked) {
                this_round += 1;
                if this_round == ACKS_BEFORE_KILL {
                    break;
                }
            }
        }
        assert_eq!(this_round, ACKS_BEFORE_KILL, "the writer stopped early");
        child.kill().unwrap(); // SIGKILL: no destructor, no rollback, no flush runs.
        child.wait().unwrap();
        // Acknowledgements already in the pipe count too.
        for line in lines {
            let Ok(line) = line else { break };
            parse(&line, &mut acked);
        }
    }

    let conn = rusqlite::Connection::open(&path).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap();
    assert_eq!(check, "ok");
    drop(conn);

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let store = SqliteStore::open(&path).await.unwrap();
        let mut all = Vec::new();
        let mut from = 1;
        loop {
            let page = store.read_all(from, 500).await.unwrap();
            let Some(last) = page.last() else { break };
            from = last.global_position + 1;
            all.extend(page);
        }
        let mut batches: BTreeMap<String, Vec<&eventfold::RecordedEvent>> = BTreeMap::new();
        for event in &all {
            batches.entry(event.correlation_id.clone().unwrap()).or_default().push(event);
        }
        for (key, events) in &batches {
            let (round, batch) = key.split_once('-').unwrap();
            let (round, batch): (u128, u128) = (round.parse().unwrap(), batch.parse().unwrap());
            assert_eq!(events.len() as u128, BATCH, "batch {key} is partial");
            for (index, event) in events.iter().enumerate() {
                assert_eq!(event.event_id, event_id(round, batch, index as u128));
                assert_eq!(event.stream_id, events[0].stream_id);
                assert_eq!(event.stream_version, events[0].stream_version + index as u64);
                assert_eq!(event.global_position, events[0].global_position + index as u64);
            }
        }
        for (round, batch) in &acked {
            assert!(batches.contains_key(&format!("{round}-{batch}")), "acknowledged batch {round}-{batch} is lost");
        }
        for stream in 0..3 {
            let events = store.read_stream(&format!("Counters-{stream}"), 1, 100_000).await.unwrap();
            assert!(
                events.iter().zip(1..).all(|(e, v)| e.stream_version == v),
                "versions of stream {stream} have a gap"
            );
        }
        assert!(acked.len() >= ACKS_BEFORE_KILL * ROUNDS as usize);
        eprintln!("{} batches acknowledged, {} stored", acked.len(), batches.len());
        // The store is writable again after the kills.
        store
            .append(
                "Counters-0",
                ExpectedVersion::Any,
                vec![NewEvent::new("Added", br#"{"counter":"z","amount":1}"#.to_vec())],
            )
            .await
            .unwrap();
    });
}
