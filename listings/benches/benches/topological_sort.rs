//! Kahn's algorithm and the iterative DFS of `topological_sort.rs` against
//! `petgraph::algo::toposort`, on the same seeded random DAGs.
//!
//! Each graph has `n` tasks; every task after the first few depends on
//! three earlier tasks chosen at random, and the tasks are then declared in
//! a shuffled order so that declaration order is no head start. The graph
//! is built once per size; only the sort is timed. It prints the ratios
//! that 4.7 discusses: petgraph against each of the listing's algorithms,
//! and the smallest-name tie-break against FIFO Kahn. Run with
//! `cargo xtask bench topological_sort`.

use std::hint::black_box;

use benches::Harness;
use petgraph::graph::DiGraph;

#[allow(dead_code)]
#[path = "../../problems/src/bin/topological_sort/main.rs"]
mod topological_sort;

use topological_sort::{TaskGraph, Tiebreak};

const SIZES: [usize; 2] = [1_000, 100_000];
const DEPENDENCIES_PER_TASK: usize = 3;

fn main() {
    let mut h = Harness::new("topological_sort", "tasks");
    for n in SIZES {
        let graph = task_graph(n);
        h.bench("kahn_ready_order", n, move || {
            black_box(&graph).kahn_indices(Tiebreak::ReadyOrder)
        });
    }
    for n in SIZES {
        let graph = task_graph(n);
        h.bench("kahn_smallest_name", n, move || {
            black_box(&graph).kahn_indices(Tiebreak::SmallestName)
        });
    }
    for n in SIZES {
        let graph = task_graph(n);
        h.bench("dfs_three_colours", n, move || {
            black_box(&graph).dfs_indices()
        });
    }
    for n in SIZES {
        let graph = petgraph_graph(n);
        h.bench("petgraph_toposort", n, move || {
            petgraph::algo::toposort(black_box(&graph), None).ok()
        });
    }
    h.run();
    h.print_table();
    h.ratios_at("petgraph_toposort", "kahn_ready_order", &SIZES);
    h.ratios_at("petgraph_toposort", "dfs_three_colours", &SIZES);
    h.ratios_at("kahn_smallest_name", "kahn_ready_order", &SIZES);
}

/// splitmix64: a tiny, seeded generator, so every run sorts the same graphs.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// A random DAG as (declared task ids, `(task, dependency)` edges).
fn random_dag(n: usize) -> (Vec<usize>, Vec<(usize, usize)>) {
    let mut rng = SplitMix64(0x5EED ^ n as u64);
    let mut edges = Vec::with_capacity(n * DEPENDENCIES_PER_TASK);
    for task in 1..n {
        for _ in 0..DEPENDENCIES_PER_TASK.min(task) {
            edges.push((task, rng.below(task)));
        }
    }
    // Fisher-Yates: declare the tasks in a random order.
    let mut declared: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        declared.swap(i, rng.below(i + 1));
    }
    (declared, edges)
}

fn task_graph(n: usize) -> TaskGraph {
    let (declared, edges) = random_dag(n);
    let name = |id: usize| format!("t{id:06}");
    let tasks: Vec<String> = declared.into_iter().map(name).collect();
    let edges: Vec<(String, String)> =
        edges.into_iter().map(|(t, d)| (name(t), name(d))).collect();
    TaskGraph::new(&tasks, &edges).expect("a generated DAG is valid")
}

/// The same graph for petgraph: an edge runs from dependency to task.
fn petgraph_graph(n: usize) -> DiGraph<(), ()> {
    let (declared, edges) = random_dag(n);
    let mut graph = DiGraph::with_capacity(n, edges.len());
    let mut node = vec![None; n];
    for id in declared {
        node[id] = Some(graph.add_node(()));
    }
    for (task, dependency) in edges {
        if let (Some(t), Some(d)) = (node[task], node[dependency]) {
            graph.add_edge(d, t, ());
        }
    }
    graph
}
