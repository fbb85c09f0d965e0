//! The flat, slot-indexed program. Expressions live in one arena and refer to each other
//! by `ExprId`; names are already slots (globals by index, locals by frame offset), record
//! fields are indices. `resolve` builds it, `check` fills in types and field indices, and
//! the evaluator only reads it.

pub mod reads;
pub mod optimize;
pub mod numeric;

use std::sync::Arc;

use rust_decimal::Decimal;

use crate::span::Span;
use crate::syntax::ast::{CmpOp, CureLimit, LiteralStyle, RoundingMode, ShockOp};
use crate::types::{RecordType, Type};
use crate::value::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExprId(pub u32);

/// A named value at the top level of the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Global {
    Let(u32),
    Pool(u32),
    Covenant(u32),
    MarginCall(u32),
    Liquidation(u32),
    Default(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
    Sum,
    Count,
    Min,
    Max,
    Any,
    All,
    List,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    Abs,
    Min,
    Max,
    Clamp,
    Round,
    RoundEven,
    Floor,
    Ceil,
    Sqrt,
    Ln,
    Exp,
    Pow,
    Amount,
    Money,
    Len,
    DaysBetween,
    MonthsBetween,
    YearFraction,
    DayCount,
    BasisDays,
    IsMonthEnd,
    IsQuarterEnd,
    QuarterEnd,
    MonthEnd,
    AddBusinessDays,
    IsBusinessDay,
    /// `is_business_day(d, CALENDAR)`: resolve turns the calendar's name into its bits.
    IsBusinessDayIn,
    Weekday,
}

impl Builtin {
    pub const ALL: &'static [(&'static str, Builtin)] = &[
        ("abs", Builtin::Abs),
        ("min", Builtin::Min),
        ("max", Builtin::Max),
        ("clamp", Builtin::Clamp),
        ("round", Builtin::Round),
        ("round_even", Builtin::RoundEven),
        ("floor", Builtin::Floor),
        ("ceil", Builtin::Ceil),
        ("sqrt", Builtin::Sqrt),
        ("ln", Builtin::Ln),
        ("exp", Builtin::Exp),
        ("pow", Builtin::Pow),
        ("amount", Builtin::Amount),
        ("money", Builtin::Money),
        ("len", Builtin::Len),
        ("days_between", Builtin::DaysBetween),
        ("months_between", Builtin::MonthsBetween),
        ("year_fraction", Builtin::YearFraction),
        ("day_count", Builtin::DayCount),
        ("basis_days", Builtin::BasisDays),
        ("is_month_end", Builtin::IsMonthEnd),
        ("is_quarter_end", Builtin::IsQuarterEnd),
        ("quarter_end", Builtin::QuarterEnd),
        ("month_end", Builtin::MonthEnd),
        ("add_business_days", Builtin::AddBusinessDays),
        ("is_business_day", Builtin::IsBusinessDay),
        ("weekday", Builtin::Weekday),
    ];

    pub fn lookup(name: &str) -> Option<Builtin> {
        Builtin::ALL.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
    }

    pub fn name(self) -> &'static str {
        if self == Builtin::IsBusinessDayIn {
            return "is_business_day";
        }
        Builtin::ALL.iter().find(|(_, b)| *b == self).map_or("?", |(n, _)| n)
    }
}

pub const AGGREGATES: &[(&str, Aggregate)] = &[
    ("sum", Aggregate::Sum),
    ("count", Aggregate::Count),
    ("min", Aggregate::Min),
    ("max", Aggregate::Max),
    ("any", Aggregate::Any),
    ("all", Aggregate::All),
    ("list", Aggregate::List),
];

/// Fields a pool exposes as a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolField {
    Quantity,
    MarketValue,
    EligibleValue,
    RealisableValue,
    Haircut,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CovenantField {
    Status,
    Passed,
    Value,
    Limit,
    Headroom,
    CureAmount,
    CureAvailable,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarginField {
    Status,
    Triggered,
    Amount,
    RawAmount,
    Due,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiquidationField {
    Triggered,
    Debt,
    Proceeds,
    Shortfall,
    Surplus,
    Recovery,
    TargetMet,
    /// The units sold per pool, as a record keyed by the pools in `sell` order.
    Units,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultField {
    Triggered,
    Events,
}

#[derive(Clone, Debug)]
pub enum Node {
    Const(Value),
    Global(Global),
    Local(u32),
    Input,
    Field { base: ExprId, name: Arc<str>, index: u32 },
    /// Reading an optional: `Field` on a value that may be `Null` gives `Null`.
    Index { base: ExprId, index: ExprId },
    PoolField(u32, PoolField),
    CovenantField(u32, CovenantField),
    MarginField(u32, MarginField),
    LiquidationField(u32, LiquidationField),
    DefaultField(u32, DefaultField),
    /// A duration with a computed count (`(n) business days in london`): the count is a
    /// whole Number, multiplied by `scale`.
    MakeDuration { count: ExprId, unit: crate::syntax::ast::DurationUnit, scale: i64, calendars: u64 },
    Neg(ExprId),
    Not(ExprId),
    Arith { op: ArithOp, lhs: ExprId, rhs: ExprId },
    Compare { op: CmpOp, lhs: ExprId, rhs: ExprId },
    And(ExprId, ExprId),
    Or(ExprId, ExprId),
    Coalesce(ExprId, ExprId),
    If { cond: ExprId, then: ExprId, otherwise: ExprId },
    List(Vec<ExprId>),
    CallFn { func: u32, args: Vec<ExprId> },
    CallBuiltin { builtin: Builtin, args: Vec<ExprId> },
    Aggregate { kind: Aggregate, var: u32, list: ExprId, body: ExprId, filter: Option<ExprId>, default: Option<ExprId> },
    /// A schedule's table; the key is local 0.
    Schedule { rows: Vec<ScheduleRow>, interpolate: bool },
    /// `expr`, computed once per frame into local `slot` (empty until then): made only by
    /// [`optimize`], for an expression that is never `Null`.
    Memo { slot: u32, expr: ExprId },
}

#[derive(Clone, Debug)]
pub struct ScheduleRow {
    pub key: Option<(CmpOp, ExprId)>,
    pub value: ExprId,
    /// How the value was written (`75%`), which is how a limit read from the schedule is shown.
    pub written_style: LiteralStyle,
}

/// An expression to evaluate with a frame of `frame` local slots.
#[derive(Clone, Copy, Debug)]
pub struct Body {
    pub expr: ExprId,
    pub frame: u32,
}

#[derive(Debug)]
pub struct LetDef {
    pub name: Arc<str>,
    pub body: Body,
    pub ty: Type,
    pub declared: Option<Type>,
    /// Declared in the root file, and so reported under `values`.
    pub reported: bool,
    pub display: Option<crate::syntax::ast::DisplayForm>,
    /// How the body was written (ending in `65%`, `1.25x`): the style shown without `display`.
    pub written_style: LiteralStyle,
    pub span: Span,
}

#[derive(Debug)]
pub struct FnDef {
    pub name: Arc<str>,
    pub params: Vec<(Arc<str>, Type)>,
    pub ret: Type,
    pub body: Body,
    pub span: Span,
}

#[derive(Debug)]
pub struct CheckDef {
    pub cond: Body,
    pub message: String,
    pub span: Span,
    /// The globals the condition reads, dependencies first: all a check evaluates.
    pub deps: Vec<Global>,
}

#[derive(Debug)]
pub struct PoolDef {
    pub name: Arc<str>,
    pub title: Option<String>,
    /// `for x in LIST`: the list, and the local slot of `x` in the clause frames.
    pub each: Option<(Body, u32)>,
    pub quantity: Body,
    pub price: Body,
    pub haircut: Option<Body>,
    pub lot: Option<Body>,
    /// The discount, with `sold` in local slot 0.
    pub discount: Option<Body>,
    /// The discount is a standard-library model of `sold` (`sqrt_impact`,
    /// `absorption_discount`, `fixed_discount`), whose proceeds rise and then fall whatever its
    /// other arguments are: the lot searches are aimed by the proceeds, and find the lots a
    /// bisection finds.
    pub standard_discount: bool,
    /// Per position, like `price`; forced sales use it, borrowing-base values do not.
    pub liquidation_price: Option<Body>,
    pub price_ty: Type,
    pub span: Span,
}

impl PoolDef {
    /// The clauses evaluated in each position's frame: quantity, price, haircut and
    /// liquidation price, those written.
    pub fn position_clauses(&self) -> impl Iterator<Item = Body> {
        [Some(self.quantity), Some(self.price), self.haircut, self.liquidation_price].into_iter().flatten()
    }
}

#[derive(Debug)]
pub enum Testing {
    Always,
    Quarterly,
    Monthly,
    On(Body),
}

#[derive(Debug)]
pub struct CureDef {
    /// Field indices from the input root to the cured amount, when it goes into the input.
    pub path: Vec<u32>,
    /// The `let` the cure goes into, when it goes into a computed figure.
    pub into_let: Option<u32>,
    pub path_text: String,
    pub ty: Type,
    pub history: Option<Body>,
    pub limits: Vec<CureLimit>,
    pub span: Span,
}

#[derive(Debug)]
pub struct CovenantDef {
    pub name: Arc<str>,
    pub title: Option<String>,
    pub op: CmpOp,
    pub lhs: Body,
    pub rhs: Body,
    /// How the limit was written (`1.25x`, `65%`): how value and limit are shown.
    pub rhs_style: LiteralStyle,
    pub value_ty: Type,
    pub tested: Testing,
    pub when: Option<Body>,
    pub cure: Option<CureDef>,
    /// The globals the requirement depends on, dependencies first: what a cure search
    /// re-evaluates for each amount it tries.
    pub requirement_deps: Vec<Global>,
    pub span: Span,
}

#[derive(Debug)]
pub struct MarginCallDef {
    pub name: Arc<str>,
    pub title: Option<String>,
    pub trigger: Body,
    pub amount: Body,
    pub minimum_transfer: Option<Body>,
    pub rounding: Option<(RoundingMode, Body)>,
    pub due: Option<Body>,
    pub amount_ty: Type,
    pub span: Span,
}

#[derive(Debug)]
pub struct LiquidationDef {
    pub name: Arc<str>,
    pub title: Option<String>,
    pub trigger: Option<Body>,
    pub debt: Body,
    pub sell: Vec<u32>,
    /// `until COND`, with where the sale's proceeds go (the figure `debt` names) and the
    /// globals COND depends on, in evaluation order.
    pub until: Option<Until>,
    pub debt_ty: Type,
    pub span: Span,
}

#[derive(Debug)]
pub struct CalendarDef {
    pub name: Arc<str>,
    pub holidays: Body,
    pub span: Span,
}

#[derive(Debug)]
pub struct DefaultDef {
    pub name: Arc<str>,
    pub title: Option<String>,
    pub events: Vec<EventDef>,
    pub span: Span,
}

#[derive(Debug)]
pub struct EventDef {
    pub name: Arc<str>,
    pub title: Option<String>,
    pub when: Body,
}

#[derive(Debug)]
pub struct Until {
    pub cond: Body,
    pub debt_target: DebtTarget,
    pub deps: Vec<Global>,
}

/// The figure a liquidation to a target pays down: a Money `let`, or a Money input path.
#[derive(Clone, Debug, PartialEq)]
pub enum DebtTarget {
    /// Filled in by `check`, which sees the debt clause's shape.
    Unknown,
    Let(u32),
    Input(Vec<u32>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathStep {
    Field(u32),
    All,
}

#[derive(Debug)]
pub struct ShockDef {
    pub path: Vec<PathStep>,
    pub op: ShockOp,
    pub value: Body,
    pub ty: Type,
    pub span: Span,
}

#[derive(Debug)]
pub struct ScenarioDef {
    pub name: Arc<str>,
    pub title: Option<String>,
    pub shocks: Vec<ShockDef>,
    pub span: Span,
}

/// A `simulation`: the engine's specification, its shocks' paths written as text
/// (`input.gpus[*].rent_per_hour`) and checked against the input type at compile time.
#[derive(Debug)]
pub struct SimulationDef {
    pub name: Arc<str>,
    pub title: Option<String>,
    pub factors: Vec<(String, crate::analysis::simulate::Distribution)>,
    pub correlations: Vec<(usize, usize, f64)>,
    pub shocks: Vec<(String, usize)>,
    pub span: Span,
}

#[derive(Debug)]
pub struct TestDef {
    pub title: String,
    pub data: Option<String>,
    pub scenario: Option<u32>,
    /// The test's own what-ifs, applied after its scenario.
    pub shocks: Vec<ShockDef>,
    pub expects: Vec<Body>,
    pub span: Span,
}

/// Every expression of the program with its span and checked type.
#[derive(Debug, Default)]
pub struct Arena {
    pub nodes: Vec<Node>,
    pub spans: Vec<Span>,
    pub types: Vec<Type>,
}

impl Arena {
    pub fn push(&mut self, node: Node, span: Span) -> ExprId {
        let id = ExprId(u32::try_from(self.nodes.len()).unwrap_or(u32::MAX));
        self.nodes.push(node);
        self.spans.push(span);
        self.types.push(Type::Error);
        id
    }

    pub fn node(&self, id: ExprId) -> Option<&Node> {
        self.nodes.get(id.0 as usize)
    }

    pub fn span(&self, id: ExprId) -> Span {
        self.spans.get(id.0 as usize).copied().unwrap_or_default()
    }

    pub fn ty(&self, id: ExprId) -> &Type {
        self.types.get(id.0 as usize).unwrap_or(&Type::Error)
    }
}

/// The compiled program, before it is wrapped with its sources in `crate::Program`.
#[derive(Debug)]
pub struct Ir {
    pub arena: Arena,
    pub facility: Option<String>,
    pub input: Arc<RecordType>,
    pub as_of_field: u32,
    pub lets: Vec<LetDef>,
    pub fns: Vec<FnDef>,
    pub checks: Vec<CheckDef>,
    pub calendar: Option<Body>,
    /// Named calendars, in declaration order: bit `i` of a duration's `calendars` is the i-th.
    pub calendars: Vec<CalendarDef>,
    pub pools: Vec<PoolDef>,
    pub covenants: Vec<CovenantDef>,
    pub margin_calls: Vec<MarginCallDef>,
    pub liquidations: Vec<LiquidationDef>,
    pub defaults: Vec<DefaultDef>,
    pub scenarios: Vec<ScenarioDef>,
    pub simulations: Vec<SimulationDef>,
    pub tests: Vec<TestDef>,
    /// Globals in declaration order, for the report.
    pub order: Vec<Global>,
    /// Globals with every dependency before its dependents: the evaluation order.
    pub topo: Vec<Global>,
    /// Which globals each global reads, and is read by.
    pub dependencies: Dependencies,
    /// What each global reads of the input, filled in once the program is checked.
    pub input_reads: reads::InputReads,
    /// Where the evaluator enters the bodies [`optimize`] rewrote.
    pub fast: optimize::Fast,
}

impl Ir {
    /// The globals `g` reads directly (a function it calls counts as its body: what the
    /// function reads, `g` reads), in evaluation order. A liquidation reads the pools it sells.
    pub fn dependencies_of(&self, g: Global) -> &[Global] {
        self.dependencies.of(g)
    }

    /// The globals that read `g` directly, in evaluation order.
    pub fn dependents_of(&self, g: Global) -> &[Global] {
        self.dependencies.dependents_of(g)
    }
}

/// The dependency edges between globals that `resolve` finds for its cycle check, kept:
/// what a figure reads decides what must be computed before it, what a change to it
/// invalidates, and what a search must evaluate again when it changes one input.
#[derive(Clone, Debug, Default)]
pub struct Dependencies {
    /// Where each kind of global starts in the dense numbering (lets, pools, covenants,
    /// margin calls, liquidations, defaults), then where the numbering ends.
    offsets: [usize; 7],
    reads: Vec<Box<[Global]>>,
    read_by: Vec<Box<[Global]>>,
    /// Each global's place in the evaluation order.
    position: Vec<usize>,
}

impl Dependencies {
    /// Edges from `reads` (per global, what it reads directly), for globals of the given
    /// counts per kind, ordered by `topo`.
    pub fn new(counts: [usize; 6], topo: &[Global], mut reads: Vec<(Global, Vec<Global>)>) -> Dependencies {
        let mut offsets = [0; 7];
        let mut total = 0;
        for (offset, count) in offsets.iter_mut().zip(counts) {
            *offset = total;
            total += count;
        }
        if let Some(end) = offsets.last_mut() {
            *end = total;
        }
        let mut d = Dependencies { offsets, reads: vec![Box::default(); total], read_by: vec![Box::default(); total], position: vec![usize::MAX; total] };
        for (i, g) in topo.iter().enumerate() {
            if let Some(p) = d.index(*g).and_then(|x| d.position.get_mut(x)) {
                *p = i;
            }
        }
        let mut read_by: Vec<Vec<Global>> = vec![Vec::new(); total];
        for (g, rs) in &mut reads {
            rs.sort_by_key(|r| d.position_of(*r));
            rs.dedup();
            for r in rs.iter() {
                if let Some(list) = d.index(*r).and_then(|x| read_by.get_mut(x)) {
                    list.push(*g);
                }
            }
        }
        for (g, rs) in reads {
            if let Some(slot) = d.index(g).and_then(|x| d.reads.get_mut(x)) {
                *slot = rs.into();
            }
        }
        d.read_by = read_by
            .into_iter()
            .map(|mut list| {
                list.sort_by_key(|r| d.position_of(*r));
                list.dedup();
                list.into()
            })
            .collect();
        d
    }

    /// A dense number for `g`, from zero.
    fn index(&self, g: Global) -> Option<usize> {
        let (kind, i) = match g {
            Global::Let(i) => (0, i),
            Global::Pool(i) => (1, i),
            Global::Covenant(i) => (2, i),
            Global::MarginCall(i) => (3, i),
            Global::Liquidation(i) => (4, i),
            Global::Default(i) => (5, i),
        };
        let start = *self.offsets.get(kind)?;
        let end = *self.offsets.get(kind + 1)?;
        let at = start.checked_add(i as usize)?;
        (at < end).then_some(at)
    }

    /// `g`'s place in the evaluation order.
    pub fn position(&self, g: Global) -> Option<usize> {
        self.index(g).and_then(|i| self.position.get(i)).copied().filter(|&p| p != usize::MAX)
    }

    fn position_of(&self, g: Global) -> usize {
        self.index(g).and_then(|i| self.position.get(i)).copied().unwrap_or(usize::MAX)
    }

    pub fn of(&self, g: Global) -> &[Global] {
        self.index(g).and_then(|i| self.reads.get(i)).map_or(&[], |r| &r[..])
    }

    pub fn dependents_of(&self, g: Global) -> &[Global] {
        self.index(g).and_then(|i| self.read_by.get(i)).map_or(&[], |r| &r[..])
    }

    /// `roots` and every global they read, directly or not, in evaluation order: what must
    /// be computed to evaluate an expression that reads `roots`.
    pub fn cone(&self, roots: impl IntoIterator<Item = Global>) -> Vec<Global> {
        let mut seen = vec![false; self.position.len()];
        let mut work: Vec<Global> = roots.into_iter().collect();
        let mut cone = Vec::new();
        while let Some(g) = work.pop() {
            let Some(s) = self.index(g).and_then(|i| seen.get_mut(i)) else { continue };
            if *s {
                continue;
            }
            *s = true;
            cone.push(g);
            work.extend_from_slice(self.of(g));
        }
        cone.sort_by_key(|g| self.position_of(*g));
        cone
    }
}


/// One cent: the step of a cure search.
pub fn cent() -> Decimal {
    Decimal::new(1, 2)
}

#[cfg(test)]
mod tests {
    use super::Global;

    /// The edges the cycle check finds are kept: `b` reads `a` through the function it calls,
    /// the pool reads `b`, the covenant reads the pool and `a`; `unrelated` reads only data.
    #[test]
    fn dependency_edges_are_kept_in_the_ir() {
        let source = r#"
            input { as_of: Date  coins: Number  price: Money(USD)  debt: Money(USD) }
            let a = input.price
            fn plus_a(y: Money(USD)) -> Money(USD) = y + a
            let b = plus_a(1 USD)
            let unrelated = input.coins
            collateral btc "Bitcoin" { quantity input.coins  price b }
            covenant max_ltv "LTV" { require input.debt / btc.eligible_value <= 50%  when a > 0 USD }
        "#;
        let program = crate::Program::compile("deps.cov", source).unwrap();
        let ir = program.ir();
        let (a, b, unrelated, pool, covenant) = (Global::Let(0), Global::Let(1), Global::Let(2), Global::Pool(0), Global::Covenant(0));
        assert_eq!(ir.dependencies_of(a), &[]);
        assert_eq!(ir.dependencies_of(b), &[a]);
        assert_eq!(ir.dependencies_of(pool), &[b]);
        assert_eq!(ir.dependencies_of(covenant), &[a, pool]);
        assert_eq!(ir.dependents_of(a), &[b, covenant]);
        assert_eq!(ir.dependents_of(b), &[pool]);
        assert_eq!(ir.dependents_of(unrelated), &[]);
        // The requirement's cone: everything it reads, directly or not, in evaluation order.
        assert_eq!(program.ir().covenants[0].requirement_deps, vec![a, b, pool]);
        assert_eq!(ir.dependencies.cone([covenant]), vec![a, b, pool, covenant]);
    }
}
