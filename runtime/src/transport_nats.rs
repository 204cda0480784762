//! A NATS transport for generated publishers and consumers whose document's server protocol is
//! `nats`: messages go over core NATS subjects, not into a store.
//!
//! # Subjects
//!
//! The subject of channel `M` comes from its address ([`ChannelMessage::ADDRESS`]), see
//! [`subject_for`]: the address is split at `/` and `.`, empty parts are dropped, and every part
//! becomes one subject token, escaped as the JetStream store escapes them
//! ([`subject_token`](crate::store::nats::subject_token): letters, digits and `-` stay, other bytes
//! become `_XX`). So `/orders` → `orders`, `orders.created` → `orders.created`,
//! `/orders/{orderId}/events` → `orders.{orderId}.events` with the parameter filled. A parameter
//! `{name}` is filled from the string header `name` of [`SendOptions::headers`], else from the
//! message's correlation id; a subscriber listens on `*` in its place. A channel without an
//! address uses its channel id as the one token.
//!
//! # Headers
//!
//! `Eventfold-Message` (the message name, what a subscriber decodes by), `Nats-Msg-Id` and
//! `Eventfold-Event-Id` (the event id), `Eventfold-Correlation-Id`, `Eventfold-Causation-Id`,
//! `Eventfold-Timestamp` (RFC 3339) and `Eventfold-Headers` (the other headers, as JSON). The
//! payload is the message's JSON.
//!
//! Core NATS delivers at most once, to the subscribers connected at the time: a consumer that
//! must not miss messages reads a store ([`NatsStore::durable_subscription`]) instead.
//!
//! [`NatsStore::durable_subscription`]: crate::store::NatsStore::durable_subscription

use std::marker::PhantomData;

use async_nats::header::{HeaderMap, NATS_MESSAGE_ID};
use futures_util::StreamExt;

use crate::envelope::Envelope;
use crate::error::Error;
use crate::message::{decode_json, ChannelMessage, Headers};
use crate::store::nats::{ascii_json, subject_token, MESSAGE_HEADER};
use crate::store::{stream_id_for, Failed, NewEvent};
use crate::transport::{Receipt, SendOptions, Sink, Subscription};

const BACKEND: &str = "nats";
/// The header holding the event id.
pub const EVENT_ID_HEADER: &str = "Eventfold-Event-Id";
/// The header holding the correlation id.
pub const CORRELATION_HEADER: &str = "Eventfold-Correlation-Id";
/// The header holding the causation id.
pub const CAUSATION_HEADER: &str = "Eventfold-Causation-Id";
/// The header holding the send time, RFC 3339.
pub const TIMESTAMP_HEADER: &str = "Eventfold-Timestamp";
/// The header holding the message's other headers, as JSON.
pub const HEADERS_HEADER: &str = "Eventfold-Headers";

fn failed<E: std::error::Error + Send + Sync + 'static>(what: impl Into<String>) -> impl FnOnce(E) -> Error {
    let what = what.into();
    move |source| Error::storage(BACKEND, Failed { what, source: Box::new(source) })
}

/// The subject for an address, filling each `{parameter}` with `fill(parameter)` (escaped), or
/// with `*` where `fill` gives `None`. See the module docs for the mapping.
pub fn subject_for(address: Option<&str>, channel: &str, fill: impl Fn(&str) -> Option<String>) -> String {
    let Some(address) = address else { return subject_token(channel) };
    let tokens: Vec<String> = address
        .split(['/', '.'])
        .filter(|part| !part.is_empty())
        .map(|part| match part.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')) {
            Some(parameter) => fill(parameter).map_or_else(|| "*".to_owned(), |value| subject_token(&value)),
            None => subject_token(part),
        })
        .collect();
    if tokens.is_empty() {
        subject_token(channel)
    } else {
        tokens.join(".")
    }
}

/// Publishes and subscribes to the messages of channels over core NATS.
#[derive(Debug, Clone)]
pub struct NatsTransport {
    client: async_nats::Client,
}

impl NatsTransport {
    /// Connects to `server`, e.g. `nats://127.0.0.1:4222`.
    pub async fn connect(server: &str) -> Result<Self, Error> {
        let client = async_nats::connect(server).await.map_err(failed(format!("connecting to {server}")))?;
        Ok(NatsTransport { client })
    }

    /// A transport over an existing connection.
    pub fn new(client: async_nats::Client) -> Self {
        NatsTransport { client }
    }

    /// The connection.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// The subject pattern a subscriber to channel `M` listens on (parameters as `*`).
    pub fn subject_pattern<M: ChannelMessage>() -> String {
        subject_for(M::ADDRESS, M::CHANNEL, |_| None)
    }

    /// Subscribes to every message of channel `M` (all parameter values).
    pub async fn subscribe<M: ChannelMessage>(&self) -> Result<NatsMessages<M>, Error> {
        self.subscribe_to(Self::subject_pattern::<M>()).await
    }

    /// Subscribes to the messages of channel `M` on `subject` (e.g. one parameter value).
    pub async fn subscribe_to<M: ChannelMessage>(&self, subject: String) -> Result<NatsMessages<M>, Error> {
        let subscriber =
            self.client.subscribe(subject.clone()).await.map_err(failed(format!("subscribing to {subject}")))?;
        // Make sure the server has the subscription before anyone relies on it.
        self.client.flush().await.map_err(failed(format!("subscribing to {subject}")))?;
        Ok(NatsMessages { subscriber, subject, channel: PhantomData })
    }
}

impl<M: ChannelMessage> Sink<M> for NatsTransport {
    async fn send(&self, message: M, options: SendOptions) -> Result<Receipt, Error> {
        let event = NewEvent::from_message(&message, options)?;
        let correlation_id = event.correlation_id.clone().unwrap_or_else(|| event.event_id.to_string());
        let subject = subject_for(M::ADDRESS, M::CHANNEL, |parameter| match event.headers.get(parameter) {
            Some(serde_json::Value::String(value)) => Some(value.clone()),
            _ => Some(correlation_id.clone()),
        });
        let encode = |value: &dyn Fn() -> Result<String, serde_json::Error>| {
            value().map_err(|source| Error::Encode { name: event.message_name.clone(), source })
        };
        let mut headers = HeaderMap::new();
        headers.insert(MESSAGE_HEADER, event.message_name.clone());
        headers.insert(NATS_MESSAGE_ID, event.event_id.to_string());
        headers.insert(EVENT_ID_HEADER, event.event_id.to_string());
        headers.insert(CORRELATION_HEADER, encode(&|| ascii_json(&correlation_id))?);
        if let Some(causation) = &event.causation_id {
            headers.insert(CAUSATION_HEADER, encode(&|| ascii_json(causation))?);
        }
        let now = time::OffsetDateTime::now_utc();
        if let Ok(stamp) = now.format(&time::format_description::well_known::Rfc3339) {
            headers.insert(TIMESTAMP_HEADER, stamp);
        }
        if !event.headers.is_empty() {
            headers.insert(HEADERS_HEADER, encode(&|| ascii_json(&event.headers))?);
        }
        let what = || format!("publishing {} to {subject}", event.message_name);
        self.client
            .publish_with_headers(subject.clone(), headers, event.payload.into())
            .await
            .map_err(failed(what()))?;
        self.client.flush().await.map_err(failed(what()))?;
        Ok(Receipt {
            stream_id: stream_id_for::<M>(&correlation_id),
            stream_version: 0,
            global_position: 0,
            event_id: event.event_id,
        })
    }
}

/// A [`Subscription`] to a channel's messages on a core NATS subject, decoding each by its
/// `Eventfold-Message` header. Envelopes have no stream version or position (both 0); the stream
/// id is `"{CHANNEL}-{correlation id}"`.
#[derive(Debug)]
pub struct NatsMessages<M> {
    subscriber: async_nats::Subscriber,
    subject: String,
    channel: PhantomData<fn() -> M>,
}

impl<M> NatsMessages<M> {
    /// The subject (pattern) subscribed to.
    pub fn subject(&self) -> &str {
        &self.subject
    }
}

fn header<'a>(headers: Option<&'a HeaderMap>, name: &str) -> Option<&'a str> {
    headers.and_then(|headers| headers.get(name)).map(|value| value.as_str())
}

fn decode<M: ChannelMessage>(message: &async_nats::Message) -> Result<Envelope<M>, Error> {
    let headers = message.headers.as_ref();
    let json_header =
        |name: &str| -> Option<String> { header(headers, name).and_then(|text| serde_json::from_str(text).ok()) };
    let correlation_id = json_header(CORRELATION_HEADER);
    let stream_id = correlation_id.as_deref().map_or_else(|| message.subject.to_string(), stream_id_for::<M>);
    let corrupt = |reason: String| Error::Corrupt { stream_id: stream_id.clone(), stream_version: 0, reason };
    let name = header(headers, MESSAGE_HEADER)
        .ok_or_else(|| corrupt(format!("message on {} has no {MESSAGE_HEADER} header", message.subject)))?;
    if !M::NAMES.contains(&name) {
        return Err(Error::UnknownMessage {
            stream_id: stream_id.clone(),
            stream_version: 0,
            channel: M::CHANNEL,
            message_name: name.to_owned(),
        });
    }
    let decoded = decode_json::<M>(name, &message.payload).map_err(|source| Error::Decode {
        stream_id: stream_id.clone(),
        stream_version: 0,
        message_name: name.to_owned(),
        source,
    })?;
    let event_id = header(headers, EVENT_ID_HEADER).or_else(|| header(headers, "Nats-Msg-Id")).unwrap_or("");
    let event_id =
        uuid::Uuid::parse_str(event_id).map_err(|error| corrupt(format!("event id `{event_id}`: {error}")))?;
    let timestamp = header(headers, TIMESTAMP_HEADER)
        .and_then(|text| time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(time::OffsetDateTime::now_utc);
    let other: Headers = header(headers, HEADERS_HEADER)
        .map(serde_json::from_str)
        .transpose()
        .map_err(|error| corrupt(format!("{HEADERS_HEADER} is not a JSON object: {error}")))?
        .unwrap_or_default();
    Ok(Envelope {
        stream_id,
        stream_version: 0,
        global_position: 0,
        event_id,
        message_name: name.to_owned(),
        timestamp,
        correlation_id,
        causation_id: json_header(CAUSATION_HEADER),
        headers: other,
        message: decoded,
    })
}

impl<M: ChannelMessage> Subscription<M> for NatsMessages<M> {
    async fn next(&mut self) -> Option<Result<Envelope<M>, Error>> {
        let message = self.subscriber.next().await?;
        Some(decode::<M>(&message))
    }
}
