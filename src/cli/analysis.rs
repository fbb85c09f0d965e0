//! The analysis commands: `breakeven`, `sweep`, `project`, `simulate`. Each compiles the program once,
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

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum SimulateFormat {
    Table,
    Json,
    Html,
}

/// More paths than this is a usage error: the run must stay bounded.
const MAX_PATHS: usize = 1_000_000;

#[derive(Args)]
pub struct SimulateArgs {
    pub file: PathBuf,
    /// The facility data, JSON matching the program's `input` schema.
    #[arg(long)]
    pub data: PathBuf,
    /// The `simulation` declared in the program.
    #[arg(long)]
    pub simulation: String,
    /// How many paths (1 to 1,000,000).
    #[arg(long, default_value_t = 10_000)]
    pub paths: usize,
    /// The generator's seed: the same seed gives the same figures on any machine.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Worker threads (default: one per core); the figures do not depend on it.
    #[arg(long)]
    pub threads: Option<u16>,
    #[arg(long, value_enum, default_value_t = SimulateFormat::Table)]
    pub format: SimulateFormat,
}

pub fn simulate(program: &Program, args: &SimulateArgs, limits: Limits) -> ExitCode {
    if args.paths == 0 || args.paths > MAX_PATHS {
        return failed(&AnalysisError::Usage(format!("`--paths {}` is out of range: run 1 to {MAX_PATHS} paths", args.paths)));
    }
    let spec = match analysis::simulate::Spec::from_program(program, &args.simulation) {
        Ok(s) => s,
        Err(e) => return failed(&e),
    };
    let input = match bind(program, &args.data, limits) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let threads = args.threads.map_or(0, |n| usize::from(n).min(covenant::batch::max_threads()));
    let run = || analysis::simulate::simulate(program, &input, &spec, args.paths, args.seed);
    let result = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(pool) => pool.install(run),
        Err(_) => run(),
    };
    match result {
        Ok(s) => write_output(match args.format {
            SimulateFormat::Json => covenant::to_json_limited(&s, true, limits.max_output_bytes).map(|j| j + "\n"),
            SimulateFormat::Table => within(analysis::simulate::render(&s), limits.max_output_bytes),
            SimulateFormat::Html => within(analysis::simulate::html(&s), limits.max_output_bytes),
        }),
        Err(e) => failed(&e),
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum StressFormat {
    Table,
    Json,
}

#[derive(Args)]
pub struct StressArgs {
    pub file: PathBuf,
    /// Facilities, one JSON object per line.
    #[arg(long)]
    pub data: PathBuf,
    /// CSV: a `scenario` column and one column per shock headed `PATH OP` (`=`, `*=`, `+=`, `-=`).
    #[arg(long = "scenarios", value_name = "CSV")]
    pub scenarios_csv: Option<PathBuf>,
    /// One of the program's scenarios; repeatable.
    #[arg(long = "scenario", value_name = "NAME")]
    pub scenarios: Vec<String>,
    /// Every scenario of the program.
    #[arg(long)]
    pub all_scenarios: bool,
    /// One row per facility and scenario, streamed: `.parquet`, `.csv` or `.jsonl`.
    #[arg(long, value_name = "RESULTS")]
    pub out: Option<PathBuf>,
    /// A figure to write in each row of `--out`: a value (`ltv`), a pool or rule field
    /// (`ltv_call.amount`); repeatable.
    #[arg(long, num_args = 1..)]
    pub show: Vec<String>,
    /// Worst facilities listed per scenario.
    #[arg(long, value_name = "K", default_value_t = covenant::analysis::stress::DEFAULT_TOP)]
    pub top: usize,
    /// Worker threads (default: one per core); the output does not depend on it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    #[arg(long, value_enum, default_value_t = StressFormat::Table)]
    pub format: StressFormat,
}

/// The file `--out` names, by its extension.
enum OutFile {
    JsonLines,
    Csv,
    Parquet,
}

pub fn stress(program: &Program, args: &StressArgs, limits: Limits) -> ExitCode {
    use analysis::stress::{self, Scenario};

    let mut scenarios: Vec<Scenario> = Vec::new();
    if let Some(csv) = &args.scenarios_csv {
        let text = match read_data(csv, limits.max_data_bytes) {
            Ok(t) => t,
            Err(code) => return code,
        };
        match stress::parse_scenarios(program, &text) {
            Ok(s) => scenarios.extend(s),
            Err(e) => {
                warn(format_args!("error: `{}`: {}\n", csv.display(), covenant::text::escape_controls(&e.to_string())));
                return ExitCode::from(INVALID);
            }
        }
    }
    let named = if args.all_scenarios { Ok(Scenario::all_scripts(program)) } else { args.scenarios.iter().map(|n| Scenario::script(program, n)).collect() };
    match named {
        Ok(s) => scenarios.extend(s),
        Err(e) => return failed(&e),
    }
    if scenarios.is_empty() {
        return failed(&AnalysisError::Usage("no scenario to run: give `--scenarios CSV`, `--scenario NAME` or `--all-scenarios`".into()));
    }
    let mut names = std::collections::HashSet::new();
    if let Some(twice) = scenarios.iter().find(|s| !names.insert(s.name.as_str())) {
        return failed(&AnalysisError::Usage(format!("scenario `{}` is asked for twice (the CSV and the program may not share a name)", twice.name)));
    }
    if let Err(e) = stress::check_show(program, &args.show) {
        return failed(&e);
    }
    let kind = match &args.out {
        None => None,
        Some(path) => match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("jsonl" | "ndjson") => Some(OutFile::JsonLines),
            Some("csv") => Some(OutFile::Csv),
            Some("parquet") => Some(OutFile::Parquet),
            _ => return failed(&AnalysisError::Usage(format!("`{}`: write the results to a `.parquet`, `.csv` or `.jsonl` file", path.display()))),
        },
    };
    let input = match std::fs::File::open(&args.data) {
        Ok(f) => std::io::BufReader::with_capacity(1 << 20, f),
        Err(e) => {
            warn(format_args!("error: cannot read `{}`: {}\n", args.data.display(), e.to_string().to_lowercase()));
            return ExitCode::from(INVALID);
        }
    };
    let columns = stress::columns(program, &args.show);
    let mut sink: Option<Box<dyn stress::RowSink>> = match (&args.out, kind) {
        (Some(path), Some(kind)) => {
            let file = match std::fs::File::create(path) {
                Ok(f) => std::io::BufWriter::with_capacity(1 << 20, f),
                Err(e) => {
                    warn(format_args!("error: cannot write `{}`: {}\n", path.display(), e.to_string().to_lowercase()));
                    return ExitCode::from(INVALID);
                }
            };
            match kind {
                OutFile::JsonLines => Some(Box::new(stress::JsonLines::new(file, columns))),
                OutFile::Csv => Some(Box::new(stress::Csv::new(file, columns))),
                #[cfg(feature = "parquet")]
                OutFile::Parquet => match stress::Parquet::new(file, columns) {
                    Ok(p) => Some(Box::new(p)),
                    Err(e) => {
                        warn(format_args!("error: cannot write `{}`: {}\n", path.display(), e.to_string().to_lowercase()));
                        return ExitCode::from(INVALID);
                    }
                },
                #[cfg(not(feature = "parquet"))]
                OutFile::Parquet => {
                    drop((file, columns));
                    return failed(&AnalysisError::Usage("this build writes no Parquet (it was built without the `parquet` feature): write `.csv` or `.jsonl`".into()));
                }
            }
        }
        _ => None,
    };
    let threads = args.threads.map(usize::from);
    if threads.is_none() {
        // As in `batch`: the global pool's workers get a dedicated pool's stack.
        let _ = rayon::ThreadPoolBuilder::new().stack_size(covenant::batch::worker_stack(program)).build_global();
    }
    let options = stress::Options { top: args.top, show: args.show.clone(), threads, ..Default::default() };
    let result = stress::run(program, &scenarios, input, sink.as_mut().map(|s| &mut **s as &mut dyn stress::RowSink), &options);
    match result {
        Ok(s) => write_output(match args.format {
            StressFormat::Json => covenant::to_json_limited(&s, true, limits.max_output_bytes).map(|j| j + "\n"),
            StressFormat::Table => within(stress::render(&s), limits.max_output_bytes),
        }),
        Err(stress::StressError::Analysis(e)) => failed(&e),
        Err(stress::StressError::Io(e)) => {
            warn(format_args!("error: the stress stopped: {}\n", e.to_string().to_lowercase()));
            ExitCode::from(INVALID)
        }
    }
}
