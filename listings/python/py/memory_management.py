"""1.3 Memory management: reference counting, the cycle collector, weak
references, and finding a leak with tracemalloc.

What the script shows, each claim asserted before it is printed:

- Reference counts move by exactly the references a statement adds or drops.
  sys.getrefcount reports one extra reference, the one held by its own
  argument, so a fresh temporary reports 1. Raw counts of long-lived objects
  differ between versions (3.12 made None, True, small ints and others
  immortal, PEP 683, and 3.14 borrows some references on the evaluation
  stack), so the script prints differences, never raw counts.
- An object is freed the moment its last reference goes: a finalizer runs
  at `del` even with the cycle collector switched off.
- A reference cycle is not freed by reference counting. With gc disabled,
  two objects that point at each other survive `del`; gc.collect() finds
  them, runs their __del__ methods (PEP 442) and frees them, leaving
  gc.garbage empty.
- Weak references do not keep objects alive: a child that points at its
  parent through weakref.ref does not form a cycle, and a
  WeakValueDictionary cache forgets an entry once nobody else holds it.
- tracemalloc finds a leak: a request handler that appends every payload to
  a module-level list. Two snapshots around 1000 requests, compared by
  line, put that line at the top. The script prints the line's source, not
  sizes, which vary between versions and platforms.
"""

import gc
import linecache
import sys
import tracemalloc
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import ClassVar


@contextmanager
def collector_paused() -> Iterator[None]:
    """Disable automatic cycle collection inside the block, then restore it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# ANCHOR: refcount
def refcount_deltas() -> dict[str, int]:
    """How each statement changes the count of one ordinary object."""
    payload = object()
    start = sys.getrefcount(payload)
    alias = payload  # a second name
    after_alias = sys.getrefcount(payload)
    holder = [payload, payload]  # two more, from the list's slots
    after_list = sys.getrefcount(payload)
    del alias
    holder.clear()
    after_release = sys.getrefcount(payload)
    return {
        "bind a second name": after_alias - start,
        "store it twice in a list": after_list - after_alias,
        "del the name, clear the list": after_release - after_list,
    }


def none_count_moves_as_predicted() -> bool:
    """1000 new references to None: +1000 before 3.12, 0 once immortal."""
    before = sys.getrefcount(None)
    nones = [None] * 1000
    after = sys.getrefcount(None)
    del nones
    expected = 0 if sys.version_info >= (3, 12) else 1000
    return after - before == expected
    # ANCHOR_END: refcount


class Session:
    """A stand-in for any object a service creates per request or user."""

    def __init__(self, name: str) -> None:
        self.name = name


# ANCHOR: freed_at_zero
def freed_when_last_reference_goes() -> bool:
    with collector_paused():
        session = Session("request-1")
        finalizer = weakref.finalize(session, lambda: None)
        del session  # the count drops to zero here
        return not finalizer.alive
    # ANCHOR_END: freed_at_zero


# ANCHOR: cycle
class Peer:
    """Two peers that point at each other form a reference cycle."""

    finalized: ClassVar[list[str]] = []  # one list, shared by the class

    def __init__(self, name: str) -> None:
        self.name = name
        self.other: Peer | None = None

    def __del__(self) -> None:
        Peer.finalized.append(self.name)


def cycle_needs_the_collector() -> dict[str, bool]:
    gc.collect()  # start from a clean heap
    Peer.finalized.clear()
    with collector_paused():
        a, b = Peer("a"), Peer("b")
        a.other, b.other = b, a
        probe = weakref.ref(a)
        del a, b  # each still holds the other: counts stay at 1
        alive_after_del = probe() is not None
        found = gc.collect()  # > 0: the unreachable objects it found
        alive_after_collect = probe() is not None
    return {
        "alive after del": alive_after_del,
        "gc.collect() found unreachable objects": found > 0,
        "alive after gc.collect()": alive_after_collect,
        "__del__ ran for both": sorted(Peer.finalized) == ["a", "b"],
        "gc.garbage is empty": gc.garbage == [],
    }
    # ANCHOR_END: cycle


# ANCHOR: weakref
class TreeNode:
    """Children are held strongly; the parent is held weakly, so no cycle."""

    def __init__(self, name: str, parent: "TreeNode | None" = None) -> None:
        self.name = name
        self.children: list[TreeNode] = []
        self._parent = weakref.ref(parent) if parent is not None else None
        if parent is not None:
            parent.children.append(self)

    @property
    def parent(self) -> "TreeNode | None":
        return self._parent() if self._parent is not None else None


def weak_parent_pointer() -> dict[str, object]:
    with collector_paused():
        root = TreeNode("root")
        child = TreeNode("child", parent=root)
        parent_before = child.parent.name if child.parent else None
        root_probe = weakref.ref(root)
        del root  # only a weak reference points back: freed right here
        return {
            "child.parent while the root is alive": parent_before,
            "root freed at del, collector off": root_probe() is None,
            "child.parent after that": child.parent,
        }


def weak_cache() -> dict[str, bool]:
    cache: weakref.WeakValueDictionary[str, Session]
    cache = weakref.WeakValueDictionary()
    session = Session("alice")
    cache["alice"] = session
    held = "alice" in cache
    del session  # the cache's reference is weak, so this was the last one
    return {
        "'alice' cached while the session is in use": held,
        "'alice' cached after its last strong reference goes": "alice" in cache,
    }
    # ANCHOR_END: weakref


# ANCHOR: leak
PAYLOAD_BYTES = 4096
REQUESTS = 1000
_REQUEST_HISTORY: list[bytearray] = []


def handle_request(request_id: int) -> int:
    body = bytearray(PAYLOAD_BYTES)
    body[:8] = request_id.to_bytes(8, "little")
    _REQUEST_HISTORY.append(bytearray(body))  # the leak: kept forever
    return len(body)


def serve(requests: int) -> None:
    for request_id in range(requests):
        handle_request(request_id)


def growth_between_snapshots(
    work: Callable[[], None],
) -> list[tracemalloc.StatisticDiff]:
    """Run `work` between two snapshots; return this file's growth by line."""
    only_this_file = [tracemalloc.Filter(True, __file__)]
    before = tracemalloc.take_snapshot().filter_traces(only_this_file)
    work()
    after = tracemalloc.take_snapshot().filter_traces(only_this_file)
    return after.compare_to(before, "lineno")


def find_the_leak() -> dict[str, object]:
    tracemalloc.start()
    try:
        serve(10)  # warm up: first-call allocations are not the leak
        stats = growth_between_snapshots(lambda: serve(REQUESTS))
        top = stats[0]
        frame = top.traceback[0]
        source = linecache.getline(frame.filename, frame.lineno).strip()
        fixed = growth_between_snapshots(_REQUEST_HISTORY.clear)
        freed = -sum(
            s.size_diff for s in fixed if s.traceback[0].lineno == frame.lineno
        )
    finally:
        tracemalloc.stop()
    leaked = REQUESTS * PAYLOAD_BYTES
    return {
        "top growth by line": source,
        f"grew by at least {REQUESTS} x {PAYLOAD_BYTES} bytes": top.size_diff
        >= leaked,
        "clearing the list gives that memory back": freed >= leaked,
    }
    # ANCHOR_END: leak


def show(
    title: str, facts: Mapping[str, object], expected: Mapping[str, object]
) -> None:
    """Print the facts, after checking that each one is what the text claims."""
    assert facts == expected, (title, facts)
    print(title)
    for name, value in facts.items():
        print(f"  {name}: {value}")


def main() -> None:
    # Only CPython counts references; the facts below are CPython's.
    assert sys.implementation.name == "cpython"
    if sys.version_info < (3, 13):
        # The documented default through 3.12; later releases changed the first
        # threshold, so it is checked only where it is known.
        assert gc.get_threshold() == (700, 10, 10)

    assert sys.getrefcount(object()) == 1  # only the argument's own reference
    print("sys.getrefcount(object()) == 1: the argument's own reference")
    show(
        "reference counts, as differences:",
        refcount_deltas(),
        {
            "bind a second name": 1,
            "store it twice in a list": 2,
            "del the name, clear the list": -3,
        },
    )
    none_rule = (
        "1000 new references move its count by +1000 before 3.12, 0 after"
    )
    show(
        "None is immortal from 3.12 (PEP 683):",
        {none_rule: none_count_moves_as_predicted()},
        {none_rule: True},
    )
    at_zero = "finalizer ran at del, collector off"
    show(
        "reference count reaches zero:",
        {at_zero: freed_when_last_reference_goes()},
        {at_zero: True},
    )
    show(
        "a reference cycle, collector off until gc.collect():",
        cycle_needs_the_collector(),
        {
            "alive after del": True,
            "gc.collect() found unreachable objects": True,
            "alive after gc.collect()": False,
            "__del__ ran for both": True,
            "gc.garbage is empty": True,
        },
    )
    show(
        "a weak parent pointer:",
        weak_parent_pointer(),
        {
            "child.parent while the root is alive": "root",
            "root freed at del, collector off": True,
            "child.parent after that": None,
        },
    )
    show(
        "a WeakValueDictionary cache:",
        weak_cache(),
        {
            "'alice' cached while the session is in use": True,
            "'alice' cached after its last strong reference goes": False,
        },
    )
    show(
        f"tracemalloc, {REQUESTS} requests between two snapshots:",
        find_the_leak(),
        {
            "top growth by line": "_REQUEST_HISTORY.append(bytearray(body))  "
            "# the leak: kept forever",
            f"grew by at least {REQUESTS} x {PAYLOAD_BYTES} bytes": True,
            "clearing the list gives that memory back": True,
        },
    )


if __name__ == "__main__":
    main()
