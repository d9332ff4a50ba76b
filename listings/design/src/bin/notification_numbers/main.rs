//! 3.2's back-of-the-envelope numbers: the notification traffic of a
//! large social app, and what one post by an account with ten million
//! followers costs with fan-out on write against fan-out on read. Every
//! input is an assumption stated here; the program does the arithmetic.
//! Run: `cargo run --bin notification_numbers`.

// ANCHOR: inputs
/// Daily active users, and notifications each receives a day (after
/// aggregation: "5 people liked your post" counts once).
const DAU: f64 = 50_000_000.0;
const PER_USER_PER_DAY: f64 = 8.0;
/// Busiest hour over the day's average.
const PEAK_FACTOR: f64 = 3.0;
/// Share of notifications that go out as a push (the rest: in-app
/// inbox and email only).
const PUSH_SHARE: f64 = 0.6;
/// One inbox row (ids, kind, text reference, timestamps, index).
const ROW_BYTES: f64 = 200.0;
const RETENTION_DAYS: f64 = 90.0;
/// The celebrity: followers, posts a day, and the share of followers
/// who asked for a push on every post (the bell icon).
const FOLLOWERS: f64 = 10_000_000.0;
const POSTS_PER_DAY: f64 = 5.0;
const BELL_SHARE: f64 = 0.02;
/// Inbox rows the store can absorb per second for one fan-out, and
/// push sends per second per delivery worker, with this many workers.
const FANOUT_ROWS_PER_S: f64 = 200_000.0;
const PUSH_PER_WORKER_PER_S: f64 = 500.0;
const PUSH_WORKERS: f64 = 40.0;
/// Fan-out on read: inbox opens per user a day, and large accounts an
/// average user follows (each one a lookup at read time).
const OPENS_PER_USER_PER_DAY: f64 = 10.0;
const LARGE_FOLLOWED: f64 = 5.0;
// ANCHOR_END: inputs

const DAY_S: f64 = 86_400.0;

#[derive(Debug, PartialEq)]
pub struct Numbers {
    pub per_day: f64,
    pub avg_per_s: f64,
    pub peak_per_s: f64,
    pub push_peak_per_s: f64,
    pub storage_tb: f64,
    pub write_rows_per_post: f64,
    pub write_gb_per_post: f64,
    pub write_last_row_s: f64,
    pub write_share_of_day: f64,
    pub pushes_per_post: f64,
    pub push_drain_s: f64,
    pub read_lookups_per_day: f64,
    pub read_lookups_per_s: f64,
}

// ANCHOR: compute
pub fn compute() -> Numbers {
    let per_day = DAU * PER_USER_PER_DAY;
    let avg = per_day / DAY_S;
    let rows_per_post = FOLLOWERS;
    let pushes_per_post = FOLLOWERS * BELL_SHARE;
    let lookups = DAU * OPENS_PER_USER_PER_DAY * LARGE_FOLLOWED;
    Numbers {
        per_day,
        avg_per_s: avg,
        peak_per_s: avg * PEAK_FACTOR,
        push_peak_per_s: avg * PEAK_FACTOR * PUSH_SHARE,
        storage_tb: per_day * ROW_BYTES * RETENTION_DAYS / 1e12,
        // On write: one inbox row per follower, per post.
        write_rows_per_post: rows_per_post,
        write_gb_per_post: rows_per_post * ROW_BYTES / 1e9,
        // The last follower's row lands this long after the post.
        write_last_row_s: rows_per_post / FANOUT_ROWS_PER_S,
        // One account's posts, against everyone's notifications.
        write_share_of_day: rows_per_post * POSTS_PER_DAY / per_day,
        // The pushes cannot be avoided either way: they are per person.
        pushes_per_post,
        push_drain_s: pushes_per_post / (PUSH_PER_WORKER_PER_S * PUSH_WORKERS),
        // On read: every inbox open looks up each large account followed.
        read_lookups_per_day: lookups,
        read_lookups_per_s: lookups / DAY_S,
    }
}
// ANCHOR_END: compute

fn main() {
    let n = compute();
    println!("traffic");
    println!("  notifications a day        {:>12.0}", n.per_day);
    println!("  average per second         {:>12.0}", n.avg_per_s);
    println!("  peak per second            {:>12.0}", n.peak_per_s);
    println!("  peak pushes per second     {:>12.0}", n.push_peak_per_s);
    println!(
        "  inbox, {RETENTION_DAYS} days            {:>12.1} TB",
        n.storage_tb
    );
    println!("one post, {FOLLOWERS:.0} followers: fan-out on write");
    println!(
        "  inbox rows                 {:>12.0}",
        n.write_rows_per_post
    );
    println!(
        "  bytes written              {:>12.1} GB",
        n.write_gb_per_post
    );
    println!(
        "  last row lands after       {:>12.0} s",
        n.write_last_row_s
    );
    println!(
        "  {POSTS_PER_DAY} posts, share of the day {:>12.1} %",
        n.write_share_of_day * 100.0
    );
    println!("fan-out on read instead");
    println!(
        "  lookups a day              {:>12.0}",
        n.read_lookups_per_day
    );
    println!(
        "  lookups per second         {:>12.0}",
        n.read_lookups_per_s
    );
    println!("pushes to the bell subscribers (either way)");
    println!("  pushes per post            {:>12.0}", n.pushes_per_post);
    println!("  sent in                    {:>12.0} s", n.push_drain_s);
}

#[cfg(test)]
mod tests;
