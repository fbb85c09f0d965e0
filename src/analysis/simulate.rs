//! Monte Carlo over correlated factors: the engine behind `simulation` declarations.
//!
//! Reproducible on any machine: the generator is implemented here, not borrowed.
//! - Path `i` of a run with seed `s` draws from xoshiro256** seeded by four successive
//!   outputs of SplitMix64 started at `s ^ (i · 0x9E3779B97F4A7C15)`; the result never
//!   depends on the number of threads or the order the paths run in.
//! - A uniform on (0, 1) is `(x >> 11) + 0.5` times 2^-53, from one 64-bit output `x`.
//! - Standard normals come from Box–Muller in pairs (`sqrt(-2 ln u1) cos(2π u2)` and `… sin`),
//!   one pair per two factors, in factor order.
//! - Correlated normals are `L z` for the Cholesky factor `L` of the correlation matrix; a
//!   matrix that is not positive semi-definite (a pivot below -1e-12) is refused.
//! - Each factor is its distribution's value at its correlated normal: `normal(mean, sd)`
//!   is `mean + sd z`; `lognormal(mu, sigma)` is `exp(mu + sigma z)`; `uniform(lo, hi)` is
//!   `lo + (hi - lo) Φ(z)` (a Gaussian copula; Φ by the Abramowitz–Stegun 26.2.17
//!   approximation, error under 7.5e-8).
//! - A factor value becomes an exact decimal rounded half away from zero to 9 decimals
//!   before any rule sees it; arithmetic after that is the program's exact decimal
//!   arithmetic. A shocked price below zero is clamped to zero.
//!
//! Floating point enters only through `ln`, `sqrt`, `cos`, `sin` and `exp` of IEEE 754
//! doubles before the 9-decimal rounding; a platform whose libm differs in the last bit can
//! move a factor by 1e-9 only when the double lies within an ulp of a rounding midpoint.

use indexmap::IndexMap;
use rust_decimal::prelude::*;
use serde::Serialize;

use super::{statuses, usage, AnalysisError, InputPath};
use crate::value::Value;
use crate::Program;

/// SplitMix64: seeds the path generators.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256** (Blackman and Vigna, 2018).
#[derive(Clone, Debug)]
pub struct Xoshiro256 {
    s: [u64; 4],
}

impl Xoshiro256 {
    /// The generator of path `index` of a run seeded with `seed`.
    pub fn for_path(seed: u64, index: u64) -> Xoshiro256 {
        let mut sm = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Xoshiro256 { s: [splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm)] }
    }

    pub fn next_u64(&mut self) -> u64 {
        let [s0, s1, s2, s3] = self.s;
        let result = s1.wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s1 << 17;
        let (mut n0, mut n1, mut n2, mut n3) = (s0, s1, s2, s3);
        n2 ^= n0;
        n3 ^= n1;
        n1 ^= n2;
        n0 ^= n3;
        n2 ^= t;
        n3 = n3.rotate_left(45);
        self.s = [n0, n1, n2, n3];
        result
    }

    /// Uniform on the open interval (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `n` independent standard normals, by Box–Muller in pairs.
    pub fn normals(&mut self, n: usize) -> Vec<f64> {
        let mut out = Vec::with_capacity(n + 1);
        while out.len() < n {
            let (u1, u2) = (self.uniform(), self.uniform());
            let r = (-2.0 * u1.ln()).sqrt();
            let theta = std::f64::consts::TAU * u2;
            out.push(r * theta.cos());
            out.push(r * theta.sin());
        }
        out.truncate(n);
        out
    }
}

/// The standard normal CDF (Abramowitz–Stegun 26.2.17; absolute error under 7.5e-8).
pub fn normal_cdf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.231_641_9 * x.abs());
    let poly = t * (0.319_381_530 + t * (-0.356_563_782 + t * (1.781_477_937 + t * (-1.821_255_978 + t * 1.330_274_429))));
    let tail = (-x * x / 2.0).exp() / (std::f64::consts::TAU).sqrt() * poly;
    if x >= 0.0 { 1.0 - tail } else { tail }
}

/// The lower-triangular Cholesky factor of a correlation matrix (row-major, `n × n`), or
/// `None` when the matrix is not positive semi-definite.
pub fn cholesky(m: &[f64], n: usize) -> Option<Vec<f64>> {
    let at = |v: &[f64], i: usize, j: usize| v.get(i * n + j).copied().unwrap_or(0.0);
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let sum: f64 = (0..j).map(|k| at(&l, i, k) * at(&l, j, k)).sum();
            let value = if i == j {
                let pivot = at(m, i, i) - sum;
                if pivot < -1e-12 {
                    return None;
                }
                pivot.max(0.0).sqrt()
            } else {
                let d = at(&l, j, j);
                if d == 0.0 {
                    if (at(m, i, j) - sum).abs() > 1e-12 {
                        return None;
                    }
                    0.0
                } else {
                    (at(m, i, j) - sum) / d
                }
            };
            if let Some(slot) = l.get_mut(i * n + j) {
                *slot = value;
            }
        }
    }
    Some(l)
}

/// A factor's distribution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distribution {
    Normal { mean: f64, sd: f64 },
    LogNormal { mu: f64, sigma: f64 },
    Uniform { lo: f64, hi: f64 },
}

impl Distribution {
    fn at(self, z: f64) -> f64 {
        match self {
            Distribution::Normal { mean, sd } => mean + sd * z,
            Distribution::LogNormal { mu, sigma } => (mu + sigma * z).exp(),
            Distribution::Uniform { lo, hi } => lo + (hi - lo) * normal_cdf(z),
        }
    }
}

/// A factor value as an exact decimal: rounded half away from zero to 9 decimals.
pub fn to_decimal(x: f64) -> Option<Decimal> {
    let scaled = (x * 1e9).round();
    if !scaled.is_finite() || scaled.abs() > 9.0e18 {
        return None;
    }
    Some(Decimal::new(scaled as i64, 9))
}

/// A simulation: factors, their correlations, and shocks `PATH *= 1 + FACTOR`.
#[derive(Clone, Debug)]
pub struct Spec {
    pub name: String,
    pub factors: Vec<(String, Distribution)>,
    /// Pairs of factor indices and their correlation; the rest are 0.
    pub correlations: Vec<(usize, usize, f64)>,
    /// Each shock multiplies the input at the path by `1 + factor`, clamped at zero.
    pub shocks: Vec<(InputPath, usize)>,
}

impl Spec {
    /// The program's `simulation NAME`, its shock paths bound to the input type.
    pub fn from_program(program: &Program, name: &str) -> Result<Spec, AnalysisError> {
        let sims = &program.ir().simulations;
        let Some(def) = sims.iter().find(|s| &*s.name == name) else {
            let help = crate::resolve::suggestion(name, sims.iter().map(|s| &*s.name), "simulation");
            return Err(usage(format!("the program declares no simulation `{name}`; {help}")));
        };
        let shocks = def.shocks.iter().map(|(path, k)| Ok((InputPath::parse(program, path)?, *k))).collect::<Result<_, AnalysisError>>()?;
        Ok(Spec { name: name.to_string(), factors: def.factors.clone(), correlations: def.correlations.clone(), shocks })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Quantiles {
    pub mean: String,
    pub p01: String,
    pub p05: String,
    pub p50: String,
    pub p95: String,
    pub p99: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Shortfall {
    pub probability: String,
    pub expected: String,
    pub p99: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Simulated {
    pub simulation: String,
    pub paths: usize,
    pub seed: u64,
    pub rules: IndexMap<String, IndexMap<String, String>>,
    pub values: IndexMap<String, Quantiles>,
    pub shortfall: Option<Shortfall>,
    /// Paths the program could not evaluate (a `check` refusing the shocked data, say).
    pub failed_paths: usize,
}

/// The factor values of path `index`, as exact decimals.
pub fn draw(spec: &Spec, lower: &[f64], seed: u64, index: u64) -> Option<Vec<Decimal>> {
    let n = spec.factors.len();
    let z = Xoshiro256::for_path(seed, index).normals(n);
    (0..n)
        .map(|i| {
            let correlated: f64 = (0..=i).map(|k| lower.get(i * n + k).copied().unwrap_or(0.0) * z.get(k).copied().unwrap_or(0.0)).sum();
            spec.factors.get(i).and_then(|(_, d)| to_decimal(d.at(correlated)))
        })
        .collect()
}

fn quantile(sorted: &[Decimal], q: Decimal) -> Decimal {
    // The nearest-rank quantile: the value at rank ceil(q · n).
    let n = Decimal::from(sorted.len());
    let rank = q.checked_mul(n).map(|r| r.ceil()).and_then(|r| r.to_usize()).unwrap_or(0).max(1);
    sorted.get(rank - 1).or(sorted.last()).copied().unwrap_or_default()
}

fn quantiles(mut v: Vec<Decimal>) -> Option<Quantiles> {
    if v.is_empty() {
        return None;
    }
    v.sort();
    let sum = v.iter().try_fold(Decimal::ZERO, |a, b| a.checked_add(*b))?;
    let mean = sum.checked_div(Decimal::from(v.len()))?;
    let q = |p: i64| crate::report::number(quantile(&v, Decimal::new(p, 2)).round_dp(9));
    Some(Quantiles { mean: crate::report::number(mean.round_dp(9)), p01: q(1), p05: q(5), p50: q(50), p95: q(95), p99: q(99) })
}

/// Runs `paths` paths in parallel; path `i` draws from its own generator (see the module
/// documentation), so the result is the same on any number of threads.
pub fn simulate(program: &Program, input: &Value, spec: &Spec, paths: usize, seed: u64) -> Result<Simulated, AnalysisError> {
    use rayon::prelude::*;
    let n = spec.factors.len();
    let mut matrix = vec![0.0; n * n];
    for i in 0..n {
        if let Some(slot) = matrix.get_mut(i * n + i) {
            *slot = 1.0;
        }
    }
    for &(a, b, r) in &spec.correlations {
        for (i, j) in [(a, b), (b, a)] {
            if let Some(slot) = matrix.get_mut(i * n + j) {
                *slot = r;
            }
        }
    }
    let lower = cholesky(&matrix, n).ok_or_else(|| usage(format!("simulation `{}`: the correlation matrix is not positive semi-definite", spec.name)))?;
    let outcomes: Vec<Option<crate::Report>> = (0..paths)
        .into_par_iter()
        .map(|i| {
            let factors = draw(spec, &lower, seed, i as u64)?;
            let mut data = input.clone();
            for (path, k) in &spec.shocks {
                let by = Decimal::ONE.checked_add(*factors.get(*k)?)?;
                data = path.map(&data, &mut |v| match v {
                    Value::Num(d) => d.checked_mul(by).map(|x| Value::Num(x.max(Decimal::ZERO))),
                    other => Some(other.clone()),
                }).ok()?;
            }
            program.run_changed(data, None).ok()?.report_unbounded()
        })
        .collect();
    let reports: Vec<&crate::Report> = outcomes.iter().flatten().collect();
    let total = Decimal::from(reports.len().max(1));
    let share = |count: usize| crate::report::number(Decimal::from(count).checked_div(total).unwrap_or_default().round_dp(6));
    let mut counts: IndexMap<String, IndexMap<&'static str, usize>> = IndexMap::new();
    for r in &reports {
        for (name, status) in statuses(r) {
            *counts.entry(name).or_default().entry(status).or_default() += 1;
        }
    }
    let rules = counts.into_iter().map(|(n, c)| (n, c.into_iter().map(|(s, k)| (s.to_string(), share(k))).collect())).collect();
    let mut values = IndexMap::new();
    if let Some(first) = reports.first() {
        for name in first.values.keys() {
            let nums: Vec<Decimal> = reports.iter().filter_map(|r| r.values.get(name)?.as_str().and_then(|s| Decimal::from_str_exact(s).ok())).collect();
            if let Some(q) = quantiles(nums) {
                values.insert(name.clone(), q);
            }
        }
    }
    let shortfalls: Vec<Decimal> = reports
        .iter()
        .map(|r| r.liquidations.values().filter(|l| l.triggered == Some(true)).filter_map(|l| l.shortfall.as_ref()?.amount.parse::<Decimal>().ok()).fold(Decimal::ZERO, |a, b| a.checked_add(b).unwrap_or(a)))
        .collect();
    let shortfall = (!reports.first().is_none_or(|r| r.liquidations.is_empty())).then(|| {
        let hit = shortfalls.iter().filter(|s| **s > Decimal::ZERO).count();
        let q = quantiles(shortfalls.clone());
        Shortfall { probability: share(hit), expected: q.as_ref().map_or("0".into(), |q| q.mean.clone()), p99: q.map_or("0".into(), |q| q.p99) }
    });
    Ok(Simulated { simulation: spec.name.clone(), paths, seed, rules, values, shortfall, failed_paths: paths - reports.len() })
}

/// The table for people: each rule's status probabilities, each figure's quantiles, the
/// forced-sale shortfall.
pub fn render(s: &Simulated) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "simulation {}: {} paths, seed {}", s.simulation, s.paths, s.seed);
    if s.failed_paths > 0 {
        let _ = writeln!(out, "  {} path(s) could not be evaluated (a check refused the shocked data) and are left out", s.failed_paths);
    }
    let percent = |p: &str| super::parse_decimal(p).map_or(p.to_string(), |d| format!("{}%", crate::report::table::fixed(d.checked_mul(Decimal::ONE_HUNDRED).unwrap_or(Decimal::MAX), 2)));
    let mut rows: Vec<Vec<String>> = vec![vec!["rule".into(), "status".into(), "probability".into()]];
    for (name, statuses) in &s.rules {
        for (i, (status, p)) in statuses.iter().enumerate() {
            rows.push(vec![if i == 0 { name.clone() } else { String::new() }, status.clone(), percent(p)]);
        }
    }
    table(&mut out, &rows);
    if !s.values.is_empty() {
        let mut rows: Vec<Vec<String>> = vec![["value", "mean", "p01", "p05", "p50", "p95", "p99"].map(String::from).to_vec()];
        for (name, q) in &s.values {
            let shown = |v: &String| super::parse_decimal(v).map_or(v.clone(), |d| crate::report::table::grouped(d, 4));
            rows.push(std::iter::once(name.clone()).chain([&q.mean, &q.p01, &q.p05, &q.p50, &q.p95, &q.p99].map(shown)).collect());
        }
        let _ = writeln!(out);
        table(&mut out, &rows);
    }
    if let Some(f) = &s.shortfall {
        let money = |v: &String| super::parse_decimal(v).map_or(v.clone(), |d| crate::report::table::fixed(d, 2));
        let _ = writeln!(out, "\nforced-sale shortfall: probability {}, expected {}, p99 {}", percent(&f.probability), money(&f.expected), money(&f.p99));
    }
    out
}

fn table(out: &mut String, rows: &[Vec<String>]) {
    use std::fmt::Write as _;
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns).map(|i| rows.iter().map(|r| r.get(i).map_or(0, |c| c.chars().count())).max().unwrap_or(0)).collect();
    for row in rows {
        // Text left, figures right.
        let cells: Vec<String> = row.iter().zip(&widths).enumerate().map(|(i, (c, w))| if i == 0 || c.chars().next().is_some_and(char::is_alphabetic) { format!("{c:<w$}") } else { format!("{c:>w$}") }).collect();
        let _ = writeln!(out, "  {}", cells.join("  ").trim_end());
    }
}

/// A self-contained page: each rule's status probabilities as bars, the quantile table.
pub fn html(s: &Simulated) -> String {
    super::html::simulation_page(s)
}
