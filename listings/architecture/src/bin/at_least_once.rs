//! 2.7 Event-driven architecture: at-least-once delivery on RabbitMQ, made
//! effectively-once by an idempotent consumer in PostgreSQL.
//!
//! - The producer publishes with publisher confirms and `mandatory`, so a
//!   message is "sent" only once the broker has taken responsibility for
//!   it and routed it to a queue.
//! - The work queue is a quorum queue with `x-delivery-limit` and a
//!   dead-letter exchange: a message that keeps failing is moved to a
//!   dead-letter queue instead of cycling forever.
//! - The consumer acks manually, after its database commit, under a
//!   prefetch (`basic.qos`) limit. It dies on purpose (its connection is
//!   closed before the ack) at chosen points; the broker redelivers the
//!   unacked message with the `redelivered` flag set.
//! - The effect and the dedupe row (the event id, a primary key) are written
//!   in one transaction, so a redelivery after a commit is recognised and
//!   acked without a second effect.
//! - A body that is not JSON, or lacks a field, is rejected without requeue:
//!   it goes straight to the dead-letter queue and blocks nothing else.
//! - A stream queue (`x-queue-type: stream`) shows the log model that Kafka
//!   is built on: reading does not remove, offsets are positions, and each
//!   reader chooses where to start.
//! - Servers: `AMQP_URL` and `DATABASE_URL` (local defaults). Without one,
//!   `main` exits 77 and the tests print `skipped: ...` (a failure under
//!   `REQUIRE_SERVICES=1`). Every queue, exchange and schema is named per
//!   run and deleted at the end.

use std::collections::BTreeMap;
use std::time::Duration;

use lapin::message::{Delivery, DeliveryResult};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    BasicRejectOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

/// What can go wrong outside the message itself.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("broker: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("database: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("the broker did not take message {0}: {1}")]
    NotTaken(usize, &'static str),
    #[error("gave up waiting: {0}")]
    Timeout(&'static str),
    #[error("the consumer was cancelled")]
    Cancelled,
}

// ANCHOR: topology
/// A quorum queue returns a message at most this many times; the next
/// failure dead-letters it (RabbitMQ 4.x sets 20 when none is given; on
/// 3.x there is no limit unless one is set).
pub const DELIVERY_LIMIT: i64 = 2;

pub struct Topology {
    pub work: String,
    pub dead: String,
    dlx: String,
}

fn arg(table: &mut FieldTable, key: &str, value: AMQPValue) {
    table.insert(key.into(), value);
}

pub async fn declare(ch: &Channel, prefix: &str) -> Result<Topology, Error> {
    let t = Topology {
        work: format!("{prefix}.work"),
        dead: format!("{prefix}.dead"),
        dlx: format!("{prefix}.dlx"),
    };
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.exchange_declare(
        t.dlx.as_str().into(),
        lapin::ExchangeKind::Fanout,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await?;
    ch.queue_declare(t.dead.as_str().into(), durable, FieldTable::default())
        .await?;
    ch.queue_bind(
        t.dead.as_str().into(),
        t.dlx.as_str().into(),
        "".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    let mut args = FieldTable::default();
    arg(
        &mut args,
        "x-queue-type",
        AMQPValue::LongString("quorum".into()),
    );
    arg(
        &mut args,
        "x-delivery-limit",
        AMQPValue::LongLongInt(DELIVERY_LIMIT),
    );
    let dlx = AMQPValue::LongString(t.dlx.as_str().into());
    arg(&mut args, "x-dead-letter-exchange", dlx);
    ch.queue_declare(t.work.as_str().into(), durable, args)
        .await?;
    Ok(t)
}
// ANCHOR_END: topology

impl Topology {
    pub async fn delete(&self, ch: &Channel) -> Result<(), Error> {
        for q in [&self.work, &self.dead] {
            let opts = QueueDeleteOptions::default();
            ch.queue_delete(q.as_str().into(), opts).await?;
        }
        let opts = ExchangeDeleteOptions::default();
        ch.exchange_delete(self.dlx.as_str().into(), opts).await?;
        Ok(())
    }
}

// ANCHOR: publish
/// Publishes every body to `queue` and waits for the broker's confirms. A
/// nack, or a message returned as unroutable, is an error naming it.
pub async fn publish_confirmed(
    ch: &Channel,
    queue: &str,
    bodies: &[Vec<u8>],
) -> Result<usize, Error> {
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    let mandatory = BasicPublishOptions {
        mandatory: true, // unroutable: returned to us, not dropped
        ..Default::default()
    };
    let persistent = BasicProperties::default().with_delivery_mode(2);
    let mut pending = Vec::with_capacity(bodies.len());
    for body in bodies {
        let props = persistent.clone();
        let confirm = ch
            .basic_publish("".into(), queue.into(), mandatory, body, props)
            .await?;
        pending.push(confirm); // many in flight, awaited below
    }
    for (i, confirm) in pending.into_iter().enumerate() {
        let confirmation = confirm.await?;
        if !confirmation.is_ack() {
            return Err(Error::NotTaken(i, "nacked"));
        }
        if confirmation.take_message().is_some() {
            return Err(Error::NotTaken(i, "returned as unroutable"));
        }
    }
    Ok(bodies.len())
}
// ANCHOR_END: publish

// ANCHOR: message
/// The event: a payment to an account, identified by the producer.
#[derive(Debug, Deserialize)]
pub struct Payment {
    pub event_id: String,
    pub account: String,
    pub cents: i64,
}

/// A body that is not a payment: the reason, for the log.
pub fn parse(body: &[u8]) -> Result<Payment, String> {
    let payment: Payment =
        serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if payment.event_id.is_empty() {
        return Err("empty event_id".to_string());
    }
    Ok(payment)
}
// ANCHOR_END: message

// ANCHOR: handle
/// What the consumer made of one delivery.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Applied,
    Duplicate,
    Malformed(String),
    Failed(String),
    /// The test's crash: the process "dies" at this point.
    Crashed(Crash),
}

/// Where a planned crash happens, on an event's first delivery only.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Crash {
    BeforeCommit,
    AfterCommit,
}

pub async fn handle(
    db: &mut tokio_postgres::Client,
    body: &[u8],
    crashes: &mut BTreeMap<String, Crash>,
) -> Result<Outcome, Error> {
    let payment = match parse(body) {
        Ok(payment) => payment,
        Err(why) => return Ok(Outcome::Malformed(why)),
    };
    let crash = crashes.remove(&payment.event_id);
    let tx = db.transaction().await?;
    let dedupe = "INSERT INTO processed (event_id) VALUES ($1) \
                  ON CONFLICT (event_id) DO NOTHING";
    if tx.execute(dedupe, &[&payment.event_id]).await? == 0 {
        return Ok(Outcome::Duplicate); // seen: roll back, ack
    }
    let effect = "UPDATE accounts SET balance = balance + $2 WHERE name = $1";
    let args: [&(dyn tokio_postgres::types::ToSql + Sync); 2] =
        [&payment.account, &payment.cents];
    if let Err(e) = tx.execute(effect, &args).await {
        let why = e
            .as_db_error()
            .map_or(e.to_string(), |d| d.message().into());
        return Ok(Outcome::Failed(why)); // rolled back
    }
    if crash == Some(Crash::BeforeCommit) {
        return Ok(Outcome::Crashed(Crash::BeforeCommit)); // rolled back
    }
    tx.commit().await?;
    if crash == Some(Crash::AfterCommit) {
        return Ok(Outcome::Crashed(Crash::AfterCommit)); // never acked
    }
    Ok(Outcome::Applied)
}
// ANCHOR_END: handle

// ANCHOR: tally
/// What one run of the consumer saw, counted per delivery.
#[derive(Debug, Default, PartialEq)]
pub struct Tally {
    pub delivered: u32,
    pub redelivered: u32,
    /// Committed and acked.
    pub applied: u32,
    /// Seen before (the dedupe row exists): acked, no effect.
    pub duplicates: u32,
    /// Rejected without requeue: straight to the dead-letter queue.
    pub malformed: u32,
    /// Rolled back and requeued.
    pub failed: u32,
    /// Died after the commit, before the ack (the effect is in).
    pub crashed_after_commit: u32,
    /// Died before the commit (rolled back).
    pub crashed_before_commit: u32,
}
// ANCHOR_END: tally

/// Deliveries of one consumer, in the order the broker sent them: the
/// delegate runs synchronously per delivery and only forwards it.
async fn subscribe(
    ch: &Channel,
    queue: &str,
    arguments: FieldTable,
) -> Result<mpsc::UnboundedReceiver<DeliveryResult>, Error> {
    let consumer = ch
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions::default(),
            arguments,
        )
        .await?;
    let (tx, rx) = mpsc::unbounded_channel();
    consumer.set_delegate(move |delivery: DeliveryResult| {
        let _ = tx.send(delivery);
        async {}
    });
    Ok(rx)
}

/// The next delivery, or `None` when nothing arrives within `idle`.
async fn next(
    rx: &mut mpsc::UnboundedReceiver<DeliveryResult>,
    idle: Duration,
) -> Result<Option<Delivery>, Error> {
    match timeout(idle, rx.recv()).await {
        Err(_elapsed) => Ok(None),
        Ok(Some(Ok(Some(delivery)))) => Ok(Some(delivery)),
        Ok(Some(Err(e))) => Err(e.into()),
        Ok(Some(Ok(None)) | None) => Err(Error::Cancelled),
    }
}

pub const PREFETCH: u16 = 1;
const IDLE: Duration = Duration::from_millis(300);

// ANCHOR: consume
/// Consumes until the queue stays empty for `IDLE`. A planned crash
/// closes the connection without acking, and a new "process" connects.
pub async fn consume(
    url: &str,
    queue: &str,
    db: &mut tokio_postgres::Client,
    mut crashes: BTreeMap<String, Crash>,
    deadline: Instant,
) -> Result<Tally, Error> {
    let mut tally = Tally::default();
    'process: loop {
        let conn = Connection::connect(url, props()).await?;
        let ch = conn.create_channel().await?;
        ch.basic_qos(PREFETCH, BasicQosOptions::default()).await?;
        let mut rx = subscribe(&ch, queue, FieldTable::default()).await?;
        while let Some(d) = next(&mut rx, IDLE).await? {
            if Instant::now() > deadline {
                return Err(Error::Timeout("the queue never drained"));
            }
            tally.delivered += 1;
            tally.redelivered += u32::from(d.redelivered);
            let outcome = handle(db, &d.data, &mut crashes).await?;
            match &outcome {
                Outcome::Applied => tally.applied += 1,
                Outcome::Duplicate => tally.duplicates += 1,
                Outcome::Malformed(_) => tally.malformed += 1,
                Outcome::Failed(_) => tally.failed += 1,
                Outcome::Crashed(point) => {
                    match point {
                        Crash::AfterCommit => tally.crashed_after_commit += 1,
                        Crash::BeforeCommit => tally.crashed_before_commit += 1,
                    }
                    conn.close(320, "simulated crash".into()).await?;
                    continue 'process; // the unacked message goes back
                }
            }
            settle(&d, &outcome).await?;
        }
        conn.close(200, "done".into()).await?;
        return Ok(tally);
    }
}

// ANCHOR_END: consume

// ANCHOR: settle
/// Ack once the commit is done (or was done before); reject bad input
/// for good; reject a failure with requeue, which the broker counts and
/// dead-letters past the delivery limit.
async fn settle(d: &Delivery, outcome: &Outcome) -> Result<(), Error> {
    match outcome {
        Outcome::Applied | Outcome::Duplicate => {
            d.ack(BasicAckOptions::default()).await?;
        }
        Outcome::Malformed(_) => {
            d.reject(BasicRejectOptions { requeue: false }).await?;
        }
        Outcome::Failed(_) => {
            // reject, not nack: from RabbitMQ 4.3 only a reject (or a
            // dead consumer) counts toward the delivery limit
            d.reject(BasicRejectOptions { requeue: true }).await?;
        }
        Outcome::Crashed(_) => {} // a dead process settles nothing
    }
    Ok(())
}
// ANCHOR_END: settle

fn props() -> ConnectionProperties {
    ConnectionProperties::default()
}

// ANCHOR: dead_letters
/// A dead-lettered message: its body and why it died (`x-death`).
#[derive(Debug, PartialEq)]
pub struct DeadLetter {
    pub body: String,
    pub reason: String,
}

fn death_reason(props: &BasicProperties) -> String {
    let Some(headers) = props.headers() else {
        return "no x-death header".to_string();
    };
    match headers.inner().get("x-first-death-reason") {
        Some(AMQPValue::LongString(s)) => s.to_string(),
        _ => "no x-first-death-reason".to_string(),
    }
}

/// Takes (acks) everything in the dead-letter queue.
pub async fn drain_dead(
    ch: &Channel,
    queue: &str,
) -> Result<Vec<DeadLetter>, Error> {
    let mut dead = Vec::new();
    let opts = lapin::options::BasicGetOptions { no_ack: true };
    while let Some(m) = ch.basic_get(queue.into(), opts).await? {
        dead.push(DeadLetter {
            body: String::from_utf8_lossy(&m.delivery.data).into_owned(),
            reason: death_reason(&m.delivery.properties),
        });
    }
    Ok(dead)
}
// ANCHOR_END: dead_letters

// ANCHOR: prefetch
/// With `basic.qos(prefetch)`, how many of 5 ready messages arrive before
/// any ack, and how many after one ack.
pub async fn prefetch_window(
    ch: &Channel,
    queue: &str,
    prefetch: u16,
) -> Result<(usize, usize), Error> {
    let bodies: Vec<Vec<u8>> = (0..5).map(|i| vec![b'0' + i]).collect();
    publish_confirmed(ch, queue, &bodies).await?;
    ch.basic_qos(prefetch, BasicQosOptions::default()).await?;
    let mut rx = subscribe(ch, queue, FieldTable::default()).await?;
    let mut held = Vec::new();
    while let Some(d) = next(&mut rx, Duration::from_millis(200)).await? {
        held.push(d); // unacked: the broker stops at the window
    }
    let before = held.len();
    if let Some(first) = held.first() {
        first.ack(BasicAckOptions::default()).await?;
    }
    while let Some(d) = next(&mut rx, Duration::from_millis(200)).await? {
        held.push(d);
    }
    Ok((before, held.len()))
}
// ANCHOR_END: prefetch

// ANCHOR: auto_ack
/// `no_ack` (auto-ack): the broker forgets a message as soon as it is
/// sent. A consumer that dies before its effect loses it. Returns how
/// many messages the queue holds after such a crash.
pub async fn auto_ack_crash(url: &str, queue: &str) -> Result<u32, Error> {
    let conn = Connection::connect(url, props()).await?;
    let ch = conn.create_channel().await?;
    publish_confirmed(&ch, queue, &[b"{}".to_vec()]).await?;
    let opts = BasicConsumeOptions {
        no_ack: true,
        ..Default::default()
    };
    let c = ch
        .basic_consume(queue.into(), "".into(), opts, FieldTable::default())
        .await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    c.set_delegate(move |d: DeliveryResult| {
        let _ = tx.send(d);
        async {}
    });
    let got = next(&mut rx, Duration::from_secs(5)).await?;
    if got.is_none() {
        return Err(Error::Timeout("the auto-ack delivery"));
    }
    conn.close(320, "crash before the effect".into()).await?; // no effect
    let ch = Connection::connect(url, props())
        .await?
        .create_channel()
        .await?;
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let q = ch
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await?;
    Ok(q.message_count())
}
// ANCHOR_END: auto_ack

// ANCHOR: stream
/// An append-only stream queue: what each reader saw, as
/// (offset, body) pairs.
pub type Read = Vec<(i64, String)>;

pub async fn declare_stream(ch: &Channel, name: &str) -> Result<(), Error> {
    let mut args = FieldTable::default();
    arg(
        &mut args,
        "x-queue-type",
        AMQPValue::LongString("stream".into()),
    );
    // Retention is by size or age, not by consumption.
    arg(
        &mut args,
        "x-max-length-bytes",
        AMQPValue::LongLongInt(1 << 20),
    );
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.queue_declare(name.into(), durable, args).await?;
    Ok(())
}

/// Reads `count` messages starting at `start` ("first", "next", or an
/// offset). Stream consumers need a prefetch and manual acks; an ack only
/// returns credit, it removes nothing.
pub async fn read_stream(
    ch: &Channel,
    stream: &str,
    start: AMQPValue,
    count: usize,
) -> Result<Read, Error> {
    ch.basic_qos(100, BasicQosOptions::default()).await?;
    let mut args = FieldTable::default();
    arg(&mut args, "x-stream-offset", start);
    let mut rx = subscribe(ch, stream, args).await?;
    let mut read = Vec::new();
    while read.len() < count {
        let Some(d) = next(&mut rx, Duration::from_secs(5)).await? else {
            return Err(Error::Timeout("stream messages"));
        };
        let offset = d
            .properties
            .headers()
            .as_ref()
            .and_then(|h| match h.inner().get("x-stream-offset") {
                Some(AMQPValue::LongLongInt(n)) => Some(*n),
                _ => None,
            })
            .unwrap_or(-1);
        read.push((offset, String::from_utf8_lossy(&d.data).into_owned()));
        d.ack(BasicAckOptions::default()).await?;
    }
    Ok(read)
}
// ANCHOR_END: stream

// ANCHOR: scenario
/// The events of one run: `n` payments of 1..=n cents to "alice" (sum
/// n(n+1)/2), one that can never apply (it would overdraw "bob", whose
/// balance must stay >= 0), and one body that is not JSON.
pub fn events(n: u32) -> Vec<Vec<u8>> {
    let mut bodies: Vec<Vec<u8>> = (1..=n)
        .map(|i| {
            let e = format!("pay-{i:02}");
            format!(r#"{{"event_id":"{e}","account":"alice","cents":{i}}}"#)
                .into_bytes()
        })
        .collect();
    bodies.insert(
        2,
        br#"{"event_id":"bad-1","account":"bob","cents":-500}"#.to_vec(),
    );
    bodies.insert(5, b"this is not JSON".to_vec());
    bodies
}

/// Crash after the commit on pay-03 and pay-07, before it on pay-05.
pub fn crash_plan() -> BTreeMap<String, Crash> {
    BTreeMap::from([
        ("pay-03".to_string(), Crash::AfterCommit),
        ("pay-05".to_string(), Crash::BeforeCommit),
        ("pay-07".to_string(), Crash::AfterCommit),
    ])
}
// ANCHOR_END: scenario

/// A scratch schema with the two tables, on its own search_path.
pub struct Ledger {
    pub db: tokio_postgres::Client,
    schema: String,
}

impl Ledger {
    pub async fn create(url: &str) -> Result<Ledger, Error> {
        let (db, connection) =
            tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        let schema = support::unique_name("events");
        // ANCHOR: schema
        let ddl = format!(
            "CREATE SCHEMA {schema}; SET search_path TO {schema};
             CREATE TABLE accounts (name text PRIMARY KEY,
               balance bigint NOT NULL CHECK (balance >= 0));
             CREATE TABLE processed (event_id text PRIMARY KEY);
             INSERT INTO accounts VALUES ('alice', 0), ('bob', 100);"
        );
        // ANCHOR_END: schema
        db.batch_execute(&ddl).await?;
        Ok(Ledger { db, schema })
    }

    pub async fn balance(&self, account: &str) -> Result<i64, Error> {
        let sql = "SELECT balance FROM accounts WHERE name = $1";
        Ok(self.db.query_one(sql, &[&account]).await?.get(0))
    }

    pub async fn processed(&self) -> Result<i64, Error> {
        let sql = "SELECT count(*) FROM processed";
        Ok(self.db.query_one(sql, &[]).await?.get(0))
    }

    pub async fn drop_schema(&self) -> Result<(), Error> {
        let sql = format!("DROP SCHEMA {} CASCADE", self.schema);
        self.db.batch_execute(&sql).await?;
        Ok(())
    }
}

/// Everything one run measured.
#[derive(Debug)]
pub struct Report {
    pub sent: usize,
    pub tally: Tally,
    pub dead: Vec<DeadLetter>,
    pub alice: i64,
    pub bob: i64,
    pub processed: i64,
}

/// Publish `events(n)`, consume through `crash_plan()`, read the DLQ.
pub async fn run(n: u32) -> Result<Report, Error> {
    let url = support::amqp::amqp_url();
    let ledger = Ledger::create(&support::pg::database_url()).await?;
    let result = run_with(&url, &ledger, n).await;
    ledger.drop_schema().await?;
    result
}

async fn run_with(url: &str, ledger: &Ledger, n: u32) -> Result<Report, Error> {
    let conn = Connection::connect(url, props()).await?;
    let ch = conn.create_channel().await?;
    let topology = declare(&ch, &support::unique_name("events")).await?;
    let result = async {
        let sent = publish_confirmed(&ch, &topology.work, &events(n)).await?;
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut db = connect_db(ledger).await?;
        let tally =
            consume(url, &topology.work, &mut db, crash_plan(), deadline)
                .await?;
        let dead = drain_dead(&ch, &topology.dead).await?;
        Ok(Report {
            sent,
            tally,
            dead,
            alice: ledger.balance("alice").await?,
            bob: ledger.balance("bob").await?,
            processed: ledger.processed().await?,
        })
    }
    .await;
    topology.delete(&ch).await?;
    conn.close(200, "bye".into()).await?;
    result
}

async fn connect_db(ledger: &Ledger) -> Result<tokio_postgres::Client, Error> {
    let (db, connection) = tokio_postgres::connect(
        &support::pg::database_url(),
        tokio_postgres::NoTls,
    )
    .await?;
    tokio::spawn(connection);
    db.batch_execute(&format!("SET search_path TO {}", ledger.schema))
        .await?;
    Ok(db)
}

/// A scratch classic queue for the small demos, deleted by the caller.
async fn scratch_queue(ch: &Channel, prefix: &str) -> Result<String, Error> {
    let name = support::unique_name(prefix);
    let opts = QueueDeclareOptions::default();
    ch.queue_declare(name.as_str().into(), opts, FieldTable::default())
        .await?;
    Ok(name)
}

async fn delete_queue(ch: &Channel, name: &str) -> Result<(), Error> {
    let opts = QueueDeleteOptions::default();
    ch.queue_delete(name.into(), opts).await?;
    Ok(())
}

fn show(read: &Read) -> String {
    let items: Vec<String> =
        read.iter().map(|(o, body)| format!("{o}:{body}")).collect();
    items.join(" ")
}

// ANCHOR: main
async fn demo(url: &str) -> Result<(), Error> {
    let conn = Connection::connect(url, props()).await?;
    let ch = conn.create_channel().await?;

    let nowhere = support::unique_name("no_such_queue");
    let refused = publish_confirmed(&ch, &nowhere, &[b"{}".to_vec()]).await;
    println!(
        "publish to a missing queue: {}",
        refused
            .err()
            .map_or("accepted?!".to_string(), |e| e.to_string())
    );

    let q = scratch_queue(&ch, "prefetch").await?;
    let (before, after) = prefetch_window(&ch, &q, 2).await?;
    println!(
        "prefetch 2: {before} of 5 delivered unacked, {after} after one ack"
    );
    delete_queue(&ch, &q).await?;

    let q = scratch_queue(&ch, "autoack").await?;
    let left = auto_ack_crash(url, &q).await?;
    println!("auto-ack consumer died before its effect: {left} left in queue");
    delete_queue(&ch, &q).await?;
    // ANCHOR_END: main

    // ANCHOR: main_run
    let r = run(10).await?;
    let t = &r.tally;
    println!(
        "sent {} (10 payments, 1 poison, 1 malformed), confirmed",
        r.sent
    );
    println!("consumer, prefetch {PREFETCH}, delivery limit {DELIVERY_LIMIT}:");
    println!(
        "  delivered {}, of which flagged redelivered {}",
        t.delivered, t.redelivered
    );
    println!(
        "  crashed after commit {}, before commit {}",
        t.crashed_after_commit, t.crashed_before_commit
    );
    println!(
        "  applied {}, deduplicated {}, failed {}, malformed {}",
        t.applied, t.duplicates, t.failed, t.malformed
    );
    println!(
        "  alice = {} cents (1 + ... + 10 = 55), bob = {}, dedupe rows {}",
        r.alice, r.bob, r.processed
    );
    for d in &r.dead {
        println!("  dead-lettered ({}): {}", d.reason, d.body);
    }
    // ANCHOR_END: main_run

    let s = support::unique_name("stream");
    // ANCHOR: main_stream
    declare_stream(&ch, &s).await?;
    let events: Vec<Vec<u8>> = ["a1", "b1", "a2", "b2", "a3", "b3"]
        .map(|e| e.into())
        .to_vec();
    publish_confirmed(&ch, &s, &events).await?;
    let first = || AMQPValue::LongString("first".into());
    let billing = conn.create_channel().await?;
    let audit = conn.create_channel().await?;
    let resumed = conn.create_channel().await?;
    println!(
        "stream, reader 1 from first: {}",
        show(&read_stream(&billing, &s, first(), 6).await?)
    );
    println!(
        "stream, reader 2 from first: {}",
        show(&read_stream(&audit, &s, first(), 6).await?)
    );
    let offset = AMQPValue::LongLongInt(4);
    println!(
        "stream, resumed at offset 4: {}",
        show(&read_stream(&resumed, &s, offset, 2).await?)
    );
    delete_queue(&ch, &s).await?;
    conn.close(200, "bye".into()).await?;
    Ok(())
}
// ANCHOR_END: main_stream

#[tokio::main]
async fn main() {
    let url = support::amqp::amqp_url();
    if let Err(e) = Connection::connect(&url, props()).await {
        support::skip::exit_unavailable(
            "at_least_once",
            "RabbitMQ (set AMQP_URL)",
            e,
        );
    }
    let db_url = support::pg::database_url();
    if let Err(e) =
        tokio_postgres::connect(&db_url, tokio_postgres::NoTls).await
    {
        support::skip::exit_unavailable(
            "at_least_once",
            "PostgreSQL (set DATABASE_URL)",
            e,
        );
    }
    if let Err(e) = demo(&url).await {
        eprintln!("at_least_once: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A channel to the broker, or `None` after reporting the skip.
    async fn broker(test: &str) -> Option<(Connection, Channel)> {
        let url = support::amqp::amqp_url();
        let conn = Connection::connect(&url, props()).await;
        let conn = support::skip::in_test(test, "RabbitMQ", conn)?;
        let ch = conn.create_channel().await.unwrap();
        Some((conn, ch))
    }

    async fn database_up(test: &str) -> bool {
        let url = support::pg::database_url();
        let db = tokio_postgres::connect(&url, tokio_postgres::NoTls).await;
        support::skip::in_test(test, "PostgreSQL", db).is_some()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn n_events_through_crashes_give_n_effects_once_each() {
        let test = "n_events_through_crashes_give_n_effects_once_each";
        if broker(test).await.is_none() || !database_up(test).await {
            return;
        }
        let r = run(10).await.unwrap();
        let t = &r.tally;
        // Sent and confirmed: 10 payments, the poison one, the bad body.
        assert_eq!(r.sent, 12);
        // None lost, none doubled: 10 dedupe rows, 1 + ... + 10 cents.
        assert_eq!(r.processed, 10);
        assert_eq!(r.alice, 55);
        assert_eq!(r.bob, 100, "the poison payment never applied");
        // Every crash after a commit came back and was deduplicated; the
        // one before its commit came back and was applied.
        assert_eq!(t.crashed_after_commit, 2);
        assert_eq!(t.duplicates, 2);
        assert_eq!(t.crashed_before_commit, 1);
        assert_eq!(t.applied + t.crashed_after_commit, 10);
        // The poison one: delivered 1 + DELIVERY_LIMIT times, then moved.
        assert_eq!(i64::from(t.failed), 1 + DELIVERY_LIMIT);
        assert_eq!(t.malformed, 1);
        let settled = t.applied + t.duplicates + t.failed + t.malformed;
        let crashes = t.crashed_after_commit + t.crashed_before_commit;
        assert_eq!(t.delivered, settled + crashes);
        // At least every crash and every requeue came back flagged (a
        // message sitting in a dead consumer's prefetch buffer is flagged
        // too, although nobody processed it).
        let requeues = u32::try_from(DELIVERY_LIMIT).unwrap();
        assert!(t.redelivered >= crashes + requeues, "{t:?}");
        // The dead-letter queue holds exactly the two bad ones, with why.
        let reasons: Vec<(&str, bool)> = r
            .dead
            .iter()
            .map(|d| (d.reason.as_str(), d.body.contains("bad-1")))
            .collect();
        assert_eq!(reasons, [("delivery_limit", true), ("rejected", false)]);
    }

    #[tokio::test]
    async fn the_same_event_twice_applies_once() {
        let test = "the_same_event_twice_applies_once";
        if !database_up(test).await {
            return;
        }
        let mut ledger =
            Ledger::create(&support::pg::database_url()).await.unwrap();
        let body = br#"{"event_id":"e-1","account":"alice","cents":7}"#;
        let mut none = BTreeMap::new();
        let first = handle(&mut ledger.db, body, &mut none).await.unwrap();
        let again = handle(&mut ledger.db, body, &mut none).await.unwrap();
        assert_eq!((first, again), (Outcome::Applied, Outcome::Duplicate));
        assert_eq!(ledger.balance("alice").await.unwrap(), 7);
        // A failed effect leaves no dedupe row behind: the retry may run.
        let poison = br#"{"event_id":"e-2","account":"bob","cents":-101}"#;
        let failed = handle(&mut ledger.db, poison, &mut none).await.unwrap();
        assert!(
            matches!(&failed, Outcome::Failed(why) if why.contains("check")),
            "{failed:?}"
        );
        assert_eq!(ledger.processed().await.unwrap(), 1);
        // A crash before the commit leaves nothing; after it, the effect.
        let body = br#"{"event_id":"e-3","account":"alice","cents":1}"#;
        let mut plan =
            BTreeMap::from([("e-3".to_string(), Crash::BeforeCommit)]);
        let crashed = handle(&mut ledger.db, body, &mut plan).await.unwrap();
        assert_eq!(crashed, Outcome::Crashed(Crash::BeforeCommit));
        assert_eq!(ledger.balance("alice").await.unwrap(), 7);
        let retried = handle(&mut ledger.db, body, &mut plan).await.unwrap();
        assert_eq!(retried, Outcome::Applied);
        assert_eq!(ledger.balance("alice").await.unwrap(), 8);
        ledger.drop_schema().await.unwrap();
    }

    #[test]
    fn bad_bodies_are_refused_with_a_reason() {
        let bad: [&[u8]; 7] = [
            b"",
            b"this is not JSON",
            b"\xff\xfe",
            br#"{"event_id":"e","account":"alice"}"#,
            br#"{"event_id":"e","account":"alice","cents":"7"}"#,
            br#"{"event_id":"","account":"alice","cents":7}"#,
            br#"[1, 2, 3]"#,
        ];
        for body in bad {
            let why = parse(body).expect_err("must be refused");
            assert!(!why.is_empty());
        }
        let good = br#"{"event_id":"e","account":"alice","cents":-7}"#;
        assert_eq!(parse(good).unwrap().cents, -7);
    }

    #[tokio::test]
    async fn a_malformed_body_is_dead_lettered_not_requeued() {
        let test = "a_malformed_body_is_dead_lettered_not_requeued";
        let Some((conn, ch)) = broker(test).await else {
            return;
        };
        if !database_up(test).await {
            return;
        }
        let ledger =
            Ledger::create(&support::pg::database_url()).await.unwrap();
        let t = declare(&ch, &support::unique_name("bad")).await.unwrap();
        let bodies = vec![
            b"{not json".to_vec(),
            br#"{"event_id":"ok-1","account":"alice","cents":2}"#.to_vec(),
            br#"{"account":"alice","cents":3}"#.to_vec(),
        ];
        publish_confirmed(&ch, &t.work, &bodies).await.unwrap();
        let mut db = connect_db(&ledger).await.unwrap();
        let url = support::amqp::amqp_url();
        let deadline = Instant::now() + Duration::from_secs(10);
        let tally = consume(&url, &t.work, &mut db, BTreeMap::new(), deadline)
            .await
            .unwrap();
        // Each bad body delivered once, never requeued; the good one applied.
        assert_eq!((tally.delivered, tally.redelivered), (3, 0));
        assert_eq!((tally.malformed, tally.applied), (2, 1));
        let dead = drain_dead(&ch, &t.dead).await.unwrap();
        assert_eq!(dead.len(), 2);
        assert!(dead.iter().all(|d| d.reason == "rejected"));
        assert_eq!(ledger.balance("alice").await.unwrap(), 2);
        t.delete(&ch).await.unwrap();
        ledger.drop_schema().await.unwrap();
        conn.close(200, "bye".into()).await.unwrap();
    }

    #[tokio::test]
    async fn an_unroutable_publish_is_an_error_not_a_silent_drop() {
        let test = "an_unroutable_publish_is_an_error_not_a_silent_drop";
        let Some((_conn, ch)) = broker(test).await else {
            return;
        };
        let nowhere = support::unique_name("nowhere");
        let err = publish_confirmed(&ch, &nowhere, &[b"x".to_vec()]).await;
        assert!(matches!(
            err,
            Err(Error::NotTaken(0, "returned as unroutable"))
        ));
    }

    #[tokio::test]
    async fn prefetch_bounds_the_unacked_window() {
        let test = "prefetch_bounds_the_unacked_window";
        let Some((conn, _ch)) = broker(test).await else {
            return;
        };
        for (prefetch, expected) in [(1, (1, 2)), (3, (3, 4))] {
            let ch = conn.create_channel().await.unwrap();
            let q = scratch_queue(&ch, "prefetch").await.unwrap();
            let got = prefetch_window(&ch, &q, prefetch).await.unwrap();
            assert_eq!(got, expected, "prefetch {prefetch}");
            delete_queue(&ch, &q).await.unwrap();
        }
    }

    #[tokio::test]
    async fn auto_ack_loses_the_message_of_a_dead_consumer() {
        let test = "auto_ack_loses_the_message_of_a_dead_consumer";
        let Some((_conn, ch)) = broker(test).await else {
            return;
        };
        let q = scratch_queue(&ch, "autoack").await.unwrap();
        let url = support::amqp::amqp_url();
        assert_eq!(auto_ack_crash(&url, &q).await.unwrap(), 0);
        delete_queue(&ch, &q).await.unwrap();
    }

    #[tokio::test]
    async fn a_stream_is_read_by_offset_and_reading_removes_nothing() {
        let test = "a_stream_is_read_by_offset_and_reading_removes_nothing";
        let Some((conn, ch)) = broker(test).await else {
            return;
        };
        let s = support::unique_name("stream");
        declare_stream(&ch, &s).await.unwrap();
        let events: Vec<Vec<u8>> =
            (0..8).map(|i| format!("e{i}").into_bytes()).collect();
        publish_confirmed(&ch, &s, &events).await.unwrap();
        let first = || AMQPValue::LongString("first".into());
        let one = conn.create_channel().await.unwrap();
        let all = read_stream(&one, &s, first(), 8).await.unwrap();
        let offsets: Vec<i64> = all.iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, (0..8).collect::<Vec<i64>>(), "in append order");
        let two = conn.create_channel().await.unwrap();
        assert_eq!(read_stream(&two, &s, first(), 8).await.unwrap(), all);
        let three = conn.create_channel().await.unwrap();
        let tail = read_stream(&three, &s, AMQPValue::LongLongInt(5), 3)
            .await
            .unwrap();
        assert_eq!(tail, all[5..]);
        delete_queue(&ch, &s).await.unwrap();
    }
}
