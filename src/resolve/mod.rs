//! Imports, names → slots, and the dependency graph.
//!
//! This room lowers the AST straight into the IR arena: every name becomes a global index,
//! a local frame slot or a function index here, so nothing downstream looks a name up by
//! string. Types are still unknown; `check` fills them in place.

mod error;
mod simulation;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use error::ResolveError;

use crate::ir::{self, Aggregate, Arena, Body, Builtin, ExprId, Global, Node, AGGREGATES};
use crate::span::{FileId, SourceMap, Span};
use crate::syntax::ast::{self, Arg, ExprKind, Item, TypeExpr};
use crate::syntax::{self, SyntaxError};
use crate::value::{Duration, Value};

/// Where imported files (and test data) come from. Each path is the importing file's
/// directory joined with the path written in the import.
pub trait Loader: Sync {
    fn load(&self, path: &Path) -> std::io::Result<String>;

    /// Loads a file known to be refused over `max_bytes` (`max_source_bytes`): a loader that
    /// can tell the size first should refuse without reading. The text returned is checked
    /// against the limit again.
    fn load_at_most(&self, path: &Path, max_bytes: usize) -> std::io::Result<String> {
        let _ = max_bytes;
        self.load(path)
    }

    /// The file's identity, under which it is loaded once however many imports name it and
    /// however they spell it; or an error when the loader may not read it. `root_dir` is the
    /// directory of the root file. The default resolves `.` and `..` in the text of the path.
    fn locate(&self, path: &Path, root_dir: &Path) -> std::io::Result<PathBuf> {
        let _ = root_dir;
        Ok(normalise(path))
    }
}

/// `path` with `.` and `..` resolved in its text, without asking the file system.
pub fn normalise(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            Component::ParentDir if out.has_root() => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// A file over a size limit, carried inside an `io::Error` so that callers can name the limit.
#[derive(Debug)]
pub struct OverLimit {
    pub size: usize,
    pub limit: usize,
}

impl std::fmt::Display for OverLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes, over the limit of {}", self.size, self.limit)
    }
}

impl std::error::Error for OverLimit {}

impl OverLimit {
    /// The size and limit of an `io::Error` made from an `OverLimit`.
    pub fn of(e: &std::io::Error) -> Option<&OverLimit> {
        e.get_ref().and_then(|inner| inner.downcast_ref::<OverLimit>())
    }
}

/// Reads files from the file system, confined to the root file's directory and its
/// subdirectories, and to any directory allowed besides: a path that leads elsewhere (an
/// absolute path, `..` past the root, a symbolic link out) is refused, judged on the
/// canonical path. Only regular files are read, never more than the limit and a byte.
///
/// ```
/// let loader = covenant::resolve::FsLoader::confined_to(["/srv/shared-terms"]);
/// # let _ = loader;
/// ```
#[derive(Clone, Debug, Default)]
pub struct FsLoader {
    allowed: Vec<PathBuf>,
}

impl FsLoader {
    /// The root file's directory only.
    pub fn new() -> FsLoader {
        FsLoader::default()
    }

    /// The root file's directory, and `dirs` (with their subdirectories) besides.
    pub fn confined_to<P: Into<PathBuf>>(dirs: impl IntoIterator<Item = P>) -> FsLoader {
        FsLoader { allowed: dirs.into_iter().map(Into::into).collect() }
    }

    /// The directories a file may be in, canonical; those that do not exist are left out.
    fn roots(&self, root_dir: &Path) -> Vec<PathBuf> {
        let root_dir = if root_dir.as_os_str().is_empty() { Path::new(".") } else { root_dir };
        std::iter::once(root_dir).chain(self.allowed.iter().map(PathBuf::as_path)).filter_map(|d| std::fs::canonicalize(d).ok()).collect()
    }
}

fn outside() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::PermissionDenied, "outside the directories the program may read")
}

impl Loader for FsLoader {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        self.load_at_most(path, usize::MAX)
    }

    fn load_at_most(&self, path: &Path, max_bytes: usize) -> std::io::Result<String> {
        use std::io::Read as _;
        let not_regular = || std::io::Error::other("not a regular file");
        // Looked at before opening too: opening a FIFO would wait for a writer.
        if !std::fs::metadata(path)?.is_file() {
            return Err(not_regular());
        }
        let file = std::fs::File::open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(not_regular());
        }
        let size = usize::try_from(meta.len()).unwrap_or(usize::MAX);
        if size > max_bytes {
            return Err(std::io::Error::other(OverLimit { size, limit: max_bytes }));
        }
        // The file may grow after the size was read.
        let mut bytes = Vec::new();
        file.take(u64::try_from(max_bytes).unwrap_or(u64::MAX).saturating_add(1)).read_to_end(&mut bytes)?;
        if bytes.len() > max_bytes {
            return Err(std::io::Error::other(OverLimit { size: bytes.len(), limit: max_bytes }));
        }
        String::from_utf8(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not UTF-8 text (an invalid byte at byte {})", e.utf8_error().valid_up_to() + 1)))
    }

    fn locate(&self, path: &Path, root_dir: &Path) -> std::io::Result<PathBuf> {
        let roots = self.roots(root_dir);
        let within = |p: &Path| roots.iter().any(|r| p.starts_with(r));
        match std::fs::canonicalize(path) {
            Ok(canonical) if within(&canonical) => Ok(canonical),
            Ok(_) => Err(outside()),
            // A missing file outside is refused as outside: whether it exists is not told.
            Err(e) => {
                let absolute = std::env::current_dir().map(|d| normalise(&d.join(path))).unwrap_or_else(|_| normalise(path));
                if within(&absolute) {
                    Err(e)
                } else {
                    Err(outside())
                }
            }
        }
    }
}

/// Whether an imported file's text may be shown in a diagnostic: it holds no control
/// characters but tabs and line ends, and its syntax error lies past its first line of
/// text. A file that is not Covenant at all (a password file, a key, an environment block)
/// fails on its first line or holds such characters; its content is never quoted.
fn reads_as_source(text: &str, error_at: Option<usize>) -> bool {
    if text.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        return false;
    }
    // The end of the first line holding more than a comment.
    let mut first_line_end = text.len();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        offset += line.len();
        let t = line.trim();
        if !t.is_empty() && !t.starts_with('#') {
            first_line_end = offset;
            break;
        }
    }
    error_at.is_some_and(|at| at >= first_line_end)
}

/// A loaded file's items, and whether it is the root file (whose lets are reported) or part
/// of the standard library (whose names a program may shadow).
struct LoadedModule {
    file: FileId,
    items: Vec<Item>,
    is_root: bool,
    is_std: bool,
}

/// What `check` needs beyond the IR: the written types, still as syntax.
pub struct Pending {
    pub input: Option<(TypeExpr, Span)>,
    pub types: Vec<(ast::Ident, TypeExpr)>,
    pub let_types: Vec<Option<TypeExpr>>,
    /// Per let, where its display form is written.
    pub let_display_spans: Vec<Option<Span>>,
    pub fn_sigs: Vec<(Vec<ast::Param>, TypeExpr)>,
    pub cure_paths: Vec<Option<ast::InputPath>>,
    /// Per covenant, where its cure's target is written.
    pub cure_target_spans: Vec<Option<Span>>,
    pub shock_paths: Vec<Vec<ast::InputPath>>,
    /// Per test, the paths of its own shocks.
    pub test_shock_paths: Vec<Vec<ast::InputPath>>,
    /// Per simulation, the paths of its shocks.
    pub simulation_paths: Vec<Vec<ast::InputPath>>,
    pub require_spans: Vec<Span>,
    pub margin_due_spans: Vec<Span>,
}

pub struct Resolved {
    pub ir: ir::Ir,
    pub pending: Pending,
}

pub struct Options<'a> {
    pub max_nesting: usize,
    pub max_source_bytes: usize,
    pub max_number_digits: usize,
    pub loader: &'a dyn Loader,
}

pub fn resolve(
    root_name: &str,
    root_text: &str,
    sources: &mut SourceMap,
    options: &Options<'_>,
) -> Result<Resolved, Vec<ResolveError>> {
    let mut r = Resolver::new(sources);
    let modules = match r.load_all(root_name, root_text, options) {
        Ok(m) => m,
        Err(e) => return Err(vec![e]),
    };
    r.declare(&modules);
    if !r.errors.is_empty() {
        return Err(r.errors);
    }
    r.lower(modules);
    if r.errors.is_empty() {
        r.find_cycles();
    }
    if !r.errors.is_empty() {
        return Err(r.errors);
    }
    r.finish()
}

#[derive(Clone, Copy)]
enum Callee {
    Fn(u32),
}

struct Resolver<'s> {
    sources: &'s mut SourceMap,
    errors: Vec<ResolveError>,
    values: HashMap<String, (Global, bool)>,
    functions: HashMap<String, (Callee, bool)>,
    scenario_names: HashMap<String, u32>,
    /// Named calendars, numbered in declaration order.
    calendar_names: HashMap<String, u32>,
    arena: Arena,
    ir_parts: Parts,
    pending: Pending,
    /// Locals in scope while lowering a body: (name, slot).
    scope: Vec<(String, u32)>,
    frame: u32,
    /// Whether the body being lowered reads `sold`.
    uses_sold: bool,
    /// Rules declared so far, per kind: pools, covenants, margin calls, liquidations.
    rule_counts: [u32; 5],
}

#[derive(Default)]
struct Parts {
    facility: Option<String>,
    lets: Vec<ir::LetDef>,
    fns: Vec<ir::FnDef>,
    checks: Vec<ir::CheckDef>,
    calendar: Option<Body>,
    calendars: Vec<ir::CalendarDef>,
    pools: Vec<ir::PoolDef>,
    covenants: Vec<ir::CovenantDef>,
    margin_calls: Vec<ir::MarginCallDef>,
    liquidations: Vec<ir::LiquidationDef>,
    defaults: Vec<ir::DefaultDef>,
    scenarios: Vec<ir::ScenarioDef>,
    simulations: Vec<ir::SimulationDef>,
    tests: Vec<ir::TestDef>,
    order: Vec<Global>,
    /// Globals with every dependency before its dependents.
    topo: Vec<Global>,
    /// Per covenant: the globals its requirement depends on, in `topo` order.
    requirement_deps: Vec<Vec<Global>>,
    dependencies: ir::Dependencies,
    /// Declaration spans, for cycle reports.
    global_spans: HashMap<Global, (Arc<str>, Span)>,
    fn_names: Vec<(Arc<str>, Span)>,
}

fn idx(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl<'s> Resolver<'s> {
    fn new(sources: &'s mut SourceMap) -> Self {
        Resolver {
            sources,
            errors: Vec::new(),
            values: HashMap::new(),
            functions: HashMap::new(),
            scenario_names: HashMap::new(),
            calendar_names: HashMap::new(),
            arena: Arena::default(),
            ir_parts: Parts::default(),
            pending: Pending {
                input: None,
                types: Vec::new(),
                let_types: Vec::new(),
                let_display_spans: Vec::new(),
                fn_sigs: Vec::new(),
                cure_paths: Vec::new(),
                cure_target_spans: Vec::new(),
                shock_paths: Vec::new(),
                test_shock_paths: Vec::new(),
                simulation_paths: Vec::new(),
                require_spans: Vec::new(),
                margin_due_spans: Vec::new(),
            },
            scope: Vec::new(),
            frame: 0,
            uses_sold: false,
            rule_counts: [0; 5],
        }
    }

    fn src(&self, span: Span) -> miette::NamedSource<Arc<str>> {
        self.sources.named_source(span.file)
    }

    fn misuse(&mut self, span: Span, message: impl Into<String>, label: impl Into<String>, help: impl Into<String>) {
        let src = self.src(span);
        self.errors.push(ResolveError::Misuse {
            message: message.into(),
            help: help.into(),
            span: span.source_span(),
            label: label.into(),
            src,
        });
    }

    // ------------------------------------------------------------------ loading

    fn load_all(&mut self, root_name: &str, root_text: &str, options: &Options<'_>) -> Result<Vec<LoadedModule>, ResolveError> {
        let mut modules = Vec::new();
        let mut seen_std: HashSet<String> = HashSet::new();
        let root_dir = Path::new(root_name).parent().map(Path::to_path_buf).unwrap_or_default();
        // Files are known by their identity, so a file importing itself, or one reached by
        // several spellings of its path, is loaded once.
        let mut seen_files: HashSet<PathBuf> = HashSet::new();
        if let Ok(root) = options.loader.locate(Path::new(root_name), &root_dir) {
            seen_files.insert(root);
        }
        // (name, text, directory, is_std, is_root)
        let mut queue: Vec<(String, Arc<str>, PathBuf, bool, bool)> =
            vec![(root_name.to_string(), Arc::from(root_text), root_dir.clone(), false, true)];
        while let Some((name, text, dir, is_std, is_root)) = queue.pop() {
            if text.len() > options.max_source_bytes {
                return Err(ResolveError::InImport(Box::new(SyntaxError::TooLarge {
                    name: name.clone(),
                    size: text.len(),
                    limit: options.max_source_bytes,
                })));
            }
            let file = self.sources.add(name.clone(), text.clone());
            let src = self.sources.named_source(file);
            let module = match syntax::parse_with(&text, file, &src, options.max_nesting, options.max_number_digits) {
                Ok(m) => m,
                Err(e) if is_root || is_std || reads_as_source(&text, e.offset()) => return Err(ResolveError::InImport(Box::new(e))),
                Err(e) => {
                    let (line, column) = self.sources.line_column(Span::new(file, e.offset().unwrap_or(0), 0));
                    return Err(ResolveError::NotSource { path: name, line, column });
                }
            };
            for item in &module.items {
                let Item::Import(import) = item else { continue };
                match import {
                    ast::Import::Std { module: m, span } => {
                        if !seen_std.insert(m.clone()) {
                            continue;
                        }
                        let short = m.strip_prefix("std.").unwrap_or(m);
                        match crate::stdlib::source(short) {
                            Some(text) => queue.push((format!("<{m}>"), Arc::from(text), PathBuf::new(), true, false)),
                            None => {
                                let known = crate::stdlib::MODULES.iter().map(|(n, _)| format!("`std.{n}`")).collect::<Vec<_>>().join(", ");
                                return Err(ResolveError::Import {
                                    what: m.clone(),
                                    reason: "no such standard library module".into(),
                                    help: format!("the standard library has {known}"),
                                    span: span.source_span(),
                                    src: self.src(*span),
                                });
                            }
                        }
                    }
                    ast::Import::File { path, span } => {
                        let full = dir.join(path);
                        let refused = |e: std::io::Error, r: &Self| {
                            if let Some(over) = OverLimit::of(&e) {
                                return ResolveError::InImport(Box::new(SyntaxError::TooLarge { name: path.clone(), size: over.size, limit: options.max_source_bytes }));
                            }
                            let help = if e.kind() == std::io::ErrorKind::PermissionDenied {
                                "imports are read from the root file's directory and its subdirectories; allow another directory with `--allow-path DIR` (`FsLoader::confined_to` in the library)"
                            } else {
                                "import paths are relative to the importing file"
                            };
                            ResolveError::Import { what: path.clone(), reason: e.to_string().to_lowercase(), help: help.into(), span: span.source_span(), src: r.src(*span) }
                        };
                        let identity = options.loader.locate(&full, &root_dir).map_err(|e| refused(e, self))?;
                        if !seen_files.insert(identity.clone()) {
                            continue;
                        }
                        let text = options.loader.load_at_most(&identity, options.max_source_bytes).map_err(|e| refused(e, self))?;
                        let next_dir = full.parent().map(Path::to_path_buf).unwrap_or_default();
                        queue.push((full.to_string_lossy().to_string(), Arc::from(text), next_dir, false, false));
                    }
                }
            }
            modules.push(LoadedModule { file, items: module.items, is_root, is_std });
        }
        // Declaration order: the root file first, then imports as found.
        modules.sort_by_key(|m| m.file.0);
        Ok(modules)
    }

    // ------------------------------------------------------------------ declarations

    fn declare(&mut self, modules: &[LoadedModule]) {
        // Standard-library names are declared first so that a program's own definition of the
        // same name replaces them quietly.
        for pass_std in [true, false] {
            for m in modules.iter().filter(|m| m.is_std == pass_std) {
                for item in &m.items {
                    self.declare_item(item, m.is_std);
                }
            }
        }
    }

    fn declare_value(&mut self, name: &ast::Ident, global: Global, is_std: bool) {
        // Every reference to `as_of` reads the data; a value of that name could never be read.
        if name.name == "as_of" {
            let src = self.src(name.span);
            self.errors.push(ResolveError::ReservedAsOf { span: name.span.source_span(), src });
            return;
        }
        if let Some((_, prior_std)) = self.values.get(&name.name) {
            if !*prior_std || is_std {
                let src = self.src(name.span);
                self.errors.push(ResolveError::Duplicate { name: name.name.clone(), span: name.span.source_span(), src });
                return;
            }
        }
        self.values.insert(name.name.clone(), (global, is_std));
        self.ir_parts.global_spans.insert(global, (Arc::from(name.name.as_str()), name.span));
    }

    fn declare_fn(&mut self, name: &ast::Ident, index: u32, is_std: bool) {
        if Builtin::lookup(&name.name).is_some() || AGGREGATES.iter().any(|(n, _)| *n == name.name) {
            let src = self.src(name.span);
            self.errors.push(ResolveError::Builtin { name: name.name.clone(), span: name.span.source_span(), src });
            return;
        }
        if let Some((_, prior_std)) = self.functions.get(&name.name) {
            if !*prior_std || is_std {
                let src = self.src(name.span);
                self.errors.push(ResolveError::Duplicate { name: name.name.clone(), span: name.span.source_span(), src });
                return;
            }
        }
        self.functions.insert(name.name.clone(), (Callee::Fn(index), is_std));
    }

    /// Declares the next rule of one kind (pools, covenants, margin calls, liquidations are
    /// numbered separately, in declaration order).
    fn declare_rule(&mut self, name: &ast::Ident, kind: usize, make: fn(u32) -> Global, is_std: bool) {
        let Some(counter) = self.rule_counts.get_mut(kind) else { return };
        let g = make(*counter);
        *counter += 1;
        self.ir_parts.order.push(g);
        self.declare_value(name, g, is_std);
    }

    fn declare_item(&mut self, item: &Item, is_std: bool) {
        let p = &mut self.ir_parts;
        match item {
            Item::Let(l) => {
                let g = Global::Let(idx(p.lets.len()));
                // Placeholder until lowering; keeps indices stable.
                p.lets.push(ir::LetDef {
                    name: Arc::from(l.name.name.as_str()),
                    body: Body { expr: ExprId(0), frame: 0 },
                    ty: crate::types::Type::Error,
                    declared: None,
                    reported: false,
                    display: None,
                    written_style: ast::LiteralStyle::Plain,
                    span: l.name.span,
                });
                self.declare_value(&l.name, g, is_std);
            }
            Item::Fn(f) => {
                let i = idx(p.fns.len());
                p.fns.push(placeholder_fn(&f.name));
                p.fn_names.push((Arc::from(f.name.name.as_str()), f.name.span));
                self.declare_fn(&f.name, i, is_std);
            }
            Item::Schedule(s) => {
                let i = idx(p.fns.len());
                p.fns.push(placeholder_fn(&s.name));
                p.fn_names.push((Arc::from(s.name.name.as_str()), s.name.span));
                self.declare_fn(&s.name, i, is_std);
            }
            Item::Collateral(c) => self.declare_rule(&c.name, 0, Global::Pool, is_std),
            Item::Covenant(c) => self.declare_rule(&c.name, 1, Global::Covenant, is_std),
            Item::MarginCall(c) => self.declare_rule(&c.name, 2, Global::MarginCall, is_std),
            Item::Liquidation(c) => self.declare_rule(&c.name, 3, Global::Liquidation, is_std),
            Item::Default(c) => self.declare_rule(&c.name, 4, Global::Default, is_std),
            Item::Calendar { name: Some(name), .. } => {
                let i = idx(self.calendar_names.len());
                if self.calendar_names.contains_key(&name.name) {
                    let src = self.src(name.span);
                    self.errors.push(ResolveError::Duplicate { name: name.name.clone(), span: name.span.source_span(), src });
                } else if i >= 64 {
                    self.misuse(name.span, "more than 64 named calendars", "the 65th", "a program may name at most 64 calendars");
                } else {
                    self.calendar_names.insert(name.name.clone(), i);
                }
            }
            Item::Scenario(s) => {
                let i = idx(self.scenario_names.len());
                if self.scenario_names.insert(s.name.name.clone(), i).is_some() {
                    let src = self.src(s.name.span);
                    self.errors.push(ResolveError::Duplicate { name: s.name.name.clone(), span: s.name.span.source_span(), src });
                }
            }
            _ => {}
        }
    }

    // ------------------------------------------------------------------ lowering

    fn lower(&mut self, modules: Vec<LoadedModule>) {
        let mut let_i = 0usize;
        let mut fn_i = 0usize;
        // Lowering follows the declaration passes' order: std modules first, then the rest.
        let (std_mods, user_mods): (Vec<_>, Vec<_>) = modules.into_iter().partition(|m| m.is_std);
        self.ir_parts.order.clear();
        for m in std_mods.into_iter().chain(user_mods) {
            for item in m.items {
                self.lower_item(item, m.is_root, &mut let_i, &mut fn_i);
            }
        }
        if self.pending.input.is_none() {
            self.errors.push(ResolveError::NoInput);
        }
    }

    fn body(&mut self, locals: &[(String, u32)], frame: u32, expr: &ast::Expr) -> Body {
        self.scope = locals.to_vec();
        self.frame = frame;
        let e = self.expr(expr);
        Body { expr: e, frame: self.frame }
    }

    fn simple(&mut self, expr: &ast::Expr) -> Body {
        self.body(&[], 0, expr)
    }

    fn lower_item(&mut self, item: Item, is_root: bool, let_i: &mut usize, fn_i: &mut usize) {
        match item {
            Item::Import(_) => {}
            Item::Facility { title, .. } => {
                if is_root {
                    self.ir_parts.facility = Some(title);
                }
            }
            Item::Input { schema, span } => {
                if self.pending.input.is_some() {
                    let src = self.src(span);
                    self.errors.push(ResolveError::TwoInputs { span: span.source_span(), src });
                } else {
                    self.pending.input = Some((schema, span));
                }
            }
            Item::TypeDef { name, ty } => {
                if self.pending.types.iter().any(|(n, _)| n.name == name.name) {
                    let src = self.src(name.span);
                    self.errors.push(ResolveError::Duplicate { name: name.name.clone(), span: name.span.source_span(), src });
                }
                self.pending.types.push((name, ty));
            }
            Item::Let(l) => {
                let i = *let_i;
                *let_i += 1;
                let body = self.simple(&l.value);
                if let Some(slot) = self.ir_parts.lets.get_mut(i) {
                    slot.body = body;
                    slot.reported = is_root;
                    slot.span = l.name.span;
                    slot.display = l.display.map(|(form, _)| form);
                    slot.written_style = l.value.written_style();
                }
                self.pending.let_types.push(l.ty);
                self.pending.let_display_spans.push(l.display.map(|(_, span)| span));
            }
            Item::Fn(f) => {
                let i = *fn_i;
                *fn_i += 1;
                let locals = params_scope(&f.params);
                let body = self.body(&locals, idx(locals.len()), &f.body);
                self.set_fn(i, &f.name, body, f.span);
                self.pending.fn_sigs.push((f.params, f.ret));
            }
            Item::Schedule(s) => {
                let i = *fn_i;
                *fn_i += 1;
                let locals = params_scope(&s.params);
                self.scope = locals.clone();
                self.frame = idx(locals.len());
                let mut rows = Vec::new();
                let mut has_else = false;
                for row in &s.rows {
                    let key = match &row.key {
                        ast::ScheduleKey::Else => {
                            has_else = true;
                            None
                        }
                        ast::ScheduleKey::Cmp(op, e) => Some((*op, self.expr(e))),
                        ast::ScheduleKey::Point(e) => Some((ast::CmpOp::Eq, self.expr(e))),
                    };
                    let value = self.expr(&row.value);
                    rows.push(ir::ScheduleRow { key, value, written_style: row.value.written_style() });
                }
                if s.params.is_empty() {
                    self.misuse(s.name.span, "a schedule needs a parameter to look up", "no key", "write `schedule rate(age: Number) -> Number { ... }`");
                }
                if !s.interpolate && !has_else {
                    self.misuse(s.span, format!("schedule `{}` has no `else` row", s.name.name), "needs `else => ...`", "a step schedule must say what holds when no row matches: add `else => VALUE` last");
                }
                if s.interpolate && (rows.is_empty() || has_else) {
                    self.misuse(s.span, format!("interpolated schedule `{}` takes points only", s.name.name), "points are `KEY => VALUE`", "write one `KEY => VALUE` row per point, in increasing key order, and no `else`");
                }
                let frame = self.frame;
                let expr = self.arena.push(Node::Schedule { rows, interpolate: s.interpolate }, s.span);
                self.set_fn(i, &s.name, Body { expr, frame }, s.span);
                self.pending.fn_sigs.push((s.params, s.ret));
            }
            Item::Calendar { name: None, holidays, span } => {
                if self.ir_parts.calendar.is_some() {
                    self.misuse(span, "the default `calendar` is declared twice", "second default calendar", "a program has one default calendar; name the others: `calendar london { holidays … }`");
                }
                let b = self.simple(&holidays);
                self.ir_parts.calendar = Some(b);
            }
            Item::Calendar { name: Some(name), holidays, span } => {
                let holidays = self.simple(&holidays);
                self.ir_parts.calendars.push(ir::CalendarDef { name: Arc::from(name.name.as_str()), holidays, span });
            }
            Item::Check(c) => {
                let cond = self.simple(&c.cond);
                self.ir_parts.checks.push(ir::CheckDef { cond, message: c.message, span: c.span, deps: Vec::new() });
            }
            Item::Collateral(p) => self.lower_pool(p),
            Item::Covenant(c) => self.lower_covenant(c),
            Item::MarginCall(m) => {
                let g = Global::MarginCall(idx(self.ir_parts.margin_calls.len()));
                self.ir_parts.order.push(g);
                let trigger = self.lower_opt(m.trigger.as_ref());
                let amount = self.lower_opt(m.amount.as_ref());
                let minimum_transfer = m.minimum_transfer.as_ref().map(|e| self.simple(e));
                let rounding = m.rounding.as_ref().map(|(mode, e)| (*mode, self.simple(e)));
                let due = m.due.as_ref().map(|e| self.simple(e));
                self.pending.margin_due_spans.push(m.due.as_ref().map_or(m.span, |e| e.span));
                self.ir_parts.margin_calls.push(ir::MarginCallDef {
                    name: Arc::from(m.name.name.as_str()),
                    title: m.title,
                    trigger,
                    amount,
                    minimum_transfer,
                    rounding,
                    due,
                    amount_ty: crate::types::Type::Error,
                    span: m.span,
                });
            }
            Item::Default(d) => {
                let g = Global::Default(idx(self.ir_parts.defaults.len()));
                self.ir_parts.order.push(g);
                let events = d
                    .events
                    .into_iter()
                    .map(|e| ir::EventDef { name: Arc::from(e.name.name.as_str()), title: e.title, when: self.simple(&e.when) })
                    .collect();
                self.ir_parts.defaults.push(ir::DefaultDef { name: Arc::from(d.name.name.as_str()), title: d.title, events, span: d.span });
            }
            Item::Liquidation(l) => {
                let g = Global::Liquidation(idx(self.ir_parts.liquidations.len()));
                self.ir_parts.order.push(g);
                let trigger = l.trigger.as_ref().map(|e| self.simple(e));
                let debt = self.lower_opt(l.debt.as_ref());
                let mut sell = Vec::new();
                for name in &l.sell {
                    match self.values.get(&name.name).map(|(g, _)| *g) {
                        Some(Global::Pool(p)) => {
                            if sell.contains(&p) {
                                self.misuse(name.span, format!("pool `{}` is sold twice", name.name), "listed again", "list each pool once, in the order of sale");
                            }
                            sell.push(p)
                        }
                        Some(_) => self.misuse(
                            name.span,
                            format!("`{}` is not a collateral pool", name.name),
                            "not a pool",
                            "`sell` lists `collateral` pools, in the order they are sold",
                        ),
                        None => {
                            let help = self.suggest_value(&name.name);
                            let src = self.src(name.span);
                            self.errors.push(ResolveError::UnknownName { name: name.name.clone(), help, span: name.span.source_span(), src });
                        }
                    }
                }
                let until = l.until.as_ref().map(|e| ir::Until { cond: self.simple(e), debt_target: ir::DebtTarget::Unknown, deps: Vec::new() });
                self.ir_parts.liquidations.push(ir::LiquidationDef {
                    name: Arc::from(l.name.name.as_str()),
                    title: l.title,
                    trigger,
                    debt,
                    sell,
                    until,
                    debt_ty: crate::types::Type::Error,
                    span: l.span,
                });
            }
            Item::Scenario(s) => {
                let (shocks, paths) = self.lower_shocks(s.shocks);
                self.pending.shock_paths.push(paths);
                self.ir_parts.scenarios.push(ir::ScenarioDef { name: Arc::from(s.name.name.as_str()), title: s.title, shocks, span: s.span });
            }
            Item::Simulation(s) => self.lower_simulation(s),
            Item::Test(t) => {
                let scenario = match &t.scenario {
                    Some(name) => match self.scenario_names.get(&name.name) {
                        Some(i) => Some(*i),
                        None => {
                            let known: Vec<&str> = self.scenario_names.keys().map(String::as_str).collect();
                            let help = suggestion(&name.name, known.into_iter(), "scenario");
                            let src = self.src(name.span);
                            self.errors.push(ResolveError::UnknownName { name: name.name.clone(), help, span: name.span.source_span(), src });
                            None
                        }
                    },
                    None => None,
                };
                let (shocks, paths) = self.lower_shocks(t.shocks);
                self.pending.test_shock_paths.push(paths);
                let expects = t.expects.iter().map(|e| self.simple(e)).collect();
                self.ir_parts.tests.push(ir::TestDef { title: t.title, data: t.data.map(|d| d.0), scenario, shocks, expects, span: t.span });
            }
        }
    }

    /// Shock values are lowered now; their paths wait for `check`, which knows the schema.
    fn lower_shocks(&mut self, shocks: Vec<ast::Shock>) -> (Vec<ir::ShockDef>, Vec<ast::InputPath>) {
        let mut lowered = Vec::new();
        let mut paths = Vec::new();
        for shock in shocks {
            let value = self.simple(&shock.value);
            lowered.push(ir::ShockDef { path: Vec::new(), op: shock.op, value, ty: crate::types::Type::Error, span: shock.path.span.to(shock.value.span) });
            paths.push(shock.path);
        }
        (lowered, paths)
    }

    fn lower_opt(&mut self, e: Option<&ast::Expr>) -> Body {
        match e {
            Some(e) => self.simple(e),
            // The parser insists on required clauses; this keeps lowering total.
            None => Body { expr: self.arena.push(Node::Const(Value::Bool(false)), Span::default()), frame: 0 },
        }
    }

    fn set_fn(&mut self, i: usize, name: &ast::Ident, body: Body, span: Span) {
        if let Some(f) = self.ir_parts.fns.get_mut(i) {
            f.name = Arc::from(name.name.as_str());
            f.body = body;
            f.span = span;
        }
    }

    fn lower_pool(&mut self, p: ast::PoolDef) {
        let g = Global::Pool(idx(self.ir_parts.pools.len()));
        self.ir_parts.order.push(g);
        let (each, locals) = match &p.each {
            Some((var, list)) => {
                let list_body = self.simple(list);
                (Some((list_body, 0u32)), vec![(var.name.clone(), 0u32)])
            }
            None => (None, Vec::new()),
        };
        let frame = idx(locals.len());
        let quantity = p.quantity.as_ref().map(|e| self.body(&locals, frame, e));
        let price = p.price.as_ref().map(|e| self.body(&locals, frame, e));
        let haircut = p.haircut.as_ref().map(|e| self.body(&locals, frame, e));
        let liquidation_price = p.liquidation_price.as_ref().map(|e| self.body(&locals, frame, e));
        let lot = p.lot.as_ref().map(|e| self.body(&[], 0, e));
        let standard_discount = p.discount.as_ref().is_some_and(|e| self.is_standard_discount(e));
        let discount = p.discount.as_ref().map(|e| {
            self.uses_sold = false;
            let b = self.body(&[("sold".to_string(), 0)], 1, e);
            if !self.uses_sold {
                self.misuse(
                    e.span,
                    format!("the liquidation discount of `{}` does not use `sold`", p.name.name),
                    "does not depend on the units sold",
                    "a forced-sale discount depends on how much is sold: use `sold`, e.g. `absorption_discount(sold, 400, 15%, 3%)`, or `fixed_discount(sold, 20%)` from std.liquidity for a flat rate",
                );
            }
            b
        });
        let (Some(quantity), Some(price)) = (quantity, price) else { return };
        self.ir_parts.pools.push(ir::PoolDef {
            name: Arc::from(p.name.name.as_str()),
            title: p.title,
            each,
            quantity,
            price,
            haircut,
            lot,
            discount,
            standard_discount,
            liquidation_price,
            price_ty: crate::types::Type::Error,
            span: p.span,
        });
    }

    /// Whether a discount is one of std.liquidity's models applied to `sold` itself, no other
    /// argument reading `sold`. Such a pool's proceeds rise and then fall (or stay level)
    /// whatever the other arguments are, which lets its lot searches be aimed.
    fn is_standard_discount(&self, e: &ast::Expr) -> bool {
        const MODELS: [&str; 3] = ["sqrt_impact", "absorption_discount", "fixed_discount"];
        let ExprKind::Call { name, args } = &e.kind else { return false };
        let [ast::Arg::Positional(first), rest @ ..] = args.as_slice() else { return false };
        MODELS.contains(&name.name.as_str())
            && matches!(self.functions.get(&name.name), Some((Callee::Fn(_), true)))
            && matches!(&first.kind, ExprKind::Name(n) if n == "sold")
            && rest.iter().all(|a| matches!(a, ast::Arg::Positional(x) if !names_sold(x)))
    }

    fn lower_covenant(&mut self, c: ast::CovenantDef) {
        let g = Global::Covenant(idx(self.ir_parts.covenants.len()));
        self.ir_parts.order.push(g);
        let Some(require) = &c.require else { return };
        let (op, lhs, rhs, rhs_style) = match &require.kind {
            ExprKind::Binary(ast::BinaryOp::Cmp(op), l, r) => (*op, self.simple(l), self.simple(r), r.written_style()),
            _ => {
                self.misuse(
                    require.span,
                    format!("the requirement of `{}` is not a comparison", c.name.name),
                    "expected `VALUE <op> LIMIT`",
                    "a covenant compares a value with its limit: `require dscr >= 1.25x`",
                );
                let b = self.simple(require);
                (ast::CmpOp::Eq, b, b, require.written_style())
            }
        };
        self.pending.require_spans.push(require.span);
        let tested = match &c.tested {
            None => ir::Testing::Always,
            Some(ast::Tested::Quarterly) => ir::Testing::Quarterly,
            Some(ast::Tested::Monthly) => ir::Testing::Monthly,
            Some(ast::Tested::On(e)) => ir::Testing::On(self.simple(e)),
        };
        let when = c.when.as_ref().map(|e| self.simple(e));
        let cure_target_span = c.cure.as_ref().map(|cure| match &cure.into {
            ast::CureTarget::Input(path) => path.span,
            ast::CureTarget::Let(name) => name.span,
        });
        let cure = c.cure.map(|cure| {
            let history = cure.history.as_ref().map(|e| self.simple(e));
            let (mut into_let, mut path_text) = (None, String::new());
            match cure.into {
                ast::CureTarget::Input(path) => self.pending.cure_paths.push(Some(path)),
                ast::CureTarget::Let(name) => {
                    self.pending.cure_paths.push(None);
                    match self.values.get(&name.name).map(|(g, _)| *g) {
                        Some(Global::Let(l)) => into_let = Some(l),
                        Some(_) => self.misuse(
                            name.span,
                            format!("`{}` is a rule, and a cure goes into money", name.name),
                            "not a `let`",
                            "cure into a Money `let` (such as `cfads`) or a Money input (such as `input.ttm.ebitda`)",
                        ),
                        None => {
                            let help = self.suggest_value(&name.name);
                            let src = self.src(name.span);
                            self.errors.push(ResolveError::UnknownName { name: name.name.clone(), help, span: name.span.source_span(), src });
                        }
                    }
                    path_text = name.name;
                }
            }
            ir::CureDef { path: Vec::new(), into_let, path_text, ty: crate::types::Type::Error, history, limits: cure.limits, span: cure.span }
        });
        if cure.is_none() {
            self.pending.cure_paths.push(None);
        }
        self.pending.cure_target_spans.push(cure_target_span);
        self.ir_parts.covenants.push(ir::CovenantDef {
            name: Arc::from(c.name.name.as_str()),
            title: c.title,
            op,
            lhs,
            rhs,
            rhs_style,
            value_ty: crate::types::Type::Error,
            tested,
            when,
            cure,
            requirement_deps: Vec::new(),
            span: c.span,
        });
    }

    fn push(&mut self, node: Node, span: Span) -> ExprId {
        self.arena.push(node, span)
    }

    fn new_local(&mut self, name: &str) -> u32 {
        let slot = self.frame;
        self.frame += 1;
        self.scope.push((name.to_string(), slot));
        slot
    }

    fn expr(&mut self, e: &ast::Expr) -> ExprId {
        let span = e.span;
        match &e.kind {
            ExprKind::Number(n, _) => self.push(Node::Const(Value::Num(*n)), span),
            ExprKind::Money(n, c) => {
                // The literal's currency lives only in its type.
                let id = self.push(Node::Const(Value::Num(*n)), span);
                if let Some(t) = self.arena.types.get_mut(id.0 as usize) {
                    *t = crate::types::Type::money(c);
                }
                id
            }
            ExprKind::Date(d) => self.push(Node::Const(Value::Date(*d)), span),
            ExprKind::Duration(count, unit) => self.push(Node::Const(Value::Duration(Duration { count: *count, unit: *unit, calendars: 0 })), span),
            ExprKind::DurationOf { count, unit, scale, calendars } => {
                let count = self.expr(count);
                let calendars = self.calendar_mask(calendars);
                self.push(Node::MakeDuration { count, unit: *unit, scale: *scale, calendars }, span)
            }
            ExprKind::Text(t) => {
                let id = self.push(Node::Const(Value::Text(Arc::from(t.as_str()))), span);
                if let Some(ty) = self.arena.types.get_mut(id.0 as usize) {
                    *ty = crate::types::Type::Text;
                }
                id
            }
            ExprKind::Bool(b) => self.push(Node::Const(Value::Bool(*b)), span),
            ExprKind::Currency(c) => {
                let id = self.push(Node::Const(Value::Text(Arc::from(c.as_str()))), span);
                if let Some(t) = self.arena.types.get_mut(id.0 as usize) {
                    *t = crate::types::Type::CurrencyCode(Arc::from(c.as_str()));
                }
                id
            }
            ExprKind::List(items) => {
                let ids = items.iter().map(|i| self.expr(i)).collect();
                self.push(Node::List(ids), span)
            }
            ExprKind::Input => self.push(Node::Input, span),
            ExprKind::Name(name) => self.name(name, span),
            ExprKind::Field(base, field) => {
                let base = self.expr(base);
                self.push(Node::Field { base, name: Arc::from(field.name.as_str()), index: u32::MAX }, span.to(field.span))
            }
            ExprKind::Index(base, index) => {
                let base = self.expr(base);
                let index = self.expr(index);
                self.push(Node::Index { base, index }, span)
            }
            ExprKind::Unary(op, operand) => {
                let x = self.expr(operand);
                self.push(if *op == ast::UnaryOp::Neg { Node::Neg(x) } else { Node::Not(x) }, span)
            }
            ExprKind::Binary(op, l, r) => {
                let lhs = self.expr(l);
                let rhs = self.expr(r);
                let node = match op {
                    ast::BinaryOp::Add => Node::Arith { op: ir::ArithOp::Add, lhs, rhs },
                    ast::BinaryOp::Sub => Node::Arith { op: ir::ArithOp::Sub, lhs, rhs },
                    ast::BinaryOp::Mul => Node::Arith { op: ir::ArithOp::Mul, lhs, rhs },
                    ast::BinaryOp::Div => Node::Arith { op: ir::ArithOp::Div, lhs, rhs },
                    ast::BinaryOp::And => Node::And(lhs, rhs),
                    ast::BinaryOp::Or => Node::Or(lhs, rhs),
                    ast::BinaryOp::Coalesce => Node::Coalesce(lhs, rhs),
                    ast::BinaryOp::Cmp(op) => Node::Compare { op: *op, lhs, rhs },
                };
                self.push(node, span)
            }
            ExprKind::If(c, t, o) => {
                let cond = self.expr(c);
                let then = self.expr(t);
                let otherwise = self.expr(o);
                self.push(Node::If { cond, then, otherwise }, span)
            }
            ExprKind::Call { name, args } => self.call(name, args, span),
        }
    }

    fn name(&mut self, name: &str, span: Span) -> ExprId {
        if let Some((_, slot)) = self.scope.iter().rev().find(|(n, _)| n == name) {
            let slot = *slot;
            if name == "sold" {
                self.uses_sold = true;
            }
            return self.push(Node::Local(slot), span);
        }
        if name == "as_of" {
            let input = self.push(Node::Input, span);
            return self.push(Node::Field { base: input, name: Arc::from("as_of"), index: u32::MAX }, span);
        }
        if let Some((g, _)) = self.values.get(name) {
            let g = *g;
            return self.push(Node::Global(g), span);
        }
        let help = if name == "sold" {
            "`sold` is the number of units sold, known only inside a `liquidation discount` clause".to_string()
        } else if self.functions.contains_key(name) || Builtin::lookup(name).is_some() {
            format!("`{name}` is a function: call it, `{name}(...)`")
        } else {
            self.suggest_value(name)
        };
        let src = self.src(span);
        self.errors.push(ResolveError::UnknownName { name: name.to_string(), help, span: span.source_span(), src });
        self.push(Node::Const(Value::Null), span)
    }

    /// The bits of the named calendars; an unknown name is an error.
    fn calendar_mask(&mut self, names: &[ast::Ident]) -> u64 {
        let mut mask = 0u64;
        for name in names {
            match self.calendar_names.get(&name.name) {
                Some(&i) => mask |= 1u64 << i,
                None => {
                    let known: Vec<&str> = self.calendar_names.keys().map(String::as_str).collect();
                    let help = if known.is_empty() {
                        "no named calendar is declared: `calendar london { holidays input.holidays.london }`".to_string()
                    } else {
                        suggestion(&name.name, known.into_iter(), "calendar")
                    };
                    self.misuse(name.span, format!("unknown calendar `{}`", name.name), "not a calendar", help);
                }
            }
        }
        mask
    }

    fn suggest_value(&self, name: &str) -> String {
        let locals = self.scope.iter().map(|(n, _)| n.as_str());
        let globals = self.values.keys().map(String::as_str);
        suggestion(name, locals.chain(globals).chain(["as_of", "input"]), "value")
    }

    fn call(&mut self, name: &ast::Ident, args: &[Arg], span: Span) -> ExprId {
        let generator = args.iter().find_map(|a| match a {
            Arg::Generator { body, var, list, filter, .. } => Some((body, var, list, filter)),
            _ => None,
        });
        if let Some((body, var, list, filter)) = generator {
            let Some(kind) = AGGREGATES.iter().find(|(n, _)| *n == name.name).map(|(_, k)| *k) else {
                self.misuse(
                    name.span,
                    format!("`{}` does not take a generator", name.name),
                    "not an aggregate",
                    "`… for x in LIST` works with sum, count, min, max, any, all and list",
                );
                return self.push(Node::Const(Value::Null), span);
            };
            let mut default = None;
            for a in args {
                match a {
                    Arg::Named(n, e) if n.name == "default" && matches!(kind, Aggregate::Min | Aggregate::Max) => default = Some(self.expr(e)),
                    Arg::Generator { .. } => {}
                    Arg::Named(n, _) => self.misuse(n.span, format!("unknown argument `{}`", n.name), "not an argument of this aggregate", "`min` and `max` take `default:`; other aggregates take no named argument"),
                    Arg::Positional(e) => self.misuse(e.span, "an aggregate takes one generator", "extra argument", "write `sum(EXPR for x in LIST if COND)`"),
                }
            }
            let list = self.expr(list);
            let depth = self.scope.len();
            let slot = self.new_local(&var.name);
            let body = self.expr(body);
            let filter = filter.as_ref().map(|f| self.expr(f));
            self.scope.truncate(depth);
            return self.push(Node::Aggregate { kind, var: slot, list, body, filter, default }, span);
        }
        let mut positional = Vec::new();
        // `is_business_day(d, london)`: the second argument names a calendar, not a value.
        if name.name == "is_business_day" && !self.functions.contains_key(&name.name) {
            if let [Arg::Positional(day), Arg::Positional(calendar)] = args {
                let day = self.expr(day);
                let mask = match &calendar.kind {
                    ExprKind::Name(n) => self.calendar_mask(&[ast::Ident { name: n.clone(), span: calendar.span }]),
                    _ => {
                        self.misuse(calendar.span, "the second argument of `is_business_day` is a calendar's name", "not a calendar name", "write `is_business_day(d, london)`");
                        0
                    }
                };
                let mask = self.push(Node::Const(Value::Num(rust_decimal::Decimal::from(mask))), calendar.span);
                return self.push(Node::CallBuiltin { builtin: Builtin::IsBusinessDayIn, args: vec![day, mask] }, span);
            }
        }
        for a in args {
            match a {
                Arg::Positional(e) => positional.push(self.expr(e)),
                Arg::Named(n, _) => self.misuse(n.span, format!("unknown argument `{}`", n.name), "named arguments are for aggregates", "pass arguments by position"),
                Arg::Generator { .. } => {}
            }
        }
        if let Some((Callee::Fn(i), _)) = self.functions.get(&name.name) {
            let func = *i;
            return self.push(Node::CallFn { func, args: positional }, span);
        }
        if let Some(b) = Builtin::lookup(&name.name) {
            return self.push(Node::CallBuiltin { builtin: b, args: positional }, span);
        }
        if AGGREGATES.iter().any(|(n, _)| *n == name.name) {
            self.misuse(name.span, format!("`{}` needs a generator", name.name), "no `for … in …`", format!("write `{}(EXPR for x in LIST)`", name.name));
            return self.push(Node::Const(Value::Null), span);
        }
        let known = self.functions.keys().map(String::as_str).chain(Builtin::ALL.iter().map(|(n, _)| *n)).chain(AGGREGATES.iter().map(|(n, _)| *n));
        let mut help = suggestion(&name.name, known, "function");
        if self.values.contains_key(&name.name) {
            help = format!("`{}` is a value, not a function", name.name);
        } else if !help.starts_with("did you mean") {
            help = format!("{help}; library functions need their module imported, e.g. `import std.lending`");
        }
        let src = self.src(name.span);
        self.errors.push(ResolveError::UnknownFunction { name: name.name.clone(), help, span: name.span.source_span(), src });
        self.push(Node::Const(Value::Null), span)
    }

    // ------------------------------------------------------------------ cycles

    /// Every global and function is a node; an edge is a reference. A strongly connected
    /// component with more than one member, or a self-reference, is a cycle.
    fn find_cycles(&mut self) {
        let p = &self.ir_parts;
        let n_fn = p.fns.len();
        // Node numbering: fns, then lets, pools, covenants, margin calls, liquidations.
        let mut names: Vec<(Arc<str>, Span)> = p.fn_names.clone();
        let mut bodies: Vec<Vec<Body>> = p.fns.iter().map(|f| vec![f.body]).collect();
        let mut globals: HashMap<Global, usize> = HashMap::new();
        let mut push_global = |g: Global, b: Vec<Body>, names: &mut Vec<(Arc<str>, Span)>, bodies: &mut Vec<Vec<Body>>| {
            let (n, s) = p.global_spans.get(&g).cloned().unwrap_or((Arc::from("?"), Span::default()));
            globals.insert(g, names.len());
            names.push((n, s));
            bodies.push(b);
        };
        for (i, l) in p.lets.iter().enumerate() {
            push_global(Global::Let(idx(i)), vec![l.body], &mut names, &mut bodies);
        }
        for (i, pool) in p.pools.iter().enumerate() {
            let mut b = vec![pool.quantity, pool.price];
            b.extend(pool.each.iter().map(|e| e.0));
            b.extend(pool.haircut.iter().chain(pool.lot.iter()).chain(pool.discount.iter()).chain(pool.liquidation_price.iter()));
            push_global(Global::Pool(idx(i)), b, &mut names, &mut bodies);
        }
        for (i, c) in p.covenants.iter().enumerate() {
            let mut b = vec![c.lhs, c.rhs];
            b.extend(c.when.iter());
            if let ir::Testing::On(t) = &c.tested {
                b.push(*t);
            }
            b.extend(c.cure.iter().flat_map(|c| c.history.iter()));
            push_global(Global::Covenant(idx(i)), b, &mut names, &mut bodies);
        }
        for (i, m) in p.margin_calls.iter().enumerate() {
            let mut b = vec![m.trigger, m.amount];
            b.extend(m.minimum_transfer.iter().chain(m.due.iter()).chain(m.rounding.iter().map(|r| &r.1)));
            push_global(Global::MarginCall(idx(i)), b, &mut names, &mut bodies);
        }
        for (i, l) in p.liquidations.iter().enumerate() {
            let mut b = vec![l.debt];
            b.extend(l.trigger.iter().chain(l.until.iter().map(|u| &u.cond)));
            push_global(Global::Liquidation(idx(i)), b, &mut names, &mut bodies);
        }
        for (i, d) in p.defaults.iter().enumerate() {
            push_global(Global::Default(idx(i)), d.events.iter().map(|e| e.when).collect(), &mut names, &mut bodies);
        }
        let mut edges: Vec<Vec<usize>> = vec![Vec::new(); names.len()];
        for (from, bs) in bodies.iter().enumerate() {
            for b in bs {
                self.collect_refs(b.expr, &globals, &mut |to| {
                    if let Some(e) = edges.get_mut(from) {
                        e.push(to)
                    }
                });
            }
        }
        // A liquidation depends on the pools it sells.
        for (i, l) in p.liquidations.iter().enumerate() {
            if let Some(&from) = globals.get(&Global::Liquidation(idx(i))) {
                for pool in &l.sell {
                    if let (Some(&to), Some(e)) = (globals.get(&Global::Pool(*pool)), edges.get_mut(from)) {
                        e.push(to);
                    }
                }
            }
        }
        let components = tarjan(&edges);
        let mut node_global: Vec<Option<Global>> = vec![None; names.len()];
        for (g, &v) in &globals {
            if let Some(slot) = node_global.get_mut(v) {
                *slot = Some(*g);
            }
        }
        let topo: Vec<Global> = components.iter().flatten().filter_map(|&v| node_global.get(v).copied().flatten()).collect();
        // What each global reads directly, a function standing for what its body reads.
        let reads_through = |starts: &mut dyn Iterator<Item = usize>| -> Vec<Global> {
            let mut seen = vec![false; names.len()];
            let mut work: Vec<usize> = starts.collect();
            let mut found = Vec::new();
            while let Some(v) = work.pop() {
                if seen.get(v).copied() != Some(false) {
                    continue;
                }
                if let Some(s) = seen.get_mut(v) {
                    *s = true;
                }
                match node_global.get(v) {
                    Some(Some(g)) => found.push(*g),
                    _ => work.extend(edges.get(v).into_iter().flatten().copied()),
                }
            }
            found
        };
        let direct: Vec<(Global, Vec<Global>)> = globals.iter().map(|(g, &v)| (*g, reads_through(&mut edges.get(v).into_iter().flatten().copied()))).collect();
        let counts = [p.lets.len(), p.pools.len(), p.covenants.len(), p.margin_calls.len(), p.liquidations.len(), p.defaults.len()];
        let dependencies = ir::Dependencies::new(counts, &topo, direct);
        // The globals some bodies read, directly or not, dependencies first.
        let cone = |roots: &[Body]| -> Vec<Global> {
            let mut starts = Vec::new();
            for b in roots {
                self.collect_refs(b.expr, &globals, &mut |to| starts.push(to));
            }
            dependencies.cone(reads_through(&mut starts.into_iter()))
        };
        let requirement_deps: Vec<Vec<Global>> = p.covenants.iter().map(|c| cone(&[c.lhs, c.rhs])).collect();
        let check_deps: Vec<Vec<Global>> = p.checks.iter().map(|c| cone(&[c.cond])).collect();
        let until_deps: Vec<Vec<Global>> = p.liquidations.iter().map(|l| l.until.as_ref().map_or_else(Vec::new, |u| cone(&[u.cond]))).collect();
        let _ = n_fn;
        for component in components {
            let is_cycle = component.len() > 1 || component.first().is_some_and(|&v| edges.get(v).is_some_and(|e| e.contains(&v)));
            if !is_cycle {
                continue;
            }
            let mut members: Vec<&(Arc<str>, Span)> = component.iter().filter_map(|&v| names.get(v)).collect();
            members.sort_by_key(|(_, s)| (s.file.0, s.start));
            let list = members.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>();
            let text = if list.len() == 1 {
                format!("{} depends on itself", list.join(""))
            } else {
                let mut cyc = list.clone();
                if let Some(f) = list.first() {
                    cyc.push(f.clone());
                }
                cyc.join(" → ")
            };
            let Some((first, span)) = members.first().map(|(n, s)| (n.to_string(), *s)) else { continue };
            let src = self.src(span);
            self.errors.push(ResolveError::Cycle { members: text, span: span.source_span(), first, src });
        }
        self.ir_parts.topo = topo;
        self.ir_parts.requirement_deps = requirement_deps;
        self.ir_parts.dependencies = dependencies;
        for (l, deps) in self.ir_parts.liquidations.iter_mut().zip(until_deps) {
            if let Some(u) = l.until.as_mut() {
                u.deps = deps;
            }
        }
        for (check, deps) in self.ir_parts.checks.iter_mut().zip(check_deps) {
            check.deps = deps;
        }
    }

    fn collect_refs(&self, root: ExprId, globals: &HashMap<Global, usize>, out: &mut dyn FnMut(usize)) {
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            let Some(node) = self.arena.node(id) else { continue };
            match node {
                Node::Global(g) => {
                    if let Some(&v) = globals.get(g) {
                        out(v)
                    }
                }
                Node::CallFn { func, args } => {
                    out(*func as usize);
                    stack.extend(args.iter().copied());
                }
                _ => children(node, &mut |c| stack.push(c)),
            }
        }
    }

    fn finish(mut self) -> Result<Resolved, Vec<ResolveError>> {
        let p = std::mem::take(&mut self.ir_parts);
        let mut covenants = p.covenants;
        for (c, deps) in covenants.iter_mut().zip(p.requirement_deps) {
            c.requirement_deps = deps;
        }
        let ir = ir::Ir {
            arena: self.arena,
            facility: p.facility,
            input: Arc::new(crate::types::RecordType { name: None, fields: Vec::new() }),
            as_of_field: 0,
            lets: p.lets,
            fns: p.fns,
            checks: p.checks,
            calendar: p.calendar,
            calendars: p.calendars,
            pools: p.pools,
            covenants,
            topo: p.topo,
            dependencies: p.dependencies,
            margin_calls: p.margin_calls,
            liquidations: p.liquidations,
            defaults: p.defaults,
            scenarios: p.scenarios,
            simulations: p.simulations,
            tests: p.tests,
            order: p.order,
            input_reads: ir::reads::InputReads::default(),
            fast: Default::default(),
        };
        Ok(Resolved { ir, pending: self.pending })
    }
}

fn placeholder_fn(name: &ast::Ident) -> ir::FnDef {
    ir::FnDef {
        name: Arc::from(name.name.as_str()),
        params: Vec::new(),
        ret: crate::types::Type::Error,
        body: Body { expr: ExprId(0), frame: 0 },
        span: name.span,
    }
}

fn params_scope(params: &[ast::Param]) -> Vec<(String, u32)> {
    params.iter().enumerate().map(|(i, p)| (p.name.name.clone(), idx(i))).collect()
}

/// Calls `f` on every direct child expression of a node.
pub fn children(node: &Node, f: &mut dyn FnMut(ExprId)) {
    match node {
        Node::Const(_) | Node::Global(_) | Node::Local(_) | Node::Input => {}
        Node::PoolField(..) | Node::CovenantField(..) | Node::MarginField(..) | Node::LiquidationField(..) | Node::DefaultField(..) => {}
        Node::Field { base, .. } => f(*base),
        Node::Index { base, index } => {
            f(*base);
            f(*index)
        }
        Node::Neg(x) | Node::Not(x) => f(*x),
        Node::MakeDuration { count, .. } => f(*count),
        Node::Arith { lhs, rhs, .. } | Node::Compare { lhs, rhs, .. } => {
            f(*lhs);
            f(*rhs)
        }
        Node::And(a, b) | Node::Or(a, b) | Node::Coalesce(a, b) => {
            f(*a);
            f(*b)
        }
        Node::If { cond, then, otherwise } => {
            f(*cond);
            f(*then);
            f(*otherwise)
        }
        Node::List(items) => items.iter().for_each(|i| f(*i)),
        Node::CallFn { args, .. } | Node::CallBuiltin { args, .. } => args.iter().for_each(|i| f(*i)),
        Node::Aggregate { list, body, filter, default, .. } => {
            f(*list);
            f(*body);
            filter.iter().chain(default.iter()).for_each(|i| f(*i))
        }
        Node::Memo { expr, .. } => f(*expr),
        Node::Schedule { rows, .. } => {
            for r in rows {
                if let Some((_, k)) = r.key {
                    f(k)
                }
                f(r.value)
            }
        }
    }
}

/// "did you mean `x`?" for the closest known name, or a plain note when none is close.
pub fn suggestion<'a>(name: &str, known: impl Iterator<Item = &'a str>, what: &str) -> String {
    let best = known
        .filter(|k| *k != name)
        .map(|k| (strsim::damerau_levenshtein(name, k), k))
        .filter(|(d, k)| *d <= (name.len().max(k.len()) / 3).max(1) + 1)
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    match best {
        Some((_, k)) => format!("did you mean `{k}`?"),
        None => format!("no {what} of that name is defined"),
    }
}

/// Strongly connected components (Tarjan), iteratively so that deep graphs cannot
/// overflow the stack.
fn tarjan(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = edges.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    let mut counter = 0;
    for start in 0..n {
        if index.get(start).copied() != Some(usize::MAX) {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(start, 0)];
        while let Some(&mut (v, ref mut next)) = work.last_mut() {
            if *next == 0 && index.get(v).copied() == Some(usize::MAX) {
                if let (Some(i), Some(l), Some(o)) = (index.get_mut(v), low.get_mut(v), on_stack.get_mut(v)) {
                    *i = counter;
                    *l = counter;
                    *o = true;
                }
                counter += 1;
                stack.push(v);
            }
            let succ = edges.get(v).and_then(|e| e.get(*next)).copied();
            if let Some(w) = succ {
                *next += 1;
                if index.get(w).copied() == Some(usize::MAX) {
                    work.push((w, 0));
                } else if on_stack.get(w).copied() == Some(true) {
                    let iw = index.get(w).copied().unwrap_or(0);
                    if let Some(l) = low.get_mut(v) {
                        *l = (*l).min(iw);
                    }
                }
                continue;
            }
            work.pop();
            let lv = low.get(v).copied().unwrap_or(0);
            if let Some(&(parent, _)) = work.last() {
                if let Some(lp) = low.get_mut(parent) {
                    *lp = (*lp).min(lv);
                }
            }
            if lv == index.get(v).copied().unwrap_or(0) {
                let mut comp = Vec::new();
                while let Some(w) = stack.pop() {
                    if let Some(o) = on_stack.get_mut(w) {
                        *o = false;
                    }
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                out.push(comp);
            }
        }
    }
    out
}

/// Whether `e` may read `sold`: any name `sold` in it, and any generator (conservatively).
fn names_sold(e: &ast::Expr) -> bool {
    match &e.kind {
        ExprKind::Name(n) => n == "sold",
        ExprKind::List(items) => items.iter().any(names_sold),
        ExprKind::DurationOf { count, .. } => names_sold(count),
        ExprKind::Field(base, _) | ExprKind::Unary(_, base) => names_sold(base),
        ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => names_sold(a) || names_sold(b),
        ExprKind::If(a, b, c) => names_sold(a) || names_sold(b) || names_sold(c),
        ExprKind::Call { args, .. } => args.iter().any(|a| match a {
            ast::Arg::Positional(x) | ast::Arg::Named(_, x) => names_sold(x),
            ast::Arg::Generator { .. } => true,
        }),
        ExprKind::Number(..) | ExprKind::Money(..) | ExprKind::Date(_) | ExprKind::Duration(..) | ExprKind::Text(_) | ExprKind::Bool(_) | ExprKind::Currency(_) | ExprKind::Input => false,
    }
}
