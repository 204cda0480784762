//! The trait every generated channel `Message` enum implements.

use serde::{Deserializer, Serialize};

/// Message headers as they travel beside a payload: a JSON object.
pub type Headers = serde_json::Map<String, serde_json::Value>;

/// The messages of one AsyncAPI channel, as a generated enum with one variant per message.
///
/// The enum serializes as the bare payload of its variant; which variant a payload is comes from
/// the channel's discriminator, or from the message name that travels beside it (see
/// [`ChannelMessage::deserialize_named`]).
pub trait ChannelMessage: Serialize + Sized + Send + Sync + 'static {
    /// The channel's id in its document, e.g. `EventSourceOrders`.
    const CHANNEL: &'static str;
    /// The channel's address, e.g. `/orders`, when the document gives one.
    const ADDRESS: Option<&'static str>;
    /// The names of every message of the channel, in the order the document declares them.
    const NAMES: &'static [&'static str];

    /// The name of this message, one of [`Self::NAMES`].
    fn name(&self) -> &'static str;

    /// The correlation id of this message, read from the location its document declares
    /// (`$message.payload#/...` from the payload, `$message.header#/...` from `headers`).
    fn correlation_id(&self, headers: &Headers) -> Option<String>;

    /// Decodes the payload of the message called `name`, going straight to its type.
    ///
    /// An unknown name is an `unknown variant` error of the deserializer, never a wrong variant.
    fn deserialize_named<'de, D: Deserializer<'de>>(name: &str, deserializer: D) -> Result<Self, D::Error>;
}

/// Decodes the JSON payload of the message called `name`.
///
/// The payload is checked as UTF-8 once and parsed as text; serde_json reading bytes would check
/// every string it meets, which is a fifth of the time of decoding a typical event. Bytes that
/// are not UTF-8 are handed to serde_json as they are, so that its error says where.
pub fn decode_json<M: ChannelMessage>(name: &str, payload: &[u8]) -> Result<M, serde_json::Error> {
    match std::str::from_utf8(payload) {
        Ok(text) => decode_named(name, serde_json::Deserializer::from_str(text)),
        Err(_) => decode_named(name, serde_json::Deserializer::from_slice(payload)),
    }
}

fn decode_named<'de, M: ChannelMessage, R: serde_json::de::Read<'de>>(
    name: &str,
    mut deserializer: serde_json::Deserializer<R>,
) -> Result<M, serde_json::Error> {
    let message = M::deserialize_named(name, &mut deserializer)?;
    deserializer.end()?;
    Ok(message)
}

/// Encodes a message as its bare JSON payload.
pub fn encode_json<M: ChannelMessage>(message: &M) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(message)
}
