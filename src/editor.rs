//! What an editor asks of a program while it is being written: every problem in it (parsing
//! on past a broken declaration), its declarations, what each name refers to, what to offer
//! at the cursor. Positions are byte offsets into the text; the language server turns them
//! into lines and UTF-16 columns.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{Diagnostic, NamedSource};

use crate::check;
use crate::ir::{Builtin, AGGREGATES};
use crate::resolve::{self, Loader};
use crate::span::{FileId, Span};
use crate::syntax::ast::{self, Arg, CureTarget, Expr, ExprKind, Ident, Item, PathStep, Shock, Tested};
use crate::types::{RecordType, RuleKind, Type};
use crate::{stdlib, syntax, Limits, Program};

/// The words that begin a top-level declaration: where parsing starts again after an error.
pub const DECLARATION_KEYWORDS: &[&str] = &[
    "import", "facility", "input", "type", "let", "fn", "schedule", "calendar", "collateral", "covenant", "margin_call",
    "liquidation", "default", "scenario", "test", "check",
];

/// Every keyword, for completion.
pub const KEYWORDS: &[&str] = &[
    "import", "facility", "input", "type", "let", "fn", "schedule", "calendar", "collateral", "covenant", "margin_call",
    "liquidation", "default", "scenario", "test", "check", "if", "then", "else", "and", "or", "not", "for", "in", "as",
    "true", "false", "require", "tested", "quarterly", "monthly", "on", "when", "cure", "into", "quantity", "price",
    "haircut", "lot", "discount", "each", "trigger", "amount", "minimum_transfer", "rounding", "due", "debt", "sell",
    "until", "event", "expect", "data", "holidays", "interpolate",
];

/// One problem, in the file being edited or (with `file`) in a file it imports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub code: Option<String>,
    pub message: String,
    pub help: Option<String>,
    /// Bytes of the edited text; empty at 0 when the diagnostic has no position there.
    pub range: Range<usize>,
    /// The imported file the problem is in, when it is not in the edited text.
    pub file: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymbolKind {
    Facility,
    Input,
    Type,
    Let,
    Fn,
    Schedule,
    Calendar,
    Pool,
    Covenant,
    MarginCall,
    Liquidation,
    Default,
    Event,
    Scenario,
    Test,
    Check,
    Param,
}

impl SymbolKind {
    fn rule(self) -> Option<RuleKind> {
        Some(match self {
            SymbolKind::Pool => RuleKind::Pool,
            SymbolKind::Covenant => RuleKind::Covenant,
            SymbolKind::MarginCall => RuleKind::MarginCall,
            SymbolKind::Liquidation => RuleKind::Liquidation,
            SymbolKind::Default => RuleKind::Default,
            _ => return None,
        })
    }

    /// Whether a name of this kind can be referred to from an expression.
    fn named(self) -> bool {
        !matches!(self, SymbolKind::Facility | SymbolKind::Input | SymbolKind::Test | SymbolKind::Check | SymbolKind::Event)
    }
}

/// A declaration, with its doc comment (the `#` lines right above it).
#[derive(Clone, Debug)]
pub struct Symbol {
    pub name: String,
    pub kind: SymbolKind,
    /// The name as written (the keyword for a declaration without a name).
    pub name_range: Range<usize>,
    /// The whole declaration.
    pub range: Range<usize>,
    /// `let leverage: Number`, `fn ltv(debt: Money, value: Money) -> Number`, ...
    pub signature: String,
    /// For a `let`, its formula as written; for a `fn`, its body.
    pub formula: Option<String>,
    pub doc: Option<String>,
    pub children: Vec<Symbol>,
}

/// Where a source came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The text being edited.
    Edited,
    /// `import std.NAME`: shipped inside the binary.
    Std(String),
    /// `import "PATH"`, resolved against the edited file's directory.
    File(PathBuf),
}

/// One source file and its declarations.
#[derive(Debug)]
pub struct Source {
    pub origin: Origin,
    pub text: Arc<str>,
    pub symbols: Vec<Symbol>,
}

/// A use of a name in the edited text.
#[derive(Clone, Debug)]
enum Use {
    Name(String),
    /// `NAME(…)`: a function, schedule or built-in.
    Call(String),
    /// `NAME.field`: a rule's field.
    RuleField { owner: String, field: String },
    /// `input.a.b`: the fields from `input` down.
    Input(Vec<String>),
    /// `import std.NAME` or `import "PATH"`: index into `sources`.
    Import(usize),
}

/// Where a definition is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub origin: Origin,
    pub range: Range<usize>,
}

/// The answer to hovering: markdown.
pub type Hover = (String, Range<usize>);

/// One completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    pub label: String,
    pub kind: CompletionKind,
    pub detail: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionKind {
    Keyword,
    Value,
    Function,
    Rule,
    Field,
    Module,
}

/// Everything the editor needs about one text.
#[derive(Debug)]
pub struct Analysis {
    pub problems: Vec<Problem>,
    /// The edited text first, then each import in the order written.
    pub sources: Vec<Source>,
    uses: Vec<(Range<usize>, Use)>,
    /// Parameters and generator variables, with the range they are visible in.
    locals: Vec<(Range<usize>, Ident)>,
    /// The input schema, when the program compiled (with its broken declarations left out).
    pub input: Option<Arc<RecordType>>,
}

/// Analyses `text`, the contents of the file `name` (imports are read through `loader`,
/// relative to `name`'s directory).
pub fn analyse(name: &str, text: &str, limits: Limits, loader: &dyn Loader) -> Analysis {
    let mut analysis = Analysis { problems: Vec::new(), sources: Vec::new(), uses: Vec::new(), locals: Vec::new(), input: None };
    if text.len() > limits.max_source_bytes || limits.max_nesting > Limits::NESTING_CEILING {
        if let Err(e) = Program::compile_with(name, text, limits, loader) {
            analysis.problems = e.diagnostics.iter().map(|d| problem(&**d, name)).collect();
        }
        analysis.sources.push(Source { origin: Origin::Edited, text: Arc::from(text), symbols: Vec::new() });
        return analysis;
    }
    let (items, broken, syntax_problems) = parse_recovering(name, text, limits);
    let compiled_text = if broken.is_empty() { text.to_string() } else { blank(text, &broken) };
    let compiled = Program::compile_with(name, &compiled_text, limits, loader);
    analysis.problems = syntax_problems;
    let mut types = Types::default();
    match &compiled {
        Ok(program) => types = Types::of(program),
        Err(e) => {
            // With declarations left out, their syntax is reported already, an unknown name
            // may only be one of theirs, and a missing input the broken `input` declaration.
            let partial = !broken.is_empty();
            for d in &e.diagnostics {
                let code = d.code().map(|c| c.to_string()).unwrap_or_default();
                let follows_from_broken =
                    code.starts_with("covenant::syntax") || code.starts_with("covenant::resolve::unknown") || code == "covenant::resolve::no_input";
                if partial && follows_from_broken {
                    continue;
                }
                analysis.problems.push(problem(&**d, name));
            }
        }
    }
    analysis.problems.sort_by_key(|p| (p.file.is_some(), p.range.start));
    if let Ok(program) = &compiled {
        analysis.input = Some(program.ir().input.clone());
    }

    let text: Arc<str> = Arc::from(text);
    let symbols = items.iter().filter_map(|i| symbol_of(i, &text, &types)).collect();
    analysis.sources.push(Source { origin: Origin::Edited, text: text.clone(), symbols });
    let dir = Path::new(name).parent().unwrap_or(Path::new("")).to_path_buf();
    for item in &items {
        if let Item::Import(import) = item {
            let (origin, imported, span) = match import {
                ast::Import::Std { module, span } => {
                    let short = module.strip_prefix("std.").unwrap_or(module);
                    (Origin::Std(short.to_string()), stdlib::source(short).map(str::to_string), *span)
                }
                ast::Import::File { path, span } => {
                    let full = resolve::normalise(&dir.join(path));
                    let imported = loader.load(&full).ok().filter(|t| t.len() <= limits.max_source_bytes);
                    (Origin::File(full), imported, *span)
                }
            };
            let Some(imported) = imported else { continue };
            let imported: Arc<str> = Arc::from(imported);
            let (imported_items, _, _) = parse_recovering("import", &imported, limits);
            let symbols = imported_items.iter().filter_map(|i| symbol_of(i, &imported, &types)).collect();
            analysis.uses.push((range(span), Use::Import(analysis.sources.len())));
            analysis.sources.push(Source { origin, text: imported, symbols });
        }
    }
    let mut collector = Collector { uses: &mut analysis.uses, locals: &mut analysis.locals };
    for item in &items {
        collector.item(item);
    }
    analysis
}

/// Parses `text`, and when it does not parse, parses each top-level declaration on its own
/// (a declaration starts at a line that begins with a declaration keyword): the items of
/// those that parse, the byte ranges of those that do not, and one problem for each of them.
pub fn parse_recovering(name: &str, text: &str, limits: Limits) -> (Vec<Item>, Vec<Range<usize>>, Vec<Problem>) {
    let parse = |t: &str| {
        let src = NamedSource::new(name, Arc::<str>::from(t));
        syntax::parse_with(t, FileId(0), &src, limits.max_nesting, limits.max_number_digits)
    };
    let whole_error = match parse(text) {
        Ok(module) => return (module.items, Vec::new(), Vec::new()),
        Err(e) => e,
    };
    let mut broken = Vec::new();
    let mut problems = Vec::new();
    for chunk in declaration_chunks(text) {
        let Some(chunk_text) = text.get(chunk.clone()) else { continue };
        if let Err(e) = parse(chunk_text) {
            let mut p = problem(&e, name);
            let content_end = chunk_text.trim_end().len();
            if p.range.start >= content_end {
                // The declaration stops before it is complete, where the next one starts: say
                // so, at its last character, rather than at the end of a file that goes on.
                p.message = p.message.replace("unexpected the end of the file", "the declaration ends too early");
                p.help = p.help.map(|h| h.replace("the file ended inside an item", "the declaration ended unfinished"));
                p.range = content_end..content_end;
            }
            p.range = (p.range.start + chunk.start)..(p.range.end + chunk.start);
            problems.push(p);
            broken.push(chunk);
        }
    }
    if broken.is_empty() {
        // Each declaration parses alone but not together: report the whole text's error.
        return (Vec::new(), Vec::new(), vec![problem(&whole_error, name)]);
    }
    let items = parse(&blank(text, &broken)).map(|m| m.items).unwrap_or_default();
    (items, broken, problems)
}

/// The byte ranges of the top-level declarations: each starts at a line whose first word is a
/// declaration keyword followed by a space, `{` or `"`.
fn declaration_chunks(text: &str) -> Vec<Range<usize>> {
    let mut starts = vec![0];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let starts_declaration = DECLARATION_KEYWORDS.iter().any(|k| {
            line.strip_prefix(k).is_some_and(|rest| rest.starts_with([' ', '\t', '{', '"', '\r', '\n']) || rest.is_empty())
        });
        if starts_declaration && offset > 0 {
            starts.push(offset);
        }
        offset += line.len();
    }
    let mut ends: Vec<usize> = starts.iter().skip(1).copied().collect();
    ends.push(text.len());
    starts.into_iter().zip(ends).map(|(s, e)| s..e).collect()
}

/// `text` with the bytes of `ranges` turned into spaces (newlines kept), so that every other
/// byte keeps its offset. The ranges start at line starts, so the result is UTF-8.
fn blank(text: &str, ranges: &[Range<usize>]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for r in ranges {
        for b in bytes.get_mut(r.clone()).into_iter().flatten() {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    }
    String::from_utf8(bytes).unwrap_or_else(|_| text.to_string())
}

/// A diagnostic as a problem: its first label's bytes when it points into the text called
/// `name`, otherwise the start of the text and the file it is in.
pub fn problem(d: &dyn Diagnostic, name: &str) -> Problem {
    let code = d.code().map(|c| c.to_string());
    let help = d.help().map(|h| h.to_string()).filter(|h| !h.is_empty());
    let mut message = d.to_string();
    let label = d.labels().and_then(|mut l| l.next());
    // The file's name from an empty span at its start: reading the label's own span would
    // count the lines up to it, once per diagnostic.
    let file = match (d.source_code(), &label) {
        (Some(source), Some(_)) => source.read_span(&(0, 0).into(), 0, 0).ok().and_then(|c| c.name().map(str::to_string)),
        _ => None,
    };
    if let Some(text) = label.as_ref().and_then(|l| l.label()) {
        if !message.contains(text) {
            message = format!("{message}: {text}");
        }
    }
    match (label, file) {
        (Some(label), Some(file)) if file == name => {
            Problem { code, message, help, range: label.offset()..label.offset() + label.len(), file: None }
        }
        (Some(_), Some(file)) => Problem { code, message: format!("in `{file}`: {message}"), help, range: 0..0, file: Some(file) },
        _ => Problem { code, message, help, range: 0..0, file: None },
    }
}

fn range(span: Span) -> Range<usize> {
    span.start as usize..span.end as usize
}

fn slice(text: &str, span: Span) -> &str {
    text.get(range(span)).unwrap_or("")
}

/// The `#` comment lines right above `start`, without their `#`s.
fn doc_above(text: &str, start: usize) -> Option<String> {
    let before = text.get(..start)?;
    // Up to the end of the line above the declaration's first line.
    let above = before.rsplit_once('\n').map_or("", |(above, _)| above);
    let mut lines: Vec<&str> = above.lines().rev().map_while(|l| l.trim_start().strip_prefix('#')).collect();
    lines.reverse();
    let doc = lines.iter().map(|l| l.trim_start_matches('#')).map(|l| l.strip_prefix(' ').unwrap_or(l)).collect::<Vec<_>>().join("\n");
    (!doc.trim().is_empty()).then_some(doc)
}

/// Types proved by the checker, by name.
#[derive(Default)]
struct Types {
    lets: std::collections::HashMap<Arc<str>, Type>,
}

impl Types {
    fn of(program: &Program) -> Types {
        Types { lets: program.ir().lets.iter().map(|l| (l.name.clone(), l.ty.clone())).collect() }
    }

    fn of_let(&self, name: &str) -> Option<&Type> {
        self.lets.get(name)
    }
}

fn params_text(text: &str, params: &[ast::Param]) -> String {
    params.iter().map(|p| format!("{}: {}", p.name.name, slice(text, p.ty.span))).collect::<Vec<_>>().join(", ")
}

fn titled(keyword: &str, name: &str, title: &Option<String>) -> String {
    match title {
        Some(t) => format!("{keyword} {name} \"{t}\""),
        None => format!("{keyword} {name}"),
    }
}

fn symbol_of(item: &Item, text: &str, types: &Types) -> Option<Symbol> {
    let make = |name: &str, kind, name_span: Span, span: Span, signature: String| Symbol {
        name: name.to_string(),
        kind,
        name_range: range(name_span),
        // A declaration's span runs on over the blank lines after it.
        range: span.start as usize..span.start as usize + slice(text, span).trim_end().len(),
        signature,
        formula: None,
        doc: doc_above(text, span.start as usize),
        children: Vec::new(),
    };
    let keyword_span = |span: Span, keyword: &str| Span { end: span.start + keyword.len() as u32, ..span };
    Some(match item {
        Item::Import(_) => return None,
        Item::Facility { title, span } => make(title, SymbolKind::Facility, *span, *span, format!("facility \"{title}\"")),
        Item::Input { schema, span } => {
            let mut s = make("input", SymbolKind::Input, keyword_span(*span, "input"), *span, "input".into());
            if let ast::TypeExprKind::Record(fields) = &schema.kind {
                s.children = fields
                    .iter()
                    .map(|(name, ty)| {
                        let mut field = make(&name.name, SymbolKind::Param, name.span, name.span.to(ty.span), format!("input.{}: {}", name.name, slice(text, ty.span)));
                        field.doc = None;
                        field
                    })
                    .collect();
            }
            s
        }
        Item::TypeDef { name, ty } => make(&name.name, SymbolKind::Type, name.span, name.span.to(ty.span), format!("type {} = {}", name.name, slice(text, ty.span))),
        Item::Let(l) => {
            let ty = match (&l.ty, types.of_let(&l.name.name)) {
                (Some(declared), _) => slice(text, declared.span).to_string(),
                (None, Some(proved)) => proved.to_string(),
                (None, None) => String::new(),
            };
            let signature = if ty.is_empty() { format!("let {}", l.name.name) } else { format!("let {}: {ty}", l.name.name) };
            let mut s = make(&l.name.name, SymbolKind::Let, l.name.span, l.span, signature);
            s.formula = Some(slice(text, l.value.span).to_string());
            s
        }
        Item::Fn(f) => {
            let signature = format!("fn {}({}) -> {}", f.name.name, params_text(text, &f.params), slice(text, f.ret.span));
            let mut s = make(&f.name.name, SymbolKind::Fn, f.name.span, f.span, signature);
            s.formula = Some(slice(text, f.body.span).to_string());
            s
        }
        Item::Schedule(d) => {
            let signature = format!("schedule {}({}) -> {}", d.name.name, params_text(text, &d.params), slice(text, d.ret.span));
            make(&d.name.name, SymbolKind::Schedule, d.name.span, d.span, signature)
        }
        Item::Calendar { name, span, .. } => match name {
            Some(n) => make(&n.name, SymbolKind::Calendar, n.span, *span, format!("calendar {}", n.name)),
            None => make("calendar", SymbolKind::Calendar, keyword_span(*span, "calendar"), *span, "calendar".into()),
        },
        Item::Collateral(p) => make(&p.name.name, SymbolKind::Pool, p.name.span, p.span, titled("collateral", &p.name.name, &p.title)),
        Item::Covenant(c) => make(&c.name.name, SymbolKind::Covenant, c.name.span, c.span, titled("covenant", &c.name.name, &c.title)),
        Item::MarginCall(m) => make(&m.name.name, SymbolKind::MarginCall, m.name.span, m.span, titled("margin_call", &m.name.name, &m.title)),
        Item::Liquidation(l) => make(&l.name.name, SymbolKind::Liquidation, l.name.span, l.span, titled("liquidation", &l.name.name, &l.title)),
        Item::Default(d) => {
            let mut s = make(&d.name.name, SymbolKind::Default, d.name.span, d.span, titled("default", &d.name.name, &d.title));
            s.children = d
                .events
                .iter()
                .map(|e| {
                    let mut event = make(&e.name.name, SymbolKind::Event, e.name.span, e.name.span.to(e.when.span), titled("event", &e.name.name, &e.title));
                    event.doc = None;
                    event
                })
                .collect();
            s
        }
        Item::Scenario(d) => make(&d.name.name, SymbolKind::Scenario, d.name.span, d.span, titled("scenario", &d.name.name, &d.title)),
        Item::Simulation(d) => make(&d.name.name, SymbolKind::Scenario, d.name.span, d.span, titled("simulation", &d.name.name, &d.title)),
        Item::Test(t) => make(&t.title, SymbolKind::Test, keyword_span(t.span, "test"), t.span, format!("test \"{}\"", t.title)),
        Item::Check(c) => make(&c.message, SymbolKind::Check, keyword_span(c.span, "check"), c.span, format!("check … else \"{}\"", c.message)),
    })
}

/// Walks the items, noting every use of a name and the scope of every local.
struct Collector<'a> {
    uses: &'a mut Vec<(Range<usize>, Use)>,
    locals: &'a mut Vec<(Range<usize>, Ident)>,
}

impl Collector<'_> {
    fn item(&mut self, item: &Item) {
        match item {
            Item::Import(_) | Item::Facility { .. } | Item::Input { .. } | Item::TypeDef { .. } => {}
            Item::Let(l) => self.expr(&l.value),
            Item::Fn(f) => {
                for p in &f.params {
                    self.locals.push((range(f.span), p.name.clone()));
                }
                self.expr(&f.body);
            }
            Item::Schedule(d) => {
                for p in &d.params {
                    self.locals.push((range(d.span), p.name.clone()));
                }
                for row in &d.rows {
                    match &row.key {
                        ast::ScheduleKey::Else => {}
                        ast::ScheduleKey::Cmp(_, e) | ast::ScheduleKey::Point(e) => self.expr(e),
                    }
                    self.expr(&row.value);
                }
            }
            Item::Calendar { holidays, .. } => self.expr(holidays),
            Item::Collateral(p) => {
                if let Some((var, list)) = &p.each {
                    self.locals.push((range(p.span), var.clone()));
                    self.expr(list);
                }
                for e in [&p.quantity, &p.price, &p.haircut, &p.lot, &p.discount, &p.liquidation_price].into_iter().flatten() {
                    self.expr(e);
                }
            }
            Item::Covenant(c) => {
                for e in [&c.require, &c.when].into_iter().flatten() {
                    self.expr(e);
                }
                if let Some(Tested::On(e)) = &c.tested {
                    self.expr(e);
                }
                if let Some(cure) = &c.cure {
                    match &cure.into {
                        CureTarget::Input(path) => self.input_path(path),
                        CureTarget::Let(name) => self.name(name),
                    }
                    if let Some(h) = &cure.history {
                        self.expr(h);
                    }
                }
            }
            Item::MarginCall(m) => {
                for e in [&m.trigger, &m.amount, &m.minimum_transfer, &m.due].into_iter().flatten() {
                    self.expr(e);
                }
                if let Some((_, e)) = &m.rounding {
                    self.expr(e);
                }
            }
            Item::Liquidation(l) => {
                for e in [&l.trigger, &l.debt, &l.until].into_iter().flatten() {
                    self.expr(e);
                }
                for pool in &l.sell {
                    self.name(pool);
                }
            }
            Item::Default(d) => {
                for e in &d.events {
                    self.expr(&e.when);
                }
            }
            Item::Scenario(s) => self.shocks(&s.shocks),
            // A simulation's shocks read its factors, which are not program names.
            Item::Simulation(_) => {}
            Item::Test(t) => {
                if let Some(s) = &t.scenario {
                    self.name(s);
                }
                self.shocks(&t.shocks);
                for e in &t.expects {
                    self.expr(e);
                }
            }
            Item::Check(c) => self.expr(&c.cond),
        }
    }

    fn name(&mut self, ident: &Ident) {
        self.uses.push((range(ident.span), Use::Name(ident.name.clone())));
    }

    fn shocks(&mut self, shocks: &[Shock]) {
        for s in shocks {
            self.input_path(&s.path);
            self.expr(&s.value);
        }
    }

    fn input_path(&mut self, path: &ast::InputPath) {
        let mut fields = Vec::new();
        for step in &path.steps {
            if let PathStep::Field(f) = step {
                fields.push(f.name.clone());
                self.uses.push((range(f.span), Use::Input(fields.clone())));
            }
        }
    }

    /// `input.a.b` as its field names, when `expr` is such a path.
    fn input_fields(expr: &Expr) -> Option<Vec<String>> {
        match &expr.kind {
            ExprKind::Input => Some(Vec::new()),
            ExprKind::Field(inner, f) => {
                let mut fields = Self::input_fields(inner)?;
                fields.push(f.name.clone());
                Some(fields)
            }
            _ => None,
        }
    }

    fn expr(&mut self, expr: &Expr) {
        match &expr.kind {
            ExprKind::Name(n) => self.uses.push((range(expr.span), Use::Name(n.clone()))),
            ExprKind::Field(inner, field) => {
                if let Some(fields) = Self::input_fields(expr) {
                    self.uses.push((range(field.span), Use::Input(fields)));
                } else if let ExprKind::Name(owner) = &inner.kind {
                    self.uses.push((range(field.span), Use::RuleField { owner: owner.clone(), field: field.name.clone() }));
                }
                self.expr(inner);
            }
            ExprKind::DurationOf { count, calendars, .. } => {
                self.expr(count);
                for c in calendars {
                    self.name(c);
                }
            }
            ExprKind::List(items) => items.iter().for_each(|e| self.expr(e)),
            ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
                self.expr(a);
                self.expr(b);
            }
            ExprKind::Unary(_, a) => self.expr(a),
            ExprKind::If(c, a, b) => {
                self.expr(c);
                self.expr(a);
                self.expr(b);
            }
            ExprKind::Call { name, args } => {
                self.uses.push((range(name.span), Use::Call(name.name.clone())));
                for arg in args {
                    match arg {
                        Arg::Positional(e) | Arg::Named(_, e) => self.expr(e),
                        Arg::Generator { body, var, list, filter, span } => {
                            self.locals.push((range(*span), var.clone()));
                            self.expr(body);
                            self.expr(list);
                            if let Some(f) = filter {
                                self.expr(f);
                            }
                        }
                    }
                }
            }
            ExprKind::Number(..)
            | ExprKind::Money(..)
            | ExprKind::Date(_)
            | ExprKind::Duration(..)
            | ExprKind::Text(_)
            | ExprKind::Bool(_)
            | ExprKind::Currency(_)
            | ExprKind::Input => {}
        }
    }
}

impl Analysis {
    /// The declarations of the edited text.
    pub fn symbols(&self) -> &[Symbol] {
        self.sources.first().map_or(&[], |s| &s.symbols)
    }

    /// The innermost use of a name at `offset`.
    fn use_at(&self, offset: usize) -> Option<&(Range<usize>, Use)> {
        self.uses.iter().filter(|(r, _)| r.start <= offset && offset <= r.end).min_by_key(|(r, _)| r.len())
    }

    /// The local (parameter, `each` or generator variable) `name` visible at `offset`.
    fn local(&self, name: &str, offset: usize) -> Option<&Ident> {
        self.locals.iter().filter(|(scope, l)| scope.contains(&offset) && l.name == name).min_by_key(|(scope, _)| scope.len()).map(|(_, l)| l)
    }

    /// The declaration of `name`: the edited text's first, then the imports' in order.
    fn declaration(&self, name: &str) -> Option<(&Source, &Symbol)> {
        self.sources.iter().find_map(|s| s.symbols.iter().find(|d| d.kind.named() && d.name == name).map(|d| (s, d)))
    }

    /// The function or schedule `name` (a value of the same name does not hide it).
    fn callee(&self, name: &str) -> Option<(&Source, &Symbol)> {
        let callable = |d: &&Symbol| matches!(d.kind, SymbolKind::Fn | SymbolKind::Schedule) && d.name == name;
        self.sources.iter().find_map(|s| s.symbols.iter().find(callable).map(|d| (s, d)))
    }

    /// The declaration whose name is at `offset` in the edited text.
    fn declared_at(&self, offset: usize) -> Option<&Symbol> {
        self.symbols().iter().flat_map(|s| std::iter::once(s).chain(&s.children)).find(|s| s.name_range.start <= offset && offset <= s.name_range.end)
    }

    fn input_type(&self, fields: &[String]) -> Option<Type> {
        let mut record = self.input.clone()?;
        let mut ty = None;
        for f in fields {
            let (_, t) = record.field(f)?;
            let t = t.clone();
            if let Some(next) = element_record(&t) {
                record = next;
            }
            ty = Some(t);
        }
        ty
    }

    /// Where the name at `offset` is declared.
    pub fn definition(&self, offset: usize) -> Option<Target> {
        let (_, used) = self.use_at(offset)?;
        match used {
            Use::Name(name) => {
                if let Some(local) = self.local(name, offset) {
                    return Some(Target { origin: Origin::Edited, range: range(local.span) });
                }
                let (source, symbol) = self.declaration(name)?;
                Some(Target { origin: source.origin.clone(), range: symbol.name_range.clone() })
            }
            Use::Call(name) => {
                let (source, symbol) = self.callee(name)?;
                Some(Target { origin: source.origin.clone(), range: symbol.name_range.clone() })
            }
            Use::Import(i) => self.sources.get(*i).map(|s| Target { origin: s.origin.clone(), range: 0..0 }),
            Use::Input(fields) => {
                let input = self.symbols().iter().find(|s| s.kind == SymbolKind::Input)?;
                let field = match fields.as_slice() {
                    [first] => input.children.iter().find(|c| &c.name == first).map_or(input.name_range.clone(), |c| c.name_range.clone()),
                    _ => input.name_range.clone(),
                };
                Some(Target { origin: Origin::Edited, range: field })
            }
            Use::RuleField { owner, .. } => {
                let (source, symbol) = self.declaration(owner)?;
                Some(Target { origin: source.origin.clone(), range: symbol.name_range.clone() })
            }
        }
    }

    /// Markdown about the name at `offset`: its declaration, type, formula and doc comment.
    pub fn hover(&self, offset: usize) -> Option<Hover> {
        if let Some(symbol) = self.declared_at(offset) {
            return Some((describe(symbol), symbol.name_range.clone()));
        }
        let (at, used) = self.use_at(offset)?;
        let text = match used {
            Use::Name(name) => {
                if let Some(local) = self.local(name, offset) {
                    format!("```covenant\n{}\n```\nlocal", local.name)
                } else {
                    describe(self.declaration(name)?.1)
                }
            }
            Use::Call(name) => match self.callee(name) {
                Some((_, symbol)) => describe(symbol),
                None if Builtin::lookup(name).is_some() || AGGREGATES.iter().any(|(n, _)| *n == name) => {
                    format!("```covenant\n{name}(…)\n```\na built-in function (docs/language.md lists them)")
                }
                None => return None,
            },
            Use::Input(fields) => {
                let ty = self.input_type(fields).map_or(String::new(), |t| format!(": {t}"));
                format!("```covenant\ninput.{}{ty}\n```", fields.join("."))
            }
            Use::RuleField { owner, field } => {
                let (_, symbol) = self.declaration(owner)?;
                symbol.kind.rule()?;
                format!("```covenant\n{owner}.{field}\n```\na field of {}", symbol.signature)
            }
            Use::Import(i) => {
                let source = self.sources.get(*i)?;
                let mut text = match &source.origin {
                    Origin::Std(m) => format!("```covenant\nimport std.{m}\n```\nthe standard library module `std.{m}`"),
                    Origin::File(p) => format!("```covenant\nimport \"{}\"\n```", p.display()),
                    Origin::Edited => return None,
                };
                if let Some(doc) = leading_comment(&source.text) {
                    text.push_str("\n\n");
                    text.push_str(&doc);
                }
                text
            }
        };
        Some((text, at.clone()))
    }

    /// What to offer at `offset`: input fields after `input.`, a rule's fields after `NAME.`,
    /// the standard modules after `import std.`, otherwise keywords and every name.
    pub fn completions(&self, offset: usize) -> Vec<Completion> {
        let text = self.sources.first().map_or("", |s| &s.text);
        let before = text.get(..offset.min(text.len())).unwrap_or("");
        let word_start = before.rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).map_or(0, |i| i + 1);
        let word = before.get(word_start..).unwrap_or("");
        let item = |label: &str, kind, detail: Option<String>| Completion { label: label.to_string(), kind, detail };
        if let Some((path, _partial)) = word.rsplit_once('.') {
            let parts: Vec<&str> = path.split('.').collect();
            return match parts.as_slice() {
                ["input", rest @ ..] => {
                    let Some(mut record) = self.input.clone() else { return Vec::new() };
                    for part in rest {
                        let Some(next) = record.field(part).and_then(|(_, t)| element_record(t)) else { return Vec::new() };
                        record = next;
                    }
                    record.fields.iter().map(|(n, t)| item(n, CompletionKind::Field, Some(t.to_string()))).collect()
                }
                ["std"] => stdlib::MODULES.iter().map(|(n, _)| item(n, CompletionKind::Module, None)).collect(),
                [owner] => match self.declaration(owner).and_then(|(_, s)| s.kind.rule()) {
                    Some(kind) => check::rule_fields(kind).iter().map(|f| item(f, CompletionKind::Field, None)).collect(),
                    None => Vec::new(),
                },
                _ => Vec::new(),
            };
        }
        let mut out: Vec<Completion> = KEYWORDS.iter().map(|k| item(k, CompletionKind::Keyword, None)).collect();
        for (_, local) in self.locals.iter().filter(|(scope, _)| scope.contains(&offset)) {
            out.push(item(&local.name, CompletionKind::Value, None));
        }
        for source in &self.sources {
            for s in source.symbols.iter().filter(|s| s.kind.named()) {
                let kind = match s.kind {
                    SymbolKind::Fn | SymbolKind::Schedule => CompletionKind::Function,
                    k if k.rule().is_some() => CompletionKind::Rule,
                    _ => CompletionKind::Value,
                };
                out.push(item(&s.name, kind, Some(s.signature.clone())));
            }
        }
        for name in Builtin::ALL.iter().map(|(n, _)| n).chain(AGGREGATES.iter().map(|(n, _)| n)) {
            if !out.iter().any(|c| c.label == *name) {
                out.push(item(name, CompletionKind::Function, Some("built-in".into())));
            }
        }
        out
    }
}

/// The record a field of type `t` leads to: itself, or a list's element.
fn element_record(t: &Type) -> Option<Arc<RecordType>> {
    match t {
        Type::Record(r) => Some(r.clone()),
        Type::List(inner) | Type::Optional(inner) => element_record(inner),
        _ => None,
    }
}

/// The comment block a file starts with.
fn leading_comment(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().map_while(|l| l.trim_start().strip_prefix('#')).map(|l| l.strip_prefix(' ').unwrap_or(l)).collect();
    let doc = lines.join("\n");
    (!doc.trim().is_empty()).then_some(doc)
}

fn describe(symbol: &Symbol) -> String {
    let mut text = format!("```covenant\n{}", symbol.signature);
    if let Some(formula) = &symbol.formula {
        text.push_str(" = ");
        text.push_str(formula);
    }
    text.push_str("\n```");
    if let Some(doc) = &symbol.doc {
        text.push_str("\n\n");
        text.push_str(doc);
    }
    text
}
