//! 2.4 Caching and invalidation: cache-aside on Redis in front of
//! PostgreSQL, the stale-set race that plain cache-aside loses, and a lease
//! that closes it.
//!
//! - PostgreSQL is the source of truth: one scratch table of product prices
//!   (integer cents), uniquely named per run and dropped at the end.
//! - Redis holds `<prefix>:product:<id>` for a jittered TTL. A product that
//!   does not exist is cached too ("negative caching"), for a shorter TTL.
//! - Writers commit first and delete the key after the commit.
//! - The race is forced, not hoped for: the reader runs on its own thread
//!   and a pair of channels stops it between its database read and its
//!   cache fill while the writer runs to completion.
//! - The fix is a lease: on a miss the reader takes a token
//!   (`SET lease NX PX`), and a Lua script fills the key only if that token
//!   is still there. A writer's invalidation deletes key and lease together,
//!   so a fill computed from a value older than the invalidation is refused.
//! - Servers: `DATABASE_URL` and `REDIS_URL` (local defaults). Without one,
//!   `main` exits 77 and the tests print `skipped: ...` (a failure under
//!   `REQUIRE_SERVICES=1`).

use std::ops::RangeInclusive;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use postgres::Client;
use redis::{Connection, Script};

// ANCHOR: errors
/// What a read or a write can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("database: {0}")]
    Db(#[from] postgres::Error),
    #[error("cache: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("no product with id {0}")]
    NoSuchProduct(i32),
    #[error("a price cannot be negative: {0} cents")]
    NegativePrice(i64),
}
// ANCHOR_END: errors

// ANCHOR: ttl
/// A time to live of `base` seconds, spread at random by up to `spread`
/// seconds either way, so that keys filled together expire apart.
#[derive(Clone, Copy, Debug)]
pub struct Ttl {
    base: u64,
    spread: u64,
}

impl Ttl {
    pub const fn new(base: u64, spread: u64) -> Self {
        assert!(spread < base, "the spread must leave a positive TTL");
        Ttl { base, spread }
    }

    pub fn range(self) -> RangeInclusive<u64> {
        self.base - self.spread..=self.base + self.spread
    }

    pub fn pick(self) -> u64 {
        rand::random_range(self.range())
    }
}

/// Prices live 5 minutes ± 10 %; "no such product" only 30 s ± 10 %.
pub const PRICE_TTL: Ttl = Ttl::new(300, 30);
pub const MISSING_TTL: Ttl = Ttl::new(30, 3);
/// A lease outlives any database read; if its holder dies, it expires.
pub const LEASE_MS: u64 = 10_000;
// ANCHOR_END: ttl

// ANCHOR: db
/// The source of truth.
pub struct Db {
    client: Client,
    table: String,
}

impl Db {
    pub fn price(&mut self, id: i32) -> Result<Option<i64>, CacheError> {
        let sql = format!("SELECT cents FROM {} WHERE id = $1", self.table);
        let row = self.client.query_opt(&sql, &[&id])?;
        Ok(row.map(|row| row.get(0)))
    }

    /// UPDATE and COMMIT. `before_commit` runs inside the transaction:
    /// correct code passes `|_| Ok(())`; one scenario below does not.
    pub fn set_price(
        &mut self,
        id: i32,
        cents: i64,
        before_commit: impl FnOnce(i32) -> Result<(), CacheError>,
    ) -> Result<(), CacheError> {
        if cents < 0 {
            return Err(CacheError::NegativePrice(cents));
        }
        let sql = format!("UPDATE {} SET cents = $2 WHERE id = $1", self.table);
        let mut tx = self.client.transaction()?;
        if tx.execute(&sql, &[&id, &cents])? == 0 {
            return Err(CacheError::NoSuchProduct(id)); // drop = ROLLBACK
        }
        before_commit(id)?;
        tx.commit()?;
        Ok(())
    }
}
// ANCHOR_END: db

// ANCHOR: cache_get
/// What a cache lookup found.
#[derive(Debug, PartialEq)]
pub enum Lookup {
    /// The cached answer: a price, or `None` for "no such product".
    Hit(Option<i64>),
    Miss,
}

pub struct Cache {
    redis: Connection,
    prefix: String,
}

impl Cache {
    fn key(&self, id: i32) -> String {
        format!("{}:product:{id}", self.prefix)
    }

    fn lease_key(&self, id: i32) -> String {
        format!("{}:lease:product:{id}", self.prefix)
    }

    pub fn get(&mut self, id: i32) -> Result<Lookup, CacheError> {
        let key = self.key(id);
        let raw: Option<String> =
            redis::cmd("GET").arg(&key).query(&mut self.redis)?;
        Ok(match raw.as_deref() {
            None => Lookup::Miss,
            Some("none") => Lookup::Hit(None),
            Some(text) => match text.parse() {
                Ok(cents) => Lookup::Hit(Some(cents)),
                // Not ours (an old format, a stray write): drop it, reload.
                Err(_) => {
                    redis::cmd("DEL").arg(&key).query::<()>(&mut self.redis)?;
                    Lookup::Miss
                }
            },
        })
    }
}
// ANCHOR_END: cache_get

// ANCHOR: cache_fill
impl Cache {
    /// Plain cache-aside fill: SET with a jittered TTL, no questions asked.
    pub fn fill(
        &mut self,
        id: i32,
        price: Option<i64>,
    ) -> Result<(), CacheError> {
        let (value, ttl) = encode(price);
        redis::cmd("SET")
            .arg(self.key(id))
            .arg(value)
            .arg("EX")
            .arg(ttl.pick())
            .query::<()>(&mut self.redis)?;
        Ok(())
    }

    /// After a commit: the key and any lease on it go, in one command.
    pub fn invalidate(&mut self, id: i32) -> Result<(), CacheError> {
        let keys = [self.key(id), self.lease_key(id)];
        redis::cmd("DEL").arg(&keys).query::<()>(&mut self.redis)?;
        Ok(())
    }
}

fn encode(price: Option<i64>) -> (String, Ttl) {
    match price {
        Some(cents) => (cents.to_string(), PRICE_TTL),
        None => ("none".to_string(), MISSING_TTL),
    }
}
// ANCHOR_END: cache_fill

// ANCHOR: lease
/// Fills the key only if the reader's lease is still there, and spends it.
/// Redis runs a script atomically: no command runs between the check and
/// the SET.
const FILL_IF_LEASED: &str = r"
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  redis.call('DEL', KEYS[2])
  return 1
end
return 0";

impl Cache {
    /// On a miss: a token if nobody else holds the lease, else `None`.
    pub fn take_lease(
        &mut self,
        id: i32,
    ) -> Result<Option<String>, CacheError> {
        let token = format!("{:016x}", rand::random::<u64>());
        let taken: Option<String> = redis::cmd("SET")
            .arg(self.lease_key(id))
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(LEASE_MS)
            .query(&mut self.redis)?;
        Ok(taken.map(|_ok| token))
    }

    /// Whether the fill happened (false: the lease was invalidated).
    pub fn fill_leased(
        &mut self,
        id: i32,
        token: &str,
        price: Option<i64>,
    ) -> Result<bool, CacheError> {
        let (value, ttl) = encode(price);
        let filled: i32 = Script::new(FILL_IF_LEASED)
            .key(self.key(id))
            .key(self.lease_key(id))
            .arg(token)
            .arg(value)
            .arg(ttl.pick())
            .invoke(&mut self.redis)?;
        Ok(filled == 1)
    }
}
// ANCHOR_END: lease

// ANCHOR: read
/// Where an answer came from.
#[derive(Debug, PartialEq)]
pub enum Source {
    Cache,
    Database,
}

/// Plain cache-aside. `pause` runs between the database read and the cache
/// fill: production code passes `|| {}`, the race below stops there.
pub fn get_price(
    db: &mut Db,
    cache: &mut Cache,
    id: i32,
    pause: impl FnOnce(),
) -> Result<(Option<i64>, Source), CacheError> {
    if let Lookup::Hit(price) = cache.get(id)? {
        return Ok((price, Source::Cache));
    }
    let price = db.price(id)?;
    pause();
    cache.fill(id, price)?;
    Ok((price, Source::Database))
}

/// Cache-aside with a lease: only the lease holder fills, and only if no
/// writer invalidated the key since the lease was taken.
pub fn get_price_leased(
    db: &mut Db,
    cache: &mut Cache,
    id: i32,
    pause: impl FnOnce(),
) -> Result<(Option<i64>, Source), CacheError> {
    if let Lookup::Hit(price) = cache.get(id)? {
        return Ok((price, Source::Cache));
    }
    let lease = cache.take_lease(id)?; // before the database read
    let price = db.price(id)?;
    pause();
    if let Some(token) = lease {
        cache.fill_leased(id, &token, price)?;
    }
    Ok((price, Source::Database))
}
// ANCHOR_END: read

// ANCHOR: write
/// Commit, then delete: the next reader misses and reads the new row.
pub fn update_price(
    db: &mut Db,
    cache: &mut Cache,
    id: i32,
    cents: i64,
) -> Result<(), CacheError> {
    db.set_price(id, cents, |_| Ok(()))?;
    cache.invalidate(id)
}

/// "Delayed double delete": delete, commit, wait, delete again.
/// `wait` is the delay (production: a sleep of a few hundred ms).
pub fn update_price_double_delete(
    db: &mut Db,
    cache: &mut Cache,
    id: i32,
    cents: i64,
    wait: impl FnOnce(),
) -> Result<(), CacheError> {
    cache.invalidate(id)?;
    db.set_price(id, cents, |_| Ok(()))?;
    wait();
    cache.invalidate(id)
}

/// The bug: invalidating inside the transaction (a Django `post_save`
/// handler, an ORM event hook), before the commit.
pub fn update_price_invalidating_first(
    db: &mut Db,
    cache: &mut Cache,
    id: i32,
    cents: i64,
    pause: impl FnOnce(),
) -> Result<(), CacheError> {
    db.set_price(id, cents, |id| {
        cache.invalidate(id)?;
        pause();
        Ok(())
    })
}
// ANCHOR_END: write

// ANCHOR: interleave
/// Forces an interleaving: `first` runs on its own thread until it calls
/// its pause hook; then `second` runs to completion; then `first` resumes.
pub fn interleave<A: Send, B>(
    first: impl FnOnce(&mut dyn FnMut()) -> A + Send,
    second: impl FnOnce() -> B,
) -> (A, B) {
    let (paused_tx, paused_rx) = mpsc::channel::<()>();
    let (resume_tx, resume_rx) = mpsc::channel::<()>();
    thread::scope(|scope| {
        let handle = scope.spawn(move || {
            first(&mut || {
                let _ = paused_tx.send(());
                let _ = resume_rx.recv();
            })
        });
        // Err here means `first` ended without pausing (it failed early).
        let _ = paused_rx.recv();
        let b = second();
        let _ = resume_tx.send(());
        let a = handle
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (a, b)
    })
}
// ANCHOR_END: interleave

/// A scratch table and key prefix, dropped and deleted at the end.
pub struct Shop {
    table: String,
    prefix: String,
    admin: Client,
    redis: redis::Client,
}

impl Shop {
    /// Products 1 and 2 at 1000 and 2500 cents.
    pub fn create(
        admin: Client,
        redis: redis::Client,
    ) -> Result<Shop, CacheError> {
        let mut shop = Shop {
            table: support::unique_name("cache_products"),
            prefix: support::unique_name("cache"),
            admin,
            redis,
        };
        let sql = format!(
            "CREATE TABLE {t} (id integer PRIMARY KEY, \
             cents bigint NOT NULL CHECK (cents >= 0));
             INSERT INTO {t} VALUES (1, 1000), (2, 2500);",
            t = shop.table
        );
        shop.admin.batch_execute(&sql)?;
        Ok(shop)
    }

    /// One actor's own connections: a database session and a Redis one.
    pub fn actor(&self) -> Result<(Db, Cache), CacheError> {
        let client = support::pg::connect(&support::pg::database_url())?;
        let db = Db {
            client,
            table: self.table.clone(),
        };
        let redis = self.redis.get_connection()?;
        Ok((
            db,
            Cache {
                redis,
                prefix: self.prefix.clone(),
            },
        ))
    }

    /// Back to product 1 at 1000 cents, nothing cached.
    pub fn reset(&mut self) -> Result<(), CacheError> {
        let sql =
            format!("UPDATE {} SET cents = 1000 WHERE id = 1", self.table);
        self.admin.batch_execute(&sql)?;
        self.delete_keys()
    }

    fn delete_keys(&mut self) -> Result<(), CacheError> {
        let mut con = self.redis.get_connection()?;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix))
            .query(&mut con)?;
        if !keys.is_empty() {
            redis::cmd("DEL").arg(&keys).query::<()>(&mut con)?;
        }
        Ok(())
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        let _ = self.delete_keys();
        let sql = format!("DROP TABLE IF EXISTS {}", self.table);
        let _ = self.admin.batch_execute(&sql);
    }
}

/// What the cache holds for `id`, for the output.
fn describe(cache: &mut Cache, id: i32) -> Result<String, CacheError> {
    Ok(match cache.get(id)? {
        Lookup::Hit(Some(cents)) => format!("cache {cents}"),
        Lookup::Hit(None) => "cached as missing".to_string(),
        Lookup::Miss => "cache empty".to_string(),
    })
}

fn show(price: Option<i64>) -> String {
    price.map_or("none".to_string(), |cents| cents.to_string())
}

fn ttl_of(cache: &mut Cache, id: i32) -> Result<u64, CacheError> {
    let key = cache.key(id);
    Ok(redis::cmd("TTL").arg(key).query(&mut cache.redis)?)
}

// ANCHOR: main_basics
fn basics(shop: &Shop) -> Result<(), CacheError> {
    let (mut db, mut cache) = shop.actor()?;
    let (price, from) = get_price(&mut db, &mut cache, 1, || {})?;
    println!("product 1: {} from {from:?}", show(price));
    let (price, from) = get_price(&mut db, &mut cache, 1, || {})?;
    println!("product 1: {} from {from:?}", show(price));
    let ttl = ttl_of(&mut cache, 1)?;
    let range = PRICE_TTL.range();
    println!("  TTL within {range:?} s: {}", range.contains(&ttl));
    let (price, from) = get_price(&mut db, &mut cache, 99, || {})?;
    println!("product 99: {} from {from:?}", show(price));
    let ttl = ttl_of(&mut cache, 99)?;
    let range = MISSING_TTL.range();
    println!(
        "  {}, TTL within {range:?} s: {}",
        describe(&mut cache, 99)?,
        range.contains(&ttl)
    );
    update_price(&mut db, &mut cache, 1, 1200)?;
    println!(
        "update 1 to 1200: committed, then {}",
        describe(&mut cache, 1)?
    );
    let (price, from) = get_price(&mut db, &mut cache, 1, || {})?;
    println!("product 1: {} from {from:?}", show(price));
    if let Err(e) = update_price(&mut db, &mut cache, 1, -5) {
        println!("update 1 to -5: refused: {e}");
    }
    Ok(())
}
// ANCHOR_END: main_basics

// ANCHOR: main_race
type R = Result<(Option<i64>, Source), CacheError>;
type Reader = fn(&mut Db, &mut Cache, i32, &mut dyn FnMut()) -> R;

/// Reader misses and reads 1000; writer commits 1200 and invalidates
/// (plainly, or with a double delete); then the reader fills.
fn race(shop: &Shop, read: Reader, double: bool) -> Result<String, CacheError> {
    let (mut rdb, mut rcache) = shop.actor()?;
    let (mut wdb, mut wcache) = shop.actor()?;
    let delay = || thread::sleep(Duration::from_millis(20));
    let (read, write) = interleave(
        |pause| read(&mut rdb, &mut rcache, 1, pause),
        || match double {
            false => update_price(&mut wdb, &mut wcache, 1, 1200),
            true => update_price_double_delete(
                &mut wdb,
                &mut wcache,
                1,
                1200,
                delay,
            ),
        },
    );
    write?;
    let (seen, _) = read?;
    outcome(seen, &mut wdb, &mut wcache)
}

fn plain(db: &mut Db, c: &mut Cache, id: i32, p: &mut dyn FnMut()) -> R {
    get_price(db, c, id, p)
}

fn leased(db: &mut Db, c: &mut Cache, id: i32, p: &mut dyn FnMut()) -> R {
    get_price_leased(db, c, id, p)
}
// ANCHOR_END: main_race

/// What the reader saw, what the cache holds, what the database holds.
fn outcome(
    seen: Option<i64>,
    db: &mut Db,
    cache: &mut Cache,
) -> Result<String, CacheError> {
    let cache = describe(cache, 1)?;
    let db = show(db.price(1)?);
    Ok(format!("reader saw {}; {cache}; database {db}", show(seen)))
}

// ANCHOR: main_first
/// The writer invalidates inside its transaction; a leased reader runs in
/// full between that invalidation and the commit.
fn invalidate_first(shop: &Shop) -> Result<String, CacheError> {
    let (mut rdb, mut rcache) = shop.actor()?;
    let (mut wdb, mut wcache) = shop.actor()?;
    let (write, read) = interleave(
        |pause| {
            update_price_invalidating_first(
                &mut wdb,
                &mut wcache,
                1,
                1200,
                pause,
            )
        },
        || get_price_leased(&mut rdb, &mut rcache, 1, || {}),
    );
    write?;
    let (seen, _) = read?;
    outcome(seen, &mut rdb, &mut rcache)
}
// ANCHOR_END: main_first

fn run(mut shop: Shop) -> Result<(), CacheError> {
    basics(&shop)?;
    println!();
    println!("Forced order: the reader misses and reads 1000; the writer");
    println!("commits 1200 and invalidates; then the reader fills.");
    shop.reset()?;
    println!("plain cache-aside:     {}", race(&shop, plain, false)?);
    shop.reset()?;
    println!("delayed double delete: {}", race(&shop, plain, true)?);
    shop.reset()?;
    println!("lease:                 {}", race(&shop, leased, false)?);
    let (mut db, mut cache) = shop.actor()?;
    let (price, from) = get_price_leased(&mut db, &mut cache, 1, || {})?;
    println!("  next read: {} from {from:?}", show(price));
    shop.reset()?;
    println!();
    println!("Invalidating inside the transaction, with a lease:");
    println!("  {}", invalidate_first(&shop)?);
    Ok(())
}

fn main() {
    let admin = support::pg::connect_or_exit("cache_aside");
    let redis = support::redis::client_or_exit("cache_aside");
    let shop = Shop::create(admin, redis).unwrap_or_else(|e| {
        eprintln!("cache_aside: cannot create the scratch table: {e}");
        std::process::exit(1)
    });
    if let Err(e) = run(shop) {
        eprintln!("cache_aside: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shop, or `None` when a server is missing (`main` exits 77 instead).
    fn open_shop(test: &str) -> Option<Shop> {
        let admin = support::pg::connect_in_test(test)?;
        let redis = support::redis::client_in_test(test)?;
        Some(Shop::create(admin, redis).expect("create the scratch table"))
    }

    #[test]
    fn ttls_fall_in_the_stated_range_and_are_not_all_equal() {
        let Some(shop) = open_shop("ttls_fall_in_the_range") else {
            return;
        };
        let (_, mut cache) = shop.actor().unwrap();
        let mut ttls = Vec::new();
        for id in 1..=20 {
            cache.fill(id, Some(100)).unwrap();
            ttls.push(ttl_of(&mut cache, id).unwrap());
        }
        // TTL counts down in whole seconds; a fill takes far less than one.
        for ttl in &ttls {
            let range = PRICE_TTL.range();
            assert!((range.start() - 1..=*range.end()).contains(ttl), "{ttl}");
        }
        ttls.sort_unstable();
        ttls.dedup();
        assert!(ttls.len() > 1, "20 fills, one TTL: no jitter");
        for id in 21..=40 {
            cache.fill(id, None).unwrap();
            let ttl = ttl_of(&mut cache, id).unwrap();
            assert!((26..=33).contains(&ttl), "negative entry TTL {ttl}");
        }
    }

    #[test]
    fn a_miss_loads_and_fills_then_a_hit_skips_the_database() {
        let Some(shop) = open_shop("a_miss_loads_and_fills") else {
            return;
        };
        let (mut db, mut cache) = shop.actor().unwrap();
        let first = get_price(&mut db, &mut cache, 2, || {}).unwrap();
        assert_eq!(first, (Some(2500), Source::Database));
        // Change the row behind the cache's back: a hit must not see it.
        let sql = format!("UPDATE {} SET cents = 1 WHERE id = 2", shop.table);
        db.client.batch_execute(&sql).unwrap();
        let second = get_price(&mut db, &mut cache, 2, || {}).unwrap();
        assert_eq!(second, (Some(2500), Source::Cache));
    }

    #[test]
    fn a_missing_product_is_cached_as_missing() {
        let Some(shop) = open_shop("a_missing_product_is_cached") else {
            return;
        };
        let (mut db, mut cache) = shop.actor().unwrap();
        let first = get_price(&mut db, &mut cache, 99, || {}).unwrap();
        assert_eq!(first, (None, Source::Database));
        assert_eq!(cache.get(99).unwrap(), Lookup::Hit(None));
        let second = get_price(&mut db, &mut cache, 99, || {}).unwrap();
        assert_eq!(second, (None, Source::Cache));
    }

    #[test]
    fn an_update_commits_then_deletes_the_key() {
        let Some(shop) = open_shop("an_update_commits_then_deletes") else {
            return;
        };
        let (mut db, mut cache) = shop.actor().unwrap();
        get_price(&mut db, &mut cache, 1, || {}).unwrap();
        assert_eq!(cache.get(1).unwrap(), Lookup::Hit(Some(1000)));
        update_price(&mut db, &mut cache, 1, 1200).unwrap();
        assert_eq!(cache.get(1).unwrap(), Lookup::Miss);
        let read = get_price(&mut db, &mut cache, 1, || {}).unwrap();
        assert_eq!(read, (Some(1200), Source::Database));
    }

    #[test]
    fn refused_updates_change_neither_the_row_nor_the_cache() {
        let Some(shop) = open_shop("refused_updates_change_nothing") else {
            return;
        };
        let (mut db, mut cache) = shop.actor().unwrap();
        get_price(&mut db, &mut cache, 1, || {}).unwrap();
        let negative = update_price(&mut db, &mut cache, 1, -5);
        assert!(matches!(negative, Err(CacheError::NegativePrice(-5))));
        let unknown = update_price(&mut db, &mut cache, 99, 10);
        assert!(matches!(unknown, Err(CacheError::NoSuchProduct(99))));
        assert_eq!(db.price(1).unwrap(), Some(1000));
        assert_eq!(db.price(99).unwrap(), None);
        assert_eq!(cache.get(1).unwrap(), Lookup::Hit(Some(1000)));
        let message = negative.unwrap_err().to_string();
        assert_eq!(message, "a price cannot be negative: -5 cents");
    }

    #[test]
    fn an_unreadable_cache_entry_is_a_miss_and_is_replaced() {
        let Some(shop) = open_shop("an_unreadable_entry_is_a_miss") else {
            return;
        };
        let (mut db, mut cache) = shop.actor().unwrap();
        for junk in ["12.5", "", "\u{fffd}", "99999999999999999999"] {
            redis::cmd("SET")
                .arg(cache.key(1))
                .arg(junk)
                .query::<()>(&mut cache.redis)
                .unwrap();
            let read = get_price(&mut db, &mut cache, 1, || {}).unwrap();
            assert_eq!(read, (Some(1000), Source::Database), "{junk:?}");
            assert_eq!(cache.get(1).unwrap(), Lookup::Hit(Some(1000)));
        }
    }

    #[test]
    fn the_forced_race_leaves_the_old_value_in_plain_cache_aside() {
        let Some(shop) = open_shop("the_forced_race_plain") else {
            return;
        };
        let line = race(&shop, plain, false).unwrap();
        assert_eq!(line, "reader saw 1000; cache 1000; database 1200");
        // Stale for as long as the TTL: nothing else will ever delete it.
        let (mut db, mut cache) = shop.actor().unwrap();
        assert!(
            ttl_of(&mut cache, 1).unwrap() >= PRICE_TTL.range().start() - 1
        );
        let read = get_price(&mut db, &mut cache, 1, || {}).unwrap();
        assert_eq!(read, (Some(1000), Source::Cache));
    }

    #[test]
    fn a_delayed_double_delete_loses_to_a_reader_slower_than_the_delay() {
        let Some(shop) = open_shop("double_delete_loses") else {
            return;
        };
        let line = race(&shop, plain, true).unwrap();
        assert_eq!(line, "reader saw 1000; cache 1000; database 1200");
    }

    #[test]
    fn the_lease_refuses_the_stale_fill_in_the_same_order() {
        let Some(shop) = open_shop("the_lease_refuses") else {
            return;
        };
        let line = race(&shop, leased, false).unwrap();
        assert_eq!(line, "reader saw 1000; cache empty; database 1200");
        let (mut db, mut cache) = shop.actor().unwrap();
        let read = get_price_leased(&mut db, &mut cache, 1, || {}).unwrap();
        assert_eq!(read, (Some(1200), Source::Database));
        assert_eq!(cache.get(1).unwrap(), Lookup::Hit(Some(1200)));
    }

    #[test]
    fn without_the_lease_a_reader_answers_but_does_not_fill() {
        let Some(shop) = open_shop("without_the_lease") else {
            return;
        };
        let (mut db, mut cache) = shop.actor().unwrap();
        let (mut other_db, mut other) = shop.actor().unwrap();
        let holder = cache.take_lease(1).unwrap().expect("lease is free");
        assert_eq!(other.take_lease(1).unwrap(), None);
        let read =
            get_price_leased(&mut other_db, &mut other, 1, || {}).unwrap();
        assert_eq!(read, (Some(1000), Source::Database));
        assert_eq!(other.get(1).unwrap(), Lookup::Miss);
        // The holder fills, and spends the lease.
        assert!(cache.fill_leased(1, &holder, db.price(1).unwrap()).unwrap());
        assert_eq!(other.get(1).unwrap(), Lookup::Hit(Some(1000)));
        assert!(!cache.fill_leased(1, &holder, Some(7)).unwrap());
    }

    #[test]
    fn a_fill_with_an_expired_or_replaced_lease_is_refused() {
        let Some(shop) = open_shop("an_expired_lease") else {
            return;
        };
        let (_, mut cache) = shop.actor().unwrap();
        let old = cache.take_lease(1).unwrap().unwrap();
        // Expiry, then a new holder: the old token no longer matches.
        redis::cmd("DEL")
            .arg(cache.lease_key(1))
            .query::<()>(&mut cache.redis)
            .unwrap();
        assert!(!cache.fill_leased(1, &old, Some(1)).unwrap());
        let new = cache.take_lease(1).unwrap().unwrap();
        assert_ne!(old, new);
        assert!(!cache.fill_leased(1, &old, Some(1)).unwrap());
        assert_eq!(cache.get(1).unwrap(), Lookup::Miss);
        assert!(cache.fill_leased(1, &new, Some(2)).unwrap());
    }

    #[test]
    fn invalidating_before_the_commit_is_stale_even_with_a_lease() {
        let Some(shop) = open_shop("invalidating_before_commit") else {
            return;
        };
        let line = invalidate_first(&shop).unwrap();
        assert_eq!(line, "reader saw 1000; cache 1000; database 1200");
    }

    #[test]
    fn interleave_runs_second_while_first_is_paused() {
        let log = std::sync::Mutex::new(Vec::new());
        interleave(
            |pause| {
                log.lock().unwrap().push("first: before");
                pause();
                log.lock().unwrap().push("first: after");
            },
            || log.lock().unwrap().push("second"),
        );
        let log = log.into_inner().unwrap();
        assert_eq!(log, ["first: before", "second", "first: after"]);
        // A `first` that never pauses does not hang the harness.
        let (a, b) = interleave(|_| 1, || 2);
        assert_eq!((a, b), (1, 2));
    }
}
