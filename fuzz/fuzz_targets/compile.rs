//! Any text through the whole compiler (parse, resolve with the standard library, check).
//! File imports are refused so the fuzzer cannot wander the file system.
#![no_main]

use std::path::Path;

use covenant::resolve::Loader;
use libfuzzer_sys::fuzz_target;

struct NoFiles;

impl Loader for NoFiles {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        Err(std::io::Error::new(std::io::ErrorKind::NotFound, format!("{} is not available", path.display())))
    }
}

fuzz_target!(|text: &str| {
    let _ = covenant::Program::compile_with("fuzz.cov", text, covenant::Limits::default(), &NoFiles);
});
