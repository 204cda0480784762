//! serde helpers for generated code: `const` properties and discriminated channel enums.
//!
//! Generated payload types write their `const` properties themselves and check them when
//! decoding ([`expect_str`], [`expect_value`]); a channel enum whose messages carry a
//! discriminator decodes through [`deserialize_tagged`], which picks the variant from the tag
//! without buffering the payload when the tag comes first — as the generated serializers write it.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

/// Deserializes a string and checks that it is `expected`.
pub fn expect_str<'de, D: Deserializer<'de>>(deserializer: D, expected: &'static str) -> Result<(), D::Error> {
    let found = deserializer.deserialize_str(StrVisitor)?;
    if found.as_str() == expected {
        Ok(())
    } else {
        Err(de::Error::invalid_value(de::Unexpected::Str(found.as_str()), &Quoted(expected)))
    }
}

/// Deserializes any value and checks that it equals `expected` (for non-string `const`s).
pub fn expect_value<'de, D: Deserializer<'de>>(deserializer: D, expected: &str) -> Result<(), D::Error> {
    let found: serde_json::Value = serde::Deserialize::deserialize(deserializer)?;
    let wanted: serde_json::Value = serde_json::from_str(expected).map_err(de::Error::custom)?;
    if found == wanted {
        Ok(())
    } else {
        Err(de::Error::custom(format_args!("expected constant {expected}, found {found}")))
    }
}

/// Serializes the JSON text `value` (a non-string `const`) as the value it denotes.
pub fn const_value(value: &'static str) -> serde_json::Value {
    // The generator only emits JSON it has parsed itself, so this cannot fail; a failure would
    // still serialize as `null` rather than panic.
    serde_json::from_str(value).unwrap_or(serde_json::Value::Null)
}

struct Quoted(&'static str);

impl de::Expected for Quoted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the constant {:?}", self.0)
    }
}

/// A channel enum whose variant is chosen by the value of one property of the payload.
pub trait Tagged: Sized {
    /// The discriminator property, e.g. `eventType`.
    const TAG: &'static str;
    /// Every accepted value of the discriminator, for error messages.
    const TAGS: &'static [&'static str];

    /// Decodes the variant whose discriminator value is `tag`. `deserializer` still holds the
    /// whole payload, the discriminator included. An unknown `tag` is an error.
    fn deserialize_tag<'de, D: Deserializer<'de>>(tag: &str, deserializer: D) -> Result<Self, D::Error>;
}

/// Deserializes a [`Tagged`] enum from a map, streaming the payload into its variant's type.
///
/// Entries before the discriminator are buffered (as JSON values) and replayed to the variant,
/// so a discriminator that comes later is still found; when it comes first nothing is buffered.
pub fn deserialize_tagged<'de, T: Tagged, D: Deserializer<'de>>(deserializer: D) -> Result<T, D::Error> {
    deserializer.deserialize_map(TaggedVisitor(PhantomData))
}

struct TaggedVisitor<T>(PhantomData<T>);

impl<'de, T: Tagged> Visitor<'de> for TaggedVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object with a `{}` property", T::TAG)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut before: Vec<(String, serde_json::Value)> = Vec::new();
        while let Some(key) = map.next_key_seed(StrSeed)? {
            if key.as_str() == T::TAG {
                let tag = map.next_value_seed(StrSeed)?;
                let rest = Replayed { tag_key: T::TAG, before: before.into_iter(), pending: None, tag: Some(tag.clone()), map };
                return T::deserialize_tag(tag.as_str(), de::value::MapAccessDeserializer::new(rest));
            }
            let value: serde_json::Value = map.next_value()?;
            before.push((key.into_owned(), value));
        }
        Err(de::Error::missing_field(T::TAG))
    }
}

/// A string that borrows from the input when it can.
#[derive(Clone)]
enum MaybeBorrowed<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl MaybeBorrowed<'_> {
    fn as_str(&self) -> &str {
        match self {
            MaybeBorrowed::Borrowed(s) => s,
            MaybeBorrowed::Owned(s) => s,
        }
    }

    fn into_owned(self) -> String {
        match self {
            MaybeBorrowed::Borrowed(s) => s.to_owned(),
            MaybeBorrowed::Owned(s) => s,
        }
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = MaybeBorrowed<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(MaybeBorrowed::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(MaybeBorrowed::Owned(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(MaybeBorrowed::Owned(v))
    }
}

struct StrSeed;

impl<'de> DeserializeSeed<'de> for StrSeed {
    type Value = MaybeBorrowed<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(StrVisitor)
    }
}

/// The original map, with the discriminator and the buffered entries put back in front.
struct Replayed<'de, A> {
    tag_key: &'static str,
    before: std::vec::IntoIter<(String, serde_json::Value)>,
    pending: Option<serde_json::Value>,
    tag: Option<MaybeBorrowed<'de>>,
    map: A,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Replayed<'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        if self.tag.is_some() {
            return seed.deserialize(de::value::BorrowedStrDeserializer::new(self.tag_key)).map(Some);
        }
        if let Some((key, value)) = self.before.next() {
            self.pending = Some(value);
            return seed.deserialize(de::value::StringDeserializer::new(key)).map(Some);
        }
        self.map.next_key_seed(seed)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        if let Some(tag) = self.tag.take() {
            return match tag {
                MaybeBorrowed::Borrowed(s) => seed.deserialize(de::value::BorrowedStrDeserializer::new(s)),
                MaybeBorrowed::Owned(s) => seed.deserialize(de::value::StringDeserializer::new(s)),
            };
        }
        if let Some(value) = self.pending.take() {
            return seed.deserialize(JsonValue::<A::Error>(value, PhantomData));
        }
        self.map.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint().map(|n| n + self.before.len() + usize::from(self.tag.is_some()))
    }
}

/// A buffered JSON value as a deserializer with the error type of the surrounding input.
struct JsonValue<E>(serde_json::Value, PhantomData<E>);

macro_rules! forward_with_error {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
                self.0.$method(visitor).map_err(E::custom)
            }
        )*
    };
}

impl<'de, E: de::Error> Deserializer<'de> for JsonValue<E> {
    type Error = E;

    forward_with_error! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, E> {
        self.0.deserialize_unit_struct(name, visitor).map_err(E::custom)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, E> {
        self.0.deserialize_newtype_struct(name, visitor).map_err(E::custom)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, E> {
        self.0.deserialize_tuple(len, visitor).map_err(E::custom)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, E> {
        self.0.deserialize_tuple_struct(name, len, visitor).map_err(E::custom)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, E> {
        self.0.deserialize_struct(name, fields, visitor).map_err(E::custom)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, E> {
        self.0.deserialize_enum(name, variants, visitor).map_err(E::custom)
    }
}


/// The correlation id in `headers` at JSON `pointer`, for generated `correlation_id`s.
pub fn correlation_in_headers(headers: &crate::Headers, pointer: &str) -> Option<String> {
    let mut tokens = pointer.split('/').skip(1);
    let first = tokens.next()?.replace("~1", "/").replace("~0", "~");
    let rest: String = tokens.map(|t| format!("/{t}")).collect();
    correlation_text(headers.get(&first)?.pointer(&rest)?)
}

/// The correlation id in the JSON form of `payload` at JSON `pointer`.
pub fn correlation_in_payload<T: serde::Serialize + ?Sized>(payload: &T, pointer: &str) -> Option<String> {
    let value = serde_json::to_value(payload).ok()?;
    correlation_text(value.pointer(pointer)?)
}

/// A correlation id as text: strings as they are, numbers and booleans printed, `null` none.
fn correlation_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Adds the properties of typed `headers` (a message's `headers` type) to `into`.
pub fn merge_headers<T: serde::Serialize>(into: &mut crate::Headers, headers: &T, message: &str) -> Result<(), crate::Error> {
    let encode = |source| crate::Error::Encode { name: message.to_owned(), source };
    match serde_json::to_value(headers).map_err(encode)? {
        serde_json::Value::Object(map) => into.extend(map),
        serde_json::Value::Null => {}
        other => {
            into.insert("headers".to_owned(), other);
        }
    }
    Ok(())
}

/// The characters of a parameter value that [`fill_address`] escapes: all but the URI
/// "unreserved" ones (`A-Z a-z 0-9 - . _ ~`).
const ESCAPED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Fills the `{name}` parameters of a channel address template with percent-encoded values.
/// A parameter without a value is left as written.
pub fn fill_address(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else { break };
        out.push_str(&rest[..open]);
        let name = &rest[open + 1..close];
        match values.iter().find(|(n, _)| *n == name) {
            Some((_, value)) => out.extend(percent_encoding::utf8_percent_encode(value, ESCAPED)),
            None => out.push_str(&rest[open..=close]),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod address_tests {
    use super::fill_address;

    #[test]
    fn parameters_are_filled_and_escaped() {
        assert_eq!(fill_address("orders/{orderId}", &[("orderId", "42")]), "orders/42");
        assert_eq!(fill_address("orders/{orderId}/x", &[("orderId", "a/b c")]), "orders/a%2Fb%20c/x");
        assert_eq!(fill_address("{a}.{b}", &[("b", "2"), ("a", "1")]), "1.2");
        assert_eq!(fill_address("{missing}/{", &[]), "{missing}/{");
    }
}
