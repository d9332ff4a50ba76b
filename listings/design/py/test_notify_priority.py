"""Tests of 3.2's Python listing (notify_priority.py): quiet hours across
both 2026 DST changes in Berlin and inside the spring gap, bad input
refused, and a security alert behind a prefetched batch on a real
RabbitMQ priority queue."""

from datetime import UTC, datetime
from datetime import time as clock
from zoneinfo import ZoneInfoNotFoundError

import pytest
from notify_priority import alert_position, quiet_until

NIGHT, MORNING = clock(22, 0), clock(7, 0)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def test_quiet_hours_end_at_local_seven_across_dst() -> None:
    berlin = "Europe/Berlin"
    # 23:30 CET on 28 March; 07:00 CEST the next morning is 05:00 UTC.
    spring = quiet_until(berlin, NIGHT, MORNING, utc(2026, 3, 28, 22, 30))
    assert spring == utc(2026, 3, 29, 5, 0)
    # The night clocks go back: 07:00 CET is 06:00 UTC.
    autumn = quiet_until(berlin, NIGHT, MORNING, utc(2026, 10, 24, 21, 30))
    assert autumn == utc(2026, 10, 25, 6, 0)
    # The end is not quiet; noon is not quiet.
    assert quiet_until(berlin, NIGHT, MORNING, utc(2026, 1, 15, 6, 0)) is None
    assert quiet_until(berlin, NIGHT, MORNING, utc(2026, 1, 15, 11)) is None


def test_an_end_inside_the_dst_gap_moves_forward() -> None:
    # 02:30 does not exist in Berlin on 29 March 2026: 03:30 CEST.
    end = quiet_until(
        "Europe/Berlin", clock(1, 0), clock(2, 30), utc(2026, 3, 29, 0, 15)
    )
    assert end == utc(2026, 3, 29, 1, 30)


def test_bad_preferences_are_refused() -> None:
    with pytest.raises(ZoneInfoNotFoundError):
        quiet_until("Mars/Olympus_Mons", NIGHT, MORNING, utc(2026, 1, 1))
    with pytest.raises(ValueError, match="start equals end"):
        quiet_until("UTC", NIGHT, NIGHT, utc(2026, 1, 1))
    with pytest.raises(ValueError):  # a naive datetime is ambiguous
        quiet_until("UTC", NIGHT, MORNING, datetime(2026, 1, 1))


# ANCHOR: prefetch_test
@pytest.mark.parametrize(("prefetch", "position"), [(1, 2), (4, 5), (10, 11)])
def test_the_alert_waits_behind_what_the_consumer_already_took(
    amqp_url: str, prefetch: int, position: int
) -> None:
    # The broker reorders only what it still holds: the alert comes right
    # after the batch the consumer had already been given.
    assert alert_position(amqp_url, prefetch) == position


# ANCHOR_END: prefetch_test
