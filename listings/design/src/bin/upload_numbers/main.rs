//! 3.5 Resumable file uploads: the back-of-the-envelope numbers, computed.
//! The inputs are assumptions stated in `Load`; the limits of S3 multipart
//! upload are AWS's published ones (checked in the chapter's Sources).

// ANCHOR: main
const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;
const TIB: u64 = 1024 * GIB;

/// The assumptions: change them and the numbers follow.
struct Load {
    uploads_per_day: u64,
    average_bytes: u64,
    /// Peak hour traffic over the day's average.
    peak_factor: u64,
    /// A phone's uplink, in bits per second.
    uplink_bps: u64,
}

/// S3 multipart upload limits (Amazon S3 User Guide, "Amazon S3
/// multipart upload limits"): the maximum object is 10,000 parts of 5 GiB.
const S3_MAX_PARTS: u64 = 10_000;
const S3_MIN_PART: u64 = 5 * MIB;
const S3_MAX_PART: u64 = 5 * GIB;
const S3_MAX_OBJECT: u64 = S3_MAX_PARTS * S3_MAX_PART;
/// The limit before AWS raised it.
const S3_OLD_MAX_OBJECT: u64 = 5 * TIB;
/// The longest a SigV4 presigned URL may live (`X-Amz-Expires`).
const PRESIGN_MAX_SECONDS: u64 = 604_800;

fn per_second(bytes_per_day: u64) -> u64 {
    bytes_per_day / 86_400
}

fn mbit(bytes_per_second: u64) -> u64 {
    bytes_per_second * 8 / 1_000_000
}

/// PATCH requests for one file at a chunk size (the last one may be short).
fn round_trips(file: u64, chunk: u64) -> u64 {
    file.div_ceil(chunk)
}

/// Seconds to send `bytes` over a link of `bps` bits per second.
fn seconds(bytes: u64, bps: u64) -> f64 {
    (bytes * 8) as f64 / bps as f64
}

/// The smallest part size that fits `object` into 10,000 parts, rounded
/// up to a whole MiB and never under S3's 5 MiB minimum.
fn smallest_part(object: u64) -> u64 {
    let part = object.div_ceil(S3_MAX_PARTS).div_ceil(MIB) * MIB;
    part.max(S3_MIN_PART)
}

// ANCHOR_END: main

fn main() {
    let load = Load {
        uploads_per_day: 1_000_000,
        average_bytes: 5 * MIB,
        peak_factor: 3,
        uplink_bps: 10_000_000,
    };
    let daily = load.uploads_per_day * load.average_bytes;
    let average = per_second(daily);
    let peak = average * load.peak_factor;
    println!("uploads per day:        {}", load.uploads_per_day);
    println!("average upload:         {} MiB", load.average_bytes / MIB);
    println!("ingress per day:        {} GiB", daily / GIB);
    println!(
        "average ingress:        {} MiB/s ({} Mbit/s)",
        average / MIB,
        mbit(average)
    );
    println!(
        "peak ingress (x{}):      {} MiB/s ({} Mbit/s)",
        load.peak_factor,
        peak / MIB,
        mbit(peak)
    );
    println!(
        "storage per year:       {} TiB (one copy)",
        daily * 365 / TIB
    );
    let one = seconds(load.average_bytes, load.uplink_bps);
    let in_flight = load.uploads_per_day as f64 * one / 86_400.0;
    println!("one upload at 10 Mbit/s: {one:.1} s");
    println!("uploads in flight (avg): {in_flight:.0}");
    println!();
    let video = 2 * GIB;
    println!("PATCH requests for a 2 GiB file, and the seconds of one");
    println!("chunk at 10 Mbit/s (lost if an all-or-nothing chunk breaks):");
    for chunk in [MIB, 5 * MIB, 8 * MIB, 64 * MIB] {
        let (n, s) =
            (round_trips(video, chunk), seconds(chunk, load.uplink_bps));
        println!(
            "  {:>2} MiB chunks: {n:>4} requests, {s:>4.1} s",
            chunk / MIB
        );
    }
    println!();
    println!("S3 multipart: at most {S3_MAX_PARTS} parts of 5 MiB to 5 GiB");
    let max_tib = S3_MAX_OBJECT as f64 / TIB as f64;
    println!("  largest object: {max_tib:.1} TiB (10,000 x 5 GiB)");
    for part in [8 * MIB, 64 * MIB] {
        let most = part * S3_MAX_PARTS / GIB;
        println!("  {:>2} MiB parts reach at most {most} GiB", part / MIB);
    }
    for object in [S3_OLD_MAX_OBJECT, S3_MAX_OBJECT] {
        let part = smallest_part(object) / MIB;
        let tib = object as f64 / TIB as f64;
        println!("  a {tib:.1} TiB object needs parts of at least {part} MiB");
    }
    let days = PRESIGN_MAX_SECONDS / 86_400;
    println!(
        "presigned URL (SigV4): at most {PRESIGN_MAX_SECONDS} s = {days} days"
    );
}

#[cfg(test)]
mod tests;
