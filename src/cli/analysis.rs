//! The analysis commands: `breakeven`, `sweep`, `project`. Each compiles the program once,
//! binds the data once and hands both to `covenant::analysis`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use covenant::analysis::{self, AnalysisError};
use covenant::{Limits, OutputError, Program};

use super::{print_diagnostic, read_data, warn, write_output, INVALID};

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum BreakevenFormat {
    Table,
    Json,
}

#[derive(Args)]
pub struct BreakevenArgs {
    pub file: PathBuf,
    /// The facility data, JSON matching the program's `input` schema.
    #[arg(long)]
    pub data: PathBuf,
    /// The input to move (`input.btc.price`); a `[*]` path scales every element by one factor.
    #[arg(long)]
    pub input: String,
    /// The range searched, FROM..TO (default 0 to ten times today's value; factors for `[*]`).
    #[arg(long, allow_hyphen_values = true)]
    pub range: Option<String>,
    #[arg(long)]
    pub scenario: Option<String>,
    #[arg(long, value_enum, default_value_t = BreakevenFormat::Table)]
    pub format: BreakevenFormat,
}

fn failed(e: &AnalysisError) -> ExitCode {
    match e {
        AnalysisError::Eval(e) => print_diagnostic(e),
        other => warn(format_args!("error: {}\n", covenant::text::escape_controls(&other.to_string()))),
    }
    ExitCode::from(INVALID)
}

pub(super) fn bind(program: &Program, data: &Path, limits: Limits) -> Result<covenant::value::Value, ExitCode> {
    let text = read_data(data, limits.max_data_bytes)?;
    program.bind_text(&text).map_err(|e| {
        print_diagnostic(&e);
        ExitCode::from(INVALID)
    })
}

fn within(text: String, limit: usize) -> Result<String, OutputError> {
    if text.len() > limit {
        Err(OutputError::TooLarge { limit })
    } else {
        Ok(text)
    }
}

pub fn breakeven(program: &Program, args: &BreakevenArgs, limits: Limits) -> ExitCode {
    let input = match bind(program, &args.data, limits) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let range = match args.range.as_deref().map(analysis::parse_range).transpose() {
        Ok(r) => r,
        Err(e) => return failed(&e),
    };
    match analysis::breakeven::breakeven(program, &input, &args.input, range, args.scenario.as_deref()) {
        Ok(b) => write_output(match args.format {
            BreakevenFormat::Json => covenant::to_json_limited(&b, true, limits.max_output_bytes).map(|j| j + "\n"),
            BreakevenFormat::Table => within(analysis::breakeven::render(&b), limits.max_output_bytes),
        }),
        Err(e) => failed(&e),
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum GridFormat {
    Table,
    Json,
    Csv,
    Html,
}

#[derive(Args)]
pub struct SweepArgs {
    pub file: PathBuf,
    /// The facility data, JSON matching the program's `input` schema.
    #[arg(long)]
    pub data: PathBuf,
    /// `PATH=FROM..TO:STEP` sets the input to each value; `PATH*=FROM..TO:STEP` scales today's
    /// value by each factor. Once or twice (a grid).
    #[arg(long, required = true, allow_hyphen_values = true)]
    pub vary: Vec<String>,
    /// A figure to show in each cell: a value (`ltv`) or a rule's field (`ltv_call.amount`);
    /// repeatable.
    #[arg(long)]
    pub show: Vec<String>,
    #[arg(long)]
    pub scenario: Option<String>,
    #[arg(long, value_enum, default_value_t = GridFormat::Table)]
    pub format: GridFormat,
}

pub fn sweep(program: &Program, args: &SweepArgs, limits: Limits) -> ExitCode {
    let input = match bind(program, &args.data, limits) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let axes = match args.vary.iter().map(|v| analysis::sweep::Axis::parse(program, v)).collect::<Result<Vec<_>, _>>() {
        Ok(a) => a,
        Err(e) => return failed(&e),
    };
    match analysis::sweep::sweep(program, &input, axes, args.show.clone(), args.scenario.as_deref()) {
        Ok(s) => write_output(match args.format {
            GridFormat::Json => covenant::to_json_limited(&s, true, limits.max_output_bytes).map(|j| j + "\n"),
            GridFormat::Table => within(analysis::sweep::render(&s), limits.max_output_bytes),
            GridFormat::Csv => within(analysis::sweep::csv(&s), limits.max_output_bytes),
            GridFormat::Html => within(analysis::sweep::html(&s), limits.max_output_bytes),
        }),
        Err(e) => failed(&e),
    }
}

#[derive(Args)]
pub struct ProjectArgs {
    pub file: PathBuf,
    /// The facility data, JSON matching the program's `input` schema.
    #[arg(long)]
    pub data: PathBuf,
    /// CSV: a `date` column and one column per input (`PATH` sets it, `PATH *=` scales today's value).
    #[arg(long)]
    pub path: PathBuf,
    #[arg(long)]
    pub scenario: Option<String>,
    #[arg(long, value_enum, default_value_t = GridFormat::Table)]
    pub format: GridFormat,
}

pub fn project(program: &Program, args: &ProjectArgs, limits: Limits) -> ExitCode {
    let input = match bind(program, &args.data, limits) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let text = match read_data(&args.path, limits.max_data_bytes) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let table = match analysis::project::parse_path(program, &text) {
        Ok(t) => t,
        Err(e) => return failed(&e),
    };
    match analysis::project::project(program, &input, &table, args.scenario.as_deref()) {
        Ok(p) => write_output(match args.format {
            GridFormat::Json => covenant::to_json_limited(&p, true, limits.max_output_bytes).map(|j| j + "\n"),
            GridFormat::Table => within(analysis::project::render(&p), limits.max_output_bytes),
            GridFormat::Csv => within(analysis::project::csv(&p), limits.max_output_bytes),
            GridFormat::Html => within(analysis::project::html(&p), limits.max_output_bytes),
        }),
        Err(e) => failed(&e),
    }
}
