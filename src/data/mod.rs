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

    #[error("{path}: {count} elements, over the limit of {limit}")]
    #[diagnostic(code(covenant::limit::collection), help("raise `max_list_len` in the evaluation limits if this facility really holds that many"))]
    TooMany { path: String, count: usize, limit: usize },

    #[error("the facility data is {size} bytes, over the limit of {limit}")]
    #[diagnostic(code(covenant::limit::data_size), help("raise `max_data_bytes` in the evaluation limits"))]
    TooLarge { size: usize, limit: usize },

    #[error("check failed: {message}")]
    #[diagnostic(code(covenant::data::check), help("the program's `check` at line {line} rejects this facility"))]
    Check { message: String, line: usize },
}

pub struct Binder {
    pub max_list_len: usize,
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

/// A decimal from JSON number text or a string holding a decimal, exactly.
pub fn parse_decimal(text: &str) -> Option<Decimal> {
    let t = text.trim();
    if t.is_empty() || t.len() > 64 {
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

impl Binder {
    pub fn parse(&self, text: &str) -> Result<Json, DataError> {
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
            Type::Number => decimal(json).map(Value::Num).ok_or_else(|| mismatch("a decimal number", "write a JSON number (1250000) or a decimal string (\"0.035\")")),
            Type::Money(Ccy::Code(code)) => {
                if let Json::Object(map) = json {
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
        Json::Number(n) => parse_decimal(&n.to_string()),
        Json::String(s) => parse_decimal(s),
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
}
