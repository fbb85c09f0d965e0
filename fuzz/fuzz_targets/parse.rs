//! Any text: the parser returns an AST or a syntax error, never panics, never hangs.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let src = miette::NamedSource::new("fuzz.cov", Arc::<str>::from(text));
    let _ = covenant::syntax::parse(text, covenant::span::FileId(0), &src, 128);
});
