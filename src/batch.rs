//! Batch evaluation: JSON Lines in, exactly one line out per line in, in the same order.
//!
//! Each output line is the facility's report (an array of reports when several scenarios are
//! asked for), or an error object naming the input line:
//! `{"line": 3, "error": {"code": "covenant::data::json", "message": "…"}}`. A line that
//! fails never stops the batch.
//!
//! Lines are read and evaluated in chunks (at most `chunk_lines` lines and, beyond the first
//! line, `chunk_bytes` bytes), so memory stays bounded whatever the input's size. A line over
//! `max_data_bytes` is skipped through without being held.
//!
//! ```
//! let program = covenant::Program::compile("p.cov", "input { as_of: Date  a: Number }\nlet b = input.a * 2\n").unwrap();
//! let input = "{\"as_of\": \"2026-03-31\", \"a\": 4}\nnot json\n";
//! let mut out = Vec::new();
//! let summary = covenant::batch::run(&program, input.as_bytes(), &mut out, &Default::default(), None).unwrap();
//! assert_eq!((summary.lines, summary.ok, summary.failed), (2, 1, 1));
//! assert_eq!(String::from_utf8(out).unwrap().lines().count(), 2);
//! ```

use std::io::{self, BufRead, Write};

use miette::Diagnostic;
use rayon::prelude::*;

use crate::{DataError, EvalError, Program};

/// Lines evaluated in parallel at a time, by default.
pub const DEFAULT_CHUNK_LINES: usize = 4096;
/// Bytes of input gathered into one chunk at most (a single longer line is still one chunk).
pub const DEFAULT_CHUNK_BYTES: usize = 64 << 20;

/// How to run a batch.
#[derive(Clone, Debug)]
pub struct Options {
    /// Scenarios evaluated for every line, in order; empty for the base case alone. With any
    /// scenario a line's output is an array of reports.
    pub scenarios: Vec<String>,
    /// Lines per chunk (at least 1).
    pub chunk_lines: usize,
    /// Input bytes per chunk, beyond its first line.
    pub chunk_bytes: usize,
    /// Worker threads: a dedicated pool of this many, or rayon's global pool when `None`. At
    /// most [`max_threads`]: more are clamped to it.
    pub threads: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options { scenarios: Vec::new(), chunk_lines: DEFAULT_CHUNK_LINES, chunk_bytes: DEFAULT_CHUNK_BYTES, threads: None }
    }
}

/// What a batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Lines read, and lines written.
    pub lines: usize,
    /// Lines that gave a report.
    pub ok: usize,
    /// Lines that gave an error object.
    pub failed: usize,
}

/// Called after each chunk with the number of lines done so far.
pub type Progress<'a> = &'a (dyn Fn(usize) + Sync);

/// One input line as read: its text, or why it has none.
pub(crate) enum Line {
    Text(String),
    NotUtf8(usize),
    TooLarge(usize),
}

/// The most worker threads a batch starts: four per core. More would only add stacks and
/// scheduling (thousands of threads can exhaust the address space before they all start).
pub fn max_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get).saturating_mul(4)
}

/// Stack for a dedicated pool's workers: evaluation recurses once per nesting level.
pub fn worker_stack(program: &Program) -> usize {
    (8 << 20) + program.limits().max_nesting.saturating_mul(16 << 10)
}

/// Evaluates every line of `input` and writes one line per input line to `output`, in order.
/// Fails only when reading or writing fails, or a thread pool cannot be built.
///
/// Any [`BufRead`] and [`Write`] will do: a file and stdout, or bytes in memory.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// let program = covenant::Program::compile("p.cov", r#"
///     input { as_of: Date  debt: Money(USD)  pledged: Money(USD) }
///     let ltv = input.debt / input.pledged
///     covenant max_ltv { require ltv <= 80% }
///     scenario crash "Collateral -40%" { input.pledged *= 60% }
/// "#).unwrap();
/// let input: &[u8] = br#"{"as_of": "2026-03-31", "debt": "70", "pledged": "100"}
/// {"as_of": "2026-03-31", "debt": "70"}
/// {"as_of": "2026-03-31", "debt": "40", "pledged": "100"}
/// "#;
/// let options = covenant::batch::Options {
///     scenarios: vec!["crash".into()],
///     threads: Some(2),
///     ..Default::default()
/// };
/// let done = AtomicUsize::new(0);
/// let progress = |lines: usize| done.store(lines, Ordering::Relaxed);
/// let mut out = Vec::new();
/// let summary = covenant::batch::run(&program, input, &mut out, &options, Some(&progress)).unwrap();
/// assert_eq!(summary, covenant::batch::Summary { lines: 3, ok: 2, failed: 1 });
/// assert_eq!(done.load(Ordering::Relaxed), 3);
///
/// let out = String::from_utf8(out).unwrap();
/// let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
/// assert_eq!(lines.len(), 3);
/// // With scenarios, a line's output is an array of reports, one per scenario.
/// assert_eq!(lines[0][0]["scenario"], "crash");
/// assert_eq!(lines[0][0]["covenants"]["max_ltv"]["status"], "breach"); // 70 / 60
/// assert_eq!(lines[2][0]["covenants"]["max_ltv"]["status"], "pass"); // 40 / 60
/// // The bad line gives an error object naming it; the lines after it are still evaluated.
/// assert_eq!(lines[1]["line"], 2);
/// assert_eq!(lines[1]["error"]["code"], "covenant::data::missing");
/// assert!(lines[1]["error"]["message"].as_str().unwrap().contains("pledged"));
/// ```
pub fn run<R: BufRead, W: Write>(
    program: &Program,
    mut input: R,
    mut output: W,
    options: &Options,
    progress: Option<Progress<'_>>,
) -> io::Result<Summary> {
    let pool = match options.threads {
        Some(n) => Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(n.clamp(1, max_threads()))
                .stack_size(worker_stack(program))
                .thread_name(|i| format!("covenant-batch-{i}"))
                .build()
                .map_err(io::Error::other)?,
        ),
        None => None,
    };
    let max_line = program.limits().max_data_bytes;
    let chunk_lines = options.chunk_lines.max(1);
    let mut summary = Summary::default();
    let mut chunk: Vec<(usize, Line)> = Vec::with_capacity(chunk_lines.min(DEFAULT_CHUNK_LINES));
    loop {
        chunk.clear();
        let mut bytes = 0usize;
        while chunk.len() < chunk_lines && (chunk.is_empty() || bytes < options.chunk_bytes) {
            let Some(line) = read_line(&mut input, max_line)? else { break };
            if let Line::Text(t) = &line {
                bytes = bytes.saturating_add(t.len());
            }
            chunk.push((summary.lines + chunk.len() + 1, line));
        }
        if chunk.is_empty() {
            break;
        }
        let work = |chunk: &mut Vec<(usize, Line)>| -> Vec<(String, bool)> {
            chunk.par_drain(..).map(|(n, line)| evaluate_line(program, n, line, &options.scenarios)).collect()
        };
        let outputs = match &pool {
            Some(p) => p.install(|| work(&mut chunk)),
            None => work(&mut chunk),
        };
        for (text, ok) in &outputs {
            output.write_all(text.as_bytes())?;
            output.write_all(b"\n")?;
            if *ok {
                summary.ok += 1;
            } else {
                summary.failed += 1;
            }
        }
        summary.lines += outputs.len();
        if let Some(report) = progress {
            report(summary.lines);
        }
    }
    output.flush()?;
    Ok(summary)
}

/// Reads one line (without its `\n` or `\r\n`), holding at most `max` bytes of it: a longer
/// line is read through and reported by its size. `None` at the end of the input.
pub(crate) fn read_line<R: BufRead>(input: &mut R, max: usize) -> io::Result<Option<Line>> {
    let mut buf: Vec<u8> = Vec::new();
    let mut size = 0usize;
    let mut any = false;
    let mut ended = false;
    while !ended {
        let available = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            break;
        }
        any = true;
        let take = match available.iter().position(|&b| b == b'\n') {
            Some(at) => {
                ended = true;
                at + 1
            }
            None => available.len(),
        };
        let part = available.get(..take).unwrap_or(available);
        size = size.saturating_add(take);
        // Room for the line ending beyond the limit.
        if size <= max.saturating_add(2) {
            buf.extend_from_slice(part);
        } else if !buf.is_empty() {
            buf = Vec::new();
        }
        input.consume(take);
    }
    if !any {
        return Ok(None);
    }
    // Past the limit and its line ending, the text was not kept.
    if size > max.saturating_add(2) {
        return Ok(Some(Line::TooLarge(size - usize::from(ended))));
    }
    if buf.ends_with(b"\n") {
        buf.pop();
        if buf.ends_with(b"\r") {
            buf.pop();
        }
    }
    if buf.len() > max {
        return Ok(Some(Line::TooLarge(buf.len())));
    }
    Ok(Some(match String::from_utf8(buf) {
        Ok(t) => Line::Text(t),
        Err(e) => Line::NotUtf8(e.utf8_error().valid_up_to()),
    }))
}

/// The error object written for a failed line.
fn error_line(line_number: usize, code: &str, message: &str) -> String {
    serde_json::json!({"line": line_number, "error": {"code": code, "message": message}}).to_string()
}

fn code_of(e: &dyn Diagnostic) -> String {
    e.code().map(|c| c.to_string()).unwrap_or_default()
}

/// One output line and whether it is a report (rather than an error object).
fn evaluate_line(program: &Program, line_number: usize, line: Line, scenarios: &[String]) -> (String, bool) {
    let failed = |e: &EvalError| (error_line(line_number, &code_of(e), &e.to_string()), false);
    let text = match line {
        Line::Text(t) => t,
        Line::NotUtf8(at) => {
            return (error_line(line_number, "covenant::data::read", &format!("the line is not UTF-8 text (an invalid byte at byte {})", at + 1)), false)
        }
        Line::TooLarge(size) => return failed(&DataError::TooLarge { size, limit: program.limits().max_data_bytes }.into()),
    };
    match report_line(program, &text, scenarios) {
        Ok(json) => (json, true),
        Err(e) => failed(&e),
    }
}

/// The output for one line of text: its report as JSON, or an array of reports with
/// scenarios; an error when the data is refused or the JSON would pass `max_output_bytes`.
pub fn report_line(program: &Program, text: &str, scenarios: &[String]) -> Result<String, EvalError> {
    let limits = program.limits();
    if text.len() > limits.max_data_bytes {
        return Err(DataError::TooLarge { size: text.len(), limit: limits.max_data_bytes }.into());
    }
    let input = program.bind_text(text)?;
    if scenarios.is_empty() {
        let report = program.evaluate_bound(input, None)?;
        return Ok(program.report_json(&report)?);
    }
    let mut reports = Vec::with_capacity(scenarios.len());
    for name in scenarios {
        reports.push(program.evaluate_bound(input.clone(), Some(name))?);
    }
    Ok(program.report_json(&reports)?)
}
