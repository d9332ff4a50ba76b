use super::*;

#[test]
fn ingress_and_storage_follow_from_the_load() {
    let daily = 1_000_000 * 5 * MIB;
    assert_eq!(daily / GIB, 4882);
    assert_eq!(per_second(daily), 60_681_481);
    assert_eq!(mbit(per_second(daily)), 485);
    assert_eq!(daily * 365 / TIB, 1740);
}

#[test]
fn round_trips_count_the_short_last_chunk() {
    assert_eq!(round_trips(2 * GIB, 5 * MIB), 410);
    assert_eq!(round_trips(2 * GIB, 8 * MIB), 256);
    assert_eq!(round_trips(1, 8 * MIB), 1);
    assert_eq!(round_trips(8 * MIB + 1, 8 * MIB), 2);
}

#[test]
fn seconds_on_a_ten_megabit_link() {
    assert!((seconds(5 * MIB, 10_000_000) - 4.194_304).abs() < 1e-9);
}

#[test]
fn s3_part_sizes_respect_the_limits() {
    // 5 TiB / 10,000 = 549,755,814 bytes: 525 MiB rounded up.
    assert_eq!(smallest_part(S3_OLD_MAX_OBJECT), 525 * MIB);
    // The largest object needs the largest parts, and no more.
    assert_eq!(smallest_part(S3_MAX_OBJECT), S3_MAX_PART);
    assert_eq!(S3_MAX_OBJECT, 50_000 * GIB);
    for object in [GIB, S3_OLD_MAX_OBJECT, S3_MAX_OBJECT] {
        let part = smallest_part(object);
        assert!(part * S3_MAX_PARTS >= object && part <= S3_MAX_PART);
    }
    // A small object still uses the 5 MiB minimum.
    assert_eq!(smallest_part(10 * MIB), S3_MIN_PART);
    assert_eq!(8 * MIB * S3_MAX_PARTS / GIB, 78);
}

#[test]
fn a_presigned_url_lives_a_week_at_most() {
    assert_eq!(PRESIGN_MAX_SECONDS / 86_400, 7);
}
