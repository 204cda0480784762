//! A NATS server for tests: `EVENTFOLD_NATS_URL`, one fresh namespace per test, deleted after.

use eventfold::NatsStore;

/// The server's URL, or a loud failure: with feature `nats` on, these tests never pass silently.
pub fn url() -> String {
    match std::env::var("EVENTFOLD_NATS_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "EVENTFOLD_NATS_URL is not set. The NATS tests (cargo feature `nats`) need a NATS server with JetStream, \
             e.g. EVENTFOLD_NATS_URL=nats://127.0.0.1:4222; they fail rather than pass without one"
        ),
    }
}

/// `url` with `key=value` added to its query.
pub fn with_param(url: &str, key: &str, value: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{key}={value}")
}

/// A namespace no other test run uses.
pub fn unique_namespace() -> String {
    format!("eftest_{}", eventfold::uuid::Uuid::now_v7().simple())
}

/// Opens the store at `url`, failing loudly when the server is not there.
pub async fn open(url: &str) -> NatsStore {
    match NatsStore::open(url).await {
        Ok(store) => store,
        Err(error) => panic!("cannot open the NATS JetStream store at {url} (EVENTFOLD_NATS_URL): {error}"),
    }
}

/// Deletes the stream and buckets of the store at `url` (from `Drop`: on a runtime of its own).
pub fn destroy(url: String) {
    let _ = std::thread::spawn(move || {
        if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
            runtime.block_on(async move {
                if let Ok(store) = NatsStore::open(&url).await {
                    let _ = store.destroy().await;
                }
            });
        }
    })
    .join();
}
