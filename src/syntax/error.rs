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

    #[error("the program nests deeper than {limit} levels")]
    #[diagnostic(
        code(covenant::limit::nesting),
        help("split the expression into named `let` values; the limit is `max_nesting` in the compile limits")
    )]
    TooDeep {
        limit: usize,
        #[label("nesting passes the limit here")]
        span: SourceSpan,
        #[source_code]
        src: NamedSource<Arc<str>>,
    },

    #[error("the source is {size} bytes, over the limit of {limit}")]
    #[diagnostic(
        code(covenant::limit::source_size),
        help("split the program into files joined with `import`, or raise `max_source_bytes` in the compile limits")
    )]
    TooLarge { size: usize, limit: usize },

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

    #[error("`{block}` needs a `{clause}` clause")]
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
