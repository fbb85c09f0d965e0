//! What the targets share: a loader that refuses file imports (so no input can make the
//! fuzzer read the file system) and the shipped example programs.
// Each target uses only part of this module.
#![allow(dead_code)]

use std::path::Path;

use covenant::resolve::Loader;
use covenant::{Limits, Program};

pub struct NoFiles;

impl Loader for NoFiles {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        Err(std::io::Error::new(std::io::ErrorKind::NotFound, format!("{} is not available", path.display())))
    }
}

/// The shipped examples whose data the targets fuzz, in a fixed order.
pub const EXAMPLES: [&str; 5] = [
    include_str!("../../examples/gpu_abl.cov"),
    include_str!("../../examples/miner_facility.cov"),
    include_str!("../../examples/liquidation_study.cov"),
    include_str!("../../examples/sponsor_loan.cov"),
    include_str!("../../examples/stdlib_examples.cov"),
];

pub fn compile(source: &str) -> Option<Program> {
    compile_with(source, Limits::default())
}

pub fn compile_with(source: &str, limits: Limits) -> Option<Program> {
    Program::compile_with("fuzz.cov", source, limits, &NoFiles).ok()
}
