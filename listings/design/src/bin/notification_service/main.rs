//! 3.2: a notification system. Events go through a notification service
//! (preferences and opt-outs per channel and kind, quiet hours in the
//! user's time zone, deduplication by event + user + channel in Redis,
//! aggregation of likes), then to one RabbitMQ queue per channel with its
//! own workers, then to fake providers on loopback that answer like
//! APNs and FCM (410 Unregistered, 429, 5xx).
//!
//! `main` runs a small day of events through the whole path, then a
//! crash run and a priority run, and prints what the providers received.
//! Servers: `AMQP_URL` and `REDIS_URL` (local defaults); without one,
//! `main` exits 77 and the tests print `skipped: ...` (a failure under
//! `REQUIRE_SERVICES=1`). Every queue, exchange and key is named per run
//! and deleted at the end. Tests: `cargo test -p design --bin
//! notification_service`.

mod delivery;
mod providers;
mod rules;
mod service;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use lapin::{Channel as AmqpChannel, Connection};
use redis::aio::MultiplexedConnection;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use delivery::{Crash, Devices, Error, RetryPolicy, Topology, Worker};
use providers::Provider;
use rules::{Channel, Event, Kind, Notification, Preferences};
use service::Service;

/// A run's broker objects, Redis prefix, devices and providers.
pub struct Rig {
    pub url: String,
    pub conn: Connection,
    pub ch: AmqpChannel,
    pub topology: Topology,
    pub redis: MultiplexedConnection,
    pub prefix: String,
    pub devices: Arc<Devices>,
    pub push: Arc<Provider>,
    pub email: Arc<Provider>,
    push_url: String,
    email_url: String,
    stop: watch::Sender<bool>,
    running: Vec<JoinHandle<Result<(), Error>>>,
}

/// Retries fast enough for a test: waits of a few milliseconds.
pub const FAST: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    base: Duration::from_millis(2),
    cap: Duration::from_millis(20),
    timeout: Duration::from_secs(2),
};

impl Rig {
    pub async fn new(priority: bool) -> Result<Rig, Error> {
        let url = support::amqp::amqp_url();
        let conn = Connection::connect(&url, Default::default()).await?;
        let ch = conn.create_channel().await?;
        let prefix = support::unique_name("notify");
        let topology = delivery::declare(&ch, &prefix, priority).await?;
        let client = redis::Client::open(support::redis::redis_url())?;
        let redis = client.get_multiplexed_async_connection().await?;
        let (push, email) = (Provider::new(), Provider::new());
        let push_url = providers::serve(push.clone()).await.map_err(io)?;
        let email_url = providers::serve(email.clone()).await.map_err(io)?;
        Ok(Rig {
            url,
            conn,
            ch,
            topology,
            redis,
            prefix,
            devices: Arc::new(Devices::default()),
            push,
            email,
            push_url,
            email_url,
            stop: watch::channel(false).0,
            running: Vec::new(),
        })
    }

    /// A worker for `channel`, not started yet.
    pub fn worker(&self, channel: Channel, policy: RetryPolicy) -> Worker {
        let provider_url = match channel {
            Channel::Push => &self.push_url,
            Channel::Email => &self.email_url,
        };
        let mut w = Worker::new(
            channel,
            &self.topology.queues[&channel],
            provider_url,
            self.devices.clone(),
            self.redis.clone(),
            &self.prefix,
        );
        w.policy = policy;
        w
    }

    pub fn start(&mut self, worker: &Arc<Worker>) {
        let stop = self.stop.subscribe();
        let run = worker.clone().run(self.url.clone(), stop);
        self.running.push(tokio::spawn(run));
    }

    pub async fn publish(&self, notes: &[Notification]) -> Result<(), Error> {
        delivery::publish(&self.ch, &self.topology, notes).await
    }

    /// Stops the workers, deletes the queues and the run's Redis keys.
    pub async fn finish(mut self) -> Result<(), Error> {
        let _ = self.stop.send(true);
        for mut handle in self.running.drain(..) {
            // A worker stops between messages; one still waiting on a
            // slow provider is cut off (its message goes back unacked).
            let wait = Duration::from_millis(100);
            match tokio::time::timeout(wait, &mut handle).await {
                Ok(Ok(result)) => result?,
                Ok(Err(_)) => {}
                Err(_) => handle.abort(),
            }
        }
        self.topology.delete(&self.ch).await?;
        delivery::delete_keys(&mut self.redis, &self.prefix).await?;
        self.conn.close(200, "done".into()).await?;
        Ok(())
    }
}

fn io(e: std::io::Error) -> Error {
    Error::NotTaken(if e.kind() == std::io::ErrorKind::AddrInUse {
        "port in use"
    } else {
        "loopback listener"
    })
}

/// Waits until a worker has settled `n` messages (acked or rejected).
pub async fn settled(w: &Worker, n: u64, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    let t = &w.tally;
    loop {
        let done = [&t.delivered, &t.already, &t.failed, &t.malformed]
            .iter()
            .map(|c| c.load(Ordering::SeqCst))
            .sum::<u64>();
        if done >= n {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// An event as a producer sends it: JSON bytes.
fn event(id: &str, kind: Kind, actor: &str, to: &str, target: &str) -> Vec<u8> {
    let e = Event {
        event_id: id.into(),
        kind,
        actor: actor.into(),
        recipient: to.into(),
        target: target.into(),
    };
    serde_json::to_vec(&e).unwrap_or_default()
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap_or(Timestamp::UNIX_EPOCH)
}

// ANCHOR: main_day
/// A day of events: five likes (one sent twice) and a comment for ana,
/// a like and a comment for ben (who opted out of email for likes), a
/// sign-in alert for ana, and at 23:30 in Berlin a comment for ana.
async fn day(rig: &mut Rig) -> Result<(), Error> {
    let mut svc = Service::new(
        rig.redis.clone(),
        &rig.prefix,
        SignedDuration::from_mins(2),
    );
    let quiet = Some(("22:00", "07:00"));
    let ana = Preferences::new("Europe/Berlin", quiet).map_err(cfg)?;
    let ben = Preferences::new("America/New_York", quiet).map_err(cfg)?;
    svc.prefs.insert("ana".into(), ana);
    svc.prefs.insert("ben".into(), ben);
    svc.opt_out("ben", Channel::Email, Kind::Like);
    rig.devices.register("ana", "ana-phone");
    rig.devices.register("ana", "ana-old-tablet"); // uninstalled
    rig.devices.register("ben", "ben-phone");
    rig.push
        .script()
        .unregistered
        .insert("ana-old-tablet".into());
    let faults = [503, 429].into();
    rig.email.script().faults.insert("ana".into(), faults);
    rig.email
        .script()
        .faults
        .insert("ben".into(), [503; 3].into());

    let noon = ts("2026-03-28T12:00:00Z");
    let mut events = Vec::new();
    for (i, who) in ["bo", "cy", "di", "ed", "fa"].iter().enumerate() {
        events.push(event(&format!("like-{i}"), Kind::Like, who, "ana", "p1"));
    }
    events.push(event("like-2", Kind::Like, "di", "ana", "p1")); // again
    events.push(event("c-1", Kind::Comment, "cy", "ana", "p1"));
    events.push(event("like-9", Kind::Like, "bo", "ben", "p9"));
    events.push(event("c-2", Kind::Comment, "ana", "ben", "p9"));
    events.push(event("s-1", Kind::Security, "auth", "ana", "Firefox"));
    events.push(br#"{"event_id":"x","kind":"like","actor":"bo"}"#.into());
    let mut ready = Vec::new();
    for body in &events {
        match rules::parse_event(body) {
            Ok(e) => ready.extend(svc.ingest(&e, noon).await?),
            Err(why) => println!("refused an event: {why}"),
        }
    }
    let later = noon + SignedDuration::from_mins(2);
    ready.extend(svc.flush(later));
    let night = ts("2026-03-28T22:30:00Z"); // 23:30 in Berlin
    let late =
        rules::parse_event(&event("c-3", Kind::Comment, "ed", "ana", "p2"))
            .map_err(cfg)?;
    ready.extend(svc.ingest(&late, night).await?);
    // ANCHOR_END: main_day

    // ANCHOR: main_deliver
    let c = &svc.counts;
    println!("service: {} events", events.len() + 1);
    println!(
        "  per channel: {} duplicates, {} opted out, {} into groups",
        c.duplicates, c.opted_out, c.aggregated
    );
    println!(
        "  {} ready now, {} held for quiet hours:",
        c.ready, c.deferred
    );
    for (until, n) in &svc.deferred {
        let tz = &svc.prefs[&n.user].time_zone;
        let local = until.to_zoned(tz.clone());
        println!("    {} {}: until {local} = {until}", n.user, n.id);
    }

    let push = Arc::new(rig.worker(Channel::Push, FAST));
    let email = Arc::new(rig.worker(Channel::Email, FAST));
    rig.start(&push);
    rig.start(&email);
    rig.publish(&ready).await?;
    delivery::publish_raw(&rig.ch, &rig.topology.queues[&Channel::Push], b"{")
        .await?;
    let per = |ch| ready.iter().filter(|n| n.channel == ch).count() as u64;
    let limit = Duration::from_secs(5);
    settled(&push, per(Channel::Push) + 1, limit).await;
    settled(&email, per(Channel::Email), limit).await;
    for (name, provider) in [("push", &rig.push), ("email", &rig.email)] {
        println!("{name} provider delivered:");
        let mut got = provider.delivered();
        got.sort_by(|a, b| a.key.cmp(&b.key));
        for d in got {
            println!("  {:<14} {}", d.to, d.text);
        }
    }
    let (p, e) = (&push.tally, &email.tally);
    let n = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::SeqCst);
    println!(
        "tokens pruned on 410: {}; retries: push {}, email {}",
        n(&p.pruned),
        n(&p.retries),
        n(&e.retries)
    );
    let dead = delivery::drain_dead(&rig.ch, &rig.topology.dead, 2).await?;
    let mut dead: Vec<String> = dead
        .into_iter()
        .map(|(body, reason)| {
            let id = serde_json::from_str::<Notification>(&body)
                .map_or(format!("{body:?}"), |n| n.id);
            format!("dead-lettered ({reason}): {id}")
        })
        .collect();
    dead.sort(); // two queues feed it: arrival order is a race
    for line in dead {
        println!("{line}");
    }
    Ok(())
}
// ANCHOR_END: main_deliver

fn cfg(e: String) -> Error {
    eprintln!("notification_service: {e}");
    Error::NotTaken("bad preferences")
}

pub fn notes(
    n: usize,
    kind: Kind,
    user: &str,
    ch: Channel,
) -> Vec<Notification> {
    (0..n)
        .map(|i| Notification {
            id: format!("n{i:02}"),
            user: user.into(),
            channel: ch,
            kind,
            text: format!("note {i}"),
        })
        .collect()
}

// ANCHOR: crash_run
/// Six emails; the worker dies after sending n01 (before recording it)
/// and after recording n03 (before acking it).
pub async fn crash_run(rig: &mut Rig) -> Result<Arc<Worker>, Error> {
    let worker = rig.worker(Channel::Email, FAST);
    if let Ok(mut plan) = worker.crashes.lock() {
        plan.insert("n01".into(), Crash::AfterSend);
        plan.insert("n03".into(), Crash::AfterRecord);
    }
    let worker = Arc::new(worker);
    rig.start(&worker);
    rig.publish(&notes(6, Kind::Comment, "ana", Channel::Email))
        .await?;
    settled(&worker, 6, Duration::from_secs(5)).await;
    Ok(worker)
}
// ANCHOR_END: crash_run

// ANCHOR: priority_run
/// Twenty likes wait in the push queue, then a sign-in alert arrives;
/// returns the alert's position among the deliveries (1 = first).
pub async fn priority_run(rig: &mut Rig) -> Result<usize, Error> {
    rig.devices.register("pat", "pat-phone");
    let mut backlog = notes(20, Kind::Like, "pat", Channel::Push);
    let mut alert = notes(1, Kind::Security, "pat", Channel::Push);
    alert[0].id = "alert".into();
    backlog.append(&mut alert);
    rig.publish(&backlog).await?; // all queued before a worker starts
    let worker = Arc::new(rig.worker(Channel::Push, FAST));
    rig.start(&worker);
    rig.push.wait_for(21, Duration::from_secs(5)).await;
    let order = rig.push.delivered();
    let at = order.iter().position(|d| d.key.starts_with("alert"));
    Ok(at.map_or(0, |i| i + 1))
}
// ANCHOR_END: priority_run

async fn demo() -> Result<(), Error> {
    let mut rig = Rig::new(true).await?;
    let day_result = day(&mut rig).await;
    rig.finish().await?;
    day_result?;

    let mut rig = Rig::new(true).await?;
    let w = crash_run(&mut rig).await?;
    let t = &w.tally;
    let n = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::SeqCst);
    println!("crash run: 6 emails, 2 worker crashes before the ack");
    println!(
        "  provider: {} requests, {} delivered, {} repeated keys refused",
        rig.email.requests.load(Ordering::SeqCst),
        rig.email.delivered().len(),
        rig.email.repeats.load(Ordering::SeqCst),
    );
    let twice = rig.email.per_message().values().filter(|&&c| c > 1).count();
    println!(
        "  worker: {} crashes, {} skipped as already delivered; \
         delivered twice: {twice}",
        n(&t.crashes),
        n(&t.already)
    );
    rig.finish().await?;

    for (priority, label) in [(true, "x-max-priority"), (false, "FIFO")] {
        let mut rig = Rig::new(priority).await?;
        let at = priority_run(&mut rig).await;
        rig.finish().await?;
        println!("{label} queue: the alert was delivered {} of 21", at?);
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let url = support::amqp::amqp_url();
    if let Err(e) = Connection::connect(&url, Default::default()).await {
        let what = "RabbitMQ (set AMQP_URL)";
        support::skip::exit_unavailable("notification_service", what, e);
    }
    if let Err(e) = support::redis::client() {
        let what = "Redis (set REDIS_URL)";
        support::skip::exit_unavailable("notification_service", what, e);
    }
    if let Err(e) = demo().await {
        eprintln!("notification_service: {e}");
        std::process::exit(1);
    }
}
