use super::*;
use proptest::prelude::*;
use std::collections::HashSet;

const PIPELINE: [&str; 6] =
    ["deploy", "migrate", "test", "build", "fetch", "lint"];
const PIPELINE_EDGES: [(&str, &str); 7] = [
    ("build", "fetch"),
    ("lint", "fetch"),
    ("test", "build"),
    ("migrate", "build"),
    ("deploy", "test"),
    ("deploy", "migrate"),
    ("deploy", "lint"),
];

fn graph(tasks: &[&str], edges: &[(&str, &str)]) -> TaskGraph {
    TaskGraph::new(tasks, edges).expect("valid test graph")
}

fn cycle(names: &[&str]) -> TaskError {
    TaskError::Cycle(names.iter().map(|s| s.to_string()).collect())
}

/// Every sort, so that each test checks all three.
fn all_sorts(g: &TaskGraph) -> [Result<Vec<&str>, TaskError>; 3] {
    [
        g.kahn(Tiebreak::ReadyOrder),
        g.kahn(Tiebreak::SmallestName),
        g.dfs(),
    ]
}

#[test]
fn pipeline_orders_are_the_documented_ones() {
    let g = graph(&PIPELINE, &PIPELINE_EDGES);
    let [queue, heap, dfs] = all_sorts(&g);
    assert_eq!(
        queue.unwrap(),
        ["fetch", "build", "lint", "test", "migrate", "deploy"]
    );
    assert_eq!(
        heap.unwrap(),
        ["fetch", "build", "lint", "migrate", "test", "deploy"]
    );
    assert_eq!(
        dfs.unwrap(),
        ["fetch", "build", "test", "migrate", "lint", "deploy"]
    );
}

#[test]
fn a_two_task_cycle_is_named_by_both_algorithms() {
    let mut edges = PIPELINE_EDGES.to_vec();
    edges.push(("build", "test"));
    let g = graph(&PIPELINE, &edges);
    for result in all_sorts(&g) {
        assert_eq!(result, Err(cycle(&["test", "build", "test"])));
    }
}

#[test]
fn a_longer_cycle_lists_every_task_in_run_before_order() {
    // b depends on a, c on b, a on c: a runs before b before c before a.
    let g = graph(&["a", "b", "c"], &[("b", "a"), ("c", "b"), ("a", "c")]);
    for result in all_sorts(&g) {
        assert_eq!(result, Err(cycle(&["a", "b", "c", "a"])));
    }
}

#[test]
fn tasks_downstream_of_a_cycle_are_not_part_of_it() {
    let g = graph(
        &["report", "x", "y"],
        &[("report", "x"), ("x", "y"), ("y", "x")],
    );
    for result in all_sorts(&g) {
        assert_eq!(result, Err(cycle(&["x", "y", "x"])));
    }
}

#[test]
fn a_self_loop_is_a_cycle() {
    let g = graph(&["a", "b"], &[("b", "a"), ("b", "b")]);
    for result in all_sorts(&g) {
        assert_eq!(result, Err(cycle(&["b", "b"])));
    }
}

#[test]
fn empty_graph_has_an_empty_order() {
    let g = graph(&[], &[]);
    assert!(g.is_empty());
    for result in all_sorts(&g) {
        assert_eq!(result, Ok(vec![]));
    }
}

#[test]
fn independent_tasks_keep_declaration_order_unless_sorted_by_name() {
    let g = graph(&["c", "a", "b"], &[]);
    let [queue, heap, dfs] = all_sorts(&g);
    assert_eq!(queue.unwrap(), ["c", "a", "b"]);
    assert_eq!(heap.unwrap(), ["a", "b", "c"]);
    assert_eq!(dfs.unwrap(), ["c", "a", "b"]);
}

#[test]
fn a_repeated_edge_is_harmless() {
    let g = graph(&["b", "a"], &[("b", "a"), ("b", "a")]);
    for result in all_sorts(&g) {
        assert_eq!(result, Ok(vec!["a", "b"]));
    }
}

#[test]
fn an_unknown_dependency_is_an_error() {
    let err = TaskGraph::new(&["deploy"], &[("deploy", "biuld")]).unwrap_err();
    assert_eq!(
        err,
        TaskError::UnknownTask {
            unknown: "biuld".into(),
            task: "deploy".into(),
            dependency: "biuld".into(),
        }
    );
    assert_eq!(
        err.to_string(),
        "unknown task `biuld` in \"deploy depends on biuld\""
    );
}

#[test]
fn an_unknown_dependent_is_an_error() {
    let err = TaskGraph::new(&["build"], &[("tset", "build")]).unwrap_err();
    assert!(
        matches!(err, TaskError::UnknownTask { ref unknown, .. } if unknown == "tset")
    );
}

#[test]
fn a_task_declared_twice_is_an_error() {
    let err =
        TaskGraph::new(&["a", "b", "a"], &[] as &[(&str, &str)]).unwrap_err();
    assert_eq!(err, TaskError::DuplicateTask("a".into()));
    assert_eq!(err.to_string(), "task `a` is declared twice");
}

#[test]
fn cycle_display_joins_with_arrows() {
    assert_eq!(
        cycle(&["a", "b", "a"]).to_string(),
        "dependency cycle: a -> b -> a"
    );
}

fn long_chain(n: usize) -> (Vec<String>, Vec<(String, String)>) {
    // Declared last-first, each task depending on the next one declared,
    // so the DFS from the first root descends the whole chain.
    let names: Vec<String> = (0..n).rev().map(|i| format!("t{i}")).collect();
    let edges = names
        .windows(2)
        .map(|w| (w[0].clone(), w[1].clone()))
        .collect();
    (names, edges)
}

#[test]
fn a_deep_chain_does_not_overflow_the_stack() {
    let n = 100_000;
    let (names, edges) = long_chain(n);
    let g = TaskGraph::new(&names, &edges).unwrap();
    for result in all_sorts(&g) {
        let order = result.unwrap();
        assert_eq!(order.len(), n);
        assert_eq!((order[0], order[n - 1]), ("t0", "t99999"));
    }
}

#[test]
fn a_cycle_as_long_as_the_graph_is_reported_whole() {
    let n = 100_000;
    let (names, mut edges) = long_chain(n);
    edges.push(("t0".to_string(), names[0].clone()));
    let g = TaskGraph::new(&names, &edges).unwrap();
    for result in all_sorts(&g) {
        let Err(TaskError::Cycle(c)) = result else {
            panic!("expected a cycle");
        };
        assert_eq!(c.len(), n + 1);
        assert_eq!((c[0].as_str(), c[n].as_str()), ("t99999", "t99999"));
    }
}

// --- Property tests against brute force -------------------------------

/// Every permutation of 0..n, by recursion: fine for the tiny n here.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut all = Vec::new();
    for shorter in permutations(n - 1) {
        for at in 0..=shorter.len() {
            let mut p = shorter.clone();
            p.insert(at, n - 1);
            all.push(p);
        }
    }
    all
}

/// Names and "task depends on dependency" pairs.
type Case = (Vec<String>, Vec<(String, String)>);

fn respects(order: &[&str], edges: &[(String, String)]) -> bool {
    let at = |name: &str| order.iter().position(|&o| o == name);
    edges
        .iter()
        .all(|(t, d)| matches!((at(d), at(t)), (Some(i), Some(j)) if i < j))
}

/// Every valid order, found by trying all permutations.
fn valid_orders(case: &Case) -> Vec<Vec<&str>> {
    let (names, edges) = case;
    permutations(names.len())
        .into_iter()
        .map(|p| p.iter().map(|&i| names[i].as_str()).collect::<Vec<_>>())
        .filter(|order| respects(order, edges))
        .collect()
}

fn is_permutation_of(order: &[&str], names: &[String]) -> bool {
    let mut a: Vec<&str> = order.to_vec();
    let mut b: Vec<&str> = names.iter().map(String::as_str).collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// A real cycle: closes on itself, no task twice inside, and each task is
/// a dependency of the next.
fn is_cycle_of(cycle: &[String], edges: &[(String, String)]) -> bool {
    let runs_before: HashSet<(&str, &str)> = edges
        .iter()
        .map(|(t, d)| (d.as_str(), t.as_str()))
        .collect();
    let inner: HashSet<&String> = cycle.iter().skip(1).collect();
    cycle.len() >= 2
        && cycle.first() == cycle.last()
        && inner.len() == cycle.len() - 1
        && cycle
            .windows(2)
            .all(|w| runs_before.contains(&(w[0].as_str(), w[1].as_str())))
}

/// Up to 6 tasks named by shuffled letters (so name order differs from
/// declaration order), a hidden shuffled rank per task, and random
/// `(task, dependency)` index pairs, self-loops included.
fn raw_graph()
-> impl Strategy<Value = (Vec<usize>, Vec<usize>, Vec<(usize, usize)>)> {
    (1usize..=6).prop_flat_map(|n| {
        let shuffled = Just((0..n).collect::<Vec<usize>>()).prop_shuffle();
        (
            shuffled.clone(),
            shuffled,
            prop::collection::vec((0..n, 0..n), 0..=10),
        )
    })
}

fn named(letters: &[usize], pairs: &[(usize, usize)]) -> Case {
    let name = |i: usize| char::from(b'a' + letters[i] as u8).to_string();
    let names = (0..letters.len()).map(name).collect();
    let edges = pairs.iter().map(|&(t, d)| (name(t), name(d))).collect();
    (names, edges)
}

fn any_graph() -> impl Strategy<Value = Case> {
    raw_graph().prop_map(|(letters, _, pairs)| named(&letters, &pairs))
}

/// Every edge points from the higher hidden rank to the lower one, so
/// the graph is acyclic.
fn any_dag() -> impl Strategy<Value = Case> {
    raw_graph().prop_map(|(letters, rank, pairs)| {
        let forward: Vec<(usize, usize)> = pairs
            .into_iter()
            .filter(|(t, d)| t != d)
            .map(|(t, d)| if rank[t] > rank[d] { (t, d) } else { (d, t) })
            .collect();
        named(&letters, &forward)
    })
}

proptest! {
    #[test]
    fn every_sort_of_a_dag_is_a_valid_permutation(case in any_dag()) {
        let (names, edges) = &case;
        let g = TaskGraph::new(names, edges).unwrap();
        for result in all_sorts(&g) {
            let order = result.unwrap();
            prop_assert!(is_permutation_of(&order, names), "{order:?} is not a permutation");
            prop_assert!(respects(&order, edges), "{order:?} breaks an edge of {edges:?}");
        }
    }

    #[test]
    fn smallest_name_is_the_lexicographically_smallest_valid_order(case in any_dag()) {
        let smallest = valid_orders(&case).into_iter().min().unwrap();
        let g = TaskGraph::new(&case.0, &case.1).unwrap();
        prop_assert_eq!(g.kahn(Tiebreak::SmallestName).unwrap(), smallest);
    }

    #[test]
    fn cycles_are_found_exactly_when_no_order_exists(case in any_graph()) {
        let (names, edges) = &case;
        let acyclic = !valid_orders(&case).is_empty();
        let g = TaskGraph::new(names, edges).unwrap();
        for result in all_sorts(&g) {
            match result {
                Ok(order) => {
                    prop_assert!(acyclic, "sorted a cyclic graph: {order:?}");
                    prop_assert!(respects(&order, edges) && is_permutation_of(&order, names));
                }
                Err(TaskError::Cycle(c)) => {
                    prop_assert!(!acyclic, "reported {c:?} in an acyclic graph");
                    prop_assert!(is_cycle_of(&c, edges), "{c:?} is not a cycle of {edges:?}");
                }
                Err(other) => prop_assert!(false, "unexpected error {other}"),
            }
        }
    }
}

// Found by mutation testing (cargo-mutants): nothing checked `is_empty`.
#[test]
fn is_empty_only_without_tasks() {
    let none: [&str; 0] = [];
    let no_edges: [(&str, &str); 0] = [];
    assert!(TaskGraph::new(&none, &no_edges).unwrap().is_empty());
    assert!(!TaskGraph::new(&["a"], &no_edges).unwrap().is_empty());
}
