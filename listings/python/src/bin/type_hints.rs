//! 1.6 Type hints, the Rust way: newtypes, and "parse, don't validate" at a
//! serde boundary.
//!
//! Python's `NewType("UserId", int)` exists only for the type checker; at run
//! time it is the plain `int`. A Rust newtype is a real type: a `UserId`
//! cannot be passed where an `InvoiceId` is expected, and because its field
//! is private, the only way to get one is through the constructor that checks
//! it. JSON comes in as a raw struct (`SignupRequest`, the shape of the wire
//! format, like a `TypedDict`), and `TryFrom` turns it into the domain type
//! (`Signup`) or into an error that lists every field that was wrong. Code
//! that holds a `Signup` never re-checks it.
//!
//! Rules chosen here:
//! - `user_id`: an integer >= 1 (JSON numbers outside `i64` are a JSON error).
//! - `email`: surrounding whitespace trimmed; at most 254 characters; exactly
//!   one `@`; a non-empty local part; a domain with at least one dot, no
//!   empty labels and no whitespace. The domain is lowercased (DNS names are
//!   case-insensitive); the local part is kept as sent. This is a sanity
//!   check, not full RFC 5322 parsing: the real test is a confirmation mail.
//! - `display_name`: optional; if present, trimmed, 1 to 40 characters.
//! - Unknown JSON fields are rejected (`deny_unknown_fields`), so a typo such
//!   as `"emial"` fails loudly instead of being ignored.
//!
//! Bad input never panics: malformed JSON and wrong JSON types are
//! `SignupError::Json`, failed rules are `SignupError::Invalid` with one
//! `FieldError` per broken field.

use serde::Deserialize;
use std::fmt;

// ANCHOR: newtypes
/// A user id. The field is private: `UserId::new` is the only way in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId(u64);

impl UserId {
    pub fn new(raw: i64) -> Result<Self, Problem> {
        match u64::try_from(raw) {
            Ok(id) if id >= 1 => Ok(UserId(id)),
            _ => Err(Problem::NotPositive),
        }
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

/// An email address that passed `EmailAddress::parse`. `try_from = "String"`
/// makes serde run the same check when an `EmailAddress` is deserialized.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, Problem> {
        let trimmed = raw.trim();
        if trimmed.chars().count() > Self::MAX_LEN {
            return Err(Problem::TooLong { max: Self::MAX_LEN });
        }
        let Some((local, domain)) = trimmed.split_once('@') else {
            return Err(Problem::MissingAt);
        };
        if local.is_empty() {
            return Err(Problem::EmptyLocalPart);
        }
        if domain.contains('@') || trimmed.chars().any(char::is_whitespace) {
            return Err(Problem::BadCharacters);
        }
        if !domain.contains('.') || domain.split('.').any(str::is_empty) {
            return Err(Problem::BadDomain);
        }
        Ok(EmailAddress(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = Problem;

    fn try_from(raw: String) -> Result<Self, Problem> {
        EmailAddress::parse(&raw)
    }
}
// ANCHOR_END: newtypes

// ANCHOR: problem
/// Why one field was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    NotPositive,
    MissingAt,
    EmptyLocalPart,
    BadCharacters,
    BadDomain,
    Blank,
    TooLong { max: usize },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NotPositive => write!(f, "must be a positive integer"),
            Problem::MissingAt => write!(f, "must contain '@'"),
            Problem::EmptyLocalPart => write!(f, "needs text before '@'"),
            Problem::BadCharacters => {
                write!(f, "must have one '@' and no spaces")
            }
            Problem::BadDomain => write!(f, "needs a domain like example.com"),
            Problem::Blank => write!(f, "must not be blank"),
            Problem::TooLong { max } => {
                write!(f, "must be at most {max} characters")
            }
        }
    }
}

impl std::error::Error for Problem {}
// ANCHOR_END: problem

// ANCHOR: signup_error
/// One rejected field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub problem: Problem,
}

/// Everything that can go wrong turning bytes into a `Signup`.
#[derive(Debug)]
pub enum SignupError {
    /// Not JSON, or JSON of the wrong shape (types, missing or unknown keys).
    Json(serde_json::Error),
    /// Well-formed JSON whose values break the rules, every broken field.
    Invalid(Vec<FieldError>),
}

impl fmt::Display for SignupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignupError::Json(e) => write!(f, "malformed signup: {e}"),
            SignupError::Invalid(errors) => {
                write!(f, "invalid signup:")?;
                for (i, e) in errors.iter().enumerate() {
                    let sep = if i == 0 { " " } else { "; " };
                    write!(f, "{sep}{}: {}", e.field, e.problem)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for SignupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SignupError::Json(e) => Some(e),
            SignupError::Invalid(_) => None,
        }
    }
}
// ANCHOR_END: signup_error

// ANCHOR: boundary
/// The wire format: what the JSON says, before anyone has checked it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub user_id: i64,
    pub email: String,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// The domain type: holding one is proof that every rule passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signup {
    pub user_id: UserId,
    pub email: EmailAddress,
    pub display_name: Option<String>,
}

impl TryFrom<SignupRequest> for Signup {
    type Error = SignupError;

    /// Checks every field and reports all failures, not just the first.
    fn try_from(raw: SignupRequest) -> Result<Self, SignupError> {
        let mut errors = Vec::new();
        let user_id = checked(&mut errors, "user_id", UserId::new(raw.user_id));
        let email =
            checked(&mut errors, "email", EmailAddress::parse(&raw.email));
        let display_name = checked(
            &mut errors,
            "display_name",
            display_name(raw.display_name),
        );
        match (user_id, email, display_name) {
            (Some(user_id), Some(email), Some(display_name)) => Ok(Signup {
                user_id,
                email,
                display_name,
            }),
            _ => Err(SignupError::Invalid(errors)),
        }
    }
}

// ANCHOR_END: boundary

// ANCHOR: field_checks
/// The value if the check passed; otherwise the failure is recorded.
fn checked<T>(
    errors: &mut Vec<FieldError>,
    field: &'static str,
    result: Result<T, Problem>,
) -> Option<T> {
    result
        .map_err(|problem| errors.push(FieldError { field, problem }))
        .ok()
}

fn display_name(raw: Option<String>) -> Result<Option<String>, Problem> {
    const MAX: usize = 40;
    let Some(name) = raw else { return Ok(None) };
    let name = name.trim();
    if name.is_empty() {
        Err(Problem::Blank)
    } else if name.chars().count() > MAX {
        Err(Problem::TooLong { max: MAX })
    } else {
        Ok(Some(name.to_string()))
    }
}

/// Bytes in, domain type or a complete list of what was wrong out.
pub fn parse_signup(json: &str) -> Result<Signup, SignupError> {
    let raw: SignupRequest =
        serde_json::from_str(json).map_err(SignupError::Json)?;
    Signup::try_from(raw)
}
// ANCHOR_END: field_checks

// ANCHOR: invite
/// A nested newtype validated by serde itself, through `try_from = "String"`.
#[derive(Debug, Deserialize)]
pub struct Invite {
    pub email: EmailAddress,
}
// ANCHOR_END: invite

/// Only a `UserId` fits here; a bare integer or another id type does not
/// compile, which is the check `NewType` asks mypy to make.
fn greeting(id: UserId, email: &EmailAddress) -> String {
    format!("welcome, user {} <{}>", id.get(), email.as_str())
}

// ANCHOR: main
fn main() {
    let inputs = [
        r#"{"user_id": 42, "email": " Ada@Example.COM ",
            "display_name": "Ada"}"#,
        r#"{"user_id": 0, "email": "ada.example.com", "display_name": "   "}"#,
        r#"{"user_id": "42", "email": "ada@example.com"}"#,
        r#"{"user_id": 7, "emial": "ada@example.com"}"#,
        r#"{"user_id": 7"#,
    ];
    for json in inputs {
        match parse_signup(json) {
            Ok(signup) => {
                println!("ok: {}", greeting(signup.user_id, &signup.email))
            }
            Err(e) => println!("rejected: {e}"),
        }
    }
    for json in [
        r#"{"email": "grace@navy.mil"}"#,
        r#"{"email": "grace@localhost"}"#,
    ] {
        match serde_json::from_str::<Invite>(json) {
            Ok(invite) => println!("invite ok: {}", invite.email.as_str()),
            Err(e) => println!("invite rejected: {e}"),
        }
    }
}
// ANCHOR_END: main

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(json: &str) -> Vec<(&'static str, Problem)> {
        match parse_signup(json) {
            Err(SignupError::Invalid(errors)) => {
                errors.into_iter().map(|e| (e.field, e.problem)).collect()
            }
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_request_becomes_a_signup() {
        let signup = parse_signup(
            r#"{"user_id": 42, "email": " Ada@Example.COM ", "display_name": " Ada "}"#,
        );
        let expected = Signup {
            user_id: UserId(42),
            email: EmailAddress("Ada@example.com".into()),
            display_name: Some("Ada".into()),
        };
        assert_eq!(signup.ok(), Some(expected));
    }

    #[test]
    fn display_name_is_optional() {
        let signup = parse_signup(r#"{"user_id": 1, "email": "a@b.io"}"#);
        assert_eq!(signup.ok().map(|s| s.display_name), Some(None));
        let explicit_null = parse_signup(
            r#"{"user_id": 1, "email": "a@b.io", "display_name": null}"#,
        );
        assert_eq!(explicit_null.ok().map(|s| s.display_name), Some(None));
    }

    #[test]
    fn every_broken_field_is_reported_at_once() {
        assert_eq!(
            problems(
                r#"{"user_id": 0, "email": "ada.example.com", "display_name": "  "}"#
            ),
            [
                ("user_id", Problem::NotPositive),
                ("email", Problem::MissingAt),
                ("display_name", Problem::Blank),
            ]
        );
        let message = parse_signup(r#"{"user_id": -5, "email": "@x.io"}"#)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            message.as_deref(),
            Some(
                "invalid signup: user_id: must be a positive integer; email: needs text before '@'"
            )
        );
    }

    #[test]
    fn user_ids_must_be_positive() {
        assert_eq!(UserId::new(1).map(UserId::get), Ok(1));
        assert_eq!(UserId::new(i64::MAX).map(UserId::get), Ok(i64::MAX as u64));
        assert_eq!(UserId::new(0), Err(Problem::NotPositive));
        assert_eq!(UserId::new(i64::MIN), Err(Problem::NotPositive));
    }

    #[test]
    fn email_rules() {
        let ok = |raw: &str| {
            EmailAddress::parse(raw).map(|e| e.as_str().to_string())
        };
        assert_eq!(ok("ada@example.com"), Ok("ada@example.com".into()));
        assert_eq!(ok("  Ada@EXAMPLE.com\n"), Ok("Ada@example.com".into()));
        assert_eq!(ok("ada.example.com"), Err(Problem::MissingAt));
        assert_eq!(ok("@example.com"), Err(Problem::EmptyLocalPart));
        assert_eq!(ok("a@b@example.com"), Err(Problem::BadCharacters));
        assert_eq!(ok("a b@example.com"), Err(Problem::BadCharacters));
        assert_eq!(ok("ada@localhost"), Err(Problem::BadDomain));
        assert_eq!(ok("ada@example..com"), Err(Problem::BadDomain));
        assert_eq!(ok("ada@example.com."), Err(Problem::BadDomain));
        assert_eq!(ok(""), Err(Problem::MissingAt));
        let long = format!("{}@example.com", "a".repeat(EmailAddress::MAX_LEN));
        assert_eq!(ok(&long), Err(Problem::TooLong { max: 254 }));
        let edge =
            format!("{}@example.com", "a".repeat(EmailAddress::MAX_LEN - 12));
        assert_eq!(ok(&edge).map(|e| e.chars().count()), Ok(254));
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(
            display_name(Some("  Grace ".into())),
            Ok(Some("Grace".into()))
        );
        assert_eq!(
            display_name(Some("é".repeat(40))),
            Ok(Some("é".repeat(40)))
        );
        assert_eq!(
            display_name(Some("é".repeat(41))),
            Err(Problem::TooLong { max: 40 })
        );
        assert_eq!(display_name(Some("\t".into())), Err(Problem::Blank));
    }

    #[test]
    fn wrong_json_shapes_are_json_errors_not_panics() {
        for json in [
            r#"{"user_id": "42", "email": "a@b.io"}"#,
            r#"{"user_id": 1.5, "email": "a@b.io"}"#,
            r#"{"user_id": 99999999999999999999, "email": "a@b.io"}"#,
            r#"{"email": "a@b.io"}"#,
            r#"{"user_id": 7, "emial": "a@b.io"}"#,
            r#"[1, 2]"#,
            r#"{"user_id": 7"#,
            "",
        ] {
            assert!(
                matches!(parse_signup(json), Err(SignupError::Json(_))),
                "{json}"
            );
        }
        let typo = parse_signup(r#"{"user_id": 7, "emial": "a@b.io"}"#)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(typo.contains("unknown field `emial`"), "{typo}");
    }

    #[test]
    fn serde_try_from_validates_nested_newtypes() {
        let ok =
            serde_json::from_str::<Invite>(r#"{"email": "Grace@Navy.MIL"}"#);
        assert_eq!(
            ok.ok().map(|i| i.email),
            Some(EmailAddress("Grace@navy.mil".into()))
        );
        let bad =
            serde_json::from_str::<Invite>(r#"{"email": "grace@localhost"}"#);
        let message = bad.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.starts_with("needs a domain like example.com"),
            "{message}"
        );
    }

    #[test]
    fn errors_implement_the_error_trait() {
        let json_error = parse_signup("{").err();
        let source = json_error
            .as_ref()
            .and_then(|e| std::error::Error::source(e))
            .map(|s| s.to_string());
        assert!(source.is_some());
        let invalid =
            parse_signup(r#"{"user_id": 0, "email": "a@b.io"}"#).err();
        assert!(
            invalid
                .as_ref()
                .and_then(|e| std::error::Error::source(e))
                .is_none()
        );
    }
}
