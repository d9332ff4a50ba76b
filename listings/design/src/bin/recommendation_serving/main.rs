//! 3.4: two-stage recommendation serving. A batch job generates candidates
//! for every user (the neighbours of what they saw recently), ranks them,
//! and writes each user's list to Redis with a TTL. The online service
//! (axum) only reads that list; when Redis is down, slow, or has no list
//! for the user, it answers from an in-process popularity list and says
//! so in the answer.
//!
//! The interactions are seeded, with a known structure: user `u` prefers
//! genre `u % 3`, and item `i` belongs to genre `i % 3`.
//! Run: `cargo run --bin recommendation_serving` (needs Redis, `REDIS_URL`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use redis::aio::MultiplexedConnection;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

pub const USERS: u32 = 90;
pub const ITEMS: u32 = 60;
pub const GENRES: u32 = 3;
pub const MAX_K: usize = 50;

pub fn genre(id: u32) -> u32 {
    id % GENRES
}

/// SplitMix64: a small seeded generator, so the data never changes.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u32) -> u32 {
        (self.next() % u64::from(n)) as u32
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Event {
    pub user: u32,
    pub item: u32,
    pub day: u32,
}

/// Eight distinct items per user over 30 days, 9 in 10 from their genre.
pub fn interactions(seed: u64) -> Vec<Event> {
    let mut rng = SplitMix(seed);
    let mut events = Vec::new();
    for user in 0..USERS {
        let mut seen = BTreeSet::new();
        while seen.len() < 8 {
            let item = if rng.below(10) < 9 {
                genre(user) + GENRES * rng.below(ITEMS / GENRES)
            } else {
                rng.below(ITEMS)
            };
            if seen.insert(item) {
                events.push(Event {
                    user,
                    item,
                    day: rng.below(30),
                });
            }
        }
    }
    events
}

// ANCHOR: neighbours
pub type Neighbours = HashMap<u32, Vec<(u32, f64)>>;

/// The model the offline job trains: for each item, its `top` most
/// similar items by cosine over the sets of users who saw them
/// (|A and B| / sqrt(|A| |B|)). Kept as top-N lists, never as a dense
/// item x item matrix.
pub fn item_neighbours(events: &[Event], top: usize) -> Neighbours {
    let mut users_of: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for e in events {
        users_of.entry(e.item).or_default().insert(e.user);
    }
    let mut model = Neighbours::new();
    for (&a, ua) in &users_of {
        let mut sims: Vec<(u32, f64)> = users_of
            .iter()
            .filter(|&(&b, _)| b != a)
            .map(|(&b, ub)| {
                let both = ua.intersection(ub).count() as f64;
                (b, both / ((ua.len() * ub.len()) as f64).sqrt())
            })
            .filter(|&(_, s)| s > 0.0)
            .collect();
        sims.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        sims.truncate(top);
        model.insert(a, sims);
    }
    model
}
// ANCHOR_END: neighbours

/// Items by how many users saw them, most first (ties: lower id first).
pub fn popularity(events: &[Event]) -> Vec<u32> {
    let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
    for e in events {
        *counts.entry(e.item).or_default() += 1;
    }
    let mut items: Vec<(u32, usize)> = counts.into_iter().collect();
    items.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    items.into_iter().map(|(item, _)| item).collect()
}

/// A user's items, most recent first.
pub fn history(events: &[Event], user: u32) -> Vec<u32> {
    let mut mine: Vec<&Event> =
        events.iter().filter(|e| e.user == user).collect();
    mine.sort_by(|a, b| b.day.cmp(&a.day).then(a.item.cmp(&b.item)));
    mine.into_iter().map(|e| e.item).collect()
}

// ANCHOR: candidates
/// Stage 1, candidate generation: cheap and generous. The neighbours of
/// the user's `recent` latest items, minus everything they have seen.
pub fn candidates(
    history: &[u32],
    model: &Neighbours,
    recent: usize,
) -> BTreeSet<u32> {
    let seen: BTreeSet<u32> = history.iter().copied().collect();
    history
        .iter()
        .take(recent)
        .flat_map(|item| model.get(item).into_iter().flatten())
        .map(|&(n, _)| n)
        .filter(|n| !seen.contains(n))
        .collect()
}
// ANCHOR_END: candidates

// ANCHOR: rank
/// Stage 2, ranking: a score per candidate from features. Here two: the
/// similarity to the history, each past item weighted by how recent it
/// is (1, 1/2, 1/3, ...), and a small popularity prior. A production
/// ranker is a trained model (gradient-boosted trees, a neural net) over
/// many more features; the shape is the same.
pub fn rank(
    candidates: &BTreeSet<u32>,
    history: &[u32],
    model: &Neighbours,
    popular: &[u32],
    k: usize,
) -> Vec<u32> {
    let pop_rank: HashMap<u32, usize> =
        popular.iter().enumerate().map(|(r, &i)| (i, r)).collect();
    let sim = |a: u32, b: u32| {
        let list = model.get(&a).map(Vec::as_slice).unwrap_or_default();
        list.iter().find(|&&(n, _)| n == b).map_or(0.0, |&(_, s)| s)
    };
    let mut scored: Vec<(u32, f64)> = candidates
        .iter()
        .map(|&c| {
            let affinity: f64 = history
                .iter()
                .enumerate()
                .map(|(age, &h)| sim(h, c) / (age + 1) as f64)
                .sum();
            let prior =
                pop_rank.get(&c).map_or(0.0, |&r| 0.01 / (r + 1) as f64);
            (c, affinity + prior)
        })
        .collect();
    scored.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
    scored.into_iter().take(k).map(|(c, _)| c).collect()
}
// ANCHOR_END: rank

/// What the batch job stores per user: the list and the model that made
/// it, so an answer can be traced to a model version.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Stored {
    pub model: String,
    pub items: Vec<u32>,
}

pub fn key(prefix: &str, user: u32) -> String {
    format!("{prefix}:recs:{user}")
}

// ANCHOR: precompute
/// The batch job's last step: every list in one pipeline, each with its
/// expiry, so a user who stops coming back costs no memory after `ttl`,
/// and a failed job leaves lists that age out instead of living forever.
pub async fn precompute(
    con: &mut MultiplexedConnection,
    prefix: &str,
    lists: &BTreeMap<u32, Stored>,
    ttl: Duration,
) -> redis::RedisResult<()> {
    let mut pipe = redis::pipe();
    for (user, stored) in lists {
        let value = serde_json::to_string(stored).expect("plain data");
        pipe.cmd("SET")
            .arg(key(prefix, *user))
            .arg(value)
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .ignore();
    }
    pipe.query_async(con).await
}
// ANCHOR_END: precompute

/// Every user's list, made offline by the two stages; a list shorter
/// than `k` is filled with popular items the user has not seen.
pub fn batch(events: &[Event], model: &Neighbours, k: usize) -> Vec<Stored> {
    let popular = popularity(events);
    (0..USERS)
        .map(|user| {
            let h = history(events, user);
            let c = candidates(&h, model, 3);
            let mut items = rank(&c, &h, model, &popular, k);
            for &p in &popular {
                if items.len() == k {
                    break;
                }
                if !h.contains(&p) && !items.contains(&p) {
                    items.push(p);
                }
            }
            Stored {
                model: "item-knn-v1".into(),
                items,
            }
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

/// The model store: Redis, reached with a deadline on every read.
pub struct Store {
    client: redis::Client,
    prefix: String,
    timeout: Duration,
    connection: Mutex<Option<MultiplexedConnection>>,
}

impl Store {
    pub fn new(client: redis::Client, prefix: &str, timeout: Duration) -> Self {
        let connection = Mutex::new(None);
        let prefix = prefix.to_string();
        Store {
            client,
            prefix,
            timeout,
            connection,
        }
    }

    // ANCHOR: read
    /// The stored list's bytes (bad bytes are the value's fault, for the
    /// caller to judge, not the store's), `None` when there is none; an
    /// error when Redis does not answer within the deadline. The
    /// connection is made on first use and dropped after an error, so
    /// the next read connects afresh.
    pub async fn read(&self, user: u32) -> Result<Option<Vec<u8>>, StoreError> {
        let work = async {
            let mut con = {
                let mut slot = self.connection.lock().await;
                match slot.as_ref() {
                    Some(con) => con.clone(),
                    None => {
                        let con = self
                            .client
                            .get_multiplexed_async_connection()
                            .await?;
                        slot.insert(con).clone()
                    }
                }
            };
            let key = key(&self.prefix, user);
            redis::cmd("GET").arg(key).query_async(&mut con).await
        };
        let result = match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result.map_err(StoreError::from),
            Err(_) => Err(StoreError::Timeout(self.timeout)),
        };
        if result.is_err() {
            *self.connection.lock().await = None;
        }
        result
    }
    // ANCHOR_END: read
}

/// Why an answer came from the fallback.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    StoreUnavailable,
    NoList,
    Unreadable,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub user: u32,
    pub items: Vec<u32>,
    pub model: String,
    pub fallback: Option<Fallback>,
}

pub struct Service {
    pub store: Store,
    /// Refreshed with each model; kept in process so that it needs
    /// nothing that can be down.
    pub popular: Vec<u32>,
}

// ANCHOR: serve
pub async fn recommend(service: &Service, user: u32, k: usize) -> Answer {
    let fallback = |why| Answer {
        user,
        items: service.popular.iter().copied().take(k).collect(),
        model: "popularity".into(),
        fallback: Some(why),
    };
    match service.store.read(user).await {
        Ok(Some(raw)) => match serde_json::from_slice::<Stored>(&raw) {
            Ok(s) => Answer {
                user,
                items: s.items.into_iter().take(k).collect(),
                model: s.model,
                fallback: None,
            },
            Err(_) => fallback(Fallback::Unreadable),
        },
        // A new user, or one whose list expired: cold start.
        Ok(None) => fallback(Fallback::NoList),
        Err(_) => fallback(Fallback::StoreUnavailable),
    }
}
// ANCHOR_END: serve

// ANCHOR: http
pub fn app(service: Arc<Service>) -> Router {
    Router::new()
        .route("/users/{user}/recommendations", get(handler))
        .with_state(service)
}

async fn handler(
    State(service): State<Arc<Service>>,
    user: Result<Path<u32>, PathRejection>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    // Any rejection (not a number, not UTF-8) answers in our JSON shape.
    let Ok(Path(user)) = user else {
        return bad("user must be a non-negative integer");
    };
    let k = match query.get("k").map(|k| k.parse::<usize>()) {
        None => 10,
        Some(Ok(k)) if (1..=MAX_K).contains(&k) => k,
        Some(_) => return bad("k must be an integer from 1 to 50"),
    };
    Json(recommend(&service, user, k).await).into_response()
}

fn bad(message: &str) -> Response {
    let body = serde_json::json!({ "error": message });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}
// ANCHOR_END: http

/// A Redis address where nothing listens: a port bound, then released.
pub fn dead_redis() -> std::io::Result<redis::Client> {
    let (listener, addr) = support::loopback::listener()?;
    drop(listener);
    redis::Client::open(format!("redis://{addr}"))
        .map_err(std::io::Error::other)
}

/// GET a path from the app, returning the status and the body's JSON.
pub async fn call(app: Router, uri: &str) -> (StatusCode, serde_json::Value) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let request = axum::http::Request::get(uri)
        .body(axum::body::Body::empty())
        .expect("a valid request");
    let response = app.oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body");
    let json = serde_json::from_slice(&bytes.to_bytes()).expect("JSON");
    (status, json)
}

fn genres(items: &[u32]) -> Vec<u32> {
    items.iter().map(|&i| genre(i)).collect()
}

async fn demo(client: redis::Client) -> Result<(), StoreError> {
    // ANCHOR: main
    let events = interactions(2026);
    let model = item_neighbours(&events, 10);
    let popular = popularity(&events);
    println!(
        "{USERS} users, {ITEMS} items, {} interactions",
        events.len()
    );
    println!("popularity fallback: {:?}", &popular[..5]);
    for user in 0..3 {
        let h = history(&events, user);
        let c = candidates(&h, &model, 3);
        let top = rank(&c, &h, &model, &popular, 5);
        println!("user {user} (genre {}):", genre(user));
        println!("  history, newest first   {h:?}");
        println!("  candidates              {}", c.len());
        println!("  ranked top 5            {top:?}");
        println!("  their genres            {:?}", genres(&top));
    }
    // ANCHOR_END: main
    let prefix = support::unique_name("recs");
    let lists: BTreeMap<u32, Stored> = batch(&events, &model, 10)
        .into_iter()
        .zip(0..)
        .map(|(s, u)| (u, s))
        .collect();
    let mut con = client.get_multiplexed_async_connection().await?;
    let ttl = Duration::from_secs(3_600);
    precompute(&mut con, &prefix, &lists, ttl).await?;
    let pttl: i64 = redis::cmd("PTTL")
        .arg(key(&prefix, 0))
        .query_async(&mut con)
        .await?;
    println!(
        "precomputed {} lists, TTL set: {}",
        lists.len(),
        pttl > 0 && pttl <= 3_600_000
    );
    let timeout = Duration::from_millis(200);
    let live = Arc::new(Service {
        store: Store::new(client, &prefix, timeout),
        popular: popular.clone(),
    });
    let dead_client = dead_redis().map_err(|e| StoreError::Redis(e.into()))?;
    let dead = Arc::new(Service {
        store: Store::new(dead_client, &prefix, timeout),
        popular,
    });
    for (name, service, uri) in [
        ("known user", &live, "/users/0/recommendations?k=5"),
        ("new user", &live, "/users/999/recommendations?k=5"),
        ("Redis down", &dead, "/users/0/recommendations?k=5"),
        ("bad id", &live, "/users/abc/recommendations"),
        ("bad k", &live, "/users/0/recommendations?k=0"),
    ] {
        let (status, body) = call(app(service.clone()), uri).await;
        println!("{name:<11} {} {body}", status.as_u16());
    }
    let keys: Vec<String> = (0..USERS).map(|u| key(&prefix, u)).collect();
    redis::cmd("DEL")
        .arg(keys)
        .query_async::<i64>(&mut con)
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() {
    let client = support::redis::client_or_exit("recommendation_serving");
    if let Err(e) = demo(client).await {
        support::skip::exit_unavailable("recommendation_serving", "Redis", e);
    }
}

#[cfg(test)]
mod tests;
