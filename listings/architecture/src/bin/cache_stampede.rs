//! 2.4 Caching and invalidation: a cache stampede (many readers miss the
//! same key at once and all go to the database) and two ways to make it
//! one load: single-flight inside a process, and a Redis lock
//! (`SET NX PX`) across processes, whose losers wait for the winner's fill.
//!
//! - PostgreSQL is the source of truth (one scratch table, dropped at the
//!   end); Redis is the cache (keys under a unique prefix, deleted at the
//!   end). Every reader has its own Redis connection, as separate processes
//!   would.
//! - The stampede is forced, not hoped for: every database load waits at a
//!   gate that opens only once all readers have missed, so without
//!   coordination every miss really overlaps every other. Loads are
//!   counted where they happen, in `Origin::load`.
//! - Waiting is bounded: a reader that waits longer than the policy allows
//!   answers from the database without filling the cache.
//! - Servers: `DATABASE_URL` and `REDIS_URL`. Without one, `main` exits 77
//!   and the tests print `skipped: ...` (a failure under
//!   `REQUIRE_SERVICES=1`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use redis::Script;
use redis::aio::MultiplexedConnection;
use tokio::sync::{OnceCell, watch};
use tokio::time::{Instant, sleep};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("database: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("cache: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("reader task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

// ANCHOR: origin
/// The database, counting the loads it serves. `gate` holds each load until
/// it opens: the harness opens it once every reader has missed.
pub struct Origin {
    client: tokio_postgres::Client,
    table: String,
    gate: watch::Receiver<bool>,
    loads: AtomicUsize,
}

impl Origin {
    pub async fn load(&self, id: i32) -> Result<Option<i64>, LoadError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        // A dropped sender means nobody will open it: go ahead.
        let _ = self.gate.clone().wait_for(|open| *open).await;
        let sql = format!("SELECT cents FROM {} WHERE id = $1", self.table);
        let row = self.client.query_opt(&sql, &[&id]).await?;
        Ok(row.map(|row| row.get(0)))
    }
}
// ANCHOR_END: origin

// ANCHOR: cache
/// One reader's cache client. It counts misses, as every cache should.
pub struct Cache {
    redis: MultiplexedConnection,
    prefix: String,
    misses: Arc<AtomicUsize>,
}

impl Cache {
    fn key(&self, id: i32) -> String {
        format!("{}:product:{id}", self.prefix)
    }

    fn lock_key(&self, id: i32) -> String {
        format!("{}:lock:product:{id}", self.prefix)
    }

    /// `Some(price)` on a hit (`Some(None)`: "no such product").
    async fn get(&mut self, id: i32) -> Result<Option<Option<i64>>, LoadError> {
        let raw: Option<String> = redis::cmd("GET")
            .arg(self.key(id))
            .query_async(&mut self.redis)
            .await?;
        Ok(match raw.as_deref() {
            Some("none") => Some(None),
            Some(text) => text.parse().ok().map(Some), // junk is a miss
            None => None,
        })
    }

    async fn fill(
        &mut self,
        id: i32,
        price: Option<i64>,
    ) -> Result<(), LoadError> {
        let value = price.map_or("none".to_string(), |c| c.to_string());
        redis::cmd("SET")
            .arg(self.key(id))
            .arg(value)
            .arg("EX")
            .arg(300)
            .query_async::<()>(&mut self.redis)
            .await?;
        Ok(())
    }
}

// ANCHOR_END: cache

// ANCHOR: load_and_fill
/// Re-check the cache, then load and fill: whoever wins a flight or a lock
/// runs this, since another winner may have filled the key meanwhile.
/// Returns the price and whether this call loaded it.
async fn load_and_fill(
    cache: &mut Cache,
    origin: &Origin,
    id: i32,
) -> Result<(Option<i64>, bool), LoadError> {
    if let Some(price) = cache.get(id).await? {
        return Ok((price, false));
    }
    let price = origin.load(id).await?;
    cache.fill(id, price).await?;
    Ok((price, true))
}
// ANCHOR_END: load_and_fill

// ANCHOR: single_flight
/// At most one load per key at a time in this process. Callers that arrive
/// while a load runs wait for its result instead of starting their own.
pub struct SingleFlight<V> {
    flights: Mutex<HashMap<i32, Arc<OnceCell<V>>>>,
}

impl<V: Clone> SingleFlight<V> {
    pub fn new() -> Self {
        SingleFlight {
            flights: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `load` unless a flight for `id` is already in the air; returns
    /// the value and whether this caller ran `load`.
    pub async fn run<F, Fut>(
        &self,
        id: i32,
        load: F,
    ) -> Result<(V, bool), LoadError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, LoadError>>,
    {
        let flight = Arc::clone(self.lock().entry(id).or_default());
        let mut ran = false;
        // If the running load fails, the next waiter runs its own `load`.
        let value = flight
            .get_or_try_init(|| {
                ran = true;
                load()
            })
            .await?
            .clone();
        // Landed: a later miss (after an invalidation) must load afresh.
        let mut flights = self.lock();
        if flights.get(&id).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
            flights.remove(&id);
        }
        Ok((value, ran))
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i32, Arc<OnceCell<V>>>> {
        self.flights.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
// ANCHOR_END: single_flight

impl<V: Clone> Default for SingleFlight<V> {
    fn default() -> Self {
        Self::new()
    }
}

// ANCHOR: redis_lock
/// How long a lock lives, how often a loser looks for the winner's fill,
/// and how long it waits before answering from the database itself.
#[derive(Clone, Copy, Debug)]
pub struct LockPolicy {
    pub lock_ttl: Duration,
    pub poll: Duration,
    pub max_wait: Duration,
}

/// Deletes the lock only if it still holds our token: after expiry it may
/// be someone else's.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

async fn try_lock(
    cache: &mut Cache,
    id: i32,
    ttl: Duration,
) -> Result<Option<String>, LoadError> {
    let token = format!("{:016x}", rand::random::<u64>());
    let set: Option<String> = redis::cmd("SET")
        .arg(cache.lock_key(id))
        .arg(&token)
        .arg("NX")
        .arg("PX")
        .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
        .query_async(&mut cache.redis)
        .await?;
    Ok(set.map(|_ok| token))
}

async fn unlock(
    cache: &mut Cache,
    id: i32,
    token: &str,
) -> Result<bool, LoadError> {
    let deleted: i32 = Script::new(RELEASE)
        .key(cache.lock_key(id))
        .arg(token)
        .invoke_async(&mut cache.redis)
        .await?;
    Ok(deleted == 1)
}
// ANCHOR_END: redis_lock

// ANCHOR: with_lock
/// How a reader got its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Answer {
    Hit,
    Loaded,
    /// Single-flight: another caller's load.
    Shared,
    /// Redis lock: another process's fill, after polling.
    Waited,
    /// Waited too long: read the database, left the cache alone.
    GaveUp,
}

async fn with_redis_lock(
    cache: &mut Cache,
    origin: &Origin,
    id: i32,
    policy: LockPolicy,
) -> Result<(Option<i64>, Answer), LoadError> {
    let deadline = Instant::now() + policy.max_wait;
    loop {
        if let Some(token) = try_lock(cache, id, policy.lock_ttl).await? {
            let result = load_and_fill(cache, origin, id).await;
            unlock(cache, id, &token).await?;
            let (price, loaded) = result?;
            let answer = if loaded {
                Answer::Loaded
            } else {
                Answer::Waited
            };
            return Ok((price, answer));
        }
        if Instant::now() >= deadline {
            return Ok((origin.load(id).await?, Answer::GaveUp));
        }
        sleep(policy.poll).await;
        if let Some(price) = cache.get(id).await? {
            return Ok((price, Answer::Waited));
        }
    }
}
// ANCHOR_END: with_lock

// ANCHOR: get_price
/// What a reader does on a miss.
pub enum Strategy {
    /// Plain cache-aside: every miss loads.
    Uncoordinated,
    SingleFlight(Arc<SingleFlight<(Option<i64>, bool)>>),
    RedisLock(LockPolicy),
}

pub async fn get_price(
    cache: &mut Cache,
    origin: &Origin,
    id: i32,
    strategy: &Strategy,
) -> Result<(Option<i64>, Answer), LoadError> {
    if let Some(price) = cache.get(id).await? {
        return Ok((price, Answer::Hit));
    }
    cache.misses.fetch_add(1, Ordering::SeqCst);
    match strategy {
        Strategy::Uncoordinated => {
            let price = origin.load(id).await?;
            cache.fill(id, price).await?;
            Ok((price, Answer::Loaded))
        }
        Strategy::SingleFlight(flights) => {
            let fill = flights.run(id, || load_and_fill(cache, origin, id));
            let ((price, loaded), ran) = fill.await?;
            let answer = if ran && loaded {
                Answer::Loaded
            } else {
                Answer::Shared
            };
            Ok((price, answer))
        }
        Strategy::RedisLock(policy) => {
            with_redis_lock(cache, origin, id, *policy).await
        }
    }
}
// ANCHOR_END: get_price

/// A scratch table (product 1 at 1000 cents, no product 99) and a key
/// prefix, for one run.
pub struct Shop {
    table: String,
    prefix: String,
    admin: tokio_postgres::Client,
    redis: redis::Client,
}

async fn connect_pg() -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let url = support::pg::database_url();
    let (client, connection) =
        tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

impl Shop {
    pub async fn create(redis: redis::Client) -> Result<Shop, LoadError> {
        let shop = Shop {
            table: support::unique_name("stampede_products"),
            prefix: support::unique_name("stampede"),
            admin: connect_pg().await?,
            redis,
        };
        let sql = format!(
            "CREATE TABLE {t} (id integer PRIMARY KEY, cents bigint NOT NULL);
             INSERT INTO {t} VALUES (1, 1000);",
            t = shop.table
        );
        shop.admin.batch_execute(&sql).await?;
        Ok(shop)
    }

    async fn origin(
        &self,
        gate: watch::Receiver<bool>,
    ) -> Result<Origin, LoadError> {
        Ok(Origin {
            client: connect_pg().await?,
            table: self.table.clone(),
            gate,
            loads: AtomicUsize::new(0),
        })
    }

    /// A cache client on its own connection.
    async fn cache(
        &self,
        misses: &Arc<AtomicUsize>,
    ) -> Result<Cache, LoadError> {
        Ok(Cache {
            redis: self.redis.get_multiplexed_async_connection().await?,
            prefix: self.prefix.clone(),
            misses: Arc::clone(misses),
        })
    }

    async fn clear(&self) -> Result<(), LoadError> {
        let mut con = self.redis.get_multiplexed_async_connection().await?;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix))
            .query_async(&mut con)
            .await?;
        if !keys.is_empty() {
            redis::cmd("DEL")
                .arg(&keys)
                .query_async::<()>(&mut con)
                .await?;
        }
        Ok(())
    }

    pub async fn drop_all(self) {
        let _ = self.clear().await;
        let sql = format!("DROP TABLE IF EXISTS {}", self.table);
        let _ = self.admin.batch_execute(&sql).await;
    }
}

/// The result of one stampede: database loads, and how many readers got
/// their answer which way.
#[derive(Debug, PartialEq)]
pub struct Tally {
    pub loads: usize,
    pub prices: Vec<Option<i64>>,
    pub answers: std::collections::BTreeMap<Answer, usize>,
}

// ANCHOR: stampede
/// `readers` tasks ask for product `id` at once; loads are held at the gate
/// until every reader has missed (or `hold` is false).
pub async fn stampede(
    shop: &Shop,
    readers: usize,
    id: i32,
    strategy: Arc<Strategy>,
    hold: bool,
) -> Result<Tally, LoadError> {
    let (open, gate) = watch::channel(!hold);
    let origin = Arc::new(shop.origin(gate).await?);
    let misses = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..readers {
        let mut cache = shop.cache(&misses).await?;
        let (origin, strategy) = (Arc::clone(&origin), Arc::clone(&strategy));
        tasks.push(tokio::spawn(async move {
            get_price(&mut cache, &origin, id, &strategy).await
        }));
    }
    // Bounded: a reader that hits never misses, so stop waiting after 2 s.
    let deadline = Instant::now() + Duration::from_secs(2);
    while hold && misses.load(Ordering::SeqCst) < readers {
        if Instant::now() >= deadline {
            break;
        }
        sleep(Duration::from_millis(1)).await;
    }
    let _ = open.send(true);
    let mut tally = Tally {
        loads: 0,
        prices: Vec::new(),
        answers: Default::default(),
    };
    for task in tasks {
        let (price, answer) = task.await??;
        tally.prices.push(price);
        *tally.answers.entry(answer).or_default() += 1;
    }
    tally.loads = origin.loads.load(Ordering::SeqCst);
    Ok(tally)
}
// ANCHOR_END: stampede

pub const POLICY: LockPolicy = LockPolicy {
    lock_ttl: Duration::from_secs(5),
    poll: Duration::from_millis(5),
    max_wait: Duration::from_secs(2),
};

fn summary(tally: &Tally) -> String {
    let answers: Vec<String> = tally
        .answers
        .iter()
        .map(|(answer, n)| format!("{n} {answer:?}"))
        .collect();
    let load_s = if tally.loads == 1 { "" } else { "s" };
    format!(
        "{} load{load_s}; answers: {}",
        tally.loads,
        answers.join(", ")
    )
}

async fn run(shop: &Shop) -> Result<(), LoadError> {
    const READERS: usize = 20;
    println!(
        "{READERS} readers miss product 1 at once (loads wait until all missed):"
    );
    let strategies = [
        ("no coordination", Strategy::Uncoordinated),
        (
            "single-flight",
            Strategy::SingleFlight(Arc::new(SingleFlight::new())),
        ),
        ("Redis lock (SET NX PX)", Strategy::RedisLock(POLICY)),
    ];
    for (name, strategy) in strategies {
        shop.clear().await?;
        let strategy = Arc::new(strategy);
        let tally =
            stampede(shop, READERS, 1, Arc::clone(&strategy), true).await?;
        let same = tally.prices.iter().all(|p| *p == Some(1000));
        println!("  {name:<23} {}; all saw 1000: {same}", summary(&tally));
        let again = stampede(shop, READERS, 1, strategy, false).await?;
        println!("  {:<23} {}", "  then, the key filled:", summary(&again));
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let redis = support::redis::client_or_exit("cache_stampede");
    if let Err(e) = connect_pg().await {
        support::skip::exit_unavailable(
            "cache_stampede",
            "PostgreSQL (set DATABASE_URL)",
            e,
        );
    }
    let shop = match Shop::create(redis).await {
        Ok(shop) => shop,
        Err(e) => {
            eprintln!("cache_stampede: cannot create the scratch table: {e}");
            std::process::exit(1);
        }
    };
    let result = run(&shop).await;
    shop.drop_all().await;
    if let Err(e) = result {
        eprintln!("cache_stampede: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn open_shop(test: &str) -> Option<Shop> {
        let redis = support::redis::client_in_test(test)?;
        support::skip::in_test(test, "PostgreSQL", connect_pg().await)?;
        Some(Shop::create(redis).await.expect("create the scratch table"))
    }

    fn count(tally: &Tally, answer: Answer) -> usize {
        tally.answers.get(&answer).copied().unwrap_or(0)
    }

    const N: usize = 16;

    #[tokio::test]
    async fn without_coordination_every_miss_loads() {
        let Some(shop) = open_shop("without_coordination").await else {
            return;
        };
        let strategy = Arc::new(Strategy::Uncoordinated);
        let tally = stampede(&shop, N, 1, strategy, true).await.unwrap();
        shop.drop_all().await;
        assert_eq!(tally.loads, N);
        assert_eq!(count(&tally, Answer::Loaded), N);
        assert!(tally.prices.iter().all(|p| *p == Some(1000)));
    }

    #[tokio::test]
    async fn single_flight_makes_one_load() {
        let Some(shop) = open_shop("single_flight_one_load").await else {
            return;
        };
        let flights = Arc::new(SingleFlight::new());
        let strategy = Arc::new(Strategy::SingleFlight(Arc::clone(&flights)));
        let tally = stampede(&shop, N, 1, strategy, true).await.unwrap();
        assert_eq!(tally.loads, 1);
        assert_eq!(count(&tally, Answer::Loaded), 1);
        assert_eq!(count(&tally, Answer::Shared), N - 1);
        assert!(tally.prices.iter().all(|p| *p == Some(1000)));
        // Nothing left in the air: the next miss would load afresh.
        assert!(flights.lock().is_empty());
        shop.drop_all().await;
    }

    #[tokio::test]
    async fn the_redis_lock_makes_one_load_and_the_others_wait() {
        let Some(shop) = open_shop("redis_lock_one_load").await else {
            return;
        };
        let strategy = Arc::new(Strategy::RedisLock(POLICY));
        let tally = stampede(&shop, N, 1, strategy, true).await.unwrap();
        let mut cache = shop.cache(&Arc::default()).await.unwrap();
        let lock: Option<String> = redis::cmd("GET")
            .arg(cache.lock_key(1))
            .query_async(&mut cache.redis)
            .await
            .unwrap();
        let cached = cache.get(1).await.unwrap();
        shop.drop_all().await;
        assert_eq!(tally.loads, 1);
        assert_eq!(count(&tally, Answer::Loaded), 1);
        assert_eq!(count(&tally, Answer::Waited), N - 1);
        assert!(tally.prices.iter().all(|p| *p == Some(1000)));
        assert_eq!(lock, None, "the winner released its lock");
        assert_eq!(cached, Some(Some(1000)));
    }

    #[tokio::test]
    async fn a_missing_product_is_one_load_too() {
        let Some(shop) = open_shop("a_missing_product_one_load").await else {
            return;
        };
        let strategy = Arc::new(Strategy::RedisLock(POLICY));
        let tally = stampede(&shop, N, 99, strategy, true).await.unwrap();
        shop.drop_all().await;
        assert_eq!(tally.loads, 1);
        assert!(tally.prices.iter().all(Option::is_none));
    }

    #[tokio::test]
    async fn an_abandoned_lock_expires_and_one_waiter_takes_over() {
        let Some(shop) = open_shop("an_abandoned_lock").await else {
            return;
        };
        // A holder that dies without filling or unlocking.
        let mut ghost = shop.cache(&Arc::default()).await.unwrap();
        let ttl = Duration::from_millis(300);
        assert!(try_lock(&mut ghost, 1, ttl).await.unwrap().is_some());
        let strategy = Arc::new(Strategy::RedisLock(POLICY));
        let tally = stampede(&shop, N, 1, strategy, true).await.unwrap();
        shop.drop_all().await;
        assert_eq!(tally.loads, 1);
        assert_eq!(count(&tally, Answer::Loaded), 1);
        assert_eq!(count(&tally, Answer::Waited), N - 1);
    }

    #[tokio::test]
    async fn waiting_is_bounded_and_a_reader_that_gives_up_still_answers() {
        let Some(shop) = open_shop("waiting_is_bounded").await else {
            return;
        };
        let mut ghost = shop.cache(&Arc::default()).await.unwrap();
        let held = try_lock(&mut ghost, 1, Duration::from_secs(30)).await;
        assert!(held.unwrap().is_some());
        let policy = LockPolicy {
            max_wait: Duration::from_millis(50),
            ..POLICY
        };
        let strategy = Arc::new(Strategy::RedisLock(policy));
        let tally = stampede(&shop, 3, 1, strategy, true).await.unwrap();
        let cached = ghost.get(1).await.unwrap();
        shop.drop_all().await;
        assert_eq!(count(&tally, Answer::GaveUp), 3);
        assert!(tally.prices.iter().all(|p| *p == Some(1000)));
        assert_eq!(cached, None, "a reader without the lock never fills");
    }

    #[tokio::test]
    async fn unlock_deletes_only_its_own_token() {
        let Some(shop) = open_shop("unlock_only_its_own").await else {
            return;
        };
        let mut cache = shop.cache(&Arc::default()).await.unwrap();
        let ttl = Duration::from_secs(5);
        let token = try_lock(&mut cache, 1, ttl).await.unwrap().unwrap();
        assert_eq!(try_lock(&mut cache, 1, ttl).await.unwrap(), None);
        assert!(!unlock(&mut cache, 1, "someone-else").await.unwrap());
        assert!(unlock(&mut cache, 1, &token).await.unwrap());
        assert!(try_lock(&mut cache, 1, ttl).await.unwrap().is_some());
        shop.drop_all().await;
    }

    #[tokio::test]
    async fn a_filled_key_means_hits_and_no_loads() {
        let Some(shop) = open_shop("a_filled_key_hits").await else {
            return;
        };
        let strategy = Arc::new(Strategy::Uncoordinated);
        stampede(&shop, 1, 1, Arc::clone(&strategy), false)
            .await
            .unwrap();
        let tally = stampede(&shop, N, 1, strategy, false).await.unwrap();
        shop.drop_all().await;
        assert_eq!(tally.loads, 0);
        assert_eq!(count(&tally, Answer::Hit), N);
    }

    #[tokio::test]
    async fn a_junk_cache_entry_is_a_miss() {
        let Some(shop) = open_shop("a_junk_entry_is_a_miss").await else {
            return;
        };
        let mut cache = shop.cache(&Arc::default()).await.unwrap();
        redis::cmd("SET")
            .arg(cache.key(1))
            .arg("not a number")
            .query_async::<()>(&mut cache.redis)
            .await
            .unwrap();
        let strategy =
            Arc::new(Strategy::SingleFlight(Arc::new(SingleFlight::new())));
        let tally = stampede(&shop, 4, 1, strategy, true).await.unwrap();
        let cached = cache.get(1).await.unwrap();
        shop.drop_all().await;
        assert_eq!(tally.loads, 1);
        assert_eq!(cached, Some(Some(1000)));
    }
}
