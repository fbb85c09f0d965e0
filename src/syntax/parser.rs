//! pest pairs → AST. pest's types stay inside this file.

use std::sync::{Arc, LazyLock};

use miette::NamedSource;
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser as _;
use rust_decimal::Decimal;

use super::ast::*;
use super::error::SyntaxError;
use crate::dates::Date;
use crate::span::{FileId, Span};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/covenant.pest"]
struct CovenantParser;

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::or_op, Assoc::Left))
        .op(Op::infix(Rule::and_op, Assoc::Left))
        .op(Op::prefix(Rule::not_op))
        .op(Op::infix(Rule::eq, Assoc::Left)
            | Op::infix(Rule::ne, Assoc::Left)
            | Op::infix(Rule::lt, Assoc::Left)
            | Op::infix(Rule::le, Assoc::Left)
            | Op::infix(Rule::gt, Assoc::Left)
            | Op::infix(Rule::ge, Assoc::Left))
        .op(Op::infix(Rule::coalesce, Assoc::Right))
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
        .op(Op::infix(Rule::mul, Assoc::Left) | Op::infix(Rule::div, Assoc::Left))
        .op(Op::prefix(Rule::neg))
        .op(Op::postfix(Rule::field) | Op::postfix(Rule::index))
});

/// The most significant digits a number holds (rust_decimal's 96-bit mantissa). A literal
/// may be longer only by leading or trailing zeros; `Limits::max_number_digits` refuses
/// longer texts by length, before any decimal parsing.
pub const MAX_LITERAL_DIGITS: usize = 28;

pub(super) struct Parser<'a> {
    file: FileId,
    src: &'a NamedSource<Arc<str>>,
    max_number_digits: usize,
}

type PResult<T> = Result<T, SyntaxError>;

/// An expression and whether it is a comparison not wrapped in parentheses, which may not
/// be an operand of another comparison.
struct Built {
    expr: Expr,
    bare_comparison: bool,
}

impl<'a> Parser<'a> {
    pub(super) fn new(file: FileId, src: &'a NamedSource<Arc<str>>, max_number_digits: usize) -> Self {
        Parser { file, src, max_number_digits }
    }

    pub(super) fn parse_module(&self, text: &str) -> PResult<Module> {
        let pairs = CovenantParser::parse(Rule::program, text).map_err(|e| self.pest_error(e, text))?;
        let mut items = Vec::new();
        for pair in pairs.flatten().take(1).flat_map(|p| p.into_inner()) {
            if pair.as_rule() == Rule::EOI {
                continue;
            }
            items.push(self.item(pair)?);
        }
        Ok(Module { items })
    }

    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        Span::new(self.file, s.start(), s.end())
    }

    fn src(&self) -> NamedSource<Arc<str>> {
        self.src.clone()
    }

    fn pest_error(&self, e: pest::error::Error<Rule>, text: &str) -> SyntaxError {
        let offset = match e.location {
            pest::error::InputLocation::Pos(p) => p,
            pest::error::InputLocation::Span((s, _)) => s,
        };
        let found: String = text
            .get(offset..)
            .unwrap_or("")
            .chars()
            .take_while(|c| !c.is_whitespace())
            .take(24)
            .collect();
        let expected = match &e.variant {
            pest::error::ErrorVariant::ParsingError { positives, .. } => {
                let mut names: Vec<&'static str> = positives.iter().filter_map(|r| describe(*r)).collect();
                names.sort_unstable();
                names.dedup();
                names
            }
            pest::error::ErrorVariant::CustomError { .. } => Vec::new(),
        };
        let found_text = if found.is_empty() { "the end of the file".to_string() } else { format!("`{found}`") };
        let message = if expected.is_empty() {
            format!("unexpected {found_text}")
        } else {
            format!("unexpected {found_text}, expected {}", join_or(&expected))
        };
        let help = help_for(&found, &expected);
        let len = found.len().max(1).min(text.len().saturating_sub(offset)).max(usize::from(offset < text.len()));
        SyntaxError::Unexpected {
            message,
            help,
            span: (offset, len).into(),
            label: if expected.is_empty() { "here".into() } else { format!("expected {}", join_or(&expected)) },
            src: self.src(),
        }
    }

    fn bad_form(&self, span: Span, message: impl Into<String>, help: impl Into<String>) -> SyntaxError {
        SyntaxError::BadForm { message: message.into(), help: help.into(), span: span.source_span(), src: self.src() }
    }

    fn duplicate(&self, pair: &Pair<'_, Rule>, clause: &str, block: &Ident) -> SyntaxError {
        SyntaxError::DuplicateClause {
            clause: clause.to_string(),
            block: block.name.clone(),
            span: self.span(pair).source_span(),
            src: self.src(),
        }
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident { name: pair.as_str().to_string(), span: self.span(&pair) }
    }

    fn string(&self, pair: Pair<'_, Rule>) -> PResult<String> {
        let span = self.span(&pair);
        let body = pair.into_inner().next().map(|p| p.as_str()).unwrap_or("");
        let mut out = String::with_capacity(body.len());
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                other => {
                    return Err(SyntaxError::BadLiteral {
                        what: "text",
                        text: format!("\\{}", other.map(String::from).unwrap_or_default()),
                        reason: "unknown escape".into(),
                        help: "the escapes are `\\n`, `\\t`, `\\\"` and `\\\\`".into(),
                        span: span.source_span(),
                        src: self.src(),
                    })
                }
            }
        }
        Ok(out)
    }

    fn title(&self, pair: Option<Pair<'_, Rule>>) -> PResult<Option<String>> {
        match pair {
            Some(p) => Ok(Some(self.string(first(p)?)?)),
            None => Ok(None),
        }
    }

    fn number(&self, pair: &Pair<'_, Rule>) -> PResult<Decimal> {
        let text = pair.as_str();
        // Counted before anything is built from the text.
        let digits = text.bytes().filter(u8::is_ascii_digit).count();
        if digits > self.max_number_digits {
            return Err(SyntaxError::TooManyDigits {
                digits,
                limit: self.max_number_digits,
                span: self.span(pair).source_span(),
                src: self.src(),
            });
        }
        let cleaned: String = text.chars().filter(|c| *c != '_' && *c != '%').collect();
        Decimal::from_str_exact(&cleaned).map_err(|_| SyntaxError::BadLiteral {
            what: "number",
            text: shorten(text),
            reason: "it cannot be held exactly".into(),
            help: format!("a number has at most {MAX_LITERAL_DIGITS} significant digits"),
            span: self.span(pair).source_span(),
            src: self.src(),
        })
    }

    /// `-5%`, `0.6`: a simulation's parameter.
    fn signed_number(&self, pair: Pair<'_, Rule>) -> PResult<SignedNumber> {
        let span = self.span(&pair);
        let number = self.number(&pair.clone())?;
        let value = if pair.as_str().ends_with('%') { number.checked_div(Decimal::ONE_HUNDRED).unwrap_or(number) } else { number };
        Ok(SignedNumber { value, span })
    }

    fn item(&self, pair: Pair<'_, Rule>) -> PResult<Item> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut inner = pair.into_inner();
        // The first child of every item is its keyword.
        let _keyword = inner.next();
        Ok(match rule {
            Rule::import_item => {
                let p = next(&mut inner)?;
                let pspan = self.span(&p);
                match p.as_rule() {
                    Rule::std_module => Item::Import(Import::Std { module: p.as_str().to_string(), span: pspan }),
                    _ => Item::Import(Import::File { path: self.string(p)?, span: pspan }),
                }
            }
            Rule::facility_item => Item::Facility { title: self.string(next(&mut inner)?)?, span },
            Rule::input_item => {
                let rec = next(&mut inner)?;
                Item::Input { schema: self.record_type(rec)?, span }
            }
            Rule::type_item => {
                let name = next(&mut inner)?;
                let name = Ident { name: name.as_str().to_string(), span: self.span(&name) };
                Item::TypeDef { name, ty: self.type_expr(next(&mut inner)?)? }
            }
            Rule::let_item => {
                let name = self.ident(next(&mut inner)?);
                let mut ty = None;
                let mut value = None;
                let mut display = None;
                for p in inner {
                    match p.as_rule() {
                        Rule::type_expr => ty = Some(self.type_expr(p)?),
                        Rule::display_as => {
                            let form_span = self.span(&p);
                            let form = match last(p)?.as_str() {
                                "percent" => DisplayForm::Percent,
                                "multiple" => DisplayForm::Multiple,
                                _ => DisplayForm::Number,
                            };
                            display = Some((form, form_span));
                        }
                        _ => value = Some(self.expr(p)?),
                    }
                }
                let value = value.ok_or_else(|| self.bad_form(span, "a `let` needs a value", "write `let name = expression`"))?;
                Item::Let(LetDef { name, ty, value, display, span })
            }
            Rule::fn_item => {
                let name = self.ident(next(&mut inner)?);
                let params = self.params(next(&mut inner)?)?;
                let ret = self.type_expr(next(&mut inner)?)?;
                let body = self.expr(next(&mut inner)?)?;
                Item::Fn(FnDef { name, params, ret, body, span })
            }
            Rule::schedule_item => self.schedule(inner, span)?,
            Rule::calendar_item => {
                let mut name = None;
                let mut holidays = None;
                for p in inner {
                    match p.as_rule() {
                        Rule::ident => name = Some(self.ident(p)),
                        _ => {
                            let block = name.clone().unwrap_or(Ident { name: "calendar".into(), span });
                            if holidays.is_some() {
                                return Err(self.duplicate(&p, "holidays", &block));
                            }
                            holidays = Some(self.expr(last(p)?)?);
                        }
                    }
                }
                let block = name.clone().unwrap_or(Ident { name: "calendar".into(), span });
                let holidays = holidays.ok_or_else(|| self.missing("holidays", &block, span, "list the holidays: `calendar london { holidays input.holidays.london }`"))?;
                Item::Calendar { name, holidays, span }
            }
            Rule::collateral_item => self.collateral(inner, span)?,
            Rule::covenant_item => self.covenant(inner, span)?,
            Rule::margin_item => self.margin_call(inner, span)?,
            Rule::liquidation_item => self.liquidation(inner, span)?,
            Rule::default_item => self.default_rule(inner, span)?,
            Rule::scenario_item => {
                let name = self.ident(next(&mut inner)?);
                let mut title = None;
                let mut shocks = Vec::new();
                for p in inner {
                    match p.as_rule() {
                        Rule::title => title = self.title(Some(p))?,
                        _ => shocks.push(self.shock(p)?),
                    }
                }
                Item::Scenario(ScenarioDef { name, title, shocks, span })
            }
            Rule::simulation_item => {
                let name = self.ident(next(&mut inner)?);
                let mut sim = SimulationDef { name, title: None, factors: Vec::new(), correlations: Vec::new(), shocks: Vec::new(), span };
                for p in inner {
                    let pspan = self.span(&p);
                    match p.as_rule() {
                        Rule::title => sim.title = self.title(Some(p))?,
                        Rule::factor_clause => {
                            let mut f = p.into_inner().skip(1);
                            let name = self.ident(next(&mut f)?);
                            let distribution = self.ident(next(&mut f)?);
                            let mut args = Vec::new();
                            for arg in f {
                                let mut a = arg.into_inner();
                                let key = self.ident(next(&mut a)?);
                                args.push((key, self.signed_number(next(&mut a)?)?));
                            }
                            sim.factors.push(FactorDef { name, distribution, args, span: pspan });
                        }
                        Rule::correlation_clause => {
                            let mut c = p.into_inner().skip(1);
                            let a = self.ident(next(&mut c)?);
                            let b = self.ident(next(&mut c)?);
                            let value = self.signed_number(next(&mut c)?)?;
                            sim.correlations.push(CorrelationDef { a, b, value, span: pspan });
                        }
                        _ => sim.shocks.push(self.shock(p)?),
                    }
                }
                Item::Simulation(sim)
            }
            Rule::test_item => {
                let title = self.string(next(&mut inner)?)?;
                let mut test = TestDef { title, data: None, scenario: None, shocks: Vec::new(), expects: Vec::new(), span };
                for p in inner {
                    let pspan = self.span(&p);
                    let rule = p.as_rule();
                    if rule == Rule::shock {
                        test.shocks.push(self.shock(p)?);
                        continue;
                    }
                    let mut c = p.into_inner();
                    let _kw = c.next();
                    let arg = next(&mut c)?;
                    match rule {
                        Rule::test_data => test.data = Some((self.string(arg)?, pspan)),
                        Rule::test_scenario => test.scenario = Some(self.ident(arg)),
                        _ => test.expects.push(self.expr(arg)?),
                    }
                }
                Item::Test(test)
            }
            Rule::check_item => {
                let cond = self.expr(next(&mut inner)?)?;
                let _else = next(&mut inner)?;
                let message = self.string(next(&mut inner)?)?;
                Item::Check(CheckDef { cond, message, span })
            }
            other => return Err(self.bad_form(span, format!("unexpected item {other:?}"), "this is a parser fault")),
        })
    }

    /// The calendars after `in`; only business days are counted in a calendar.
    fn calendars_in(&self, pair: Option<Pair<'_, Rule>>, unit: DurationUnit) -> PResult<Vec<Ident>> {
        let Some(pair) = pair else { return Ok(Vec::new()) };
        if unit != DurationUnit::BusinessDays {
            let span = self.span(&pair);
            return Err(self.bad_form(span, "only business days are counted in a calendar", "write `2 business days in london`; calendar days and months are the same in every calendar"));
        }
        Ok(pair.into_inner().filter(|p| p.as_rule() == Rule::ident).map(|p| self.ident(p)).collect())
    }

    fn shock(&self, pair: Pair<'_, Rule>) -> PResult<Shock> {
        let mut s = pair.into_inner();
        let path = self.input_path(next(&mut s)?)?;
        let op = match next(&mut s)?.as_str() {
            "*=" => ShockOp::Mul,
            "+=" => ShockOp::Add,
            "-=" => ShockOp::Sub,
            _ => ShockOp::Set,
        };
        let value = self.expr(next(&mut s)?)?;
        Ok(Shock { path, op, value })
    }

    fn schedule(&self, mut inner: Pairs<'_, Rule>, span: Span) -> PResult<Item> {
        let name = self.ident(next(&mut inner)?);
        let params = self.params(next(&mut inner)?)?;
        let ret = self.type_expr(next(&mut inner)?)?;
        let mut interpolate = false;
        let mut rows = Vec::new();
        for p in inner {
            if p.as_rule() == Rule::interpolate_kw {
                interpolate = true;
                continue;
            }
            let rspan = self.span(&p);
            let mut r = p.into_inner();
            let head = next(&mut r)?;
            let key = match head.as_rule() {
                Rule::else_key => ScheduleKey::Else,
                Rule::cmp_op => {
                    let op = cmp_op(head.as_str());
                    ScheduleKey::Cmp(op, self.expr(next(&mut r)?)?)
                }
                _ => ScheduleKey::Point(self.expr(head)?),
            };
            // `row_value` holds the same operator pairs as `expr`, so the Pratt parser reads it.
            let value = self.expr(next(&mut r)?)?;
            rows.push(ScheduleRow { key, value, span: rspan });
        }
        Ok(Item::Schedule(ScheduleDef { name, params, ret, interpolate, rows, span }))
    }

    fn collateral(&self, mut inner: Pairs<'_, Rule>, span: Span) -> PResult<Item> {
        let name = self.ident(next(&mut inner)?);
        let mut pool = PoolDef {
            name,
            title: None,
            each: None,
            quantity: None,
            price: None,
            haircut: None,
            lot: None,
            discount: None,
            liquidation_price: None,
            span,
        };
        for p in inner {
            let rule = p.as_rule();
            if rule == Rule::title {
                pool.title = self.title(Some(p))?;
                continue;
            }
            if rule == Rule::pool_for {
                let mut f = p.into_inner();
                let _for = f.next();
                let var = self.ident(next(&mut f)?);
                let _in = f.next();
                pool.each = Some((var, self.expr(next(&mut f)?)?));
                continue;
            }
            let (slot, label) = match rule {
                Rule::quantity_clause => (&mut pool.quantity, "quantity"),
                Rule::price_clause => (&mut pool.price, "price"),
                Rule::haircut_clause => (&mut pool.haircut, "haircut"),
                Rule::lot_clause => (&mut pool.lot, "lot"),
                Rule::sale_price_clause => (&mut pool.liquidation_price, "liquidation price"),
                _ => (&mut pool.discount, "liquidation discount"),
            };
            if slot.is_some() {
                return Err(self.duplicate(&p, label, &pool.name));
            }
            *slot = Some(self.expr(last(p)?)?);
        }
        let help = "a pool values its positions as `quantity` × `price`";
        if pool.quantity.is_none() {
            return Err(self.missing("quantity", &pool.name, span, help));
        }
        if pool.price.is_none() {
            return Err(self.missing("price", &pool.name, span, help));
        }
        Ok(Item::Collateral(pool))
    }

    fn missing(&self, clause: &'static str, block: &Ident, span: Span, help: &'static str) -> SyntaxError {
        let head = Span { end: block.span.end, ..span };
        SyntaxError::MissingClause {
            clause,
            block: block.name.clone(),
            help,
            span: head.source_span(),
            src: self.src(),
        }
    }

    fn covenant(&self, mut inner: Pairs<'_, Rule>, span: Span) -> PResult<Item> {
        let name = self.ident(next(&mut inner)?);
        let mut cov = CovenantDef { name, title: None, require: None, tested: None, when: None, cure: None, span };
        for p in inner {
            match p.as_rule() {
                Rule::title => cov.title = self.title(Some(p))?,
                Rule::require_clause => {
                    if cov.require.is_some() {
                        return Err(self.duplicate(&p, "require", &cov.name));
                    }
                    cov.require = Some(self.expr(last(p)?)?);
                }
                Rule::tested_clause => {
                    if cov.tested.is_some() {
                        return Err(self.duplicate(&p, "tested", &cov.name));
                    }
                    let how = last(p)?;
                    cov.tested = Some(match how.as_rule() {
                        Rule::quarterly => Tested::Quarterly,
                        Rule::monthly => Tested::Monthly,
                        _ => Tested::On(self.expr(last(how)?)?),
                    });
                }
                Rule::when_clause => {
                    if cov.when.is_some() {
                        return Err(self.duplicate(&p, "when", &cov.name));
                    }
                    cov.when = Some(self.expr(last(p)?)?);
                }
                _ => {
                    if cov.cure.is_some() {
                        return Err(self.duplicate(&p, "cure", &cov.name));
                    }
                    cov.cure = Some(self.cure(p)?);
                }
            }
        }
        if cov.require.is_none() {
            return Err(self.missing("require", &cov.name, span, "a covenant is a test: `require dscr >= 1.25x`"));
        }
        Ok(Item::Covenant(cov))
    }

    fn cure(&self, pair: Pair<'_, Rule>) -> PResult<CureDef> {
        let span = self.span(&pair);
        let mut into = None;
        let mut history = None;
        let mut limits = Vec::new();
        for p in pair.into_inner() {
            let pspan = self.span(&p);
            match p.as_rule() {
                Rule::input_path => into = Some(CureTarget::Input(self.input_path(p)?)),
                Rule::ident => into = Some(CureTarget::Let(self.ident(p))),
                Rule::history_rule => history = Some(self.expr(last(p)?)?),
                Rule::window_limit => {
                    let nums: Vec<Pair<'_, Rule>> = p.into_inner().filter(|x| x.as_rule() == Rule::number).collect();
                    let count = self.small_count(nums.first(), pspan)?;
                    let quarters = self.small_count(nums.get(1), pspan)?;
                    limits.push(CureLimit::InQuarters { count, quarters, span: pspan });
                }
                Rule::total_limit => {
                    let nums: Vec<Pair<'_, Rule>> = p.into_inner().filter(|x| x.as_rule() == Rule::number).collect();
                    limits.push(CureLimit::Total { count: self.small_count(nums.first(), pspan)?, span: pspan });
                }
                Rule::no_consecutive => limits.push(CureLimit::NoConsecutive { span: pspan }),
                _ => {}
            }
        }
        let into = into.ok_or_else(|| self.bad_form(span, "a cure needs `into input.PATH` or `into NAME`", "write `cure equity into input.ttm.ebitda`, or into a Money `let` such as `cure equity into cfads`"))?;
        Ok(CureDef { into, history, limits, span })
    }

    fn small_count(&self, pair: Option<&Pair<'_, Rule>>, span: Span) -> PResult<u32> {
        pair.and_then(|p| p.as_str().replace('_', "").parse::<u32>().ok())
            .ok_or_else(|| self.bad_form(span, "a cure limit counts in whole numbers", "write `limit 2 in 4 quarters` or `limit 5 total`"))
    }

    fn margin_call(&self, mut inner: Pairs<'_, Rule>, span: Span) -> PResult<Item> {
        let name = self.ident(next(&mut inner)?);
        let mut mc = MarginCallDef {
            name,
            title: None,
            trigger: None,
            amount: None,
            minimum_transfer: None,
            rounding: None,
            due: None,
            span,
        };
        for p in inner {
            let rule = p.as_rule();
            if rule == Rule::title {
                mc.title = self.title(Some(p))?;
                continue;
            }
            if rule == Rule::rounding_clause {
                if mc.rounding.is_some() {
                    return Err(self.duplicate(&p, "rounding", &mc.name));
                }
                let mut r = p.into_inner();
                let _kw = r.next();
                let mode = match next(&mut r)?.as_str() {
                    "up" => RoundingMode::Up,
                    "down" => RoundingMode::Down,
                    _ => RoundingMode::Nearest,
                };
                mc.rounding = Some((mode, self.expr(next(&mut r)?)?));
                continue;
            }
            let (slot, label) = match rule {
                Rule::trigger_clause => (&mut mc.trigger, "trigger"),
                Rule::amount_clause => (&mut mc.amount, "amount"),
                Rule::minimum_clause => (&mut mc.minimum_transfer, "minimum_transfer"),
                _ => (&mut mc.due, "due"),
            };
            if slot.is_some() {
                return Err(self.duplicate(&p, label, &mc.name));
            }
            *slot = Some(self.expr(last(p)?)?);
        }
        if mc.trigger.is_none() {
            return Err(self.missing("trigger", &mc.name, span, "say when the call is made: `trigger ltv > 75%`"));
        }
        if mc.amount.is_none() {
            return Err(self.missing("amount", &mc.name, span, "say how much is called: `amount collateral_to_restore(debt, eligible, 65%)`"));
        }
        Ok(Item::MarginCall(mc))
    }

    fn liquidation(&self, mut inner: Pairs<'_, Rule>, span: Span) -> PResult<Item> {
        let name = self.ident(next(&mut inner)?);
        let mut liq = LiquidationDef { name, title: None, trigger: None, debt: None, sell: Vec::new(), until: None, span };
        for p in inner {
            match p.as_rule() {
                Rule::title => liq.title = self.title(Some(p))?,
                Rule::sell_clause => {
                    if !liq.sell.is_empty() {
                        return Err(self.duplicate(&p, "sell", &liq.name));
                    }
                    liq.sell = p.into_inner().filter(|x| x.as_rule() == Rule::ident).map(|x| self.ident(x)).collect();
                }
                Rule::trigger_clause => {
                    if liq.trigger.is_some() {
                        return Err(self.duplicate(&p, "trigger", &liq.name));
                    }
                    liq.trigger = Some(self.expr(last(p)?)?);
                }
                Rule::until_clause => {
                    if liq.until.is_some() {
                        return Err(self.duplicate(&p, "until", &liq.name));
                    }
                    liq.until = Some(self.expr(last(p)?)?);
                }
                _ => {
                    if liq.debt.is_some() {
                        return Err(self.duplicate(&p, "debt", &liq.name));
                    }
                    liq.debt = Some(self.expr(last(p)?)?);
                }
            }
        }
        if liq.debt.is_none() {
            return Err(self.missing("debt", &liq.name, span, "say what the sale must repay: `debt debt + input.loan.accrued_interest`"));
        }
        if liq.sell.is_empty() {
            return Err(self.missing("sell", &liq.name, span, "list the pools to sell, in order: `sell btc, gpus`"));
        }
        Ok(Item::Liquidation(liq))
    }

    fn default_rule(&self, mut inner: Pairs<'_, Rule>, span: Span) -> PResult<Item> {
        let name = self.ident(next(&mut inner)?);
        let mut def = DefaultDef { name, title: None, events: Vec::new(), span };
        for p in inner {
            if p.as_rule() == Rule::title {
                def.title = self.title(Some(p))?;
                continue;
            }
            let mut e = p.clone().into_inner();
            let _event = e.next();
            let event = self.ident(next(&mut e)?);
            if def.events.iter().any(|x| x.name.name == event.name) {
                return Err(self.duplicate(&p, &format!("event {}", event.name), &def.name));
            }
            let mut title = None;
            let mut rest = e.peekable();
            if rest.peek().map(|x| x.as_rule()) == Some(Rule::title) {
                title = self.title(rest.next())?;
            }
            let _when = rest.next();
            let when = self.expr(next(&mut rest)?)?;
            def.events.push(EventDef { name: event, title, when });
        }
        if def.events.is_empty() {
            return Err(self.missing("event", &def.name, span, "list the events of default: `event ltv_breach \"LTV above 90%\" when ltv > 90%`"));
        }
        Ok(Item::Default(def))
    }

    fn input_path(&self, pair: Pair<'_, Rule>) -> PResult<InputPath> {
        let span = self.span(&pair);
        let mut steps = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::path_field => steps.push(PathStep::Field(self.ident(first(p)?))),
                Rule::path_all => steps.push(PathStep::All(self.span(&p))),
                _ => {}
            }
        }
        Ok(InputPath { steps, span })
    }

    fn params(&self, pair: Pair<'_, Rule>) -> PResult<Vec<Param>> {
        pair.into_inner()
            .map(|p| {
                let mut i = p.into_inner();
                let name = self.ident(next(&mut i)?);
                let ty = self.type_expr(next(&mut i)?)?;
                Ok(Param { name, ty })
            })
            .collect()
    }

    fn type_expr(&self, pair: Pair<'_, Rule>) -> PResult<TypeExpr> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let base = next(&mut inner)?;
        let base_span = self.span(&base);
        let kind = match base.as_rule() {
            Rule::money_type => {
                let ccy = base.into_inner().find(|p| p.as_rule() == Rule::currency).map(|p| p.as_str().to_string());
                TypeExprKind::Money(ccy)
            }
            Rule::list_type => TypeExprKind::List(Box::new(self.type_expr(last(base)?)?)),
            Rule::record_type => return self.record_type_with_optional(base, inner.next().is_some(), span),
            _ => TypeExprKind::Named(base.as_str().to_string()),
        };
        let ty = TypeExpr { kind, span: base_span };
        Ok(match inner.next() {
            Some(_) => TypeExpr { kind: TypeExprKind::Optional(Box::new(ty)), span },
            None => ty,
        })
    }

    fn record_type_with_optional(&self, pair: Pair<'_, Rule>, optional: bool, span: Span) -> PResult<TypeExpr> {
        let rec = self.record_type(pair)?;
        Ok(if optional { TypeExpr { kind: TypeExprKind::Optional(Box::new(rec)), span } } else { rec })
    }

    fn record_type(&self, pair: Pair<'_, Rule>) -> PResult<TypeExpr> {
        let span = self.span(&pair);
        let mut fields = Vec::new();
        for f in pair.into_inner() {
            let mut i = f.into_inner();
            let name = self.ident(next(&mut i)?);
            let ty = self.type_expr(next(&mut i)?)?;
            fields.push((name, ty));
        }
        Ok(TypeExpr { kind: TypeExprKind::Record(fields), span })
    }

    // ------------------------------------------------------------ expressions

    pub(super) fn expr(&self, pair: Pair<'_, Rule>) -> PResult<Expr> {
        self.expr_built(pair).map(|b| b.expr)
    }

    fn expr_built(&self, pair: Pair<'_, Rule>) -> PResult<Built> {
        PRATT
            .map_primary(|p| self.primary(p))
            .map_prefix(|op, rhs| {
                let rhs = rhs?;
                let span = self.span(&op).to(rhs.expr.span);
                let op = if op.as_rule() == Rule::neg { UnaryOp::Neg } else { UnaryOp::Not };
                Ok(Built { expr: Expr { kind: ExprKind::Unary(op, Box::new(rhs.expr)), span }, bare_comparison: false })
            })
            .map_postfix(|lhs, op| {
                let lhs = lhs?;
                let span = lhs.expr.span.to(self.span(&op));
                let kind = match op.as_rule() {
                    Rule::field => ExprKind::Field(Box::new(lhs.expr), self.ident(first(op)?)),
                    _ => ExprKind::Index(Box::new(lhs.expr), Box::new(self.expr(first(op)?)?)),
                };
                Ok(Built { expr: Expr { kind, span }, bare_comparison: false })
            })
            .map_infix(|lhs, op, rhs| {
                let (lhs, rhs) = (lhs?, rhs?);
                let op = match op.as_rule() {
                    Rule::or_op => BinaryOp::Or,
                    Rule::and_op => BinaryOp::And,
                    Rule::coalesce => BinaryOp::Coalesce,
                    Rule::add => BinaryOp::Add,
                    Rule::sub => BinaryOp::Sub,
                    Rule::mul => BinaryOp::Mul,
                    Rule::div => BinaryOp::Div,
                    _ => BinaryOp::Cmp(cmp_op(op.as_str())),
                };
                let is_cmp = matches!(op, BinaryOp::Cmp(_));
                if is_cmp && (lhs.bare_comparison || rhs.bare_comparison) {
                    let span = lhs.expr.span.to(rhs.expr.span);
                    return Err(SyntaxError::ChainedComparison { span: span.source_span(), src: self.src() });
                }
                let span = lhs.expr.span.to(rhs.expr.span);
                let kind = ExprKind::Binary(op, Box::new(lhs.expr), Box::new(rhs.expr));
                Ok(Built { expr: Expr { kind, span }, bare_comparison: is_cmp })
            })
            .parse(pair.into_inner())
    }

    fn primary(&self, pair: Pair<'_, Rule>) -> PResult<Built> {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::paren => {
                // The rule ends with an optional unit, so it takes the blanks after `)` too.
                let text = pair.as_str();
                let blanks = text.len().saturating_sub(text.trim_end().len());
                let span = Span::new(self.file, pair.as_span().start(), pair.as_span().end().saturating_sub(blanks));
                let mut i = pair.into_inner();
                let inner = self.expr(next(&mut i)?)?;
                // The brackets belong to the expression's text: `not (a < b)` quoted whole.
                let Some(unit) = i.next() else { return Ok(Built { expr: Expr { span, ..inner }, bare_comparison: false }) };
                let (unit, scale) = unit_of(unit.as_str());
                let calendars = self.calendars_in(i.next(), unit)?;
                ExprKind::DurationOf { count: Box::new(inner), unit, scale, calendars }
            }
            Rule::if_expr => {
                let parts: Vec<Pair<'_, Rule>> = pair.into_inner().filter(|p| p.as_rule() == Rule::expr).collect();
                let mut it = parts.into_iter();
                let c = self.expr(next(&mut it)?)?;
                let t = self.expr(next(&mut it)?)?;
                let e = self.expr(next(&mut it)?)?;
                ExprKind::If(Box::new(c), Box::new(t), Box::new(e))
            }
            Rule::list => {
                let items = pair.into_inner().map(|p| self.expr(p)).collect::<PResult<Vec<_>>>()?;
                ExprKind::List(items)
            }
            Rule::date => {
                let d = Date::parse(pair.as_str()).ok_or_else(|| SyntaxError::BadLiteral {
                    what: "date",
                    text: pair.as_str().to_string(),
                    reason: "not a calendar date".into(),
                    help: "dates are `YYYY-MM-DD` and must exist: 2026-02-28, not 2026-02-30".into(),
                    span: span.source_span(),
                    src: self.src(),
                })?;
                ExprKind::Date(d)
            }
            Rule::money => {
                let mut i = pair.into_inner();
                let n = self.number(&next(&mut i)?)?;
                ExprKind::Money(n, next(&mut i)?.as_str().to_string())
            }
            Rule::duration => {
                let mut i = pair.into_inner();
                let n = next(&mut i)?;
                let digits = n.as_str().replace('_', "");
                let count = digits.parse::<i64>().map_err(|_| {
                    let whole = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
                    SyntaxError::BadLiteral {
                        what: "duration",
                        text: n.as_str().to_string(),
                        reason: if whole { format!("over the largest count of units, {}", i64::MAX) } else { "a duration counts whole units".into() },
                        help: if whole {
                            "dates run from year 1 to 9999, so no duration past 3652059 days (119988 months) moves a date and stays a date".into()
                        } else {
                            "write `30 days` or `3 months`; for part of a period use a day count".into()
                        },
                        span: span.source_span(),
                        src: self.src(),
                    }
                })?;
                let (unit, scale) = unit_of(next(&mut i)?.as_str());
                match i.next() {
                    None => ExprKind::Duration(count.saturating_mul(scale), unit),
                    Some(calendars) => {
                        let calendars = self.calendars_in(Some(calendars), unit)?;
                        let literal = NumberLiteral { style: LiteralStyle::Plain, text: n.as_str().to_string() };
                        let count = Box::new(Expr { kind: ExprKind::Number(Decimal::from(count), literal), span: self.span(&n) });
                        ExprKind::DurationOf { count, unit, scale, calendars }
                    }
                }
            }
            Rule::percent => {
                let (text, span) = (pair.as_str(), self.span(&pair));
                let n = self.number(&first(pair)?)?;
                // Exact only when ×100 gives the literal back: 7.9228162514264337593543950335%
                // would need 30 places.
                match n.checked_div(Decimal::ONE_HUNDRED).filter(|p| p.checked_mul(Decimal::ONE_HUNDRED) == Some(n)) {
                    Some(p) => ExprKind::Number(p, NumberLiteral { style: LiteralStyle::Percent, text: text.to_string() }),
                    None => {
                        return Err(SyntaxError::BadLiteral {
                            what: "percent",
                            text: shorten(text),
                            reason: "it cannot be held exactly".into(),
                            help: "a percent is the literal ÷ 100, which must fit 28 digits after the point".into(),
                            span: span.source_span(),
                            src: self.src(),
                        })
                    }
                }
            }
            Rule::multiple => {
                let text = pair.as_str().to_string();
                ExprKind::Number(self.number(&first(pair)?)?, NumberLiteral { style: LiteralStyle::Multiple, text })
            }
            Rule::number => ExprKind::Number(self.number(&pair)?, NumberLiteral { style: LiteralStyle::Plain, text: pair.as_str().to_string() }),
            Rule::string => ExprKind::Text(self.string(pair)?),
            Rule::boolean => ExprKind::Bool(pair.as_str() == "true"),
            Rule::input_ref => ExprKind::Input,
            Rule::ident => ExprKind::Name(pair.as_str().to_string()),
            Rule::currency_code => ExprKind::Currency(pair.as_str().to_string()),
            Rule::call => {
                let mut i = pair.into_inner();
                let name = self.ident(next(&mut i)?);
                let args = i.map(|a| self.arg(a)).collect::<PResult<Vec<_>>>()?;
                ExprKind::Call { name, args }
            }
            other => return Err(self.bad_form(span, format!("unexpected {other:?}"), "this is a parser fault")),
        };
        Ok(Built { expr: Expr { kind, span }, bare_comparison: false })
    }

    fn arg(&self, pair: Pair<'_, Rule>) -> PResult<Arg> {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::named_arg => {
                let mut i = pair.into_inner();
                let name = self.ident(next(&mut i)?);
                Ok(Arg::Named(name, self.expr(next(&mut i)?)?))
            }
            Rule::generator => {
                let mut i = pair.into_inner().filter(|p| !matches!(p.as_rule(), Rule::k_for | Rule::k_in | Rule::k_if));
                let body = self.expr(next(&mut i)?)?;
                // Without `for …` the argument is a plain positional expression.
                let Some(var) = i.next() else { return Ok(Arg::Positional(body)) };
                let var = self.ident(var);
                let list = self.expr(next(&mut i)?)?;
                let filter = i.next().map(|p| self.expr(p)).transpose()?;
                Ok(Arg::Generator { body, var, list, filter, span })
            }
            _ => Ok(Arg::Positional(self.expr(pair)?)),
        }
    }
}

fn shorten(text: &str) -> String {
    if text.len() > 40 {
        format!("{}…", text.get(..40).unwrap_or(text))
    } else {
        text.to_string()
    }
}

fn cmp_op(s: &str) -> CmpOp {
    match s {
        "<" => CmpOp::Lt,
        "<=" => CmpOp::Le,
        ">" => CmpOp::Gt,
        ">=" => CmpOp::Ge,
        "==" => CmpOp::Eq,
        _ => CmpOp::Ne,
    }
}

/// The grammar guarantees the children these helpers take; a missing one is reported as a
/// syntax error rather than a panic.
/// A duration unit as written, and the factor that turns quarters and years into months.
fn unit_of(unit: &str) -> (DurationUnit, i64) {
    if unit.starts_with("business") {
        (DurationUnit::BusinessDays, 1)
    } else if unit.starts_with("day") {
        (DurationUnit::Days, 1)
    } else if unit.starts_with("month") {
        (DurationUnit::Months, 1)
    } else if unit.starts_with("quarter") {
        (DurationUnit::Months, 3)
    } else {
        (DurationUnit::Months, 12)
    }
}

fn next<'i, I: Iterator<Item = Pair<'i, Rule>>>(it: &mut I) -> PResult<Pair<'i, Rule>> {
    it.next().ok_or_else(internal)
}

fn first(pair: Pair<'_, Rule>) -> PResult<Pair<'_, Rule>> {
    pair.into_inner().next().ok_or_else(internal)
}

fn last(pair: Pair<'_, Rule>) -> PResult<Pair<'_, Rule>> {
    pair.into_inner().last().ok_or_else(internal)
}

fn internal() -> SyntaxError {
    SyntaxError::Unexpected {
        message: "the parser found a malformed construct".into(),
        help: "this is an interpreter fault; please report it with the program".into(),
        span: (0, 0).into(),
        label: "here".into(),
        src: NamedSource::new("<internal>", Arc::from("")),
    }
}

fn join_or(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

fn help_for(found: &str, expected: &[&str]) -> String {
    if found.starts_with('=') && !found.starts_with("==") && expected.iter().any(|e| e.contains("operator")) {
        return "to compare, write `==`; `=` only names a value in `let` and sets an input in a scenario".into();
    }
    if found.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && expected.contains(&"an expression") {
        return "a currency follows an amount (`250_000 USD`); type names appear only in declarations".into();
    }
    if found.is_empty() {
        return "the file ended inside an item: close every `(`, `[` and `{`".into();
    }
    if matches!(found.split(|c: char| !c.is_ascii_alphanumeric() && c != '_').next(), Some(w) if RESERVED.contains(&w)) && expected.contains(&"a name") {
        return format!("`{}` is a reserved word and cannot be a name", found.split(|c: char| !c.is_ascii_alphanumeric() && c != '_').next().unwrap_or(""));
    }
    if !expected.contains(&"an item") {
        return "check the expression just before this point: an operator may lack an operand, or a `(`, `[` or `{` may be unclosed".into();
    }
    "items start with `let`, `fn`, `schedule`, `collateral`, `covenant`, `margin_call`, `liquidation`, `default`, `scenario`, `test`, `check`, `input`, `type`, `import`, `calendar` or `facility`".into()
}

const RESERVED: &[&str] = &[
    "import", "input", "type", "let", "fn", "schedule", "calendar", "collateral", "covenant", "margin_call", "liquidation",
    "scenario", "test", "check", "facility", "if", "then", "else", "and", "or", "not", "for", "in", "true", "false",
];

/// A reader's name for a grammar rule, or `None` for rules not worth naming.
fn describe(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::EOI => "the end of the file",
        Rule::expr | Rule::primary | Rule::paren | Rule::if_expr | Rule::list | Rule::number | Rule::money
        | Rule::date | Rule::percent | Rule::multiple | Rule::duration | Rule::string | Rule::boolean
        | Rule::call | Rule::input_ref | Rule::neg | Rule::not_op => "an expression",
        Rule::ident => "a name",
        Rule::type_name | Rule::type_expr | Rule::kw_money | Rule::list_type | Rule::record_type | Rule::money_type => "a type",
        Rule::currency => "a currency code",
        Rule::field_decl => "a field",
        Rule::or_op | Rule::and_op | Rule::eq | Rule::ne | Rule::le | Rule::ge | Rule::lt | Rule::gt | Rule::coalesce
        | Rule::add | Rule::sub | Rule::mul | Rule::div | Rule::field | Rule::index => "an operator",
        Rule::import_item | Rule::facility_item | Rule::input_item | Rule::type_item | Rule::let_item | Rule::fn_item
        | Rule::schedule_item | Rule::calendar_item | Rule::collateral_item | Rule::covenant_item | Rule::margin_item
        | Rule::liquidation_item | Rule::default_item | Rule::scenario_item | Rule::test_item | Rule::check_item => "an item",
        Rule::calendars_in => "`in CALENDAR`",
        Rule::holidays_clause | Rule::kw_holidays => "`holidays`",
        Rule::display_as | Rule::k_as => "`as percent`, `as multiple` or `as number`",
        Rule::display_form => "`percent`, `multiple` or `number`",
        Rule::event_clause => "an event (`event NAME \"title\" when CONDITION`)",
        Rule::quantity_clause | Rule::price_clause | Rule::haircut_clause | Rule::lot_clause | Rule::discount_clause | Rule::sale_price_clause => {
            "a pool clause (`quantity`, `price`, `haircut`, `lot`, `liquidation price`, `liquidation discount`)"
        }
        Rule::require_clause | Rule::tested_clause | Rule::when_clause | Rule::cure_clause => {
            "a covenant clause (`require`, `tested`, `when`, `cure`)"
        }
        Rule::trigger_clause | Rule::amount_clause | Rule::minimum_clause | Rule::rounding_clause | Rule::due_clause => {
            "a margin call clause (`trigger`, `amount`, `minimum_transfer`, `rounding`, `due`)"
        }
        Rule::debt_clause | Rule::sell_clause | Rule::until_clause => "a liquidation clause (`trigger`, `debt`, `sell`, `until`)",
        Rule::history_rule | Rule::window_limit | Rule::total_limit | Rule::no_consecutive => {
            "a cure rule (`history`, `limit N in M quarters`, `limit N total`, `no consecutive`)"
        }
        Rule::shock => "a shock (`input.PATH *= 50%`)",
        Rule::shock_op => "`=`, `*=`, `+=` or `-=`",
        Rule::input_path | Rule::k_input => "`input`",
        Rule::path_field | Rule::path_all => "`.field` or `[*]`",
        Rule::schedule_row | Rule::cmp_op | Rule::else_key => "a schedule row (`< 12 => 70%`)",
        Rule::test_data | Rule::test_scenario | Rule::test_expect => "a test clause (`data`, `scenario`, a shock, `expect`)",
        Rule::rounding_mode => "`up`, `down` or `nearest`",
        Rule::unit => "a duration unit",
        Rule::k_then => "`then`",
        Rule::k_else => "`else`",
        Rule::k_in => "`in`",
        Rule::k_for => "`for`",
        Rule::std_module => "a module (`std.lending`)",
        Rule::param | Rule::params => "a parameter (`name: Type`)",
        Rule::named_arg | Rule::generator => "an argument",
        Rule::optional_mark => "`?`",
        Rule::quarterly | Rule::monthly | Rule::tested_on => "`quarterly`, `monthly` or `on`",
        Rule::interpolate_kw => "`interpolate`",
        _ => return None,
    })
}
