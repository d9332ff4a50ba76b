"""Tests of 4.7 topological sort, on every sort the module offers: the
chapter's edge cases, bad input, a chain deeper than the recursion limit,
and property tests against brute force over all permutations."""

import graphlib
import itertools
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

PIPELINE = ["deploy", "migrate", "test", "build", "fetch", "lint"]
PIPELINE_EDGES = [
    ("build", "fetch"),
    ("lint", "fetch"),
    ("test", "build"),
    ("migrate", "build"),
    ("deploy", "test"),
    ("deploy", "migrate"),
    ("deploy", "lint"),
]
SORTS = ["kahn", "smallest_name", "dfs"]


def run(graph: Any, sort: str) -> list[str]:
    if sort == "smallest_name":
        return graph.kahn(smallest_name=True)  # type: ignore[no-any-return]
    return getattr(graph, sort)()  # type: ignore[no-any-return]


def cycle_of(graph: Any, sort: str) -> list[str]:
    """The cycle that `sort` reports, checking the exception on the way."""
    with pytest.raises(graphlib.CycleError) as raised:
        run(graph, sort)
    assert isinstance(raised.value, ValueError)
    message, cycle = raised.value.args
    assert message == "dependency cycle: " + " -> ".join(cycle)
    return cycle  # type: ignore[no-any-return]


def test_pipeline_orders_are_the_documented_ones(solution: ModuleType) -> None:
    graph = solution.TaskGraph(PIPELINE, PIPELINE_EDGES)
    assert graph.kahn() == [
        "fetch",
        "build",
        "lint",
        "test",
        "migrate",
        "deploy",
    ]
    assert graph.kahn(smallest_name=True) == [
        "fetch",
        "build",
        "lint",
        "migrate",
        "test",
        "deploy",
    ]
    assert graph.dfs() == [
        "fetch",
        "build",
        "test",
        "migrate",
        "lint",
        "deploy",
    ]
    assert respects(graph.static_order(), PIPELINE_EDGES)


@pytest.mark.parametrize("sort", SORTS)
def test_a_two_task_cycle_is_named(solution: ModuleType, sort: str) -> None:
    graph = solution.TaskGraph(PIPELINE, [*PIPELINE_EDGES, ("build", "test")])
    assert cycle_of(graph, sort) == ["test", "build", "test"]


@pytest.mark.parametrize("sort", SORTS)
def test_a_longer_cycle_lists_every_task_in_run_before_order(
    solution: ModuleType, sort: str
) -> None:
    # b depends on a, c on b, a on c: a runs before b before c before a.
    graph = solution.TaskGraph(
        ["a", "b", "c"], [("b", "a"), ("c", "b"), ("a", "c")]
    )
    assert cycle_of(graph, sort) == ["a", "b", "c", "a"]


@pytest.mark.parametrize("sort", SORTS)
def test_tasks_downstream_of_a_cycle_are_not_part_of_it(
    solution: ModuleType, sort: str
) -> None:
    graph = solution.TaskGraph(
        ["report", "x", "y"], [("report", "x"), ("x", "y"), ("y", "x")]
    )
    assert cycle_of(graph, sort) == ["x", "y", "x"]


@pytest.mark.parametrize("sort", SORTS)
def test_a_self_loop_is_a_cycle(solution: ModuleType, sort: str) -> None:
    graph = solution.TaskGraph(["a", "b"], [("b", "a"), ("b", "b")])
    assert cycle_of(graph, sort) == ["b", "b"]


def test_graphlib_reports_a_cycle_in_the_same_direction(
    solution: ModuleType,
) -> None:
    graph = solution.TaskGraph(
        ["a", "b", "c"], [("b", "a"), ("c", "b"), ("a", "c")]
    )
    with pytest.raises(graphlib.CycleError) as raised:
        graph.static_order()
    cycle = raised.value.args[1]
    assert cycle[0] == cycle[-1]
    assert is_cycle_of(cycle, [("b", "a"), ("c", "b"), ("a", "c")])


def test_empty_independent_and_repeated(solution: ModuleType) -> None:
    empty = solution.TaskGraph([], [])
    assert [run(empty, sort) for sort in SORTS] == [[], [], []]
    independent = solution.TaskGraph(["c", "a", "b"], [])
    assert independent.kahn() == ["c", "a", "b"]
    assert independent.kahn(smallest_name=True) == ["a", "b", "c"]
    assert independent.dfs() == ["c", "a", "b"]
    repeated = solution.TaskGraph(["b", "a"], [("b", "a"), ("b", "a")])
    assert [run(repeated, sort) for sort in SORTS] == [["a", "b"]] * 3


def test_unknown_and_duplicate_tasks_are_errors(solution: ModuleType) -> None:
    with pytest.raises(ValueError) as raised:
        solution.TaskGraph(["deploy"], [("deploy", "biuld")])
    assert (
        str(raised.value) == 'unknown task `biuld` in "deploy depends on biuld"'
    )
    with pytest.raises(ValueError, match="unknown task `tset`"):
        solution.TaskGraph(["build"], [("tset", "build")])
    with pytest.raises(ValueError) as raised:
        solution.TaskGraph(["a", "b", "a"], [])
    assert str(raised.value) == "task `a` is declared twice"


def test_graphlib_alone_would_invent_the_typo(solution: ModuleType) -> None:
    # The pitfall the validation exists for: graphlib adds unknown
    # predecessors as new nodes, and the typo "runs" as a no-op task.
    order = graphlib.TopologicalSorter({"deploy": ["biuld"]}).static_order()
    assert list(order) == ["biuld", "deploy"]
    with pytest.raises(ValueError, match="unknown task `biuld`"):
        solution.TaskGraph(["deploy"], [("deploy", "biuld")])


def long_chain(n: int) -> tuple[list[str], list[tuple[str, str]]]:
    """Declared last-first, each task depending on the next one declared,
    so that the DFS from the first root descends the whole chain."""
    names = [f"t{i}" for i in reversed(range(n))]
    return names, list(itertools.pairwise(names))


def recursive_dfs(dependencies: dict[str, list[str]]) -> list[str]:
    """The textbook recursive DFS, without cycle checks."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(task: str) -> None:
        seen.add(task)
        for dependency in dependencies[task]:
            if dependency not in seen:
                visit(dependency)
        order.append(task)

    for task in dependencies:
        if task not in seen:
            visit(task)
    return order


def test_a_deep_chain_is_sorted_without_recursion(solution: ModuleType) -> None:
    names, edges = long_chain(1_500)
    shallow: dict[str, list[str]] = {name: [] for name in names}
    for task, dependency in edges:
        shallow[task].append(dependency)
    with pytest.raises(RecursionError):
        recursive_dfs(shallow)
    names, edges = long_chain(100_000)
    graph = solution.TaskGraph(names, edges)
    for sort in SORTS:
        order = run(graph, sort)
        assert len(order) == 100_000
        assert (order[0], order[-1]) == ("t0", "t99999")


def test_a_cycle_as_long_as_the_graph_is_reported_whole(
    solution: ModuleType,
) -> None:
    names, edges = long_chain(100_000)
    graph = solution.TaskGraph(names, [*edges, ("t0", names[0])])
    for sort in SORTS:
        cycle = cycle_of(graph, sort)
        assert len(cycle) == 100_001
        assert (cycle[0], cycle[-1]) == ("t99999", "t99999")


def respects(order: list[str], edges: list[tuple[str, str]]) -> bool:
    position = {task: i for i, task in enumerate(order)}
    return all(position[dep] < position[task] for task, dep in edges)


def valid_orders(
    names: list[str], edges: list[tuple[str, str]]
) -> list[list[str]]:
    """The oracle: every permutation that runs dependencies first."""
    orders = (list(p) for p in itertools.permutations(names))
    return [order for order in orders if respects(order, edges)]


def is_cycle_of(cycle: list[str], edges: list[tuple[str, str]]) -> bool:
    """Closed, simple, and every step an edge: each task runs before the
    next, so the next depends on it."""
    inner = cycle[:-1]
    steps = itertools.pairwise(cycle)
    return (
        len(cycle) >= 2
        and cycle[0] == cycle[-1]
        and len(set(inner)) == len(inner)
        and all((after, before) in edges for before, after in steps)
    )


@st.composite
def graphs(draw: st.DrawFn, acyclic: bool) -> tuple[list[str], list[Any]]:
    """Up to six tasks with shuffled names; edges as (task, dependency).
    An acyclic graph only lets a task depend on an earlier-numbered one."""
    n = draw(st.integers(0, 6))
    names = draw(st.permutations(["a", "b", "c", "d", "e", "f"]))[:n]
    pairs = st.tuples(
        st.integers(0, max(n - 1, 0)), st.integers(0, max(n - 1, 0))
    )
    raw = draw(st.lists(pairs, max_size=12)) if n else []
    if acyclic:
        raw = [(i, j) for i, j in raw if j < i]
    return names, [(names[i], names[j]) for i, j in raw]


@settings(max_examples=200)
@given(graphs(acyclic=True))
def test_every_sort_of_a_dag_is_a_valid_order(
    solution: ModuleType, case: tuple[list[str], list[tuple[str, str]]]
) -> None:
    names, edges = case
    graph = solution.TaskGraph(names, edges)
    for order in [*(run(graph, sort) for sort in SORTS), graph.static_order()]:
        assert sorted(order) == sorted(names)
        assert respects(order, edges)
    # Smallest-name Kahn is the lexicographically smallest valid order.
    assert graph.kahn(smallest_name=True) == min(valid_orders(names, edges))


@settings(max_examples=200)
@given(graphs(acyclic=False))
def test_cycles_are_found_exactly_when_no_order_exists(
    solution: ModuleType, case: tuple[list[str], list[tuple[str, str]]]
) -> None:
    names, edges = case
    graph = solution.TaskGraph(names, edges)
    has_order = bool(valid_orders(names, edges))
    for sort in SORTS:
        if has_order:
            assert respects(run(graph, sort), edges)
        else:
            assert is_cycle_of(cycle_of(graph, sort), edges)
