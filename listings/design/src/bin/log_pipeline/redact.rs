//! Redaction at the source: every log line is scrubbed in the process
//! that wrote it, before it reaches a buffer, a network or a disk.

use serde_json::Value;

// ANCHOR: keys
/// Fields whose whole value is secret, whatever it looks like.
const SECRET_KEYS: [&str; 9] = [
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "authorization",
    "cookie",
    "card",
    "ssn",
];
/// Fields that are ours and never personal: left exactly as they are.
const TRUSTED_KEYS: [&str; 5] =
    ["trace_id", "span_id", "parent_id", "level", "timestamp"];

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_KEYS.iter().any(|s| key.contains(s))
}

/// Scrubs one parsed log line in place: secret keys lose their value,
/// every other string is searched for secrets and personal data.
pub fn redact_value(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if TRUSTED_KEYS.contains(&key.as_str()) {
                    continue;
                }
                if is_secret_key(key) {
                    *v = Value::String("[REDACTED]".into());
                } else {
                    redact_value(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_value),
        Value::String(s) => *s = redact_text(s),
        _ => {}
    }
}
// ANCHOR_END: keys

// ANCHOR: text
/// A keyword, the characters that may sit between it and its value (at
/// least one of `needs` among them, when `needs` is not empty), and the
/// characters that end the value.
struct Rule {
    key: &'static str,
    gap: &'static str,
    needs: &'static str,
    stop: &'static str,
}

const fn kv(key: &'static str) -> Rule {
    Rule {
        key,
        gap: " =:\"'",
        needs: "=:",
        stop: " \"'\n&,;",
    }
}

/// A header dump: the whole value (a scheme and credentials, or every
/// cookie).
const fn header(key: &'static str) -> Rule {
    Rule {
        key,
        gap: " =:\"'",
        needs: "=:",
        stop: "\"'\n,",
    }
}

const RULES: [Rule; 8] = [
    header("authorization"),
    header("cookie"),
    Rule {
        key: "bearer",
        gap: " ",
        needs: "",
        stop: " \"'\n&,;",
    },
    kv("password"),
    kv("passwd"),
    kv("secret"),
    kv("token"),
    kv("api_key"),
];

/// Free text: `password=...` and friends, credentials after
/// `Authorization:` or `Bearer`, e-mail addresses, and card numbers
/// (13 to 19 digits that pass the Luhn check).
pub fn redact_text(text: &str) -> String {
    let mut text = text.to_string();
    for rule in &RULES {
        text = after_keyword(&text, rule);
    }
    cards(&emails(&text))
}
// ANCHOR_END: text

/// Replaces the value that follows `rule.key` (case-insensitive).
fn after_keyword(text: &str, rule: &Rule) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(found) = lower[i..].find(rule.key) {
        let start = i + found + rule.key.len();
        let rest = &text[start..];
        let gap_len = rest.len()
            - rest.trim_start_matches(|c| rule.gap.contains(c)).len();
        let gap = &rest[..gap_len];
        let wanted =
            rule.needs.is_empty() || gap.contains(|c| rule.needs.contains(c));
        out.push_str(&text[i..start]);
        if gap_len == 0 || !wanted {
            i = start;
            continue;
        }
        let value_start = start + gap_len;
        let value_len = text[value_start..]
            .find(|c| rule.stop.contains(c))
            .unwrap_or(text.len() - value_start);
        out.push_str(gap);
        if value_len > 0 {
            out.push_str("[REDACTED]");
        }
        i = value_start + value_len;
    }
    out.push_str(&text[i..]);
    out
}

fn local_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._%+-".contains(c)
}

fn domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '.' || c == '-'
}

/// `local@domain.tld` becomes `[EMAIL]`.
fn emails(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let before = &rest[..at];
        let local = before.len() - before.trim_end_matches(local_char).len();
        let after = &rest[at + 1..];
        let domain = after.find(|c| !domain_char(c)).unwrap_or(after.len());
        let host = after[..domain].trim_end_matches('.');
        if local > 0 && host.contains('.') {
            out.push_str(&before[..before.len() - local]);
            out.push_str("[EMAIL]");
            rest = &after[host.len()..];
        } else {
            out.push_str(&rest[..=at]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Digit runs (single spaces or dashes allowed between digits) of 13 to
/// 19 digits that pass the Luhn check become `[CARD]`. A run glued to a
/// letter or digit (an id, a hex string) is left alone.
fn cards(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let glued = i > 0 && chars[i - 1].is_ascii_alphanumeric();
        if !chars[i].is_ascii_digit() || glued {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let (mut j, mut digits) = (i, Vec::new());
        while j < chars.len() {
            if let Some(d) = chars[j].to_digit(10) {
                digits.push(d);
                j += 1;
            } else if matches!(chars[j], ' ' | '-')
                && chars.get(j + 1).is_some_and(char::is_ascii_digit)
            {
                j += 1;
            } else {
                break;
            }
        }
        let glued_after = chars.get(j).is_some_and(char::is_ascii_alphabetic);
        if (13..=19).contains(&digits.len()) && !glued_after && luhn(&digits) {
            out.push_str("[CARD]");
        } else {
            out.extend(&chars[i..j]);
        }
        i = j;
    }
    out
}

/// The Luhn checksum (ISO/IEC 7812-1, annex B) that every card number
/// carries in its last digit.
pub fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(k, &d)| match (k % 2, d * 2) {
            (0, _) => d,
            (_, dd) if dd > 9 => dd - 9,
            (_, dd) => dd,
        })
        .sum();
    sum.is_multiple_of(10)
}
