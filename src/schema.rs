//! The JSON Schema (draft 2020-12) of the facility data a program reads: its `input` record,
//! described as the binder (`crate::data`) accepts it, so that a document the schema refuses
//! is one the binder refuses too. What a schema cannot say (repeated keys, a number beyond
//! the decimal range or past `max_number_digits`, a failed `check`) is left to the binder.

use serde_json::{json, Map, Value as Json};

use crate::types::{Ccy, RecordType, Type};

/// Whitespace that `str::trim` removes around a decimal string: Unicode `White_Space`,
/// spelt out because ECMA-262's `\s` differs (it takes U+FEFF and not U+0085).
const SPACE: &str = r"[\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*";

/// A decimal string as `data::parse_decimal` reads it: an optional sign, digits with at most
/// one point, and an exponent whose sign may itself carry a `+` before it, as the binder's
/// exponent reader accepts (`1e+-3`).
fn decimal_pattern() -> String {
    format!(r"^{SPACE}[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?{SPACE}$")
}

/// Years 0001–9999: the pattern keeps the digits ASCII and refuses year 0000, which
/// `format: date` (RFC 3339) would accept; the format refuses days that do not exist.
const DATE_PATTERN: &str = "^([0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})-[0-9]{2}-[0-9]{2}$";

/// The schema of `input`, with the list limit of the program's `max_list_len`.
pub fn input_schema(input: &RecordType, facility: Option<&str>, max_list_len: usize) -> Json {
    let mut builder = Builder { defs: Map::new(), max_list_len };
    let root = builder.record(input);
    let mut schema = Map::new();
    schema.insert("$schema".into(), json!("https://json-schema.org/draft/2020-12/schema"));
    schema.insert("title".into(), json!(match facility {
        Some(f) => format!("Facility data: {f}"),
        None => "Facility data".to_string(),
    }));
    if let Json::Object(fields) = root {
        schema.extend(fields);
    }
    builder.defs.sort_keys();
    schema.insert("$defs".into(), Json::Object(builder.defs));
    Json::Object(schema)
}

struct Builder {
    /// Shared definitions: `decimal`, `date`, `money_CCY` and named record types.
    defs: Map<String, Json>,
    max_list_len: usize,
}

impl Builder {
    fn reference(&mut self, name: &str, define: impl FnOnce(&mut Self) -> Json) -> Json {
        if !self.defs.contains_key(name) {
            // Reserved first: a named record is defined once even if it were met again
            // while its fields are built.
            self.defs.insert(name.to_string(), Json::Bool(true));
            let definition = define(self);
            self.defs.insert(name.to_string(), definition);
        }
        json!({ "$ref": format!("#/$defs/{name}") })
    }

    fn record(&mut self, r: &RecordType) -> Json {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for (name, ty) in &r.fields {
            let mut field = self.of(ty);
            // The type as the program writes it; a record's own fields say more.
            if let (Json::Object(f), false) = (&mut field, matches!(ty, Type::Record(_))) {
                f.insert("description".into(), json!(ty.to_string()));
            }
            properties.insert(name.to_string(), field);
            if !matches!(ty, Type::Optional(_)) {
                required.push(json!(**name));
            }
        }
        // Keys the schema does not name are ignored by the binder, not refused.
        json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": true })
    }

    fn of(&mut self, ty: &Type) -> Json {
        match ty {
            Type::Number => self.reference("decimal", |_| {
                json!({
                    "description": "a JSON number, or a string holding a decimal (\"0.035\", \" +5 \", \"1e3\"); no thousands separators",
                    "type": ["number", "string"],
                    "pattern": decimal_pattern(),
                })
            }),
            Type::Money(Ccy::Code(code)) => self.reference(&format!("money_{code}"), |b| {
                let decimal = b.of(&Type::Number);
                json!({
                    "description": format!("an amount in {code}: a decimal, or {{\"amount\": …, \"currency\": \"{code}\"}}"),
                    "anyOf": [
                        decimal,
                        {
                            "type": "object",
                            "properties": { "amount": decimal, "currency": { "const": **code } },
                            "required": ["amount", "currency"],
                            "additionalProperties": true,
                        },
                    ],
                })
            }),
            Type::Date => self.reference("date", |_| {
                json!({ "description": "a calendar date, YYYY-MM-DD", "type": "string", "format": "date", "pattern": DATE_PATTERN })
            }),
            Type::Bool => json!({ "type": "boolean" }),
            Type::Text => json!({ "type": "string" }),
            Type::List(elem) => json!({ "type": "array", "items": self.of(elem), "maxItems": self.max_list_len }),
            Type::Record(r) => match &r.name {
                Some(name) => self.reference(name, |b| {
                    let mut record = b.record(r);
                    if let Json::Object(fields) = &mut record {
                        fields.insert("title".into(), json!(name));
                    }
                    record
                }),
                None => self.record(r),
            },
            Type::Optional(inner) => json!({ "anyOf": [self.of(inner), { "type": "null" }] }),
            // Types no data can bind (the checker refuses them in the schema): nothing fits.
            _ => json!({ "not": {} }),
        }
    }
}
