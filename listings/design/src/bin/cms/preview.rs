//! Signed, expiring preview links: HMAC-SHA256 over the page, the
//! revision and the expiry, checked in constant time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PreviewError {
    #[error("preview link is malformed")]
    Malformed,
    #[error("preview link signature does not match")]
    BadSignature,
    #[error("preview link expired at {0}")]
    Expired(i64),
}

// ANCHOR: sign
fn mac(key: &[u8], page: i64, rev: i32, exp: i64) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("any key length");
    // Fixed fields with a separator no field can contain.
    mac.update(format!("preview:{page}:{rev}:{exp}").as_bytes());
    mac
}

/// The query string of a link to `page` at `rev`, valid until `exp`.
pub fn sign(key: &[u8], page: i64, rev: i32, exp: i64) -> String {
    let tag = mac(key, page, rev, exp).finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("exp={exp}&sig={hex}")
}

/// Checks the signature first (so a forged expiry is a forgery, not an
/// expiry), in constant time, then the expiry against `now`.
pub fn verify(
    key: &[u8],
    page: i64,
    rev: i32,
    exp: Option<&str>,
    sig: Option<&str>,
    now: i64,
) -> Result<(), PreviewError> {
    let exp: i64 = exp
        .and_then(|e| e.parse().ok())
        .ok_or(PreviewError::Malformed)?;
    let sig = sig.and_then(decode_hex).ok_or(PreviewError::Malformed)?;
    mac(key, page, rev, exp)
        .verify_slice(&sig) // constant-time comparison
        .map_err(|_| PreviewError::BadSignature)?;
    if now >= exp {
        return Err(PreviewError::Expired(exp));
    }
    Ok(())
}
// ANCHOR_END: sign

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 64 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}
