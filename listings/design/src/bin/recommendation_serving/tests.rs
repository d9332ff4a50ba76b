use super::*;
use std::time::Instant;

const TIMEOUT: Duration = Duration::from_millis(150);

fn ev(user: u32, item: u32, day: u32) -> Event {
    Event { user, item, day }
}

// ANCHOR: hand_cases
#[test]
fn cosine_on_a_hand_case() {
    // Item 1 seen by users {0, 1}, item 2 by {0, 1}, item 3 by {1, 2}.
    let events = [
        ev(0, 1, 0),
        ev(0, 2, 0),
        ev(1, 1, 0),
        ev(1, 2, 0),
        ev(1, 3, 0),
    ];
    let events = [&events[..], &[ev(2, 3, 0)]].concat();
    let model = item_neighbours(&events, 5);
    // |{0,1}| / sqrt(2 x 2) = 1; |{1}| / sqrt(2 x 2) = 0.5.
    assert_eq!(model[&1], vec![(2, 1.0), (3, 0.5)]);
    assert_eq!(model[&3], vec![(1, 0.5), (2, 0.5)]); // tie: lower id
    assert_eq!(item_neighbours(&events, 1)[&1], vec![(2, 1.0)]);
}

#[test]
fn candidates_come_from_recent_items_and_exclude_seen() {
    let model = Neighbours::from([
        (1, vec![(2, 0.9), (5, 0.4)]),
        (2, vec![(1, 0.9), (6, 0.3)]),
        (3, vec![(7, 0.8)]),
    ]);
    // Newest first: 1, 2, then 3 (too old for recent = 2).
    let c = candidates(&[1, 2, 3], &model, 2);
    assert_eq!(c, BTreeSet::from([5, 6]));
}

#[test]
fn ranking_weights_recent_history_more() {
    let model = Neighbours::from([
        (1, vec![(5, 0.5)]),
        (2, vec![(6, 0.6)]),
        (3, vec![(7, 0.5), (8, 0.5)]),
    ]);
    let c = BTreeSet::from([5, 6, 7, 8]);
    // 5: 0.5/1 = 0.5; 6: 0.6/2 = 0.3; 7 and 8: 0.5/3 each, and the
    // popularity prior (8 is more popular) breaks their tie.
    let ranked = rank(&c, &[1, 2, 3], &model, &[8, 7], 4);
    assert_eq!(ranked, vec![5, 6, 8, 7]);
    assert_eq!(rank(&c, &[1, 2, 3], &model, &[], 2), vec![5, 6]);
}
// ANCHOR_END: hand_cases

#[test]
fn the_known_structure_is_learned() {
    let events = interactions(2026);
    let model = item_neighbours(&events, 10);
    let lists = batch(&events, &model, 10);
    let popular = popularity(&events);
    let (mut own, mut own_popular, mut all) = (0, 0, 0);
    for (user, stored) in (0..).zip(&lists) {
        let seen = history(&events, user);
        assert_eq!(stored.items.len(), 10);
        assert!(stored.items.iter().all(|i| !seen.contains(i)));
        let mine = |items: &[u32]| {
            items.iter().filter(|&&i| genre(i) == genre(user)).count()
        };
        own += mine(&stored.items);
        let unseen: Vec<u32> = popular
            .iter()
            .copied()
            .filter(|i| !seen.contains(i))
            .collect();
        own_popular += mine(&unseen[..10]);
        all += stored.items.len();
    }
    // The two stages find the user's genre; popularity cannot.
    assert!(own * 10 > all * 8, "{own} of {all} in the user's genre");
    assert!(own_popular * 2 < all, "{own_popular} of {all}");
}

fn service(client: redis::Client, prefix: &str) -> Service {
    let popular = popularity(&interactions(2026));
    Service {
        store: Store::new(client, prefix, TIMEOUT),
        popular,
    }
}

async fn live(test: &str) -> Option<(redis::Client, MultiplexedConnection)> {
    let client = support::redis::client_in_test(test)?;
    let con = client.get_multiplexed_async_connection().await.unwrap();
    Some((client, con))
}

async fn delete(con: &mut MultiplexedConnection, prefix: &str) {
    let keys: Vec<String> = (0..USERS).map(|u| key(prefix, u)).collect();
    let _: i64 = redis::cmd("DEL").arg(keys).query_async(con).await.unwrap();
}

/// A key prefix no other test uses.
fn prefix() -> String {
    support::unique_name("recs")
}

/// A listener that accepts connections (the kernel does) and never
/// replies, and a Redis client pointed at it.
fn silent_redis() -> (std::net::TcpListener, redis::Client) {
    let (listener, addr) = support::loopback::listener().unwrap();
    let client = redis::Client::open(format!("redis://{addr}")).unwrap();
    (listener, client)
}

fn lists() -> BTreeMap<u32, Stored> {
    let events = interactions(2026);
    let model = item_neighbours(&events, 10);
    (0..).zip(batch(&events, &model, 10)).collect()
}

// ANCHOR: redis_tests
#[tokio::test]
async fn precomputed_lists_are_served_with_their_ttl() {
    let Some((client, mut con)) = live("precomputed_lists").await else {
        return;
    };
    let prefix = prefix();
    let lists = lists();
    let ttl = Duration::from_secs(60);
    precompute(&mut con, &prefix, &lists, ttl).await.unwrap();
    let pttl: i64 = redis::cmd("PTTL")
        .arg(key(&prefix, 7))
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(pttl > 0 && pttl <= 60_000, "{pttl}");
    let s = service(client, &prefix);
    let answer = recommend(&s, 7, 5).await;
    assert_eq!(answer.fallback, None);
    assert_eq!(answer.model, "item-knn-v1");
    assert_eq!(answer.items, lists[&7].items[..5]);
    delete(&mut con, &prefix).await;
}

#[tokio::test]
async fn an_expired_list_falls_back() {
    let Some((client, mut con)) = live("an_expired_list").await else {
        return;
    };
    let prefix = prefix();
    let ttl = Duration::from_millis(100);
    precompute(&mut con, &prefix, &lists(), ttl).await.unwrap();
    // Once the TTL passes, Redis has no list: the user gets the
    // fallback (awaited, bounded).
    let s = service(client, &prefix);
    let deadline = Instant::now() + Duration::from_secs(2);
    while recommend(&s, 7, 5).await.fallback.is_none() {
        assert!(Instant::now() < deadline, "the list never expired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(recommend(&s, 7, 5).await.fallback, Some(Fallback::NoList));
    delete(&mut con, &prefix).await;
}
// ANCHOR_END: redis_tests

#[tokio::test]
async fn a_user_without_a_list_gets_popularity() {
    let Some((client, _)) = live("a_user_without_a_list").await else {
        return;
    };
    let s = service(client, &prefix());
    let answer = recommend(&s, 12, 4).await;
    assert_eq!(answer.fallback, Some(Fallback::NoList));
    assert_eq!(answer.items, s.popular[..4]);
}

#[tokio::test]
async fn an_unreadable_list_falls_back() {
    let Some((client, mut con)) = live("an_unreadable_list").await else {
        return;
    };
    let prefix = prefix();
    let s = service(client, &prefix);
    // Not JSON, and not even UTF-8: both are the value's fault, not the
    // store's.
    for (user, value) in [(3, &b"[not json"[..]), (4, &b"\xff\xfe"[..])] {
        let _: () = redis::cmd("SET")
            .arg(key(&prefix, user))
            .arg(value)
            .arg("EX")
            .arg(60)
            .query_async(&mut con)
            .await
            .unwrap();
        let answer = recommend(&s, user, 4).await;
        assert_eq!(answer.fallback, Some(Fallback::Unreadable), "{user}");
    }
    delete(&mut con, &prefix).await;
}

// ANCHOR: fallback_tests
#[tokio::test]
async fn a_dead_model_store_falls_back_to_popularity() {
    let s = service(dead_redis().unwrap(), "recs");
    let answer = recommend(&s, 0, 5).await;
    assert_eq!(answer.fallback, Some(Fallback::StoreUnavailable));
    assert_eq!(answer.model, "popularity");
    assert_eq!(answer.items, s.popular[..5]);
}

#[tokio::test]
async fn a_store_that_never_answers_costs_one_timeout() {
    let (_listener, client) = silent_redis();
    let s = service(client, "recs");
    let start = Instant::now();
    let answer = recommend(&s, 0, 5).await;
    assert_eq!(answer.fallback, Some(Fallback::StoreUnavailable));
    assert!(start.elapsed() >= TIMEOUT);
    assert!(start.elapsed() < TIMEOUT * 4, "{:?}", start.elapsed());
}
// ANCHOR_END: fallback_tests

#[tokio::test]
async fn http_answers_and_refuses_bad_input() {
    let s = Arc::new(service(dead_redis().unwrap(), "recs"));
    let (status, body) = call(app(s.clone()), "/users/4/recommendations").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["fallback"], "store_unavailable");
    assert_eq!(body["items"].as_array().unwrap().len(), 10);
    for uri in [
        "/users/abc/recommendations",
        "/users/-1/recommendations",
        "/users/99999999999/recommendations",
        "/users/4/recommendations?k=0",
        "/users/4/recommendations?k=51",
        "/users/4/recommendations?k=ten",
        "/users/%FF/recommendations",
    ] {
        let (status, body) = call(app(s.clone()), uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(body["error"].is_string(), "{uri}");
    }
    let (status, body) = call(app(s), "/users/4/recommendations?k=50").await;
    assert_eq!(status, StatusCode::OK);
    // Only 60 items, all known to the fallback: 50 of them.
    assert_eq!(body["items"].as_array().unwrap().len(), 50);
}
