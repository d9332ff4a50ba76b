//! The notification service: takes events, applies the rules, removes
//! duplicates (Redis `SET NX` on event + user + channel), holds
//! aggregated kinds for their window and quiet-hour pushes until the
//! quiet hours end, and hands the rest to the queues.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use redis::aio::MultiplexedConnection;

use crate::rules::{
    Aggregator, Channel, Decision, Event, Kind, Notification, Preferences,
    decide, render,
};

/// What happened to events, counted per (event, channel).
#[derive(Debug, Default, PartialEq)]
pub struct Counts {
    pub duplicates: u32,
    pub opted_out: u32,
    pub no_preferences: u32,
    pub aggregated: u32,
    pub deferred: u32,
    pub ready: u32,
}

pub struct Service {
    pub prefs: HashMap<String, Preferences>,
    redis: MultiplexedConnection,
    prefix: String,
    dedup_ttl_s: u64,
    aggregator: Aggregator,
    /// Held by quiet hours: (due, notification). A scheduler would keep
    /// these in a sorted set or a table and publish them when due.
    pub deferred: Vec<(Timestamp, Notification)>,
    pub counts: Counts,
}

impl Service {
    pub fn new(
        redis: MultiplexedConnection,
        prefix: &str,
        window: SignedDuration,
    ) -> Self {
        Service {
            prefs: HashMap::new(),
            redis,
            prefix: prefix.to_string(),
            dedup_ttl_s: 24 * 3600,
            aggregator: Aggregator::new(window),
            deferred: Vec::new(),
            counts: Counts::default(),
        }
    }

    // ANCHOR: dedup
    /// True the first time (event, user, channel) is seen within the
    /// TTL: `SET key 1 NX EX ttl` answers OK once, then nil.
    async fn first_time(
        &mut self,
        e: &Event,
        channel: Channel,
    ) -> redis::RedisResult<bool> {
        let key = format!(
            "{}:seen:{}:{}:{}",
            self.prefix,
            e.event_id,
            e.recipient,
            channel.name()
        );
        let set: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(self.dedup_ttl_s)
            .query_async(&mut self.redis)
            .await?;
        Ok(set.is_some())
    }
    // ANCHOR_END: dedup

    // ANCHOR: ingest
    /// One event at `now`: the notifications to publish now.
    pub async fn ingest(
        &mut self,
        e: &Event,
        now: Timestamp,
    ) -> redis::RedisResult<Vec<Notification>> {
        let mut ready = Vec::new();
        let Some(prefs) = self.prefs.get(&e.recipient).cloned() else {
            self.counts.no_preferences += 1;
            return Ok(ready);
        };
        for channel in Channel::ALL {
            if !self.first_time(e, channel).await? {
                self.counts.duplicates += 1;
                continue;
            }
            match decide(&prefs, e.kind, channel, now) {
                Decision::Skip(_) => self.counts.opted_out += 1,
                _ if e.kind.aggregated() => {
                    self.counts.aggregated += 1;
                    self.aggregator.add(e, channel, now);
                }
                decision => {
                    let n = Notification {
                        id: format!("{}:{}", e.event_id, channel.name()),
                        user: e.recipient.clone(),
                        channel,
                        kind: e.kind,
                        text: render(e),
                    };
                    self.route(decision, n, &mut ready);
                }
            }
        }
        Ok(ready)
    }

    /// Closes the aggregation windows due at `now`; the groups go
    /// through quiet hours like any other notification.
    pub fn flush(&mut self, now: Timestamp) -> Vec<Notification> {
        let mut ready = Vec::new();
        for n in self.aggregator.due(now) {
            let decision = match self.prefs.get(&n.user) {
                Some(p) => decide(p, n.kind, n.channel, now),
                None => Decision::Skip("no preferences"),
            };
            self.route(decision, n, &mut ready);
        }
        ready
    }
    // ANCHOR_END: ingest

    fn route(
        &mut self,
        decision: Decision,
        n: Notification,
        ready: &mut Vec<Notification>,
    ) {
        match decision {
            Decision::Send => {
                self.counts.ready += 1;
                ready.push(n);
            }
            Decision::Defer(until) => {
                self.counts.deferred += 1;
                self.deferred.push((until, n));
            }
            Decision::Skip(_) => self.counts.opted_out += 1,
        }
    }

    pub fn opt_out(&mut self, user: &str, channel: Channel, kind: Kind) {
        if let Some(p) = self.prefs.get_mut(user) {
            p.opted_out.insert((channel, kind));
        }
    }
}
