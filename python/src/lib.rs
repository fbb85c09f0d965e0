//! The native half of the `covenant` Python package: a compiled program, its reports as JSON
//! text (the Python half turns them into dicts), and Arrow batches evaluated row by row with
//! the GIL released. Reports are built by the same library calls as `covenant run` and
//! `covenant batch`, so every byte matches.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, StringBuilder};
use arrow_array::{Array, ArrayRef, LargeStringArray, RecordBatch, StringArray, StringViewArray};
use arrow_schema::{DataType, Field, Schema};
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};
use covenant::report::Report;
use covenant::{CompileError as LibCompileError, EvalError, Limits, Program};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3_arrow::PyRecordBatch;
use rayon::prelude::*;

create_exception!(covenant, CovenantError, PyException, "Base class of Covenant's errors: `code` and `message` name what went wrong.");
create_exception!(covenant, CompileError, CovenantError, "The program does not compile; `diagnostics` lists every error.");
create_exception!(covenant, DataError, CovenantError, "The facility data, or the request, cannot be evaluated.");

/// A diagnostic as the command line prints it, without colours.
fn render(d: &dyn Diagnostic) -> String {
    let mut out = String::new();
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(100);
    if handler.render_report(&mut out, d).is_err() {
        out = d.to_string();
    }
    out
}

fn code_of(d: &dyn Diagnostic) -> String {
    d.code().map(|c| c.to_string()).unwrap_or_default()
}

/// A Python exception of type `E` with `code`, `message` (one line) and `diagnostics`
/// (dicts of code, message, help and the rendered text) set on it.
fn raise<E: pyo3::PyTypeInfo>(py: Python<'_>, text: String, code: &str, message: &str, diagnostics: Vec<(String, String, Option<String>, String)>) -> PyErr {
    let err = PyErr::new::<E, _>(text);
    let value = err.value(py);
    let list: Vec<HashMap<&str, Option<String>>> = diagnostics
        .into_iter()
        .map(|(code, message, help, rendered)| {
            HashMap::from([("code", Some(code)), ("message", Some(message)), ("help", help), ("text", Some(rendered))])
        })
        .collect();
    // Setting attributes on a fresh exception object cannot fail short of memory; the
    // exception is still raised if it does.
    let _ = value.setattr("code", code);
    let _ = value.setattr("message", message);
    let _ = value.setattr("diagnostics", list);
    err
}

fn compile_error(py: Python<'_>, e: &LibCompileError) -> PyErr {
    let diagnostics: Vec<_> = e
        .diagnostics
        .iter()
        .map(|d| (code_of(&**d), d.to_string(), d.help().map(|h| h.to_string()), render(&**d)))
        .collect();
    let text = diagnostics.iter().map(|d| d.3.as_str()).collect::<Vec<_>>().join("\n");
    let first = diagnostics.first().map(|d| (d.0.clone(), d.1.clone())).unwrap_or_default();
    raise::<CompileError>(py, format!("{}\n{text}", e), &first.0, &first.1, diagnostics)
}

fn eval_error(py: Python<'_>, e: &EvalError) -> PyErr {
    let (code, message, rendered) = (code_of(e), e.to_string(), render(e));
    let help = e.help().map(|h| h.to_string());
    raise::<DataError>(py, rendered.clone(), &code, &message, vec![(code.clone(), message.clone(), help, rendered)])
}

/// Serves imported files from the sources a program was compiled from, so that a program
/// rebuilt from its pickled sources never reads the file system.
struct Memory(HashMap<PathBuf, String>);

impl covenant::resolve::Loader for Memory {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        let missing = || std::io::Error::new(std::io::ErrorKind::NotFound, "not among the program's pickled sources");
        self.0.get(path).cloned().ok_or_else(missing)
    }
}

/// A compiled program. Immutable: evaluations share it across threads.
#[pyclass(module = "covenant._native", name = "NativeProgram", frozen)]
struct NativeProgram {
    program: Arc<Program>,
}

/// One row's result: the report and its JSON, or the error's code and message.
type RowResult = Result<(Report, String), (String, String)>;

fn evaluate_text(program: &Program, text: &str, scenario: Option<&str>) -> Result<Report, EvalError> {
    let input = program.bind_text(text)?;
    program.evaluate_bound(input, scenario)
}

/// The compact report JSON, exactly as `covenant batch` writes the line (base case) or the
/// array element (one scenario).
fn evaluate_row(program: &Program, text: Option<&str>, scenario: Option<&str>) -> RowResult {
    let Some(text) = text else {
        return Err(("covenant::data::missing".into(), "the row has no facility data (its data column is null)".into()));
    };
    let failed = |e: EvalError| (code_of(&e), e.to_string());
    let report = evaluate_text(program, text, scenario).map_err(failed)?;
    let json = program.report_json(&report).map_err(|e| failed(e.into()))?;
    Ok((report, json))
}

fn money_amount(m: &Option<covenant::report::Money>) -> Option<String> {
    m.as_ref().map(|m| m.amount.clone())
}

fn ok(row: &RowResult) -> Option<&Report> {
    row.as_ref().ok().map(|(report, _)| report)
}

/// A report value as one string: a number's text, a money amount, a date or text as is,
/// anything else (a list, a record) as its JSON.
fn value_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Object(o) if o.contains_key("amount") && o.contains_key("currency") => o.get("amount").and_then(value_text),
        other => Some(other.to_string()),
    }
}

fn text_column<'a>(batch: &'a RecordBatch, name: &str) -> PyResult<Vec<Option<&'a str>>> {
    let column = batch.column_by_name(name).ok_or_else(|| {
        let names: Vec<_> = batch.schema().fields().iter().map(|f| format!("`{}`", f.name())).collect();
        PyValueError::new_err(format!("the batch has no column `{name}` (its columns are {}); pass `data_column=` to name the column holding each facility's JSON", names.join(", ")))
    })?;
    let any = column.as_any();
    if let Some(a) = any.downcast_ref::<StringArray>() {
        return Ok(a.iter().collect());
    }
    if let Some(a) = any.downcast_ref::<LargeStringArray>() {
        return Ok(a.iter().collect());
    }
    if let Some(a) = any.downcast_ref::<StringViewArray>() {
        return Ok(a.iter().collect());
    }
    Err(PyValueError::new_err(format!("column `{name}` is {}, not text: it must hold each facility's data as JSON text", column.data_type())))
}

#[pymethods]
impl NativeProgram {
    #[staticmethod]
    fn compile(py: Python<'_>, name: &str, source: &str) -> PyResult<Self> {
        match py.detach(|| Program::compile(name, source)) {
            Ok(p) => Ok(NativeProgram { program: Arc::new(p) }),
            Err(e) => Err(compile_error(py, &e)),
        }
    }

    #[staticmethod]
    fn compile_file(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        match py.detach(|| Program::compile_file(&path)) {
            Ok(p) => Ok(NativeProgram { program: Arc::new(p) }),
            Err(e) => Err(compile_error(py, &e)),
        }
    }

    /// Compiles the root file's text with its imported files served from memory, as
    /// `sources()` gave them.
    #[staticmethod]
    fn compile_sources(py: Python<'_>, name: &str, source: &str, imports: Vec<(String, String)>) -> PyResult<Self> {
        let loader = Memory(imports.into_iter().map(|(n, t)| (covenant::resolve::normalise(Path::new(&n)), t)).collect());
        match py.detach(|| Program::compile_with(name, source, Limits::default(), &loader)) {
            Ok(p) => Ok(NativeProgram { program: Arc::new(p) }),
            Err(e) => Err(compile_error(py, &e)),
        }
    }

    /// The root file's name and text, and every imported file's (the standard library's
    /// modules aside: they are part of the package).
    fn sources(&self) -> (String, String, Vec<(String, String)>) {
        let map = self.program.sources();
        let mut files = (0..map.len()).filter_map(|i| map.file(covenant::span::FileId(i as u32)));
        let (root_name, root_text) = files.next().map(|f| (f.name.clone(), f.text.to_string())).unwrap_or_default();
        let imports = files.filter(|f| !f.name.starts_with("<std.")).map(|f| (f.name.clone(), f.text.to_string())).collect();
        (root_name, root_text, imports)
    }

    #[getter]
    fn hash(&self) -> String {
        format!("{:016x}", self.program.content_hash())
    }

    #[getter]
    fn facility(&self) -> Option<String> {
        self.program.facility().map(str::to_string)
    }

    #[getter]
    fn scenarios(&self) -> Vec<String> {
        self.program.scenario_names().map(str::to_string).collect()
    }

    #[getter]
    fn input_schema(&self) -> String {
        self.program.input_schema().to_string()
    }

    /// The report as JSON text: compact (a `covenant batch` line) or pretty (`covenant run
    /// --format json`, without its final newline).
    #[pyo3(signature = (data, scenario=None, pretty=false))]
    fn report_json(&self, py: Python<'_>, data: &str, scenario: Option<&str>, pretty: bool) -> PyResult<String> {
        let program = &*self.program;
        let result = py.detach(|| {
            let report = evaluate_text(program, data, scenario)?;
            Ok::<_, EvalError>(covenant::to_json_limited(&report, pretty, program.limits().max_output_bytes)?)
        });
        result.map_err(|e| eval_error(py, &e))
    }

    /// Reports for many facilities, evaluated in parallel with the GIL released: each the
    /// compact JSON text, or the error's (code, message, rendered text).
    #[pyo3(signature = (data, scenario=None))]
    fn report_json_many(&self, py: Python<'_>, data: Vec<String>, scenario: Option<&str>) -> Vec<(Option<String>, Option<(String, String, String)>)> {
        let program = &*self.program;
        py.detach(|| {
            data.par_iter()
                .map(|text| {
                    let report = evaluate_text(program, text, scenario).and_then(|r| Ok(program.report_json(&r)?));
                    match report {
                        Ok(json) => (Some(json), None),
                        Err(e) => (None, Some((code_of(&e), e.to_string(), render(&e)))),
                    }
                })
                .collect()
        })
    }

    /// The explanation tree of one figure as pretty JSON, as `covenant explain --format json`
    /// writes it (without its final newline).
    #[pyo3(signature = (data, name, scenario=None))]
    fn explain_json(&self, py: Python<'_>, data: &str, name: &str, scenario: Option<&str>) -> PyResult<String> {
        let program = &*self.program;
        let result = py.detach(|| {
            let evaluation = program.run(data, scenario).map_err(Ok)?;
            let Some(why) = evaluation.explain(name) else {
                let names = evaluation.figure_names();
                let help = covenant::resolve::suggestion(name, names.iter().map(String::as_str), "figure");
                return Err(Err(format!("no figure `{}` in the report; {help}", covenant::text::escape_controls(name))));
            };
            covenant::to_json_limited(&why, true, program.limits().max_output_bytes).map_err(|e| Ok(EvalError::from(e)))
        });
        result.map_err(|e| match e {
            Ok(e) => eval_error(py, &e),
            Err(message) => raise::<DataError>(py, message.clone(), "covenant::usage::figure", &message, Vec::new()),
        })
    }

    /// One output row per input row: the id column passed through, the scenario, the error
    /// (code and message) of a row that fails, each rule's status and figures as text, the
    /// chosen values, and the report's JSON exactly as `covenant batch` writes it.
    #[pyo3(signature = (batch, scenario=None, data_column="facility", id_column=Some("id"), values=Vec::new()))]
    fn evaluate_arrow<'py>(
        &self,
        py: Python<'py>,
        batch: PyRecordBatch,
        scenario: Option<&str>,
        data_column: &str,
        id_column: Option<&str>,
        values: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let batch = batch.into_inner();
        let texts = text_column(&batch, data_column)?;
        let program = &*self.program;
        let ir = program.ir();
        if let Some(s) = scenario {
            if !program.scenario_names().any(|n| n == s) {
                // The error every row would give, raised once.
                let known = program.scenario_names().collect::<Vec<_>>().join(", ");
                let help = covenant::resolve::suggestion(s, program.scenario_names(), "scenario");
                let help = if known.is_empty() { "the program declares no scenarios".into() } else { format!("{help} (the scenarios are {known})") };
                return Err(eval_error(py, &EvalError::UnknownScenario { name: s.into(), help }));
            }
        }
        let out = py.detach(|| -> Result<RecordBatch, arrow_schema::ArrowError> {
            let rows: Vec<RowResult> = texts.par_iter().map(|t| evaluate_row(program, *t, scenario)).collect();
            let mut columns: Vec<(Field, ArrayRef)> = Vec::new();
            if let Some(id) = id_column.and_then(|name| batch.schema().field_with_name(name).ok().cloned()) {
                if let Some(col) = batch.column_by_name(id.name()) {
                    columns.push((id, col.clone()));
                }
            }
            let text = |name: String, get: &dyn Fn(&RowResult) -> Option<String>| -> (Field, ArrayRef) {
                let mut b = StringBuilder::with_capacity(rows.len(), rows.len() * 8);
                for r in &rows {
                    b.append_option(get(r));
                }
                (Field::new(name, DataType::Utf8, true), Arc::new(b.finish()))
            };
            columns.push(text("scenario".into(), &|_| scenario.map(str::to_string)));
            columns.push(text("error_code".into(), &|r| r.as_ref().err().map(|e| e.0.clone())));
            columns.push(text("error".into(), &|r| r.as_ref().err().map(|e| e.1.clone())));
            for c in &ir.covenants {
                let name = &*c.name;
                columns.push(text(format!("covenant_{name}_status"), &|r| ok(r).and_then(|rep| rep.covenants.get(name)).map(|c| c.status.to_string())));
                columns.push(text(format!("covenant_{name}_headroom"), &|r| ok(r).and_then(|rep| rep.covenants.get(name)).and_then(|c| c.headroom.clone())));
            }
            for c in &ir.margin_calls {
                let name = &*c.name;
                columns.push(text(format!("call_{name}_status"), &|r| ok(r).and_then(|rep| rep.margin_calls.get(name)).map(|c| c.status.to_string())));
                columns.push(text(format!("call_{name}_amount"), &|r| ok(r).and_then(|rep| rep.margin_calls.get(name)).and_then(|c| money_amount(&c.amount))));
            }
            for l in &ir.liquidations {
                let name = &*l.name;
                let mut b = BooleanBuilder::with_capacity(rows.len());
                for r in &rows {
                    b.append_option(ok(r).and_then(|rep| rep.liquidations.get(name)).and_then(|l| l.triggered));
                }
                columns.push((Field::new(format!("liquidation_{name}_triggered"), DataType::Boolean, true), Arc::new(b.finish())));
                columns.push(text(format!("liquidation_{name}_proceeds"), &|r| ok(r).and_then(|rep| rep.liquidations.get(name)).and_then(|l| money_amount(&l.proceeds))));
                columns.push(text(format!("liquidation_{name}_shortfall"), &|r| ok(r).and_then(|rep| rep.liquidations.get(name)).and_then(|l| money_amount(&l.shortfall))));
            }
            for d in &ir.defaults {
                let name = &*d.name;
                columns.push(text(format!("default_{name}_status"), &|r| ok(r).and_then(|rep| rep.defaults.get(name)).map(|d| d.status.to_string())));
            }
            for v in &values {
                columns.push(text(format!("value_{v}"), &|r| ok(r).and_then(|rep| rep.values.get(v)).and_then(value_text)));
            }
            columns.push(text("report".into(), &|r| r.as_ref().ok().map(|(_, json)| json.clone())));
            let (fields, columns): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
            RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        });
        let out = out.map_err(|e| PyValueError::new_err(format!("cannot build the result batch: {e}")))?;
        PyRecordBatch::new(out).into_pyarrow(py)
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeProgram>()?;
    m.add("CovenantError", m.py().get_type::<CovenantError>())?;
    m.add("CompileError", m.py().get_type::<CompileError>())?;
    m.add("DataError", m.py().get_type::<DataError>())?;
    Ok(())
}
