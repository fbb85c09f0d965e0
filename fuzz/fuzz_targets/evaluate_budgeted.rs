//! The `evaluate` target's inputs under tight evaluation budgets, so that no fuzzed program
//! can hang the fuzzer: over a budget is an ordinary error, and any panic, abort or timeout
//! is a finding. The first byte picks a shipped example program and the rest is its facility
//! data; or, when the input holds a 0xFF byte, the text before it is the program and the text
//! after it the data. The data is bound once and every scenario evaluated; every report is
//! serialised (under `max_output_bytes`) and rendered as a table.
#![no_main]

mod shared;

use std::sync::OnceLock;

use covenant::{Limits, Program};
use libfuzzer_sys::fuzz_target;

use shared::{Case, EXAMPLES};

/// One input's budget, shared evenly by its evaluations. Each evaluation is bounded by the
/// library, but one input runs as many as it declares scenarios: a per-evaluation budget
/// alone would let a program with a few hundred expensive scenarios run for minutes.
const OPERATIONS: u64 = 2_000_000;
const VALUES: u64 = 200_000;

/// The budgets for one of `evaluations` evaluations. Every scenario is declared with the
/// keyword `scenario` (file imports are refused and the standard library declares none), so
/// counting the word in the source bounds the scenarios from above without compiling twice.
fn budgets(source: &str) -> Limits {
    // Binding runs the checks once, then the base case and each scenario.
    let evaluations = source.matches("scenario").count() as u64 + 2;
    Limits::default()
        .with_max_operations(OPERATIONS / evaluations)
        .with_max_values(VALUES / evaluations)
        .with_max_output_bytes(4 << 20)
}

fn compile(source: &str) -> Option<Program> {
    let program = shared::compile_with(source, budgets(source))?;
    assert!(program.scenario_names().count() <= source.matches("scenario").count(), "a scenario without the keyword");
    Some(program)
}

fn examples() -> &'static Vec<Option<Program>> {
    static COMPILED: OnceLock<Vec<Option<Program>>> = OnceLock::new();
    COMPILED.get_or_init(|| EXAMPLES.iter().map(|s| compile(s)).collect())
}

fn evaluate_everything(program: &Program, data: &str) {
    let Ok(input) = program.bind_text(data) else { return };
    let names: Vec<Option<&str>> = std::iter::once(None).chain(program.scenario_names().map(Some)).collect();
    for scenario in names {
        if let Ok(report) = program.evaluate_bound(input.clone(), scenario) {
            let _ = program.report_json(&report);
            let _ = covenant::report::table::render(&report);
        }
    }
}

fuzz_target!(|bytes: &[u8]| {
    match shared::case(bytes) {
        Some(Case::Fuzzed { source, data }) => {
            if let Some(program) = compile(source) {
                evaluate_everything(&program, data);
            }
        }
        Some(Case::Example { index, data }) => {
            if let Some(Some(program)) = examples().get(index) {
                evaluate_everything(program, data);
            }
        }
        None => {}
    }
});
