//! A PostgreSQL server for tests: `EVENTFOLD_PG_URL`, one fresh schema per test, dropped after.

use std::future::Future;

/// The server's URL, or a loud failure: with feature `postgres` on, these tests never pass silently.
pub fn url() -> String {
    match std::env::var("EVENTFOLD_PG_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "EVENTFOLD_PG_URL is not set. The PostgreSQL tests (cargo feature `postgres`) need a server, e.g. \
             EVENTFOLD_PG_URL=postgres://postgres@127.0.0.1:5432/test; they fail rather than pass without one"
        ),
    }
}

/// `url` with `key=value` added to its query.
pub fn with_param(url: &str, key: &str, value: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{key}={value}")
}

/// A schema name no other test run uses.
pub fn unique_schema() -> String {
    format!("ef_test_{}", eventfold::uuid::Uuid::now_v7().simple())
}

/// A plain client onto the test server (for checks the store does not offer).
pub async fn client() -> eventfold::store::postgres::tokio_postgres::Client {
    let url = url();
    let (client, connection) = match eventfold::store::postgres::tokio_postgres::connect(
        &url,
        eventfold::store::postgres::tokio_postgres::NoTls,
    )
    .await
    {
        Ok(pair) => pair,
        Err(error) => panic!("cannot connect to the PostgreSQL server at EVENTFOLD_PG_URL={url}: {error}"),
    };
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// Runs `work` to completion on a runtime of its own, on another thread (for `Drop`).
pub fn block_on_side<F: Future<Output = ()> + Send + 'static>(work: F) {
    let _ = std::thread::spawn(move || {
        if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
            runtime.block_on(work);
        }
    })
    .join();
}

/// Drops `schema` and everything in it.
pub fn drop_schema(schema: String) {
    let url = url();
    block_on_side(async move {
        if let Ok((client, connection)) =
            eventfold::store::postgres::tokio_postgres::connect(&url, eventfold::store::postgres::tokio_postgres::NoTls)
                .await
        {
            tokio::spawn(async move {
                let _ = connection.await;
            });
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await;
        }
    });
}
