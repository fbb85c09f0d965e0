//! One evaluation's results, typed: what an embedding system acts on (a covenant's status,
//! a margin call's amount and due date) without formatting or parsing any text. The
//! [`Report`] is built from it only when asked for.

use crate::dates::Date;
use crate::eval::{ErrorEntry, Outcome};
use crate::ir::ScenarioDef;
use crate::lending::{CovenantOutcome, LiquidationOutcome, MarginOutcome, PoolOutcome};
use crate::report::{self, Report};
use crate::value::Value;
use crate::Program;

/// The results of evaluating a [`Program`] against one facility under one scenario.
///
/// Rules are found by the name the program gives them; a rule that failed (or whose inputs
/// failed) is absent from its accessor and explained in [`errors`](Evaluation::errors).
///
/// ```
/// let program = covenant::Program::compile("f.cov", r#"
///     input { as_of: Date  debt: Money(USD)  pledged: Money(USD) }
///     let ltv = input.debt / input.pledged
///     covenant max_ltv { require ltv <= 80% }
///     margin_call top_up {
///       trigger ltv > 75%
///       amount  input.debt / 65% - input.pledged
///       rounding up 10_000 USD
///       due 2 business days
///     }
/// "#).unwrap();
/// let data = r#"{"as_of": "2026-03-27", "debt": "8200000", "pledged": "10000000"}"#;
/// let evaluation = program.run(data, None).unwrap();
/// let call = evaluation.margin_call("top_up").unwrap();
/// assert_eq!(call.amount.to_string(), "2620000");
/// assert_eq!(call.due.to_string(), "2026-03-31"); // Friday + 2 business days
/// assert_eq!(evaluation.covenant("max_ltv").unwrap().status.as_str(), "breach");
/// ```
pub struct Evaluation<'p> {
    pub(crate) program: &'p Program,
    pub(crate) scenario: Option<&'p ScenarioDef>,
    pub(crate) outcome: Outcome,
    /// The data evaluated (after the scenario's shocks), and before them when shocked: what
    /// an explanation reads its inputs from.
    pub(crate) input: Value,
    pub(crate) base_input: Option<Value>,
    /// What each global spent and reported, from which a rerun starts; `None` for an
    /// evaluation assembled other than by a run.
    pub(crate) ledger: Option<crate::engine::incremental::Ledger>,
}

impl std::fmt::Debug for Evaluation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluation")
            .field("as_of", &self.outcome.as_of)
            .field("scenario", &self.scenario())
            .field("covenants", &self.covenants().map(|(name, c)| (name, c.status.as_str())).collect::<Vec<_>>())
            .field("errors", &self.outcome.errors.len())
            .finish()
    }
}

impl<'p> Evaluation<'p> {
    pub fn as_of(&self) -> Date {
        self.outcome.as_of
    }

    /// The scenario evaluated; `None` for the base case.
    pub fn scenario(&self) -> Option<&str> {
        self.scenario.map(|s| &*s.name)
    }

    /// A `let` of the program by name; `None` when it failed or there is no such value.
    pub fn value(&self, name: &str) -> Option<&Value> {
        let ir = self.program.ir();
        let i = ir.lets.iter().position(|l| &*l.name == name)?;
        match self.outcome.lets.get(i) {
            Some(Some(Ok(v))) => Some(v),
            _ => None,
        }
    }

    /// A collateral pool by name: market, eligible (after haircuts) and realisable (after
    /// the liquidation discount) values.
    ///
    /// ```
    /// let program = covenant::Program::compile("f.cov", r#"
    ///     input { as_of: Date  coins: Number  price: Money(USD) }
    ///     collateral btc "Pledged bitcoin" {
    ///       quantity input.coins
    ///       price    input.price
    ///       haircut  25%
    ///     }
    /// "#).unwrap();
    /// let evaluation = program.run(r#"{"as_of": "2026-03-31", "coins": "10", "price": "80000"}"#, None).unwrap();
    /// let btc = evaluation.pool("btc").unwrap();
    /// assert_eq!(btc.market_value, rust_decimal::Decimal::from(800_000));
    /// assert_eq!(btc.eligible_value, rust_decimal::Decimal::from(600_000));
    /// assert!(evaluation.pool("gpus").is_none());
    /// ```
    pub fn pool(&self, name: &str) -> Option<&PoolOutcome> {
        let i = self.program.ir().pools.iter().position(|p| &*p.name == name)?;
        self.outcome.pools.get(i)?.as_ref()?.as_ref().ok()
    }

    /// A covenant by name. Its status is `error` (not `None`) when it could not be tested.
    pub fn covenant(&self, name: &str) -> Option<&CovenantOutcome> {
        let i = self.program.ir().covenants.iter().position(|c| &*c.name == name)?;
        self.outcome.covenants.get(i)?.as_ref()
    }

    pub fn margin_call(&self, name: &str) -> Option<&MarginOutcome> {
        let i = self.program.ir().margin_calls.iter().position(|m| &*m.name == name)?;
        self.outcome.margin_calls.get(i)?.as_ref()?.as_ref().ok()
    }

    pub fn liquidation(&self, name: &str) -> Option<&LiquidationOutcome> {
        let i = self.program.ir().liquidations.iter().position(|l| &*l.name == name)?;
        self.outcome.liquidations.get(i)?.as_ref()?.as_ref().ok()
    }

    /// Every covenant in declaration order, with its name.
    ///
    /// ```
    /// use covenant::lending::{CovenantStatus, MarginStatus};
    ///
    /// let program = covenant::Program::compile("f.cov", r#"
    ///     input { as_of: Date  debt: Money(USD)  ebitda: Money(USD)  pledged: Money(USD) }
    ///     let leverage = input.debt / input.ebitda
    ///     let ltv = input.debt / input.pledged
    ///     covenant max_lev { require leverage <= 4.00x }
    ///     covenant max_ltv { require ltv <= 80% }
    ///     margin_call top_up {
    ///       trigger ltv > 75%
    ///       amount  input.debt / 65% - input.pledged
    ///       minimum_transfer 100 USD
    ///     }
    ///     margin_call release {
    ///       trigger ltv < 50%
    ///       amount  input.pledged - input.debt / 65%
    ///     }
    /// "#).unwrap();
    /// let data = r#"{"as_of": "2026-03-31", "debt": "450", "ebitda": "100", "pledged": "580"}"#;
    /// let evaluation = program.run(data, None).unwrap();
    /// let breached: Vec<&str> = evaluation
    ///     .covenants()
    ///     .filter(|(_, c)| c.status == CovenantStatus::Breach)
    ///     .map(|(name, _)| name)
    ///     .collect();
    /// assert_eq!(breached, ["max_lev"]); // 4.5x; the LTV of 77.6% passes
    ///
    /// // 450 / 65% - 580 = 112.31 is over the 100 minimum transfer: called.
    /// let calls: Vec<(&str, MarginStatus)> = evaluation.margin_calls().map(|(n, m)| (n, m.status)).collect();
    /// assert_eq!(calls, [("top_up", MarginStatus::Called), ("release", MarginStatus::None)]);
    /// ```
    pub fn covenants(&self) -> impl Iterator<Item = (&str, &CovenantOutcome)> + '_ {
        let defs = self.program.ir().covenants.iter();
        defs.zip(&self.outcome.covenants).filter_map(|(d, o)| Some((&*d.name, o.as_ref()?)))
    }

    /// Every margin call that could be computed, in declaration order, with its name.
    pub fn margin_calls(&self) -> impl Iterator<Item = (&str, &MarginOutcome)> + '_ {
        let defs = self.program.ir().margin_calls.iter();
        defs.zip(&self.outcome.margin_calls).filter_map(|(d, o)| Some((&*d.name, o.as_ref()?.as_ref().ok()?)))
    }

    /// What failed, each where it arose. A failure is local: the value that failed is
    /// absent, the rules reading it are `error`, and everything else is still evaluated.
    ///
    /// ```
    /// use covenant::lending::CovenantStatus;
    ///
    /// let program = covenant::Program::compile("f.cov", r#"
    ///     input { as_of: Date  debt: Money(USD)  ebitda: Money(USD)  cash: Money(USD) }
    ///     let leverage = input.debt / input.ebitda
    ///     covenant max_lev { require leverage <= 4.00x }
    ///     covenant min_cash { require input.cash >= 10 USD }
    /// "#).unwrap();
    /// let data = r#"{"as_of": "2026-03-31", "debt": "350", "ebitda": "0", "cash": "25"}"#;
    /// let evaluation = program.run(data, None).unwrap();
    /// assert!(evaluation.value("leverage").is_none()); // divided by zero
    /// assert_eq!(evaluation.covenant("max_lev").unwrap().status, CovenantStatus::Error);
    /// assert_eq!(evaluation.covenant("min_cash").unwrap().status, CovenantStatus::Pass);
    /// let failed: Vec<&str> = evaluation.errors().iter().map(|e| &*e.name).collect();
    /// assert_eq!(failed, ["leverage"]);
    /// assert!(evaluation.errors()[0].message.contains("zero"));
    /// ```
    pub fn errors(&self) -> &[ErrorEntry] {
        &self.outcome.errors
    }

    /// The serde-serialisable report of this evaluation, refused (`OutputError::TooLarge`) when
    /// its values alone would pass the program's `max_output_bytes` written as JSON.
    pub fn report(&self) -> Result<Report, crate::OutputError> {
        report::build(self.program.ir(), self.program.sources(), &self.outcome, self.scenario, self.program.limits().max_output_bytes)
    }

    /// The report for reading single figures out of, whatever its size.
    pub(crate) fn report_unbounded(&self) -> Option<Report> {
        report::build(self.program.ir(), self.program.sources(), &self.outcome, self.scenario, usize::MAX).ok()
    }

    /// Why a figure is what it is: the tree of figures behind a value (`ltv`), a pool or pool
    /// field (`btc`, `btc.eligible_value`) or a rule or rule field (`ltv_call`,
    /// `ltv_call.amount`), down to the data and the literals; `None` for an unknown name.
    ///
    /// ```
    /// let program = covenant::Program::compile("f.cov", r#"
    ///     input { as_of: Date  debt: Money(USD)  pledged: Money(USD) }
    ///     let ltv = input.debt / input.pledged
    /// "#).unwrap();
    /// let data = r#"{"as_of": "2026-03-27", "debt": "8200000", "pledged": "10000000"}"#;
    /// let evaluation = program.run(data, None).unwrap();
    /// let why = evaluation.explain("ltv").unwrap();
    /// assert_eq!(why.value, serde_json::json!("0.82"));
    /// let inputs: Vec<_> = why.walk().into_iter().filter_map(|n| n.name.clone()).collect();
    /// assert_eq!(inputs, ["ltv", "input.debt", "input.pledged"]);
    /// ```
    pub fn explain(&self, name: &str) -> Option<crate::explain::Explanation> {
        crate::explain::explain(self, name)
    }

    /// This evaluation's program on `shocked_input`, data that differs from what this
    /// evaluation read only at the paths `changed` (a path through `[*]` covers every
    /// element): the result of [`Program::run_changed`] with no scenario, checks included,
    /// to the byte. Only the figures downstream of a changed path are evaluated again;
    /// the rest are this evaluation's. A change outside `changed` is not looked for.
    ///
    /// ```
    /// use covenant::ir::PathStep;
    ///
    /// let program = covenant::Program::compile("f.cov", r#"
    ///     input { as_of: Date  debt: Money(USD)  ebitda: Money(USD)  cash: Money(USD) }
    ///     let leverage = input.debt / input.ebitda
    ///     covenant max_lev { require leverage <= 4.00x }
    ///     covenant min_cash { require input.cash >= 10 USD }
    /// "#).unwrap();
    /// let input = program.bind_text(r#"{"as_of": "2026-03-31", "debt": "350", "ebitda": "100", "cash": "25"}"#).unwrap();
    /// let base = program.run_bound(input, None).unwrap();
    /// // EBITDA (field 2) down to 80: leverage and `max_lev` again, `min_cash` from the base.
    /// let path = covenant::analysis::InputPath::parse(&program, "input.ebitda").unwrap();
    /// let shocked = path.map(base.input(), &mut |_| Some(covenant::value::Value::Num(80.into()))).unwrap();
    /// let rerun = base.rerun_with(shocked.clone(), &[path.ir_path()]).unwrap();
    /// assert_eq!(path.ir_path(), [PathStep::Field(2)]);
    /// assert_eq!(rerun.covenant("max_lev").unwrap().status.as_str(), "breach");
    /// let scratch = program.run_changed(shocked, None).unwrap();
    /// assert_eq!(serde_json::to_string(&rerun.report().unwrap()).unwrap(), serde_json::to_string(&scratch.report().unwrap()).unwrap());
    /// ```
    pub fn rerun_with(&self, shocked_input: Value, changed: &[Vec<crate::ir::PathStep>]) -> Result<Evaluation<'p>, crate::EvalError> {
        self.rerun_changed(shocked_input, &self.program.changes(changed))
    }

    /// [`Evaluation::rerun_with`] for a change worked out once by [`Program::changes`](crate::Program::changes),
    /// to apply the same shocks to many evaluations.
    pub fn rerun_changed(&self, shocked_input: Value, changes: &crate::Changes) -> Result<Evaluation<'p>, crate::EvalError> {
        crate::engine::incremental::rerun_changed(self, shocked_input, changes)
    }

    /// The data evaluated (after the scenario's shocks, for a scenario).
    pub fn input(&self) -> &Value {
        &self.input
    }

    /// Every figure name [`explain`](Evaluation::explain) takes, in report order.
    pub fn figure_names(&self) -> Vec<String> {
        crate::explain::figure_names(self.program.ir())
    }
}
