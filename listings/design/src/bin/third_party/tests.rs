use super::*;

fn fast() -> Policy {
    Policy {
        attempt_timeout: Duration::from_millis(200),
        ..Policy::default()
    }
}

async fn setup(
    faults: Vec<Fault>,
    policy: Policy,
) -> (Arc<Provider>, ProviderClient) {
    let provider = Provider::new(faults);
    let url = serve(provider.clone()).await.unwrap();
    (provider, ProviderClient::new(url, policy, 1))
}

const GMT_1994: &str = "Sun, 06 Nov 1994 08:49:37 GMT";

#[test]
fn retry_after_reads_delay_seconds_and_http_dates() {
    let at = UNIX_EPOCH + Duration::from_secs(784_111_777); // GMT_1994
    assert_eq!(http_date(GMT_1994), Some(784_111_777));
    assert_eq!(retry_after("120", at), Some(Duration::from_secs(120)));
    assert_eq!(retry_after("0", at), Some(Duration::ZERO));
    let earlier = at - Duration::from_secs(30);
    assert_eq!(
        retry_after(GMT_1994, earlier),
        Some(Duration::from_secs(30))
    );
    // A date in the past: retry now.
    assert_eq!(
        retry_after(GMT_1994, at + Duration::from_secs(5)),
        Some(Duration::ZERO)
    );
}

#[test]
fn malformed_retry_after_is_refused_not_guessed() {
    let now = SystemTime::now();
    for bad in [
        "",
        "-1",
        "1.5",
        "soon",
        "99999999999999999999999",
        "Mon, 06 Nov 1994 08:49:37 GMT", // wrong weekday
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT", // RFC 850 form, obsolete
        "Sun, 06 Nov 1994 25:49:37 GMT",
    ] {
        assert_eq!(retry_after(bad, now), None, "{bad:?}");
    }
}

#[test]
fn backoff_is_capped_and_jitter_stays_under_the_ceiling() {
    let (base, cap) = (Duration::from_millis(10), Duration::from_millis(100));
    let mut rng = SplitMix::new(3);
    let plain: Vec<u128> = (0..6)
        .map(|r| backoff(r, base, cap, false, &mut rng).as_millis())
        .collect();
    assert_eq!(plain, [10, 20, 40, 80, 100, 100]);
    assert_eq!(backoff(200, base, cap, false, &mut rng), cap);
    let draws: Vec<Duration> = (0..500)
        .map(|_| backoff(2, base, cap, true, &mut rng))
        .collect();
    assert!(draws.iter().all(|d| *d <= Duration::from_millis(40)));
    let distinct: std::collections::HashSet<_> = draws.iter().collect();
    assert!(distinct.len() > 20, "jitter spreads the waits");
}

#[test]
fn the_budget_allows_a_reserve_then_a_share_of_calls() {
    let mut b = RetryBudget::new(2.0, 0.5);
    assert!(b.try_retry());
    assert!(b.try_retry());
    assert!(!b.try_retry());
    b.on_call();
    assert!(!b.try_retry());
    b.on_call();
    assert!(b.try_retry());
}

#[test]
fn breaker_closed_opens_after_threshold_failures() {
    let t0 = Instant::now();
    let mut b = Breaker::new(3, Duration::from_millis(100));
    b.record(false, t0);
    b.record(false, t0);
    b.record(true, t0); // a success resets the count
    assert_eq!(b.state, BreakerState::Closed { failures: 0 });
    for _ in 0..3 {
        assert!(b.allow(t0));
        b.record(false, t0);
    }
    let until = t0 + Duration::from_millis(100);
    assert_eq!(b.state, BreakerState::Open { until });
    assert!(!b.allow(t0 + Duration::from_millis(99)));
}

#[test]
fn breaker_open_becomes_half_open_with_one_probe() {
    let t0 = Instant::now();
    let mut b = Breaker::new(1, Duration::from_millis(100));
    b.record(false, t0);
    let later = t0 + Duration::from_millis(100);
    assert!(b.allow(later), "the probe goes out");
    assert_eq!(b.state, BreakerState::HalfOpen { probing: true });
    assert!(!b.allow(later), "only one probe at a time");
}

#[test]
fn breaker_half_open_closes_on_success_and_reopens_on_failure() {
    let t0 = Instant::now();
    let mut b = Breaker::new(1, Duration::from_millis(100));
    b.record(false, t0);
    let t1 = t0 + Duration::from_millis(100);
    assert!(b.allow(t1));
    b.record(false, t1);
    assert_eq!(
        b.state,
        BreakerState::Open {
            until: t1 + Duration::from_millis(100)
        }
    );
    let t2 = t1 + Duration::from_millis(100);
    assert!(b.allow(t2));
    b.record(true, t2);
    assert_eq!(b.state, BreakerState::Closed { failures: 0 });
}

#[test]
fn cache_control_parses_and_distrusts_bad_numbers() {
    let mut h = HeaderMap::new();
    h.insert(
        "cache-control",
        HeaderValue::from_static("Max-Age=30, stale-if-error=600"),
    );
    let d = cache_control(&h);
    assert_eq!(d.max_age, Duration::from_secs(30));
    assert_eq!(d.stale_if_error, Duration::from_secs(600));
    h.insert(
        "cache-control",
        HeaderValue::from_static("max-age=lots, no-store"),
    );
    assert_eq!(
        cache_control(&h),
        Directives {
            no_store: true,
            ..Directives::default()
        }
    );
}

#[test]
fn the_storm_jitter_finishes_more_calls_with_fewer_attempts() {
    let plain = storm(1000, 50, 6, false, 42);
    let jittered = storm(1000, 50, 6, true, 42);
    assert!(
        jittered.succeeded > plain.succeeded * 2,
        "{plain:?} {jittered:?}"
    );
    assert!(jittered.calls < plain.calls);
    // Without jitter the callers stay in lockstep: each round serves
    // one slot's worth (50) and every attempt is made: 1000 + 950 + ...
    assert_eq!(plain.succeeded, 300);
    assert_eq!(plain.calls, 1000 + 950 + 900 + 850 + 800 + 750);
}

#[tokio::test]
async fn a_get_is_retried_through_503_429_and_a_dropped_connection() {
    let faults = vec![
        Fault::Unavailable,
        Fault::TooMany("0".into()),
        Fault::Drop,
        Fault::Ok,
    ];
    let (p, c) = setup(faults, fast()).await;
    let a = c.call(Method::GET, "/items/1", &[]).await.unwrap();
    assert_eq!(a.status, 200);
    assert_eq!(p.calls(), 4);
}

#[tokio::test]
async fn a_slow_answer_times_out_and_the_retry_succeeds() {
    let faults = vec![Fault::Slow(Duration::from_secs(5)), Fault::Ok];
    let (p, c) = setup(faults, fast()).await;
    let t = Instant::now();
    c.call(Method::GET, "/items/1", &[]).await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(1));
    assert_eq!(p.calls(), 2);
}

#[tokio::test]
async fn every_attempt_timing_out_ends_in_a_timeout_within_the_budget() {
    let slow = Fault::Slow(Duration::from_secs(5));
    let policy = Policy {
        max_attempts: 3,
        ..fast()
    };
    let (p, c) = setup(vec![slow.clone(), slow.clone(), slow], policy).await;
    let t = Instant::now();
    let e = c.call(Method::GET, "/items/1", &[]).await.unwrap_err();
    assert_eq!(e, CallError::Timeout);
    // 3 x 200 ms attempts + at most 5 + 10 ms of backoff.
    assert!(
        t.elapsed() < Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(p.calls(), 3);
}

#[tokio::test]
async fn a_post_without_a_key_is_never_retried() {
    // The provider charges, then the connection drops: a retry would
    // charge twice.
    let faults = vec![Fault::Drop, Fault::Ok];
    let (p, c) = setup(faults, fast()).await;
    let e = c.call(Method::POST, "/charges", &[]).await.unwrap_err();
    assert!(matches!(e, CallError::Connection(_)), "{e:?}");
    assert_eq!(p.calls(), 1);
    assert_eq!(p.seen.charges_without_key.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_post_with_an_idempotency_key_is_retried_and_charged_once() {
    // The first attempt is charged but its answer is lost; the retry
    // carries the same key, so the provider does not charge again.
    let faults = vec![Fault::Drop, Fault::Ok];
    let (p, c) = setup(faults, fast()).await;
    let key = [("idempotency-key", "order-17".to_string())];
    let a = c.call(Method::POST, "/charges", &key).await.unwrap();
    assert_eq!(a.status, 201);
    assert_eq!(p.calls(), 2);
    let requests = p.seen.charge_requests.lock().unwrap();
    assert_eq!(requests.len(), 1, "one key, so one charge");
    assert_eq!(
        requests.get("order-17"),
        Some(&2),
        "both reached the charge"
    );
    assert_eq!(p.seen.charges_without_key.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_refused_post_is_not_charged() {
    let faults = vec![Fault::Unavailable, Fault::Ok];
    let (p, c) = setup(faults, fast()).await;
    let key = [("idempotency-key", "order-18".to_string())];
    c.call(Method::POST, "/charges", &key).await.unwrap();
    assert_eq!(p.calls(), 2);
    let requests = p.seen.charge_requests.lock().unwrap();
    assert_eq!(
        requests.get("order-18"),
        Some(&1),
        "the 503 charged nothing"
    );
}

#[tokio::test]
async fn retry_after_in_seconds_is_waited_for() {
    let faults = vec![Fault::TooMany("1".into()), Fault::Ok];
    let (p, c) = setup(faults, fast()).await;
    let t = Instant::now();
    c.call(Method::GET, "/items/1", &[]).await.unwrap();
    assert!(t.elapsed() >= Duration::from_secs(1));
    assert_eq!(p.calls(), 2);
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_waited_for() {
    // One second ahead, rounded up to a whole second of the date.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let date = imf_fixdate(now + 2);
    let faults = vec![Fault::TooMany(date), Fault::Ok];
    let (p, c) = setup(faults, fast()).await;
    let t = Instant::now();
    c.call(Method::GET, "/items/1", &[]).await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(p.calls(), 2);
}

/// The inverse of `http_date`, for the test above.
fn imf_fixdate(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
        "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let (mut y, mut rest) = (1970, days);
    loop {
        let len = if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
            366
        } else {
            365
        };
        if rest < len {
            break;
        }
        rest -= len;
        y += 1;
    }
    let (mut m, mut d) = (0, rest);
    loop {
        let len = days_from_civil(y + (m == 11) as u64, (m + 1) % 12 + 1, 1)
            - days_from_civil(y, m + 1, 1);
        if d < len {
            break;
        }
        d -= len;
        m += 1;
    }
    let s = secs % 86_400;
    format!(
        "{}, {:02} {} {y} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        d + 1,
        MONTHS[m as usize],
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[test]
fn imf_fixdate_round_trips() {
    assert_eq!(imf_fixdate(784_111_777), GMT_1994);
    for secs in [0, 951_782_400, 1_709_164_800, 4_102_444_799] {
        assert_eq!(http_date(&imf_fixdate(secs)), Some(secs));
    }
}

#[tokio::test]
async fn a_retry_after_beyond_our_limit_ends_the_call_at_once() {
    let faults = vec![Fault::TooMany("120".into()), Fault::Ok];
    let (p, c) = setup(faults, fast()).await;
    let e = c.call(Method::GET, "/items/1", &[]).await.unwrap_err();
    assert_eq!(e, CallError::RetryAfterTooLong(Duration::from_secs(120)));
    assert_eq!(p.calls(), 1);
}

#[tokio::test]
async fn the_retry_budget_stops_a_retry_storm() {
    // Reserve 3, no refill: one call gets 3 retries, the next none.
    let faults = vec![Fault::Unavailable; 10];
    let policy = Policy {
        breaker_threshold: 100,
        ..fast()
    };
    let (p, c) = setup(faults, policy).await;
    let c = c.with_budget(RetryBudget::new(3.0, 0.0));
    for _ in 0..2 {
        let e = c.call(Method::GET, "/items/1", &[]).await.unwrap_err();
        assert_eq!(e, CallError::Status(503));
    }
    assert_eq!(p.calls(), 4 + 1);
}

#[tokio::test]
async fn an_open_breaker_stops_calls_and_a_probe_closes_it() {
    let faults = vec![Fault::Unavailable; 3];
    let policy = Policy {
        max_attempts: 1,
        breaker_threshold: 3,
        breaker_cooldown: Duration::from_millis(100),
        ..fast()
    };
    let (p, c) = setup(faults, policy).await;
    for _ in 0..3 {
        let e = c.call(Method::GET, "/items/1", &[]).await.unwrap_err();
        assert_eq!(e, CallError::Status(503));
    }
    for _ in 0..5 {
        let e = c.call(Method::GET, "/items/1", &[]).await.unwrap_err();
        assert_eq!(e, CallError::CircuitOpen);
    }
    assert_eq!(p.calls(), 3, "an open breaker sends nothing");
    tokio::time::sleep(Duration::from_millis(120)).await;
    c.call(Method::GET, "/items/1", &[]).await.unwrap();
    assert_eq!(
        c.breaker.lock().unwrap().state,
        BreakerState::Closed { failures: 0 }
    );
    assert_eq!(p.calls(), 4);
}

#[tokio::test]
async fn the_bulkhead_bounds_calls_in_flight() {
    let policy = Policy {
        bulkhead: 2,
        bulkhead_wait: Duration::from_millis(30),
        attempt_timeout: Duration::from_secs(2), // /slow takes 600 ms
        ..fast()
    };
    let (p, c) = setup(vec![], policy).await;
    let c = Arc::new(c);
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.call(Method::GET, "/slow", &[]).await })
        })
        .collect();
    let mut full = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => {}
            Err(CallError::BulkheadFull) => full += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(full, 4);
    assert_eq!(p.calls(), 2);
    assert_eq!(p.seen.max_in_flight.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_cache_revalidates_with_if_none_match_and_gets_304() {
    let (p, c) = setup(vec![], fast()).await;
    let (first, s1) = c.cached_get("/items/5").await.unwrap();
    let (second, s2) = c.cached_get("/items/5").await.unwrap();
    assert_eq!((s1, s2), (Source::Network, Source::Revalidated));
    assert_eq!(first, second);
    assert_eq!(p.seen.not_modified.load(Ordering::SeqCst), 1);
    // A new version: the ETag no longer matches, a full 200.
    p.version.store(2, Ordering::SeqCst);
    let (third, s3) = c.cached_get("/items/5").await.unwrap();
    assert_eq!(s3, Source::Network);
    assert_eq!(&third[..], br#"{"id":5,"version":2}"#);
}

#[tokio::test]
async fn a_fresh_entry_is_served_without_a_call() {
    let (p, c) = setup(vec![], fast()).await;
    *p.cache_control.lock().unwrap() = "max-age=60".into();
    c.cached_get("/items/5").await.unwrap();
    let (_, s) = c.cached_get("/items/5").await.unwrap();
    assert_eq!(s, Source::Fresh);
    assert_eq!(p.calls(), 1);
}

#[tokio::test]
async fn stale_if_error_serves_the_old_answer_while_the_provider_fails() {
    let policy = Policy {
        max_attempts: 2,
        ..fast()
    };
    let faults = vec![Fault::Ok, Fault::Unavailable, Fault::Drop];
    let (p, c) = setup(faults, policy).await;
    let (body, _) = c.cached_get("/items/5").await.unwrap();
    let (stale, s) = c.cached_get("/items/5").await.unwrap();
    assert_eq!((stale, s), (body, Source::Stale));
    assert_eq!(p.calls(), 3);
}

#[tokio::test]
async fn without_stale_if_error_the_failure_reaches_the_caller() {
    let policy = Policy {
        max_attempts: 1,
        ..fast()
    };
    let faults = vec![Fault::Ok, Fault::Unavailable];
    let (p, c) = setup(faults, policy).await;
    *p.cache_control.lock().unwrap() = "max-age=0".into();
    c.cached_get("/items/5").await.unwrap();
    let e = c.cached_get("/items/5").await.unwrap_err();
    assert_eq!(e, CallError::Status(503));
}

#[tokio::test]
async fn two_instances_share_one_bucket_and_stay_under_the_limit() {
    let test = "two_instances_share_one_bucket_and_stay_under_the_limit";
    let Some(redis) = support::redis::client_in_test(test) else {
        return;
    };
    let provider = Provider::new(vec![]);
    *provider.quota.lock().unwrap() = Some(10); // the provider's limit
    let url = serve(provider.clone()).await.unwrap();
    let key = support::unique_name("bucket");
    let mut instances = Vec::new();
    for seed in 0..2 {
        let bucket = SharedBucket {
            redis: redis.get_multiplexed_async_connection().await.unwrap(),
            key: key.clone(),
            capacity: 10,
            ms_per_token: 60_000, // no whole token refills during the test
        };
        // A bulkhead wide enough that no call waits for a slot: this
        // test is about the bucket.
        let policy = Policy {
            bulkhead: 16,
            ..fast()
        };
        let client =
            ProviderClient::new(url.clone(), policy, seed).with_bucket(bucket);
        instances.push(Arc::new(client));
    }
    let mut calls = Vec::new();
    for i in 0..30 {
        let c = instances[i % 2].clone();
        calls.push(tokio::spawn(async move {
            c.call(Method::GET, &format!("/items/{i}"), &[]).await
        }));
    }
    let (mut ok, mut throttled) = (0, 0);
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => ok += 1,
            Err(CallError::Throttled(wait)) => {
                assert!(wait > Duration::from_secs(59));
                throttled += 1;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!((ok, throttled), (10, 20));
    assert_eq!(provider.calls(), 10);
    assert_eq!(provider.seen.too_many.load(Ordering::SeqCst), 0);
    let mut con = redis.get_multiplexed_async_connection().await.unwrap();
    let _: redis::RedisResult<i64> =
        redis::cmd("DEL").arg(&key).query_async(&mut con).await;
}

#[tokio::test]
async fn a_bucket_per_instance_overshoots_the_provider_limit() {
    let test = "a_bucket_per_instance_overshoots_the_provider_limit";
    let Some(redis) = support::redis::client_in_test(test) else {
        return;
    };
    let provider = Provider::new(vec![]);
    *provider.quota.lock().unwrap() = Some(10);
    let url = serve(provider.clone()).await.unwrap();
    let mut keys = Vec::new();
    let mut ok = 0;
    for seed in 0..2 {
        let key = support::unique_name("bucket");
        keys.push(key.clone());
        let bucket = SharedBucket {
            redis: redis.get_multiplexed_async_connection().await.unwrap(),
            key,
            capacity: 10,
            ms_per_token: 60_000,
        };
        let c = ProviderClient::new(
            url.clone(),
            Policy {
                max_attempts: 1,
                ..fast()
            },
            seed,
        )
        .with_bucket(bucket);
        for i in 0..15 {
            if c.call(Method::GET, &format!("/items/{i}"), &[])
                .await
                .is_ok()
            {
                ok += 1;
            }
        }
    }
    assert_eq!(ok, 10);
    assert_eq!(provider.calls(), 20, "each instance spent its own 10");
    assert_eq!(provider.seen.too_many.load(Ordering::SeqCst), 10);
    let mut con = redis.get_multiplexed_async_connection().await.unwrap();
    let _: redis::RedisResult<i64> =
        redis::cmd("DEL").arg(&keys).query_async(&mut con).await;
}
