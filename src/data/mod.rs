//! Facility data (JSON) → a value bound to the input schema. Decimals are read from the JSON
//! text itself, never through binary floating point; every error names its JSON path.

use std::borrow::Cow;
use std::collections::HashSet;
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

    #[error("{path}: the key is given twice")]
    #[diagnostic(code(covenant::data::duplicate_key), help("a JSON object names each key once; which of the two values is meant cannot be told, so neither is taken"))]
    Duplicate { path: String },

    #[error("the facility data starts with a byte-order mark (U+FEFF)")]
    #[diagnostic(code(covenant::data::bom), help("save the data as UTF-8 without a byte-order mark"))]
    ByteOrderMark,

    #[error("the facility data is blank")]
    #[diagnostic(
        code(covenant::data::blank),
        help("the data is one JSON object matching the program's `input` schema; in a batch, each line holds one facility, so remove blank lines")
    )]
    Blank,

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
            format!("\"{}\"", crate::text::escape_controls(&short))
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
        return crate::eval::wide::scientific(t);
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
    /// Parses JSON text, after a scan that refuses lists and numbers over the limits. A key
    /// given twice in one object is refused, wherever it is.
    pub fn parse(&self, text: &str) -> Result<Json, DataError> {
        if text.starts_with('\u{feff}') {
            return Err(DataError::ByteOrderMark);
        }
        if text.trim().is_empty() {
            return Err(DataError::Blank);
        }
        if let Some(e) = self.over_limit(text) {
            return Err(e);
        }
        let json = serde_json::from_str(text).map_err(|e| DataError::Json {
            message: e.to_string().split(" at line").next().unwrap_or("").to_string(),
            line: e.line(),
            column: e.column(),
        })?;
        // serde_json keeps the last of two equal keys; a second pass finds them.
        let mut path = String::from("input");
        let walked = serde::de::DeserializeSeed::deserialize(NoRepeats { path: &mut path }, &mut serde_json::Deserializer::from_str(text));
        match walked {
            Ok(()) => Ok(json),
            Err(_) => Err(DataError::Duplicate { path: crate::text::escape_controls(&path).into_owned() }),
        }
    }

    fn over_limit(&self, text: &str) -> Option<DataError> {
        let (at, over) = first_over_limit(text, self.max_list_len, self.max_number_digits)?;
        let (line, column) = line_column(text, at);
        Some(match over {
            Over::List => DataError::ListTooLong { line, column, limit: self.max_list_len },
            Over::Digits => DataError::TooManyDigits { at: format!("line {line}, column {column}"), limit: self.max_number_digits },
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
            help: if json.is_null() { "null stands for an absent value, which only a field declared optional (`T?`) may have".into() } else { help.into() },
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
                    let shape = format!("money as an object is {{\"amount\": \"…\", \"currency\": \"{code}\"}}");
                    let part = |key: &str, expected: &str, found: String| DataError::Mismatch { path: format!("{path}.{key}"), expected: expected.into(), found, help: shape.clone() };
                    let amount = match map.get("amount") {
                        None => return Err(part("amount", &format!("a decimal amount in {code}"), "nothing (no `amount` key)".into())),
                        Some(a) => {
                            self.digits_within(a, &format!("{path}.amount"))?;
                            decimal(a).ok_or_else(|| part("amount", &format!("a decimal amount in {code}"), describe(a)))?
                        }
                    };
                    return match map.get("currency") {
                        Some(Json::String(c)) if c == &**code => Ok(Value::Num(amount)),
                        Some(Json::String(c)) => Err(DataError::Currency { path: path.clone(), expected: code.to_string(), found: crate::text::escape_controls(c).into_owned() }),
                        Some(other) => Err(part("currency", &format!("the currency code {code}"), describe(other))),
                        None => Err(part("currency", &format!("the currency code {code}"), "nothing (no `currency` key)".into())),
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

// ---------------------------------------------------------------------- the direct path

impl Binder {
    /// Parses and binds JSON text in one pass, guided by the schema: no JSON tree is built,
    /// unknown keys are skipped unread, and only scalars pass through a JSON value. On any
    /// failure the text is read again by `parse` + `bind`, which name the problem exactly, so
    /// this path only has to be right about what it accepts.
    pub fn bind_text(&self, text: &str, schema: &Arc<RecordType>) -> Result<Value, DataError> {
        // A list of n elements takes at least 2n - 1 bytes, so a shorter text cannot hold one
        // over the limit, and the scan is needed only for its numbers. The direct path checks
        // each number's length itself before reading it (and skips unknown fields without
        // allocating), then hands over to `parse`, whose scan names the limit.
        if text.len() >= self.max_list_len.saturating_mul(2) {
            if let Some(e) = self.over_limit(text) {
                return Err(e);
            }
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let direct = serde::de::DeserializeSeed::deserialize(Shaped { binder: self, ty: Shape::Record(schema) }, &mut de).and_then(|v| de.end().map(|()| v));
        match direct {
            Ok(v) => Ok(v),
            Err(_) => {
                let json = self.parse(text)?;
                self.bind(&json, schema)
            }
        }
    }
}

impl Binder {
    /// A scalar from its JSON text, as `value` reads it from the tree; `None` wherever `value`
    /// would fail (the tree path then says why).
    fn scalar(&self, raw: &str, ty: &Type) -> Option<Value> {
        let raw = raw.trim();
        let (text, is_string) = match raw.as_bytes().first()? {
            b'"' if raw.contains('\\') => (std::borrow::Cow::Owned(serde_json::from_str::<String>(raw).ok()?), true),
            b'"' => (std::borrow::Cow::Borrowed(raw.get(1..raw.len().checked_sub(1)?)?), true),
            b'{' => {
                let json = self.parse(raw).ok()?;
                return self.value(&json, ty, &mut String::new()).ok();
            }
            _ => (std::borrow::Cow::Borrowed(raw), false),
        };
        match ty {
            Type::Number | Type::Money(Ccy::Code(_)) => {
                if !is_string && !raw.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
                    return None;
                }
                if digit_count(&text) > self.max_number_digits {
                    return None;
                }
                decimal_text(&text).map(Value::Num)
            }
            Type::Date if is_string => Date::parse(&text).map(Value::Date),
            Type::Bool if !is_string => match raw {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                _ => None,
            },
            Type::Text if is_string => Some(Value::Text(Arc::from(&*text))),
            _ => None,
        }
    }
}

#[derive(Clone, Copy)]
enum Shape<'t> {
    Record(&'t RecordType),
    Of(&'t Type),
}

struct Shaped<'b> {
    binder: &'b Binder,
    ty: Shape<'b>,
}

/// The direct path gives up with this; the reason is found again by the tree path.
fn give_up<E: serde::de::Error>() -> E {
    E::custom("")
}

impl<'de> serde::de::DeserializeSeed<'de> for Shaped<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        let binder = self.binder;
        match self.ty {
            Shape::Record(r) => d.deserialize_map(RecordVisitor { binder, record: r }),
            Shape::Of(Type::Record(r)) => d.deserialize_map(RecordVisitor { binder, record: r }),
            Shape::Of(Type::List(elem)) => d.deserialize_seq(ListVisitor { binder, elem }),
            Shape::Of(Type::Optional(inner)) => d.deserialize_option(OptionalVisitor { binder, inner }),
            Shape::Of(scalar) => {
                // The scalar's JSON text, borrowed from the input: no allocation for it.
                let raw = <&serde_json::value::RawValue as serde::Deserialize>::deserialize(d)?;
                binder.scalar(raw.get(), scalar).ok_or_else(give_up)
            }
        }
    }
}

struct RecordVisitor<'b> {
    binder: &'b Binder,
    record: &'b RecordType,
}

impl<'de> serde::de::Visitor<'de> for RecordVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut slots: Vec<Option<Value>> = vec![None; self.record.fields.len()];
        // Keys outside the schema, kept (borrowed from the text) only to find one repeated.
        let mut others: Option<HashSet<Cow<'de, str>>> = None;
        while let Some(key) = map.next_key_seed(FieldIndex(self.record))? {
            match key {
                // A repeated key is refused, by the tree path, which names it.
                Key::Field(i) => {
                    let (Some(None), Some((_, ty))) = (slots.get(i), self.record.fields.get(i)) else { return Err(give_up()) };
                    let v = map.next_value_seed(Shaped { binder: self.binder, ty: Shape::Of(ty) })?;
                    if let Some(slot) = slots.get_mut(i) {
                        *slot = Some(v);
                    }
                }
                Key::Other(name) => {
                    if !others.get_or_insert_with(HashSet::new).insert(name) {
                        return Err(give_up());
                    }
                    map.next_value_seed(NoRepeats { path: &mut String::new() })?;
                }
            }
        }
        let mut fields = Vec::with_capacity(slots.len());
        for (slot, (_, ty)) in slots.into_iter().zip(&self.record.fields) {
            match (slot, ty) {
                (Some(v), _) => fields.push(v),
                (None, Type::Optional(_)) => fields.push(Value::Null),
                (None, _) => return Err(give_up()),
            }
        }
        Ok(Value::Record(fields.into()))
    }
}

/// A key of a record: the index of the schema field it names, or any other key.
struct FieldIndex<'b>(&'b RecordType);

enum Key<'de> {
    Field(usize),
    Other(Cow<'de, str>),
}

impl<'de> serde::de::DeserializeSeed<'de> for FieldIndex<'_> {
    type Value = Key<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Key<'de>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for FieldIndex<'_> {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a field name")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, key: &'de str) -> Result<Key<'de>, E> {
        Ok(self.0.fields.iter().position(|(name, _)| &**name == key).map_or(Key::Other(Cow::Borrowed(key)), Key::Field))
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Key<'de>, E> {
        Ok(self.0.fields.iter().position(|(name, _)| &**name == key).map_or_else(|| Key::Other(Cow::Owned(key.to_string())), Key::Field))
    }
}

/// Reads through any JSON value, failing at the first object that gives a key twice; on
/// failure `path` is left naming that key (`input.debt.currency`).
struct NoRepeats<'p> {
    path: &'p mut String,
}

impl<'de> serde::de::DeserializeSeed<'de> for NoRepeats<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// A key's text, borrowed from the input when it holds no escapes.
struct KeyText;

impl<'de> serde::de::DeserializeSeed<'de> for KeyText {
    type Value = Cow<'de, str>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeyText {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, key: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(key))
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(key.to_string()))
    }
}

impl<'de> serde::de::Visitor<'de> for NoRepeats<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let base = self.path.len();
        for i in 0usize.. {
            self.path.truncate(base);
            self.path.push_str(&format!("[{i}]"));
            if seq.next_element_seed(NoRepeats { path: &mut *self.path })?.is_none() {
                break;
            }
        }
        self.path.truncate(base);
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let base = self.path.len();
        let mut keys: HashSet<Cow<'de, str>> = HashSet::new();
        while let Some(key) = map.next_key_seed(KeyText)? {
            self.path.truncate(base);
            self.path.push('.');
            self.path.push_str(&key);
            if !keys.insert(key) {
                return Err(serde::de::Error::custom("a repeated key"));
            }
            map.next_value_seed(NoRepeats { path: &mut *self.path })?;
        }
        self.path.truncate(base);
        Ok(())
    }
}

struct ListVisitor<'b> {
    binder: &'b Binder,
    elem: &'b Type,
}

impl<'de> serde::de::Visitor<'de> for ListVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(Shaped { binder: self.binder, ty: Shape::Of(self.elem) })? {
            if items.len() >= self.binder.max_list_len {
                return Err(give_up());
            }
            items.push(v);
        }
        Ok(Value::List(items.into()))
    }
}

struct OptionalVisitor<'b> {
    binder: &'b Binder,
    inner: &'b Type,
}

impl<'de> serde::de::Visitor<'de> for OptionalVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a value or null")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        serde::de::DeserializeSeed::deserialize(Shaped { binder: self.binder, ty: Shape::Of(self.inner) }, d)
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

    /// The direct path and the tree path agree on every input: the same value, or the same
    /// error.
    #[test]
    fn binding_text_directly_agrees_with_the_tree_path() {
        let mut money = RecordType { name: None, fields: vec![(Arc::from("amount"), Type::Number)] };
        money.fields.push((Arc::from("when"), Type::Optional(Arc::new(Type::Date))));
        let schema = Arc::new(RecordType {
            name: None,
            fields: vec![
                (Arc::from("as_of"), Type::Date),
                (Arc::from("debt"), Type::Money(Ccy::Code(Arc::from("USD")))),
                (Arc::from("rate"), Type::Number),
                (Arc::from("flag"), Type::Optional(Arc::new(Type::Bool))),
                (Arc::from("name"), Type::Optional(Arc::new(Type::Text))),
                (Arc::from("rows"), Type::List(Arc::new(Type::Record(Arc::new(money))))),
            ],
        });
        let b = Binder { max_list_len: 3, max_number_digits: 30 };
        let texts = [
            r#"{"as_of": "2026-03-31", "debt": "100", "rate": 0.05, "rows": []}"#,
            r#"{"as_of": "2026-03-31", "debt": {"amount": "1.50", "currency": "USD", "note": 1}, "rate": "7", "flag": true, "name": "a\"b", "rows": [{"amount": 1}, {"amount": "2", "when": null}, {"amount": 3, "when": "2026-01-01"}]}"#,
            r#"{"rate": 1, "extra": {"deep": [1, [2, {"x": null}]]}, "as_of": "2026-03-31", "debt": 5, "rows": [], "flag": null}"#,
            r#"{"as_of": "2026-03-31", "debt": 5, "rate": 1, "rate": 2, "rows": []}"#,
            r#"{"as_of": "2026-03-31", "debt": 5, "rate": "x", "rate": 2, "rows": []}"#,
            r#"{"as_of": "2026-03-31", "debt": 5, "rate": 1e3, "rows": []}"#,
            r#"{"as_of": "2026-02-30", "debt": 5, "rate": 1, "rows": []}"#,
            r#"{"as_of": "2026-03-31", "debt": {"amount": 5, "currency": "EUR"}, "rate": 1, "rows": []}"#,
            r#"{"as_of": "2026-03-31", "debt": 5, "rate": 1}"#,
            r#"{"as_of": "2026-03-31", "debt": 5, "rate": null, "rows": []}"#,
            r#"{"as_of": "2026-03-31", "debt": 5, "rate": 1, "rows": [{"amount": 1}, {"amount": 1}, {"amount": 1}, {"amount": 1}]}"#,
            r#"{"as_of": "2026-03-31", "debt": 5, "rate": 1, "rows": [{"when": "2026-01-01"}]}"#,
            r#"{"as_of": "2026-03-31", "debt": 5, "rate": 1, "rows": []} trailing"#,
            r#"{"as_of": "2026-03-31", "debt": 5, "rate": 1, "rows": [], "flag": "yes"}"#,
            r#"[1, 2]"#,
            r#"{"as_of": "2026-03-31", "debt": 5, "rate": 123456789012345678901234567890123, "rows": []}"#,
            r#"{"as_of": "2026-03-31", "debt": 5, "rate": "-0.000", "rows": []}"#,
            r#"{"as_of": "2026-03-31", "debt": {"amount": 5, "currency": "EUR", "currency": "USD"}, "rate": 1, "rows": []}"#,
            r#"{"as_of": "2026-03-31", "debt": {"amount": null, "currency": "USD"}, "rate": 1, "rows": []}"#,
            r#"{"as_of": "2026-03-31", "debt": 5, "rate": 1, "rows": [], "x": 1, "x": 2}"#,
            r#"{"as_of": "2026-03-31", "debt": 5, "rate": 1, "rows": [], "x": {"y": [{"z": 1, "z": 1}]}}"#,
            r#"{"as_of": "2026-03-31", "debt": 5, "rate": 1, "rows": [{"amount": 1, "amount": 1}]}"#,
            r#"{"as_of": "2026-03-31", "debt": 5, "rate": 1, "rows": [], "a\u0062": 1, "ab": 2}"#,
            "\u{feff}{\"as_of\": \"2026-03-31\", \"debt\": 5, \"rate\": 1, \"rows\": []}",
            " \n ",
            "",
        ];
        // A small list limit makes the direct path scan first; a large one lets it skip.
        for b in [b, Binder { max_list_len: 1_000_000, max_number_digits: 30 }] {
            for text in texts {
                let tree = b.parse(text).and_then(|j| b.bind(&j, &schema));
                assert_eq!(b.bind_text(text, &schema), tree, "{text}");
            }
        }
    }

    /// A key given twice is refused, naming its path, whichever value comes first: the money
    /// object's currency included (once the last one won: 5 USD bound, the EUR unseen).
    #[test]
    fn a_repeated_key_is_refused_by_its_path() {
        let schema = Arc::new(RecordType {
            name: None,
            fields: vec![(Arc::from("as_of"), Type::Date), (Arc::from("debt"), Type::Money(Ccy::Code(Arc::from("USD"))))],
        });
        let b = Binder { max_list_len: 10, max_number_digits: 30 };
        let cases = [
            (r#"{"as_of": "2026-03-31", "debt": {"amount": 5, "currency": "EUR", "currency": "USD"}}"#, "input.debt.currency"),
            (r#"{"as_of": "2026-03-31", "debt": 5, "debt": 6}"#, "input.debt"),
            (r#"{"as_of": "2026-03-31", "debt": 5, "note": [{"k": 1}, {"k": 2, "\u006b": 3}]}"#, "input.note[1].k"),
        ];
        for (text, path) in cases {
            assert_eq!(b.bind_text(text, &schema), Err(DataError::Duplicate { path: path.into() }), "{text}");
        }
        assert!(b.bind_text(r#"{"as_of": "2026-03-31", "debt": 5, "note": [{"k": 1}, {"k": 2}]}"#, &schema).is_ok());
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
