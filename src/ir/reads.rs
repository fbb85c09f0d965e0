//! Which parts of the input each global reads: the other half of a figure's provenance, next
//! to the global→global edges in [`super::Dependencies`]. A change to the data at some paths
//! invalidates the globals that read an overlapping path and everything downstream of them,
//! and nothing else; that is what lets a scenario re-evaluate only what it changes.
//!
//! The analysis over-approximates and never under-approximates: a read of a list covers
//! every element (elements are read through aggregates and locals, which are not followed),
//! a read of the whole input covers everything, and a function's reads count at every call.
//! Business days read the calendars, whose holidays come from the data too. A business-day
//! duration enters a global's evaluation only as a literal in its bodies (or the functions
//! they call), or through a `let` it reads whose type holds a duration (the data binds no
//! durations); a global with either, or a business-day builtin, counts as reading them.

use super::{Body, ExprId, Global, Ir, Node, PathStep};
use crate::syntax::ast::DurationUnit;
use crate::types::Type;
use crate::value::Value;

/// What one global, or the calendars, read of the input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reads {
    /// Paths of field indices from the input's root, each read with everything under it;
    /// the empty path is the whole input. Sorted, and none is under another.
    pub paths: Vec<Vec<u32>>,
    /// Whether the global may add or test business days, and so reads the calendars.
    pub calendars: bool,
}

impl Reads {
    /// Whether any path read overlaps any of `changed` (one under the other, either way).
    pub fn touches(&self, changed: &[&[PathStep]]) -> bool {
        self.paths.iter().any(|read| changed.iter().any(|c| overlaps(read, c)))
    }

    fn everything() -> Reads {
        Reads { paths: vec![Vec::new()], calendars: true }
    }

    fn absorb(&mut self, other: &Reads) {
        self.paths.extend(other.paths.iter().cloned());
        self.calendars |= other.calendars;
    }

    /// Sorted, without duplicates or paths under another path read.
    fn normalise(&mut self) {
        self.paths.sort();
        self.paths.dedup();
        let mut kept: Vec<Vec<u32>> = Vec::with_capacity(self.paths.len());
        for p in std::mem::take(&mut self.paths) {
            // Sorted, so a prefix of `p` that is kept is the last one kept, if any.
            if kept.last().is_some_and(|k| p.starts_with(k)) {
                continue;
            }
            kept.push(p);
        }
        self.paths = kept;
    }
}

/// Whether a read of `read` (with everything under it) sees a change at `changed`: one path
/// is a prefix of the other, `[*]` matching any element.
pub fn overlaps(read: &[u32], changed: &[PathStep]) -> bool {
    read.iter().zip(changed).all(|(r, c)| match c {
        PathStep::Field(f) => f == r,
        PathStep::All => true,
    })
}

/// The input reads of every global of a program, computed once when it is compiled.
#[derive(Clone, Debug, Default)]
pub struct InputReads {
    /// By the global's place in `Ir::topo`.
    globals: Vec<Reads>,
    /// What the holiday lists of the calendars read.
    calendars: Reads,
    /// Globals the holiday lists read.
    calendar_globals: Vec<Global>,
    /// What the `check`s read, through their conditions and the globals those read.
    checks: Reads,
    /// The same, check by check, in program order.
    each_check: Vec<Reads>,
}

impl InputReads {
    /// The analysis of `ir`, whose field indices are already filled in.
    pub fn of(ir: &Ir) -> InputReads {
        let mut walker = Walker { ir, fns: vec![FnState::Unseen; ir.fns.len()] };
        // Data the binder refuses today; should the schema ever carry durations, any global
        // may count business days.
        let input_durations = carries_duration(&Type::Record(std::sync::Arc::clone(&ir.input)), 0);
        let globals: Vec<Reads> = ir
            .topo
            .iter()
            .map(|&g| {
                let mut reads = Reads::default();
                let mut ignored = Vec::new();
                let (bodies, paths) = bodies_of(ir, g);
                for b in bodies {
                    walker.walk(b.expr, &mut reads, &mut ignored, 0);
                }
                reads.paths.extend(paths);
                reads.calendars |= input_durations;
                reads.normalise();
                reads
            })
            .collect();
        let mut calendars = Reads::default();
        let mut calendar_globals = Vec::new();
        for b in ir.calendar.iter().chain(ir.calendars.iter().map(|c| &c.holidays)) {
            walker.walk(b.expr, &mut calendars, &mut calendar_globals, 0);
        }
        calendars.normalise();
        calendar_globals.sort_by_key(|g| ir.dependencies.position(*g));
        calendar_globals.dedup();
        let mut checks = Reads::default();
        let mut each_check = Vec::with_capacity(ir.checks.len());
        for c in &ir.checks {
            let mut reads = Reads::default();
            walker.walk(c.cond.expr, &mut reads, &mut Vec::new(), 0);
            for &g in &c.deps {
                match ir.dependencies.position(g).and_then(|p| globals.get(p)) {
                    Some(r) => reads.absorb(r),
                    None => reads.absorb(&Reads::everything()),
                }
            }
            reads.normalise();
            checks.absorb(&reads);
            each_check.push(reads);
        }
        checks.normalise();
        InputReads { globals, calendars, calendar_globals, checks, each_check }
    }

    /// Whether this is the analysis of a program with `globals` globals (an IR built other
    /// than by compiling a program carries none).
    pub fn covers(&self, globals: usize) -> bool {
        self.globals.len() == globals
    }

    /// The reads of the global at `position` in the evaluation order.
    pub fn at(&self, position: usize) -> Option<&Reads> {
        self.globals.get(position)
    }

    /// What the calendars' holiday lists read of the input.
    pub fn calendars(&self) -> &Reads {
        &self.calendars
    }

    /// What the `check`s read of the input.
    pub fn checks(&self) -> &Reads {
        &self.checks
    }

    /// What each `check` reads of the input, in program order; empty for an IR built other
    /// than by compiling a program.
    pub fn each_check(&self) -> &[Reads] {
        &self.each_check
    }

    /// The globals the calendars' holiday lists read.
    pub fn calendar_globals(&self) -> &[Global] {
        &self.calendar_globals
    }
}

impl Ir {
    /// What `g` reads of the input, directly (what the globals it reads read is theirs).
    pub fn input_reads_of(&self, g: Global) -> Option<&Reads> {
        self.dependencies.position(g).and_then(|p| self.input_reads.at(p))
    }
}

/// The bodies a global evaluates, and the input paths it reads other than through them (a
/// cure's or a paid-down debt's path). A liquidation evaluates the discount models of the
/// pools it sells, so their bodies count as its own.
fn bodies_of(ir: &Ir, g: Global) -> (Vec<Body>, Vec<Vec<u32>>) {
    let mut bodies = Vec::new();
    let mut paths = Vec::new();
    let pool_bodies = |p: &super::PoolDef, bodies: &mut Vec<Body>| {
        bodies.extend(p.each.map(|(b, _)| b));
        bodies.extend([p.quantity, p.price]);
        bodies.extend(p.haircut.iter().chain(&p.lot).chain(&p.discount).chain(&p.liquidation_price).copied());
    };
    match g {
        Global::Let(i) => bodies.extend(ir.lets.get(i as usize).map(|l| l.body)),
        Global::Pool(i) => {
            if let Some(p) = ir.pools.get(i as usize) {
                pool_bodies(p, &mut bodies);
            }
        }
        Global::Covenant(i) => {
            if let Some(c) = ir.covenants.get(i as usize) {
                bodies.extend([c.lhs, c.rhs]);
                if let super::Testing::On(b) = c.tested {
                    bodies.push(b);
                }
                bodies.extend(c.when);
                if let Some(cure) = &c.cure {
                    bodies.extend(cure.history);
                    if cure.into_let.is_none() {
                        paths.push(cure.path.clone());
                    }
                }
            }
        }
        Global::MarginCall(i) => {
            if let Some(m) = ir.margin_calls.get(i as usize) {
                bodies.extend([m.trigger, m.amount]);
                bodies.extend(m.minimum_transfer.iter().chain(m.rounding.as_ref().map(|(_, b)| b)).chain(&m.due).copied());
            }
        }
        Global::Liquidation(i) => {
            if let Some(l) = ir.liquidations.get(i as usize) {
                bodies.extend(l.trigger);
                bodies.push(l.debt);
                if let Some(u) = &l.until {
                    bodies.push(u.cond);
                    match &u.debt_target {
                        super::DebtTarget::Input(path) => paths.push(path.clone()),
                        super::DebtTarget::Let(_) => {}
                        // Not known: the whole input, to be safe.
                        super::DebtTarget::Unknown => paths.push(Vec::new()),
                    }
                }
                for p in l.sell.iter().filter_map(|&p| ir.pools.get(p as usize)) {
                    pool_bodies(p, &mut bodies);
                }
            }
        }
        Global::Default(i) => {
            if let Some(d) = ir.defaults.get(i as usize) {
                bodies.extend(d.events.iter().map(|e| e.when));
            }
        }
    }
    (bodies, paths)
}

#[derive(Clone)]
enum FnState {
    Unseen,
    Busy,
    Done(Reads),
}

/// Deeper chains of calls than this are taken to read everything rather than followed.
const MAX_CALL_CHAIN: u32 = 256;

struct Walker<'a> {
    ir: &'a Ir,
    fns: Vec<FnState>,
}

impl Walker<'_> {
    /// Adds what the expression at `root` reads to `reads`, and the globals it reads to
    /// `globals`. Iterative over the expression (an arena is a forest), recursive only over
    /// function bodies, each walked once.
    fn walk(&mut self, root: ExprId, reads: &mut Reads, globals: &mut Vec<Global>, calls: u32) {
        let ir = self.ir;
        let mut work = vec![root];
        while let Some(id) = work.pop() {
            let Some(node) = ir.arena.node(id) else {
                reads.absorb(&Reads::everything());
                continue;
            };
            if may_use_calendars(ir, node) {
                reads.calendars = true;
            }
            match node {
                Node::Input => reads.paths.push(Vec::new()),
                Node::Field { .. } => match input_path(ir, id) {
                    Some(path) => reads.paths.push(path),
                    None => crate::resolve::children(node, &mut |c| work.push(c)),
                },
                Node::CallFn { func, args } => {
                    work.extend(args.iter().copied());
                    let called = self.fn_reads(*func, globals, calls);
                    reads.absorb(&called);
                }
                Node::Global(g) => globals.push(*g),
                Node::PoolField(i, _) => globals.push(Global::Pool(*i)),
                Node::CovenantField(i, _) => globals.push(Global::Covenant(*i)),
                Node::MarginField(i, _) => globals.push(Global::MarginCall(*i)),
                Node::LiquidationField(i, _) => globals.push(Global::Liquidation(*i)),
                Node::DefaultField(i, _) => globals.push(Global::Default(*i)),
                _ => crate::resolve::children(node, &mut |c| work.push(c)),
            }
        }
    }

    fn fn_reads(&mut self, func: u32, globals: &mut Vec<Global>, calls: u32) -> Reads {
        let ir = self.ir;
        match self.fns.get(func as usize) {
            Some(FnState::Done(r)) => return r.clone(),
            // A cycle (which resolve refuses) or a chain too deep to follow: everything.
            Some(FnState::Busy) | None => return Reads::everything(),
            Some(FnState::Unseen) if calls >= MAX_CALL_CHAIN => return Reads::everything(),
            Some(FnState::Unseen) => {}
        }
        let Some(def) = ir.fns.get(func as usize) else { return Reads::everything() };
        if let Some(s) = self.fns.get_mut(func as usize) {
            *s = FnState::Busy;
        }
        let mut reads = Reads::default();
        self.walk(def.body.expr, &mut reads, globals, calls + 1);
        reads.normalise();
        if let Some(s) = self.fns.get_mut(func as usize) {
            *s = FnState::Done(reads.clone());
        }
        reads
    }
}

/// The field indices from the input's root to the value a chain of fields rooted at the
/// input reads; `None` when the chain starts elsewhere. A field whose index is not known
/// ends the path there, so the read covers all of its parent.
fn input_path(ir: &Ir, id: ExprId) -> Option<Vec<u32>> {
    let mut reversed = Vec::new();
    let mut at = id;
    loop {
        match ir.arena.node(at)? {
            Node::Field { base, index, .. } => {
                reversed.push(*index);
                at = *base;
            }
            Node::Input => break,
            _ => return None,
        }
    }
    reversed.reverse();
    if let Some(unknown) = reversed.iter().position(|&i| i == u32::MAX) {
        reversed.truncate(unknown);
    }
    Some(reversed)
}

/// Whether evaluating this node may bring a business-day duration into the global, or count
/// business days itself. Literal durations say their unit; a `let` read may hold any duration
/// its type allows.
fn may_use_calendars(ir: &Ir, node: &Node) -> bool {
    match node {
        Node::Const(Value::Duration(d)) => d.unit == DurationUnit::BusinessDays,
        Node::Const(v) => value_carries_duration(v, 0),
        Node::MakeDuration { unit, .. } => *unit == DurationUnit::BusinessDays,
        Node::CallBuiltin { builtin: super::Builtin::AddBusinessDays | super::Builtin::IsBusinessDay | super::Builtin::IsBusinessDayIn, .. } => true,
        Node::Global(Global::Let(i)) => ir.lets.get(*i as usize).is_none_or(|l| carries_duration(&l.ty, 0)),
        _ => false,
    }
}

fn value_carries_duration(v: &Value, depth: u32) -> bool {
    match v {
        Value::Duration(d) => d.unit == DurationUnit::BusinessDays,
        Value::List(items) | Value::Record(items) => depth > 32 || items.iter().any(|x| value_carries_duration(x, depth + 1)),
        _ => false,
    }
}

fn carries_duration(ty: &Type, depth: u32) -> bool {
    if depth > 32 {
        return true;
    }
    match ty {
        Type::Duration | Type::Error => true,
        Type::List(t) | Type::Optional(t) => carries_duration(t, depth + 1),
        Type::Record(r) => r.fields.iter().any(|(_, t)| carries_duration(t, depth + 1)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(source: &str) -> crate::Program {
        crate::Program::compile("reads.cov", source).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn let_reads(program: &crate::Program, name: &str) -> Reads {
        let ir = program.ir();
        let i = ir.lets.iter().position(|l| &*l.name == name).unwrap();
        ir.input_reads_of(Global::Let(u32::try_from(i).unwrap())).unwrap().clone()
    }

    const INPUT: &str = "input { as_of: Date  btc: { price: Money(USD)  coins: Number }  debt: Money(USD)  holidays: List<Date>  gpus: List<{ count: Number  rent: Money(USD) }> }\n";

    #[test]
    fn a_field_chain_reads_its_path_and_a_function_reads_for_its_caller() {
        let program = compile(&format!(
            "{INPUT}
            fn worth(coins: Number) -> Money(USD) = coins * input.btc.price
            let value = worth(input.btc.coins)
            let debt = input.debt
            let twice = debt * 2
            let rent = sum(g.rent for g in input.gpus)"
        ));
        // Field indices: as_of 0, btc 1 (price 0, coins 1), debt 2, holidays 3, gpus 4.
        assert_eq!(let_reads(&program, "value"), Reads { paths: vec![vec![1, 0], vec![1, 1]], calendars: false });
        assert_eq!(let_reads(&program, "debt"), Reads { paths: vec![vec![2]], calendars: false });
        // `twice` reads `debt`, not the input: its dependency edge carries the rest.
        assert_eq!(let_reads(&program, "twice"), Reads::default());
        // Elements are read through the aggregate's local: the list is read whole.
        assert_eq!(let_reads(&program, "rent"), Reads { paths: vec![vec![4]], calendars: false });
        let price: &[PathStep] = &[PathStep::Field(1), PathStep::Field(0)];
        let every_rent: &[PathStep] = &[PathStep::Field(4), PathStep::All, PathStep::Field(1)];
        assert!(let_reads(&program, "value").touches(&[price]));
        assert!(!let_reads(&program, "debt").touches(&[price, every_rent]));
        assert!(let_reads(&program, "rent").touches(&[every_rent]));
        // A change to all of `btc` reaches the reads under it.
        assert!(let_reads(&program, "value").touches(&[&[PathStep::Field(1)]]));
    }

    #[test]
    fn a_whole_input_read_reads_everything_and_as_of_is_a_field() {
        let program = compile(&format!(
            "{INPUT}
            let whole = input
            let today = as_of"
        ));
        assert_eq!(let_reads(&program, "whole").paths, vec![Vec::<u32>::new()]);
        assert!(let_reads(&program, "whole").touches(&[&[PathStep::Field(2)]]));
        assert_eq!(let_reads(&program, "today").paths, vec![vec![0]]);
    }

    #[test]
    fn business_days_read_the_calendars_and_other_durations_do_not() {
        let program = compile(&format!(
            "{INPUT}
            calendar {{ holidays input.holidays }}
            let settles = as_of + 2 business days
            let next_year = as_of + 1 year
            let grace = 2 business days
            let after_grace = as_of + grace
            fn open(d: Date) -> Bool = is_business_day(d)
            let open_today = open(as_of)
            margin_call call {{ trigger input.debt > 0 USD  amount input.debt  due 3 business days }}"
        ));
        let ir = program.ir();
        assert!(let_reads(&program, "settles").calendars);
        assert!(!let_reads(&program, "next_year").calendars);
        assert!(let_reads(&program, "open_today").calendars);
        // A duration read from a `let` may be in business days.
        assert!(let_reads(&program, "after_grace").calendars);
        assert!(ir.input_reads_of(Global::MarginCall(0)).unwrap().calendars);
        assert_eq!(ir.input_reads.calendars().paths, vec![vec![3]]);
        assert!(ir.input_reads.calendar_globals().is_empty());
    }

    #[test]
    fn overlap_is_a_prefix_either_way_and_all_matches_any_element() {
        use PathStep::{All, Field};
        assert!(overlaps(&[4], &[Field(4), All, Field(1)]));
        assert!(overlaps(&[4, 1], &[Field(4)]));
        assert!(overlaps(&[], &[Field(0)]));
        assert!(!overlaps(&[1, 0], &[Field(1), Field(1)]));
        assert!(!overlaps(&[2], &[Field(1)]));
    }
}
