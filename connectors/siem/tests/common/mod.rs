#![allow(dead_code)]
//! Shared test helpers: corpus and fixture access.

use cordon_siem::{Alert, ParseError, Parsed};
use std::path::{Path, PathBuf};

pub const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus");
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

pub fn corpus(rel: &str) -> Vec<u8> {
    std::fs::read(Path::new(CORPUS).join(rel)).unwrap_or_else(|e| panic!("corpus file {rel}: {e}"))
}

pub fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(Path::new(FIXTURES).join(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

pub fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
    {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out)
        } else {
            out.push(p)
        }
    }
}

/// All alerts of a payload that must parse completely.
pub fn alerts(bytes: &[u8]) -> Vec<Alert> {
    let parsed = cordon_siem::parse_bytes(bytes);
    let mut out = Vec::new();
    for p in parsed {
        match p.result {
            Ok(a) => out.extend(a),
            Err(e) => panic!("record {:?} failed: {e}", p.origin),
        }
    }
    out
}

/// The single error of a payload that must be rejected.
pub fn error(bytes: &[u8]) -> ParseError {
    let parsed: Vec<Parsed> = cordon_siem::parse_bytes(bytes);
    assert_eq!(parsed.len(), 1, "expected one record, got {parsed:?}");
    match parsed.into_iter().next().map(|p| p.result) {
        Some(Err(e)) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}
