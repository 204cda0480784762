//! Types for the JSON Schema string `format`s that generated code maps: `date-time` and `date`.
//! (`uuid` maps to [`uuid::Uuid`] directly.)
//!
//! Each serializes as the string form the format names (RFC 3339), so it can sit anywhere in a
//! payload — in a list, a map, an `Option` — and a malformed value is a decode error naming what
//! was wrong, not a panic.

use std::fmt;
use std::str::FromStr;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;

/// A `format: date-time` value: an instant with its UTC offset, written as RFC 3339.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(pub time::OffsetDateTime);

impl Timestamp {
    /// The current time, in UTC.
    pub fn now() -> Timestamp {
        Timestamp(time::OffsetDateTime::now_utc())
    }
}

impl From<time::OffsetDateTime> for Timestamp {
    fn from(value: time::OffsetDateTime) -> Self {
        Timestamp(value)
    }
}

impl FromStr for Timestamp {
    type Err = time::error::Parse;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        time::OffsetDateTime::parse(s, &Rfc3339).map(Timestamp)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(&Rfc3339) {
            Ok(text) => f.write_str(&text),
            // Only years outside 0..=9999 cannot be written as RFC 3339.
            Err(_) => write!(f, "{}", self.0),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = self.0.format(&Rfc3339).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(ParseVisitor::<Timestamp>("an RFC 3339 date-time", std::marker::PhantomData))
    }
}

/// A `format: date` value: a calendar date, written `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date(pub time::Date);

const DATE_FORMAT: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

impl From<time::Date> for Date {
    fn from(value: time::Date) -> Self {
        Date(value)
    }
}

impl FromStr for Date {
    type Err = time::error::Parse;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        time::Date::parse(s, DATE_FORMAT).map(Date)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(DATE_FORMAT) {
            Ok(text) => f.write_str(&text),
            Err(_) => write!(f, "{}", self.0),
        }
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = self.0.format(DATE_FORMAT).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(ParseVisitor::<Date>("a date (YYYY-MM-DD)", std::marker::PhantomData))
    }
}

struct ParseVisitor<T>(&'static str, std::marker::PhantomData<T>);

impl<T: FromStr<Err = time::error::Parse>> de::Visitor<'_> for ParseVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(|e| E::custom(format_args!("invalid {} `{v}`: {e}", self.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_dates_round_trip_as_strings() {
        let t: Timestamp = serde_json::from_str(r#""2026-12-01T09:30:00Z""#).unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), r#""2026-12-01T09:30:00Z""#);
        let d: Date = serde_json::from_str(r#""2026-12-01""#).unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), r#""2026-12-01""#);
        assert_eq!(d.to_string(), "2026-12-01");
        let error = serde_json::from_str::<Timestamp>(r#""yesterday""#).unwrap_err().to_string();
        assert!(error.contains("yesterday"), "{error}");
        assert!(serde_json::from_str::<Date>(r#""2026-13-01""#).is_err());
    }
}
