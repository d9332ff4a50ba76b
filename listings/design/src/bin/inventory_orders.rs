//! 3.3 E-commerce inventory and orders, on PostgreSQL: why a read-then-write
//! purchase oversells, four ways that do not, and the order's life around
//! them (state machine, idempotency keys, signed webhooks, reservations
//! that expire, a saga whose payment failure gives the stock back).
//!
//! - Every run works in a scratch schema of its own, dropped at the end.
//! - Money is `i64` minor units (cents) beside an ISO 4217 currency code.
//! - The oversell is forced, not hoped for: two connections run their
//!   steps in a fixed order (both read, then both write).
//! - Server: `DATABASE_URL` (local default). Without it, `main` exits 77
//!   and the tests print `skipped: ...` (a failure under
//!   `REQUIRE_SERVICES=1`).

use std::time::{Duration, SystemTime};

use hmac::{Hmac, KeyInit, Mac};
use postgres::error::SqlState;
use postgres::{Client, IsolationLevel, Transaction};
use sha2::{Digest, Sha256};

// ANCHOR: errors
#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    #[error("database: {}", db_message(.0))]
    Db(#[from] postgres::Error),
    #[error("no product with id {0}")]
    NoSuchProduct(i32),
    #[error("no order with id {0}")]
    NoSuchOrder(i64),
    #[error("quantity must be 1 to 100, got {0}")]
    BadQuantity(i32),
    #[error("the cart is empty")]
    EmptyCart,
    #[error("amount overflows i64 minor units")]
    Overflow,
    #[error("illegal transition: {event:?} in state {from:?}")]
    Illegal { from: State, event: Event },
    #[error("gave up after {0} conflicting attempts")]
    TooManyRetries(u32),
    #[error("Idempotency-Key missing or malformed")]
    BadKey,
    #[error("Idempotency-Key reused with a different request")]
    KeyReused,
    #[error("a request with this Idempotency-Key is still in progress")]
    KeyInFlight,
    #[error("webhook: {0}")]
    Webhook(&'static str),
}

fn db_message(e: &postgres::Error) -> String {
    e.as_db_error()
        .map_or_else(|| e.to_string(), |d| d.message().into())
}

impl ShopError {
    /// The HTTP status an API answers with (draft-ietf-httpapi-
    /// idempotency-key-header-07, section 2.7, for the key errors).
    pub fn status(&self) -> u16 {
        match self {
            ShopError::BadKey | ShopError::BadQuantity(_) => 400,
            ShopError::EmptyCart => 400,
            ShopError::Webhook(_) => 400,
            ShopError::NoSuchProduct(_) | ShopError::NoSuchOrder(_) => 404,
            ShopError::KeyInFlight | ShopError::Illegal { .. } => 409,
            ShopError::KeyReused | ShopError::Overflow => 422,
            ShopError::TooManyRetries(_) => 503,
            ShopError::Db(_) => 500,
        }
    }
}
// ANCHOR_END: errors

// ANCHOR: schema
const SCHEMA: &str = "
CREATE TABLE product (
  id          int PRIMARY KEY,
  sku         text NOT NULL UNIQUE,
  price_minor bigint NOT NULL CHECK (price_minor >= 0),
  currency    char(3) NOT NULL,
  stock       int NOT NULL,          -- no CHECK: the naive path must show
  version     int NOT NULL DEFAULT 0 -- for optimistic concurrency
);
CREATE TABLE orders (
  id              bigserial PRIMARY KEY,
  product_id      int NOT NULL REFERENCES product,
  qty             int NOT NULL CHECK (qty > 0),
  total_minor     bigint NOT NULL,
  currency        char(3) NOT NULL,
  state           text NOT NULL,
  last_event_at   bigint NOT NULL DEFAULT 0,
  idempotency_key text UNIQUE,
  request_sha256  bytea
);
CREATE TABLE reservation (
  order_id   bigint PRIMARY KEY REFERENCES orders,
  product_id int NOT NULL REFERENCES product,
  qty        int NOT NULL,
  expires_at timestamptz NOT NULL,
  state      text NOT NULL DEFAULT 'held' -- held | converted | released
);
CREATE TABLE payment_attempt (
  idempotency_key text PRIMARY KEY,
  order_id        bigint NOT NULL REFERENCES orders,
  result          text                  -- NULL while in flight
);
CREATE TABLE webhook_event (
  id          text PRIMARY KEY,         -- the gateway's event id
  received_at timestamptz NOT NULL DEFAULT now()
);";
// ANCHOR_END: schema

/// A scratch schema, dropped on `Drop`.
pub struct Shop {
    url: String,
    schema: String,
    admin: Client,
}

impl Shop {
    pub fn create(url: &str) -> Result<Shop, ShopError> {
        let mut admin = support::pg::connect(url)?;
        let schema = support::unique_name("shop");
        admin.batch_execute(&format!(
            "CREATE SCHEMA {schema}; SET search_path TO {schema}; {SCHEMA}"
        ))?;
        Ok(Shop {
            url: url.to_string(),
            schema,
            admin,
        })
    }

    /// A new connection whose queries run in this shop's schema.
    pub fn connect(&self) -> Result<Client, ShopError> {
        let mut client = support::pg::connect(&self.url)?;
        client.batch_execute(&format!("SET search_path TO {}", self.schema))?;
        Ok(client)
    }

    pub fn add_product(
        &mut self,
        id: i32,
        stock: i32,
    ) -> Result<(), ShopError> {
        self.admin.execute(
            "INSERT INTO product (id, sku, price_minor, currency, stock)
             VALUES ($1, 'SKU-' || $1::int, 1999, 'EUR', $2)",
            &[&id, &stock],
        )?;
        Ok(())
    }

    pub fn stock(&mut self, id: i32) -> Result<i32, ShopError> {
        let row = self
            .admin
            .query_opt("SELECT stock FROM product WHERE id = $1", &[&id])?;
        row.map(|r| r.get(0)).ok_or(ShopError::NoSuchProduct(id))
    }

    pub fn count(&mut self, sql: &str) -> Result<i64, ShopError> {
        Ok(self.admin.query_one(sql, &[])?.get(0))
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        let _ = self.admin.batch_execute(&sql);
    }
}

fn check_qty(qty: i32) -> Result<(), ShopError> {
    if (1..=100).contains(&qty) {
        Ok(())
    } else {
        Err(ShopError::BadQuantity(qty))
    }
}

/// What a purchase attempt ended with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Bought(i64),
    SoldOut,
}

// ANCHOR: money
/// The order's total: integer minor units, never a float.
fn total(
    tx: &mut Transaction,
    product: i32,
    qty: i32,
) -> Result<i64, ShopError> {
    let row = tx
        .query_opt(
            "SELECT price_minor FROM product WHERE id = $1",
            &[&product],
        )?
        .ok_or(ShopError::NoSuchProduct(product))?;
    let price: i64 = row.get(0);
    price.checked_mul(i64::from(qty)).ok_or(ShopError::Overflow)
}

fn insert_order(
    tx: &mut Transaction,
    product: i32,
    qty: i32,
    state: State,
) -> Result<i64, ShopError> {
    let total = total(tx, product, qty)?;
    let row = tx.query_one(
        "INSERT INTO orders (product_id, qty, total_minor, currency, state)
         SELECT id, $2, $3, currency, $4 FROM product WHERE id = $1
         RETURNING id",
        &[&product, &qty, &total, &state.name()],
    )?;
    Ok(row.get(0))
}
// ANCHOR_END: money

// ANCHOR: naive
/// Step 1 of the naive purchase: read the stock.
pub fn naive_read(
    tx: &mut Transaction,
    product: i32,
) -> Result<i32, ShopError> {
    let row = tx
        .query_opt("SELECT stock FROM product WHERE id = $1", &[&product])?
        .ok_or(ShopError::NoSuchProduct(product))?;
    Ok(row.get(0))
}

/// Step 2: decide in the application and write the computed value back.
/// Between the two steps another buyer may have read the same stock.
pub fn naive_write(
    tx: &mut Transaction,
    product: i32,
    seen: i32,
    qty: i32,
) -> Result<Outcome, ShopError> {
    if seen < qty {
        return Ok(Outcome::SoldOut);
    }
    tx.execute(
        "UPDATE product SET stock = $2 WHERE id = $1",
        &[&product, &(seen - qty)],
    )?;
    Ok(Outcome::Bought(insert_order(
        tx,
        product,
        qty,
        State::Pending,
    )?))
}
// ANCHOR_END: naive

/// The four correct strategies (and the naive one, for the record).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    Naive,
    ConditionalUpdate,
    ForUpdate,
    Optimistic,
    Serializable,
}

pub const MAX_ATTEMPTS: u32 = 100;

pub fn buy(
    db: &mut Client,
    how: Strategy,
    product: i32,
    qty: i32,
) -> Result<Outcome, ShopError> {
    check_qty(qty)?;
    match how {
        Strategy::Naive => {
            let mut tx = db.transaction()?;
            let seen = naive_read(&mut tx, product)?;
            let outcome = naive_write(&mut tx, product, seen, qty)?;
            tx.commit()?;
            Ok(outcome)
        }
        Strategy::ConditionalUpdate => buy_conditional(db, product, qty),
        Strategy::ForUpdate => buy_cart(db, &[(product, qty)]),
        Strategy::Optimistic => buy_optimistic(db, product, qty),
        Strategy::Serializable => buy_serializable(db, product, qty),
    }
}

// ANCHOR: conditional
/// The check and the decrement are one statement: PostgreSQL re-evaluates
/// `stock >= $2` on the newest row version after waiting for the lock.
pub fn buy_conditional(
    db: &mut Client,
    product: i32,
    qty: i32,
) -> Result<Outcome, ShopError> {
    let mut tx = db.transaction()?;
    let updated = tx.execute(
        "UPDATE product SET stock = stock - $2
         WHERE id = $1 AND stock >= $2",
        &[&product, &qty],
    )?;
    if updated == 0 {
        return Ok(Outcome::SoldOut); // or no such product: same answer
    }
    let id = insert_order(&mut tx, product, qty, State::Pending)?;
    tx.commit()?;
    Ok(Outcome::Bought(id))
}
// ANCHOR_END: conditional

// ANCHOR: for_update
/// A cart: lock every row first, in one fixed order (by id), so that two
/// carts holding the same products in any order never deadlock.
pub fn buy_cart(
    db: &mut Client,
    cart: &[(i32, i32)],
) -> Result<Outcome, ShopError> {
    let mut items = cart.to_vec();
    items.sort_unstable();
    let Some(&(first, first_qty)) = items.first() else {
        return Err(ShopError::EmptyCart);
    };
    let ids: Vec<i32> = items.iter().map(|&(id, _)| id).collect();
    let mut tx = db.transaction()?;
    let rows = tx.query(
        "SELECT id, stock FROM product WHERE id = ANY($1)
         ORDER BY id FOR UPDATE",
        &[&ids],
    )?;
    let found: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    if let Some(&missing) = ids.iter().find(|id| !found.contains(id)) {
        return Err(ShopError::NoSuchProduct(missing));
    }
    for (row, &(_, qty)) in rows.iter().zip(&items) {
        check_qty(qty)?;
        if row.get::<_, i32>(1) < qty {
            return Ok(Outcome::SoldOut); // drop = ROLLBACK, locks released
        }
    }
    for &(id, qty) in &items {
        tx.execute(
            "UPDATE product SET stock = stock - $2 WHERE id = $1",
            &[&id, &qty],
        )?;
    }
    let order = insert_order(&mut tx, first, first_qty, State::Pending)?;
    tx.commit()?;
    Ok(Outcome::Bought(order))
}
// ANCHOR_END: for_update

// ANCHOR: optimistic
/// Read without a lock, write only if nobody wrote since: the version
/// column is the compare in compare-and-swap. A lost race re-reads.
pub fn buy_optimistic(
    db: &mut Client,
    product: i32,
    qty: i32,
) -> Result<Outcome, ShopError> {
    for _ in 0..MAX_ATTEMPTS {
        let row = db
            .query_opt(
                "SELECT stock, version FROM product WHERE id = $1",
                &[&product],
            )?
            .ok_or(ShopError::NoSuchProduct(product))?;
        let (stock, version): (i32, i32) = (row.get(0), row.get(1));
        if stock < qty {
            return Ok(Outcome::SoldOut);
        }
        let mut tx = db.transaction()?;
        let won = tx.execute(
            "UPDATE product SET stock = $3, version = version + 1
             WHERE id = $1 AND version = $2",
            &[&product, &version, &(stock - qty)],
        )?;
        if won == 1 {
            let id = insert_order(&mut tx, product, qty, State::Pending)?;
            tx.commit()?;
            return Ok(Outcome::Bought(id));
        }
    }
    Err(ShopError::TooManyRetries(MAX_ATTEMPTS))
}
// ANCHOR_END: optimistic

// ANCHOR: serializable
/// The naive code, unchanged, under SERIALIZABLE: PostgreSQL aborts one
/// of two conflicting transactions with SQLSTATE 40001, and we retry it.
pub fn buy_serializable(
    db: &mut Client,
    product: i32,
    qty: i32,
) -> Result<Outcome, ShopError> {
    for _ in 0..MAX_ATTEMPTS {
        let attempt = (|| {
            let mut tx = db
                .build_transaction()
                .isolation_level(IsolationLevel::Serializable)
                .start()?;
            let seen = naive_read(&mut tx, product)?;
            let outcome = naive_write(&mut tx, product, seen, qty)?;
            tx.commit()?;
            Ok(outcome)
        })();
        match attempt {
            Err(ShopError::Db(e))
                if e.code() == Some(&SqlState::T_R_SERIALIZATION_FAILURE) =>
            {
                continue;
            }
            other => return other,
        }
    }
    Err(ShopError::TooManyRetries(MAX_ATTEMPTS))
}
// ANCHOR_END: serializable

// ANCHOR: states
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Pending,
    Paid,
    Shipped,
    Delivered,
    Cancelled,
    Refunded,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    PaymentSucceeded,
    PaymentFailed,
    Ship,
    Deliver,
    Cancel,
    Refund,
}

impl State {
    /// Every legal edge, and nothing else.
    pub fn on(self, event: Event) -> Result<State, ShopError> {
        use Event as E;
        use State as S;
        match (self, event) {
            (S::Pending, E::PaymentSucceeded) => Ok(S::Paid),
            (S::Pending, E::PaymentFailed | E::Cancel) => Ok(S::Cancelled),
            (S::Paid, E::Ship) => Ok(S::Shipped),
            (S::Paid, E::Refund) => Ok(S::Refunded),
            (S::Shipped, E::Deliver) => Ok(S::Delivered),
            (S::Delivered, E::Refund) => Ok(S::Refunded),
            (from, event) => Err(ShopError::Illegal { from, event }),
        }
    }
    // ANCHOR_END: states

    pub fn name(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Paid => "paid",
            State::Shipped => "shipped",
            State::Delivered => "delivered",
            State::Cancelled => "cancelled",
            State::Refunded => "refunded",
        }
    }

    pub fn parse(name: &str) -> Option<State> {
        [
            State::Pending,
            State::Paid,
            State::Shipped,
            State::Delivered,
            State::Cancelled,
            State::Refunded,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }
}

// ANCHOR: transition
/// Applies `event` to the stored order. The order's row is locked while
/// its state is read (`FOR UPDATE`), so two concurrent transitions cannot
/// both apply; stock comes back when an order that held it is cancelled.
pub fn transition(
    tx: &mut Transaction,
    order: i64,
    event: Event,
) -> Result<State, ShopError> {
    let row = tx
        .query_opt(
            "SELECT state FROM orders WHERE id = $1 FOR UPDATE",
            &[&order],
        )?
        .ok_or(ShopError::NoSuchOrder(order))?;
    let from = State::parse(row.get(0)).ok_or(ShopError::NoSuchOrder(order))?;
    let to = from.on(event)?;
    tx.execute(
        "UPDATE orders SET state = $2 WHERE id = $1",
        &[&order, &to.name()],
    )?;
    if to == State::Cancelled {
        release_reservation(tx, order)?;
    } else if to == State::Paid {
        tx.execute(
            "UPDATE reservation SET state = 'converted'
             WHERE order_id = $1 AND state = 'held'",
            &[&order],
        )?;
    }
    Ok(to)
}
// ANCHOR_END: transition

// ANCHOR: reservation
/// Takes the stock now and records a hold that expires at `expires_at`.
pub fn reserve(
    db: &mut Client,
    product: i32,
    qty: i32,
    expires_at: SystemTime,
) -> Result<Outcome, ShopError> {
    check_qty(qty)?;
    let mut tx = db.transaction()?;
    let taken = tx.execute(
        "UPDATE product SET stock = stock - $2 WHERE id = $1 AND stock >= $2",
        &[&product, &qty],
    )?;
    if taken == 0 {
        return Ok(Outcome::SoldOut);
    }
    let order = insert_order(&mut tx, product, qty, State::Pending)?;
    tx.execute(
        "INSERT INTO reservation (order_id, product_id, qty, expires_at)
         VALUES ($1, $2, $3, $4)",
        &[&order, &product, &qty, &expires_at],
    )?;
    tx.commit()?;
    Ok(Outcome::Bought(order))
}

/// Gives a held reservation's stock back, once: only the caller whose
/// UPDATE moved it from `held` adds the stock.
fn release_reservation(
    tx: &mut Transaction,
    order: i64,
) -> Result<(), ShopError> {
    tx.execute(
        "WITH r AS (
           UPDATE reservation SET state = 'released'
           WHERE order_id = $1 AND state = 'held'
           RETURNING product_id, qty)
         UPDATE product p SET stock = p.stock + r.qty
         FROM r WHERE p.id = r.product_id",
        &[&order],
    )?;
    Ok(())
}

// ANCHOR_END: reservation

// ANCHOR: sweeper
/// The sweeper: cancels every order whose hold expired by `now`.
/// `SKIP LOCKED` lets several sweepers share the work, and it locks the
/// order too: a payment holds the order's row, then the reservation's, so
/// a sweeper that waited for that order would deadlock; it skips it.
pub fn expire_reservations(
    db: &mut Client,
    now: SystemTime,
) -> Result<usize, ShopError> {
    let mut tx = db.transaction()?;
    let due = tx.query(
        "SELECT r.order_id FROM reservation r
         JOIN orders o ON o.id = r.order_id
         WHERE r.state = 'held' AND r.expires_at <= $1
         ORDER BY r.order_id FOR UPDATE OF o, r SKIP LOCKED",
        &[&now],
    )?;
    for row in &due {
        transition(&mut tx, row.get(0), Event::Cancel)?;
    }
    tx.commit()?;
    Ok(due.len())
}
// ANCHOR_END: sweeper

// ANCHOR: idempotency
/// What a client sends to create an order; its SHA-256 is the fingerprint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOrder {
    pub product: i32,
    pub qty: i32,
}

impl NewOrder {
    fn fingerprint(&self) -> Vec<u8> {
        let canonical = format!("product={};qty={}", self.product, self.qty);
        Sha256::digest(canonical.as_bytes()).to_vec()
    }
}

/// A key is 1 to 255 visible ASCII characters (the server's published rule).
pub fn check_key(key: Option<&str>) -> Result<&str, ShopError> {
    match key {
        Some(k)
            if (1..=255).contains(&k.len())
                && k.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(k)
        }
        _ => Err(ShopError::BadKey),
    }
}

// ANCHOR_END: idempotency

// ANCHOR: create_order
/// The first request with a key creates the order; a retry with the same
/// key and body gets the same order; another body with it is refused.
/// The key's UNIQUE index makes a concurrent duplicate wait for the first
/// transaction, then see its row.
pub fn create_order(
    db: &mut Client,
    key: Option<&str>,
    req: &NewOrder,
) -> Result<Outcome, ShopError> {
    let key = check_key(key)?;
    check_qty(req.qty)?;
    let print = req.fingerprint();
    let mut tx = db.transaction()?;
    let claimed = tx.execute(
        "INSERT INTO orders (product_id, qty, total_minor, currency, state,
                             idempotency_key, request_sha256)
         SELECT id, $2, 0, currency, 'pending', $3, $4
         FROM product WHERE id = $1
         ON CONFLICT (idempotency_key) DO NOTHING",
        &[&req.product, &req.qty, &key, &print],
    )?;
    let row = tx
        .query_opt(
            "SELECT id, request_sha256 FROM orders WHERE idempotency_key = $1",
            &[&key],
        )?
        .ok_or(ShopError::NoSuchProduct(req.product))?;
    let (order, stored): (i64, Vec<u8>) = (row.get(0), row.get(1));
    if stored != print {
        return Err(ShopError::KeyReused);
    }
    if claimed == 1 {
        let taken = tx.execute(
            "UPDATE product SET stock = stock - $2
             WHERE id = $1 AND stock >= $2",
            &[&req.product, &req.qty],
        )?;
        if taken == 0 {
            return Ok(Outcome::SoldOut);
        }
        let total = total(&mut tx, req.product, req.qty)?;
        tx.execute(
            "UPDATE orders SET total_minor = $2 WHERE id = $1",
            &[&order, &total],
        )?;
        tx.commit()?;
    }
    Ok(Outcome::Bought(order))
}
// ANCHOR_END: create_order

// ANCHOR: payment_key
/// A payment calls the gateway, which cannot join our transaction, so the
/// key is claimed and committed first; a duplicate arriving while the
/// call runs finds no result yet and gets 409.
pub fn claim_payment(
    db: &mut Client,
    key: Option<&str>,
    order: i64,
) -> Result<Option<String>, ShopError> {
    let key = check_key(key)?;
    let claimed = db.execute(
        "INSERT INTO payment_attempt (idempotency_key, order_id)
         VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&key, &order],
    )?;
    if claimed == 1 {
        return Ok(None); // ours: call the gateway, then record_payment
    }
    let row = db.query_one(
        "SELECT order_id, result FROM payment_attempt
         WHERE idempotency_key = $1",
        &[&key],
    )?;
    if row.get::<_, i64>(0) != order {
        return Err(ShopError::KeyReused);
    }
    row.get::<_, Option<String>>(1)
        .map(Some)
        .ok_or(ShopError::KeyInFlight)
}

pub fn record_payment(
    db: &mut Client,
    key: &str,
    result: &str,
) -> Result<(), ShopError> {
    db.execute(
        "UPDATE payment_attempt SET result = $2 WHERE idempotency_key = $1",
        &[&key, &result],
    )?;
    Ok(())
}
// ANCHOR_END: payment_key

// ANCHOR: saga
/// The gateway, as the saga sees it.
pub trait Gateway {
    fn charge(&mut self, order: i64, amount_minor: i64) -> Result<(), String>;
}

/// Reserve, charge, then confirm; if the charge fails, the compensating
/// step cancels the order and the reservation's stock comes back.
pub fn checkout(
    db: &mut Client,
    gateway: &mut dyn Gateway,
    product: i32,
    qty: i32,
    hold: Duration,
) -> Result<(Outcome, State), ShopError> {
    let expires = SystemTime::now() + hold;
    let order = match reserve(db, product, qty, expires)? {
        Outcome::Bought(order) => order,
        Outcome::SoldOut => return Ok((Outcome::SoldOut, State::Cancelled)),
    };
    let amount: i64 = db
        .query_one("SELECT total_minor FROM orders WHERE id = $1", &[&order])?
        .get(0);
    let event = match gateway.charge(order, amount) {
        Ok(()) => Event::PaymentSucceeded,
        Err(_) => Event::PaymentFailed, // compensate
    };
    let mut tx = db.transaction()?;
    let state = transition(&mut tx, order, event)?;
    tx.commit()?;
    Ok((Outcome::Bought(order), state))
}
// ANCHOR_END: saga

// ANCHOR: webhook_verify
type HmacSha256 = Hmac<Sha256>;

/// Checks a `t=<unix seconds>,v1=<hex HMAC-SHA256>` header (the shape of
/// Stripe's `Stripe-Signature`) over `"<t>.<raw body>"`, and the age.
pub fn verify_webhook(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now_unix: i64,
    tolerance_s: i64,
) -> Result<i64, ShopError> {
    let mut t = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(v),
            _ => {} // other schemes and unknown fields are ignored
        }
    }
    let t = t.ok_or(ShopError::Webhook("no valid timestamp"))?;
    if (now_unix - t).abs() > tolerance_s {
        return Err(ShopError::Webhook("timestamp outside the tolerance"));
    }
    let mut mac = HmacSha256::new_from_slice(secret)
        .map_err(|_| ShopError::Webhook("bad secret"))?;
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let ok = signatures.iter().any(|hex| {
        decode_hex(hex)
            .is_some_and(|sig| mac.clone().verify_slice(&sig).is_ok())
    });
    if ok {
        Ok(t)
    } else {
        Err(ShopError::Webhook("no matching signature"))
    }
}
// ANCHOR_END: webhook_verify

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

pub fn sign_webhook(secret: &[u8], t: i64, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={t},v1={hex}")
}

/// What the webhook handler did with a verified event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handled {
    Applied(State),
    Duplicate,
    Stale,
}

// ANCHOR: webhook_handle
/// A verified event, at most once: the event id is the dedup key, and an
/// event older than the last one applied to the order is recorded but
/// not applied (gateways do not promise order).
pub fn handle_webhook(
    db: &mut Client,
    event_id: &str,
    order: i64,
    created: i64,
    succeeded: bool,
) -> Result<Handled, ShopError> {
    let mut tx = db.transaction()?;
    let first = tx.execute(
        "INSERT INTO webhook_event (id) VALUES ($1) ON CONFLICT DO NOTHING",
        &[&event_id],
    )?;
    if first == 0 {
        return Ok(Handled::Duplicate);
    }
    let newer = tx.execute(
        "UPDATE orders SET last_event_at = $2
         WHERE id = $1 AND last_event_at < $2",
        &[&order, &created],
    )?;
    if newer == 0 {
        tx.commit()?; // remember the id, change nothing else
        return Ok(Handled::Stale);
    }
    let event = if succeeded {
        Event::PaymentSucceeded
    } else {
        Event::PaymentFailed
    };
    let state = transition(&mut tx, order, event)?;
    tx.commit()?;
    Ok(Handled::Applied(state))
}
// ANCHOR_END: webhook_handle

/// Parses the body the gateway signed: `{"id", "order", "created", "ok"}`.
pub fn parse_event(body: &[u8]) -> Result<(String, i64, i64, bool), ShopError> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| ShopError::Webhook("body is not JSON"))?;
    let bad = ShopError::Webhook("missing or mistyped field");
    let id = v["id"].as_str().ok_or(ShopError::Webhook("no id"))?;
    let order = v["order"].as_i64().ok_or(ShopError::Webhook("no order"))?;
    let created = v["created"].as_i64().ok_or(bad)?;
    let ok = v["ok"].as_bool().ok_or(ShopError::Webhook("no ok"))?;
    Ok((id.to_string(), order, created, ok))
}

/// Buyers on their own connections race for `stock` units, `qty` each.
pub fn race(
    shop: &Shop,
    how: Strategy,
    product: i32,
    buyers: usize,
) -> Result<(usize, usize), ShopError> {
    let clients: Vec<Client> = (0..buyers)
        .map(|_| shop.connect())
        .collect::<Result<_, _>>()?;
    let results: Vec<Result<Outcome, ShopError>> = std::thread::scope(|s| {
        let handles: Vec<_> = clients
            .into_iter()
            .map(|mut db| s.spawn(move || buy(&mut db, how, product, 1)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a buyer panicked"))
            .collect()
    });
    let mut bought = 0;
    let mut sold_out = 0;
    for r in results {
        match r? {
            Outcome::Bought(_) => bought += 1,
            Outcome::SoldOut => sold_out += 1,
        }
    }
    Ok((bought, sold_out))
}

struct Declining;

impl Gateway for Declining {
    fn charge(&mut self, _: i64, _: i64) -> Result<(), String> {
        Err("card_declined".into())
    }
}

struct Approving;

impl Gateway for Approving {
    fn charge(&mut self, _: i64, _: i64) -> Result<(), String> {
        Ok(())
    }
}

fn run(url: &str) -> Result<(), ShopError> {
    let mut shop = Shop::create(url)?;
    // The forced interleaving: both buyers read 1, both write.
    shop.add_product(1, 1)?;
    let (mut a, mut b) = (shop.connect()?, shop.connect()?);
    let (mut ta, mut tb) = (a.transaction()?, b.transaction()?);
    let (seen_a, seen_b) = (naive_read(&mut ta, 1)?, naive_read(&mut tb, 1)?);
    naive_write(&mut ta, 1, seen_a, 1)?;
    ta.commit()?;
    naive_write(&mut tb, 1, seen_b, 1)?;
    tb.commit()?;
    let orders =
        shop.count("SELECT count(*) FROM orders WHERE product_id = 1")?;
    println!("naive, forced interleaving: 1 unit, {orders} orders (oversold)");

    for (id, how) in [
        (10, Strategy::ConditionalUpdate),
        (11, Strategy::ForUpdate),
        (12, Strategy::Optimistic),
        (13, Strategy::Serializable),
    ] {
        shop.add_product(id, 5)?;
        let (bought, sold_out) = race(&shop, how, id, 12)?;
        let left = shop.stock(id)?;
        println!(
            "{how:?}: 12 buyers, 5 units: {bought} bought, \
             {sold_out} sold out, stock {left}"
        );
    }

    shop.add_product(20, 3)?;
    let mut db = shop.connect()?;
    let hold = Duration::from_secs(600);
    let (_, state) = checkout(&mut db, &mut Declining, 20, 2, hold)?;
    println!(
        "saga, card declined: order {state:?}, stock {}",
        shop.stock(20)?
    );
    let (_, state) = checkout(&mut db, &mut Approving, 20, 2, hold)?;
    println!(
        "saga, card approved: order {state:?}, stock {}",
        shop.stock(20)?
    );

    let req = NewOrder {
        product: 20,
        qty: 1,
    };
    let first = create_order(&mut db, Some("k-1"), &req)?;
    let again = create_order(&mut db, Some("k-1"), &req)?;
    println!("same key, same body: same order: {}", first == again);
    let other = NewOrder {
        product: 20,
        qty: 2,
    };
    match create_order(&mut db, Some("k-1"), &other) {
        Err(e) => println!("same key, other body: {} {e}", e.status()),
        Ok(o) => println!("same key, other body: accepted?! {o:?}"),
    }

    println!(
        "illegal: {}",
        State::Delivered
            .on(Event::Cancel)
            .map_or_else(|e| e.to_string(), |s| format!("{s:?}"),)
    );
    Ok(())
}

fn main() {
    let url = support::pg::database_url();
    if let Err(e) = support::pg::connect(&url) {
        support::skip::exit_unavailable("inventory_orders", "PostgreSQL", e);
    }
    if let Err(e) = run(&url) {
        eprintln!("inventory_orders: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop(test: &str) -> Option<Shop> {
        let url = support::pg::database_url();
        support::skip::in_test(test, "PostgreSQL", Shop::create(&url))
    }

    fn state_of(shop: &mut Shop, order: i64) -> String {
        let sql = format!("SELECT state FROM orders WHERE id = {order}");
        shop.admin.query_one(&sql, &[]).unwrap().get(0)
    }

    #[test]
    fn naive_purchase_oversells_when_reads_interleave() {
        let Some(mut shop) = shop("naive_oversells") else {
            return;
        };
        shop.add_product(1, 1).unwrap();
        let (mut a, mut b) = (shop.connect().unwrap(), shop.connect().unwrap());
        let mut ta = a.transaction().unwrap();
        let mut tb = b.transaction().unwrap();
        let seen_a = naive_read(&mut ta, 1).unwrap();
        let seen_b = naive_read(&mut tb, 1).unwrap();
        assert_eq!((seen_a, seen_b), (1, 1));
        assert!(matches!(
            naive_write(&mut ta, 1, seen_a, 1),
            Ok(Outcome::Bought(_))
        ));
        ta.commit().unwrap();
        assert!(matches!(
            naive_write(&mut tb, 1, seen_b, 1),
            Ok(Outcome::Bought(_))
        ));
        tb.commit().unwrap();
        // Two orders for one unit, and the stock does not even show it.
        assert_eq!(shop.count("SELECT count(*) FROM orders").unwrap(), 2);
        assert_eq!(shop.stock(1).unwrap(), 0);
    }

    #[test]
    fn every_fix_sells_exactly_the_stock() {
        let Some(mut shop) = shop("every_fix") else {
            return;
        };
        for (id, how) in [
            (10, Strategy::ConditionalUpdate),
            (11, Strategy::ForUpdate),
            (12, Strategy::Optimistic),
            (13, Strategy::Serializable),
        ] {
            shop.add_product(id, 10).unwrap();
            let (bought, sold_out) = race(&shop, how, id, 24).unwrap();
            assert_eq!((bought, sold_out), (10, 14), "{how:?}");
            assert_eq!(shop.stock(id).unwrap(), 0, "{how:?}");
            let sql =
                format!("SELECT count(*) FROM orders WHERE product_id = {id}");
            assert_eq!(shop.count(&sql).unwrap(), 10, "{how:?}");
        }
    }

    #[test]
    fn carts_locking_in_id_order_never_deadlock() {
        let Some(mut shop) = shop("carts") else {
            return;
        };
        shop.add_product(1, 10).unwrap();
        shop.add_product(2, 10).unwrap();
        let clients: Vec<Client> =
            (0..16).map(|_| shop.connect().unwrap()).collect();
        let results: Vec<Outcome> = std::thread::scope(|s| {
            let handles: Vec<_> = clients
                .into_iter()
                .enumerate()
                .map(|(i, mut db)| {
                    // Half the carts list the products the other way round.
                    let cart = if i % 2 == 0 {
                        [(1, 1), (2, 1)]
                    } else {
                        [(2, 1), (1, 1)]
                    };
                    s.spawn(move || buy_cart(&mut db, &cart).unwrap())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let bought = results
            .iter()
            .filter(|o| matches!(o, Outcome::Bought(_)))
            .count();
        assert_eq!(bought, 10);
        assert_eq!((shop.stock(1).unwrap(), shop.stock(2).unwrap()), (0, 0));
    }

    #[test]
    fn only_the_listed_transitions_are_legal() {
        use Event as E;
        use State as S;
        let states = [
            S::Pending,
            S::Paid,
            S::Shipped,
            S::Delivered,
            S::Cancelled,
            S::Refunded,
        ];
        let events = [
            E::PaymentSucceeded,
            E::PaymentFailed,
            E::Ship,
            E::Deliver,
            E::Cancel,
            E::Refund,
        ];
        let legal = [
            (S::Pending, E::PaymentSucceeded, S::Paid),
            (S::Pending, E::PaymentFailed, S::Cancelled),
            (S::Pending, E::Cancel, S::Cancelled),
            (S::Paid, E::Ship, S::Shipped),
            (S::Paid, E::Refund, S::Refunded),
            (S::Shipped, E::Deliver, S::Delivered),
            (S::Delivered, E::Refund, S::Refunded),
        ];
        let mut ok = 0;
        for from in states {
            assert_eq!(State::parse(from.name()), Some(from));
            for event in events {
                let expected = legal
                    .iter()
                    .find(|l| l.0 == from && l.1 == event)
                    .map(|l| l.2);
                match (from.on(event), expected) {
                    (Ok(to), Some(want)) => {
                        assert_eq!(to, want);
                        ok += 1;
                    }
                    (Err(e), None) => assert_eq!(e.status(), 409),
                    (got, want) => {
                        panic!("{from:?} + {event:?}: {got:?}, want {want:?}")
                    }
                }
            }
        }
        assert_eq!(ok, 7);
        assert_eq!(State::parse("lost"), None);
    }

    #[test]
    fn an_illegal_transition_changes_nothing_in_the_database() {
        let Some(mut shop) = shop("illegal") else {
            return;
        };
        shop.add_product(1, 5).unwrap();
        let mut db = shop.connect().unwrap();
        let Outcome::Bought(order) = buy_conditional(&mut db, 1, 1).unwrap()
        else {
            panic!("sold out")
        };
        let mut tx = db.transaction().unwrap();
        let err = transition(&mut tx, order, Event::Deliver).unwrap_err();
        drop(tx);
        assert!(matches!(
            err,
            ShopError::Illegal {
                from: State::Pending,
                ..
            }
        ));
        assert_eq!(state_of(&mut shop, order), "pending");
        let mut tx = db.transaction().unwrap();
        assert!(matches!(
            transition(&mut tx, 999, Event::Cancel),
            Err(ShopError::NoSuchOrder(999))
        ));
    }

    #[test]
    fn money_is_integer_minor_units_and_overflow_is_an_error() {
        let Some(mut shop) = shop("money") else {
            return;
        };
        shop.add_product(1, 10).unwrap();
        let mut db = shop.connect().unwrap();
        let Outcome::Bought(order) = buy_conditional(&mut db, 1, 3).unwrap()
        else {
            panic!("sold out")
        };
        let sql = format!("SELECT total_minor FROM orders WHERE id = {order}");
        assert_eq!(shop.count(&sql).unwrap(), 3 * 1999);
        shop.admin
            .execute(
                "UPDATE product SET price_minor = $1 WHERE id = 1",
                &[&(i64::MAX / 2)],
            )
            .unwrap();
        let err = buy_conditional(&mut db, 1, 3).unwrap_err();
        assert!(matches!(err, ShopError::Overflow));
        assert_eq!(err.status(), 422);
        assert_eq!(
            shop.stock(1).unwrap(),
            7,
            "the failed purchase rolled back"
        );
        for qty in [0, -1, 101] {
            assert_eq!(
                buy(&mut db, Strategy::ConditionalUpdate, 1, qty)
                    .unwrap_err()
                    .status(),
                400
            );
        }
        assert!(matches!(
            buy(&mut db, Strategy::Optimistic, 42, 1),
            Err(ShopError::NoSuchProduct(42))
        ));
        assert_eq!(buy_cart(&mut db, &[]).unwrap_err().status(), 400);
        assert!(matches!(
            buy_cart(&mut db, &[(1, 1), (42, 1)]),
            Err(ShopError::NoSuchProduct(42))
        ));
    }

    #[test]
    fn one_key_one_order_even_when_retries_race() {
        let Some(mut shop) = shop("idempotency") else {
            return;
        };
        shop.add_product(1, 10).unwrap();
        let req = NewOrder { product: 1, qty: 2 };
        let clients: Vec<Client> =
            (0..8).map(|_| shop.connect().unwrap()).collect();
        let outcomes: Vec<Outcome> = std::thread::scope(|s| {
            let handles: Vec<_> = clients
                .into_iter()
                .map(|mut db| {
                    let req = req.clone();
                    s.spawn(move || {
                        create_order(&mut db, Some("order-7f3a"), &req).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(outcomes.iter().all(|o| *o == outcomes[0]));
        assert!(matches!(outcomes[0], Outcome::Bought(_)));
        assert_eq!(shop.count("SELECT count(*) FROM orders").unwrap(), 1);
        assert_eq!(shop.stock(1).unwrap(), 8, "stock taken once");

        let mut db = shop.connect().unwrap();
        let other = NewOrder { product: 1, qty: 3 };
        let err =
            create_order(&mut db, Some("order-7f3a"), &other).unwrap_err();
        assert!(matches!(err, ShopError::KeyReused));
        assert_eq!(err.status(), 422);
        let long = "k".repeat(256);
        for bad in [None, Some(""), Some("has space"), Some(long.as_str())] {
            assert_eq!(
                create_order(&mut db, bad, &req).unwrap_err().status(),
                400
            );
        }
        // A refused request leaves its key free for a corrected retry.
        let zero = NewOrder { product: 1, qty: 0 };
        assert_eq!(
            create_order(&mut db, Some("k2"), &zero)
                .unwrap_err()
                .status(),
            400
        );
        assert!(matches!(
            create_order(&mut db, Some("k2"), &NewOrder { product: 1, qty: 1 }),
            Ok(Outcome::Bought(_))
        ));
        assert_eq!(shop.count("SELECT count(*) FROM orders").unwrap(), 2);
        assert_eq!(shop.stock(1).unwrap(), 7);
    }

    #[test]
    fn payment_key_in_flight_is_409_then_replays() {
        let Some(mut shop) = shop("payment_key") else {
            return;
        };
        shop.add_product(1, 10).unwrap();
        let mut db = shop.connect().unwrap();
        let Outcome::Bought(order) = buy_conditional(&mut db, 1, 1).unwrap()
        else {
            panic!("sold out")
        };
        assert_eq!(claim_payment(&mut db, Some("pay-1"), order).unwrap(), None);
        let err = claim_payment(&mut db, Some("pay-1"), order).unwrap_err();
        assert_eq!(err.status(), 409);
        record_payment(&mut db, "pay-1", "charged ch_1").unwrap();
        assert_eq!(
            claim_payment(&mut db, Some("pay-1"), order)
                .unwrap()
                .as_deref(),
            Some("charged ch_1")
        );
        let Outcome::Bought(other) = buy_conditional(&mut db, 1, 1).unwrap()
        else {
            panic!("sold out")
        };
        assert_eq!(
            claim_payment(&mut db, Some("pay-1"), other)
                .unwrap_err()
                .status(),
            422
        );
        assert_eq!(
            claim_payment(&mut db, None, other).unwrap_err().status(),
            400
        );
        assert_eq!(
            shop.count("SELECT count(*) FROM payment_attempt").unwrap(),
            1
        );
    }

    const SECRET: &[u8] = b"whsec_test";

    #[test]
    fn webhook_signatures_are_checked_and_bad_input_refused() {
        let body = br#"{"id":"evt_1","order":1,"created":100,"ok":true}"#;
        let header = sign_webhook(SECRET, 1_000, body);
        assert_eq!(
            verify_webhook(SECRET, &header, body, 1_000, 300).unwrap(),
            1_000
        );
        assert!(verify_webhook(SECRET, &header, body, 1_300, 300).is_ok());
        assert!(verify_webhook(SECRET, &header, body, 700, 300).is_ok());
        // Too old, from the future, tampered, other secret.
        assert!(verify_webhook(SECRET, &header, body, 1_301, 300).is_err());
        assert!(verify_webhook(SECRET, &header, body, 699, 300).is_err());
        let tampered = br#"{"id":"evt_1","order":2,"created":100,"ok":true}"#;
        assert!(verify_webhook(SECRET, &header, tampered, 1_000, 300).is_err());
        assert!(verify_webhook(b"other", &header, body, 1_000, 300).is_err());
        // A rotated secret: two v1 entries, one matches.
        let good = header.split_once(",v1=").unwrap().1;
        let two = format!("t=1000,v1={},v1={good}", "00".repeat(32));
        assert!(verify_webhook(SECRET, &two, body, 1_000, 300).is_ok());
        for bad in [
            "",
            "t=abc,v1=00",
            "v1=00",
            "t=1000",
            "t=1000,v1=zz",
            "t=1000,v1=0",
        ] {
            let err =
                verify_webhook(SECRET, bad, body, 1_000, 300).unwrap_err();
            assert_eq!(err.status(), 400, "{bad}");
        }
        assert_eq!(parse_event(body).unwrap(), ("evt_1".into(), 1, 100, true));
        for bad in [
            &b"not json"[..],
            br#"{"id":"e"}"#,
            br#"{"id":1,"order":1,"created":1,"ok":true}"#,
        ] {
            assert_eq!(parse_event(bad).unwrap_err().status(), 400);
        }
    }

    #[test]
    fn webhooks_apply_once_and_in_order() {
        let Some(mut shop) = shop("webhooks") else {
            return;
        };
        shop.add_product(1, 5).unwrap();
        let mut db = shop.connect().unwrap();
        let later = SystemTime::now() + Duration::from_secs(600);
        let Outcome::Bought(order) = reserve(&mut db, 1, 2, later).unwrap()
        else {
            panic!("sold out")
        };
        // The same success delivered twice at once, on two connections.
        let clients: Vec<Client> =
            (0..2).map(|_| shop.connect().unwrap()).collect();
        let handled: Vec<Handled> = std::thread::scope(|s| {
            let handles: Vec<_> = clients
                .into_iter()
                .map(|mut db| {
                    s.spawn(move || {
                        handle_webhook(&mut db, "evt_ok", order, 20, true)
                            .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(handled.contains(&Handled::Applied(State::Paid)));
        assert!(handled.contains(&Handled::Duplicate));
        // An older failure arrives late: recorded, not applied.
        assert_eq!(
            handle_webhook(&mut db, "evt_fail", order, 10, false).unwrap(),
            Handled::Stale
        );
        assert_eq!(
            handle_webhook(&mut db, "evt_fail", order, 10, false).unwrap(),
            Handled::Duplicate
        );
        assert_eq!(state_of(&mut shop, order), "paid");
        assert_eq!(shop.stock(1).unwrap(), 3, "stock still sold, not released");
        assert_eq!(
            shop.count("SELECT count(*) FROM webhook_event").unwrap(),
            2
        );
    }

    #[test]
    fn an_expired_reservation_returns_its_stock_once() {
        let Some(mut shop) = shop("reservations") else {
            return;
        };
        shop.add_product(1, 10).unwrap();
        let mut db = shop.connect().unwrap();
        let now = SystemTime::now();
        let past = now - Duration::from_secs(1);
        let future = now + Duration::from_secs(3600);
        let Outcome::Bought(expired) = reserve(&mut db, 1, 2, past).unwrap()
        else {
            panic!()
        };
        let Outcome::Bought(live) = reserve(&mut db, 1, 3, future).unwrap()
        else {
            panic!()
        };
        let Outcome::Bought(paid) = reserve(&mut db, 1, 4, past).unwrap()
        else {
            panic!()
        };
        assert_eq!(reserve(&mut db, 1, 2, future).unwrap(), Outcome::SoldOut);
        let mut tx = db.transaction().unwrap();
        transition(&mut tx, paid, Event::PaymentSucceeded).unwrap();
        tx.commit().unwrap();
        assert_eq!(shop.stock(1).unwrap(), 1);
        assert_eq!(expire_reservations(&mut db, now).unwrap(), 1);
        assert_eq!(
            shop.stock(1).unwrap(),
            3,
            "only the expired hold came back"
        );
        assert_eq!(expire_reservations(&mut db, now).unwrap(), 0);
        assert_eq!(shop.stock(1).unwrap(), 3, "and only once");
        assert_eq!(state_of(&mut shop, expired), "cancelled");
        assert_eq!(state_of(&mut shop, live), "pending");
        assert_eq!(state_of(&mut shop, paid), "paid");
    }

    #[test]
    fn a_sweeper_skips_an_order_that_a_payment_holds() {
        let Some(mut shop) = shop("sweeper_skips") else {
            return;
        };
        shop.add_product(1, 5).unwrap();
        let mut db = shop.connect().unwrap();
        let past = SystemTime::now() - Duration::from_secs(1);
        let Outcome::Bought(order) = reserve(&mut db, 1, 2, past).unwrap()
        else {
            panic!("sold out")
        };
        // A payment has locked the order and is about to convert its hold.
        let mut paying = shop.connect().unwrap();
        let mut tx = paying.transaction().unwrap();
        tx.execute("SELECT 1 FROM orders WHERE id = $1 FOR UPDATE", &[&order])
            .unwrap();
        // A sweeper that waited for the order's lock would fail here.
        let mut sweeper = shop.connect().unwrap();
        sweeper
            .batch_execute("SET statement_timeout = '2s'")
            .unwrap();
        let now = SystemTime::now();
        assert_eq!(expire_reservations(&mut sweeper, now).unwrap(), 0);
        transition(&mut tx, order, Event::PaymentSucceeded).unwrap();
        tx.commit().unwrap();
        assert_eq!(expire_reservations(&mut sweeper, now).unwrap(), 0);
        assert_eq!(state_of(&mut shop, order), "paid");
        assert_eq!(shop.stock(1).unwrap(), 3, "the paid units stay sold");
    }

    #[test]
    fn a_failed_payment_compensates_and_a_good_one_confirms() {
        let Some(mut shop) = shop("saga") else { return };
        shop.add_product(1, 3).unwrap();
        let mut db = shop.connect().unwrap();
        let hold = Duration::from_secs(600);
        let (Outcome::Bought(failed), state) =
            checkout(&mut db, &mut Declining, 1, 2, hold).unwrap()
        else {
            panic!("sold out")
        };
        assert_eq!(state, State::Cancelled);
        assert_eq!(shop.stock(1).unwrap(), 3, "the stock came back");
        // Compensation does not run twice: cancelling again is illegal.
        let mut tx = db.transaction().unwrap();
        assert!(transition(&mut tx, failed, Event::Cancel).is_err());
        drop(tx);
        assert_eq!(shop.stock(1).unwrap(), 3);
        let (_, state) = checkout(&mut db, &mut Approving, 1, 2, hold).unwrap();
        assert_eq!(state, State::Paid);
        assert_eq!(shop.stock(1).unwrap(), 1);
        let held = "SELECT count(*) FROM reservation WHERE state = 'converted'";
        assert_eq!(shop.count(held).unwrap(), 1);
        assert_eq!(
            checkout(&mut db, &mut Approving, 1, 2, hold).unwrap(),
            (Outcome::SoldOut, State::Cancelled)
        );
    }
}
