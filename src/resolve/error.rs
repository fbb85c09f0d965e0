use std::sync::Arc;

use miette::{Diagnostic, NamedSource, SourceSpan};
use thiserror::Error;

use crate::syntax::SyntaxError;

/// A name that does not lead anywhere, a name used twice, an import that cannot be read,
/// or values that depend on each other in a circle.
#[derive(Debug, Error, Diagnostic)]
pub enum ResolveError {
    #[error("unknown name `{name}`")]
    #[diagnostic(code(covenant::resolve::unknown_name), help("{help}"))]
    UnknownName {
        name: String,
        help: String,
        #[label("not defined")]
        span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("unknown function `{name}`")]
    #[diagnostic(code(covenant::resolve::unknown_function), help("{help}"))]
    UnknownFunction {
        name: String,
        help: String,
        #[label("no function of this name")]
        span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("`{name}` is defined twice")]
    #[diagnostic(code(covenant::resolve::duplicate), help("names are global to the program: rename one of them"))]
    Duplicate {
        name: String,
        #[label("defined again here")]
        span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("`as_of` is reserved: it is the data's date, `input.as_of`")]
    #[diagnostic(code(covenant::resolve::reserved), help("choose another name; `as_of` always reads the evaluation date from the data"))]
    ReservedAsOf {
        #[label("`as_of` cannot be defined")]
        span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("`{name}` is a built-in function and cannot be redefined")]
    #[diagnostic(code(covenant::resolve::builtin), help("choose another name"))]
    Builtin {
        name: String,
        #[label("redefines a built-in")]
        span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("dependency cycle: {members}")]
    #[diagnostic(
        code(covenant::resolve::cycle),
        help("a value cannot depend on itself, directly or through others; functions cannot call themselves (no recursion)")
    )]
    Cycle {
        members: String,
        #[label("`{first}` is part of the cycle")]
        span: SourceSpan,
        first: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("cannot import `{what}`: {reason}")]
    #[diagnostic(code(covenant::resolve::import), help("{help}"))]
    Import {
        what: String,
        reason: String,
        help: String,
        #[label("this import")]
        span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error(transparent)]
    #[diagnostic(transparent)]
    InImport(#[from] Box<SyntaxError>),

    #[error("`{path}` does not read as a Covenant program: a syntax error at line {line}, column {column}, on its first line or among control characters")]
    #[diagnostic(
        code(covenant::resolve::not_source),
        help("an import names a Covenant source file; the text of one that does not read as Covenant is not shown (check it on its own with `covenant check`)")
    )]
    NotSource { path: String, line: usize, column: usize },

    #[error("cannot read `{path}`: {reason}")]
    #[diagnostic(code(covenant::resolve::read), help("a Covenant program is a UTF-8 text file"))]
    Read { path: String, reason: String },

    #[error("the program has no `input` schema")]
    #[diagnostic(
        code(covenant::resolve::no_input),
        help("declare the facility data once: `input {{ as_of: Date  loan: {{ outstanding: Money(USD) }} }}`")
    )]
    NoInput,

    #[error("`input` is declared twice")]
    #[diagnostic(code(covenant::resolve::two_inputs), help("a program has exactly one input schema; merge the two"))]
    TwoInputs {
        #[label("second schema")]
        span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("{message}")]
    #[diagnostic(code(covenant::resolve::misuse), help("{help}"))]
    Misuse {
        message: String,
        help: String,
        #[label("{label}")]
        span: SourceSpan,
        label: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },
}
