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

/// An input of the evaluating targets: a fuzzed program and its data, split at a 0xFF byte
/// (never part of UTF-8), or else a shipped example, picked by the first byte, and its data.
pub enum Case<'a> {
    Fuzzed { source: &'a str, data: &'a str },
    Example { index: usize, data: &'a str },
}

pub fn case(bytes: &[u8]) -> Option<Case<'_>> {
    if let Some(split) = bytes.iter().position(|b| *b == 0xFF) {
        let source = std::str::from_utf8(&bytes[..split]).ok()?;
        let data = std::str::from_utf8(&bytes[split + 1..]).ok()?;
        return Some(Case::Fuzzed { source, data });
    }
    let (pick, rest) = bytes.split_first()?;
    Some(Case::Example { index: usize::from(*pick) % EXAMPLES.len(), data: std::str::from_utf8(rest).ok()? })
}
