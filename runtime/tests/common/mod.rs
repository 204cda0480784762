//! A hand-written channel message type, standing in for generated code.
#![allow(dead_code)]

#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "postgres")]
pub mod pg;

use std::future::Future;
use std::time::Duration;

use eventfold::{ChannelMessage, Headers};
use serde::{Deserialize, Serialize};

/// `Added`: a counter went up by `amount`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Added {
    pub counter: String,
    pub amount: i64,
}

/// `Reset`: a counter went back to zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reset {
    pub counter: String,
}

/// The messages of channel `Counters`; correlated by `counter`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Counter {
    Added(Added),
    Reset(Reset),
}

impl Counter {
    pub fn added(counter: &str, amount: i64) -> Self {
        Counter::Added(Added { counter: counter.to_owned(), amount })
    }

    pub fn reset(counter: &str) -> Self {
        Counter::Reset(Reset { counter: counter.to_owned() })
    }
}

impl ChannelMessage for Counter {
    const CHANNEL: &'static str = "Counters";
    const ADDRESS: Option<&'static str> = Some("/counters");
    const NAMES: &'static [&'static str] = &["Added", "Reset"];

    fn name(&self) -> &'static str {
        match self {
            Counter::Added(_) => "Added",
            Counter::Reset(_) => "Reset",
        }
    }

    fn correlation_id(&self, _headers: &Headers) -> Option<String> {
        match self {
            Counter::Added(m) => Some(m.counter.clone()),
            Counter::Reset(m) => Some(m.counter.clone()),
        }
    }

    fn deserialize_named<'de, D: serde::Deserializer<'de>>(name: &str, deserializer: D) -> Result<Self, D::Error> {
        match name {
            "Added" => Added::deserialize(deserializer).map(Counter::Added),
            "Reset" => Reset::deserialize(deserializer).map(Counter::Reset),
            other => Err(serde::de::Error::unknown_variant(other, Self::NAMES)),
        }
    }
}

/// A raw event of `Counters` with a deterministic payload.
pub fn added_event(counter: &str, amount: i64) -> eventfold::NewEvent {
    let message = Counter::added(counter, amount);
    eventfold::NewEvent::from_message(&message, eventfold::SendOptions::default()).unwrap()
}

/// Runs `future` with a deadline, so a broken subscription fails instead of hanging.
pub async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), future).await.expect("timed out after 10 s")
}
