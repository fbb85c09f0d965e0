//! Pools, covenants and cures, margin calls and liquidation: the rules of a facility, and
//! the two searches (least cure amount, least lots sold) that they need. This room uses the
//! evaluator and fills the rules' slots of its outcome store; the evaluator reads them back
//! without knowing how they were computed.

use std::sync::Arc;

use rust_decimal::Decimal;

use crate::eval::outcome::SaleSearch;
use crate::eval::{fail, ops, Budget, Clause, ErrorEntry, EvalResult, Evaluator, Fail, Tracer};
use crate::ir::{self, ArithOp, Global, Testing};
use crate::span::Span;
use crate::solve::{self, Found, Side};
use crate::syntax::ast::{CmpOp, CureLimit};
use crate::value::Value;

pub use crate::eval::outcome::{
    CovenantOutcome, CovenantStatus, Cure, DefaultOutcome, DefaultStatus, LiquidationOutcome, MarginOutcome, MarginStatus, Peak, PoolOutcome, Sale,
};

/// Computes one global into its slot of the evaluator's outcome store: a `let` by the
/// evaluator itself, a rule by its semantics here. Its dependencies must be in the store.
pub fn global<T: Tracer>(ev: &mut Evaluator<'_, T>, g: Global) {
    let ir = ev.ir;
    match g {
        Global::Let(i) => ev.let_global(i),
        Global::Pool(i) => {
            let Some(def) = ir.pools.get(i as usize) else { return };
            let r = pool(ev, def);
            ev.note(&def.name, &r);
            if let Some(slot) = ev.out.pools.get_mut(i as usize) {
                *slot = Some(r);
            }
        }
        Global::Covenant(i) => {
            let Some(def) = ir.covenants.get(i as usize) else { return };
            let r = covenant(ev, def);
            if let Some(f) = &r.failure {
                ev.note::<()>(&def.name, &Err(f.clone()));
            }
            if let Some(slot) = ev.out.covenants.get_mut(i as usize) {
                *slot = Some(r);
            }
        }
        Global::MarginCall(i) => {
            let Some(def) = ir.margin_calls.get(i as usize) else { return };
            let r = margin_call(ev, def);
            ev.note(&def.name, &r);
            if let Some(slot) = ev.out.margin_calls.get_mut(i as usize) {
                *slot = Some(r);
            }
        }
        Global::Liquidation(i) => {
            let Some(def) = ir.liquidations.get(i as usize) else { return };
            let r = liquidation(ev, i, def);
            ev.note(&def.name, &r);
            if let Some(slot) = ev.out.liquidations.get_mut(i as usize) {
                *slot = Some(r);
            }
        }
        Global::Default(i) => {
            let Some(def) = ir.defaults.get(i as usize) else { return };
            let r = default_rule(ev, def);
            for (event, failure) in &r.failures {
                if let (Fail::Here(failure), Some(e)) = (failure, def.events.get(*event as usize)) {
                    let message = format!("event `{}`: {}", e.name, failure.message);
                    ev.out.errors.push(ErrorEntry { name: def.name.clone(), message, span: failure.span });
                }
            }
            if let Some(slot) = ev.out.defaults.get_mut(i as usize) {
                *slot = Some(r);
            }
        }
    }
}

fn op(o: ArithOp, a: Decimal, b: Decimal, span: Span) -> EvalResult<Decimal> {
    ops::arith(o, a, b, span)
}

/// `x.max(0).min(1)`, keeping `x` itself when it equals a bound as those do. A haircut is
/// clamped for every position of a pool, and has places where 0 and 1 have none: the sign,
/// and the mantissa against 10 to the scale, decide without rescaling.
fn clamp01(x: Decimal) -> Decimal {
    if x.is_sign_negative() && !x.is_zero() {
        Decimal::ZERO
    } else if x.mantissa() > 10i128.pow(x.scale()) {
        Decimal::ONE
    } else {
        x
    }
}

// ---------------------------------------------------------------------- pools

pub fn pool<T: Tracer>(ev: &mut Evaluator<'_, T>, def: &ir::PoolDef) -> EvalResult<PoolOutcome> {
    let span = def.span;
    let mut quantity = Decimal::ZERO;
    let mut market = Decimal::ZERO;
    let mut eligible = Decimal::ZERO;
    let mut sale_value = Decimal::ZERO;
    let quantity_span = ev.ir.arena.span(def.quantity.expr);
    let mut add_position = |position: Position| -> EvalResult<()> {
        let Position { quantity: q, price: p, haircut: h, liquidation_price } = position;
        if q.is_sign_negative() && !q.is_zero() {
            return fail(quantity_span, format!("a position has a negative quantity ({})", q.normalize()));
        }
        let mv = op(ArithOp::Mul, q, p, span)?;
        let ev_ = op(ArithOp::Mul, mv, Decimal::ONE - clamp01(h), span)?;
        quantity = op(ArithOp::Add, quantity, q, span)?;
        market = op(ArithOp::Add, market, mv, span)?;
        eligible = op(ArithOp::Add, eligible, ev_, span)?;
        // Without a liquidation price a position sells at its market value, and the sum of
        // those is the market value's own sum: added once, above, and copied at the end.
        if let Some(lp) = liquidation_price {
            sale_value = op(ArithOp::Add, sale_value, op(ArithOp::Mul, q, lp, span)?, span)?;
        }
        Ok(())
    };
    // One frame, shared by a position's quantity, prices and haircut, and bound again (its
    // other locals emptied) for each position.
    let frame = def.position_clauses().map(|b| b.frame as usize).max().unwrap_or(1);
    let clauses = Clauses::of(ev, def);
    match def.each {
        Some((list, _)) => {
            let items = match ev.eval_body(list)? {
                Value::List(items) => items,
                Value::Null => Arc::from(Vec::new()),
                _ => return fail(span, "a pool's `for` needs a list"),
            };
            let base = ev.open_frame(Value::Null, frame);
            let mut each = || -> EvalResult<()> {
                for item in items.iter() {
                    ev.empty_frame(base);
                    add_position(position_clauses(ev, &clauses, base, Some(item))?)?;
                }
                Ok(())
            };
            let r = each();
            ev.close_frame(base);
            r?;
        }
        // A pool without `for` is one position. Its frame opens with a placeholder where the
        // `for` variable would be, which the clauses' own locals are free to overwrite.
        None => {
            let base = ev.open_frame(Value::Null, frame);
            let position = position_clauses(ev, &clauses, base, None);
            ev.close_frame(base);
            add_position(position?)?;
        }
    }
    let lot = match def.lot {
        Some(l) => ev.num(l, &[])?,
        None => Decimal::ONE,
    };
    if lot <= Decimal::ZERO {
        return fail(def.lot.map_or(span, |l| ev.ir.arena.span(l.expr)), format!("the lot must be positive, found {}", lot.normalize()));
    }
    let haircut = if PoolOutcome::haircut_cannot_fail(eligible, market) {
        None
    } else {
        Some(PoolOutcome::haircut_of(eligible, market, span)?)
    };
    if def.liquidation_price.is_none() {
        sale_value = market;
    }
    let mut out = PoolOutcome { quantity, market_value: market, eligible_value: eligible, realisable_value: market, haircut, sale_value, lot, peak: None };
    let lots = lot_count(&out, span)?;
    let peak = peak_lots(ev, def, &out, lots)?;
    out.realisable_value = peak.proceeds;
    out.peak = Some(peak);
    Ok(out)
}

struct Position {
    quantity: Decimal,
    price: Decimal,
    haircut: Decimal,
    liquidation_price: Option<Decimal>,
}

/// A position's clauses, read in the frame open at `base` for `item` (`None` for a pool
/// without `for`).
fn position_clauses<'p, T: Tracer>(ev: &mut Evaluator<'p, T>, clauses: &Clauses<'p>, base: usize, item: Option<&Value>) -> EvalResult<Position> {
    let quantity = ev.num_of(&clauses.quantity, base, item)?;
    let price = ev.num_of(&clauses.price, base, item)?;
    let haircut = match &clauses.haircut {
        Some(h) => ev.num_of(h, base, item)?,
        None => Decimal::ZERO,
    };
    let liquidation_price = match &clauses.liquidation_price {
        Some(l) => Some(ev.num_of(l, base, item)?),
        None => None,
    };
    Ok(Position { quantity, price, haircut, liquidation_price })
}

/// A pool's clauses, prepared once for all its positions.
struct Clauses<'p> {
    quantity: Clause<'p>,
    price: Clause<'p>,
    haircut: Option<Clause<'p>>,
    liquidation_price: Option<Clause<'p>>,
}

impl<'p> Clauses<'p> {
    fn of<T: Tracer>(ev: &Evaluator<'p, T>, def: &ir::PoolDef) -> Clauses<'p> {
        Clauses { quantity: ev.clause(def.quantity), price: ev.clause(def.price), haircut: def.haircut.map(|h| ev.clause(h)), liquidation_price: def.liquidation_price.map(|l| ev.clause(l)) }
    }
}

/// The discount and proceeds of selling `units` of a pool. The gross value is the units'
/// share of the market value, multiplied before it is divided so that selling the whole
/// pool grosses exactly its market value (a rounded average price would leave a residue).
fn proceeds<T: Tracer>(ev: &mut Evaluator<'_, T>, def: &ir::PoolDef, pool: &PoolOutcome, units: Decimal) -> EvalResult<(Decimal, Decimal)> {
    proceeds_by(ev, def, pool, units, None)
}

/// [`proceeds`], with the arguments of a standard model already evaluated for the search
/// this is a probe of.
fn proceeds_by<T: Tracer>(ev: &mut Evaluator<'_, T>, def: &ir::PoolDef, pool: &PoolOutcome, units: Decimal, model: Option<&ModelCall>) -> EvalResult<(Decimal, Decimal)> {
    let discount = match def.discount {
        Some(d) => {
            let model = match model {
                Some(m) => {
                    ev.spend(MODEL_STEPS, def.span)?;
                    model_value(m, units)
                }
                None if def.standard_discount => standard_model(ev, d, units, def.span)?,
                None => None,
            };
            match model {
                Some(x) => clamp01(x),
                None => clamp01(ev.num(d, &[Value::Num(units)])?),
            }
        }
        None => Decimal::ZERO,
    };
    let gross = gross_value(pool, units, def.span)?;
    Ok((discount, op(ArithOp::Mul, gross, Decimal::ONE - discount, def.span)?))
}

/// Steps a standard-library discount model is charged beyond its arguments: about what the
/// evaluator spends on its call and body.
const MODEL_STEPS: u64 = 8;

/// The discount at `units` sold of a pool whose discount is a standard-library model
/// (`PoolDef::standard_discount`), by the model's arithmetic written here in Rust: the
/// operations of its body in stdlib/liquidity.cov, in the same order and by the same
/// functions, so the same figure, without walking the body in every probe of a search. Its
/// arguments other than `sold` are evaluated as a call evaluates them. `None` when an
/// argument is not a number or the arithmetic fails: the caller then evaluates the call,
/// which reports what is wrong as it always has.
fn standard_model<T: Tracer>(ev: &mut Evaluator<'_, T>, discount: ir::Body, units: Decimal, span: Span) -> EvalResult<Option<Decimal>> {
    let Some(model) = model_arguments(ev, discount, units)? else { return Ok(None) };
    ev.spend(MODEL_STEPS, span)?;
    Ok(model_value(&model, units))
}

fn model_value(model: &ModelCall, units: Decimal) -> Option<Decimal> {
    let [a, b, c] = model.arguments;
    match model.name {
        Model::SqrtImpact => sqrt_impact(units, a, b),
        Model::Absorption => absorption_discount(units, a, b, c),
        Model::Fixed => fixed_discount(units, a),
    }
}

/// The arguments of a pool's standard model, evaluated once for a search's probes; `None`
/// for another discount, or when they cannot be evaluated (each probe then evaluates the
/// call and reports what is wrong).
fn search_model<T: Tracer>(ev: &mut Evaluator<'_, T>, def: &ir::PoolDef) -> Option<ModelCall> {
    match def.discount {
        Some(d) if def.standard_discount => model_arguments(ev, d, Decimal::ZERO).ok().flatten(),
        _ => None,
    }
}

#[derive(Clone, Copy)]
enum Model {
    SqrtImpact,
    Absorption,
    Fixed,
}

/// A standard-library model and its arguments after `sold`.
struct ModelCall {
    name: Model,
    arguments: [Decimal; 3],
}

/// The model a standard discount calls, with its arguments other than `sold` evaluated (in a
/// frame where `sold` is `units`, though they do not read it); `None` when one is not a number.
fn model_arguments<T: Tracer>(ev: &mut Evaluator<'_, T>, discount: ir::Body, units: Decimal) -> EvalResult<Option<ModelCall>> {
    let ir = ev.ir;
    let Some(ir::Node::CallFn { func, args }) = ir.arena.node(discount.expr) else { return Ok(None) };
    let name = match (ir.fns.get(*func as usize).map(|f| &*f.name), args.len()) {
        (Some("sqrt_impact"), 3) => Model::SqrtImpact,
        (Some("absorption_discount"), 4) => Model::Absorption,
        (Some("fixed_discount"), 2) => Model::Fixed,
        _ => return Ok(None),
    };
    let mut arguments = [Decimal::ZERO; 3];
    let base = ev.open_frame(Value::Num(units), discount.frame as usize);
    let mut read = Ok(true);
    for (slot, a) in arguments.iter_mut().zip(args.iter().skip(1)) {
        match ev.expr(*a, base) {
            Ok(Value::Num(n)) => *slot = n,
            Ok(_) => read = Ok(false),
            Err(e) => read = Err(e),
        }
        if !matches!(read, Ok(true)) {
            break;
        }
    }
    ev.close_frame(base);
    Ok(read?.then_some(ModelCall { name, arguments }))
}

/// The model's discount in floating point (its arguments after `sold` as floats), to aim a
/// search: never a figure.
fn model_estimate(model: Model, [a, b, c]: [f64; 3], units: f64) -> f64 {
    let discount = match model {
        Model::SqrtImpact if a <= 0.0 => 1.0,
        Model::SqrtImpact => b * (units / a).sqrt(),
        Model::Absorption if a <= 0.0 => 1.0,
        Model::Absorption => 1f64.min(b + c * 0f64.max(units / a - 1.0)),
        Model::Fixed => a,
    };
    discount.clamp(0.0, 1.0)
}

/// Whether the proceeds of a standard model certainly rise from `lots − 1` lots to the whole
/// pool: worked out in floating point, the last lot adds more than a billionth of the pool's
/// sale value. Either side's error is far smaller (relative errors near 1e-15 in floating point
/// and 1e-27 in decimal, both of the sale value, since proceeds never exceed it), so the
/// decimal comparison the search would make must come out the same way. And when the whole
/// pool's proceeds can be computed, so can those of fewer lots: every operation of the
/// models and of the gross value is on smaller magnitudes.
fn surely_rising_into_last_lot(model: &ModelCall, pool: &PoolOutcome, lots: Decimal) -> bool {
    let (lot, quantity, value, lots) = (solve::float(pool.lot), solve::float(pool.quantity), solve::float(pool.sale_value), solve::float(lots));
    if !(quantity > 0.0 && lot > 0.0 && value.is_finite() && value > 0.0) {
        return false;
    }
    let arguments = model.arguments.map(solve::float);
    let proceeds = |units: f64| units / quantity * value * (1.0 - model_estimate(model.name, arguments, units));
    let before_last = ((lots - 1.0) * lot).min(quantity);
    let rise = proceeds(quantity) - proceeds(before_last);
    rise.is_finite() && rise > value * 1e-9
}

/// Where a standard model's proceeds, worked out in floating point, first reach `remaining`
/// between no lots and `peak` lots: a guess at the least covering sale, to start its search.
fn covering_estimate(model: &ModelCall, pool: &PoolOutcome, peak: Decimal, remaining: Decimal) -> Option<Decimal> {
    let (lot, quantity, value, peak, target) = (solve::float(pool.lot), solve::float(pool.quantity), solve::float(pool.sale_value), solve::float(peak), solve::float(remaining));
    if !(quantity > 0.0 && value.is_finite() && peak.is_finite() && peak > 0.0) {
        return None;
    }
    let arguments = model.arguments.map(solve::float);
    let proceeds = |n: f64| {
        let units = (n * lot).min(quantity);
        units / quantity * value * (1.0 - model_estimate(model.name, arguments, units))
    };
    // Proceeds rise up to the peak: regula falsi (the Illinois rule keeps both ends moving)
    // closes on the count where they reach the target to well under a lot in a few steps,
    // as the models are smooth; a guess off by more only costs probes.
    let (mut lo, mut hi) = (0.0, peak);
    let (mut f_lo, mut f_hi) = (-target, proceeds(peak) - target);
    let mut kept = 0i8;
    let mut estimate = hi;
    for _ in 0..40 {
        if hi - lo < 0.25 || !(f_lo < 0.0 && f_hi >= 0.0) {
            break;
        }
        let x = (lo + (hi - lo) * (f_lo / (f_lo - f_hi))).clamp(lo, hi);
        let f = proceeds(x) - target;
        estimate = x;
        if f.abs() < 1e-6 {
            break;
        }
        if f >= 0.0 {
            (hi, f_hi) = (x, f);
            if kept == 1 {
                f_lo /= 2.0;
            }
            kept = 1;
        } else {
            (lo, f_lo) = (x, f);
            if kept == -1 {
                f_hi /= 2.0;
            }
            kept = -1;
        }
    }
    <Decimal as solve::Count>::at_or_above(if hi - lo < 0.25 { hi } else { estimate })
}

fn model_op(op: ArithOp, a: Decimal, b: Decimal) -> Option<Decimal> {
    ops::arith(op, a, b, Span::default()).ok()
}

/// `if daily_volume <= 0 then 1 else daily_vol * sqrt(sold / daily_volume)`
fn sqrt_impact(sold: Decimal, daily_volume: Decimal, daily_vol: Decimal) -> Option<Decimal> {
    if ops::compare_numbers(CmpOp::Le, daily_volume, Decimal::ZERO) {
        return Some(Decimal::ONE);
    }
    model_op(ArithOp::Mul, daily_vol, crate::eval::wide::sqrt(model_op(ArithOp::Div, sold, daily_volume)?)?)
}

/// `if monthly_absorption <= 0 then 1
///  else min(1, base + per_month * max(0, sold / monthly_absorption - 1))`
fn absorption_discount(sold: Decimal, monthly_absorption: Decimal, base: Decimal, per_month: Decimal) -> Option<Decimal> {
    if ops::compare_numbers(CmpOp::Le, monthly_absorption, Decimal::ZERO) {
        return Some(Decimal::ONE);
    }
    let months_over = model_op(ArithOp::Sub, model_op(ArithOp::Div, sold, monthly_absorption)?, Decimal::ONE)?;
    let step = model_op(ArithOp::Mul, per_month, Decimal::ZERO.max(months_over))?;
    Some(Decimal::ONE.min(model_op(ArithOp::Add, base, step)?))
}

/// `rate + 0 * sold`
fn fixed_discount(sold: Decimal, rate: Decimal) -> Option<Decimal> {
    model_op(ArithOp::Add, rate, model_op(ArithOp::Mul, Decimal::ZERO, sold)?)
}

/// units × market value ÷ quantity, exact where the result is representable.
fn gross_value(pool: &PoolOutcome, units: Decimal, span: Span) -> EvalResult<Decimal> {
    if pool.quantity.is_zero() || units.is_zero() {
        return Ok(Decimal::ZERO);
    }
    if units == pool.quantity {
        return Ok(pool.sale_value);
    }
    match units.checked_mul(pool.sale_value) {
        Some(product) => op(ArithOp::Div, product, pool.quantity, span),
        // The product overflows only for figures near the decimal range; the share first
        // then keeps the result in range at the cost of the last digit.
        None => op(ArithOp::Mul, op(ArithOp::Div, units, pool.quantity, span)?, pool.sale_value, span),
    }
}

/// The smallest number of whole lots whose proceeds are the pool's greatest. Proceeds are
/// assumed to rise and then fall (never rise again) as more lots are sold, which holds for
/// every standard-library discount model; the search then needs only O(log lots) probes.
///
/// For a pool whose discount is a standard-library model (`PoolDef::standard_discount`) the
/// search is aimed by the proceeds (`solve::steered`), which finds the lots a bisection finds
/// because the assumption holds for every argument of those models. Any other discount is
/// searched by bisection, probing the same counts in the same order as before: with a model
/// that breaks the assumption the lots found depend on which counts are probed
/// (tests/liquidation.rs pins them).
fn peak_lots<T: Tracer>(ev: &mut Evaluator<'_, T>, def: &ir::PoolDef, pool: &PoolOutcome, lots: Decimal) -> EvalResult<Peak> {
    let span = def.span;
    let mut hi = lots;
    let mut last_gap = f64::NAN;
    let model = if lots > Decimal::ZERO { search_model(ev, def) } else { None };
    let model = model.as_ref();
    // Still rising at the last lot: the whole pool is the peak (the common case, two probes,
    // or one when the model's floats leave no doubt).
    if let Some(m) = model.filter(|m| lots > Decimal::ZERO && surely_rising_into_last_lot(m, pool, lots)) {
        return match proceeds_by(ev, def, pool, pool.quantity, model) {
            Ok((discount, all)) => Ok(Peak { lots, discount, proceeds: all }),
            // The probe skipped comes first: its failure, if it fails, is the one to report.
            Err(failure) => {
                proceeds_by(ev, def, pool, units_of(pool, lots - Decimal::ONE, span)?, Some(m))?;
                Err(failure)
            }
        };
    }
    if lots > Decimal::ZERO {
        let last_but_one = units_of(pool, lots - Decimal::ONE, span)?;
        // Without a discount the proceeds are the gross value, whose probe can no longer fail
        // once the units are known; when it surely falls short of the whole pool's, the whole
        // pool is the peak, and its proceeds are its sale value (multiplied by 1 − 0, which
        // for a sale value that is not zero gives it back digit for digit).
        if def.discount.is_none() && surely_short_of_the_whole(pool, last_but_one) {
            return Ok(Peak { lots, discount: Decimal::ZERO, proceeds: pool.sale_value });
        }
        let (_, before_last) = proceeds_by(ev, def, pool, last_but_one, model)?;
        let (discount, all) = proceeds_by(ev, def, pool, pool.quantity, model)?;
        if before_last < all {
            return Ok(Peak { lots, discount, proceeds: all });
        }
        last_gap = rise(before_last, all);
        hi = lots - Decimal::ONE;
    }
    // The first peak lies in 0..=hi; proceeds rise strictly before it. Counted down from
    // `hi` (m lots short of it), "still rising at hi − m" turns from false to true as m
    // grows, which is the solver's bisection; it probes the same lot counts, in the same
    // order, as a bisection of 0..=hi at ⌊(lo + hi) / 2⌋ does.
    let rising_at = |ev: &mut Evaluator<'_, T>, m: Decimal| -> EvalResult<(bool, f64)> {
        let n = hi - m;
        let (_, here) = proceeds_by(ev, def, pool, units_of(pool, n, span)?, model)?;
        let (_, next) = proceeds_by(ev, def, pool, units_of(pool, n + Decimal::ONE, span)?, model)?;
        Ok((here < next, rise(here, next)))
    };
    let (short, _) = if def.standard_discount {
        // At m = 0 the proceeds fall into the last lot (measured above when hi is the
        // pool's last lot but one); just short of zero lots they rise, by an unknown amount.
        steer(Decimal::ZERO, hi + Decimal::ONE, (last_gap, f64::NAN), None, |m| rising_at(ev, m))?
    } else {
        bisect(Decimal::ZERO, hi + Decimal::ONE, |m| Ok(rising_at(ev, m)?.0))?
    };
    let lo = hi - short;
    let units = units_of(pool, lo, span)?;
    let (discount, best) = proceeds_by(ev, def, pool, units, model)?;
    Ok(Peak { lots: lo, discount, proceeds: best })
}

/// Whether `units` (at least none, fewer than the pool's) gross less than the whole pool,
/// whatever the rounding of [`gross_value`]'s quotient: the units fall short of the quantity
/// by a part in 10^12 or more and the sale value is positive and at least 10^-10, so the
/// shortfall in value is at least 10^-22 and a part in 10^12 of it, far beyond the last of 28
/// places and of 28 significant digits. The floats only decide, with that margin, between
/// this answer and computing the quotient; each is within a few parts in 10^16 of its decimal.
fn surely_short_of_the_whole(pool: &PoolOutcome, units: Decimal) -> bool {
    let (quantity, units_f, value) = (solve::float(pool.quantity), solve::float(units), solve::float(pool.sale_value));
    !units.is_sign_negative() && units < pool.quantity && value >= 1e-10 && quantity - units_f >= quantity * 1e-12
}

/// The pool's proceeds peak: the one its evaluation found, else searched for.
fn peak_of<T: Tracer>(ev: &mut Evaluator<'_, T>, def: &ir::PoolDef, pool: &PoolOutcome) -> EvalResult<Peak> {
    match pool.peak {
        Some(peak) => Ok(peak),
        None => peak_lots(ev, def, pool, lot_count(pool, def.span)?),
    }
}

/// How much the proceeds rise from `here` to `next`, as a float aimed at a search: negative
/// or zero (given as the least negative float) while they do not rise.
fn rise(here: Decimal, next: Decimal) -> f64 {
    let gap = gap(next, here);
    if here < next { gap } else { gap.min(-f64::MIN_POSITIVE) }
}

/// a − b as a float, for aiming a search; NaN when it overflows.
fn gap(a: Decimal, b: Decimal) -> f64 {
    a.checked_sub(b).map_or(f64::NAN, solve::float)
}

/// The solver's bisection over lot counts, with probes that can fail: the first failure ends
/// the search (no later probe evaluates anything) and is its result.
fn bisect(lo: Decimal, hi: Decimal, mut past: impl FnMut(Decimal) -> EvalResult<bool>) -> EvalResult<(Decimal, Decimal)> {
    let mut failed = None;
    let found = solve::bisect(lo, hi, |n| {
        if failed.is_some() {
            return true;
        }
        past(n).unwrap_or_else(|f| {
            failed = Some(f);
            true
        })
    });
    failed.map_or(Ok(found), Err)
}

/// [`bisect`] aimed by the probes' values (`solve::steered`, or `solve::steered_from` a
/// guess at the boundary): `past` also says how far past the boundary a probe is, negative
/// before it.
fn steer(lo: Decimal, hi: Decimal, ends: (f64, f64), guess: Option<Decimal>, mut past: impl FnMut(Decimal) -> EvalResult<(bool, f64)>) -> EvalResult<(Decimal, Decimal)> {
    let mut failed = None;
    let probe = |n| {
        if failed.is_some() {
            return (true, f64::NAN);
        }
        past(n).unwrap_or_else(|f| {
            failed = Some(f);
            (true, f64::NAN)
        })
    };
    let found = match guess {
        Some(first) => solve::steered_from(lo, hi, ends, first, probe),
        None => solve::steered(lo, hi, ends, probe),
    };
    failed.map_or(Ok(found), Err)
}

/// The units in `n` lots, the last lot of a pool being whatever remains.
fn units_of(pool: &PoolOutcome, n: Decimal, span: Span) -> EvalResult<Decimal> {
    Ok(op(ArithOp::Mul, n, pool.lot, span)?.min(pool.quantity))
}

fn lot_count(pool: &PoolOutcome, span: Span) -> EvalResult<Decimal> {
    Ok(op(ArithOp::Div, pool.quantity, pool.lot, span)?.ceil())
}

// ---------------------------------------------------------------------- covenants

/// The largest cure a search will consider, in whole units of the currency.
const MAX_CURE_UNITS: i64 = 1_000_000_000_000_000;

pub fn covenant<T: Tracer>(ev: &mut Evaluator<'_, T>, def: &ir::CovenantDef) -> CovenantOutcome {
    let mut out = CovenantOutcome { status: CovenantStatus::Error, value: None, limit: None, op: def.op, cure: None, cure_available: None, failure: None };
    if let Some(cure) = &def.cure {
        out.cure_available = blocked_by(ev, cure).ok().map(|b| b.is_empty());
    }
    let tested = match tested(ev, def) {
        Ok(t) => t,
        Err(f) => {
            out.failure = Some(f);
            return out;
        }
    };
    let sides = requirement(ev, def);
    if !tested {
        out.status = CovenantStatus::NotTested;
        if let Ok((v, l, _)) = sides {
            out.value = Some(v);
            out.limit = Some(l);
        }
        return out;
    }
    let (v, l, holds) = match sides {
        Ok(s) => s,
        Err(f) => {
            out.failure = Some(f);
            return out;
        }
    };
    out.value = Some(v);
    out.limit = Some(l);
    out.status = if holds { CovenantStatus::Pass } else { CovenantStatus::Breach };
    if !holds && !ev.searching {
        if let Some(cure) = &def.cure {
            match cure_for(ev, def, cure, shortfall(def.op, v, l)) {
                Ok(c) => out.cure = Some(c),
                Err(f) => {
                    out.failure = Some(f);
                    out.status = CovenantStatus::Error;
                }
            }
        }
    }
    out
}

fn tested<T: Tracer>(ev: &mut Evaluator<'_, T>, def: &ir::CovenantDef) -> EvalResult<bool> {
    let on_date = match &def.tested {
        Testing::Always => true,
        Testing::Quarterly => ev.as_of.is_quarter_end(),
        Testing::Monthly => ev.as_of.is_month_end(),
        Testing::On(b) => ev.dates(*b)?.contains(&ev.as_of),
    };
    if !on_date {
        return Ok(false);
    }
    match def.when {
        Some(w) => ev.boolean(w),
        None => Ok(true),
    }
}

fn requirement<T: Tracer>(ev: &mut Evaluator<'_, T>, def: &ir::CovenantDef) -> EvalResult<(Decimal, Decimal, bool)> {
    // Most requirements compare a figure with a limit, both numbers read in place.
    let lhs = match ev.number_in_place(def.lhs) {
        Some(a) => Value::Num(a),
        None => ev.eval_body(def.lhs)?,
    };
    let rhs = match ev.number_in_place(def.rhs) {
        Some(b) => Value::Num(b),
        None => ev.eval_body(def.rhs)?,
    };
    if let (Value::Num(a), Value::Num(b)) = (&lhs, &rhs) {
        return Ok((*a, *b, ops::compare_numbers(def.op, *a, *b)));
    }
    let holds = ops::compare(def.op, &lhs, &rhs, def.span)?;
    match (lhs, rhs) {
        (Value::Num(a), Value::Num(b)) => Ok((a, b, holds)),
        _ => fail(def.span, "a covenant compares numbers or money"),
    }
}

/// How far a requirement's sides are from breaking it: negative in breach and zero or more
/// when it holds (for `>` zero is still a breach), to aim a cure search; NaN for `==`/`!=`.
fn shortfall(op: CmpOp, value: Decimal, limit: Decimal) -> f64 {
    match op {
        CmpOp::Gt | CmpOp::Ge => gap(value, limit),
        CmpOp::Lt | CmpOp::Le => gap(limit, value),
        CmpOp::Eq | CmpOp::Ne => f64::NAN,
    }
}

fn cure_for<T: Tracer>(ev: &mut Evaluator<'_, T>, def: &ir::CovenantDef, cure: &ir::CureDef, at_zero: f64) -> EvalResult<Cure> {
    let blocked_by = blocked_by(ev, cure)?;
    let (amount, note) = least_cure(ev, def, cure, at_zero);
    Ok(Cure { available: blocked_by.is_empty(), amount, blocked_by, note })
}

/// The cure limits that forbid a cure on this date, given the history of earlier cures.
fn blocked_by<T: Tracer>(ev: &mut Evaluator<'_, T>, cure: &ir::CureDef) -> EvalResult<Vec<String>> {
    let history = match cure.history {
        Some(h) => ev.dates(h)?,
        None => Vec::new(),
    };
    let q = ev.as_of.quarter_index();
    let mut blocked_by = Vec::new();
    for limit in &cure.limits {
        let blocked = match limit {
            CureLimit::InQuarters { count, quarters, .. } => {
                let first = q - i64::from(*quarters) + 1;
                let used = history.iter().filter(|d| (first..=q).contains(&d.quarter_index())).count();
                used >= *count as usize
            }
            CureLimit::Total { count, .. } => history.len() >= *count as usize,
            CureLimit::NoConsecutive { .. } => history.iter().any(|d| d.quarter_index() == q - 1),
        };
        if blocked {
            blocked_by.push(limit.label());
        }
    }
    Ok(blocked_by)
}

/// The least amount, in cents, that restores compliance when added at the cure path; the
/// requirement is assumed monotone in that input. The search brackets upward from one cent,
/// then narrows the bracket, aiming its probes by how far the requirement's sides are apart
/// (`at_zero` with nothing added), which moves linearly or smoothly with the amount in every
/// usual covenant; an amount at which the requirement cannot be evaluated (an overflow) marks
/// the end of the range, never an amount that does not restore.
fn least_cure<T: Tracer>(ev: &Evaluator<'_, T>, def: &ir::CovenantDef, cure: &ir::CureDef, at_zero: f64) -> (Option<Decimal>, Option<String>) {
    let cent = ir::cent();
    let max_cents = MAX_CURE_UNITS.saturating_mul(100);
    // A cure into a `let` replaces its value by the base value plus the amount; everything
    // in the requirement's cone downstream of it is re-evaluated from there.
    let target_let = cure.into_let.and_then(|l| match ev.out.lets.get(l as usize) {
        Some(Some(Ok(Value::Num(base)))) => Some((l, *base)),
        _ => None,
    });
    if cure.into_let.is_some() && target_let.is_none() {
        return (None, Some(format!("`{}` could not be computed, so no cure into it can be sized", cure.path_text)));
    }
    let undefined = (Side::Undefined, f64::NAN);
    let probe = |cents: i64| -> (Side, f64) {
        let amount = Decimal::from(cents) * cent;
        let input = match target_let {
            Some(_) => ev.input.clone(),
            None => match add_at(&ev.input, &cure.path, amount) {
                Some(input) => input,
                None => return undefined,
            },
        };
        let mut probe = ev.probe(input);
        for &g in &def.requirement_deps {
            match target_let {
                Some((l, base)) if g == ir::Global::Let(l) => {
                    let Some(cured) = base.checked_add(amount) else { return undefined };
                    if let Some(slot) = probe.out.lets.get_mut(l as usize) {
                        *slot = Some(Ok(Value::Num(cured)));
                    }
                }
                _ => global(&mut probe, g),
            }
        }
        let found = match requirement(&mut probe, def) {
            Ok((v, l, true)) => (Side::After, shortfall(def.op, v, l)),
            Ok((v, l, false)) => (Side::Before, shortfall(def.op, v, l)),
            Err(_) => undefined,
        };
        ev.absorb(&probe);
        found
    };
    // The covenant is in breach with nothing added, so zero is on the `Before` side.
    match solve::least_after_steered(0, at_zero, max_cents, probe) {
        Found::At { first_after, .. } => (Some(Decimal::from(first_after) * cent), None),
        Found::NotInRange { .. } => (None, Some(format!("no amount up to 10^15 added to `{}` restores compliance", cure.path_text))),
        Found::Undefined { last_before, undefined_at } => {
            let (tried, failed) = (Decimal::from(last_before) * cent, Decimal::from(undefined_at) * cent);
            let note = format!("no amount up to {} added to `{}` restores compliance, and the requirement cannot be evaluated with {} added", tried.normalize(), cure.path_text, failed.normalize());
            (None, Some(note))
        }
    }
}

/// A copy of `input` with `amount` added to the number at `path`.
fn add_at(input: &Value, path: &[u32], amount: Decimal) -> Option<Value> {
    match (input, path.split_first()) {
        (Value::Num(n), None) => n.checked_add(amount).map(Value::Num),
        (Value::Record(fields), Some((first, rest))) => {
            let mut copy: Vec<Value> = fields.to_vec();
            let slot = copy.get_mut(*first as usize)?;
            *slot = add_at(slot, rest, amount)?;
            Some(Value::Record(copy.into()))
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------- margin calls

pub fn margin_call<T: Tracer>(ev: &mut Evaluator<'_, T>, def: &ir::MarginCallDef) -> EvalResult<MarginOutcome> {
    let due = match def.due {
        Some(b) => {
            let span = ev.ir.arena.span(b.expr);
            match ev.eval_body(b)? {
                Value::Duration(d) => ev.add_duration(ev.as_of, d, 1, span)?,
                Value::Date(d) => d,
                _ => return fail(span, "expected a duration or a date"),
            }
        }
        None => ev.as_of,
    };
    if !ev.boolean(def.trigger)? {
        return Ok(MarginOutcome { status: MarginStatus::None, raw_amount: Decimal::ZERO, amount: Decimal::ZERO, due });
    }
    let raw = ev.num(def.amount, &[])?.max(Decimal::ZERO);
    let minimum = match def.minimum_transfer {
        Some(b) => ev.num(b, &[])?,
        None => Decimal::ZERO,
    };
    if raw < minimum {
        return Ok(MarginOutcome { status: MarginStatus::BelowMinimum, raw_amount: raw, amount: Decimal::ZERO, due });
    }
    let amount = match def.rounding {
        Some((mode, b)) => {
            let step = ev.num(b, &[])?;
            ops::round_to_increment(raw, step, mode, ev.ir.arena.span(b.expr))?
        }
        None => raw,
    };
    Ok(MarginOutcome { status: MarginStatus::Called, raw_amount: raw, amount, due })
}

// ---------------------------------------------------------------------- liquidation

pub fn liquidation<T: Tracer>(ev: &mut Evaluator<'_, T>, index: u32, def: &ir::LiquidationDef) -> EvalResult<LiquidationOutcome> {
    let span = def.span;
    let triggered = match def.trigger {
        Some(t) => ev.boolean(t)?,
        None => false,
    };
    let debt = ev.num(def.debt, &[])?;
    if let Some(until) = &def.until {
        let (sales, target_met) = sell_until(ev, def, until)?;
        return totals(triggered, debt, sales, Some(target_met), span);
    }
    let mut remaining = debt;
    let mut sales = Vec::with_capacity(def.sell.len());
    for &pi in &def.sell {
        let (Some(pdef), Some(Some(Ok(pool)))) = (ev.ir.pools.get(pi as usize), ev.out.pools.get(pi as usize).cloned()) else {
            return Err(Fail::Upstream);
        };
        let sale = if remaining <= Decimal::ZERO {
            let discount = proceeds(ev, pdef, &pool, Decimal::ZERO).ok().map(|(d, _)| d);
            Sale { pool: pi, units: Decimal::ZERO, discount, proceeds: Decimal::ZERO, held_back: Decimal::ZERO }
        } else {
            searched_sale(ev, index, pi, pdef, &pool, remaining)?
        };
        remaining = op(ArithOp::Sub, remaining, sale.proceeds, span)?;
        sales.push(sale);
    }
    totals(triggered, debt, sales, None, span)
}

fn totals(triggered: bool, debt: Decimal, sales: Vec<Sale>, target_met: Option<bool>, span: Span) -> EvalResult<LiquidationOutcome> {
    let mut total = Decimal::ZERO;
    for s in &sales {
        total = op(ArithOp::Add, total, s.proceeds, span)?;
    }
    let shortfall = op(ArithOp::Sub, debt, total, span)?.max(Decimal::ZERO);
    let surplus = op(ArithOp::Sub, total, debt, span)?.max(Decimal::ZERO);
    let recovery = if debt <= Decimal::ZERO { Decimal::ONE } else { op(ArithOp::Div, total.min(debt), debt, span)? };
    Ok(LiquidationOutcome { triggered, debt, proceeds: total, shortfall, surplus, recovery, sales, target_met })
}

/// One pool of a liquidation to a target: its definition, outcome, and its peak.
struct Sellable<'a> {
    index: u32,
    def: &'a ir::PoolDef,
    pool: PoolOutcome,
    peak_lots: Decimal,
}

/// A liquidation to a target (§15.3): pool by pool in `sell` order, each at most to its
/// proceeds peak, the least lots after which COND holds, found by bisection on the
/// assumption that once COND holds it keeps holding as more is sold. A sale after which
/// COND cannot be evaluated (every unit gone, so an LTV divides by zero) ends the range,
/// as an overflow ends a cure search: the least sale at which COND holds or is undefined is
/// found, and if COND is undefined there, nothing smaller made it hold. When no sale makes
/// it hold, every pool is sold to its peak and the target is reported as missed.
fn sell_until<T: Tracer>(ev: &mut Evaluator<'_, T>, def: &ir::LiquidationDef, until: &ir::Until) -> EvalResult<(Vec<Sale>, bool)> {
    let span = def.span;
    let mut pools = Vec::with_capacity(def.sell.len());
    for &pi in &def.sell {
        let (Some(pdef), Some(Some(Ok(pool)))) = (ev.ir.pools.get(pi as usize), ev.out.pools.get(pi as usize).cloned()) else {
            return Err(Fail::Upstream);
        };
        let peak_lots = peak_of(ev, pdef, &pool)?.lots;
        pools.push(Sellable { index: pi, def: pdef, pool, peak_lots });
    }
    // A candidate: every pool before `k` sold to its peak, `n` lots of pool `k`.
    let lots_for = |pools: &[Sellable<'_>], k: usize, n: Decimal| -> Vec<Decimal> {
        pools.iter().enumerate().map(|(i, p)| if i < k { p.peak_lots } else if i == k { n } else { Decimal::ZERO }).collect()
    };
    let nothing = lots_for(&pools, 0, Decimal::ZERO);
    if holds_after(ev, def, until, &pools, &nothing)? == Target::Holds {
        return Ok((sales_of(ev, &pools, &nothing, span)?, true));
    }
    for k in 0..pools.len() {
        let peak = pools.get(k).map_or(Decimal::ZERO, |p| p.peak_lots);
        if holds_after(ev, def, until, &pools, &lots_for(&pools, k, peak))? == Target::Fails {
            continue;
        }
        // `0` lots of pool k leave COND false (0 lots is the previous pool's peak, which
        // failed), `peak` lots make it hold or leave it undefined.
        let mut at_hi = Target::Undefined;
        let (_, hi) = bisect(Decimal::ZERO, peak, |mid| {
            Ok(match holds_after(ev, def, until, &pools, &lots_for(&pools, k, mid))? {
                Target::Fails => false,
                found => {
                    at_hi = found;
                    true
                }
            })
        })?;
        if at_hi == Target::Undefined {
            at_hi = holds_after(ev, def, until, &pools, &lots_for(&pools, k, hi))?;
        }
        if at_hi == Target::Holds {
            return Ok((sales_of(ev, &pools, &lots_for(&pools, k, hi), span)?, true));
        }
        break;
    }
    let all = lots_for(&pools, pools.len(), Decimal::ZERO);
    Ok((sales_of(ev, &pools, &all, span)?, false))
}

/// The sales for a number of lots per pool; a pool sold to a peak short of its quantity
/// reports the rest as held back.
fn sales_of<T: Tracer>(ev: &mut Evaluator<'_, T>, pools: &[Sellable<'_>], lots: &[Decimal], span: Span) -> EvalResult<Vec<Sale>> {
    let mut sales = Vec::with_capacity(pools.len());
    for (p, &n) in pools.iter().zip(lots) {
        let units = units_of(&p.pool, n, span)?;
        let (discount, got) = proceeds(ev, p.def, &p.pool, units)?;
        let held_back = if n == p.peak_lots && units < p.pool.quantity { op(ArithOp::Sub, p.pool.quantity, units, span)? } else { Decimal::ZERO };
        sales.push(Sale { pool: p.index, units, discount: Some(discount), proceeds: got, held_back });
    }
    Ok(sales)
}

/// What a candidate sale does to a liquidation's target.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Holds,
    Fails,
    /// COND cannot be evaluated after this sale.
    Undefined,
}

/// Whether COND holds once `lots` are sold: the units leave their pools (every figure of a
/// pool falls pro rata), the proceeds come off the figure `debt` names, and COND's
/// dependencies are evaluated again from there.
fn holds_after<T: Tracer>(ev: &mut Evaluator<'_, T>, def: &ir::LiquidationDef, until: &ir::Until, pools: &[Sellable<'_>], lots: &[Decimal]) -> EvalResult<Target> {
    let span = def.span;
    let mut total = Decimal::ZERO;
    let mut remaining = Vec::with_capacity(pools.len());
    for (p, &n) in pools.iter().zip(lots) {
        let units = units_of(&p.pool, n, span)?;
        let (_, got) = proceeds(ev, p.def, &p.pool, units)?;
        total = op(ArithOp::Add, total, got, span)?;
        remaining.push((p.index, after_sale(&p.pool, units, span)?));
    }
    let mut paid_let = None;
    let input = match &until.debt_target {
        ir::DebtTarget::Input(path) => add_at(&ev.input, path, -total).ok_or_else(|| Fail::here(span, "the debt figure cannot be paid down"))?,
        ir::DebtTarget::Let(l) => {
            let Some(Some(Ok(Value::Num(base)))) = ev.out.lets.get(*l as usize) else { return Err(Fail::Upstream) };
            paid_let = Some((*l, op(ArithOp::Sub, *base, total, span)?));
            ev.input.clone()
        }
        ir::DebtTarget::Unknown => return Err(Fail::Upstream),
    };
    let mut probe = ev.probe(input);
    for &g in &until.deps {
        match g {
            ir::Global::Pool(p) if remaining.iter().any(|(i, _)| *i == p) => {
                let after = remaining.iter().find(|(i, _)| *i == p).map(|(_, o)| o.clone());
                if let (Some(slot), Some(after)) = (probe.out.pools.get_mut(p as usize), after) {
                    *slot = Some(Ok(after));
                }
            }
            ir::Global::Let(l) if paid_let.is_some_and(|(t, _)| t == l) => {
                if let (Some(slot), Some((_, paid))) = (probe.out.lets.get_mut(l as usize), paid_let) {
                    *slot = Some(Ok(Value::Num(paid)));
                }
            }
            _ => global(&mut probe, g),
        }
    }
    let holds = probe.boolean(until.cond);
    ev.absorb(&probe);
    Ok(match holds {
        Ok(true) => Target::Holds,
        Ok(false) => Target::Fails,
        Err(_) => Target::Undefined,
    })
}

/// A pool with `units` sold: every figure falls in proportion to the quantity left.
fn after_sale(pool: &PoolOutcome, units: Decimal, span: Span) -> EvalResult<PoolOutcome> {
    if units.is_zero() || pool.quantity.is_zero() {
        return Ok(pool.clone());
    }
    let left = op(ArithOp::Sub, pool.quantity, units, span)?;
    let share = |figure: Decimal| -> EvalResult<Decimal> {
        match figure.checked_mul(left) {
            Some(product) => op(ArithOp::Div, product, pool.quantity, span),
            None => op(ArithOp::Mul, op(ArithOp::Div, left, pool.quantity, span)?, figure, span),
        }
    };
    Ok(PoolOutcome {
        quantity: left,
        market_value: share(pool.market_value)?,
        eligible_value: share(pool.eligible_value)?,
        realisable_value: share(pool.realisable_value)?,
        sale_value: share(pool.sale_value)?,
        peak: None,
        // The haircut of the pool before the sale: the shares, each rounded, need not give it.
        haircut: Some(pool.haircut()),
        ..pool.clone()
    })
}

/// [`sell_from`], or the sale the evaluation this one re-evaluates found for the same pool
/// and as much left to cover (`Evaluator::reusable_sales`), charged what finding it cost;
/// either way kept in the outcome for the next evaluation of changed data.
fn searched_sale<T: Tracer>(ev: &mut Evaluator<'_, T>, liquidation: u32, pool_index: u32, def: &ir::PoolDef, pool: &PoolOutcome, remaining: Decimal) -> EvalResult<Sale> {
    let found = ev.reusable_sales.iter().position(|s| s.liquidation == liquidation && s.sale.pool == pool_index && s.remaining == remaining);
    let (sale, spent) = match found {
        Some(i) => {
            let search = ev.reusable_sales.swap_remove(i);
            ev.spend_budget(search.spent, def.span)?;
            (search.sale, search.spent)
        }
        None => {
            let before = ev.budget_left();
            let sale = sell_from(ev, pool_index, def, pool, remaining)?;
            let after = ev.budget_left();
            (sale, Budget { operations: before.operations.saturating_sub(after.operations), values: before.values.saturating_sub(after.values) })
        }
    };
    ev.out.sale_searches.push(SaleSearch { liquidation, remaining, sale: sale.clone(), spent });
    Ok(sale)
}

/// One pool's sale toward `remaining` (§14.2): the least lots that cover it, found below the
/// proceeds peak; when even the peak does not cover it, the peak, with the rest held back.
fn sell_from<T: Tracer>(ev: &mut Evaluator<'_, T>, pool_index: u32, def: &ir::PoolDef, pool: &PoolOutcome, remaining: Decimal) -> EvalResult<Sale> {
    let span = def.span;
    let peak = peak_of(ev, def, pool)?;
    if peak.proceeds < remaining {
        let units = units_of(pool, peak.lots, span)?;
        let held_back = op(ArithOp::Sub, pool.quantity, units, span)?;
        return Ok(Sale { pool: pool_index, units, discount: Some(peak.discount), proceeds: peak.proceeds, held_back });
    }
    // Proceeds rise strictly up to the peak, so the least covering count is a bisection.
    // Selling `peak` lots covers what remains, selling none (proceeds 0) does not. The last
    // count found covering is the answer, and its discount and proceeds are kept.
    let mut at_hi = (peak.discount, peak.proceeds);
    let model = if peak.lots > Decimal::ONE { search_model(ev, def) } else { None };
    let mut covers = |ev: &mut Evaluator<'_, T>, n: Decimal| -> EvalResult<(bool, f64)> {
        let (discount, p) = proceeds_by(ev, def, pool, units_of(pool, n, span)?, model.as_ref())?;
        let covered = p >= remaining;
        if covered {
            at_hi = (discount, p);
        }
        Ok((covered, gap(p, remaining)))
    };
    let (_, hi) = if def.standard_discount {
        let ends = (gap(Decimal::ZERO, remaining), gap(peak.proceeds, remaining));
        let guess = model.as_ref().and_then(|m| covering_estimate(m, pool, peak.lots, remaining));
        steer(Decimal::ZERO, peak.lots, ends, guess, |n| covers(ev, n))?
    } else {
        bisect(Decimal::ZERO, peak.lots, |n| Ok(covers(ev, n)?.0))?
    };
    let units = units_of(pool, hi, span)?;
    let (discount, p) = at_hi;
    Ok(Sale { pool: pool_index, units, discount: Some(discount), proceeds: p, held_back: Decimal::ZERO })
}

// ---------------------------------------------------------------------- events of default

pub fn default_rule<T: Tracer>(ev: &mut Evaluator<'_, T>, def: &ir::DefaultDef) -> DefaultOutcome {
    let mut events = Vec::new();
    let mut failures = Vec::new();
    for (i, event) in (0u32..).zip(&def.events) {
        match ev.boolean(event.when) {
            Ok(true) => events.push(i),
            Ok(false) => {}
            Err(f) => failures.push((i, f)),
        }
    }
    let status = match (events.is_empty(), failures.is_empty()) {
        (false, _) => DefaultStatus::Triggered,
        (true, true) => DefaultStatus::Clear,
        (true, false) => DefaultStatus::Error,
    };
    DefaultOutcome { status, events, failures }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use rust_decimal::Decimal;

    /// The standard models are written twice: as the library's functions, which explain and
    /// the reports show, and in Rust for the lot searches. The Rust follows these bodies; a
    /// change to one of them must be made to both (tests/liquidation.rs compares the figures).
    #[test]
    fn the_models_written_in_rust_are_the_librarys_bodies() {
        let library = crate::stdlib::source("liquidity").unwrap_or_default();
        for body in [
            "fn sqrt_impact(sold: Number, daily_volume: Number, daily_vol: Number) -> Number =\n  if daily_volume <= 0 then 1 else daily_vol * sqrt(sold / daily_volume)\n",
            "fn absorption_discount(sold: Number, monthly_absorption: Number, base: Number, per_month: Number) -> Number =\n  if monthly_absorption <= 0 then 1\n  else min(1, base + per_month * max(0, sold / monthly_absorption - 1))\n",
            "fn fixed_discount(sold: Number, rate: Number) -> Number = rate + 0 * sold\n",
        ] {
            assert!(library.contains(body), "std.liquidity no longer reads:\n{body}");
        }
    }

    /// The clamp gives what `max(0)` then `min(1)` give, down to the scale: a haircut
    /// written `1.00` or `0.0` stays so, and its scale shows in the figures made from it.
    #[test]
    fn clamp01_is_max_then_min_to_the_scale() {
        let mut compared = 0;
        let texts = [
            "-1", "-0.000001", "-0", "-0.00", "0", "0.0", "0.00", "0.7", "0.70", "0.999999", "1", "1.00", "1.0000001", "25",
            "1.0000000000000000000000000001", "0.0000000000000000000000000001", "79228162514264337593543950335", "-79228162514264337593543950335",
        ];
        for text in texts {
            let x = Decimal::from_str(text).unwrap();
            let (a, b) = (super::clamp01(x), x.max(Decimal::ZERO).min(Decimal::ONE));
            assert_eq!((a.mantissa(), a.scale(), a.is_sign_negative()), (b.mantissa(), b.scale(), b.is_sign_negative()), "{text}");
            compared += 1;
        }
        assert_eq!(compared, 18);
    }

    /// Where the last lot's probe is skipped, it would have found the proceeds still rising:
    /// the units' gross value, times one less no discount, below the whole pool's. Where the
    /// margin is thin (a sale value of 10^-28, units a part in 10^28 short) it is computed.
    #[test]
    fn a_skipped_probe_would_have_found_the_proceeds_rising() {
        let d = |t: &str| Decimal::from_str(t).unwrap();
        let quantities = ["1", "3", "7.5", "100", "505", "1000000", "0.000001", "12345678901234567890", "79228162514264337593543950335"];
        let values = ["0.0000000000000000000000000001", "0.0000000001", "0.00000000012", "1", "0.3333333333333333333333333333", "15150000", "79228162514264337593543950335", "0", "-5"];
        let lots = ["1", "0.7", "3", "0.0000000000001", "1000"];
        let (mut skipped, mut computed) = (0, 0);
        for q in quantities {
            for v in values {
                for lot in lots {
                    let (q, v, lot) = (d(q), d(v), d(lot));
                    let pool = super::PoolOutcome { quantity: q, market_value: v, eligible_value: v, realisable_value: v, haircut: Some(Decimal::ZERO), sale_value: v, lot, peak: None };
                    let span = crate::span::Span::default();
                    let Ok(count) = super::lot_count(&pool, span) else { continue };
                    let mut units = vec![Decimal::ZERO, q - Decimal::from_str("0.0000000000000000000000000001").unwrap_or_default()];
                    units.extend(super::units_of(&pool, count - Decimal::ONE, span));
                    for u in units {
                        if !(Decimal::ZERO..q).contains(&u) {
                            continue;
                        }
                        if super::surely_short_of_the_whole(&pool, u) {
                            let before_last = super::op(super::ArithOp::Mul, super::gross_value(&pool, u, span).unwrap(), Decimal::ONE, span).unwrap();
                            let all = super::op(super::ArithOp::Mul, super::gross_value(&pool, q, span).unwrap(), Decimal::ONE, span).unwrap();
                            assert!(before_last < all, "{u} of {q} at {v}");
                            skipped += 1;
                        } else {
                            computed += 1;
                        }
                    }
                }
            }
        }
        assert!(skipped > 150 && computed > 100, "{skipped} skipped, {computed} computed");
    }
}
