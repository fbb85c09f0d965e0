//! The outcome store: a slot per global for what one evaluation computed, the rules'
//! figures included. The evaluator reads a rule's fields from here, through the slots the
//! IR names (`Node::PoolField(pool, field)`), and never computes a rule itself: the rules'
//! semantics live above this room and fill these slots (see the engine room).

use std::sync::Arc;

use rust_decimal::Decimal;

use super::{fail, ErrorEntry, EvalResult, Exceeded, Fail};
use crate::dates::Date;
use crate::ir::{self, CovenantField, Ir, LiquidationField, MarginField, PoolField};
use crate::span::Span;
use crate::syntax::ast::CmpOp;
use crate::value::Value;

/// Everything one evaluation computed.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub as_of: Date,
    pub lets: Vec<Option<EvalResult<Value>>>,
    pub pools: Vec<Option<EvalResult<PoolOutcome>>>,
    pub covenants: Vec<Option<CovenantOutcome>>,
    pub margin_calls: Vec<Option<EvalResult<MarginOutcome>>>,
    pub liquidations: Vec<Option<EvalResult<LiquidationOutcome>>>,
    pub defaults: Vec<Option<DefaultOutcome>>,
    pub errors: Vec<ErrorEntry>,
    /// Set when the evaluation ran out of its budget or depth: its results are incomplete.
    pub exceeded: Option<Exceeded>,
    /// The forced sales searched for, in the order searched.
    pub sale_searches: Vec<SaleSearch>,
}

/// A forced sale searched for in one pool of a liquidation, kept so that an evaluation of
/// changed data in which the pool's figures did not change takes it instead of searching
/// again, and is charged what the search spent.
#[derive(Clone, Debug, PartialEq)]
pub struct SaleSearch {
    pub liquidation: u32,
    /// What was left to cover when the pool was reached.
    pub remaining: Decimal,
    pub sale: Sale,
    pub spent: super::Budget,
}

impl Outcome {
    /// An empty store, a slot for every global of `ir`.
    pub fn empty(ir: &Ir, as_of: Date) -> Outcome {
        // Each slot written as an empty one, rather than cloned from one: a slot for a rule's
        // outcome is large, and an empty one is only its tag.
        fn slots<T>(n: usize) -> Vec<Option<T>> {
            std::iter::repeat_with(|| None).take(n).collect()
        }
        Outcome {
            as_of,
            lets: slots(ir.lets.len()),
            pools: slots(ir.pools.len()),
            covenants: slots(ir.covenants.len()),
            margin_calls: slots(ir.margin_calls.len()),
            liquidations: slots(ir.liquidations.len()),
            defaults: slots(ir.defaults.len()),
            errors: Vec::new(),
            exceeded: None,
            sale_searches: Vec::new(),
        }
    }

    /// A store with no slots, for expressions that read no global (a global read there fails
    /// as upstream of something that failed).
    pub fn without_slots(as_of: Date) -> Outcome {
        Outcome {
            as_of,
            lets: Vec::new(),
            pools: Vec::new(),
            covenants: Vec::new(),
            margin_calls: Vec::new(),
            liquidations: Vec::new(),
            defaults: Vec::new(),
            errors: Vec::new(),
            exceeded: None,
            sale_searches: Vec::new(),
        }
    }

    /// Whether a global's slot is filled.
    pub fn has(&self, g: ir::Global) -> bool {
        use ir::Global;
        match g {
            Global::Let(i) => matches!(self.lets.get(i as usize), Some(Some(_))),
            Global::Pool(i) => matches!(self.pools.get(i as usize), Some(Some(_))),
            Global::Covenant(i) => matches!(self.covenants.get(i as usize), Some(Some(_))),
            Global::MarginCall(i) => matches!(self.margin_calls.get(i as usize), Some(Some(_))),
            Global::Liquidation(i) => matches!(self.liquidations.get(i as usize), Some(Some(_))),
            Global::Default(i) => matches!(self.defaults.get(i as usize), Some(Some(_))),
        }
    }

    /// Fills `g`'s slot with its value in `from`.
    pub fn copy_slot(&mut self, from: &Outcome, g: ir::Global) {
        use ir::Global;
        fn copy<T: Clone>(to: &mut [Option<T>], from: &[Option<T>], i: u32) {
            if let (Some(to), Some(from)) = (to.get_mut(i as usize), from.get(i as usize)) {
                to.clone_from(from);
            }
        }
        match g {
            Global::Let(i) => copy(&mut self.lets, &from.lets, i),
            Global::Pool(i) => copy(&mut self.pools, &from.pools, i),
            Global::Covenant(i) => copy(&mut self.covenants, &from.covenants, i),
            Global::MarginCall(i) => copy(&mut self.margin_calls, &from.margin_calls, i),
            Global::Liquidation(i) => copy(&mut self.liquidations, &from.liquidations, i),
            Global::Default(i) => copy(&mut self.defaults, &from.defaults, i),
        }
    }

    // A rule's fields, as expressions read them.

    pub fn pool_field(&self, i: u32, f: PoolField) -> EvalResult<Value> {
        let p = match self.pools.get(i as usize) {
            Some(Some(Ok(p))) => p,
            _ => return Err(Fail::Upstream),
        };
        Ok(Value::Num(match f {
            PoolField::Quantity => p.quantity,
            PoolField::MarketValue => p.market_value,
            PoolField::EligibleValue => p.eligible_value,
            PoolField::RealisableValue => p.realisable_value,
            PoolField::Haircut => p.haircut(),
        }))
    }

    pub fn covenant_field(&self, ir: &Ir, i: u32, f: CovenantField, span: Span) -> EvalResult<Value> {
        let Some(Some(c)) = self.covenants.get(i as usize) else { return Err(Fail::Upstream) };
        match f {
            CovenantField::CureAmount => match (c.status, &c.cure) {
                (CovenantStatus::Pass | CovenantStatus::NotTested, _) => Ok(Value::Num(Decimal::ZERO)),
                (CovenantStatus::Breach, Some(Cure { amount: Some(a), .. })) => Ok(Value::Num(*a)),
                (CovenantStatus::Breach, Some(Cure { note, .. })) => {
                    let name = ir.covenants.get(i as usize).map_or_else(String::new, |d| d.name.to_string());
                    fail(span, format!("`{name}` has no cure amount: {}", note.as_deref().unwrap_or("no amount restores compliance")))
                }
                _ => Err(Fail::Upstream),
            },
            CovenantField::CureAvailable => c.cure_available.map(Value::Bool).ok_or(Fail::Upstream),
            CovenantField::Status => Ok(Value::Text(Arc::from(c.status.as_str()))),
            CovenantField::Passed => Ok(Value::Bool(matches!(c.status, CovenantStatus::Pass | CovenantStatus::NotTested))),
            CovenantField::Value => c.value.map(Value::Num).ok_or(Fail::Upstream),
            CovenantField::Limit => c.limit.map(Value::Num).ok_or(Fail::Upstream),
            CovenantField::Headroom => Ok(c.headroom().map_or(Value::Null, Value::Num)),
        }
    }

    pub fn margin_field(&self, i: u32, f: MarginField) -> EvalResult<Value> {
        let m = match self.margin_calls.get(i as usize) {
            Some(Some(Ok(m))) => m,
            // A failed call still has a status.
            Some(Some(Err(_))) if f == MarginField::Status => return Ok(Value::Text(Arc::from("error"))),
            _ => return Err(Fail::Upstream),
        };
        Ok(match f {
            MarginField::Status => Value::Text(Arc::from(m.status.as_str())),
            MarginField::Triggered => Value::Bool(m.status != MarginStatus::None),
            MarginField::Amount => Value::Num(m.amount),
            MarginField::RawAmount => Value::Num(m.raw_amount),
            MarginField::Due => Value::Date(m.due),
        })
    }

    pub fn liquidation_field(&self, i: u32, f: LiquidationField) -> EvalResult<Value> {
        let Some(Some(Ok(l))) = self.liquidations.get(i as usize) else { return Err(Fail::Upstream) };
        Ok(match f {
            LiquidationField::Triggered => Value::Bool(l.triggered),
            LiquidationField::Debt => Value::Num(l.debt),
            LiquidationField::Proceeds => Value::Num(l.proceeds),
            LiquidationField::Shortfall => Value::Num(l.shortfall),
            LiquidationField::Surplus => Value::Num(l.surplus),
            LiquidationField::Recovery => Value::Num(l.recovery),
            LiquidationField::TargetMet => Value::Bool(l.target_met.unwrap_or(true)),
            LiquidationField::Units => Value::Record(l.sales.iter().map(|s| Value::Num(s.units)).collect()),
        })
    }

    pub fn default_field(&self, ir: &Ir, i: u32, f: ir::DefaultField) -> EvalResult<Value> {
        let (Some(Some(d)), Some(def)) = (self.defaults.get(i as usize), ir.defaults.get(i as usize)) else { return Err(Fail::Upstream) };
        if d.status == DefaultStatus::Error {
            return Err(Fail::Upstream);
        }
        Ok(match f {
            ir::DefaultField::Triggered => Value::Bool(d.status == DefaultStatus::Triggered),
            ir::DefaultField::Events => Value::List(d.events.iter().filter_map(|&e| def.events.get(e as usize)).map(|e| Value::Text(e.name.clone())).collect()),
        })
    }
}

#[derive(Clone, Debug)]
pub struct PoolOutcome {
    pub quantity: Decimal,
    pub market_value: Decimal,
    pub eligible_value: Decimal,
    pub realisable_value: Decimal,
    /// The haircut as the pool's evaluation computed it, or `None` while it is
    /// `1 − eligible ÷ market` of the figures here and that cannot fail (see [`Self::haircut`]).
    pub(crate) haircut: Option<Decimal>,
    /// The whole pool's value at its liquidation prices, before any discount: what forced
    /// sales gross, pro rata to the units sold.
    pub sale_value: Decimal,
    pub lot: Decimal,
    /// Where the pool's proceeds peak, as the pool's evaluation found it, so that its forced
    /// sales need not search again; `None` for a pool's figures after a sale.
    pub peak: Option<Peak>,
}

/// Equal figures, the haircut compared as read (computed or not yet).
impl PartialEq for PoolOutcome {
    fn eq(&self, other: &PoolOutcome) -> bool {
        let PoolOutcome { quantity, market_value, eligible_value, realisable_value, haircut: _, sale_value, lot, peak } = self;
        (*quantity, *market_value, *eligible_value, *realisable_value, *sale_value, *lot, *peak)
            == (other.quantity, other.market_value, other.eligible_value, other.realisable_value, other.sale_value, other.lot, other.peak)
            && self.haircut() == other.haircut()
    }
}

impl PoolOutcome {
    /// The haircut of the pool as a whole, `1 − eligible ÷ market` (0 without a market value).
    /// Computed when read if the evaluation found that it cannot fail (the eligible value no
    /// larger than the market value, as with positions of positive price: the quotient then lies
    /// within ±1): a small facility's reads seldom include it, and leaving the division (with
    /// a pool's peak found without a probe) took 4% off its evaluation. A quotient that might overflow was computed with the pool, which
    /// failed if it did.
    pub fn haircut(&self) -> Decimal {
        self.haircut.unwrap_or_else(|| Self::haircut_of(self.eligible_value, self.market_value, Span::default()).unwrap_or(Decimal::ZERO))
    }

    /// `1 − eligible ÷ market`, by the evaluator's arithmetic, failing at `span`; 0 without a
    /// market value.
    pub(crate) fn haircut_of(eligible: Decimal, market: Decimal, span: Span) -> EvalResult<Decimal> {
        if market.is_zero() {
            return Ok(Decimal::ZERO);
        }
        let share = super::ops::arith(ir::ArithOp::Div, eligible, market, span)?;
        super::ops::arith(ir::ArithOp::Sub, Decimal::ONE, share, span)
    }

    /// Whether [`Self::haircut_of`] surely succeeds for these figures: the quotient then lies
    /// within ±1, and one less it within [0, 2].
    pub(crate) fn haircut_cannot_fail(eligible: Decimal, market: Decimal) -> bool {
        market.is_zero() || eligible.abs() <= market.abs()
    }
}

/// A pool's proceeds peak: the least whole lots whose proceeds are the greatest, the
/// discount at that sale and its proceeds (the pool's realisable value).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Peak {
    pub lots: Decimal,
    pub discount: Decimal,
    pub proceeds: Decimal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CovenantStatus {
    Pass,
    Breach,
    NotTested,
    Error,
}

impl CovenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CovenantStatus::Pass => "pass",
            CovenantStatus::Breach => "breach",
            CovenantStatus::NotTested => "not_tested",
            CovenantStatus::Error => "error",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Cure {
    pub available: bool,
    pub amount: Option<Decimal>,
    pub blocked_by: Vec<String>,
    /// Why no amount is reported, when none is.
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CovenantOutcome {
    pub status: CovenantStatus,
    pub value: Option<Decimal>,
    pub limit: Option<Decimal>,
    /// The requirement's comparison, which the headroom is measured by.
    pub op: CmpOp,
    pub cure: Option<Cure>,
    /// For a covenant with a cure clause: whether its limits allow a cure on this date,
    /// whatever the status (`None` when the cure history could not be read).
    pub cure_available: Option<bool>,
    pub failure: Option<Fail>,
}

impl CovenantOutcome {
    /// (value − limit) ÷ |limit| for `>`/`>=`, (limit − value) ÷ |limit| for `<`/`<=`; none
    /// without both sides, for `==`/`!=`, a zero limit or a quotient past the decimal range.
    /// Computed when read: most evaluations are read for their statuses and figures, and a
    /// small facility's two covenants' divisions were 4% of its evaluation.
    pub fn headroom(&self) -> Option<Decimal> {
        let (value, limit) = (self.value?, self.limit?);
        if limit.is_zero() {
            return None;
        }
        let diff = match self.op {
            CmpOp::Gt | CmpOp::Ge => value.checked_sub(limit)?,
            CmpOp::Lt | CmpOp::Le => limit.checked_sub(value)?,
            CmpOp::Eq | CmpOp::Ne => return None,
        };
        diff.checked_div(limit.abs())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarginStatus {
    None,
    BelowMinimum,
    Called,
}

impl MarginStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MarginStatus::None => "none",
            MarginStatus::BelowMinimum => "below_minimum",
            MarginStatus::Called => "called",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct MarginOutcome {
    pub status: MarginStatus,
    pub raw_amount: Decimal,
    pub amount: Decimal,
    pub due: crate::dates::Date,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Sale {
    pub pool: u32,
    pub units: Decimal,
    /// The discount at the units sold; `None` for a pool left unsold whose discount model
    /// cannot be evaluated at zero units (it does not change what the sale recovers).
    pub discount: Option<Decimal>,
    pub proceeds: Decimal,
    /// Units kept back because selling them would lower the proceeds (§14.2); zero when
    /// the sale covered what remained or took the whole pool.
    pub held_back: Decimal,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LiquidationOutcome {
    pub triggered: bool,
    pub debt: Decimal,
    pub proceeds: Decimal,
    pub shortfall: Decimal,
    pub surplus: Decimal,
    pub recovery: Decimal,
    pub sales: Vec<Sale>,
    /// For a liquidation to a target (`until`): whether the sale reached it.
    pub target_met: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultStatus {
    Triggered,
    Clear,
    Error,
}

impl DefaultStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DefaultStatus::Triggered => "triggered",
            DefaultStatus::Clear => "clear",
            DefaultStatus::Error => "error",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct DefaultOutcome {
    pub status: DefaultStatus,
    /// The events whose condition holds, by index, in declaration order.
    pub events: Vec<u32>,
    /// Conditions that could not be evaluated, with why. One event that holds is enough to
    /// trigger the default, so these make the status `error` only when none holds.
    pub failures: Vec<(u32, Fail)>,
}
