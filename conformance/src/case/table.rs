//! Tables: `${column}` placeholders, the `table` section, and textual substitution per row.
//!
//! Substitution is textual, on the whole file, before the row's file is parsed. To keep error
//! positions in the original file's coordinates, [`Substituted`] remembers every replacement and
//! maps a column of the substituted text back (a position inside a replaced value maps to the
//! `$` of its placeholder). Row values are single-line, so line numbers never move.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::context;
use super::error::LoadError;

/// A `${name}` in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placeholder {
    /// The column it names.
    pub(crate) name: String,
    /// 1-based line.
    pub(crate) line: usize,
    /// 1-based column (characters) of the `$`.
    pub(crate) column: usize,
    /// Byte range of `${name}` in the text.
    pub(crate) start: usize,
    /// End of the byte range (exclusive).
    pub(crate) end: usize,
}

/// True for a valid column name: ASCII letters, digits, `_` and `-`.
fn is_column_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Finds every `${...}` in `text`; fails at a malformed one (`(line, column, message)`).
pub(crate) fn scan_placeholders(text: &str) -> Result<Vec<Placeholder>, (usize, usize, String)> {
    let mut out = Vec::new();
    let mut offset = 0;
    for (i, line) in text.split('\n').enumerate() {
        let mut search = 0;
        while let Some(rel) = line[search..].find("${") {
            let at = search + rel;
            let column = line[..at].chars().count() + 1;
            let Some(close) = line[at + 2..].find('}') else {
                return Err((
                    i + 1,
                    column,
                    "unterminated placeholder: `${` without `}` on the same line".to_owned(),
                ));
            };
            let name = &line[at + 2..at + 2 + close];
            if !is_column_name(name) {
                return Err((
                    i + 1,
                    column,
                    format!(
                        "malformed placeholder `${{{name}}}`, expected `${{column}}` with a column name of letters, digits, `_` or `-`"
                    ),
                ));
            }
            let end = at + 2 + close + 1;
            out.push(Placeholder {
                name: name.to_owned(),
                line: i + 1,
                column,
                start: offset + at,
                end: offset + end,
            });
            search = end;
        }
        offset += line.len() + 1;
    }
    Ok(out)
}

/// `text` with every placeholder replaced by underscores of the same length: a plain scalar
/// that is valid in block and flow context, so the file's structure can be read before any
/// row is substituted, with positions unchanged.
pub(crate) fn mask(text: &str, placeholders: &[Placeholder]) -> String {
    let mut out = text.to_owned();
    for p in placeholders {
        out.replace_range(p.start..p.end, &"_".repeat(p.end - p.start));
    }
    out
}

/// One replacement, for mapping positions back.
#[derive(Debug, Clone)]
struct Replacement {
    line: usize,
    /// Original 1-based column of the `$`.
    column: usize,
    /// Characters of `${name}`.
    old_len: usize,
    /// Characters of the value.
    new_len: usize,
}

/// A file with one row's values substituted.
#[derive(Debug, Clone)]
pub(crate) struct Substituted {
    /// The text to parse.
    pub(crate) text: String,
    replacements: Vec<Replacement>,
}

/// Replaces every placeholder with the row's value for its column (all must be present).
pub(crate) fn substitute(
    text: &str,
    placeholders: &[Placeholder],
    values: &BTreeMap<String, String>,
) -> Substituted {
    let mut out = String::with_capacity(text.len());
    let mut replacements = Vec::with_capacity(placeholders.len());
    let mut last = 0;
    for p in placeholders {
        let value = values.get(&p.name).map_or("", String::as_str);
        out.push_str(&text[last..p.start]);
        out.push_str(value);
        last = p.end;
        replacements.push(Replacement {
            line: p.line,
            column: p.column,
            old_len: p.name.chars().count() + 3,
            new_len: value.chars().count(),
        });
    }
    out.push_str(&text[last..]);
    Substituted {
        text: out,
        replacements,
    }
}

impl Substituted {
    /// The original column of `column` (1-based) on `line` of the substituted text.
    pub(crate) fn original_column(&self, line: usize, column: usize) -> usize {
        let mut delta: isize = 0;
        for r in self.replacements.iter().filter(|r| r.line == line) {
            let new_start = r.column.saturating_add_signed(delta);
            if column < new_start {
                break;
            }
            if column < new_start + r.new_len.max(1) {
                return r.column;
            }
            delta += r.new_len as isize - r.old_len as isize;
        }
        column.saturating_add_signed(-delta).max(1)
    }

    /// Maps the position of an error in the substituted text back to the file.
    pub(crate) fn map_error(&self, mut e: LoadError) -> LoadError {
        if let (Some(line), Some(column)) = (e.line, e.column) {
            e.column = Some(self.original_column(line, column));
        }
        e
    }
}

/// The `table` section as read in the first pass: the columns only.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TableColumns {
    pub(crate) columns: Columns,
    #[allow(dead_code)]
    rows: IgnoredAny,
}

/// The `table` section, rows checked against the columns of the current context.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Table {
    /// Read in the first pass, which put them in the context.
    #[allow(dead_code)]
    columns: IgnoredAny,
    pub(crate) rows: Rows,
}

/// Column names: valid, distinct, not `name`.
#[derive(Debug, Clone)]
pub(crate) struct Columns(pub(crate) Vec<String>);

impl<'de> Deserialize<'de> for Columns {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Columns;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of column names")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Columns, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = seq.next_element_seed(ColumnSeed(&names))? {
                    names.push(name);
                }
                Ok(Columns(names))
            }
        }
        d.deserialize_seq(V)
    }
}

/// One column name, checked against the ones before it.
struct ColumnSeed<'a>(&'a [String]);

impl<'de> DeserializeSeed<'de> for ColumnSeed<'_> {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for ColumnSeed<'_> {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a column name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        if v == "name" {
            Err(E::custom(
                "`name` cannot be a column: every row has a `name` already",
            ))
        } else if !is_column_name(v) {
            Err(E::custom(format!(
                "bad column name `{v}`, expected letters, digits, `_` or `-`"
            )))
        } else if self.0.iter().any(|c| c == v) {
            Err(E::custom(format!("column `{v}` is listed twice")))
        } else {
            Ok(v.to_owned())
        }
    }
}

/// The rows: at least one.
#[derive(Debug)]
pub(crate) struct Rows(pub(crate) Vec<Row>);

impl<'de> Deserialize<'de> for Rows {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Rows;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of rows like `{name: syn, COLUMN: VALUE, ...}`")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Rows, A::Error> {
                let mut rows = Vec::new();
                while let Some(row) = seq.next_element()? {
                    rows.push(row);
                }
                if rows.is_empty() {
                    return Err(de::Error::custom("a table needs at least one row"));
                }
                Ok(Rows(rows))
            }
        }
        d.deserialize_seq(V)
    }
}

/// One row: its name and a value for every column.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// `[a-z0-9-]+`, unique in the table.
    pub(crate) name: String,
    /// Column to the text substituted for `${column}`.
    pub(crate) values: BTreeMap<String, String>,
}

/// A row key: `name` or a column of the context.
struct RowKey;

impl<'de> DeserializeSeed<'de> for RowKey {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for RowKey {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`name` or a column name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        if v == "name" {
            return Ok(v.to_owned());
        }
        let columns = context::with(|c| c.columns.clone())
            .flatten()
            .unwrap_or_default();
        if columns.iter().any(|c| c == v) {
            Ok(v.to_owned())
        } else {
            Err(E::custom(format!(
                "unknown column `{v}` in table row, expected `name` or one of the columns {}",
                columns_list(&columns)
            )))
        }
    }
}

fn columns_list(columns: &[String]) -> String {
    if columns.is_empty() {
        "(none)".to_owned()
    } else {
        columns
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Checks a row's name: `[a-z0-9-]+` and not seen before in this table.
struct RowNameVisitor;

impl Visitor<'_> for RowNameVisitor {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row name of `a-z`, `0-9` and `-`")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        if v.is_empty()
            || !v
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(E::custom(format!(
                "bad row name `{v}`, expected `a-z`, `0-9` and `-` only"
            )));
        }
        let fresh = context::with(|c| c.row_names.insert(v.to_owned())).unwrap_or(true);
        if fresh {
            Ok(())
        } else {
            Err(E::custom(format!(
                "row name `{v}` is used twice, row names are unique"
            )))
        }
    }
}

/// A row value: a scalar, substituted as its text; single-line.
struct Value(String);

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scalar (its text replaces the placeholder)")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
                Ok(Value(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
                Ok(Value(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
                Ok(Value(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
                Ok(Value(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
                if v.contains('\n') {
                    Err(E::custom(
                        "a table value must be one line (it is substituted into the file)",
                    ))
                } else {
                    Ok(Value(v.to_owned()))
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Row {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Row;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a row: `{name: NAME, COLUMN: VALUE, ...}`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Row, A::Error> {
                let mut name: Option<String> = None;
                let mut values = BTreeMap::new();
                while let Some(key) = map.next_key_seed(RowKey)? {
                    if key == "name" {
                        if name.is_some() {
                            return Err(de::Error::custom("`name` given twice in a row"));
                        }
                        // Read as text first (for the message), then check.
                        let text: String = map.next_value_seed(NameSeed)?;
                        name = Some(text);
                    } else {
                        if values.contains_key(&key) {
                            return Err(de::Error::custom(format!(
                                "column `{key}` given twice in a row"
                            )));
                        }
                        let Value(v) = map.next_value()?;
                        values.insert(key, v);
                    }
                }
                let Some(name) = name else {
                    return Err(de::Error::custom(
                        "table row without `name`, expected `{name: NAME, COLUMN: VALUE, ...}`",
                    ));
                };
                let columns = context::with(|c| c.columns.clone())
                    .flatten()
                    .unwrap_or_default();
                let missing: Vec<&String> = columns
                    .iter()
                    .filter(|c| !values.contains_key(*c))
                    .collect();
                if !missing.is_empty() {
                    return Err(de::Error::custom(format!(
                        "table row `{name}` gives no value for column {}; every row gives every column",
                        missing
                            .iter()
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                Ok(Row { name, values })
            }
        }
        d.deserialize_map(V)
    }
}

/// Reads a row name, checking it.
struct NameSeed;

impl<'de> DeserializeSeed<'de> for NameSeed {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = String;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a row name of `a-z`, `0-9` and `-`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
                RowNameVisitor.visit_str(v)?;
                Ok(v.to_owned())
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_placeholders() {
        let text = "a: ${x}\nb: \"${long-name}${x}\"\n";
        let p = scan_placeholders(text).unwrap();
        let got: Vec<(&str, usize, usize)> = p
            .iter()
            .map(|p| (p.name.as_str(), p.line, p.column))
            .collect();
        assert_eq!(got, [("x", 1, 4), ("long-name", 2, 5), ("x", 2, 17)]);
        assert_eq!(&text[p[1].start..p[1].end], "${long-name}");
        assert_eq!(mask(text, &p), "a: ____\nb: \"________________\"\n");
    }

    #[test]
    fn rejects_bad_placeholders() {
        assert_eq!(scan_placeholders("a: 1\nb: ${x\n").unwrap_err().0, 2);
        let (line, column, msg) = scan_placeholders("ok: ${a b}").unwrap_err();
        assert_eq!((line, column), (1, 5));
        assert!(msg.contains("malformed placeholder"), "{msg}");
    }

    #[test]
    fn maps_columns_back() {
        let text = "x: [${a}, ${bb}, z]";
        let p = scan_placeholders(text).unwrap();
        let values = BTreeMap::from([
            ("a".to_owned(), "LONGVALUE".to_owned()),
            ("bb".to_owned(), "S".to_owned()),
        ]);
        let s = substitute(text, &p, &values);
        assert_eq!(s.text, "x: [LONGVALUE, S, z]");
        // `[` stays, inside a value maps to its `$`, after both maps past them.
        assert_eq!(s.original_column(1, 4), 4);
        assert_eq!(s.original_column(1, 8), 5);
        assert_eq!(s.original_column(1, 16), 11);
        assert_eq!(s.original_column(1, 19), 18);
        assert_eq!(s.original_column(2, 7), 7);
    }
}
