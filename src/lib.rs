pub mod dates;
pub mod span;
pub mod syntax;
