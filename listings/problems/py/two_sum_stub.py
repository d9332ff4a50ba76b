"""Practice stub for 4.1 two sum, all pairs. Fill in the two functions,
then run the reference tests against this file:

    PRACTICE_FILE=listings/problems/py/two_sum_stub.py \\
        .venv/py3.11/bin/python -m pytest listings/problems/py/test_two_sum.py

Amounts are ints in minor units (cents). A float, a bool or a str among the
amounts, or as the target, must raise TypeError naming it, e.g.
"amounts[0] is 1.5 (float)" or "target is 5.0 (float)".
"""

from collections.abc import Sequence


def value_pairs(amounts: Sequence[int], target: int) -> list[tuple[int, int]]:
    """Distinct value pairs (a, b), a <= b, in the order the scan completes
    them. One pass: a pair is reported when its second member arrives."""
    raise NotImplementedError


def index_pairs(amounts: Sequence[int], target: int) -> list[tuple[int, int]]:
    """Every pair of positions (i, j), i < j, whose amounts sum to target,
    ordered by j then i. Equal amounts at different positions count as
    different transactions."""
    raise NotImplementedError
