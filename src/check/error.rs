use std::sync::Arc;

use miette::{Diagnostic, NamedSource, SourceSpan};
use thiserror::Error;

/// A program whose names all resolve but whose types, currencies or rule shapes do not fit.
#[derive(Debug, Error, Diagnostic)]
pub enum CheckError {
    #[error("currency mismatch: `{op}` between {left} and {right}")]
    #[diagnostic(
        code(covenant::check::currency),
        help("money of different currencies never mixes; convert one side explicitly, e.g. `money(amount(x) * fx_rate, {left_code})`")
    )]
    CurrencyMismatch {
        op: String,
        left: String,
        right: String,
        left_code: String,
        #[label("{left} here")]
        left_span: SourceSpan,
        #[label("{right} here")]
        right_span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("expected {expected}, found {found}")]
    #[diagnostic(code(covenant::check::type_mismatch), help("{help}"))]
    TypeMismatch {
        expected: String,
        found: String,
        help: String,
        #[label("this is {found}")]
        span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("`{op}` does not apply to {left} and {right}")]
    #[diagnostic(code(covenant::check::operands), help("{help}"))]
    BadOperands {
        op: String,
        left: String,
        right: String,
        help: String,
        #[label("{left} {op} {right}")]
        span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("`{text}` may be absent ({ty}) and is used without a default")]
    #[diagnostic(
        code(covenant::check::optional),
        help("give it a default with `??`: `({text} ?? {example})`")
    )]
    OptionalWithoutDefault {
        text: String,
        ty: String,
        example: String,
        #[label("optional value used directly")]
        span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("{ty} has no field `{field}`")]
    #[diagnostic(code(covenant::check::unknown_field), help("{help}"))]
    UnknownField {
        field: String,
        ty: String,
        help: String,
        #[label("no such field")]
        span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("unknown type `{name}`")]
    #[diagnostic(code(covenant::check::unknown_type), help("{help}"))]
    UnknownType {
        name: String,
        help: String,
        #[label("not a type")]
        span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("`{name}` takes {expected} argument{plural}, found {found}")]
    #[diagnostic(code(covenant::check::arity), help("the signature is `{signature}`"))]
    WrongArgCount {
        name: String,
        expected: usize,
        plural: &'static str,
        found: usize,
        signature: String,
        #[label("called here")]
        span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("`{text}` is never a status of a {rule}")]
    #[diagnostic(code(covenant::check::status), help("a {rule}'s status is one of {statuses}"))]
    ImpossibleStatus {
        text: String,
        rule: &'static str,
        statuses: String,
        #[label("this comparison is always false")]
        span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("{message}")]
    #[diagnostic(code(covenant::check::path), help("{help}"))]
    BadPath {
        message: String,
        help: String,
        #[label("{label}")]
        span: SourceSpan,
        label: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("the input schema has no `as_of: Date`")]
    #[diagnostic(
        code(covenant::check::as_of),
        help("every schema declares the evaluation date: add `as_of: Date` to `input {{ … }}`")
    )]
    MissingAsOf {
        #[label("this schema")]
        span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("{message}")]
    #[diagnostic(code(covenant::check::invalid), help("{help}"))]
    Invalid {
        message: String,
        help: String,
        #[label("{label}")]
        span: SourceSpan,
        label: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },
}
