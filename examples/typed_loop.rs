//! A fixed amount of typed evaluation, for counting instructions (BENCHMARKS.md, "The
//! tracer"): the benchmark's reference facility with `POSITIONS` positions, evaluated
//! `ITERATIONS` times through `run_bound` and read as the benchmark reads it (its verdict),
//! or explained when the third argument is `explain`.
//! With `native` as the third argument it runs the benchmark's hand-written Rust floor
//! instead, so that the interpreter's cost can be read as a ratio of instructions.
//!
//!     cargo build --release --example typed_loop
//!     valgrind --tool=callgrind target/release/examples/typed_loop 50 200
//!     valgrind --tool=callgrind target/release/examples/typed_loop 50 200 native
//!
//! With `ratio` (and a number of rounds, 31 unless given) it times the two in alternating
//! rounds of `ITERATIONS` evaluations each, in one process, and prints the ratio of their
//! fastest rounds and the median of the rounds' ratios: on a shared machine the fastest
//! round is the one least disturbed, and a ratio taken round by round compares the two
//! under the same disturbance.
//!
//!     target/release/examples/typed_loop 5 20000 ratio

use std::time::Instant;

use covenant::Program;

// The benchmark's reference facility and hand-written floor, from the benchmark's own files.
#[allow(dead_code)]
#[path = "../benches/peers/mod.rs"]
mod peers;
#[allow(dead_code)]
#[path = "../benches/reference/mod.rs"]
mod reference;

use reference::{covenant_typed_verdict, facility_with, native, native_facility, PROGRAM};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let positions: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(50);
    let iterations: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200);
    let explain = args.get(3).is_some_and(|a| a == "explain");
    if args.get(3).is_some_and(|a| a == "ratio") {
        ratio(positions, iterations, args.get(4).and_then(|a| a.parse().ok()).unwrap_or(31));
        return;
    }
    if args.get(3).is_some_and(|a| a == "native") {
        let data = facility_with(positions, "2026-03-31", positions as u64 * 1_000_000, 50_000_000);
        let facility = native_facility(&serde_json::from_str(&data).unwrap());
        let started = Instant::now();
        let mut breached = 0usize;
        for _ in 0..iterations {
            breached += usize::from(!native::evaluate(std::hint::black_box(&facility)).dscr_ok);
        }
        let per = started.elapsed() / u32::try_from(iterations.max(1)).unwrap();
        println!("{positions} positions, {iterations} iterations, native: {per:?} each ({breached})");
        return;
    }
    let program = Program::compile("bench.cov", PROGRAM).unwrap();
    let data = facility_with(positions, "2026-03-31", positions as u64 * 1_000_000, 50_000_000);
    let json: serde_json::Value = serde_json::from_str(&data).unwrap();
    let bound = program.bind(&json).unwrap();
    let started = Instant::now();
    let mut breached = 0usize;
    for _ in 0..iterations {
        let evaluation = program.run_bound(std::hint::black_box(bound.clone()), None).unwrap();
        breached += usize::from(!covenant_typed_verdict(&evaluation).dscr_ok);
        if explain {
            let why = evaluation.explain("ltv_call.amount").unwrap();
            breached += why.walk().len();
        }
    }
    let per = started.elapsed() / u32::try_from(iterations.max(1)).unwrap();
    println!("{positions} positions, {iterations} iterations{}: {per:?} each ({breached})", if explain { ", explained" } else { "" });
}

fn ratio(positions: usize, iterations: usize, rounds: usize) {
    let program = Program::compile("bench.cov", PROGRAM).unwrap();
    let data = facility_with(positions, "2026-03-31", positions as u64 * 1_000_000, 50_000_000);
    let json: serde_json::Value = serde_json::from_str(&data).unwrap();
    let bound = program.bind(&json).unwrap();
    let facility = native_facility(&json);
    let typed_round = || {
        let started = Instant::now();
        let mut breached = 0usize;
        for _ in 0..iterations {
            let evaluation = program.run_bound(std::hint::black_box(bound.clone()), None).unwrap();
            breached += usize::from(!covenant_typed_verdict(&evaluation).dscr_ok);
        }
        std::hint::black_box(breached);
        started.elapsed().as_secs_f64() / iterations as f64
    };
    let native_round = || {
        let started = Instant::now();
        let mut breached = 0usize;
        for _ in 0..iterations {
            breached += usize::from(!native::evaluate(std::hint::black_box(&facility)).dscr_ok);
        }
        std::hint::black_box(breached);
        started.elapsed().as_secs_f64() / iterations as f64
    };
    let (mut typed, mut floor, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which goes first, so neither always follows the other's cache state.
        let (t, n) = if round % 2 == 0 {
            let t = typed_round();
            (t, native_round())
        } else {
            let n = native_round();
            (typed_round(), n)
        };
        typed.push(t);
        floor.push(n);
        ratios.push(t / n);
    }
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    println!(
        "{positions} positions, {rounds} rounds of {iterations}: typed {:.3} µs, floor {:.3} µs (fastest rounds): {:.2}×; round by round median {:.2}× ({:.2}–{:.2}×)",
        min(&typed) * 1e6,
        min(&floor) * 1e6,
        min(&typed) / min(&floor),
        median,
        ratios[0],
        ratios[ratios.len() - 1]
    );
}
