//! The back-of-the-envelope numbers for one million requests per minute:
//! rates, Little's law, CPU cores and pods, the database's connection
//! budget (read from the PostgreSQL server in `DATABASE_URL`), and the
//! Kubernetes HPA's scaling formula.
//!
//! Run: `cargo run --bin scale_numbers` (needs PostgreSQL).

// ANCHOR: assumptions
/// What we assume; every other figure is computed from these.
struct Load {
    per_minute: u64,  // the requirement
    peak_factor: u64, // busiest second over the day's average
    latency_ms: u64,  // mean time a request spends in the app tier
    cpu_ms: u64,      // CPU time per request in Python
    cache_hit_pct: u64,
    db_ms: u64,          // time a cache miss holds a DB connection
    target_cpu_pct: u64, // HPA target utilisation
    cores_per_pod: u64,  // one worker process per core
    threads_per_worker: u64,
}

const LOAD: Load = Load {
    per_minute: 1_000_000,
    peak_factor: 3,
    latency_ms: 50,
    cpu_ms: 5,
    cache_hit_pct: 90,
    db_ms: 4,
    target_cpu_pct: 60,
    cores_per_pod: 2,
    threads_per_worker: 8,
};
// ANCHOR_END: assumptions

fn ceil_div(a: u64, b: u64) -> u64 {
    a.div_ceil(b.max(1))
}

// ANCHOR: plan
#[derive(Debug, PartialEq)]
struct Plan {
    average_rps: u64,
    peak_rps: u64,
    in_flight: u64, // Little's law: L = lambda * W
    cores: u64,     // CPU seconds per second at the target utilisation
    pods: u64,
    slots: u64,   // request slots the pods offer (threads)
    db_rps: u64,  // cache misses per second at peak
    db_busy: u64, // connections busy at once (Little again)
}

fn plan(l: &Load) -> Plan {
    let average_rps = ceil_div(l.per_minute, 60);
    let peak_rps = ceil_div(l.per_minute * l.peak_factor, 60);
    let in_flight = ceil_div(peak_rps * l.latency_ms, 1000);
    let busy_cores = ceil_div(peak_rps * l.cpu_ms, 1000);
    let cores = ceil_div(busy_cores * 100, l.target_cpu_pct);
    let pods = ceil_div(cores, l.cores_per_pod);
    let slots = pods * l.cores_per_pod * l.threads_per_worker;
    let db_rps = ceil_div(peak_rps * (100 - l.cache_hit_pct), 100);
    let db_busy = ceil_div(db_rps * l.db_ms, 1000);
    Plan {
        average_rps,
        peak_rps,
        in_flight,
        cores,
        pods,
        slots,
        db_rps,
        db_busy,
    }
}
// ANCHOR_END: plan

// ANCHOR: hpa
/// The HPA's rule: desired = ceil(current * metric / target), unless the
/// ratio is within the tolerance (0.1 by default) of 1.0.
fn hpa(current: u64, metric: u64, target: u64, tolerance: f64) -> u64 {
    let ratio = metric as f64 / target as f64;
    if (ratio - 1.0).abs() <= tolerance {
        return current;
    }
    (current as f64 * ratio).ceil() as u64
}
// ANCHOR_END: hpa

// ANCHOR: pool
/// Connections each pod's pool may open so that all pods fit under the
/// server's limit, after the superuser reserve and other clients.
fn pool_per_pod(max_conn: u64, reserved: u64, others: u64, pods: u64) -> u64 {
    max_conn.saturating_sub(reserved + others) / pods.max(1)
}
// ANCHOR_END: pool

fn setting(db: &mut postgres::Client, name: &str) -> Result<u64, String> {
    let row = db
        .query_one("SELECT setting FROM pg_settings WHERE name = $1", &[&name])
        .map_err(|e| e.to_string())?;
    let value: String = row.get(0);
    value
        .parse()
        .map_err(|e| format!("{name} = {value:?}: {e}"))
}

// ANCHOR: main
fn main() {
    let p = plan(&LOAD);
    println!("1,000,000 requests/minute, peak {}x:", LOAD.peak_factor);
    println!("  average             {:>7} req/s", p.average_rps);
    println!("  peak                {:>7} req/s", p.peak_rps);
    println!(
        "  in flight at peak   {:>7} (L = {} req/s x {} ms)",
        p.in_flight, p.peak_rps, LOAD.latency_ms
    );
    println!(
        "  cores at {}% CPU    {:>7} ({} ms CPU/request)",
        LOAD.target_cpu_pct, p.cores, LOAD.cpu_ms
    );
    println!(
        "  pods of {} cores     {:>7} ({} request slots >= {})",
        LOAD.cores_per_pod, p.pods, p.slots, p.in_flight
    );
    println!(
        "  DB queries at peak  {:>7} /s ({}% cache hits)",
        p.db_rps, LOAD.cache_hit_pct
    );
    println!(
        "  DB connections busy {:>7} (L = {} /s x {} ms)",
        p.db_busy, p.db_rps, LOAD.db_ms
    );

    let mut db = support::pg::connect_or_exit("scale_numbers");
    let (max, reserved) = match (
        setting(&mut db, "max_connections"),
        setting(&mut db, "superuser_reserved_connections"),
    ) {
        (Ok(m), Ok(r)) => (m, r),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("scale_numbers: cannot read settings: {e}");
            std::process::exit(1)
        }
    };
    let others = 10; // migrations, admin shells, exporters
    println!("this server: max_connections {max}, reserved {reserved}:");
    let per_pod = pool_per_pod(max, reserved, others, p.pods);
    println!(
        "  pool per pod, {} pods {:>4} (pooler needed: {})",
        p.pods,
        per_pod,
        per_pod < LOAD.cores_per_pod
    );
    println!(
        "  via a pooler, {} busy  {:>4} server connections",
        p.db_busy,
        p.db_busy.min(max - reserved - others)
    );

    println!("HPA, target {}% CPU:", LOAD.target_cpu_pct);
    for (current, cpu) in [(p.pods, 90), (p.pods, 65), (p.pods, 30)] {
        let desired = hpa(current, cpu, LOAD.target_cpu_pct, 0.1);
        println!("  {current} pods at {cpu}% -> {desired}");
    }
}
// ANCHOR_END: main

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_a_minute_is_about_seventeen_thousand_a_second() {
        let p = plan(&LOAD);
        assert_eq!(p.average_rps, 16_667);
        assert_eq!(p.peak_rps, 50_000);
        // Little's law: 50,000/s for 50 ms each.
        assert_eq!(p.in_flight, 2_500);
        // 250 busy cores at 60%, then whole pods.
        assert_eq!((p.cores, p.pods), (417, 209));
        assert_eq!((p.db_rps, p.db_busy), (5_000, 20));
        assert!(p.slots >= p.in_flight, "{p:?}");
        assert_eq!(p.pods * LOAD.cores_per_pod, p.cores + p.cores % 2);
    }

    #[test]
    fn hpa_follows_the_documented_formula() {
        // The Kubernetes v1.33 tolerance blog post's example: 50 pods at
        // 90% for a 75% target.
        assert_eq!(hpa(50, 90, 75, 0.1), 60);
        // The HPA docs' example: 200m against 100m doubles, 50m halves.
        assert_eq!(hpa(4, 200, 100, 0.1), 8);
        assert_eq!(hpa(4, 50, 100, 0.1), 2);
        // Within the 10% tolerance, nothing changes.
        assert_eq!(hpa(50, 80, 75, 0.1), 50);
        assert_eq!(hpa(10, 30, 60, 0.1), 5);
        assert_eq!(hpa(3, 100, 50, 0.0), 6);
    }

    #[test]
    fn pools_share_the_servers_limit() {
        assert_eq!(pool_per_pod(100, 3, 10, 10), 8);
        assert_eq!(pool_per_pod(100, 3, 10, 200), 0);
        assert_eq!(pool_per_pod(5, 3, 10, 0), 0);
    }

    #[test]
    fn the_server_reports_its_connection_limit() {
        let Some(mut db) = support::pg::connect_in_test("scale_numbers") else {
            return;
        };
        let max = setting(&mut db, "max_connections").unwrap();
        let reserved =
            setting(&mut db, "superuser_reserved_connections").unwrap();
        assert!(max > reserved, "{max} <= {reserved}");
        assert!(setting(&mut db, "no_such_setting").is_err());
    }
}
