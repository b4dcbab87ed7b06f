//! Mapping helpers shared by the Falco and Tetragon parsers: timestamps, container ids,
//! JSON scalars (borrowed, or from a `serde_json::Value`), and the event every source starts
//! from. The mapping itself is documented in `docs/FORMAT.md`.

use std::borrow::Cow;

use conanchor_store::Event;
use serde_json::Value;

use crate::sources::live::store_safe_id;

/// Container id of events that carry none (the seed's name for host processes).
pub use conanchor_probe::HOST_OR_UNKNOWN;

/// RFC 3339 (nanosecond precision kept) → ns since the Unix epoch.
pub fn rfc3339_ns(s: &str) -> Result<u64, String> {
    let t = chrono::DateTime::parse_from_rfc3339(s)
        .map_err(|e| format!("time {s:?} is not RFC 3339: {e}"))?;
    t.timestamp_nanos_opt()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| format!("time {s:?} is out of range"))
}

/// The store-safe container id of a raw id (see [`store_safe_id`], shared with the live
/// source); empty or `host` (Falco's name for host processes) → `host-or-unknown`.
pub fn sanitize_container_id(raw: &str) -> String {
    if raw.is_empty() || raw == "host" {
        return HOST_OR_UNKNOWN.to_string();
    }
    store_safe_id(raw)
}

/// A JSON value borrowed from a record: a number or a string; anything else (null, bool,
/// array, object) counts as absent.
#[derive(Debug, Default, Clone, PartialEq)]
pub enum Scalar<'a> {
    #[default]
    Absent,
    U64(u64),
    I64(i64),
    F64(f64),
    Str(Cow<'a, str>),
}

impl Scalar<'_> {
    /// A non-negative integer (a number, or a decimal string).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Scalar::U64(n) => Some(*n),
            Scalar::I64(n) => u64::try_from(*n).ok(),
            Scalar::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A 32-bit id (pid, uid); values outside u32 are absent rather than wrapped.
    pub fn as_u32(&self) -> Option<u32> {
        self.as_u64().and_then(|n| u32::try_from(n).ok())
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Scalar::U64(n) => i64::try_from(*n).ok(),
            Scalar::I64(n) => Some(*n),
            Scalar::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A non-empty string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) if !s.is_empty() => Some(s),
            _ => None,
        }
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_u64<E>(self, n: u64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::U64(n))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::I64(n))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::F64(n))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Absent)
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(s)))
            }
            fn visit_unit<E>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Absent)
            }
            fn visit_none<E>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Absent)
            }
            fn visit_some<D: serde::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Scalar<'de>, D::Error> {
                <Scalar as serde::Deserialize>::deserialize(d)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Scalar<'de>, A::Error> {
                while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Scalar::Absent)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Scalar<'de>, A::Error> {
                while a
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Scalar::Absent)
            }
        }
        d.deserialize_any(Visit)
    }
}

/// A non-negative integer given as a JSON number or a decimal string.
pub fn json_u64(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A 32-bit id (pid, uid); values outside u32 are rejected rather than wrapped.
pub fn json_u32(v: Option<&Value>) -> Option<u32> {
    json_u64(v).and_then(|n| u32::try_from(n).ok())
}

pub fn json_i64(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A non-empty string field.
pub fn json_str(v: Option<&Value>) -> Option<&str> {
    v?.as_str().filter(|s| !s.is_empty())
}

/// A new event with the fields every source sets the same way.
pub fn base_event(line: &str) -> Event {
    Event {
        extra: line.to_string(),
        cgroup_id: "0".to_string(),
        ..Event::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use conanchor_store::check_container_id;

    #[test]
    fn container_ids_are_sanitized_deterministically() {
        assert_eq!(sanitize_container_id("3ad7b26ded6d"), "3ad7b26ded6d");
        assert_eq!(sanitize_container_id(""), HOST_OR_UNKNOWN);
        assert_eq!(sanitize_container_id("host"), HOST_OR_UNKNOWN);
        let a = sanitize_container_id("pod/ns x");
        let b = sanitize_container_id("pod_ns_x");
        assert!(
            a.starts_with("pod_ns_x-") && a.len() == "pod_ns_x-".len() + 8,
            "{a}"
        );
        assert_eq!(b, "pod_ns_x");
        assert_eq!(a, sanitize_container_id("pod/ns x"));
        assert!(check_container_id(&sanitize_container_id("..")).is_ok());
        assert!(check_container_id(&sanitize_container_id(&"é".repeat(400))).is_ok());
    }

    #[test]
    fn times_keep_nanoseconds() {
        assert_eq!(
            rfc3339_ns("2024-03-09T16:00:00.123456789Z").unwrap(),
            1_710_000_000_123_456_789
        );
        assert_eq!(
            rfc3339_ns("2024-03-09T17:00:00.5+01:00").unwrap(),
            1_710_000_000_500_000_000
        );
        assert!(rfc3339_ns("yesterday").is_err());
        assert!(rfc3339_ns("1960-01-01T00:00:00Z").is_err());
    }
}
