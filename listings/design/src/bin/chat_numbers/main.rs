//! 3.6's back-of-the-envelope numbers for a chat service: how many
//! WebSocket servers the concurrent connections need, what the message
//! rate and its fan-out cost, what presence costs Redis, and how much
//! PostgreSQL stores a day. Every input is an assumption stated here; the
//! program only does the arithmetic.
//! Run: `cargo run --bin chat_numbers`.

// ANCHOR: inputs
/// Daily active users, and the share of them connected at the peak.
const DAILY_USERS: u64 = 10_000_000;
const PEAK_CONNECTED: f64 = 0.10;
/// Sockets one instance holds, a planning figure to be measured (memory
/// per connection and event-loop time, not the port range, bound it).
const CONNECTIONS_PER_SERVER: u64 = 50_000;
/// Spare capacity: one zone or a rolling deploy can take a third away.
const HEADROOM: f64 = 1.5;
/// Messages each user sends a day, and the peak hour against the mean.
const MESSAGES_PER_USER_PER_DAY: u64 = 40;
const PEAK_FACTOR: f64 = 3.0;
/// Share of messages in one-to-one chats (1 recipient) and the mean
/// number of other members in a group chat.
const ONE_TO_ONE: f64 = 0.8;
const GROUP_RECIPIENTS: f64 = 12.0;
/// A stored message: body, ids, timestamp, and the two indexes.
const BYTES_PER_MESSAGE: u64 = 300;
/// Presence key TTL; each connection refreshes it every third of it.
const PRESENCE_TTL_S: u64 = 30;
// ANCHOR_END: inputs

const DAY_S: f64 = 86_400.0;

#[derive(Debug, PartialEq)]
pub struct Numbers {
    pub connected: u64,
    pub servers: u64,
    pub messages_per_day: u64,
    pub mean_per_s: f64,
    pub peak_per_s: f64,
    pub recipients_per_message: f64,
    pub deliveries_peak_per_s: f64,
    pub presence_writes_per_s: f64,
    pub stored_gb_per_day: f64,
    pub stored_tb_per_year: f64,
}

// ANCHOR: compute
pub fn compute() -> Numbers {
    let connected = (DAILY_USERS as f64 * PEAK_CONNECTED) as u64;
    let needed = connected as f64 * HEADROOM / CONNECTIONS_PER_SERVER as f64;
    let messages = DAILY_USERS * MESSAGES_PER_USER_PER_DAY;
    let mean = messages as f64 / DAY_S;
    let peak = mean * PEAK_FACTOR;
    // Every recipient gets the message once, on whichever instance holds
    // its socket; offline ones get it later, from history.
    let recipients = ONE_TO_ONE + (1.0 - ONE_TO_ONE) * GROUP_RECIPIENTS;
    let refresh_s = PRESENCE_TTL_S as f64 / 3.0;
    let per_day = (messages * BYTES_PER_MESSAGE) as f64;
    Numbers {
        connected,
        servers: needed.ceil() as u64,
        messages_per_day: messages,
        mean_per_s: mean,
        peak_per_s: peak,
        recipients_per_message: recipients,
        deliveries_peak_per_s: peak * recipients,
        presence_writes_per_s: connected as f64 / refresh_s,
        stored_gb_per_day: per_day / 1e9,
        stored_tb_per_year: per_day * 365.0 / 1e12,
    }
}
// ANCHOR_END: compute

fn row(label: &str, value: String) {
    println!("  {label:<28}{value:>12}");
}

fn main() {
    let n = compute();
    println!("connections");
    row("connected at the peak", n.connected.to_string());
    let label = format!("servers ({CONNECTIONS_PER_SERVER} each, x{HEADROOM})");
    row(&label, n.servers.to_string());
    println!("messages");
    row("per day", n.messages_per_day.to_string());
    row("per second, mean", format!("{:.0}", n.mean_per_s));
    row("per second, peak", format!("{:.0}", n.peak_per_s));
    row(
        "recipients per message",
        format!("{:.1}", n.recipients_per_message),
    );
    row(
        "deliveries per second, peak",
        format!("{:.0}", n.deliveries_peak_per_s),
    );
    let every = PRESENCE_TTL_S / 3;
    println!("presence (a SET per connection every {every} s)");
    row(
        "Redis writes per second",
        format!("{:.0}", n.presence_writes_per_s),
    );
    println!("storage (PostgreSQL)");
    row("GB per day", format!("{:.0}", n.stored_gb_per_day));
    row("TB per year", format!("{:.1}", n.stored_tb_per_year));
}

#[cfg(test)]
mod tests;
