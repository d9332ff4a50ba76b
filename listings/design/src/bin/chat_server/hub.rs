//! Fan-out between server instances through Redis pub/sub (one channel per
//! conversation, subscribed while a local connection is in it), and
//! presence as expiring Redis keys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use redis::AsyncCommands;
use redis::aio::{MultiplexedConnection, PubSubSink};
use tokio::sync::mpsc;

use crate::store::Stamped;

/// What a connection's writer receives from the hub.
pub type Outbox = mpsc::Sender<Stamped>;

/// What travels on a conversation's channel: the message, and the
/// connection that sent it (which already has its ack).
#[derive(serde::Serialize, serde::Deserialize)]
struct Published {
    origin: u64,
    msg: Stamped,
}

pub struct Hub {
    prefix: String,
    /// Written into presence keys: which instance saw the user last.
    instance: String,
    presence_ttl: Duration,
    redis: MultiplexedConnection,
    /// Also the lock that orders every subscribe and unsubscribe.
    sink: tokio::sync::Mutex<PubSubSink>,
    local: Mutex<Local>,
}

#[derive(Default)]
struct Local {
    /// conversation -> connection id -> its outbox
    rooms: HashMap<i64, HashMap<u64, Outbox>>,
    /// user -> connections on this instance
    users: HashMap<String, usize>,
}

impl Hub {
    pub async fn start(
        client: &redis::Client,
        prefix: &str,
        instance: &str,
        presence_ttl: Duration,
    ) -> redis::RedisResult<Arc<Hub>> {
        let (sink, mut stream) = client.get_async_pubsub().await?.split();
        let hub = Arc::new(Hub {
            prefix: prefix.to_string(),
            instance: instance.to_string(),
            presence_ttl,
            redis: client.get_multiplexed_async_connection().await?,
            sink: tokio::sync::Mutex::new(sink),
            local: Mutex::new(Local::default()),
        });
        let weak = Arc::downgrade(&hub);
        tokio::spawn(async move {
            while let Some(msg) = stream.next().await {
                let Some(hub) = weak.upgrade() else { break };
                let Ok(p) = serde_json::from_slice(msg.get_payload_bytes())
                else {
                    continue; // not ours: ignore rather than crash
                };
                hub.deliver(p);
            }
        });
        Ok(hub)
    }

    fn channel(&self, conv: i64) -> String {
        format!("{}:conv:{conv}", self.prefix)
    }

    pub fn presence_key(&self, user: &str) -> String {
        format!("{}:presence:{user}", self.prefix)
    }

    // ANCHOR: deliver
    /// From Redis to every local connection in the conversation but the
    /// sender's. `try_send`: a slow client's full outbox loses the event
    /// (it catches up by sequence), it never stalls the others.
    fn deliver(&self, p: Published) {
        let local = self.local.lock().unwrap();
        let Some(room) = local.rooms.get(&p.msg.conv) else {
            return;
        };
        for (conn, outbox) in room {
            if *conn != p.origin {
                let _ = outbox.try_send(p.msg.clone());
            }
        }
    }

    /// After the message is committed: one PUBLISH reaches every
    /// instance that has a member of the conversation connected.
    pub async fn publish(
        &self,
        origin: u64,
        msg: &Stamped,
    ) -> redis::RedisResult<()> {
        let payload = serde_json::to_string(&Published {
            origin,
            msg: msg.clone(),
        })
        .map_err(|e| redis::RedisError::from(std::io::Error::other(e)))?;
        let mut redis = self.redis.clone();
        redis.publish(self.channel(msg.conv), payload).await
    }
    // ANCHOR_END: deliver

    // ANCHOR: join
    /// Registers a connection: subscribes this instance to conversations
    /// it did not follow yet, and marks the user present.
    pub async fn join(
        &self,
        user: &str,
        conn: u64,
        convs: &[i64],
        outbox: Outbox,
    ) -> redis::RedisResult<()> {
        let mut sink = self.sink.lock().await;
        let new: Vec<String> = {
            let mut local = self.local.lock().unwrap();
            *local.users.entry(user.to_string()).or_default() += 1;
            let mut new = Vec::new();
            for &c in convs {
                let room = local.rooms.entry(c).or_default();
                if room.is_empty() {
                    new.push(self.channel(c));
                }
                room.insert(conn, outbox.clone());
            }
            new
        };
        if !new.is_empty() {
            sink.subscribe(&new).await?; // returns once Redis confirms
        }
        drop(sink);
        self.refresh_presence(user).await
    }

    /// `SET key instance PX ttl`: present while some connection keeps
    /// refreshing it; gone `ttl` after the last refresh, crash or not.
    pub async fn refresh_presence(&self, user: &str) -> redis::RedisResult<()> {
        let ttl = u64::try_from(self.presence_ttl.as_millis()).unwrap_or(1);
        let mut redis = self.redis.clone();
        redis::cmd("SET")
            .arg(self.presence_key(user))
            .arg(&self.instance)
            .arg("PX")
            .arg(ttl)
            .query_async(&mut redis)
            .await
    }
    // ANCHOR_END: join

    /// Unregisters a connection; unsubscribes from conversations no local
    /// connection is in, and clears the user's presence if this instance
    /// wrote it and has no other connection of theirs.
    pub async fn leave(
        &self,
        user: &str,
        conn: u64,
        convs: &[i64],
    ) -> redis::RedisResult<()> {
        let mut sink = self.sink.lock().await;
        let (gone, last) = {
            let mut local = self.local.lock().unwrap();
            let mut gone = Vec::new();
            for c in convs {
                if let Some(room) = local.rooms.get_mut(c) {
                    room.remove(&conn);
                    if room.is_empty() {
                        local.rooms.remove(c);
                        gone.push(self.channel(*c));
                    }
                }
            }
            let n = local.users.entry(user.to_string()).or_default();
            *n = n.saturating_sub(1);
            let last = *n == 0;
            if last {
                local.users.remove(user);
            }
            (gone, last)
        };
        if !gone.is_empty() {
            sink.unsubscribe(&gone).await?;
        }
        drop(sink);
        if last {
            // Delete only our own value: another instance may hold the
            // user's presence now.
            let script = redis::Script::new(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then \
                 return redis.call('DEL', KEYS[1]) end return 0",
            );
            let mut redis = self.redis.clone();
            let _: i64 = script
                .key(self.presence_key(user))
                .arg(&self.instance)
                .invoke_async(&mut redis)
                .await?;
        }
        Ok(())
    }

    /// Which of `users` are present (one MGET).
    pub async fn online(
        &self,
        users: &[String],
    ) -> redis::RedisResult<Vec<String>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> =
            users.iter().map(|u| self.presence_key(u)).collect();
        let mut redis = self.redis.clone();
        let found: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut redis)
            .await?;
        Ok(users
            .iter()
            .zip(found)
            .filter(|(_, v)| v.is_some())
            .map(|(u, _)| u.clone())
            .collect())
    }
}
