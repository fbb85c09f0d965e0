//! Differential: the direct JSON-to-schema binder against the tree path (parse, then bind)
//! on arbitrary data for each shipped example's schema. They must agree exactly: the same
//! bound value, or the same error.
#![no_main]

mod shared;

use std::sync::OnceLock;

use covenant::Program;
use libfuzzer_sys::fuzz_target;

fn examples() -> &'static Vec<Program> {
    static COMPILED: OnceLock<Vec<Program>> = OnceLock::new();
    // The standard-library examples have no facility data worth binding.
    COMPILED.get_or_init(|| shared::EXAMPLES.iter().take(4).filter_map(|s| shared::compile(s)).collect())
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
