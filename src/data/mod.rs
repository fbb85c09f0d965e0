//! Facility data (JSON) → a value bound to the input schema. Decimals are read from the JSON
//! text itself, never through binary floating point; every error names its JSON path.

use std::sync::Arc;

use miette::Diagnostic;
use rust_decimal::Decimal;
use serde_json::Value as Json;
use thiserror::Error;

use crate::dates::Date;
use crate::types::{Ccy, RecordType, Type};
use crate::value::Value;

/// Facility data that does not fit the program's schema, or that a `check` rejects.
#[derive(Debug, Error, Diagnostic, Clone, PartialEq)]
pub enum DataError {
    #[error("the facility data is not valid JSON: {message} (line {line}, column {column})")]
    #[diagnostic(code(covenant::data::json), help("the data is one JSON object matching the program's `input` schema"))]
    Json { message: String, line: usize, column: usize },

    #[error("{path}: expected {expected}, found {found}")]
    #[diagnostic(code(covenant::data::type_mismatch), help("{help}"))]
    Mismatch { path: String, expected: String, found: String, help: String },

    #[error("{path}: missing")]
    #[diagnostic(code(covenant::data::missing), help("the schema requires `{field}` ({ty}); add it to the data, or declare it optional with `?`"))]
    Missing { path: String, field: String, ty: String },

    #[error("{path}: currency {found}, expected {expected}")]
    #[diagnostic(code(covenant::data::currency), help("the schema holds this amount in {expected}; convert it before loading, or change the schema"))]
    Currency { path: String, expected: String, found: String },

    #[error("{path}: {count} elements, over the limit of {limit} (`max_list_len`)")]
    #[diagnostic(
        code(covenant::limit::collection),
        help("raise `max_list_len` in the limits (`--max-list-len` on the command line) if this facility really holds that many")
    )]
    TooMany { path: String, count: usize, limit: usize },

    #[error("the list at line {line}, column {column} has more than {limit} elements (`max_list_len`)")]
    #[diagnostic(
        code(covenant::limit::collection),
        help("lists are counted before the data is parsed; raise `max_list_len` in the limits (`--max-list-len` on the command line) if this facility really holds that many")
    )]
    ListTooLong { line: usize, column: usize, limit: usize },

    #[error("{at}: a number of more than {limit} digits (`max_number_digits`)")]
    #[diagnostic(
        code(covenant::limit::number_digits),
        help("a number holds at most 28 significant digits; longer texts are refused by length before they are read (raise `max_number_digits`, `--max-number-digits` on the command line, only to accept more leading or trailing zeros)")
    )]
    TooManyDigits { at: String, limit: usize },

    #[error("the facility data is {size} bytes, over the limit of {limit} (`max_data_bytes`)")]
    #[diagnostic(code(covenant::limit::data_size), help("raise `max_data_bytes` in the limits (`--max-data-bytes` on the command line)"))]
    TooLarge { size: usize, limit: usize },

    #[error("check failed: {message}")]
    #[diagnostic(code(covenant::data::check), help("the program's `check` at line {line} rejects this facility"))]
    Check { message: String, line: usize },
}

/// Reads and binds data under the limits on lists and numbers (`Limits::binder`).
pub struct Binder {
    pub max_list_len: usize,
    pub max_number_digits: usize,
}

fn describe(j: &Json) -> String {
    match j {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => format!("the number {n}"),
        Json::String(s) => {
            let short: String = s.chars().take(40).collect();
            format!("\"{short}\"")
        }
        Json::Array(_) => "a list".into(),
        Json::Object(_) => "an object".into(),
    }
}

/// A decimal from JSON number text or a string holding a decimal, exactly. Texts over 64
/// characters are refused; the binder refuses by `max_number_digits` instead.
pub fn parse_decimal(text: &str) -> Option<Decimal> {
    if text.trim().len() > 64 {
        return None;
    }
    decimal_text(text)
}

fn decimal_text(text: &str) -> Option<Decimal> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if t.contains(['e', 'E']) {
        return Decimal::from_scientific(t).ok();
    }
    if !t.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-' || c == '+') {
        return None;
    }
    Decimal::from_str_exact(t).ok()
}

/// Where the data first passes a limit on lists or numbers: one linear pass over the bytes,
/// before any parsing, so that ten million elements or a million-digit number cost no
/// allocation. Anything malformed is left for the JSON parser to report.
fn first_over_limit(text: &str, max_list_len: usize, max_number_digits: usize) -> Option<(usize, Over)> {
    // Element counts of the open arrays; objects hold `None`. Nesting past the JSON
    // parser's own limit (128) is not tracked: the parser refuses it.
    const TRACKED: usize = 256;
    let bytes = text.as_bytes();
    let mut open: Vec<Option<(usize, usize)>> = Vec::new();
    let mut depth: usize = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                i += 1;
                while let Some(&c) = bytes.get(i) {
                    match c {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth <= TRACKED {
                    // An array's first element is counted where the array opens; each comma
                    // counts one more.
                    let first = b == b'[' && !next_is_close(bytes, i + 1);
                    if first && max_list_len == 0 {
                        return Some((i, Over::List));
                    }
                    open.push((b == b'[').then_some((i, usize::from(first))));
                }
            }
            b']' | b'}' => {
                if depth <= TRACKED {
                    open.pop();
                }
                depth = depth.saturating_sub(1);
            }
            b',' if depth <= TRACKED => {
                if let Some(Some((start, n))) = open.last_mut() {
                    *n += 1;
                    if *n > max_list_len {
                        return Some((*start, Over::List));
                    }
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                let mut digits = 0usize;
                while let Some(&c) = bytes.get(i) {
                    match c {
                        b'0'..=b'9' => digits += 1,
                        b'-' | b'+' | b'.' | b'e' | b'E' => {}
                        _ => break,
                    }
                    if digits > max_number_digits {
                        return Some((start, Over::Digits));
                    }
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn next_is_close(bytes: &[u8], from: usize) -> bool {
    bytes.get(from..).unwrap_or(&[]).iter().find(|c| !c.is_ascii_whitespace()) == Some(&b']')
}

#[derive(Clone, Copy)]
enum Over {
    List,
    Digits,
}

/// One-based line and column (in characters) of a byte offset.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// How many ASCII digits a number's text holds.
fn digit_count(text: &str) -> usize {
    text.bytes().filter(u8::is_ascii_digit).count()
}

impl Binder {
    /// Parses JSON text, after a scan that refuses lists and numbers over the limits.
    pub fn parse(&self, text: &str) -> Result<Json, DataError> {
        if let Some((at, over)) = first_over_limit(text, self.max_list_len, self.max_number_digits) {
            let (line, column) = line_column(text, at);
            return Err(match over {
                Over::List => DataError::ListTooLong { line, column, limit: self.max_list_len },
                Over::Digits => DataError::TooManyDigits { at: format!("line {line}, column {column}"), limit: self.max_number_digits },
            });
        }
        serde_json::from_str(text).map_err(|e| DataError::Json {
            message: e.to_string().split(" at line").next().unwrap_or("").to_string(),
            line: e.line(),
            column: e.column(),
        })
    }

    pub fn bind(&self, json: &Json, schema: &Arc<RecordType>) -> Result<Value, DataError> {
        let mut path = String::from("input");
        self.record(json, schema, &mut path)
    }

    /// A number, or a string read as one, refused by its length over `max_number_digits`.
    fn digits_within(&self, json: &Json, path: &str) -> Result<(), DataError> {
        let digits = match json {
            Json::Number(n) => digit_count(n.as_str()),
            Json::String(s) => digit_count(s),
            _ => 0,
        };
        if digits > self.max_number_digits {
            return Err(DataError::TooManyDigits { at: path.to_string(), limit: self.max_number_digits });
        }
        Ok(())
    }

    fn record(&self, json: &Json, r: &RecordType, path: &mut String) -> Result<Value, DataError> {
        let Json::Object(map) = json else {
            return Err(DataError::Mismatch { path: path.clone(), expected: "an object".into(), found: describe(json), help: "records are JSON objects".into() });
        };
        let mut fields = Vec::with_capacity(r.fields.len());
        for (name, ty) in &r.fields {
            let len = path.len();
            path.push('.');
            path.push_str(name);
            let v = match (map.get(&**name), ty) {
                (None | Some(Json::Null), Type::Optional(_)) => Value::Null,
                (None, _) => return Err(DataError::Missing { path: path.clone(), field: name.to_string(), ty: ty.to_string() }),
                (Some(j), t) => self.value(j, t, path)?,
            };
            path.truncate(len);
            fields.push(v);
        }
        Ok(Value::Record(fields.into()))
    }

    fn value(&self, json: &Json, ty: &Type, path: &mut String) -> Result<Value, DataError> {
        let mismatch = |expected: &str, help: &str| DataError::Mismatch {
            path: path.clone(),
            expected: expected.into(),
            found: describe(json),
            help: help.into(),
        };
        match ty {
            Type::Optional(inner) => match json {
                Json::Null => Ok(Value::Null),
                j => self.value(j, inner, path),
            },
            Type::Number => {
                self.digits_within(json, path)?;
                decimal(json).map(Value::Num).ok_or_else(|| mismatch("a decimal number", "write a JSON number (1250000) or a decimal string (\"0.035\")"))
            }
            Type::Money(Ccy::Code(code)) => {
                if let Json::Object(map) = json {
                    if let Some(a) = map.get("amount") {
                        self.digits_within(a, &format!("{path}.amount"))?;
                    }
                    let amount = map.get("amount").and_then(decimal);
                    let currency = map.get("currency").and_then(Json::as_str);
                    return match (amount, currency) {
                        (Some(a), Some(c)) if c == &**code => Ok(Value::Num(a)),
                        (Some(_), Some(c)) => Err(DataError::Currency { path: path.clone(), expected: code.to_string(), found: c.to_string() }),
                        _ => Err(mismatch(
                            &format!("a decimal amount in {code}"),
                            &format!("money is a number, a decimal string, or {{\"amount\": \"…\", \"currency\": \"{code}\"}}"),
                        )),
                    };
                }
                self.digits_within(json, path)?;
                decimal(json).map(Value::Num).ok_or_else(|| {
                    mismatch(&format!("a decimal amount in {code}"), &format!("money is a number, a decimal string, or {{\"amount\": \"…\", \"currency\": \"{code}\"}}"))
                })
            }
            Type::Date => match json {
                Json::String(s) => Date::parse(s).map(Value::Date).ok_or_else(|| mismatch("a calendar date (YYYY-MM-DD)", "dates are \"YYYY-MM-DD\" and must exist: 2026-02-28, not 2026-02-30")),
                _ => Err(mismatch("a date (YYYY-MM-DD)", "dates are JSON strings: \"2026-03-31\"")),
            },
            Type::Bool => match json {
                Json::Bool(b) => Ok(Value::Bool(*b)),
                _ => Err(mismatch("true or false", "booleans are JSON true or false")),
            },
            Type::Text => match json {
                Json::String(s) => Ok(Value::Text(Arc::from(s.as_str()))),
                _ => Err(mismatch("text", "text is a JSON string")),
            },
            Type::List(elem) => {
                let Json::Array(items) = json else { return Err(mismatch("a list", "lists are JSON arrays")) };
                if items.len() > self.max_list_len {
                    return Err(DataError::TooMany { path: path.clone(), count: items.len(), limit: self.max_list_len });
                }
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    out.push(self.value(item, elem, path)?);
                    path.truncate(len);
                }
                Ok(Value::List(out.into()))
            }
            Type::Record(r) => self.record(json, r, path),
            other => Err(mismatch(&other.to_string(), "this type cannot be read from data")),
        }
    }
}

fn decimal(json: &Json) -> Option<Decimal> {
    match json {
        // With serde_json's arbitrary_precision, a number's text is kept as written.
        Json::Number(n) => decimal_text(n.as_str()),
        Json::String(s) => decimal_text(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal("0.1").map(|d| d.to_string()), Some("0.1".into()));
        assert_eq!(parse_decimal("1e3").map(|d| d.normalize().to_string()), Some("1000".into()));
        assert_eq!(parse_decimal("n/a"), None);
        assert_eq!(parse_decimal(""), None);
        let j: Json = serde_json::from_str("0.30000000000000000000000001").unwrap();
        assert_eq!(decimal(&j).map(|d| d.to_string()), Some("0.30000000000000000000000001".into()));
    }

    fn over(text: &str, lists: usize, digits: usize) -> Option<(usize, &'static str)> {
        first_over_limit(text, lists, digits).map(|(at, o)| (at, if matches!(o, Over::List) { "list" } else { "digits" }))
    }

    #[test]
    fn the_scan_counts_list_elements_and_number_digits() {
        assert_eq!(over("[1, 2, 3]", 3, 64), None);
        assert_eq!(over("[1, 2, 3]", 2, 64), Some((0, "list")));
        assert_eq!(over("{\"a\": [ ]}", 0, 64), None);
        assert_eq!(over("{\"a\": [1]}", 0, 64), Some((6, "list")));
        assert_eq!(over("[[1, 2], [3, 4]]", 2, 64), None);
        assert_eq!(over("[\"1,2,3,\\\",4\"]", 1, 64), None, "commas in strings do not count");
        assert_eq!(over("{\"a\": 1, \"b\": 2, \"c\": 3}", 1, 64), None, "objects are not lists");
        assert_eq!(over("{\"a\": -12.5e10}", 10, 5), None);
        assert_eq!(over("{\"a\": -12.5e100}", 10, 5), Some((6, "digits")));
        assert_eq!(over("{\"a\": \"123456789\"}", 10, 5), None, "strings are checked when bound");
    }

    #[test]
    fn the_binder_refuses_long_numbers_by_length() {
        let b = Binder { max_list_len: 10, max_number_digits: 30 };
        let long = format!("{{\"a\": {}}}", "9".repeat(1_000_000));
        assert!(matches!(b.parse(&long), Err(DataError::TooManyDigits { .. })));
        let json: Json = serde_json::json!({"n": "1".repeat(31)});
        let schema = RecordType { name: None, fields: vec![(Arc::from("n"), Type::Number)] };
        assert!(matches!(b.bind(&json, &Arc::new(schema)), Err(DataError::TooManyDigits { at, .. }) if at == "input.n"));
    }
}
