"""1.8 List comprehensions, generator expressions and map/filter.

What the script shows, each claim asserted before it is printed:

- Laziness: a generator expression, map() and filter() do no work until
  iterated (a counter records every call of the mapped function); a list
  comprehension does all of it at once. The outermost iterable of a
  generator expression is the exception: it is evaluated immediately.
- Single use: a generator or map object is exhausted after one pass.
- Memory: sys.getsizeof of a 1,000,000-item list comprehension against the
  generator object, and the tracemalloc peak while summing each. Sizes
  differ between Python versions, so only ratios with wide margins are
  printed.
- Scope: a comprehension's iteration variable does not leak or overwrite
  an outer name. Since Python 3.12 (PEP 709) list, set and dict
  comprehensions are inlined into the enclosing function, so they no longer
  add a frame to tracebacks; generator expressions still do. The script
  checks whichever behaviour the running version should have.
"""

import sys
import traceback
import tracemalloc
from collections.abc import Iterator

N = 1_000_000
# tracemalloc slows every allocation down, so the traced sums are smaller.
TRACED_N = 100_000


class CallCounter:
    """A function that squares its argument and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, x: int) -> int:
        self.calls += 1
        return x * x


# ANCHOR: laziness
def generator_is_lazy() -> tuple[int, int, int]:
    square = CallCounter()
    squares = (square(x) for x in range(5))
    before = square.calls  # nothing has run yet
    first = next(squares)  # runs the body once
    after_one = square.calls
    rest = list(squares)  # runs it for the remaining four
    assert (first, rest) == (0, [1, 4, 9, 16])
    return before, after_one, square.calls


def list_comprehension_is_eager() -> int:
    square = CallCounter()
    squares = [square(x) for x in range(5)]
    assert squares == [0, 1, 4, 9, 16]
    return square.calls  # all five calls happened on the line above


def map_and_filter_are_lazy() -> tuple[int, int]:
    square = CallCounter()
    mapped = map(square, range(5))
    kept = filter(lambda s: s % 2 == 0, mapped)
    before = square.calls
    assert list(kept) == [0, 4, 16]
    return before, square.calls
    # ANCHOR_END: laziness


# ANCHOR: outermost
def outermost_iterable_is_evaluated_at_once() -> int:
    sources_made = 0

    def make_source() -> range:
        nonlocal sources_made
        sources_made += 1
        return range(3)

    squares = (x * x for x in make_source())  # make_source() runs here
    made_before_iterating = sources_made
    assert list(squares) == [0, 1, 4]
    return made_before_iterating
    # ANCHOR_END: outermost


def second_pass_of(items: Iterator[int]) -> list[int]:
    list(items)
    return list(items)


# ANCHOR: memory
def list_to_generator_size_ratio() -> float:
    as_list = [x for x in range(N)]
    as_generator = (x for x in range(N))
    # getsizeof counts the list's pointer array, not the int objects it
    # points to, so the true gap is larger still.
    return sys.getsizeof(as_list) / sys.getsizeof(as_generator)


def peak_bytes_while_summing(build: str, n: int) -> int:
    tracemalloc.start()
    try:
        if build == "list":
            total = sum([x * x for x in range(n)])
        else:
            total = sum(x * x for x in range(n))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == (n - 1) * n * (2 * n - 1) // 6
    return peak
    # ANCHOR_END: memory


# ANCHOR: scope
def iteration_variable_stays_inside() -> str:
    x = "outer"
    squares = [x * x for x in range(3)]
    assert squares == [0, 1, 4]
    return x


def boom(x: int) -> int:
    raise ValueError(x)


def frame_names_in_traceback(expression: str) -> list[str]:
    """Names of the frames between the caller and boom() when it raises."""
    try:
        if expression == "list":
            [boom(x) for x in range(1)]
        else:
            sum(boom(x) for x in range(1))
    except ValueError as error:
        frames = traceback.extract_tb(error.__traceback__)
        return [frame.name for frame in frames][1:-1]
    raise AssertionError("boom() did not raise")
    # ANCHOR_END: scope


def main() -> None:
    before, after_one, total = generator_is_lazy()
    assert (before, after_one, total) == (0, 1, 5)
    print(
        f"generator expression: {before} calls when built, {after_one} after "
        f"next(), {total} after exhausting it"
    )

    eager = list_comprehension_is_eager()
    assert eager == 5
    print(f"list comprehension: {eager} calls when built")

    before, after = map_and_filter_are_lazy()
    assert (before, after) == (0, 5)
    print(f"map + filter: {before} calls when built, {after} after list()")

    made = outermost_iterable_is_evaluated_at_once()
    assert made == 1
    print(
        "outermost iterable of a generator expression evaluated at once: "
        f"{made == 1}"
    )

    gen_again = second_pass_of(x for x in range(3))
    map_again = second_pass_of(map(abs, range(3)))
    assert gen_again == [] and map_again == []
    print(
        f"second pass over a generator: {gen_again}; "
        f"over a map object: {map_again}"
    )

    ratio = list_to_generator_size_ratio()
    assert ratio > 1000, ratio
    print(
        f"sys.getsizeof: a {N:,}-item list is more than 1000x its generator: "
        f"{ratio > 1000}"
    )

    list_peak = peak_bytes_while_summing("list", TRACED_N)
    generator_peak = peak_bytes_while_summing("generator", TRACED_N)
    assert list_peak > 100 * generator_peak, (list_peak, generator_peak)
    print(
        f"tracemalloc peak while summing {TRACED_N:,} squares: the list "
        f"comprehension needs more than 100x the generator expression: "
        f"{list_peak > 100 * generator_peak}"
    )

    outer = iteration_variable_stays_inside()
    assert outer == "outer"
    print(f"x after [x * x for x in range(3)]: {outer!r}")

    list_frames = frame_names_in_traceback("list")
    generator_frames = frame_names_in_traceback("generator")
    # PEP 709 (3.12) inlined list, set and dict comprehensions; generator
    # expressions still run in a frame of their own.
    inlined = sys.version_info >= (3, 12)
    expected_list_frames = [] if inlined else ["<listcomp>"]
    assert list_frames == expected_list_frames, list_frames
    assert generator_frames == ["<genexpr>"], generator_frames
    print(
        "traceback frames match this version (list comprehension frame only "
        f"before 3.12): {list_frames == expected_list_frames}"
    )
    print(f"generator expression frames in a traceback: {generator_frames}")


if __name__ == "__main__":
    main()
