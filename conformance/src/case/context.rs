//! What the deserializers of one file may check names against.
//!
//! Requirement ids, prelude names and table columns are validated *during* deserialization, so
//! that the YAML deserializer can attach the position of the offending scalar to the error. The
//! loader puts what they are checked against in a thread-local [`Context`] for the duration of
//! one parse ([`scoped`]); a deserializer without a context set accepts every name.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// The names one parse is checked against.
#[derive(Debug, Default)]
pub(crate) struct Context {
    /// Known requirement ids (the catalog), if requirement references are to be checked.
    pub(crate) requirements: Option<BTreeSet<String>>,
    /// Known preludes and the placeholders each uses, if prelude names are to be checked.
    pub(crate) preludes: Option<BTreeMap<String, BTreeSet<String>>>,
    /// The columns of the table being read or instantiated.
    pub(crate) columns: Option<Vec<String>>,
    /// Row names seen so far in the table being read.
    pub(crate) row_names: BTreeSet<String>,
    /// Requirement ids defined so far while loading the catalog, with the defining file.
    pub(crate) defined: Option<BTreeMap<String, PathBuf>>,
    /// The file being parsed (for "already defined in" messages).
    pub(crate) file: PathBuf,
}

thread_local! {
    static CONTEXT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

/// Restores the previous context when dropped, also on unwinding.
struct Restore(Option<Context>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        CONTEXT.with(|c| *c.borrow_mut() = previous);
    }
}

/// Runs `f` with `ctx` as the current context; returns `f`'s result and the context as `f`
/// left it (e.g. with the ids it defined).
pub(crate) fn scoped<R>(ctx: Context, f: impl FnOnce() -> R) -> (R, Context) {
    let previous = CONTEXT.with(|c| c.borrow_mut().replace(ctx));
    let guard = Restore(previous);
    let result = f();
    let ctx = CONTEXT.with(|c| c.borrow_mut().take());
    drop(guard);
    (result, ctx.unwrap_or_default())
}

/// Runs `f` on the current context, if one is set.
pub(crate) fn with<R>(f: impl FnOnce(&mut Context) -> R) -> Option<R> {
    CONTEXT.with(|c| c.borrow_mut().as_mut().map(f))
}

/// The closest of `candidates` to `name`, if one is close enough to be a likely typo.
pub(crate) fn suggest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    let len = name.chars().count();
    // Rank by edit distance, then by length difference (`MUST-1O` means `MUST-10`, not `MUST-1`).
    let mut best: Option<((usize, usize), &'a str)> = None;
    for c in candidates {
        let d = if c.eq_ignore_ascii_case(name) {
            0
        } else {
            edit_distance(&lower, &c.to_ascii_lowercase())
        };
        let rank = (d, c.chars().count().abs_diff(len));
        if best.is_none_or(|(br, _)| rank < br) {
            best = Some((rank, c));
        }
    }
    let limit = (len / 3).max(2);
    best.filter(|((d, _), _)| *d <= limit).map(|(_, c)| c)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::typo("MUST-1O", Some("MUST-10"))]
    #[case::case("must-10", Some("MUST-10"))]
    #[case::close_number("MUST-100", Some("MUST-10"))]
    #[case::far("SOMETHING-ELSE", None)]
    fn suggestions(#[case] name: &str, #[case] expected: Option<&str>) {
        let ids = ["MUST-1", "MUST-10", "SHLD-5", "MAY-2"];
        assert_eq!(suggest(name, ids), expected);
    }

    #[test]
    fn scoped_restores() {
        assert!(with(|_| ()).is_none());
        let ((), ctx) = scoped(
            Context {
                file: "x".into(),
                ..Context::default()
            },
            || {
                with(|c| {
                    c.row_names.insert("a".to_owned());
                });
                let ((), inner) = scoped(Context::default(), || ());
                assert!(inner.row_names.is_empty());
                assert_eq!(with(|c| c.row_names.len()), Some(1));
            },
        );
        assert!(ctx.row_names.contains("a"));
        assert!(with(|_| ()).is_none());
    }
}
