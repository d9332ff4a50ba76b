//! Delivery: one RabbitMQ queue per channel, each with its own workers.
//! A worker sends to the channel's provider with an idempotency key,
//! retries 429 and 5xx with capped exponential backoff and full jitter,
//! prunes a device token on 410, records the delivery in Redis, then
//! acks. A message that keeps failing is rejected to the dead-letter
//! queue; one that is not a notification is rejected at once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lapin::message::{Delivery, DeliveryResult};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    BasicRejectOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel as AmqpChannel, Connection};
use redis::aio::MultiplexedConnection;
use tokio::sync::{mpsc, watch};

use crate::rules::{Channel, Notification};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("broker: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("the broker did not take a message: {0}")]
    NotTaken(&'static str),
    #[error("the consumer was cancelled")]
    Cancelled,
}

// ANCHOR: topology
/// Highest priority the channel queues accept. RabbitMQ's guide
/// recommends 2 to 4 for classic queues: each level is a sub-queue
/// inside the broker. A message above it counts as this maximum.
pub const MAX_PRIORITY: i64 = 4;

pub struct Topology {
    pub queues: BTreeMap<Channel, String>,
    pub dead: String,
    dlx: String,
}

/// One classic queue per channel, with priorities and a dead-letter
/// exchange; `priority: false` declares plain FIFO queues instead.
pub async fn declare(
    ch: &AmqpChannel,
    prefix: &str,
    priority: bool,
) -> Result<Topology, Error> {
    let dlx = format!("{prefix}.dlx");
    let dead = format!("{prefix}.dead");
    let opts = ExchangeDeclareOptions::default();
    let kind = lapin::ExchangeKind::Fanout;
    ch.exchange_declare(dlx.as_str().into(), kind, opts, FieldTable::default())
        .await?;
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.queue_declare(dead.as_str().into(), durable, FieldTable::default())
        .await?;
    let bind = QueueBindOptions::default();
    ch.queue_bind(
        dead.as_str().into(),
        dlx.as_str().into(),
        "".into(),
        bind,
        FieldTable::default(),
    )
    .await?;
    let mut queues = BTreeMap::new();
    for channel in Channel::ALL {
        let name = format!("{prefix}.{}", channel.name());
        let mut args = FieldTable::default();
        let to_dlx = AMQPValue::LongString(dlx.as_str().into());
        args.insert("x-dead-letter-exchange".into(), to_dlx);
        if priority {
            let max = AMQPValue::LongLongInt(MAX_PRIORITY);
            args.insert("x-max-priority".into(), max);
        }
        ch.queue_declare(name.as_str().into(), durable, args)
            .await?;
        queues.insert(channel, name);
    }
    Ok(Topology { queues, dead, dlx })
}
// ANCHOR_END: topology

impl Topology {
    pub async fn delete(&self, ch: &AmqpChannel) -> Result<(), Error> {
        for q in self.queues.values().chain([&self.dead]) {
            let opts = QueueDeleteOptions::default();
            ch.queue_delete(q.as_str().into(), opts).await?;
        }
        let opts = ExchangeDeleteOptions::default();
        ch.exchange_delete(self.dlx.as_str().into(), opts).await?;
        Ok(())
    }
}

// ANCHOR: publish
/// Publishes each notification to its channel's queue, persistent, with
/// its kind's priority, and waits for the broker's confirms.
pub async fn publish(
    ch: &AmqpChannel,
    topology: &Topology,
    notes: &[Notification],
) -> Result<(), Error> {
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    let opts = BasicPublishOptions {
        mandatory: true,
        ..Default::default()
    };
    let mut pending = Vec::new();
    for n in notes {
        let body = serde_json::to_vec(n).unwrap_or_default();
        let props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_priority(n.kind.priority())
            .with_message_id(n.id.as_str().into());
        let queue = topology.queues[&n.channel].as_str();
        let confirm = ch
            .basic_publish("".into(), queue.into(), opts, &body, props)
            .await?;
        pending.push(confirm);
    }
    for confirm in pending {
        let confirmation = confirm.await?;
        if !confirmation.is_ack() {
            return Err(Error::NotTaken("nacked"));
        }
        if confirmation.take_message().is_some() {
            return Err(Error::NotTaken("unroutable"));
        }
    }
    Ok(())
}
// ANCHOR_END: publish

/// Publishes a raw body (for the malformed-message test).
pub async fn publish_raw(
    ch: &AmqpChannel,
    queue: &str,
    body: &[u8],
) -> Result<(), Error> {
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    let props = BasicProperties::default().with_delivery_mode(2);
    let opts = BasicPublishOptions::default();
    let confirm = ch
        .basic_publish("".into(), queue.into(), opts, body, props)
        .await?;
    confirm.await?;
    Ok(())
}

/// Device tokens per user. Shared by the workers: a 410 removes one.
#[derive(Default)]
pub struct Devices(Mutex<HashMap<String, BTreeSet<String>>>);

impl Devices {
    pub fn register(&self, user: &str, token: &str) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(user.to_string())
            .or_default()
            .insert(token.to_string());
    }

    pub fn tokens(&self, user: &str) -> Vec<String> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(user)
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn prune(&self, user: &str, token: &str) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tokens) = map.get_mut(user) {
            tokens.remove(token);
        }
    }
}

// ANCHOR: backoff
/// How a worker retries one send.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Full jitter: uniform in [0, min(cap, base * 2^retry)].
pub fn backoff(p: &RetryPolicy, retry: u32, rng: &mut SplitMix) -> Duration {
    let ceiling = p.base.saturating_mul(1 << retry.min(20)).min(p.cap);
    let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rng.up_to(ms))
}
// ANCHOR_END: backoff

/// A seeded generator (SplitMix64), so the jitter is reproducible.
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }
    pub fn up_to(&mut self, max: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % max.saturating_add(1).max(1)
    }
}

/// Where a worker "dies" on a notification's first delivery: after the
/// provider took it but before we recorded it, or after the record but
/// before the ack.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Crash {
    AfterSend,
    AfterRecord,
}

#[derive(Debug, PartialEq)]
pub enum Outcome {
    Delivered,
    /// Recorded as delivered before: acked, nothing sent.
    AlreadyDelivered,
    /// A push for a user with no device left.
    NoDevice,
    /// Gave up (attempts spent, or refused for good): dead-lettered.
    Failed(String),
    /// Not a notification: dead-lettered at once.
    Malformed(String),
    Crashed(Crash),
}

/// What one send came to.
enum Sent {
    Ok,
    Gone,
    Failed(String),
}

/// Counts per worker, for the tests and `main`.
#[derive(Debug, Default)]
pub struct Tally {
    pub delivered: AtomicU64,
    pub already: AtomicU64,
    pub failed: AtomicU64,
    pub malformed: AtomicU64,
    pub crashes: AtomicU64,
    pub pruned: AtomicU64,
    pub retries: AtomicU64,
    pub sends: AtomicU64,
}

type Http = Client<HttpConnector, Full<Bytes>>;

pub struct Worker {
    pub channel: Channel,
    pub queue: String,
    pub provider_url: String,
    pub policy: RetryPolicy,
    pub devices: Arc<Devices>,
    pub redis: MultiplexedConnection,
    /// Keys in Redis start with this (one prefix per run).
    pub prefix: String,
    pub crashes: Mutex<BTreeMap<String, Crash>>,
    /// The control for the crash test: a new key on every send, as if
    /// the worker had no idempotency key at all.
    pub fresh_keys: bool,
    pub tally: Tally,
    http: Http,
    rng: Mutex<SplitMix>,
}

impl Worker {
    pub fn new(
        channel: Channel,
        queue: &str,
        provider_url: &str,
        devices: Arc<Devices>,
        redis: MultiplexedConnection,
        prefix: &str,
    ) -> Self {
        Worker {
            channel,
            queue: queue.to_string(),
            provider_url: provider_url.to_string(),
            policy: RetryPolicy::default(),
            devices,
            redis,
            prefix: prefix.to_string(),
            crashes: Mutex::new(BTreeMap::new()),
            fresh_keys: false,
            tally: Tally::default(),
            http: Client::builder(TokioExecutor::new()).build_http(),
            rng: Mutex::new(SplitMix::new(7)),
        }
    }

    fn jitter(&self, retry: u32) -> Duration {
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        backoff(&self.policy, retry, &mut rng)
    }

    // ANCHOR: send
    /// One send with retries. 2xx delivered; 410 gone; 429, 5xx,
    /// timeouts and dropped connections retried after a jittered wait;
    /// any other status refused for good.
    async fn send(&self, key: &str, to: &str, text: &str) -> Sent {
        let body = serde_json::json!({ "to": to, "text": text }).to_string();
        let mut last = String::new();
        for attempt in 0..self.policy.max_attempts {
            if attempt > 0 {
                self.tally.retries.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(self.jitter(attempt - 1)).await;
            }
            let status = match self.post(key, &body).await {
                Ok(status) => status,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            match status {
                200..=299 => return Sent::Ok,
                410 => return Sent::Gone,
                429 | 500..=599 => last = format!("status {status}"),
                _ => return Sent::Failed(format!("refused: {status}")),
            }
        }
        let n = self.policy.max_attempts;
        Sent::Failed(format!("{n} attempts, last: {last}"))
    }
    // ANCHOR_END: send

    async fn post(&self, key: &str, body: &str) -> Result<u16, String> {
        let request = Request::post(self.provider_url.as_str())
            .header("content-type", "application/json")
            .header("idempotency-key", header_safe(key))
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| e.to_string())?;
        let call = self.http.request(request);
        match tokio::time::timeout(self.policy.timeout, call).await {
            Err(_) => Err("timeout".to_string()),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(response)) => Ok(response.status().as_u16()),
        }
    }

    /// The delivery record's key: per channel, so a push and an email
    /// that share an id are still two deliveries.
    fn delivered_key(&self, id: &str) -> String {
        format!("{}:delivered:{}:{id}", self.prefix, self.channel.name())
    }

    // ANCHOR: handle
    /// One message, from parse to the decision to ack.
    pub async fn handle(&self, body: &[u8]) -> Result<Outcome, Error> {
        let n: Notification = match serde_json::from_slice(body) {
            Ok(n) => n,
            Err(e) => return Ok(Outcome::Malformed(e.to_string())),
        };
        if n.channel != self.channel || n.id.is_empty() {
            return Ok(Outcome::Malformed("wrong channel or no id".into()));
        }
        let mut redis = self.redis.clone();
        let record = self.delivered_key(&n.id);
        let seen: bool = redis::cmd("EXISTS")
            .arg(&record)
            .query_async(&mut redis)
            .await?;
        if seen {
            return Ok(Outcome::AlreadyDelivered);
        }
        // Push goes to every device the user has now; email to the user.
        let targets = match n.channel {
            Channel::Push => self.devices.tokens(&n.user),
            Channel::Email => vec![n.user.clone()],
        };
        let mut reached = 0;
        for to in &targets {
            let mut key = format!("{}:{to}", n.id); // stable across retries
            if self.fresh_keys {
                let sends = self.tally.sends.fetch_add(1, Ordering::SeqCst);
                key = format!("{key}:{sends}");
            }
            match self.send(&key, to, &n.text).await {
                Sent::Ok => reached += 1,
                Sent::Gone => {
                    self.devices.prune(&n.user, to);
                    self.tally.pruned.fetch_add(1, Ordering::SeqCst);
                }
                Sent::Failed(why) => return Ok(Outcome::Failed(why)),
            }
        }
        let crash = self.crash_plan(&n.id);
        if crash == Some(Crash::AfterSend) {
            return Ok(Outcome::Crashed(Crash::AfterSend));
        }
        let week = 7 * 24 * 3600;
        let _: () = redis::cmd("SET")
            .arg(&record)
            .arg(1)
            .arg("EX")
            .arg(week)
            .query_async(&mut redis)
            .await?;
        if crash == Some(Crash::AfterRecord) {
            return Ok(Outcome::Crashed(Crash::AfterRecord));
        }
        Ok(if reached == 0 {
            Outcome::NoDevice
        } else {
            Outcome::Delivered
        })
    }
    // ANCHOR_END: handle

    fn crash_plan(&self, id: &str) -> Option<Crash> {
        let mut plan = self.crashes.lock().unwrap_or_else(|p| p.into_inner());
        plan.remove(id)
    }

    // ANCHOR: run
    /// Consumes until `stop` turns true. A planned crash closes the
    /// connection without an ack (the broker requeues the message), and
    /// the loop connects again, as a restarted process would.
    pub async fn run(
        self: Arc<Self>,
        url: String,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), Error> {
        'process: loop {
            let conn = Connection::connect(&url, Default::default()).await?;
            let ch = conn.create_channel().await?;
            // One unacked message at a time: a newly published security
            // notification is next, not behind a prefetched batch.
            ch.basic_qos(1, BasicQosOptions::default()).await?;
            let mut rx = subscribe(&ch, &self.queue).await?;
            loop {
                let d = tokio::select! {
                    _ = stop.wait_for(|s| *s) => break 'process,
                    d = rx.recv() => match d {
                        Some(Ok(Some(d))) => d,
                        Some(Err(e)) => return Err(e.into()),
                        _ => return Err(Error::Cancelled),
                    },
                };
                let outcome = self.handle(&d.data).await?;
                if let Outcome::Crashed(_) = outcome {
                    self.tally.crashes.fetch_add(1, Ordering::SeqCst);
                    conn.close(320, "simulated crash".into()).await?;
                    continue 'process;
                }
                self.settle(&d, &outcome).await?;
            }
        }
        Ok(())
    }
    // ANCHOR_END: run

    async fn settle(
        &self,
        d: &Delivery,
        outcome: &Outcome,
    ) -> Result<(), Error> {
        let t = &self.tally;
        let counter = match outcome {
            Outcome::Delivered | Outcome::NoDevice => &t.delivered,
            Outcome::AlreadyDelivered => &t.already,
            Outcome::Failed(_) => &t.failed,
            Outcome::Malformed(_) => &t.malformed,
            Outcome::Crashed(_) => return Ok(()),
        };
        counter.fetch_add(1, Ordering::SeqCst);
        match outcome {
            Outcome::Failed(_) | Outcome::Malformed(_) => {
                // No requeue: the queue's dead-letter exchange takes it.
                let opts = BasicRejectOptions { requeue: false };
                d.reject(opts).await?;
            }
            _ => {
                d.ack(BasicAckOptions::default()).await?;
            }
        }
        Ok(())
    }
}

/// A header value holds visible ASCII only, and the key is made of
/// ids that producers chose: every other byte, and `%` itself, is
/// percent-encoded, so distinct keys stay distinct. Unencoded, such a
/// key fails to build the request on every attempt, and the message
/// is retried in vain, then dead-lettered.
fn header_safe(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_graphic() && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn subscribe(
    ch: &AmqpChannel,
    queue: &str,
) -> Result<mpsc::UnboundedReceiver<DeliveryResult>, Error> {
    let consumer = ch
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let (tx, rx) = mpsc::unbounded_channel();
    consumer.set_delegate(move |delivery: DeliveryResult| {
        let _ = tx.send(delivery);
        async {}
    });
    Ok(rx)
}

/// Takes (acks) what the dead-letter queue holds: each body and the
/// reason RabbitMQ gives in `x-first-death-reason`. Dead-lettering
/// happens in the broker after the reject, so this waits (up to 2 s)
/// for at least `expect` messages.
pub async fn drain_dead(
    ch: &AmqpChannel,
    queue: &str,
    expect: usize,
) -> Result<Vec<(String, String)>, Error> {
    let mut dead = Vec::new();
    let opts = lapin::options::BasicGetOptions { no_ack: true };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let Some(m) = ch.basic_get(queue.into(), opts).await? else {
            if dead.len() >= expect || tokio::time::Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let reason = m
            .delivery
            .properties
            .headers()
            .as_ref()
            .and_then(|h| match h.inner().get("x-first-death-reason") {
                Some(AMQPValue::LongString(s)) => Some(s.to_string()),
                _ => None,
            })
            .unwrap_or_default();
        let body = String::from_utf8_lossy(&m.delivery.data).into_owned();
        dead.push((body, reason));
    }
    Ok(dead)
}

/// Deletes every Redis key of one run.
pub async fn delete_keys(
    redis: &mut MultiplexedConnection,
    prefix: &str,
) -> Result<(), Error> {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(redis)
        .await?;
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(keys).query_async(redis).await?;
    }
    Ok(())
}
