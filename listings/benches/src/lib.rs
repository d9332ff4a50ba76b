//! A small timing harness for the guide's benchmarks, std only. The
//! benchmarks themselves are in `benches/`; each includes the listing it
//! measures, times its contenders here, then prints a table and the ratios
//! its chapter discusses, so no chapter retypes a figure.
//!
//! Each benchmark is first warmed up for [`WARM_UP`], which also measures
//! how long one call takes. Then the benchmarks are timed in rounds, one
//! sample of each per round, so that load from elsewhere on a shared machine
//! falls on all contenders alike instead of on whichever ran during it. A
//! sample runs the routine in a batch lasting at least [`MIN_SAMPLE`], so
//! the clock's resolution does not matter, and records the mean time per
//! call. Outputs are kept until the clock stops, so dropping them is not
//! timed. The table gives the median, fastest and slowest sample; ratios
//! compare medians, which a burst of load moves least.

use std::fmt::Display;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// How long each benchmark runs untimed before its samples.
pub const WARM_UP: Duration = Duration::from_millis(100);
/// The shortest batch of calls that one sample times.
pub const MIN_SAMPLE: Duration = Duration::from_millis(1);

/// Times a batch of `n` calls and returns seconds per call.
type Batch<'a> = Box<dyn FnMut(u32) -> f64 + 'a>;

/// One benchmark: what to run, then its samples in nanoseconds per call.
struct Bench<'a> {
    label: String,
    name: String,
    arg: String,
    batch: Batch<'a>,
    samples: Vec<f64>,
}

impl Bench<'_> {
    fn median(&self) -> f64 {
        let mut times = self.samples.clone();
        times.sort_by(f64::total_cmp);
        let middle = times.len() / 2;
        match times.len() % 2 {
            1 => times[middle],
            _ => (times[middle - 1] + times[middle]) / 2.0,
        }
    }

    fn fastest(&self) -> f64 {
        self.samples.iter().copied().fold(f64::INFINITY, f64::min)
    }

    fn slowest(&self) -> f64 {
        self.samples.iter().copied().fold(0.0, f64::max)
    }
}

/// Collects benchmarks, runs them, and prints what they measured.
pub struct Harness<'a> {
    title: &'static str,
    arg_header: &'static str,
    samples: usize,
    benches: Vec<Bench<'a>>,
}

impl<'a> Harness<'a> {
    /// `arg_header` heads the column of arguments (a size, a capacity).
    pub fn new(title: &'static str, arg_header: &'static str) -> Self {
        Harness {
            title,
            arg_header,
            samples: 100,
            benches: Vec::new(),
        }
    }

    /// The number of samples per benchmark (100 unless set).
    pub fn samples(mut self, samples: usize) -> Self {
        self.samples = samples.max(1);
        self
    }

    /// Adds `routine` as `name` with argument `arg` ("" if none).
    pub fn bench<T: 'a>(
        &mut self,
        name: &str,
        arg: impl Display,
        mut routine: impl FnMut() -> T + 'a,
    ) {
        let arg = arg.to_string();
        let label = match arg.as_str() {
            "" => name.to_string(),
            arg => format!("{name} at {arg}"),
        };
        let batch = Box::new(move |n: u32| {
            let mut outputs = Vec::with_capacity(n as usize);
            let start = Instant::now();
            for _ in 0..n {
                outputs.push(black_box(routine()));
            }
            let elapsed = start.elapsed();
            drop(outputs);
            elapsed.as_secs_f64() / f64::from(n)
        });
        let name = name.to_string();
        let samples = Vec::with_capacity(self.samples);
        self.benches.push(Bench {
            label,
            name,
            arg,
            batch,
            samples,
        });
    }

    /// Warms every benchmark up, then takes the samples in rounds.
    pub fn run(&mut self) {
        let batches: Vec<u32> = self.benches.iter_mut().map(warm_up).collect();
        for round in 1..=self.samples {
            eprint!("\rround {round} of {}", self.samples);
            for (bench, &n) in self.benches.iter_mut().zip(&batches) {
                let seconds = (bench.batch)(n);
                bench.samples.push(seconds * 1e9);
            }
        }
        eprintln!();
    }

    /// Prints the table, then the heading of the ratios that follow it.
    pub fn print_table(&self) {
        let names = self.benches.iter().map(|b| b.name.as_str());
        let args = self.benches.iter().map(|b| b.arg.as_str());
        let name_width = width(names.chain(["benchmark"]));
        let arg_width = width(args.chain([self.arg_header]));
        println!(
            "{}: median, fastest and slowest of {} samples, per call",
            self.title, self.samples
        );
        println!(
            "{:<name_width$}  {:>arg_width$}  {:>10}  {:>10}  {:>10}",
            "benchmark", self.arg_header, "median", "fastest", "slowest"
        );
        for b in &self.benches {
            println!(
                "{:<name_width$}  {:>arg_width$}  {:>10}  {:>10}  {:>10}",
                b.name,
                b.arg,
                time(b.median()),
                time(b.fastest()),
                time(b.slowest())
            );
        }
        println!();
        println!("Ratios of medians (above 1: the first took longer):");
    }

    /// Prints `a / b: 1.95x` for two labels (`name` or `name at arg`).
    pub fn ratio(&self, a: &str, b: &str) {
        let r = self.median_of(a) / self.median_of(b);
        println!("{a} / {b}: {r:.2}x");
    }

    /// Prints `a / b at arg: 1.95x` for each argument.
    pub fn ratios_at<D: Display>(&self, a: &str, b: &str, args: &[D]) {
        for arg in args {
            let a_label = format!("{a} at {arg}");
            let b_label = format!("{b} at {arg}");
            let r = self.median_of(&a_label) / self.median_of(&b_label);
            println!("{a} / {b} at {arg}: {r:.2}x");
        }
    }

    /// Prints the median time per item when one call handles `items`.
    pub fn per_item(&self, label: &str, items: usize, item: &str) {
        let nanos = self.median_of(label) / items as f64;
        println!("{label}: {} per {item}", time(nanos));
    }

    fn median_of(&self, label: &str) -> f64 {
        match self.benches.iter().find(|b| b.label == label) {
            Some(bench) => bench.median(),
            None => panic!("no benchmark labelled {label:?}"),
        }
    }
}

/// The width of a column: its widest cell, in characters.
fn width<'s>(cells: impl Iterator<Item = &'s str>) -> usize {
    cells.map(|c| c.chars().count()).max().unwrap_or(0)
}

/// Runs `bench` for [`WARM_UP`] and returns how many calls make a sample.
fn warm_up(bench: &mut Bench) -> u32 {
    eprintln!("warming up {}", bench.label);
    let (mut calls, start) = (0, Instant::now());
    while calls == 0 || start.elapsed() < WARM_UP {
        (bench.batch)(1);
        calls += 1;
    }
    let per_call = start.elapsed().as_secs_f64() / f64::from(calls);
    (MIN_SAMPLE.as_secs_f64() / per_call).ceil().max(1.0) as u32
}

/// Four significant digits and a unit, e.g. `671.1 ns` or `7.802 ms`.
fn time(nanos: f64) -> String {
    let (value, unit) = match nanos {
        n if n < 1e3 => (n, "ns"),
        n if n < 1e6 => (n / 1e3, "µs"),
        n if n < 1e9 => (n / 1e6, "ms"),
        n => (n / 1e9, "s"),
    };
    let decimals = match value {
        v if v >= 100.0 => 1,
        v if v >= 10.0 => 2,
        _ => 3,
    };
    format!("{value:.decimals$} {unit}")
}

#[cfg(test)]
mod tests {
    use super::time;

    #[test]
    fn times_keep_four_significant_digits() {
        assert_eq!(time(671.06), "671.1 ns");
        assert_eq!(time(3_603.0), "3.603 µs");
        assert_eq!(time(34_060_000.0), "34.06 ms");
        assert_eq!(time(1.5e9), "1.500 s");
    }
}
