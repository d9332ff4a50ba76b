use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::client::{
    self, Client, Got, Refused, acks_until_closed, connect, presence, token,
};
use super::*;

const SECRET: &[u8] = b"test secret";
const ORIGIN: Option<&str> = Some("https://chat.example");

/// A scratch schema and Redis prefix, and `n` instances sharing both.
struct Fixture {
    schema: String,
    prefix: String,
    instances: Vec<Instance>,
}

async fn fixture(
    test: &str,
    n: usize,
    tweak: fn(&mut Config),
) -> Option<Fixture> {
    let redis = support::redis::client_in_test(test)?;
    drop(redis);
    let url = support::pg::database_url();
    let schema = support::unique_name("chat");
    let prefix = support::unique_name("chat");
    let convs: &[(i64, &[&str])] =
        &[(1, &["alice", "bob", "carol"]), (2, &["carol"])];
    let prepared = store::prepare(&url, &schema, convs).await;
    support::skip::in_test(test, "PostgreSQL", prepared)?;
    let mut instances = Vec::new();
    for _ in 0..n {
        let mut cfg = Config::new(SECRET);
        tweak(&mut cfg);
        instances
            .push(Instance::start(cfg, &schema, &prefix, 0).await.unwrap());
    }
    Some(Fixture {
        schema,
        prefix,
        instances,
    })
}

impl Fixture {
    fn url(&self, i: usize) -> String {
        self.instances[i].url()
    }

    async fn join(&self, i: usize, user: &str) -> Client {
        connect(&self.url(i), &token(SECRET, user), ORIGIN)
            .await
            .unwrap()
    }

    async fn db(&self) -> tokio_postgres::Client {
        store::connect(&support::pg::database_url(), &self.schema)
            .await
            .unwrap()
    }

    async fn redis(&self) -> redis::aio::MultiplexedConnection {
        let client = support::redis::client().unwrap();
        client.get_multiplexed_async_connection().await.unwrap()
    }

    async fn finish(self) {
        for i in self.instances {
            i.stop();
        }
        store::drop_schema(&support::pg::database_url(), &self.schema)
            .await
            .unwrap();
        client::cleanup_redis(&self.prefix).await;
    }
}

fn ack(m: &ServerMsg) -> (i64, bool) {
    match m {
        ServerMsg::Ack { seq, duplicate, .. } => (*seq, *duplicate),
        other => panic!("expected an ack, got {other:?}"),
    }
}

async fn last_ack(c: &mut Client) -> (i64, bool) {
    ack(c.until_ack().await.last().unwrap())
}

// ---------------------------------------------------------------------
// The handshake.

/// Sends a handshake by hand and returns the response head and the bytes
/// read after it.
async fn raw_handshake(url: &str, extra: &str) -> (String, Vec<u8>) {
    let (_, head, rest) = raw_open(url, extra).await;
    (head, rest)
}

/// The same, keeping the connection.
async fn raw_open(url: &str, extra: &str) -> (TcpStream, String, Vec<u8>) {
    let addr = url.trim_start_matches("ws://").trim_end_matches("/ws");
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /ws{extra} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = Duration::from_secs(2);
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(deadline, tcp.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "connection closed during the handshake");
        got.extend_from_slice(&buf[..n]);
    }
    let end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
    let mut rest = got[end..].to_vec();
    if head.starts_with("http/1.1 101") {
        while rest.len() < 2 {
            let n = tokio::time::timeout(deadline, tcp.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0);
            rest.extend_from_slice(&buf[..n]);
        }
    }
    (tcp, head, rest)
}

// ANCHOR: rfc_example
#[tokio::test]
async fn the_handshake_gives_the_accept_value_of_rfc_6455_section_1_3() {
    let test = "the_handshake_gives_the_accept_value_of_rfc_6455_section_1_3";
    let Some(f) = fixture(test, 1, |_| {}).await else {
        return;
    };
    let query = format!("?token={}", token(SECRET, "alice"));
    let (head, first_frame) = raw_handshake(&f.url(0), &query).await;
    assert!(
        head.starts_with("http/1.1 101 switching protocols\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\nupgrade: websocket\r\n"), "{head}");
    // base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
    let accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".to_lowercase();
    assert!(
        head.contains(&format!("sec-websocket-accept: {accept}\r\n")),
        "{head}"
    );
    // The server's first frame (`ready`): FIN and opcode 1 (text), and
    // no mask bit, as frames from a server are never masked.
    assert_eq!(first_frame[0], 0x81);
    assert_eq!(first_frame[1] & 0x80, 0);
    f.finish().await;
}
// ANCHOR_END: rfc_example

#[tokio::test]
async fn a_bearer_header_works_as_well_as_the_query_string() {
    let test = "a_bearer_header_works_as_well_as_the_query_string";
    let Some(f) = fixture(test, 1, |_| {}).await else {
        return;
    };
    let addr = f.instances[0].addr;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {}\r\n\r\n",
        token(SECRET, "bob")
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut buf = [0u8; 12];
    tcp.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"HTTP/1.1 101");
    f.finish().await;
}

// ANCHOR: refusals
#[tokio::test]
async fn bad_tokens_get_401_and_foreign_origins_403_before_the_upgrade() {
    let test = "bad_tokens_get_401_and_foreign_origins_403_before_the_upgrade";
    let Some(f) = fixture(test, 1, |_| {}).await else {
        return;
    };
    let url = f.url(0);
    let good = token(SECRET, "alice");
    let expired = sign(SECRET, "alice", unix_now() - 1);
    let forged = sign(b"not our secret", "alice", unix_now() + 60);
    // alice's signature on a token that names bob
    let swapped = good.replacen("alice", "bob", 1);
    let status = |r: Result<Client, Refused>| match r {
        Err(Refused::Status(s)) => s,
        Err(Refused::Other(e)) => panic!("{e}"),
        Ok(_) => 101,
    };
    for bad in ["", "nonsense", "a.b.c", &expired, &forged, &swapped] {
        assert_eq!(status(connect(&url, bad, ORIGIN).await), 401, "{bad}");
    }
    let evil = Some("https://evil.example");
    assert_eq!(status(connect(&url, &good, evil).await), 403);
    // A look-alike is not the same origin.
    let near = Some("https://chat.example.evil.example");
    assert_eq!(status(connect(&url, &good, near).await), 403);
    assert_eq!(status(connect(&url, &good, ORIGIN).await), 101);
    let upper = Some("HTTPS://CHAT.EXAMPLE");
    assert_eq!(status(connect(&url, &good, upper).await), 101);
    // No Origin: not a browser, and the token authenticates it.
    assert_eq!(status(connect(&url, &good, None).await), 101);
    f.finish().await;
}
// ANCHOR_END: refusals

#[tokio::test]
async fn what_is_not_a_websocket_handshake_gets_400_and_a_401_a_challenge() {
    let test =
        "what_is_not_a_websocket_handshake_gets_400_and_a_401_a_challenge";
    let Some(f) = fixture(test, 1, |_| {}).await else {
        return;
    };
    let addr = f.instances[0].addr;
    let token = token(SECRET, "alice");
    let plain = format!(
        "GET /ws?token={token} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    );
    // RFC 6455, 4.2.2 asks for an error "such as 426" and a
    // Sec-WebSocket-Version header; axum 0.8.9 sends 400 and no header.
    let old_version = format!(
        "GET /ws?token={token} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade, close\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 8\r\n\r\n"
    );
    for request in [plain, old_version] {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut head = String::new();
        tcp.read_to_string(&mut head).await.unwrap();
        assert!(head.starts_with("HTTP/1.1 400"), "{head}");
        let fields = head.split("\r\n\r\n").next().unwrap().to_lowercase();
        assert!(!fields.contains("sec-websocket-version"), "{head}");
    }
    let (head, _) = raw_handshake(&f.url(0), "").await;
    assert!(head.starts_with("http/1.1 401"), "{head}");
    assert!(head.contains("\r\nwww-authenticate: bearer\r\n"), "{head}");
    f.finish().await;
}

// ANCHOR: engine_io
#[tokio::test]
async fn a_socket_io_client_finds_no_engine_io_endpoint_here() {
    let test = "a_socket_io_client_finds_no_engine_io_endpoint_here";
    let Some(f) = fixture(test, 1, |_| {}).await else {
        return;
    };
    // The first request of a Socket.IO client (Engine.IO protocol v4,
    // HTTP long-polling first): it expects `0{"sid":...}`, an open packet.
    let addr = f.instances[0].addr;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n\
         Host: {addr}\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    f.finish().await;
}
// ANCHOR_END: engine_io

// ---------------------------------------------------------------------
// Messages.

// ANCHOR: two_instances
#[tokio::test]
async fn clients_on_two_instances_talk_through_redis() {
    let test = "clients_on_two_instances_talk_through_redis";
    let Some(f) = fixture(test, 2, |_| {}).await else {
        return;
    };
    let mut alice = f.join(0, "alice").await;
    let mut bob = f.join(1, "bob").await;
    alice.send(1, "a-1", "hi bob").await;
    assert_eq!(last_ack(&mut alice).await, (1, false));
    let Got::Msg(ServerMsg::Msg(got)) = bob.next().await else {
        panic!("bob got nothing");
    };
    assert_eq!(
        (got.seq, got.from.as_str(), got.body.as_str()),
        (1, "alice", "hi bob")
    );
    bob.send(1, "b-1", "hi alice").await;
    assert_eq!(last_ack(&mut bob).await, (2, false));
    let Got::Msg(ServerMsg::Msg(got)) = alice.next().await else {
        panic!("alice got nothing");
    };
    assert_eq!((got.seq, got.from.as_str()), (2, "bob"));
    f.finish().await;
}
// ANCHOR_END: two_instances

// ANCHOR: retry
#[tokio::test]
async fn a_retried_send_is_stored_once_and_gets_the_same_ack() {
    let test = "a_retried_send_is_stored_once_and_gets_the_same_ack";
    let Some(f) = fixture(test, 2, |_| {}).await else {
        return;
    };
    let mut alice = f.join(0, "alice").await;
    alice.send(1, "a-1", "once").await;
    assert_eq!(last_ack(&mut alice).await, (1, false));
    alice.send(1, "a-1", "once").await; // the ack was lost, say
    assert_eq!(last_ack(&mut alice).await, (1, true));
    // The same id from two of alice's devices, on two instances, at once:
    // we hold the conversation's row lock until both sends wait on it.
    let mut phone = f.join(1, "alice").await;
    let mut db = f.db().await;
    let lock = db.transaction().await.unwrap();
    lock.execute("SELECT 1 FROM conversations WHERE id = 1 FOR UPDATE", &[])
        .await
        .unwrap();
    alice.send(1, "a-2", "twice").await;
    phone.send(1, "a-2", "twice").await;
    wait_for_blocked(&lock, 2).await;
    lock.commit().await.unwrap();
    let (x, y) = (last_ack(&mut alice).await, last_ack(&mut phone).await);
    assert_eq!(x.0, y.0);
    assert!(x.1 != y.1, "exactly one of them stored it: {x:?} {y:?}");
    let row = db
        .query_one(
            "SELECT count(*), max(seq), (SELECT last_seq \
             FROM conversations WHERE id = 1) FROM messages",
            &[],
        )
        .await
        .unwrap();
    let (rows, max, last): (i64, i64, i64) =
        (row.get(0), row.get(1), row.get(2));
    assert_eq!((rows, max, last), (2, 2, 2), "no gap left by the retry");
    f.finish().await;
}
// ANCHOR_END: retry

/// Waits until `n` sessions wait, directly or in a queue, on the locks
/// `tx` holds.
async fn wait_for_blocked(tx: &tokio_postgres::Transaction<'_>, n: i64) {
    let query = "WITH RECURSIVE blocked(pid) AS ( \
        SELECT pid FROM pg_stat_activity \
        WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid)) \
        UNION SELECT a.pid FROM pg_stat_activity a, blocked b \
        WHERE b.pid = ANY(pg_blocking_pids(a.pid))) \
        SELECT count(*) FROM blocked";
    let t = Instant::now();
    while tx.query_one(query, &[]).await.unwrap().get::<_, i64>(0) < n {
        assert!(t.elapsed() < Duration::from_secs(2), "sends not blocked");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn concurrent_senders_on_two_instances_get_gapless_sequences() {
    let test = "concurrent_senders_on_two_instances_get_gapless_sequences";
    let Some(f) = fixture(test, 2, |_| {}).await else {
        return;
    };
    let mut tasks = Vec::new();
    for (i, user) in ["alice", "bob", "carol"].into_iter().enumerate() {
        let mut c = f.join(i % 2, user).await;
        tasks.push(tokio::spawn(async move {
            for n in 0..8 {
                c.send(1, &format!("{user}-{n}"), "x").await;
            }
            let mut seqs = Vec::new();
            while seqs.len() < 8 {
                match c.next().await {
                    Got::Msg(ServerMsg::Ack { seq, .. }) => seqs.push(seq),
                    Got::Msg(_) => {} // the others' messages
                    Got::Closed(code) => panic!("closed {code:?}"),
                }
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let seqs = t.await.unwrap();
        assert!(
            seqs.is_sorted(),
            "one sender's acks come in order: {seqs:?}"
        );
        all.extend(seqs);
    }
    all.sort();
    assert_eq!(all, (1..=24).collect::<Vec<i64>>());
    let db = f.db().await;
    let rows = db
        .query("SELECT seq FROM messages ORDER BY seq", &[])
        .await
        .unwrap();
    let stored: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(stored, (1..=24).collect::<Vec<i64>>());
    f.finish().await;
}

// ANCHOR: reconnect
#[tokio::test]
async fn a_reconnecting_client_fetches_what_it_missed() {
    let test = "a_reconnecting_client_fetches_what_it_missed";
    let Some(f) = fixture(test, 2, |_| {}).await else {
        return;
    };
    let mut alice = f.join(0, "alice").await;
    let bob = f.join(1, "bob").await;
    alice.send(1, "a-1", "seen").await;
    last_ack(&mut alice).await;
    bob.close().await; // bob's last sequence: 1
    for n in 2..=4 {
        alice
            .send(1, &format!("a-{n}"), &format!("missed {n}"))
            .await;
        last_ack(&mut alice).await;
    }
    let mut bob = f.join(1, "bob").await;
    bob.json(json!({"type": "sync", "conv": 1, "after": 1}))
        .await;
    let mut got = Vec::new();
    loop {
        match bob.next().await {
            Got::Msg(ServerMsg::Msg(m)) => got.push((m.seq, m.body)),
            Got::Msg(ServerMsg::Synced { last, more, .. }) => {
                assert_eq!((last, more), (4, false));
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    let want: Vec<(i64, String)> =
        (2..=4).map(|n| (n, format!("missed {n}"))).collect();
    assert_eq!(got, want);
    f.finish().await;
}
// ANCHOR_END: reconnect

// ANCHOR: presence
#[tokio::test]
async fn presence_is_an_expiring_key_kept_alive_by_the_connection() {
    let test = "presence_is_an_expiring_key_kept_alive_by_the_connection";
    let tweak = |c: &mut Config| {
        c.presence_ttl = Duration::from_millis(300);
        c.per_second = 100.0; // the test polls
    };
    let Some(f) = fixture(test, 2, tweak).await else {
        return;
    };
    let mut redis = f.redis().await;
    let key = f.instances[0].app.hub.presence_key("bob");
    let mut bob = f.join(1, "bob").await;
    let mut alice = f.join(0, "alice").await;
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!((1..=300).contains(&ttl), "{ttl}");
    // Over two TTLs later bob is still there: his connection refreshes it
    // while both clients answer the server's pings.
    let idle = Duration::from_millis(650);
    tokio::join!(bob.idle(idle), alice.idle(idle));
    assert_eq!(
        presence(&mut alice, &["alice", "bob", "carol"]).await,
        ["alice", "bob"]
    );
    bob.close().await;
    let t = Instant::now();
    while presence(&mut alice, &["bob"]).await == ["bob"] {
        assert!(t.elapsed() < Duration::from_secs(1), "bob still online");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A crashed instance refreshes nothing: its users' keys expire.
    let set_at = Instant::now();
    f.instances[1]
        .app
        .hub
        .refresh_presence("carol")
        .await
        .unwrap();
    assert_eq!(presence(&mut alice, &["carol"]).await, ["carol"]);
    while !presence(&mut alice, &["carol"]).await.is_empty() {
        assert!(set_at.elapsed() < Duration::from_secs(2), "still online");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(set_at.elapsed() >= Duration::from_millis(300), "too soon");
    f.finish().await;
}
// ANCHOR_END: presence

// ANCHOR: half_open
#[tokio::test]
async fn a_client_that_stops_answering_pings_is_dropped_and_goes_offline() {
    let test =
        "a_client_that_stops_answering_pings_is_dropped_and_goes_offline";
    let tweak = |c: &mut Config| {
        c.presence_ttl = Duration::from_millis(300);
        c.per_second = 100.0; // the test polls
    };
    let Some(f) = fixture(test, 2, tweak).await else {
        return;
    };
    let mut alice = f.join(0, "alice").await;
    // bob never reads again, so he never answers a ping: to the server he
    // is a half-open connection, like a phone that lost its network.
    let t = Instant::now();
    let mut bob = f.join(1, "bob").await;
    assert_eq!(presence(&mut alice, &["bob"]).await, ["bob"]);
    while presence(&mut alice, &["bob"]).await == ["bob"] {
        assert!(t.elapsed() < Duration::from_secs(2), "bob still online");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "dropped too soon"
    );
    // The server dropped the connection without a close frame.
    assert_eq!(bob.next().await, Got::Closed(None));
    f.finish().await;
}
// ANCHOR_END: half_open

// ---------------------------------------------------------------------
// Limits and bad input.

// ANCHOR: limits
#[tokio::test]
async fn too_big_closes_with_1009_and_a_flood_with_1008() {
    let test = "too_big_closes_with_1009_and_a_flood_with_1008";
    // One token every 10 s: the burst alone decides, however slow the
    // machine is while the first ten are stored.
    let slow = |c: &mut Config| c.per_second = 0.1;
    let Some(f) = fixture(test, 1, slow).await else {
        return;
    };
    let mut alice = f.join(0, "alice").await;
    // Exactly at the limit (4,096 bytes of JSON) passes.
    let frame = json!({"type": "send", "conv": 1, "id": "max", "body": ""});
    let pad = 4096 - frame.to_string().len();
    alice.send(1, "max", &"x".repeat(pad)).await;
    assert_eq!(last_ack(&mut alice).await, (1, false));
    alice.send(1, "big", &"x".repeat(pad + 1)).await;
    assert_eq!(
        alice.next().await,
        Got::Closed(Some(close::MESSAGE_TOO_BIG))
    );

    let mut bob = f.join(0, "bob").await;
    for n in 0..15 {
        bob.send(1, &format!("flood-{n}"), "spam").await;
    }
    let (acks, end) = acks_until_closed(&mut bob).await;
    assert_eq!(acks, 10, "the burst");
    assert_eq!(end, Got::Closed(Some(close::POLICY_VIOLATION)));
    let db = f.db().await;
    let row = db
        .query_one("SELECT count(*) FROM messages", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 1 + acks as i64, "nothing else stored");
    f.finish().await;
}
// ANCHOR_END: limits

#[tokio::test]
async fn a_frame_announcing_more_than_the_library_cap_is_refused_at_once() {
    let test =
        "a_frame_announcing_more_than_the_library_cap_is_refused_at_once";
    let Some(f) = fixture(test, 1, |_| {}).await else {
        return;
    };
    let query = format!("?token={}", token(SECRET, "alice"));
    let (mut tcp, head, _) = raw_open(&f.url(0), &query).await;
    assert!(head.starts_with("http/1.1 101"), "{head}");
    // A masked text frame's header announcing 1 MiB, and no payload: with
    // tungstenite's default 16 MiB frame cap the server would wait for it.
    let mut header = vec![0x81, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 20).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]); // the masking key
    tcp.write_all(&header).await.unwrap();
    let mut buf = [0u8; 1024];
    let dropped = tokio::time::timeout(Duration::from_secs(2), async {
        while matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {}
    });
    assert!(dropped.await.is_ok(), "the server waited for the payload");
    f.finish().await;
}

#[tokio::test]
async fn a_binary_frame_closes_with_1003() {
    let test = "a_binary_frame_closes_with_1003";
    let Some(f) = fixture(test, 1, |_| {}).await else {
        return;
    };
    let mut alice = f.join(0, "alice").await;
    alice
        .raw(WsMessage::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(
        alice.next().await,
        Got::Closed(Some(close::UNSUPPORTED_DATA))
    );
    f.finish().await;
}

#[tokio::test]
async fn bad_messages_get_an_error_store_nothing_and_keep_the_connection() {
    let test =
        "bad_messages_get_an_error_store_nothing_and_keep_the_connection";
    let Some(f) = fixture(test, 1, |_| {}).await else {
        return;
    };
    let mut alice = f.join(0, "alice").await;
    let long_id = "i".repeat(65);
    let bad = [
        "not json".to_string(),
        json!({"type": "shout"}).to_string(),
        json!({"type": "send", "conv": 1, "body": "no id"}).to_string(),
        json!({"type": "send", "conv": 1, "id": long_id, "body": "x"})
            .to_string(),
        json!({"type": "send", "conv": 1, "id": "nul", "body": "a\u{0}b"})
            .to_string(),
        json!({"type": "send", "conv": 2, "id": "x", "body": "not hers"})
            .to_string(),
        json!({"type": "send", "conv": 99, "id": "x", "body": "nowhere"})
            .to_string(),
        json!({"type": "sync", "conv": 2, "after": 0}).to_string(),
        json!({"type": "sync", "conv": 1, "after": "zero"}).to_string(),
    ];
    for text in &bad {
        alice
            .raw(WsMessage::Text(text.clone().into()))
            .await
            .unwrap();
        // An error, and a final one: a retry of bad input fails again.
        let got = alice.next().await;
        assert!(
            matches!(&got, Got::Msg(ServerMsg::Error { error })
                if !error.contains("retry")),
            "{text}: {got:?}"
        );
    }
    alice.send(1, "ok", "still here").await;
    assert_eq!(last_ack(&mut alice).await, (1, false));
    let db = f.db().await;
    let row = db
        .query_one("SELECT count(*) FROM messages", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 1);
    f.finish().await;
}

// ---------------------------------------------------------------------
// Without servers.

#[test]
fn tokens_verify_only_when_signed_unexpired_and_well_formed() {
    let t = sign(SECRET, "alice", 1_000);
    assert_eq!(verify(SECRET, &t, 999), Ok("alice".into()));
    assert_eq!(verify(SECRET, &t, 1_000), Err(TokenError::Expired));
    assert_eq!(verify(b"other", &t, 999), Err(TokenError::Signature));
    let later = t.replacen("1000", "9000", 1);
    assert_eq!(verify(SECRET, &later, 999), Err(TokenError::Signature));
    for bad in [
        "",
        "alice",
        "alice.1000",
        "al ice.1000.AAAA",
        "alice.x.AAAA",
        "alice.1000.***",
    ] {
        assert_eq!(
            verify(SECRET, bad, 999),
            Err(TokenError::Malformed),
            "{bad}"
        );
    }
    // A signed name with characters outside the allowed set is refused.
    let odd = sign(SECRET, "a.b", 1_000);
    assert!(verify(SECRET, &odd, 999).is_err());
}

#[test]
fn the_bucket_allows_a_burst_then_the_rate() {
    let t0 = Instant::now();
    let mut b = Bucket::new(10.0, 5.0, t0);
    assert_eq!((0..12).filter(|_| b.take(t0)).count(), 10);
    // 5 per second: one more every 200 ms.
    assert!(b.take(t0 + Duration::from_millis(200)));
    assert!(!b.take(t0 + Duration::from_millis(200)));
    assert_eq!(
        (0..20)
            .filter(|_| b.take(t0 + Duration::from_secs(60)))
            .count(),
        10
    );
}
