//! The W3C Trace Context `traceparent` value (Level 1, version `00`):
//! `version-traceid-parentid-flags`, lowercase hex, 55 characters.

use std::fmt;

// ANCHOR: traceparent
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: u128,
    /// The caller's span: the parent of whatever the receiver does.
    pub parent_id: u64,
    pub flags: u8,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TraceParentError {
    #[error("not version-traceid-parentid-flags")]
    Shape,
    #[error("not lowercase hex")]
    Hex,
    #[error("version ff is forbidden")]
    Version,
    #[error("an all-zero trace id or parent id is invalid")]
    Zero,
}

// ANCHOR_END: traceparent

// ANCHOR: parse
/// Parses a received value. Version `00` must be exactly 55 characters;
/// a higher version may be longer, and only its first four fields are
/// read (Trace Context, "Versioning of traceparent").
pub fn parse(value: &str) -> Result<TraceParent, TraceParentError> {
    let b = value.as_bytes();
    if b.len() < 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return Err(TraceParentError::Shape);
    }
    let version = hex(&b[0..2])? as u8;
    if version == 0xff {
        return Err(TraceParentError::Version);
    }
    if b.len() > 55 && (version == 0 || b[55] != b'-') {
        return Err(TraceParentError::Shape);
    }
    let trace_id = hex(&b[3..35])?;
    let parent_id = hex(&b[36..52])? as u64;
    let flags = hex(&b[53..55])? as u8;
    if trace_id == 0 || parent_id == 0 {
        return Err(TraceParentError::Zero);
    }
    Ok(TraceParent {
        trace_id,
        parent_id,
        flags,
    })
}

/// Lowercase hex only: the ABNF's HEXDIGLC.
fn hex(digits: &[u8]) -> Result<u128, TraceParentError> {
    digits.iter().try_fold(0u128, |n, &d| {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => return Err(TraceParentError::Hex),
        };
        Ok(n << 4 | u128::from(v))
    })
}

/// Always formats as version 00, whatever version came in.
impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (t, p, fl) = (self.trace_id, self.parent_id, self.flags);
        write!(f, "00-{t:032x}-{p:016x}-{fl:02x}")
    }
}
// ANCHOR_END: parse

pub fn nonzero<T: PartialEq + Default>(mut draw: impl FnMut() -> T) -> T {
    loop {
        let v = draw();
        if v != T::default() {
            return v;
        }
    }
}

/// A fresh span id for this service's own work.
pub fn new_span_id() -> u64 {
    nonzero(rand::random::<u64>)
}

/// A fresh trace id, when no valid one came in.
pub fn new_trace_id() -> u128 {
    nonzero(rand::random::<u128>)
}
