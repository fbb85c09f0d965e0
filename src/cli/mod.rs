//! The command line: clap commands over the library. Reports go to stdout, diagnostics to
//! stderr; exit 0 on success, 1 when tests fail (or a breach with `--fail-on-breach`), 2 on
//! an invalid program, invalid data or bad usage.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};

use covenant::{Program, Report};

#[derive(Parser)]
#[command(name = "covenant", version, about = "Evaluate secured-lending covenants, margin calls and liquidations")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Table,
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
    /// Run the tests written in the scripts.
    Test { files: Vec<PathBuf> },
    /// Evaluate many facilities: JSON Lines in, one JSON report per line out, in order.
    Batch {
        file: PathBuf,
        /// Facilities, one JSON object per line.
        #[arg(long)]
        data: PathBuf,
        /// A scenario to evaluate for every facility; repeatable (a line then holds an array).
        #[arg(long = "scenario")]
        scenarios: Vec<String>,
    },
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

fn print_diagnostic(d: &dyn Diagnostic) {
    eprint!("{}", render_diagnostic(d));
}

fn compile(file: &Path) -> Result<Program, ExitCode> {
    Program::compile_file(file).map_err(|e| {
        for d in &e.diagnostics {
            print_diagnostic(&**d);
        }
        eprintln!("{}: {e}", file.display());
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
    match cli.command {
        Command::Check { file } => match compile(&file) {
            Ok(_) => {
                eprintln!("{}: ok", file.display());
                ExitCode::from(OK)
            }
            Err(code) => code,
        },
        Command::Run { file, data, scenarios, all_scenarios, format, fail_on_breach } => {
            run(&file, &data, scenarios, all_scenarios, format, fail_on_breach)
        }
        Command::Test { files } => test(&files),
        Command::Batch { file, data, scenarios } => batch(&file, &data, &scenarios),
    }
}

fn run(file: &Path, data: &Path, scenarios: Vec<String>, all: bool, format: Format, fail_on_breach: bool) -> ExitCode {
    let program = match compile(file) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let text = match std::fs::read_to_string(data) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {}", data.display(), e.to_string().to_lowercase());
            return ExitCode::from(INVALID);
        }
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
    let mut stdout = std::io::stdout().lock();
    let written = match format {
        Format::Json => {
            let json = if reports.len() == 1 { reports.first().map(serde_json::to_string_pretty) } else { Some(serde_json::to_string_pretty(&reports)) };
            match json {
                Some(Ok(j)) => writeln!(stdout, "{j}"),
                _ => Ok(()),
            }
        }
        Format::Table => {
            let text = reports.iter().map(covenant::report::table::render).collect::<Vec<_>>().join("\n");
            write!(stdout, "{text}")
        }
    };
    if written.is_err() {
        return ExitCode::from(INVALID);
    }
    if fail_on_breach && reports.iter().any(covenant::report::has_breach) {
        return ExitCode::from(FAILED);
    }
    ExitCode::from(OK)
}

fn test(files: &[PathBuf]) -> ExitCode {
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut invalid = false;
    for file in files {
        let program = match compile(file) {
            Ok(p) => p,
            Err(_) => {
                invalid = true;
                continue;
            }
        };
        let dir = file.parent().unwrap_or(Path::new("."));
        for t in program.run_tests(dir) {
            if t.failures.is_empty() {
                passed += 1;
                println!("ok   {}:{} {}", file.display(), t.line, t.title);
            } else {
                failed += 1;
                println!("FAIL {}:{} {}", file.display(), t.line, t.title);
                for f in &t.failures {
                    println!("     {f}");
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if invalid {
        ExitCode::from(INVALID)
    } else if failed > 0 {
        ExitCode::from(FAILED)
    } else {
        ExitCode::from(OK)
    }
}

/// Lines evaluated in parallel at a time: bounds memory whatever the file's size.
const BATCH_CHUNK: usize = 4096;

fn batch(file: &Path, data: &Path, scenarios: &[String]) -> ExitCode {
    use std::io::{BufRead, IsTerminal};

    use rayon::prelude::*;

    let program = match compile(file) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Some(bad) = scenarios.iter().find(|s| !program.scenario_names().any(|n| n == s.as_str())) {
        if let Err(e) = program.evaluate_bound(covenant::value::Value::Null, Some(bad)) {
            print_diagnostic(&e);
        }
        return ExitCode::from(INVALID);
    }
    let input = match std::fs::File::open(data) {
        Ok(f) => std::io::BufReader::with_capacity(1 << 20, f),
        Err(e) => {
            eprintln!("error: cannot read `{}`: {}", data.display(), e.to_string().to_lowercase());
            return ExitCode::from(INVALID);
        }
    };
    let progress = std::io::stderr().is_terminal();
    let mut stdout = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let mut lines = input.lines();
    let mut done = 0usize;
    loop {
        let chunk: Vec<(usize, std::io::Result<String>)> = lines.by_ref().take(BATCH_CHUNK).enumerate().map(|(i, l)| (done + i + 1, l)).collect();
        if chunk.is_empty() {
            break;
        }
        let outputs: Vec<String> = chunk.into_par_iter().map(|(n, line)| batch_line(&program, n, line, scenarios)).collect();
        for o in &outputs {
            if writeln!(stdout, "{o}").is_err() {
                return ExitCode::from(INVALID);
            }
        }
        done += outputs.len();
        if progress {
            eprint!("\r{done} facilities");
        }
    }
    if progress {
        eprintln!();
    }
    if stdout.flush().is_err() {
        return ExitCode::from(INVALID);
    }
    ExitCode::from(OK)
}

/// One output line: the report (an array of reports with several scenarios), or an error
/// object naming the input line.
pub fn batch_line(program: &Program, line_number: usize, line: std::io::Result<String>, scenarios: &[String]) -> String {
    let error = |code: String, message: String| serde_json::json!({"line": line_number, "error": {"code": code, "message": message}}).to_string();
    let text = match line {
        Ok(t) => t,
        Err(e) => return error("covenant::data::read".into(), e.to_string()),
    };
    let code_of = |e: &covenant::EvalError| e.code().map(|c| c.to_string()).unwrap_or_default();
    let binder = covenant::data::Binder { max_list_len: program.limits().max_list_len };
    if text.len() > program.limits().max_data_bytes {
        let e = covenant::EvalError::from(covenant::DataError::TooLarge { size: text.len(), limit: program.limits().max_data_bytes });
        return error(code_of(&e), e.to_string());
    }
    let bound = binder.parse(&text).map_err(covenant::EvalError::from).and_then(|json| program.bind(&json));
    let input = match bound {
        Ok(i) => i,
        Err(e) => return error(code_of(&e), e.to_string()),
    };
    let names: Vec<Option<&str>> = if scenarios.is_empty() { vec![None] } else { scenarios.iter().map(|s| Some(s.as_str())).collect() };
    let mut reports = Vec::with_capacity(names.len());
    for name in names {
        match program.evaluate_bound(input.clone(), name) {
            Ok(r) => reports.push(r),
            Err(e) => return error(code_of(&e), e.to_string()),
        }
    }
    let json = match reports.as_slice() {
        [one] if scenarios.is_empty() => serde_json::to_string(one),
        all => serde_json::to_string(all),
    };
    json.unwrap_or_else(|e| error("covenant::report::serialise".into(), e.to_string()))
}
