//! Text → AST. A nesting pre-check runs first, then pest, then the AST is built.

pub mod ast;
mod error;
mod parser;
mod precheck;

use std::sync::Arc;

use miette::NamedSource;

pub use error::SyntaxError;
pub use parser::MAX_LITERAL_DIGITS;

use crate::span::FileId;

/// The default of `Limits::max_number_digits`: the most digits a number literal may have
/// before it is refused by length.
pub const DEFAULT_MAX_NUMBER_DIGITS: usize = 64;

/// Parses one source file. `max_nesting` bounds bracket and prefix nesting, checked before
/// pest sees the text; number literals may have up to [`DEFAULT_MAX_NUMBER_DIGITS`] digits.
pub fn parse(text: &str, file: FileId, src: &NamedSource<Arc<str>>, max_nesting: usize) -> Result<ast::Module, SyntaxError> {
    parse_with(text, file, src, max_nesting, DEFAULT_MAX_NUMBER_DIGITS)
}

/// [`parse`] with a limit on the digits of a number literal.
pub fn parse_with(
    text: &str,
    file: FileId,
    src: &NamedSource<Arc<str>>,
    max_nesting: usize,
    max_number_digits: usize,
) -> Result<ast::Module, SyntaxError> {
    if let Some(at) = text.find('\0') {
        return Err(SyntaxError::NulByte { span: (at, 1).into(), src: src.clone() });
    }
    if let Some(at) = precheck::first_too_deep(text, max_nesting) {
        return Err(SyntaxError::TooDeep { limit: max_nesting, span: (at, 1).into(), src: src.clone() });
    }
    parser::Parser::new(file, src, max_number_digits).parse_module(text)
}
