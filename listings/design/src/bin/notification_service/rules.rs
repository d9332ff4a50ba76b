//! The notification service's decisions, with no I/O: what an event
//! becomes, per channel, under the user's preferences, quiet hours and
//! the aggregation window. Pure functions of their inputs and `now`, so
//! the tests give them any instant, daylight-saving nights included.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Push,
    Email,
}

impl Channel {
    pub const ALL: [Channel; 2] = [Channel::Push, Channel::Email];

    pub fn name(self) -> &'static str {
        match self {
            Channel::Push => "push",
            Channel::Email => "email",
        }
    }
}

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Like,
    Comment,
    /// A new sign-in, a password change: mandatory and urgent.
    Security,
}

// ANCHOR: kind
impl Kind {
    /// Mandatory kinds ignore opt-outs and quiet hours.
    pub fn mandatory(self) -> bool {
        self == Kind::Security
    }

    /// The AMQP message priority. The classic queues here count 5 as
    /// their maximum, 4; a RabbitMQ 4.x quorum queue reads 5 and above
    /// as "high", 0 to 4 as "normal".
    pub fn priority(self) -> u8 {
        if self == Kind::Security { 5 } else { 1 }
    }

    /// Likes are grouped into one "N people liked" notification.
    pub fn aggregated(self) -> bool {
        self == Kind::Like
    }
}
// ANCHOR_END: kind

/// The most a producer may put in one field: a bigger value is refused,
/// not truncated.
pub const MAX_FIELD: usize = 128;

/// An event from a producer (likes service, auth service, ...).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Event {
    pub event_id: String,
    pub kind: Kind,
    pub actor: String,
    pub recipient: String,
    /// What the event is about: a post id, a device name.
    pub target: String,
}

/// Parses an event, or says what is wrong with it.
pub fn parse_event(body: &[u8]) -> Result<Event, String> {
    let e: Event = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    for (name, value) in [
        ("event_id", &e.event_id),
        ("actor", &e.actor),
        ("recipient", &e.recipient),
        ("target", &e.target),
    ] {
        if value.is_empty() || value.len() > MAX_FIELD {
            return Err(format!("{name}: 1 to {MAX_FIELD} bytes"));
        }
        // Keys join these fields with ':' (`seen:{event}:{user}:{channel}`),
        // so a ':' inside one would let two different events share a key,
        // and the second be dropped as a duplicate.
        if value.chars().any(|c| c == ':' || c.is_control()) {
            return Err(format!("{name}: no ':' or control characters"));
        }
    }
    Ok(e)
}

/// One message for one user on one channel: what a worker delivers.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Notification {
    /// Stable across retries and crashes: the idempotency key.
    pub id: String,
    pub user: String,
    pub channel: Channel,
    pub kind: Kind,
    pub text: String,
}

// ANCHOR: prefs
/// A user's settings: time zone, quiet hours (local wall-clock times,
/// possibly across midnight), and opt-outs per channel and kind.
#[derive(Clone, Debug)]
pub struct Preferences {
    pub time_zone: TimeZone,
    pub quiet: Option<(Time, Time)>,
    pub opted_out: BTreeSet<(Channel, Kind)>,
}

impl Preferences {
    /// `tz` is an IANA name, looked up in the system's tz database.
    pub fn new(tz: &str, quiet: Option<(&str, &str)>) -> Result<Self, String> {
        let time_zone =
            TimeZone::get(tz).map_err(|e| format!("time zone {tz:?}: {e}"))?;
        let quiet = match quiet {
            None => None,
            Some((from, to)) => {
                let parse = |s: &str| -> Result<Time, String> {
                    s.parse().map_err(|e| format!("quiet hours {s:?}: {e}"))
                };
                let (from, to) = (parse(from)?, parse(to)?);
                if from == to {
                    return Err("quiet hours: start equals end".into());
                }
                Some((from, to))
            }
        };
        Ok(Preferences {
            time_zone,
            quiet,
            opted_out: BTreeSet::new(),
        })
    }
}
// ANCHOR_END: prefs

// ANCHOR: quiet
/// If `now` falls in the user's quiet hours, the instant they end.
/// The end is a local wall-clock time on the right local date, turned
/// back into an instant by the tz database (a 07:00 end is 06:00 UTC in
/// Berlin in winter, 05:00 UTC in summer).
pub fn quiet_until(p: &Preferences, now: Timestamp) -> Option<Timestamp> {
    let (from, to) = p.quiet?;
    let local = now.to_zoned(p.time_zone.clone());
    let t = local.time();
    let quiet = if from < to {
        from <= t && t < to
    } else {
        t >= from || t < to // the window spans midnight
    };
    if !quiet {
        return None;
    }
    let mut day = local.date();
    if from > to && t >= from {
        day = day.tomorrow().ok()?; // ends tomorrow morning
    }
    // A wall-clock time that does not exist that day (a DST gap) is
    // moved forward, as `compatible` disambiguation does.
    let end = day.to_datetime(to).to_zoned(p.time_zone.clone()).ok()?;
    Some(end.timestamp())
}
// ANCHOR_END: quiet

// ANCHOR: decide
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    Send,
    /// Hold until this instant (quiet hours).
    Defer(Timestamp),
    Skip(&'static str),
}

/// What to do with `kind` on `channel` for a user, at `now`. Quiet
/// hours hold push only: an email does not wake anyone.
pub fn decide(
    p: &Preferences,
    kind: Kind,
    channel: Channel,
    now: Timestamp,
) -> Decision {
    if kind.mandatory() {
        return Decision::Send;
    }
    if p.opted_out.contains(&(channel, kind)) {
        return Decision::Skip("opted out");
    }
    if channel == Channel::Push
        && let Some(until) = quiet_until(p, now)
    {
        return Decision::Defer(until);
    }
    Decision::Send
}
// ANCHOR_END: decide

// ANCHOR: aggregate
/// Groups aggregated events per (user, channel, kind, target) for a
/// window after the first one; `due` turns closed groups into one
/// notification each, "ana and 4 others liked your post p1".
pub struct Aggregator {
    window: SignedDuration,
    open: BTreeMap<(String, Channel, Kind, String), Group>,
}

struct Group {
    opened: Timestamp,
    actors: Vec<String>, // distinct, in arrival order
}

impl Aggregator {
    pub fn new(window: SignedDuration) -> Self {
        Aggregator {
            window,
            open: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, e: &Event, channel: Channel, now: Timestamp) {
        let key = (e.recipient.clone(), channel, e.kind, e.target.clone());
        let group = self.open.entry(key).or_insert(Group {
            opened: now,
            actors: Vec::new(),
        });
        if !group.actors.contains(&e.actor) {
            group.actors.push(e.actor.clone());
        }
    }

    // ANCHOR_END: aggregate

    // ANCHOR: due
    /// Groups whose window has closed at `now`, as notifications.
    pub fn due(&mut self, now: Timestamp) -> Vec<Notification> {
        let closed: Vec<_> = self
            .open
            .iter()
            .filter(|(_, g)| now.duration_since(g.opened) >= self.window)
            .map(|(k, _)| k.clone())
            .collect();
        let mut out = Vec::new();
        for key in closed {
            let Some(g) = self.open.remove(&key) else {
                continue;
            };
            let (user, channel, kind, target) = key;
            out.push(Notification {
                // The same group and window always get the same id.
                id: format!(
                    "agg:{user}:{target}:{}:{}",
                    g.opened.as_second(),
                    channel.name()
                ),
                text: liked_text(&g.actors, &target),
                user,
                channel,
                kind,
            });
        }
        out
    }
}

fn liked_text(actors: &[String], target: &str) -> String {
    match actors {
        [] => format!("someone liked your post {target}"),
        [one] => format!("{one} liked your post {target}"),
        [one, two] => format!("{one} and {two} liked your post {target}"),
        [first, rest @ ..] => {
            let n = rest.len();
            format!("{first} and {n} others liked your post {target}")
        }
    }
}
// ANCHOR_END: due

/// The text of a notification that is sent on its own.
pub fn render(e: &Event) -> String {
    match e.kind {
        Kind::Like => liked_text(std::slice::from_ref(&e.actor), &e.target),
        Kind::Comment => {
            format!("{} commented on your post {}", e.actor, e.target)
        }
        Kind::Security => format!("new sign-in to your account: {}", e.target),
    }
}
