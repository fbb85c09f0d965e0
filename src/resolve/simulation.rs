//! Lowering a `simulation`: its factors, correlations and shocks become the engine's
//! specification; every mistake the engine would refuse at run time is a compile error here.

use std::sync::Arc;

use rust_decimal::prelude::ToPrimitive;

use super::{ResolveError, Resolver};
use crate::analysis::simulate::{cholesky, Distribution};
use crate::ir;
use crate::syntax::ast::{self, BinaryOp, ExprKind, SignedNumber};

const DISTRIBUTIONS: &str = "`normal(mean: M, sd: S)`, `lognormal(mu: M, sigma: S)` or `uniform(low: A, high: B)`";

fn as_f64(n: &SignedNumber) -> f64 {
    n.value.to_f64().unwrap_or(0.0)
}

impl Resolver<'_> {
    pub(super) fn lower_simulation(&mut self, s: ast::SimulationDef) {
        if self.ir_parts.simulations.iter().any(|d| *d.name == *s.name.name) {
            let src = self.src(s.name.span);
            self.errors.push(ResolveError::Duplicate { name: s.name.name.clone(), span: s.name.span.source_span(), src });
        }
        let mut factors: Vec<(String, Distribution)> = Vec::new();
        for (k, f) in s.factors.iter().enumerate() {
            if s.factors.iter().take(k).any(|g| g.name.name == f.name.name) {
                let name = &f.name.name;
                self.misuse(f.name.span, format!("the factor `{name}` is declared twice"), "declared again", "give each factor its own name");
                continue;
            }
            // A factor with a bad distribution stays a known name: its uses are not errors too.
            let d = self.distribution(f).unwrap_or(Distribution::Normal { mean: 0.0, sd: 0.0 });
            factors.push((f.name.name.clone(), d));
        }
        let index = |name: &str| factors.iter().position(|(n, _)| n == name);
        let mut correlations: Vec<(usize, usize, f64)> = Vec::new();
        for c in &s.correlations {
            let mut ends = Vec::new();
            for end in [&c.a, &c.b] {
                match index(&end.name) {
                    Some(i) => ends.push(i),
                    None => {
                        let help = super::suggestion(&end.name, factors.iter().map(|(n, _)| n.as_str()), "factor");
                        self.misuse(end.span, format!("`{}` is not a factor of simulation `{}`", end.name, s.name.name), "not a factor", help);
                    }
                }
            }
            let r = as_f64(&c.value);
            if !(-1.0..=1.0).contains(&r) {
                self.misuse(c.value.span, format!("a correlation of {} is outside -1 … 1", c.value.value), "outside -1 … 1", "a correlation lies between -1 and 1");
                continue;
            }
            let [a, b] = ends[..] else { continue };
            if a == b {
                self.misuse(c.span, format!("`{}` is correlated with itself", c.a.name), "the same factor twice", "a factor's correlation with itself is 1; name two different factors");
            } else if correlations.iter().any(|&(x, y, _)| (x, y) == (a, b) || (x, y) == (b, a)) {
                self.misuse(c.span, format!("the correlation of `{}` and `{}` is given twice", c.a.name, c.b.name), "given again", "give each pair of factors one correlation");
            } else {
                correlations.push((a, b, r));
            }
        }
        let n = factors.len();
        let mut matrix = vec![0.0; n * n];
        for i in 0..n {
            if let Some(slot) = matrix.get_mut(i * n + i) {
                *slot = 1.0;
            }
        }
        for &(a, b, r) in &correlations {
            for (i, j) in [(a, b), (b, a)] {
                if let Some(slot) = matrix.get_mut(i * n + j) {
                    *slot = r;
                }
            }
        }
        if cholesky(&matrix, n).is_none() {
            let span = match (s.correlations.first(), s.correlations.last()) {
                (Some(first), Some(last)) => first.span.to(last.span),
                _ => s.name.span,
            };
            self.misuse(
                span,
                format!("the correlations of simulation `{}` are not possible together: the matrix is not positive semi-definite", s.name.name),
                "these correlations",
                "factors cannot be this correlated all at once (say `a, b = 0.9`, `b, c = 0.9` and `a, c = -0.9`); loosen one of them",
            );
        }
        let mut shocks = Vec::new();
        let mut paths = Vec::new();
        for shock in s.shocks {
            let factor = match (&shock.op, &shock.value.kind) {
                (ast::ShockOp::Mul, ExprKind::Binary(BinaryOp::Add, one, f)) => match (&one.kind, &f.kind) {
                    (ExprKind::Number(v, _), ExprKind::Name(name)) if *v == rust_decimal::Decimal::ONE => match index(name) {
                        Some(i) => Some(i),
                        None => {
                            let help = super::suggestion(name, factors.iter().map(|(n, _)| n.as_str()), "factor");
                            self.misuse(f.span, format!("`{name}` is not a factor of simulation `{}`", s.name.name), "not a factor", help);
                            continue;
                        }
                    },
                    _ => None,
                },
                _ => None,
            };
            let Some(factor) = factor else {
                self.misuse(
                    shock.path.span.to(shock.value.span),
                    "a simulation's shock scales an input by one plus a factor",
                    "not `PATH *= 1 + FACTOR`",
                    "write `input.btc.price *= 1 + btc`, where `btc` is a factor of the simulation",
                );
                continue;
            };
            shocks.push((path_text(&shock.path), factor));
            paths.push(shock.path);
        }
        self.pending.simulation_paths.push(paths);
        self.ir_parts.simulations.push(ir::SimulationDef { name: Arc::from(s.name.name.as_str()), title: s.title, factors, correlations, shocks, span: s.span });
    }

    fn distribution(&mut self, f: &ast::FactorDef) -> Option<Distribution> {
        let names: &[&str] = match f.distribution.name.as_str() {
            "normal" => &["mean", "sd"],
            "lognormal" => &["mu", "sigma"],
            "uniform" => &["low", "high"],
            other => {
                self.misuse(f.distribution.span, format!("`{other}` is not a distribution"), "unknown distribution", format!("a factor follows {DISTRIBUTIONS}"));
                return None;
            }
        };
        let mut values = Vec::new();
        for want in names {
            match f.args.iter().find(|(k, _)| k.name == *want) {
                Some((_, v)) => values.push(v),
                None => {
                    let help = format!("write `{}({}: …, {}: …)`", f.distribution.name, names.first().unwrap_or(&""), names.get(1).unwrap_or(&""));
                    self.misuse(f.span, format!("the factor `{}` does not give `{want}`", f.name.name), format!("no `{want}`"), help);
                    return None;
                }
            }
        }
        if let Some((k, _)) = f.args.iter().find(|(k, _)| !names.contains(&k.name.as_str())) {
            let help = format!("`{}` takes `{}`", f.distribution.name, names.join("` and `"));
            self.misuse(k.span, format!("`{}` has no parameter `{}`", f.distribution.name, k.name), "unknown parameter", help);
            return None;
        }
        let [a, b] = values[..] else { return None };
        let (x, y) = (as_f64(a), as_f64(b));
        if names.contains(&"low") {
            if x > y {
                self.misuse(b.span, format!("the factor `{}` has `high` below `low`", f.name.name), "below `low`", "write the lower bound first: `uniform(low: -20%, high: 10%)`");
                return None;
            }
            return Some(Distribution::Uniform { lo: x, hi: y });
        }
        if y < 0.0 {
            let what = names.get(1).unwrap_or(&"");
            self.misuse(b.span, format!("the factor `{}` has a negative `{what}`", f.name.name), "negative", format!("a spread is zero or more: `{what}: {}`", b.value.abs()));
            return None;
        }
        Some(if names.contains(&"sd") { Distribution::Normal { mean: x, sd: y } } else { Distribution::LogNormal { mu: x, sigma: y } })
    }
}

fn path_text(path: &ast::InputPath) -> String {
    let mut text = String::from("input");
    for step in &path.steps {
        match step {
            ast::PathStep::Field(f) => {
                text.push('.');
                text.push_str(&f.name);
            }
            ast::PathStep::All(_) => text.push_str("[*]"),
        }
    }
    text
}
