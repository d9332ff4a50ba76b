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
            TaskError::DuplicateTask(name) => {
                write!(f, "task `{name}` is declared twice")
            }
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
}
// ANCHOR_END: graph

// ANCHOR: graph_helpers
impl TaskGraph {
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
// ANCHOR_END: graph_helpers

// ANCHOR: tiebreak
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
            Ready::Heap(heap) => {
                heap.push(Reverse((names[task].as_str(), task)))
            }
        }
    }

    fn pop(&mut self) -> Option<usize> {
        match self {
            Ready::Queue(queue) => queue.pop_front(),
            Ready::Heap(heap) => heap.pop().map(|Reverse((_, task))| task),
        }
    }
}
// ANCHOR_END: tiebreak

// ANCHOR: kahn
impl TaskGraph {
    /// Kahn's algorithm: a valid order, or the cycle that prevents one.
    pub fn kahn(&self, tiebreak: Tiebreak) -> Result<Vec<&str>, TaskError> {
        match self.kahn_indices(tiebreak) {
            Ok(order) => Ok(self.names_of(&order)),
            Err(cycle) => Err(self.cycle_error(&cycle)),
        }
    }

    /// The same on task indices; `Err` holds a cycle.
    pub fn kahn_indices(
        &self,
        tiebreak: Tiebreak,
    ) -> Result<Vec<usize>, Vec<usize>> {
        // waiting[t]: how many of t's dependencies have not run yet.
        let mut waiting: Vec<usize> =
            self.dependencies.iter().map(Vec::len).collect();
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
}
// ANCHOR_END: kahn

// ANCHOR: kahn_cycle
impl TaskGraph {
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
// ANCHOR_END: kahn_cycle

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
                let Some(&dependency) = self.dependencies[task].get(next)
                else {
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
                    Colour::Grey => {
                        return Err(cycle_on_path(&path, dependency));
                    }
                    Colour::Black => {}
                }
            }
        }
        Ok(order)
    }
}
// ANCHOR_END: dfs

// ANCHOR: cycle_on_path
/// The grey tasks are exactly the path. Each depends on the one after it,
/// and the last depends on `closing`, which is on the path already.
fn cycle_on_path(path: &[(usize, usize)], closing: usize) -> Vec<usize> {
    let start = path.iter().position(|&(t, _)| t == closing).unwrap_or(0);
    let mut cycle: Vec<usize> = path[start..].iter().map(|&(t, _)| t).collect();
    cycle.push(closing);
    cycle.reverse();
    cycle
}
// ANCHOR_END: cycle_on_path

// ANCHOR: show
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
// ANCHOR_END: show

// ANCHOR: main
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
    let chain: Vec<String> =
        (0..100_000).rev().map(|i| format!("t{i}")).collect();
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
mod tests;
