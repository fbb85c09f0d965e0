//! `covenant fmt`: one canonical layout for a program, with its comments and literals kept.
//!
//! The parsed AST says where each declaration and clause begins and ends; the text between
//! is re-spaced token by token from the source, so literals (`50%`, `10_000_000`,
//! `3 quarters`), brackets and comments stay exactly as written. The layout rules are in
//! the language reference (`docs/language.md`, "Formatting").

use std::sync::Arc;

use miette::NamedSource;

use crate::span::FileId;
use crate::syntax::ast::{CovenantDef, CureDef, Expr, Item, Module, Tested, TypeExpr, TypeExprKind};
use crate::{CompileError, Limits};

const INDENT: usize = 2;

/// The program text in canonical layout, or the syntax error that stops it from being read.
/// Formatting a formatted text gives it back unchanged.
pub fn format_source(name: &str, text: &str) -> Result<String, CompileError> {
    let limits = Limits::default();
    let fail = |e: crate::syntax::SyntaxError| CompileError { diagnostics: vec![Box::new(e)] };
    if text.len() > limits.max_source_bytes {
        return Err(fail(crate::syntax::SyntaxError::TooLarge { name: name.to_string(), size: text.len(), limit: limits.max_source_bytes }));
    }
    let src = NamedSource::new(name, Arc::<str>::from(text));
    let parse = || crate::syntax::parse(text, FileId(0), &src, limits.max_nesting);
    // Parsing recurses once per nesting level: on a thread whose stack is sized for the
    // limit, as compiling does, whatever thread the caller (an editor's server) uses.
    let stack = crate::COMPILE_STACK_BASE + limits.max_nesting.saturating_mul(crate::COMPILE_STACK_PER_LEVEL);
    let module = std::thread::scope(|scope| {
        match std::thread::Builder::new().name("covenant-format".into()).stack_size(stack).spawn_scoped(scope, parse) {
            Ok(handle) => handle.join().ok(),
            Err(_) => Some(parse()),
        }
    });
    let module = module.ok_or_else(|| crate::internal_compile_error("the formatter's thread stopped"))?.map_err(fail)?;
    Ok(Formatter::new(text).module(&module))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Word,
    Number,
    Text,
    Open,
    Close,
    /// `<` and `>` of `List<T>`.
    GenericOpen,
    GenericClose,
    Comma,
    Dot,
    Colon,
    Question,
    Op,
    Comment,
}

#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
    start: usize,
    /// Line breaks between the previous token (or comment) and this one.
    newlines: usize,
}

/// Words after which a `(` or `[` opens an expression rather than a call or an index, and
/// which do not end an operand (so a `-` after them is a sign).
const KEYWORDS: &[&str] = &["if", "then", "else", "and", "or", "not", "for", "in", "as", "let", "fn", "check", "import", "type", "schedule", "calendar"];

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The source as tokens and comments. The text has parsed, so every byte outside strings and
/// comments belongs to a token of the grammar.
fn lex(text: &str) -> Vec<Token<'_>> {
    let bytes = text.as_bytes();
    let mut tokens: Vec<Token<'_>> = Vec::new();
    let (mut i, mut newlines, mut generics) = (0usize, 0usize, 0usize);
    let byte = |k: usize| bytes.get(k).copied().unwrap_or(0);
    while i < bytes.len() {
        let b = byte(i);
        if b == b'\n' {
            newlines += 1;
            i += 1;
            continue;
        }
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let kind = if b == b'#' {
            while i < bytes.len() && byte(i) != b'\n' {
                i += 1;
            }
            Kind::Comment
        } else if b == b'"' {
            i += 1;
            while i < bytes.len() && byte(i) != b'"' && byte(i) != b'\n' {
                i += if byte(i) == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(bytes.len());
            Kind::Text
        } else if b.is_ascii_digit() {
            let is_date = (0..10).all(|k| if k == 4 || k == 7 { byte(i + k) == b'-' } else { byte(i + k).is_ascii_digit() }) && !is_ident_byte(byte(i + 10));
            if is_date {
                i += 10;
            } else {
                while byte(i).is_ascii_digit() || (byte(i) == b'_' && byte(i + 1).is_ascii_digit()) {
                    i += 1;
                }
                if byte(i) == b'.' && byte(i + 1).is_ascii_digit() {
                    i += 1;
                    while byte(i).is_ascii_digit() {
                        i += 1;
                    }
                }
                if byte(i) == b'%' || (byte(i) == b'x' && !is_ident_byte(byte(i + 1))) {
                    i += 1;
                }
            }
            Kind::Number
        } else if is_ident_byte(b) {
            while is_ident_byte(byte(i)) {
                i += 1;
            }
            Kind::Word
        } else {
            let two = text.get(i..i + 2).unwrap_or("");
            i += 1;
            match b {
                b'<' if tokens.last().is_some_and(|t| t.text == "List") => {
                    generics += 1;
                    Kind::GenericOpen
                }
                b'>' if generics > 0 => {
                    generics -= 1;
                    Kind::GenericClose
                }
                _ if ["==", "!=", "<=", ">=", "??", "=>", "->", "*=", "+=", "-="].contains(&two) => {
                    i += 1;
                    Kind::Op
                }
                b'(' | b'[' | b'{' => Kind::Open,
                b')' | b']' | b'}' => Kind::Close,
                b',' => Kind::Comma,
                b'.' => Kind::Dot,
                b':' => Kind::Colon,
                b'?' => Kind::Question,
                _ => {
                    // One whole character, whatever its width.
                    while i < bytes.len() && !text.is_char_boundary(i) {
                        i += 1;
                    }
                    Kind::Op
                }
            }
        };
        let token_text = text.get(start..i).unwrap_or("");
        let token_text = if kind == Kind::Comment { token_text.trim_end() } else { token_text };
        tokens.push(Token { kind, text: token_text, start, newlines });
        newlines = 0;
    }
    tokens
}

/// One line of a block: the source range it covers, and where its expression begins (the
/// words before it are clause keywords, so `require (a)` keeps its space).
enum Clause<'m> {
    Line { start: usize, end: usize, expr_at: usize },
    Cure(&'m CureDef),
}

struct Formatter<'a> {
    tokens: Vec<Token<'a>>,
    /// The next token not yet printed or passed over.
    cursor: usize,
    out: String,
    /// A blank line is owed before the next line (between a block and its neighbours).
    blank_owed: bool,
    /// The last line opened a block: no blank line follows it.
    after_open: bool,
    /// The current line ends in a comment: code may not follow on it.
    in_comment: bool,
    indent: usize,
    /// The output line number, and the lines that end in a comment after code, with the
    /// width of that code: consecutive ones get their comments aligned.
    line: usize,
    trailing: Vec<(usize, usize)>,
}

impl<'a> Formatter<'a> {
    fn new(text: &'a str) -> Self {
        Formatter { tokens: lex(text), cursor: 0, out: String::new(), blank_owed: false, after_open: false, in_comment: false, indent: 0, line: 0, trailing: Vec::new() }
    }

    // ---------------------------------------------------------------- tokens

    /// The index of the first token at or after `offset`.
    fn at(&self, offset: usize) -> usize {
        self.tokens.partition_point(|t| t.start < offset)
    }

    fn token(&self, i: usize) -> Option<Token<'a>> {
        self.tokens.get(i).copied()
    }

    fn start_of(&self, i: usize) -> usize {
        self.token(i).map_or(usize::MAX, |t| t.start)
    }

    /// Where the clause whose expression starts at `expr_start` begins: `words` keywords earlier.
    fn words_before(&self, expr_start: usize, words: usize) -> usize {
        self.start_of(self.at(expr_start).saturating_sub(words))
    }

    /// The index of the last code token that starts before `end` (spans may take in the
    /// blanks and comments after their last token).
    fn last_code_before(&self, end: usize) -> usize {
        let mut i = self.at(end);
        while i > 0 {
            i -= 1;
            if self.tokens.get(i).is_some_and(|t| t.kind != Kind::Comment) {
                return i;
            }
        }
        0
    }

    /// The index of the first `{` at or after `offset`.
    fn open_brace(&self, offset: usize) -> usize {
        let from = self.at(offset);
        from + self.tokens.iter().skip(from).position(|t| t.text == "{").unwrap_or(0)
    }

    // ---------------------------------------------------------------- output

    fn new_line(&mut self, indent: usize, blank: bool) {
        if !self.out.is_empty() {
            self.out.push('\n');
            self.line += 1;
            if (blank || self.blank_owed) && !self.after_open {
                self.out.push('\n');
                self.line += 1;
            }
        }
        self.blank_owed = false;
        self.after_open = false;
        self.in_comment = false;
        self.indent = indent;
        self.out.extend(std::iter::repeat_n(' ', indent));
    }

    fn push(&mut self, code: &str) {
        if self.in_comment {
            self.new_line(self.indent, false);
        }
        self.out.push_str(code);
    }

    fn comment(&mut self, t: Token<'_>, indent: usize) {
        if t.newlines == 0 && !self.out.is_empty() && !self.in_comment {
            let code = self.out.rsplit('\n').next().map_or(0, |l| l.chars().count());
            self.trailing.push((self.line, code));
            self.out.push_str("  ");
        } else {
            self.new_line(indent, t.newlines >= 2);
        }
        self.out.push_str(t.text);
        self.in_comment = true;
    }

    /// Prints the comments before `offset` (own-line ones at `indent`, end-of-line ones where
    /// they were) and passes over the code tokens the layout prints itself (braces, commas).
    fn flush(&mut self, offset: usize, indent: usize) {
        while let Some(t) = self.token(self.cursor).filter(|t| t.start < offset) {
            if t.kind == Kind::Comment {
                self.comment(t, indent);
            }
            self.cursor += 1;
        }
    }

    /// Starts a line for the code at `offset`, after the comments before it.
    fn line_at(&mut self, offset: usize, indent: usize) {
        self.flush(offset, indent);
        let blank = self.token(self.at(offset)).is_some_and(|t| t.newlines >= 2);
        self.new_line(indent, blank);
    }

    /// Prints the tokens from `start` to the last one before `end` on the current line, one
    /// space apart where the grammar reads them apart. A line break in the source stays a
    /// line break, indented by the brackets open at that point; blank lines inside go.
    fn run(&mut self, start: usize, end: usize, indent: usize, expr_at: usize) {
        self.flush(start, indent + INDENT);
        let last = self.last_code_before(end);
        let (mut depth, mut prev, mut break_owed) = (0usize, None::<(Token<'a>, bool)>, false);
        while self.cursor <= last {
            let Some(t) = self.token(self.cursor) else { break };
            self.cursor += 1;
            if t.kind == Kind::Comment {
                self.comment(t, indent + INDENT * (1 + depth));
                break_owed = true;
                continue;
            }
            let keyword = t.start < expr_at || (t.kind == Kind::Word && KEYWORDS.contains(&t.text));
            if let Some((p, p_keyword)) = prev {
                if t.newlines > 0 || break_owed {
                    let open = if t.kind == Kind::Close { depth.saturating_sub(1) } else { depth };
                    // A line that begins with an operator continues the operand above it.
                    let operator_led = match t.kind {
                        Kind::Op => !matches!(t.text, "=" | "=>" | "->" | "*=" | "+=" | "-=") && (t.text != "-" || ends_operand(p, p_keyword)),
                        Kind::Word => matches!(t.text, "and" | "or"),
                        _ => false,
                    };
                    self.new_line(indent + INDENT * (1 + open + usize::from(operator_led)), false);
                } else if spaced(p, p_keyword, t, prev_unary(&prev)) {
                    self.push(" ");
                }
            }
            self.push(t.text);
            match t.kind {
                Kind::Open => depth += 1,
                Kind::Close => depth = depth.saturating_sub(1),
                _ => {}
            }
            // A sign: a `-` where no operand ends before it.
            let unary = t.text == "-" && prev.is_none_or(|(p, k)| !ends_operand(p, k));
            prev = Some((t, keyword || unary));
            if unary {
                prev = Some((Token { kind: Kind::Op, text: "-unary", ..t }, true));
            }
            break_owed = false;
        }
        self.indent = indent;
    }

    /// A whole line (or a line and its continuations) for the code from `start` to `end`.
    fn unit(&mut self, start: usize, end: usize, indent: usize, expr_at: usize) {
        self.line_at(start, indent);
        self.run(start, end, indent, expr_at);
    }

    // ---------------------------------------------------------------- layout

    fn module(mut self, module: &Module) -> String {
        let mut prev_block = false;
        for (i, item) in module.items.iter().enumerate() {
            let block = is_block(item);
            self.blank_owed = i > 0 && (block || prev_block);
            self.item(item);
            prev_block = block;
        }
        self.blank_owed = false;
        self.flush(usize::MAX, 0);
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        align_comments(&self.out, &self.trailing)
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Import(import) => {
                let span = match import {
                    crate::syntax::ast::Import::Std { span, .. } | crate::syntax::ast::Import::File { span, .. } => *span,
                };
                self.unit(self.words_before(span.start as usize, 1), span.end as usize, 0, 0);
            }
            Item::Facility { span, .. } | Item::Let(crate::syntax::ast::LetDef { span, .. }) | Item::Fn(crate::syntax::ast::FnDef { span, .. }) => {
                self.unit(span.start as usize, span.end as usize, 0, 0);
            }
            Item::Check(c) => self.unit(c.span.start as usize, c.span.end as usize, 0, 0),
            Item::Input { schema, span } => {
                self.line_at(span.start as usize, 0);
                self.push("input ");
                self.cursor = self.at(schema.span.start as usize);
                self.record(schema, 0, true);
            }
            Item::TypeDef { name, ty } => {
                let start = self.words_before(name.span.start as usize, 1);
                if record_of(ty).is_some() {
                    self.unit(start, ty.span.start as usize, 0, 0);
                    self.push(" ");
                    self.record(ty, 0, false);
                } else {
                    self.unit(start, ty.span.end as usize, 0, 0);
                }
            }
            Item::Calendar { holidays, span, .. } => {
                let open = self.open_brace(span.start as usize);
                let close = self.last_code_before(span.end as usize);
                if self.tokens.get(open..close).is_some_and(|ts| ts.iter().any(|t| t.kind == Kind::Comment)) {
                    // A comment inside cannot share the one line: laid out as a block.
                    let clause = self.expr_clause(holidays, 1);
                    self.block(span.start as usize, open, span.end as usize, vec![clause], 0);
                    return;
                }
                self.unit(span.start as usize, self.start_of(open), 0, 0);
                self.push(" { ");
                self.cursor = open + 1;
                let expr_at = holidays.span.start as usize;
                self.run(self.words_before(expr_at, 1), holidays.span.end as usize, 0, expr_at);
                self.flush(span.end as usize, INDENT);
                self.push(" }");
            }
            Item::Schedule(s) => {
                let rows = s.rows.iter().map(|r| Clause::Line { start: r.span.start as usize, end: r.span.end as usize, expr_at: 0 }).collect();
                self.block(s.span.start as usize, self.open_brace(s.ret.span.end as usize), s.span.end as usize, rows, 0);
            }
            Item::Collateral(p) => {
                let mut clauses = Vec::new();
                for (e, words) in [(&p.quantity, 1), (&p.price, 1), (&p.haircut, 1), (&p.lot, 1), (&p.discount, 2), (&p.liquidation_price, 2)] {
                    if let Some(e) = e {
                        clauses.push(self.expr_clause(e, words));
                    }
                }
                self.block(p.span.start as usize, self.open_brace(p.name.span.end as usize), p.span.end as usize, clauses, 0);
            }
            Item::Covenant(c) => {
                let clauses = self.covenant_clauses(c);
                self.block(c.span.start as usize, self.open_brace(c.name.span.end as usize), c.span.end as usize, clauses, 0);
            }
            Item::MarginCall(m) => {
                let mut clauses = Vec::new();
                for (e, words) in [(&m.trigger, 1), (&m.amount, 1), (&m.minimum_transfer, 1), (&m.due, 1), (&m.rounding.as_ref().map(|(_, e)| e.clone()), 2)] {
                    if let Some(e) = e {
                        clauses.push(self.expr_clause(e, words));
                    }
                }
                self.block(m.span.start as usize, self.open_brace(m.name.span.end as usize), m.span.end as usize, clauses, 0);
            }
            Item::Liquidation(l) => {
                let mut clauses = Vec::new();
                for e in [&l.trigger, &l.debt, &l.until].into_iter().flatten() {
                    clauses.push(self.expr_clause(e, 1));
                }
                if let (Some(first), Some(last)) = (l.sell.first(), l.sell.last()) {
                    let expr_at = first.span.start as usize;
                    clauses.push(Clause::Line { start: self.words_before(expr_at, 1), end: last.span.end as usize, expr_at });
                }
                self.block(l.span.start as usize, self.open_brace(l.name.span.end as usize), l.span.end as usize, clauses, 0);
            }
            Item::Default(d) => {
                let clauses = d
                    .events
                    .iter()
                    .map(|e| Clause::Line { start: self.words_before(e.name.span.start as usize, 1), end: e.when.span.end as usize, expr_at: e.when.span.start as usize })
                    .collect();
                self.block(d.span.start as usize, self.open_brace(d.name.span.end as usize), d.span.end as usize, clauses, 0);
            }
            Item::Scenario(s) => {
                let clauses = s.shocks.iter().map(|k| Clause::Line { start: k.path.span.start as usize, end: k.value.span.end as usize, expr_at: 0 }).collect();
                self.block(s.span.start as usize, self.open_brace(s.name.span.end as usize), s.span.end as usize, clauses, 0);
            }
            Item::Simulation(s) => {
                let lines = s.factors.iter().map(|f| (f.span.start, f.span.end)).chain(s.correlations.iter().map(|c| (c.span.start, c.span.end)));
                let mut lines: Vec<(u32, u32)> = lines.chain(s.shocks.iter().map(|k| (k.path.span.start, k.value.span.end))).collect();
                lines.sort_unstable();
                let clauses = lines.into_iter().map(|(start, end)| Clause::Line { start: start as usize, end: end as usize, expr_at: 0 }).collect();
                self.block(s.span.start as usize, self.open_brace(s.name.span.end as usize), s.span.end as usize, clauses, 0);
            }
            Item::Test(t) => {
                let mut clauses = Vec::new();
                if let Some((_, span)) = &t.data {
                    clauses.push(Clause::Line { start: span.start as usize, end: span.end as usize, expr_at: 0 });
                }
                if let Some(s) = &t.scenario {
                    clauses.push(Clause::Line { start: self.words_before(s.span.start as usize, 1), end: s.span.end as usize, expr_at: 0 });
                }
                for k in &t.shocks {
                    clauses.push(Clause::Line { start: k.path.span.start as usize, end: k.value.span.end as usize, expr_at: 0 });
                }
                for e in &t.expects {
                    clauses.push(self.expr_clause(e, 1));
                }
                self.block(t.span.start as usize, self.open_brace(t.span.start as usize), t.span.end as usize, clauses, 0);
            }
        }
    }

    fn expr_clause(&self, e: &Expr, words: usize) -> Clause<'static> {
        let expr_at = e.span.start as usize;
        Clause::Line { start: self.words_before(expr_at, words), end: e.span.end as usize, expr_at }
    }

    fn covenant_clauses<'m>(&self, c: &'m CovenantDef) -> Vec<Clause<'m>> {
        let mut clauses: Vec<Clause<'m>> = Vec::new();
        for e in [&c.require, &c.when].into_iter().flatten() {
            clauses.push(self.expr_clause(e, 1));
        }
        if let Some(cure) = &c.cure {
            clauses.push(Clause::Cure(cure));
        }
        match &c.tested {
            Some(Tested::On(e)) => clauses.push(self.expr_clause(e, 2)),
            Some(Tested::Quarterly | Tested::Monthly) => {
                // The only clause without a span: the `tested` outside every other clause.
                let taken: Vec<(usize, usize)> = clauses.iter().map(|cl| clause_range(cl)).collect();
                let body = self.open_brace(c.name.span.end as usize) + 1..self.at(c.span.end as usize);
                let found = body.clone().zip(body.skip(1)).find(|&(i, j)| {
                    let (Some(t), Some(u)) = (self.token(i), self.token(j)) else { return false };
                    t.text == "tested" && matches!(u.text, "quarterly" | "monthly") && !taken.iter().any(|&(s, e)| s <= t.start && t.start < e)
                });
                if let Some((i, j)) = found {
                    let end = self.token(j).map_or(0, |u| u.start + u.text.len());
                    clauses.push(Clause::Line { start: self.start_of(i), end, expr_at: end });
                }
            }
            None => {}
        }
        clauses
    }

    /// `HEADER {`, one clause a line in the order written, `}`; `HEADER {}` when empty.
    fn block(&mut self, start: usize, open: usize, end: usize, mut clauses: Vec<Clause<'_>>, indent: usize) {
        let close = self.last_code_before(end);
        self.unit(start, self.start_of(open), indent, 0);
        self.cursor = open + 1;
        let has_comment = self.tokens.get(open + 1..close).is_some_and(|ts| ts.iter().any(|t| t.kind == Kind::Comment));
        if clauses.is_empty() && !has_comment {
            self.push(" {}");
            self.cursor = close + 1;
            return;
        }
        self.push(" {");
        self.after_open = true;
        clauses.sort_by_key(|c| clause_range(c).0);
        for clause in clauses {
            match clause {
                Clause::Line { start, end, expr_at } => self.unit(start, end, indent + INDENT, expr_at),
                Clause::Cure(cure) => {
                    let (start, end) = (cure.span.start as usize, cure.span.end as usize);
                    let last = self.last_code_before(end);
                    if self.token(last).is_some_and(|t| t.text == "}") {
                        let mut rules: Vec<Clause<'_>> = cure.history.iter().map(|e| self.expr_clause(e, 1)).collect();
                        for limit in &cure.limits {
                            let span = match limit {
                                crate::syntax::ast::CureLimit::InQuarters { span, .. }
                                | crate::syntax::ast::CureLimit::Total { span, .. }
                                | crate::syntax::ast::CureLimit::NoConsecutive { span } => *span,
                            };
                            rules.push(Clause::Line { start: span.start as usize, end: span.end as usize, expr_at: span.end as usize });
                        }
                        self.block(start, self.open_brace(start), end, rules, indent + INDENT);
                    } else {
                        self.unit(start, end, indent + INDENT, end);
                    }
                }
            }
        }
        let close_at = self.start_of(close);
        self.flush(close_at, indent + INDENT);
        self.new_line(indent, false);
        self.push("}");
        self.cursor = close + 1;
    }

    /// A record type: on one line as written when it was written on one line, otherwise
    /// (and always for `input`) one field a line without commas.
    fn record(&mut self, ty: &TypeExpr, indent: usize, multiline: bool) {
        let Some((fields, optional)) = record_of(ty) else {
            self.run(ty.span.start as usize, ty.span.end as usize, indent, 0);
            return;
        };
        let open = self.at(ty.span.start as usize);
        let close = if optional { self.last_code_before(ty.span.end as usize).saturating_sub(1) } else { self.last_code_before(ty.span.end as usize) };
        let written_on_lines = self.tokens.get(open + 1..=close).is_some_and(|ts| ts.iter().any(|t| t.newlines > 0));
        if !written_on_lines && (!multiline || fields.is_empty()) {
            self.run(ty.span.start as usize, ty.span.end as usize, indent, 0);
            return;
        }
        self.cursor = open + 1;
        self.push("{");
        self.after_open = true;
        for (name, field_ty) in fields {
            self.line_at(name.span.start as usize, indent + INDENT);
            self.cursor = self.at(name.span.start as usize) + 1;
            self.push(&name.name);
            self.push(": ");
            self.flush(field_ty.span.start as usize, indent + 2 * INDENT);
            self.record(field_ty, indent + INDENT, false);
        }
        self.flush(self.start_of(close), indent + INDENT);
        self.new_line(indent, false);
        self.push("}");
        self.cursor = close + 1;
        if optional {
            self.push("?");
            self.cursor += 1;
        }
    }
}

/// Lines in a row that end in comments have them start in one column, two spaces after the
/// longest code among them.
fn align_comments(text: &str, trailing: &[(usize, usize)]) -> String {
    let mut column = vec![None; trailing.last().map_or(0, |&(line, _)| line + 1)];
    let mut rest = trailing;
    while !rest.is_empty() {
        let run = 1 + rest.windows(2).take_while(|w| matches!(w, [a, b] if a.0 + 1 == b.0)).count();
        let (group, after) = rest.split_at(run.min(rest.len()));
        let width = group.iter().map(|g| g.1).max().unwrap_or(0);
        for &(line, code) in group {
            if let Some(slot) = column.get_mut(line) {
                *slot = Some((code, width));
            }
        }
        rest = after;
    }
    let mut out = String::with_capacity(text.len());
    for (n, line) in text.split_inclusive('\n').enumerate() {
        match column.get(n).copied().flatten() {
            Some((code, width)) => {
                let split = line.char_indices().nth(code).map_or(line.len(), |(i, _)| i);
                let (head, tail) = line.split_at(split);
                out.push_str(head);
                out.extend(std::iter::repeat_n(' ', width.saturating_sub(code)));
                out.push_str(tail);
            }
            None => out.push_str(line),
        }
    }
    out
}

/// A record type's fields, and whether it is optional (`{…}?`).
fn record_of(ty: &TypeExpr) -> Option<(&Vec<(crate::syntax::ast::Ident, TypeExpr)>, bool)> {
    match &ty.kind {
        TypeExprKind::Record(fields) => Some((fields, false)),
        TypeExprKind::Optional(inner) => match &inner.kind {
            TypeExprKind::Record(fields) => Some((fields, true)),
            _ => None,
        },
        _ => None,
    }
}

fn clause_range(c: &Clause<'_>) -> (usize, usize) {
    match c {
        Clause::Line { start, end, .. } => (*start, *end),
        Clause::Cure(cure) => (cure.span.start as usize, cure.span.end as usize),
    }
}

fn is_block(item: &Item) -> bool {
    matches!(
        item,
        Item::Input { .. }
            | Item::Schedule(_)
            | Item::Collateral(_)
            | Item::Covenant(_)
            | Item::MarginCall(_)
            | Item::Liquidation(_)
            | Item::Default(_)
            | Item::Scenario(_)
            | Item::Simulation(_)
            | Item::Test(_)
    )
}

fn prev_unary(prev: &Option<(Token<'_>, bool)>) -> bool {
    prev.is_some_and(|(p, _)| p.text == "-unary")
}

/// Whether a token ends an operand, so that a `-` after it subtracts.
fn ends_operand(t: Token<'_>, keyword: bool) -> bool {
    match t.kind {
        Kind::Number | Kind::Text | Kind::Close | Kind::GenericClose | Kind::Question => true,
        Kind::Word => !keyword,
        _ => false,
    }
}

/// Whether one space separates `p` and `t` on a line.
fn spaced(p: Token<'_>, p_keyword: bool, t: Token<'_>, p_sign: bool) -> bool {
    let callee = p.kind == Kind::Word && !p_keyword;
    match (p.kind, t.kind) {
        (_, Kind::Comma | Kind::Dot | Kind::Colon | Kind::Question | Kind::GenericOpen | Kind::GenericClose) => false,
        (Kind::Dot | Kind::GenericOpen, _) => false,
        (Kind::Open, Kind::Close) => false,
        (Kind::Open, _) => p.text == "{",
        (_, Kind::Close) => t.text == "}",
        _ if p_sign => false,
        (_, Kind::Open) if t.text == "(" => !callee,
        (_, Kind::Open) if t.text == "[" => !(callee || p.kind == Kind::Close),
        _ => true,
    }
}
