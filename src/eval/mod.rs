//! The evaluator over the IR: checked decimal arithmetic, dates, calendars, and the outcome
//! store expressions read. It evaluates expressions and `let`s only: a rule's figures are
//! computed above this room and read here through their slots in [`Outcome`], so this room
//! depends on nothing that defines rules (a unit test below keeps it so). The order in
//! which globals are computed belongs to the engine room.

pub mod ops;
pub mod outcome;
pub mod trace;
pub mod wide;

use std::cell::Cell;
use std::sync::Arc;

use rust_decimal::Decimal;

pub use ops::DayCount;
pub use outcome::Outcome;
pub use trace::{NoTrace, Recording, Tracer};

use crate::dates::Date;
use crate::ir::{self, Aggregate, Body, ExprId, Global, Ir, Node};
use crate::span::Span;
use crate::syntax::ast::{CmpOp, DurationUnit};
use crate::value::{Duration, Value};

/// A pool clause with its form without steps, if it has one (`Evaluator::clause`).
#[derive(Clone, Copy)]
pub struct Clause<'p> {
    body: Body,
    form: Option<&'p ir::numeric::Numeric>,
}

/// What a clause evaluated without steps has spent, and the shared expressions it computed,
/// to be undone if it does not finish.
struct NumericRun<'v> {
    spent: u64,
    memos: [u32; ir::numeric::MAX_MEMOS],
    computed: usize,
    /// Something was off the form's path: the clause is to be stepped through.
    off: bool,
    /// The pool position the clause is read for, which its frame's first local stands for.
    position: Option<&'v Value>,
}

/// What a computation in place (`Evaluator::number_in_place`) would have spent: its steps,
/// and the deepest level it reached.
#[derive(Clone, Copy, Debug, Default)]
struct InPlace {
    steps: u64,
    deepest: u32,
}

const IN_PLACE_LEVELS: u32 = 12;
const IN_PLACE_STEPS: u64 = 64;
const IN_PLACE_ARGUMENTS: usize = 4;

impl NumericRun<'_> {
    #[cold]
    fn leave(&mut self) -> Decimal {
        self.off = true;
        Decimal::ZERO
    }
}

/// An evaluation failure: where it arose, or that something it depends on failed.
///
/// What arose is boxed: every step of an evaluation returns a result, and with the failure
/// a pointer a result holding a value is no larger than the value (24 bytes, not 40).
#[derive(Clone, Debug, PartialEq)]
pub enum Fail {
    Here(Box<Failure>),
    Upstream,
}

/// A failure's message and where in the program it arose.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub message: String,
    pub span: Span,
}

impl Fail {
    #[cold]
    #[inline(never)]
    pub fn here(span: Span, message: impl Into<String>) -> Fail {
        Fail::Here(Box::new(Failure { message: message.into(), span }))
    }
}

pub type EvalResult<T> = Result<T, Fail>;

#[cold]
#[inline(never)]
pub fn fail<T>(span: Span, message: impl Into<String>) -> EvalResult<T> {
    Err(Fail::here(span, message))
}

/// One failure, reported against the value or rule where it arose.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorEntry {
    pub name: Arc<str>,
    pub message: String,
    pub span: Span,
}

/// What one evaluation may spend: evaluator steps, and elements of the lists it builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub operations: u64,
    pub values: u64,
}

/// The bound an evaluation ran into. Past it every step fails, so the evaluation as a whole
/// is refused rather than reported in part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exceeded {
    Operations,
    Values,
    Depth,
}

/// How deeply expressions and function calls may nest while evaluating, counted in
/// `Evaluator::expr` frames (a function call is one for the call and one per level of its
/// body). An optimised build spends about 400 bytes of stack a level, so this takes about
/// 1 MiB: half of an ordinary 2 MiB thread (measured: 6,400 levels overflow one). Since
/// operands are read in place and arithmetic is inlined, `expr`'s frame is 480 bytes (its
/// `sub rsp` and pushes, read from the disassembly): 1.2 MiB at this depth.
pub const MAX_DEPTH: u32 = 2_500;

/// A calendar's holidays, sorted, with what computing them spent.
#[derive(Clone, Debug)]
struct Holidays {
    /// Shared: a rerun takes the list without copying it.
    dates: Arc<[Date]>,
    cost: Budget,
    /// False for a list taken from another evaluation and not yet needed here: the first use
    /// pays its cost, where computing it would have.
    paid: bool,
}

/// The holidays of a program without a calendar: one empty list for every evaluation, so
/// that counting business days allocates nothing.
fn no_holidays() -> Arc<[Date]> {
    static NONE: std::sync::OnceLock<Arc<[Date]>> = std::sync::OnceLock::new();
    Arc::clone(NONE.get_or_init(|| Arc::from(Vec::new())))
}

/// The holiday lists an evaluation computed, with their costs: an evaluation of data whose
/// holidays are the same takes them instead of evaluating, sorting and deduplicating them
/// again, and is charged for each where it would have computed it.
#[derive(Clone, Debug, Default)]
pub struct KnownHolidays {
    default: Option<Holidays>,
    named: Vec<Option<Holidays>>,
}

/// Generic over the [`Tracer`] told about each step; ordinary runs take the zero-size
/// [`NoTrace`], for which the hooks compile to nothing (see the `trace` module).
pub struct Evaluator<'p, T: Tracer = NoTrace> {
    pub ir: &'p Ir,
    pub input: Value,
    pub as_of: Date,
    /// `as_of`'s calendar fields, which every age read against it needs.
    as_of_ymd: (i32, u32, u32),
    holidays: Option<EvalResult<Holidays>>,
    named_holidays: Vec<Option<EvalResult<Holidays>>>,
    stack: Vec<Value>,
    pub out: Outcome,
    /// Cure searches re-evaluate a covenant's requirement; they never search for cures
    /// themselves.
    pub searching: bool,
    /// Steps and list elements left. Cells, so that a cure search's probes, which borrow the
    /// evaluator they search for, can draw on the same budget and hand back what is left.
    operations_left: Cell<u64>,
    values_left: Cell<u64>,
    depth_left: u32,
    exceeded: Cell<Option<Exceeded>>,
    /// The last business-day count, `(from, days, calendars) → date`: a program's margin
    /// calls usually all fall due the same number of business days after `as_of`.
    last_business_days: Option<(Date, i64, u64, Date)>,
    /// Sales searched for by the evaluation this one re-evaluates, in pools whose figures it
    /// takes unchanged: a liquidation reaching such a pool with as much left to cover takes
    /// the sale found then.
    pub reusable_sales: Vec<outcome::SaleSearch>,
    pub tracer: T,
}

impl<'p> Evaluator<'p> {
    pub fn new(ir: &'p Ir, input: Value, as_of: Date) -> Self {
        Evaluator::traced(ir, input, as_of, NoTrace)
    }

    /// An evaluator with no slots for globals, for conditions that read none (the checks on
    /// the data, most often), which then allocates nothing for them.
    pub fn without_globals(ir: &'p Ir, input: Value, as_of: Date) -> Self {
        Evaluator::with_store(ir, input, as_of, NoTrace, Outcome::without_slots(as_of))
    }
}

impl<'p, T: Tracer> Evaluator<'p, T> {
    /// An evaluator that tells `tracer` about every step and every global it computes.
    pub fn traced(ir: &'p Ir, input: Value, as_of: Date, tracer: T) -> Self {
        Evaluator::with_store(ir, input, as_of, tracer, Outcome::empty(ir, as_of))
    }

    fn with_store(ir: &'p Ir, input: Value, as_of: Date, tracer: T, out: Outcome) -> Self {
        Evaluator {
            ir,
            input,
            as_of,
            as_of_ymd: as_of.ymd(),
            holidays: None,
            named_holidays: vec![None; ir.calendars.len()],
            // Within the allocator's per-thread cache of small blocks; deeper evaluations grow it.
            stack: Vec::with_capacity(16),
            out,
            searching: false,
            operations_left: Cell::new(u64::MAX),
            values_left: Cell::new(u64::MAX),
            depth_left: MAX_DEPTH,
            exceeded: Cell::new(None),
            last_business_days: None,
            reusable_sales: Vec::new(),
            tracer,
        }
    }

    /// This evaluator with `tracer` in place of its own; nothing evaluated so far is reported.
    pub fn with_tracer<U: Tracer>(self, tracer: U) -> Evaluator<'p, U> {
        Evaluator {
            ir: self.ir,
            input: self.input,
            as_of: self.as_of,
            as_of_ymd: self.as_of_ymd,
            holidays: self.holidays,
            named_holidays: self.named_holidays,
            stack: self.stack,
            out: self.out,
            searching: self.searching,
            operations_left: self.operations_left,
            values_left: self.values_left,
            depth_left: self.depth_left,
            exceeded: self.exceeded,
            last_business_days: self.last_business_days,
            reusable_sales: self.reusable_sales,
            tracer,
        }
    }

    /// This evaluator allowed `depth` levels of nesting rather than [`MAX_DEPTH`], for tests
    /// that run out of depth at every level.
    #[cfg(test)]
    pub(crate) fn with_depth(mut self, depth: u32) -> Self {
        self.depth_left = depth;
        self
    }

    /// This evaluator, spending at most `budget`.
    pub fn with_budget(self, budget: Budget) -> Self {
        self.operations_left.set(budget.operations);
        self.values_left.set(budget.values);
        self
    }

    /// Puts what is left of the budget at `left`, as if the difference had been spent.
    pub fn set_budget_left(&self, left: Budget) {
        self.operations_left.set(left.operations);
        self.values_left.set(left.values);
    }

    /// What is left of the budget.
    pub fn budget_left(&self) -> Budget {
        Budget { operations: self.operations_left.get(), values: self.values_left.get() }
    }

    pub fn exceeded(&self) -> Option<Exceeded> {
        self.exceeded.get()
    }

    /// An evaluator for a search's probe (over `input`), spending this one's budget: hand it
    /// back with `absorb` when the probe is done. Probes are not traced: what they try is
    /// not what the program computed.
    pub fn probe(&self, input: Value) -> Evaluator<'p> {
        let mut probe = Evaluator::new(self.ir, input, self.as_of).with_budget(self.budget_left());
        probe.searching = true;
        probe
    }

    /// Takes back what a probe left of the budget, and whether it ran out.
    pub fn absorb<U: Tracer>(&self, probe: &Evaluator<'_, U>) {
        self.operations_left.set(probe.operations_left.get());
        self.values_left.set(probe.values_left.get());
        if let Some(e) = probe.exceeded.get() {
            self.exceeded.set(Some(e));
        }
    }

    fn refuse<R>(&self, what: Exceeded, span: Span) -> EvalResult<R> {
        self.exceeded.set(Some(what));
        let message = match what {
            Exceeded::Operations => "the evaluation is over its operation budget",
            Exceeded::Values => "the evaluation built more list elements than its budget",
            Exceeded::Depth => "the evaluation nests too deeply",
        };
        fail(span, message)
    }

    /// Spends `n` steps of the operation budget (work a builtin does in a loop).
    pub fn spend(&self, n: u64, span: Span) -> EvalResult<()> {
        match self.operations_left.get().checked_sub(n) {
            Some(left) => {
                self.operations_left.set(left);
                Ok(())
            }
            None => {
                self.operations_left.set(0);
                self.refuse(Exceeded::Operations, span)
            }
        }
    }

    /// Spends what another evaluation spent doing what this one takes from it instead.
    pub fn spend_budget(&self, spent: Budget, span: Span) -> EvalResult<()> {
        self.spend(spent.operations, span)?;
        self.spend_values(usize::try_from(spent.values).unwrap_or(usize::MAX), span)
    }

    /// Spends `n` list elements of the value budget.
    fn spend_values(&self, n: usize, span: Span) -> EvalResult<()> {
        match self.values_left.get().checked_sub(n as u64) {
            Some(left) => {
                self.values_left.set(left);
                Ok(())
            }
            None => {
                self.values_left.set(0);
                self.refuse(Exceeded::Values, span)
            }
        }
    }

    /// Spends the elements nested in a value put into a list: a list or record is counted
    /// with everything in it, shared parts as often as they occur, as the report writes them.
    fn spend_contents(&self, v: &Value, span: Span) -> EvalResult<()> {
        if let Value::List(items) | Value::Record(items) = v {
            self.spend_values(items.len(), span)?;
            for item in items.iter() {
                self.spend_contents(item, span)?;
            }
        }
        Ok(())
    }

    /// The outcome store, marked incomplete if the evaluation ran out of budget or depth.
    pub fn into_outcome(self) -> Outcome {
        self.into_parts().0
    }

    /// The outcome store, as `into_outcome` gives it, and the data evaluated, handed back
    /// rather than cloned for the evaluation's result.
    pub fn into_outcome_and_input(mut self) -> (Outcome, Value) {
        self.out.exceeded = self.exceeded.get();
        (self.out, self.input)
    }

    /// The outcome store, as `into_outcome` gives it, and the tracer with what it recorded.
    pub fn into_parts(mut self) -> (Outcome, T) {
        self.out.exceeded = self.exceeded.get();
        (self.out, self.tracer)
    }

    /// Evaluates a `let` into its slot.
    pub fn let_global(&mut self, i: u32) {
        let Some(def) = self.ir.lets.get(i as usize) else { return };
        let r = match self.number_in_place(def.body) {
            Some(n) => Ok(Value::Num(n)),
            None => self.eval_body(def.body),
        };
        self.note(&def.name, &r);
        if let Some(slot) = self.out.lets.get_mut(i as usize) {
            *slot = Some(r);
        }
    }

    /// Records a failure that arose in the global `name`.
    pub fn note<R>(&mut self, name: &Arc<str>, r: &EvalResult<R>) {
        if let Err(Fail::Here(failure)) = r {
            self.out.errors.push(ErrorEntry { name: name.clone(), message: failure.message.clone(), span: failure.span });
        }
    }

    // ------------------------------------------------------------------ bodies

    pub fn eval_body(&mut self, b: Body) -> EvalResult<Value> {
        self.eval_with(b, &[])
    }

    /// Evaluates a body with its first locals bound.
    pub fn eval_with(&mut self, b: Body, bound: &[Value]) -> EvalResult<Value> {
        let base = self.stack.len();
        // A body without locals (a literal, a read, arithmetic on globals: most of a rule's
        // clauses) needs no frame, and its root may be read as an operand.
        if b.frame == 0 && bound.is_empty() {
            return self.operand(self.ir.fast.root(b.expr), base);
        }
        self.stack.extend(bound.iter().cloned());
        self.stack.resize(base + (b.frame as usize).max(bound.len()), Value::Null);
        let r = self.expr(self.ir.fast.root(b.expr), base);
        self.stack.truncate(base);
        r
    }

    /// Opens a frame of `size` locals at the top of the stack, its first locals bound, for
    /// evaluating several bodies over the same binding (a pool position's quantity, price and
    /// haircut). Close it with `close_frame`.
    pub fn open_frame(&mut self, bound: Value, size: usize) -> usize {
        let base = self.stack.len();
        self.stack.push(bound);
        self.stack.resize(base + size.max(1), Value::Null);
        base
    }

    /// Empties the locals of the frame open at `base` (the top of the stack), its first
    /// included, for the next pool position: a position's clauses read it where it lies, and
    /// bind it only when stepped through (see [`Self::num_of`]), which spares each position
    /// a count taken and given back on the shared list.
    pub fn empty_frame(&mut self, base: usize) {
        if let Some(frame) = self.stack.get_mut(base..) {
            for slot in frame {
                if !matches!(slot, Value::Null) {
                    *slot = Value::Null;
                }
            }
        }
    }

    pub fn close_frame(&mut self, base: usize) {
        self.stack.truncate(base);
    }

    /// A number from a body whose frame is already open at `base`.
    pub fn num_in_frame(&mut self, b: Body, base: usize) -> EvalResult<Decimal> {
        self.n(self.ir.fast.root(b.expr), base)
    }

    /// A pool clause prepared for evaluating in every position: with its form without steps
    /// (`ir::numeric`) when it has one and this evaluator's tracer is not told of each step.
    pub fn clause(&self, b: Body) -> Clause<'p> {
        Clause { body: b, form: if T::SEES_STEPS { None } else { self.ir.fast.numeric(b.expr) } }
    }

    /// A prepared clause's number for a pool position, `position` (`None` for a pool without
    /// `for`), in the frame open at `base`: computed in one go when it has a form and nothing
    /// is amiss, reading the position where it lies; else step by step, with the position
    /// bound first as the frame's first local.
    #[inline]
    pub fn num_of(&mut self, clause: &Clause<'p>, base: usize, position: Option<&Value>) -> EvalResult<Decimal> {
        if let Some(form) = clause.form {
            if let Some(n) = self.numeric(form, base, position) {
                return Ok(n);
            }
        }
        if let (Some(position), Some(first)) = (position, self.stack.get_mut(base)) {
            if matches!(first, Value::Null) {
                *first = position.clone();
            }
        }
        self.num_in_frame(clause.body, base)
    }

    /// `form` evaluated in the frame at `base`, with the steps its expressions spend taken
    /// from the budget; `None`, with the budget, the frame and the stack as they were, when
    /// the budget or the depth left might not suffice or anything is off the form's path (a
    /// failure, a value of another type, an absent optional). The caller then evaluates the
    /// clause step by step, which spends, computes and fails exactly as it always has.
    fn numeric(&mut self, form: &ir::numeric::Numeric, base: usize, position: Option<&Value>) -> Option<Decimal> {
        let left = self.operations_left.get();
        if left < form.most_steps || self.depth_left < form.depth {
            return None;
        }
        let stack_len = self.stack.len();
        let mut run = NumericRun { spent: 0, memos: [0; ir::numeric::MAX_MEMOS], computed: 0, off: false, position };
        let n = self.numeric_num(form, form.root(), base, &mut run);
        if !run.off {
            self.operations_left.set(left - run.spent);
            return Some(n);
        }
        for slot in run.memos.iter().take(run.computed) {
            if let Some(v) = self.stack.get_mut(base + *slot as usize) {
                *v = Value::Null;
            }
        }
        self.stack.truncate(stack_len);
        None
    }

    /// The number operation `i` of `form` computes; when it does not compute one, `run` is
    /// marked off its path and the number is meaningless. (A plain `Decimal` comes back in
    /// registers, an optional one through memory.)
    fn numeric_num(&mut self, form: &ir::numeric::Numeric, i: u32, base: usize, run: &mut NumericRun) -> Decimal {
        use ir::numeric::Op;
        run.spent += 1;
        let n = match form.ops.get(i as usize) {
            Some(Op::Const(Value::Num(n))) => Some(*n),
            Some(Op::Read { root, path }) => match self.numeric_read(*root, path, base, run.position) {
                Some(Value::Num(n)) => Some(*n),
                _ => None,
            },
            Some(Op::Arith(op, a, b)) => {
                let a = self.numeric_operand(form, *a, base, run);
                let b = self.numeric_operand(form, *b, base, run);
                if run.off {
                    return Decimal::ZERO;
                }
                ops::arith(*op, a, b, Span::default()).ok()
            }
            Some(Op::Memo { slot, expr }) => {
                if let Some(v) = self.stack.get(base + *slot as usize).filter(|v| !matches!(v, Value::Null)) {
                    // Read back, one step, as a step reads it.
                    return match v {
                        Value::Num(n) => *n,
                        _ => run.leave(),
                    };
                }
                let n = self.numeric_num(form, *expr, base, run);
                if run.off {
                    return Decimal::ZERO;
                }
                let Some(computed) = run.memos.get_mut(run.computed) else { return run.leave() };
                *computed = *slot;
                run.computed += 1;
                self.set_local(base, *slot, Value::Num(n));
                Some(n)
            }
            Some(Op::Table { func, key }) => {
                let key = self.numeric_operand(form, *key, base, run);
                if run.off {
                    return Decimal::ZERO;
                }
                match self.ir.fast.table(*func) {
                    Some(ir::optimize::Table::Points(curve)) => curve.at(key, Span::default()).ok(),
                    Some(ir::optimize::Table::Steps(steps)) => match steps.at(&Value::Num(key), Span::default()) {
                        Ok(Value::Num(n)) => Some(n),
                        _ => None,
                    },
                    None => None,
                }
            }
            Some(Op::MonthsBetween(a, b)) => match (self.numeric_date(form, *a, base, run), self.numeric_date(form, *b, base, run)) {
                (Some(a), Some(b)) => Some(Decimal::from(Date::months_between(a, self.ymd(a), b, self.ymd(b)))),
                _ => None,
            },
            _ => None,
        };
        n.unwrap_or_else(|| run.leave())
    }

    /// [`Self::numeric_num`] of an operand, a literal, a read or a shared value already
    /// computed taken in place, in the one step each is: most operands are one of those, and
    /// a call for each cost a pool position 1% of its instructions. Anything else, a leaf
    /// off the path among it, goes to `numeric_num`, which handles leaves too (a form's root
    /// and a shared expression are entered there): leaving the leaves to this function alone
    /// and entering every operation here measured 0.5–1% more instructions, not fewer.
    #[inline(always)]
    fn numeric_operand(&mut self, form: &ir::numeric::Numeric, i: u32, base: usize, run: &mut NumericRun) -> Decimal {
        use ir::numeric::Op;
        let leaf = match form.ops.get(i as usize) {
            Some(Op::Const(Value::Num(n))) => Some(*n),
            Some(Op::Read { root, path }) => match self.numeric_read(*root, path, base, run.position) {
                Some(Value::Num(n)) => Some(*n),
                _ => None,
            },
            Some(Op::Memo { slot, .. }) => match self.stack.get(base + *slot as usize) {
                Some(Value::Num(n)) => Some(*n),
                _ => None,
            },
            _ => None,
        };
        match leaf {
            Some(n) => {
                run.spent += 1;
                n
            }
            None => self.numeric_num(form, i, base, run),
        }
    }

    /// The date operation `i` of `form` reads, a literal or a read, in one step.
    fn numeric_date(&self, form: &ir::numeric::Numeric, i: u32, base: usize, run: &mut NumericRun) -> Option<Date> {
        use ir::numeric::Op;
        run.spent += 1;
        match form.ops.get(i as usize)? {
            Op::Const(Value::Date(d)) => Some(*d),
            Op::Read { root, path } => match self.numeric_read(*root, path, base, run.position)? {
                Value::Date(d) => Some(*d),
                _ => None,
            },
            _ => None,
        }
    }

    /// The value down `path` from `root`, as `place` reads it, from the path worked out at
    /// compile time: following the expressions as `place` does costs a pool position about
    /// 4% more instructions.
    #[inline]
    fn numeric_read<'a>(&'a self, root: ir::numeric::Root, path: &[u32], base: usize, position: Option<&'a Value>) -> Option<&'a Value> {
        let mut v = match (root, position) {
            (ir::numeric::Root::Local(0), Some(position)) => position,
            (ir::numeric::Root::Local(slot), _) => self.stack.get(base + slot as usize)?,
            (ir::numeric::Root::Input, _) => &self.input,
            (ir::numeric::Root::Let(l), _) => match self.out.lets.get(l as usize) {
                Some(Some(Ok(v))) => v,
                _ => return None,
            },
        };
        for index in path {
            match v {
                Value::Record(fields) => v = fields.get(*index as usize)?,
                _ => return None,
            }
        }
        Some(v)
    }

    pub fn num(&mut self, b: Body, bound: &[Value]) -> EvalResult<Decimal> {
        if bound.is_empty() {
            if let Some(n) = self.number_in_place(b) {
                return Ok(n);
            }
        }
        let span = self.ir.arena.span(b.expr);
        match self.eval_with(b, bound)? {
            Value::Num(n) => Ok(n),
            _ => fail(span, "expected a number"),
        }
    }

    pub fn boolean(&mut self, b: Body) -> EvalResult<bool> {
        if let Some(holds) = self.comparison_in_place(b) {
            return Ok(holds);
        }
        let span = self.ir.arena.span(b.expr);
        match self.eval_body(b)? {
            Value::Bool(v) => Ok(v),
            _ => fail(span, "expected a condition"),
        }
    }

    pub fn dates(&mut self, b: Body) -> EvalResult<Vec<Date>> {
        let span = self.ir.arena.span(b.expr);
        match self.eval_body(b)? {
            Value::List(items) => items
                .iter()
                .map(|v| match v {
                    Value::Date(d) => Ok(*d),
                    _ => fail(span, "expected a list of dates"),
                })
                .collect(),
            Value::Null => Ok(Vec::new()),
            _ => fail(span, "expected a list of dates"),
        }
    }

    /// A calendar's holidays (the default calendar's for `None`, else the named calendar's),
    /// sorted, computed on first use and then lent out.
    fn holidays_of(&mut self, which: Option<usize>) -> EvalResult<&[Date]> {
        let missing = match which {
            None => self.holidays.is_none(),
            Some(i) => matches!(self.named_holidays.get(i), Some(None)),
        };
        if missing {
            let body = match which {
                None => self.ir.calendar,
                Some(i) => self.ir.calendars.get(i).map(|c| c.holidays),
            };
            let before = self.budget_left();
            let r: EvalResult<Arc<[Date]>> = match body {
                Some(b) => self.dates(b).map(|mut d| {
                    d.sort_unstable();
                    d.dedup();
                    d.into()
                }),
                None => Ok(no_holidays()),
            };
            let after = self.budget_left();
            let cost = Budget { operations: before.operations.saturating_sub(after.operations), values: before.values.saturating_sub(after.values) };
            let r = r.map(|dates| Holidays { dates, cost, paid: true });
            match which {
                None => self.holidays = Some(r),
                Some(i) => {
                    if let Some(slot) = self.named_holidays.get_mut(i) {
                        *slot = Some(r);
                    }
                }
            }
        }
        let slot = match which {
            None => &mut self.holidays,
            Some(i) => match self.named_holidays.get_mut(i) {
                Some(slot) => slot,
                None => return Err(Fail::Upstream),
            },
        };
        let unpaid = match slot {
            Some(Ok(h)) if !h.paid => {
                h.paid = true;
                Some(h.cost)
            }
            _ => None,
        };
        if let Some(cost) = unpaid {
            let body = match which {
                None => self.ir.calendar,
                Some(i) => self.ir.calendars.get(i).map(|c| c.holidays),
            };
            self.spend_budget(cost, body.map(|b| self.ir.arena.span(b.expr)).unwrap_or_default())?;
        }
        let slot = match which {
            None => &mut self.holidays,
            Some(i) => match self.named_holidays.get_mut(i) {
                Some(slot) => slot,
                None => return Err(Fail::Upstream),
            },
        };
        // The first computation to need the calendar reports why it failed; the others fail
        // as its dependents.
        if let Some(Err(Fail::Here(_))) = slot {
            if let Some(Err(failure)) = slot.replace(Err(Fail::Upstream)) {
                return Err(failure);
            }
        }
        match slot {
            Some(Ok(h)) => Ok(&h.dates),
            _ => Err(Fail::Upstream),
        }
    }

    /// The holiday lists computed so far (or taken from another evaluation), taken out;
    /// `None` when there are none worth keeping (a program without calendars has only the
    /// empty list, which costs nothing to make again).
    pub fn take_known_holidays(&mut self) -> Option<Box<KnownHolidays>> {
        if self.ir.calendar.is_none() && self.ir.calendars.is_empty() {
            return None;
        }
        let known = |slot: &mut Option<EvalResult<Holidays>>| match slot.take() {
            Some(Ok(h)) => Some(Holidays { paid: false, ..h }),
            _ => None,
        };
        let known = KnownHolidays { default: known(&mut self.holidays), named: self.named_holidays.iter_mut().map(known).collect() };
        (known.default.is_some() || known.named.iter().any(Option::is_some)).then(|| Box::new(known))
    }

    /// Takes another evaluation's holiday lists, computed from the same holidays, for any
    /// calendar not needed yet: each is paid for on its first use.
    pub fn know_holidays(&mut self, known: &KnownHolidays) {
        if self.holidays.is_none() {
            self.holidays = known.default.clone().map(Ok);
        }
        for (slot, h) in self.named_holidays.iter_mut().zip(&known.named) {
            if slot.is_none() {
                *slot = h.clone().map(Ok);
            }
        }
    }

    /// Neither a weekend nor a holiday: of the default calendar when `calendars` is 0, else
    /// of every named calendar whose bit is set.
    pub fn is_business_day(&mut self, day: Date, calendars: u64) -> EvalResult<bool> {
        if day.is_weekend() {
            return Ok(false);
        }
        if calendars == 0 {
            // A program without a calendar has no holidays: nothing to compute, share or drop.
            if self.ir.calendar.is_none() {
                return Ok(true);
            }
            return Ok(self.holidays_of(None)?.binary_search(&day).is_err());
        }
        for i in (0..64usize).filter(|i| calendars & (1u64 << i) != 0) {
            if self.holidays_of(Some(i))?.binary_search(&day).is_ok() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    pub fn add_duration(&mut self, d: Date, dur: Duration, sign: i64, span: Span) -> EvalResult<Date> {
        let count = dur.count.checked_mul(sign).ok_or_else(|| Fail::here(span, "duration overflow"))?;
        let out = match dur.unit {
            DurationUnit::Days => d.add_days(count),
            DurationUnit::Months => d.add_months(count),
            DurationUnit::BusinessDays => return self.add_business_days(d, count, dur.calendars, span),
        };
        out.ok_or_else(|| Fail::here(span, format!("the date falls outside years 1 to 9999 ({d} plus {count} units)")))
    }

    pub fn add_business_days(&mut self, d: Date, n: i64, calendars: u64, span: Span) -> EvalResult<Date> {
        const MAX_BUSINESS_DAYS: i64 = 100_000;
        if n.abs() > MAX_BUSINESS_DAYS {
            return fail(span, format!("{n} business days is beyond the limit of {MAX_BUSINESS_DAYS}"));
        }
        self.spend(n.unsigned_abs(), span)?;
        if let Some((from, days, cals, to)) = self.last_business_days {
            if (from, days, cals) == (d, n, calendars) {
                return Ok(to);
            }
        }
        let step = if n < 0 { -1 } else { 1 };
        let mut left = n.abs();
        let mut day = d;
        while left > 0 {
            day = day.add_days(step).ok_or_else(|| Fail::here(span, "the date falls outside years 1 to 9999"))?;
            if self.is_business_day(day, calendars)? {
                left -= 1;
            }
        }
        self.last_business_days = Some((d, n, calendars, day));
        Ok(day)
    }

    // ------------------------------------------------------------------ expressions

    /// A date's calendar fields, as_of's worked out once.
    #[inline]
    fn ymd(&self, d: Date) -> (i32, u32, u32) {
        if d == self.as_of {
            self.as_of_ymd
        } else {
            d.ymd()
        }
    }

    fn local(&self, base: usize, slot: u32) -> Value {
        self.stack.get(base + slot as usize).cloned().unwrap_or(Value::Null)
    }

    /// A value that already exists somewhere (a local, the input, a computed let, or a field
    /// of one of those), borrowed rather than cloned: field paths like `g.unit_cost` are read
    /// without touching the reference counts of the records along the way.
    fn place(&self, id: ExprId, base: usize) -> Option<&Value> {
        match self.ir.arena.node(id)? {
            Node::Local(slot) => self.stack.get(base + *slot as usize),
            Node::Input => Some(&self.input),
            Node::Global(Global::Let(i)) => match self.out.lets.get(*i as usize) {
                Some(Some(Ok(v))) => Some(v),
                _ => None,
            },
            Node::Field { base: b, index, .. } => {
                // A field of a local or of the input, the usual path (`g.count`, `as_of`),
                // without going round again.
                let record = match self.ir.arena.node(*b)? {
                    Node::Local(slot) => self.stack.get(base + *slot as usize)?,
                    Node::Input => &self.input,
                    _ => self.place(*b, base)?,
                };
                match record {
                    Value::Record(fields) => fields.get(*index as usize),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn set_local(&mut self, base: usize, slot: u32, v: Value) {
        let i = base + slot as usize;
        if i >= self.stack.len() {
            self.stack.resize(i + 1, Value::Null);
        }
        if let Some(s) = self.stack.get_mut(i) {
            *s = v;
        }
    }

    fn n(&mut self, id: ExprId, base: usize) -> EvalResult<Decimal> {
        // Arithmetic, the usual root of a number's body (`g.unit_cost * residual(…)`), is
        // computed here without a call into `expr`, counted and reported as `expr` would.
        let ir = self.ir;
        let v = match ir.arena.node(id) {
            Some(Node::Arith { op, lhs, rhs }) if self.operations_left.get() != 0 && self.depth_left != 0 => {
                self.operations_left.set(self.operations_left.get() - 1);
                self.depth_left -= 1;
                let r = self.arith(*op, *lhs, *rhs, base, ir.arena.span(id));
                self.depth_left += 1;
                self.tracer.evaluated(id, &r);
                r
            }
            _ => self.operand(id, base),
        };
        match v? {
            Value::Num(n) => Ok(n),
            _ => fail(self.ir.arena.span(id), "expected a number"),
        }
    }

    fn truth(&mut self, id: ExprId, base: usize) -> EvalResult<bool> {
        match self.expr(id, base)? {
            Value::Bool(b) => Ok(b),
            _ => fail(self.ir.arena.span(id), "expected a condition"),
        }
    }

    fn field(&mut self, record: ExprId, index: u32, name: &str, base: usize, span: Span) -> EvalResult<Value> {
        match self.expr(record, base)? {
            Value::Record(fields) => match fields.get(index as usize) {
                Some(v) => Ok(v.clone()),
                None => fail(span, format!("no field `{name}`")),
            },
            Value::Null => Ok(Value::Null),
            _ => fail(span, format!("no field `{name}`")),
        }
    }

    /// `expr`, with a value read where it lies (a literal, a local, a field of one) taken
    /// here for the same one step, without a call: most of the steps an evaluation takes are
    /// such reads, which cannot fail nor nest. When the budget or the depth is spent the step
    /// goes through `expr`, and fails there as any step does.
    #[inline(always)]
    fn operand(&mut self, id: ExprId, base: usize) -> EvalResult<Value> {
        let left = self.operations_left.get();
        if left != 0 && self.depth_left != 0 {
            if let Some(v) = self.leaf(id, base) {
                self.operations_left.set(left - 1);
                let r = Ok(v);
                self.tracer.evaluated(id, &r);
                return r;
            }
        }
        self.expr(id, base)
    }

    /// The number of a body without locals, computed in place when it is made of literals,
    /// values read where they lie (a computed `let`, a field of the input, a rule's figure),
    /// arithmetic, schedules read from their tables and calls of functions made of the same
    /// (`collateral_to_restore(debt, gpus.eligible_value, 65%)`), each node counted as the
    /// step it is. Most `let`s and rule figures given apart (a covenant's sides, a margin
    /// call's amount, minimum and rounding step) are such expressions, and stepping through
    /// them cost more in frames and returned values than their arithmetic. `None` for any
    /// other body, a value of another type, a failure, a tracer that sees each step, or a
    /// budget or depth that does not cover what the steps would spend, with nothing spent:
    /// the caller then evaluates the body step by step, which computes, spends and fails as
    /// it always has.
    #[inline]
    pub fn number_in_place(&mut self, b: Body) -> Option<Decimal> {
        if T::SEES_STEPS || b.frame != 0 {
            return None;
        }
        let mut spent = InPlace::default();
        let n = self.number_tree(self.ir.fast.root(b.expr), &[], 1, &mut spent)?;
        self.spend_in_place(spent)?;
        Some(n)
    }

    /// A body that compares two numbers computed in place (`ltv > 75%`), decided for the
    /// steps evaluating it spends; `None` as for [`Self::number_in_place`].
    #[inline]
    fn comparison_in_place(&mut self, b: Body) -> Option<bool> {
        if T::SEES_STEPS || b.frame != 0 {
            return None;
        }
        let Some(Node::Compare { op, lhs, rhs }) = self.ir.arena.node(self.ir.fast.root(b.expr)) else { return None };
        let mut spent = InPlace { steps: 1, deepest: 1 };
        let a = self.number_tree(*lhs, &[], 2, &mut spent)?;
        let c = self.number_tree(*rhs, &[], 2, &mut spent)?;
        self.spend_in_place(spent)?;
        Some(ops::compare_numbers(*op, a, c))
    }

    /// Takes what a computation in place spent from the budget, when the steps would have
    /// found enough of it at every node: every step checks for one operation left before
    /// taking it, and a node `k` levels down for `k` levels of depth.
    fn spend_in_place(&mut self, spent: InPlace) -> Option<()> {
        let left = self.operations_left.get();
        if spent.steps > left || spent.deepest > self.depth_left {
            return None;
        }
        self.operations_left.set(left - spent.steps);
        Some(())
    }

    /// The number at `id`, `level` levels down (the body's root is at 1), with `locals` the
    /// arguments of the function call it is in; nothing but `spent` changed. Leaves are
    /// taken here, inline, and operations apart.
    #[inline(always)]
    fn number_tree(&self, id: ExprId, locals: &[Decimal], level: u32, spent: &mut InPlace) -> Option<Decimal> {
        // Bounded whatever the program: past these the steps decide, within their budget.
        if level > IN_PLACE_LEVELS || spent.steps >= IN_PLACE_STEPS {
            return None;
        }
        spent.steps += 1;
        spent.deepest = spent.deepest.max(level);
        let node = self.ir.arena.node(id)?;
        let v = match node {
            Node::Const(v) => v,
            Node::Local(slot) => return locals.get(*slot as usize).copied(),
            // Read outside any frame: a field of a local is not there, and the steps read it.
            Node::Input | Node::Field { .. } | Node::Global(Global::Let(_)) => self.place(id, self.stack.len())?,
            Node::PoolField(i, f) => return self.out.pool_field(*i, *f).ok()?.num(),
            _ => return self.operation_in_place(node, locals, level, spent),
        };
        v.num()
    }

    #[inline(never)]
    fn operation_in_place(&self, node: &Node, locals: &[Decimal], level: u32, spent: &mut InPlace) -> Option<Decimal> {
        match node {
            Node::Arith { op, lhs, rhs } => {
                let a = self.number_tree(*lhs, locals, level + 1, spent)?;
                let b = self.number_tree(*rhs, locals, level + 1, spent)?;
                ops::arith(*op, a, b, Span::default()).ok()
            }
            Node::CallFn { func, args } => self.call_in_place(*func, args, locals, level, spent),
            _ => None,
        }
    }

    /// A call at `level`, in place: its arguments and the callee's body one level down, as
    /// the steps evaluate them.
    fn call_in_place(&self, func: u32, args: &[ExprId], locals: &[Decimal], level: u32, spent: &mut InPlace) -> Option<Decimal> {
        let ir = self.ir;
        if let (Some(table), [key]) = (ir.fast.table(func), args) {
            let key = self.number_tree(*key, locals, level + 1, spent)?;
            return Self::table(table, &Value::Num(key), Span::default()).ok()?.num();
        }
        let f = ir.fns.get(func as usize)?;
        // A body with locals of its own beyond the arguments, or a schedule read row by row,
        // is left to the steps.
        if args.len() > IN_PLACE_ARGUMENTS || f.body.frame as usize > args.len() || matches!(ir.arena.node(f.body.expr), Some(Node::Schedule { .. })) {
            return None;
        }
        let mut bound = [Decimal::ZERO; IN_PLACE_ARGUMENTS];
        for (slot, a) in bound.iter_mut().zip(args) {
            *slot = self.number_tree(*a, locals, level + 1, spent)?;
        }
        self.number_tree(ir.fast.root(f.body.expr), bound.get(..args.len())?, level + 1, spent)
    }

    /// The value of a literal, a local, the input, a computed `let`, a field path from one of
    /// those, or an expression computed once per frame that has been, when `id` is one and it
    /// exists; `None` for any other expression.
    #[inline(always)]
    fn leaf(&self, id: ExprId, base: usize) -> Option<Value> {
        let v = match self.ir.arena.node(id)? {
            Node::Const(v) => v,
            Node::Local(_) | Node::Input | Node::Field { .. } | Node::Global(Global::Let(_)) => self.place(id, base)?,
            // Computed already in this frame: read back, as `step` does.
            Node::Memo { slot, .. } => self.stack.get(base + *slot as usize).filter(|v| !matches!(v, Value::Null))?,
            _ => return None,
        };
        // Numbers and dates are copied without the general clone.
        Some(match v {
            Value::Num(d) => Value::Num(*d),
            Value::Date(d) => Value::Date(*d),
            other => other.clone(),
        })
    }

    /// Evaluates one expression: one step of the operation budget and one level of depth.
    /// Every step spent is reported to the tracer with its result.
    pub fn expr(&mut self, id: ExprId, base: usize) -> EvalResult<Value> {
        let left = self.operations_left.get();
        if left == 0 {
            return self.refuse(Exceeded::Operations, self.ir.arena.span(id));
        }
        self.operations_left.set(left - 1);
        if self.depth_left == 0 {
            let refused = self.refuse(Exceeded::Depth, self.ir.arena.span(id));
            self.tracer.evaluated(id, &refused);
            return refused;
        }
        self.depth_left -= 1;
        let r = self.step(id, base);
        self.depth_left += 1;
        self.tracer.evaluated(id, &r);
        r
    }

    fn step(&mut self, id: ExprId, base: usize) -> EvalResult<Value> {
        let ir = self.ir;
        let span = ir.arena.span(id);
        let Some(node) = ir.arena.node(id) else { return fail(span, "malformed program") };
        match node {
            Node::Const(v) => Ok(v.clone()),
            Node::Local(slot) => Ok(self.local(base, *slot)),
            Node::Input => Ok(self.input.clone()),
            Node::Global(Global::Let(i)) => match self.out.lets.get(*i as usize) {
                Some(Some(Ok(v))) => Ok(v.clone()),
                Some(Some(Err(_))) => Err(Fail::Upstream),
                _ => fail(span, "a value was read before it was computed"),
            },
            Node::Global(_) => fail(span, "a rule cannot be used as a value by itself; read one of its fields"),
            Node::Field { base: b, index, name } => {
                if let Some(v) = self.place(id, base) {
                    return Ok(v.clone());
                }
                self.field(*b, *index, name, base, span)
            }
            Node::Index { base: b, index } => {
                let list = self.expr(*b, base)?;
                let i = self.n(*index, base)?;
                let Value::List(items) = list else { return fail(span, "only lists can be indexed") };
                let pos = if i.fract().is_zero() && !i.is_sign_negative() { usize::try_from(i.mantissa() / 10i128.pow(i.scale())).ok() } else { None };
                match pos.and_then(|p| items.get(p)) {
                    Some(v) => Ok(v.clone()),
                    None => fail(span, format!("index {} is outside a list of {} elements", i.normalize(), items.len())),
                }
            }
            Node::PoolField(i, f) => self.out.pool_field(*i, *f),
            Node::CovenantField(i, f) => self.out.covenant_field(ir, *i, *f, span),
            Node::MarginField(i, f) => self.out.margin_field(*i, *f),
            Node::LiquidationField(i, f) => self.out.liquidation_field(*i, *f),
            Node::DefaultField(i, f) => self.out.default_field(ir, *i, *f),
            Node::MakeDuration { count, unit, scale, calendars } => {
                let Value::Num(n) = self.expr(*count, base)? else { return fail(span, "a duration counts a Number of units") };
                let n = ops::whole(n, span, "a duration's count")?;
                let count = n.checked_mul(*scale).ok_or_else(|| Fail::here(span, "duration overflow"))?;
                Ok(Value::Duration(Duration { count, unit: *unit, calendars: *calendars }))
            }
            Node::Neg(x) => match self.expr(*x, base)? {
                Value::Num(n) => Ok(Value::Num(-n)),
                Value::Duration(d) => Ok(Value::Duration(Duration { count: d.count.checked_neg().unwrap_or(i64::MAX), ..d })),
                _ => fail(span, "only numbers can be negated"),
            },
            Node::Not(x) => Ok(Value::Bool(!self.truth(*x, base)?)),
            Node::Arith { op, lhs, rhs } => self.arith(*op, *lhs, *rhs, base, span),
            Node::Compare { op, lhs, rhs } => {
                let a = self.operand(*lhs, base)?;
                let b = self.operand(*rhs, base)?;
                ops::compare(*op, &a, &b, span).map(Value::Bool)
            }
            Node::And(a, b) => Ok(Value::Bool(self.truth(*a, base)? && self.truth(*b, base)?)),
            Node::Or(a, b) => Ok(Value::Bool(self.truth(*a, base)? || self.truth(*b, base)?)),
            Node::Coalesce(a, b) => match self.expr(*a, base)? {
                Value::Null => self.expr(*b, base),
                v => Ok(v),
            },
            Node::If { cond, then, otherwise } => {
                if self.truth(*cond, base)? {
                    self.expr(*then, base)
                } else {
                    self.expr(*otherwise, base)
                }
            }
            Node::List(items) => {
                self.spend_values(items.len(), span)?;
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let v = self.expr(*item, base)?;
                    self.spend_contents(&v, span)?;
                    out.push(v);
                }
                Ok(Value::List(out.into()))
            }
            Node::CallFn { func, args } => {
                if let (Some(table), [key]) = (ir.fast.table(*func), args.as_slice()) {
                    let key = self.operand(*key, base)?;
                    return Self::table(table, &key, span);
                }
                let Some(f) = ir.fns.get(*func as usize) else { return fail(span, "malformed call") };
                // Arguments go straight into the callee's frame at the top of the stack.
                let frame = self.stack.len();
                for a in args {
                    match self.operand(*a, base) {
                        Ok(v) => self.stack.push(v),
                        Err(e) => {
                            self.stack.truncate(frame);
                            return Err(e);
                        }
                    }
                }
                // The whole frame is reserved before the body runs. Frames count every local of
                // their body (`resolve` never reuses a slot), so with the frame reserved no
                // local set inside it, such as an aggregate's variable, can land on the
                // arguments of a call being prepared above it.
                self.stack.resize(frame + (f.body.frame as usize).max(args.len()), Value::Null);
                let r = if let Some(Node::Schedule { rows, interpolate }) = ir.arena.node(f.body.expr) {
                    self.schedule(rows, *interpolate, frame, span)
                } else {
                    self.expr(ir.fast.root(f.body.expr), frame)
                };
                self.stack.truncate(frame);
                r
            }
            Node::CallBuiltin { builtin, args } => self.call_builtin(*builtin, args, base, span),
            Node::Aggregate { kind, var, list, body, filter, default } => {
                let items = match self.expr(*list, base)? {
                    Value::List(items) => items,
                    Value::Null => Arc::from(Vec::new()),
                    _ => return fail(span, "expected a list"),
                };
                self.aggregate(*kind, *var, &items, *body, *filter, *default, base, span)
            }
            Node::Schedule { .. } => fail(span, "a schedule is called, not read"),
            Node::Memo { slot, expr } => {
                if let Some(v) = self.stack.get(base + *slot as usize).filter(|v| !matches!(v, Value::Null)) {
                    return Ok(v.clone());
                }
                let v = self.expr(*expr, base)?;
                self.set_local(base, *slot, v.clone());
                Ok(v)
            }
        }
    }

    /// An arithmetic node's operation, once its step is counted. Inlined into `expr`, so that
    /// nested arithmetic costs one frame a level.
    #[inline(always)]
    fn arith(&mut self, op: ir::ArithOp, lhs: ExprId, rhs: ExprId, base: usize, span: Span) -> EvalResult<Value> {
        let a = self.operand(lhs, base)?;
        let b = self.operand(rhs, base)?;
        match (a, b) {
            (Value::Num(a), Value::Num(b)) => ops::arith(op, a, b, span).map(Value::Num),
            (Value::Date(d), Value::Duration(dur)) => {
                let sign = if op == ir::ArithOp::Sub { -1 } else { 1 };
                self.add_duration(d, dur, sign, span).map(Value::Date)
            }
            (Value::Duration(dur), Value::Date(d)) => self.add_duration(d, dur, 1, span).map(Value::Date),
            (Value::List(a), Value::List(b)) if op == ir::ArithOp::Add => {
                self.spend_values(a.len().saturating_add(b.len()), span)?;
                Ok(Value::List(a.iter().chain(b.iter()).cloned().collect()))
            }
            _ => fail(span, "these values do not combine"),
        }
    }

    // Out of line, like the other bulky arms: `step` recurses once per nesting level and call,
    // and its frame is what bounds how deep an evaluation can go on a small stack.
    #[inline(never)]
    fn call_builtin(&mut self, builtin: ir::Builtin, args: &[ExprId], base: usize, span: Span) -> EvalResult<Value> {
        // An age, read for every position of a pool: straight from the two dates.
        if let (ir::Builtin::MonthsBetween, [a, b]) = (builtin, args) {
            let a = self.operand(*a, base)?;
            let b = self.operand(*b, base)?;
            if let (Value::Date(a), Value::Date(b)) = (&a, &b) {
                return Ok(Value::Num(Decimal::from(Date::months_between(*a, self.ymd(*a), *b, self.ymd(*b)))));
            }
            return ops::builtin(self, builtin, &[a, b], span);
        }
        // Builtins take at most a handful of arguments: no allocation for those.
        const INLINE: usize = 4;
        if args.len() <= INLINE {
            let mut values: [Value; INLINE] = [Value::Null, Value::Null, Value::Null, Value::Null];
            for (slot, a) in values.iter_mut().zip(args) {
                *slot = self.operand(*a, base)?;
            }
            return ops::builtin(self, builtin, values.get(..args.len()).unwrap_or(&[]), span);
        }
        let mut values = Vec::with_capacity(args.len());
        for a in args {
            values.push(self.expr(*a, base)?);
        }
        ops::builtin(self, builtin, &values, span)
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn aggregate(
        &mut self,
        kind: Aggregate,
        var: u32,
        items: &[Value],
        body: ExprId,
        filter: Option<ExprId>,
        default: Option<ExprId>,
        base: usize,
        span: Span,
    ) -> EvalResult<Value> {
        let mut acc: Option<Value> = None;
        let mut count = Decimal::ZERO;
        let mut collected = Vec::new();
        for item in items {
            self.set_local(base, var, item.clone());
            if let Some(f) = filter {
                if !self.truth(f, base)? {
                    continue;
                }
            }
            match kind {
                Aggregate::Count => {
                    let counts = match self.ir.arena.ty(body) {
                        crate::types::Type::Bool => self.truth(body, base)?,
                        _ => true,
                    };
                    if counts {
                        count += Decimal::ONE;
                    }
                }
                Aggregate::Any => {
                    if self.truth(body, base)? {
                        return Ok(Value::Bool(true));
                    }
                }
                Aggregate::All => {
                    if !self.truth(body, base)? {
                        return Ok(Value::Bool(false));
                    }
                }
                Aggregate::List => {
                    self.spend_values(1, span)?;
                    let v = self.expr(body, base)?;
                    self.spend_contents(&v, span)?;
                    collected.push(v);
                }
                Aggregate::Sum => {
                    let v = self.n(body, base)?;
                    let total = match &acc {
                        Some(Value::Num(t)) => ops::arith(ir::ArithOp::Add, *t, v, span)?,
                        _ => v,
                    };
                    acc = Some(Value::Num(total));
                }
                Aggregate::Min | Aggregate::Max => {
                    let v = self.expr(body, base)?;
                    let better = match &acc {
                        None => true,
                        Some(cur) => {
                            let op = if kind == Aggregate::Min { CmpOp::Lt } else { CmpOp::Gt };
                            ops::compare(op, &v, cur, span)?
                        }
                    };
                    if better {
                        acc = Some(v);
                    }
                }
            }
        }
        match kind {
            Aggregate::Count => Ok(Value::Num(count)),
            Aggregate::Any => Ok(Value::Bool(false)),
            Aggregate::All => Ok(Value::Bool(true)),
            Aggregate::List => Ok(Value::List(collected.into())),
            Aggregate::Sum => Ok(acc.unwrap_or(Value::Num(Decimal::ZERO))),
            Aggregate::Min | Aggregate::Max => match (acc, default) {
                (Some(v), _) => Ok(v),
                (None, Some(d)) => self.expr(d, base),
                (None, None) => fail(span, format!("`{}` of an empty list", if kind == Aggregate::Min { "min" } else { "max" })),
            },
        }
    }

    /// A number, read straight from a literal when it is one: schedule rows are nearly always
    /// literals, and are read on every call.
    fn literal_or_n(&mut self, id: ExprId, base: usize) -> EvalResult<Decimal> {
        match self.ir.arena.node(id) {
            Some(Node::Const(Value::Num(d))) => Ok(*d),
            _ => self.n(id, base),
        }
    }

    /// A schedule read from its table: the same comparisons and arithmetic, in the same
    /// order, as `schedule` makes reading the rows.
    #[inline(never)]
    fn table(table: &ir::optimize::Table, key: &Value, span: Span) -> EvalResult<Value> {
        match table {
            ir::optimize::Table::Steps(steps) => steps.at(key, span),
            ir::optimize::Table::Points(curve) => {
                let Value::Num(x) = *key else { return fail(span, "an interpolated schedule needs a number") };
                curve.at(x, span).map(Value::Num)
            }
        }
    }

    #[inline(never)]
    fn schedule(&mut self, rows: &[ir::ScheduleRow], interpolate: bool, base: usize, span: Span) -> EvalResult<Value> {
        let key = self.local(base, 0);
        if !interpolate {
            for row in rows {
                match row.key {
                    None => return self.expr(row.value, base),
                    Some((op, k)) => {
                        let matches = match (&key, self.ir.arena.node(k)) {
                            (Value::Num(x), Some(Node::Const(Value::Num(limit)))) => ops::compare_numbers(op, *x, *limit),
                            _ => {
                                let kv = self.expr(k, base)?;
                                ops::compare(op, &key, &kv, span)?
                            }
                        };
                        if matches {
                            return self.expr(row.value, base);
                        }
                    }
                }
            }
            return fail(span, "no row of the schedule matches");
        }
        let Value::Num(x) = key else { return fail(span, "an interpolated schedule needs a number") };
        // Walk the points in order; the value is read at the segment holding `x`, and the
        // keys after it are still read to check that they increase (values past it are not).
        let mut previous: Option<(Decimal, Decimal)> = None;
        let mut found: Option<Decimal> = None;
        for row in rows {
            let Some((_, k)) = row.key else { continue };
            let kx = self.literal_or_n(k, base)?;
            if let Some((px, _)) = previous {
                if ops::order(px, kx) != std::cmp::Ordering::Less {
                    return fail(self.ir.arena.span(k), "interpolation points must increase");
                }
            }
            if found.is_some() {
                previous = Some((kx, Decimal::ZERO));
                continue;
            }
            let ky = self.literal_or_n(row.value, base)?;
            match previous {
                None if ops::order(x, kx) != std::cmp::Ordering::Greater => found = Some(ky),
                Some((px, py)) if ops::order(x, kx) != std::cmp::Ordering::Greater => {
                    let sub = |a, b| ops::arith(ir::ArithOp::Sub, a, b, span);
                    let t = ops::arith(ir::ArithOp::Div, sub(x, px)?, sub(kx, px)?, span)?;
                    let dy = ops::arith(ir::ArithOp::Mul, sub(ky, py)?, t, span)?;
                    found = Some(ops::arith(ir::ArithOp::Add, py, dy, span)?);
                }
                _ => {}
            }
            previous = Some((kx, ky));
        }
        match (found, previous) {
            (Some(y), _) => Ok(Value::Num(y)),
            (None, Some((_, last))) => Ok(Value::Num(last)),
            (None, None) => fail(span, "an interpolated schedule needs points"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use rust_decimal::Decimal;

    use super::{Evaluator, Value};
    use crate::ir::Node;
    use crate::span::Span;

    /// A schedule read from its table gives what reading its rows gives, to the last digit
    /// and the scale (reports show figures normalised, so they would not tell `0.53` from
    /// `0.5300`): at whole keys, read from the values worked out at compile time, and at any
    /// other key.
    #[test]
    fn a_schedule_read_from_its_table_gives_its_rows_figures_to_the_scale() {
        let source = "input { as_of: Date }
schedule residual(age: Number) -> Number interpolate { 0 => 100%  12 => 65%  24 => 40%  48 => 10% }
schedule odd(k: Number) -> Number interpolate { -10.5 => -1  0 => 0.333  7 => 2.25  24.5 => 40%  30 => -10% }
schedule advance(age: Number) -> Number { < 12 => 70%  < 24 => 50%  == 30 => 1.0  < 36 => 30%  else => 0% }
let a = residual(1) + odd(1) + advance(1)
";
        let program = crate::Program::compile("tables.cov", source).unwrap();
        let ir = program.ir();
        let mut keys: Vec<Decimal> = (-40..140).chain([-10_000, 10_000, i64::MIN, i64::MAX]).map(Decimal::from).collect();
        for text in ["-0", "0.0", "12.00", "12.5", "-10.5", "-10.50", "24.5", "6.000001", "29.99", "79228162514264337593543950335", "-79228162514264337593543950335"] {
            keys.push(Decimal::from_str(text).unwrap());
        }
        let mut compared = 0;
        for (func, f) in ir.fns.iter().enumerate() {
            let Some(Node::Schedule { rows, interpolate }) = ir.arena.node(f.body.expr) else { continue };
            let table = ir.fast.table(func as u32).unwrap();
            for key in &keys {
                let mut ev = Evaluator::new(ir, Value::Null, crate::dates::Date::EPOCH);
                ev.stack.push(Value::Num(*key));
                let by_rows = ev.schedule(rows, *interpolate, 0, Span::default());
                let by_table = Evaluator::<super::NoTrace>::table(table, &Value::Num(*key), Span::default());
                let parts = |r: &super::EvalResult<Value>| match r {
                    Ok(Value::Num(d)) => Ok((d.mantissa(), d.scale())),
                    other => Err(format!("{other:?}")),
                };
                assert_eq!(parts(&by_table), parts(&by_rows), "{} at {key}", f.name);
                compared += 1;
            }
        }
        assert_eq!(compared, 3 * keys.len());
    }
    /// Data flows one way: the rules' room uses the evaluator, never the reverse. A `use` of
    /// it anywhere under `src/eval` would let rule semantics leak into the arithmetic.
    #[test]
    fn the_evaluator_does_not_depend_on_the_rules() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/eval");
        let mut read = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                // Spelled in pieces so that this test does not find itself.
                for word in [["lend", "ing"].concat(), ["crate::", "engine"].concat()] {
                    assert!(!text.contains(&word), "{} names `{word}`", path.display());
                }
                read += 1;
            }
        }
        assert!(read >= 4, "read {read} files of {}", dir.display());
    }
}
