//! Cordon's inbound parsers: one module per source family, each an [`AlertSource`], and the
//! dispatcher that recognises a payload by its own shape (never by file name or URL) and turns it
//! into normalized [`Alert`]s, or into a [`ParseError`] a person can act on.
//!
//! - [`sentinel`]: Microsoft Sentinel incidents (playbook trigger, REST), alerts, Log Analytics rows
//! - [`graph`]: Graph security alerts v2 and incidents, Defender for Endpoint, Defender XDR
//! - [`guardduty`]: GuardDuty findings (EventBridge or bare, either casing)
//! - [`securityhub`]: ASFF findings (bare, EventBridge, GetFindings)
//! - [`okta`]: Okta System Log events, event hook deliveries
//! - [`webhook`]: Splunk alert webhooks, Chronicle/SecOps detections, Sumo Logic Cloud SIEM
//! - [`telemetry`]: CloudTrail, Entra sign-in/audit logs and other telemetry, rejected as
//!   `NotAnAlert`
//!
//! Input framing ([`parse_bytes`]): a UTF-8 BOM is ignored; a JSON array is split into its
//! elements, as is a `{value: [...]}` list response; an NDJSON stream is parsed line by line, a bad
//! line quarantined with its line number while the others still parse; a trailing comma (as in
//! published samples) is tolerated; anything else that is not JSON is `NotJson` with where it
//! broke. Nothing here panics on any input.
//!
//! Each record is first offered to the typed fast path ([`fast`]: GuardDuty findings, Okta
//! events and hook deliveries, the Sentinel incident trigger and SecurityAlert rows, Graph
//! security alerts v2, read without building a `serde_json::Value`), which gives exactly what
//! the `Value` path gives or declines; everything else, and everything it declines, goes
//! through `serde_json::Value` and [`recognise`].

mod fast;
pub mod graph;
pub mod guardduty;
pub mod okta;
pub mod securityhub;
pub mod sentinel;
pub mod telemetry;
mod util;
pub mod webhook;

pub use cordon_core::{Alert, AlertSource, ParseError};
use serde_json::Value;

/// The outcome for one record of the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// Where the record sits in the input: `""` for the whole payload, `"line 3"` for an NDJSON
    /// line, `"[2]"` / `"value[2]"` for an element of a list.
    pub origin: String,
    /// The source that recognised the record (`sentinel`, `guardduty`, `telemetry`, …).
    pub source: Option<&'static str>,
    /// The alerts, or why there are none.
    pub result: Result<Vec<Alert>, ParseError>,
}

impl Parsed {
    fn new(
        origin: String,
        source: Option<&'static str>,
        result: Result<Vec<Alert>, ParseError>,
    ) -> Self {
        Self {
            origin,
            source,
            result,
        }
    }
}

/// Every source, in the order the dispatcher asks them. Telemetry comes first so raw logs are
/// never half-parsed as alerts.
pub fn sources() -> Vec<&'static dyn AlertSource> {
    vec![
        &telemetry::Telemetry,
        &sentinel::Sentinel,
        &graph::GraphSecurity,
        &guardduty::GuardDuty,
        &securityhub::SecurityHub,
        &okta::Okta,
        &webhook::Webhook,
    ]
}

/// The source whose shape the payload has, looking at a few keys only.
pub fn recognise(payload: &Value) -> Option<&'static dyn AlertSource> {
    sources().into_iter().find(|s| s.recognises(payload))
}

/// Parses one record (an object) into alerts. An AWS SDK recording (`{status_code, data}`) is
/// unwrapped first.
pub fn parse_record(payload: &Value) -> (Option<&'static str>, Result<Vec<Alert>, ParseError>) {
    let payload = unwrap_recording(payload);
    let Some(obj) = payload.as_object() else {
        let kind = match payload {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        };
        return (
            None,
            Err(ParseError::Unrecognised {
                detail: format!("a JSON value that is {kind}, not an object"),
            }),
        );
    };
    match recognise(payload) {
        Some(s) => (Some(s.name()), s.parse(payload)),
        None => {
            let keys: Vec<&str> = obj.keys().take(8).map(String::as_str).collect();
            let detail = if keys.is_empty() {
                "an empty object".to_string()
            } else {
                format!("no known alert shape; top-level keys: {}", keys.join(", "))
            };
            (None, Err(ParseError::Unrecognised { detail }))
        }
    }
}

fn unwrap_recording(v: &Value) -> &Value {
    match v.as_object() {
        Some(o) if o.len() == 2 && o.contains_key("status_code") => o.get("data").unwrap_or(v),
        _ => v,
    }
}

/// Parses a JSON value: an array or a `{value: [...]}` list response is split into its elements,
/// each parsed on its own; anything else is one record.
pub fn parse_value(payload: &Value) -> Vec<Parsed> {
    let mut out = Vec::new();
    split_value(payload, String::new(), 0, &mut out);
    out
}

fn split_value(v: &Value, origin: String, depth: usize, out: &mut Vec<Parsed>) {
    let list = match v {
        Value::Array(a) => Some((a.as_slice(), "")),
        Value::Object(o) if is_list_response(o) => o
            .get("value")
            .and_then(Value::as_array)
            .map(|a| (a.as_slice(), "value")),
        _ => None,
    };
    match list {
        Some(([], _)) => out.push(Parsed::new(
            origin,
            None,
            Err(ParseError::NotAnAlert {
                what: "an empty list (no records)".into(),
            }),
        )),
        Some((items, prefix)) if depth < 2 => {
            for (i, item) in items.iter().enumerate() {
                split_value(item, format!("{origin}{prefix}[{i}]"), depth + 1, out);
            }
        }
        _ => {
            let (source, result) = parse_record(v);
            out.push(Parsed::new(origin, source, result));
        }
    }
}

/// A list response: `{value: [...]}` with at most OData/paging keys beside it.
fn is_list_response(o: &serde_json::Map<String, Value>) -> bool {
    o.get("value").is_some_and(Value::is_array)
        && o.keys()
            .all(|k| k == "value" || k.starts_with("@odata") || k == "nextLink" || k == "@nextLink")
}

/// Parses raw bytes (a request body, a file, a queue message). See the crate docs for framing.
pub fn parse_bytes(bytes: &[u8]) -> Vec<Parsed> {
    let records = frame(bytes, |text| match fast::parse(text) {
        Some((source, result)) => Ok(Record::Parsed(source, result)),
        None => serde_json::from_str(text).map(Record::Value),
    });
    let mut out = Vec::with_capacity(records.len());
    for (origin, record) in records {
        match record {
            Ok(Record::Parsed(source, result)) => {
                out.push(Parsed::new(origin, Some(source), result))
            }
            Ok(Record::Value(v)) => out.extend(with_origin(&origin, parse_value(&v))),
            Err(e) => out.push(Parsed::new(origin, None, Err(e))),
        }
    }
    out
}

/// [`parse_bytes`] without the fast path: every record through `serde_json::Value`. For the
/// differential tests and benchmarks.
#[doc(hidden)]
pub fn parse_bytes_via_value(bytes: &[u8]) -> Vec<Parsed> {
    split_records(bytes)
        .into_iter()
        .flat_map(|(origin, value)| match value {
            Ok(v) => with_origin(&origin, parse_value(&v)),
            Err(e) => vec![Parsed::new(origin, None, Err(e))],
        })
        .collect()
}

/// The fast path alone on one record's text: what [`parse_value`] gives for it (one outcome,
/// origin `""`), or `None` where the fast path declines. For the differential tests and
/// benchmarks.
#[doc(hidden)]
pub fn parse_record_fast(text: &str) -> Option<Parsed> {
    fast::parse(text).map(|(source, result)| Parsed::new(String::new(), Some(source), result))
}

/// A record of the input, parsed by the fast path or read as a `Value` for the dispatcher.
enum Record {
    Parsed(&'static str, Result<Vec<Alert>, ParseError>),
    Value(Value),
}

/// Prefixes the origins of a record's outcomes with where the record sits in the input.
fn with_origin(origin: &str, mut parsed: Vec<Parsed>) -> Vec<Parsed> {
    if !origin.is_empty() {
        for p in &mut parsed {
            p.origin = if p.origin.is_empty() {
                origin.to_string()
            } else {
                format!("{origin} {}", p.origin)
            };
        }
    }
    parsed
}

/// Splits raw bytes into JSON records: the whole document, or one per NDJSON line (a bad line is
/// an error with its line number; the others still parse).
pub fn split_records(bytes: &[u8]) -> Vec<(String, Result<Value, ParseError>)> {
    frame(bytes, |text| serde_json::from_str::<Value>(text))
}

/// The framing of [`split_records`], each record read by `read`.
fn frame<R>(
    bytes: &[u8],
    read: impl Fn(&str) -> Result<R, serde_json::Error>,
) -> Vec<(String, Result<R, ParseError>)> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            return vec![(
                String::new(),
                Err(ParseError::NotJson {
                    detail: format!(
                        "not UTF-8 text (invalid byte at offset {})",
                        e.valid_up_to()
                    ),
                }),
            )]
        }
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return vec![(
            String::new(),
            Err(ParseError::NotJson {
                detail: "empty payload".into(),
            }),
        )];
    }
    let first_err = match read(trimmed) {
        Ok(v) => return vec![(String::new(), Ok(v))],
        Err(e) => e,
    };
    if let Some(lines) = ndjson(text, &read) {
        return lines;
    }
    if let Some(fixed) = without_trailing_commas(trimmed) {
        if let Ok(v) = read(&fixed) {
            return vec![(String::new(), Ok(v))];
        }
    }
    vec![(String::new(), Err(not_json(trimmed, &first_err)))]
}

fn not_json(text: &str, e: &serde_json::Error) -> ParseError {
    let hint = if text.starts_with("---") || text.lines().next().is_some_and(yaml_like) {
        " (looks like YAML, not JSON)"
    } else if e.is_eof() {
        " (truncated)"
    } else {
        ""
    };
    ParseError::NotJson {
        detail: format!("{e}{hint}"),
    }
}

fn yaml_like(line: &str) -> bool {
    let l = line.trim_start();
    !l.starts_with('{') && !l.starts_with('[') && !l.starts_with('"') && l.contains(": ")
}

/// NDJSON when there are at least two non-empty lines and at least half of them are JSON
/// objects or arrays on their own (a pretty-printed document never looks like that).
fn ndjson<R>(
    text: &str,
    read: impl Fn(&str) -> Result<R, serde_json::Error>,
) -> Option<Vec<(String, Result<R, ParseError>)>> {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    if lines.len() < 2 {
        return None;
    }
    let parsed: Vec<(String, Result<R, ParseError>)> = lines
        .iter()
        .map(|(n, l)| {
            let r = if l.starts_with('{') || l.starts_with('[') {
                read(l).map_err(|e| not_json(l, &e))
            } else {
                Err(ParseError::NotJson {
                    detail: "line is not a JSON object or array".into(),
                })
            };
            (format!("line {n}"), r)
        })
        .collect();
    let good = parsed.iter().filter(|(_, r)| r.is_ok()).count();
    (good * 2 >= parsed.len() && good > 0).then_some(parsed)
}

/// Removes commas directly before `}` or `]` (outside strings). `None` when there were none.
fn without_trailing_commas(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut in_str, mut esc, mut changed) = (false, false, false);
    let mut last = 0;
    for (i, &c) in b.iter().enumerate() {
        if in_str {
            match (esc, c) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b',' => {
                let next = b[i + 1..].iter().find(|x| !x.is_ascii_whitespace());
                if matches!(next, Some(b'}') | Some(b']')) {
                    out.push_str(&text[last..i]);
                    last = i + 1;
                    changed = true;
                }
            }
            _ => {}
        }
    }
    if !changed {
        return None;
    }
    out.push_str(&text[last..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_commas_are_removed_outside_strings() {
        assert_eq!(
            without_trailing_commas(r#"{"a":[1,2,],"b":",}",}"#).unwrap(),
            r#"{"a":[1,2],"b":",}"}"#
        );
        assert!(without_trailing_commas(r#"{"a":1}"#).is_none());
    }
}
