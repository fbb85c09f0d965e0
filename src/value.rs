//! Runtime values. Money is a plain decimal at run time: its currency was proven by the
//! checker and is carried by the static type wherever a value is reported.

use std::sync::Arc;

use rust_decimal::Decimal;

use crate::dates::Date;
use crate::syntax::ast::DurationUnit;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Duration {
    pub count: i64,
    pub unit: DurationUnit,
    /// Business days are counted in these named calendars, by bit (every one must be open);
    /// 0 means the default calendar.
    pub calendars: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Num(Decimal),
    Bool(bool),
    Text(Arc<str>),
    Date(Date),
    Duration(Duration),
    List(Arc<[Value]>),
    /// Fields in the order of the record type; field access is by index.
    Record(Arc<[Value]>),
    /// An absent optional.
    Null,
}

impl Value {
    pub fn num(&self) -> Option<Decimal> {
        match self {
            Value::Num(d) => Some(*d),
            _ => None,
        }
    }
}
