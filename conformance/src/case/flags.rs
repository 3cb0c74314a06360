//! Flag letters (`SA`, `""`): [`TcpFlags`] of the wire codec, read inside a visitor so a bad
//! letter is reported at its position.

use std::fmt;

use reference_stack::wire::TcpFlags;
use serde::de::{self, DeserializeSeed, Deserializer, Visitor};

/// Parses flag letters, with a message naming the text and what was expected.
pub(crate) fn parse_flags(text: &str) -> Result<TcpFlags, String> {
    text.parse::<TcpFlags>().map_err(|e| {
        if e.is_duplicate() {
            format!(
                "flag letter `{}` appears twice in `{text}`, each flag is given once",
                e.character()
            )
        } else {
            format!(
                "unknown flag letter `{}` in `{text}`, expected letters from `FSRPAUECN` (FIN SYN RST PSH ACK URG ECE CWR AE), or \"\" for none",
                e.character()
            )
        }
    })
}

/// The visitor of flag letters.
pub(crate) struct FlagsVisitor;

impl Visitor<'_> for FlagsVisitor {
    type Value = TcpFlags;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("flag letters from `FSRPAUECN`, like `SA`")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<TcpFlags, E> {
        parse_flags(v).map_err(E::custom)
    }
}

/// Flag letters as a map value.
pub(crate) struct FlagsSeed;

impl<'de> DeserializeSeed<'de> for FlagsSeed {
    type Value = TcpFlags;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<TcpFlags, D::Error> {
        d.deserialize_str(FlagsVisitor)
    }
}

/// `deserialize_with` for flag letters.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TcpFlags, D::Error> {
    d.deserialize_str(FlagsVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("SA", TcpFlags::SYN | TcpFlags::ACK)]
    #[case("AS", TcpFlags::SYN | TcpFlags::ACK)]
    #[case("", TcpFlags::empty())]
    #[case("FSRPAUECN", TcpFlags::all())]
    #[case("N", TcpFlags::AE)]
    fn parses(#[case] text: &str, #[case] flags: TcpFlags) {
        assert_eq!(parse_flags(text), Ok(flags));
    }

    #[test]
    fn bit_values() {
        let bits: Vec<u16> = "FSRPAUECN"
            .chars()
            .map(|c| parse_flags(&c.to_string()).unwrap().bits())
            .collect();
        assert_eq!(
            bits,
            [
                0x001, 0x002, 0x004, 0x008, 0x010, 0x020, 0x040, 0x080, 0x100
            ]
        );
    }

    #[test]
    fn rejects() {
        let e = parse_flags("SX").unwrap_err();
        assert!(e.contains("unknown flag letter `X` in `SX`"), "{e}");
        let e = parse_flags("SAS").unwrap_err();
        assert!(e.contains("flag letter `S` appears twice in `SAS`"), "{e}");
        assert!(parse_flags("s").is_err());
    }
}
