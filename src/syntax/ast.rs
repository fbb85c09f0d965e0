//! The abstract syntax tree: what the text says, with a span on every node.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::dates::Date;
use crate::span::Span;

#[derive(Clone, Debug, Serialize)]
pub struct Module {
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub enum Item {
    Import(Import),
    Facility { title: String, span: Span },
    Input { schema: TypeExpr, span: Span },
    TypeDef { name: Ident, ty: TypeExpr },
    Let(LetDef),
    Fn(FnDef),
    Schedule(ScheduleDef),
    /// `calendar [NAME] { holidays EXPR }`; without a name, the default calendar.
    Calendar { name: Option<Ident>, holidays: Expr, span: Span },
    Collateral(PoolDef),
    Covenant(CovenantDef),
    MarginCall(MarginCallDef),
    Liquidation(LiquidationDef),
    Default(DefaultDef),
    Scenario(ScenarioDef),
    Simulation(SimulationDef),
    Test(TestDef),
    Check(CheckDef),
}

#[derive(Clone, Debug, Serialize)]
pub enum Import {
    Std { module: String, span: Span },
    File { path: String, span: Span },
}

#[derive(Clone, Debug, Serialize)]
pub struct TypeExpr {
    pub kind: TypeExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub enum TypeExprKind {
    /// `Number`, `Date`, a user type name, ...
    Named(String),
    /// `Money(USD)`, or bare `Money` (generic in a fn signature).
    Money(Option<String>),
    List(Box<TypeExpr>),
    Record(Vec<(Ident, TypeExpr)>),
    Optional(Box<TypeExpr>),
}

#[derive(Clone, Debug, Serialize)]
pub struct LetDef {
    pub name: Ident,
    pub ty: Option<TypeExpr>,
    pub value: Expr,
    /// `as percent`, `as multiple` or `as number`: how tables and the REPL show the value.
    pub display: Option<(DisplayForm, Span)>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum DisplayForm {
    Percent,
    Multiple,
    Number,
}

#[derive(Clone, Debug, Serialize)]
pub struct Param {
    pub name: Ident,
    pub ty: TypeExpr,
}

#[derive(Clone, Debug, Serialize)]
pub struct FnDef {
    pub name: Ident,
    pub params: Vec<Param>,
    pub ret: TypeExpr,
    pub body: Expr,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub enum ScheduleKey {
    Else,
    Cmp(CmpOp, Expr),
    /// An interpolation point.
    Point(Expr),
}

#[derive(Clone, Debug, Serialize)]
pub struct ScheduleRow {
    pub key: ScheduleKey,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub struct ScheduleDef {
    pub name: Ident,
    pub params: Vec<Param>,
    pub ret: TypeExpr,
    pub interpolate: bool,
    pub rows: Vec<ScheduleRow>,
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub struct PoolDef {
    pub name: Ident,
    pub title: Option<String>,
    pub each: Option<(Ident, Expr)>,
    pub quantity: Option<Expr>,
    pub price: Option<Expr>,
    pub haircut: Option<Expr>,
    pub lot: Option<Expr>,
    pub discount: Option<Expr>,
    /// `liquidation price`: what a forced sale fetches per unit before the discount.
    pub liquidation_price: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub enum Tested {
    Quarterly,
    Monthly,
    On(Expr),
}

#[derive(Clone, Debug, Serialize)]
pub enum CureLimit {
    InQuarters { count: u32, quarters: u32, span: Span },
    Total { count: u32, span: Span },
    NoConsecutive { span: Span },
}

impl CureLimit {
    /// The limit as written, which is how a blocked cure names it.
    pub fn label(&self) -> String {
        match self {
            CureLimit::InQuarters { count, quarters, .. } => format!("{count} in {quarters} quarters"),
            CureLimit::Total { count, .. } => format!("{count} total"),
            CureLimit::NoConsecutive { .. } => "no consecutive".to_string(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct InputPath {
    pub steps: Vec<PathStep>,
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub enum PathStep {
    Field(Ident),
    All(Span),
}

#[derive(Clone, Debug, Serialize)]
pub struct CureDef {
    pub into: CureTarget,
    pub history: Option<Expr>,
    pub limits: Vec<CureLimit>,
    pub span: Span,
}

/// Where an equity cure's money goes: a Money input, or a Money `let` computed from the data.
#[derive(Clone, Debug, Serialize)]
pub enum CureTarget {
    Input(InputPath),
    Let(Ident),
}

#[derive(Clone, Debug, Serialize)]
pub struct CovenantDef {
    pub name: Ident,
    pub title: Option<String>,
    pub require: Option<Expr>,
    pub tested: Option<Tested>,
    pub when: Option<Expr>,
    pub cure: Option<CureDef>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum RoundingMode {
    Up,
    Down,
    Nearest,
}

#[derive(Clone, Debug, Serialize)]
pub struct MarginCallDef {
    pub name: Ident,
    pub title: Option<String>,
    pub trigger: Option<Expr>,
    pub amount: Option<Expr>,
    pub minimum_transfer: Option<Expr>,
    pub rounding: Option<(RoundingMode, Expr)>,
    pub due: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub struct LiquidationDef {
    pub name: Ident,
    pub title: Option<String>,
    pub trigger: Option<Expr>,
    pub debt: Option<Expr>,
    pub sell: Vec<Ident>,
    /// `until COND`: sell the least that makes COND hold, instead of covering the debt.
    pub until: Option<Expr>,
    pub span: Span,
}

/// `default NAME { event NAME "title" when COND … }`: events of default.
#[derive(Clone, Debug, Serialize)]
pub struct DefaultDef {
    pub name: Ident,
    pub title: Option<String>,
    pub events: Vec<EventDef>,
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub struct EventDef {
    pub name: Ident,
    pub title: Option<String>,
    pub when: Expr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ShockOp {
    Set,
    Mul,
    Add,
    Sub,
}

#[derive(Clone, Debug, Serialize)]
pub struct Shock {
    pub path: InputPath,
    pub op: ShockOp,
    pub value: Expr,
}

#[derive(Clone, Debug, Serialize)]
pub struct ScenarioDef {
    pub name: Ident,
    pub title: Option<String>,
    pub shocks: Vec<Shock>,
    pub span: Span,
}

/// `simulation NAME "TITLE" { factor … correlation … shocks }`: Monte Carlo over correlated
/// factors, each shock `PATH *= 1 + FACTOR`.
#[derive(Clone, Debug, Serialize)]
pub struct SimulationDef {
    pub name: Ident,
    pub title: Option<String>,
    pub factors: Vec<FactorDef>,
    pub correlations: Vec<CorrelationDef>,
    pub shocks: Vec<Shock>,
    pub span: Span,
}

/// `factor btc normal(mean: -5%, sd: 45%)`.
#[derive(Clone, Debug, Serialize)]
pub struct FactorDef {
    pub name: Ident,
    pub distribution: Ident,
    pub args: Vec<(Ident, SignedNumber)>,
    pub span: Span,
}

/// A literal in a simulation: `-5%` is -0.05.
#[derive(Clone, Debug, Serialize)]
pub struct SignedNumber {
    pub value: Decimal,
    pub span: Span,
}

/// `correlation btc, rent = 0.6`.
#[derive(Clone, Debug, Serialize)]
pub struct CorrelationDef {
    pub a: Ident,
    pub b: Ident,
    pub value: SignedNumber,
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub struct TestDef {
    pub title: String,
    pub data: Option<(String, Span)>,
    pub scenario: Option<Ident>,
    /// Applied after the scenario, in order, as a scenario's shocks are.
    pub shocks: Vec<Shock>,
    pub expects: Vec<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub struct CheckDef {
    pub cond: Expr,
    pub message: String,
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum DurationUnit {
    Days,
    BusinessDays,
    Months,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    And,
    Or,
    Coalesce,
    Cmp(CmpOp),
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
            BinaryOp::Coalesce => "??",
            BinaryOp::Cmp(c) => c.symbol(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub enum ExprKind {
    /// A number, percent or multiple literal: its value (`50%` is 0.5) and how it was written.
    Number(Decimal, NumberLiteral),
    Money(Decimal, String),
    Date(#[serde(serialize_with = "serialize_date")] Date),
    Duration(i64, DurationUnit),
    /// A duration whose count is computed, or whose business days are counted in named
    /// calendars: `(grace) business days in london`. `scale` turns quarters and years into
    /// months.
    DurationOf { count: Box<Expr>, unit: DurationUnit, scale: i64, calendars: Vec<Ident> },
    Text(String),
    Bool(bool),
    List(Vec<Expr>),
    Name(String),
    /// A bare currency code: only meaningful as `money(n, USD)`'s second argument.
    Currency(String),
    Input,
    Field(Box<Expr>, Ident),
    Index(Box<Expr>, Box<Expr>),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    Call { name: Ident, args: Vec<Arg> },
}

/// How a number literal was written, which the formatter keeps and tables show values in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NumberLiteral {
    pub style: LiteralStyle,
    /// The literal as written: `10_000_000`, `50%`, `1.25x`.
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum LiteralStyle {
    Plain,
    Percent,
    Multiple,
}

impl Expr {
    /// How a value computed by this expression reads as written: the style of the percent
    /// or multiple literal it ends with (outside brackets: `ltv - 5%` reads as a percent,
    /// `(ltv - 5%)` does not). A multiple must also begin with a number literal, so that
    /// `2 * 1.25x` reads as a multiple and `ebitda * 1.25x` as a plain number.
    pub fn written_style(&self) -> LiteralStyle {
        match self.last_literal() {
            Some(LiteralStyle::Percent) => LiteralStyle::Percent,
            Some(LiteralStyle::Multiple) if self.starts_with_number() => LiteralStyle::Multiple,
            _ => LiteralStyle::Plain,
        }
    }

    /// The style of the literal this expression's text ends with, if it ends with one. A
    /// node whose span reaches past its last operand was written in brackets.
    fn last_literal(&self) -> Option<LiteralStyle> {
        match &self.kind {
            ExprKind::Number(_, lit) if self.span.len() == lit.text.len() => Some(lit.style),
            ExprKind::Binary(_, _, last) | ExprKind::Unary(_, last) | ExprKind::If(_, _, last) if last.span.end == self.span.end => last.last_literal(),
            _ => None,
        }
    }

    fn starts_with_number(&self) -> bool {
        match &self.kind {
            ExprKind::Number(..) | ExprKind::Money(..) | ExprKind::Date(_) | ExprKind::Duration(..) => true,
            ExprKind::Binary(_, first, _) | ExprKind::Field(first, _) | ExprKind::Index(first, _) | ExprKind::DurationOf { count: first, .. } => {
                first.span.start == self.span.start && first.starts_with_number()
            }
            _ => false,
        }
    }
}

fn serialize_date<S: serde::Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(d)
}

#[derive(Clone, Debug, Serialize)]
pub enum Arg {
    Positional(Expr),
    Named(Ident, Expr),
    Generator { body: Expr, var: Ident, list: Expr, filter: Option<Expr>, span: Span },
}
