//! 2.10 API versioning, the client's side: a tolerant reader.
//!
//! serde ignores fields a struct does not name, so a client built against
//! today's response keeps working when the server adds a field; with
//! `#[serde(deny_unknown_fields)]` the same addition breaks it. An enum
//! with a `#[serde(other)]` variant turns a value the client has never
//! seen into `Unknown` instead of an error. Tolerance has limits: a
//! renamed or removed field the client needs still fails, loudly.

use serde::Deserialize;

// ANCHOR: readers
/// Reads only what it uses; everything else in the response is ignored.
#[derive(Debug, Deserialize)]
pub struct Customer {
    pub id: u64,
    pub display_name: String,
    pub status: Status,
    /// serde's derive reads an absent `Option` field as `None`.
    pub email: Option<String>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Inactive,
    /// Any status this client was built without.
    #[serde(other)]
    Unknown,
}

/// The same client, written to refuse anything it did not expect.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrictCustomer {
    pub id: u64,
    pub display_name: String,
    pub status: StrictStatus,
    pub email: Option<String>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrictStatus {
    Active,
    Inactive,
}
// ANCHOR_END: readers

// ANCHOR: responses
/// What the server sent as it evolved (the client was built for the first).
pub const RESPONSES: [(&str, &str); 4] = [
    (
        "as built",
        r#"{"id": 1, "display_name": "Ada", "status": "active",
            "email": "ada@example.com"}"#,
    ),
    (
        "a field added",
        r#"{"id": 1, "display_name": "Ada", "status": "active",
            "email": "ada@example.com", "loyalty_tier": "gold"}"#,
    ),
    (
        "an enum value added",
        r#"{"id": 2, "display_name": "Grace", "status": "paused",
            "email": "grace@example.com"}"#,
    ),
    (
        "a field renamed",
        r#"{"id": 1, "name": "Ada", "status": "active",
            "email": "ada@example.com"}"#,
    ),
];
// ANCHOR_END: responses

/// What a reader made of one response, for the printout.
fn outcome<T>(
    result: serde_json::Result<T>,
    status: fn(&T) -> String,
) -> String {
    match result {
        Ok(value) => format!("ok, status {}", status(&value)),
        Err(error) => format!("error: {error}"),
    }
}

fn main() {
    for (change, body) in RESPONSES {
        println!("{change}:");
        let tolerant = serde_json::from_str::<Customer>(body);
        let strict = serde_json::from_str::<StrictCustomer>(body);
        println!(
            "  tolerant: {}",
            outcome(tolerant, |c| format!("{:?}", c.status))
        );
        println!(
            "  strict:   {}",
            outcome(strict, |c| format!("{:?}", c.status))
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tolerant(i: usize) -> serde_json::Result<Customer> {
        serde_json::from_str(RESPONSES[i].1)
    }

    fn strict(i: usize) -> serde_json::Result<StrictCustomer> {
        serde_json::from_str(RESPONSES[i].1)
    }

    #[test]
    fn both_readers_accept_the_response_they_were_built_for() {
        assert_eq!(tolerant(0).unwrap().status, Status::Active);
        assert_eq!(strict(0).unwrap().status, StrictStatus::Active);
    }

    #[test]
    fn a_new_field_is_ignored_by_the_tolerant_reader_only() {
        let customer = tolerant(1).unwrap();
        assert_eq!(customer.display_name, "Ada");
        let error = strict(1).unwrap_err().to_string();
        assert!(error.contains("unknown field `loyalty_tier`"), "{error}");
    }

    #[test]
    fn a_new_enum_value_falls_back_to_unknown() {
        assert_eq!(tolerant(2).unwrap().status, Status::Unknown);
        let error = strict(2).unwrap_err().to_string();
        assert!(error.contains("unknown variant `paused`"), "{error}");
    }

    #[test]
    fn a_renamed_field_breaks_both_readers() {
        let error = tolerant(3).unwrap_err().to_string();
        assert!(error.contains("missing field `display_name`"), "{error}");
        assert!(strict(3).is_err());
    }

    #[test]
    fn an_optional_field_may_be_absent_or_null() {
        let absent = r#"{"id": 1, "display_name": "A", "status": "active"}"#;
        let null = r#"{"id": 1, "display_name": "A", "status": "active",
                       "email": null}"#;
        for body in [absent, null] {
            let customer: Customer = serde_json::from_str(body).unwrap();
            assert_eq!(customer.email, None);
        }
    }

    #[test]
    fn tolerance_is_not_about_types_or_malformed_json() {
        let wrong_type =
            r#"{"id": "1", "display_name": "A", "status": "active"}"#;
        let error = serde_json::from_str::<Customer>(wrong_type).unwrap_err();
        assert!(error.to_string().contains("invalid type"), "{error}");
        let truncated = r#"{"id": 1, "display_name": "#;
        assert!(
            serde_json::from_str::<Customer>(truncated)
                .unwrap_err()
                .is_eof()
        );
        // `other` catches unknown strings, not other JSON types.
        let number = r#"{"id": 1, "display_name": "A", "status": 3}"#;
        assert!(serde_json::from_str::<Customer>(number).is_err());
    }
}
