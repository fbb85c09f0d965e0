//! Program plus data. The first byte picks a shipped example program and the rest is its
//! facility data; or, when the input holds a 0xFF byte (never part of UTF-8), the text before
//! it is the program and the text after it the data, so both sides are fuzzed together.
//! Every scenario is evaluated and every report serialised.
#![no_main]

mod shared;

use std::sync::OnceLock;

use covenant::Program;
use libfuzzer_sys::fuzz_target;

use shared::{Case, EXAMPLES};

fn examples() -> &'static Vec<Option<Program>> {
    static COMPILED: OnceLock<Vec<Option<Program>>> = OnceLock::new();
    COMPILED.get_or_init(|| EXAMPLES.iter().map(|s| shared::compile(s)).collect())
}

fn evaluate_everything(program: &Program, data: &str) {
    let names: Vec<Option<&str>> = std::iter::once(None).chain(program.scenario_names().map(Some)).collect();
    for scenario in names {
        if let Ok(report) = program.evaluate(data, scenario) {
            let _ = serde_json::to_string(&report);
            let _ = covenant::report::table::render(&report);
        }
    }
}

fuzz_target!(|bytes: &[u8]| {
    match shared::case(bytes) {
        Some(Case::Fuzzed { source, data }) => {
            if let Some(program) = shared::compile(source) {
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
