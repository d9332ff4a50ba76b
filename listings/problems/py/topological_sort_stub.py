"""Practice stub for 4.7 topological sort. Fill in the class, then run the
reference tests against this file:

    PRACTICE_FILE=listings/problems/py/topological_sort_stub.py \\
        .venv/py3.11/bin/python -m pytest \\
        listings/problems/py/test_topological_sort.py

(task, dependency) means the dependency runs first. A cycle raises
graphlib.CycleError(f"dependency cycle: {' -> '.join(cycle)}", cycle),
the cycle in run-before order with its first task repeated at the end
(a self-loop is ["a", "a"]). A name in a pair that was never declared
raises ValueError('unknown task `biuld` in "deploy depends on biuld"'),
and a name declared twice ValueError("task `a` is declared twice"). Ready
tasks run in the order they become ready (declaration order to begin
with), or by smallest name; the DFS visits roots and dependencies in
declaration order. Nothing may recurse: a 100,000-task chain must sort.
"""

from collections.abc import Iterable


class TaskGraph:
    """Tasks and their dependencies, stored both ways: Kahn's algorithm
    walks from a task to the tasks that wait for it, the DFS from a task to
    what it waits for."""

    def __init__(
        self, tasks: Iterable[str], depends_on: Iterable[tuple[str, str]]
    ) -> None:
        raise NotImplementedError

    def kahn(self, *, smallest_name: bool = False) -> list[str]:
        """Kahn's algorithm: a valid order, or CycleError naming a cycle."""
        raise NotImplementedError

    def dfs(self) -> list[str]:
        """Depth first, dependencies before dependents, on an explicit
        stack: a valid order, or CycleError naming a cycle."""
        raise NotImplementedError

    def static_order(self) -> list[str]:
        """graphlib's order. It maps each task to its predecessors, here
        its dependencies, and raises graphlib.CycleError on a cycle."""
        raise NotImplementedError
