//! Any text through the whole compiler (parse, resolve with the standard library, check).
//! File imports are refused so the fuzzer cannot wander the file system.
#![no_main]

mod shared;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = shared::compile(text);
});
