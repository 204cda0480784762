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

/// Writes the entry `key: value` when `value` is `Some`: what generated serializers do for an
/// optional property.
#[inline]
pub fn serialize_if_some<M: serde::ser::SerializeMap, T: serde::Serialize>(
    map: &mut M,
    key: &'static str,
    value: &Option<T>,
) -> Result<(), M::Error> {
    match value {
        Some(value) => map.serialize_entry(key, value),
        None => Ok(()),
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
/// When the discriminator is the first entry (as generated serializers write it), nothing is
/// buffered: the tag is handed back to the variant's type and the rest of the map streams into
/// it. Entries before a later discriminator are buffered and replayed to the variant. From
/// serde_json's slice and string readers they are buffered as their raw JSON text (skipped over,
/// not parsed); when replayed, a string without escapes is handed over as it stands and anything
/// else is parsed once. From any other deserializer they are buffered as `serde_json::Value`s.
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
        let Some(key) = map.next_key_seed(StrSeed)? else {
            return Err(de::Error::missing_field(T::TAG));
        };
        if key.as_str() == T::TAG {
            // The common case: the tag first. Nothing to buffer.
            return match map.next_value_seed(StrSeed)? {
                MaybeBorrowed::Borrowed(tag) => {
                    let rest = TagFirst { tag_key: T::TAG, tag, state: TagState::Key, map };
                    T::deserialize_tag(tag, de::value::MapAccessDeserializer::new(rest))
                }
                MaybeBorrowed::Owned(tag) => {
                    // An escaped tag (rare): replay it as an owned string.
                    let rest = Replayed {
                        tag_key: T::TAG,
                        before: Vec::new().into_iter(),
                        pending: None,
                        tag: Some(MaybeBorrowed::Owned(tag.clone())),
                        map,
                    };
                    T::deserialize_tag(&tag, de::value::MapAccessDeserializer::new(rest))
                }
            };
        }
        let mut before: Vec<(MaybeBorrowed<'de>, Buffered<'de>)> = Vec::with_capacity(8);
        before.push((key, map.next_value_seed(BufferSeed)?));
        while let Some(key) = map.next_key_seed(StrSeed)? {
            if key.as_str() == T::TAG {
                let tag = map.next_value_seed(StrSeed)?;
                let rest = Replayed {
                    tag_key: T::TAG,
                    before: before.into_iter(),
                    pending: None,
                    tag: Some(tag.clone()),
                    map,
                };
                return T::deserialize_tag(tag.as_str(), de::value::MapAccessDeserializer::new(rest));
            }
            let value = map.next_value_seed(BufferSeed)?;
            before.push((key, value));
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

fn str_deserializer<'de, E: de::Error, V: DeserializeSeed<'de>>(s: MaybeBorrowed<'de>, seed: V) -> Result<V::Value, E> {
    match s {
        MaybeBorrowed::Borrowed(s) => seed.deserialize(de::value::BorrowedStrDeserializer::new(s)),
        MaybeBorrowed::Owned(s) => seed.deserialize(de::value::StringDeserializer::new(s)),
    }
}

/// The original map with the discriminator, already read (and borrowed), put back in front.
struct TagFirst<'de, A> {
    tag_key: &'static str,
    tag: &'de str,
    state: TagState,
    map: A,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TagState {
    /// The tag's key is next.
    Key,
    /// The tag's value is next.
    Value,
    /// The rest of the original map.
    Rest,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for TagFirst<'de, A> {
    type Error = A::Error;

    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        if self.state == TagState::Key {
            self.state = TagState::Value;
            return seed.deserialize(de::value::BorrowedStrDeserializer::new(self.tag_key)).map(Some);
        }
        self.map.next_key_seed(seed)
    }

    #[inline]
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        if self.state == TagState::Value {
            self.state = TagState::Rest;
            return seed.deserialize(de::value::BorrowedStrDeserializer::new(self.tag));
        }
        self.map.next_value_seed(seed)
    }

    #[inline]
    fn next_entry_seed<K: DeserializeSeed<'de>, V: DeserializeSeed<'de>>(
        &mut self,
        kseed: K,
        vseed: V,
    ) -> Result<Option<(K::Value, V::Value)>, A::Error> {
        if self.state == TagState::Rest {
            return self.map.next_entry_seed(kseed, vseed);
        }
        match self.next_key_seed(kseed)? {
            Some(key) => Ok(Some((key, self.next_value_seed(vseed)?))),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint().map(|n| n + usize::from(self.state == TagState::Key))
    }
}

/// The name serde_json gives the newtype it answers with a value's raw JSON text (the way its
/// `RawValue` is deserialized, with its `raw_value` feature). Any other deserializer, or a
/// serde_json without that feature, just sees a newtype request and answers with the value.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// A buffered map value: its JSON text when the deserializer can give it, else a parsed value.
enum Buffered<'de> {
    Raw(&'de str),
    Value(serde_json::Value),
}

struct BufferSeed;

impl<'de> DeserializeSeed<'de> for BufferSeed {
    type Value = Buffered<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_newtype_struct(RAW_VALUE_TOKEN, BufferVisitor)
    }
}

struct BufferVisitor;

fn buffered<E>(value: impl Into<serde_json::Value>) -> Result<Buffered<'static>, E> {
    Ok(Buffered::Value(value.into()))
}

impl<'de> Visitor<'de> for BufferVisitor {
    type Value = Buffered<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        serde::Deserialize::deserialize(deserializer).map(Buffered::Value)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::new();
        let Some(key) = map.next_key_seed(StrSeed)? else {
            return buffered(object);
        };
        if key.as_str() == RAW_VALUE_TOKEN {
            return match map.next_value_seed(StrSeed)? {
                MaybeBorrowed::Borrowed(raw) => Ok(Buffered::Raw(raw)),
                MaybeBorrowed::Owned(raw) => serde_json::from_str(&raw).map(Buffered::Value).map_err(de::Error::custom),
            };
        }
        let key = match key {
            MaybeBorrowed::Borrowed(s) => s.to_owned(),
            MaybeBorrowed::Owned(s) => s,
        };
        object.insert(key, map.next_value()?);
        while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
            object.insert(key, value);
        }
        buffered(object)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<serde_json::Value>()? {
            items.push(item);
        }
        buffered(items)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        buffered(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        buffered(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        buffered(v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // Not finite numbers have no JSON form; serde_json::Value makes them `null` as well.
        buffered(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        buffered(v)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        buffered(v)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        buffered(serde_json::Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        buffered(serde_json::Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        serde::Deserialize::deserialize(deserializer).map(Buffered::Value)
    }
}

/// The original map, with the discriminator and then the buffered entries put back in front.
struct Replayed<'de, A> {
    tag_key: &'static str,
    before: std::vec::IntoIter<(MaybeBorrowed<'de>, Buffered<'de>)>,
    pending: Option<Buffered<'de>>,
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
            return str_deserializer(key, seed).map(Some);
        }
        self.map.next_key_seed(seed)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        if let Some(tag) = self.tag.take() {
            return str_deserializer(tag, seed);
        }
        match self.pending.take() {
            Some(Buffered::Raw(raw)) => seed.deserialize(RawText::<A::Error> { raw, error: PhantomData }),
            Some(Buffered::Value(value)) => seed.deserialize(JsonValue::<A::Error>(value, PhantomData)),
            None => self.map.next_value_seed(seed),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint().map(|n| n + self.before.len() + usize::from(self.tag.is_some()))
    }
}

/// A buffered value's raw JSON text as a deserializer with the error type of the surrounding
/// input. A string without escapes (most buffered values) is handed over as the text between
/// its quotes, as serde_json itself would hand it over: skipping it to buffer it was its one
/// scan. Anything else is parsed from the text by serde_json.
struct RawText<'de, E> {
    raw: &'de str,
    error: PhantomData<E>,
}

impl<'de, E: de::Error> RawText<'de, E> {
    /// The text between the quotes, when the raw value is a string without escapes (the raw text
    /// is valid JSON: serde_json checked it while skipping it).
    fn plain_str(&self) -> Option<&'de str> {
        let inner = self.raw.strip_prefix('"')?.strip_suffix('"')?;
        (!inner.contains('\\')).then_some(inner)
    }

    fn parsed<T>(
        self,
        parse: impl FnOnce(&mut serde_json::Deserializer<serde_json::de::StrRead<'de>>) -> serde_json::Result<T>,
    ) -> Result<T, E> {
        parse(&mut serde_json::Deserializer::from_str(self.raw)).map_err(E::custom)
    }
}

/// Methods that take a string token as serde_json does (`visit_borrowed_str`), and parse
/// anything else.
macro_rules! str_or_parsed {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
                match self.plain_str() {
                    Some(text) => visitor.visit_borrowed_str(text),
                    None => self.parsed(|json| json.$method(visitor)),
                }
            }
        )*
    };
}

/// `Deserializer` methods that take only a visitor, each forwarded as
/// `$forward!(self, method(visitor))`.
macro_rules! forward_plain {
    ($forward:ident: $($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
                $forward!(self, $method(visitor))
            }
        )*
    };
}

/// The `Deserializer` methods for unit structs, tuples, tuple structs and structs, each
/// forwarded as `$forward!(self, method(arguments, visitor))`.
macro_rules! forward_shapes {
    ($forward:ident) => {
        fn deserialize_unit_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            visitor: V,
        ) -> Result<V::Value, Self::Error> {
            $forward!(self, deserialize_unit_struct(name, visitor))
        }

        fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Self::Error> {
            $forward!(self, deserialize_tuple(len, visitor))
        }

        fn deserialize_tuple_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            len: usize,
            visitor: V,
        ) -> Result<V::Value, Self::Error> {
            $forward!(self, deserialize_tuple_struct(name, len, visitor))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Self::Error> {
            $forward!(self, deserialize_struct(name, fields, visitor))
        }
    };
}

/// Parses a [`RawText`] with serde_json and answers as it does.
macro_rules! parse_raw {
    ($this:ident, $method:ident($($argument:expr),*)) => {
        $this.parsed(|json| json.$method($($argument),*))
    };
}

impl<'de, E: de::Error> Deserializer<'de> for RawText<'de, E> {
    type Error = E;

    str_or_parsed! { deserialize_any deserialize_str deserialize_string deserialize_identifier }

    // What serde_json answers differently for a string (bytes, numbers and the like, or an
    // invalid type): always parsed, so the answer is serde_json's own.
    forward_plain! { parse_raw:
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128 deserialize_f32
        deserialize_f64 deserialize_char deserialize_bytes deserialize_byte_buf deserialize_unit
        deserialize_seq deserialize_map deserialize_ignored_any
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        // Not `null`, so `Some` of the value — as serde_json does it.
        match self.plain_str() {
            Some(_) => visitor.visit_some(self),
            None => self.parsed(|json| json.deserialize_option(visitor)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, E> {
        match self.plain_str() {
            Some(_) if name != RAW_VALUE_TOKEN => visitor.visit_newtype_struct(self),
            _ => self.parsed(|json| json.deserialize_newtype_struct(name, visitor)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, E> {
        // A string is a unit variant's name.
        match self.plain_str() {
            Some(text) => visitor.visit_enum(de::value::BorrowedStrDeserializer::new(text)),
            None => self.parsed(|json| json.deserialize_enum(name, variants, visitor)),
        }
    }

    forward_shapes!(parse_raw);
}

/// A buffered JSON value as a deserializer with the error type of the surrounding input.
struct JsonValue<E>(serde_json::Value, PhantomData<E>);

/// Deserializes a [`JsonValue`] and gives its error the surrounding input's type.
macro_rules! from_value {
    ($this:ident, $method:ident($($argument:expr),*)) => {
        $this.0.$method($($argument),*).map_err(E::custom)
    };
}

impl<'de, E: de::Error> Deserializer<'de> for JsonValue<E> {
    type Error = E;

    forward_plain! { from_value:
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier deserialize_ignored_any
    }

    forward_shapes!(from_value);

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, E> {
        self.0.deserialize_newtype_struct(name, visitor).map_err(E::custom)
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
pub fn merge_headers<T: serde::Serialize>(
    into: &mut crate::Headers,
    headers: &T,
    message: &str,
) -> Result<(), crate::Error> {
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

#[cfg(test)]
mod tagged_tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Inner {
        code: u32,
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct A {
        t: String,
        x: u32,
        #[serde(default)]
        inner: Option<Inner>,
        #[serde(default)]
        list: Vec<String>,
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct B {
        t: String,
        y: String,
    }

    #[derive(Debug, PartialEq)]
    enum E {
        A(A),
        B(B),
    }

    impl Tagged for E {
        const TAG: &'static str = "t";
        const TAGS: &'static [&'static str] = &["A", "B"];

        fn deserialize_tag<'de, D: Deserializer<'de>>(tag: &str, deserializer: D) -> Result<Self, D::Error> {
            match tag {
                "A" => serde::Deserialize::deserialize(deserializer).map(E::A),
                "B" => serde::Deserialize::deserialize(deserializer).map(E::B),
                _ => Err(de::Error::unknown_variant(tag, Self::TAGS)),
            }
        }
    }

    impl<'de> serde::Deserialize<'de> for E {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserialize_tagged(deserializer)
        }
    }

    fn a(list: &[&str]) -> E {
        E::A(A {
            t: "A".into(),
            x: 7,
            inner: Some(Inner { code: 3 }),
            list: list.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[test]
    fn the_tag_anywhere_from_every_kind_of_input() {
        let texts = [
            r#"{"t":"A","x":7,"inner":{"code":3},"list":["p","q\"r"]}"#,
            r#"{"x":7,"t":"A","inner":{"code":3},"list":["p","q\"r"]}"#,
            r#"{"x":7,"inner":{"code":3},"list":["p","q\"r"],"t":"A"}"#,
            r#"{ "x" : 7 , "inner" : { "code" : 3 } , "list" : [ "p" , "q\"r" ] , "t" : "\u0041" }"#,
            r#"{"t":"\u0041","x":7,"inner":{"code":3},"list":["p","q\"r"]}"#,
            r#"{"\u0074":"A","x":7,"inner":{"code":3},"list":["p","q\"r"]}"#,
        ];
        for text in texts {
            let expected = a(&["p", "q\"r"]);
            assert_eq!(serde_json::from_str::<E>(text).unwrap(), expected, "{text}");
            assert_eq!(serde_json::from_slice::<E>(text.as_bytes()).unwrap(), expected, "{text}");
            assert_eq!(serde_json::from_reader::<_, E>(text.as_bytes()).unwrap(), expected, "{text}");
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::from_value::<E>(value.clone()).unwrap(), expected, "{text}");
            assert_eq!(E::deserialize_tagged_ref(&value), expected, "{text}");
        }
        let b = r#"{"y":"why","t":"B"}"#;
        assert_eq!(serde_json::from_str::<E>(b).unwrap(), E::B(B { t: "B".into(), y: "why".into() }));
    }

    impl E {
        fn deserialize_tagged_ref(value: &serde_json::Value) -> E {
            deserialize_tagged(value).unwrap()
        }
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let unknown = serde_json::from_str::<E>(r#"{"x":1,"t":"C"}"#).unwrap_err().to_string();
        assert!(unknown.contains("unknown variant `C`"), "{unknown}");
        let missing = serde_json::from_str::<E>(r#"{"x":1}"#).unwrap_err().to_string();
        assert!(missing.contains("missing field `t`"), "{missing}");
        let empty = serde_json::from_str::<E>("{}").unwrap_err().to_string();
        assert!(empty.contains("missing field `t`"), "{empty}");
        let bad = serde_json::from_str::<E>(r#"{"x":"seven","t":"A"}"#).unwrap_err().to_string();
        assert!(bad.contains("invalid type"), "{bad}");
        assert!(serde_json::from_str::<E>(r#"{"x":1,"t":"A""#).is_err());
        assert!(serde_json::from_str::<E>(r#"{"x":[1,"t":"A"}"#).is_err());
    }

    /// Every shape a field can take, to be read from raw text replayed before a late tag.
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)] // compared through `Debug`
    struct Shapes {
        text: String,
        empty: String,
        escaped: String,
        maybe: Option<String>,
        #[serde(default)]
        absent: Option<String>,
        null: Option<String>,
        colour: Colour,
        id: Id,
        letter: char,
        uuid: uuid::Uuid,
        at: crate::Timestamp,
        count: u64,
        ratio: f64,
        flag: bool,
        pair: (u8, String),
        raw: Box<serde_json::value::RawValue>,
        any: serde_json::Value,
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Colour {
        Red,
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Id(String);

    #[derive(Debug)]
    struct OnlyShapes(Shapes);

    impl Tagged for OnlyShapes {
        const TAG: &'static str = "t";
        const TAGS: &'static [&'static str] = &["S"];

        fn deserialize_tag<'de, D: Deserializer<'de>>(_: &str, deserializer: D) -> Result<Self, D::Error> {
            serde::Deserialize::deserialize(deserializer).map(OnlyShapes)
        }
    }

    fn late(text: &str) -> Result<Shapes, String> {
        deserialize_tagged::<OnlyShapes, _>(&mut serde_json::Deserializer::from_str(text))
            .map(|shapes| shapes.0)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn replayed_raw_values_decode_as_serde_json_decodes_them() {
        let fields = r#""text":"plain","empty":"","escaped":"a\"b\u00e9","maybe":"yes","null":null,"colour":"red","id":"i-1","letter":"x","uuid":"0192f0c1-2b1e-4d43-9d3c-6a1e7c5d9b01","at":"2026-12-04T10:00:00Z","count":18446744073709551615,"ratio":-1.5e3,"flag":true,"pair":[7,"seven"],"raw":{"a":[1, 2]},"any":{"b":"c"}"#;
        let direct: Shapes = serde_json::from_str(&format!("{{{fields}}}")).unwrap();
        let replayed = late(&format!(r#"{{{fields},"t":"S"}}"#)).unwrap();
        assert_eq!(direct.escaped, "a\"b\u{e9}");
        assert_eq!(direct.raw.get(), r#"{"a":[1, 2]}"#);
        assert_eq!(replayed.raw.get(), direct.raw.get());
        let (mut direct, mut replayed) = (direct, replayed);
        direct.raw = serde_json::value::RawValue::from_string("0".into()).unwrap();
        replayed.raw = serde_json::value::RawValue::from_string("0".into()).unwrap();
        assert_eq!(format!("{replayed:?}"), format!("{direct:?}"));
        // A string where another type is wanted fails as serde_json fails, naming the type.
        let error = late(r#"{"text":"plain","count":"many","t":"S"}"#).unwrap_err();
        assert!(error.contains(r#"invalid type: string "many", expected u64"#), "{error}");
        let error = late(r#"{"colour":"blue","t":"S"}"#).unwrap_err();
        assert!(error.contains("unknown variant `blue`"), "{error}");
        let error = late(r#"{"letter":"xy","t":"S"}"#).unwrap_err();
        assert!(error.contains("expected a character"), "{error}");
        // What is not JSON stays refused: a raw control character in a string before the tag.
        let error = late("{\"text\":\"a\u{1}b\",\"t\":\"S\"}").unwrap_err();
        assert!(error.contains("control character"), "{error}");
    }

    #[test]
    fn values_before_the_tag_are_kept_as_raw_json_from_serde_json_text() {
        // If serde_json stops answering the raw-value request, decoding stays correct but slow;
        // this test says so.
        let text = r#"[1, {"a": "b\n"}, null]"#;
        let buffered = BufferSeed.deserialize(&mut serde_json::Deserializer::from_str(text)).unwrap();
        assert!(matches!(buffered, Buffered::Raw(raw) if raw == text));
        let value = serde_json::json!([1, {"a": "b\n"}, null]);
        match BufferSeed.deserialize(&value).unwrap() {
            Buffered::Value(buffered) => assert_eq!(buffered, value),
            Buffered::Raw(raw) => panic!("a Value is not text: {raw}"),
        }
    }
}
