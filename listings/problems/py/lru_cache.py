"""4.2 LRU cache: get and put in O(1).

The Python version of listings/problems/src/bin/lru_cache/main.rs, twice:

- LruCache keeps an OrderedDict, which CPython implements in C as a dict
  plus a doubly linked list of its keys: move_to_end(key) on every use,
  popitem(last=False) to evict the oldest entry. The answer the question's
  hint points at.
- LinkedLruCache is the "now without OrderedDict" answer: a plain dict from
  key to node, and a doubly linked list of nodes between two sentinels
  that are never removed, so unlinking needs no None checks.

Both decide what the question leaves open as the Rust listing does:

- get returns the value (None on a miss) and makes the key the most
  recently used. A miss changes nothing.
- put of a new key into a full cache evicts the least recently used entry
  and returns it as (key, value); otherwise put returns None.
- put of a key already present replaces its value, makes it the most
  recently used and evicts nothing: an update is a use.
- Capacity 0 stores nothing: every put hands its own entry straight back.
  functools.lru_cache(maxsize=0) likewise never caches.
- A capacity that is not an int, or is negative, is refused at
  construction (TypeError, ValueError).

Neither class locks: get reorders, so a cache shared by threads needs a
threading.Lock around each method.
"""

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _checked_capacity(capacity: int) -> int:
    """The capacity, if it is an int of at least 0."""
    if isinstance(capacity, bool) or not isinstance(capacity, int):
        raise TypeError(f"capacity must be an int, got {capacity!r}")
    if capacity < 0:
        raise ValueError(f"capacity must be at least 0, got {capacity}")
    return capacity


# ANCHOR: ordered_dict
class LruCache(Generic[K, V]):
    """A least-recently-used cache holding at most `capacity` entries."""

    def __init__(self, capacity: int) -> None:
        self.capacity = _checked_capacity(capacity)
        # Oldest first: the end of the OrderedDict is the most recent use.
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The value for `key`, which becomes the most recently used."""
        if key not in self._data:
            return None
        self._data.move_to_end(key)
        return self._data[key]

    def put(self, key: K, value: V) -> tuple[K, V] | None:
        """Inserts or updates `key`, making it the most recently used.
        Returns the entry evicted to make room, if any."""
        self._data[key] = value
        # Assignment keeps an existing key where it was: move it explicitly.
        self._data.move_to_end(key)
        if len(self._data) > self.capacity:
            return self._data.popitem(last=False)
        return None

    def __len__(self) -> int:
        return len(self._data)

    def items(self) -> list[tuple[K, V]]:
        """Entries from most to least recently used, without reordering."""
        return list(reversed(self._data.items()))
        # ANCHOR_END: ordered_dict


# ANCHOR: node
class _Node(Generic[K, V]):
    """A list node. The two sentinels are nodes whose key and value are
    never set, like the root link of the pure-Python OrderedDict."""

    __slots__ = ("key", "next", "prev", "value")
    key: K
    value: V
    prev: "_Node[K, V]"
    next: "_Node[K, V]"
    # ANCHOR_END: node


# ANCHOR: linked
class LinkedLruCache(Generic[K, V]):
    """The same cache with a dict and a hand-written doubly linked list."""

    def __init__(self, capacity: int) -> None:
        self.capacity = _checked_capacity(capacity)
        self._nodes: dict[K, _Node[K, V]] = {}
        # Two sentinels: head.next is the most recent, tail.prev the oldest.
        self._head: _Node[K, V] = _Node()
        self._tail: _Node[K, V] = _Node()
        self._head.next, self._tail.prev = self._tail, self._head

    def get(self, key: K) -> V | None:
        """The value for `key`, which becomes the most recently used."""
        node = self._nodes.get(key)
        if node is None:
            return None
        self._unlink(node)
        self._push_front(node)
        return node.value

    def put(self, key: K, value: V) -> tuple[K, V] | None:
        """Inserts or updates `key`, making it the most recently used.
        Returns the entry evicted to make room, if any."""
        if self.capacity == 0:
            return (key, value)
        node = self._nodes.get(key)
        if node is not None:
            node.value = value
            self._unlink(node)
            self._push_front(node)
            return None
        evicted = None
        if len(self._nodes) == self.capacity:
            oldest = self._tail.prev
            self._unlink(oldest)
            del self._nodes[oldest.key]
            evicted = (oldest.key, oldest.value)
        node = self._nodes[key] = _Node()
        node.key, node.value = key, value
        self._push_front(node)
        return evicted

    def _unlink(self, node: _Node[K, V]) -> None:
        node.prev.next, node.next.prev = node.next, node.prev

    def _push_front(self, node: _Node[K, V]) -> None:
        node.prev, node.next = self._head, self._head.next
        self._head.next.prev = node
        self._head.next = node
        # ANCHOR_END: linked

    def __len__(self) -> int:
        return len(self._nodes)

    def items(self) -> list[tuple[K, V]]:
        """Entries from most to least recently used, without reordering."""
        entries = []
        node = self._head.next
        while node is not self._tail:
            entries.append((node.key, node.value))
            node = node.next
        return entries


def show(cache: LruCache[int, int]) -> str:
    return ", ".join(f"{key}={value}" for key, value in cache.items())


# ANCHOR: main
def main() -> None:
    print("LeetCode 146 sequence, capacity 2 (recency: most recent first)")
    cache: LruCache[int, int] = LruCache(2)
    # (key, value) is put(key, value); (key, None) is get(key).
    steps = [(1, 1), (2, 2), (1, None), (3, 3), (2, None), (4, 4)]
    steps += [(1, None), (3, None), (4, None)]
    for key, value in steps:
        if value is None:
            shown = f"get({key}) -> {cache.get(key)}"
        else:
            shown = f"put({key}, {value}) -> evicted {cache.put(key, value)}"
        print(f"  {shown:<34} recency [{show(cache)}]")

    words: LruCache[str, int] = LruCache(2)
    words.put("a", 1)
    words.put("b", 2)
    print("update in place, capacity 2")
    print(f"  put(a, 10) -> evicted {words.put('a', 10)}")
    print(f"  put(c, 3) -> evicted {words.put('c', 3)}")
    print(f"  recency {words.items()}")

    empty: LruCache[int, int] = LruCache(0)
    print(f"capacity 0: put(1, 1) -> evicted {empty.put(1, 1)}")
    print(f"capacity 0: get(1) -> {empty.get(1)}, len {len(empty)}")
    for bad in (-1, 2.5):
        try:
            LruCache(bad)  # type: ignore[arg-type]
        except (TypeError, ValueError) as error:
            print(f"LruCache({bad}): {type(error).__name__}: {error}")
    # ANCHOR_END: main


if __name__ == "__main__":
    main()
