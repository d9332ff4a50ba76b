//! A test client (tokio-tungstenite) and the scripted session `main` runs
//! on two instances.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::{Config, Instance, ServerMsg, sign, store, unix_now};

/// What a client reads next: a message, or the close code (`None` for a
/// connection that ended without a close frame).
#[derive(Debug, PartialEq)]
pub enum Got {
    Msg(ServerMsg),
    Closed(Option<u16>),
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub ready: ServerMsg,
}

#[derive(Debug)]
pub enum Refused {
    /// The handshake's HTTP status (401, 403, ...).
    Status(u16),
    Other(String),
}

/// Opens a socket with `token` in the query string and `origin` if given,
/// and reads the server's `ready`.
pub async fn connect(
    url: &str,
    token: &str,
    origin: Option<&str>,
) -> Result<Client, Refused> {
    let other = |e: &dyn std::fmt::Display| Refused::Other(e.to_string());
    let mut req = format!("{url}?token={token}")
        .into_client_request()
        .map_err(|e| other(&e))?;
    if let Some(origin) = origin {
        let value = origin.parse().map_err(|e| other(&e))?;
        req.headers_mut().insert("origin", value);
    }
    let ws = match connect_async(req).await {
        Ok((ws, _)) => ws,
        Err(WsError::Http(r)) => {
            return Err(Refused::Status(r.status().as_u16()));
        }
        Err(e) => return Err(other(&e)),
    };
    let mut client = Client {
        ws,
        ready: ServerMsg::Error {
            error: String::new(),
        },
    };
    match client.next().await {
        Got::Msg(ready @ ServerMsg::Ready { .. }) => {
            client.ready = ready;
            Ok(client)
        }
        got => Err(Refused::Other(format!("expected ready, got {got:?}"))),
    }
}

impl Client {
    pub async fn raw(&mut self, m: Message) -> Result<(), WsError> {
        self.ws.send(m).await
    }

    pub async fn json(&mut self, v: serde_json::Value) {
        // A failed send shows up as `Closed` on the next read.
        let _ = self.raw(Message::Text(v.to_string().into())).await;
    }

    pub async fn send(&mut self, conv: i64, id: &str, body: &str) {
        self.json(
            json!({"type": "send", "conv": conv, "id": id, "body": body}),
        )
        .await;
    }

    /// The next message, within two seconds.
    pub async fn next(&mut self) -> Got {
        let wait = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Text(t))) => {
                        return match serde_json::from_str(&t) {
                            Ok(m) => Got::Msg(m),
                            Err(e) => Got::Msg(ServerMsg::Error {
                                error: format!("client: {e}"),
                            }),
                        };
                    }
                    Some(Ok(Message::Close(frame))) => {
                        return Got::Closed(frame.map(|f| f.code.into()));
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => return Got::Closed(None),
                }
            }
        });
        wait.await.unwrap_or(Got::Closed(None))
    }

    /// Reads until an ack (other messages are returned too, in order).
    pub async fn until_ack(&mut self) -> Vec<ServerMsg> {
        let mut seen = Vec::new();
        loop {
            match self.next().await {
                Got::Msg(m) => {
                    let done = matches!(m, ServerMsg::Ack { .. });
                    seen.push(m);
                    if done {
                        return seen;
                    }
                }
                Got::Closed(code) => {
                    seen.push(ServerMsg::Error {
                        error: format!("closed {code:?}"),
                    });
                    return seen;
                }
            }
        }
    }

    /// Reads (and so answers the server's pings) for `d`, dropping what
    /// arrives: an idle but live client.
    #[cfg(test)]
    pub async fn idle(&mut self, d: Duration) {
        let read = async { while let Some(Ok(_)) = self.ws.next().await {} };
        let _ = tokio::time::timeout(d, read).await;
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        // Wait for the server's close, so its `leave` has run.
        while let Some(Ok(_)) = self.ws.next().await {}
    }
}

pub fn token(secret: &[u8], user: &str) -> String {
    sign(secret, user, unix_now() + 3600)
}

fn show(m: &ServerMsg) -> String {
    match m {
        ServerMsg::Ack { seq, duplicate, .. } => {
            format!(
                "ack seq {seq}{}",
                if *duplicate { " (duplicate)" } else { "" }
            )
        }
        ServerMsg::Msg(s) => {
            format!("seq {} from {}: {:?}", s.seq, s.from, s.body)
        }
        ServerMsg::Synced { last, more, .. } => {
            format!("synced up to seq {last}, more: {more}")
        }
        other => format!("{other:?}"),
    }
}

// ANCHOR: demo
pub async fn demo() {
    let url = support::pg::database_url();
    let schema = support::unique_name("chat");
    let prefix = support::unique_name("chat");
    if let Err(e) = support::redis::client() {
        support::skip::exit_unavailable("chat_server", "Redis", e);
    }
    let members: &[&str] = &["alice", "bob"];
    if let Err(e) = store::prepare(&url, &schema, &[(1, members)]).await {
        support::skip::exit_unavailable("chat_server", "PostgreSQL", e);
    }
    let secret = b"demo secret";
    let (a, b) = match two_instances(secret, &schema, &prefix).await {
        Ok(ab) => ab,
        Err(e) => support::skip::exit_unavailable("chat_server", "a server", e),
    };
    session(secret, &a, &b).await;
    a.stop();
    b.stop();
    let _ = store::drop_schema(&url, &schema).await;
    cleanup_redis(&prefix).await;
}
// ANCHOR_END: demo

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub async fn two_instances(
    secret: &[u8],
    schema: &str,
    prefix: &str,
) -> Result<(Instance, Instance), BoxError> {
    let a = Instance::start(Config::new(secret), schema, prefix, 0).await?;
    let b = Instance::start(Config::new(secret), schema, prefix, 0).await?;
    Ok((a, b))
}

pub async fn cleanup_redis(prefix: &str) {
    let Ok(client) = support::redis::client() else {
        return;
    };
    let Ok(mut con) = client.get_multiplexed_async_connection().await else {
        return;
    };
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut con)
        .await
        .unwrap_or_default();
    if !keys.is_empty() {
        let _: redis::RedisResult<i64> =
            redis::cmd("DEL").arg(&keys).query_async(&mut con).await;
    }
}

async fn session(secret: &[u8], a: &Instance, b: &Instance) {
    let refused = |r: Result<Client, Refused>| match r {
        Err(Refused::Status(s)) => s.to_string(),
        Err(Refused::Other(e)) => e,
        Ok(_) => "accepted".into(),
    };
    let ok_token = token(secret, "alice");
    let bad_token = token(b"another secret", "alice");
    println!("handshakes refused before the upgrade");
    let r = connect(&a.url(), "", None).await;
    println!("  {:<32}{}", "no token:", refused(r));
    let r = connect(&a.url(), &bad_token, None).await;
    println!("  {:<32}{}", "token signed with another key:", refused(r));
    let r = connect(&a.url(), &ok_token, Some("https://evil.example")).await;
    println!("  {:<32}{}", "Origin https://evil.example:", refused(r));

    let origin = Some("https://chat.example");
    let (Ok(mut alice), Ok(mut bob)) = (
        connect(&a.url(), &ok_token, origin).await,
        connect(&b.url(), &token(secret, "bob"), origin).await,
    ) else {
        println!("could not connect");
        return;
    };
    println!("alice on instance A, bob on instance B");
    alice.send(1, "a-1", "hi bob").await;
    println!("  alice sends a-1:   {}", show(&alice.until_ack().await[0]));
    if let Got::Msg(m) = bob.next().await {
        println!("  bob gets:          {}", show(&m));
    }
    alice.send(1, "a-1", "hi bob").await;
    println!("  alice retries a-1: {}", show(&alice.until_ack().await[0]));
    bob.send(1, "b-1", "hi alice").await;
    println!("  bob sends b-1:     {}", show(&bob.until_ack().await[0]));
    if let Got::Msg(m) = alice.next().await {
        println!("  alice gets:        {}", show(&m));
    }

    bob.close().await;
    println!("bob disconnects; alice sends two more");
    for (id, body) in [("a-2", "are you there?"), ("a-3", "call me")] {
        alice.send(1, id, body).await;
        println!(
            "  alice sends {id}:   {}",
            show(&alice.until_ack().await[0])
        );
    }
    // The server clears bob's presence just after it answers his close.
    let mut online = Vec::new();
    for _ in 0..10 {
        online = presence(&mut alice, &["alice", "bob"]).await;
        if online.len() == 1 {
            break;
        }
        // Slowly: the query counts against alice's rate limit too.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("  online: {online:?}");
    let Ok(mut bob) = connect(&b.url(), &token(secret, "bob"), origin).await
    else {
        return;
    };
    println!("bob reconnects and syncs after seq 2, the last he saw");
    bob.json(json!({"type": "sync", "conv": 1, "after": 2}))
        .await;
    while let Got::Msg(m) = bob.next().await {
        println!("  {}", show(&m));
        if matches!(m, ServerMsg::Synced { .. }) {
            break;
        }
    }

    println!("limits on one connection");
    alice.send(1, "big", &"x".repeat(5000)).await;
    println!(
        "  a 5,000-byte message: {}",
        closed_with(alice.next().await)
    );
    let Ok(mut alice) = connect(&a.url(), &ok_token, origin).await else {
        return;
    };
    for i in 0..15 {
        alice.send(1, &format!("flood-{i}"), "spam").await;
    }
    let (acks, end) = acks_until_closed(&mut alice).await;
    // 10 is the burst; the refill may add one while they are stored.
    let first = if (10..=11).contains(&acks) {
        "10 or 11"
    } else {
        "?"
    };
    println!(
        "  15 messages at once: {first} acked, then {}",
        closed_with(end)
    );
    bob.close().await;
}

pub async fn presence(c: &mut Client, users: &[&str]) -> Vec<String> {
    c.json(json!({"type": "presence", "users": users})).await;
    match c.next().await {
        Got::Msg(ServerMsg::Presence { online }) => online,
        _ => Vec::new(),
    }
}

/// Counts acks until the server closes; returns them and how it closed.
pub async fn acks_until_closed(c: &mut Client) -> (usize, Got) {
    let mut acks = 0;
    loop {
        match c.next().await {
            Got::Msg(ServerMsg::Ack { .. }) => acks += 1,
            Got::Msg(_) => {}
            end @ Got::Closed(_) => return (acks, end),
        }
    }
}

fn closed_with(got: Got) -> String {
    match got {
        Got::Closed(Some(code)) => format!("closed with {code}"),
        other => format!("{other:?}"),
    }
}
