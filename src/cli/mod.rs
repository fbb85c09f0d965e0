//! The command line: clap commands over the library. Reports go to stdout, diagnostics to
//! stderr; exit 0 on success, 1 when tests fail (or a breach with `--fail-on-breach`), 2 on
//! an invalid program, invalid data or bad usage.

mod diff;
mod repl;
#[cfg(feature = "lsp")]
mod lsp;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use clap::{Args, Parser, Subcommand, ValueEnum};
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};

mod analysis;

use covenant::resolve::FsLoader;
use covenant::text::escape_controls;
use covenant::{Limits, OutputError, Program, Report};

#[cfg(feature = "serve")]
mod serve;

#[derive(Parser)]
#[command(
    name = "covenant",
    version,
    about = "Evaluate secured-lending covenants, margin calls and liquidations",
    after_help = "Over a limit, a command refuses the input with a diagnostic naming the limit (exit 2; in `batch`, an \
                  error object on that line). Byte sizes accept a K, M or G suffix (powers of 1024)."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    limits: LimitArgs,
    /// A directory imports and test data may also be read from, besides the program's own
    /// directory and its subdirectories; repeatable
    #[arg(long = "allow-path", global = true, value_name = "DIR")]
    allow_paths: Vec<PathBuf>,
}

/// The limits, as flags accepted by every command.
#[derive(Args, Clone, Copy)]
#[command(next_help_heading = "Limits")]
struct LimitArgs {
    /// Bytes of one source file, each imported file too
    #[arg(long, global = true, value_name = "BYTES", value_parser = parse_size, default_value_t = Limits::default().max_source_bytes)]
    max_source_bytes: usize,
    /// Nesting of brackets and prefix operators in the source (at most 1024)
    #[arg(long, global = true, value_name = "LEVELS", default_value_t = Limits::default().max_nesting)]
    max_nesting: usize,
    /// Elements of one list in the data
    #[arg(long, global = true, value_name = "N", default_value_t = Limits::default().max_list_len)]
    max_list_len: usize,
    /// Bytes of one facility's data (one line in `batch`)
    #[arg(long, global = true, value_name = "BYTES", value_parser = parse_size, default_value_t = Limits::default().max_data_bytes)]
    max_data_bytes: usize,
    /// Digits of one number, in the source or the data (a decimal holds 28 significant digits)
    #[arg(long, global = true, value_name = "N", default_value_t = Limits::default().max_number_digits)]
    max_number_digits: usize,
    /// Bytes of the output for one facility (the whole output of `run`, one line of `batch`)
    #[arg(long, global = true, value_name = "BYTES", value_parser = parse_size, default_value_t = Limits::default().max_output_bytes)]
    max_output_bytes: usize,
    /// Steps of one evaluation (each expression evaluated, in functions and searches too)
    #[arg(long, global = true, value_name = "N", default_value_t = Limits::default().max_operations)]
    max_operations: u64,
    /// Elements of the lists one evaluation builds, in total
    #[arg(long, global = true, value_name = "N", default_value_t = Limits::default().max_values)]
    max_values: u64,
}

impl LimitArgs {
    fn limits(self) -> Limits {
        Limits {
            max_source_bytes: self.max_source_bytes,
            max_nesting: self.max_nesting,
            max_list_len: self.max_list_len,
            max_data_bytes: self.max_data_bytes,
            max_number_digits: self.max_number_digits,
            max_output_bytes: self.max_output_bytes,
            max_operations: self.max_operations,
            max_values: self.max_values,
        }
    }
}

/// A byte count: digits (underscores allowed), optionally followed by K, M or G (powers of
/// 1024, with or without `iB`/`B`).
fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '_')).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(split);
    let shift = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("`{text}` is not a size: write bytes, such as 1048576, 64K, 4M or 1G")),
    };
    let n: usize = digits.replace('_', "").parse().map_err(|_| format!("`{text}` is not a size: write bytes, such as 1048576, 64K, 4M or 1G"))?;
    n.checked_mul(1usize << shift).ok_or_else(|| format!("`{text}` is too large a size"))
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Table,
    Json,
    /// One self-contained page (inline CSS and SVG) for people to read.
    Html,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum TestFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Compile only: report every diagnostic.
    Check { file: PathBuf },
    /// Evaluate a program against facility data.
    Run {
        file: PathBuf,
        /// The facility data, JSON matching the program's `input` schema.
        #[arg(long)]
        data: PathBuf,
        /// A scenario to evaluate, on its own against the base data; repeatable.
        #[arg(long = "scenario")]
        scenarios: Vec<String>,
        /// The base case, then every scenario in declaration order.
        #[arg(long)]
        all_scenarios: bool,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Exit 1 when a tested covenant is in breach.
        #[arg(long)]
        fail_on_breach: bool,
    },
    /// Why a figure is what it is: the tree of figures behind it, down to the data.
    Explain {
        file: PathBuf,
        /// The facility data, JSON matching the program's `input` schema.
        #[arg(long)]
        data: PathBuf,
        /// A value (`ltv`), a pool or pool field (`btc.eligible_value`), a rule or rule
        /// field (`ltv_call.amount`).
        name: String,
        #[arg(long)]
        scenario: Option<String>,
        #[arg(long, value_enum, default_value_t = TreeFormat::Tree)]
        format: TreeFormat,
        /// Expand the tree this many levels below the figure.
        #[arg(long)]
        depth: Option<usize>,
    },
    /// Run the tests written in the scripts.
    Test {
        files: Vec<PathBuf>,
        /// `text` for people; `json`, one document for CI systems.
        #[arg(long, value_enum, default_value_t = TestFormat::Text)]
        format: TestFormat,
    },
    /// Rewrite programs in the canonical layout, comments and literals kept as written.
    Fmt {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Change nothing: show a diff of each file not in the canonical layout, and exit 1.
        #[arg(long)]
        check: bool,
    },
    /// Print the JSON Schema (draft 2020-12) of the facility data the program reads.
    Schema { file: PathBuf },
    /// Evaluate many facilities: JSON Lines in, one JSON report per line out, in order.
    Batch {
        file: PathBuf,
        /// Facilities, one JSON object per line.
        #[arg(long)]
        data: PathBuf,
        /// A scenario to evaluate for every facility; repeatable (a line then holds an array).
        #[arg(long = "scenario")]
        scenarios: Vec<String>,
        /// Worker threads (default: one per core; at most four per core, more are clamped).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        threads: Option<u16>,
    },
    /// Ask questions of a facility interactively: expressions, declarations, what-ifs.
    Repl {
        /// The script to start from.
        file: Option<PathBuf>,
        /// The facility data, JSON matching the program's `input` schema.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Start under this scenario.
        #[arg(long)]
        scenario: Option<String>,
    },
    /// Serve the rule sets of a directory over HTTP: evaluate, batch, schema (docs/service.md).
    #[cfg(feature = "serve")]
    Serve(serve::ServeArgs),
    /// The value of one input at which each rule's status flips, and the move from today.
    Breakeven(analysis::BreakevenArgs),
    /// Rule statuses and chosen figures over a grid of one or two inputs.
    Sweep(analysis::SweepArgs),
    /// Evaluate the facility along a path through time (CSV of dates and inputs).
    Project(analysis::ProjectArgs),
    /// A whole book of facilities (JSON Lines) under many scenarios: counts, sums, worst facilities.
    Stress(analysis::StressArgs),
    /// Monte Carlo over a `simulation`'s correlated factors: status probabilities, quantiles.
    Simulate(analysis::SimulateArgs),
    /// A language server for editors, over stdin and stdout (Language Server Protocol).
    #[cfg(feature = "lsp")]
    Lsp,
}

const OK: u8 = 0;
const FAILED: u8 = 1;
const INVALID: u8 = 2;

pub fn render_diagnostic(d: &dyn Diagnostic) -> String {
    let mut out = String::new();
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(100);
    if handler.render_report(&mut out, d).is_err() {
        out = d.to_string();
    }
    out
}

/// Writes to stderr; a stderr that cannot be written to leaves nowhere to say so.
fn warn(text: std::fmt::Arguments<'_>) {
    let _ = std::io::stderr().write_fmt(text);
}

fn print_diagnostic(d: &dyn Diagnostic) {
    warn(format_args!("{}", render_diagnostic(d)));
}

/// Stdout could not be written: said on stderr (not for a pipe whose reader has gone, as
/// `| head` does), and the command fails.
fn output_failed(e: &std::io::Error) -> ExitCode {
    if e.kind() != std::io::ErrorKind::BrokenPipe {
        warn(format_args!("error: cannot write the output: {}\n", e.to_string().to_lowercase()));
    }
    ExitCode::from(INVALID)
}

/// Whether stdout was closed when the command started. The Rust runtime reopens a closed
/// standard descriptor on `/dev/null`, read-write, where writes vanish without an error; a
/// shell's `> /dev/null` opens it write-only. Linux only (it reads `/proc`).
fn stdout_was_closed() -> bool {
    #[cfg(target_os = "linux")]
    {
        if std::fs::read_link("/proc/self/fd/1").ok().as_deref() != Some(Path::new("/dev/null")) {
            return false;
        }
        let info = std::fs::read_to_string("/proc/self/fdinfo/1").unwrap_or_default();
        let flags = info.lines().find_map(|l| l.strip_prefix("flags:")).and_then(|f| u32::from_str_radix(f.trim(), 8).ok());
        // O_ACCMODE is 3, O_RDWR 2.
        flags.is_some_and(|f| f & 3 == 2)
    }
    #[cfg(not(target_os = "linux"))]
    false
}

fn compile(file: &Path, limits: Limits, loader: &FsLoader) -> Result<Program, ExitCode> {
    Program::compile_file_through(file, limits, loader).map_err(|e| {
        for d in &e.diagnostics {
            print_diagnostic(&**d);
        }
        warn(format_args!("{}: {e}\n", file.display()));
        ExitCode::from(INVALID)
    })
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { INVALID } else { OK });
        }
    };
    let limits = cli.limits.limits();
    if !matches!(cli.command, Command::Check { .. }) && stdout_was_closed() {
        warn(format_args!("error: stdout is closed (reopened on /dev/null for reading and writing): the output would be lost\n"));
        return ExitCode::from(INVALID);
    }
    let loader = FsLoader::confined_to(cli.allow_paths.clone());
    match cli.command {
        Command::Check { file } => match compile(&file, limits, &loader) {
            Ok(_) => {
                warn(format_args!("{}: ok\n", file.display()));
                ExitCode::from(OK)
            }
            Err(code) => code,
        },
        Command::Run { file, data, scenarios, all_scenarios, format, fail_on_breach } => {
            let program = match compile(&file, limits, &loader) {
                Ok(p) => p,
                Err(code) => return code,
            };
            run(&program, &data, limits, scenarios, all_scenarios, format, fail_on_breach)
        }
        Command::Test { files, format } => test(&files, limits, &loader, format),
        Command::Fmt { files, check } => fmt(&files, check),
        Command::Explain { file, data, name, scenario, format, depth } => match compile(&file, limits, &loader) {
            Ok(program) => explain(&program, &data, limits, &name, scenario.as_deref(), format, depth),
            Err(code) => code,
        },
        Command::Schema { file } => match compile(&file, limits, &loader) {
            Ok(program) => schema(&program, limits),
            Err(code) => code,
        },
        Command::Repl { file, data, scenario } => repl::main(repl::Options { file, data, scenario }, limits, loader),
        #[cfg(feature = "lsp")]
        Command::Lsp => match lsp::main(limits) {
            Ok(()) => ExitCode::from(OK),
            Err(e) => {
                warn(format_args!("error: the language server stopped: {e}\n"));
                ExitCode::from(INVALID)
            }
        },
        Command::Batch { file, data, scenarios, threads } => match compile(&file, limits, &loader) {
            Ok(program) => batch(&program, &data, scenarios, threads.map(usize::from)),
            Err(code) => code,
        },
        #[cfg(feature = "serve")]
        Command::Serve(args) => serve::main(args, limits, cli.allow_paths),
        Command::Breakeven(args) => match compile(&args.file, limits, &loader) {
            Ok(program) => analysis::breakeven(&program, &args, limits),
            Err(code) => code,
        },
        Command::Sweep(args) => match compile(&args.file, limits, &loader) {
            Ok(program) => analysis::sweep(&program, &args, limits),
            Err(code) => code,
        },
        Command::Project(args) => match compile(&args.file, limits, &loader) {
            Ok(program) => analysis::project(&program, &args, limits),
            Err(code) => code,
        },
        Command::Stress(args) => match compile(&args.file, limits, &loader) {
            Ok(program) => analysis::stress(&program, &args, limits),
            Err(code) => code,
        },
        Command::Simulate(args) => match compile(&args.file, limits, &loader) {
            Ok(program) => analysis::simulate(&program, &args, limits),
            Err(code) => code,
        },
    }
}

/// `covenant fmt`: exit 0 when every file is (or now is) formatted, 1 when `--check` found
/// one that is not, 2 when a file cannot be read, parsed or written.
fn fmt(files: &[PathBuf], check: bool) -> ExitCode {
    let mut code = OK;
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                warn(format_args!("error: cannot read `{}`: {}\n", file.display(), e.to_string().to_lowercase()));
                code = INVALID;
                continue;
            }
        };
        let formatted = match covenant::format::format_source(&file.display().to_string(), &text) {
            Ok(f) => f,
            Err(e) => {
                print_diagnostic(&e);
                code = INVALID;
                continue;
            }
        };
        if formatted == text {
            continue;
        }
        if check {
            print!("{}", diff::unified(&file.display().to_string(), &text, &formatted));
            code = code.max(FAILED);
        } else if let Err(e) = std::fs::write(file, formatted) {
            warn(format_args!("error: cannot write `{}`: {}\n", file.display(), e.to_string().to_lowercase()));
            code = INVALID;
        }
    }
    ExitCode::from(code)
}

/// Reads the data file, refusing it by its length over `max_data_bytes` before reading it
/// whole.
fn read_data(data: &Path, limit: usize) -> Result<String, ExitCode> {
    use std::io::Read as _;
    let cannot = |reason: String| {
        warn(format_args!("error: cannot read `{}`: {reason}\n", data.display()));
        ExitCode::from(INVALID)
    };
    let too_large = |size: usize| {
        print_diagnostic(&covenant::EvalError::from(covenant::DataError::TooLarge { size, limit }));
        ExitCode::from(INVALID)
    };
    let file = std::fs::File::open(data).map_err(|e| cannot(e.to_string().to_lowercase()))?;
    if let Ok(meta) = file.metadata() {
        let size = usize::try_from(meta.len()).unwrap_or(usize::MAX);
        if meta.is_file() && size > limit {
            return Err(too_large(size));
        }
    }
    let mut bytes = Vec::new();
    file.take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| cannot(e.to_string().to_lowercase()))?;
    if bytes.len() > limit {
        return Err(too_large(bytes.len()));
    }
    String::from_utf8(bytes).map_err(|e| cannot(format!("not UTF-8 text (an invalid byte at byte {})", e.utf8_error().valid_up_to() + 1)))
}

fn run(program: &Program, data: &Path, limits: Limits, scenarios: Vec<String>, all: bool, format: Format, fail_on_breach: bool) -> ExitCode {
    let text = match read_data(data, limits.max_data_bytes) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let mut asked: Vec<Option<String>> = Vec::new();
    if all {
        asked.push(None);
        asked.extend(program.scenario_names().map(|s| Some(s.to_string())));
    } else if scenarios.is_empty() {
        asked.push(None);
    } else {
        asked.extend(scenarios.into_iter().map(Some));
    }
    let mut reports: Vec<Report> = Vec::new();
    for s in &asked {
        match program.evaluate(&text, s.as_deref()) {
            Ok(r) => reports.push(r),
            Err(e) => {
                print_diagnostic(&e);
                return ExitCode::from(INVALID);
            }
        }
    }
    // The whole output is built, within `max_output_bytes`, before any of it is written.
    let limit = limits.max_output_bytes;
    let output = match format {
        Format::Json => match reports.as_slice() {
            [one] => covenant::to_json_limited(one, true, limit),
            all => covenant::to_json_limited(all, true, limit),
        }
        .map(|j| j + "\n"),
        Format::Html => {
            let page = covenant::html::report::render(program, &reports);
            if page.len() > limit {
                Err(OutputError::TooLarge { limit })
            } else {
                Ok(page)
            }
        }
        Format::Table => {
            let text = reports.iter().map(covenant::report::table::render).collect::<Vec<_>>().join("\n");
            if text.len() > limit {
                Err(OutputError::TooLarge { limit })
            } else {
                Ok(text)
            }
        }
    };
    let written = write_output(output);
    if written == ExitCode::from(OK) && fail_on_breach && reports.iter().any(covenant::report::has_breach) {
        return ExitCode::from(FAILED);
    }
    written
}

/// Writes a command's whole output to stdout: over the output limit, or unwritable, is an
/// error with exit 2.
fn write_output(output: Result<String, OutputError>) -> ExitCode {
    let output = match output {
        Ok(o) => o,
        Err(e) => {
            print_diagnostic(&covenant::EvalError::from(e));
            return ExitCode::from(INVALID);
        }
    };
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(output.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::from(OK),
        Err(e) => output_failed(&e),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum TreeFormat {
    /// Indented, for people.
    Tree,
    /// One object per node, for other tools.
    Json,
}

fn explain(program: &Program, data: &Path, limits: Limits, name: &str, scenario: Option<&str>, format: TreeFormat, depth: Option<usize>) -> ExitCode {
    let text = match read_data(data, limits.max_data_bytes) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let evaluation = match program.run(&text, scenario) {
        Ok(e) => e,
        Err(e) => {
            print_diagnostic(&e);
            return ExitCode::from(INVALID);
        }
    };
    let Some(mut why) = evaluation.explain(name) else {
        let names = evaluation.figure_names();
        let help = covenant::resolve::suggestion(name, names.iter().map(String::as_str), "figure");
        warn(format_args!("error: no figure `{}` in the report\n  help: {help}\n", covenant::text::escape_controls(name)));
        return ExitCode::from(INVALID);
    };
    if let Some(d) = depth {
        covenant::explain::prune(&mut why, d);
    }
    write_output(match format {
        TreeFormat::Json => covenant::to_json_limited(&why, true, limits.max_output_bytes).map(|j| j + "\n"),
        TreeFormat::Tree => {
            let tree = covenant::explain::render_tree(&why);
            if tree.len() > limits.max_output_bytes {
                Err(OutputError::TooLarge { limit: limits.max_output_bytes })
            } else {
                Ok(tree)
            }
        }
    })
}

fn test(files: &[PathBuf], limits: Limits, loader: &FsLoader, format: TestFormat) -> ExitCode {
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut invalid = false;
    let mut out = std::io::stdout().lock();
    let mut write = |text: std::fmt::Arguments<'_>| writeln!(out, "{text}").and_then(|()| out.flush());
    let mut outcomes: Vec<serde_json::Value> = Vec::new();
    for file in files {
        let program = match compile(file, limits, loader) {
            Ok(p) => p,
            Err(_) => {
                invalid = true;
                continue;
            }
        };
        let dir = file.parent().unwrap_or(Path::new("."));
        for t in program.run_tests_through(dir, loader) {
            if format == TestFormat::Json {
                if t.failures.is_empty() {
                    passed += 1;
                } else {
                    failed += 1;
                }
                outcomes.push(serde_json::json!({
                    "file": file.display().to_string(), "line": t.line, "title": t.title, "passed": t.failures.is_empty(), "failures": t.failures,
                }));
                continue;
            }
            let (mark, title) = (if t.failures.is_empty() { "ok  " } else { "FAIL" }, escape_controls(&t.title));
            let mut written = write(format_args!("{mark} {}:{} {title}", file.display(), t.line));
            if t.failures.is_empty() {
                passed += 1;
            } else {
                failed += 1;
            }
            for f in &t.failures {
                written = written.and_then(|()| write(format_args!("     {}", escape_controls(f))));
            }
            if let Err(e) = written {
                return output_failed(&e);
            }
        }
    }
    let summary = match format {
        TestFormat::Text => format!("{passed} passed, {failed} failed"),
        TestFormat::Json => serde_json::json!({ "tests": outcomes, "passed": passed, "failed": failed }).to_string(),
    };
    if let Err(e) = write(format_args!("{summary}")) {
        return output_failed(&e);
    }
    if invalid {
        ExitCode::from(INVALID)
    } else if failed > 0 {
        ExitCode::from(FAILED)
    } else {
        ExitCode::from(OK)
    }
}

fn schema(program: &Program, limits: Limits) -> ExitCode {
    write_output(covenant::to_json_limited(&program.input_schema(), true, limits.max_output_bytes).map(|t| t + "\n"))
}

/// Counts the bytes read through it, for the progress display.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: std::io::Read> std::io::Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn batch(program: &Program, data: &Path, scenarios: Vec<String>, threads: Option<usize>) -> ExitCode {
    use std::io::IsTerminal;

    if let Some(bad) = scenarios.iter().find(|s| !program.scenario_names().any(|n| n == s.as_str())) {
        if let Err(e) = program.evaluate_bound(covenant::value::Value::Null, Some(bad)) {
            print_diagnostic(&e);
        }
        return ExitCode::from(INVALID);
    }
    let (input, total) = match std::fs::File::open(data) {
        Ok(f) => {
            let total = f.metadata().ok().filter(std::fs::Metadata::is_file).map(|m| m.len());
            (f, total)
        }
        Err(e) => {
            warn(format_args!("error: cannot read `{}`: {}\n", data.display(), e.to_string().to_lowercase()));
            return ExitCode::from(INVALID);
        }
    };
    let read = Arc::new(AtomicU64::new(0));
    let input = std::io::BufReader::with_capacity(1 << 20, Counting { inner: input, read: Arc::clone(&read) });
    let stdout = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let started = Instant::now();
    let show = |lines: usize| warn(format_args!("\r{}", progress_line(lines, read.load(Ordering::Relaxed), total, started.elapsed().as_secs_f64())));
    let terminal = std::io::stderr().is_terminal();
    if threads.is_none() {
        // Evaluation recurses once per nesting level: give the global pool's workers the
        // stack a dedicated pool would have. Ignored if the pool already exists.
        let _ = rayon::ThreadPoolBuilder::new().stack_size(covenant::batch::worker_stack(program)).build_global();
    }
    if let Some(n) = threads.filter(|&n| n > covenant::batch::max_threads()) {
        eprintln!("note: {n} threads asked for; using {}, four per core", covenant::batch::max_threads());
    }
    let options = covenant::batch::Options { scenarios, threads, ..Default::default() };
    let done = covenant::batch::run(program, input, stdout, &options, terminal.then_some(&show as covenant::batch::Progress<'_>));
    if terminal {
        warn(format_args!("\n"));
    }
    match done {
        Ok(_) => ExitCode::from(OK),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => output_failed(&e),
        Err(e) => {
            warn(format_args!("error: the batch stopped: {}\n", e.to_string().to_lowercase()));
            ExitCode::from(INVALID)
        }
    }
}

/// `12288 lines  40960 lines/s  [#########-----------]  45%`: the bar when the input's size
/// is known.
fn progress_line(lines: usize, bytes: u64, total: Option<u64>, seconds: f64) -> String {
    let rate = if seconds > 0.0 { (lines as f64 / seconds).round() } else { 0.0 };
    let mut text = format!("{lines} lines  {rate} lines/s");
    if let Some(total) = total.filter(|t| *t > 0) {
        const WIDTH: u64 = 30;
        let done = bytes.min(total);
        let filled = usize::try_from(done * WIDTH / total).unwrap_or(0);
        let bar: String = "#".repeat(filled) + &"-".repeat(WIDTH as usize - filled.min(WIDTH as usize));
        text.push_str(&format!("  [{bar}] {:>3}%", done * 100 / total));
    }
    text + "   "
}
