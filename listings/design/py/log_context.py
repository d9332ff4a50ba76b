"""3.7 in Python: JSON logs off the request path, with the trace id of
the task that logged them. A QueueHandler puts records on a bounded queue
(dropping and counting when it is full); a QueueListener thread formats
them as JSON and writes them. The trace id lives in a ContextVar, so each
asyncio task keeps its own, and a filter on the QueueHandler copies it
onto the record while still in the caller's context.

Run: python listings/design/py/log_context.py"""

import asyncio
import contextvars
import io
import json
import logging
import logging.handlers
import queue
import re
import secrets
import threading
from datetime import UTC, datetime
from typing import Any

# ANCHOR: context
# Each asyncio Task runs in a copy of the context it was created in, so a
# value set inside one task is invisible to the others.
trace_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "trace_id", default="-"
)

TRACEPARENT = re.compile(
    r"(?P<version>[0-9a-f]{2})-(?P<trace>[0-9a-f]{32})"
    r"-(?P<parent>[0-9a-f]{16})-(?P<flags>[0-9a-f]{2})(?P<more>-.*)?",
    re.DOTALL,
)


def accept(traceparent: str | None) -> str:
    """The trace id to work under: the caller's when its W3C traceparent
    is valid, else a new one. Sets it for this context. Version 00 is
    exactly four fields; a higher version may add more after a dash."""
    m = TRACEPARENT.fullmatch(traceparent or "")
    valid = (
        m is not None
        and m["version"] != "ff"
        and not (m["version"] == "00" and m["more"])
        and m["trace"] != "0" * 32
        and m["parent"] != "0" * 16
    )
    new = m["trace"] if m is not None and valid else secrets.token_hex(16)
    trace_id.set(new)
    return new


class TraceIdFilter(logging.Filter):
    """Stamps the record with the current trace id. It must run on the
    QueueHandler, in the caller's context: the listener's thread has a
    context of its own, where the variable has its default."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id = trace_id.get()
        return True


# ANCHOR_END: context


# ANCHOR: formatter
# What every LogRecord has; anything else came in through `extra=`.
STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "trace_id"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message,
    trace id, and the fields passed with `extra=`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "trace_id": getattr(record, "trace_id", "-"),
        }
        for key, value in vars(record).items():
            if key not in STANDARD:
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


# ANCHOR_END: formatter


# ANCHOR: dropping
class DroppingQueueHandler(logging.handlers.QueueHandler):
    """QueueHandler.enqueue calls put_nowait; on a full bounded queue that
    raises queue.Full, which the base class reports through handleError
    (a traceback on stderr) for every record. Here a full queue drops the
    record and counts it: the caller never waits and never sees it."""

    def __init__(self, q: "queue.Queue[logging.LogRecord]") -> None:
        super().__init__(q)
        self.dropped = 0
        self._lock = threading.Lock()

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            with self._lock:
                self.dropped += 1


class Listener(logging.handlers.QueueListener):
    """QueueListener.stop() enqueues its sentinel (None) with put_nowait,
    which raises queue.Full when a bounded queue is full: at shutdown,
    wait for room instead, for a bounded time."""

    def enqueue_sentinel(self) -> None:
        if isinstance(self.queue, queue.Queue):
            self.queue.put(None, timeout=5)
        else:
            super().enqueue_sentinel()


def pipeline(
    name: str, sink: logging.Handler, maxsize: int = 10_000
) -> tuple[logging.Logger, DroppingQueueHandler, Listener]:
    """A logger whose records go through a bounded queue to `sink`, which
    gets the JSON formatter. The listener is returned unstarted."""
    q: queue.Queue[logging.LogRecord] = queue.Queue(maxsize)
    handler = DroppingQueueHandler(q)
    handler.addFilter(TraceIdFilter())
    sink.setFormatter(JsonFormatter())
    listener = Listener(q, sink, respect_handler_level=True)
    logger = logging.getLogger(name)
    logger.handlers = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, handler, listener


# ANCHOR_END: dropping


# ANCHOR: tasks
async def handle(log: logging.Logger, request: str, tp: str | None) -> None:
    accept(tp)  # only this task's context changes
    log.info("request started", extra={"request": request})
    await asyncio.sleep(0)  # the other tasks run here
    log.info("request done", extra={"request": request})


async def serve(log: logging.Logger) -> None:
    spec = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    await asyncio.gather(
        handle(log, "a", spec),
        handle(log, "b", other),
        handle(log, "c", spec.upper()),  # invalid: a new trace
    )


# ANCHOR_END: tasks


def main() -> None:
    out = io.StringIO()
    log, handler, listener = pipeline("demo", logging.StreamHandler(out))
    listener.start()
    asyncio.run(serve(log))
    listener.stop()  # drains the queue, then joins the thread
    known = {
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "0af7651916cd43dd8448eb211c80319c",
    }
    for text in out.getvalue().splitlines():
        line = json.loads(text)
        tid = line["trace_id"]
        shown = tid if tid in known else f"new ({len(tid)} hex)"
        print(f"{line['request']} {line['message']:<16} {shown}")
    print(f"outside any task: {trace_id.get()!r}")

    # A sink that has stopped: the listener is never started.
    stalled, handler, _ = pipeline("stalled", logging.NullHandler(), 8)
    for n in range(40):
        stalled.info("line %d", n)
    print(f"queue of 8, listener stopped: 40 logged, {handler.dropped} dropped")


if __name__ == "__main__":
    main()
