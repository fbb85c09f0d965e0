//! Differential: the direct JSON-to-schema binder against the tree path (parse, then bind)
//! on arbitrary data for each shipped example's schema. They must agree exactly: the same
//! bound value, or the same error.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use covenant::resolve::Loader;
use covenant::{Limits, Program};
use libfuzzer_sys::fuzz_target;

struct NoFiles;

impl Loader for NoFiles {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        Err(std::io::Error::new(std::io::ErrorKind::NotFound, format!("{} is not available", path.display())))
    }
}

const EXAMPLES: [&str; 4] = [
    include_str!("../../examples/gpu_abl.cov"),
    include_str!("../../examples/miner_facility.cov"),
    include_str!("../../examples/liquidation_study.cov"),
    include_str!("../../examples/sponsor_loan.cov"),
];

fn examples() -> &'static Vec<Program> {
    static COMPILED: OnceLock<Vec<Program>> = OnceLock::new();
    COMPILED.get_or_init(|| EXAMPLES.iter().filter_map(|s| Program::compile_with("example.cov", s, Limits::default(), &NoFiles).ok()).collect())
}

fuzz_target!(|bytes: &[u8]| {
    let Some((pick, rest)) = bytes.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let programs = examples();
    let Some(program) = programs.get(usize::from(*pick) % programs.len().max(1)) else { return };
    let binder = program.limits().binder();
    let schema = &program.ir().input;
    let direct = binder.bind_text(text, schema);
    let tree = binder.parse(text).and_then(|json| binder.bind(&json, schema));
    assert_eq!(direct, tree, "the direct binder and the tree path disagree");
});
