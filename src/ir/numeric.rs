//! A pool position's clauses in a form the evaluator runs without stepping: the numbers each
//! position needs (`g.count`, `g.unit_cost * residual(age(g.purchase_date))`, `1 -
//! advance_rate(…)`) are computed for every position of every pool, and most of what a step
//! costs (the budget and depth counted node by node, a result per node) is the same for all
//! of them. The form holds only what cannot fail on data that has the types the checker
//! proved, short of arithmetic overflow, a schedule no row of which matches, or an absent
//! optional: literals, reads of a local, the input or a `let` down a path of fields,
//! arithmetic, ages (`months_between`), schedules read from their tables, and the shared
//! expressions of [`super::optimize`]. The evaluator spends the steps the expressions would
//! have spent, and when anything is off that path it undoes what it did and evaluates the
//! clause step by step, which then reports it as it always has.

use super::{ArithOp, Builtin, ExprId, Global, Ir, Node};
use crate::value::Value;

/// Where a read starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Root {
    Local(u32),
    Input,
    Let(u32),
}

/// One operation of a [`Numeric`]; operands are indices of earlier operations.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// A literal number or date.
    Const(Value),
    /// A value down a path of record fields from `root`, read in one step.
    Read { root: Root, path: Box<[u32]> },
    Arith(ArithOp, u32, u32),
    /// An expression computed once per frame into local `slot`.
    Memo { slot: u32, expr: u32 },
    /// A schedule with literal rows, read from its table (`Fast::table`).
    Table { func: u32, key: u32 },
    MonthsBetween(u32, u32),
}

/// A clause as operations, its root last.
#[derive(Clone, Debug, PartialEq)]
pub struct Numeric {
    pub ops: Vec<Op>,
    /// The most steps an evaluation can spend: every expression once, a shared one computed.
    pub most_steps: u64,
    /// The most levels of nesting the expressions reach, the root's included.
    pub depth: u32,
    /// How many shared expressions it may compute (and undo).
    pub memos: usize,
}

impl Numeric {
    pub fn root(&self) -> u32 {
        u32::try_from(self.ops.len().saturating_sub(1)).unwrap_or(0)
    }
}

/// Clauses with more shared expressions than this are left to the evaluator's steps: the
/// evaluator keeps the slots it may have to undo on its stack, in an array of this size.
pub const MAX_MEMOS: usize = 4;

/// Clauses larger than this are left to the evaluator's steps.
const MAX_OPS: usize = 64;

/// The form of the clause whose (optimised) root is `root`, when every expression in it is
/// one the form holds.
pub fn compile(ir: &Ir, root: ExprId) -> Option<Numeric> {
    let mut form = Numeric { ops: Vec::new(), most_steps: 0, depth: 0, memos: 0 };
    let (_, steps, depth) = lower(ir, root, &mut form)?;
    form.most_steps = steps;
    form.depth = depth;
    (form.memos <= MAX_MEMOS).then_some(form)
}

/// Appends the operations of `id`; its index, the most steps it spends and its depth.
fn lower(ir: &Ir, id: ExprId, form: &mut Numeric) -> Option<(u32, u64, u32)> {
    if form.ops.len() >= MAX_OPS {
        return None;
    }
    let (op, steps, depth) = match ir.arena.node(id)? {
        Node::Const(v @ (Value::Num(_) | Value::Date(_))) => (Op::Const(v.clone()), 1, 1),
        Node::Local(_) | Node::Input | Node::Global(Global::Let(_)) | Node::Field { .. } => {
            let (root, path) = read_path(ir, id)?;
            (Op::Read { root, path: path.into() }, 1, 1)
        }
        Node::Arith { op, lhs, rhs } => {
            let (a, sa, da) = lower(ir, *lhs, form)?;
            let (b, sb, db) = lower(ir, *rhs, form)?;
            (Op::Arith(*op, a, b), 1 + sa + sb, 1 + da.max(db))
        }
        Node::Memo { slot, expr } => {
            let (e, s, d) = lower(ir, *expr, form)?;
            form.memos += 1;
            (Op::Memo { slot: *slot, expr: e }, 1 + s, 1 + d)
        }
        Node::CallFn { func, args } if ir.fast.table(*func).is_some() => {
            let [key] = args.as_slice() else { return None };
            let (k, s, d) = lower(ir, *key, form)?;
            (Op::Table { func: *func, key: k }, 1 + s, 1 + d)
        }
        Node::CallBuiltin { builtin: Builtin::MonthsBetween, args } => {
            let [a, b] = args.as_slice() else { return None };
            let (a, sa, da) = lower(ir, *a, form)?;
            let (b, sb, db) = lower(ir, *b, form)?;
            (Op::MonthsBetween(a, b), 1 + sa + sb, 1 + da.max(db))
        }
        _ => return None,
    };
    let index = u32::try_from(form.ops.len()).ok()?;
    form.ops.push(op);
    Some((index, steps, depth))
}

/// A read's root and field indices, outermost first, as the evaluator reads a place.
fn read_path(ir: &Ir, id: ExprId) -> Option<(Root, Vec<u32>)> {
    match ir.arena.node(id)? {
        Node::Local(slot) => Some((Root::Local(*slot), Vec::new())),
        Node::Input => Some((Root::Input, Vec::new())),
        Node::Global(Global::Let(i)) => Some((Root::Let(*i), Vec::new())),
        Node::Field { base, index, .. } => {
            let (root, mut path) = read_path(ir, *base)?;
            path.push(*index);
            Some((root, path))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn pool_forms(source: &str) -> Vec<Option<Numeric>> {
        let program = crate::Program::compile("t.cov", source).unwrap();
        let ir = program.ir();
        let pool = &ir.pools[0];
        [Some(pool.quantity), Some(pool.price), pool.haircut].into_iter().flatten().map(|b| ir.fast.numeric(b.expr).cloned()).collect()
    }

    /// The reference facility's three clauses all have a form; the steps and depth are those
    /// the evaluator counts, the shared age computed in the price and read in the haircut.
    #[test]
    fn a_gpu_pools_clauses_are_numeric() {
        let forms = pool_forms(
            r#"
input { as_of: Date  gpus: List<{ count: Number, purchase_date: Date, unit_cost: Money(USD) }> }
schedule advance_rate(age: Number) -> Number { < 12 => 70%  < 24 => 50%  else => 0% }
schedule residual(age: Number) -> Number interpolate { 0 => 100%  12 => 65%  48 => 10% }
fn age(d: Date) -> Number = months_between(d, as_of)
collateral gpus for g in input.gpus {
  quantity g.count
  price    g.unit_cost * residual(age(g.purchase_date))
  haircut  1 - advance_rate(age(g.purchase_date))
}
"#,
        );
        let [Some(quantity), Some(price), Some(haircut)] = forms.as_slice() else { panic!("{forms:?}") };
        assert_eq!((quantity.ops.len(), quantity.most_steps, quantity.depth), (1, 1, 1));
        // price: `*` (1) + `g.unit_cost` (1) + the table call (1) + the shared age (1) +
        // `months_between` (1) + its two dates (2).
        assert_eq!((price.most_steps, price.depth, price.memos), (7, 5, 1));
        assert!(matches!(price.ops.last(), Some(Op::Arith(ArithOp::Mul, _, _))));
        assert_eq!((haircut.most_steps, haircut.depth, haircut.memos), (7, 5, 1));
        assert!(matches!(haircut.ops.first(), Some(Op::Const(Value::Num(d))) if *d == Decimal::ONE));
    }

    /// A condition or a builtin other than `months_between` leaves the clause to the
    /// evaluator's steps.
    #[test]
    fn other_expressions_have_no_form() {
        let forms = pool_forms(
            r#"
input { as_of: Date  xs: List<{ n: Number, c: Money(USD) }> }
collateral p for x in input.xs {
  quantity x.n
  price    if x.c > 1 USD then x.c else 1 USD
  haircut  min(x.n / 100, 50%)
}
"#,
        );
        assert!(forms[0].is_some());
        assert_eq!(forms[1..], [None, None]);
    }
}
