//! Static types: what the checker proves about every expression before any data is seen.

use std::fmt;
use std::sync::Arc;

/// A currency: a code from the program, or the generic currency of a `fn` signature's bare
/// `Money`, fixed at each call.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ccy {
    Code(Arc<str>),
    Generic,
}

impl fmt::Display for Ccy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ccy::Code(c) => f.write_str(c),
            Ccy::Generic => f.write_str("any currency"),
        }
    }
}

/// Which kind of rule a rule reference names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuleKind {
    Pool,
    Covenant,
    MarginCall,
    Liquidation,
    Default,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    Number,
    Money(Ccy),
    Date,
    Duration,
    Bool,
    Text,
    List(Arc<Type>),
    Record(Arc<RecordType>),
    Optional(Arc<Type>),
    /// `[]`, whose element type comes from where it is used.
    EmptyList,
    /// A bare currency code, as in `money(n, USD)`.
    CurrencyCode(Arc<str>),
    /// A rule named as a value; its fields are read with `.`.
    Rule(RuleKind, u32),
    /// The type of an expression that already failed to check; never reported twice.
    Error,
}

#[derive(Debug, PartialEq, Eq)]
pub struct RecordType {
    pub name: Option<String>,
    pub fields: Vec<(Arc<str>, Type)>,
}

impl RecordType {
    pub fn field(&self, name: &str) -> Option<(usize, &Type)> {
        self.fields.iter().enumerate().find(|(_, (n, _))| &**n == name).map(|(i, (_, t))| (i, t))
    }
}

impl Type {
    pub fn money(code: &str) -> Type {
        Type::Money(Ccy::Code(Arc::from(code)))
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, Type::Number | Type::Money(_))
    }

    /// Whether a value of type `self` may stand where `want` is expected.
    pub fn fits(&self, want: &Type) -> bool {
        match (self, want) {
            (Type::Error, _) | (_, Type::Error) => true,
            (Type::EmptyList, Type::List(_)) => true,
            (Type::List(a), Type::List(b)) => a.fits(b),
            (Type::Optional(a), Type::Optional(b)) => a.fits(b),
            (a, Type::Optional(b)) => a.fits(b),
            (Type::Record(a), Type::Record(b)) => {
                Arc::ptr_eq(a, b)
                    || (a.fields.len() == b.fields.len()
                        && a.fields.iter().zip(&b.fields).all(|((n1, t1), (n2, t2))| n1 == n2 && t1.fits(t2)))
            }
            (a, b) => a == b,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Number => f.write_str("Number"),
            Type::Money(Ccy::Generic) => f.write_str("Money"),
            Type::Money(c) => write!(f, "Money({c})"),
            Type::Date => f.write_str("Date"),
            Type::Duration => f.write_str("Duration"),
            Type::Bool => f.write_str("Bool"),
            Type::Text => f.write_str("Text"),
            Type::List(t) => write!(f, "List<{t}>"),
            Type::Record(r) => match &r.name {
                Some(n) => f.write_str(n),
                None => {
                    f.write_str("{ ")?;
                    for (i, (n, t)) in r.fields.iter().enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        write!(f, "{n}: {t}")?;
                    }
                    f.write_str(" }")
                }
            },
            Type::Optional(t) => write!(f, "{t}?"),
            Type::EmptyList => f.write_str("List"),
            Type::CurrencyCode(c) => write!(f, "currency {c}"),
            Type::Rule(RuleKind::Pool, _) => f.write_str("collateral pool"),
            Type::Rule(RuleKind::Covenant, _) => f.write_str("covenant"),
            Type::Rule(RuleKind::MarginCall, _) => f.write_str("margin call"),
            Type::Rule(RuleKind::Liquidation, _) => f.write_str("liquidation"),
            Type::Rule(RuleKind::Default, _) => f.write_str("events-of-default rule"),
            Type::Error => f.write_str("?"),
        }
    }
}
