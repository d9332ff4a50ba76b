//! 4.2 LRU cache: `get` and `put` in O(1), in safe Rust.
//!
//! A `HashMap` maps each key to a slot in a `Vec` of nodes, and the nodes
//! form a doubly linked list by slot index, most recently used at the head,
//! least recently used at the tail. Indices instead of pointers keep the code
//! free of `unsafe` and of `Rc<RefCell<_>>`.
//!
//! Semantics chosen for what the question leaves open:
//! - `get` returns `Option<&V>` (no `-1` sentinel) and makes the key the most
//!   recently used.
//! - `put` of a new key at capacity evicts the least recently used entry and
//!   returns it as `Some((key, value))`; otherwise it returns `None`.
//! - `put` of a key already present replaces its value in place, makes it the
//!   most recently used, evicts nothing and returns `None`.
//! - Capacity 0 is a cache that stores nothing: every `put` hands its own
//!   entry straight back as the evicted one, and every `get` misses.
//! - Capacity 1 holds the latest entry only.
//! - `new` allocates nothing; storage grows as entries arrive and never
//!   exceeds the capacity, because a full cache reuses the evicted slot. So
//!   `new(usize::MAX)` is a valid unbounded-in-practice cache, not a panic.
//!   `try_with_capacity` reserves everything up front instead, and returns
//!   an error (never panics) when the capacity cannot be allocated.

use std::borrow::Borrow;
use std::collections::{HashMap, TryReserveError};
use std::hash::Hash;

// ANCHOR: types
/// One entry, linked to its neighbours in recency order by slot index.
struct Node<K, V> {
    key: K,
    value: V,
    /// The slot used just more recently than this one (towards the head).
    prev: Option<usize>,
    /// The slot used just less recently than this one (towards the tail).
    next: Option<usize>,
}

/// A least-recently-used cache with a fixed capacity.
pub struct LruCache<K, V> {
    capacity: usize,
    /// Key to slot in `nodes`: the O(1) lookup.
    slots: HashMap<K, usize>,
    /// The list's storage. Never longer than `capacity`.
    nodes: Vec<Node<K, V>>,
    /// Most recently used slot.
    head: Option<usize>,
    /// Least recently used slot: the next one to evict.
    tail: Option<usize>,
}
// ANCHOR_END: types

impl<K: Hash + Eq + Clone, V> LruCache<K, V> {
    /// An empty cache that will hold at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        LruCache {
            capacity,
            slots: HashMap::new(),
            nodes: Vec::new(),
            head: None,
            tail: None,
        }
    }

    /// An empty cache with room for `capacity` entries reserved up front, so
    /// filling it never rehashes or moves nodes. Fails with an error, rather
    /// than a panic or an abort, when that much memory cannot be had.
    pub fn try_with_capacity(capacity: usize) -> Result<Self, TryReserveError> {
        let mut cache = Self::new(capacity);
        cache.slots.try_reserve(capacity)?;
        cache.nodes.try_reserve_exact(capacity)?;
        Ok(cache)
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    // ANCHOR: get
    /// The value for `key`, which becomes the most recently used entry.
    pub fn get<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let slot = *self.slots.get(key)?;
        self.move_to_front(slot);
        Some(&self.nodes[slot].value)
    }
    // ANCHOR_END: get

    // ANCHOR: put
    /// Inserts or updates `key`, making it the most recently used entry.
    /// Returns the entry evicted to make room, if any.
    pub fn put(&mut self, key: K, value: V) -> Option<(K, V)> {
        if self.capacity == 0 {
            // Nothing can be stored: the new entry is evicted at once.
            return Some((key, value));
        }
        if let Some(&slot) = self.slots.get(&key) {
            self.nodes[slot].value = value;
            self.move_to_front(slot);
            return None;
        }
        match self.tail {
            Some(lru) if self.nodes.len() == self.capacity => {
                // Full: the least recently used slot takes the new entry, so
                // the Vec never grows past capacity and needs no free list.
                self.unlink(lru);
                let node = &mut self.nodes[lru];
                let old_key = std::mem::replace(&mut node.key, key.clone());
                let old_value = std::mem::replace(&mut node.value, value);
                self.slots.remove(&old_key);
                self.slots.insert(key, lru);
                self.push_front(lru);
                Some((old_key, old_value))
            }
            _ => {
                let slot = self.nodes.len();
                self.nodes.push(Node {
                    key: key.clone(),
                    value,
                    prev: None,
                    next: None,
                });
                self.slots.insert(key, slot);
                self.push_front(slot);
                None
            }
        }
    }
    // ANCHOR_END: put

    /// Entries from most to least recently used, without touching the order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        std::iter::successors(self.head, |&slot| self.nodes[slot].next)
            .map(|slot| (&self.nodes[slot].key, &self.nodes[slot].value))
    }

    // ANCHOR: links
    fn move_to_front(&mut self, slot: usize) {
        if self.head != Some(slot) {
            self.unlink(slot);
            self.push_front(slot);
        }
    }

    /// Takes `slot` out of the list, joining its neighbours to each other.
    fn unlink(&mut self, slot: usize) {
        let (prev, next) = (self.nodes[slot].prev, self.nodes[slot].next);
        match prev {
            Some(p) => self.nodes[p].next = next,
            None => self.head = next,
        }
        match next {
            Some(n) => self.nodes[n].prev = prev,
            None => self.tail = prev,
        }
    }

    /// Puts an unlinked `slot` at the head of the list.
    fn push_front(&mut self, slot: usize) {
        self.nodes[slot].prev = None;
        self.nodes[slot].next = self.head;
        match self.head {
            Some(old_head) => self.nodes[old_head].prev = Some(slot),
            None => self.tail = Some(slot),
        }
        self.head = Some(slot);
    }
    // ANCHOR_END: links
}

fn recency<K: Hash + Eq + Clone + std::fmt::Debug, V: std::fmt::Debug>(
    cache: &LruCache<K, V>,
) -> String {
    let entries: Vec<String> =
        cache.iter().map(|(k, v)| format!("{k:?}={v:?}")).collect();
    format!("[{}]", entries.join(", "))
}

// ANCHOR: leetcode_146
fn replay_leetcode_146() {
    println!("LeetCode 146 sequence, capacity 2 (recency: most recent first)");
    let mut cache = LruCache::new(2);
    enum Step {
        Put(i32, i32),
        Get(i32),
    }
    use Step::{Get, Put};
    let steps = [
        Put(1, 1),
        Put(2, 2),
        Get(1),
        Put(3, 3),
        Get(2),
        Put(4, 4),
        Get(1),
        Get(3),
        Get(4),
    ];
    for step in steps {
        let shown = match step {
            Put(key, value) => {
                format!(
                    "put({key}, {value}) -> evicted {:?}",
                    cache.put(key, value)
                )
            }
            Get(key) => format!("get({key}) -> {:?}", cache.get(&key)),
        };
        println!("  {shown:<34} recency {}", recency(&cache));
    }
}
// ANCHOR_END: leetcode_146

// ANCHOR: main
fn main() {
    replay_leetcode_146();

    println!("update in place, capacity 2");
    let mut cache: LruCache<String, u32> = LruCache::new(2);
    cache.put("a".to_string(), 1);
    cache.put("b".to_string(), 2);
    println!(
        "  put(a, 10) -> evicted {:?}",
        cache.put("a".to_string(), 10)
    );
    println!("  recency {}", recency(&cache));
    println!("  put(c, 3) -> evicted {:?}", cache.put("c".to_string(), 3));
    println!("  get(\"a\") -> {:?}", cache.get("a"));
    println!("  recency {}", recency(&cache));

    let mut empty = LruCache::new(0);
    println!("capacity 0: put(1, 1) -> evicted {:?}", empty.put(1, 1));
    println!("capacity 0: get(1) -> {:?}", empty.get(&1));
    println!("capacity 0: len {}", empty.len());

    let mut single = LruCache::new(1);
    single.put(1, "one");
    println!(
        "capacity 1: put(2, two) -> evicted {:?}",
        single.put(2, "two")
    );
    println!("capacity 1: recency {}", recency(&single));

    match LruCache::<u64, u64>::try_with_capacity(usize::MAX) {
        Ok(_) => println!("reserved usize::MAX entries?"),
        Err(e) => println!("try_with_capacity(usize::MAX): {e}"),
    }
}
// ANCHOR_END: main

#[cfg(test)]
mod tests;
