//! Program plus data. The first byte picks a shipped example program and the rest is its
//! facility data; or, when the input holds a 0xFF byte (never part of UTF-8), the text before
//! it is the program and the text after it the data, so both sides are fuzzed together.
//! Every scenario is evaluated and every report serialised.
#![no_main]

mod shared;

use std::sync::OnceLock;

use covenant::Program;
use libfuzzer_sys::fuzz_target;

use shared::EXAMPLES;

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
    if let Some(split) = bytes.iter().position(|b| *b == 0xFF) {
        let (Ok(source), Ok(data)) = (std::str::from_utf8(&bytes[..split]), std::str::from_utf8(&bytes[split + 1..])) else { return };
        if let Some(program) = shared::compile(source) {
            evaluate_everything(&program, data);
        }
        return;
    }
    let Some((pick, rest)) = bytes.split_first() else { return };
    let Ok(data) = std::str::from_utf8(rest) else { return };
    if let Some(Some(program)) = examples().get(usize::from(*pick) % EXAMPLES.len()) {
        evaluate_everything(program, data);
    }
});
