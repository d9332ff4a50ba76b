use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};

use super::delivery::{self, Crash, RetryPolicy, SplitMix, backoff};
use super::rules::{
    Aggregator, Channel, Decision, Event, Kind, Preferences, decide,
    parse_event, quiet_until,
};
use super::service::Service;
use super::*;

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn like(id: &str, actor: &str, to: &str, post: &str) -> Event {
    Event {
        event_id: id.into(),
        kind: Kind::Like,
        actor: actor.into(),
        recipient: to.into(),
        target: post.into(),
    }
}

/// Both servers, or `None` after reporting the skip.
async fn rig(test: &str, priority: bool) -> Option<Rig> {
    support::redis::client_in_test(test)?;
    let url = support::amqp::amqp_url();
    let conn = Connection::connect(&url, Default::default()).await;
    support::skip::in_test(test, "RabbitMQ", conn)?;
    Some(Rig::new(priority).await.unwrap())
}

// --- quiet hours, preferences, aggregation: no server ---

#[test]
fn quiet_hours_end_at_local_wall_clock_time_across_dst() {
    let berlin =
        Preferences::new("Europe/Berlin", Some(("22:00", "07:00"))).unwrap();
    // 23:30 CET on the night clocks go forward: 07:00 CEST is 05:00 UTC.
    let spring = quiet_until(&berlin, at("2026-03-28T22:30:00Z"));
    assert_eq!(spring, Some(at("2026-03-29T05:00:00Z")));
    // The night they go back: 07:00 CET is 06:00 UTC.
    let autumn = quiet_until(&berlin, at("2026-10-24T21:30:00Z"));
    assert_eq!(autumn, Some(at("2026-10-25T06:00:00Z")));
    // After midnight, the end is the same morning; at noon, not quiet.
    let early = quiet_until(&berlin, at("2026-01-15T04:00:00Z"));
    assert_eq!(early, Some(at("2026-01-15T06:00:00Z")));
    assert_eq!(quiet_until(&berlin, at("2026-01-15T11:00:00Z")), None);
    // The end itself is not quiet; the start is.
    assert_eq!(quiet_until(&berlin, at("2026-01-15T06:00:00Z")), None);
    assert!(quiet_until(&berlin, at("2026-01-15T21:00:00Z")).is_some());
    // New York, 01:30 EST on 8 March 2026 (DST starts at 02:00).
    let ny =
        Preferences::new("America/New_York", Some(("23:00", "07:00"))).unwrap();
    let end = quiet_until(&ny, at("2026-03-08T06:30:00Z"));
    assert_eq!(end, Some(at("2026-03-08T11:00:00Z")), "07:00 EDT");
}

#[test]
fn a_quiet_end_inside_the_dst_gap_moves_forward() {
    // 02:30 does not exist in Berlin on 29 March 2026: 03:30 CEST.
    let p =
        Preferences::new("Europe/Berlin", Some(("01:00", "02:30"))).unwrap();
    let end = quiet_until(&p, at("2026-03-29T00:15:00Z")); // 01:15 CET
    assert_eq!(end, Some(at("2026-03-29T01:30:00Z")));
}

#[test]
fn a_same_day_window_and_other_zones() {
    let p = Preferences::new("Asia/Kolkata", Some(("13:00", "15:00"))).unwrap();
    // 08:00 UTC is 13:30 in Kolkata (+05:30): quiet until 15:00 there.
    let end = quiet_until(&p, at("2026-06-01T08:00:00Z"));
    assert_eq!(end, Some(at("2026-06-01T09:30:00Z")));
    assert_eq!(quiet_until(&p, at("2026-06-01T10:00:00Z")), None);
}

#[test]
fn opt_outs_and_quiet_hours_never_hold_a_security_alert() {
    let mut p = Preferences::new("UTC", Some(("22:00", "07:00"))).unwrap();
    p.opted_out.insert((Channel::Push, Kind::Security));
    p.opted_out.insert((Channel::Email, Kind::Like));
    let night = at("2026-05-01T23:00:00Z");
    let push = Channel::Push;
    assert_eq!(decide(&p, Kind::Security, push, night), Decision::Send);
    let morning = Decision::Defer(at("2026-05-02T07:00:00Z"));
    assert_eq!(decide(&p, Kind::Like, push, night), morning);
    let skip = Decision::Skip("opted out");
    assert_eq!(decide(&p, Kind::Like, Channel::Email, night), skip);
    // Email is not held by quiet hours.
    assert_eq!(
        decide(&p, Kind::Comment, Channel::Email, night),
        Decision::Send
    );
}

#[test]
fn bad_preferences_are_refused_with_a_reason() {
    for (tz, quiet) in [
        ("Mars/Olympus_Mons", None),
        ("", None),
        ("UTC", Some(("25:00", "07:00"))),
        ("UTC", Some(("22:00", "7am"))),
        ("UTC", Some(("22:00", "22:00"))),
    ] {
        let err = Preferences::new(tz, quiet).expect_err(tz);
        assert!(!err.is_empty());
    }
}

#[test]
fn bad_events_are_refused_with_a_reason() {
    let long = "x".repeat(200);
    let bad = [
        b"".to_vec(),
        b"not json".to_vec(),
        br#"{"event_id":"e","kind":"poke","actor":"a","recipient":"b","target":"p"}"#
            .to_vec(),
        br#"{"event_id":"","kind":"like","actor":"a","recipient":"b","target":"p"}"#
            .to_vec(),
        format!(
            r#"{{"event_id":"e","kind":"like","actor":"{long}","recipient":"b","target":"p"}}"#
        )
        .into_bytes(),
        br#"{"event_id":"e","kind":"like","actor":"a","target":"p"}"#.to_vec(),
        // Event "e:b" to "c" and event "e" to "b:c" would share the key
        // seen:e:b:c:push, and the second would pass for a duplicate.
        br#"{"event_id":"e:b","kind":"like","actor":"a","recipient":"c","target":"p"}"#
            .to_vec(),
        br#"{"event_id":"e","kind":"like","actor":"a","recipient":"b:c","target":"p"}"#
            .to_vec(),
        br#"{"event_id":"e","kind":"like","actor":"a
","recipient":"b","target":"p"}"#
            .to_vec(),
    ];
    for body in bad {
        assert!(parse_event(&body).is_err(), "{body:?}");
    }
    let good = br#"{"event_id":"e","kind":"security","actor":"auth","recipient":"b","target":"p"}"#;
    assert_eq!(parse_event(good).unwrap().kind, Kind::Security);
}

#[test]
fn likes_are_grouped_per_post_for_the_window() {
    let mut agg = Aggregator::new(SignedDuration::from_mins(2));
    let t0 = at("2026-05-01T12:00:00Z");
    for (i, who) in ["bo", "cy", "di", "ed", "fa", "cy"].iter().enumerate() {
        let e = like(&format!("l{i}"), who, "ana", "p1");
        agg.add(&e, Channel::Push, t0 + SignedDuration::from_secs(i as i64));
    }
    agg.add(&like("m", "bo", "ana", "p2"), Channel::Push, t0);
    let almost = t0 + SignedDuration::from_secs(119);
    assert!(agg.due(almost).is_empty(), "the window is still open");
    let mut out = agg.due(t0 + SignedDuration::from_mins(2));
    out.sort_by(|a, b| a.text.cmp(&b.text));
    let texts: Vec<&str> = out.iter().map(|n| n.text.as_str()).collect();
    // Five distinct people (cy liked twice), one notification per post.
    assert_eq!(
        texts,
        [
            "bo and 4 others liked your post p1",
            "bo liked your post p2"
        ]
    );
    assert!(agg.due(t0 + SignedDuration::from_mins(10)).is_empty());
}

#[test]
fn backoff_has_full_jitter_under_a_capped_ceiling() {
    let p = RetryPolicy {
        base: Duration::from_millis(100),
        cap: Duration::from_millis(1_000),
        ..RetryPolicy::default()
    };
    let mut rng = SplitMix::new(1);
    for retry in 0..30 {
        let ceiling = (100u64 << retry.min(20)).min(1_000);
        let mut seen_low = false;
        for _ in 0..200 {
            let w = backoff(&p, retry, &mut rng).as_millis() as u64;
            assert!(w <= ceiling, "retry {retry}: {w} > {ceiling}");
            seen_low |= w < ceiling / 2;
        }
        assert!(seen_low, "jitter spreads the waits down to zero");
    }
}

// --- the service with Redis ---

#[tokio::test]
async fn the_same_event_twice_notifies_once_per_channel() {
    let test = "the_same_event_twice_notifies_once_per_channel";
    let Some(client) = support::redis::client_in_test(test) else {
        return;
    };
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let prefix = support::unique_name("notify");
    let mut svc =
        Service::new(redis.clone(), &prefix, SignedDuration::from_mins(1));
    svc.prefs
        .insert("ana".into(), Preferences::new("UTC", None).unwrap());
    let mut e = like("c-1", "bo", "ana", "p1");
    e.kind = Kind::Comment;
    let now = at("2026-05-01T12:00:00Z");
    let first = svc.ingest(&e, now).await.unwrap();
    let again = svc.ingest(&e, now).await.unwrap();
    let ids: Vec<&str> = first.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["c-1:push", "c-1:email"]);
    assert!(again.is_empty());
    assert_eq!(svc.counts.duplicates, 2);
    // Another user, same event id: not a duplicate.
    svc.prefs
        .insert("ben".into(), Preferences::new("UTC", None).unwrap());
    e.recipient = "ben".into();
    assert_eq!(svc.ingest(&e, now).await.unwrap().len(), 2);
    // A user with no preferences row is counted, not guessed.
    e.recipient = "nobody".into();
    assert!(svc.ingest(&e, now).await.unwrap().is_empty());
    assert_eq!(svc.counts.no_preferences, 1);
    delivery::delete_keys(&mut redis, &prefix).await.unwrap();
}

// --- delivery through RabbitMQ to the fake providers ---

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_email_provider_does_not_delay_push() {
    let test = "a_slow_email_provider_does_not_delay_push";
    let Some(mut rig) = rig(test, true).await else {
        return;
    };
    // Long enough that a loaded machine (four test binaries on two
    // cores) still delivers five pushes before the first email returns.
    rig.email.script().delay = Duration::from_secs(3);
    rig.devices.register("ana", "ana-phone");
    let email = Arc::new(rig.worker(Channel::Email, FAST));
    let push = Arc::new(rig.worker(Channel::Push, FAST));
    rig.start(&email);
    rig.start(&push);
    let start = Instant::now();
    rig.publish(&notes(5, Kind::Comment, "ana", Channel::Email))
        .await
        .unwrap();
    rig.publish(&notes(5, Kind::Comment, "ana", Channel::Push))
        .await
        .unwrap();
    assert!(rig.push.wait_for(5, Duration::from_secs(5)).await);
    let push_done = start.elapsed();
    // All five pushes went out while the first email was still waiting
    // on its provider (each email takes three seconds).
    assert_eq!(rig.email.delivered().len(), 0, "after {push_done:?}");
    assert!(push_done < Duration::from_secs(3), "{push_done:?}");
    rig.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_email_provider_does_not_stop_push() {
    let test = "a_failing_email_provider_does_not_stop_push";
    let Some(mut rig) = rig(test, true).await else {
        return;
    };
    rig.email.script().always = Some(503);
    rig.devices.register("ana", "ana-phone");
    let email = Arc::new(rig.worker(Channel::Email, FAST));
    let push = Arc::new(rig.worker(Channel::Push, FAST));
    rig.start(&email);
    rig.start(&push);
    rig.publish(&notes(3, Kind::Comment, "ana", Channel::Email))
        .await
        .unwrap();
    rig.publish(&notes(3, Kind::Comment, "ana", Channel::Push))
        .await
        .unwrap();
    assert!(rig.push.wait_for(3, Duration::from_secs(5)).await);
    assert!(settled(&email, 3, Duration::from_secs(5)).await);
    // Every email: FAST.max_attempts requests, then the dead-letter queue.
    let attempts = u64::from(FAST.max_attempts);
    assert_eq!(rig.email.requests.load(Ordering::SeqCst), 3 * attempts);
    let dead = delivery::drain_dead(&rig.ch, &rig.topology.dead, 3)
        .await
        .unwrap();
    assert_eq!(dead.len(), 3);
    assert!(dead.iter().all(|(_, reason)| reason == "rejected"));
    rig.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_notification_is_delivered_twice_across_worker_crashes() {
    let test = "no_notification_is_delivered_twice_across_worker_crashes";
    let Some(mut rig) = rig(test, true).await else {
        return;
    };
    let worker = crash_run(&mut rig).await.unwrap();
    // Six notifications, each shown to the user exactly once.
    let seen = rig.email.per_message();
    assert_eq!(seen.len(), 6);
    assert!(seen.values().all(|&n| n == 1), "{seen:?}");
    let t = &worker.tally;
    assert_eq!(t.crashes.load(Ordering::SeqCst), 2);
    // n01 crashed after the provider took it: sent again, and the
    // provider refused the repeated key.
    assert_eq!(rig.email.requests.load(Ordering::SeqCst), 7);
    assert_eq!(rig.email.repeats.load(Ordering::SeqCst), 1);
    // n03 crashed after the record: the redelivery was skipped here.
    assert_eq!(t.already.load(Ordering::SeqCst), 1);
    assert_eq!(t.delivered.load(Ordering::SeqCst), 5);
    rig.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_idempotency_key_a_crash_after_send_duplicates() {
    // The control: the same crash, but the provider ignores keys (it
    // gets a fresh one per attempt), as a naive integration would.
    let test = "without_the_idempotency_key_a_crash_after_send_duplicates";
    let Some(mut rig) = rig(test, true).await else {
        return;
    };
    let mut worker = rig.worker(Channel::Email, FAST);
    worker.fresh_keys = true;
    if let Ok(mut plan) = worker.crashes.lock() {
        plan.insert("n00".into(), Crash::AfterSend);
    }
    let worker = Arc::new(worker);
    rig.start(&worker);
    rig.publish(&notes(2, Kind::Comment, "ana", Channel::Email))
        .await
        .unwrap();
    assert!(settled(&worker, 2, Duration::from_secs(5)).await);
    let texts: Vec<String> =
        rig.email.delivered().into_iter().map(|d| d.text).collect();
    assert_eq!(texts, ["note 0", "note 0", "note 1"], "n00 arrived twice");
    // The same count the crash test asserts all 1s on sees the duplicate.
    let seen = rig.email.per_message();
    let note0 = ("ana".to_string(), "note 0".to_string());
    assert_eq!(seen[&note0], 2);
    rig.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_security_alert_overtakes_a_backlog_only_with_priorities() {
    let test = "a_security_alert_overtakes_a_backlog_only_with_priorities";
    for (priority, expected) in [(true, 1), (false, 21)] {
        let Some(mut rig) = rig(test, priority).await else {
            return;
        };
        let at = priority_run(&mut rig).await.unwrap();
        assert_eq!(rig.push.delivered().len(), 21);
        rig.finish().await.unwrap();
        assert_eq!(at, expected, "x-max-priority: {priority}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_410_prunes_the_token_and_the_next_push_skips_it() {
    let test = "a_410_prunes_the_token_and_the_next_push_skips_it";
    let Some(mut rig) = rig(test, true).await else {
        return;
    };
    rig.devices.register("ana", "phone");
    rig.devices.register("ana", "tablet");
    rig.push.script().unregistered.insert("tablet".into());
    let push = Arc::new(rig.worker(Channel::Push, FAST));
    rig.start(&push);
    rig.publish(&notes(3, Kind::Comment, "ana", Channel::Push))
        .await
        .unwrap();
    assert!(settled(&push, 3, Duration::from_secs(5)).await);
    assert_eq!(rig.devices.tokens("ana"), ["phone"]);
    assert_eq!(push.tally.pruned.load(Ordering::SeqCst), 1);
    // phone: 3 requests; tablet: 1 (the 410), never asked again.
    assert_eq!(rig.push.requests.load(Ordering::SeqCst), 4);
    assert_eq!(rig.push.delivered().len(), 3);
    rig.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_5xx_are_retried_then_dead_lettered() {
    let test = "throttling_and_5xx_are_retried_then_dead_lettered";
    let Some(mut rig) = rig(test, true).await else {
        return;
    };
    rig.devices.register("ana", "ana-phone");
    rig.devices.register("ben", "ben-phone");
    // ana: 429 then 503, then delivered on the third attempt.
    rig.push
        .script()
        .faults
        .insert("ana-phone".into(), [429, 503].into());
    // ben: 500 on every attempt: dead-lettered after max_attempts.
    rig.push
        .script()
        .faults
        .insert("ben-phone".into(), [500; 9].into());
    let push = Arc::new(rig.worker(Channel::Push, FAST));
    rig.start(&push);
    let mut all = notes(1, Kind::Comment, "ana", Channel::Push);
    let mut ben = notes(1, Kind::Comment, "ben", Channel::Push);
    ben[0].id = "for-ben".into();
    all.append(&mut ben);
    rig.publish(&all).await.unwrap();
    assert!(settled(&push, 2, Duration::from_secs(5)).await);
    let attempts = u64::from(FAST.max_attempts);
    assert_eq!(rig.push.requests.load(Ordering::SeqCst), 3 + attempts);
    assert_eq!(push.tally.retries.load(Ordering::SeqCst), 2 + attempts - 1);
    assert_eq!(rig.push.delivered().len(), 1);
    let dead = delivery::drain_dead(&rig.ch, &rig.topology.dead, 1)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].0.contains("for-ben"));
    rig.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_message_is_dead_lettered_and_blocks_nothing() {
    let test = "a_malformed_message_is_dead_lettered_and_blocks_nothing";
    let Some(mut rig) = rig(test, true).await else {
        return;
    };
    rig.devices.register("ana", "ana-phone");
    let queue = rig.topology.queues[&Channel::Push].clone();
    // An email in the push queue is refused too.
    let email = notes(1, Kind::Comment, "ana", Channel::Email);
    let email = serde_json::to_vec(&email[0]).unwrap();
    for body in [&b"{not json"[..], b"", br#"{"id":"x"}"#, &email] {
        delivery::publish_raw(&rig.ch, &queue, body).await.unwrap();
    }
    rig.publish(&notes(1, Kind::Comment, "ana", Channel::Push))
        .await
        .unwrap();
    let push = Arc::new(rig.worker(Channel::Push, FAST));
    rig.start(&push);
    assert!(settled(&push, 5, Duration::from_secs(5)).await);
    assert_eq!(push.tally.malformed.load(Ordering::SeqCst), 4);
    assert_eq!(rig.push.delivered().len(), 1);
    let dead = delivery::drain_dead(&rig.ch, &rig.topology.dead, 4)
        .await
        .unwrap();
    assert_eq!(dead.len(), 4);
    rig.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_that_is_no_header_value_is_sent_at_once_and_once() {
    // Ids come from producers: a line feed or an accent cannot sit in
    // the `Idempotency-Key` header as they are. Encoded, the send goes
    // out on the first attempt instead of failing every retry.
    let test = "an_id_that_is_no_header_value_is_sent_at_once_and_once";
    let Some(mut rig) = rig(test, true).await else {
        return;
    };
    rig.devices.register("ana", "ana-phone");
    let push = Arc::new(rig.worker(Channel::Push, FAST));
    rig.start(&push);
    let mut all = notes(3, Kind::Comment, "ana", Channel::Push);
    all[0].id = "évènement\n1".into();
    all[1].id = "évènement\n2".into();
    all[2].id = "%C3%A9v%C3%A8nement%0A1".into(); // [0]'s id, encoded
    rig.publish(&all).await.unwrap();
    assert!(settled(&push, 3, Duration::from_secs(5)).await);
    assert_eq!(push.tally.retries.load(Ordering::SeqCst), 0);
    assert_eq!(push.tally.delivered.load(Ordering::SeqCst), 3);
    let keys: Vec<String> =
        rig.push.delivered().into_iter().map(|d| d.key).collect();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| k.bytes().all(|b| b.is_ascii_graphic())));
    // Distinct ids stay distinct keys.
    assert_ne!(keys[0], keys[2]);
    assert_ne!(keys[0], keys[1]);
    rig.finish().await.unwrap();
}
