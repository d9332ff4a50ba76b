//! 4.7 Graph traversal for dependencies: in which order can the tasks run?
//!
//! Two topological sorts over the same graph, both O(V + E):
//! - `TaskGraph::kahn`: Kahn's algorithm. Count each task's unfinished
//!   dependencies; a task whose count is zero is ready; running it lowers the
//!   counts of the tasks that wait for it.
//! - `TaskGraph::dfs`: depth-first search with three colours, like `make`:
//!   before a task, finish its dependencies. The search keeps its own stack,
//!   so a chain of a million tasks does not overflow the thread's stack.
//!
//! Semantics chosen for what the question leaves open:
//! - Input: the declared task names, and edges `(task, dependency)` read as
//!   "task depends on dependency", so the dependency runs first.
//! - Every name in an edge must be declared: a typo in a dependency is an
//!   error (`UnknownTask`), never a silently invented task. A name declared
//!   twice is an error too. The same edge given twice is harmless.
//! - A cycle is an error that names it: `[a, b, c, a]` means a runs before b,
//!   b before c, c before a (each task is a dependency of the next, the same
//!   direction as Python's `graphlib.CycleError`). A self-loop is the cycle
//!   `[a, a]`. Kahn's algorithm finds its cycle among the tasks left blocked
//!   when the ready queue empties; the DFS finds it on its own stack.
//! - Order among tasks that are ready together: `Tiebreak::ReadyOrder` takes
//!   them first-come first-served (declaration order to begin with), and
//!   `Tiebreak::SmallestName` always takes the smallest name, which yields
//!   the lexicographically smallest valid order. The DFS visits tasks and
//!   dependencies in declaration order. All three are deterministic.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;

// ANCHOR: errors
/// Why the tasks cannot be ordered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskError {
    /// The same task name was declared twice.
    DuplicateTask(String),
    /// An edge names a task that was never declared.
    UnknownTask {
        unknown: String,
        task: String,
        dependency: String,
    },
    /// These tasks wait on each other: each must run before the next, and
    /// the first and last are the same task.
    Cycle(Vec<String>),
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::DuplicateTask(name) => write!(f, "task `{name}` is declared twice"),
            TaskError::UnknownTask {
                unknown,
                task,
                dependency,
            } => write!(
                f,
                "unknown task `{unknown}` in \"{task} depends on {dependency}\""
            ),
            TaskError::Cycle(cycle) => {
                write!(f, "dependency cycle: {}", cycle.join(" -> "))
            }
        }
    }
}

impl std::error::Error for TaskError {}
// ANCHOR_END: errors

// ANCHOR: graph
/// Tasks by index, with the edges stored both ways: Kahn's algorithm walks
/// from a task to the tasks that wait for it, the DFS from a task to what
/// it waits for.
#[derive(Debug, Clone)]
pub struct TaskGraph {
    names: Vec<String>,
    /// `dependents[d]`: the tasks that depend on `d` (d runs before them).
    dependents: Vec<Vec<usize>>,
    /// `dependencies[t]`: the tasks `t` depends on, in the order given.
    dependencies: Vec<Vec<usize>>,
}

impl TaskGraph {
    /// Builds the graph from declared tasks and `(task, dependency)` edges.
    pub fn new<T: AsRef<str>, E: AsRef<str>>(
        tasks: &[T],
        depends_on: &[(E, E)],
    ) -> Result<TaskGraph, TaskError> {
        let mut index = HashMap::with_capacity(tasks.len());
        let mut names = Vec::with_capacity(tasks.len());
        for name in tasks.iter().map(AsRef::as_ref) {
            if index.insert(name, names.len()).is_some() {
                return Err(TaskError::DuplicateTask(name.to_string()));
            }
            names.push(name.to_string());
        }
        let mut dependents = vec![Vec::new(); names.len()];
        let mut dependencies = vec![Vec::new(); names.len()];
        for (task, dependency) in depends_on {
            let (task, dependency) = (task.as_ref(), dependency.as_ref());
            let lookup = |name: &str| {
                index
                    .get(name)
                    .copied()
                    .ok_or_else(|| TaskError::UnknownTask {
                        unknown: name.to_string(),
                        task: task.to_string(),
                        dependency: dependency.to_string(),
                    })
            };
            let (t, d) = (lookup(task)?, lookup(dependency)?);
            dependents[d].push(t);
            dependencies[t].push(d);
        }
        Ok(TaskGraph {
            names,
            dependents,
            dependencies,
        })
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    fn names_of(&self, tasks: &[usize]) -> Vec<&str> {
        tasks.iter().map(|&t| self.names[t].as_str()).collect()
    }

    fn cycle_error(&self, cycle: &[usize]) -> TaskError {
        TaskError::Cycle(cycle.iter().map(|&t| self.names[t].clone()).collect())
    }
}
// ANCHOR_END: graph

// ANCHOR: kahn
/// Which ready task runs first when several are ready at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tiebreak {
    /// First come, first served: a FIFO queue, O(V + E).
    ReadyOrder,
    /// The smallest name: a min-heap, O(V log V + E), and the result is the
    /// lexicographically smallest valid order.
    SmallestName,
}

/// The ready tasks, kept as the tie-break asks.
enum Ready<'g> {
    Queue(VecDeque<usize>),
    Heap(BinaryHeap<Reverse<(&'g str, usize)>>),
}

impl<'g> Ready<'g> {
    fn push(&mut self, task: usize, names: &'g [String]) {
        match self {
            Ready::Queue(queue) => queue.push_back(task),
            Ready::Heap(heap) => heap.push(Reverse((names[task].as_str(), task))),
        }
    }

    fn pop(&mut self) -> Option<usize> {
        match self {
            Ready::Queue(queue) => queue.pop_front(),
            Ready::Heap(heap) => heap.pop().map(|Reverse((_, task))| task),
        }
    }
}

impl TaskGraph {
    /// Kahn's algorithm: a valid order, or the cycle that prevents one.
    pub fn kahn(&self, tiebreak: Tiebreak) -> Result<Vec<&str>, TaskError> {
        match self.kahn_indices(tiebreak) {
            Ok(order) => Ok(self.names_of(&order)),
            Err(cycle) => Err(self.cycle_error(&cycle)),
        }
    }

    /// The same on task indices; `Err` holds a cycle.
    pub fn kahn_indices(&self, tiebreak: Tiebreak) -> Result<Vec<usize>, Vec<usize>> {
        // waiting[t]: how many of t's dependencies have not run yet.
        let mut waiting: Vec<usize> = self.dependencies.iter().map(Vec::len).collect();
        let mut ready = match tiebreak {
            Tiebreak::ReadyOrder => Ready::Queue(VecDeque::new()),
            Tiebreak::SmallestName => Ready::Heap(BinaryHeap::new()),
        };
        for task in (0..self.len()).filter(|&t| waiting[t] == 0) {
            ready.push(task, &self.names);
        }
        let mut order = Vec::with_capacity(self.len());
        while let Some(task) = ready.pop() {
            order.push(task);
            for &next in &self.dependents[task] {
                waiting[next] -= 1;
                if waiting[next] == 0 {
                    ready.push(next, &self.names);
                }
            }
        }
        if order.len() == self.len() {
            Ok(order)
        } else {
            Err(self.cycle_among_blocked(&waiting))
        }
    }

    /// When the queue runs dry, every task that never ran still waits on a
    /// dependency that never ran either. Following such dependencies from
    /// any blocked task must revisit a task within V steps: that loop is a
    /// cycle.
    fn cycle_among_blocked(&self, waiting: &[usize]) -> Vec<usize> {
        let blocked = |t: &usize| waiting[*t] > 0;
        let mut step_of: Vec<Option<usize>> = vec![None; self.len()];
        let mut walk = Vec::new();
        let mut task = (0..self.len())
            .find(blocked)
            .expect("called only when a task is blocked");
        while step_of[task].is_none() {
            step_of[task] = Some(walk.len());
            walk.push(task);
            task = *self.dependencies[task]
                .iter()
                .find(|d| blocked(d))
                .expect("a blocked task waits on a blocked dependency");
        }
        // walk[i] depends on walk[i + 1]; turn it into run-before order.
        let mut cycle = walk.split_off(step_of[task].unwrap_or(0));
        cycle.push(task);
        cycle.reverse();
        cycle
    }
}
// ANCHOR_END: kahn

// ANCHOR: dfs
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Colour {
    /// Not reached yet.
    White,
    /// On the current path: reaching it again closes a cycle.
    Grey,
    /// Finished, with all its dependencies.
    Black,
}

impl TaskGraph {
    /// Depth-first: a valid order, or the cycle that prevents one.
    pub fn dfs(&self) -> Result<Vec<&str>, TaskError> {
        match self.dfs_indices() {
            Ok(order) => Ok(self.names_of(&order)),
            Err(cycle) => Err(self.cycle_error(&cycle)),
        }
    }

    /// The same on task indices; `Err` holds a cycle. A task is emitted when
    /// all its dependencies are finished (post-order), so no reversal is
    /// needed. An explicit stack of (task, next dependency to try) replaces
    /// recursion.
    pub fn dfs_indices(&self) -> Result<Vec<usize>, Vec<usize>> {
        let mut colour = vec![Colour::White; self.len()];
        let mut order = Vec::with_capacity(self.len());
        let mut path: Vec<(usize, usize)> = Vec::new();
        for root in 0..self.len() {
            if colour[root] != Colour::White {
                continue;
            }
            colour[root] = Colour::Grey;
            path.push((root, 0));
            while let Some(top) = path.last_mut() {
                let (task, next) = *top;
                let Some(&dependency) = self.dependencies[task].get(next) else {
                    colour[task] = Colour::Black;
                    order.push(task);
                    path.pop();
                    continue;
                };
                top.1 += 1;
                match colour[dependency] {
                    Colour::White => {
                        colour[dependency] = Colour::Grey;
                        path.push((dependency, 0));
                    }
                    Colour::Grey => return Err(cycle_on_path(&path, dependency)),
                    Colour::Black => {}
                }
            }
        }
        Ok(order)
    }
}

/// The grey tasks are exactly the path. Each depends on the one after it,
/// and the last depends on `closing`, which is on the path already.
fn cycle_on_path(path: &[(usize, usize)], closing: usize) -> Vec<usize> {
    let start = path.iter().position(|&(t, _)| t == closing).unwrap_or(0);
    let mut cycle: Vec<usize> = path[start..].iter().map(|&(t, _)| t).collect();
    cycle.push(closing);
    cycle.reverse();
    cycle
}
// ANCHOR_END: dfs

// ANCHOR: main
fn show(label: &str, result: Result<Vec<&str>, TaskError>) {
    match result {
        Ok(order) => println!("{label:<20} {order:?}"),
        Err(error) => println!("{label:<20} error: {error}"),
    }
}

fn show_all(graph: &TaskGraph) {
    show("kahn, ready order:", graph.kahn(Tiebreak::ReadyOrder));
    show("kahn, smallest name:", graph.kahn(Tiebreak::SmallestName));
    show("dfs:", graph.dfs());
}

fn main() {
    let tasks = ["deploy", "migrate", "test", "build", "fetch", "lint"];
    let mut edges = vec![
        ("build", "fetch"),
        ("lint", "fetch"),
        ("test", "build"),
        ("migrate", "build"),
        ("deploy", "test"),
        ("deploy", "migrate"),
        ("deploy", "lint"),
    ];
    println!("tasks: {tasks:?}");
    println!("\"task depends on dependency\": {edges:?}");
    if let Ok(graph) = TaskGraph::new(&tasks, &edges) {
        show_all(&graph);
    }

    edges.push(("build", "test"));
    println!("\nadd \"build depends on test\":");
    if let Ok(graph) = TaskGraph::new(&tasks, &edges) {
        show_all(&graph);
    }

    println!("\nbad input:");
    for (label, extra) in [
        ("self-loop:", ("lint", "lint")),
        ("typo:", ("deploy", "biuld")),
    ] {
        let edges = [("build", "fetch"), extra];
        match TaskGraph::new(&tasks, &edges) {
            Ok(graph) => show(label, graph.kahn(Tiebreak::ReadyOrder)),
            Err(error) => println!("{label:<20} error: {error}"),
        }
    }

    // A chain declared last-first: the DFS goes 100 000 tasks deep.
    let chain: Vec<String> = (0..100_000).rev().map(|i| format!("t{i}")).collect();
    let links: Vec<(&str, &str)> = chain
        .windows(2)
        .map(|w| (w[0].as_str(), w[1].as_str()))
        .collect();
    if let Ok(graph) = TaskGraph::new(&chain, &links)
        && let Ok(order) = graph.dfs()
    {
        println!(
            "\nchain of {} tasks, dfs: {} ... {}",
            order.len(),
            order[0],
            order[order.len() - 1]
        );
    }
}
// ANCHOR_END: main

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    const PIPELINE: [&str; 6] = ["deploy", "migrate", "test", "build", "fetch", "lint"];
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
        assert!(matches!(err, TaskError::UnknownTask { ref unknown, .. } if unknown == "tset"));
    }

    #[test]
    fn a_task_declared_twice_is_an_error() {
        let err = TaskGraph::new(&["a", "b", "a"], &[] as &[(&str, &str)]).unwrap_err();
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
    fn raw_graph() -> impl Strategy<Value = (Vec<usize>, Vec<usize>, Vec<(usize, usize)>)> {
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
}
