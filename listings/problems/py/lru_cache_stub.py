"""Practice stub for 4.2 LRU cache. Fill in both classes, then run the
reference tests against this file:

    PRACTICE_FILE=listings/problems/py/lru_cache_stub.py \\
        .venv/py3.11/bin/python -m pytest listings/problems/py/test_lru_cache.py

LruCache may use collections.OrderedDict; LinkedLruCache may not: use a
dict and a doubly linked list of your own. Both refuse a capacity that is
not an int with TypeError("capacity must be an int, got 2.5"), and a
negative one with ValueError("capacity must be at least 0, got -1").
"""

from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """A least-recently-used cache holding at most `capacity` entries."""

    def __init__(self, capacity: int) -> None:
        raise NotImplementedError

    def get(self, key: K) -> V | None:
        """The value for `key`, which becomes the most recently used."""
        raise NotImplementedError

    def put(self, key: K, value: V) -> tuple[K, V] | None:
        """Inserts or updates `key`, making it the most recently used.
        Returns the entry evicted to make room, if any."""
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def items(self) -> list[tuple[K, V]]:
        """Entries from most to least recently used, without reordering."""
        raise NotImplementedError


class LinkedLruCache(Generic[K, V]):
    """The same cache with a dict and a hand-written doubly linked list."""

    def __init__(self, capacity: int) -> None:
        raise NotImplementedError

    def get(self, key: K) -> V | None:
        """The value for `key`, which becomes the most recently used."""
        raise NotImplementedError

    def put(self, key: K, value: V) -> tuple[K, V] | None:
        """Inserts or updates `key`, making it the most recently used.
        Returns the entry evicted to make room, if any."""
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def items(self) -> list[tuple[K, V]]:
        """Entries from most to least recently used, without reordering."""
        raise NotImplementedError
