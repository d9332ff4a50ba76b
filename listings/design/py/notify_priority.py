"""3.2 Notification system, the Python side: quiet hours with `zoneinfo`,
and what a consumer's prefetch does to a RabbitMQ priority queue (pika).

- Quiet hours are local wall-clock times in the user's IANA zone; the end
  of the window is built as a local date and time, then converted to UTC,
  so daylight-saving changes come out right.
- A priority queue (`x-max-priority`) can only reorder what it still
  holds. A consumer that has already taken a batch under its prefetch
  (Celery reserves 4 per process by default) processes that batch before
  an urgent message published afterwards.
- Server: AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/%2f);
  without it, the program exits 77. One scratch queue per run, deleted.
"""

import os
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo

import pika  # type: ignore[import-untyped]
import pika.exceptions  # type: ignore[import-untyped]

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2f"


# ANCHOR: quiet
def quiet_until(
    zone: str, start: clock, end: clock, now: datetime
) -> datetime | None:
    """If `now` (aware) is inside the quiet hours of a user in `zone`, the
    UTC instant they end; otherwise None. Raises for an unknown zone."""
    if start == end:
        raise ValueError("quiet hours: start equals end")
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    t = local.time().replace(tzinfo=None)
    # A window that spans midnight (22:00-07:00) is quiet on both sides.
    quiet = start <= t < end if start < end else t >= start or t < end
    if not quiet:
        return None
    day: date = local.date()
    if start > end and t >= start:
        day += timedelta(days=1)  # ends tomorrow morning
    # fold=0: a time inside a DST gap is read with the offset from before
    # the gap, which moves it forward (02:30 CET = 03:30 CEST).
    ends = datetime.combine(day, end, tzinfo=tz)
    return ends.astimezone(UTC)


# ANCHOR_END: quiet


# ANCHOR: position
def alert_position(url: str, prefetch: int, backlog: int = 20) -> int:
    """Queues `backlog` likes (priority 1) and starts a consumer with
    `prefetch`; once the broker has handed it a full window, publishes a
    security alert (priority 5). Returns the alert's position (1 = first)
    in the order the consumer processes messages."""
    queue = f"notify_py_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    # 2 to 4 levels is RabbitMQ's advice; the alert's 5 counts as 4 here.
    ch.queue_declare(queue, arguments={"x-max-priority": 4})
    # Publisher confirms: each publish returns once the queue holds it,
    # so the alert is queued before the consumer's next ack is seen.
    pub = conn.channel()
    pub.confirm_delivery()
    try:
        for i in range(backlog):
            like = pika.BasicProperties(priority=1)
            pub.basic_publish("", queue, f"like {i}".encode(), like)
        ch.basic_qos(prefetch_count=prefetch)
        order: list[bytes] = []
        for method, _props, body in ch.consume(queue, inactivity_timeout=2):
            if body is None:
                break  # nothing for 2 s: the queue is empty
            if not order:  # first delivery: the window is out; now alert
                wait_ready(ch, queue, backlog - min(prefetch, backlog))
                alert = pika.BasicProperties(priority=5)
                pub.basic_publish("", queue, b"alert", alert)
            order.append(body)
            ch.basic_ack(method.delivery_tag)
            if len(order) == backlog + 1:
                break
        ch.cancel()
        return order.index(b"alert") + 1
    finally:
        ch.queue_delete(queue)
        conn.close()


# ANCHOR_END: position


def wait_ready(ch: Any, queue: str, ready: int) -> None:
    """Waits until the broker holds exactly `ready` messages not yet sent
    to a consumer (the rest are out under the prefetch window)."""
    for _ in range(200):
        declared = ch.queue_declare(queue, passive=True)
        if declared.method.message_count == ready:
            return
        time.sleep(0.01)
    raise TimeoutError(f"{queue}: never {ready} ready")


def main() -> int:
    berlin = "Europe/Berlin"
    night, morning = clock(22, 0), clock(7, 0)
    for label, at in [
        ("night before spring DST", datetime(2026, 3, 28, 22, 30, tzinfo=UTC)),
        ("a week earlier", datetime(2026, 3, 21, 22, 30, tzinfo=UTC)),
        ("noon", datetime(2026, 3, 28, 12, 0, tzinfo=UTC)),
    ]:
        until = quiet_until(berlin, night, morning, at)
        shown = until.isoformat() if until else "not quiet"
        print(f"{berlin} 22:00-07:00, {label}: {shown}")
    url = os.environ.get("AMQP_URL", DEFAULT_AMQP_URL)
    try:
        pika.BlockingConnection(pika.URLParameters(url)).close()
    except pika.exceptions.AMQPError as error:
        print(f"RabbitMQ unreachable at {url}: {error!r}", file=sys.stderr)
        return 77
    for prefetch in (1, 4, 10):
        position = alert_position(url, prefetch)
        print(
            f"prefetch {prefetch:>2}: the alert was processed {position} of 21"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
