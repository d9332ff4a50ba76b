use std::time::Instant;

use super::*;
use crate::audit::Tamper;
use crate::redact::{redact_text, redact_value};
use crate::services::Context;
use crate::traceparent::{TraceParentError, parse};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

// ---------------------------------------------------------------------
// traceparent

#[test]
fn the_specs_examples_parse_and_format_back() {
    let tp = parse(SPEC_EXAMPLE).unwrap();
    assert_eq!(format!("{:032x}", tp.trace_id), TRACE);
    assert_eq!(tp.parent_id, 0x00f0_67aa_0ba9_02b7);
    assert_eq!(tp.flags, 0x01);
    assert_eq!(tp.to_string(), SPEC_EXAMPLE);
    let unsampled = SPEC_EXAMPLE.replace("-01", "-00");
    assert_eq!(parse(&unsampled).unwrap().flags, 0);
}

#[test]
fn invalid_values_are_refused_with_the_reason() {
    use TraceParentError::*;
    let zeros32 = "0".repeat(32);
    let cases = [
        ("", Shape),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            Shape,
        ),
        (
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            Shape,
        ),
        // Version 00 is exactly 55 characters.
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            Shape,
        ),
        (
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            Hex,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902g7-01",
            Hex,
        ),
        (
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            Hex,
        ),
        (
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            Version,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            Zero,
        ),
    ];
    for (value, why) in cases {
        assert_eq!(parse(value), Err(why), "{value:?}");
    }
    let zero = format!("00-{zeros32}-00f067aa0ba902b7-01");
    assert_eq!(parse(&zero), Err(Zero));
    // Not ASCII: refused, no panic on a multi-byte character.
    let odd = "00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01";
    assert!(parse(odd).is_err());
}

#[test]
fn a_higher_version_is_read_for_its_first_four_fields() {
    // The cases of the W3C test suite (test_traceparent_version_0x00
    // and _0xcc), with our ids.
    let ids = "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    for accepted in [
        format!("cc-{ids}"),
        format!("cc-{ids}-what-the-future-will-be-like"),
    ] {
        let tp = parse(&accepted).unwrap();
        assert_eq!(format!("{:032x}", tp.trace_id), TRACE);
        // Sent on as version 00, the highest this code knows.
        assert_eq!(tp.to_string(), SPEC_EXAMPLE);
    }
    for refused in [
        format!("cc-{ids}.what-the-future-will-be-like"),
        format!("00-{ids}."),
        format!("00-{ids}-what-the-future-will-be-like"),
    ] {
        assert_eq!(parse(&refused), Err(TraceParentError::Shape));
    }
}

#[test]
fn the_context_sends_on_its_own_span_and_only_the_sampled_bit() {
    let all_flags = SPEC_EXAMPLE.replace("-01", "-ff");
    let ctx = Context::accept(Some(&all_flags));
    assert_eq!(ctx.parent_id, Some(0x00f0_67aa_0ba9_02b7));
    let out = ctx.outgoing();
    assert_eq!(format!("{:032x}", out.trace_id), TRACE);
    assert_eq!(out.parent_id, ctx.span_id);
    assert_eq!(out.flags, 0x01);
    // Missing or invalid: a new trace, and the reason kept for the log.
    let none = Context::accept(None);
    assert_eq!((none.parent_id, none.ignored), (None, None));
    let bad = Context::accept(Some("00-zz"));
    assert_eq!(bad.ignored, Some(TraceParentError::Shape));
    assert_ne!(bad.trace_id, 0);
}

// ---------------------------------------------------------------------
// redaction

#[test]
fn secrets_and_personal_data_are_replaced_in_free_text() {
    let cases = [
        ("login password=hunter2 ok", "login password=[REDACTED] ok"),
        (
            "{\"password\":\"hunter2\"}",
            "{\"password\":\"[REDACTED]\"}",
        ),
        ("Password: hunter2", "Password: [REDACTED]"),
        ("client_secret=s3cr3t&x=1", "client_secret=[REDACTED]&x=1"),
        (
            "\"authorization\": \"Basic dXNlcjpwYXNz\"",
            "\"authorization\": \"[REDACTED]\"",
        ),
        ("sent Bearer abc.def.ghi", "sent Bearer [REDACTED]"),
        ("mail alice.b+x@mail.example.com now", "mail [EMAIL] now"),
        ("card 4111 1111 1111 1111.", "card [CARD]."),
        ("card 4111-1111-1111-1111", "card [CARD]"),
        ("pan 5555555555554444", "pan [CARD]"),
        ("Cookie: sid=abc; theme=dark", "Cookie: [REDACTED]"),
    ];
    for (input, expected) in cases {
        assert_eq!(redact_text(input), expected, "{input:?}");
    }
}

#[test]
fn free_text_scrubbing_is_a_net_not_a_guarantee() {
    // The value ends at a space: the rest of a spaced password stays.
    let leaky = redact_text("password=correct horse battery");
    assert_eq!(leaky, "password=[REDACTED] horse battery");
    // Unlabelled, a secret looks like any other word.
    assert_eq!(redact_text("pw is hunter2"), "pw is hunter2");
}

#[test]
fn ordinary_text_is_left_alone() {
    for text in [
        "order 42 shipped in 3 days",
        "password reset requested",
        "tokenizer loaded",
        "card 4111 1111 1111 1112 fails Luhn",
        "trace 4bf92f3577b34da6a3ce929d0e0e4736",
        "id 1234567890123456789012 is too long for a card",
        "user@localhost has no domain",
        "",
    ] {
        assert_eq!(redact_text(text), text);
    }
}

#[test]
fn secret_keys_lose_their_value_and_trusted_keys_are_kept() {
    let mut v = serde_json::json!({
        "user_password": 1234,
        "Authorization": "anything",
        "nested": {"api_key": "k", "note": "to bob@example.org"},
        "list": ["4111111111111111"],
        "trace_id": "4111111111111111",
    });
    redact_value(&mut v);
    assert_eq!(
        v,
        serde_json::json!({
            "user_password": "[REDACTED]",
            "Authorization": "[REDACTED]",
            "nested": {"api_key": "[REDACTED]", "note": "to [EMAIL]"},
            "list": ["[CARD]"],
            "trace_id": "4111111111111111",
        })
    );
}

#[test]
fn a_line_that_is_not_a_json_object_is_not_shipped() {
    for line in [&b"not json"[..], b"[1,2]", b"", b"\xff\xfe"] {
        assert_eq!(collector::normalise("svc", line), None);
    }
    let line = br#"{"timestamp":"2026-01-01T00:00:00Z","level":"INFO",
        "message":"hi","span":{"trace_id":"ab","span_id":"cd",
        "parent_id":"","name":"work"},"target":"t"}"#;
    let r = collector::normalise("svc", line).unwrap();
    assert_eq!(r.trace_id.as_deref(), Some("ab"));
    assert_eq!(r.parent_id, None); // empty: a root span
    assert!(r.fields.is_empty());
}

// ---------------------------------------------------------------------
// audit

fn chain() -> Vec<String> {
    let mut lines = Vec::new();
    for entry in audit_entries() {
        audit::append(&mut lines, entry);
    }
    lines
}

#[test]
fn an_edited_line_is_found_and_named() {
    let clean = chain();
    assert!(audit::verify(&clean).is_ok());
    for k in 0..clean.len() {
        let mut lines = clean.clone();
        lines[k] = lines[k].replace("alice", "mallory").replace("bob", "eve");
        assert_eq!(audit::verify(&lines), Err(Tamper::Edited(k + 1)));
    }
}

#[test]
fn removed_or_reordered_lines_break_the_next_link() {
    let clean = chain();
    let mut removed = clean.clone();
    removed.remove(1);
    assert_eq!(audit::verify(&removed), Err(Tamper::Broken(2)));
    let mut swapped = clean.clone();
    swapped.swap(1, 2);
    assert_eq!(audit::verify(&swapped), Err(Tamper::Broken(2)));
    let mut garbage = clean;
    garbage[3] = "not json".to_string();
    assert_eq!(audit::verify(&garbage), Err(Tamper::Unreadable(4)));
}

#[test]
fn a_cut_or_rewritten_tail_needs_the_anchored_head() {
    let clean = chain();
    let anchor = audit::verify(&clean).unwrap();
    // Cut the last line: the chain that is left is still valid.
    let cut = &clean[..3];
    assert!(audit::verify(cut).is_ok());
    assert_eq!(audit::verify_anchored(cut, &anchor), Err(Tamper::Head));
    // Rewrite from line 2 on, recomputing every hash: valid again.
    let mut forged = vec![clean[0].clone()];
    for (i, mut e) in audit_entries().into_iter().enumerate().skip(1) {
        if i == 1 {
            e.insert("action".into(), "refund 2000".into());
        }
        audit::append(&mut forged, e);
    }
    assert!(audit::verify(&forged).is_ok());
    assert_eq!(audit::verify_anchored(&forged, &anchor), Err(Tamper::Head));
    assert_eq!(audit::verify_anchored(&clean, &anchor), Ok(()));
}

// ---------------------------------------------------------------------
// With PostgreSQL (and RabbitMQ)

async fn pipeline(
    test: &str,
    capacity: usize,
    stalled: bool,
) -> Option<(Pipeline, Option<StalledSink>)> {
    let started = Pipeline::start(capacity, stalled).await;
    support::skip::in_test(test, "PostgreSQL", started)
}

async fn services(test: &str, p: &Pipeline) -> Option<Services> {
    let url = support::amqp::amqp_url();
    let started = Services::start(&p.collector, &url).await;
    support::skip::in_test(test, "RabbitMQ", started)
}

/// Sends a checkout and waits until billing has handled `billed`
/// messages and every accepted line is stored.
async fn checkout(
    p: &mut Pipeline,
    s: &Services,
    headers: &[(&str, &str)],
    body: &str,
    billed: u64,
) -> (u16, String) {
    let url = format!("{}/checkout", s.gateway);
    let answer = post(&http(), &url, headers, body).await.unwrap();
    let mut b = s.billed.clone();
    let wait = b.wait_for(|&n| n >= billed);
    if answer.0 == 200 {
        tokio::time::timeout(Duration::from_secs(5), wait)
            .await
            .unwrap()
            .unwrap();
    }
    let accepted = p.collector.counts.accepted.load(Ordering::Relaxed);
    assert_eq!(p.stored_at_least(accepted).await, accepted);
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_id_joins_three_services_over_http_and_the_broker() {
    let test = "one_trace_id_joins_three_services";
    let Some((mut p, _)) = pipeline(test, 256, false).await else {
        return;
    };
    let Some(s) = services(test, &p).await else {
        p.finish().await.unwrap();
        return;
    };
    let headers = [("traceparent", SPEC_EXAMPLE)];
    let (status, trace) = checkout(&mut p, &s, &headers, CHECKOUT, 1).await;
    assert_eq!((status, trace.as_str()), (200, TRACE));
    let lines = p.store.by_trace(TRACE).await.unwrap();
    let who: Vec<&str> = lines.iter().map(|l| l.service.as_str()).collect();
    assert_eq!(who, ["gateway", "orders", "billing"]);
    // Each hop's parent is the span of the hop before.
    assert_eq!(lines[0].parent_id.as_deref(), Some("00f067aa0ba902b7"));
    assert_eq!(lines[1].parent_id, lines[0].span_id);
    assert_eq!(lines[2].parent_id, lines[1].span_id);
    // Stored in today's partition, not the default one.
    assert!(lines.iter().all(|l| l.partition.starts_with("logs_2")));

    // No traceparent: the gateway starts a trace that still spans all.
    let (status, new) = checkout(&mut p, &s, &[], CHECKOUT, 2).await;
    assert_eq!(status, 200);
    assert_ne!(new, TRACE);
    let lines = p.store.by_trace(&new).await.unwrap();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0].parent_id, None);
    s.stop().await.unwrap();
    p.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_secrets_are_never_stored() {
    let test = "seeded_secrets_are_never_stored";
    let Some((mut p, _)) = pipeline(test, 256, false).await else {
        return;
    };
    let Some(s) = services(test, &p).await else {
        p.finish().await.unwrap();
        return;
    };
    let secrets = [
        "hunter2",
        "correct-horse",
        "eyJhbGciOiJIUzI1NiJ9",
        "c2VjcmV0",
        "4111 1111 1111 1111",
        "4111111111111111",
        "5555-5555-5555-4444",
        "alice@example.com",
        "bob.smith+shop@mail.example.org",
    ];
    let bodies = [
        CHECKOUT.to_string(),
        r#"{"order":8,"email":"bob.smith+shop@mail.example.org","note":"card 5555-5555-5555-4444, pw: password=correct-horse"}"#.to_string(),
        // Not JSON: refused, but the raw body was logged first.
        "password=hunter2&card=4111111111111111".to_string(),
    ];
    let mut billed = 0;
    for body in &bodies {
        let headers = [("authorization", BEARER), ("cookie", "sid=c2VjcmV0")];
        let (status, _) =
            checkout(&mut p, &s, &headers, body, billed + 1).await;
        if status == 200 {
            billed += 1;
        }
    }
    assert_eq!(billed, 2);
    let row = p
        .store
        .client()
        .query_one(
            "SELECT count(*), string_agg(message || ' ' || fields::text, \
             E'\\n') FROM logs",
            &[],
        )
        .await
        .unwrap();
    let (count, stored): (i64, String) = (row.get(0), row.get(1));
    assert!(count >= 8, "{count} lines");
    for secret in secrets {
        assert!(!stored.contains(secret), "{secret:?} stored:\n{stored}");
    }
    for mark in ["[REDACTED]", "[EMAIL]", "[CARD]"] {
        assert!(stored.contains(mark), "{mark} missing:\n{stored}");
    }
    s.stop().await.unwrap();
    p.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_with_a_stalled_sink_drops_and_counts_but_never_waits() {
    let test = "a_flood_with_a_stalled_sink";
    let Some((mut p, stalled)) = pipeline(test, 8, true).await else {
        return;
    };
    let (gateway, task) = services::gateway(&p.collector, None).await.unwrap();
    let client = http();
    let url = format!("{gateway}/ping");
    let sent = 60;
    let calls = (0..sent).map(|_| async {
        let start = Instant::now();
        let status = get(&client, &url).await.unwrap();
        (status, start.elapsed())
    });
    let answers = futures_util::future::join_all(calls).await;
    let slowest = answers.iter().map(|a| a.1).max().unwrap();
    assert!(answers.iter().all(|a| a.0 == 204));
    // The sink takes nothing, yet no request waited for it: one that
    // did would never be answered (`get` gives up after 3 s). The bound
    // is loose on purpose: up to four test binaries share two cores.
    assert!(slowest < Duration::from_secs(2), "{slowest:?}");
    let c = &p.collector.counts;
    let offered = c.offered.load(Ordering::Relaxed);
    let accepted = c.accepted.load(Ordering::Relaxed);
    let dropped = c.dropped.load(Ordering::Relaxed);
    assert_eq!(offered, sent);
    assert_eq!(accepted, 8);
    assert_eq!(dropped, offered - accepted);
    // Released, the sink stores exactly what was accepted.
    stalled.unwrap().release();
    assert_eq!(p.stored_at_least(accepted).await, accepted);
    let row = p
        .store
        .client()
        .query_one("SELECT count(*) FROM logs", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 8);
    task.abort();
    p.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_the_database_refuses_is_counted_and_the_sink_goes_on() {
    let test = "a_batch_the_database_refuses";
    let Some((mut p, _)) = pipeline(test, 8, false).await else {
        return;
    };
    p.collector.offer(record("not a time", "lost"));
    p.collector.offer(record("2020-01-01T00:00:00Z", "kept"));
    assert_eq!(p.stored_at_least(1).await, 1);
    assert_eq!(p.failed.load(Ordering::Relaxed), 1);
    p.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_drops_old_days_whole_and_leaves_the_rest() {
    let test = "retention_drops_old_days";
    let Some((p, _)) = pipeline(test, 8, false).await else {
        return;
    };
    let store = &p.store;
    store.ensure_days("2020-01-01", 5).await.unwrap();
    let batch: Vec<_> = (1..=5)
        .flat_map(|d| {
            let ts = format!("2020-01-0{d}T23:59:59Z");
            [record(&ts, "a"), record(&ts, "b")]
        })
        .chain([record("1999-12-31T00:00:00Z", "skewed clock")])
        .collect();
    assert_eq!(store.insert(&batch).await.unwrap(), 11);
    let dropped = store.drop_older_than("2020-01-05", 3).await.unwrap();
    assert_eq!(dropped, ["logs_20200101", "logs_20200102"]);
    let left: Vec<(String, i64)> = store
        .partitions()
        .await
        .unwrap()
        .into_iter()
        .filter(|(n, _)| n.starts_with("logs_2020") || n == "logs_default")
        .collect();
    let expect = [
        ("logs_20200103", 2),
        ("logs_20200104", 2),
        ("logs_20200105", 2),
        ("logs_default", 1),
    ]
    .map(|(n, c)| (n.to_string(), c));
    assert_eq!(left, expect);
    let row = store
        .client()
        .query_one("SELECT count(*) FROM logs WHERE ts < '2020-01-03'", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 1); // only the skewed line
    // A day whose rows are already in the default partition cannot get
    // a partition of its own: keep the default partition empty.
    let late = [record("2020-02-01T08:00:00Z", "no partition yet")];
    store.insert(&late).await.unwrap();
    let Err(StoreError::Pg(e)) = store.ensure_days("2020-02-01", 1).await
    else {
        panic!("a partition was created over rows in the default one");
    };
    let why = e.as_db_error().unwrap().message();
    assert!(why.contains("default partition"), "{why}");
    assert!(why.contains("would be violated"), "{why}");
    // DETACH ... CONCURRENTLY is refused while a default partition
    // exists; this design detaches with the plain, locking form.
    let concurrently = "ALTER TABLE logs DETACH PARTITION logs_20200103 \
                        CONCURRENTLY";
    let refused = store.client().batch_execute(concurrently).await;
    let why = refused
        .unwrap_err()
        .as_db_error()
        .unwrap()
        .message()
        .to_owned();
    assert!(why.contains("default partition"), "{why}");
    // Run again: nothing more to drop. A bad date is refused.
    assert!(
        store
            .drop_older_than("2020-01-05", 3)
            .await
            .unwrap()
            .is_empty()
    );
    let bad = store.drop_older_than("2020-01-05'; DROP TABLE logs; --", 3);
    assert!(matches!(bad.await, Err(StoreError::Day(_))));
    p.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_by_words_reads_only_the_days_asked_for() {
    let test = "search_by_words";
    let Some((p, _)) = pipeline(test, 8, false).await else {
        return;
    };
    let store = &p.store;
    store.ensure_days("2020-01-01", 3).await.unwrap();
    let batch = [
        record("2020-01-01T10:00:00Z", "Disk full on db-1"),
        record("2020-01-02T10:00:00Z", "disk almost full"),
        record("2020-01-02T11:00:00Z", "request served"),
        record("2020-01-03T10:00:00Z", "disk full again"),
    ];
    store.insert(&batch).await.unwrap();
    let all = store.by_words("disk full", "-infinity", "infinity").await;
    let all: Vec<String> =
        all.unwrap().into_iter().map(|l| l.message).collect();
    assert_eq!(
        all,
        ["Disk full on db-1", "disk almost full", "disk full again"]
    );
    let day = store
        .by_words("full disk", "2020-01-02", "2020-01-03")
        .await
        .unwrap();
    assert_eq!(day.len(), 1);
    assert_eq!(day[0].partition, "logs_20200102");
    let plan = store
        .explain(
            "SELECT * FROM logs WHERE ts >= '2020-01-02' \
             AND ts < '2020-01-03' AND to_tsvector('simple', message) \
             @@ plainto_tsquery('simple', 'disk')",
        )
        .await
        .unwrap();
    assert!(plan.contains("logs_20200102"), "{plan}");
    for other in ["logs_20200101", "logs_20200103", "logs_default"] {
        assert!(!plan.contains(other), "{plan}");
    }
    p.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_line_edited_in_the_database_is_found_by_its_number() {
    let test = "an_audit_line_edited_in_the_database";
    let Some((p, _)) = pipeline(test, 8, false).await else {
        return;
    };
    for line in chain() {
        p.store.audit_append(&line).await.unwrap();
    }
    assert!(audit::verify(&p.store.audit_lines().await.unwrap()).is_ok());
    p.store
        .client()
        .execute(
            "UPDATE audit SET line = replace(line, 'bob', 'eve') \
             WHERE seq = 3",
            &[],
        )
        .await
        .unwrap();
    let lines = p.store.audit_lines().await.unwrap();
    assert_eq!(audit::verify(&lines), Err(Tamper::Edited(3)));
    p.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_clearly_and_logged() {
    let test = "bad_input_is_refused_clearly_and_logged";
    let Some((mut p, _)) = pipeline(test, 64, false).await else {
        return;
    };
    let Some(s) = services(test, &p).await else {
        p.finish().await.unwrap();
        return;
    };
    let client = http();
    let url = format!("{}/checkout", s.gateway);
    // A NUL byte, which PostgreSQL's text and jsonb cannot hold: the
    // line that logs this body must still be stored.
    let (status, why) = post(&client, &url, &[], "{not json\0").await.unwrap();
    assert_eq!(status, 400);
    assert!(why.contains("key must be a string"), "{why}");
    let orders = format!("{}/orders", s.orders);
    let (status, _) = post(&client, &orders, &[], "[]").await.unwrap();
    assert_eq!(status, 400);
    // A message with a traceparent that is not text, and a body that is
    // not an order: billing logs it under a new trace and goes on.
    let conn = lapin::Connection::connect(
        &support::amqp::amqp_url(),
        lapin::ConnectionProperties::default(),
    )
    .await
    .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let mut headers = lapin::types::FieldTable::default();
    headers.insert(
        "traceparent".into(),
        lapin::types::AMQPValue::LongLongInt(7),
    );
    let props = lapin::BasicProperties::default().with_headers(headers);
    ch.basic_publish(
        "".into(),
        s.queue().into(),
        lapin::options::BasicPublishOptions::default(),
        b"seven",
        props,
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let mut billed = s.billed.clone();
    tokio::time::timeout(Duration::from_secs(5), billed.wait_for(|&n| n >= 1))
        .await
        .unwrap()
        .unwrap();
    let accepted = p.collector.counts.accepted.load(Ordering::Relaxed);
    p.stored_at_least(accepted).await;
    let warned = p
        .store
        .by_words("not an order", "-infinity", "infinity")
        .await
        .unwrap();
    let services: Vec<&str> =
        warned.iter().map(|l| l.service.as_str()).collect();
    assert_eq!(services, ["orders", "billing"]);
    let refused = p
        .store
        .by_words("checkout refused", "-infinity", "infinity")
        .await
        .unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].service, "gateway");
    let received = p
        .store
        .by_words("checkout received", "-infinity", "infinity")
        .await
        .unwrap();
    assert_eq!(received.len(), 1);
    assert!(received[0].fields.contains("{not json\u{fffd}"));
    assert_eq!(p.failed.load(Ordering::Relaxed), 0);
    let ignored = p
        .store
        .by_words("traceparent ignored", "-infinity", "infinity")
        .await
        .unwrap();
    assert_eq!(ignored.len(), 1);
    assert_eq!(ignored[0].service, "billing");
    conn.close(200, "bye".into()).await.unwrap();
    s.stop().await.unwrap();
    p.finish().await.unwrap();
}
