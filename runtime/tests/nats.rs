//! NATS JetStream store: the batch guarantee, subjects, restarts (`EVENTFOLD_NATS_URL`, and a
//! private nats-server this test starts on a free loopback port).

mod common;

use std::collections::HashSet;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{added_event, nats, within, Counter};
use eventfold::{Error, EventStore, ExpectedVersion, NatsOptions, NatsStore, NewEvent, Subscription};

/// A store in a fresh namespace, deleted at the end of the test.
struct Fresh {
    url: String,
}

impl Fresh {
    fn new(extra: &str) -> Self {
        let url = nats::with_param(&nats::url(), "namespace", &nats::unique_namespace());
        Fresh { url: if extra.is_empty() { url } else { format!("{url}&{extra}") } }
    }

    async fn open(&self) -> NatsStore {
        nats::open(&self.url).await
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        nats::destroy(std::mem::take(&mut self.url));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_batch_is_checked_per_message_not_atomic() {
    let fresh = Fresh::new("");
    let store = fresh.open().await;
    let stream = "Counters-batch";
    // The third event is larger than the server's max_payload: it is refused after the first two
    // were stored, and the error says so.
    let mut batch: Vec<NewEvent> = (1..=4).map(|n| added_event("batch", n)).collect();
    let small_third = batch[2].clone();
    batch[2].payload = format!(r#"{{"counter":"batch","amount":3,"pad":"{}"}}"#, "x".repeat(2 << 20)).into_bytes();
    let error = store.append(stream, ExpectedVersion::NoStream, batch.clone()).await.unwrap_err();
    let text = error.to_string();
    assert!(text.contains(stream) && text.contains("versions 1..=2 of the batch are stored"), "{text}");
    // The prefix is stored and visible: a JetStream batch is not atomic.
    let stored = store.read_stream(stream, 1, 10).await.unwrap();
    assert_eq!(stored.iter().map(|e| e.event_id).collect::<Vec<_>>(), vec![batch[0].event_id, batch[1].event_id]);
    assert_eq!(stored.iter().map(|e| e.stream_version).collect::<Vec<_>>(), vec![1, 2]);

    // Retrying the batch (same event ids) appends only what is missing, once.
    batch[2] = small_third;
    let completed = store.append(stream, ExpectedVersion::NoStream, batch.clone()).await.unwrap();
    assert_eq!((completed.first_version, completed.version), (1, 4));
    assert_eq!(store.append(stream, ExpectedVersion::Any, batch.clone()).await.unwrap(), completed);
    let stored = store.read_stream(stream, 1, 10).await.unwrap();
    assert_eq!(
        stored.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        batch.iter().map(|e| e.event_id).collect::<Vec<_>>()
    );
    assert_eq!(stored.iter().map(|e| e.stream_version).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    assert_eq!(store.read_all(1, 100).await.unwrap().len(), 4, "nothing stored twice");
    assert_eq!(
        (completed.first_position, completed.last_position),
        (stored[0].global_position, stored[3].global_position)
    );

    // A conflict on the first event writes nothing, and does not use up the event id.
    let fresh_event = added_event("batch", 5);
    assert!(matches!(
        store.append(stream, ExpectedVersion::Exact(3), vec![fresh_event.clone(), added_event("batch", 6)]).await,
        Err(Error::Conflict { actual: 4, .. })
    ));
    assert_eq!(store.stream_version(stream).await.unwrap(), 4);
    assert_eq!(store.append(stream, ExpectedVersion::Exact(4), vec![fresh_event]).await.unwrap().version, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_subjects_are_escaped_tokens() {
    let options = NatsOptions::new("nats://127.0.0.1:4222").namespace("ns");
    assert_eq!(options.subject("Orders-42"), "ns.Orders.42");
    assert_eq!(options.subject("Orders-a b.c*>"), "ns.Orders.a_20b_2Ec_2A_3E");
    assert_eq!(options.subject("Orders-x_y"), "ns.Orders.x_5Fy");
    assert_eq!(options.subject("Orders-"), "ns.Orders._");
    assert_eq!(options.subject("Orders"), "ns.Orders");
    assert_eq!(options.subject("Orders-é"), "ns.Orders._C3_A9");
    assert_eq!(options.channel_subjects("Orders"), "ns.Orders.>");

    let fresh = Fresh::new("");
    let store = fresh.open().await;
    let ids =
        ["Orders-a b.c*>", "Orders-x_y", "Orders-x_5Fy", "Orders-", "Orders", "Orders-é", "Orders-a-b", "Orders-a.b"];
    for id in ids {
        store.append(id, ExpectedVersion::NoStream, vec![NewEvent::new("Noise", b"{}".to_vec())]).await.unwrap();
    }
    for id in ids {
        let events = store.read_stream(id, 1, 10).await.unwrap();
        assert_eq!(events.len(), 1, "{id} is a stream of its own");
        assert_eq!(events[0].stream_id, id);
        assert_eq!(store.stream_version(id).await.unwrap(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_is_chosen_by_url() {
    let fresh = Fresh::new("dedupe_secs=60&poll_ms=50");
    let store = eventfold::open(&fresh.url).await.unwrap();
    assert_eq!(store.backend(), "nats");
    store.append("Counters-u", ExpectedVersion::Any, vec![added_event("u", 1)]).await.unwrap();
    assert_eq!(eventfold::open(&fresh.url).await.unwrap().stream_version("Counters-u").await.unwrap(), 1);
    for bad in ["namespace=a.b", "namespace=", "dedupe_secs=soon", "colour=blue"] {
        let url = format!("{}?{bad}", nats::url().split('?').next().unwrap());
        match eventfold::open(&url).await {
            Err(error @ Error::UnsupportedStore { .. }) => assert!(error.to_string().contains(&url), "{error}"),
            other => panic!("{url}: expected UnsupportedStore, got {other:?}"),
        }
    }
}

/// A nats-server of this test's own, with JetStream in a temporary directory.
struct PrivateServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl PrivateServer {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut server = PrivateServer { child: None, port, dir: tempfile::tempdir().unwrap() };
        server.run();
        server
    }

    fn run(&mut self) {
        let binary = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
            .into_iter()
            .find(|path| std::path::Path::new(path).exists())
            .unwrap_or("nats-server");
        let child = Command::new(binary)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js", "-sd"])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {binary} for the restart test: {error}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "the private nats-server on port {} did not come up", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Appends one event, retrying while the server is away (the same event id: stored once).
async fn append_retrying(store: &NatsStore, event: NewEvent) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match store.append("Counters-restart", ExpectedVersion::Any, vec![event.clone()]).await {
            Ok(_) => return,
            Err(error) => {
                assert!(Instant::now() < deadline, "append still failing after the restart: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_durable_consumer_resumes_after_server_restart() {
    let mut server = PrivateServer::start();
    let url = format!("{}?namespace=restart&ack_wait_ms=1000", server.url());
    let store = nats::open(&url).await;
    let mut appended = Vec::new();
    for n in 0..10 {
        let event = added_event("restart", n);
        appended.push(event.event_id);
        append_retrying(&store, event).await;
    }
    let mut subscription = store.durable_subscription::<Counter>("restart-consumer").await.unwrap();
    // The consumer runs on its own task throughout, acknowledging what it handles.
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let consumer = tokio::spawn(async move {
        loop {
            match subscription.next().await {
                Some(Ok(envelope)) => {
                    // An ack lost to the restart means a redelivery, which the receiver tolerates.
                    let _ = subscription.ack(&envelope).await;
                    if seen_tx.send(envelope.event_id).is_err() {
                        return;
                    }
                }
                Some(Err(error)) => panic!("the consumer failed: {error}"),
                None => return,
            }
        }
    });
    let mut seen = HashSet::new();
    while seen.len() < 5 {
        seen.insert(within(seen_rx.recv()).await.unwrap());
    }

    server.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.run();
    for n in 10..20 {
        let event = added_event("restart", n);
        appended.push(event.event_id);
        append_retrying(&store, event).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.len() < appended.len() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, seen_rx.recv()).await {
            Ok(Some(id)) => {
                seen.insert(id);
            }
            _ => panic!("after the restart the consumer delivered {} of {} events", seen.len(), appended.len()),
        }
    }
    consumer.abort();
    assert_eq!(seen, appended.iter().copied().collect::<HashSet<_>>(), "nothing lost, nothing foreign");
    assert_eq!(store.stream_version("Counters-restart").await.unwrap(), 20, "retried appends stored once");
}
