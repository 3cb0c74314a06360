//! The single entry point to the YAML library, and the small visitors every model type shares.
//!
//! Only [`from_str`] names `serde_yaml_ng`; swapping the library means changing this one
//! function. Enums are written as single-key maps (`{mss: 1460}`) or plain strings for unit
//! variants (`sack_permitted`), never with YAML `!tags`.
//!
//! Every validation happens *inside* a visitor, so that the YAML deserializer attaches the
//! position of the offending node to the error; a check made after a value is built would only
//! get the position of the enclosing map.

use std::fmt;
use std::marker::PhantomData;
use std::path::Path;

use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, Visitor};

use super::error::LoadError;

/// Parses `text` (the contents of `path`) into `T`, with single-key maps for enums.
///
/// Errors carry the file, the 1-based line and column, and serde's message prefixed with the
/// path to the value (`steps[0].inject: unknown field `sq`, expected ...`).
pub(crate) fn from_str<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, LoadError> {
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(LoadError::new(path, "the file is empty"));
    }
    serde_yaml_ng::with::singleton_map_recursive::deserialize(
        serde_yaml_ng::Deserializer::from_str(text),
    )
    .map_err(|e| {
        let mut message = e.to_string();
        let location = e.location().map(|l| (l.line(), l.column()));
        if let Some((line, column)) = location {
            // The library appends the position to its message; ours goes in front instead.
            let suffix = format!(" at line {line} column {column}");
            if let Some(i) = message.find(&suffix) {
                message.replace_range(i..i + suffix.len(), "");
            }
        }
        LoadError::at_opt(path, location, message)
    })
}

/// Formats `["a", "b"]` as "`a`, `b`" for "expected one of" messages.
pub(crate) fn one_of(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A map key that must be one of a fixed list; deserializes to the matching `&'static str`,
/// or fails at the key's position with "unknown WHAT `k`, expected one of ...".
#[derive(Clone, Copy)]
pub(crate) struct Key {
    /// The accepted keys.
    pub(crate) allowed: &'static [&'static str],
    /// What a key names, for the message ("step kind", "call").
    pub(crate) what: &'static str,
}

impl<'de> DeserializeSeed<'de> for Key {
    type Value = &'static str;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for Key {
    type Value = &'static str;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {}: one of {}", self.what, one_of(self.allowed))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.allowed
            .iter()
            .copied()
            .find(|k| *k == v)
            .ok_or_else(|| {
                E::custom(format!(
                    "unknown {} `{v}`, expected one of {}",
                    self.what,
                    one_of(self.allowed)
                ))
            })
    }
}

/// An unsigned integer in `0..=max`, checked inside the visitor.
struct Bounded {
    max: u64,
    what: &'static str,
}

impl Visitor<'_> for Bounded {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, an integer in 0..={}", self.what, self.max)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        if v <= self.max {
            Ok(v)
        } else {
            Err(E::custom(format!(
                "{v} is out of range for {}, expected 0..={}",
                self.what, self.max
            )))
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::custom(format!(
                "{v} is out of range for {}, expected 0..={}",
                self.what, self.max
            ))),
        }
    }
}

/// Deserializes an integer in `0..=max`.
pub(crate) fn bounded<'de, D: Deserializer<'de>>(
    d: D,
    max: u64,
    what: &'static str,
) -> Result<u64, D::Error> {
    d.deserialize_u64(Bounded { max, what })
}

/// Parses hex digits, ignoring ASCII whitespace between bytes.
pub(crate) fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!(
            "bad hex `{text}`: an odd number of hex digits, expected two per byte"
        ));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).unwrap_or("??");
            u8::from_str_radix(s, 16)
                .map_err(|_| format!("bad hex `{text}`: `{s}` is not a hex byte"))
        })
        .collect()
}

/// A string of hex bytes (`"deadbeef"`, spaces allowed between bytes).
pub(crate) struct HexBytes(pub(crate) Vec<u8>);

impl<'de> de::Deserialize<'de> for HexBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HexBytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string of hex bytes like \"deadbeef\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HexBytes, E> {
                parse_hex(v).map(HexBytes).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// `deserialize_with` for a hex byte string.
pub(crate) fn hex<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    <HexBytes as de::Deserialize>::deserialize(d).map(|h| h.0)
}

/// A string checked by a predicate inside the visitor.
struct CheckedString {
    what: &'static str,
    check: fn(&str) -> Result<(), String>,
}

impl Visitor<'_> for CheckedString {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        (self.check)(v).map_err(E::custom)?;
        Ok(v.to_owned())
    }
}

/// `deserialize_with` for a non-empty string without line breaks (a title).
pub(crate) fn single_line<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_str(CheckedString {
        what: "a one-line string",
        check: |v| {
            if v.trim().is_empty() {
                Err("expected a non-empty one-line string".to_owned())
            } else if v.contains('\n') {
                Err("expected one line, found a line break".to_owned())
            } else {
                Ok(())
            }
        },
    })
}

/// `deserialize_with` for a string that must not be blank.
pub(crate) fn non_empty_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_str(CheckedString {
        what: "a non-empty string",
        check: |v| {
            if v.trim().is_empty() {
                Err("expected a non-empty string".to_owned())
            } else {
                Ok(())
            }
        },
    })
}

/// A list that must not be empty and must not repeat an element, checked at the list's position.
pub(crate) struct DistinctList<T> {
    /// What the list holds, for messages ("requirement ids").
    pub(crate) what: &'static str,
    /// Whether an empty list is accepted.
    pub(crate) allow_empty: bool,
    marker: PhantomData<T>,
}

impl<T> DistinctList<T> {
    /// A visitor for a list of `what`.
    pub(crate) fn new(what: &'static str, allow_empty: bool) -> Self {
        Self {
            what,
            allow_empty,
            marker: PhantomData,
        }
    }
}

impl<'de, T: de::Deserialize<'de> + PartialEq + fmt::Display> Visitor<'de> for DistinctList<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a list of {}", self.what)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut out: Vec<T> = Vec::new();
        while let Some(item) = seq.next_element::<T>()? {
            if out.contains(&item) {
                return Err(de::Error::custom(format!(
                    "`{item}` is listed twice in this list of {}",
                    self.what
                )));
            }
            out.push(item);
        }
        if out.is_empty() && !self.allow_empty {
            return Err(de::Error::custom(format!(
                "expected a non-empty list of {}",
                self.what
            )));
        }
        Ok(out)
    }
}
