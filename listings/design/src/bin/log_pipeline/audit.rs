//! A tamper-evident audit log: each line carries the SHA-256 of the
//! previous line's hash and its own canonical text, so changing,
//! removing or reordering a line breaks every link after it.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The `prev` of the first line.
pub const GENESIS: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

// ANCHOR: chain
/// The canonical text of an entry: compact JSON, keys sorted (serde_json's
/// map is ordered by key unless its `preserve_order` feature is on), the
/// `hash` field left out.
fn canonical(entry: &Map<String, Value>) -> String {
    let mut body = entry.clone();
    body.remove("hash");
    Value::Object(body).to_string()
}

/// SHA-256 over the previous hash and the canonical line, as hex.
fn link(prev: &str, canonical: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Appends an entry (`seq`, `prev` and `hash` are filled in) and returns
/// the stored line.
pub fn append(log: &mut Vec<String>, mut entry: Map<String, Value>) -> String {
    let prev = match log.last() {
        Some(line) => field(line, "hash").unwrap_or_default(),
        None => GENESIS.to_string(),
    };
    entry.insert("seq".into(), Value::from(log.len() as u64 + 1));
    entry.insert("prev".into(), Value::from(prev.clone()));
    let hash = link(&prev, &canonical(&entry));
    entry.insert("hash".into(), Value::from(hash));
    let line = Value::Object(entry).to_string();
    log.push(line.clone());
    line
}
// ANCHOR_END: chain

fn field(line: &str, key: &str) -> Option<String> {
    let value: Value = serde_json::from_str(line).ok()?;
    value.get(key)?.as_str().map(String::from)
}

// ANCHOR: verify
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Tamper {
    #[error("line {0}: not a JSON object")]
    Unreadable(usize),
    #[error("line {0}: its hash does not match its content")]
    Edited(usize),
    #[error("line {0}: `prev` is not the hash of the line before")]
    Broken(usize),
    #[error("line {0}: `seq` says {1}")]
    Sequence(usize, u64),
    #[error("the last hash differs from the anchored copy")]
    Head,
}

/// Checks every link, and names the first line (1-based) that fails.
/// Returns the hash of the last line, to compare with an anchored copy.
pub fn verify(lines: &[String]) -> Result<String, Tamper> {
    let mut prev = GENESIS.to_string();
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        let Ok(Value::Object(entry)) = serde_json::from_str(line) else {
            return Err(Tamper::Unreadable(n));
        };
        let text = |k: &str| entry.get(k).and_then(Value::as_str);
        if text("prev") != Some(prev.as_str()) {
            return Err(Tamper::Broken(n));
        }
        if text("hash") != Some(link(&prev, &canonical(&entry)).as_str()) {
            return Err(Tamper::Edited(n));
        }
        let seq = entry.get("seq").and_then(Value::as_u64).unwrap_or(0);
        if seq != n as u64 {
            return Err(Tamper::Sequence(n, seq));
        }
        prev = text("hash").unwrap_or_default().to_string();
    }
    Ok(prev)
}

/// The chain alone cannot see lines cut from the end, nor a chain
/// rewritten from the edit onwards: compare the head with a copy kept
/// where the writer cannot change it.
pub fn verify_anchored(lines: &[String], anchor: &str) -> Result<(), Tamper> {
    if verify(lines)? == anchor {
        Ok(())
    } else {
        Err(Tamper::Head)
    }
}
// ANCHOR_END: verify

/// An entry from pairs of strings.
pub fn entry(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect()
}
