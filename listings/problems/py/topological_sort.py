"""4.7 Topological sort of dependencies: a valid execution order, or the
cycle that prevents one.

The Python version of listings/problems/src/bin/topological_sort/main.rs,
with the same semantics:

- Input: the declared task names, and (task, dependency) pairs read as
  "task depends on dependency", so the dependency runs first.
- Every name in a pair must be declared: a typo is a ValueError naming
  it, never a silently invented task (graphlib.TopologicalSorter would add
  it as a new node). A name declared twice is a ValueError too. The same
  pair given twice is harmless.
- A cycle is a graphlib.CycleError, the standard library's exception (a
  ValueError), whose args[1] lists the cycle in run-before order with the
  first task repeated at the end: ["a", "b", "c", "a"] means a runs before
  b, b before c, c before a. A self-loop is ["a", "a"].
- Three orders. kahn() takes ready tasks first come, first served; with
  smallest_name=True it always takes the smallest name (a heap), which
  gives the lexicographically smallest valid order. dfs() emits each task
  after its dependencies. All three are deterministic, and none recurses:
  a chain of 100,000 tasks is fine, where a recursive DFS raises
  RecursionError past CPython's default limit of 1000.
- static_order() is graphlib's answer on the same validated graph.
"""

import graphlib
import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from heapq import heappop, heappush


def _cycle_error(cycle: list[str]) -> graphlib.CycleError:
    return graphlib.CycleError(f"dependency cycle: {' -> '.join(cycle)}", cycle)


# ANCHOR: graph
class TaskGraph:
    """Tasks and their dependencies, stored both ways: Kahn's algorithm
    walks from a task to the tasks that wait for it, the DFS from a task to
    what it waits for."""

    def __init__(
        self, tasks: Iterable[str], depends_on: Iterable[tuple[str, str]]
    ) -> None:
        self.dependencies: dict[str, list[str]] = {}  # declaration order
        for task in tasks:
            if task in self.dependencies:
                raise ValueError(f"task `{task}` is declared twice")
            self.dependencies[task] = []
        self.dependents: dict[str, list[str]] = {
            t: [] for t in self.dependencies
        }
        for task, dependency in depends_on:
            for name in (task, dependency):
                if name not in self.dependencies:
                    raise ValueError(
                        f'unknown task `{name}` in "{task} depends on '
                        f'{dependency}"'
                    )
            self.dependencies[task].append(dependency)
            self.dependents[dependency].append(task)

    # ANCHOR_END: graph

    # ANCHOR: kahn
    def kahn(self, *, smallest_name: bool = False) -> list[str]:
        """Kahn's algorithm: a valid order, or CycleError naming a cycle."""
        waiting = {t: len(deps) for t, deps in self.dependencies.items()}
        ready = [t for t, count in waiting.items() if count == 0]
        pending: list[str] | deque[str]
        pop: Callable[[], str]
        push: Callable[[str], None]
        if smallest_name:  # a min-heap: always the smallest name
            pending = heap = sorted(ready)  # a sorted list is a heap
            pop, push = partial(heappop, heap), partial(heappush, heap)
        else:  # a FIFO queue: first come, first served
            pending = queue = deque(ready)
            pop, push = queue.popleft, queue.append
        order = []
        while pending:
            task = pop()
            order.append(task)
            for dependent in self.dependents[task]:
                waiting[dependent] -= 1
                if waiting[dependent] == 0:
                    push(dependent)
        if len(order) < len(waiting):
            raise _cycle_error(self._cycle_among_blocked(waiting))
        return order

    def _cycle_among_blocked(self, waiting: dict[str, int]) -> list[str]:
        """Every task that never ran waits on a dependency that never ran.
        Following those from any blocked task must revisit one: a cycle."""
        task = next(t for t, count in waiting.items() if count > 0)
        step_of: dict[str, int] = {}
        walk: list[str] = []
        while task not in step_of:
            step_of[task] = len(walk)
            walk.append(task)
            task = next(d for d in self.dependencies[task] if waiting[d] > 0)
        # walk[i] depends on walk[i + 1]: reverse into run-before order.
        return [*walk[step_of[task] :], task][::-1]

    # ANCHOR_END: kahn

    # ANCHOR: dfs
    def dfs(self) -> list[str]:
        """Depth first, dependencies before dependents, on an explicit
        stack: a valid order, or CycleError naming a cycle."""
        finished: set[str] = set()  # black: done, with its dependencies
        on_path: set[str] = set()  # grey: on the current path
        order = []
        for root in self.dependencies:
            if root in finished:
                continue
            path: list[tuple[str, Iterator[str]]] = []
            on_path.add(root)
            path.append((root, iter(self.dependencies[root])))
            while path:
                task, pending = path[-1]
                dependency = next(pending, None)
                if dependency is None:  # every dependency is finished
                    path.pop()
                    on_path.remove(task)
                    finished.add(task)
                    order.append(task)
                elif dependency in on_path:  # back to the path: a cycle
                    names = [t for t, _ in path]
                    cycle = [*names[names.index(dependency) :], dependency]
                    raise _cycle_error(cycle[::-1])
                elif dependency not in finished:
                    on_path.add(dependency)
                    path.append(
                        (dependency, iter(self.dependencies[dependency]))
                    )
        return order

    # ANCHOR_END: dfs

    def static_order(self) -> list[str]:
        """graphlib's order. It maps each task to its predecessors, here
        its dependencies, and raises graphlib.CycleError on a cycle."""
        return list(
            graphlib.TopologicalSorter(self.dependencies).static_order()
        )


def show(label: str, sort: Callable[[], list[str]]) -> None:
    try:
        print(f"{label:<22} {sort()}")
    except graphlib.CycleError as error:
        print(f"{label:<22} error: {error.args[0]}")


def show_all(graph: TaskGraph) -> None:
    show("kahn, ready order:", graph.kahn)
    show("kahn, smallest name:", partial(graph.kahn, smallest_name=True))
    show("dfs:", graph.dfs)


# ANCHOR: main
def main() -> None:
    tasks = ["deploy", "migrate", "test", "build", "fetch", "lint"]
    edges = [("build", "fetch"), ("lint", "fetch"), ("test", "build")]
    edges += [("migrate", "build"), ("deploy", "test")]
    edges += [("deploy", "migrate"), ("deploy", "lint")]
    print(f"tasks: {tasks}")
    print(f'"task depends on dependency": {edges}')
    pipeline = TaskGraph(tasks, edges)
    show_all(pipeline)
    show("graphlib static_order:", pipeline.static_order)

    print('\nadd "build depends on test":')
    show_all(TaskGraph(tasks, [*edges, ("build", "test")]))

    print("\nbad input:")
    show("self-loop:", TaskGraph(tasks, [("lint", "lint")]).kahn)
    try:
        TaskGraph(tasks, [("build", "fetch"), ("deploy", "biuld")])
    except ValueError as error:
        print(f"{'typo:':<22} error: {error}")

    # Declared last-first: the DFS goes 100,000 tasks deep.
    chain = [f"t{i}" for i in reversed(range(100_000))]
    order = TaskGraph(chain, itertools.pairwise(chain)).dfs()
    print(f"\nchain of {len(order)} tasks, dfs: {order[0]} ... {order[-1]}")


# ANCHOR_END: main

if __name__ == "__main__":
    main()
