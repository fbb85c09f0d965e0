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
