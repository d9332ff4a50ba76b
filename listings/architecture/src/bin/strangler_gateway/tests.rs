use super::*;

struct Rig {
    gw: Arc<Gateway>,
    base: String,
    client: HttpClient,
}

async fn rig(config: Config) -> Rig {
    let gw = Gateway::new(config);
    let base = format!("http://{}", spawn_gateway(&gw).await.unwrap());
    Rig {
        gw,
        base,
        client: http_client(Duration::from_secs(2)),
    }
}

async fn service(
    rig: &Rig,
    name: &str,
    prefix: &str,
    n: usize,
) -> Vec<(Arc<Backend>, SocketAddr)> {
    let mut out = Vec::new();
    for i in 1..=n {
        out.push(spawn_backend(&format!("{name}-{i}")).await.unwrap());
    }
    let addrs: Vec<_> = out.iter().map(|(_, a)| *a).collect();
    rig.gw.register(name, &addrs);
    rig.gw.route(prefix, name);
    out
}

fn dead_addr() -> SocketAddr {
    let (listener, addr) = support::loopback::listener().unwrap();
    drop(listener);
    addr
}

/// Checks that never eject within a test: what the request meets is the
/// upstream itself.
const SLOW_CHECKS: Config = Config {
    health_interval: Duration::from_secs(30),
    ..Config::FAST
};

#[derive(Debug)]
struct Record {
    started: Instant,
    finished: Instant,
    status: StatusCode,
    backend: String,
}

#[tokio::test]
async fn moving_a_route_changes_no_client_and_loses_no_request() {
    let rig = rig(Config::FAST).await;
    let mono = service(&rig, "monolith", "/", 1).await;
    let orders = service(&rig, "orders", "/users", 2).await;
    rig.gw.route("/users", "monolith");
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..6 {
        let (stop, client) = (stop.clone(), rig.client.clone());
        let base = rig.base.clone();
        clients.push(tokio::spawn(async move {
            let mut records = Vec::new();
            let mut i = 0;
            while !stop.load(SeqCst) && i < 400 {
                i += 1;
                let (method, url, body) = if (c + i) % 2 == 0 {
                    (Method::GET, format!("{base}/orders/{i}"), vec![])
                } else {
                    (Method::POST, format!("{base}/orders"), b"{}".to_vec())
                };
                let started = Instant::now();
                let r = call(&client, method, &url, &[], body).await.unwrap();
                records.push(Record {
                    started,
                    finished: Instant::now(),
                    status: r.status,
                    backend: r.backend,
                });
            }
            records
        }));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    rig.gw.route("/orders", "orders");
    let switched = Instant::now();
    tokio::time::sleep(Duration::from_millis(150)).await;
    stop.store(true, SeqCst);
    let mut records = Vec::new();
    for c in clients {
        records.extend(c.await.unwrap());
    }
    let sent = records.len();
    let ok = records.iter().filter(|r| r.status.is_success()).count();
    let before: Vec<_> =
        records.iter().filter(|r| r.finished < switched).collect();
    let after: Vec<_> =
        records.iter().filter(|r| r.started > switched).collect();
    println!(
        "sent {sent}, 2xx {ok}, before the switch {} (monolith), after {}",
        before.len(),
        after.len()
    );
    assert_eq!(ok, sent, "every request answered 2xx");
    assert!(!before.is_empty() && !after.is_empty());
    assert!(before.iter().all(|r| r.backend == "monolith-1"));
    assert!(after.iter().all(|r| r.backend.starts_with("orders-")));
    // Both extracted instances took traffic, and nobody got lost between.
    let hits = |b: &(Arc<Backend>, SocketAddr)| b.0.hits.load(SeqCst);
    assert!(orders.iter().all(|o| hits(o) > 0));
    let total: u64 = mono.iter().chain(&orders).map(hits).sum();
    assert_eq!(total, sent as u64);
}

#[tokio::test]
async fn an_instance_that_stops_answering_leaves_within_the_bound() {
    let rig = rig(Config::FAST).await;
    let orders = service(&rig, "orders", "/orders", 2).await;
    let (a, b) = (orders[0].1, orders[1].1);
    let rotation = |want: &[SocketAddr]| rig.gw.in_rotation("orders") == want;
    assert!(eventually(Duration::from_secs(1), || rotation(&[a, b])).await);
    // Scheduler slack on a busy two-core machine, on top of the bound.
    let slack = Duration::from_millis(100);
    let bound = Config::FAST.ejection_bound();
    orders[0].0.frozen.store(true, SeqCst);
    let t0 = Instant::now();
    assert!(eventually(bound * 4, || rotation(&[b])).await);
    let out = t0.elapsed();
    println!("out of rotation after {out:?} (bound {bound:?})");
    assert!(out <= bound + slack, "{out:?} > {bound:?} + {slack:?}");
    // Requests meanwhile go to the live instance only.
    for _ in 0..4 {
        let url = format!("{}/orders/1", rig.base);
        let r = call(&rig.client, Method::GET, &url, &[], vec![]).await;
        assert_eq!(r.unwrap().backend, "orders-2");
    }
    orders[0].0.frozen.store(false, SeqCst);
    let back = Config::FAST.health_interval + Config::FAST.health_timeout;
    let t1 = Instant::now();
    assert!(eventually(back * 4, || rotation(&[a, b])).await);
    assert!(
        t1.elapsed() <= back + slack,
        "back after {:?}",
        t1.elapsed()
    );
}

#[tokio::test]
async fn a_slow_instance_times_out_and_the_get_is_retried_elsewhere() {
    let rig = rig(SLOW_CHECKS).await;
    let orders = service(&rig, "orders", "/orders", 2).await;
    orders[0].0.delay_ms.store(1_000, SeqCst);
    for _ in 0..4 {
        let url = format!("{}/orders/1", rig.base);
        let r = call(&rig.client, Method::GET, &url, &[], vec![]).await;
        let r = r.unwrap();
        assert_eq!(
            (r.status, r.backend.as_str()),
            (StatusCode::OK, "orders-2")
        );
    }
    assert!(orders[0].0.hits.load(SeqCst) >= 1, "the slow one was tried");
}

#[tokio::test]
async fn a_post_is_not_retried_after_the_upstream_saw_it() {
    let rig = rig(SLOW_CHECKS).await;
    let orders = service(&rig, "orders", "/orders", 1).await;
    let backend = &orders[0].0;
    backend.fail_next.store(1, SeqCst);
    let url = format!("{}/orders", rig.base);
    let r = call(&rig.client, Method::POST, &url, &[], b"{}".to_vec()).await;
    assert_eq!(r.unwrap().status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(backend.hits.load(SeqCst), 1, "one attempt only");
    // The same failure on a GET is retried, and the client sees 200.
    backend.fail_next.store(1, SeqCst);
    let r = call(&rig.client, Method::GET, &url, &[], vec![]).await;
    assert_eq!(r.unwrap().status, StatusCode::OK);
    assert_eq!(backend.hits.load(SeqCst), 3);
}

#[tokio::test]
async fn a_post_is_retried_when_the_connection_was_refused() {
    let rig = rig(SLOW_CHECKS).await;
    let (live, addr) = spawn_backend("orders-live").await.unwrap();
    rig.gw.register("orders", &[dead_addr(), addr]);
    rig.gw.route("/orders", "orders");
    for _ in 0..2 {
        let url = format!("{}/orders", rig.base);
        let r = call(&rig.client, Method::POST, &url, &[], b"{}".to_vec());
        assert_eq!(r.await.unwrap().status, StatusCode::OK);
    }
    assert_eq!(live.hits.load(SeqCst), 2, "each POST arrived once");
}

#[tokio::test]
async fn retries_are_bounded_and_back_off() {
    let config = Config {
        breaker_threshold: 100,
        ..SLOW_CHECKS
    };
    let rig = rig(config).await;
    let orders = service(&rig, "orders", "/orders", 1).await;
    orders[0].0.fail_next.store(u32::MAX, SeqCst);
    let t0 = Instant::now();
    let url = format!("{}/orders/1", rig.base);
    let r = call(&rig.client, Method::GET, &url, &[], vec![])
        .await
        .unwrap();
    let took = t0.elapsed();
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        orders[0].0.hits.load(SeqCst),
        u64::from(config.max_attempts)
    );
    let waits: Duration =
        (1..config.max_attempts).map(|n| config.backoff(n)).sum();
    assert_eq!(waits, Duration::from_millis(30));
    assert!(took >= waits, "{took:?} < {waits:?}");
    assert_eq!(config.backoff(3), Duration::from_millis(40));
}

#[test]
fn breaker_goes_closed_open_half_open_closed() {
    let t0 = Instant::now();
    let ms = |n| t0 + Duration::from_millis(n);
    let mut b = Breaker::new(3, Duration::from_millis(1_000));
    b.record(false, t0);
    b.record(false, t0);
    b.record(true, t0);
    assert_eq!(b.state, BreakerState::Closed { failures: 0 });
    for _ in 0..3 {
        assert!(b.allow(t0));
        b.record(false, t0);
    }
    assert_eq!(b.name(), "open");
    assert!(!b.allow(ms(999)));
    assert!(b.allow(ms(1_000)), "the probe");
    assert_eq!(b.name(), "half-open");
    assert!(!b.allow(ms(1_001)), "one probe at a time");
    b.record(false, ms(1_010));
    assert_eq!(b.state, BreakerState::Open { until: ms(2_010) });
    assert!(b.allow(ms(2_010)));
    b.record(true, ms(2_020));
    assert_eq!(b.state, BreakerState::Closed { failures: 0 });
    assert!(b.allow(ms(2_021)));
}

#[tokio::test]
async fn an_open_breaker_answers_503_without_calling_upstream() {
    let config = Config {
        max_attempts: 1,
        breaker_threshold: 2,
        ..SLOW_CHECKS
    };
    let rig = rig(config).await;
    let orders = service(&rig, "orders", "/orders", 1).await;
    let backend = &orders[0].0;
    backend.fail_next.store(u32::MAX, SeqCst);
    let url = format!("{}/orders/1", rig.base);
    let get = || call(&rig.client, Method::GET, &url, &[], vec![]);
    assert_eq!(
        get().await.unwrap().status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        get().await.unwrap().status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(rig.gw.breaker_state("orders"), "open");
    let r = get().await.unwrap();
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body, "circuit open for service orders\n");
    assert_eq!(
        backend.hits.load(SeqCst),
        2,
        "the open breaker sent nothing"
    );
    backend.fail_next.store(0, SeqCst);
    tokio::time::sleep(config.breaker_open_for).await;
    assert_eq!(get().await.unwrap().status, StatusCode::OK);
    assert_eq!(rig.gw.breaker_state("orders"), "closed");
    assert_eq!(backend.hits.load(SeqCst), 3);
}

const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
fn traceparent_parses_valid_and_ignores_malformed_values() {
    let t = TraceParent::parse(VALID).unwrap();
    assert_eq!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(t.parent_id, "00f067aa0ba902b7");
    assert_eq!(t.flags, "01");
    assert_eq!(t.header(), VALID);
    // A later version may append fields; the first four still parse.
    let future = format!("cc{}-what-comes-next", &VALID[2..]);
    assert!(TraceParent::parse(&future).is_some());
    let zeros32 = "0".repeat(32);
    let bad = [
        String::new(),
        VALID.to_uppercase(),
        format!("ff{}", &VALID[2..]),
        format!("0{}", &VALID[1..]).replacen('0', "x", 1),
        VALID.replace("4bf92f3577b34da6a3ce929d0e0e4736", &zeros32),
        VALID.replace("00f067aa0ba902b7", "0000000000000000"),
        VALID[..54].to_string(),
        format!("{VALID}-"),
        format!("{VALID}0"),
        VALID.replace("-01", "-0g"),
        VALID.replacen('-', "_", 1),
        VALID.replace("4bf9", "4bé"),
        format!("cc{}x", &VALID[2..]),
    ];
    for value in bad {
        assert_eq!(TraceParent::parse(&value), None, "{value:?}");
    }
    let root = TraceParent::new_root();
    assert_eq!(TraceParent::parse(&root.header()), Some(root.clone()));
    let child = root.child();
    assert_eq!(child.trace_id, root.trace_id);
    assert_ne!(child.parent_id, root.parent_id);
}

#[test]
fn the_child_keeps_the_sampled_flag_and_zeroes_unknown_ones() {
    for (flags, kept) in
        [("01", "01"), ("00", "00"), ("ff", "01"), ("02", "00")]
    {
        let value = format!("{}{flags}", &VALID[..53]);
        let parent = TraceParent::parse(&value).expect(&value);
        assert_eq!(parent.flags, flags, "parsed as received");
        assert_eq!(parent.child().flags, kept, "{value}");
    }
}

#[tokio::test]
async fn the_trace_survives_the_hop_and_bad_ones_are_replaced() {
    let rig = rig(SLOW_CHECKS).await;
    service(&rig, "orders", "/orders", 1).await;
    let url = format!("{}/orders/1", rig.base);
    let state = ("tracestate", "congo=t61rcWkgMzE");
    let sent = [("traceparent", VALID), state];
    let r = call(&rig.client, Method::GET, &url, &sent, vec![])
        .await
        .unwrap();
    let got = TraceParent::parse(&r.traceparent).unwrap();
    assert_eq!(got.trace_id, VALID[3..35]);
    assert_ne!(got.parent_id, VALID[36..52]);
    assert_eq!(got.flags, "01");
    assert_eq!(r.tracestate, "congo=t61rcWkgMzE");

    let broken = VALID.replace("4bf9", "XXXX");
    let sent = [("traceparent", broken.as_str()), state];
    let r = call(&rig.client, Method::GET, &url, &sent, vec![])
        .await
        .unwrap();
    assert_eq!(
        r.status,
        StatusCode::OK,
        "a bad trace never fails a request"
    );
    let got = TraceParent::parse(&r.traceparent).unwrap();
    assert_ne!(got.trace_id, broken[3..35]);
    assert_eq!(r.tracestate, "", "tracestate dropped with its traceparent");

    let r = call(&rig.client, Method::GET, &url, &[], vec![])
        .await
        .unwrap();
    assert!(TraceParent::parse(&r.traceparent).is_some());
}

#[tokio::test]
async fn bad_input_and_broken_upstreams_get_clear_errors() {
    let rig = rig(SLOW_CHECKS).await;
    let orders = service(&rig, "orders", "/orders", 1).await;
    rig.gw.register("dead", &[dead_addr()]);
    rig.gw.route("/dead", "dead");
    let (hung, hung_addr) = spawn_backend("hung").await.unwrap();
    rig.gw.register("hung", &[hung_addr]);
    rig.gw.route("/hung", "hung");
    hung.frozen.store(true, SeqCst);
    let c = &rig.client;
    let at = |path: &str| format!("{}{path}", rig.base);

    let r = call(c, Method::GET, &at("/nope"), &[], vec![])
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body, "no route for /nope\n");
    // "/ordersx" is not under "/orders".
    let r = call(c, Method::GET, &at("/ordersx"), &[], vec![])
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let r = call(c, Method::GET, &at("/dead/1"), &[], vec![])
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert!(
        r.body.starts_with("upstream dead failed: connect"),
        "{}",
        r.body
    );

    let r = call(c, Method::GET, &at("/hung/1"), &[], vec![])
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(r.body, "upstream hung timed out\n");

    let big = vec![b'x'; MAX_BODY + 1];
    let r = call(c, Method::POST, &at("/orders"), &[], big)
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(orders[0].0.hits.load(SeqCst), 0, "nothing went upstream");
    let fits = vec![b'x'; MAX_BODY];
    let r = call(c, Method::POST, &at("/orders"), &[], fits)
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);

    // Once the checks eject every instance: 503, without a connect attempt.
    let fast = rig_with_dead_service().await;
    let r = call(c, Method::GET, &fast, &[], vec![]).await.unwrap();
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body, "no healthy instance of dead\n");
}

async fn rig_with_dead_service() -> String {
    let rig = rig(Config::FAST).await;
    rig.gw.register("dead", &[dead_addr()]);
    rig.gw.route("/dead", "dead");
    let bound = Config::FAST.ejection_bound() * 4;
    assert!(eventually(bound, || rig.gw.in_rotation("dead").is_empty()).await);
    // The server task holds the gateway, so it outlives `rig`.
    format!("{}/dead/1", rig.base)
}
