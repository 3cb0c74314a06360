//! Durations of the case language: `500ms`, `1s`, `2.5s`, `250us`.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};

/// The units, largest first, with their length in nanoseconds.
const UNITS: [(&str, u128); 3] = [("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)];

/// Parses a duration: a non-negative decimal number followed by `s`, `ms` or `us`.
///
/// The message of the error says what was expected.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let expected = "expected a number and a unit `s`, `ms` or `us`, like `500ms` or `2.5s`";
    if text.is_empty() {
        return Err(format!("empty duration, {expected}"));
    }
    if text.starts_with('-') {
        return Err(format!(
            "bad duration `{text}`: durations cannot be negative"
        ));
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let Some(&(_, unit_ns)) = UNITS.iter().find(|(u, _)| *u == unit) else {
        return Err(if unit.is_empty() {
            format!("bad duration `{text}`: missing unit, {expected}")
        } else {
            format!("bad duration `{text}`: unknown unit `{unit}`, {expected}")
        });
    };
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if int.is_empty() || (number.contains('.') && frac.is_empty()) || frac.contains('.') {
        return Err(format!(
            "bad duration `{text}`: `{number}` is not a number, {expected}"
        ));
    }
    let too_long = || format!("bad duration `{text}`: too long");
    if int.len() > 20 || frac.len() > 20 {
        return Err(too_long());
    }
    let int: u128 = int.parse().map_err(|_| too_long())?;
    let frac_value: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| too_long())?
    };
    let scale = 10u128.pow(u32::try_from(frac.len()).unwrap_or(20));
    let frac_ns = frac_value * unit_ns;
    if !frac_ns.is_multiple_of(scale) {
        return Err(format!("bad duration `{text}`: finer than a nanosecond"));
    }
    let nanos = int * unit_ns + frac_ns / scale;
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .map_err(|_| too_long())
}

/// Formats a duration in the shortest form [`parse_duration`] reads back (`1s`, `2.5s`, `500ms`).
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    let mut best: Option<String> = None;
    for (i, (unit, unit_ns)) in UNITS.iter().enumerate() {
        let int = nanos / unit_ns;
        let frac = nanos % unit_ns;
        if int == 0 && i + 1 < UNITS.len() {
            continue;
        }
        let mut s = int.to_string();
        if frac != 0 {
            let width = unit_ns.ilog10() as usize;
            let digits = format!("{frac:0width$}");
            s.push('.');
            s.push_str(digits.trim_end_matches('0'));
        }
        s.push_str(unit);
        if best.as_ref().is_none_or(|b| s.len() < b.len()) {
            best = Some(s);
        }
    }
    best.unwrap_or_default()
}

/// Displays a [`Duration`] in the case language's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisplayDuration(pub Duration);

impl fmt::Display for DisplayDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

/// The visitor shared by the `deserialize_with` functions.
struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration like `500ms`, `1s`, `2.5s` or `250us`")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse_duration(v).map_err(E::custom)
    }
}

/// `deserialize_with` for a [`Duration`].
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_str(DurationVisitor)
}

/// `deserialize_with` for an optional [`Duration`] (use with `#[serde(default)]`).
pub(crate) fn deserialize_opt<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("500ms", Duration::from_millis(500))]
    #[case("1s", Duration::from_secs(1))]
    #[case("2.5s", Duration::from_millis(2500))]
    #[case("250us", Duration::from_micros(250))]
    #[case("0s", Duration::ZERO)]
    #[case("0.5us", Duration::from_nanos(500))]
    #[case("1.25ms", Duration::from_micros(1250))]
    fn parses(#[case] text: &str, #[case] expected: Duration) {
        assert_eq!(parse_duration(text), Ok(expected));
    }

    #[rstest]
    #[case("", "empty duration")]
    #[case("-1s", "cannot be negative")]
    #[case("5", "missing unit")]
    #[case("5m", "unknown unit `m`")]
    #[case("5 s", "unknown unit ` s`")]
    #[case("1.s", "not a number")]
    #[case(".5s", "not a number")]
    #[case("1.2.3s", "not a number")]
    #[case("ms", "not a number")]
    #[case("0.0001us", "finer than a nanosecond")]
    fn rejects(#[case] text: &str, #[case] message: &str) {
        let err = parse_duration(text).unwrap_err();
        assert!(err.contains(message), "{err}");
    }

    #[rstest]
    #[case(Duration::from_secs(1), "1s")]
    #[case(Duration::from_millis(2500), "2.5s")]
    #[case(Duration::from_millis(500), "500ms")]
    #[case(Duration::from_micros(250), "250us")]
    #[case(Duration::from_micros(1500), "1.5ms")]
    #[case(Duration::from_nanos(500), "0.5us")]
    #[case(Duration::ZERO, "0s")]
    #[case(Duration::from_secs(120), "120s")]
    fn formats_shortest(#[case] d: Duration, #[case] text: &str) {
        assert_eq!(format_duration(d), text);
        assert_eq!(parse_duration(text), Ok(d));
    }
}
