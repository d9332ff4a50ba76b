//! 2.4 Caching and invalidation: Redis and memcached side by side, with the
//! settings that matter read from the running servers, not from memory.
//!
//! - Redis: `INFO server` for the version, `CONFIG GET` for the memory
//!   limit, the eviction policy and its sampling, the LFU tuning, the
//!   largest value, persistence and I/O threads.
//! - memcached: `version` and `stats settings` over its text protocol, by a
//!   small raw TCP client (no crate); then its limits as the server answers
//!   them (a 250- and a 251-byte key, a 1,000,000- and a 1,048,576-byte
//!   value), and its meta protocol's built-in lease: on a miss one client is
//!   told to fill (`W`), the others that a fill is coming (`Z`); a writer's
//!   `md <key> I` marks the item stale and changes its CAS, so the first
//!   client's fill, made with the old CAS, is refused (`EX`).
//! - Addresses: `REDIS_URL` and `MEMCACHED_ADDR` (default
//!   `127.0.0.1:11211`). Without a server, `main` exits 77 and the tests
//!   print `skipped: ...` (a failure under `REQUIRE_SERVICES=1`).

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The default when `MEMCACHED_ADDR` is not set.
pub const DEFAULT_MEMCACHED: &str = "127.0.0.1:11211";

fn memcached_addr() -> String {
    std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| DEFAULT_MEMCACHED.into())
}

// ANCHOR: redis
/// The Redis settings a cache's behaviour depends on.
pub const REDIS_SETTINGS: [&str; 9] = [
    "maxmemory",
    "maxmemory-policy",
    "maxmemory-samples",
    "lfu-log-factor",
    "lfu-decay-time",
    "proto-max-bulk-len",
    "appendonly",
    "save",
    "io-threads",
];

pub fn redis_version(
    con: &mut redis::Connection,
) -> redis::RedisResult<String> {
    let info: String = redis::cmd("INFO").arg("server").query(con)?;
    Ok(info_field(&info, "redis_version")
        .unwrap_or("unknown")
        .to_string())
}

/// `CONFIG GET name` answers `[name, value]` (a map under RESP3).
pub fn redis_settings(
    con: &mut redis::Connection,
) -> redis::RedisResult<Vec<(String, String)>> {
    let mut settings = Vec::new();
    for name in REDIS_SETTINGS {
        let pairs: BTreeMap<String, String> =
            redis::cmd("CONFIG").arg("GET").arg(name).query(con)?;
        let value = pairs.get(name).cloned().unwrap_or_default();
        settings.push((name.to_string(), value));
    }
    Ok(settings)
}
// ANCHOR_END: redis

fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .map(str::trim)
}

// ANCHOR: memcached_io
/// A reply memcached sent that this client cannot read.
fn bad_reply(what: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("memcached: {what}"))
}

/// A minimal client for memcached's text protocol: lines end in `\r\n`,
/// and a value travels as a block of known length after its header line.
pub struct Memcached<S> {
    stream: BufReader<S>,
}

impl<S: Read + Write> Memcached<S> {
    pub fn new(stream: S) -> Self {
        Memcached {
            stream: BufReader::new(stream),
        }
    }

    fn send(&mut self, line: &str, data: Option<&[u8]>) -> io::Result<()> {
        let out = self.stream.get_mut();
        out.write_all(line.as_bytes())?;
        out.write_all(b"\r\n")?;
        if let Some(data) = data {
            out.write_all(data)?;
            out.write_all(b"\r\n")?;
        }
        out.flush()
    }

    /// One reply line, without its `\r\n`. A closed connection, a line
    /// without `\r\n` or one that is not text is an error, not a panic.
    fn line(&mut self) -> io::Result<String> {
        let mut buf = Vec::new();
        let n = (&mut self.stream)
            .take(64 * 1024)
            .read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Err(bad_reply("connection closed"));
        }
        let text = buf
            .strip_suffix(b"\r\n")
            .ok_or_else(|| bad_reply("no CRLF"))?;
        String::from_utf8(text.to_vec()).map_err(|_| bad_reply("not UTF-8"))
    }
}
// ANCHOR_END: memcached_io

// ANCHOR: memcached_stats
impl<S: Read + Write> Memcached<S> {
    /// One command, one reply line.
    pub fn call(
        &mut self,
        line: &str,
        data: Option<&[u8]>,
    ) -> io::Result<String> {
        self.send(line, data)?;
        self.line()
    }

    pub fn version(&mut self) -> io::Result<String> {
        let reply = self.call("version", None)?;
        let version = reply
            .strip_prefix("VERSION ")
            .ok_or_else(|| bad_reply(&reply))?;
        Ok(version.to_string())
    }

    /// `stats settings`: `STAT <name> <value>` lines, then `END`.
    pub fn stats_settings(&mut self) -> io::Result<BTreeMap<String, String>> {
        self.send("stats settings", None)?;
        let mut settings = BTreeMap::new();
        loop {
            let line = self.line()?;
            if line == "END" {
                return Ok(settings);
            }
            let stat =
                line.strip_prefix("STAT ").ok_or_else(|| bad_reply(&line))?;
            let (name, value) = stat.split_once(' ').unwrap_or((stat, ""));
            settings.insert(name.to_string(), value.to_string());
        }
    }
}
// ANCHOR_END: memcached_stats

// ANCHOR: meta_reply
/// A meta-get reply: the status, its flags, and the value if one came.
#[derive(Debug, PartialEq)]
pub struct Meta {
    pub status: String,
    pub flags: Vec<String>,
    pub value: Option<Vec<u8>>,
}

impl Meta {
    /// A returned flag's token, e.g. `c` (the CAS) from `c123`.
    pub fn token(&self, flag: char) -> Option<&str> {
        self.flags.iter().find_map(|f| f.strip_prefix(flag))
    }

    /// The one-letter flags memcached adds: W (you fill), Z (a fill is
    /// coming), X (stale).
    pub fn signals(&self) -> String {
        let found = self
            .flags
            .iter()
            .filter(|f| matches!(f.as_str(), "W" | "Z" | "X"));
        found.cloned().collect::<Vec<_>>().join(" ")
    }
}

// ANCHOR_END: meta_reply

// ANCHOR: meta_commands
impl<S: Read + Write> Memcached<S> {
    /// `mg <key> <flags>`: `VA <size> <flags>` and a value, or `HD`/`EN`.
    pub fn meta_get(&mut self, key: &str, flags: &str) -> io::Result<Meta> {
        let header = self.call(&format!("mg {key} {flags}"), None)?;
        let mut words = header.split(' ');
        let status = words.next().unwrap_or_default().to_string();
        match status.as_str() {
            "VA" => {
                let size: usize = words
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|&s| s <= 1 << 20)
                    .ok_or_else(|| bad_reply(&header))?;
                let flags = words.map(String::from).collect();
                let mut value = vec![0; size + 2];
                self.stream.read_exact(&mut value)?;
                if value.split_off(size) != b"\r\n" {
                    return Err(bad_reply("value not followed by CRLF"));
                }
                Ok(Meta {
                    status,
                    flags,
                    value: Some(value),
                })
            }
            "HD" | "EN" => {
                let flags = words.map(String::from).collect();
                Ok(Meta {
                    status,
                    flags,
                    value: None,
                })
            }
            _ => Err(bad_reply(&header)),
        }
    }

    /// `ms <key> <size> <flags>` and the value: `HD` stored, `EX` the CAS
    /// given with `C<cas>` no longer matches, `NS` not stored.
    pub fn meta_set(
        &mut self,
        key: &str,
        value: &[u8],
        flags: &str,
    ) -> io::Result<String> {
        let line = format!("ms {key} {} {flags}", value.len());
        self.call(&line, Some(value))
    }
}
// ANCHOR_END: meta_commands

/// Connects within 3 s and bounds every read and write to 5 s.
pub fn connect(addr: &str) -> io::Result<Memcached<TcpStream>> {
    let socket = addr.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, addr.to_string())
    })?;
    let stream = TcpStream::connect_timeout(&socket, Duration::from_secs(3))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    Ok(Memcached::new(stream))
}

// ANCHOR: lease
/// Two readers miss, a writer invalidates, the first reader's fill is
/// refused, a third reader fills. Returns one line per step.
pub fn lease_demo<S: Read + Write>(
    mc: &mut Memcached<S>,
    key: &str,
) -> io::Result<Vec<String>> {
    let mut steps = Vec::new();
    let a = mc.meta_get(key, "c v N30")?; // N30: on a miss, create for 30 s
    steps.push(format!("reader A  mg {:<14} -> {}", "c v N30", a.signals()));
    let b = mc.meta_get(key, "c v N30")?;
    steps.push(format!("reader B  mg {:<14} -> {}", "c v N30", b.signals()));
    // The writer has committed 1200: invalidate (stale, new CAS).
    let md = mc.call(&format!("md {key} I T30"), None)?;
    steps.push(format!("writer    md {:<14} -> {md}", "I T30"));
    let a_cas = a.token('c').unwrap_or("0");
    let a_set = mc.meta_set(key, b"1000", &format!("C{a_cas} T300"))?;
    steps.push(format!("reader A  ms {:<14} -> {a_set}", "C<A's cas>"));
    let c = mc.meta_get(key, "c v N30")?;
    steps.push(format!("reader C  mg {:<14} -> {}", "c v N30", c.signals()));
    let c_cas = c.token('c').unwrap_or("0");
    let c_set = mc.meta_set(key, b"1200", &format!("C{c_cas} T300"))?;
    steps.push(format!("reader C  ms {:<14} -> {c_set}", "C<C's cas>"));
    let b = mc.meta_get(key, "v")?;
    let value = String::from_utf8_lossy(b.value.as_deref().unwrap_or(b""));
    steps.push(format!("reader B  mg {:<14} -> {} {value}", "v", b.status));
    Ok(steps)
}
// ANCHOR_END: lease

/// The memcached settings shown next to Redis's.
pub const MEMCACHED_SETTINGS: [&str; 9] = [
    "maxbytes",
    "item_size_max",
    "evictions",
    "lru_segmented",
    "hot_lru_pct",
    "warm_lru_pct",
    "growth_factor",
    "cas_enabled",
    "num_threads",
];

/// The server's answers at the key and value size limits.
fn limits<S: Read + Write>(
    mc: &mut Memcached<S>,
    key: &str,
) -> io::Result<Vec<String>> {
    let mut lines = Vec::new();
    for len in [250, 251] {
        let long = format!("{key}{}", "k".repeat(len - key.len()));
        let reply = mc.call(&format!("mg {long} v"), None)?;
        lines.push(format!("mg of a {len}-byte key: {reply}"));
    }
    for size in [1_000_000, 1_048_576] {
        let reply = mc
            .call(&format!("set {key} 0 60 {size}"), Some(&vec![b'x'; size]))?;
        lines.push(format!("set of a {size}-byte value: {reply}"));
    }
    mc.call(&format!("delete {key}"), None)?;
    Ok(lines)
}

fn main() {
    let client = support::redis::client_or_exit("cache_servers");
    let addr = memcached_addr();
    let mut mc = connect(&addr).unwrap_or_else(|e| {
        support::skip::exit_unavailable(
            "cache_servers",
            &format!("memcached at {addr} (set MEMCACHED_ADDR)"),
            e,
        )
    });
    if let Err(e) = run(&client, &mut mc) {
        eprintln!("cache_servers: {e}");
        std::process::exit(1);
    }
}

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("{0}")]
    Io(#[from] io::Error),
}

fn run(
    client: &redis::Client,
    mc: &mut Memcached<TcpStream>,
) -> Result<(), Error> {
    let mut con = client.get_connection()?;
    println!(
        "Redis {} (INFO server), CONFIG GET:",
        redis_version(&mut con)?
    );
    for (name, value) in redis_settings(&mut con)? {
        println!("  {name:<20} {value:?}");
    }
    println!("memcached {} (version), stats settings:", mc.version()?);
    let settings = mc.stats_settings()?;
    for name in MEMCACHED_SETTINGS {
        let value = settings.get(name).map_or("(absent)", String::as_str);
        println!("  {name:<20} {value}");
    }
    let key = support::unique_name("cache_servers");
    println!("memcached limits, as the server answers:");
    for line in limits(mc, &key)? {
        println!("  {line}");
    }
    println!("memcached meta protocol, a lease on a miss:");
    for line in lease_demo(mc, &key)? {
        println!("  {line}");
    }
    mc.call(&format!("md {key}"), None)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memcached(test: &str) -> Option<Memcached<TcpStream>> {
        support::skip::in_test(test, "memcached", connect(&memcached_addr()))
    }

    /// A stream that discards what is written and replies with canned
    /// bytes: the parser's tests need no server.
    struct Canned(io::Cursor<Vec<u8>>);

    impl Read for Canned {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.0.read(buf)
        }
    }

    impl Write for Canned {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn canned(reply: &[u8]) -> Memcached<Canned> {
        Memcached::new(Canned(io::Cursor::new(reply.to_vec())))
    }

    #[test]
    fn redis_answers_every_setting_and_a_known_policy() {
        let Some(client) = support::redis::client_in_test("redis_settings")
        else {
            return;
        };
        let mut con = client.get_connection().unwrap();
        let version = redis_version(&mut con).unwrap();
        assert!(version.split('.').count() == 3, "{version}");
        let settings: BTreeMap<_, _> =
            redis_settings(&mut con).unwrap().into_iter().collect();
        assert_eq!(settings.len(), REDIS_SETTINGS.len());
        let policies = [
            "noeviction",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
        ];
        assert!(policies.contains(&settings["maxmemory-policy"].as_str()));
        assert!(settings["maxmemory"].parse::<u64>().is_ok());
        assert!(settings["maxmemory-samples"].parse::<u32>().is_ok());
    }

    #[test]
    fn memcached_reports_its_version_and_settings() {
        let Some(mut mc) = memcached("memcached_settings") else {
            return;
        };
        let version = mc.version().unwrap();
        assert!(version.starts_with("1."), "{version}");
        let settings = mc.stats_settings().unwrap();
        for name in MEMCACHED_SETTINGS {
            assert!(settings.contains_key(name), "no {name}");
        }
        assert!(settings["item_size_max"].parse::<u64>().unwrap() >= 1 << 20);
    }

    #[test]
    fn memcached_limits_keys_to_250_bytes_and_values_below_item_size_max() {
        let Some(mut mc) = memcached("memcached_limits") else {
            return;
        };
        let key = support::unique_name("limits");
        let lines = limits(&mut mc, &key).unwrap();
        assert_eq!(
            lines,
            [
                "mg of a 250-byte key: EN",
                "mg of a 251-byte key: CLIENT_ERROR bad command line format",
                "set of a 1000000-byte value: STORED",
                "set of a 1048576-byte value: SERVER_ERROR object too large for cache",
            ]
        );
        // The connection is still usable after the refusals.
        assert!(mc.version().is_ok());
    }

    #[test]
    fn the_meta_lease_refuses_a_fill_after_an_invalidation() {
        let Some(mut mc) = memcached("the_meta_lease") else {
            return;
        };
        let key = support::unique_name("lease");
        let steps = lease_demo(&mut mc, &key).unwrap();
        mc.call(&format!("md {key}"), None).unwrap();
        let outcomes: Vec<&str> = steps
            .iter()
            .map(|s| s.rsplit("-> ").next().unwrap())
            .collect();
        assert_eq!(outcomes, ["W", "Z", "HD", "EX", "X W", "HD", "VA 1200"]);
    }

    #[test]
    fn malformed_replies_are_errors_not_panics() {
        let cases: [&[u8]; 7] = [
            b"",                      // connection closed
            b"VERSION 1.6",           // no CRLF
            b"\xff\xfe\r\n",          // not UTF-8
            b"VA x\r\n",              // size not a number
            b"VA 99999999\r\n",       // size beyond any item
            b"VA 3\r\nabcdef",        // value not followed by CRLF
            b"SERVER_ERROR oops\r\n", // not a meta-get reply
        ];
        for reply in cases {
            let result = canned(reply).meta_get("k", "v");
            let error = result.expect_err(&format!("{reply:?}"));
            assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{reply:?}");
        }
        let mut mc = canned(b"STAT maxbytes 64\r\nNOT A STAT\r\n");
        assert!(mc.stats_settings().is_err());
        assert!(canned(b"HELLO\r\n").version().is_err());
    }

    #[test]
    fn well_formed_replies_parse() {
        let mut mc =
            canned(b"VA 4 c7 t30 W\r\n1200\r\nEN\r\nSTAT a 1\r\nEND\r\n");
        let meta = mc.meta_get("k", "c v").unwrap();
        assert_eq!(meta.token('c'), Some("7"));
        assert_eq!(meta.signals(), "W");
        assert_eq!(meta.value.as_deref(), Some(&b"1200"[..]));
        assert_eq!(mc.meta_get("k", "v").unwrap().status, "EN");
        assert_eq!(mc.stats_settings().unwrap()["a"], "1");
    }

    #[test]
    fn an_absent_memcached_is_a_quick_error() {
        // Port 1 on loopback: nothing listens there, the kernel refuses.
        assert!(connect("127.0.0.1:1").is_err());
        assert!(connect("not an address").is_err());
    }

    #[test]
    fn info_fields_are_found_by_exact_name() {
        let info = "# Server\r\nredis_version_x:1\r\nredis_version:7.0.15\r\n";
        assert_eq!(info_field(info, "redis_version"), Some("7.0.15"));
        assert_eq!(info_field(info, "missing"), None);
    }
}
