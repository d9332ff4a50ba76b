"""4.1 Two sum, all pairs: which pairs of transactions add up to a target?

The Python version of listings/problems/src/bin/two_sum/main.rs, with the
same two readings of "all pairs", both in linear expected time:

- value_pairs: every distinct pair of amounts (a, b) with a <= b and
  a + b == target, reported once. (a, a) needs a to occur twice. At most
  n/2 pairs come out, so the whole run is O(n).
- index_pairs: every pair of positions i < j, ordered by j then i, for a
  report that must name the transactions. The output alone can hold
  n(n-1)/2 pairs, so this one is O(n + k) for k pairs.

Amounts are ints in minor units (cents). Python's int has no fixed width,
so `target - x` cannot overflow and needs no counterpart of Rust's
`checked_sub`. A float, a bool or a str among the amounts is a TypeError:
money in binary floating point is a bug of its own.
"""

from collections import defaultdict
from collections.abc import Sequence


def _check_amounts(amounts: Sequence[int], target: int) -> None:
    """Raises TypeError unless the target and every amount is an int."""
    if not _is_int(target):
        raise TypeError(_refusal("target", target))
    for i, x in enumerate(amounts):
        if not _is_int(x):
            raise TypeError(_refusal(f"amounts[{i}]", x))


def _is_int(value: object) -> bool:
    # bool is a subclass of int, but True is not an amount of money.
    return isinstance(value, int) and not isinstance(value, bool)


def _refusal(where: str, value: object) -> str:
    return (
        f"{where} is {value!r} ({type(value).__name__}); amounts must be "
        "ints in minor units, e.g. cents"
    )


# ANCHOR: value_pairs
def value_pairs(amounts: Sequence[int], target: int) -> list[tuple[int, int]]:
    """Distinct value pairs (a, b), a <= b, in the order the scan completes
    them. One pass: a pair is reported when its second member arrives."""
    _check_amounts(amounts, target)
    seen: set[int] = set()
    reported: set[tuple[int, int]] = set()
    pairs: list[tuple[int, int]] = []
    for x in amounts:
        complement = target - x
        # Look before adding x, so that a lone 3 never pairs with itself.
        if complement in seen:
            pair = (min(x, complement), max(x, complement))
            if pair not in reported:
                reported.add(pair)
                pairs.append(pair)
        seen.add(x)
    return pairs
    # ANCHOR_END: value_pairs


# ANCHOR: index_pairs
def index_pairs(amounts: Sequence[int], target: int) -> list[tuple[int, int]]:
    """Every pair of positions (i, j), i < j, whose amounts sum to target,
    ordered by j then i. Equal amounts at different positions count as
    different transactions."""
    _check_amounts(amounts, target)
    positions: defaultdict[int, list[int]] = defaultdict(list)
    pairs: list[tuple[int, int]] = []
    for j, x in enumerate(amounts):
        # .get, not [ ]: indexing a defaultdict inserts an empty list for
        # every complement that is missing, so the map would grow with them.
        pairs.extend((i, j) for i in positions.get(target - x, ()))
        positions[x].append(j)
    return pairs
    # ANCHOR_END: index_pairs


# ANCHOR: main
def main() -> None:
    transactions = [1, 2, 3, 4]
    print(
        f"value pairs of {transactions} summing to 5:",
        value_pairs(transactions, 5),
    )
    repeated = [3, 3, 3, 2, 4]
    print(f"value pairs of {repeated} summing to 6:", value_pairs(repeated, 6))
    print(f"index pairs of {repeated} summing to 6:", index_pairs(repeated, 6))
    signed = [-5, 12, 0, 7, -3]
    print(f"value pairs of {signed} summing to 7:", value_pairs(signed, 7))
    # Rust's i64 extremes are ordinary ints here, and so is anything wider.
    extreme = [-(2**63), 2**63 - 1, -1, 0, 2**64]
    print(
        "value pairs of [-2**63, 2**63 - 1, -1, 0, 2**64] summing to -1:",
        value_pairs(extreme, -1),
    )
    try:
        value_pairs([1.5, 3.5], 5)  # type: ignore[list-item]
    except TypeError as error:
        print("floats are refused:", error)
    # ANCHOR_END: main


if __name__ == "__main__":
    main()
