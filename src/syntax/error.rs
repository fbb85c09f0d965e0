use std::sync::Arc;

use miette::{Diagnostic, NamedSource, SourceSpan};
use thiserror::Error;

/// A program that is not well-formed text: found before any name is looked at.
#[derive(Debug, Error, Diagnostic)]
pub enum SyntaxError {
    #[error("{message}")]
    #[diagnostic(code(covenant::syntax::unexpected), help("{help}"))]
    Unexpected {
        message: String,
        help: String,
        #[label("{label}")]
        span: SourceSpan,
        label: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("the program nests deeper than {limit} levels (`max_nesting`)")]
    #[diagnostic(
        code(covenant::limit::nesting),
        help("split the expression into named `let` values, or raise `max_nesting` in the limits (`--max-nesting` on the command line)")
    )]
    TooDeep {
        limit: usize,
        #[label("nesting passes the limit here")]
        span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("`{name}` is {size} bytes, over the limit of {limit} (`max_source_bytes`)")]
    #[diagnostic(
        code(covenant::limit::source_size),
        help("split the program into files joined with `import`, or raise `max_source_bytes` in the limits (`--max-source-bytes` on the command line)")
    )]
    TooLarge { name: String, size: usize, limit: usize },

    #[error("a nesting limit of {limit} is over the most Covenant supports, {ceiling} (`max_nesting`)")]
    #[diagnostic(
        code(covenant::limit::nesting),
        help("set `max_nesting` (`--max-nesting`) to at most {ceiling}; deeper expressions are better split into named `let` values")
    )]
    NestingCeiling { limit: usize, ceiling: usize },

    #[error("a number literal of {digits} digits, over the limit of {limit} (`max_number_digits`)")]
    #[diagnostic(
        code(covenant::limit::number_digits),
        help("a number holds at most 28 significant digits; longer literals are refused by length (raise `max_number_digits`, `--max-number-digits` on the command line, only to accept more leading or trailing zeros)")
    )]
    TooManyDigits {
        digits: usize,
        limit: usize,
        #[label("this literal")]
        span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("the source holds a NUL byte")]
    #[diagnostic(code(covenant::syntax::nul), help("a Covenant program is plain UTF-8 text; remove the byte"))]
    NulByte {
        #[label("here")]
        span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("invalid {what} literal `{text}`: {reason}")]
    #[diagnostic(code(covenant::syntax::literal), help("{help}"))]
    BadLiteral {
        what: &'static str,
        text: String,
        reason: String,
        help: String,
        #[label("this literal")]
        span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("comparisons do not chain")]
    #[diagnostic(
        code(covenant::syntax::chained_comparison),
        help("write `a < b and b < c`, or add parentheses to say which comparison comes first")
    )]
    ChainedComparison {
        #[label("a comparison inside a comparison")]
        span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("`{clause}` is given twice in `{block}`")]
    #[diagnostic(code(covenant::syntax::duplicate_clause), help("keep one `{clause}` clause"))]
    DuplicateClause {
        clause: String,
        block: String,
        #[label("second `{clause}`")]
        span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("`{block}` needs {} `{clause}` clause", if clause.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" })]
    #[diagnostic(code(covenant::syntax::missing_clause), help("{help}"))]
    MissingClause {
        clause: &'static str,
        block: String,
        help: &'static str,
        #[label("in this block")]
        span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("{message}")]
    #[diagnostic(code(covenant::syntax::form), help("{help}"))]
    BadForm {
        message: String,
        help: String,
        #[label("here")]
        span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },
}

impl SyntaxError {
    /// The byte offset the error points at, when it points into the text.
    pub fn offset(&self) -> Option<usize> {
        match self {
            SyntaxError::Unexpected { span, .. }
            | SyntaxError::TooDeep { span, .. }
            | SyntaxError::TooManyDigits { span, .. }
            | SyntaxError::NulByte { span, .. }
            | SyntaxError::BadLiteral { span, .. }
            | SyntaxError::ChainedComparison { span, .. }
            | SyntaxError::DuplicateClause { span, .. }
            | SyntaxError::MissingClause { span, .. }
            | SyntaxError::BadForm { span, .. } => Some(span.offset()),
            SyntaxError::TooLarge { .. } | SyntaxError::NestingCeiling { .. } => None,
        }
    }
}
