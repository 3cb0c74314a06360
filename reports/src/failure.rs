//! Failure messages taken apart for display: the step, each field's expected and observed
//! values, and the whole expected matcher and observed segment.
//!
//! `results.json` carries a failure as one message, written by the step engine in a fixed shape:
//!
//! ```text
//! step 8 (expect, data/x.yaml:26): field ack: expected 1024, observed 1025; field win: ...
//!   expected: flags=A seq=1 ack=1024 len=0
//!   observed: [A] seq=1 ack=1025 win=63784 len=0
//! ```
//!
//! Anything else is shown as written.

/// One field that did not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldMismatch {
    /// `ack`, `options.mss`.
    pub(crate) field: String,
    /// What the case expected.
    pub(crate) expected: String,
    /// What the DUT sent.
    pub(crate) observed: String,
}

/// A failure message, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FailureView {
    /// Where: `step 8 (expect, data/x.yaml:26)`, if the message names a step.
    pub(crate) location: String,
    /// The first line without the location.
    pub(crate) headline: String,
    /// Field by field.
    pub(crate) fields: Vec<FieldMismatch>,
    /// The whole expectation.
    pub(crate) expected: Option<String>,
    /// The whole observed segment (or state, or result).
    pub(crate) observed: Option<String>,
    /// The message as written.
    pub(crate) message: String,
}

fn split_location(line: &str) -> (String, String) {
    if line.starts_with("step ")
        && let Some(close) = line.find("): ")
    {
        return (line[..=close].to_owned(), line[close + 3..].to_owned());
    }
    (String::new(), line.to_owned())
}

fn parse_field(part: &str) -> Option<FieldMismatch> {
    let rest = part.trim().strip_prefix("field ")?;
    let (field, rest) = rest.split_once(": expected ")?;
    let (expected, observed) = rest.rsplit_once(", observed ")?;
    Some(FieldMismatch {
        field: field.to_owned(),
        expected: expected.to_owned(),
        observed: observed.to_owned(),
    })
}

/// A trial's failure for display: the message taken apart for its location and headline, with
/// the structured detail `results.json` carries (schema with `detail`) preferred over what the
/// message's text gives.
pub(crate) fn of_record(t: &conformance::results::TrialRecord) -> Option<FailureView> {
    let mut view = parse(t.reason.as_deref()?);
    if let Some(d) = &t.detail {
        if !d.fields.is_empty() {
            view.fields = d
                .fields
                .iter()
                .map(|f| FieldMismatch {
                    field: f.field.clone(),
                    expected: f.expected.clone(),
                    observed: f.observed.clone(),
                })
                .collect();
        }
        if d.expected.is_some() {
            view.expected.clone_from(&d.expected);
        }
        if d.observed.is_some() {
            view.observed.clone_from(&d.observed);
        }
    }
    Some(view)
}

/// Takes a failure message apart.
pub(crate) fn parse(message: &str) -> FailureView {
    let mut lines = message.lines();
    let first = lines.next().unwrap_or("");
    let (location, headline) = split_location(first);
    let mut fields: Vec<FieldMismatch> = Vec::new();
    if headline.starts_with("field ") {
        fields = headline.split("; ").filter_map(parse_field).collect();
    }
    let mut expected = None;
    let mut observed = None;
    for l in lines {
        let l = l.trim();
        if let Some(v) = l.strip_prefix("expected: ") {
            expected = Some(v.to_owned());
        } else if let Some(v) = l.strip_prefix("observed: ") {
            observed = Some(v.to_owned());
        }
    }
    // Messages with the values in the headline.
    if expected.is_none() && fields.is_empty() {
        if let Some((e, o)) = headline
            .split_once(": expected ")
            .and_then(|(_, rest)| rest.split_once(", observed "))
        {
            expected = Some(e.to_owned());
            observed = Some(o.to_owned());
        } else if let Some(rest) = headline.strip_prefix("no segment matching ") {
            let (m, within) = rest.rsplit_once(" within ").unwrap_or((rest, ""));
            expected = Some(format!("a segment {m} within {within}"));
            observed = Some("nothing".into());
        } else if let Some((e, got)) = headline
            .split_once(": expected ")
            .and_then(|(_, rest)| rest.split_once(", got "))
        {
            expected = Some(e.to_owned());
            observed = Some(got.to_owned());
        }
    }
    FailureView {
        location,
        headline,
        fields,
        expected,
        observed,
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn expect_mismatch() {
        let v = parse(
            "step 8 (expect, /tmp/c/test/wrong-ack.yaml:26): field ack: expected 1024, observed 1025; field window: expected 5000, observed 63784\n  \
             expected: flags=A seq=1 ack=1024 len=0\n  \
             observed: [A] seq=1 ack=1025 win=63784 len=0",
        );
        assert_eq!(v.location, "step 8 (expect, /tmp/c/test/wrong-ack.yaml:26)");
        assert_eq!(
            v.fields,
            [
                FieldMismatch {
                    field: "ack".into(),
                    expected: "1024".into(),
                    observed: "1025".into()
                },
                FieldMismatch {
                    field: "window".into(),
                    expected: "5000".into(),
                    observed: "63784".into()
                }
            ]
        );
        assert_eq!(v.expected.as_deref(), Some("flags=A seq=1 ack=1024 len=0"));
        assert_eq!(
            v.observed.as_deref(),
            Some("[A] seq=1 ack=1025 win=63784 len=0")
        );
    }

    #[test]
    fn state_no_segment_call_and_other() {
        let v = parse(
            "step 5 (state, x.yaml:9): state of 198.18.0.2:5000 <-> 198.18.0.1:4000: expected ESTABLISHED, observed SYN-RECEIVED (still so 1000.0ms after the previous step)",
        );
        assert_eq!(v.expected.as_deref(), Some("ESTABLISHED"));
        assert!(v.observed.unwrap().starts_with("SYN-RECEIVED"));

        let v = parse("step 3 (expect, x.yaml:4): no segment matching {flags=SA} within 1000.0ms");
        assert_eq!(
            v.expected.as_deref(),
            Some("a segment {flags=SA} within 1000.0ms")
        );
        assert_eq!(v.observed.as_deref(), Some("nothing"));

        let v = parse("step 2 (call, x.yaml:4): call `recv 4`: expected 4 bytes, got timed out");
        assert_eq!(v.expected.as_deref(), Some("4 bytes"));
        assert_eq!(v.observed.as_deref(), Some("timed out"));

        let v = parse("harness error: veth went away");
        assert_eq!(v.location, "");
        assert_eq!(v.headline, "harness error: veth went away");
        assert!(v.expected.is_none() && v.fields.is_empty());
    }
}
