//! Provenance, recorded only when asked for. The [`Evaluator`](super::Evaluator) is generic
//! over a [`Tracer`] that it holds by value, and tells it about each expression it evaluates
//! (`evaluated`, from `Evaluator::expr`, with the result) and each global the engine computes
//! (`computed`).
//!
//! Why generic rather than a `dyn Tracer` or an `Option`: an ordinary run is traced by the
//! zero-size [`NoTrace`], whose hooks are empty and `#[inline(always)]`, so the evaluator,
//! the rules and the engine, all generic over the tracer, monomorphise for it to the
//! untraced code: no call through a pointer, no branch, no allocation, no byte of state
//! (the idea of starlark-rust's `before_stmt` hooks, which cost nothing when none is
//! installed). Explaining costs only when asked for: a traced evaluator is a second
//! instantiation of the same code, used by the runs that record. Held by value, not
//! borrowed, so the evaluator needs no second lifetime and a [`NoTrace`] field is nothing at
//! all; `Evaluator::into_parts` hands the tracer back with the outcome. The probes of cure
//! and liquidation searches are untraced evaluators whatever their parent's tracer: what
//! they try is not what the program computed.
//!
//! [`Recording`] keeps what an explanation needs: every global's value or failure, and the
//! globals it read.

use std::collections::HashMap;

use super::{EvalResult, Outcome};
use crate::ir::{ExprId, Global, Ir};
use crate::value::Value;

/// What an evaluator reports while it computes a program's globals.
pub trait Tracer {
    /// Whether `evaluated` does anything. A tracer that is not told of each step lets the
    /// evaluator compute a pool position's clauses without stepping (`ir::numeric`).
    const SEES_STEPS: bool = true;

    /// `id` has just been evaluated, to `result`: one step of the operation budget. Called for
    /// every expression, so a tracer that needs only globals leaves the empty default.
    #[inline(always)]
    fn evaluated(&mut self, id: ExprId, result: &EvalResult<Value>) {
        let _ = (id, result);
    }

    /// `g` has just been computed: its value or failure is in its slot of `out`, and
    /// `ir.dependencies_of(g)` are the globals it read.
    fn computed(&mut self, ir: &Ir, g: Global, out: &Outcome);
}

/// The tracer of ordinary runs: records nothing, and costs nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTrace;

impl Tracer for NoTrace {
    const SEES_STEPS: bool = false;

    #[inline(always)]
    fn computed(&mut self, _: &Ir, _: Global, _: &Outcome) {}
}

/// Every global's value or failure and its direct reads, in the order they were computed.
#[derive(Clone, Debug)]
pub struct Recording {
    values: Outcome,
    order: Vec<Global>,
    /// Indexed by global, so that walking a cone stays linear in a large program.
    reads: HashMap<Global, Vec<Global>>,
}

impl Recording {
    pub fn new(ir: &Ir, as_of: crate::dates::Date) -> Self {
        Recording { values: Outcome::empty(ir, as_of), order: Vec::new(), reads: HashMap::new() }
    }

    /// The globals `g` read, as recorded when it was computed (empty if it never was).
    pub fn reads_of(&self, g: Global) -> &[Global] {
        self.reads.get(&g).map_or(&[], |reads| &reads[..])
    }

    /// The globals recorded, in the order they were computed.
    pub fn order(&self) -> impl Iterator<Item = Global> + '_ {
        self.order.iter().copied()
    }

    /// Every recorded value, with the run's errors and whether it ran out of budget.
    pub fn values(&self) -> &Outcome {
        &self.values
    }

    /// The run's errors and budget state, which belong to no one global.
    pub fn finish(&mut self, run: &Outcome) {
        self.values.errors.clone_from(&run.errors);
        self.values.exceeded = run.exceeded;
    }

    /// A store holding only `root` and what it read, directly or not, as recorded: all an
    /// expression of `root`'s definition can read.
    pub fn cone(&self, ir: &Ir, root: Global) -> Outcome {
        let mut store = Outcome::empty(ir, self.values.as_of);
        let mut work = vec![root];
        while let Some(g) = work.pop() {
            if store.has(g) || !self.values.has(g) {
                continue;
            }
            store.copy_slot(&self.values, g);
            work.extend_from_slice(self.reads_of(g));
        }
        store
    }
}

impl Tracer for Recording {
    const SEES_STEPS: bool = false;

    fn computed(&mut self, ir: &Ir, g: Global, out: &Outcome) {
        self.values.copy_slot(out, g);
        self.order.push(g);
        self.reads.insert(g, ir.dependencies_of(g).to_vec());
    }
}
